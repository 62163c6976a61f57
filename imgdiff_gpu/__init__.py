"""imgdiff-gpu: find and show the differences between two images.

``import imgdiff_gpu`` works without CuPy or a GPU; the GPU path is loaded the
first time it is asked for.
"""

from .errors import DeviceError, ImageLoadError, ImgdiffError, OutputError

__version__ = "0.1.0"


def __getattr__(name: str):
    # Loaded on first use, so that the command line starts without NumPy's and
    # scikit-image's import time when a command does not need them.
    if name == "structural_similarity":
        from .ssim import structural_similarity

        return structural_similarity
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DeviceError",
    "ImageLoadError",
    "ImgdiffError",
    "OutputError",
    "__version__",
    "structural_similarity",
]
