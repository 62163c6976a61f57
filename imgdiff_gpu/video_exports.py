"""What ``imgdiff video`` exports beside its report: the worst frames' pictures and the side-by-side video."""

from __future__ import annotations

import heapq
import json
import re
from pathlib import Path

import cv2
import numpy as np

from .job import encode_pictures
from .outputs import Outputs

_FRAME_OUTPUT = re.compile(r"frames/[0-9]{6}/(?:left_marked|right_marked|right_filled|mask|diff)\.png")


class WorstFrames:
    """The ``count`` most changed differing frames so far, with their comparisons (rendered only at the end)."""

    def __init__(self, count: int) -> None:
        self.count = count
        self._heap: list = []  # (changed_fraction, -index, frame, comparison), the least changed first

    def offer(self, frame, comparison) -> None:
        if self.count <= 0:
            return
        entry = (frame.changed_fraction, -frame.index, frame, comparison)
        if len(self._heap) < self.count:
            heapq.heappush(self._heap, entry)
        elif entry[:2] > self._heap[0][:2]:
            heapq.heapreplace(self._heap, entry)

    def most_changed_first(self) -> list:
        """[(frame, comparison)], the most changed first (ties: the earlier frame)."""
        return [
            (frame, comparison) for _, _, frame, comparison in sorted(self._heap, key=lambda e: e[:2], reverse=True)
        ]


DIFF_VIDEO_FORMATS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska"}


class SideBySideWriter:
    """The --diff-video: left with boxes | right with filled regions, H.264, into a staging file."""

    def __init__(self, path: Path, staging: Path, fps: float | None, *, segment: bool = False):
        """``segment``: a part of a longer video, joined to others later without re-encoding
        (``distributed.join_segments``): no B-frames, so its decode order is its display order."""
        import av

        self.path = path
        self.container = av.open(str(staging), mode="w", format=DIFF_VIDEO_FORMATS[path.suffix.lower()])
        self.stream = self.container.add_stream("libx264", rate=round(fps or 25))
        self.stream.pix_fmt = "yuv420p"
        self.stream.options = {"crf": "20", "bf": "0"} if segment else {"crf": "20"}
        self.started = False
        self.closed = False

    def add(self, pictures: dict[str, np.ndarray]) -> None:
        import av

        left = pictures["left_marked.png"]
        right = pictures.get("right_filled.png", pictures["right_marked.png"])  # sizes differ: no fill
        height = max(left.shape[0], right.shape[0])
        side_by_side = np.hstack(
            [cv2.copyMakeBorder(p, 0, height - p.shape[0], 0, 0, cv2.BORDER_CONSTANT) for p in (left, right)]
        )
        if not self.started:
            height, width = side_by_side.shape[:2]
            self.stream.height, self.stream.width = height - height % 2, width - width % 2  # yuv420p: even sizes
            self.started = True
        if side_by_side.shape[:2] != (self.stream.height, self.stream.width):  # a size change mid-stream
            side_by_side = cv2.resize(
                side_by_side, (self.stream.width, self.stream.height), interpolation=cv2.INTER_AREA
            )
        frame = av.VideoFrame.from_ndarray(cv2.cvtColor(side_by_side, cv2.COLOR_BGR2RGB), format="rgb24")
        for packet in self.stream.encode(frame):
            self.container.mux(packet)

    def close(self, finish: bool) -> None:
        if self.closed:
            return
        self.closed = True
        if finish and self.started:
            for packet in self.stream.encode():
                self.container.mux(packet)
        self.container.close()


def previous_frame_outputs(out_dir: Path) -> list[Path]:
    """The frame pictures an earlier report in ``out_dir`` lists (frames/<index>/<picture> only)."""
    try:
        listed = json.loads((out_dir / "report.json").read_text()).get("outputs", [])
    except (OSError, ValueError, AttributeError):
        return []
    return [out_dir / name for name in listed if isinstance(name, str) and _FRAME_OUTPUT.fullmatch(name)]


def export_frame(out_dir: Path, index: int, pictures: dict[str, np.ndarray], outputs: Outputs) -> list[str]:
    files = encode_pictures(pictures, out_dir / "frames" / f"{index:06d}")
    for path, data in files.items():
        outputs.add(path, data)
    return [p.relative_to(out_dir).as_posix() for p in files]
