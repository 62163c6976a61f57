"""How many of a clip's pairs the video screen clears, per installation, and whether each is right.

The screen (``imgdiff_gpu/screening.py``) is a gate: a pair it clears reports the
SSIM score and no regions, and any other pair goes to the full comparison. A
cheaper screen that clears fewer pairs can cost more than it saves, so this
counts, for each installation (``PYTHON:CHECKOUT``, a fresh process each) and
clip, the pairs it clears when it screens every pair (no pauses), at the video
command's defaults (``low``). With ``--check``, each pair it clears is also
compared in full, and any with a region or another score is listed as wrong.

    python -m benchmarks.screen_clears --installation before=/work/venv/bin/python:/old/checkout \\
        --installation after=... [--check] [--pairs 120] [--out PATH] CLIP_DIR [CLIP_DIR ...]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
from pathlib import Path

from benchmarks.bench_ssim import cpu_name
from benchmarks.bench_video_versions import named_installations

# Runs in the installation under test; prints one JSON line per clip.
COUNT = r"""
import json, sys
from pathlib import Path
import av
from imgdiff_gpu.options import CompareOptions
from imgdiff_gpu.pipeline import compare
from imgdiff_gpu.screening import FrameScreen

check, limit, clips = sys.argv[1] == "check", int(sys.argv[2]), sys.argv[3:]
options = CompareOptions(device="cpu", sensitivity="low")

def frames(path):
    with av.open(str(path)) as container:
        for frame in container.decode(container.streams.video[0]):
            yield frame.to_ndarray(format="rgb24")

for clip in map(Path, clips):
    screen, pairs, cleared, wrong = None, 0, [], []
    for index, (left, right) in enumerate(zip(frames(next(clip.glob("a.*"))), frames(next(clip.glob("b.*"))))):
        if index >= limit:
            break
        screen = screen or FrameScreen(left.shape[:2], options.thresholds())
        score = screen.measure(left, right)
        pairs += 1
        if score is not None:
            cleared.append(index)
            if check:
                full = compare(left, right, device="cpu", sensitivity="low")
                if full.regions or full.score != score:
                    wrong.append(index)
    print(json.dumps({"clip": clip.name, "pairs": pairs, "cleared": cleared, "wrong": wrong if check else None}))
"""


def count(python: str, checkout: Path, clips: list[Path], limit: int, check: bool) -> list[dict]:
    env = {**os.environ, "PYTHONPATH": str(checkout), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [python, "-c", COUNT, "check" if check else "count", str(limit), *map(str, clips)],
        cwd=checkout,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("clips", type=Path, nargs="+", help="folders with a.* and b.* (benchmarks/video_set.py)")
    parser.add_argument("--installation", action="append", required=True, metavar="NAME=PYTHON:CHECKOUT")
    parser.add_argument("--pairs", type=int, default=120)
    parser.add_argument("--check", action="store_true", help="compare every cleared pair in full too")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    counts = {
        name: count(python, home, args.clips, args.pairs, args.check)
        for name, (python, home) in named_installations(args.installation).items()
    }
    print(f"CPU: {cpu_name()}; pairs the screen clears (every pair screened, low)")
    print(f"{'clip':<62}" + "".join(f"{name:>12}" for name in counts))
    for i, clip in enumerate(args.clips):
        cells = []
        for these in counts.values():
            row = these[i]
            wrong = f", {len(row['wrong'])} wrong" if row["wrong"] else ""
            cells.append(f"{len(row['cleared']):>5}/{row['pairs']:<4}{wrong}")
        print(f"{clip.name:<62}" + "".join(f"{cell:>12}" for cell in cells))
    if args.out:
        args.out.write_text(json.dumps({"cpu": cpu_name(), "check": args.check, "clips": counts}, indent=2) + "\n")
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
