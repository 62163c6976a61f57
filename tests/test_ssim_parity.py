"""structural_similarity against scikit-image itself, on photographs and random data.

Tolerances (issue 2): 8/16-bit input |mssim - skimage| <= 1e-9 and
max |S - S_skimage| <= 1e-6. Float32 input: the mean within 1e-4 of
scikit-image; the map is computed in float64 (scikit-image filters float32 input
in float32, which alone moves its map by up to ~1e-4), so the map is held to
1e-6 against scikit-image run on the same values in float64, and returned as
float32 like scikit-image's.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from skimage.metrics import structural_similarity as skimage_ssim

from imgdiff_gpu import structural_similarity

SETTINGS = {
    "uniform": {},
    "gaussian": {"gaussian_weights": True, "sigma": 1.5, "use_sample_covariance": False},
}
TOLERANCE = {np.uint8: 1e-9, np.uint16: 1e-9, np.float32: 1e-4}  # on the mean


def _perturbed(image: np.ndarray, rng: np.random.Generator, spread: float) -> np.ndarray:
    noise = rng.normal(0, spread, image.shape)
    limit = np.iinfo(image.dtype).max
    return np.clip(image.astype(np.float64) + noise, 0, limit).astype(image.dtype)


def _as_dtype(image: np.ndarray, dtype) -> np.ndarray:
    if dtype is np.uint16:
        return image.astype(np.uint16) * 257
    if dtype is np.float32:
        return image.astype(np.float32) / 255
    return image


def _both(a, b, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # uint16 data_range notice
        expected = skimage_ssim(a, b, full=True, **kwargs)
        actual = structural_similarity(a, b, full=True, device="cpu", **kwargs)
    return expected, actual


@pytest.mark.parametrize("setting", sorted(SETTINGS))
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32], ids=lambda d: d.__name__)
@pytest.mark.parametrize("colour", [False, True], ids=["grey", "colour"])
def test_matches_skimage_on_photographs(photo, setting, dtype, colour):
    rng = np.random.default_rng(7)
    if photo.ndim == 2:
        photo = np.dstack([photo, np.roll(photo, 3, axis=1), photo[::-1]])
    left = photo if colour else photo[..., 1]
    right = _perturbed(left, rng, 12.0)
    left, right = _as_dtype(left, dtype), _as_dtype(right, dtype)
    kwargs = dict(SETTINGS[setting], channel_axis=2 if colour else None)
    if dtype is np.float32:
        kwargs["data_range"] = 1.0
    (m_ref, S_ref), (m, S) = _both(left, right, **kwargs)
    assert S.dtype == S_ref.dtype and S.shape == S_ref.shape
    assert abs(m - m_ref) <= TOLERANCE[dtype]
    if dtype is np.float32:
        (_, S_ref), _ = _both(left.astype(np.float64), right.astype(np.float64), **kwargs)
    assert np.abs(S - S_ref).max() <= 1e-6


@pytest.mark.parametrize("setting", sorted(SETTINGS))
@pytest.mark.parametrize("shape", [(7, 7), (13, 40), (257, 129), (600, 800)])
def test_matches_skimage_on_random_data(setting, shape):
    rng = np.random.default_rng(sum(shape))
    left = rng.integers(0, 256, shape, dtype=np.uint8)
    right = rng.integers(0, 256, shape, dtype=np.uint8)
    kwargs = dict(SETTINGS[setting])
    if min(shape) < 11 and setting == "gaussian":
        kwargs["win_size"] = 7
    (m_ref, S_ref), (m, S) = _both(left, right, **kwargs)
    assert abs(m - m_ref) <= 1e-9
    assert np.abs(S - S_ref).max() <= 1e-6


@pytest.mark.parametrize(
    "kwargs",
    [{"win_size": 3}, {"win_size": 15}, {"K1": 0.02, "K2": 0.05}, {"gaussian_weights": True, "sigma": 3.0}],
)
def test_matches_skimage_with_other_parameters(kwargs):
    rng = np.random.default_rng(1)
    left = rng.integers(0, 256, (120, 90), dtype=np.uint8)
    right = _perturbed(left, rng, 30.0)
    (m_ref, S_ref), (m, S) = _both(left, right, **kwargs)
    assert abs(m - m_ref) <= 1e-9
    assert np.abs(S - S_ref).max() <= 1e-6


def test_scores_only_and_volumes_match_skimage():
    rng = np.random.default_rng(2)
    a = rng.integers(0, 256, (64, 64), dtype=np.uint8)
    b = _perturbed(a, rng, 20.0)
    assert abs(structural_similarity(a, b, device="cpu") - skimage_ssim(a, b)) <= 1e-9
    vol_a = rng.integers(0, 256, (9, 20, 20), dtype=np.uint8)  # 3-D: delegated to scikit-image
    vol_b = _perturbed(vol_a, rng, 20.0)
    assert structural_similarity(vol_a, vol_b, device="cpu") == pytest.approx(skimage_ssim(vol_a, vol_b), abs=1e-12)


def test_identical_images_score_one():
    rng = np.random.default_rng(3)
    a = rng.integers(0, 256, (50, 60), dtype=np.uint8)
    assert structural_similarity(a, a.copy(), device="cpu") == pytest.approx(1.0, abs=1e-12)


BAD_ARGUMENTS = [
    ({"win_size": 8}, "Window size must be odd"),
    ({"win_size": 99}, "win_size exceeds image extent"),
    ({"K1": -1}, "K1 must be positive"),
    ({"K2": -1}, "K2 must be positive"),
    ({"sigma": -1, "gaussian_weights": True}, "sigma must be positive"),
]


@pytest.mark.parametrize(("kwargs", "message"), BAD_ARGUMENTS)
def test_rejects_what_skimage_rejects_with_the_same_message(kwargs, message):
    a = np.zeros((20, 20), dtype=np.uint8)
    a[5:9, 3:12] = 200
    with pytest.raises(ValueError, match=message):
        skimage_ssim(a, a, **kwargs)
    with pytest.raises(ValueError, match=message):
        structural_similarity(a, a, device="cpu", **kwargs)


def test_float_input_requires_data_range():
    a = np.linspace(0, 1, 400, dtype=np.float32).reshape(20, 20)
    with pytest.raises(ValueError, match="you must specify the data_range"):
        structural_similarity(a, a, device="cpu")


def test_shape_mismatch_is_rejected():
    with pytest.raises(ValueError, match="same dimensions"):
        structural_similarity(np.ones((20, 20), np.uint8), np.ones((20, 21), np.uint8), device="cpu")


def test_uint16_without_data_range_warns_at_the_caller():
    a = np.arange(400, dtype=np.uint16).reshape(20, 20)
    with pytest.warns(UserWarning, match="data_range = 65535") as record:
        structural_similarity(a, a, device="cpu")
    assert record[0].filename == __file__


def test_unknown_keyword_is_an_error():
    a = np.ones((20, 20), np.uint8)
    with pytest.raises(TypeError, match="sigm"):
        structural_similarity(a, a, device="cpu", sigm=2.0)


def test_bad_device_name():
    a = np.ones((20, 20), np.uint8)
    with pytest.raises(ValueError, match="device must be one of"):
        structural_similarity(a, a, device="tpu")
