"""Every way an input file can be wrong, and every pixel layout, read explicitly."""

from __future__ import annotations

import io
import struct
import threading
import warnings
import zlib

import cv2
import hostile_inputs as H
import numpy as np
import pytest
from PIL import Image, ImageOps

from imgdiff_gpu.errors import ImageLoadError
from imgdiff_gpu.loading import apply_orientation, load_image


@pytest.fixture
def photo_png(tmp_path, photo):
    path = tmp_path / "photo.png"
    Image.fromarray(photo).save(path)
    return path


def test_reads_a_photograph_exactly(photo_png, photo):
    loaded = load_image(photo_png)
    assert np.array_equal(loaded.pixels, photo)
    assert loaded.format == "PNG"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p, "no such file"),
        (lambda p: (p.mkdir(), p)[1], "is a directory"),
        (lambda p: (p.write_bytes(b""), p)[1], "empty file"),
        (lambda p: (p.write_text("this is not a picture\n"), p)[1], "not an image file"),
        (lambda p: H.png_claiming(p, 100_000, 100_000), "over the limit"),
    ],
    ids=["missing", "directory", "empty", "text-named-png", "huge-header"],
)
def test_bad_files_raise_one_clear_error(tmp_path, make, message):
    path = make(tmp_path / "bad.png")
    with pytest.raises(ImageLoadError, match=message) as info:
        load_image(path)
    assert str(info.value).startswith(str(path))


def test_huge_header_is_refused_before_decoding(tmp_path):
    path = H.png_claiming(tmp_path / "bomb.png", 100_000, 100_000)
    with pytest.raises(ImageLoadError, match="10,000,000,000 pixels"):
        load_image(path)


def test_pixel_limit_is_configurable(photo_png, photo):
    pixels = photo.shape[0] * photo.shape[1]
    load_image(photo_png, max_pixels=pixels)
    with pytest.raises(ImageLoadError, match="over the limit"):
        load_image(photo_png, max_pixels=pixels - 1)


@pytest.mark.parametrize("suffix", [".jpg", ".png"])
def test_truncated_files_are_detected(tmp_path, photo, suffix):
    full = tmp_path / f"full{suffix}"
    Image.fromarray(photo).save(full)
    data = full.read_bytes()
    cut = tmp_path / f"cut{suffix}"
    cut.write_bytes(data[: len(data) // 2])
    # OpenCV decodes the truncated JPEG silently, which is why we do not trust it:
    if suffix == ".jpg":
        assert cv2.imread(str(cut)) is not None
    with pytest.raises(ImageLoadError, match="truncated"):
        load_image(cut)


def test_sixteen_bit_grey_and_colour_keep_their_depth(tmp_path):
    rng = np.random.default_rng(0)
    grey = rng.integers(0, 65536, (30, 40), dtype=np.uint16)
    rgb = rng.integers(0, 65536, (30, 40, 3), dtype=np.uint16)
    cv2.imwrite(str(tmp_path / "g.png"), grey)
    cv2.imwrite(str(tmp_path / "c.png"), rgb[..., ::-1])
    assert np.array_equal(load_image(tmp_path / "g.png").pixels, grey)
    colour = load_image(tmp_path / "c.png").pixels
    assert colour.dtype == np.uint16 and np.array_equal(colour, rgb)


def test_rgba_palette_and_grey_layouts(tmp_path, photo):
    rgba = np.dstack(
        [
            photo[..., :3] if photo.ndim == 3 else np.dstack([photo] * 3),
            np.full(photo.shape[:2], 128, np.uint8),
        ]
    )
    Image.fromarray(rgba).save(tmp_path / "a.png")
    assert load_image(tmp_path / "a.png").pixels.shape[2] == 4
    Image.fromarray(rgba[..., :3]).quantize(16).save(tmp_path / "p.png")
    palette = load_image(tmp_path / "p.png")
    assert palette.mode == "P" and palette.pixels.shape[2] == 3
    Image.fromarray(rgba[..., 0]).save(tmp_path / "l.png")
    assert load_image(tmp_path / "l.png").pixels.ndim == 2


@pytest.mark.parametrize("orientation", range(1, 9))
def test_orientation_matches_pillow(orientation):
    pixels = np.arange(12, dtype=np.uint8).reshape(3, 4)
    image = Image.fromarray(pixels)
    image.getexif()[0x0112] = orientation
    expected = np.asarray(ImageOps.exif_transpose(image))
    assert np.array_equal(apply_orientation(pixels, orientation), expected)


def test_exif_orientation_is_applied_when_reading(tmp_path):
    pixels = np.zeros((20, 40, 3), np.uint8)
    pixels[:, :10] = 255
    image = Image.fromarray(pixels)
    exif = image.getexif()
    exif[0x0112] = 6  # stored sideways: rotate 90 degrees clockwise to view
    image.save(tmp_path / "rotated.jpg", exif=exif, quality=95)
    loaded = load_image(tmp_path / "rotated.jpg")
    assert loaded.orientation == 6
    assert loaded.pixels.shape[:2] == (40, 20)
    assert loaded.pixels[:10].mean() > 200 and loaded.pixels[-10:].mean() < 50


@pytest.mark.parametrize("suffix", [".tif", ".png"])
def test_sixteen_bit_colour_and_alpha_files_keep_every_bit(tmp_path, suffix):
    rng = np.random.default_rng(1)
    rgba = rng.integers(0, 65536, (20, 30, 4), dtype=np.uint16)
    cv2.imwrite(str(tmp_path / f"rgb{suffix}"), rgba[..., 2::-1])
    cv2.imwrite(str(tmp_path / "rgba.png"), rgba[..., [2, 1, 0, 3]])
    assert np.array_equal(load_image(tmp_path / f"rgb{suffix}").pixels, rgba[..., :3])
    assert np.array_equal(load_image(tmp_path / "rgba.png").pixels, rgba)


@pytest.mark.parametrize("suffix", [".webp", ".bmp", ".gif"])
def test_other_formats(tmp_path, photo, suffix):
    rgb = photo[:40, :50] if photo.ndim == 3 else np.dstack([photo[:40, :50]] * 3)
    options = {"lossless": True} if suffix == ".webp" else {}
    Image.fromarray(rgb).save(tmp_path / f"x{suffix}", **options)
    loaded = load_image(tmp_path / f"x{suffix}").pixels
    assert loaded.shape == rgb.shape and loaded.dtype == np.uint8
    if suffix != ".gif":  # GIF is a 256-colour palette
        assert np.array_equal(loaded, rgb)


@pytest.mark.parametrize("mode", ["L", "RGB", "RGBA"])
def test_pixels_in_a_wanted_mode_are_taken_without_a_conversion(tmp_path, photo, mode):
    """L, RGB and RGBA are taken from Pillow as they are: the pixels convert() gave, read-only as those were."""
    image = Image.fromarray(photo).convert(mode)
    path = tmp_path / f"{mode}.png"
    image.save(path)
    pixels = load_image(path).pixels
    with Image.open(path) as reopened:
        expected = np.asarray(reopened.convert(mode))
    assert pixels.dtype == np.uint8 and np.array_equal(pixels, expected)
    assert not pixels.flags.writeable  # as the CPU kernels are specialised and cached for


# == plain PNGs: OpenCV decodes them, without Pillow, to Pillow's pixels ===========================


def _adam7_png(pixels: np.ndarray) -> bytes:
    """An interlaced (Adam7) 8-bit PNG, every row unfiltered: Pillow cannot write one."""
    height, width = pixels.shape[:2]
    rows = bytearray()
    for x0, y0, dx, dy in (
        (0, 0, 8, 8),
        (4, 0, 8, 8),
        (0, 4, 4, 8),
        (2, 0, 4, 4),
        (0, 2, 2, 4),
        (1, 0, 2, 2),
        (0, 1, 1, 2),
    ):
        for row in pixels[y0::dy, x0::dx]:
            if row.size:
                rows += b"\0" + row.tobytes()
    colour = {1: 0, 3: 2, 4: 6}[1 if pixels.ndim == 2 else pixels.shape[2]]
    header = struct.pack(">IIBBBBB", width, height, 8, colour, 0, 0, 1)
    return H.png_from_chunks([(b"IHDR", header), (b"IDAT", zlib.compress(bytes(rows))), (b"IEND", b"")])


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else b if pb <= pc else c


def _every_filter_png(pixels: np.ndarray, idats: int = 1) -> bytes:
    """A PNG whose rows take the five filters in turn (the PNG specification's arithmetic, written
    plainly), its image data split over ``idats`` chunks."""
    height, width = pixels.shape[:2]
    bpp = 1 if pixels.ndim == 2 else pixels.shape[2]
    rows, previous = bytearray(), bytes(width * bpp)
    for y in range(height):
        row, kind = pixels[y].tobytes(), y % 5
        filtered = bytearray()
        for x in range(len(row)):
            a = row[x - bpp] if x >= bpp else 0
            b = previous[x]
            c = previous[x - bpp] if x >= bpp else 0
            predictor = (0, a, b, (a + b) // 2, _paeth(a, b, c))[kind]
            filtered.append((row[x] - predictor) % 256)
        rows += bytes([kind]) + filtered
        previous = row
    colour = {1: 0, 3: 2, 4: 6}[bpp]
    header = struct.pack(">IIBBBBB", width, height, 8, colour, 0, 0, 0)
    stream = zlib.compress(bytes(rows))
    cut = len(stream) // idats
    parts = [stream[i * cut : (i + 1) * cut if i < idats - 1 else len(stream)] for i in range(idats)]
    return H.png_from_chunks([(b"IHDR", header), *((b"IDAT", part) for part in parts), (b"IEND", b"")])


def _with_chunks(raw: bytes, before: list | None = None, after: list | None = None) -> bytes:
    """The PNG ``raw`` with chunks put in after its IHDR and before its IEND."""
    chunks = H.png_chunks(raw)
    return H.png_from_chunks(chunks[:1] + (before or []) + chunks[1:-1] + (after or []) + chunks[-1:])


def _pillow_png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def opencv_decodes(monkeypatch):
    """The plain PNGs loading.py decoded, in order: ("inflate", mode) for libdeflate and the core's
    unfiltering (the pixels, or None where it declined), ("opencv", mode) for OpenCV."""
    from imgdiff_gpu import loading

    asked = []
    decode, inflate = loading._decode_plain_png, loading._inflate_plain_png

    def opencv(data, mode, shape):
        asked.append(("opencv", mode))
        return decode(data, mode, shape)

    def inflated(data, chunks, mode, shape):
        pixels = inflate(data, chunks, mode, shape)
        asked.append(("inflate", mode) if pixels is not None else ("inflate declined", mode))
        return pixels

    monkeypatch.setattr(loading, "_decode_plain_png", opencv)
    monkeypatch.setattr(loading, "_inflate_plain_png", inflated)
    return asked


_NOISE = np.random.default_rng(7).integers(0, 256, (37, 53, 4), dtype=np.uint8)
_INERT = [
    (b"gAMA", struct.pack(">I", 45455)),
    (b"cHRM", struct.pack(">8I", 31270, 32900, 64000, 33000, 30000, 60000, 15000, 6000)),
    (b"sRGB", b"\0"),
    (b"pHYs", struct.pack(">IIB", 2835, 2835, 1)),
    (b"tIME", struct.pack(">HBBBBB", 2026, 11, 26, 3, 0, 0)),
    (b"tEXt", b"Software\0imgdiff tests"),
]
_PLAIN = {
    "grey": lambda: _pillow_png(_NOISE[..., 0]),
    "rgb": lambda: _pillow_png(_NOISE[..., :3]),
    "rgba": lambda: _pillow_png(_NOISE),
    "rgb-opencv-paeth": lambda: cv2.imencode(
        ".png", _NOISE[..., 2::-1], [cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_PAETH]
    )[1].tobytes(),
    "rgba-every-filter": lambda: _every_filter_png(_NOISE),
    "grey-every-filter": lambda: _every_filter_png(_NOISE[..., 0]),
    "rgb-every-filter-two-idats": lambda: _every_filter_png(_NOISE[..., :3], idats=2),
    "interlaced-grey": lambda: _adam7_png(_NOISE[..., 0]),
    "interlaced-rgba": lambda: _adam7_png(_NOISE),
    "gamma-profile-text": lambda: _with_chunks(_pillow_png(_NOISE[..., :3]), before=_INERT),
    "one-pixel": lambda: _pillow_png(_NOISE[:1, :1, :3]),
}


@pytest.mark.parametrize(
    "decoder", ["inflate", "opencv-4.11-rgb", "older-opencv-bgr-swapped"], ids=lambda decoder: decoder
)
@pytest.mark.parametrize("kind", sorted(_PLAIN))
def test_plain_pngs_are_decoded_to_pillows_pixels(tmp_path, kind, decoder, opencv_decodes, monkeypatch):
    """libdeflate and the core's unfiltering, or OpenCV (an interlaced file; a huge one, here every one)."""
    from imgdiff_gpu import loading

    if decoder != "inflate":
        monkeypatch.setattr(loading, "_INFLATE_AT_ONCE_BYTES", 0)
    if decoder == "older-opencv-bgr-swapped":  # OpenCV before 4.11 has no IMREAD_COLOR_RGB: BGR, swapped in place
        monkeypatch.delattr(cv2, "IMREAD_COLOR_RGB", raising=False)
    path = tmp_path / f"{kind}.png"
    path.write_bytes(_PLAIN[kind]())
    loaded = load_image(path)
    with Image.open(path) as image:
        expected_mode, expected = image.mode, np.asarray(image)
    inflated = decoder == "inflate" and not kind.startswith("interlaced")
    assert opencv_decodes == [("inflate" if inflated else "opencv", expected_mode)]
    assert loaded.mode == expected_mode and loaded.format == "PNG" and loaded.orientation == 1
    assert loaded.pixels.dtype == np.uint8 and np.array_equal(loaded.pixels, expected)
    assert not loaded.pixels.flags.writeable  # as the Pillow path gives them


def _exif_png(orientation: int) -> bytes:
    buffer = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(_NOISE[:20, :30, :3]).save(buffer, format="PNG", exif=exif)
    return buffer.getvalue()


def _raw_profile_exif_png(orientation: int) -> bytes:
    """EXIF as ImageMagick keeps it in PNG: hex in a tEXt chunk, which Pillow reads an orientation from."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    raw = exif.tobytes()
    text = b"Raw profile type exif\0\nexif\n" + str(len(raw)).encode() + b"\n" + raw.hex().encode() + b"\n"
    return _with_chunks(_pillow_png(_NOISE[:20, :30, :3]), before=[(b"tEXt", text)])


_XMP = b'XML:com.adobe.xmp\0\0\0\0\0<x:xmpmeta><rdf:Description tiff:Orientation="6"/></x:xmpmeta>'
_NOT_PLAIN = {
    # (file, orientation Pillow reads, alpha added): each is Pillow's to read, as before
    "exif-orientation": (lambda: _exif_png(6), 6),
    "text-exif-orientation": (lambda: _raw_profile_exif_png(3), 3),
    "xmp-orientation": (lambda: _with_chunks(_pillow_png(_NOISE[:20, :30, :3]), before=[(b"iTXt", _XMP)]), 6),
    "text-after-the-data": (lambda: _with_chunks(_pillow_png(_NOISE[..., :3]), after=[(b"tEXt", b"a\0b")]), 1),
    "transparency-key": (lambda: _with_chunks(_pillow_png(_NOISE[..., :3]), before=[(b"tRNS", b"\0\1\0\2\0\3")]), 1),
    "short-gamma": (lambda: _with_chunks(_pillow_png(_NOISE[..., :3]), before=[(b"gAMA", b"\1")]), None),
    "palette": (
        lambda: (lambda b: (Image.fromarray(_NOISE[..., :3]).quantize(8).save(b, "PNG"), b.getvalue())[1])(
            io.BytesIO()
        ),
        1,
    ),
    "grey-alpha": (lambda: _pillow_png(_NOISE[..., :2].copy()), 1),
    "sixteen-bit-grey": (lambda: cv2.imencode(".png", _NOISE[..., 0].astype(np.uint16) * 257)[1].tobytes(), 1),
}


@pytest.mark.parametrize("kind", sorted(_NOT_PLAIN))
def test_other_pngs_are_read_by_pillow_as_before(tmp_path, kind, opencv_decodes):
    """What OpenCV would read otherwise than Pillow (an alpha for a transparency key, no orientation from
    XMP), or what Pillow reads as it decodes (chunks after the data), or refuses, never goes to OpenCV."""
    make, orientation = _NOT_PLAIN[kind]
    path = tmp_path / f"{kind}.png"
    path.write_bytes(make())
    if orientation is None:
        with pytest.raises(ImageLoadError, match="Truncated gAMA chunk"):
            load_image(path)
    else:
        loaded = load_image(path)
        assert loaded.orientation == orientation
        with Image.open(path) as image:
            assert loaded.mode == image.mode
    assert opencv_decodes == []


def test_data_opencv_refuses_is_reported_by_pillow_as_ever(tmp_path, opencv_decodes):
    """Image data whose CRC is right but whose stream is broken: libdeflate and OpenCV refuse it, Pillow says why."""
    path = H.damaged_png(tmp_path / "bad.png", fix_crc=True)
    with pytest.raises(ImageLoadError, match="corrupt or truncated image data"):
        load_image(path)
    assert opencv_decodes == [("inflate declined", "RGB"), ("opencv", "RGB")]


def test_without_libdeflate_opencv_decodes_plain_pngs(tmp_path, monkeypatch, opencv_decodes):
    """An environment installed before ``deflate`` was a dependency still reads PNGs, through OpenCV."""
    import sys

    monkeypatch.setitem(sys.modules, "deflate", None)  # import deflate raises ImportError
    path = tmp_path / "rgb.png"
    path.write_bytes(_pillow_png(_NOISE[..., :3]))
    assert np.array_equal(load_image(path).pixels, _NOISE[..., :3])
    assert opencv_decodes == [("inflate declined", "RGB"), ("opencv", "RGB")]


_ROWS_OF_A_10_BY_3_RGB = 10 * (1 + 3 * 3)


@pytest.mark.parametrize(
    ("kind", "rows"),
    [
        ("short", lambda raw: raw[: _ROWS_OF_A_10_BY_3_RGB - 4]),
        ("long", lambda raw: raw + b"\0" * 30),
        ("filter type 5", lambda raw: b"\5" + raw[1:]),
    ],
)
def test_image_data_not_as_the_header_says_is_left_to_opencv_and_pillow(tmp_path, kind, rows, opencv_decodes):
    """Rows too few, too many, or of an unknown filter: the fast path declines, the others decide as before."""
    pixels = _NOISE[:10, :3, :3]
    raw = b"".join(b"\0" + row.tobytes() for row in pixels)
    assert len(raw) == _ROWS_OF_A_10_BY_3_RGB
    header = struct.pack(">IIBBBBB", 3, 10, 8, 2, 0, 0, 0)
    png = H.png_from_chunks([(b"IHDR", header), (b"IDAT", zlib.compress(rows(raw))), (b"IEND", b"")])
    path = tmp_path / f"{kind}.png"
    path.write_bytes(png)
    try:
        outcome = load_image(path).pixels
    except ImageLoadError as error:
        outcome = error
    assert opencv_decodes[:2] == [("inflate declined", "RGB"), ("opencv", "RGB")]
    with Image.open(path) as image:  # what Pillow makes of it, or that it refuses it
        try:
            image.load()
            expected = np.asarray(image)
        except (OSError, SyntaxError, ValueError) as error:
            expected = error
    if isinstance(outcome, ImageLoadError):
        assert not isinstance(expected, np.ndarray) or kind == "long", (outcome, expected)
    else:
        assert isinstance(expected, np.ndarray) and np.array_equal(outcome, expected)


# == reading ahead ================================================================================


def test_reading_ahead_decodes_each_file_once_on_its_own_thread(tmp_path, monkeypatch):
    from imgdiff_gpu import loading

    left, right = H.pair(tmp_path)
    threads = []
    read = loading._read_and_decode

    def spy(path, max_pixels):
        threads.append((path.name, threading.current_thread().name))
        return read(path, max_pixels)

    monkeypatch.setattr(loading, "_read_and_decode", spy)
    with loading.reading_ahead([left, right]):
        pair = load_image(left), load_image(right)
    assert sorted(threads) == [
        ("left.png", "imgdiff-read-ahead-left.png"),
        ("right.png", "imgdiff-read-ahead-right.png"),
    ]
    assert np.array_equal(pair[0].pixels, H.photo()) and np.array_equal(pair[1].pixels, H.changed(H.photo()))
    assert loading._AHEAD == {}


def test_reading_ahead_keeps_the_callers_order_of_errors(tmp_path):
    """A corrupt LEFT and a missing RIGHT: LEFT's trouble is the one reported, as without reading ahead."""
    from imgdiff_gpu import loading

    left = H.damaged_png(tmp_path / "left.png")
    right = tmp_path / "missing.png"
    with loading.reading_ahead([left, right]):
        with pytest.raises(ImageLoadError, match=r"left\.png: corrupt PNG"):
            load_image(left)
        with pytest.raises(ImageLoadError, match=r"missing\.png: no such file"):
            load_image(right)


def test_reading_ahead_forgets_what_was_not_taken(tmp_path, monkeypatch):
    from imgdiff_gpu import loading

    left, right = H.pair(tmp_path)
    with loading.reading_ahead([left, right], max_pixels=10**6):
        load_image(left, max_pixels=10**6)
    assert loading._AHEAD == {}
    H.save(right, H.photo())  # changed since: read again, not taken from the thread
    assert np.array_equal(load_image(right).pixels, H.photo())


def test_pillow_settings_survive_two_files_read_at_once(tmp_path):
    """Pillow's bomb guard and the warning filters are process-wide: two threads must not leave them changed."""
    from imgdiff_gpu import loading

    paths = [H.save(tmp_path / f"{n}.jpg", H.photo()) for n in range(4)]
    limit, filters = Image.MAX_IMAGE_PIXELS, list(warnings.filters)
    for _ in range(5):
        with loading.reading_ahead(paths):
            for path in paths:
                load_image(path)
    assert Image.MAX_IMAGE_PIXELS == limit and warnings.filters == filters
