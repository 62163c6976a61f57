"""Numba for the CPU kernels, imported without the SciPy it does not need here.

When Numba first loads a kernel it imports ``numba.np.arraymath``, which
imports ``scipy.linalg`` only to learn whether ``np.dot`` may call BLAS; with
SciPy 1.17 that import (array-API shims, ``numpy.f2py``) costs more than
Numba itself, on every run. No kernel here calls ``np.dot`` or any linear
algebra, so that probe is made to find no ``scipy.linalg``; had a kernel asked
for BLAS, Numba would refuse to compile it with a clear error rather than
compute anything differently. Code that imported ``scipy.linalg`` before (tests
that use scikit-image) keeps its BLAS.

Every kernel module takes ``njit`` and ``prange`` from here.
"""

from __future__ import annotations

import sys

_HIDDEN = "scipy.linalg"


def _import_numba_without_blas_probe():
    if _HIDDEN in sys.modules:  # already paid for: nothing to save
        import numba.np.arraymath

        return
    sys.modules[_HIDDEN] = None  # an import of it now raises ImportError
    try:
        import numba.np.arraymath  # noqa: F401  (its BLAS probe runs at import)
    finally:
        if sys.modules.get(_HIDDEN, 0) is None:
            del sys.modules[_HIDDEN]


_import_numba_without_blas_probe()

from numba import njit, prange  # noqa: E402

__all__ = ["njit", "prange"]
