"""The two PNG decoders: OpenCV for plain 8-bit files, Pillow for the rest, the same pixels either way.

The reference is Pillow's own decode of each file (``np.asarray(Image.open(f).convert(mode))``),
which is what :func:`imgdiff_gpu.load_image` returned for every PNG before OpenCV took the
plain ones; each test also checks which decoder ran, so a silent fall-back cannot pass for the
fast path.
"""

from __future__ import annotations

import io
import struct
import zlib

import cv2
import numpy as np
import pytest
from PIL import Image, ImageCms, PngImagePlugin

from imgdiff_gpu import loading
from imgdiff_gpu.errors import ImageLoadError
from imgdiff_gpu.loading import load_image

CHANNELS = {"L": 1, "RGB": 3, "RGBA": 4}


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    found, position = [], 8
    while position < len(data):
        length = int.from_bytes(data[position : position + 4], "big")
        found.append((data[position + 4 : position + 8], data[position + 8 : position + 8 + length]))
        position += 12 + length
    return found


def _rebuilt(data: bytes, *, idat=None, after_ihdr: tuple[bytes, bytes] | None = None) -> bytes:
    """``data`` with its image data replaced by ``idat`` (one chunk) or one chunk added; CRCs made right."""
    out, idat_written = data[:8], False
    for kind, body in _chunks(data):
        if kind == b"IDAT" and idat is not None:
            if idat_written:
                continue
            body, idat_written = idat, True
        out += _chunk(kind, body)
        if kind == b"IHDR" and after_ihdr is not None:
            out += _chunk(*after_ihdr)
    return out


def _pixels(mode: str, seed: int = 0) -> np.ndarray:
    noise = np.random.default_rng(seed).integers(0, 256, (37, 53, 4), dtype=np.uint8)
    return noise[..., : CHANNELS[mode]].squeeze()


def _png(pixels, **save) -> bytes:
    """PNG bytes, written by Pillow, of an array or a Pillow image."""
    buffer = io.BytesIO()
    image = pixels if isinstance(pixels, Image.Image) else Image.fromarray(pixels)
    image.save(buffer, "PNG", **save)
    return buffer.getvalue()


def _text(key: str, value: str) -> PngImagePlugin.PngInfo:
    info = PngImagePlugin.PngInfo()
    info.add_text(key, value)
    return info


def _pillow(data: bytes) -> np.ndarray:
    image = Image.open(io.BytesIO(data))
    return np.asarray(image.convert("RGBA" if "transparency" in image.info and image.mode == "P" else image.mode))


def _load(tmp_path, data: bytes, monkeypatch) -> tuple[np.ndarray, str]:
    """Pixels from load_image, and which decoder gave them ('opencv' or 'pillow')."""
    taken = []
    plain = loading._decode_plain_png

    def spy(*args):
        pixels = plain(*args)
        taken.append("pillow" if pixels is None else "opencv")
        return pixels

    monkeypatch.setattr(loading, "_decode_plain_png", spy)
    path = tmp_path / "image.png"
    path.write_bytes(data)
    pixels = load_image(path).pixels
    return pixels, taken[-1] if taken else "pillow"


@pytest.mark.parametrize("mode", list(CHANNELS))
@pytest.mark.parametrize(
    "save",
    [{}, {"compress_level": 9}, {"optimize": True}, {"icc_profile": "srgb"}],
    ids=["default", "level9", "optimize", "icc"],
)
def test_plain_png_is_decoded_by_opencv_to_pillows_pixels(tmp_path, monkeypatch, mode, save):
    if save.get("icc_profile") == "srgb":
        save = {"icc_profile": ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()}
    data = _png(_pixels(mode), **save)
    pixels, decoder = _load(tmp_path, data, monkeypatch)
    assert decoder == "opencv"
    reference = _pillow(data)
    assert pixels.dtype == reference.dtype and pixels.shape == reference.shape
    assert not pixels.flags.writeable and not reference.flags.writeable  # one kernel specialisation for both
    assert np.array_equal(pixels, reference)


@pytest.mark.parametrize(
    "chunk",
    [(b"gAMA", (100000).to_bytes(4, "big")), (b"sRGB", b"\0"), (b"cHRM", bytes(32))],
    ids=["gAMA", "sRGB", "cHRM"],
)
def test_colour_chunks_change_no_pixel(tmp_path, monkeypatch, chunk):
    """Neither decoder applies gamma or chromaticities: OpenCV may take such files."""
    data = _rebuilt(_png(_pixels("RGB")), after_ihdr=chunk)
    pixels, decoder = _load(tmp_path, data, monkeypatch)
    assert decoder == "opencv"
    assert np.array_equal(pixels, _pillow(data))


def _with_orientation(pixels: np.ndarray) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = 6
    return _png(pixels, exif=exif)


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda: _png(_pixels("RGB"), transparency=(1, 2, 3)), id="RGB+tRNS"),
        pytest.param(lambda: _png(_pixels("L"), transparency=7), id="L+tRNS"),
        pytest.param(lambda: _png(Image.fromarray(_pixels("RGB")).quantize(16)), id="palette"),
        pytest.param(lambda: _png(Image.fromarray(_pixels("RGBA")).convert("LA")), id="grey+alpha"),
        pytest.param(lambda: _png(_pixels("L") > 128), id="1-bit"),
        pytest.param(lambda: _with_orientation(_pixels("RGB")), id="eXIf-orientation"),
        pytest.param(lambda: _png(_pixels("RGB"), pnginfo=_text("Comment", "hello")), id="tEXt"),
    ],
)
def test_other_pngs_are_decoded_by_pillow_as_before(tmp_path, monkeypatch, make):
    data = make()
    pixels, decoder = _load(tmp_path, data, monkeypatch)
    assert decoder == "pillow"
    image = Image.open(io.BytesIO(data))
    orientation = image.getexif().get(0x0112, 1)
    assert np.array_equal(pixels, loading.apply_orientation(loading._decode_with_pillow(image, None), orientation))


def test_an_orientation_in_exif_is_still_applied(tmp_path):
    pixels = _pixels("RGB")
    path = tmp_path / "turned.png"
    path.write_bytes(_with_orientation(pixels))
    loaded = load_image(path)
    assert loaded.orientation == 6
    assert loaded.pixels.shape[:2] == pixels.shape[1::-1]


def _image_data(data: bytes) -> bytes:
    return b"".join(body for kind, body in _chunks(data) if kind == b"IDAT")


def test_a_stream_opencv_refuses_and_pillow_reads_loads_as_before(tmp_path, monkeypatch):
    """A zlib stream without its Adler-32 checksum: OpenCV gives nothing, Pillow the pixels."""
    pixels = _pixels("RGB")
    data = _rebuilt(_png(pixels), idat=_image_data(_png(pixels))[:-4])
    assert cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED) is None
    loaded, decoder = _load(tmp_path, data, monkeypatch)
    assert decoder == "pillow"
    assert np.array_equal(loaded, pixels)


@pytest.mark.parametrize("damage", ["cut in half", "one byte flipped"])
def test_damaged_image_data_with_right_crcs_is_refused(tmp_path, damage):
    stream = _image_data(_png(_pixels("RGB")))
    if damage == "cut in half":
        stream = stream[: len(stream) // 2]
    else:
        stream = stream[:100] + bytes([stream[100] ^ 0xFF]) + stream[101:]
    path = tmp_path / "damaged.png"
    path.write_bytes(_rebuilt(_png(_pixels("RGB")), idat=stream))
    with pytest.raises(ImageLoadError, match="corrupt or truncated image data"):
        load_image(path)
