"""``imgdiff batch``: every pair of two folders, paired by relative path.

Each pair gets the outputs of ``imgdiff compare`` in ``OUT/pairs/<relative
path>/``; a summary ``report.json`` and ``pairs.csv`` go in ``OUT``. A pair
that fails is recorded and the others go on; a rerun skips pairs whose outputs
are complete and were made from the same inputs (sizes and modification times)
with the same options, unless ``force``. Each pair's outputs are committed
together, so a run interrupted between pairs leaves complete pairs that a
rerun reuses, and no summary.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ImgdiffError, OutputError
from .exit_status import SAME, exit_status
from .html_report import REPORT_HTML, batch_html
from .job import REPORT_NAME, compare_files
from .options import CompareOptions
from .outputs import STAGING_PREFIX, Inputs, Outputs, write_all
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


def image_files(folder: Path, *, skip: Path | None = None) -> tuple[dict[str, Path], list[PairOutcome]]:
    """Image files under a folder, by POSIX relative path, and the paths that cannot be read.

    Symbolic links to folders are followed; a link that leads back to a
    folder it lies in (a loop) is reported, not walked. ``skip``
    is a folder left out (the output folder, when it lies inside an input).
    """
    found: dict[str, Path] = {}
    problems: list[PairOutcome] = []
    skipped = skip.resolve() if skip is not None else None
    root = folder.absolute()

    def unreadable(exc: OSError) -> None:
        where = Path(exc.filename)
        relative = where.relative_to(folder).as_posix() if where != folder else "."
        problems.append(PairOutcome(relative, "error", detail=f"{where}: cannot list ({exc.strerror})"))

    for top, dirs, files in os.walk(folder, followlinks=True, onerror=unreadable):
        here = Path(top)
        real = here.resolve()
        if real == skipped:
            dirs[:] = []
            continue
        # a link back to a folder it lies in would be walked forever
        within = [p for p in Path(os.path.abspath(top)).parents if p == root or root in p.parents]
        if real in {p.resolve() for p in within}:
            dirs[:] = []
            problems.append(
                PairOutcome(
                    here.relative_to(folder).as_posix(),
                    "error",
                    detail=f"{here}: symbolic link loop (leads back to {real}); not followed",
                )
            )
            continue
        dirs.sort()
        for name in sorted(files):
            path = here / name
            if path.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            relative = path.relative_to(folder).as_posix()
            if path.is_symlink() and not path.exists():
                problems.append(PairOutcome(relative, "error", detail=f"{path}: dangling symbolic link"))
            else:  # the reader says what is wrong with a FIFO or an unreadable file
                found[relative] = path
    return found, problems


def fingerprint(left: Path, right: Path, options: CompareOptions) -> dict:
    """What a pair's result depends on: its inputs' sizes and times, and the options."""

    def identity(path: Path | None):
        if path is None:
            return None
        info = path.stat()
        return [info.st_size, info.st_mtime_ns]

    return {
        "left": identity(left),
        "right": identity(right),
        "ignore_mask": identity(options.ignore_mask),
        "settings": options.settings(),
    }


def _earlier(pair_dir: Path, stamp: dict) -> tuple[dict | None, bool]:
    """The pair's earlier report if it is complete and made from the same inputs and options,
    and whether the folder holds imgdiff's outputs at all (which a rerun may replace)."""
    try:
        report = json.loads((pair_dir / REPORT_NAME).read_text())
    except (OSError, ValueError):
        return None, False
    if not isinstance(report, dict) or not str(report.get("tool", "")).startswith("imgdiff-gpu"):
        return None, False
    complete = all((pair_dir / name).is_file() for name in report.get("outputs", []))
    return (report if complete and report.get("batch_fingerprint") == stamp else None), True


def _is_batch_summary(path: Path) -> bool:
    try:
        report = json.loads(path.read_text())
    except (OSError, ValueError):
        return False
    return isinstance(report, dict) and {"counts", "results", "pairs"} <= set(report)


def _inside(inner: Path, outer: Path) -> bool:
    inner, outer = inner.resolve(), outer.resolve()
    return inner == outer or outer in inner.parents


def run_batch(
    left_dir: Path,
    right_dir: Path,
    out_dir: Path,
    options: CompareOptions,
    *,
    force: bool = False,
    overwrite: bool = False,
    progress: Callable[[str], None] | None = None,
    workers: int | str | None = None,
    scheduler: str | None = None,
) -> BatchSummary:
    """Compare every pair of ``left_dir`` and ``right_dir`` into ``out_dir`` (see the module's docstring).

    ``workers`` (a number of local worker processes, or ``"cuda"``: one per
    GPU) or ``scheduler`` (the address of a running Dask scheduler) spread
    the pairs over a Dask cluster (:mod:`imgdiff_gpu.distributed`); the
    answers are the same. ``progress`` is called with each pair's path.
    """
    for side, folder in (("left", left_dir), ("right", right_dir)):
        if not folder.is_dir():
            raise ImgdiffError(f"{folder}: the {side} folder does not exist or is not a folder")
    if out_dir.resolve() in (left_dir.resolve(), right_dir.resolve()):
        raise OutputError(f"{out_dir}: the output folder must not be an input folder")
    for folder in (left_dir, right_dir):
        if _inside(folder, out_dir):
            raise OutputError(f"{out_dir}: the output folder must not contain the input folder {folder}")
    (lefts, left_problems), (rights, right_problems) = (image_files(d, skip=out_dir) for d in (left_dir, right_dir))
    inputs = Inputs([*lefts.values(), *rights.values(), options.ignore_mask])
    summary_targets = [out_dir / "pairs.csv", out_dir / REPORT_NAME, out_dir / REPORT_HTML]
    # a rerun replaces its own summary; anything else only when asked, as compare does
    replace_summary = overwrite or force or _is_batch_summary(out_dir / REPORT_NAME)
    Outputs(inputs=inputs, overwrite=replace_summary).check(summary_targets)

    summary = BatchSummary()
    summary.outcomes.extend(left_problems + right_problems)
    troubled = {o.path for o in summary.outcomes}
    paths = sorted((lefts.keys() | rights.keys()) - troubled)
    if workers is not None or scheduler is not None:
        from .distributed import compare_pairs_on_cluster

        both = [p for p in paths if p in lefts and p in rights]
        summary.outcomes.extend(_one_sided(p, lefts, rights) for p in paths if p not in both)
        summary.outcomes.extend(
            compare_pairs_on_cluster(
                [(p, lefts[p], rights[p]) for p in both],
                left_dir,
                right_dir,
                out_dir,
                options,
                force=force,
                overwrite=overwrite,
                inputs=inputs,
                workers=workers,
                scheduler=scheduler,
                progress=progress,
            )
        )
        paths = []
    for path in paths:
        if progress:
            progress(path)
        if path not in rights or path not in lefts:
            summary.outcomes.append(_one_sided(path, lefts, rights))
            continue
        summary.outcomes.append(
            compare_pair(
                path, lefts[path], rights[path], out_dir, options, force=force, overwrite=overwrite, inputs=inputs
            )
        )
    summary.outcomes.sort(key=lambda o: o.path)
    _write_summary(summary, left_dir, right_dir, out_dir, options, inputs, replace_summary)
    return summary


def _one_sided(path: str, lefts: dict, rights: dict) -> PairOutcome:
    if path not in rights:
        return PairOutcome(path, "left-only", detail="no file with this path on the right")
    return PairOutcome(path, "right-only", detail="no file with this path on the left")


def compare_pair(
    path: str,
    left: Path,
    right: Path,
    out_dir: Path,
    options: CompareOptions,
    *,
    force: bool,
    overwrite: bool,
    inputs: Inputs,
    incomplete_at_start: bool = False,
) -> PairOutcome:
    """One pair of a batch, its outputs committed in ``OUT/pairs/<path>/``; never raises an ImgdiffError.

    A pair whose outputs are complete and made from the same inputs and
    options is not compared again (unless ``force``) and counts as skipped.
    ``incomplete_at_start``: the pair was not complete when the run began, and a worker
    that died on it may have committed some or all of its outputs since; those
    are this run's own, so they are reused (or replaced) and not counted as
    skipped, and the summary reads as a run where nothing died.
    """
    pair_dir = out_dir / "pairs" / path
    try:
        stamp = fingerprint(left, right, options)
        earlier, ours = _earlier(pair_dir, stamp)
        if force:
            earlier = None
        report = earlier or compare_files(
            left,
            right,
            options,
            out_dir=pair_dir,
            overwrite=overwrite or force or ours or (incomplete_at_start and _only_our_names(pair_dir)),
            inputs=inputs,
            record={"batch_fingerprint": stamp},
        )
    except ImgdiffError as exc:
        return PairOutcome(path, "error", detail=str(exc))
    except Exception as exc:  # a bug in one pair: recorded (exit 2), and the others still compared
        detail = f"{left}: internal error ({type(exc).__name__}: {exc})"
        return PairOutcome(path, "error", detail=detail.splitlines()[0])
    return pair_outcome(path, report, skipped=earlier is not None and not incomplete_at_start)


def pair_outcome(path: str, report: dict, *, skipped: bool) -> PairOutcome:
    """A compared pair's line in the summary, from its report."""
    return PairOutcome(
        path,
        "different" if report["different"] else "same",
        score=report["score"],
        regions=len(report["regions"]),
        detail=report.get("reason") or "",
        skipped=skipped,
    )


def complete_before(path: str, left: Path, right: Path, out_dir: Path, options: CompareOptions) -> PairOutcome | None:
    """The skipped outcome of a pair whose outputs an earlier run completed, else None."""
    try:
        earlier, _ = _earlier(out_dir / "pairs" / path, fingerprint(left, right, options))
    except OSError:
        return None
    return None if earlier is None else pair_outcome(path, earlier, skipped=True)


def _only_our_names(pair_dir: Path) -> bool:
    """The pair's folder holds nothing but outputs of this job (a worker killed while committing them)."""
    from .html_report import REPORT_HTML
    from .job import PICTURE_NAMES

    try:
        names = os.listdir(pair_dir)
    except OSError:
        return False
    # staging files too: the dead worker's, which the next write into the folder sweeps
    return all(name in (*PICTURE_NAMES, REPORT_NAME, REPORT_HTML) or name.startswith(STAGING_PREFIX) for name in names)


def _write_summary(
    summary: BatchSummary, left_dir: Path, right_dir: Path, out_dir: Path, options, inputs: Inputs, overwrite: bool
) -> None:
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
    write_all(
        {
            out_dir / "pairs.csv": table.getvalue().encode(),
            out_dir / REPORT_NAME: to_json(report).encode(),
            out_dir / REPORT_HTML: batch_html(report, out_dir).encode(),
        },
        inputs=inputs,
        overwrite=overwrite,
    )
