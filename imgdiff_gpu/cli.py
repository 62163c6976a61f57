"""The ``imgdiff`` command line.

Exit status, like ``cmp`` and ``diff``: 0 no difference found, 1 differences
found, 2 trouble (bad input, unusable device, unwritable output), 130 stopped by
Ctrl-C (143 by SIGTERM). Every error a user can cause is one line on stderr,
with no traceback; the command boundary (:func:`reports_errors`, :func:`main`)
is the one place that turns errors and signals into lines and statuses.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import signal
import sys
from pathlib import Path

import click

from . import __version__
from .errors import ImgdiffError
from .exit_status import TROUBLE, exit_status, interrupted_status
from .options import ALIGN_METHODS, DEFAULTS, DEVICE_CHOICES, SENSITIVITY_PRESETS, VIDEO_DEFAULTS

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class ColorType(click.ParamType):
    name = "COLOR"

    def convert(self, value, param, ctx):
        if isinstance(value, tuple):  # the default, already B, G, R
            return value
        from .rendering import parse_color  # NumPy with it: not for the default

        try:
            return parse_color(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


class ThresholdType(click.ParamType):
    name = "otsu|VALUE"

    def convert(self, value, param, ctx):
        if value == "otsu" or isinstance(value, float):
            return value
        try:
            number = float(value)
        except ValueError:
            self.fail(f"{value!r} is neither 'otsu' nor a number", param, ctx)
        if not -1.0 <= number <= 1.0:
            self.fail(f"an SSIM threshold lies in [-1, 1], got {number}", param, ctx)
        return number


class BoxType(click.ParamType):
    name = "X,Y,W,H"

    def convert(self, value, param, ctx):
        if isinstance(value, tuple):
            return value
        parts = value.split(",")
        # ASCII digits only: str.isdigit() accepts '²', which int() refuses
        if len(parts) != 4 or not all(re.fullmatch(r"\s*[0-9]+\s*", p) for p in parts):
            self.fail(f"{value!r} is not four whole numbers X,Y,W,H", param, ctx)
        return tuple(int(p) for p in parts)


class WorkersType(click.ParamType):
    name = "N|cuda"

    def convert(self, value, param, ctx):
        if isinstance(value, int) or value == "cuda":
            return value
        if not re.fullmatch(r"[0-9]+", str(value)) or int(value) < 1:
            self.fail(f"{value!r} is neither a number of worker processes (1 or more) nor 'cuda'", param, ctx)
        return int(value)


def cluster_options(command):
    """--workers / --scheduler: run on a Dask cluster (see :mod:`imgdiff_gpu.distributed`)."""
    command = click.option(
        "--scheduler",
        metavar="ADDRESS",
        help="Run on the Dask cluster of this scheduler (tcp://host:8786); --out must be shared with its workers.",
    )(command)
    return click.option(
        "--workers",
        type=WorkersType(),
        metavar="N|cuda",
        help="Run on a local Dask cluster of N worker processes ('cuda': one per GPU). Needs imgdiff-gpu[distributed].",
    )(command)


# A library message names a parameter as Python does, ``name=VALUE`` (VALUE a literal,
# or ``...`` for "a value of your choice"); on the command line it reads as the flag.
_PARAMETER = re.compile(r"\b([a-z][a-z_]*)=('[^']*'|\.\.\.|True|None|-?\d+)")


def as_flags(message: str) -> str:
    """``message`` with each parameter of the running command spelled as its flag.

    >>> print(as_flags("use device='cpu'; pass overwrite=True, or raise max_pixels=..."))
    use --device cpu; pass --overwrite, or raise --max-pixels
    """
    context = click.get_current_context(silent=True)
    command = context.command if context is not None else cli.commands["compare"]
    flags = {p.name: max(p.opts, key=len) for p in command.params if isinstance(p, click.Option)}

    def flag(match: re.Match) -> str:
        name, value = match.groups()
        if name not in flags:
            return match.group(0)
        shown = value.strip("'") if value.startswith("'") or value.lstrip("-").isdigit() else ""
        return f"{flags[name]} {shown}" if shown else flags[name]

    return _PARAMETER.sub(flag, message)


def reports_errors(command):
    """Turn a user-caused error or an interrupt into one stderr line and its exit status.

    Outputs are staged and removed on the way out (see :mod:`imgdiff_gpu.outputs`),
    so an interrupted run leaves nothing partial behind.
    """

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        status = TROUBLE
        try:
            return command(*args, **kwargs)
        except ImgdiffError as exc:
            click.echo(f"imgdiff: error: {as_flags(str(exc))}", err=True)
        except MemoryError:
            click.echo("imgdiff: error: out of memory; try smaller images or --device gpu", err=True)
        except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM through the handler main() installs
            signum = getattr(exc, "signum", signal.SIGINT)
            name = signal.Signals(signum).name
            click.echo(f"imgdiff: error: interrupted by {name}; no partial output was left", err=True)
            status = interrupted_status(signum)
        except BrokenPipeError:  # the reader of stdout went away (| head): nothing more to say
            with contextlib.suppress(OSError):
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(status)

    return wrapper


@click.group(context_settings=CONTEXT)
@click.version_option(__version__, "-V", "--version", prog_name="imgdiff")
def cli() -> None:
    """Find and show the differences between two images.

    \b
    Exit status: 0 no differences, 1 differences found, 2 trouble.
    """


def comparison_options(*, sensitivity: str = DEFAULTS.sensitivity):
    """The options every comparing command shares (compare, batch, video), named and defaulted as CompareOptions."""
    decorators = [
        click.option(
            "--device",
            type=click.Choice(DEVICE_CHOICES),
            default=DEFAULTS.device,
            show_default=True,
            help="Where SSIM runs; auto = the GPU when CuPy sees one.",
        ),
        click.option(
            "--color",
            type=ColorType(),
            default=DEFAULTS.color,
            show_default="red",
            help="Highlight colour: a name, #rrggbb, or B,G,R.",
        ),
        click.option(
            "--thickness",
            type=click.IntRange(1, 50),
            default=DEFAULTS.thickness,
            show_default=True,
            help="Box line thickness in pixels.",
        ),
        click.option(
            "--sensitivity",
            type=click.Choice(SENSITIVITY_PRESETS),
            default=sensitivity,
            show_default=True,
            help="Threshold preset; 'exact' marks any pixel that differs at all.",
        ),
        click.option(
            "--threshold",
            type=ThresholdType(),
            default=DEFAULTS.threshold,
            show_default=True,
            help="SSIM below which a pixel is structurally different.",
        ),
        click.option(
            "--min-area",
            type=click.IntRange(0),
            default=DEFAULTS.min_area,
            show_default=True,
            help="Smallest region kept, in differing pixels.",
        ),
        click.option(
            "--merge-distance",
            type=click.IntRange(0),
            default=DEFAULTS.merge_distance,
            show_default=True,
            help="Join fragments at most this many pixels apart.",
        ),
        click.option(
            "--ignore",
            "ignore_boxes",
            type=BoxType(),
            multiple=True,
            help="Leave a box X,Y,W,H out of everything (repeatable).",
        ),
        click.option(
            "--ignore-mask", type=click.Path(path_type=Path), help="Leave out the non-black pixels of this image."
        ),
        click.option("--resize", "size_mode", flag_value="resize", help="Scale RIGHT to LEFT's size when they differ."),
        click.option("--pad", "size_mode", flag_value="pad", help="Pad both to the larger size when they differ."),
        click.option(
            "--align",
            type=click.Choice(ALIGN_METHODS),
            help="Move RIGHT onto LEFT first (phase correlation, or ORB features + RANSAC).",
        ),
        click.option(
            "--antialiasing", is_flag=True, help="Ignore changes a sub-pixel edge shift explains (screenshots)."
        ),
        click.option(
            "--max-pixels",
            type=click.IntRange(1),
            default=DEFAULTS.max_pixels,
            show_default=True,
            help="Refuse images whose header claims more pixels.",
        ),
    ]

    def apply(command):
        for decorator in reversed(decorators):
            command = decorator(command)
        return command

    return apply


junit_option = click.option(
    "--junit",
    "junit_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Also write a JUnit XML report here (a failure per difference, an error per trouble).",
)


def _options_from(kwargs: dict):
    """Pop the shared options (named as CompareOptions' fields) out of a command's keyword arguments."""
    from dataclasses import fields

    from .options import CompareOptions

    # a video-only field (VIDEO_ONLY_OPTIONS) keeps its default in the other commands
    options = {f.name: kwargs.pop(f.name) for f in fields(CompareOptions) if f.name in kwargs}
    return CompareOptions(**dict(options, ignore_boxes=tuple(options["ignore_boxes"])))


@cli.command(context_settings=CONTEXT)
@click.argument("left", type=click.Path(path_type=Path))
@click.argument("right", type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--out",
    "out_dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Folder for the pictures and report.json (created if missing).",
)
@click.option(
    "--json",
    "json_path",
    type=click.Path(path_type=Path, allow_dash=True),
    help="Also write the report here; '-' prints it to stdout.",
)
@click.option("--overwrite", is_flag=True, help="Replace output files that already exist.")
@junit_option
@click.option("-q", "--quiet", is_flag=True, help="No summary line on stderr.")
@comparison_options()
@reports_errors
def compare(left, right, out_dir, json_path, overwrite, junit_path, quiet, **kwargs):
    """Compare LEFT with RIGHT and mark what differs.

    Writes left_marked.png, right_marked.png, right_filled.png, mask.png
    (white = different), diff.png (SSIM heat map), report.json and
    report.html (to look at in a browser) into --out, and prints one summary
    line on stderr. Exit status: 0 no differences, 1 differences found, 2 trouble.

    \b
    Example:
      imgdiff compare before.png after.png --out diffs --color '#00ff00'
      imgdiff compare a.jpg b.jpg --json - --device cpu   # report only
    """
    from .job import compare_files, output_paths
    from .loading import reading_ahead
    from .outputs import check_destinations

    options = _options_from(kwargs)
    inputs = [left, right, options.ignore_mask]
    # An output in the way costs a few stats here, not the decoding of two images first. The
    # job checks again as it writes: this is the early word, not the guarantee.
    check_destinations(output_paths(out_dir, json_path, junit_path), inputs=inputs, overwrite=overwrite)
    with reading_ahead(inputs, max_pixels=options.max_pixels):  # the images decode while the comparison loads
        report = compare_files(
            left, right, options, out_dir=out_dir, json_path=json_path, junit_path=junit_path, overwrite=overwrite
        )
    from .report import to_json
    from .summary import compare_line

    if json_path is not None and str(json_path) == "-":
        click.echo(to_json(report), nl=False)
    if not quiet:
        click.echo(compare_line(report, out_dir), err=True)
    sys.exit(exit_status(different=report["different"]))


@cli.command(context_settings=CONTEXT)
@click.argument("left_dir", type=click.Path(path_type=Path, file_okay=False))
@click.argument("right_dir", type=click.Path(path_type=Path, file_okay=False))
@click.option(
    "-o", "--out", "out_dir", required=True, type=click.Path(path_type=Path, file_okay=False), help="Output folder."
)
@click.option("--force", is_flag=True, help="Redo pairs whose outputs are already complete.")
@click.option("--overwrite", is_flag=True, help="Replace outputs an earlier batch did not write (report.json...).")
@click.option("-q", "--quiet", is_flag=True, help="No progress or summary table on stderr.")
@cluster_options
@junit_option
@comparison_options()
@reports_errors
def batch(left_dir, right_dir, out_dir, force, overwrite, quiet, junit_path, workers, scheduler, **kwargs):
    """Compare every image in LEFT_DIR with the one at the same path in RIGHT_DIR.

    Each pair's pictures and report go in OUT/pairs/<path>/; OUT/report.json,
    OUT/pairs.csv and OUT/report.html (one row per pair) summarise. Files on one side only are reported. An error
    in one pair does not stop the others. A rerun skips complete pairs.
    Exit status: 0 all the same, 1 some differ (or are one-sided), 2 some failed.

    With --workers or --scheduler the pairs run on a Dask cluster, with the
    same results; each worker writes its pairs' outputs, this command the summary.

    \b
    Example:
      imgdiff batch screenshots/main screenshots/branch --out review
      imgdiff batch main branch --out /shared/review --scheduler tcp://head:8786
    """
    import time

    from .batch import run_batch
    from .summary import batch_table

    options = _options_from(kwargs)
    if workers is not None and scheduler is not None:
        raise click.UsageError("give --workers or --scheduler, not both")
    distributed = workers is not None or scheduler is not None
    show = None if quiet or not sys.stderr.isatty() else (lambda path: click.echo(f"comparing {path}", err=True))
    bar = None
    if distributed:
        from tqdm import tqdm

        bar = tqdm(unit="pair", desc="comparing", disable=quiet or not sys.stderr.isatty(), file=sys.stderr)
        show = lambda path: bar.update()  # noqa: E731
    replace_junit = _junit_checked(junit_path, [left_dir, right_dir], overwrite or force)
    started = time.perf_counter()
    try:
        summary = run_batch(
            left_dir,
            right_dir,
            out_dir,
            options,
            force=force,
            overwrite=overwrite,
            progress=show,
            workers=workers,
            scheduler=scheduler,
        )
    finally:
        if bar is not None:
            bar.close()
    if junit_path is not None:
        seconds = time.perf_counter() - started
        _write_junit(junit_path, "batch", summary, left_dir, right_dir, out_dir, seconds, replace_junit)
    for outcome in summary.outcomes:
        if outcome.status == "error":
            click.echo(f"imgdiff: error: {as_flags(outcome.detail)}", err=True)
    if not quiet:
        click.echo(batch_table(summary, out_dir), err=True)
    sys.exit(summary.exit_status)


@cli.command(context_settings=CONTEXT)
@click.argument("left", type=click.Path(path_type=Path))
@click.argument("right", type=click.Path(path_type=Path))
@click.option(
    "-o", "--out", "out_dir", required=True, type=click.Path(path_type=Path, file_okay=False), help="Output folder."
)
@click.option("--offset", type=int, default=0, show_default=True, help="Compare LEFT frame i with RIGHT frame i+N.")
@click.option("--start", type=click.IntRange(0), default=0, show_default=True, help="First LEFT frame compared.")
@click.option("--end", type=click.IntRange(0), help="Stop before this LEFT frame.")
@click.option(
    "--worst",
    "worst_count",
    type=click.IntRange(0),
    default=5,
    show_default=True,
    help="Export the marked images of the N most changed frames.",
)
@click.option("--all-differing", "export_all", is_flag=True, help="Export every differing frame.")
@click.option(
    "--diff-video",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Also write a side-by-side H.264 video with the differences marked.",
)
@click.option(
    "--clip-noise/--no-clip-noise",
    default=VIDEO_DEFAULTS.clip_noise,
    show_default=True,
    help="At 'low', raise a frame's luma threshold by its clip's own noise (clears codec specks of "
    "noisy encodes; see the README's limits).",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress bar or summary table.")
@click.option("--overwrite", is_flag=True, help="Replace output files that already exist.")
@cluster_options
@junit_option
@comparison_options(sensitivity=VIDEO_DEFAULTS.sensitivity)
@reports_errors
def video(left, right, out_dir, offset, start, end, worst_count, export_all, diff_video, quiet, overwrite, **kwargs):
    """Compare two videos frame by frame.

    Writes frames.csv (frame, timestamp, score, changed fraction, regions,
    noise peak and noise factor: at 'low' the clip's own noise raises the
    luma threshold of a frame in a noisy clip, unless --no-clip-noise),
    report.json (summary, frame-count mismatch, worst frames), report.html
    (score plot, worst frames) and the marked pictures of the worst frames
    under frames/<index>/ into --out.
    Exit status: 0 no differences, 1 differences, 2 trouble (including a
    stream that stops decoding early; the frames that decoded are compared).
    Sensitivity defaults to 'low' here: two lossy encodes drift apart by a
    few grey levels in places, which 'normal' would mark. With --workers or
    --scheduler, ranges of frames are compared on a Dask cluster, same results.

    \b
    Example:
      imgdiff video before.mp4 after.mp4 --out review --diff-video review/side.mp4
    """
    import time

    from tqdm import tqdm

    from .summary import video_table
    from .video import compare_videos

    junit_path = kwargs.pop("junit_path")
    workers, scheduler = kwargs.pop("workers"), kwargs.pop("scheduler")
    if workers is not None and scheduler is not None:
        raise click.UsageError("give --workers or --scheduler, not both")
    options = _options_from(kwargs)
    replace_junit = _junit_checked(junit_path, [left, right, options.ignore_mask], overwrite)
    started = time.perf_counter()
    bar = tqdm(unit="frame", desc="comparing", disable=quiet or not sys.stderr.isatty(), file=sys.stderr)
    try:
        summary = compare_videos(
            left,
            right,
            out_dir,
            options,
            offset=offset,
            start=start,
            end=end,
            worst_count=worst_count,
            export_all=export_all,
            diff_video=diff_video,
            overwrite=overwrite,
            progress=lambda _: bar.update(),
            workers=workers,
            scheduler=scheduler,
        )
    finally:
        bar.close()
    if junit_path is not None:
        seconds = time.perf_counter() - started
        _write_junit(junit_path, "video", summary, left, right, out_dir, seconds, replace_junit)
    for problem in summary.problems:
        click.echo(f"imgdiff: error: {as_flags(problem)}", err=True)
    if not quiet:
        click.echo(video_table(summary, out_dir), err=True)
    sys.exit(summary.exit_status)


def _junit_checked(path: Path | None, inputs: list, overwrite: bool) -> bool:
    """Refuse a --junit path before any work, as the other outputs; True when it may be replaced.

    A JUnit file an earlier imgdiff run wrote is replaced, as a rerun replaces its own summary.
    """
    if path is None:
        return False
    from .junit import written_by_imgdiff
    from .outputs import check_destinations

    replace = overwrite or written_by_imgdiff(path)
    check_destinations([path], inputs=inputs, overwrite=replace)
    return replace


def _write_junit(path, command: str, summary, left, right, out_dir, seconds: float, replace: bool) -> None:
    from .junit import batch_junit, video_junit
    from .outputs import write_all

    junit = batch_junit if command == "batch" else video_junit
    write_all({path: junit(summary, left, right, out_dir, seconds=seconds)}, inputs=[left, right], overwrite=replace)


def _on_signal(signum, frame) -> None:
    from .outputs import interrupt

    interrupt(signum)  # raises Interrupted, a KeyboardInterrupt, unless files are being committed


@contextlib.contextmanager
def _c_libraries_muted():
    """Keep what C libraries print straight to fd 2 (libpng, libtiff, FFmpeg) off the user's stderr.

    The command's own lines (errors, progress) go to a duplicate of the real
    stderr; fd 2 itself points at /dev/null, or with IMGDIFF_TRACEBACK=1 at an
    unnamed temporary file shown when something unexpected happened.
    """
    try:
        sys.stderr.flush()
        real = os.dup(2)
    except (AttributeError, ValueError, OSError):  # no usable stderr: nothing to protect
        yield None
        return
    if os.environ.get("IMGDIFF_TRACEBACK"):
        import tempfile  # only here: 15 ms that every other run would pay

        sink = tempfile.TemporaryFile()
    else:
        sink = open(os.devnull, "wb")
    previous = sys.stderr
    os.dup2(sink.fileno(), 2)
    sys.stderr = open(real, "w", encoding=previous.encoding, errors="backslashreplace", buffering=1, closefd=False)
    try:
        yield sink
    finally:
        sys.stderr.flush()
        os.dup2(real, 2)
        sys.stderr = previous
        os.close(real)
        sink.close()


def main() -> None:
    """The ``imgdiff`` process: run the command (see :func:`_run`), then end without tearing Python down.

    Every output is written and closed by then; what the interpreter's
    teardown would still do is free, one by one, the objects of NumPy, OpenCV
    and every module a comparison imported: 8 ms of CPU after a 1080p
    comparison on this project's 2-core machine (a third of a second when the
    kernels were Numba's). Nothing is lost by skipping it, so once the
    standard streams are flushed the process ends with ``os._exit`` and the
    command's status.

    NumPy's OpenBLAS is held to one thread (``OPENBLAS_NUM_THREADS=1``, unless
    the user set it): nothing here calls BLAS, yet OpenBLAS starts a thread per
    core as NumPy loads and each spins for work for a while, 0.03 s of CPU a run
    taken from the decoding and the imports beside it (``perf``: 9 % of
    ``import numpy``, in ``blas_thread_server``).
    """
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    try:
        _run()
    except SystemExit as exc:
        status = exc.code
    else:
        status = 0
    if status is not None and not isinstance(status, int):  # sys.exit("message"), as Python itself does it
        print(status, file=sys.stderr)
        status = 1
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe or stream: nothing more can reach it anyway
            pass
    os._exit(status or 0)


def _run() -> None:
    """The ``imgdiff`` process: signals, C libraries' stderr, and unexpected failures at the boundary.

    SIGINT and SIGTERM stop the run where it is, through the same path as an
    error (staged outputs removed), then one line and 130 or 143. A usage error
    (an unknown flag, a value out of range) is one line and exit status 2 too. An exception
    nothing expected (a bug) is one line and exit status 2, never 1, which
    would read as "different"; IMGDIFF_TRACEBACK=1 shows its traceback.
    """
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _on_signal)
    with _c_libraries_muted() as muted:
        try:
            # not standalone: a usage error comes back here, to be said in one line like every other trouble
            cli.main(prog_name="imgdiff", standalone_mode=False)
        except click.ClickException as exc:
            if isinstance(exc, getattr(click.exceptions, "NoArgsIsHelpError", ())):
                exc.show()  # bare 'imgdiff': the help, as click shows it
                sys.exit(TROUBLE)
            context = getattr(exc, "ctx", None)
            usage = f"; see '{context.command_path} -h'" if context is not None else ""
            click.echo(f"imgdiff: error: {exc.format_message().rstrip('.')}{usage}", err=True)
            sys.exit(TROUBLE)
        except click.exceptions.Abort:  # click's own word for an interrupt it caught
            click.echo("imgdiff: error: interrupted by SIGINT; no partial output was left", err=True)
            sys.exit(interrupted_status(signal.SIGINT))
        except Exception as exc:
            if os.environ.get("IMGDIFF_TRACEBACK"):
                import traceback

                if muted is not None and muted.seekable():
                    muted.seek(0)
                    sys.stderr.write(muted.read().decode(errors="replace"))
                traceback.print_exc()
            detail = str(exc).splitlines()[0] if str(exc) else ""
            click.echo(
                f"imgdiff: error: internal error ({type(exc).__name__}: {detail}); "
                "please report it with IMGDIFF_TRACEBACK=1's output",
                err=True,
            )
            sys.exit(TROUBLE)


if __name__ == "__main__":
    main()
