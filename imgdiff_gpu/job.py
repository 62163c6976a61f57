"""One comparison from files to files: what ``imgdiff compare`` does, reusable.

``imgdiff batch`` runs the same job for every pair of a folder, so both
commands write the same outputs and the same report for the same pair.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import ImageLoadError
from .html_report import REPORT_HTML
from .options import CompareOptions
from .outputs import Inputs, Outputs, checkpoint

if TYPE_CHECKING:
    import numpy as np

    from .png import DeflatedAhead, PngRows
    from .rendering import Picture

PICTURE_NAMES = ("left_marked.png", "right_marked.png", "right_filled.png", "mask.png", "diff.png")
REPORT_NAME = "report.json"


def ignore_mask_for(shape: tuple[int, int], options: CompareOptions) -> np.ndarray | None:
    """The pixels to leave out, from --ignore boxes and --ignore-mask (LEFT's coordinates)."""
    import numpy as np

    from .loading import load_image

    if not options.ignore_boxes and options.ignore_mask is None:
        return None
    ignore = np.zeros(shape, dtype=bool)
    for x, y, w, h in options.ignore_boxes:
        ignore[y : y + h, x : x + w] = True
    if options.ignore_mask is not None:
        mask = load_image(options.ignore_mask, max_pixels=options.max_pixels).pixels
        if mask.shape[:2] != shape:
            raise ImageLoadError(
                options.ignore_mask,
                f"ignore mask is {mask.shape[1]}x{mask.shape[0]}, images are {shape[1]}x{shape[0]}",
            )
        ignore |= (mask if mask.ndim == 2 else mask[..., :3].max(axis=2)) > 0
    return ignore


LARGE_PAIR_PIXELS = 4_000_000
"""Pixels an image of a pair has, at least, for :func:`compare_files` to ask NumPy for no huge pages."""


@contextmanager
def huge_pages_for(pixels: int) -> Iterator[None]:
    """NumPy's advice of transparent huge pages, for the arrays of a pair of images this large, while it lasts.

    A comparison writes each of its working arrays once, soon after allocating it, so what its
    pages cost is their first fault. Where the host backs huge pages anew on their first touch
    (the virtual machine this was measured on), fresh ones cost more than 4 KB pages: a 1080p
    pair's working arrays mostly find huge pages used a moment before, a 4K pair's do not. So
    pairs from ``LARGE_PAIR_PIXELS`` up go without (figures: ``benchmarks/RESULTS.md``, "One
    pair"). The advice is NumPy's process-wide setting, changed through the function NumPy
    provides for it and put back afterwards; pairs compared at once on threads may run under
    each other's advice, which changes what pages cost, never a result. A user's
    ``NUMPY_MADVISE_HUGEPAGE`` stands.
    """
    set_advice = None
    if "NUMPY_MADVISE_HUGEPAGE" not in os.environ:
        import importlib

        try:
            multiarray = importlib.import_module("numpy._core.multiarray")  # NumPy 2; 1.x calls it numpy.core
        except ImportError:
            multiarray = importlib.import_module("numpy.core.multiarray")
        set_advice = getattr(multiarray, "_set_madvise_hugepage", None)
    if set_advice is None:
        yield
        return
    previous = set_advice(pixels < LARGE_PAIR_PIXELS)
    try:
        yield
    finally:
        set_advice(previous)


def compare_with(
    options: CompareOptions,
    left,
    right,
    *,
    ignore: np.ndarray | None = None,
    keep_maps: bool = True,
    luma_factor: float = 1.0,
):
    """:func:`imgdiff_gpu.compare` with the command line's options (maps kept for pictures)."""
    from .pipeline import compare

    # fragments further apart than the image is wide and high are all joined anyway;
    # a bigger distance would only build a huge dilation kernel
    sides = [getattr(image, "pixels", image).shape[:2] for image in (left, right)]
    reach = max(h + w for h, w in sides)
    return compare(
        left,
        right,
        device=options.device,
        sensitivity=options.sensitivity,
        threshold=options.threshold,
        min_area=options.min_area,
        merge_distance=min(options.merge_distance, reach),
        ignore=ignore,
        size_mode=options.size_mode,
        align=options.align,
        antialiasing=options.antialiasing,
        keep_maps=keep_maps,
        luma_factor=luma_factor,
    )


PICTURES_AT_ONCE_BYTES = 1 << 30
"""Pictures whose rows fit this together are encoded at once, their rows shared and spread over the
cores; larger ones (a huge pair's) one after another, each from bands of rows, on every core
(:func:`imgdiff_gpu.png.encode_pngs`)."""
PICTURES_ON_ONE_THREAD_BYTES = 1 << 20
"""Pictures smaller than this together are encoded on the calling thread: an icon's five take
well under a millisecond, less than starting threads."""
PICTURE_BYTES_PER_PIXEL = 4 * 3 + 1
"""What :data:`PICTURE_NAMES` take a pixel of the pair: four RGB pictures and the grey mask."""


def _png_rows(picture: np.ndarray | Picture) -> PngRows:
    """A picture as :mod:`imgdiff_gpu.png` encodes it."""
    import numpy as np

    from .png import PngRows

    if isinstance(picture, np.ndarray):
        return PngRows(picture.shape, lambda top, bottom: picture[top:bottom])
    # the pixels a picture shows by their identity: the run ahead holds them, so no other array has it
    same_as = None if picture.shows is None else (id(picture.shows[0]), picture.shows[1])
    if picture.png_rows is not None:  # drawn in PNG's channel order: no swap before the filter
        return PngRows(picture.shape, picture.png_rows, rgb=True, family=picture.family, same_as=same_as)
    return PngRows(picture.shape, picture.rows, family=picture.family, same_as=same_as)


def encoded_pictures(
    pictures: dict[str, np.ndarray | Picture], folder: Path, *, ahead: dict | None = None
) -> Iterator[tuple[Path, bytes]]:
    """Pictures (:func:`imgdiff_gpu.rendering.render`'s arrays, or :func:`~imgdiff_gpu.rendering.pictures`
    to draw) as PNG bytes, by path in ``folder``, in their order.

    Together, on every core: the deflate, most of the work, releases the GIL, and the rows that the
    pictures of one pair share are deflated once (see :mod:`imgdiff_gpu.png`). Huge ones one at a
    time, so that only one is ever held, compressed, and each can be written before the next is drawn.
    ``ahead``: what :func:`deflating_ahead` deflated of the pictures' rows already.
    """
    from .png import cores, encode_pngs

    size = sum(picture.nbytes for picture in pictures.values())
    if size > PICTURES_AT_ONCE_BYTES:
        for name, picture in pictures.items():
            yield folder / name, encode_pngs([_png_rows(picture)], threads=cores(), ahead=ahead)[0]
        return
    threads = 1 if size < PICTURES_ON_ONE_THREAD_BYTES else cores()
    encoded = encode_pngs([_png_rows(picture) for picture in pictures.values()], threads=threads, ahead=ahead)
    yield from zip([folder / name for name in pictures], encoded, strict=True)


def deflating_ahead(left: np.ndarray, right: np.ndarray) -> DeflatedAhead | None:
    """Both images, as the marked and filled pictures show them outside their boxes and regions,
    deflated on a thread of their own from now on (:class:`imgdiff_gpu.png.DeflatedAhead`), where
    that may pay: a pair of one shape whose pictures are encoded together on two cores or more.

    Started before the comparison, it runs on what the comparison leaves of the cores; the pictures
    take what it did (``encoded_pictures(ahead=...)``), and their bytes are the same without it.
    :func:`compare_files` starts it only where the GPU compares (:func:`_compares_on_the_gpu`).
    """
    from .png import DeflatedAhead, cores
    from .rendering import plain_picture

    if left.shape[:2] != right.shape[:2] or cores() < 2:
        return None
    pixels = left.shape[0] * left.shape[1]
    if not PICTURES_ON_ONE_THREAD_BYTES <= PICTURE_BYTES_PER_PIXEL * pixels <= PICTURES_AT_ONCE_BYTES:
        return None
    pictures = {id(image): _png_rows(plain_picture(image)) for image in (left, right)}
    return DeflatedAhead(pictures, alike=lambda top, bottom: _same_bytes(left[top:bottom], right[top:bottom]))


def _compares_on_the_gpu(device: str) -> bool:
    """Whether a comparison on ``device`` runs on the GPU, leaving the cores to the thread deflating ahead.

    On the CPU the comparison keeps the cores busy (the SSIM and strength passes on every core): on
    this project's 2-core machine the thread slowed a cold 4K comparison by about what it took off the
    pictures, and a warm one under load by more (``benchmarks/bench_pictures_ahead.py``, RESULTS.md,
    "One pair"), so there it does not start.
    """
    from ._device import resolve_device
    from .errors import ImgdiffError

    try:
        return resolve_device(device) == "gpu"
    except (ImgdiffError, ValueError):  # the comparison says what is wrong with the device
        return False


def _same_bytes(first: np.ndarray, second: np.ndarray) -> bool:
    """Whether two arrays of one shape and type hold the same bytes; eight at a time where they can
    (a 4K pair's rows in 2 ms where ``np.array_equal`` of the bytes takes 10)."""
    import numpy as np

    if first.shape != second.shape or first.dtype != second.dtype:
        return False
    if first.flags.c_contiguous and second.flags.c_contiguous and first.nbytes % 8 == 0:
        return np.array_equal(first.reshape(-1).view(np.uint64), second.reshape(-1).view(np.uint64))
    return np.array_equal(first, second)


def encode_pictures(pictures: dict[str, np.ndarray | Picture], folder: Path) -> dict[Path, bytes]:
    """:func:`encoded_pictures`, all of them."""
    return dict(encoded_pictures(pictures, folder))


def output_paths(out_dir: Path | None, json_path: Path | None, junit_path: Path | None = None) -> list[Path]:
    targets = [out_dir / name for name in (*PICTURE_NAMES, REPORT_NAME, REPORT_HTML)] if out_dir else []
    if json_path is not None and str(json_path) != "-":
        targets.append(json_path)
    if junit_path is not None:
        targets.append(junit_path)
    return targets


def previous_outputs(out_dir: Path) -> list[Path]:
    """The pictures an earlier report in ``out_dir`` says it wrote there (only names this job writes)."""
    try:
        listed = json.loads((out_dir / REPORT_NAME).read_text()).get("outputs", [])
    except (OSError, ValueError, AttributeError):
        return []
    return [out_dir / name for name in listed if name in PICTURE_NAMES]


def compare_files(
    left: Path,
    right: Path,
    options: CompareOptions,
    *,
    out_dir: Path | None = None,
    json_path: Path | None = None,
    junit_path: Path | None = None,
    overwrite: bool = False,
    inputs: Inputs | None = None,
    record: dict | None = None,
) -> dict:
    """Compare two files, write the pictures and reports (JSON, HTML, JUnit) atomically, return the report.

    ``inputs`` are further files no output may replace (a batch's every
    input); ``record`` is added to the report as is (a batch's fingerprint).

    Raises
    ------
    ImgdiffError
        Bad input, an unusable device, or outputs that cannot be written; no
        output file is left behind.
    """
    from .cpu.warmup import cpu_warmup
    from .loading import load_image

    known = inputs if inputs is not None else Inputs()
    known.add([left, right, options.ignore_mask])
    with Outputs(inputs=known, overwrite=overwrite) as outputs:
        with cpu_warmup(options.device):  # the comparison's modules load while the images decode
            left_image = load_image(left, max_pixels=options.max_pixels)
            right_image = load_image(right, max_pixels=options.max_pixels)
        # after the warm-up has started: these import NumPy, and the warm-up's first import is NumPy
        from .rendering import pictures
        from .report import build_report, to_json

        ignore = ignore_mask_for(left_image.pixels.shape[:2], options)
        outputs.check(output_paths(out_dir, json_path, junit_path))

        pixels = max(image.pixels.shape[0] * image.pixels.shape[1] for image in (left_image, right_image))
        # the pictures' rows that need no comparison are deflated while the GPU compares
        ahead = None
        if out_dir is not None and _compares_on_the_gpu(options.device):
            ahead = deflating_ahead(left_image.pixels, right_image.pixels)
        try:
            with huge_pages_for(pixels):
                result = compare_with(options, left_image, right_image, ignore=ignore, keep_maps=out_dir is not None)
                checkpoint("compared")
                names = []
                if out_dir is not None:
                    deflated = None if ahead is None else ahead.finish()
                    # each picture staged as soon as it is encoded: a huge pair's are never all held at once
                    drawn = pictures(result, color=options.color, thickness=options.thickness)
                    for path, data in encoded_pictures(drawn, out_dir, ahead=deflated):
                        outputs.add(path, data)
                        names.append(path.name)
                        del data
                    del drawn, deflated
                    names = [*sorted(names), REPORT_HTML]
        finally:
            if ahead is not None:
                ahead.finish()  # stopped, where the comparison failed
        report = build_report(result, outputs=names, settings=options.settings())
        if record:
            report.update(record)
        text = to_json(report).encode()
        files = {}
        if out_dir is not None:
            from .html_report import compare_html

            files[out_dir / REPORT_NAME] = text
            files[out_dir / REPORT_HTML] = compare_html(report).encode()
            if overwrite:
                outputs.replaces(previous_outputs(out_dir))
        if junit_path is not None:
            from .junit import compare_junit

            files[junit_path] = compare_junit(report, out_dir)
        if json_path is not None and str(json_path) != "-":
            files[json_path] = text
        for path, data in files.items():
            outputs.add(path, data)
        outputs.commit()
    return report
