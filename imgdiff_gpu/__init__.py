"""imgdiff-gpu: find and show the differences between two images.

The public API is what ``__all__`` names. Each name is imported the first time
it is used (PEP 562), so ``import imgdiff_gpu`` stays cheap -- no NumPy kernels,
OpenCV, scikit-image or CuPy until a comparison needs them -- and works on a
machine with no CUDA and no CuPy.

>>> from imgdiff_gpu import compare
>>> result = compare("examples/left.png", "examples/right.png", device="cpu")
>>> result.different, len(result.regions)
(True, 4)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from .errors import AlignmentError, DeviceError, ImageLoadError, ImgdiffError, OutputError

__version__ = "0.1.0"

# public name -> the module that defines it
_LAZY = {
    "compare": ".pipeline",
    "Comparison": ".pipeline",
    "Region": ".regions",
    "Thresholds": ".detection",
    "load_image": ".loading",
    "LoadedImage": ".loading",
    "structural_similarity": ".ssim",
}

__all__ = [
    "AlignmentError",
    "Comparison",
    "DeviceError",
    "ImageLoadError",
    "ImgdiffError",
    "LoadedImage",
    "OutputError",
    "Region",
    "Thresholds",
    "__version__",
    "compare",
    "load_image",
    "structural_similarity",
]

if TYPE_CHECKING:  # what type checkers and IDEs see; at run time __getattr__ loads them
    from .detection import Thresholds
    from .loading import LoadedImage, load_image
    from .pipeline import Comparison, compare
    from .regions import Region
    from .ssim import structural_similarity


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module 'imgdiff_gpu' has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name], __name__), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
