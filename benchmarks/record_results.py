"""Every number the CPU kernels produce, recorded as JSON, to show a change of kernels changes none.

Written before the Numba kernels were ported to C (``imgdiff_gpu/cpu/_core``):
recorded with each, the two JSON files must be identical.

* ``pipeline``: score, SSIM threshold and regions of :func:`imgdiff_gpu.compare`
  on the example pair (every sensitivity), the detection evaluation set
  (``benchmarks/detection_set.py``: edited and negative pairs) and a few
  scikit-image pictures with edits, as 8-bit, 16-bit and RGBA.
* ``kernels``: each kernel on random data of every input dtype and layout it is
  called with (SSIM windows of 11, 7 and 5 taps, 1-4 planes, optional masks),
  as a SHA-256 of its output's bytes -- bit for bit -- plus a readable summary.
* ``ssim``: ``structural_similarity`` on random data of every dtype.

Floats are written with ``repr``, so equal text means equal bits.

    python benchmarks/record_results.py --out before.json [--maps before.npz]
    python benchmarks/record_results.py --out after.json --maps after.npz --compare before.npz

``--maps`` keeps the SSIM maps so ``--compare`` can print the largest |ΔSSIM|
between two recordings where the hashes differ.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import json
from pathlib import Path

import numpy as np

from benchmarks.detection_set import negative_pairs, positive_pairs

EXAMPLES = Path(__file__).parent.parent / "examples"
DTYPES = ("bool", "uint8", "int8", "uint16", "int16", "float16", "float32", "float64")


def _digest(array: np.ndarray) -> str:
    array = np.ascontiguousarray(array)
    return f"{array.dtype}{list(array.shape)}:" + hashlib.sha256(array.tobytes()).hexdigest()[:32]


def _comparison(result) -> dict:
    return {
        "score": repr(result.score),
        "ssim_threshold": repr(result.ssim_threshold),
        "regions": [
            {k: repr(v) if isinstance(v, float) else v for k, v in r.as_dict().items()} for r in result.regions
        ],
        "mask": None if result.mask is None else _digest(result.mask),
        "ssim_map": None if result.ssim_map is None else _digest(result.ssim_map),
    }


def _pictures() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Edited scikit-image pictures as 8-bit, 16-bit and RGBA pairs."""
    from skimage import data

    rng = np.random.default_rng(7)
    pairs = {}
    for name in ("camera", "astronaut", "coffee", "chelsea"):
        left = getattr(data, name)()
        right = left.copy()
        h, w = left.shape[:2]
        right[h // 4 : h // 4 + 20, w // 3 : w // 3 + 30] //= 2  # a darker patch
        right[h // 2, w // 5 : w // 2] = 255  # a line
        noise = rng.integers(-3, 4, size=left.shape)  # faint noise everywhere
        right = np.clip(right.astype(np.int16) + noise, 0, 255).astype(np.uint8)
        pairs[f"{name}/8-bit"] = (left, right)
        pairs[f"{name}/16-bit"] = (left.astype(np.uint16) * 257, right.astype(np.uint16) * 257 + 3)
        if left.ndim == 3:
            alpha = np.full((h, w, 1), 255, np.uint8)
            alpha_right = alpha.copy()
            alpha_right[h // 2 : h // 2 + 15, w // 2 : w // 2 + 15] = 128
            pairs[f"{name}/rgba"] = (np.concatenate([left, alpha], 2), np.concatenate([right, alpha_right], 2))
    return pairs


def pipeline_results() -> dict:
    from imgdiff_gpu.pipeline import compare

    results = {}
    for sensitivity in ("low", "normal", "high", "exact"):
        result = compare(EXAMPLES / "left.png", EXAMPLES / "right.png", device="cpu", sensitivity=sensitivity)
        results[f"example/{sensitivity}"] = _comparison(result)
    for pair in positive_pairs(pairs_per_photo=4):
        results[f"detection/{pair.name}"] = _comparison(compare(pair.left, pair.right, device="cpu"))
    for pair in negative_pairs():
        options = {"align": "translation"} if pair.shift else {}
        results[f"detection/{pair.name}"] = _comparison(compare(pair.left, pair.right, device="cpu", **options))
    for name, (left, right) in _pictures().items():
        for sensitivity in ("low", "normal"):
            results[f"pictures/{name}/{sensitivity}"] = _comparison(
                compare(left, right, device="cpu", sensitivity=sensitivity)
            )
    return results


def _cpu(name: str):
    """A CPU kernel module, in the layout of either side of the port (cpu/ssim.py, or _ssim_cpu.py before)."""
    try:
        return importlib.import_module(f"imgdiff_gpu.cpu.{name}")
    except ModuleNotFoundError:
        return importlib.import_module(f"imgdiff_gpu._{name}_cpu")


def _random(rng, dtype: str, shape) -> np.ndarray:
    if dtype == "bool":
        return rng.random(shape) < 0.5
    if np.dtype(dtype).kind == "f":
        return rng.random(shape).astype(dtype)
    info = np.iinfo(dtype)
    return rng.integers(info.min, int(info.max) + 1, size=shape).astype(dtype)


def kernel_results(maps: dict) -> dict:
    from imgdiff_gpu._ssim_params import ssim_params

    ssim_histogram_cpu = _cpu("histogram").ssim_histogram_cpu
    plane_stack = _cpu("planes").plane_stack
    frame_steps = _cpu("screen").frame_steps
    ssim_map_2d, ssim_map_and_bounds = _cpu("ssim").ssim_map_2d, _cpu("ssim").ssim_map_and_bounds
    strength_map = _cpu("strength").strength_map

    rng = np.random.default_rng(2026)
    results = {}
    shape = (301, 517)  # several strips and column blocks, none of them full
    for dtype in DTYPES:
        x = _random(rng, dtype, shape)
        y = x.copy()
        y[40:200, 100:400] = _random(rng, dtype, (160, 300))
        for win_size, gaussian in ((None, True), (7, False), (5, True)):
            params = ssim_params(x, y, win_size=win_size, data_range=1.0, gaussian_weights=gaussian)
            name = f"ssim_map_2d/{dtype}/taps{len(params.weights)}"
            ssim_map = ssim_map_2d(x, y, params)
            maps[name] = ssim_map
            results[name] = {"map": _digest(ssim_map), "mean": repr(float(ssim_map.mean()))}
    x = rng.random(shape).astype(np.float32)
    y = np.clip(x + rng.normal(0, 0.02, shape).astype(np.float32), 0, 1)
    params = ssim_params(x, y, win_size=None, data_range=1.0, gaussian_weights=True)
    counted = rng.random(shape) < 0.7
    for label, mask in (("every pixel", None), ("counted", counted)):
        ssim_map, shift, lowest = ssim_map_and_bounds(x, y, params, counted=mask)
        maps[f"ssim_map_and_bounds/{label}"] = ssim_map
        results[f"ssim_map_and_bounds/{label}"] = {"map": _digest(ssim_map), "bounds": [repr(shift), repr(lowest)]}
        counts = ssim_histogram_cpu(ssim_map * 1.5 - 0.2, mask, 256)  # values past both ends too
        results[f"histogram/{label}"] = {"counts": _digest(counts), "sum": int(counts.sum())}

    for planes in (1, 2, 3, 4):
        left = rng.random((*shape, planes)).astype(np.float32)
        right = left.copy()
        right[50:120, 60:300] += rng.normal(0, 0.1, (70, 240, planes)).astype(np.float32)
        right[200:203, :] += 0.05
        ssim_map = ssim_map_2d(left[..., 0], right[..., 0], params)
        for taps_label, weights in (("taps11", params.weights), ("taps7", np.full(7, 1 / 7))):
            for extras in ("none", "all"):
                optional = {}
                if extras == "all":
                    optional = {
                        "suppress": rng.random(shape) < 0.1,
                        "luma_scale": (1 + rng.random(shape)).astype(np.float32),
                        "coarse": rng.random(shape).astype(np.float32),
                    }
                strength = strength_map(
                    left,
                    right,
                    ssim_map,
                    weights,
                    luma=0.02,
                    chroma=0.03,
                    texture=0.05,
                    ssim_threshold=0.6,
                    **optional,
                )
                name = f"strength/{planes}planes/{taps_label}/{extras}"
                results[name] = {"strength": _digest(strength), "sum": repr(float(strength.sum(dtype=np.float64)))}

    for dtype, scale in (("uint8", 255.0), ("uint16", 65535.0)):
        for channels in (1, 2, 3, 4):
            pixels = _random(rng, dtype, (*shape, channels) if channels > 1 else shape)
            for colour, alpha in ((False, False), (True, False), (False, True), (True, True)):
                stack = plane_stack(pixels, colour=colour, alpha=alpha, scale=scale)
                results[f"planes/{dtype}/{channels}ch/colour={colour}/alpha={alpha}"] = _digest(stack)

    left = _random(rng, "uint8", (*shape, 3))
    right = left.copy()
    right[10:90, 30:80] = _random(rng, "uint8", (80, 50, 3))
    reach = rng.random(shape) < 0.8
    for label, mask in (("every pixel", None), ("reach", reach)):
        luma_left, luma_right, d_luma, d_chroma, d_rgb = frame_steps(left, right, reach=mask)
        results[f"frame_steps/{label}"] = {
            "luma": [_digest(luma_left), _digest(luma_right)],
            "steps": [repr(d_luma), repr(d_chroma), repr(d_rgb)],
        }
    results.update(_screen_and_levels_results(rng, left, right, shape, params))
    return results


def _screen_and_levels_results(rng, left: np.ndarray, right: np.ndarray, shape, params) -> dict:
    """The video screen's compiled outputs (the fused SSIM pass's bounds, the block sums, the
    sampled line noise ratio) and the strength pass's levels, from the pixels and from the stacks."""
    from imgdiff_gpu.detection import window_noise_factors

    screen = _cpu("screen")
    ssim_map_and_screen = _cpu("ssim").ssim_map_and_screen
    strength = _cpu("strength")
    results = {}
    sums = np.empty((shape[0] // 4, shape[1] // 4, 3), np.int32)
    cropped = (slice(0, shape[0] // 4 * 4), slice(0, shape[1] // 4 * 4))
    luma_left, luma_right, *_ = screen.frame_steps(left[cropped], right[cropped], reach=None, block_sums=sums, factor=4)
    results["frame_steps/block_sums"] = _digest(sums)
    weights = params.weights
    shift = np.empty(luma_left.shape, np.float32)
    ssim_map, bounds = ssim_map_and_screen(
        luma_left,
        luma_right,
        params,
        counted=None,
        bias=0.004,
        masking=1.5,
        floor=0.02,
        slack=5e-6,
        factors=window_noise_factors(luma_left.shape, weights),
        shift=shift,
    )
    results["ssim_map_and_screen"] = {
        "map": _digest(ssim_map),
        "shift": _digest(shift),
        "peaks": [_digest(bounds.peaks[0]), _digest(bounds.peaks[1])],
        "bounds": [repr(bounds.luma_shift), repr(bounds.min_ssim), repr(bounds.masked_shift)],
        "line_noise_ratio": repr(screen.sampled_line_noise_ratio(shift, weights)),
    }
    pixels_left = _random(rng, "uint8", (*shape, 3))
    pixels_right = pixels_left.copy()
    pixels_right[100:180, 200:330] = _random(rng, "uint8", (80, 130, 3))
    pixels_right[250, :] ^= 8
    from imgdiff_gpu.planes import pair_layout

    layout = pair_layout(pixels_left, pixels_right)
    stacks = [_cpu("planes").plane_stack(p, colour=True, alpha=False, scale=255.0) for p in (pixels_left, pixels_right)]
    luma_map = _cpu("ssim").ssim_map_2d(stacks[0][..., 0], stacks[1][..., 0], params)
    settings = {"luma": 0.02, "chroma": 0.03, "texture": 0.05, "ssim_threshold": 0.6}
    from_pixels = strength.strength_levels_map(pixels_left, pixels_right, luma_map, weights, layout=layout, **settings)
    from_stacks = strength.strength_levels_map(*stacks, luma_map, weights, **settings)
    results["strength_levels"] = {"from pixels": _digest(from_pixels), "from stacks": _digest(from_stacks)}
    return results


def ssim_results() -> dict:
    from imgdiff_gpu.ssim import structural_similarity

    rng = np.random.default_rng(11)
    results = {}
    for dtype in DTYPES:
        x = _random(rng, dtype, (64, 80, 3))
        y = _random(rng, dtype, (64, 80, 3))
        score, full = structural_similarity(
            x, y, data_range=1.0, channel_axis=2, gaussian_weights=True, full=True, device="cpu"
        )
        results[dtype] = {"score": repr(float(score)), "map": _digest(full)}
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--maps", type=Path, help="also save the kernels' SSIM maps here (.npz)")
    parser.add_argument("--compare", type=Path, help="print the largest |ΔSSIM| against maps saved earlier")
    args = parser.parse_args()
    maps: dict = {}
    recorded = {"kernels": kernel_results(maps), "ssim": ssim_results(), "pipeline": pipeline_results()}
    args.out.write_text(json.dumps(recorded, indent=1, sort_keys=True) + "\n")
    print(f"wrote {args.out}: {sum(len(v) for v in recorded.values())} entries")
    if args.maps:
        np.savez_compressed(args.maps, **maps)
    if args.compare:
        earlier = np.load(args.compare)
        worst = max(float(np.max(np.abs(maps[k] - earlier[k]))) for k in maps)
        print(f"largest |ΔSSIM| over {len(maps)} kernel maps: {worst:.3g}")


if __name__ == "__main__":
    main()
