#!/usr/bin/env bash
# Everything of issue 9 that needs a GPU, in one call on a lent GPU machine (see the device tool):
#   run(command="bash benchmarks/gpu_run.sh", carry=[".whl"])
# or, where one call may not last long enough (each call gets a fresh $OUT), stage by stage:
#   bash benchmarks/gpu_run.sh tests | ssim | pipeline | video | cluster   (default: all, then readme)
# and then, on any machine, the table from the JSON files that came back:
#   python benchmarks/bench_gpu_pipeline.py --readme --ssim S.json --video V.json --pipeline P.json
# The machine's image has CuPy, OpenCV, scikit-image, Pillow, click and tqdm; PyAV, cuCIM and
# dask-cuda travel as wheels in .whl/ (cp312 manylinux x86_64: av, cucim-cu13, isal, dask-cuda,
# nvidia-ml-py and their needs). The CPU core (a C extension) is built in place first, with
# the machine's own compiler and Python headers.
# Results land in $OUT (or ./gpu-results when run elsewhere), with README.md carrying the filled
# GPU table (between the gpu-table markers): copy it over the checkout's README to keep it.
#
# Measured here (issue 9, section 3), each against its reference in the same run:
#   - every gpu-marked test on the real GPU (parity with scikit-image and the CPU path, kernel mutations);
#   - SSIM map + mean at 4K against cuCIM, map error against scikit-image; 64 resident 1080p pairs in one
#     launch (bench_ssim.py);
#   - compare() end to end at 4K from host uint8 arrays, GPU and CPU interleaved; full comparisons of 64
#     1080p pairs; peak GPU memory for a 4K and a 20000 x 20000 pair, the latter checked against the CPU
#     (bench_gpu_pipeline.py); the pictures deflated ahead while the GPU compares, against none
#     (bench_pictures_ahead.py --device gpu);
#   - 1080p H.264 video on the GPU against decoding alone with the same decoder (bench_video.py);
#   - imgdiff batch --workers cuda (one Dask worker per GPU, dask-cuda) against the same batch in one
#     process: pairs.csv byte for byte (issue 11).
set -uo pipefail
stages="${*:-tests ssim pipeline video cluster readme}"
wants() { [[ " $stages " == *" $1 "* ]]; }
out="${OUT:-gpu-results}"
mkdir -p "$out"
if compgen -G ".whl/*.whl" > /dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    && export PYTHONPATH=/tmp/site
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
if [[ "$stages" != "readme" ]] && ! python3 -c "import imgdiff_gpu.cpu.compiled" 2>/dev/null; then
  python3 setup.py -q build_ext --inplace 2>&1 | tail -5 | tee "$out/build-core.log"
fi
if [[ "$stages" != "readme" ]]; then
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$out/gpu.txt"
  python3 -c "import cupy; assert cupy.cuda.runtime.getDeviceCount() > 0" || { echo "CuPy sees no GPU" >&2; exit 2; }
fi
wants tests && python3 -m pytest -q -p no:cacheprovider -m gpu 2>&1 | tee "$out/gpu-tests.log"
wants ssim && python3 benchmarks/bench_ssim.py --sizes 1080p,4k --out "$out/ssim-gpu.json" 2>&1 | tee "$out/bench-ssim.log"
wants pipeline && python3 benchmarks/bench_gpu_pipeline.py --rounds 5 --pairs 64 --huge 20000 \
  --out "$out/pipeline-gpu.json" 2>&1 | tee "$out/bench-pipeline.log"
# the pictures' rows deflated on the cores while the GPU compares (job.deflating_ahead), against none
wants pipeline && python3 benchmarks/bench_pictures_ahead.py --device gpu --sizes 1080p,4k --repeat 7 \
  --out "$out/pictures-ahead-gpu.json" 2>&1 | tee "$out/bench-pictures-ahead.log"
wants video && python3 benchmarks/bench_video.py --device gpu --frames 300 --out "$out/video-gpu.json" 2>&1 \
  | tee "$out/bench-video-gpu.log"
if wants cluster; then
  pairs=$(mktemp -d)
  mkdir -p "$pairs/left" "$pairs/right"
  for i in 1 2 3 4 5 6 7 8; do
    cp examples/left.png "$pairs/left/p$i.png"
    cp "examples/$([ $((i % 2)) -eq 0 ] && echo left || echo right).png" "$pairs/right/p$i.png"
  done
  { python3 -m imgdiff_gpu batch "$pairs/left" "$pairs/right" --out "$pairs/serial" -q --device gpu
    echo "one process: exit $? (1 expected: half the pairs differ)"
    python3 -m imgdiff_gpu batch "$pairs/left" "$pairs/right" --out "$pairs/cuda" -q --device gpu --workers cuda
    echo "--workers cuda: exit $? (1 expected)"
    cmp "$pairs/serial/pairs.csv" "$pairs/cuda/pairs.csv" && echo "pairs.csv identical: --workers cuda gives the serial answers"
  } 2>&1 | tee "$out/cluster-cuda.log"
fi
if wants readme; then
  cp README.md "$out/README.md"
  python3 benchmarks/bench_gpu_pipeline.py --readme --ssim "$out/ssim-gpu.json" --video "$out/video-gpu.json" \
    --pipeline "$out/pipeline-gpu.json" --readme-path "$out/README.md" 2>&1 | tee "$out/readme-table.md"
fi
