"""
The checks: what the scenarios' tables do not show, and the targets.

L{run_checks} measures, after the scenarios: the 100-viewer scenario once
more with the shared load generator (the cross-check), camserve's CPU once
the idle timeout has passed since the last viewer left, the first frame of
a cold camera on the test pattern, camserve's CPU and capture rate on its
default camera (the test pattern) with 1 and 10 viewers, and with
C{--profile} py-spy through a 300-viewer window. L{verdicts} sets these and
the scenarios' figures (ratio to the floor, latency, memory per viewer,
stalled and churning viewers) against their targets.
"""

from __future__ import annotations

import functools
import time
from typing import Any

from mjpeg_load import percentile
from profiling import record_profile, summarise_profile
from scenarios import SCENARIOS, Bench, Scenario, both, describe, grouped, mean_of
from servers import Server, cpu_now, first_frame_ms, log

IDLE_TIMEOUT = 10.0  # camserve's default
CAMERA = [
    Scenario("camera-1", 1, floor=False, title="1 viewer"),
    Scenario("camera-10", 10, floor=False, title="10 viewers"),
]
"""The default camera check: camserve on its test pattern, 1 and 10 viewers."""
CAMERA_SECONDS, CAMERA_SECONDS_QUICK = 30.0, 10.0


def run_checks(bench: Bench) -> dict[str, Any]:
    """
    Cross-check of the load generators, the idle check, the test pattern's
    first frame and CPU, the profile.
    """
    checks: dict[str, Any] = {}
    scenario = SCENARIOS["100"]
    idle: dict[str, Any] = {}
    if bench.args.no_checks:
        pass
    elif bench.shared_load.exists():
        if not any(
            r["scenario"] == "100" and r["server"] == "camserve" for r in bench.runs
        ):
            log("cross-check: camserve, 100 viewers, our load generator")
            bench.runs.append(bench.run(scenario, "camserve", 1))
        log("cross-check: camserve, 100 viewers, the shared load generator")
        result = bench.run(
            scenario,
            "camserve",
            1,
            loader="shared",
            then=lambda server: idle.update(idle_check(server)),
        )
        checks["idle"] = idle
        bench.runs.append(result)
        log(f"  {describe(result)}")
    else:
        log("idle check: camserve, 10 viewers first")
        bench.run(
            SCENARIOS["10"],
            "camserve",
            0,
            then=lambda server: idle.update(idle_check(server)),
        )
        checks["idle"] = idle
    if not bench.args.no_checks:
        checks["ttff_pattern_ms"] = pattern_first_frames(bench)
        checks["default_camera"] = default_camera(bench)
    if bench.args.profile:
        path = bench.out / "profile-300.txt"
        log("profile: camserve, 300 viewers, py-spy over the window")
        result = bench.run(
            SCENARIOS["300"],
            "camserve",
            0,
            during=functools.partial(record_profile, path),
        )
        checks["profile_run"] = result
        log(f"  {describe(result)} (under py-spy: not comparable)")
        if path.exists():
            checks["profile"] = summarise_profile(path, bench.out)
        else:
            error = path.with_suffix(".err")
            checks["profile"] = {
                "error": error.read_text() if error.exists() else "no output"
            }
    return checks


def idle_check(server: Server) -> dict[str, Any]:
    """camserve's CPU over 5 s once the idle timeout has passed."""
    wait = IDLE_TIMEOUT + 2
    log(f"  idle check: viewers gone; waiting {wait:.0f} s, then 5 s of CPU")
    time.sleep(wait)
    before, started = cpu_now(server.pid), time.monotonic()
    time.sleep(5)
    used = cpu_now(server.pid) - before
    elapsed = time.monotonic() - started
    health = server.health()
    return {
        "cpu_pct": 100 * used / elapsed,
        "cpu_ms": 1000 * used,
        "seconds": elapsed,
        "state": health.get("state"),
        "viewers": health.get("viewers"),
    }


def pattern_first_frames(bench: Bench, starts: int = 3) -> list[float]:
    """First frame of a cold camera on the test pattern (OpenCV encoding)."""
    times = []
    for _ in range(starts):
        server = Server("camserve", None, None, bench.logs)
        try:
            ttff = first_frame_ms(server.port)
        finally:
            server.stop()
        if ttff is not None:
            times.append(ttff)
    log(f"first frame of the test pattern, cold: {times} ms")
    return times


def default_camera(bench: Bench) -> list[dict[str, Any]]:
    """
    camserve on its default camera (no C{--source}: the emulated test
    pattern, 640x480 at 30 fps, drawn and encoded with OpenCV) with 1 and
    with 10 viewers reading: the server's CPU over the window and the
    capture rate from C{/healthz}'s frame count at the window's two ends.
    """
    seconds = CAMERA_SECONDS_QUICK if bench.args.quick else CAMERA_SECONDS
    records = []
    for scenario in CAMERA:
        log(f"default camera: camserve on its test pattern, {scenario.title}")
        capture: dict[str, Any] = {}
        result = bench.run(
            scenario,
            "camserve",
            0,
            pattern=True,
            seconds=seconds,
            during=functools.partial(_capture_rate, capture),
        )
        result.update(capture)
        records.append(result)
        fps = result.get("capture_fps")
        log(
            f"  {describe(result)};"
            f" capture {'-' if fps is None else format(fps, '.1f')} fps"
        )
    return records


def _capture_rate(
    into: dict[str, Any], server: Server, start: float, seconds: float
) -> None:
    """The camera's frames per second over the window, from C{/healthz}."""
    time.sleep(max(0.0, start - time.time()))
    first, started = server.health(), time.monotonic()
    time.sleep(max(0.0, start + seconds - time.time()))
    last, elapsed = server.health(), time.monotonic() - started
    into["capture_fps"] = (last["frames_captured"] - first["frames_captured"]) / elapsed
    into["capture_fps_healthz"] = last["fps"]  # camserve's own moving average


def verdicts(
    bench: Bench, checks: dict[str, Any], summary: dict[str, Any]
) -> list[tuple[str, str, str]]:
    """
    The check table's rows: (check, measured, target); the figures behind
    some go into C{summary} too.
    """
    groups = grouped(bench.runs)
    order = [s.name for s in bench.scenarios()]
    facts = _targets(groups)
    idle = checks.get("idle")
    if idle:
        facts.append(
            (
                f"camserve CPU over 5 s, {IDLE_TIMEOUT + 2:.0f} s after the last viewer left",
                (
                    f"{idle['cpu_pct']:.2f}% ({idle['cpu_ms']:.0f} ms; camera"
                    f" {idle['state']})"
                ),
                "0%",
            )
        )
    if bench.ttff_cold:
        cold = sorted(bench.ttff_cold)
        facts.append(
            (
                f"first frame of a cold camera, folder source (median, max of {len(cold)} starts)",
                f"{percentile(cold, 50):.0f} ms, {cold[-1]:.0f} ms",
                "≤ 150 ms",
            )
        )
        summary["ttff_cold_ms"] = cold
    pattern = sorted(checks.get("ttff_pattern_ms") or [])
    if pattern:
        facts.append(
            (
                (
                    "the same on the test pattern (no `--source`;"
                    f" median, max of {len(pattern)} starts)"
                ),
                f"{percentile(pattern, 50):.0f} ms, {pattern[-1]:.0f} ms",
                "≤ 150 ms",
            )
        )
    big = max(
        (s for s in order if SCENARIOS[s].floor and (s, "camserve") in groups),
        key=lambda s: SCENARIOS[s].clients,
        default=None,
    )
    if big is not None:
        per = [
            1024 * (r["rss_peak_mb"] - r["rss_base_mb"]) / max(1, r["connected"])
            for r in groups[(big, "camserve")]
        ]
        summary["kb_per_viewer"] = per
        facts.append(
            (
                f"server memory per viewer (RSS at {big} viewers vs 0, per viewer)",
                both(per, ".1f") + " KB",
                "≤ 20 KB",
            )
        )
    stall = groups.get(("stall", "camserve"))
    plain = groups.get(("100", "camserve"))
    if stall:
        growth = [r["rss_end_mb"] - r["rss_start_mb"] for r in stall]
        text = f"{both(growth, '.2f')} MB over the window"
        if plain:
            versus = [
                r["rss_peak_mb"] - (mean_of(plain, "rss_peak_mb") or 0) for r in stall
            ]
            summary["stall_rss_vs_plain_mb"] = versus
            text += f"; peak {both(versus, '+.2f')} MB vs 100 viewers without"
        facts.append(("RSS cost of 5 stalled viewers", text, "≤ 1 MB"))
        if plain:
            facts.append(
                (
                    "the 100 others with 5 stalled vs without: fps p5, latency p99",
                    (
                        f"{both([r['fps_p5'] for r in stall], '.1f')} vs"
                        f" {both([r['fps_p5'] for r in plain], '.1f')} fps,"
                        f" {both([r['latency_ms_p99'] for r in stall], '.1f')} vs"
                        f" {both([r['latency_ms_p99'] for r in plain], '.1f')} ms"
                    ),
                    "no cost",
                )
            )
    churn = groups.get(("churn", "camserve"))
    if churn:
        facts.append(
            (
                (
                    "churn: connections/s, sessions that failed, their first frame"
                    " median / p99"
                ),
                (
                    f"{both([r['churn_connects_per_s'] for r in churn], '.1f')}/s,"
                    f" {both([float(r['churn_sessions_failed']) for r in churn], '.0f')}"
                    f" of {both([float(r['churn_sessions']) for r in churn], '.0f')},"
                    f" {both([r['churn_ttff_ms_median'] for r in churn], '.1f')} /"
                    f" {both([r['churn_ttff_ms_p99'] for r in churn], '.1f')} ms"
                ),
                "none fail",
            )
        )
    return facts


def _targets(
    groups: dict[tuple[str, str], list[dict[str, Any]]],
) -> list[tuple[str, str, str]]:
    """Issue 3's targets for the viewer-count scenarios, as measured."""
    facts = []
    ratios, p99s = [], []
    for name in ("100", "300"):
        mine, floor = groups.get((name, "camserve")), groups.get((name, "floor"))
        if mine and floor:
            pairs = [
                (r, next((f for f in floor if f["run"] == r["run"]), floor[0]))
                for r in mine
            ]
            ratio = [
                r["cpu_us_per_frame"] / f["cpu_us_per_frame"]
                for r, f in pairs
                if r["cpu_us_per_frame"] and f["cpu_us_per_frame"]
            ]
            ratios.append(f"{both(ratio, '.2f')}x at {name}")
        if mine:
            p99s.append(
                f"{both([r['latency_ms_p99'] for r in mine], '.1f')} ms at {name}"
            )
    if ratios:
        facts.append(("CPU per frame against the floor", "; ".join(ratios), "≤ 1.5x"))
    if p99s:
        facts.append(("latency p99", "; ".join(p99s), "≤ 10 ms at 100, ≤ 25 ms at 300"))
    runs = [r for (_, kind), rs in groups.items() if kind == "camserve" for r in rs]
    if runs:
        facts.append(
            (
                "duplicates, malformed parts, failed viewers: all camserve runs",
                (
                    f"{sum(r['dups'] for r in runs)}, {sum(r['malformed'] for r in runs)},"
                    f" {sum(r['error_count'] for r in runs)}"
                ),
                "0, 0, 0",
            )
        )
    return facts
