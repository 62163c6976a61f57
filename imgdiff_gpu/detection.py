"""Deciding which pixels differ: SSIM for structure, smoothed shifts for the rest.

Three kinds of evidence, each averaged over the same Gaussian window as SSIM
(sigma 1.5), each with its own threshold in units of the data range:

* **luma shift** ``|w * (Y1 - Y2)|``: a consistent brightening or darkening,
  however faint, such as a thin line 15 grey levels lighter. Signed averaging is
  what rejects compression noise: JPEG keeps each 8x8 block's mean, so its
  ringing averages out, while a real edit does not.
* **chroma shift** ``|w * (C1 - C2)|`` over (Cb, Cr): colour changes, including
  ones at equal luminance that grey SSIM cannot see. JPEG subsamples chroma, so
  this threshold is looser than the luma one.
* **structure**: SSIM below an Otsu threshold of the SSIM map (capped, so that
  Otsu cannot mark noise when everything is similar), where the local mean
  absolute luma difference is large too; this finds texture and shape changes
  that keep the local mean.

The thresholds come from presets measured on scikit-image's photographs: with
``normal``, JPEG re-encoding at quality 75 stays below every threshold (luma
shift at most 5.2/255, chroma 17.5/255), while a 2-px line of +15 reaches 7.2/255.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .options import SENSITIVITY_PRESETS


@dataclass(frozen=True)
class Thresholds:
    """Detection thresholds, in units of the data range unless noted."""

    luma_shift: float
    chroma_shift: float
    texture: float
    """Mean absolute luma difference a structural change must also have."""
    ssim_ceiling: float
    """Otsu's SSIM threshold is never above this."""
    ssim: float | None = None
    """An explicit SSIM threshold replacing Otsu (``--threshold VALUE``)."""
    exact: bool = False
    """Any pixel that differs at all counts (lossless visual regression)."""


_PRESETS = {
    "normal": Thresholds(luma_shift=6.0 / 255, chroma_shift=21.0 / 255, texture=20.0 / 255, ssim_ceiling=0.5),
    "high": Thresholds(luma_shift=4.0 / 255, chroma_shift=14.0 / 255, texture=12.0 / 255, ssim_ceiling=0.7),
    "low": Thresholds(luma_shift=12.0 / 255, chroma_shift=36.0 / 255, texture=32.0 / 255, ssim_ceiling=0.3),
    "exact": Thresholds(luma_shift=0.0, chroma_shift=0.0, texture=0.0, ssim_ceiling=1.0, exact=True),
}


def thresholds_for(sensitivity: str = "normal", *, ssim_threshold: float | None = None) -> Thresholds:
    """The preset for a sensitivity, optionally with an explicit SSIM threshold."""
    if sensitivity not in _PRESETS:
        raise ValueError(f"sensitivity must be one of {SENSITIVITY_PRESETS}, got {sensitivity!r}")
    if ssim_threshold is not None and not -1.0 <= ssim_threshold <= 1.0:
        raise ValueError(f"an SSIM threshold must lie in [-1, 1], got {ssim_threshold}")
    return replace(_PRESETS[sensitivity], ssim=ssim_threshold)


SSIM_HISTOGRAM_BINS = 256


def otsu_from_histogram(counts: np.ndarray, centres: np.ndarray) -> float | None:
    """Otsu's threshold of a histogram: the split maximising between-class variance.

    Works from the histogram alone, so the GPU path can count on the device and
    ship 256 numbers back. Returns None when there is nothing to split.
    """
    counts = counts.astype(np.float64)
    if np.count_nonzero(counts) < 2:
        return None
    weight_low = np.cumsum(counts)[:-1]
    weight_high = counts.sum() - weight_low
    sums = np.cumsum(counts * centres)
    mean_low = sums[:-1] / np.maximum(weight_low, 1)
    mean_high = (sums[-1] - sums[:-1]) / np.maximum(weight_high, 1)
    between = weight_low * weight_high * (mean_low - mean_high) ** 2
    best = int(np.argmax(between))
    return float((centres[best] + centres[best + 1]) / 2)


def ssim_histogram(ssim_map, valid, *, xp=np):
    """Counts of SSIM values in 256 equal bins over [-1, 1] (rounding strays clamped).

    ``xp`` is the array module of ``ssim_map`` and ``valid``: NumPy, or CuPy on the GPU.
    A 2-D NumPy map is counted by a compiled single pass (``_histogram_cpu.py``).
    """
    if xp is np and ssim_map.ndim == 2 and np.dtype(ssim_map.dtype).kind == "f":
        from ._histogram_cpu import ssim_histogram_cpu

        return ssim_histogram_cpu(ssim_map, valid, SSIM_HISTOGRAM_BINS)
    values = ssim_map[valid] if valid is not None else ssim_map.ravel()
    # bin = floor((s + 1) * 128), as numpy.histogram over [-1, 1] with 256 bins
    bins = ((values + 1.0) * (SSIM_HISTOGRAM_BINS / 2)).astype(xp.int32)
    xp.clip(bins, 0, SSIM_HISTOGRAM_BINS - 1, out=bins)
    return xp.bincount(bins, minlength=SSIM_HISTOGRAM_BINS)


def otsu_ssim_threshold(counts: np.ndarray, ceiling: float) -> float:
    """Otsu's SSIM threshold from the map's histogram, capped by ``ceiling``.

    Otsu always splits a histogram in two, even one of pure noise; the cap
    keeps that split from marking anything SSIM calls similar.
    """
    edges = np.linspace(-1.0, 1.0, SSIM_HISTOGRAM_BINS + 1)
    threshold = otsu_from_histogram(counts, (edges[:-1] + edges[1:]) / 2)
    return -1.0 if threshold is None else min(threshold, ceiling)


# Hysteresis: a difference must reach full strength somewhere, and then
# extends over the connected pixels at half strength or more, so a faint change
# is counted at its real size while noise, which never reaches 1, stays out.
HYSTERESIS_LOW = 0.5
HYSTERESIS_HIGH = 1.0


def hysteresis(weak: np.ndarray, strong: np.ndarray) -> np.ndarray:
    """Weak pixels 8-connected to a strong one (skimage's apply_hysteresis_threshold, with OpenCV)."""
    import cv2

    count, labels = cv2.connectedComponents(weak.view(np.uint8), connectivity=8, ltype=cv2.CV_32S)
    if count <= 1:
        return np.zeros(weak.shape, dtype=bool)
    keep = np.zeros(count, dtype=bool)
    keep[labels[strong]] = True
    keep[0] = False
    return keep[labels]


def mask_from_levels(levels: np.ndarray) -> np.ndarray:
    """Hysteresis over strength levels (0: < 0.5, 1: >= 0.5, 2: >= 1), as the GPU writes them."""
    return hysteresis(levels >= 1, levels == 2)


def structural_threshold(ssim_map: np.ndarray, valid: np.ndarray | None, thresholds: Thresholds) -> float:
    """The SSIM threshold of the structural evidence: explicit, or Otsu's, capped."""
    if thresholds.ssim is not None:
        return thresholds.ssim
    return otsu_ssim_threshold(ssim_histogram(ssim_map, valid), thresholds.ssim_ceiling)


def changed_pixels(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Pixels where any plane differs at all."""
    import cv2

    height, width, planes = left.shape
    delta = cv2.absdiff(left, right).reshape(height, width, planes)
    return delta.max(axis=2) > 0 if planes > 1 else delta[..., 0] > 0


def difference_mask(
    ssim_map: np.ndarray,
    left: np.ndarray,
    right: np.ndarray,
    weights: np.ndarray,
    thresholds: Thresholds,
    *,
    ignore: np.ndarray | None = None,
    antialiasing: bool = False,
) -> tuple[np.ndarray, float]:
    """The boolean mask of differing pixels of two plane stacks, and the SSIM threshold used.

    ``weights`` is the 1-D window the evidence is averaged over (the SSIM's).
    With ``antialiasing``, changes a sub-pixel edge shift explains do not count.
    """
    from ._strength_cpu import strength_map

    valid = None if ignore is None else ~ignore
    explained = explained_by_antialiasing(left, right) if antialiasing else None
    if thresholds.exact:
        mask = changed_pixels(left, right)
        if explained is not None:
            mask &= ~explained
        ssim_threshold = 1.0
    else:
        ssim_threshold = structural_threshold(ssim_map, valid, thresholds)
        strength = strength_map(
            left,
            right,
            ssim_map,
            weights,
            luma=thresholds.luma_shift,
            chroma=thresholds.chroma_shift,
            texture=thresholds.texture,
            ssim_threshold=ssim_threshold,
            suppress=explained,
        )
        if valid is not None:
            strength[~valid] = 0
        mask = hysteresis(strength >= HYSTERESIS_LOW, strength >= HYSTERESIS_HIGH)
    if valid is not None:
        mask &= valid
    return mask, float(ssim_threshold)


def explained_by_antialiasing(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Pixels whose change a sub-pixel edge shift explains (pixelmatch's idea, simplified).

    A pixel is explained when, in every plane, each image's value lies within
    the range of the other image's 3 x 3 neighbourhood: the edge moved or was
    smoothed differently, nothing new appeared.
    """
    import cv2

    kernel = np.ones((3, 3), np.uint8)
    slack = np.float32(1.0 / 255)
    explained = np.ones(left.shape[:2], dtype=bool)
    for plane in range(left.shape[2]):
        a, b = left[..., plane], right[..., plane]
        for this, other in ((a, b), (b, a)):
            low = cv2.erode(other, kernel, borderType=cv2.BORDER_REFLECT) - slack
            high = cv2.dilate(other, kernel, borderType=cv2.BORDER_REFLECT) + slack
            explained &= (this >= low) & (this <= high)
    return explained
