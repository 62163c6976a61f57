"""What a person reads on the terminal when a command ends (stderr; ``-q`` silences it).

``compare`` prints one line: verdict, region count, score, where the outputs
are. ``batch`` and ``video`` end with a short table. stdout is left for
``--json -``.
"""

from __future__ import annotations

from pathlib import Path

from .html_report import REPORT_HTML

WORST_LISTED = 5


def _score(value) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def compare_line(report: dict, out_dir: Path | None) -> str:
    verdict = "different" if report["different"] else "same"
    regions = len(report["regions"])
    line = f"imgdiff: {verdict}: {regions} region{'s' if regions != 1 else ''}, score {_score(report['score'])}"
    if report["different"] and not report["regions"] and report.get("reason"):
        line += f" ({report['reason']})"
    return line + (f"; outputs in {out_dir}" if out_dir is not None else "")


def _table(rows: list[tuple[str, str]]) -> str:
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"  {name:<{width}}  {value}" for name, value in rows)


def batch_table(summary, out_dir: Path) -> str:
    """Counts per status, the lowest-scoring pairs, and the report's path."""
    from .batch import STATUSES

    rows = [(status, str(summary.count(status))) for status in STATUSES]
    rows.append(("total", str(len(summary.outcomes))))
    scored = sorted((o for o in summary.outcomes if o.status == "different"), key=lambda o: (o.score is None, o.score))
    for outcome in scored[:WORST_LISTED]:
        rows.append(("lowest" if outcome is scored[0] else "", f"{_score(outcome.score)}  {outcome.path}"))
    rows.append(("report", str(out_dir / REPORT_HTML)))
    return f"imgdiff batch: {len(summary.outcomes)} paths\n" + _table(rows)


def video_table(summary, out_dir: Path) -> str:
    from .junit import frame_runs

    differing = [f for f in summary.frames if f.different]
    runs = [run for different, run in frame_runs(summary.frames) if different]
    spans = [f"{r[0].index}" if len(r) == 1 else f"{r[0].index}-{r[-1].index}" for r in runs]
    listed = ", ".join(spans[:WORST_LISTED]) + (", ..." if len(spans) > WORST_LISTED else "")
    rows = [
        ("compared", f"{len(summary.frames)} frame pairs"),
        ("differing", f"{len(differing)} frames" + (f" in {len(runs)} run(s): {listed}" if runs else "")),
        ("decoded", ", ".join(f"{side} {n}" for side, n in summary.decoded.items()) or "none"),
    ]
    scored = [f for f in summary.frames if f.score is not None]
    if scored:
        worst = min(scored, key=lambda f: f.score)
        rows.append(("lowest score", f"{_score(worst.score)} at frame {worst.index}"))
    if summary.count_mismatch:
        rows.append(("frame counts", "differ"))
    rows.append(("report", str(out_dir / REPORT_HTML)))
    verdict = "different" if summary.different else "same"
    return f"imgdiff video: {verdict}\n" + _table(rows)
