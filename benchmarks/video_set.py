"""Evaluation clips for ``imgdiff video``: pairs encoded differently, with known edits.

Each clip is a pan or a zoom over one of scikit-image's photographs (scaled up,
so the motion is sub-pixel and the detail is what a camera would give). A is
encoded one way; B is the same source, with known edits in known frames,
encoded another way: CRF apart by up to 10, x264 against x265 or VP9, presets
far apart, 4:2:0 against 4:4:4, or re-encoded twice. Every frame of B outside
the edited ones is a negative: a frame flagged there is a false frame.

Edits (each on a few consecutive frames, at a fixed place on screen):

* ``subtitle``: a word of white text with a dark outline;
* ``logo``: a 20 x 20 px two-colour square;
* ``chroma``: a 30 x 30 px patch whose chroma moves by 16/255 at equal luma (BT.601);
* ``line``: a 2-px line 20 levels lighter, 160 px long;
* ``blur``: a 64 x 64 px patch blurred (sigma 3), a blurred face;
* ``corrupt``: 16 x 16 px blocks of one frame replaced by other blocks of it, a decoding error.

With ``persistent=True`` (:func:`persistent_clip`) the edits last the whole clip or most of it,
so a clip's own edit is in every frame whose noise the clip noise rule measures
(``imgdiff_gpu/clip_noise.py``). Each such clip has one faint luma-only edit over every frame,
one a person still sees side by side, and one of the kinds above over most frames:

* ``faint-blur``: a face-sized (80 x 80 px) patch blurred with sigma ``level`` (2-3), on the
  most detailed of 40 spots;
* ``faint-text``: a word ``level`` (12-20) levels lighter in luma, no outline: a watermark;
* ``bright``: a 96 x 64 px patch ``level`` (10-16) levels lighter.

Clips are cached (``IMGDIFF_VIDEO_SET``, default ``/tmp/imgdiff-video-set``) and
never committed; everything follows from a seed. The tuning seed is 2026; seeds 7
and 23 are held out (other photographs, positions, frames and encoder pairings;
seed 23 was chosen, with its photographs, before the rules were revised against
seed 7's misses, and never tuned on).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import av
import cv2
import numpy as np
from skimage import data

CACHE = Path(os.environ.get("IMGDIFF_VIDEO_SET", "/tmp/imgdiff-video-set"))
SIZES = {"720p": (720, 1280), "1080p": (1080, 1920)}
EDIT_KINDS = ("subtitle", "logo", "chroma", "line", "blur", "corrupt")
FAINT_KINDS = ("faint-blur", "faint-text", "bright")  # the persistent clips' luma-only edits
PHOTOS = {
    "astronaut": data.astronaut,
    "coffee": data.coffee,
    "chelsea": data.chelsea,
    "rocket": data.rocket,
    "immunohistochemistry": data.immunohistochemistry,
    "retina": data.retina,
    "hubble": data.hubble_deep_field,
    "colorwheel": data.colorwheel,
    "motorcycle": lambda: data.stereo_motorcycle()[0],
    "camera": data.camera,
    "gravel": data.gravel,
}
TUNING = ("astronaut", "coffee", "chelsea", "rocket")
HELD_OUT = ("immunohistochemistry", "retina", "hubble", "astronaut")
# a second held-out set, chosen before any tuning against seed 7's misses and never tuned on
HELD_OUT_2 = ("motorcycle", "camera", "gravel", "colorwheel")
PHOTO_SETS = {7: HELD_OUT, 23: HELD_OUT_2}  # any other seed draws from TUNING

# (name, A's encoding, B's encoding); an encoding is (codec, pix_fmt, options), or "twice"
# for B re-encoded from A's decoded frames two more times (generation loss)
ENCODINGS = {
    "x264-crf18": ("libx264", "yuv420p", {"crf": "18", "preset": "medium"}),
    "x264-crf23": ("libx264", "yuv420p", {"crf": "23", "preset": "medium"}),
    "x264-crf28": ("libx264", "yuv420p", {"crf": "28", "preset": "medium"}),
    "x264-slow": ("libx264", "yuv420p", {"crf": "22", "preset": "slow"}),
    "x264-veryfast": ("libx264", "yuv420p", {"crf": "22", "preset": "veryfast"}),
    "x264-444": ("libx264", "yuv444p", {"crf": "20", "preset": "medium"}),
    "x264-420": ("libx264", "yuv420p", {"crf": "20", "preset": "medium"}),
    "x265-crf28": ("libx265", "yuv420p", {"crf": "28", "preset": "fast", "x265-params": "log-level=none"}),
    "vp9-crf33": ("libvpx-vp9", "yuv420p", {"crf": "33", "b": "0", "deadline": "realtime", "cpu-used": "8"}),
}
PAIRINGS = (
    ("x264-crf18", "x264-crf28"),
    ("x264-crf23", "x265-crf28"),
    ("x264-crf23", "vp9-crf33"),
    ("x264-slow", "x264-veryfast"),
    ("x264-420", "x264-444"),
    ("x264-crf23", "twice"),
)


@dataclass
class Edit:
    kind: str
    box: tuple[int, int, int, int]  # x, y, width, height
    frames: tuple[int, int]  # first, last + 1
    level: float | None = None  # the faint kinds' strength: blur sigma, or levels of luma added


@dataclass
class Clip:
    name: str
    left: Path
    right: Path
    frames: int
    edits: list[Edit]

    def edited_frames(self) -> set[int]:
        return {i for e in self.edits for i in range(*e.frames)}

    def as_dict(self) -> dict:
        return {**asdict(self), "left": str(self.left), "right": str(self.right)}


def source_frames(photo: np.ndarray, shape, frames: int, motion: str, rng) -> list[np.ndarray]:
    """A pan or zoom over ``photo`` (scaled to cover the frame), sub-pixel steps."""
    height, width = shape
    scale = 1.35 * max(height / photo.shape[0], width / photo.shape[1])
    big = cv2.resize(photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    spare_x, spare_y = big.shape[1] - width, big.shape[0] - height
    direction = rng.choice([-1.0, 1.0], size=2)
    out = []
    for i in range(frames):
        t = i / max(frames - 1, 1)
        if motion == "pan":
            zoom = 1.0
            cx = spare_x * (0.5 + direction[0] * 0.45 * (t - 0.5)) + width / 2
            cy = spare_y * (0.5 + direction[1] * 0.3 * (t - 0.5)) + height / 2
        else:
            zoom = 1.0 + 0.25 * t
            cx, cy = big.shape[1] / 2, big.shape[0] / 2
        matrix = np.array([[zoom, 0, width / 2 - zoom * cx], [0, zoom, height / 2 - zoom * cy]])
        out.append(cv2.warpAffine(big, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT))
    return out


def _ycrcb_shift(patch: np.ndarray, d_cr: float, d_cb: float) -> np.ndarray:
    """The patch with its BT.601 chroma moved, luma kept."""
    ycc = cv2.cvtColor(patch, cv2.COLOR_RGB2YCrCb).astype(np.float32)
    ycc[..., 1] += d_cr
    ycc[..., 2] += d_cb
    return cv2.cvtColor(np.clip(np.round(ycc), 0, 255).astype(np.uint8), cv2.COLOR_YCrCb2RGB)


def apply_edit(frame: np.ndarray, edit: Edit, rng_seed: int) -> None:
    x, y, w, h = edit.box
    region = frame[y : y + h, x : x + w]
    if edit.kind == "subtitle":
        patch = region.copy()
        cv2.putText(patch, "hello", (4, h - 10), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (20, 20, 20), 5, cv2.LINE_AA)
        cv2.putText(patch, "hello", (4, h - 10), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (245, 245, 245), 2, cv2.LINE_AA)
        region[:] = patch
    elif edit.kind == "logo":
        region[:] = (230, 40, 40)
        region[5:15, 5:15] = (250, 250, 250)
    elif edit.kind == "chroma":
        # 16/255 of chroma at equal luma: (dCr, dCb) = 16 * (-cos 45, sin 45), beige towards grey-blue
        region[:] = _ycrcb_shift(region, -11.3, 11.3)
    elif edit.kind == "line":
        region[:] = np.clip(region.astype(np.int16) + 20, 0, 255).astype(np.uint8)
    elif edit.kind == "blur":
        region[:] = cv2.GaussianBlur(region, (0, 0), 3.0)
    elif edit.kind == "faint-blur":
        region[:] = cv2.GaussianBlur(region, (0, 0), edit.level)
    elif edit.kind in ("faint-text", "bright"):
        mask = np.ones((h, w), np.uint8)
        if edit.kind == "faint-text":
            mask[:] = 0
            cv2.putText(mask, "sample", (4, h - 12), cv2.FONT_HERSHEY_SIMPLEX, 1.2, 1, 3, cv2.LINE_AA)
        lighter = region.astype(np.int16) + np.int16(round(edit.level)) * mask[..., None]
        region[:] = np.clip(lighter, 0, 255).astype(np.uint8)
    elif edit.kind == "corrupt":
        rng = np.random.default_rng(rng_seed)
        height, width = frame.shape[:2]
        for by in range(0, h, 16):
            for bx in range(0, w, 16):
                sy, sx = int(rng.integers(0, height - 16)), int(rng.integers(0, width - 16))
                region[by : by + 16, bx : bx + 16] = frame[sy : sy + 16, sx : sx + 16]


_EDIT_SIZES = {
    "subtitle": (110, 40),
    "logo": (20, 20),
    "chroma": (30, 30),
    "line": (160, 2),
    "blur": (64, 64),
    "faint-blur": (80, 80),
    "faint-text": (150, 48),
    "bright": (96, 64),
}


def _texture(frame: np.ndarray, box) -> float:
    x, y, w, h = box
    grey = cv2.cvtColor(frame[y : y + h, x : x + w], cv2.COLOR_RGB2GRAY).astype(np.float32)
    return float(np.abs(grey - cv2.GaussianBlur(grey, (0, 0), 3.0)).mean())


def _chroma_realised(frame: np.ndarray, box) -> bool:
    """Whether the chroma edit keeps its 16/255 here (near black or white, RGB clipping eats it)."""
    x, y, w, h = box
    before = cv2.cvtColor(frame[y : y + h, x : x + w], cv2.COLOR_RGB2YCrCb).astype(np.float32)
    after = cv2.cvtColor(_ycrcb_shift(frame[y : y + h, x : x + w], -11.3, 11.3), cv2.COLOR_RGB2YCrCb)
    delta = after.astype(np.float32) - before
    return bool(np.hypot(delta[..., 1], delta[..., 2]).mean() >= 15 and np.abs(delta[..., 0]).mean() <= 1)


def plan_edits(rng, shape, frames: int, source: list[np.ndarray]) -> list[Edit]:
    """One edit of each kind, in separate frame ranges with unedited frames between them.

    A blur goes on the most detailed of 40 candidate spots (blurring a flat
    patch changes nothing a person could see); a chroma change on the first
    where its full shift survives RGB clipping; the others go anywhere.
    """
    height, width = shape
    edits = []
    slot = frames // len(EDIT_KINDS)
    for k, kind in enumerate(EDIT_KINDS):
        size = _EDIT_SIZES.get(kind, (64, 48))
        x = int(rng.integers(0, width - size[0]))
        y = int(rng.integers(0, height - size[1]))
        length = 1 if kind == "corrupt" else int(rng.integers(3, 7))
        first = k * slot + int(rng.integers(2, slot - length - 1))
        if kind in ("blur", "chroma"):
            spots = [(x, y)] + [
                (int(rng.integers(0, width - size[0])), int(rng.integers(0, height - size[1]))) for _ in range(39)
            ]
            if kind == "blur":
                x, y = max(spots, key=lambda s: _texture(source[first], (*s, *size)))
            else:
                x, y = next(s for s in spots if _chroma_realised(source[first], (*s, *size)))
        edits.append(Edit(kind, (x, y, *size), (first, first + length)))
    return edits


def _place(rng, kind: str, shape, frame: np.ndarray) -> tuple[int, int, int, int]:
    """A box for ``kind``: blurs on the most detailed of 40 spots, chroma on the first that keeps its shift."""
    height, width = shape
    size = _EDIT_SIZES.get(kind, (64, 48))
    spots = [(int(rng.integers(0, width - size[0])), int(rng.integers(0, height - size[1]))) for _ in range(40)]
    if kind in ("blur", "faint-blur"):
        return (*max(spots, key=lambda s: _texture(frame, (*s, *size))), *size)
    if kind == "chroma":
        return (*next(s for s in spots if _chroma_realised(frame, (*s, *size))), *size)
    return (*spots[0], *size)


def plan_persistent_edits(rng, index: int, shape, frames: int, source: list[np.ndarray]) -> list[Edit]:
    """A faint luma-only edit over every frame (the kinds in turn), and one of ``EDIT_KINDS`` (in turn)
    over most frames, placed so the two do not overlap."""
    faint = FAINT_KINDS[index % len(FAINT_KINDS)]
    level = float(rng.uniform(2.0, 3.0)) if faint == "faint-blur" else float(rng.integers(12, 21))
    if faint == "bright":
        level = float(rng.integers(10, 17))
    first_box = _place(rng, faint, shape, source[0])
    edits = [Edit(faint, first_box, (0, frames), round(level, 2))]
    kind = EDIT_KINDS[index % len(EDIT_KINDS)]
    start = int(rng.integers(0, frames // 4))
    while True:
        box = _place(rng, kind, shape, source[start])
        if not _boxes_touch(box, first_box):
            break
    edits.append(Edit(kind, box, (start, frames - int(rng.integers(0, frames // 4)))))
    return edits


def _boxes_touch(a, b, slack: int = 8) -> bool:
    return (
        a[0] < b[0] + b[2] + slack
        and b[0] < a[0] + a[2] + slack
        and a[1] < b[1] + b[3] + slack
        and b[1] < a[1] + a[3] + slack
    )


def _plan(edits: list[Edit]) -> str:
    # a field at its default is left out, so the clips cached before it was added keep their record
    return json.dumps([{k: v for k, v in asdict(e).items() if v is not None} for e in edits])


def encode(path: Path, frames, encoding, rate: int = 25) -> None:
    codec, pix_fmt, options = encoding
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream(codec, rate=rate)
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = pix_fmt
        stream.options = dict(options)
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def decode(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def _suffix(encoding) -> str:
    return ".webm" if encoding[0] == "libvpx-vp9" else ".mkv" if encoding[0] == "libx265" else ".mp4"


def build_clip(seed: int, index: int, *, size: str = "720p", frames: int = 120, persistent: bool = False) -> Clip:
    """Clip ``index`` of the set drawn from ``seed`` (encoded once, then read from the cache); with
    ``persistent``, edits lasting the whole clip or most of it (:func:`plan_persistent_edits`)."""
    rng = np.random.default_rng([seed, index])
    photos = PHOTO_SETS.get(seed, TUNING)
    pairing = PAIRINGS[(index + seed) % len(PAIRINGS)]
    photo_name = photos[(index // len(PAIRINGS) + index) % len(photos)]
    motion = "pan" if (index + seed) % 3 else "zoom"
    shape = SIZES[size]
    name = f"s{seed}-{index:02d}-{size}-{photo_name}-{motion}-{pairing[0]}-vs-{pairing[1]}"
    if persistent:
        name = f"persistent-{name}-{frames}f"
    folder = CACHE / name
    a_encoding = ENCODINGS[pairing[0]]
    b_encoding = ENCODINGS[pairing[1]] if pairing[1] != "twice" else a_encoding
    left, right = folder / f"a{_suffix(a_encoding)}", folder / f"b{_suffix(b_encoding)}"
    photo = PHOTOS[photo_name]()
    if photo.ndim == 2:
        photo = np.stack([photo] * 3, axis=2)
    photo = np.ascontiguousarray(photo[..., :3])
    source = source_frames(photo, shape, frames, motion, rng)
    if persistent:
        edits = plan_persistent_edits(rng, index, shape, frames, source)
    else:
        edits = plan_edits(rng, shape, frames, source)
    clip = Clip(name, left, right, frames, edits)
    record = folder / "edits.json"
    plan = _plan(edits)
    if left.is_file() and right.is_file() and record.is_file() and record.read_text() == plan:
        return clip
    folder.mkdir(parents=True, exist_ok=True)
    edited = [f.copy() for f in source]
    for n, edit in enumerate(edits):
        for i in range(*edit.frames):
            apply_edit(edited[i], edit, seed * 1000 + n)
    encode(left.with_suffix(".tmp" + left.suffix), source, a_encoding)
    if pairing[1] == "twice":
        # B: the edited source at A's setting, decoded and encoded again twice (generation loss)
        frames_b = edited
        for generation in range(3):
            encoding = a_encoding if generation == 0 else ENCODINGS["x264-crf23"]
            temporary = folder / f"gen{generation}.mp4"
            encode(temporary, frames_b, encoding)
            frames_b = decode(temporary)
            if generation < 2:
                temporary.unlink()
        temporary.rename(right)
    else:
        encode(right.with_suffix(".tmp" + right.suffix), edited, b_encoding)
        right.with_suffix(".tmp" + right.suffix).rename(right)
    left.with_suffix(".tmp" + left.suffix).rename(left)
    record.write_text(plan)
    return clip


def clip_set(seed: int, count: int, *, size: str = "720p", frames: int = 120, persistent: bool = False) -> list[Clip]:
    return [build_clip(seed, i, size=size, frames=frames, persistent=persistent) for i in range(count)]


if __name__ == "__main__":
    import sys

    seed = int(sys.argv[1]) if len(sys.argv) > 1 else 2026
    for clip in clip_set(seed, int(sys.argv[2]) if len(sys.argv) > 2 else 6):
        print(clip.name, clip.edits)
