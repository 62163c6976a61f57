"""pytest plugin: compare an image with a baseline kept beside the test.

Installed with the package (entry point ``pytest11``), it gives the fixture
``imgdiff_snapshot``::

    def test_chart(imgdiff_snapshot):
        imgdiff_snapshot(render_chart(), "chart.png")             # ndarray, PIL image or path
        imgdiff_snapshot(screenshot, "page.png", ignore=[(0, 0, 200, 40)], max_regions=1)

The baseline of ``chart.png`` for a test in ``tests/test_plots.py`` is
``tests/__snapshots__/test_plots/chart.png`` (the folder name is the ini option
``imgdiff_snapshot_dir``). ``pytest --imgdiff-update`` writes or replaces the
baselines of the tests that run; without it a missing baseline fails with the
command that creates it. A comparison that finds more than ``max_regions``
regions fails with the regions in the message, and keeps the actual image, the
marked pictures and ``report.html`` under ``--imgdiff-results`` (default: the
``imgdiff`` folder of pytest's basetemp).

The comparison is :func:`imgdiff_gpu.compare` at sensitivity
``normal`` by default, which passes a JPEG re-encode (quality 90) of an
unchanged image and flags a real change of a few dozen pixels.

PYTEST_DONT_REWRITE: the plugin has no asserts, and pytest must not warn when
it was imported before a session (pytester runs sessions inside a session).
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Sequence
from pathlib import Path

import pytest

_UPDATED = pytest.StashKey[list]()
_DEFAULT_DIR = "__snapshots__"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("imgdiff", "image snapshots (imgdiff-gpu)")
    group.addoption(
        "--imgdiff-update",
        action="store_true",
        default=False,
        help="write or replace the baselines of the imgdiff_snapshot calls that run",
    )
    group.addoption(
        "--imgdiff-results",
        metavar="DIR",
        default=None,
        help="keep the actual image, marked pictures and report.html of failed snapshots here "
        "(default: imgdiff/ in pytest's basetemp)",
    )
    parser.addini(
        "imgdiff_snapshot_dir",
        "folder of the imgdiff_snapshot baselines, relative to each test file's folder "
        f"(default {_DEFAULT_DIR}); a subfolder per test module",
        default=_DEFAULT_DIR,
    )


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_UPDATED] = []


def pytest_terminal_summary(terminalreporter, exitstatus, config: pytest.Config) -> None:
    updated = config.stash.get(_UPDATED, [])
    if updated:
        terminalreporter.write_sep("-", f"imgdiff: {len(updated)} baseline(s) written")
        for path in updated:
            terminalreporter.write_line(f"  {path}")


@pytest.fixture
def imgdiff_snapshot(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Snapshot:
    """Compare an image with its baseline: ``imgdiff_snapshot(actual, "name.png", **options)``."""
    results = request.config.getoption("imgdiff_results")
    root = Path(results) if results else tmp_path_factory.getbasetemp() / "imgdiff"
    return Snapshot(request, root)


def _folder_name(nodeid: str) -> str:
    """A test's node id as one safe folder name."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", nodeid).strip("_.")
    return name[-120:] or "test"


class Snapshot:
    """The callable behind the ``imgdiff_snapshot`` fixture, bound to one test."""

    def __init__(self, request: pytest.FixtureRequest, results_root: Path):
        self._request = request
        self._results = results_root / _folder_name(request.node.nodeid)
        self._names: set[str] = set()
        folder = Path(request.config.getini("imgdiff_snapshot_dir") or _DEFAULT_DIR)
        test_file = Path(request.path)
        self.folder = (folder if folder.is_absolute() else test_file.parent / folder) / test_file.stem
        """Where this test module's baselines are."""

    def __call__(
        self,
        actual,
        name: str,
        *,
        sensitivity: str = "normal",
        threshold: float | str = "otsu",
        ignore: Sequence[tuple[int, int, int, int]] = (),
        mask=None,
        max_regions: int = 0,
        min_area: int = 40,
        merge_distance: int = 8,
        antialiasing: bool = False,
        device: str = "cpu",
    ):
        """Compare ``actual`` with the baseline ``name``; fail the test when they differ.

        Parameters
        ----------
        actual : ndarray, PIL.Image.Image, str or os.PathLike
            An array is H x W (grey) or H x W x 3/4 (RGB/RGBA), uint8 or uint16.
        name : str
            The baseline's file name, ending in ``.png``; unique within the test.
        sensitivity, threshold, min_area, merge_distance, antialiasing, device
            As for :func:`imgdiff_gpu.compare`.
        ignore : sequence of (x, y, width, height)
            Boxes left out of the comparison, in the baseline's pixels.
        mask : ndarray, str or os.PathLike, optional
            Pixels left out: True (array) or non-black (image file) is ignored.
        max_regions : int
            How many differing regions are tolerated (0: none).

        Returns
        -------
        Comparison or None
            What the comparison found; None when the baseline was just written.
        """
        from .job import compare_with, ignore_mask_for
        from .loading import load_image
        from .options import CompareOptions

        baseline = self._baseline_path(name)
        if max_regions < 0:
            raise ValueError(f"max_regions must be >= 0, got {max_regions}")
        boxes = tuple(tuple(int(v) for v in box) for box in ignore)
        for box in boxes:
            if len(box) != 4 or min(box[:2]) < 0 or min(box[2:]) < 1:
                raise ValueError(f"ignore box {box}: give (x, y, width, height) with x, y >= 0 and a size >= 1")
        pixels = _pixels_of(actual)
        if self._request.config.getoption("imgdiff_update"):
            self._write(baseline, pixels)
            self._request.config.stash[_UPDATED].append(str(baseline))
            return None
        if not baseline.is_file():
            kept = self._keep_actual(name, pixels)
            pytest.fail(
                f"imgdiff_snapshot: no baseline {baseline}\n"
                f"the actual image is kept in {kept}\n"
                f"create the baseline with: pytest --imgdiff-update {shlex.quote(self._request.node.nodeid)}",
                pytrace=False,
            )
        mask_file = Path(mask) if isinstance(mask, str | os.PathLike) else None
        options = CompareOptions(
            device=device,
            sensitivity=sensitivity,
            threshold=threshold,
            min_area=min_area,
            merge_distance=merge_distance,
            ignore_boxes=boxes,
            ignore_mask=mask_file,
            antialiasing=antialiasing,
        )
        expected = load_image(baseline)
        ignored = ignore_mask_for(expected.pixels.shape[:2], options)
        if mask is not None and mask_file is None:
            import numpy as np

            array = np.asarray(mask)
            if array.shape[:2] != expected.pixels.shape[:2]:
                raise ValueError(f"mask is {array.shape[:2]}, the baseline is {expected.pixels.shape[:2]}")
            array = array.any(axis=2) if array.ndim == 3 else array.astype(bool)
            ignored = array if ignored is None else ignored | array
        result = compare_with(options, expected, pixels, ignore=ignored)
        if result.mismatch is None and len(result.regions) <= max_regions:
            return result
        pytest.fail(self._failure(name, baseline, result, options, pixels, max_regions), pytrace=False)

    def _baseline_path(self, name: str) -> Path:
        path = Path(name)
        if path.suffix.lower() != ".png" or path.is_absolute() or ".." in path.parts or not path.stem:
            raise ValueError(
                f"snapshot name {name!r}: give a relative file name ending in .png, e.g. 'chart.png' "
                "(baselines are stored as lossless PNG)"
            )
        if name in self._names:
            raise ValueError(f"snapshot name {name!r} is used twice in this test; give each call its own name")
        self._names.add(name)
        return self.folder / path

    def _write(self, path: Path, pixels) -> None:
        from .outputs import write_all

        data = _png_bytes(pixels)
        if not (path.is_file() and path.read_bytes() == data):
            write_all({path: data}, overwrite=True)

    def _keep_actual(self, name: str, pixels) -> Path:
        from .outputs import write_all

        folder = self._results / Path(name).with_suffix("")
        write_all({folder / "actual.png": _png_bytes(pixels)}, overwrite=True)
        return folder

    def _failure(self, name, baseline, result, options, pixels, max_regions) -> str:
        from .html_report import REPORT_HTML, compare_html
        from .job import REPORT_NAME, encode_pictures
        from .junit import region_lines
        from .outputs import write_all
        from .rendering import render
        from .report import build_report, to_json

        folder = self._results / Path(name).with_suffix("")
        files = encode_pictures(render(result, color=options.color, thickness=options.thickness), folder)
        files[folder / "actual.png"] = _png_bytes(pixels)
        names = [*sorted(p.name for p in files), REPORT_HTML]
        report = build_report(result, outputs=names, settings=options.settings())
        report["right"] = str(folder / "actual.png")
        files[folder / REPORT_NAME] = to_json(report).encode()
        files[folder / REPORT_HTML] = compare_html(report).encode()
        write_all(files, overwrite=True)  # the results of an earlier run of this test
        if result.mismatch:
            what = result.mismatch
        else:
            what = f"{len(result.regions)} region(s) differ (at most {max_regions} allowed), score {result.score:.4f}"
        lines = [f"imgdiff_snapshot {name!r}: {what}"]
        lines += [f"  {line}" for line in region_lines([r.as_dict() for r in result.regions])]
        lines += [
            f"baseline: {baseline}",
            f"actual, marked pictures and report: {folder / REPORT_HTML}",
            f"to accept the actual image: pytest --imgdiff-update {shlex.quote(self._request.node.nodeid)}",
        ]
        return "\n".join(lines)


def _pixels_of(actual):
    """An H x W (x C) uint8/uint16 array in RGB(A) order from an array, a PIL image or a path."""
    import numpy as np

    from .loading import load_image

    if isinstance(actual, np.ndarray):
        if actual.dtype not in (np.uint8, np.uint16) or actual.ndim not in (2, 3):
            raise ValueError(
                f"an image array must be H x W or H x W x 3/4, uint8 or uint16; got {actual.shape} {actual.dtype}"
            )
        return actual
    if isinstance(actual, str | os.PathLike):
        return load_image(actual).pixels
    from PIL import Image

    if isinstance(actual, Image.Image):
        image = actual
        if image.mode.startswith("I;16"):
            return np.asarray(image).astype(np.uint16)
        if image.mode not in ("L", "LA", "RGB", "RGBA"):
            transparent = "transparency" in image.info or image.mode in ("PA", "RGBa", "La")
            image = image.convert("RGBA" if transparent else "RGB")
        return np.asarray(image)
    raise TypeError(f"imgdiff_snapshot takes an ndarray, a PIL image or a path, not {type(actual).__name__}")


def _png_bytes(pixels) -> bytes:
    """Lossless PNG of an RGB(A) or grey array, 8 or 16 bits."""
    import io

    import cv2
    import numpy as np
    from PIL import Image

    if pixels.ndim == 3 and pixels.shape[2] == 1:
        pixels = pixels[..., 0]
    if pixels.dtype == np.uint16 and pixels.ndim == 3:  # Pillow cannot hold 16-bit colour
        order = cv2.COLOR_RGBA2BGRA if pixels.shape[2] == 4 else cv2.COLOR_RGB2BGR
        ok, encoded = cv2.imencode(".png", cv2.cvtColor(np.ascontiguousarray(pixels), order))
        if not ok:
            raise ValueError("could not encode the image as PNG")
        return encoded.tobytes()
    image = Image.fromarray(np.ascontiguousarray(pixels))  # grey uint16 becomes mode I;16
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
