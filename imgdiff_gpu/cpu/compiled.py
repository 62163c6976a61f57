"""The compiled CPU kernels (the extension ``_core``, built from ``c/*.c``), or how to build them.

Installing the package builds the extension; a checkout used in place (on
``PYTHONPATH``) needs it built once, and again after a C source changes.
"""

from __future__ import annotations

import os

# OpenMP's threads spin for a while after each parallel loop, waiting for the next (libgomp's
# default). A comparison runs a handful of loops, and meanwhile the images decode and the modules
# load on other threads: on two cores the spinning took their CPU (a cold `imgdiff compare` on
# the example, median of 9 interleaved runs: 0.47 s spinning, 0.38 s sleeping; a warm 1080p
# comparison the same within the noise). Read when OpenMP starts, so set before the core loads;
# a user's own setting stands.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

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
