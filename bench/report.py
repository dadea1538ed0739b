"""
results.md and the README's tables; the run's description; C{--publish}.

L{summarise} writes the scenarios' table (camserve beside the floor), the
check table (L{checks.verdicts}), the cross-check of the load generators,
the default camera's CPU and the notes that explain the figures;
L{machine_meta} says what was measured on what; L{publish} copies the plot
and profile into C{bench/} and the tables into C{bench/README.md} between
its C{<!-- results:begin -->} and C{<!-- profile:begin -->} markers.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import time
from typing import TYPE_CHECKING, Any

from checks import verdicts
from profiling import profile_markdown
from scenarios import SCENARIOS, Bench, both, grouped
from servers import BENCH, FPS, ROOT, VENV, log

if TYPE_CHECKING:
    from pathlib import Path


def summarise(
    bench: Bench, checks: dict[str, Any], meta: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    """results.md's text, and its figures for results.json."""
    summary: dict[str, Any] = {"rows": []}
    table = scenario_table(bench, summary)
    facts = verdicts(bench, checks, summary)
    check_lines = ["| check | measured | target |", "|---|---|---|"]
    check_lines += [f"| {a} | {b} | {c} |" for a, b, c in facts]
    markdown = "\n\n".join(
        part
        for part in (
            table,
            "\n".join(check_lines),
            cross_check_table(bench),
            default_camera_table(checks),
            "\n\n".join(notes(bench, meta)),
        )
        if part
    )
    summary["checks"] = [{"check": a, "measured": b, "target": c} for a, b, c in facts]
    return markdown + "\n", summary


def scenario_table(bench: Bench, summary: dict[str, Any]) -> str:
    """Every scenario, camserve and the floor; its rows go into C{summary}."""
    groups = grouped(bench.runs)
    order = [s.name for s in bench.scenarios()]
    lines = [
        (
            "| scenario | server | CPU µs/frame | x floor | server CPU % | fps median"
            " | fps p5 | dups | bad | latency median ms | latency p99 ms"
            " | fan-out p99 ms | RSS peak MB | load gen CPU % | host busy % |"
        ),
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    summary: dict[str, Any] = {"rows": []}
    for name in order:
        for kind in ("camserve", "floor"):
            runs = groups.get((name, kind))
            if not runs:
                continue
            floor_runs = groups.get((name, "floor"))
            ratio: list[float | None] = []
            if floor_runs:
                for r in runs:
                    match = next(
                        (f for f in floor_runs if f["run"] == r["run"]), floor_runs[0]
                    )
                    if r["cpu_us_per_frame"] and match["cpu_us_per_frame"]:
                        ratio.append(r["cpu_us_per_frame"] / match["cpu_us_per_frame"])
            has_ts = kind == "camserve"

            def col(key: str, spec: str, runs: list[dict[str, Any]] = runs) -> str:
                return both([r.get(key) for r in runs], spec)

            bad = [float(r["malformed"] + r["error_count"]) for r in runs]
            row = [
                SCENARIOS[name].title,
                kind,
                col("cpu_us_per_frame", ".1f"),
                (
                    both(ratio, ".2f") + "x"
                    if ratio and kind == "camserve"
                    else ("n/a" if bench.floor_note else "-")
                ),
                col("server_cpu_pct", ".0f"),
                col("fps_median", ".1f"),
                col("fps_p5", ".1f"),
                col("dups", ".0f"),
                both(bad, ".0f"),
                col("latency_ms_median", ".1f") if has_ts else "n/a",
                col("latency_ms_p99", ".1f") if has_ts else "n/a",
                col("fanout_ms_p99", ".1f"),
                col("rss_peak_mb", ".1f"),
                col("loadgen_cpu_pct", ".0f"),
                col("host_busy_pct", ".0f"),
            ]
            lines.append("| " + " | ".join(row) + " |")
            summary["rows"].append(
                {
                    "scenario": name,
                    "server": kind,
                    "runs": len(runs),
                    "cpu_us_per_frame": [r["cpu_us_per_frame"] for r in runs],
                    "ratio_to_floor": ratio,
                    "latency_ms_p99": [r["latency_ms_p99"] for r in runs],
                    "fanout_ms_p99": [r["fanout_ms_p99"] for r in runs],
                    "fps_p5": [r["fps_p5"] for r in runs],
                    "dups": [r["dups"] for r in runs],
                }
            )
    return "\n".join(lines)


def cross_check_table(bench: Bench) -> str:
    """The 100 viewers measured by our load generator and by the shared one."""
    groups = grouped(bench.runs)
    cross_lines: list[str] = []
    shared = next((r for r in bench.runs if r["loader"] == "shared"), None)
    own = groups.get(("100", "camserve"))
    if shared and own:
        cross_lines = [
            (
                "| camserve, 100 viewers | CPU µs/frame | fps median | fps p5 | dups | bad"
                " | latency median / p99 ms (poll's return) | same (kernel arrival)"
                " | load gen CPU % |"
            ),
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for title, runs in (
            ("bench/mjpeg_load.py", own),
            ("shared/bench/mjpeg_load.py", [shared]),
        ):

            def cell(key: str, spec: str, runs: list[dict[str, Any]] = runs) -> str:
                return both([r.get(key) for r in runs], spec)

            kernel = (
                f"{cell('latency_ms_median', '.1f')} / {cell('latency_ms_p99', '.1f')}"
                if runs[0]["loader"] == "own"
                else "-"
            )
            cells = [
                title,
                cell("cpu_us_per_frame", ".1f"),
                cell("fps_median", ".1f"),
                cell("fps_p5", ".1f"),
                cell("dups", ".0f"),
                both([float(r["malformed"] + r["error_count"]) for r in runs], ".0f"),
                (
                    f"{cell('latency_seen_ms_median', '.1f')} /"
                    f" {cell('latency_seen_ms_p99', '.1f')}"
                ),
                kernel,
                cell("loadgen_cpu_pct", ".0f"),
            ]
            cross_lines.append("| " + " | ".join(cells) + " |")
    elif not bench.shared_load.exists():
        cross_lines = [f"Cross-check skipped: {bench.shared_load} is not there."]
    return "\n".join(cross_lines)


def default_camera_table(checks: dict[str, Any]) -> str:
    """camserve's CPU and capture rate on its test pattern, 1 and 10 viewers."""
    records = checks.get("default_camera")
    if not records:
        return ""

    def cell(value: float | None, spec: str) -> str:
        return "-" if value is None else format(value, spec)

    lines = [
        (
            "| default camera: CPU with 1 and 10 viewers | capture fps"
            " | viewer fps median | server CPU % | CPU µs/frame |"
        ),
        "|---|---|---|---|---|",
    ]
    for r in records:
        cells = [
            f"{r['viewers']} viewer{'s' if r['viewers'] != 1 else ''}",
            cell(r.get("capture_fps"), ".1f"),
            cell(r["fps_median"], ".1f"),
            cell(r["server_cpu_pct"], ".1f"),
            cell(r["cpu_us_per_frame"], ".0f"),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    seconds = records[0]["window"]["t_end"] - records[0]["window"]["t_start"]
    lines += [
        "",
        (
            "camserve without `--source`: its emulated camera's test pattern,"
            f" 640x480 at {FPS} fps, drawn and encoded with OpenCV;"
            f" {seconds:.0f} s windows. server CPU %: of one core. capture fps:"
            " the camera's frames counted by /healthz over the window."
        ),
    ]
    return "\n".join(lines)


def notes(bench: Bench, meta: dict[str, Any]) -> list[str]:
    """What was measured on what, and what the columns mean."""
    lines = [
        (
            f"camserve {meta['git']}, Python {meta['python']}, Twisted"
            f" {meta['twisted']}, {meta['cpus']} cores; {meta['frames']};"
            f" {bench.seconds:g} s windows, {bench.args.runs} runs each, camserve and"
            " the floor interleaved, a fresh server for every run."
        ),
    ]
    if bench.floor_note:
        lines.append(f"**{bench.floor_note}**: no floor rows and no ratios.")
    lines.append(
        "CPU µs/frame: the server's utime + stime over exactly the load generator's"
        " window, divided by the frames delivered whole in it. x floor: the ratio to"
        " the floor in the same run. Where a cell shows two figures, the two runs"
        " differed by more than 10%: run 1, run 2. bad: malformed parts + viewer"
        " errors. latency: a part's last byte arriving minus its X-Timestamp (the"
        " floor sends none: n/a). fan-out: a frame's arrival at a viewer minus its"
        " first arrival at any viewer, for both servers. RSS peak: the server's"
        " largest RSS in the window. load gen and host busy: CPU of the load"
        " generator (% of one core) and of the whole 2-core machine (%); near 100%"
        " host busy means the numbers are of a saturated machine."
    )
    return lines


def machine_meta(frames: dict[str, Any]) -> dict[str, Any]:
    def git(*args: str) -> str:
        result = subprocess.run(
            ["git", "-C", str(ROOT), *args],
            capture_output=True,
            text=True,
            check=False,
            timeout=30,
        )
        return result.stdout.strip()

    head = git("rev-parse", "--short", "HEAD") or "unknown"
    dirty = git("status", "--porcelain", "--", "camserve")
    twisted = subprocess.run(
        [str(VENV / "python"), "-c", "import twisted; print(twisted.__version__)"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    ).stdout.strip()
    return {
        "git": head + (" with uncommitted changes in camserve/" if dirty else ""),
        "python": platform.python_version(),
        "twisted": twisted,
        "cpus": os.cpu_count(),
        "kernel": platform.release(),
        "frames": (
            f"{frames['spec']['count']} JPEGs of {frames['kb_mean']} KB mean,"  # type: ignore[index]
            f" {FPS} fps"
        ),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


def publish(out: Path, markdown: str, profile: dict[str, Any] | None) -> None:
    """Copy the plot (and profile) into bench/ and the table into its README."""
    shutil.copy(out / "results.png", BENCH / "results.png")
    readme = BENCH / "README.md"
    text = readme.read_text()
    text = replace_between(text, "results", markdown)
    if profile is not None:
        if (out / "profile-300.svg").exists():
            shutil.copy(out / "profile-300.svg", BENCH / "profile-300.svg")
        text = replace_between(text, "profile", profile_markdown(profile))
    readme.write_text(text)
    log(f"published: {BENCH / 'results.png'} and the table in {readme}")


def replace_between(text: str, name: str, body: str) -> str:
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    if begin not in text or end not in text:
        return text
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{begin}\n{body.rstrip()}\n{end}{tail}"
