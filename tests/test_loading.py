"""Every way an input file can be wrong, and every pixel layout, read explicitly."""

from __future__ import annotations

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
