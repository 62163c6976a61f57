"""Bringing the right image into the left image's frame before comparing.

* ``resize``: scale the right image to the left's size.
* ``pad``: put both at the top-left of a canvas of the larger size; the padding
  is black (and transparent where there is alpha), so extra content shows up
  as a difference.
* ``align``: estimate how the right image moved and undo it. ``translation``
  uses phase correlation (whole-pixel shifts are applied exactly, with no
  resampling; fractional ones are refined by ECC); ``homography`` matches ORB
  features with RANSAC, then refines by ECC. Pixels that the
  warp leaves without data are ignored, and the transform is reported.

The right image is returned in the left's frame, so its pictures and the
regions share one set of coordinates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import AlignmentError
from .options import ALIGN_METHODS, SIZE_MODES

# A shift within this of a whole pixel is taken as whole: no resampling blur.
_WHOLE_PIXEL = 0.15


@dataclass
class Alignment:
    method: str
    matrix: np.ndarray
    """3 x 3 matrix mapping left coordinates to right coordinates."""
    response: float | None = None

    def as_dict(self) -> dict:
        out = {"method": self.method, "matrix": np.round(self.matrix, 6).tolist()}
        if self.method == "translation":
            out["shift"] = [round(float(self.matrix[0, 2]), 3), round(float(self.matrix[1, 2]), 3)]
        if self.response is not None:
            out["response"] = round(self.response, 4)
        return out


def _grey_float(pixels: np.ndarray) -> np.ndarray:
    scale = 1.0 / np.iinfo(pixels.dtype).max
    values = pixels.astype(np.float32) * np.float32(scale)
    if values.ndim == 3:
        values = (
            values[..., :3] @ np.array([0.299, 0.587, 0.114], np.float32) if values.shape[2] >= 3 else values[..., 0]
        )
    return np.ascontiguousarray(values)


def resize_to(pixels: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    import cv2  # OpenCV only where images are aligned or resized: a plain comparison runs without it

    height, width = shape
    shrinking = pixels.shape[0] * pixels.shape[1] > height * width
    return cv2.resize(pixels, (width, height), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC)


def pad_to(pixels: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    canvas = np.zeros((*shape, *pixels.shape[2:]), dtype=pixels.dtype)
    canvas[: pixels.shape[0], : pixels.shape[1]] = pixels
    return canvas


def estimate_translation(left: np.ndarray, right: np.ndarray) -> Alignment:
    """Where the right image sits relative to the left, by phase correlation."""
    import cv2

    a, b = _grey_float(left), _grey_float(right)
    if a.shape != b.shape:  # phase correlation needs one size: crop or pad the right
        b = pad_to(b[: a.shape[0], : a.shape[1]], a.shape)
    if min(a.shape) < 2:  # OpenCV's window needs two pixels a side; a 1-px image has no shift to find
        raise AlignmentError(f"a {a.shape[1]}x{a.shape[0]} image is too small to align; compare it without align=...")
    window = cv2.createHanningWindow(a.shape[::-1], cv2.CV_32F)
    (dx, dy), response = cv2.phaseCorrelate(a, b, window)
    matrix = np.array([[1.0, 0.0, dx], [0.0, 1.0, dy], [0.0, 0.0, 1.0]])
    if abs(dx - round(dx)) < _WHOLE_PIXEL and abs(dy - round(dy)) < _WHOLE_PIXEL:
        matrix[:2, 2] = np.round(matrix[:2, 2])
    else:  # phase correlation's sub-pixel peak is biased; ECC is not
        matrix = _refine_ecc(a, b, matrix, cv2.MOTION_TRANSLATION)
    return Alignment("translation", matrix, float(response))


def _refine_ecc(a: np.ndarray, b: np.ndarray, matrix: np.ndarray, motion: int) -> np.ndarray:
    """Enhanced-correlation refinement of a left-to-right transform; the input if ECC fails."""
    import cv2

    rows = 3 if motion == cv2.MOTION_HOMOGRAPHY else 2
    warp = matrix[:rows].astype(np.float32).copy()
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 100, 1e-6)
    try:
        _, warp = cv2.findTransformECC(a, b, warp, motion, criteria, None, 5)
    except cv2.error:
        return matrix
    refined = np.eye(3)
    refined[:rows] = warp
    return refined


def estimate_homography(left: np.ndarray, right: np.ndarray) -> Alignment:
    """A homography from ORB feature matches, robust to outliers (RANSAC)."""
    import cv2

    grey_left, grey_right = _grey_float(left), _grey_float(right)
    a = np.round(grey_left * 255).astype(np.uint8)  # ORB works on 8 bits, ECC on the floats
    b = np.round(grey_right * 255).astype(np.uint8)
    orb = cv2.ORB_create(nfeatures=4000)
    kp_a, des_a = orb.detectAndCompute(a, None)
    kp_b, des_b = orb.detectAndCompute(b, None)
    if des_a is None or des_b is None or len(kp_a) < 8 or len(kp_b) < 8:
        raise AlignmentError("too few features to estimate a homography; try align='translation'")
    matches = cv2.BFMatcher(cv2.NORM_HAMMING, crossCheck=True).match(des_a, des_b)
    if len(matches) < 8:
        raise AlignmentError(f"only {len(matches)} feature matches; try align='translation'")
    src = np.float32([kp_a[m.queryIdx].pt for m in matches])
    dst = np.float32([kp_b[m.trainIdx].pt for m in matches])
    matrix, inliers = cv2.findHomography(src, dst, cv2.RANSAC, 3.0)
    if matrix is None or int(inliers.sum()) < 8:
        raise AlignmentError("no consistent homography between the images; try align='translation'")
    matrix = _refine_ecc(grey_left, grey_right, matrix / matrix[2, 2], cv2.MOTION_HOMOGRAPHY)
    return Alignment("homography", matrix, float(inliers.mean()))


def warp_into(right: np.ndarray, alignment: Alignment, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """The right image in the left's frame, and the mask of pixels it has no data for."""
    import cv2

    height, width = shape
    matrix = alignment.matrix
    whole = np.allclose(matrix[:2, :2], np.eye(2)) and np.allclose(matrix[2], [0, 0, 1])
    if whole and np.allclose(matrix[:2, 2], np.round(matrix[:2, 2])):
        # a whole-pixel shift: copy, do not resample
        dx, dy = (int(v) for v in np.round(matrix[:2, 2]))
        out = np.zeros((height, width, *right.shape[2:]), dtype=right.dtype)
        valid = np.zeros((height, width), dtype=bool)
        ys, xs = (
            slice(max(0, -dy), min(height, right.shape[0] - dy)),
            slice(max(0, -dx), min(width, right.shape[1] - dx)),
        )
        if ys.start < ys.stop and xs.start < xs.stop:
            out[ys, xs] = right[ys.start + dy : ys.stop + dy, xs.start + dx : xs.stop + dx]
            valid[ys, xs] = True
        return out, ~valid
    flags = cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP
    out = cv2.warpPerspective(right, matrix, (width, height), flags=flags, borderMode=cv2.BORDER_REPLICATE)
    coverage = cv2.warpPerspective(
        np.ones(right.shape[:2], np.uint8), matrix, (width, height), flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP
    )
    # two pixels of margin: bicubic taps reach two pixels past the data's edge
    coverage = cv2.erode(coverage, np.ones((5, 5), np.uint8))
    return out, coverage == 0


def reconcile(
    left: np.ndarray, right: np.ndarray, *, size_mode: str | None, align: str | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, Alignment | None, list[str]]:
    """Both images in one frame: (left, right, no-data mask or None, alignment, notes)."""
    notes: list[str] = []
    if size_mode is not None and size_mode not in SIZE_MODES:
        raise ValueError(f"size mode must be one of {SIZE_MODES}, got {size_mode!r}")
    if align is not None and align not in ALIGN_METHODS:
        raise ValueError(f"align must be one of {ALIGN_METHODS}, got {align!r}")
    no_data = None
    if left.shape[:2] != right.shape[:2]:
        if size_mode == "resize":
            notes.append(f"right image resized from {right.shape[1]}x{right.shape[0]}")
            right = resize_to(right, left.shape[:2])
        elif size_mode == "pad":
            shape = (max(left.shape[0], right.shape[0]), max(left.shape[1], right.shape[1]))
            notes.append(f"both images padded to {shape[1]}x{shape[0]}")
            left, right = pad_to(left, shape), pad_to(right, shape)
    alignment = None
    if align is not None:
        estimate = estimate_translation if align == "translation" else estimate_homography
        alignment = estimate(left, right)
        right, no_data = warp_into(right, alignment, left.shape[:2])
        if no_data.any():
            # Where the right has no data, show the left: the area is ignored
            # anyway, and this keeps windowed evidence near its edge clean.
            right[no_data] = left[no_data] if left.ndim == right.ndim else 0
        else:
            no_data = None
    return left, right, no_data, alignment, notes
