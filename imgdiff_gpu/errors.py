"""Exceptions a user can cause, each carrying the remedy in its message.

The CLI turns every :class:`ImgdiffError` into one line on stderr and exit
status 2; anything else escaping is a bug and keeps its traceback.
"""

from __future__ import annotations


class ImgdiffError(Exception):
    """Base class of every error imgdiff-gpu reports to a user."""


class ImageLoadError(ImgdiffError):
    """An input image is missing, unreadable, corrupt, truncated or too large."""

    def __init__(self, path: object, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class OutputError(ImgdiffError):
    """An output cannot be written where asked, or would replace something."""


class DeviceError(ImgdiffError):
    """The requested device is not usable on this machine."""


class AlignmentError(ImgdiffError):
    """The images could not be aligned (too few features, no consistent transform)."""


class Interrupted(KeyboardInterrupt):
    """The run was stopped by SIGINT or SIGTERM; what it had staged is removed on the way out.

    A KeyboardInterrupt, so that nothing that handles errors (``except
    Exception``, a batch going on after a failed pair) swallows it.
    """

    def __init__(self, signum: int) -> None:
        import signal

        self.signum = signum
        super().__init__(signal.Signals(signum).name)
