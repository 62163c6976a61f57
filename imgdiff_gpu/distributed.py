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
import time
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
CANCEL_WAIT_SECONDS = 60
"""How long an interrupted command waits for its started tasks to stop (they cannot be stopped)."""

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
    # each worker is one process with one task at a time; its kernels' OpenMP threads share the cores
    threads = str(max(1, (os.cpu_count() or 1) // workers))
    env = {"OMP_NUM_THREADS": threads}
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
            cancel_and_wait(client, list(pending))
    return outcomes


def _still_running(keys: list[str], dask_worker=None) -> list[str]:
    # A cancelled task that had started keeps running on its worker thread ("cancelled" there);
    # one still queued ("ready") may start before the cancellation reaches its worker.
    tasks = dask_worker.state.tasks
    return [key for key in keys if key in tasks and tasks[key].state not in ("memory", "error", "released")]


def cancel_and_wait(client, futures: list, *, timeout: float = CANCEL_WAIT_SECONDS) -> None:
    """Cancel ``futures``, then wait until none of them is still running on a worker.

    Dask cannot stop a task that has started, and one left running would go on
    committing outputs after the command has exited -- into the folder a rerun
    is already resuming, which then finds files it did not expect. So an
    interrupted command returns only once its tasks have stopped (at most
    ``timeout`` seconds; a task is sized to run about a second).
    """
    keys = [future.key for future in futures]
    client.cancel(futures)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            running = client.run(_still_running, keys)
        except Exception:  # the cluster is going away: nothing left to wait for
            return
        if not any(running.values()):
            return
        time.sleep(0.05)


# -- video: frame ranges ----------------------------------------------------------------------

FRAMES_PER_TASK = 100
"""The fewest frame pairs in a task: each task decodes from the keyframe before its range (up to a GOP more)."""


@dataclasses.dataclass
class StreamIndex:
    """One video stream's frames by presentation time, read from its packets without decoding."""

    pts: list[int]
    """Every frame's presentation timestamp, in order: frame n has ``pts[n]``."""
    keyframes: list[int]
    """The presentation timestamps of the frames a decoder can start from."""
    rate: float | None = None
    """Frames per second, as the container states it (None where it does not)."""


def index_stream(path: Path) -> StreamIndex:
    """The frames of the first video stream, counted from its packets (one packet, one frame)."""
    import av

    from .errors import ImageLoadError

    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError) as exc:
        raise ImageLoadError(path, f"cannot open as a video ({exc})") from None
    pts, keyframes = [], []
    with container:
        if not container.streams.video:
            raise ImageLoadError(path, "has no video stream")
        try:
            for packet in container.demux(container.streams.video[0]):
                if packet.size == 0:  # the flush packet at the end
                    continue
                if packet.pts is None:
                    raise ClusterError(
                        f"{path}: its frames carry no timestamps, so a worker cannot seek to its range; "
                        "run without --workers/--scheduler"
                    )
                pts.append(packet.pts)
                if packet.is_keyframe:
                    keyframes.append(packet.pts)
        except av.error.FFmpegError:
            pass  # a damaged tail: the ranges stop where the packets do, as the serial decode would
        rate = container.streams.video[0].average_rate
    pts.sort()
    keyframes.sort()
    return StreamIndex(pts, keyframes, float(rate) if rate else None)


def _decode_range(path: Path, pts: list[int], keyframes: list[int], first: int, problems: list[str]):
    """(frame number, time, RGB pixels) of frames ``first .. first + len(pts) - 1``, decoded from a keyframe.

    ``pts`` are the timestamps of exactly those frames; frames decoded on the
    way from the keyframe before them are dropped.
    """
    import bisect

    import av
    from av.video.reformatter import VideoReformatter

    from .video_frames import upright
    from .video_report import VideoSummary

    notes = VideoSummary()
    wanted = 0
    reformatter = VideoReformatter()  # one conversion context for the range's frames, as the serial run keeps
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        # the last keyframe at or before the first frame wanted; if the seek lands past it, one earlier
        for start_at in [*reversed([k for k in keyframes if k <= pts[0]]), None]:
            if start_at is None:
                container.seek(0, backward=True, any_frame=False)  # the beginning
            else:
                container.seek(start_at, stream=stream, backward=True, any_frame=False)
            try:
                frames = container.decode(stream)
                frame = next(frames, None)
                while frame is not None and frame.pts is not None and frame.pts < pts[0]:
                    frame = next(frames, None)
            except av.error.FFmpegError as exc:
                problems.append(f"{path}: decoding stopped at frame {first} ({exc})")
                return
            if frame is not None and frame.pts == pts[0]:
                break
        else:
            problems.append(f"{path}: cannot seek to frame {first}; run without --workers/--scheduler")
            return
        try:
            while frame is not None and wanted < len(pts):
                number = bisect.bisect_left(pts, frame.pts)
                if number < len(pts) and pts[number] == frame.pts:
                    wanted = number + 1
                    yield first + number, frame.time, upright(frame, path, notes, reformatter)
                frame = next(frames, None)
        except av.error.FFmpegError as exc:
            problems.append(f"{path}: decoding stopped after {first + wanted} frames ({exc})")
    problems.extend(p for p in notes.problems if p not in problems)


@dataclasses.dataclass
class FrameRange:
    """Pairs ``first .. last - 1``: left frame ``i + left_skip`` with right frame ``i + right_skip``."""

    first: int
    last: int
    left_pts: list[int]
    right_pts: list[int]
    left_keyframes: list[int]
    right_keyframes: list[int]
    left_skip: int
    right_skip: int


def compare_frame_range(
    left: Path,
    right: Path,
    task: FrameRange,
    options: CompareOptions,
    render_frames=(),
    segment: Path | None = None,
    fps: float | None = None,
    factors: dict[int, float] | None = None,
):
    """What one worker does with a range of frame pairs: their FrameResults (and problems), as the serial run
    at clip noise factor 1, each with its noise peak (the client judges them against the whole clip's).

    With ``render_frames`` (indices), the marked pictures of those frames
    instead, as PNG bytes by path relative to the output folder. With
    ``segment``, also the range's part of the side-by-side video, written there
    (every frame compared in full, as a serial run with a diff video does).
    ``factors``: the clip noise factors of frames (index: factor), their luma threshold times
    that; with neither ``render_frames`` nor ``segment``, only those frames are compared, again.
    """
    from .job import compare_with, encode_pictures, ignore_mask_for
    from .rendering import render
    from .video_exports import SideBySideWriter
    from .video_frames import compared_frames, frame_result, prefetch

    problems: list[str] = []
    # each stream decoded on its own thread while frames are compared, as in one process
    lefts = prefetch(_decode_range(left, task.left_pts, task.left_keyframes, task.first + task.left_skip, problems))
    rights = prefetch(
        _decode_range(right, task.right_pts, task.right_keyframes, task.first + task.right_skip, problems)
    )
    pairs = (
        (a_number - task.left_skip, time, a, b) for (a_number, time, a), (_, _, b) in zip(lefts, rights, strict=False)
    )
    wanted = set(render_frames)
    if wanted:
        pictures: dict[str, bytes] = {}
        for index, _, a, b in pairs:
            if index in wanted:
                ignore = ignore_mask_for(a.shape[:2], options)
                result = compare_with(options, a, b, ignore=ignore, luma_factor=(factors or {}).get(index, 1.0))
                drawn = render(result, color=options.color, thickness=options.thickness)
                for path, data in encode_pictures(drawn, Path("frames") / f"{index:06d}").items():
                    pictures[path.as_posix()] = data
        return pictures, problems
    if factors and segment is None:
        judged = []
        for index, time, a, b in pairs:
            if index in factors:
                result = compare_with(
                    options, a, b, ignore=ignore_mask_for(a.shape[:2], options), luma_factor=factors[index]
                )
                judged.append(frame_result(index, time, result))
        return judged, problems
    frames: list = []
    writer = None  # started at the range's first frame: a range that decodes nothing writes no part
    try:
        # the screen starts afresh in each range: which pairs it screens never changes a result
        for frame, result in compared_frames(pairs, options, screening=segment is None, clip_noise=False):
            frames.append(frame)
            if result is None:
                continue
            if segment is not None:
                writer = writer or SideBySideWriter(segment, segment, fps, segment=True)
                writer.add(render(result, color=options.color, thickness=options.thickness))
        if writer is not None:
            writer.close(finish=True)
    finally:
        if writer is not None:
            writer.close(finish=False)
    return frames, problems


def frame_ranges(pairs: int, workers: int, keyframes: list[int] = ()) -> list[tuple[int, int]]:
    """[first, last) of consecutive frame pairs, at least FRAMES_PER_TASK each, several tasks per worker.

    Each range after the first starts at the first of ``keyframes`` (pair
    indices where the left stream can start decoding) at or after its even
    split, so a task decodes no frame it then drops; none past the end.
    """
    import bisect

    size = max(FRAMES_PER_TASK, math.ceil(pairs / (TASKS_PER_WORKER * max(1, workers))))
    keyframes = sorted(keyframes)
    cuts = [0]
    for cut in range(size, pairs, size):
        at = bisect.bisect_left(keyframes, cut)
        if at < len(keyframes):
            cut = keyframes[at]
        elif cut - cuts[-1] < size:  # past the last keyframe: only full-sized ranges
            continue
        if cuts[-1] < cut < pairs:
            cuts.append(cut)
    return list(zip(cuts, [*cuts[1:], pairs], strict=True)) if pairs > 0 else []


def compare_videos_on_cluster(
    left: Path,
    right: Path,
    options: CompareOptions,
    *,
    offset: int,
    start: int,
    end: int | None,
    worst_count: int,
    export_all: bool,
    stage: Callable[[str, bytes], None],
    workers: int | str | None = None,
    scheduler: str | None = None,
    progress: Callable[[int], None] | None = None,
    diff_video: tuple[Path, Path] | None = None,
):
    """The :class:`imgdiff_gpu.video.VideoSummary` of a serial run, its frames compared in ranges on a cluster.

    Frames are counted and paired from the streams' packets (one packet a
    frame, by presentation time); each task seeks both streams to the
    keyframe before its range. The exported pictures come back as PNG bytes
    and go to ``stage(relative path, data)``: the caller commits them with
    the rest, as a serial run does.

    ``diff_video``: (the side-by-side video, its staging file). Each task
    encodes its range's part beside the staging file (storage every worker
    must see); the parts are joined, in frame order and without re-encoding,
    into the staging file, which the caller commits.
    """
    import bisect

    from .video_report import VideoSummary

    summary = VideoSummary()
    indexes = {"left": index_stream(left), "right": index_stream(right)}
    # in the order a serial run starts decoding them: the stream skipped ahead by --offset first
    sides = ("right", "left") if offset > 0 else ("left", "right")
    summary.decoded = {side: len(indexes[side].pts) for side in sides}
    left_skip, right_skip = max(-offset, 0), max(offset, 0)
    pairs = min(summary.decoded["left"] - left_skip, summary.decoded["right"] - right_skip)
    last = max(0, pairs if end is None else min(end, pairs))
    summary.fully_decoded = end is None

    def task(first: int, stop: int) -> FrameRange:
        lo, hi = indexes["left"], indexes["right"]
        return FrameRange(
            first,
            stop,
            lo.pts[first + left_skip : stop + left_skip],
            hi.pts[first + right_skip : stop + right_skip],
            [k for k in lo.keyframes if k <= lo.pts[first + left_skip]][-3:],
            [k for k in hi.keyframes if k <= hi.pts[first + right_skip]][-3:],
            left_skip,
            right_skip,
        )

    left, right = left.absolute(), right.absolute()  # for workers in other folders, or on other nodes
    segments: dict[tuple[int, int], Path] = {}
    with cluster_client(workers, scheduler) as client, _removed_at_exit(segments):
        _check_inputs_seen(client, [left, right])
        if diff_video is not None:
            check_shared(client, diff_video[1].parent, [])
        count = len(client.scheduler_info(n_workers=-1)["workers"])
        left_index = indexes["left"]
        key_numbers = [bisect.bisect_left(left_index.pts, k) for k in left_index.keyframes]
        starts = [n - left_skip - start for n in key_numbers if n - left_skip - start > 0]
        ranges = [(start + a, start + b) for a, b in frame_ranges(max(0, last - start), count, starts)]
        if diff_video is not None:
            segments.update((r, _segment_path(diff_video[1], r[0])) for r in ranges)
        rate = indexes["left"].rate
        futures = {
            client.submit(
                compare_frame_range,
                left,
                right,
                task(a, b),
                options,
                segment=segments.get((a, b)),
                fps=rate,
                key=f"imgdiff-frames-{a}-{secrets.token_hex(4)}",
            ): (a, b)
            for a, b in ranges
        }
        by_range: dict = {}
        try:
            for future in _distributed().as_completed(list(futures)):
                frames, problems = _result(future, futures[future], left)
                by_range[futures.pop(future)] = (frames, problems)
                if progress:
                    for frame in frames:
                        progress(frame.index)
        finally:
            if futures:
                cancel_and_wait(client, list(futures))
        for key in sorted(by_range):
            frames, problems = by_range[key]
            summary.frames.extend(frames)
            summary.problems.extend(p for p in problems if p not in summary.problems)

        def per_keyframe(indices, factor_of: dict, *, rendering: bool) -> dict:
            # a task per run of frames between two keyframes, each compared again from the keyframe
            # before it with its clip noise factor (no decoding past the last frame wanted); with
            # rendering, the task draws their pictures
            return {
                client.submit(
                    compare_frame_range,
                    left,
                    right,
                    task(group[0], group[-1] + 1),
                    options,
                    render_frames=group if rendering else (),
                    factors={i: factor_of[i] for i in group},
                ): (group[0], group[-1] + 1)
                for group in _by_keyframe(sorted(indices), key_numbers, left_skip).values()
            }

        levels = _clip_noise_levels(summary.frames, options)
        if levels:
            factors = {index: factor for index, (_, factor) in levels.items()}
            # the frames flagged at factor 1 that their clip's noise clears or changes: compared again,
            # as the serial run does, each from the keyframe before it
            again = [f.index for f in summary.frames if f.different and factors[f.index] > 1.0]
            judged = per_keyframe(again, factors, rendering=False)
            replaced = {}
            for future in _distributed().as_completed(list(judged)):
                frames, _ = _result(future, judged[future], left)
                replaced.update((f.index, f) for f in frames)
            for position, frame in enumerate(summary.frames):
                frame = summary.frames[position] = replaced.get(frame.index, frame)
                frame.noise_peak, frame.noise_factor = levels[frame.index]
        if segments and summary.frames:
            join_segments([segments[key] for key in sorted(segments) if segments[key].exists()], diff_video[1])
            summary.outputs.append(str(diff_video[0]))
        different = [f for f in summary.frames if f.different]
        ranked = sorted(different, key=lambda f: (f.changed_fraction, -f.index), reverse=True)
        exported = different if export_all else ranked[: max(worst_count, 0)]
        summary.worst = ranked[: max(worst_count, 0)]
        if exported:
            exported_factors = {f.index: f.noise_factor for f in exported}
            renders = per_keyframe(exported_factors, exported_factors, rendering=True)
            pictures: dict[str, bytes] = {}
            for future in _distributed().as_completed(list(renders)):
                drawn, _ = _result(future, renders[future], left)
                pictures.update(drawn)
            for frame in exported:
                names = [n for n in pictures if n.startswith(f"frames/{frame.index:06d}/")]
                for name in names:
                    stage(name, pictures[name])
                summary.outputs += names
    if not summary.frames and not summary.problems:
        counts = ", ".join(f"{side} {n}" for side, n in summary.decoded.items())
        summary.problems.append(
            f"no frame pairs to compare (frames decoded: {counts}; --offset {offset}, --start {start}"
            + (f", --end {end}" if end is not None else "")
            + "): the selection is empty or lies past the end of a video"
        )
    return summary


def _by_keyframe(indices: list[int], key_numbers: list[int], left_skip: int) -> dict[int, list[int]]:
    """Frame indices grouped by the left stream's keyframe before each (one task decodes a group)."""
    import bisect

    groups: dict[int, list[int]] = {}
    for index in indices:
        groups.setdefault(bisect.bisect_right(key_numbers, index + left_skip), []).append(index)
    return groups


def _clip_noise_levels(frames: list, options: CompareOptions) -> dict[int, tuple[float, float]] | None:
    """Each frame's clip noise (peak, factor) (:mod:`imgdiff_gpu.clip_noise`) over the whole selection, as
    the serial run computes them, from the peaks the workers measured; None where the rule does not apply."""
    from .clip_noise import noise_levels
    from .video_frames import clip_noise_reference

    reference = clip_noise_reference(options)
    if reference is None or not frames:
        return None
    levels = noise_levels([f.noise_peak for f in frames], reference)
    return {f.index: level for f, level in zip(frames, levels, strict=True)}


def _segment_path(staging: Path, first: int) -> Path:
    """Where the task starting at pair ``first`` writes its part of the diff video.

    A staging name of this process: parts a killed run leaves are swept by the next.
    """
    return staging.with_name(f"{staging.name}.part{first:09d}{staging.suffix}")


@contextlib.contextmanager
def _removed_at_exit(files: dict) -> Iterator[None]:
    try:
        yield
    finally:
        for path in files.values():
            with contextlib.suppress(OSError):
                path.unlink()


def join_segments(segments: list[Path], target: Path) -> None:
    """The H.264 parts, in order, as one video in ``target``: packets copied, timestamps shifted, nothing re-encoded.

    The parts come from one encoder setting without B-frames, so each starts
    with a keyframe and decodes in display order: shifting a part by the
    frames before it is all joining takes.
    """
    import av

    from .video_exports import DIFF_VIDEO_FORMATS

    with av.open(str(target), mode="w", format=DIFF_VIDEO_FORMATS[target.suffix.lower()]) as joined:
        stream = None
        shift = 0  # in the parts' time base: where the next part starts
        for path in segments:
            with av.open(str(path)) as part:
                source = part.streams.video[0]
                if stream is None:
                    stream = joined.add_stream_from_template(source)
                elif (source.codec_context.width, source.codec_context.height) != (stream.width, stream.height):
                    raise ClusterError(
                        f"{target}: the video's frame size changes between frame ranges; "
                        "write the diff video without --workers/--scheduler"
                    )
                end = shift
                for packet in part.demux(source):
                    if packet.size == 0:
                        continue
                    packet.pts += shift
                    packet.dts = packet.pts  # no B-frames: decode order is display order
                    end = max(end, packet.pts + (packet.duration or 0))
                    packet.stream = stream
                    joined.mux(packet)
                shift = end


def _result(future, frames: tuple[int, int], left: Path):
    from distributed.scheduler import KilledWorker

    try:
        return future.result()
    except KilledWorker:
        raise ClusterError(
            f"{left}: frames {frames[0]} to {frames[1] - 1} killed each worker that compared them "
            "(out of memory? a crash in the decoder?)"
        ) from None


def _check_inputs_seen(client, paths: list[Path]) -> None:
    seen = client.run(_what_a_worker_sees, "", "", [str(p.absolute().parent) for p in paths])
    for worker, view in sorted(seen.items()):
        if view["missing"]:
            raise ClusterError(
                f"{view['missing'][0]}: worker {worker} does not see this folder; the videos must be on storage "
                "every worker shares"
            )
