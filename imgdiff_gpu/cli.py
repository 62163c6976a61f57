"""The ``imgdiff`` command line.

Exit status, like ``cmp`` and ``diff``: 0 no difference found, 1 differences
found, 2 trouble (bad input, unusable device, unwritable output). Every error a
user can cause is one line on stderr, with no traceback.
"""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path

import click

from . import __version__
from .detection import SENSITIVITY_PRESETS
from .errors import ImgdiffError
from .exit_status import TROUBLE, exit_status
from .loading import DEFAULT_MAX_PIXELS

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class ColorType(click.ParamType):
    name = "COLOR"

    def convert(self, value, param, ctx):
        from .rendering import parse_color

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
        if len(parts) != 4 or not all(p.strip().isdigit() for p in parts):
            self.fail(f"{value!r} is not four whole numbers X,Y,W,H", param, ctx)
        return tuple(int(p) for p in parts)


def reports_errors(command):
    """Turn a user-caused error into one stderr line and exit status 2."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except ImgdiffError as exc:
            click.echo(f"imgdiff: error: {exc}", err=True)
        except MemoryError:
            click.echo("imgdiff: error: out of memory; try smaller images or --device gpu", err=True)
        sys.exit(TROUBLE)

    return wrapper


@click.group(context_settings=CONTEXT)
@click.version_option(__version__, "-V", "--version", prog_name="imgdiff")
def cli() -> None:
    """Find and show the differences between two images.

    \b
    Exit status: 0 no differences, 1 differences found, 2 trouble.
    """


def comparison_options(*, sensitivity: str = "normal"):
    """The options every comparing command shares (compare, batch, video)."""
    decorators = [
        click.option(
            "--device",
            type=click.Choice(["auto", "cpu", "gpu"]),
            default="auto",
            show_default=True,
            help="Where SSIM runs; auto = the GPU when CuPy sees one.",
        ),
        click.option(
            "--color",
            type=ColorType(),
            default="red",
            show_default=True,
            help="Highlight colour: a name, #rrggbb, or B,G,R.",
        ),
        click.option(
            "--thickness",
            type=click.IntRange(1, 50),
            default=2,
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
            default="otsu",
            show_default=True,
            help="SSIM below which a pixel is structurally different.",
        ),
        click.option(
            "--min-area",
            type=click.IntRange(0),
            default=40,
            show_default=True,
            help="Smallest region kept, in differing pixels.",
        ),
        click.option(
            "--merge-distance",
            type=click.IntRange(0),
            default=8,
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
            type=click.Choice(["translation", "homography"]),
            help="Move RIGHT onto LEFT first (phase correlation, or ORB features + RANSAC).",
        ),
        click.option(
            "--antialiasing", is_flag=True, help="Ignore changes a sub-pixel edge shift explains (screenshots)."
        ),
        click.option(
            "--max-pixels",
            type=click.IntRange(1),
            default=DEFAULT_MAX_PIXELS,
            show_default=True,
            help="Refuse images whose header claims more pixels.",
        ),
    ]

    def apply(command):
        for decorator in reversed(decorators):
            command = decorator(command)
        return command

    return apply


def _options_from(kwargs: dict):
    """Pop the shared options (named as CompareOptions' fields) out of a command's keyword arguments."""
    from dataclasses import fields

    from .job import CompareOptions

    options = {f.name: kwargs.pop(f.name) for f in fields(CompareOptions)}
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
@comparison_options()
@reports_errors
def compare(left, right, out_dir, json_path, overwrite, **kwargs):
    """Compare LEFT with RIGHT and mark what differs.

    Writes left_marked.png, right_marked.png, right_filled.png, mask.png
    (white = different), diff.png (SSIM heat map) and report.json into --out.
    Exit status: 0 no differences, 1 differences found, 2 trouble.

    \b
    Example:
      imgdiff compare before.png after.png --out diffs --color '#00ff00'
      imgdiff compare a.jpg b.jpg --json - --device cpu   # report only
    """
    from .job import compare_files
    from .report import to_json

    options = _options_from(kwargs)
    report = compare_files(left, right, options, out_dir=out_dir, json_path=json_path, overwrite=overwrite)
    if json_path is not None and str(json_path) == "-":
        click.echo(to_json(report), nl=False)
    sys.exit(exit_status(different=report["different"]))


@cli.command(context_settings=CONTEXT)
@click.argument("left_dir", type=click.Path(path_type=Path, file_okay=False))
@click.argument("right_dir", type=click.Path(path_type=Path, file_okay=False))
@click.option(
    "-o", "--out", "out_dir", required=True, type=click.Path(path_type=Path, file_okay=False), help="Output folder."
)
@click.option("--force", is_flag=True, help="Redo pairs whose outputs are already complete.")
@click.option("-q", "--quiet", is_flag=True, help="No progress on stderr.")
@comparison_options()
@reports_errors
def batch(left_dir, right_dir, out_dir, force, quiet, **kwargs):
    """Compare every image in LEFT_DIR with the one at the same path in RIGHT_DIR.

    Each pair's pictures and report go in OUT/pairs/<path>/; OUT/report.json
    and OUT/pairs.csv summarise. Files on one side only are reported. An error
    in one pair does not stop the others. A rerun skips complete pairs.
    Exit status: 0 all the same, 1 some differ (or are one-sided), 2 some failed.

    \b
    Example:
      imgdiff batch screenshots/main screenshots/branch --out review
    """
    from .batch import STATUSES, run_batch

    options = _options_from(kwargs)
    show = None if quiet or not sys.stderr.isatty() else (lambda path: click.echo(f"comparing {path}", err=True))
    summary = run_batch(left_dir, right_dir, out_dir, options, force=force, progress=show)
    for outcome in summary.outcomes:
        if outcome.status == "error":
            click.echo(f"imgdiff: error: {outcome.detail}", err=True)
    counts = ", ".join(f"{summary.count(s)} {s}" for s in STATUSES)
    if not quiet:
        click.echo(f"{len(summary.outcomes)} paths: {counts}", err=True)
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
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@click.option("--overwrite", is_flag=True, help="Replace output files that already exist.")
@comparison_options(sensitivity="low")
@reports_errors
def video(left, right, out_dir, offset, start, end, worst_count, export_all, diff_video, quiet, overwrite, **kwargs):
    """Compare two videos frame by frame.

    Writes frames.csv (frame, timestamp, score, changed fraction, regions),
    report.json (summary, frame-count mismatch, worst frames) and the marked
    pictures of the worst frames under frames/<index>/ into --out.
    Exit status: 0 no differences, 1 differences, 2 trouble (including a
    stream that stops decoding early; the frames that decoded are compared).
    Sensitivity defaults to 'low' here: two lossy encodes drift apart by a
    few grey levels in places, which 'normal' would mark.

    \b
    Example:
      imgdiff video before.mp4 after.mp4 --out review --diff-video review/side.mp4
    """
    from tqdm import tqdm

    from .video import compare_videos

    options = _options_from(kwargs)
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
        )
    finally:
        bar.close()
    for problem in summary.problems:
        click.echo(f"imgdiff: error: {problem}", err=True)
    if not quiet:
        differing = sum(f.different for f in summary.frames)
        click.echo(f"{len(summary.frames)} frame pairs compared, {differing} differ", err=True)
    sys.exit(summary.exit_status)


def main() -> None:
    """The ``imgdiff`` entry point: run the command, then end the process without tearing Python down.

    A comparison leaves Numba's and LLVM's object graphs behind, and the
    interpreter's teardown spends a third of a second of CPU collecting them
    after every output is written and closed; so once the standard streams
    are flushed the process ends with ``os._exit`` and the command's status.
    A bug's exception still ends the normal way, with its traceback.
    """
    try:
        cli(prog_name="imgdiff")
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


if __name__ == "__main__":
    main()
