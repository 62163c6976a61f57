"""Loading the CPU pipeline on a second thread while the images decode.

A process that compares one pair spends much of its life before the first
kernel runs, importing what the comparison uses: OpenCV, the detection and
region code, the compiled CPU core (``_core``, which itself loads in well under
a millisecond: there is no JIT to load). None of that needs the pixels, and
decoding (Pillow's zlib and JPEG code) releases the GIL, so on a machine with
two or more cores the two overlap. The warm-up compares two tiny read-only
8-bit RGB images, the common input, so every module the real comparison
imports is imported here (``benchmarks/bench_cpu_core.py`` measures what that
saves).

Nothing computed here is kept: the results are the same with or without it.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import importlib.util
import threading
from collections.abc import Iterator

_SIDE = 32  # pixels: more than an SSIM window, small enough to cost nothing


def _compare_tiny_pair() -> None:
    # The imports create long-lived objects by the ten thousand, and the cyclic
    # collector would walk them over and over as they accumulate: collect
    # nothing meanwhile, then file them as permanent, never to be walked again.
    gc.disable()
    try:
        import numpy as np

        from ..pipeline import compare

        pixels = np.zeros((_SIDE, _SIDE, 3), dtype=np.uint8)
        pixels.setflags(write=False)  # as np.asarray gives a Pillow image's pixels
        compare(pixels, pixels, device="cpu")
        from . import regions  # noqa: F401  (the regions' kernels: a pair of equal images has none)
    except Exception:  # the real comparison meets, and reports, the same problem
        pass
    finally:
        gc.freeze()
        gc.enable()


@functools.cache
def _started() -> threading.Thread:
    thread = threading.Thread(target=_compare_tiny_pair, name="imgdiff-warmup", daemon=True)
    thread.start()
    return thread


@contextlib.contextmanager
def cpu_warmup(device: str) -> Iterator[None]:
    """Load the CPU pipeline in the background (once per process) while the block runs.

    Leaving the block waits for the warm-up, so the block's error paths never
    leave a thread inside an import or a kernel at exit. Nothing starts where the GPU may run
    the comparison (``gpu``, or ``auto`` with CuPy installed).
    """
    if device == "gpu" or (device == "auto" and importlib.util.find_spec("cupy") is not None):
        yield
        return
    thread = _started()
    try:
        yield
    finally:
        thread.join()
