"""Connected regions and their statistics on the GPU: the twin of :func:`imgdiff_gpu.regions.find_regions`.

The same steps with ``cupyx.scipy.ndimage`` in place of OpenCV: grow the mask
by half the merge distance (a square, nothing outside the image), label the
grown mask 8-connected, and summarise the differing pixels of each label (box,
area, min/mean SSIM, mean colour distance). Only the kept regions' numbers
come back: O(regions) bytes. Labels are numbered differently than OpenCV's,
which nothing sees: regions are sorted by (-area, y, x), a total order.

A batch of same-sized masks is one N x H x W stack whose structuring elements
have a single middle slice, so nothing connects across pairs.
"""

from __future__ import annotations

import numpy as np

from ..regions import Region


def _within_slices(square: np.ndarray, ndim: int) -> np.ndarray:
    """A 2-D structuring element as one for ``ndim`` dimensions acting on the last two only."""
    if ndim == 2:
        return square
    structure = np.zeros((3, *square.shape), dtype=bool)
    structure[1] = square
    return structure


def hysteresis_gpu(weak, strong, min_core: int = 1):
    """Weak pixels 8-connected to at least ``min_core`` strong ones, on the device (``detection.hysteresis``'s twin).

    ``weak`` and ``strong``: H x W, or N x H x W for a batch (labels never span pairs).
    """
    import cupy
    from cupyx.scipy import ndimage

    structure = _within_slices(np.ones((3, 3), dtype=bool), weak.ndim)
    labels, count = ndimage.label(weak, structure=cupy.asarray(structure))
    if min_core <= 1:
        keep = cupy.zeros(int(count) + 1, dtype=bool)
        keep[labels[strong]] = True
    else:
        keep = cupy.bincount(labels[strong], minlength=int(count) + 1) >= min_core
    keep[0] = False
    return keep[labels]


def find_regions_gpu(mask, ssim_map, left, right, *, min_area: int = 40, merge_distance: int = 8):
    """Regions of a boolean CuPy mask, largest first, and the (CuPy) mask of the kept ones.

    Arguments as :func:`imgdiff_gpu.regions.find_regions`, as CuPy arrays. For a
    batch (``mask`` N x H x W, the plane stacks N x H x W x P), the regions are a
    list per pair and the kept mask N x H x W.
    """
    import cupy
    from cupyx.scipy import ndimage

    if min_area < 0 or merge_distance < 0:
        raise ValueError("min_area and merge_distance must be >= 0")
    batch = mask.ndim == 3
    count = mask.shape[0] if batch else 1
    if not batch:
        mask, ssim_map, left, right = mask[None], ssim_map[None], left[None], right[None]
    found: list[list[Region]] = [[] for _ in range(count)]
    zs, ys, xs = cupy.nonzero(mask)
    if int(ys.size) == 0:
        return (found if batch else found[0]), cupy.zeros(mask.shape if batch else mask.shape[1:], dtype=bool)
    grouping = mask
    if merge_distance > 0:
        grow = merge_distance // 2 + merge_distance % 2
        square = np.ones((2 * grow + 1, 2 * grow + 1), dtype=bool)
        grouping = ndimage.binary_dilation(mask, structure=cupy.asarray(_within_slices(square, 3)))
    eight = _within_slices(np.ones((3, 3), dtype=bool), 3)
    labels, labelled = ndimage.label(grouping, structure=cupy.asarray(eight))
    labelled = int(labelled)
    pixel_labels = labels[zs, ys, xs]
    areas = cupy.bincount(pixel_labels, minlength=labelled + 1)
    keep = areas >= max(min_area, 1)
    keep[0] = False
    kept_labels = cupy.nonzero(keep)[0]
    kept_mask = keep[labels] & mask
    if not batch:
        kept_mask = kept_mask[0]
    if int(kept_labels.size) == 0:
        return (found if batch else found[0]), kept_mask
    ssim_values = ssim_map[zs, ys, xs].astype(cupy.float64)
    difference = left[zs, ys, xs].astype(cupy.float64) - right[zs, ys, xs].astype(cupy.float64)
    delta_values = cupy.sqrt((difference * difference).sum(axis=-1))

    def smallest(values):
        return ndimage.minimum(values, pixel_labels, kept_labels).astype(cupy.float64)

    def largest(values):
        return ndimage.maximum(values, pixel_labels, kept_labels).astype(cupy.float64)

    def total(values):
        return cupy.bincount(pixel_labels, weights=values, minlength=labelled + 1)[kept_labels]

    # the only transfer: 9 numbers per kept region
    per_label = cupy.stack(
        [
            smallest(zs),
            smallest(xs),
            largest(xs),
            smallest(ys),
            largest(ys),
            areas[kept_labels].astype(cupy.float64),
            smallest(ssim_values),
            total(ssim_values),
            total(delta_values),
        ]
    ).get()
    for z, x0, x1, y0, y1, area, min_ssim, ssim_sum, delta_sum in per_label.T:
        found[int(z)].append(
            Region(
                x=int(x0),
                y=int(y0),
                width=int(x1 - x0 + 1),
                height=int(y1 - y0 + 1),
                area=int(area),
                min_ssim=float(min_ssim),
                mean_ssim=float(ssim_sum / area),
                mean_color_delta=float(delta_sum / area),
            )
        )
    for regions in found:
        regions.sort(key=lambda r: (-r.area, r.y, r.x))
    return (found if batch else found[0]), kept_mask
