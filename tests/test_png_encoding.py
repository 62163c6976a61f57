"""The PNG writer: every picture decodes, by three independent readers, to exactly the pixels given."""

from __future__ import annotations

import io
import zlib

import cv2
import numpy as np
import pytest
from PIL import Image

from imgdiff_gpu import png
from imgdiff_gpu.job import encode_pictures
from imgdiff_gpu.loading import load_image
from imgdiff_gpu.png import encode_png, sub_filtered


def _picture(shape, seed=0):
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def _chunk_kinds(data: bytes) -> list[bytes]:
    kinds, position = [], 8
    while position < len(data):
        length = int.from_bytes(data[position : position + 4], "big")
        kind, body = data[position + 4 : position + 8], data[position + 8 : position + 8 + length]
        crc = int.from_bytes(data[position + 8 + length : position + 12 + length], "big")
        assert zlib.crc32(body, zlib.crc32(kind)) == crc, kind
        kinds.append(kind)
        position += 12 + length
    return kinds


@pytest.mark.parametrize("shape", [(1, 1), (1, 7), (7, 1), (37, 53), (1, 1, 3), (5, 1, 3), (37, 53, 3), (64, 64, 3)])
def test_pictures_decode_to_the_same_pixels(tmp_path, shape):
    picture = _picture(shape)
    data = encode_png(picture)
    assert _chunk_kinds(data) == [b"IHDR", b"IDAT", b"IEND"]
    by_opencv = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)  # BGR, as given
    assert by_opencv.shape == picture.shape and np.array_equal(by_opencv, picture)
    by_pillow = np.asarray(Image.open(io.BytesIO(data)))  # RGB
    expected_rgb = picture if picture.ndim == 2 else picture[..., ::-1]
    assert np.array_equal(by_pillow, expected_rgb)
    path = tmp_path / "picture.png"
    path.write_bytes(data)
    assert np.array_equal(load_image(path).pixels, expected_rgb)  # CRCs, IEND and all checked


def test_rows_are_sub_filtered_with_wrapping_bytes():
    picture = np.array([[[0, 10, 250], [255, 5, 250], [1, 5, 0]]], dtype=np.uint8)  # one BGR row
    rows = sub_filtered(picture)
    # RGB 250,10,0 | 250,5,255 | 0,5,1 -> first pixel as is, then each channel minus its left neighbour mod 256
    assert rows.tolist() == [[1, 250, 10, 0, 0, 251, 255, 6, 0, 2]]


def test_a_sub_filtered_row_is_written_into_one_buffer():
    picture = _picture((3, 4, 3))
    rows = sub_filtered(picture)
    assert rows.flags.c_contiguous and rows.shape == (3, 13)


def test_large_image_data_is_split_into_several_chunks(monkeypatch):
    monkeypatch.setattr(png, "_MAX_CHUNK", 1000)
    picture = _picture((80, 90, 3))
    data = encode_png(picture)
    kinds = _chunk_kinds(data)
    assert kinds.count(b"IDAT") > 3 and kinds[0] == b"IHDR" and kinds[-1] == b"IEND"
    assert np.array_equal(cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED), picture)


@pytest.mark.parametrize(
    "picture",
    [
        np.zeros((4, 4), np.uint16),
        np.zeros((4, 4, 4), np.uint8),
        np.zeros((4, 4, 1, 1), np.uint8),
        np.zeros((0, 4, 3), np.uint8),
        np.zeros(4, np.uint8),
    ],
    ids=["16-bit", "BGRA", "4-d", "empty", "1-d"],
)
def test_other_arrays_are_refused(picture):
    with pytest.raises(ValueError, match="uint8 H x W or H x W x 3"):
        encode_png(picture)


def test_encode_pictures_names_and_encodes_every_picture(tmp_path):
    pictures = {"left_marked.png": _picture((20, 30, 3)), "mask.png": _picture((20, 30), seed=1)}
    files = encode_pictures(pictures, tmp_path)
    assert list(files) == [tmp_path / "left_marked.png", tmp_path / "mask.png"]
    for (name, picture), data in zip(pictures.items(), files.values(), strict=True):
        assert np.array_equal(cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED), picture), name


def _decoded(data: bytes) -> np.ndarray:
    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)


def test_the_adler32_of_two_strings_combines_from_theirs():
    rng = np.random.default_rng(3)
    for first_length, second_length in [(0, 5), (5, 0), (1, 1), (1000, 70000), (65521, 3), (200000, 131072)]:
        first, second = (rng.integers(0, 256, n, dtype=np.uint8).tobytes() for n in (first_length, second_length))
        combined = png._adler32_combine(zlib.adler32(first), zlib.adler32(second), len(second))
        assert combined == zlib.adler32(first + second), (first_length, second_length)


@pytest.mark.parametrize("threads", [1, 2, 5])
@pytest.mark.parametrize("segment_bytes", [1, 100, 1000, 1 << 18])
def test_pictures_sharing_rows_have_the_bytes_each_has_alone(monkeypatch, threads, segment_bytes):
    monkeypatch.setattr(png, "SEGMENT_BYTES", segment_bytes)
    monkeypatch.setattr(png, "BAND_BYTES", 3 * segment_bytes)
    left = _picture((61, 37, 3))
    right = left.copy()
    right[20:25, 3:9] = 0  # an edit: those rows differ, the rest are the same
    filled = right.copy()
    filled[40:41] = (0, 0, 255)
    grey = _picture((61, 37), seed=2)
    family = [left, right, filled]
    pictures = [png.PngRows(p.shape, lambda top, bottom, p=p: p[top:bottom], family="pair") for p in family]
    pictures.append(png.PngRows(grey.shape, lambda top, bottom: grey[top:bottom], family="pair"))
    encoded = png.encode_pngs(pictures, threads=threads)
    for picture, data in zip([*family, grey], encoded, strict=True):
        assert data == encode_png(picture)
        assert np.array_equal(_decoded(data), picture)
        by_pillow = np.asarray(Image.open(io.BytesIO(data)))
        assert np.array_equal(by_pillow, picture if picture.ndim == 2 else picture[..., ::-1])


def test_a_shared_segment_is_deflated_once(monkeypatch):
    calls = []
    from isal import isal_zlib

    real = isal_zlib.compressobj
    monkeypatch.setattr(isal_zlib, "compressobj", lambda *args: calls.append(1) or real(*args))
    monkeypatch.setattr(png, "SEGMENT_BYTES", 10 * (1 + 8 * 3))  # ten rows a segment
    same = _picture((40, 8, 3))
    edited = same.copy()
    edited[15] = 0  # the second of four segments differs
    png.encode_pngs([png.PngRows(p.shape, lambda t, b, p=p: p[t:b], family="pair") for p in (same, edited)])
    assert len(calls) == 4 + 1
    calls.clear()
    png.encode_pngs([png.PngRows(p.shape, lambda t, b, p=p: p[t:b]) for p in (same, edited)])  # no family
    assert len(calls) == 8


def test_a_drawer_failing_on_another_thread_is_raised_here():
    def broken(top, bottom):
        if top > 0:
            raise RuntimeError("drawer broke")
        return np.zeros((bottom - top, 300, 3), np.uint8)

    with pytest.raises(RuntimeError, match="drawer broke"):
        png.encode_pngs([png.PngRows((2000, 300, 3), broken)], threads=2)
    with pytest.raises(ValueError, match="came as uint8"):
        png.encode_pngs([png.PngRows((2000, 300, 3), lambda t, b: np.zeros((b - t, 300), np.uint8))], threads=2)


def test_an_interrupt_on_the_calling_thread_stops_the_helpers_taking_tasks():
    import threading

    calling = threading.get_ident()
    drawn = []

    def rows(top, bottom):
        drawn.append(top)
        if threading.get_ident() == calling:
            raise KeyboardInterrupt
        return np.zeros((bottom - top, 300, 3), np.uint8)

    pictures = [png.PngRows((3000, 300, 3), rows) for _ in range(8)]  # 16 tasks on 2 threads
    with pytest.raises(KeyboardInterrupt):
        png.encode_pngs(pictures, threads=2)
    for helper in threading.enumerate():
        if helper.name.startswith("imgdiff-png-"):
            helper.join()
    assert len(drawn) < 16  # the helper ended after its task, not after all of them


def test_an_interrupt_in_the_calling_threads_task_is_raised_without_waiting_for_a_helpers():
    import threading
    import time

    def slow():
        time.sleep(1.0)

    def interrupted():
        time.sleep(0.05)
        raise KeyboardInterrupt

    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        png._run([slow, interrupted], threads=2)
    assert time.monotonic() - started < 0.5  # not after the helper's 1 s task
    for helper in threading.enumerate():
        if helper.name.startswith("imgdiff-png-"):
            helper.join()


def test_pictures_are_encoded_on_no_more_threads_than_the_kernels_use(monkeypatch):
    # a Dask worker or OMP_NUM_THREADS gives the kernels a share of the cores; the pictures keep to it
    from imgdiff_gpu.cpu import threads

    monkeypatch.setattr(threads, "get_num_threads", lambda: 1)
    assert png.cores() == 1
    monkeypatch.setattr(threads, "get_num_threads", lambda: 10_000)
    assert 1 <= png.cores() < 10_000


def _deflated_ahead_of(pictures, alike=None):
    """What a run ahead deflates of ``pictures`` (by key), let run to its end."""
    import threading

    ahead = png.DeflatedAhead(pictures, alike=alike)
    for thread in threading.enumerate():
        if thread.name == "imgdiff-png-ahead":
            thread.join()
    return ahead.finish()


@pytest.mark.parametrize("threads", [1, 2])
def test_pictures_take_their_rows_deflated_ahead_and_keep_their_bytes(monkeypatch, threads):
    monkeypatch.setattr(png, "SEGMENT_BYTES", 10 * (1 + 37 * 3))  # ten rows a segment
    monkeypatch.setattr(png, "BAND_BYTES", 3 * png.SEGMENT_BYTES)
    left = _picture((61, 37, 3))
    right = left.copy()
    right[20:25, 3:9] = 0
    marked = left.copy()
    marked[33:36] = (0, 0, 255)  # a box over rows 33-35: the segment of rows 30-39 differs from the plain left
    filled = right.copy()
    filled[22:24, 4:6] = (0, 255, 0)
    ahead = _deflated_ahead_of({"left": _rows(left), "right": _rows(right)})
    drawn = []

    def rows_of(picture, same_as):
        def rows(top, bottom):
            drawn.append((top, bottom))
            return picture[top:bottom]

        return png.PngRows(picture.shape, rows, rgb=True, family="pair", same_as=same_as)

    pictures = [rows_of(marked, ("left", [(33, 36)])), rows_of(filled, ("right", [(22, 24)]))]
    encoded = png.encode_pngs(pictures, threads=threads, ahead=ahead)
    for picture, data in zip([marked, filled], encoded, strict=True):
        assert data == png.encode_png_rows(picture.shape, lambda t, b, p=picture: p[t:b], rgb=True)
        assert np.array_equal(_decoded(data), picture[..., ::-1])
    # only the bands holding a changed row were drawn: 30-59 (marked's 33-35) and 0-29 (filled's 22-23)
    assert sorted(drawn) == [(0, 30), (30, 60)]
    # a change that is not declared is not seen: the ahead's rows go in (how same_as is a promise)
    wrong = png.encode_pngs([rows_of(marked, ("left", []))], ahead=ahead)[0]
    assert np.array_equal(_decoded(wrong), left[..., ::-1])


def _rows(picture):
    return png.PngRows(picture.shape, lambda top, bottom: picture[top:bottom], rgb=True, family="pair")


def test_rows_deflated_ahead_of_another_shape_or_key_are_not_taken(monkeypatch):
    monkeypatch.setattr(png, "SEGMENT_BYTES", 10 * (1 + 37 * 3))
    ahead = _deflated_ahead_of({"left": _rows(_picture((61, 37, 3)))})
    other = _picture((61, 37, 3), seed=5)
    cropped = np.ascontiguousarray(other[:, :30])
    elsewhere = png.PngRows(other.shape, lambda t, b: other[t:b], rgb=True, same_as=("right", []))
    narrower = png.PngRows(cropped.shape, lambda t, b: cropped[t:b], rgb=True, same_as=("left", []))
    encoded = png.encode_pngs([elsewhere, narrower], ahead=ahead)
    assert np.array_equal(_decoded(encoded[0]), other[..., ::-1])
    assert np.array_equal(_decoded(encoded[1]), cropped[..., ::-1])


def test_segments_where_the_inputs_differ_are_left_to_the_pictures_when_few(monkeypatch):
    monkeypatch.setattr(png, "SEGMENT_BYTES", 10 * (1 + 37 * 3))
    monkeypatch.setattr(png, "AHEAD_MARGIN_ROWS", 2)
    left = _picture((100, 37, 3))
    right = left.copy()
    right[55] = 0  # the segment of rows 50-59 differs; with 2 rows either side, no other
    drawn = {"left": [], "right": []}

    def rows_of(key, picture):
        return png.PngRows(picture.shape, lambda t, b: drawn[key].append(t) or picture[t:b], rgb=True, family="pair")

    pictures = {"left": rows_of("left", left), "right": rows_of("right", right)}
    seen = []

    def alike(top, bottom):
        seen.append((top, bottom))
        return np.array_equal(left[top:bottom], right[top:bottom])

    ahead = _deflated_ahead_of(pictures, alike=alike)
    assert seen[:2] == [(0, 12), (8, 22)]
    assert sorted(ahead["left"][1]) == sorted(ahead["right"][1]) == [0, 1, 2, 3, 4, 6, 7, 8, 9]
    assert drawn["right"] == []  # the same rows as the left's: drawn and deflated once
    assert ahead["right"][1] == ahead["left"][1]
    # most of them differing (a re-encoded pair): every segment is deflated ahead, each picture's own
    right[::7] = 0
    drawn = {"left": [], "right": []}
    ahead = _deflated_ahead_of(pictures, alike=alike)
    assert sorted(ahead["right"][1]) == list(range(10)) and len(drawn["right"]) == 10
    for index, (data, adler, length) in ahead["right"][1].items():
        rows = png.sub_filtered(right[10 * index : 10 * index + 10], rgb=True).tobytes()
        assert zlib.decompressobj(-15).decompress(data) == rows
        assert (adler, length) == (zlib.adler32(rows), len(rows))


def test_a_run_ahead_stops_when_finished_and_takes_nothing_after():
    import threading

    release = threading.Event()
    calls = []

    def rows(top, bottom):
        calls.append(top)
        release.wait(5)
        return np.zeros((bottom - top, 300, 3), np.uint8)

    ahead = png.DeflatedAhead({"slow": png.PngRows((2000, 300, 3), rows, rgb=True)})
    while not calls:
        pass
    handed = ahead.finish()  # not waiting for the segment in hand
    release.set()
    for helper in threading.enumerate():
        if helper.name == "imgdiff-png-ahead":
            helper.join()
    assert handed["slow"][1] == {} and len(calls) == 1


def test_pictures_deflated_ahead_are_one_shape():
    with pytest.raises(ValueError, match="one shape"):
        png.DeflatedAhead({"a": _rows(_picture((4, 4, 3))), "b": _rows(_picture((5, 4, 3)))})


def test_a_comparisons_pictures_are_the_same_deflated_ahead_or_not(tmp_path, monkeypatch):
    from imgdiff_gpu import job
    from imgdiff_gpu.options import CompareOptions

    monkeypatch.setattr(png, "cores", lambda: 2)
    monkeypatch.setattr(job, "_compares_on_the_gpu", lambda device: True)  # started where the GPU compares
    rng = np.random.default_rng(8)
    left = cv2.GaussianBlur(rng.integers(0, 256, (600, 700, 3), dtype=np.uint8), (0, 0), 3)
    right = left.copy()
    right[100:140, 200:260] = 255 - right[100:140, 200:260]  # two edits: the rows between them are the same
    right[400:430, 50:90] = 0
    for name, picture in (("left.png", left), ("right.png", right)):
        cv2.imwrite(str(tmp_path / name), picture)
    started = []
    real = job.deflating_ahead
    monkeypatch.setattr(job, "deflating_ahead", lambda *args: started.append(1) or real(*args))
    options = CompareOptions(device="cpu")
    job.compare_files(tmp_path / "left.png", tmp_path / "right.png", options, out_dir=tmp_path / "ahead")
    monkeypatch.setattr(job, "deflating_ahead", lambda *args: None)
    job.compare_files(tmp_path / "left.png", tmp_path / "right.png", options, out_dir=tmp_path / "plain")
    assert started
    for name in job.PICTURE_NAMES:
        assert (tmp_path / "ahead" / name).read_bytes() == (tmp_path / "plain" / name).read_bytes(), name


def test_rows_are_alike_when_every_byte_is():
    from imgdiff_gpu.job import _same_bytes

    rng = np.random.default_rng(9)
    for shape, dtype in [((22, 3840, 3), np.uint8), ((5, 7, 3), np.uint8), ((6, 5), np.uint16), ((3, 8, 4), np.uint8)]:
        first = rng.integers(0, 256, shape).astype(dtype)
        assert _same_bytes(first, first.copy())
        for where in (0, first.size - 1, first.size // 2):
            second = first.copy()
            second.reshape(-1)[where] ^= 1
            assert not _same_bytes(first, second)
            strided = np.array_equal(first[:, ::2], second[:, ::2])  # not contiguous: compared as they are
            assert _same_bytes(first[:, ::2], second[:, ::2]) == strided
    assert not _same_bytes(np.zeros((2, 4), np.uint8), np.zeros((4, 2), np.uint8))


def test_the_rows_are_deflated_ahead_only_where_the_gpu_compares(monkeypatch):
    from imgdiff_gpu import _device, job

    assert not job._compares_on_the_gpu("cpu")
    monkeypatch.setattr(_device, "gpu_available", lambda: False)
    assert not job._compares_on_the_gpu("auto") and not job._compares_on_the_gpu("gpu")
    monkeypatch.setattr(_device, "gpu_available", lambda: True)
    monkeypatch.setattr(_device, "_gpu_unavailable_reason", lambda: None)
    assert job._compares_on_the_gpu("auto") and job._compares_on_the_gpu("gpu")
