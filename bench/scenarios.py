"""
The scenarios and the measured runs.

A run starts a fresh server (L{servers.Server}), times its cold first frame,
reads its RSS with no viewers, then points the load generator at it (ours,
C{bench/mjpeg_load.py}, or the shared one for the cross-check) while a
L{servers.Sampler} reads the server; the load generator fixes its window in
Unix time before it starts, and the server's CPU over exactly that window
is divided by the frames delivered in it. L{Bench} holds the suite's
configuration and every run's record; L{grouped}, L{mean_of} and L{both}
read the records back by scenario.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from make_frames import make_frames
from servers import BENCH, FPS, SHARED, Sampler, Server, first_frame_ms, log, rss_mb

if TYPE_CHECKING:
    import argparse
    from pathlib import Path

During = Callable[[Server, float, float], object]
"""Run in a thread beside the load: (server, window start, window seconds)."""


@dataclass(frozen=True)
class Scenario:
    name: str
    clients: int
    stall: int = 0
    churn: int = 0
    floor: bool = True
    title: str = ""


SCENARIOS = {
    "1": Scenario("1", 1, title="1 viewer"),
    "10": Scenario("10", 10, title="10 viewers"),
    "100": Scenario("100", 100, title="100 viewers"),
    "300": Scenario("300", 300, title="300 viewers"),
    "1000": Scenario("1000", 1000, title="1000 viewers"),
    "stall": Scenario(
        "stall", 100, stall=5, floor=False, title="100 viewers + 5 stalled"
    ),
    "churn": Scenario(
        "churn", 100, churn=20, floor=False, title="100 viewers + 20 churning"
    ),
}
FULL = ["1", "10", "100", "300", "1000", "stall", "churn"]
QUICK = ["10", "100", "stall", "churn"]
STALL_RCVBUF = 4096


def ramp_for(viewers: int) -> float:
    """Connect at about 400 a second: Twisted listens with a backlog of 50."""
    return round(viewers / 400, 2)


class Bench:
    """The suite's configuration, its measured runs and their records."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.out: Path = args.out
        self.out.mkdir(parents=True, exist_ok=True)
        self.logs = self.out / "logs"
        self.frames = self.out / "frames"
        self.runs: list[dict[str, Any]] = []
        self.ttff_cold: list[float] = []
        self.floor: Path | None = None
        self.floor_note = ""
        self.shared_load = SHARED / "mjpeg_load.py"
        self.seconds: float = args.seconds
        self.warmup: float = args.warmup

    # Set-up

    def prepare(self) -> dict[str, Any]:
        info = make_frames(self.frames)
        log(
            f"frames: {self.frames} ({info['kb_mean']} KB mean,"
            f" {info['kb_min']}-{info['kb_max']})"
        )
        source = SHARED / "floor.c"
        if self.args.no_floor:
            self.floor_note = "floor left out (--no-floor)"
        elif source.exists():
            self.floor = self.out / "floor"
            subprocess.run(
                ["cc", "-O2", "-o", str(self.floor), str(source)],
                check=True,
                capture_output=True,
                timeout=120,
            )
            log(f"floor: built {self.floor} from {source}")
        else:
            self.floor_note = f"floor not measured: {SHARED} is not there"
            log(self.floor_note)
        if not self.shared_load.exists():
            log(f"cross-check skipped: {self.shared_load} is not there")
        return info

    # One measured run

    def run(
        self,
        scenario: Scenario,
        kind: str,
        number: int,
        *,
        loader: str = "own",
        pattern: bool = False,
        seconds: float | None = None,
        during: During | None = None,
        then: Callable[[Server], object] | None = None,
    ) -> dict[str, Any]:
        """
        One run of C{scenario} on a fresh server of C{kind} (camserve or the
        floor) with the C{loader} load generator (own or shared), over a
        window of C{seconds} (default: the suite's). C{pattern} serves
        camserve's test pattern instead of the frames. C{during} runs in a
        thread beside the load; C{then} is given the server, still up, once
        the load is over.
        """
        frames = None if pattern else self.frames
        server = Server(kind, frames, self.floor, self.logs)
        try:
            record = self._run(
                server,
                scenario,
                number,
                loader=loader,
                seconds=self.seconds if seconds is None else seconds,
                during=during,
            )
            if then is not None:
                then(server)
            return record
        finally:
            server.stop()

    def _run(
        self,
        server: Server,
        scenario: Scenario,
        number: int,
        *,
        loader: str,
        seconds: float,
        during: During | None,
    ) -> dict[str, Any]:
        ttff = first_frame_ms(server.port)
        if server.kind == "camserve" and server.frames and ttff is not None:
            self.ttff_cold.append(ttff)
        time.sleep(0.5)
        rss_base = rss_mb(server.pid)
        viewers = scenario.clients + scenario.stall + scenario.churn
        ramp = ramp_for(viewers)
        warmup = self.warmup + ramp
        label = f"{scenario.name}-{server.kind}-{loader}-{number}"
        json_path = self.out / "load" / f"{label}.json"
        json_path.parent.mkdir(exist_ok=True)
        url = f"http://127.0.0.1:{server.port}/video_feed"
        t0 = time.time() + 1.0
        frames_dir = ["--frames-dir", str(server.frames)] if server.frames else []
        # The options both load generators take; ours adds its own after them.
        common = [
            "--url",
            url,
            "--clients",
            str(scenario.clients),
            "--seconds",
            str(seconds),
            "--warmup",
            str(warmup),
            "--ramp",
            str(ramp),
            *frames_dir,
            "--json",
            str(json_path),
            "--quiet",
        ]
        if loader == "own":
            command = [
                sys.executable,
                str(BENCH / "mjpeg_load.py"),
                *common,
                "--t0",
                repr(t0),
                "--fps",
                str(FPS),
                "--stall",
                str(scenario.stall),
                "--stall-rcvbuf",
                str(STALL_RCVBUF),
                "--churn",
                str(scenario.churn),
            ]
        else:
            command = [sys.executable, str(self.shared_load), *common]
        sampler = Sampler(server.pid)
        sampler.start()
        beside = None
        if during is not None:
            beside = threading.Thread(
                target=during, args=(server, t0 + warmup, seconds), daemon=True
            )
            beside.start()
        limit = warmup + seconds + 120
        completed = subprocess.run(
            command, capture_output=True, text=True, timeout=limit, check=False
        )
        time.sleep(0.1)
        sampler.finish()
        if beside is not None:
            beside.join(seconds + 60)
        if completed.returncode:
            raise RuntimeError(f"load generator failed:\n{completed.stderr[-3000:]}")
        load = json.loads(json_path.read_text())
        record = self._record(server, scenario, number, loader, load, sampler)
        record["ttff_cold_ms"] = ttff
        record["rss_base_mb"] = rss_base
        record["server_alive"] = server.alive()
        return record

    def _record(  # noqa: PLR0917
        self,
        server: Server,
        scenario: Scenario,
        number: int,
        loader: str,
        load: dict[str, Any],
        sampler: Sampler,
    ) -> dict[str, Any]:
        window = load["window"]
        measured = sampler.window(window["t_start"], window["t_end"])
        a = load["aggregate"]
        if loader == "own":
            frames = a["frames_window"]
            figures = {
                key: a[key]
                for key in (
                    "fps_median",
                    "fps_p5",
                    "fps_min",
                    "dups",
                    "malformed",
                    "error_count",
                    "errors",
                    "latency_ms_median",
                    "latency_ms_p99",
                    "latency_ms_max",
                    "latency_seen_ms_median",
                    "latency_seen_ms_p99",
                    "fanout_ms_median",
                    "fanout_ms_p99",
                    "skipped_per_viewer_s",
                    "steady_without_frames",
                    "ttff_ms_max",
                    "loadgen_cpu_pct",
                    "churn_sessions",
                    "churn_sessions_failed",
                    "churn_connects_per_s",
                    "churn_ttff_ms_median",
                    "churn_ttff_ms_p99",
                )
            }
            figures["connected"] = a["steady"] - a["steady_without_frames"]
        else:
            frames = a["total_frames_window"]
            figures = {
                "fps_median": a["fast_fps_median"],
                "fps_p5": a["fast_fps_p5"],
                "fps_min": a["fast_fps_min"],
                "dups": a["dups"],
                "malformed": a["malformed"],
                "error_count": sum(a["errors"].values()),
                "errors": a["errors"],
                "latency_ms_median": a["latency_ms_median"],
                "latency_ms_p99": a["latency_ms_p99"],
                "latency_ms_max": a["latency_ms_max"],
                "latency_seen_ms_median": a["latency_ms_median"],
                "latency_seen_ms_p99": a["latency_ms_p99"],
                "fanout_ms_median": None,
                "fanout_ms_p99": None,
                "loadgen_cpu_pct": a["loadgen_cpu_pct_window"],
                "connected": a["clients"] - a["clients_without_frames_in_window"],
            }
        seconds = window["t_end"] - window["t_start"]
        return {
            "scenario": scenario.name,
            "server": server.kind,
            "run": number,
            "loader": loader,
            "viewers": scenario.clients,
            "frames": frames,
            "cpu_us_per_frame": 1e6 * measured["cpu_s"] / frames if frames else None,
            "cpu_us_per_frame_stat": (
                1e6 * measured["cpu_s_stat"] / frames if frames else None
            ),
            "server_cpu_pct": 100 * measured["cpu_s"] / seconds,
            **measured,
            **figures,
            "window": window,
        }

    # The whole suite

    def scenarios(self) -> list[Scenario]:
        names = self.args.scenarios or (QUICK if self.args.quick else FULL)
        return [SCENARIOS[name] for name in names]

    def measure(self) -> None:
        for scenario in self.scenarios():
            kinds = ["camserve"]
            if scenario.floor and self.floor is not None:
                kinds.append("floor")
            for number in range(1, self.args.runs + 1):
                for kind in kinds:
                    started = time.monotonic()
                    record = self.run(scenario, kind, number)
                    self.runs.append(record)
                    log(f"  {describe(record)}  [{time.monotonic() - started:.0f} s]")


def describe(r: dict[str, Any]) -> str:
    def f(value: float | None, spec: str = ".1f") -> str:
        return "-" if value is None else format(value, spec)

    return (
        f"{r['scenario']:>5} {r['server']:8} run {r['run']} ({r['loader']}):"
        f" {f(r['cpu_us_per_frame'])} µs/frame, server {r['server_cpu_pct']:.0f}%,"
        f" fps {f(r['fps_median'])}/{f(r['fps_p5'])}, dups {r['dups']},"
        f" bad {r['malformed'] + r['error_count']}, lat"
        f" {f(r['latency_ms_median'])}/{f(r['latency_ms_p99'])} ms, fan-out p99"
        f" {f(r['fanout_ms_p99'])} ms, RSS {r['rss_peak_mb']:.1f} MB,"
        f" loadgen {r['loadgen_cpu_pct']:.0f}%, host {r['host_busy_pct']:.0f}%"
    )


def both(values: list[float | None], spec: str, *, tolerance: float = 0.10) -> str:
    """One figure for the runs, or each run's when they differ by > 10%."""
    present = [v for v in values if v is not None]
    if not present:
        return "-"
    low, high = min(present), max(present)
    shown = [format(v, spec) for v in present]
    if high - low > tolerance * max(abs(low), abs(high)) and len(set(shown)) > 1:
        return ", ".join(shown)
    return format(statistics.fmean(present), spec)


def grouped(runs: list[dict[str, Any]]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in runs:
        if r["loader"] == "own" and r["run"] > 0:
            groups.setdefault((r["scenario"], r["server"]), []).append(r)
    return groups


def mean_of(runs: list[dict[str, Any]], key: str) -> float | None:
    values = [r[key] for r in runs if r.get(key) is not None]
    return statistics.fmean(values) if values else None
