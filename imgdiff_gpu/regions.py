"""Turning a difference mask into regions a person can look at.

Region size is the number of differing pixels, never polygon area:
``cv2.contourArea`` is 0 for a one-pixel-wide line, which is how the seed
answer lost thin changes. Fragments of one change closer than
``merge_distance`` pixels become one region.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import cv2
import numpy as np
from scipy import ndimage


@dataclass(frozen=True)
class Region:
    """One difference: its box, its size in pixels and what it looks like."""

    x: int
    y: int
    width: int
    height: int
    area: int
    """Differing pixels inside the region (not the box, not the polygon)."""
    min_ssim: float
    mean_ssim: float
    mean_color_delta: float
    """Mean per-pixel distance over all planes, in units of the data range."""

    def as_dict(self) -> dict:
        return asdict(self)


def find_regions(
    mask: np.ndarray,
    ssim_map: np.ndarray,
    color_delta: np.ndarray,
    *,
    min_area: int = 40,
    merge_distance: int = 8,
) -> tuple[list[Region], np.ndarray]:
    """Regions of a boolean mask, largest first, and the mask of the kept ones.

    Parameters
    ----------
    mask : ndarray of bool, H x W
    ssim_map, color_delta : ndarray, H x W
        Per-pixel values summarised inside each region.
    min_area : int
        Regions with fewer differing pixels are dropped.
    merge_distance : int
        Fragments whose gap is at most this many pixels join one region.
    """
    if min_area < 0 or merge_distance < 0:
        raise ValueError("min_area and merge_distance must be >= 0")
    mask_u8 = mask.view(np.uint8) if mask.dtype == bool else (mask > 0).astype(np.uint8)
    grouping = mask_u8
    if merge_distance > 0:
        # A closing-style grouping: grow by half the gap so fragments touch,
        # label the grown mask, then count only the original pixels.
        grow = merge_distance // 2 + merge_distance % 2
        kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (2 * grow + 1, 2 * grow + 1))
        grouping = cv2.dilate(mask_u8, kernel)
    count, labels = cv2.connectedComponents(grouping, connectivity=8, ltype=cv2.CV_32S)
    labels[mask_u8 == 0] = 0
    if count <= 1:
        return [], np.zeros(mask.shape, dtype=bool)

    index = np.arange(1, count)
    areas = np.bincount(labels.ravel(), minlength=count)[1:]
    keep = index[areas >= max(min_area, 1)]
    if keep.size == 0:
        return [], np.zeros(mask.shape, dtype=bool)
    boxes = ndimage.find_objects(labels)
    ssim64 = ssim_map.astype(np.float64, copy=False)
    mins = ndimage.minimum(ssim64, labels, keep)
    means = ndimage.mean(ssim64, labels, keep)
    deltas = ndimage.mean(color_delta.astype(np.float64, copy=False), labels, keep)

    regions = []
    stats = zip(keep, np.atleast_1d(mins), np.atleast_1d(means), np.atleast_1d(deltas), strict=True)
    for label, lo, mean, delta in stats:
        rows, cols = boxes[label - 1]
        regions.append(
            Region(
                x=int(cols.start),
                y=int(rows.start),
                width=int(cols.stop - cols.start),
                height=int(rows.stop - rows.start),
                area=int(areas[label - 1]),
                min_ssim=float(lo),
                mean_ssim=float(mean),
                mean_color_delta=float(delta),
            )
        )
    regions.sort(key=lambda r: (-r.area, r.y, r.x))
    kept_mask = np.isin(labels, keep)
    return regions, kept_mask
