"""Exit status of every command, like ``cmp`` and ``diff``, decided here only."""

from __future__ import annotations

import signal

SAME = 0
"""No differences found."""
DIFFERENT = 1
"""Differences found (or sizes, frame counts or folder contents differ)."""
TROUBLE = 2
"""Bad input, an unusable device, unwritable output, or a pair or stream that failed."""
INTERRUPTED = 128 + signal.SIGINT
"""Stopped by Ctrl-C (SIGINT), as a shell reports it: 130. SIGTERM gives 128 + 15 = 143."""


def exit_status(*, different: bool, trouble: bool = False) -> int:
    """Trouble wins over differences, differences over sameness."""
    if trouble:
        return TROUBLE
    return DIFFERENT if different else SAME


def interrupted_status(signum: int = signal.SIGINT) -> int:
    """The status of a run a signal stopped: 128 + the signal's number, as a shell reports it."""
    return 128 + int(signum)
