"""One pair of images, whole process: imgdiff beside odiff and pixelmatch.

Every number is the wall time of a whole command (start-up, decoding, the
comparison, writing), the median of interleaved runs after one warm-up round,
so that the load of a shared machine falls on every tool alike; each round
runs the commands in its own (seeded, shuffled) order, so that none always runs
after the same one. Ratios are
against odiff measured in this same run. Inputs are the bundled example pair
(``examples/left.png``, ``right.png``: a photograph with four edits) scaled to
each size with bicubic interpolation and written as PNG.

    python benchmarks/bench_one_pair.py [--sizes 64,1080p,4k] [--repeat 5] [--out PATH]

odiff (npm ``odiff-bin``) and pixelmatch (npm ``pixelmatch``) are looked for
under ``--npm-tools`` (default: ``$IMGDIFF_NPM_TOOLS``, else ``.npm-tools/`` in
the checkout, else ``~/.cache/imgdiff-bench/npm``); install them with

    npm install --prefix .npm-tools odiff-bin pixelmatch

A tool that is not installed is skipped with a message. imgdiff runs from this
checkout, on the CPU (``--device cpu``), with the Python running this script;
``--baseline DIR`` also times the imgdiff of another checkout (say, the commit
before a change) in the same interleaved rounds. Each checkout's package is
compiled to bytecode first, as ``pip install`` does, so that no run compiles
the package's sources (30-50 ms a run where PYTHONDONTWRITEBYTECODE is set).

The floor row is Python importing what every imgdiff run must (NumPy, with
OpenBLAS held to one thread as ``imgdiff`` holds it, and click; OpenCV only
where pictures are drawn) and nothing else, then ending as imgdiff ends
(``os._exit``, no teardown): no imgdiff run can be faster than that.

Each round also runs one ``imgdiff compare --out DIR`` per size with marks at
each stage (``--no-stages`` skips it): start-up to the first read of LEFT,
decoding both images beside the warm-up, the analysis (the process's first
call), the pictures, the report and page, the commit, the exit; wall and CPU
seconds and minor page faults of each, medians printed and kept in the JSON
(``stages_of_a_cold_out_run``); with ``--baseline``, the baseline's too, in the
same rounds (``baseline_stages_of_a_cold_out_run``), and the analysis's ratios.
"""

from __future__ import annotations

import argparse
import compileall
import datetime as dt
import json
import os
import platform
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parents[1]
SIZES = {"64": (64, 64), "1080p": (1080, 1920), "4k": (2160, 3840)}
IMGDIFF = [sys.executable, "-c", "from imgdiff_gpu.cli import main; main()"]
# ended as imgdiff ends (cli.main), without the interpreter's teardown
FLOOR = [sys.executable, "-c", "import os; os.environ['OPENBLAS_NUM_THREADS'] = '1'; import numpy, click; os._exit(0)"]
# Stops the process when it first opens LEFT: the time to that point is the
# start-up before the first pixel is read (imports, option parsing, checks).
UNTIL_FIRST_READ = (
    "import os, sys, time\n"
    "target = os.path.abspath(sys.argv[3])\n"
    "def hook(event, args):\n"
    "    if event == 'open' and isinstance(args[0], str) and os.path.abspath(args[0]) == target:\n"
    "        sys.stderr.write(f'first-read {time.monotonic()} {time.process_time()}\\n'); os._exit(0)\n"
    "sys.addaudithook(hook)\n"
    "from imgdiff_gpu.cli import main; main()\n"
)

# Marks the stages of one `compare --out` run on stderr (monotonic clock, process CPU, minor page
# faults): the first read of LEFT (start-up done), the analysis called and returned (between the two
# reads: decoding both images beside the warm-up), the pictures drawn and encoded, the outputs committed.
STAGED = (
    "import os, resource, sys, time\n"
    "def mark(name):\n"
    "    u = resource.getrusage(resource.RUSAGE_SELF)\n"
    "    sys.stderr.write(f'stage {name} {time.monotonic()} {u.ru_utime + u.ru_stime} {u.ru_minflt}\\n')\n"
    "target = os.path.abspath(sys.argv[2])\n"
    "seen = []\n"
    "def hook(event, args):\n"
    "    if not seen and event == 'open' and isinstance(args[0], str) and os.path.abspath(args[0]) == target:\n"
    "        seen.append(1); mark('first-read')\n"
    "sys.addaudithook(hook)\n"
    "import imgdiff_gpu.job as job, imgdiff_gpu.outputs as outputs\n"
    "def timed(function, before, after):\n"
    "    def wrapper(*args, **kwargs):\n"
    "        mark(before)\n"
    "        try:\n"
    "            return function(*args, **kwargs)\n"
    "        finally:\n"
    "            mark(after)\n"
    "    return wrapper\n"
    "def timed_generator(function, before, after):\n"
    "    def wrapper(*args, **kwargs):\n"
    "        mark(before); yield from function(*args, **kwargs); mark(after)\n"
    "    return wrapper\n"
    "job.compare_with = timed(job.compare_with, 'analysis-start', 'analysis-end')\n"
    "job.encoded_pictures = timed_generator(job.encoded_pictures, 'pictures-start', 'pictures-end')\n"
    "outputs.Outputs.commit = timed(outputs.Outputs.commit, 'write-start', 'write-end')\n"
    "from imgdiff_gpu.cli import main; main()\n"
)
# (stage, from mark, to mark); 'start' is the spawn, 'end' the parent seeing the process end
STAGES = (
    ("start-up to the first read (Python, imports, options)", "start", "first-read"),
    ("decoding both images beside the warm-up", "first-read", "analysis-start"),
    ("analysis (first call of the process)", "analysis-start", "analysis-end"),
    ("pictures drawn and encoded", "pictures-start", "pictures-end"),
    ("report and page", "pictures-end", "write-start"),
    ("outputs written (commit)", "write-start", "write-end"),
    ("exit", "write-end", "end"),
)


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return f"{line.split(':', 1)[1].strip()} ({os.cpu_count()} logical cores)"
    except OSError:
        pass
    return f"{platform.processor() or platform.machine()} ({os.cpu_count()} logical cores)"


def npm_tools_folder(given: str | None) -> Path:
    for candidate in (given, os.environ.get("IMGDIFF_NPM_TOOLS"), ROOT / ".npm-tools"):
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    return Path.home() / ".cache" / "imgdiff-bench" / "npm"


def find_odiff(tools: Path) -> list[str] | None:
    """odiff's native binary (its npm wrapper would add Node's start-up to every run)."""
    natives = sorted((tools / "node_modules" / "@odiff").glob("*/odiff"))
    if natives:
        return [str(natives[0])]
    wrapper = tools / "node_modules" / ".bin" / "odiff"
    return [str(wrapper)] if wrapper.exists() else None


def find_pixelmatch(tools: Path) -> list[str] | None:
    script = tools / "node_modules" / "pixelmatch" / "bin" / "pixelmatch"
    node = shutil.which("node")
    return [node, str(script)] if script.exists() and node else None


def make_inputs(folder: Path, sizes: list[str]) -> dict[str, tuple[Path, Path]]:
    import cv2

    left = cv2.imread(str(ROOT / "examples" / "left.png"))
    right = cv2.imread(str(ROOT / "examples" / "right.png"))
    pairs = {}
    for name in sizes:
        height, width = SIZES[name]
        paths = (folder / f"{name}-left.png", folder / f"{name}-right.png")
        for image, path in zip((left, right), paths, strict=True):
            cv2.imwrite(str(path), cv2.resize(image, (width, height), interpolation=cv2.INTER_CUBIC))
        pairs[name] = paths
    return pairs


class Run(NamedTuple):
    command: list[str]
    env: dict
    cwd: Path | None = None


def from_checkout(command: list[str], checkout: Path) -> Run:
    """``command`` run with imgdiff imported from ``checkout``.

    Run from the checkout itself: ``python -c`` puts the working folder first on
    sys.path, ahead of PYTHONPATH, so from anywhere else in a checkout it would
    import that one instead.
    """
    path = os.pathsep.join(filter(None, [str(checkout), os.environ.get("PYTHONPATH")]))
    return Run(command, dict(os.environ, PYTHONPATH=path), checkout)


def commands(
    tools: dict[str, list[str] | None], left: Path, right: Path, out: Path, baseline: Path | None
) -> dict[str, Run]:
    """The commands timed for one pair, by row name; each writes into ``out``."""
    rows = {}
    if tools["odiff"]:
        rows["odiff, writes its diff image"] = [*tools["odiff"], str(left), str(right), str(out / "diff.png")]
        rows["odiff, report only"] = [*tools["odiff"], str(left), str(right)]
    if tools["pixelmatch"]:
        rows["pixelmatch, writes its diff image"] = [*tools["pixelmatch"], str(left), str(right), str(out / "diff.png")]
    rows["floor: Python importing NumPy and click"] = FLOOR
    rows = {row: Run(command, dict(os.environ)) for row, command in rows.items()}
    compare = [*IMGDIFF, "compare", str(left), str(right), "--device", "cpu"]
    for checkout, label in ((ROOT, "imgdiff"), (baseline, "baseline")):
        if checkout is not None:
            rows[f"{label} compare --json - (report only)"] = from_checkout([*compare, "--json", "-"], checkout)
            rows[f"{label} compare --out DIR (pictures)"] = from_checkout(
                [*compare, "--out", str(out / "imgdiff")], checkout
            )
    return rows


def cpu_seconds_of_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def check_imports_from(checkout: Path) -> None:
    """Fail unless imgdiff runs from ``checkout`` (an installed copy could shadow it)."""
    run = from_checkout([sys.executable, "-c", "import imgdiff_gpu; print(imgdiff_gpu.__file__)"], checkout)
    found = Path(subprocess.run(run.command, env=run.env, cwd=run.cwd, capture_output=True, text=True).stdout.strip())
    if checkout.resolve() not in found.resolve().parents:
        raise SystemExit(f"imgdiff_gpu imports from {found}, not from {checkout}")
    if not compileall.compile_dir(found.parent, quiet=1):
        raise SystemExit(f"cannot compile {found.parent} to bytecode")


def run_once(run: Run, out: Path) -> tuple[float, float]:
    """Wall and CPU (user + system, all threads) seconds of one run."""
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    cpu = cpu_seconds_of_children()
    start = time.perf_counter()
    done = subprocess.run(
        run.command, env=run.env, cwd=run.cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    wall_and_cpu = time.perf_counter() - start, cpu_seconds_of_children() - cpu
    if done.returncode not in (0, 1, 22, 66):  # same / different (odiff: 22, pixelmatch: 66)
        raise RuntimeError(f"{run.command[:3]} ... exited {done.returncode}: {done.stderr.strip()[-500:]}")
    return wall_and_cpu


def until_first_read(left: Path, right: Path, out: Path, checkout: Path) -> tuple[float, float]:
    """Wall and CPU seconds from the start of imgdiff to its opening LEFT."""
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    command = [sys.executable, "-c", UNTIL_FIRST_READ, "compare", str(left), str(right), "--device", "cpu"]
    start = time.monotonic()
    run = from_checkout([*command, "--json", "-"], checkout)
    done = subprocess.run(run.command, env=run.env, cwd=run.cwd, capture_output=True, text=True)
    for line in done.stderr.splitlines():
        if line.startswith("first-read "):
            return float(line.split()[1]) - start, float(line.split()[2])
    raise RuntimeError(f"the first read of {left} was not seen: {done.stderr.strip()[-500:]}")


def staged_run(left: Path, right: Path, out: Path, checkout: Path) -> dict[str, tuple[float, float, int]]:
    """Wall seconds, CPU seconds and minor page faults of each of :data:`STAGES` in one ``--out`` run."""
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    command = [sys.executable, "-c", STAGED, "compare", str(left), str(right), "--device", "cpu"]
    run = from_checkout([*command, "--out", str(out / "imgdiff")], checkout)
    start = time.monotonic()
    done = subprocess.run(run.command, env=run.env, cwd=run.cwd, capture_output=True, text=True)
    marks = {"start": (start, 0.0, 0), "end": (time.monotonic(), None, None)}
    for line in done.stderr.splitlines():
        if line.startswith("stage "):
            _, name, at, cpu, faults = line.split()
            marks[name] = (float(at), float(cpu), int(faults))
    if done.returncode not in (0, 1) or any(a not in marks or b not in marks for _, a, b in STAGES):
        raise RuntimeError(f"a staged run did not pass every stage: {done.stderr.strip()[-500:]}")
    stages = {}
    for stage, first, last in STAGES:
        (t0, c0, f0), (t1, c1, f1) = marks[first], marks[last]
        stages[stage] = (t1 - t0, 0.0 if c1 is None else c1 - c0, 0 if f1 is None else f1 - f0)
    return stages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="64,1080p,4k", help="comma-separated, of " + ", ".join(SIZES))
    parser.add_argument("--repeat", type=int, default=5, help="timed rounds (median reported); at least 5")
    parser.add_argument("--npm-tools", help="folder where odiff-bin and pixelmatch are npm-installed")
    parser.add_argument("--baseline", type=Path, help="another checkout whose imgdiff is timed alongside")
    parser.add_argument(
        "--no-stages", dest="stages", action="store_false", help="skip the per-stage breakdown of a cold --out run"
    )
    parser.add_argument("--out", type=Path, help="JSON results (default benchmarks/results/one-pair-DATE-cpu.json)")
    args = parser.parse_args()
    sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
    unknown = set(sizes) - set(SIZES)
    if unknown:
        parser.error(f"unknown sizes {sorted(unknown)}; choose from {list(SIZES)}")
    if args.repeat < 5:
        parser.error("--repeat must be at least 5: a median of fewer runs on a shared machine is noise")

    if args.baseline is not None:
        args.baseline = args.baseline.resolve()
    for checkout in filter(None, (ROOT, args.baseline)):
        check_imports_from(checkout)
    folder = npm_tools_folder(args.npm_tools)
    tools = {"odiff": find_odiff(folder), "pixelmatch": find_pixelmatch(folder)}
    for name, package in (("odiff", "odiff-bin"), ("pixelmatch", "pixelmatch")):
        if tools[name] is None:
            print(f"skipping {name}: not found under {folder} (npm install --prefix {folder} {package})")

    with tempfile.TemporaryDirectory(prefix="bench-one-pair-") as temp:
        temp = Path(temp)
        pairs = make_inputs(temp, sizes)
        out = temp / "out"
        plan = {size: commands(tools, *pairs[size], out, args.baseline) for size in sizes}
        times: dict[str, dict[str, list[float]]] = {size: {row: [] for row in plan[size]} for size in sizes}
        cpu_times: dict[str, dict[str, list[float]]] = {size: {row: [] for row in plan[size]} for size in sizes}
        first_read: dict[str, list[float]] = {}
        first_read_cpu: dict[str, list[float]] = {}
        staged: dict[str, list[dict]] = {size: [] for size in sizes}
        staged_baseline: dict[str, list[dict]] = {size: [] for size in sizes}
        for round_ in range(args.repeat + 1):  # round 0 warms up (the page cache)
            for size in sizes:
                # each round in its own order, so that no row always comes after the same one: at 4K
                # the same imgdiff run took 1.6x the CPU right after pixelmatch's (a large Node heap,
                # just freed) as after another imgdiff, and a run one later still paid
                rows = list(plan[size].items())
                random.Random(round_).shuffle(rows)
                for row, run in rows:
                    seconds, cpu = run_once(run, out)
                    if round_:
                        times[size][row].append(seconds)
                        cpu_times[size][row].append(cpu)
                if args.stages:
                    # the baseline's cold run too, first in every other round
                    checkouts = [(ROOT, staged), (args.baseline, staged_baseline)][:: 1 if round_ % 2 else -1]
                    for checkout, into in checkouts:
                        if checkout is not None:
                            stages = staged_run(*pairs[size], out, checkout)
                            if round_:
                                into[size].append(stages)
            for checkout, label in ((ROOT, "imgdiff"), (args.baseline, "baseline")):
                if checkout is not None:
                    seconds, cpu = until_first_read(*pairs[sizes[0]], out, checkout)
                    if round_:
                        first_read.setdefault(label, []).append(seconds)
                        first_read_cpu.setdefault(label, []).append(cpu)

    medians = {size: {row: statistics.median(v) for row, v in times[size].items()} for size in sizes}
    cpu_medians = {size: {row: statistics.median(v) for row, v in cpu_times[size].items()} for size in sizes}
    first_read_medians = {label: statistics.median(v) for label, v in first_read.items()}
    first_read_cpu_medians = {label: statistics.median(v) for label, v in first_read_cpu.items()}
    report(medians, cpu_medians, first_read_medians, first_read_cpu_medians, sizes, args.repeat)
    stage_medians, baseline_stage_medians = (
        {
            size: {
                stage: [statistics.median(run[stage][k] for run in runs[size]) for k in range(3)]
                for stage, _, _ in STAGES
            }
            for size in sizes
            if runs[size]
        }
        for runs in (staged, staged_baseline)
    )
    if stage_medians:
        report_stages(stage_medians, args.repeat)
    if baseline_stage_medians:
        report_stages(baseline_stage_medians, args.repeat, label="baseline")
        for size in baseline_stage_medians:
            ours, theirs = stage_medians[size][STAGES[2][0]], baseline_stage_medians[size][STAGES[2][0]]
            print(
                f"{size} analysis / baseline's: wall {ours[0] / theirs[0]:.2f}x, CPU {ours[1] / theirs[1]:.2f}x, "
                f"page faults {ours[2] / theirs[2]:.2f}x"
            )
    result = {
        "date": dt.date.today().isoformat(),
        "cpu": cpu_name(),
        "python": platform.python_version(),
        "repeat": args.repeat,
        "inputs": "examples/left.png and right.png scaled bicubically, PNG",
        "sizes": {size: list(SIZES[size]) for size in sizes},
        "load_average_at_end": os.getloadavg()[0],
        "baseline": str(args.baseline) if args.baseline else None,
        "startup_to_first_read_s": first_read_medians,
        "startup_to_first_read_cpu_s": first_read_cpu_medians,
        "median_s": medians,
        "median_cpu_s": cpu_medians,
        "stages_of_a_cold_out_run": {
            size: {stage: dict(zip(("wall_s", "cpu_s", "minor_faults"), v, strict=True)) for stage, v in t.items()}
            for size, t in stage_medians.items()
        },
        "baseline_stages_of_a_cold_out_run": {
            size: {stage: dict(zip(("wall_s", "cpu_s", "minor_faults"), v, strict=True)) for stage, v in t.items()}
            for size, t in baseline_stage_medians.items()
        },
        "runs_s": times,
        "runs_cpu_s": cpu_times,
    }
    path = args.out or ROOT / "benchmarks" / "results" / f"one-pair-{result['date']}-cpu.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nwrote {path}")


def report_stages(stage_medians: dict, repeat: int, label: str = "imgdiff") -> None:
    sizes = list(stage_medians)
    print(f"\nstages of one cold `{label} compare --out DIR` run (median of {repeat}): wall s / CPU s / page faults\n")
    print("| stage | " + " | ".join(sizes) + " |")
    print("|---|" + "---|" * len(sizes))
    for stage, _, _ in STAGES:
        cells = []
        for size in sizes:
            wall, cpu, faults = stage_medians[size][stage]
            cells.append(f"{wall:.3f} / {cpu:.3f} / {faults:.0f}" if stage != STAGES[-1][0] else f"{wall:.3f}")
        print(f"| {stage} | " + " | ".join(cells) + " |")


def report(
    medians: dict, cpu_medians: dict, first_read: dict[str, float], first_read_cpu: dict[str, float], sizes, repeat
) -> None:
    load = os.getloadavg()[0]
    print(f"CPU: {cpu_name()}; load average {load:.1f}; whole process, median of {repeat} interleaved runs")
    for title, table in (("wall time", medians), ("CPU time, user + system, all threads", cpu_medians)):
        print(f"\n{title}\n")
        print("| command | " + " | ".join(sizes) + " |")
        print("|---|" + "---|" * len(sizes))
        for row in table[sizes[0]]:
            print(f"| {row} | " + " | ".join(f"{table[s][row]:.3f} s" for s in sizes) + " |")
    print()
    for label, seconds in first_read.items():
        print(f"{label}: start-up to the first read of LEFT: {seconds:.3f} s ({first_read_cpu[label]:.3f} s CPU)")
    pairs = [
        ("imgdiff compare --out DIR (pictures)", "odiff, writes its diff image"),
        ("imgdiff compare --json - (report only)", "odiff, report only"),
        ("imgdiff compare --out DIR (pictures)", "baseline compare --out DIR (pictures)"),
        ("imgdiff compare --json - (report only)", "baseline compare --json - (report only)"),
        ("imgdiff compare --json - (report only)", "floor: Python importing NumPy and click"),
    ]
    for ours, theirs in pairs:
        if theirs in medians[sizes[0]]:
            ratios = ", ".join(f"{s} {medians[s][ours] / medians[s][theirs]:.2f}x" for s in sizes)
            cpu_ratios = ", ".join(f"{s} {cpu_medians[s][ours] / cpu_medians[s][theirs]:.2f}x" for s in sizes)
            print(f"{ours} / {theirs}: wall {ratios}; CPU {cpu_ratios}")


if __name__ == "__main__":
    main()
