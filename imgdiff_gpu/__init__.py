"""imgdiff-gpu: find and show the differences between two images.

``import imgdiff_gpu`` works without CuPy or a GPU; the GPU path is loaded the
first time it is asked for.
"""

from .errors import DeviceError, ImageLoadError, ImgdiffError, OutputError
from .ssim import structural_similarity

__version__ = "0.1.0"

__all__ = [
    "DeviceError",
    "ImageLoadError",
    "ImgdiffError",
    "OutputError",
    "__version__",
    "structural_similarity",
]
