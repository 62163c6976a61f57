"""JUnit XML for CI: one testcase per pair (batch), per run of frames (video) or per comparison.

A difference is a ``<failure>`` carrying the regions and the path of the HTML
report; trouble (an unreadable pair, a stream that stopped decoding) is an
``<error>``. The layout is the common one JUnit readers agree on (Jenkins,
GitLab, GitHub test reporters, junitparser): ``<testsuites>`` holding one
``<testsuite>`` with its counts, each ``<testcase>`` with ``classname`` and
``name``.
"""

from __future__ import annotations

import datetime
import json
import re
import socket
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from .html_report import REPORT_HTML

# XML 1.0 cannot carry these code points at all, escaped or not (control
# characters, lone surrogates from undecodable file names).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
MAX_REGIONS_LISTED = 20


@dataclass
class Case:
    classname: str
    name: str
    failure: tuple[str, str] | None = None
    """(message, text) when the case found a difference."""
    error: tuple[str, str] | None = None
    """(message, text) when the case could not be decided."""
    kind: str = "different"


def _clean(text: str) -> str:
    return _NOT_XML.sub("\ufffd", str(text))


def junit_xml(suite: str, cases: list[Case], *, seconds: float = 0.0) -> bytes:
    """The document, UTF-8 with its declaration."""
    failures = sum(c.failure is not None and c.error is None for c in cases)
    errors = sum(c.error is not None for c in cases)
    counts = {"tests": str(len(cases)), "failures": str(failures), "errors": str(errors), "skipped": "0"}
    root = ET.Element("testsuites", name="imgdiff", time=f"{seconds:.3f}", **counts)
    node = ET.SubElement(
        root,
        "testsuite",
        name=_clean(suite),
        time=f"{seconds:.3f}",
        timestamp=datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat(),
        hostname=_clean(socket.gethostname()),
        **counts,
    )
    for case in cases:
        element = ET.SubElement(node, "testcase", classname=_clean(case.classname), name=_clean(case.name), time="0")
        if case.error is not None:
            child = ET.SubElement(element, "error", message=_clean(case.error[0]), type="trouble")
            child.text = _clean(case.error[1])
        elif case.failure is not None:
            child = ET.SubElement(element, "failure", message=_clean(case.failure[0]), type=case.kind)
            child.text = _clean(case.failure[1])
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


def region_lines(regions: list[dict]) -> list[str]:
    lines = [
        f"region {i}: x={r['x']} y={r['y']} {r['width']}x{r['height']}, {r['area']} px, "
        f"min SSIM {r['min_ssim']:.4f}, colour distance {r['mean_color_delta']:.4f}"
        for i, r in enumerate(regions[:MAX_REGIONS_LISTED], 1)
    ]
    if len(regions) > MAX_REGIONS_LISTED:
        lines.append(f"... and {len(regions) - MAX_REGIONS_LISTED} more")
    return lines


def _score(value) -> str:
    return "n/a" if value is None else f"{value:.6f}"


def compare_case(report: dict, classname: str, name: str, report_path: Path | None) -> Case:
    """The testcase of one comparison report (see :func:`imgdiff_gpu.report.build_report`)."""
    case = Case(classname, name)
    if report["different"]:
        message = f"{report.get('reason') or 'differs'}, score {_score(report['score'])}"
        lines = region_lines(report["regions"])
        if report_path is not None:
            lines.append(f"report: {report_path}")
        case.failure = (message, "\n".join(lines))
    return case


def compare_junit(report: dict, out_dir: Path | None, *, seconds: float = 0.0) -> bytes:
    name = f"{report['left']} vs {report['right']}"
    case = compare_case(report, "imgdiff.compare", name, out_dir / REPORT_HTML if out_dir else None)
    return junit_xml("imgdiff compare", [case], seconds=seconds)


def batch_junit(summary, left_dir: Path, right_dir: Path, out_dir: Path, *, seconds: float = 0.0) -> bytes:
    """One testcase per path of a :class:`imgdiff_gpu.batch.BatchSummary`."""
    cases = []
    for outcome in summary.outcomes:
        case = Case("imgdiff.batch", outcome.path)
        pair_dir = out_dir / "pairs" / outcome.path
        if outcome.status == "error":
            case.error = (outcome.detail, outcome.detail)
        elif outcome.status in ("left-only", "right-only"):
            case.kind = "one-sided"
            case.failure = (f"{outcome.status}: {outcome.detail}", f"{outcome.status}: {outcome.detail}")
        elif outcome.status == "different":
            try:
                report = json.loads((pair_dir / "report.json").read_text())
            except (OSError, ValueError):
                report = {"different": True, "reason": outcome.detail, "score": outcome.score, "regions": []}
            report.setdefault("left", ""), report.setdefault("right", "")
            case = compare_case(report, "imgdiff.batch", outcome.path, pair_dir / REPORT_HTML)
        cases.append(case)
    return junit_xml(f"imgdiff batch {left_dir} vs {right_dir}", cases, seconds=seconds)


def frame_runs(frames) -> list[tuple[bool, list]]:
    """Consecutive frames grouped by whether they differ: [(different, [frames...]), ...]."""
    runs: list[tuple[bool, list]] = []
    for frame in frames:
        if runs and runs[-1][0] == frame.different and runs[-1][1][-1].index == frame.index - 1:
            runs[-1][1].append(frame)
        else:
            runs.append((frame.different, [frame]))
    return runs


def _span(run: list) -> str:
    first, last = run[0], run[-1]
    name = f"frame {first.index}" if first is last else f"frames {first.index}-{last.index}"
    if first.timestamp is not None and last.timestamp is not None:
        name += f" ({first.timestamp:.3f}s-{last.timestamp:.3f}s)"
    return name


def video_junit(summary, left: Path, right: Path, out_dir: Path, *, seconds: float = 0.0) -> bytes:
    """One testcase per run of consecutive differing (or same) frames of a :class:`~imgdiff_gpu.video.VideoSummary`."""
    exported = {frame.index for frame in summary.worst}
    cases = []
    for different, run in frame_runs(summary.frames):
        case = Case("imgdiff.video", _span(run))
        if different:
            worst = min(run, key=lambda f: f.score if f.score is not None else -2.0)
            lines = [f"{len(run)} frame(s) differ; lowest score {_score(worst.score)} at frame {worst.index}"]
            lines += [f"frame {worst.index} {line}" for line in region_lines([r.as_dict() for r in worst.regions])]
            shown = [f.index for f in run if f.index in exported]
            if shown:
                lines.append(f"pictures: {out_dir / 'frames'} ({', '.join(f'{i:06d}' for i in shown)})")
            lines.append(f"report: {out_dir / REPORT_HTML}")
            reason = worst.reason or f"{len(worst.regions)} region(s) differ"
            case.failure = (
                f"{len(run)} frame(s) differ, lowest score {_score(worst.score)}: {reason}",
                "\n".join(lines),
            )
        cases.append(case)
    if summary.count_mismatch:
        counts = ", ".join(f"{side} {n}" for side, n in summary.decoded.items())
        case = Case("imgdiff.video", "frame count", kind="frame-count")
        case.failure = (f"frame counts differ: {counts}", f"frame counts differ: {counts}")
        cases.append(case)
    for problem in summary.problems:
        cases.append(Case("imgdiff.video", "decoding", error=(problem, problem)))
    return junit_xml(f"imgdiff video {left} vs {right}", cases, seconds=seconds)


def written_by_imgdiff(path: Path) -> bool:
    """Whether ``path`` is a JUnit file imgdiff wrote (which a rerun may replace)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(200)
    except OSError:
        return False
    return b'<testsuites name="imgdiff"' in head
