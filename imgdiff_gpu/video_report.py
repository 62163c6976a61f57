"""What ``imgdiff video`` found: per-frame results, the run's summary, and its report files.

``frames.csv`` (one row per compared pair), ``report.json`` (schema_version 1,
as :mod:`imgdiff_gpu.report` for one pair) and ``report.html`` are built here,
by the serial run and by the cluster's client alike.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

from .exit_status import exit_status
from .html_report import REPORT_HTML, video_html
from .options import CompareOptions
from .outputs import Outputs
from .regions import Region
from .report import SCHEMA_VERSION, to_json

FRAME_COLUMNS = ("frame", "timestamp", "score", "changed_fraction", "regions", "noise_peak", "noise_factor")


@dataclass
class FrameResult:
    index: int
    timestamp: float | None
    score: float | None
    changed_fraction: float
    regions: list[Region]
    different: bool
    reason: str | None = None
    noise_peak: float | None = None
    """The frame's noise peak (:mod:`imgdiff_gpu.clip_noise`; exact from ``PEAK_CUT`` up; with the rule on, the
    value its window's median takes: the regions fixed on screen in its window left out), None where the
    rule does not apply (a preset without a reference, aligned frames)."""
    noise_factor: float = 1.0
    """The factor on the window's luma threshold the frame was judged with (its clip's noise)."""


@dataclass
class VideoSummary:
    frames: list[FrameResult] = field(default_factory=list)
    decoded: dict[str, int] = field(default_factory=dict)
    frame_rates: dict[str, float | None] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    worst: list[FrameResult] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    fully_decoded: bool = False
    """Both streams were decoded to the end (not with --end), so their counts are real."""

    @property
    def count_mismatch(self) -> bool:
        return self.fully_decoded and len(set(self.decoded.values())) > 1

    @property
    def different(self) -> bool:
        return self.count_mismatch or any(f.different for f in self.frames)

    @property
    def exit_status(self) -> int:
        return exit_status(different=self.different, trouble=bool(self.problems))


def stage_video_report(
    summary: VideoSummary,
    left: Path,
    right: Path,
    out_dir: Path,
    options: CompareOptions,
    offset: int,
    start: int,
    end: int | None,
    outputs: Outputs,
) -> None:
    """frames.csv, report.json and report.html of a run, staged in ``outputs``."""
    table = io.StringIO()
    writer = csv.writer(table)
    writer.writerow(FRAME_COLUMNS)
    for f in summary.frames:
        writer.writerow(
            [
                f.index,
                "" if f.timestamp is None else f"{f.timestamp:.6f}",
                "" if f.score is None else f"{f.score:.6f}",
                f"{f.changed_fraction:.6f}",
                len(f.regions),
                "" if f.noise_peak is None else f"{f.noise_peak:.4f}",
                f"{f.noise_factor:.4f}",
            ]
        )
    reason = None
    if summary.count_mismatch:
        reason = f"frame counts differ: left {summary.decoded.get('left')}, right {summary.decoded.get('right')}"
    report = {
        "schema_version": SCHEMA_VERSION,
        "left": str(left),
        "right": str(right),
        "frames_decoded": summary.decoded,
        "fully_decoded": summary.fully_decoded,
        "frames_compared": len(summary.frames),
        "frames_different": sum(f.different for f in summary.frames),
        "frame_count_mismatch": summary.count_mismatch,
        "different": summary.different,
        "reason": reason,
        "offset": offset,
        "start": start,
        "end": end,
        "worst_frames": [
            {
                "frame": f.index,
                "timestamp": f.timestamp,
                "score": f.score,
                "changed_fraction": f.changed_fraction,
                "noise_peak": f.noise_peak,
                "noise_factor": f.noise_factor,
                "reason": f.reason,
                "regions": [r.as_dict() for r in f.regions],
            }
            for f in summary.worst
        ],
        "problems": summary.problems,
        "outputs": ["frames.csv", *summary.outputs],
        "settings": options.settings(),
    }
    outputs.add(out_dir / "frames.csv", table.getvalue().encode())
    outputs.add(out_dir / "report.json", to_json(report).encode())
    outputs.add(out_dir / REPORT_HTML, video_html(report, summary.frames, summary.outputs).encode())
