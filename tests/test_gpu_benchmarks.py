"""The GPU benchmark's Python parts (benchmarks/bench_gpu_pipeline.py), at tiny sizes.

On a GPU this is a quick end-to-end check of the script gpu_run.sh calls; without
one it runs on the emulated kernels, so the script's own logic cannot rot before a
GPU is at hand.
"""

from __future__ import annotations

import json

import pytest

from benchmarks import bench_gpu_pipeline

pytestmark = pytest.mark.gpu


def test_smoke_run_measures_both_devices_and_finds_the_same_regions(tmp_path):
    out = tmp_path / "pipeline.json"
    bench_gpu_pipeline.main(["--smoke", "--rounds", "1", "--out", str(out)])
    result = json.loads(out.read_text())
    assert result["gpu"] and result["compare_4k"]["same_regions"] is True
    assert result["compare_4k"]["score_difference"] <= 1e-12
    devices = [row["device"] for row in result["full_comparisons"]]
    assert devices == ["cpu", "gpu", "gpu, compare_pairs, staged", "gpu, compare_batch, resident"]
    assert result["full_comparisons"][3]["same_regions_as_cpu"] is True
    assert [row["size"] for row in result["peak_memory"]] == ["72x40", "48x48"]
    assert result["peak_memory"][1]["same_regions"] is True and result["peak_memory"][0]["peak_bytes"] > 0


def test_readme_table_is_written_between_the_markers(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"before\n{bench_gpu_pipeline.TABLE_START}\nold\n{bench_gpu_pipeline.TABLE_END}\nafter\n")
    ssim = {
        "gpu": "H100",
        "cpu": "EPYC",
        "date": "2026-11-26",
        "rows": [{"size": "4k", "setting": "gaussian", "gpu_s": 4e-4, "cucim_s": 9.8e-3, "gpu_vs_cucim": 24.5}],
        "gpu_batch": {"pairs_per_s": 21000.0},
    }
    video = {"decode_only_pairs_per_s": 200.0, "imgdiff_video_pairs_per_s": 170.0}
    paths = []
    for name, content in (("ssim", ssim), ("video", video)):
        (tmp_path / f"{name}.json").write_text(json.dumps(content))
        paths += [f"--{name}", str(tmp_path / f"{name}.json")]
    bench_gpu_pipeline.main(["--readme", *paths, "--readme-path", str(readme)])
    text = readme.read_text()
    assert text.startswith("before\n") and text.endswith("\nafter\n") and "old" not in text
    assert "| SSIM map + mean, 4K, vs cuCIM `structural_similarity` | >= 30x | 24.5x (0.40 ms vs 9.80 ms) |" in text
    assert "| 1080p H.264 video, share of decode-only speed | >= 80 % | 85% |" in text
    assert "21,000" in text


def test_the_readme_has_the_block_gpu_run_fills():
    text = bench_gpu_pipeline.README.read_text()
    assert text.count(bench_gpu_pipeline.TABLE_START) == 1 and text.count(bench_gpu_pipeline.TABLE_END) == 1


def test_pictures_ahead_runs_with_the_gpu_comparing(tmp_path, monkeypatch):
    # gpu_run.sh's measurement of the thread deflating ahead (job.deflating_ahead) beside the GPU's comparison
    from benchmarks import bench_pictures_ahead

    out = tmp_path / "ahead.json"
    argv = ["bench_pictures_ahead", "--device", "gpu", "--sizes", "64", "--repeat", "5", "--out", str(out)]
    monkeypatch.setattr("sys.argv", argv)
    bench_pictures_ahead.main()
    result = json.loads(out.read_text())
    assert result["device"] not in (None, "cpu")  # the GPU, by name
    assert set(result["median_s"]["64"]) == {"with the thread ahead", "without"}
