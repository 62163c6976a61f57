"""``report.html``: one self-contained page beside ``report.json`` to look at the results.

The page works opened from disk (``file://``) with no network: its style and
script are inline, its pictures are the PNG files already written in the same
output folder, referred to by relative paths, and a Content-Security-Policy
``<meta>`` tag enforces this (nothing may be fetched but images from the page's
own origin, and only the exact inline script and style, by their SHA-256 hashes).

The data is the report itself, embedded as a JSON data block with ``<``, ``>``
and ``&`` written as ``\\u`` escapes, so no input-derived string can close the
block; the script puts every string on the page as text, never as markup.
"""

from __future__ import annotations

import datetime
import json
import math
import os
import platform
import re
import sys
from pathlib import Path

from . import __version__

REPORT_HTML = "report.html"
PLOT_POINTS = 2000
"""At most this many points in a video's score plot; longer videos are bucketed by their lowest score."""

# Only what the page itself carries, or the pictures beside it: no network, no
# plugins, no forms, no <base>. 'self' covers the output folder both from disk
# and served over HTTP; Chromium treats file: pages' 'self' as any file: URL,
# other browsers may not, hence file: as well.
_CSP = (
    "default-src 'none'; img-src 'self' file:; style-src '{style}'; script-src '{script}'; "
    "base-uri 'none'; form-action 'none'; object-src 'none'"
)

_VERSIONED = ("numpy", "opencv-python-headless", "pillow", "av")


# The page's modules (importlib.metadata and .resources above all) are imported when a page is
# written: every command imports this module for REPORT_HTML, and ``--json -`` writes no page.


def _asset(name: str) -> str:
    # beside this module in a checkout and in an installed wheel alike; importlib.resources
    # would find it there too, after 8 ms of importing
    return (Path(__file__).parent / "report_assets" / name).read_text(encoding="utf-8")


def _sha256(text: str) -> str:
    import base64
    import hashlib

    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")


def _json_safe(value):
    """NaN and infinities as null (JSON.parse refuses them), recursively."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


def _data_block(data: dict) -> str:
    text = json.dumps(_json_safe(data), ensure_ascii=False, separators=(",", ":"))
    # inside <script type="application/json"> only "</script" or "<!--" could end the block
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _installed_versions(names: tuple[str, ...]) -> dict[str, str]:
    """``importlib.metadata.version`` of the ``names`` installed as wheels, from their METADATA.

    The first ``<name>-<version>.dist-info`` folder along ``sys.path`` with a Version
    header, as importlib.metadata finds it, without importing it (25 ms: the email
    package, zipfile, csv). Names not found so are left out (see :func:`versions`).
    """
    prefixes = {re.sub(r"[-_.]+", "_", name).lower() + "-": name for name in names}
    found: dict[str, str] = {}
    for folder in sys.path:
        try:
            entries = os.listdir(folder or ".")
        except OSError:
            continue
        for entry in entries:
            if not entry.endswith(".dist-info"):
                continue
            name = prefixes.get(entry[: entry.find("-") + 1].lower())
            if name is None or name in found:
                continue
            try:
                text = Path(folder or ".", entry, "METADATA").read_text(encoding="utf-8", errors="replace")
            except OSError:
                continue
            headers = text.split("\n\n", 1)[0]
            version = re.search(r"^Version:[ \t]*(.*?)[ \t]*$", headers, re.MULTILINE)
            if version is not None:
                found[name] = version.group(1)
    return found


def versions() -> str:
    """The versions that produced a report: the tool, Python and the libraries that compute."""
    parts = [f"imgdiff-gpu {__version__}", f"Python {platform.python_version()}"]
    installed = _installed_versions(_VERSIONED)
    for name in _VERSIONED:
        if name in installed:
            parts.append(f"{name} {installed[name]}")
            continue
        from importlib import metadata  # an install of another kind (egg-info, ...)

        try:
            parts.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            pass
    if "cupy" in sys.modules:  # only when the GPU path was used: importing CuPy is slow
        parts.append(f"cupy {getattr(sys.modules['cupy'], '__version__', '?')}")
    return ", ".join(parts)


def render_page(kind: str, title: str, data: dict) -> str:
    """The page for ``kind`` ('compare', 'batch' or 'video') with ``data`` embedded."""
    import html

    style, script = _asset("report.css"), _asset("report.js")
    payload = dict(
        data,
        kind=kind,
        versions=versions(),
        generated=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
    )
    csp = _CSP.format(style=_sha256(style), script=_sha256(script))
    values = {
        "CSP": html.escape(csp),
        "TITLE": html.escape(title),
        "DATA": _data_block(payload),
        "STYLE": style,
        "SCRIPT": script,
    }
    # one pass, so a file name that spells a marker stays as it is
    return re.sub(r"@([A-Z]+)@", lambda m: values[m.group(1)], _asset("report.html"))


def compare_html(report: dict) -> str:
    """The page of one comparison; its pictures are the outputs named in ``report`` beside it."""
    left = Path(report["left"]).name if report.get("left") else "left"
    right = Path(report["right"]).name if report.get("right") else "right"
    return render_page("compare", f"imgdiff: {left} vs {right}", {"report": report})


def batch_html(report: dict, out_dir: Path) -> str:
    """The page of a folder comparison; each compared pair links to its own page under ``pairs/``."""
    pairs = {}
    for result in report["results"]:
        folder = out_dir / "pairs" / result["path"]
        base = f"pairs/{result['path']}/"
        entry = {}
        if (folder / REPORT_HTML).is_file():
            entry["href"] = base + REPORT_HTML
        for name in ("right_filled.png", "right_marked.png"):
            if result["status"] in ("same", "different") and (folder / name).is_file():
                entry["thumb"] = base + name
                break
        pairs[result["path"]] = entry
    title = f"imgdiff batch: {Path(report['left']).name} vs {Path(report['right']).name}"
    return render_page("batch", title, {"report": report, "pairs": pairs})


def score_plot(frames: list, limit: int = PLOT_POINTS) -> dict:
    """Frame indices and scores for the plot, at most ``limit`` points, and the flagged frames.

    Longer videos are cut into equal buckets of consecutive frames, each shown
    by its lowest score, so a dip of one frame still shows.
    """
    bucket = max(1, math.ceil(len(frames) / limit))
    indices, scores = [], []
    for start in range(0, len(frames), bucket):
        chunk = frames[start : start + bucket]
        known = [f.score for f in chunk if f.score is not None and math.isfinite(f.score)]
        indices.append(chunk[0].index)
        scores.append(min(known) if known else None)
    flagged = [f.index for f in frames if f.different]
    return {
        "frames": indices,
        "scores": scores,
        "flagged": flagged[: limit * 2],
        "flagged_total": len(flagged),
        "bucket": bucket,
    }


def video_html(report: dict, frames: list, exported: list[str]) -> str:
    """The page of a video comparison: the score plot, and the worst frames whose pictures were exported."""
    exported_set = set(exported)
    worst = []
    for entry in report["worst_frames"]:
        base = f"frames/{entry['frame']:06d}/"
        outputs = [p[len(base) :] for p in exported_set if p.startswith(base)]
        if "left_marked.png" in outputs:
            worst.append(dict(entry, base=base, outputs=sorted(outputs)))
    title = f"imgdiff video: {Path(report['left']).name} vs {Path(report['right']).name}"
    return render_page("video", title, {"report": report, "plot": score_plot(frames), "worst": worst})
