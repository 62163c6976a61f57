"""Exit status of every command, like ``cmp`` and ``diff``, decided here only."""

from __future__ import annotations

SAME = 0
"""No differences found."""
DIFFERENT = 1
"""Differences found (or sizes, frame counts or folder contents differ)."""
TROUBLE = 2
"""Bad input, an unusable device, unwritable output, or a pair or stream that failed."""


def exit_status(*, different: bool, trouble: bool = False) -> int:
    """Trouble wins over differences, differences over sameness."""
    if trouble:
        return TROUBLE
    return DIFFERENT if different else SAME
