"""
camserve's benchmark suite: its options and the order of its work.

C{bench/run} is the entry point. The suite makes the frames and builds the
floor (L{scenarios.Bench.prepare}), runs every scenario on a fresh server
with camserve and the floor interleaved (L{scenarios}), then the checks
(L{checks}), and writes results.md, results.json and results.png to
C{--out} (L{report}, L{plot}); C{--publish} copies them into C{bench/}.
The modules, one job each:

  - L{servers}: starting camserve and the floor, and sampling them (the
    CPU-time clock, RSS, the machine's busy time);
  - L{scenarios}: the scenarios and one measured run with the load
    generator (C{bench/mjpeg_load.py}, which also runs on its own);
  - L{checks}: the cross-check, the idle check, the cold first frame, the
    default camera's CPU, the profile, and the targets;
  - L{profiling}: py-spy, its tables and the flame graph;
  - L{report}: the tables, and C{--publish};
  - L{plot}: the figure.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import resource
import time
from pathlib import Path

from checks import run_checks
from plot import plot
from profiling import profile_markdown
from report import machine_meta, publish, summarise
from scenarios import FULL, QUICK, SCENARIOS, Bench
from servers import BENCH, ROOT, VENV, log


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/run",
        description="camserve's benchmark suite: camserve beside the floor.",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a smoke run: 4 s windows, scenarios " + " ".join(QUICK),
    )
    parser.add_argument(
        "--scenarios",
        nargs="+",
        choices=list(SCENARIOS),
        help="which scenarios (default: all: " + " ".join(FULL) + ")",
    )
    parser.add_argument(
        "--seconds", type=float, help="measurement window (15; quick 4)"
    )
    parser.add_argument(
        "--warmup", type=float, help="seconds before the window, plus the ramp (3)"
    )
    parser.add_argument("--runs", type=int, default=2, help="runs of each scenario")
    parser.add_argument(
        "--out", type=Path, default=BENCH / "out", help="where results go (bench/out)"
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also run py-spy on camserve over a 300-viewer window",
    )
    parser.add_argument(
        "--no-floor", action="store_true", help="leave the floor out even if there"
    )
    parser.add_argument(
        "--no-checks",
        action="store_true",
        help=(
            "skip the cross-check, the idle check, the test pattern's first frame"
            " and the default camera's CPU"
        ),
    )
    parser.add_argument(
        "--publish",
        action="store_true",
        help="copy the plot to bench/results.png and the table into bench/README.md",
    )
    args = parser.parse_args(argv)
    if args.seconds is None:
        args.seconds = 4.0 if args.quick else 15.0
    if args.warmup is None:
        args.warmup = 2.0 if args.quick else 3.0
    args.out = args.out.resolve()
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    missing = [
        name
        for name, there in (
            ("matplotlib", importlib.util.find_spec("matplotlib") is not None),
            ("py-spy", not args.profile or (VENV / "py-spy").exists()),
        )
        if not there
    ]
    if missing:
        log(
            f"bench/run needs {' and '.join(missing)}:"
            " .venv/bin/pip install -r requirements-bench.txt"
        )
        return 2
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 65536)), hard))
    started = time.monotonic()
    bench = Bench(args)
    frames = bench.prepare()
    meta = machine_meta(frames)
    log(f"camserve {meta['git']} from {ROOT}; results in {args.out}")
    bench.measure()
    checks = run_checks(bench)
    markdown, summary = summarise(bench, checks, meta)
    plot(bench, args.out / "results.png")
    (args.out / "results.md").write_text(markdown)
    if "profile" in checks:
        (args.out / "profile-300.md").write_text(profile_markdown(checks["profile"]))
    elapsed = time.monotonic() - started
    meta["elapsed_s"] = round(elapsed)
    result = {
        "meta": meta,
        "floor": str(bench.floor) if bench.floor else bench.floor_note,
        "summary": summary,
        "checks": checks,
        "runs": bench.runs,
    }
    (args.out / "results.json").write_text(json.dumps(result, indent=1, default=str))
    print()
    print(markdown)
    if "profile" in checks:
        print(profile_markdown(checks["profile"]))
    log(
        f"wrote {args.out / 'results.md'}, results.json, results.png in {elapsed:.0f} s"
    )
    if args.publish:
        publish(args.out, markdown, checks.get("profile"))
    return 0
