"""The compiled CPU kernels (the extension ``_core``, built from ``c/*.c``), or how to build them.

Installing the package builds the extension; a checkout used in place (on
``PYTHONPATH``) needs it built once, and again after a C source changes.
"""

from __future__ import annotations

try:
    from . import _core as core
except ImportError as exc:  # a checkout whose extension was never built, or one built for another Python
    raise ImportError(
        f"imgdiff_gpu.cpu._core, the compiled CPU kernels, cannot be loaded ({exc}): run `pip install -e .` "
        "(or `python setup.py build_ext --inplace`) in the checkout, with a C compiler and Python's "
        "headers installed (Debian: apt-get install gcc python3-dev)",
        name="imgdiff_gpu.cpu._core",
    ) from exc

__all__ = ["core"]
