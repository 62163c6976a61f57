"""The JSON report of a comparison (schema_version 1)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from . import __version__

if TYPE_CHECKING:
    from .pipeline import Comparison

SCHEMA_VERSION = 1


def build_report(comparison: Comparison, *, outputs: list[str], settings: dict) -> dict:
    """A JSON-ready dict; ``outputs`` are the file names written beside it."""
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": f"imgdiff-gpu {__version__}",
        "left": comparison.left.path,
        "right": comparison.right.path,
        "width": comparison.width,
        "height": comparison.height,
        "right_width": comparison.right.width,
        "right_height": comparison.right.height,
        "device": comparison.device,
        "score": comparison.score,
        "different": comparison.different,
        "reason": comparison.mismatch
        or (f"{len(comparison.regions)} region(s) differ" if comparison.regions else None),
        "ssim_threshold": comparison.ssim_threshold,
        "alignment": comparison.alignment.as_dict() if comparison.alignment else None,
        "regions": [r.as_dict() for r in comparison.regions],
        "notes": comparison.notes,
        "outputs": outputs,
        "settings": settings,
    }


def to_json(report: dict) -> str:
    return json.dumps(report, indent=2) + "\n"
