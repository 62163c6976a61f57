"""The ``imgdiff`` command line.

Exit status, like ``cmp`` and ``diff``: 0 no difference found, 1 differences
found, 2 trouble (bad input, unusable device, unwritable output). Every error a
user can cause is one line on stderr, with no traceback.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path

import click
import cv2
import numpy as np

from . import __version__
from .detection import SENSITIVITY_PRESETS
from .errors import ImgdiffError
from .loading import DEFAULT_MAX_PIXELS

EXIT_SAME = 0
EXIT_DIFFERENT = 1
EXIT_TROUBLE = 2

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
        sys.exit(EXIT_TROUBLE)

    return wrapper


@click.group(context_settings=CONTEXT)
@click.version_option(__version__, "-V", "--version", prog_name="imgdiff")
def cli() -> None:
    """Find and show the differences between two images.

    \b
    Exit status: 0 no differences, 1 differences found, 2 trouble.
    """


def _ignore_mask(shape, boxes, mask_path, max_pixels):
    from .errors import ImageLoadError
    from .loading import load_image

    if not boxes and mask_path is None:
        return None
    ignore = np.zeros(shape, dtype=bool)
    for x, y, w, h in boxes:
        ignore[y : y + h, x : x + w] = True
    if mask_path is not None:
        mask = load_image(mask_path, max_pixels=max_pixels).pixels
        if mask.shape[:2] != shape:
            raise ImageLoadError(
                mask_path, f"ignore mask is {mask.shape[1]}x{mask.shape[0]}, images are {shape[1]}x{shape[0]}"
            )
        ignore |= (mask if mask.ndim == 2 else mask[..., :3].max(axis=2)) > 0
    return ignore


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
    "--device",
    type=click.Choice(["auto", "cpu", "gpu"]),
    default="auto",
    show_default=True,
    help="Where SSIM runs; auto = the GPU when CuPy sees one.",
)
@click.option(
    "--color",
    "color",
    type=ColorType(),
    default="red",
    show_default=True,
    help="Highlight colour: a name, #rrggbb, or B,G,R.",
)
@click.option(
    "--thickness",
    type=click.IntRange(1, 50),
    default=2,
    show_default=True,
    help="Box line thickness in pixels.",
)
@click.option(
    "--sensitivity",
    type=click.Choice(SENSITIVITY_PRESETS),
    default="normal",
    show_default=True,
    help="Threshold preset; 'exact' marks any pixel that differs at all.",
)
@click.option(
    "--threshold",
    type=ThresholdType(),
    default="otsu",
    show_default=True,
    help="SSIM below which a pixel is structurally different.",
)
@click.option(
    "--min-area",
    type=click.IntRange(0),
    default=40,
    show_default=True,
    help="Smallest region kept, in differing pixels.",
)
@click.option(
    "--merge-distance",
    type=click.IntRange(0),
    default=8,
    show_default=True,
    help="Join fragments at most this many pixels apart.",
)
@click.option(
    "--ignore",
    "ignore_boxes",
    type=BoxType(),
    multiple=True,
    help="Leave a box X,Y,W,H out of everything (repeatable).",
)
@click.option("--ignore-mask", type=click.Path(path_type=Path), help="Leave out the non-black pixels of this image.")
@click.option("--resize", "size_mode", flag_value="resize", help="Scale RIGHT to LEFT's size when they differ.")
@click.option("--pad", "size_mode", flag_value="pad", help="Pad both to the larger size when they differ.")
@click.option(
    "--align",
    type=click.Choice(["translation", "homography"]),
    help="Move RIGHT onto LEFT first (phase correlation, or ORB features + RANSAC).",
)
@click.option("--antialiasing", is_flag=True, help="Ignore changes a sub-pixel edge shift explains (screenshots).")
@click.option(
    "--json",
    "json_path",
    type=click.Path(path_type=Path, allow_dash=True),
    help="Also write the report here; '-' prints it to stdout.",
)
@click.option(
    "--max-pixels",
    type=click.IntRange(1),
    default=DEFAULT_MAX_PIXELS,
    show_default=True,
    help="Refuse images whose header claims more pixels.",
)
@click.option("--overwrite", is_flag=True, help="Replace output files that already exist.")
@reports_errors
def compare(
    left,
    right,
    out_dir,
    device,
    color,
    thickness,
    sensitivity,
    threshold,
    min_area,
    merge_distance,
    ignore_boxes,
    ignore_mask,
    size_mode,
    align,
    antialiasing,
    json_path,
    max_pixels,
    overwrite,
):
    """Compare LEFT with RIGHT and mark what differs.

    Writes left_marked.png, right_marked.png, right_filled.png, mask.png
    (white = different), diff.png (SSIM heat map) and report.json into --out.
    Exit status: 0 no differences, 1 differences found, 2 trouble.

    \b
    Example:
      imgdiff compare before.png after.png --out diffs --color '#00ff00'
      imgdiff compare a.jpg b.jpg --json - --device cpu   # report only
    """
    from .compare import compare as run_compare
    from .loading import load_image
    from .outputs import check_destinations, write_all
    from .rendering import render
    from .report import build_report, to_json

    left_image = load_image(left, max_pixels=max_pixels)
    right_image = load_image(right, max_pixels=max_pixels)
    # ignore boxes and masks are in LEFT's coordinates, which every mode keeps
    ignore = _ignore_mask(left_image.pixels.shape[:2], ignore_boxes, ignore_mask, max_pixels)

    inputs = [left, right] + ([ignore_mask] if ignore_mask else [])
    picture_names = ["left_marked.png", "right_marked.png", "right_filled.png", "mask.png", "diff.png"]
    targets = [out_dir / name for name in [*picture_names, "report.json"]] if out_dir else []
    if json_path is not None and str(json_path) != "-":
        targets.append(json_path)
    check_destinations(targets, inputs=inputs, overwrite=overwrite)

    result = run_compare(
        left_image,
        right_image,
        device=device,
        sensitivity=sensitivity,
        threshold=threshold,
        min_area=min_area,
        merge_distance=merge_distance,
        ignore=ignore,
        size_mode=size_mode,
        align=align,
        antialiasing=antialiasing,
    )
    files: dict[Path, bytes] = {}
    if out_dir is not None:
        for name, picture in render(result, color=color, thickness=thickness).items():
            ok, encoded = cv2.imencode(".png", picture)
            if not ok:
                raise ImgdiffError(f"could not encode {name}")
            files[out_dir / name] = encoded.tobytes()
    settings = {
        "sensitivity": sensitivity,
        "threshold": threshold,
        "min_area": min_area,
        "merge_distance": merge_distance,
        "ignore": [list(b) for b in ignore_boxes],
        "ignore_mask": str(ignore_mask) if ignore_mask else None,
        "size_mode": size_mode,
        "align": align,
        "antialiasing": antialiasing,
        "color_bgr": list(color),
        "thickness": thickness,
        "device_requested": device,
    }
    report = build_report(result, outputs=sorted(p.name for p in files), settings=settings)
    text = to_json(report)
    if out_dir is not None:
        files[out_dir / "report.json"] = text.encode()
    if json_path is not None and str(json_path) != "-":
        files[json_path] = text.encode()
    write_all(files)
    if json_path is not None and str(json_path) == "-":
        click.echo(text, nl=False)
    sys.exit(EXIT_DIFFERENT if result.different else EXIT_SAME)


def main() -> None:
    cli(prog_name="imgdiff")


if __name__ == "__main__":
    main()
