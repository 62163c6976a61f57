"""Proving cheaply that two frames have no difference, so the full comparison runs only where one may be.

Most frame pairs of two encodes of one video differ by compression noise
alone. For those, everything :func:`imgdiff_gpu.pipeline.compare` reports
is known once the SSIM map is: the score is its mean, and there are no
regions, because no pixel's difference strength reaches 1 (a region needs a
pixel at full strength, see :mod:`imgdiff_gpu.detection`). Each term of the
strength has an upper bound that one pass over the frames yields alongside
the map (``_screen_cpu.py``):

* luma shift ``|w * dY| / t_luma``: exactly ``max |ux - uy|`` of the SSIM pass;
* chroma shift ``|(w * dCr, w * dCb)| / t_chroma``: the window is a weighted
  average, so this is at most the largest per-pixel ``|(dCr, dCb)|``;
* structure ``min((1 - S) / (1 - t_ssim), (w * |dY|) / t_texture)``: Otsu's
  threshold never exceeds the preset's ceiling, so the first term is at most
  ``(1 - min S) / (1 - ceiling)``, and the second at most ``max |dY| / t_texture``;
* ``exact`` sensitivity: no RGB value differs at all.

The per-pixel steps come first and decide without the SSIM pass where they
can: identical frames (a still scene rendered twice) score exactly 1, as the
full path computes it, and an ``exact`` or chroma bound that is already too
large sends the pair straight to the full comparison.

A pair whose bounds all stay below ``1 - MARGIN`` has no difference; the
margin covers the full path's float32 rounding (~1e-6). Any other pair goes
through the full comparison, so a frame's score, mask and regions are always
those the image path gives (the bounds only decide which path computes them).
"""

from __future__ import annotations

import threading

import cv2
import numpy as np

from .detection import Thresholds
from .pipeline import luma_ssim_params, score_of

MARGIN = 1e-3
# After this many pairs in a row that it could not clear, the screen stands aside
# for 8 pairs, then tries one; each further miss doubles the pause (to at most 64
# pairs) until it clears a pair again. Where every frame differs it would only add
# its cost to the full comparison's; the results are the same either way.
MISSES_BEFORE_PAUSE = 4
FIRST_PAUSE, LONGEST_PAUSE = 8, 64


class FrameScreen:
    """Screens same-sized RGB uint8 frame pairs against one set of thresholds and ignored pixels."""

    def __init__(self, shape: tuple[int, int], thresholds: Thresholds, ignore: np.ndarray | None = None):
        self.shape = tuple(shape)
        self.thresholds = thresholds
        self.params = luma_ssim_params(np.empty(shape, dtype=np.float32))
        self.ignore = ignore
        self.counted = None if ignore is None else ~ignore
        self.reach = None
        if ignore is not None:
            # a counted pixel's strength reads every pixel its window covers
            size = 2 * self.params.radius + 1
            self.reach = cv2.dilate(self.counted.view(np.uint8), np.ones((size, size), np.uint8)).view(bool)
        self._lock = threading.Lock()  # pairs are screened on several threads at once
        self._misses = 0
        self._pause = 0  # pairs still to hand straight to the full comparison
        self._next_pause = FIRST_PAUSE

    def __call__(self, left: np.ndarray, right: np.ndarray) -> float | None:
        """The score of a pair proven to have no difference, or None when it may have one."""
        if left.shape != right.shape or left.shape != (*self.shape, 3) or left.dtype != np.uint8:
            return None  # not what this screen was built for (a stream can change size midway)
        with self._lock:
            if self._pause > 0:
                self._pause -= 1
                return None
        score = self._screen(left, right)
        with self._lock:
            if score is not None:
                self._misses, self._next_pause = 0, FIRST_PAUSE
            else:
                self._misses += 1
                if self._misses >= MISSES_BEFORE_PAUSE:
                    # one more miss after the pause starts a longer one
                    self._misses, self._pause = MISSES_BEFORE_PAUSE - 1, self._next_pause
                    self._next_pause = min(2 * self._next_pause, LONGEST_PAUSE)
        return score

    def _screen(self, left: np.ndarray, right: np.ndarray) -> float | None:
        from ._screen_cpu import frame_steps
        from ._ssim_cpu import ssim_map_and_bounds

        luma_left, luma_right, luma_step, chroma_step, channel_step = frame_steps(left, right, reach=self.reach)
        if channel_step == 0:
            # every pixel a counted one's window reads is the same, so SSIM's numerator and
            # denominator are the same expressions there: every counted value is exactly 1
            return 1.0
        if self.thresholds.exact or chroma_step >= self.thresholds.chroma_shift * (1.0 - MARGIN):
            return None  # decided without the SSIM pass (the bounds below need none for these)
        p = self.params
        ssim_map, luma_shift, min_ssim = ssim_map_and_bounds(luma_left, luma_right, p, counted=self.counted)
        if not self.no_difference(luma_shift, min_ssim, luma_step, chroma_step, channel_step):
            return None
        return score_of(ssim_map, p.crop, self.ignore)

    def no_difference(
        self, luma_shift: float, min_ssim: float, luma_step: float, chroma_step: float, channel_step: float
    ) -> bool:
        """Whether these bounds (see the module docstring) rule out every region."""
        t = self.thresholds
        if t.exact:
            return channel_step == 0
        ssim_threshold = t.ssim if t.ssim is not None else t.ssim_ceiling
        structure = min((1.0 - min_ssim) / max(1.0 - ssim_threshold, 1e-12), luma_step / max(t.texture, 1e-12))
        strongest = max(luma_shift / t.luma_shift, chroma_step / t.chroma_shift, structure)
        return strongest < 1.0 - MARGIN
