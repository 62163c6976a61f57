#!/usr/bin/env bash
# Everything that needs a GPU, in one call on a lent GPU machine (see the device tool):
#   run(command="bash benchmarks/gpu_run.sh", carry=[".whl"])
# The machine's image has CuPy, Numba, OpenCV, scikit-image, Pillow, click and tqdm; PyAV and
# cuCIM travel as wheels in .whl/ (cp312 manylinux x86_64: av, cucim-cu13 and its needs).
# Results land in $OUT (or ./gpu-results when run elsewhere).
set -uo pipefail
out="${OUT:-gpu-results}"
mkdir -p "$out"
if compgen -G ".whl/*.whl" > /dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    && export PYTHONPATH=/tmp/site
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$out/gpu.txt"
python3 -m pytest -q -p no:cacheprovider -m gpu tests/test_gpu.py 2>&1 | tee "$out/gpu-tests.log"
python3 benchmarks/bench_ssim.py --sizes 1080p,4k,8k --out "$out/ssim-gpu.json" 2>&1 | tee "$out/bench-ssim.log"
# video on the GPU against decoding alone (target: >= 80 % of decode only), with upload and full-comparison stages
python3 benchmarks/bench_video.py --device gpu --frames 300 --out "$out/video-gpu.json" 2>&1 | tee "$out/bench-video-gpu.log"
python3 -c "
import time, numpy as np
from skimage import data
from imgdiff_gpu.pipeline import compare
left = np.ascontiguousarray(np.tile(data.chelsea(), (8, 8, 1)))   # 2400 x 3608
right = left.copy(); right[1000:1040, 2000:2060] = 255
for device in ('cpu', 'gpu', 'gpu'):
    t = time.perf_counter(); r = compare(left, right, device=device); dt = time.perf_counter() - t
    print(device, f'{dt * 1000:.1f} ms', len(r.regions), r.notes)
" 2>&1 | tee "$out/compare.log"
