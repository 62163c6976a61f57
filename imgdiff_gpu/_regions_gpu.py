"""Connected regions and their statistics on the GPU: the twin of :func:`imgdiff_gpu.regions.find_regions`.

The same steps with ``cupyx.scipy.ndimage`` in place of OpenCV: grow the mask
by half the merge distance (a square, nothing outside the image), label the
grown mask 8-connected, and summarise the differing pixels of each label (box,
area, min/mean SSIM, mean colour distance). Only the kept regions' numbers
come back: O(regions) bytes. Labels are numbered differently than OpenCV's,
which nothing sees: regions are sorted by (-area, y, x), a total order.
"""

from __future__ import annotations

import numpy as np

from .regions import Region

_EIGHT_CONNECTED = np.ones((3, 3), dtype=bool)


def hysteresis_gpu(weak, strong):
    """Weak pixels 8-connected to a strong one, on the device (``detection.hysteresis``'s twin)."""
    import cupy
    from cupyx.scipy import ndimage

    labels, count = ndimage.label(weak, structure=cupy.asarray(_EIGHT_CONNECTED))
    keep = cupy.zeros(int(count) + 1, dtype=bool)
    keep[labels[strong]] = True
    keep[0] = False
    return keep[labels]


def find_regions_gpu(mask, ssim_map, left, right, *, min_area: int = 40, merge_distance: int = 8):
    """Regions of a boolean CuPy mask, largest first, and the (CuPy) mask of the kept ones.

    Arguments as :func:`imgdiff_gpu.regions.find_regions`, as CuPy arrays.
    """
    import cupy
    from cupyx.scipy import ndimage

    if min_area < 0 or merge_distance < 0:
        raise ValueError("min_area and merge_distance must be >= 0")
    ys, xs = cupy.nonzero(mask)
    if int(ys.size) == 0:
        return [], cupy.zeros(mask.shape, dtype=bool)
    grouping = mask
    if merge_distance > 0:
        grow = merge_distance // 2 + merge_distance % 2
        square = cupy.ones((2 * grow + 1, 2 * grow + 1), dtype=bool)
        grouping = ndimage.binary_dilation(mask, structure=square)
    labels, count = ndimage.label(grouping, structure=cupy.asarray(_EIGHT_CONNECTED))
    count = int(count)
    pixel_labels = labels[ys, xs]
    areas = cupy.bincount(pixel_labels, minlength=count + 1)
    keep = areas >= max(min_area, 1)
    keep[0] = False
    kept_labels = cupy.nonzero(keep)[0]
    if int(kept_labels.size) == 0:
        return [], cupy.zeros(mask.shape, dtype=bool)
    ssim_values = ssim_map[ys, xs].astype(cupy.float64)
    difference = left[ys, xs].astype(cupy.float64) - right[ys, xs].astype(cupy.float64)
    delta_values = cupy.sqrt((difference * difference).sum(axis=-1))
    per_label = cupy.stack(
        [
            ndimage.minimum(xs, pixel_labels, kept_labels).astype(cupy.float64),
            ndimage.maximum(xs, pixel_labels, kept_labels).astype(cupy.float64),
            ndimage.minimum(ys, pixel_labels, kept_labels).astype(cupy.float64),
            ndimage.maximum(ys, pixel_labels, kept_labels).astype(cupy.float64),
            areas[kept_labels].astype(cupy.float64),
            ndimage.minimum(ssim_values, pixel_labels, kept_labels),
            cupy.bincount(pixel_labels, weights=ssim_values, minlength=count + 1)[kept_labels],
            cupy.bincount(pixel_labels, weights=delta_values, minlength=count + 1)[kept_labels],
        ]
    ).get()  # the only transfer: 8 numbers per kept region
    x0, x1, y0, y1, area, min_ssim, ssim_sum, delta_sum = per_label
    regions = [
        Region(
            x=int(x0[i]),
            y=int(y0[i]),
            width=int(x1[i] - x0[i] + 1),
            height=int(y1[i] - y0[i] + 1),
            area=int(area[i]),
            min_ssim=float(min_ssim[i]),
            mean_ssim=float(ssim_sum[i] / area[i]),
            mean_color_delta=float(delta_sum[i] / area[i]),
        )
        for i in range(len(area))
    ]
    regions.sort(key=lambda r: (-r.area, r.y, r.x))
    return regions, keep[labels] & mask
