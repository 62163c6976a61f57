"""Huge image pairs on the CPU: peak memory and time of ``imgdiff compare``, in bands and whole.

Each number is one whole ``imgdiff compare LEFT RIGHT --json FILE --device cpu``
in a fresh process: its peak resident set (``wait4``'s ``ru_maxrss``), its wall
time, and a trace of its resident set sampled every 0.2 s, which shows where
the peak falls (decoding, the bands, the regions). Inputs are the bundled
example pair (``examples/left.png``, ``right.png``: a photograph with four
edits) scaled to SIDE x SIDE with bicubic interpolation and written as PNG
into ``--cache`` once.

At ``--reference-side`` (default 6000, which the whole-image analysis can
hold) the pair runs both ways, in bands (the default budget) and whole (the
budget lifted), and the two reports must agree on the score, the threshold
and every region; at ``--side`` (default 20000) it runs in bands only: whole,
it would need about 45 bytes a pixel beyond the decoded inputs (18 GB).

    python benchmarks/bench_huge.py [--side 20000] [--reference-side 6000] [--pictures] [--out PATH]

``--pictures`` also writes the pictures (``--out``) at the reference side, both
ways, and checks they are byte for byte the same; at ``--side`` the one run
then writes the pictures too (its report and its five PNGs), and their sizes
are recorded.

``--reference-height`` makes the reference pair that many rows high (a height
that is no multiple of 4, say), ``--sensitivity`` is passed to ``imgdiff compare``,
``--only-reference`` skips the ``--side`` run, and ``--before PATH`` also runs the
reference pair, with the default budget, from another checkout (an older commit,
its C core built) -- what a release before this one did with the pair:

    python benchmarks/bench_huge.py --reference-side 8002 --reference-height 8003 --sensitivity low \
        --only-reference --before /tmp/old-checkout --out PATH

A 20000 x 20000 pair takes about 10 minutes on a busy 2-core machine, most
of it decoding; run it rarely.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GIB = 2**30
WHOLE = "import imgdiff_gpu.cpu.bands as bands\nbands.CPU_BUDGET_BYTES = 2**62\n"
CLI = "from imgdiff_gpu.cli import main\nmain()\n"


def machine() -> str:
    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / GIB
    return f"{cpu}, {os.cpu_count()} cores, {memory:.0f} GiB, {platform.system()} {platform.release()}"


def build_pair(side: int, cache: Path, height: int | None = None) -> tuple[Path, Path]:
    """The example pair scaled to side x side (or side wide, ``height`` high; bicubic), written once as PNG."""
    import cv2

    cache.mkdir(parents=True, exist_ok=True)
    height = side if height is None else height
    paths = []
    for name in ("left", "right"):
        path = cache / (f"{name}-{side}.png" if height == side else f"{name}-{side}x{height}.png")
        if not path.exists():
            image = cv2.imread(str(ROOT / "examples" / f"{name}.png"))
            scaled = cv2.resize(image, (side, height), interpolation=cv2.INTER_CUBIC)
            partial = path.with_suffix(".partial.png")
            if not cv2.imwrite(str(partial), scaled, [cv2.IMWRITE_PNG_COMPRESSION, 1]):
                raise SystemExit(f"could not write {partial}")
            partial.rename(path)
            del scaled
        paths.append(path)
    return paths[0], paths[1]


def run_compare(
    left: Path,
    right: Path,
    report: Path,
    *,
    whole: bool,
    pictures: Path | None = None,
    options: tuple[str, ...] = (),
    tree: Path = ROOT,
) -> dict:
    """One ``imgdiff compare`` in a fresh process: peak RSS, wall time, exit status, RSS trace.

    With ``pictures``, the pictures are written into that folder too (``--out``). ``options``:
    more of the command's options; ``tree``: the checkout whose imgdiff runs.
    """
    command = [sys.executable, "-c", (WHOLE if whole else "") + CLI]
    command += ["compare", str(left), str(right), "--json", str(report), "--device", "cpu", "--overwrite", "-q"]
    command += list(options)
    if pictures is not None:
        command += ["--out", str(pictures)]
    trace: list[tuple[float, float]] = []
    start = time.monotonic()
    child = subprocess.Popen(command, cwd=tree, env=dict(os.environ, PYTHONPATH=str(tree)), stderr=subprocess.PIPE)
    done = threading.Event()

    def sample() -> None:
        status = Path(f"/proc/{child.pid}/status")
        while not done.is_set():
            try:
                for line in status.read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        trace.append((round(time.monotonic() - start, 1), int(line.split()[1]) / 2**20))
            except OSError:
                return
            done.wait(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.monotonic() - start
    done.set()
    sampler.join()
    stderr = child.stderr.read().decode(errors="replace").strip()
    child.stderr.close()
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):
        raise SystemExit(f"imgdiff compare failed ({code}): {stderr}")
    result = json.loads(report.read_text())
    return {
        "peak_rss_gib": round(usage.ru_maxrss / 2**20, 3),
        "seconds": round(seconds, 1),
        "exit_status": code,
        "score": result["score"],
        "ssim_threshold": result["ssim_threshold"],
        "regions": result["regions"],
        "notes": result.get("notes", []),
        "rss_trace_gib": trace[:: max(1, len(trace) // 200)],
    }


def summary(label: str, run: dict) -> str:
    return (
        f"{label:<28} peak RSS {run['peak_rss_gib']:6.2f} GiB   {run['seconds']:7.1f} s   "
        f"score {run['score']:.6f}   {len(run['regions'])} regions"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--side", type=int, default=20000)
    parser.add_argument("--reference-side", type=int, default=6000)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/imgdiff-huge"))
    parser.add_argument("--out", type=Path, help="Write the results here as JSON.")
    parser.add_argument(
        "--pictures", action="store_true", help="Also write the pictures (--out) at the reference side, both ways."
    )
    parser.add_argument("--reference-height", type=int, help="Rows of the reference pair (default: its side).")
    parser.add_argument("--sensitivity", help="imgdiff compare's --sensitivity (default: its own).")
    parser.add_argument("--only-reference", action="store_true", help="Skip the run at --side.")
    parser.add_argument("--before", type=Path, help="Also run the reference pair from this checkout (default budget).")
    args = parser.parse_args()

    print(f"machine: {machine()}")
    results = {"machine": machine(), "date": dt.date.today().isoformat(), "runs": {}}
    options = () if args.sensitivity is None else ("--sensitivity", args.sensitivity)
    results["options"] = list(options)
    left, right = build_pair(args.reference_side, args.cache, args.reference_height)
    height = args.reference_side if args.reference_height is None else args.reference_height
    side = f"{args.reference_side}" if height == args.reference_side else f"{args.reference_side}x{height}"
    label = f"{args.reference_side}x{height}"
    if args.before is not None:
        report = args.cache / f"before-{side}.json"
        before = run_compare(left, right, report, whole=False, options=options, tree=args.before)
        print(summary(f"{label} before", before))
        results["runs"][f"{side}-before"] = before
        results["before_tree"] = str(args.before)
    banded = run_compare(left, right, args.cache / f"banded-{side}.json", whole=False, options=options)
    whole = run_compare(left, right, args.cache / f"whole-{side}.json", whole=True, options=options)
    same = all(banded[key] == whole[key] for key in ("score", "ssim_threshold", "regions"))
    print(summary(f"{label} in bands", banded))
    print(summary(f"{label} whole", whole))
    print(
        f"{'':<28} bands / whole: RSS {banded['peak_rss_gib'] / whole['peak_rss_gib']:.2f}x, "
        f"time {banded['seconds'] / whole['seconds']:.2f}x; same score, threshold and regions: {same}"
    )
    if args.before is not None:
        same_before = all(banded[key] == before[key] for key in ("score", "ssim_threshold", "regions"))
        print(
            f"{'':<28} bands / before: RSS {banded['peak_rss_gib'] / before['peak_rss_gib']:.2f}x, "
            f"time {banded['seconds'] / before['seconds']:.2f}x; same score, threshold and regions: {same_before}"
        )
    results["runs"][f"{side}-banded"], results["runs"][f"{side}-whole"] = banded, whole
    if not same:
        raise SystemExit("the banded and the whole-image reports differ")
    if args.pictures:
        folders = {way: args.cache / f"pictures-{way}-{side}" for way in ("banded", "whole")}
        runs = {
            way: run_compare(left, right, args.cache / f"{way}-{side}-pictures.json", whole=way == "whole", pictures=f)
            for way, f in folders.items()
        }
        names = sorted(path.name for path in folders["whole"].glob("*.png"))
        identical = bool(names) and all(
            (folders["banded"] / name).read_bytes() == (folders["whole"] / name).read_bytes() for name in names
        )
        for way, run in runs.items():
            print(summary(f"{label} {way}, pictures", run))
            results["runs"][f"{side}-{way}-pictures"] = run
        print(f"{'':<28} pictures {', '.join(names)} byte for byte the same: {identical}")
        if not identical:
            raise SystemExit("the banded and the whole-image pictures differ")

    if args.only_reference:
        if args.out:
            args.out.write_text(json.dumps(results, indent=1) + "\n")
            print(f"written to {args.out}")
        return
    left, right = build_pair(args.side, args.cache)
    folder = args.cache / f"pictures-banded-{args.side}" if args.pictures else None
    huge = run_compare(left, right, args.cache / f"banded-{args.side}.json", whole=False, pictures=folder)
    label = f"{args.side}-banded" + ("-pictures" if args.pictures else "")
    if folder is not None:
        huge["pictures_bytes"] = {path.name: path.stat().st_size for path in sorted(folder.glob("*.png"))}
    print(summary(f"{args.side}x{args.side} in bands" + (", pictures" if args.pictures else ""), huge))
    results["runs"][label] = huge
    if args.out:
        args.out.write_text(json.dumps(results, indent=1) + "\n")
        print(f"written to {args.out}")


if __name__ == "__main__":
    main()
