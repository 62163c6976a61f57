"""The one writer of output files: all of a run's files, or none of them.

Every output of a command goes through one :class:`Outputs`, which

- stages each file under a hidden name in its destination folder
  (``.imgdiff-staging.<pid>.<random>.<name>``) and commits them together at
  the end, so an error or an interrupt leaves no partial output; a staging
  file left by a killed run is recognised by its name and dead process id and
  removed by the next run that writes into that folder;
- creates exclusively: without ``overwrite`` a file that exists, or appears
  while the run works (a second run into the same folder), is never replaced,
  and the run fails with nothing of its own left behind;
- writes *through* special files (``/dev/null``, a terminal, a FIFO, a link
  to ``/proc/self/fd/1``) instead of replacing the node with a regular file,
  and replaces the file a symbolic link points to rather than the link;
- creates files with mode 0666 less the umask, like any other tool;
- knows every input path, by name and by inode: no output may land on or
  replace an input, whatever is asked;
- with ``overwrite``, removes the files of the previous run that this one
  does not write again, so no stale picture stays beside a new report.
"""

from __future__ import annotations

import errno
import os
import re
import signal
import stat
from collections.abc import Iterable
from pathlib import Path

from .errors import Interrupted, OutputError

STAGING_PREFIX = ".imgdiff-staging."
# .imgdiff-staging.<pid>.<random>.<target name>; and the mkstemp names of
# earlier versions (.report.json.k2j4_x9a.tmp), for the outputs they wrote
_STAGING_NAME = re.compile(r"\.imgdiff-staging\.(\d+)\.[0-9a-f]+\..+")
_LEGACY_NAME = re.compile(
    r"\.(?:left_marked\.png|right_marked\.png|right_filled\.png|mask\.png|diff\.png|report\.json|"
    r"frames\.csv|pairs\.csv)\.[A-Za-z0-9_]{8}\.tmp"
)


_committing = 0
_deferred: list[int] = []


def interrupt(signum: int) -> None:
    """Stop the run for a signal (the command's SIGINT/SIGTERM handler calls this).

    While files are being committed the signal waits until they all are, so
    an interrupt never leaves half of a set; it is raised right after.
    """
    if _committing:
        _deferred.append(signum)
        return
    raise Interrupted(signum)


_passes: dict[str, int] = {}


def checkpoint(name: str) -> None:
    """A named point of a run, where the tests deliver a signal deterministically.

    ``IMGDIFF_SIGNAL_AT=<name>:<n>:<SIGNAL>`` makes the process send itself
    SIGNAL (INT, TERM, KILL) the n-th time it passes ``name``. Points:
    ``compared`` (an image pair compared, nothing staged yet), ``staged``
    (a set of outputs staged, about to commit), ``committing`` (the first file
    of a set made real), ``frame`` (a video frame pair decoded and screened, about to be recorded).
    """
    wanted = os.environ.get("IMGDIFF_SIGNAL_AT")
    if not wanted:
        return
    point, _, rest = wanted.partition(":")
    count, _, signame = rest.partition(":")
    if point != name or not count.isdecimal() or f"SIG{signame}" not in signal.Signals.__members__:
        return
    _passes[name] = _passes.get(name, 0) + 1
    if _passes[name] == int(count):
        os.kill(os.getpid(), signal.Signals[f"SIG{signame}"])


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def sweep_debris(folder: Path) -> list[Path]:
    """Remove the staging files that runs killed before cleaning up left in ``folder``."""
    removed = []
    try:
        names = os.listdir(folder)
    except OSError:
        return removed
    for name in names:
        match = _STAGING_NAME.fullmatch(name)
        if (match and not _alive(int(match.group(1)))) or _LEGACY_NAME.fullmatch(name):
            try:
                os.unlink(folder / name)
                removed.append(folder / name)
            except OSError:
                pass
    return removed


class Inputs:
    """The files a run reads, known by resolved path and by inode."""

    def __init__(self, paths: Iterable[Path | None] = ()) -> None:
        self._paths: dict[Path, Path] = {}
        self._inodes: dict[tuple[int, int], Path] = {}
        self.add(paths)

    def add(self, paths: Iterable[Path | None]) -> None:
        for path in paths:
            if path is None or str(path) == "-":
                continue
            path = Path(path)
            try:
                self._paths[path.resolve()] = path
                info = path.stat()
                if stat.S_ISREG(info.st_mode):
                    self._inodes[(info.st_dev, info.st_ino)] = path
            except (OSError, RuntimeError):
                continue

    def holding(self, target: Path) -> Path | None:
        """The input ``target`` would land on, if any."""
        try:
            found = self._paths.get(target.resolve())
            if found is not None:
                return found
            info = target.stat()
        except (OSError, RuntimeError):
            return None
        return self._inodes.get((info.st_dev, info.st_ino))


_DESCRIPTOR_PATHS = ("/dev/stdout", "/dev/stderr", "/dev/fd/", "/proc/self/fd/", "/proc/thread-self/fd/")


def _names_a_descriptor(target: Path) -> bool:
    """The path is, or links to, one of this process's open descriptors (``--json /dev/stdout``)."""
    path = os.path.abspath(target)
    for _ in range(16):
        if path.startswith(_DESCRIPTOR_PATHS) or path.startswith(f"/proc/{os.getpid()}/fd/"):
            return True
        try:
            path = os.path.join(os.path.dirname(path), os.readlink(path))
        except OSError:
            return False
    return False


def _kind(target: Path) -> str:
    """'missing', 'file' (regular, possibly through a link), 'special', 'block', 'dir' or 'loop'.

    An open descriptor (``/dev/stdout``) is 'special' whatever it points at:
    with stdout redirected to a file, the report goes into that file, as a
    shell's ``>`` would put it, rather than replacing it under the shell.
    """
    if _names_a_descriptor(target) and target.exists():
        return "special"
    try:
        mode = target.stat().st_mode
    except FileNotFoundError:
        return "missing"  # or a dangling link, which an exclusive create refuses
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "loop"
        raise OutputError(f"{target}: cannot write there ({exc.strerror})") from None
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISDIR(mode):
        return "dir"
    if stat.S_ISBLK(mode):
        return "block"
    return "special"  # character device, FIFO, socket


class Outputs:
    """A set of output files committed together; use as a context manager.

    Leaving the ``with`` block by an exception (an error, KeyboardInterrupt)
    removes everything staged; :meth:`commit` makes the files real.
    """

    def __init__(self, *, inputs: Inputs | Iterable[Path | None] = (), overwrite: bool = False) -> None:
        self.inputs = inputs if isinstance(inputs, Inputs) else Inputs(inputs)
        self.overwrite = overwrite
        self._staged: dict[Path, Path] = {}  # target -> staging file
        self._through: dict[Path, bytes] = {}  # special files (/dev/null, a pipe): written through at commit
        self._created_dirs: list[Path] = []
        self._swept: set[Path] = set()
        self._stale: list[Path] = []

    # -- checks -------------------------------------------------------------------------------

    def check(self, targets: Iterable[Path]) -> None:
        """Refuse, before any work, outputs that would land on an input or replace a file unasked."""
        for target in targets:
            self._check(Path(target))

    def _check(self, target: Path) -> str:
        source = self.inputs.holding(target)
        if source is not None:
            raise OutputError(f"{target}: output would overwrite the input {source}; choose another out_dir=...")
        kind = _kind(target)
        if kind == "dir":
            raise OutputError(f"{target}: a directory is in the way of an output file")
        if kind == "block":
            raise OutputError(f"{target}: is a block device; refusing to write an output onto it")
        if kind == "loop":
            raise OutputError(f"{target}: symbolic link loop; choose another output path")
        if kind == "file" and not self.overwrite:
            raise OutputError(f"{target}: already exists; pass overwrite=True to replace it")
        if target.is_symlink() and kind == "missing":
            raise OutputError(f"{target}: is a dangling symbolic link; remove it or choose another path")
        return kind

    # -- staging ------------------------------------------------------------------------------

    def _make_dirs(self, folder: Path) -> None:
        missing = []
        probe = folder
        while not probe.exists() and probe != probe.parent:
            missing.append(probe)
            probe = probe.parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"{folder}: cannot write outputs there ({exc.strerror})") from None
        self._created_dirs.extend(reversed(missing))

    def staging_path(self, target: Path) -> Path:
        """A new empty staging file for ``target``, for a writer that writes it itself (a video)."""
        target = Path(target)
        if target in self._staged or target in self._through:
            raise OutputError(f"{target}: written twice in one run")
        if self._check(target) == "special":
            raise OutputError(f"{target}: this output must be a regular file, not a device or pipe")
        folder = target.parent
        self._make_dirs(folder)
        if folder not in self._swept:
            sweep_debris(folder)
            self._swept.add(folder)
        # what secrets.token_hex(4) gives, without importing it (hmac, hashlib, random: 14 ms)
        temp = folder / f"{STAGING_PREFIX}{os.getpid()}.{os.urandom(4).hex()}.{target.name}"
        try:
            os.close(os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))  # 0666 less the umask
        except OSError as exc:
            raise OutputError(f"{folder}: cannot write outputs there ({exc.strerror})") from None
        self._staged[target] = temp
        return temp

    def add(self, target: Path, data: bytes) -> None:
        """Stage ``data`` as the content of ``target``."""
        target = Path(target)
        if target not in self._through and self._check(target) == "special":
            self._through[target] = data  # kept in memory: nothing may be created beside /dev/null
            return
        temp = self.staging_path(target)
        try:
            with open(temp, "wb") as fh:
                fh.write(data)
        except OSError as exc:
            raise OutputError(f"{target}: cannot write ({exc.strerror})") from None

    def replaces(self, previous: Iterable[Path]) -> None:
        """Files of an earlier run, removed at commit unless written again (only with ``overwrite``)."""
        self._stale.extend(Path(p) for p in previous)

    # -- the end ------------------------------------------------------------------------------

    def commit(self) -> None:
        """Make every staged file real: all of them, or none when a check fails."""
        global _committing
        checkpoint("staged")
        kinds = {target: self._check(target) for target in self._staged}
        for target in self._through:
            self._check(target)
        linked: list[Path] = []
        _committing += 1
        try:
            for target, data in self._through.items():  # special files first: they cannot be undone
                self._write_through(data, target)
            for target, temp in self._staged.items():
                kind = kinds[target]
                if kind == "missing":
                    self._create(temp, target)
                    linked.append(target)
                    if len(linked) == 1:
                        checkpoint("committing")
                elif kind == "file":
                    os.replace(temp, target.resolve())  # through a link, to the file it names
                else:  # became a device or pipe since it was staged
                    self._write_through(Path(temp).read_bytes(), target)
        except BaseException:
            for target in linked:  # the files this run had created, and nothing else
                try:
                    os.unlink(target)
                except OSError:
                    pass
            raise
        finally:
            self._remove_staged()
            _committing -= 1
        self._remove_stale()
        self._staged.clear()
        self._through.clear()
        self._created_dirs.clear()
        if _deferred and not _committing:
            raise Interrupted(_deferred.pop(0))

    def _create(self, temp: Path, target: Path) -> None:
        try:
            os.link(temp, target)  # fails if the name exists: creation is exclusive
        except FileExistsError:
            if not self.overwrite or self.inputs.holding(target) is not None:
                raise OutputError(
                    f"{target}: appeared while this run worked (another run into the same folder?); "
                    "nothing was written; pass --overwrite to replace it"
                ) from None
            os.replace(temp, target)
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK):
                raise OutputError(f"{target}: cannot write ({exc.strerror})") from None
            # a file system without hard links: the exclusive open, then the rename
            try:
                os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            except FileExistsError:
                raise OutputError(f"{target}: appeared while this run worked; nothing was written") from None
            os.replace(temp, target)

    @staticmethod
    def _write_through(data: bytes, target: Path) -> None:
        try:
            with open(target, "wb") as sink:
                sink.write(data)
        except OSError as exc:
            raise OutputError(f"{target}: cannot write ({exc.strerror})") from None

    def _remove_stale(self) -> None:
        for path in self._stale:
            if path in self._staged or path in self._through or self.inputs.holding(path) is not None:
                continue
            try:
                if path.is_file() and not path.is_symlink():
                    os.unlink(path)
                    folder = path.parent
                    if not any(folder.iterdir()):
                        folder.rmdir()  # a frames/<index>/ folder emptied
            except OSError:
                pass

    def _remove_staged(self) -> None:
        for temp in self._staged.values():
            try:
                os.unlink(temp)
            except FileNotFoundError:
                pass

    def discard(self) -> None:
        """Remove everything staged and the folders this run created for it."""
        self._remove_staged()
        self._staged.clear()
        self._through.clear()
        for folder in reversed(self._created_dirs):
            try:
                folder.rmdir()  # only when empty
            except OSError:
                pass
        self._created_dirs.clear()

    def __enter__(self) -> Outputs:
        return self

    def __exit__(self, kind, value, traceback) -> None:
        self.discard()


def check_destinations(targets: list[Path], *, inputs: Iterable[Path | None], overwrite: bool) -> None:
    """Refuse outputs that would replace an input, or an existing file unless asked (see :meth:`Outputs.check`)."""
    Outputs(inputs=inputs, overwrite=overwrite).check(targets)


def write_all(
    files: dict[Path, bytes], *, inputs: Inputs | Iterable[Path | None] = (), overwrite: bool = False
) -> None:
    """Write every file or none, never replacing one unless ``overwrite`` (see :class:`Outputs`)."""
    with Outputs(inputs=inputs, overwrite=overwrite) as outputs:
        for target, data in files.items():
            outputs.add(target, data)
        outputs.commit()
