"""Writing a set of output files all at once, or not at all.

Each file is written to a hidden temporary name in the destination folder and
renamed into place only when every file has been written, so a failure leaves
no partial output. Existing files are never replaced unless asked, and an
output that would land on an input is refused whatever is asked.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .errors import OutputError


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or (a.exists() and b.exists() and os.path.samefile(a, b))
    except OSError:
        return False


def check_destinations(targets: list[Path], *, inputs: list[Path], overwrite: bool) -> None:
    """Refuse outputs that would replace an input, or an existing file unless asked."""
    for target in targets:
        for source in inputs:
            if _same_file(target, source):
                raise OutputError(f"{target}: output would overwrite the input {source}; choose another --out")
        if target.is_dir():
            raise OutputError(f"{target}: a directory is in the way of an output file")
        if target.exists() and not overwrite:
            raise OutputError(f"{target}: already exists; pass --overwrite to replace it")


def write_all(files: dict[Path, bytes]) -> None:
    """Write every file or none; the folders are created as needed."""
    staged: list[tuple[str, Path]] = []
    try:
        for target, data in files.items():
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                fd, temp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
            except OSError as exc:
                raise OutputError(f"{target.parent}: cannot write outputs there ({exc.strerror})") from None
            staged.append((temp, target))
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
        for temp, target in staged:
            os.replace(temp, target)
    except OSError as exc:
        raise OutputError(f"cannot write outputs ({exc})") from None
    finally:
        for temp, _ in staged:
            if os.path.exists(temp):
                os.unlink(temp)
