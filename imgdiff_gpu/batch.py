"""``imgdiff batch``: every pair of two folders, paired by relative path.

Each pair gets the outputs of ``imgdiff compare`` in ``OUT/pairs/<relative
path>/``; a summary ``report.json`` and ``pairs.csv`` go in ``OUT``. A pair
that fails is recorded and the others go on; a rerun skips pairs whose outputs
are complete, unless ``force``.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ImgdiffError, OutputError
from .exit_status import SAME, exit_status
from .job import REPORT_NAME, CompareOptions, compare_files
from .outputs import write_all
from .report import SCHEMA_VERSION, to_json

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp", ".gif"}
CSV_COLUMNS = ("path", "status", "score", "regions", "detail")
STATUSES = ("same", "different", "error", "left-only", "right-only")


@dataclass
class PairOutcome:
    path: str
    status: str
    """One of STATUSES."""
    score: float | None = None
    regions: int | None = None
    detail: str = ""
    skipped: bool = False


@dataclass
class BatchSummary:
    outcomes: list[PairOutcome] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(o.status == status for o in self.outcomes)

    @property
    def different(self) -> bool:
        """Some pair differs, or some path exists on one side only."""
        return any(o.status not in ("same", "error") for o in self.outcomes)

    @property
    def exit_status(self) -> int:
        return exit_status(different=self.different, trouble=self.count("error") > 0)


def image_files(folder: Path) -> dict[str, Path]:
    """Image files under a folder, by POSIX relative path."""
    return {
        p.relative_to(folder).as_posix(): p
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
    }


def _complete(pair_dir: Path) -> dict | None:
    """The pair's earlier report, if it and every output it lists are there."""
    try:
        report = json.loads((pair_dir / REPORT_NAME).read_text())
    except (OSError, ValueError):
        return None
    if all((pair_dir / name).is_file() for name in report.get("outputs", [])):
        return report
    return None


def run_batch(
    left_dir: Path,
    right_dir: Path,
    out_dir: Path,
    options: CompareOptions,
    *,
    force: bool = False,
    progress: Callable[[str], None] | None = None,
) -> BatchSummary:
    for side, folder in (("left", left_dir), ("right", right_dir)):
        if not folder.is_dir():
            raise ImgdiffError(f"{folder}: the {side} folder does not exist or is not a folder")
    if out_dir.resolve() in (left_dir.resolve(), right_dir.resolve()):
        raise OutputError(f"{out_dir}: the output folder must not be an input folder")
    lefts, rights = image_files(left_dir), image_files(right_dir)
    summary = BatchSummary()
    for path in sorted(lefts.keys() | rights.keys()):
        if progress:
            progress(path)
        if path not in rights:
            summary.outcomes.append(PairOutcome(path, "left-only", detail="no file with this path on the right"))
            continue
        if path not in lefts:
            summary.outcomes.append(PairOutcome(path, "right-only", detail="no file with this path on the left"))
            continue
        pair_dir = out_dir / "pairs" / path
        earlier = None if force else _complete(pair_dir)
        try:
            report = earlier or compare_files(lefts[path], rights[path], options, out_dir=pair_dir, overwrite=True)
        except ImgdiffError as exc:
            summary.outcomes.append(PairOutcome(path, "error", detail=str(exc)))
            continue
        summary.outcomes.append(
            PairOutcome(
                path,
                "different" if report["different"] else "same",
                score=report["score"],
                regions=len(report["regions"]),
                detail=report.get("reason") or "",
                skipped=earlier is not None,
            )
        )
    _write_summary(summary, left_dir, right_dir, out_dir, options)
    return summary


def _write_summary(summary: BatchSummary, left_dir: Path, right_dir: Path, out_dir: Path, options) -> None:
    table = io.StringIO()
    writer = csv.writer(table)
    writer.writerow(CSV_COLUMNS)
    for o in summary.outcomes:
        writer.writerow([o.path, o.status, "" if o.score is None else f"{o.score:.6f}", o.regions or 0, o.detail])
    report = {
        "schema_version": SCHEMA_VERSION,
        "left": str(left_dir),
        "right": str(right_dir),
        "pairs": len(summary.outcomes),
        "counts": {s: summary.count(s) for s in STATUSES},
        "skipped_complete": sum(o.skipped for o in summary.outcomes),
        "different": summary.exit_status != SAME,
        "results": [o.__dict__ for o in summary.outcomes],
        "settings": options.settings(),
    }
    from .html_report import REPORT_HTML, batch_html

    write_all(
        {
            out_dir / "pairs.csv": table.getvalue().encode(),
            out_dir / REPORT_NAME: to_json(report).encode(),
            out_dir / REPORT_HTML: batch_html(report, out_dir).encode(),
        }
    )
