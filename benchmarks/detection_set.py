"""An evaluation set for difference detection, built from scikit-image's photographs.

Every positive pair is a photograph and a copy with three known edits, each with
its ground-truth box; every negative pair differs only in ways a person would
not call a difference (identical, JPEG re-encoded, shifted by a few pixels and
to be aligned). Everything is generated from a seed, so runs are repeatable.

Edit kinds, the ones the seed question and issue 4 name:

* ``tiny_patch``: a 5-8 px square of a contrasting colour, corners and borders included;
* ``faint_line``: a 2-px line 15-20 grey levels lighter or darker;
* ``colour_only``: a patch recoloured at equal luma (BT.601), chroma rotated;
* ``transplant``: a patch replaced by texture from elsewhere in the picture;
* ``brightness``: a patch 30 levels brighter or darker.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import cv2
import numpy as np
from skimage import data

EDIT_KINDS = ("tiny_patch", "faint_line", "colour_only", "transplant", "brightness")
PHOTOS = {
    "astronaut": data.astronaut,
    "camera": data.camera,
    "chelsea": data.chelsea,
    "coffee": data.coffee,
    "coins": data.coins,
    "hubble": lambda: data.hubble_deep_field()[:512, :512],
    "immunohistochemistry": data.immunohistochemistry,
    "rocket": data.rocket,
    "moon": data.moon,
    "brick": data.brick,
    "grass": data.grass,
    "page": data.page,
}


@dataclass
class Edit:
    kind: str
    box: tuple[int, int, int, int]  # x, y, width, height


@dataclass
class Pair:
    name: str
    left: np.ndarray
    right: np.ndarray
    edits: list[Edit] = field(default_factory=list)
    negative_kind: str | None = None
    shift: tuple[int, int] | None = None


def _luma(rgb: np.ndarray) -> np.ndarray:
    return rgb.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)


def _free_spot(rng, shape, size, taken, margin=12, edge_bias=0.0):
    """A box of ``size`` (w, h) that keeps ``margin`` px from earlier edits."""
    height, width = shape[:2]
    w, h = size
    for _ in range(200):
        if rng.random() < edge_bias:  # corners and borders, as the seed question's
            x = int(rng.choice([0, width - w]))
            y = int(rng.integers(0, height - h + 1)) if rng.random() < 0.5 else int(rng.choice([0, height - h]))
        else:
            x = int(rng.integers(0, width - w + 1))
            y = int(rng.integers(0, height - h + 1))
        if all(
            x + w + margin <= tx or tx + tw + margin <= x or y + h + margin <= ty or ty + th + margin <= y
            for tx, ty, tw, th in taken
        ):
            return x, y
    raise RuntimeError("no free spot for an edit")


def _apply(kind: str, image: np.ndarray, rng: np.random.Generator, taken: list) -> Edit:
    colour = image.ndim == 3
    if kind == "tiny_patch":
        side = int(rng.integers(5, 9))
        x, y = _free_spot(rng, image.shape, (side, side), taken, edge_bias=0.5)
        region = image[y : y + side, x : x + side]
        mean = region.mean()
        value = 20 if mean > 128 else 235  # contrasting
        if colour:
            region[:] = (value, 255 - value, value // 2)
        else:
            region[:] = value
        return Edit(kind, (x, y, side, side))
    if kind == "faint_line":
        length = int(rng.integers(40, 150))
        delta = int(rng.choice([-1, 1]) * rng.integers(15, 21))
        horizontal = rng.random() < 0.5
        size = (length, 2) if horizontal else (2, length)
        x, y = _free_spot(rng, image.shape, size, taken)
        region = image[y : y + size[1], x : x + size[0]]
        region[:] = np.clip(region.astype(np.int16) + delta, 0, 255).astype(np.uint8)
        return Edit(kind, (x, y, *size))
    if kind == "colour_only":
        side = int(rng.integers(20, 41))
        x, y = _free_spot(rng, image.shape, (side, side), taken)
        region = image[y : y + side, x : x + side].astype(np.float32)
        luma = _luma(region)[..., None]
        # a strong hue at the same luma: rotate the chroma, or give grey a colour
        chroma = region - luma
        if np.abs(chroma).mean() < 12:
            chroma = np.broadcast_to(np.array([40.0, -20.0, -40.0], np.float32), region.shape).copy()
        rotated = chroma[..., [1, 2, 0]]
        rotated -= _luma(rotated)[..., None]  # keep luma exactly
        image[y : y + side, x : x + side] = np.clip(luma + rotated, 0, 255).astype(np.uint8)
        return Edit(kind, (x, y, side, side))
    if kind == "transplant":
        side = int(rng.integers(20, 61))
        x, y = _free_spot(rng, image.shape, (side, side), taken)
        h, w = image.shape[:2]
        for _ in range(50):  # a source patch that really looks different
            sx, sy = int(rng.integers(0, w - side)), int(rng.integers(0, h - side))
            source = image[sy : sy + side, sx : sx + side]
            if np.abs(source.astype(np.int16) - image[y : y + side, x : x + side]).mean() > 25:
                break
        image[y : y + side, x : x + side] = source.copy()
        return Edit(kind, (x, y, side, side))
    if kind == "brightness":
        side = int(rng.integers(20, 51))
        x, y = _free_spot(rng, image.shape, (side, side), taken)
        region = image[y : y + side, x : x + side]
        delta = 30 if region.mean() < 128 else -30
        region[:] = np.clip(region.astype(np.int16) + delta, 0, 255).astype(np.uint8)
        return Edit(kind, (x, y, side, side))
    raise ValueError(kind)


def _as_colour_or_grey(image: np.ndarray) -> np.ndarray:
    return image[..., :3] if image.ndim == 3 else image


def jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    bgr = image[..., ::-1] if image.ndim == 3 else image
    ok, encoded = cv2.imencode(".jpg", np.ascontiguousarray(bgr), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    decoded = cv2.imdecode(encoded, cv2.IMREAD_UNCHANGED)
    return np.ascontiguousarray(decoded[..., ::-1]) if decoded.ndim == 3 else decoded


def positive_pairs(
    photos=None, pairs_per_photo: int = 4, seed: int = 2019, jpeg_quality: int | None = None
) -> Iterator[Pair]:
    """Pairs with three edits each; the kinds cycle so each is equally common.

    With ``jpeg_quality``, both sides are then saved as JPEG, as in the seed question.
    """
    rng = np.random.default_rng(seed)
    counter = 0
    for name in photos or PHOTOS:
        original = _as_colour_or_grey(PHOTOS[name]())
        for index in range(pairs_per_photo):
            right = original.copy()
            edits: list[Edit] = []
            for _ in range(3):
                kind = EDIT_KINDS[counter % len(EDIT_KINDS)]
                counter += 1
                if kind == "colour_only" and right.ndim == 2:
                    kind = "brightness"
                edits.append(_apply(kind, right, rng, [e.box for e in edits]))
            if jpeg_quality is None:
                yield Pair(f"{name}#{index}", original, right, edits)
            else:
                left = jpeg(original, jpeg_quality)
                yield Pair(f"{name}#{index}/jpeg{jpeg_quality}", left, jpeg(right, jpeg_quality), edits)


def negative_pairs(photos=None) -> Iterator[Pair]:
    """Pairs a person would call the same picture."""
    for name in photos or PHOTOS:
        original = _as_colour_or_grey(PHOTOS[name]())
        yield Pair(f"{name}/identical", original, original.copy(), negative_kind="identical")
        for quality in (75, 90):
            yield Pair(f"{name}/jpeg{quality}", original, jpeg(original, quality), negative_kind=f"jpeg{quality}")
        shifted = np.roll(original, (2, 3), axis=(0, 1))
        yield Pair(f"{name}/shifted", original, shifted, negative_kind="shifted", shift=(3, 2))
