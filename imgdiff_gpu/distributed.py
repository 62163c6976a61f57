"""Batch pairs on a Dask cluster: ``imgdiff batch --workers N | cuda`` and ``--scheduler ADDRESS``.

No scheduler of our own: dask.distributed places the tasks, restarts a worker
that dies and runs its tasks again elsewhere. What is ours:

- pairs are grouped into tasks of about :data:`TASK_BYTES` of encoded input
  (a few hundred milliseconds of work, against about a millisecond of
  scheduling a task), and at most ``len(pairs) / (TASKS_PER_WORKER × workers)``
  pairs, so every worker has several tasks and a slow one does not hold the end;
- each worker writes its pairs' outputs through :class:`imgdiff_gpu.outputs.Outputs`
  (staged, committed together, exclusive) into the shared output folder, which
  every worker must see: that is checked before any work, with a probe file;
- the client alone writes the summary (``report.json``, ``pairs.csv``,
  ``report.html``, ``--junit``), from the outcomes streamed back as tasks finish;
- a pair complete before the run began is found by the client and not sent;
  every pair sent is one this run makes, so a task run again after its worker
  died reuses, and does not count as skipped, the pairs the dead worker had
  committed: the summary is the one a run where nothing died would write;
- a task whose worker dies ``distributed.scheduler.allowed-failures`` times
  (Dask's ``KilledWorker``) is split into single pairs, and a single pair that
  still kills its worker becomes that pair's error (exit status 2), never a hang.

Dask is an optional dependency (``pip install 'imgdiff-gpu[distributed]'``);
this module imports it only when a cluster is asked for.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

from .errors import ImgdiffError
from .options import CompareOptions
from .outputs import Inputs

TASK_BYTES = 4 << 20
"""Encoded input bytes per task: two 1080p PNG screenshots are about 2-4 MB, 0.2-0.5 s of work."""
TASKS_PER_WORKER = 4
CONNECT_SECONDS = 30
"""How long to wait for a remote scheduler to answer, and for its first worker to join."""

Pair = tuple[str, Path, Path]


class ClusterError(ImgdiffError):
    """The Dask cluster cannot be started, reached or used for this run."""


def _distributed():
    try:
        import distributed
    except ImportError:
        raise ClusterError(
            "--workers and --scheduler need Dask; install it with: pip install 'imgdiff-gpu[distributed]'"
        ) from None
    return distributed


@contextlib.contextmanager
def cluster_client(workers: int | str | None = None, scheduler: str | None = None) -> Iterator:
    """A ``distributed.Client``: on ``workers`` local processes (``"cuda"``: one per GPU) or on ``scheduler``."""
    if (workers is None) == (scheduler is None):
        raise ClusterError("give either --workers or --scheduler, not both")
    distributed = _distributed()
    with contextlib.ExitStack() as stack:
        if scheduler is not None:
            try:
                client = stack.enter_context(distributed.Client(scheduler, timeout=CONNECT_SECONDS))
            except (OSError, TimeoutError, ValueError) as exc:
                detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                raise ClusterError(f"{scheduler}: cannot reach the Dask scheduler ({detail})") from None
        else:
            client = stack.enter_context(distributed.Client(stack.enter_context(_local_cluster(workers))))
        try:
            client.wait_for_workers(1, timeout=CONNECT_SECONDS)
        except TimeoutError:
            raise ClusterError(
                f"{scheduler or 'the local cluster'}: no Dask worker joined within {CONNECT_SECONDS} s"
            ) from None
        yield client


def _local_cluster(workers: int | str):
    distributed = _distributed()
    # ":0": a free port for its web server, so two runs at once do not warn about 8787
    quiet = {"dashboard_address": ":0", "silence_logs": logging.CRITICAL}
    if workers == "cuda":
        try:
            from dask_cuda import LocalCUDACluster
        except ImportError:
            raise ClusterError("--workers cuda needs dask-cuda; install it with: pip install dask-cuda") from None
        try:
            return LocalCUDACluster(threads_per_worker=1, **quiet)
        except Exception as exc:  # no GPU, no NVML: dask-cuda's own words
            detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ClusterError(f"--workers cuda: cannot start a worker per GPU ({detail})") from None
    if not isinstance(workers, int) or workers < 1:
        raise ClusterError(f"--workers takes a number of worker processes (1 or more) or 'cuda', got {workers!r}")
    # each worker is one process with one task at a time; its Numba kernels share the cores
    threads = str(max(1, (os.cpu_count() or 1) // workers))
    env = {"NUMBA_NUM_THREADS": threads, "OMP_NUM_THREADS": threads}
    return distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, env=env, **quiet)


# -- the shared folder ------------------------------------------------------------------------


def _what_a_worker_sees(probe: str, token: str, folders: list[str]) -> dict:
    try:
        seen = Path(probe).read_text() == token
    except OSError:
        seen = False
    return {"probe": seen, "missing": [f for f in folders if not os.path.isdir(f)], "cwd": os.getcwd()}


def check_shared(client, out_dir: Path, folders: list[Path]) -> bool:
    """Refuse a run whose output folder or inputs some worker cannot see; True when every worker shares our cwd.

    A probe file written here must be read back by every worker. Raises
    :class:`ClusterError` naming the first worker that cannot.
    """
    from .outputs import STAGING_PREFIX

    created = not out_dir.exists()
    token = secrets.token_hex(8)
    # a staging name: a run killed right here leaves debris the next run sweeps
    probe = out_dir / f"{STAGING_PREFIX}{os.getpid()}.{token}.probe"
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        probe.write_text(token)
    except OSError as exc:
        raise ClusterError(f"{out_dir}: cannot write outputs there ({exc.strerror})") from None
    try:
        seen = client.run(_what_a_worker_sees, str(probe.absolute()), token, [str(f.absolute()) for f in folders])
    finally:
        probe.unlink(missing_ok=True)
    for worker, view in sorted(seen.items()):
        problem = None
        if view["missing"]:
            problem = f"{view['missing'][0]}: worker {worker} does not see this input folder"
        elif not view["probe"]:
            problem = f"{out_dir.absolute()}: worker {worker} does not see this output folder"
        if problem:
            if created:
                with contextlib.suppress(OSError):
                    out_dir.rmdir()
            raise ClusterError(f"{problem}; --out and the inputs must be on storage every worker shares")
    return all(view["cwd"] == os.getcwd() for view in seen.values())


# -- tasks ------------------------------------------------------------------------------------


def _input_bytes(pair: Pair) -> int:
    total = 0
    for path in pair[1:]:
        with contextlib.suppress(OSError):
            total += path.stat().st_size
    return total


def group_pairs(pairs: list[Pair], workers: int, *, task_bytes: int = TASK_BYTES) -> list[list[Pair]]:
    """Consecutive pairs grouped into tasks of about ``task_bytes`` of input, several tasks per worker."""
    most = max(1, math.ceil(len(pairs) / (TASKS_PER_WORKER * max(1, workers))))
    tasks: list[list[Pair]] = []
    task: list[Pair] = []
    size = 0
    for pair in pairs:
        task.append(pair)
        size += _input_bytes(pair)
        if size >= task_bytes or len(task) >= most:
            tasks.append(task)
            task, size = [], 0
    if task:
        tasks.append(task)
    return tasks


def compare_task(pairs: list[Pair], out_dir: Path, options: CompareOptions, force: bool, overwrite: bool, inputs):
    """What one worker does with one task: its pairs, one after the other (runs on the worker)."""
    from .batch import compare_pair

    return [
        compare_pair(
            path,
            left,
            right,
            out_dir,
            options,
            force=force,
            overwrite=overwrite,
            inputs=inputs,
            incomplete_at_start=True,
        )
        for path, left, right in pairs
    ]


def _absolute(pairs: list[Pair], out_dir: Path, options: CompareOptions):
    """Paths a worker with another working folder (another node) can open."""
    mask = options.ignore_mask
    if mask is not None:
        options = dataclasses.replace(options, ignore_mask=mask.absolute())
    return [(p, left.absolute(), right.absolute()) for p, left, right in pairs], out_dir.absolute(), options


def compare_pairs_on_cluster(
    pairs: list[Pair],
    left_dir: Path,
    right_dir: Path,
    out_dir: Path,
    options: CompareOptions,
    *,
    force: bool,
    overwrite: bool,
    inputs: Inputs,
    workers: int | str | None = None,
    scheduler: str | None = None,
    progress: Callable[[str], None] | None = None,
    task_bytes: int = TASK_BYTES,
) -> list:
    """The outcomes of ``pairs`` (path, left, right), compared on a Dask cluster, in no particular order."""
    from .batch import PairOutcome, complete_before

    outcomes: list[PairOutcome] = []
    if not force:  # pairs an earlier run completed: read here, never sent
        waiting = []
        for pair in pairs:
            done = complete_before(*pair, out_dir, options)
            if done is None:
                waiting.append(pair)
            else:
                outcomes.append(done)
                if progress:
                    progress(pair[0])
        pairs = waiting
    with cluster_client(workers, scheduler) as client:
        if not check_shared(client, out_dir, [left_dir, right_dir]):
            pairs, out_dir, options = _absolute(pairs, out_dir, options)
        if pairs:
            outcomes.extend(_run(client, pairs, out_dir, options, force, overwrite, inputs, progress, task_bytes))
    return outcomes


def _run(client, pairs, out_dir, options, force, overwrite, inputs, progress, task_bytes) -> list:
    distributed = _distributed()
    from distributed.scheduler import KilledWorker

    from .batch import PairOutcome

    run = secrets.token_hex(4)
    count = 0
    pending: dict = {}

    def submit(task: list[Pair]):
        nonlocal count
        count += 1
        key = f"imgdiff-batch-{run}-{count}"
        future = client.submit(compare_task, task, out_dir, options, force, overwrite, inputs, key=key)
        pending[future] = task
        return future

    workers = len(client.scheduler_info(n_workers=-1)["workers"])
    finished = distributed.as_completed([submit(task) for task in group_pairs(pairs, workers, task_bytes=task_bytes)])
    outcomes = []
    try:
        for future in finished:
            task = pending.pop(future)
            try:
                done = future.result()
            except KilledWorker:
                if len(task) > 1:  # find the pair that kills its worker: each alone
                    for pair in task:
                        finished.add(submit([pair]))
                    continue
                path, left, _ = task[0]
                done = [
                    PairOutcome(
                        path,
                        "error",
                        detail=f"{left}: the worker comparing this pair died each time it tried "
                        "(out of memory? a crash in a decoder?)",
                    )
                ]
            except distributed.client.FutureCancelledError:
                raise ClusterError(
                    "the Dask cluster cancelled the run (its scheduler restarted or went away)"
                ) from None
            except Exception as exc:  # the task itself failed on the worker, outside any one pair's comparison
                detail = str(exc).splitlines()[0] if str(exc) else ""
                done = [
                    PairOutcome(
                        path, "error", detail=f"{left}: internal error on a worker ({type(exc).__name__}: {detail})"
                    )
                    for path, left, _ in task
                ]
            for outcome in done:
                outcomes.append(outcome)
                if progress:
                    progress(outcome.path)
    finally:
        if pending:  # interrupted: what has not run will not; what was committed, a rerun reuses
            client.cancel(list(pending))
    return outcomes
