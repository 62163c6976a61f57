"""The GPU path's Python glue, on the fake CuPy (tests/fake_cupy.py) over the emulated kernels.

Bands, the out-of-memory fallback and the CLI need the fake's allocation limit,
so these run on the fake even where a GPU exists.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from gpu_parity import assert_same_regions, codec_noise_pair, edited_pair

from imgdiff_gpu.pipeline import compare

pytestmark = pytest.mark.gpu


def test_every_launch_uses_the_tile_as_its_block(fake_gpu):
    from imgdiff_gpu.gpu.kernels import TILE_HEIGHT, TILE_WIDTH

    left, right = edited_pair((20, 40), channels=3)
    compare(left, right, device="gpu")
    names = [name for name, _, _ in fake_gpu.fake.launches]
    assert names == ["imgdiff_planes", "imgdiff_planes", "imgdiff_ssim", "imgdiff_histogram", "imgdiff_strength"]
    for _, grid, block in fake_gpu.fake.launches:
        assert block == (TILE_WIDTH, TILE_HEIGHT, 1) and grid == (2, 3, 1)


def test_a_report_only_run_brings_back_o_of_regions_bytes(fake_gpu):
    left, right = edited_pair((64, 120), channels=3)
    cpu = compare(left, right, device="cpu", keep_maps=False)
    fake_gpu.fake.fetched_bytes = 0
    report_only = compare(left, right, device="gpu", keep_maps=False)
    assert report_only.ssim_map is None and report_only.mask is None and cpu.ssim_map is None
    assert_same_regions(report_only.regions, cpu.regions)
    # the 256 histogram counts and 9 float64 numbers per region, nothing per pixel
    assert fake_gpu.fake.fetched_bytes == 256 * 8 + 9 * 8 * len(cpu.regions)
    fake_gpu.fake.fetched_bytes = 0
    with_pictures = compare(left, right, device="gpu")
    assert fake_gpu.fake.fetched_bytes >= 64 * 120 * (8 + 1)  # the map and the mask
    assert np.array_equal(with_pictures.mask, compare(left, right, device="cpu").mask)


def test_bands_give_exactly_the_resident_result(fake_gpu, monkeypatch):
    import imgdiff_gpu.gpu.analysis as analysis_gpu
    from imgdiff_gpu.detection import thresholds_for

    monkeypatch.setattr(analysis_gpu, "_SMALLEST_BAND", 16)
    left, right = edited_pair((72, 60), channels=3)
    options = dict(ignore=None, antialiasing=False, min_area=40, merge_distance=8, keep_maps=True)
    whole = analysis_gpu.analyse_gpu(left, right, thresholds_for("normal"), **options)
    assert whole.notes == [] and whole.regions
    row_bytes = 60 * (2 * 3 * 4 + 2 * 4 + 8 + 4 + 1 + 1)
    monkeypatch.setattr(analysis_gpu, "GPU_BUDGET_BYTES", row_bytes * (16 + 10))
    banded = analysis_gpu.analyse_gpu(left, right, thresholds_for("normal"), **options)
    assert banded.notes == ["processed on the GPU in bands of 16 rows"]
    assert np.array_equal(banded.ssim_map, whole.ssim_map) and np.array_equal(banded.mask, whole.mask)
    assert banded.ssim_threshold == whole.ssim_threshold
    assert_same_regions(banded.regions, whole.regions)


def test_out_of_memory_shrinks_bands_then_falls_back_to_the_cpu(fake_gpu, monkeypatch):
    import imgdiff_gpu.gpu.analysis as analysis_gpu

    monkeypatch.setattr(analysis_gpu, "_SMALLEST_BAND", 16)
    left, right = edited_pair((80, 60), channels=3)
    cpu = compare(left, right, device="cpu")
    fake_gpu.fake.allocation_limit = 60 * 30 * 3 * 4  # three float32 planes of 30 rows at most
    banded = compare(left, right, device="gpu")
    assert banded.device == "gpu" and "processed on the GPU in bands of 20 rows" in banded.notes
    assert_same_regions(banded.regions, cpu.regions)
    fake_gpu.fake.allocation_limit = 1000  # nothing fits
    fallback = compare(left, right, device="gpu")
    assert fallback.device == "cpu"
    assert fallback.notes[-1].endswith("does not fit in GPU memory even in bands; computed on the CPU")
    assert_same_regions(fallback.regions, cpu.regions)


def test_cli_on_the_gpu_path(fake_gpu, tmp_path):
    import cv2
    from click.testing import CliRunner

    from imgdiff_gpu.cli import cli

    left, right = edited_pair((48, 80), channels=3)
    cv2.imwrite(str(tmp_path / "left.png"), left[..., ::-1])
    cv2.imwrite(str(tmp_path / "right.png"), right[..., ::-1])
    result = CliRunner().invoke(
        cli, ["compare", str(tmp_path / "left.png"), str(tmp_path / "right.png"), "--device", "gpu", "--json", "-"]
    )
    report = json.loads(result.stdout)
    assert result.exit_code == 1 and report["device"] == "gpu" and report["regions"]
    cpu = compare(left, right, device="cpu")
    assert [(r["x"], r["y"], r["width"], r["height"]) for r in report["regions"]] == [
        (r.x, r.y, r.width, r.height) for r in cpu.regions
    ]


def test_staged_uploads_double_buffer_on_their_own_streams(fake_gpu):
    from imgdiff_gpu.gpu.staging import staged_uploads

    rng = np.random.default_rng(0)
    items = [(rng.integers(0, 256, (6, 9), dtype=np.uint8),) for _ in range(5)]
    items.append((rng.integers(0, 256, (4, 4), dtype=np.uint16),))  # a new shape: new buffers
    seen = []
    for (device,) in staged_uploads(iter(items)):
        seen.append(device.get())
    assert all(np.array_equal(a, b[0]) for a, b in zip(seen, items, strict=True))
    assert fake_gpu.fake.uploaded_bytes == sum(item[0].nbytes for item in items)
    log = fake_gpu.fake.stream_log
    copy_streams = {stream for event, stream in log if event == "record" and stream != 1}
    assert len(copy_streams) == 3  # two slots, and the slot rebuilt for the new shape
    # the compute stream (1) waits for each item's copy, and records when it is done with it
    assert [event for event, stream in log if stream == 1].count("wait") == len(items)
    # item i + 1 is on its way before item i is handed over: the first two copies precede the first wait
    assert [event for event, _ in log[:3]] == ["record", "record", "wait"]


def test_compare_pairs_uploads_each_pair_once_and_finds_what_compare_finds(fake_gpu):
    from imgdiff_gpu.pipeline import compare_pairs

    pairs = [edited_pair((40, 72), channels=3), edited_pair((40, 72), channels=4), edited_pair((24, 40), channels=1)]
    pairs.append((pairs[0][0], pairs[2][1]))  # sizes differ
    results = list(compare_pairs(iter(pairs), device="gpu"))
    assert fake_gpu.fake.uploaded_bytes == sum(a.nbytes + b.nbytes for a, b in pairs)
    assert results[3].mismatch == "sizes differ: left is 72x40, right is 40x24" and results[3].different
    for (left, right), result in zip(pairs[:3], results[:3], strict=True):
        assert result.device == "gpu" and result.ssim_map is None
        single = compare(left, right, device="cpu")
        assert_same_regions(result.regions, single.regions)
        assert abs(result.score - single.score) <= 1e-12


def test_low_runs_on_the_gpu_whole_in_bands_and_in_batches_as_on_the_cpu(fake_gpu, monkeypatch):
    """'low' follows the pair's own noise on the device too: the CPU's regions, mask and score every way."""
    import imgdiff_gpu.gpu.analysis as analysis_gpu
    from imgdiff_gpu.detection import thresholds_for
    from imgdiff_gpu.pipeline import compare_batch

    pairs = [codec_noise_pair((72, 60), edited=True), edited_pair((72, 60), channels=3)]
    cpu = [compare(left, right, device="cpu", sensitivity="low") for left, right in pairs]
    fake_gpu.fake.launches.clear()
    whole = compare(*pairs[0], device="gpu", sensitivity="low")
    assert whole.device == "gpu" and whole.notes == [] and cpu[0].regions
    assert [name for name, _, _ in fake_gpu.fake.launches][-1] == "imgdiff_strength"
    assert_same_regions(whole.regions, cpu[0].regions)
    assert np.array_equal(whole.mask, cpu[0].mask) and abs(whole.score - cpu[0].score) <= 1e-12

    batch = compare_batch(*(np.stack(images) for images in zip(*pairs, strict=True)), device="gpu", sensitivity="low")
    for ours, theirs in zip(batch, cpu, strict=True):
        assert ours.device == "gpu"
        assert_same_regions(ours.regions, theirs.regions)
        assert abs(ours.score - theirs.score) <= 1e-12

    monkeypatch.setattr(analysis_gpu, "_SMALLEST_BAND", 16)
    row_bytes = 60 * (2 * 3 * 4 + 2 * 4 + 8 + 4 + 1 + 1)
    monkeypatch.setattr(analysis_gpu, "GPU_BUDGET_BYTES", row_bytes * (16 + 10))
    options = dict(ignore=None, antialiasing=False, min_area=40, merge_distance=8, keep_maps=True)
    banded = analysis_gpu.analyse_gpu(*pairs[0], thresholds_for("low"), **options)
    assert banded.notes == ["processed on the GPU in bands of 16 rows"]
    assert_same_regions(banded.regions, cpu[0].regions)
    assert np.array_equal(banded.mask, cpu[0].mask)


def test_hysteresis_on_the_device_keeps_what_the_cpus_keeps_for_any_core(fake_gpu):
    import cupy

    from imgdiff_gpu.detection import hysteresis
    from imgdiff_gpu.gpu.regions import hysteresis_gpu

    rng = np.random.default_rng(5)
    weak = rng.random((3, 40, 50)) < 0.45
    strong = weak & (rng.random(weak.shape) < 0.3)
    for min_core in (1, 2, 5, 12):
        batch = hysteresis_gpu(cupy.asarray(weak), cupy.asarray(strong), min_core).get()
        for i in range(len(weak)):
            expected = hysteresis(weak[i], strong[i], min_core)
            assert np.array_equal(
                hysteresis_gpu(cupy.asarray(weak[i]), cupy.asarray(strong[i]), min_core).get(), expected
            )
            assert np.array_equal(batch[i], expected), (min_core, i)
    assert hysteresis(weak[0], strong[0], 12).sum() < hysteresis(weak[0], strong[0], 1).sum()
