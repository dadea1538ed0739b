"""
camserve's benchmark suite; C{bench/run} is its entry point.

Every measured run starts a fresh server from this checkout (camserve, or
the floor built from C{../shared/bench/floor.c} when that folder is there),
checks how long a cold camera takes to give its first frame, then points
C{bench/mjpeg_load.py} at it while a sampler thread reads the server's CPU
time and RSS every 20 ms. The load generator fixes its measurement window
in Unix time before it starts and writes it to its JSON; the server's CPU
over exactly that window is interpolated from the samples and divided by the
frames delivered in the window.

Scenarios: C{1}, C{10}, C{100}, C{300} and C{1000} viewers (camserve and the
floor, interleaved), C{stall} (100 viewers and 5 that never read, with a
small receive buffer) and C{churn} (100 viewers and 20 that each watch for
0.3-1.5 s, hang up and come back: about 22 connections a second), each run
twice. Then the checks: the same 100 viewers measured with the shared load
generator beside ours, camserve's CPU after the idle timeout, time to first
frame of a cold camera (on the folder and on the test pattern), memory per
viewer; and with C{--profile}, py-spy on camserve during a 300-viewer run.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import importlib.util
import itertools
import json
import os
import platform
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
SHARED = ROOT.parent / "shared" / "bench"
VENV = ROOT / ".venv" / "bin"
FPS = 30
IDLE_TIMEOUT = 10.0  # camserve's default
PAGE = os.sysconf("SC_PAGE_SIZE")
TICKS = os.sysconf("SC_CLK_TCK")

sys.path.insert(0, str(BENCH))

from make_frames import make_frames  # noqa: E402
from mjpeg_load import percentile  # noqa: E402


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


def log(message: str) -> None:
    print(message, flush=True)


# Servers


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def http_get(port: int, path: str, timeout: float = 5.0) -> tuple[int, bytes]:
    url = f"http://127.0.0.1:{port}{path}"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


class Server:
    """One server process: camserve from this checkout, or the floor."""

    def __init__(
        self, kind: str, frames: Path | None, floor: Path | None, logs: Path
    ) -> None:
        """
        Start it and wait until it answers; C{frames} L{None} runs camserve
        on its test pattern instead of the folder.
        """
        self.kind = kind
        self.port = free_port()
        logs.mkdir(parents=True, exist_ok=True)
        self.log_path = logs / f"{kind}-{self.port}.log"
        if kind == "camserve":
            command = [
                str(VENV / "twistd"),
                "--pidfile=",
                "-n",
                "camserve",
                "--endpoint",
                f"tcp:{self.port}:interface=127.0.0.1",
                *(["--source", str(frames)] if frames else []),
                "--fps",
                str(FPS),
            ]
        else:
            if floor is None:
                raise ValueError("no floor binary")
            command = [str(floor), str(self.port), str(frames), str(FPS)]
        env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONDONTWRITEBYTECODE="1")
        with self.log_path.open("wb") as output:
            self.process = subprocess.Popen(
                command,
                stdout=output,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=logs,
                env=env,
            )
        self.pid = self.process.pid
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                if self.kind == "camserve":
                    if http_get(self.port, "/healthz", 2)[0] == 200:
                        return
                else:
                    with socket.create_connection(("127.0.0.1", self.port), 2):
                        return
            except OSError:
                pass
            time.sleep(0.1)
        self.stop()
        tail = self.log_path.read_text(errors="replace")[-2000:]
        raise RuntimeError(f"{self.kind} did not start; its log ends:\n{tail}")

    def alive(self) -> bool:
        return self.process.poll() is None

    def health(self) -> dict[str, Any]:
        status, body = http_get(self.port, "/healthz")
        result: dict[str, Any] = json.loads(body)
        result["http_status"] = status
        return result

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


def first_frame_ms(port: int, timeout: float = 10.0) -> float | None:
    """Time from connecting to the whole first part of C{/video_feed}."""
    started = time.perf_counter()
    deadline = time.monotonic() + timeout
    with socket.create_connection(("127.0.0.1", port), timeout) as sock:
        sock.sendall(b"GET /video_feed HTTP/1.1\r\nHost: bench\r\n\r\n")
        data = b""
        while time.monotonic() < deadline:
            chunk = sock.recv(1 << 17)
            if not chunk:
                return None
            data += chunk
            head_end = data.find(b"\r\n\r\n")
            part = data.find(b"\r\n\r\n", head_end + 4) if head_end >= 0 else -1
            if part < 0:
                continue
            headers = data[head_end + 4 : part].lower()
            marker = headers.find(b"content-length:")
            if marker < 0:
                return None
            length = int(headers[marker + 15 :].split(b"\r\n", 1)[0])
            if len(data) >= part + 4 + length:
                return (time.perf_counter() - started) * 1000
    return None


# Sampling the server


class Sampler(threading.Thread):
    """
    Samples a process's CPU time, RSS and the machine's busy time.

    CPU time is the process's CPU-time clock (C{clock_getcpuclockid}): the
    kernel's utime + stime of all its threads in nanoseconds, the sum that
    C{/proc/PID/stat} rounds to clock ticks; C{/proc/PID/stat} is sampled too,
    as a check.
    """

    def __init__(self, pid: int, interval: float = 0.02) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.clock = ((~pid) << 3) | 2  # CPUCLOCK_SCHED of the whole process
        self.interval = interval
        self.samples: list[tuple[float, float, float, int, int, int]] = []
        self._done = threading.Event()

    def sample(self) -> tuple[float, float, float, int, int, int] | None:
        try:
            now = time.time()
            cpu = time.clock_gettime(self.clock)
            fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1]
            parts = fields.split()
            ticks = (int(parts[11]) + int(parts[12])) / TICKS
            rss = int(Path(f"/proc/{self.pid}/statm").read_text().split()[1]) * PAGE
        except (OSError, ValueError, IndexError):
            return None
        busy, total = host_times()
        return (now, cpu, ticks, rss, busy, total)

    def run(self) -> None:
        deadline = time.monotonic() + 3600
        while not self._done.is_set() and time.monotonic() < deadline:
            sample = self.sample()
            if sample is not None:
                self.samples.append(sample)
            self._done.wait(self.interval)

    def finish(self) -> None:
        self._done.set()
        self.join(5)

    def at(self, when: float, column: int) -> float:
        """Column C{column} interpolated at Unix time C{when}."""
        samples = self.samples
        if not samples:
            raise RuntimeError("no samples")
        if when <= samples[0][0]:
            return float(samples[0][column])
        for before, after in itertools.pairwise(samples):
            if before[0] <= when <= after[0]:
                span = after[0] - before[0]
                share = (when - before[0]) / span if span else 0.0
                return float(before[column] + (after[column] - before[column]) * share)
        return float(samples[-1][column])

    def window(self, start: float, end: float) -> dict[str, float]:
        inside = [s for s in self.samples if start <= s[0] <= end]
        busy = self.at(end, 4) - self.at(start, 4)
        total = self.at(end, 5) - self.at(start, 5)
        return {
            "cpu_s": self.at(end, 1) - self.at(start, 1),
            "cpu_s_stat": self.at(end, 2) - self.at(start, 2),
            "rss_peak_mb": max((s[3] for s in inside), default=0) / 2**20,
            "rss_start_mb": self.at(start, 3) / 2**20,
            "rss_end_mb": self.at(end, 3) / 2**20,
            "host_busy_pct": 100 * busy / total if total else 0.0,
            "samples": len(inside),
        }


def host_times() -> tuple[int, int]:
    """Busy and total jiffies of the whole machine, from /proc/stat."""
    values = [
        int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    ]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    total = sum(values[:8])
    return total - idle, total


def thread_cpu(pid: int) -> dict[int, float]:
    """CPU seconds (utime + stime) of each of a process's threads."""
    seconds = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
            seconds[int(task.name)] = (int(fields[11]) + int(fields[12])) / TICKS
    return seconds


def rss_mb(pid: int) -> float:
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE / 2**20


def cpu_now(pid: int) -> float:
    return time.clock_gettime(((~pid) << 3) | 2)


# Load


def ramp_for(viewers: int) -> float:
    """Connect at about 400 a second: Twisted listens with a backlog of 50."""
    return round(viewers / 400, 2)


class Bench:
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
        profile: Path | None = None,
        idle_check: bool = False,
    ) -> dict[str, Any]:
        server = Server(kind, self.frames, self.floor, self.logs)
        try:
            return self._run(
                server,
                scenario,
                number,
                loader=loader,
                profile=profile,
                idle_check=idle_check,
            )
        finally:
            server.stop()

    def _run(
        self,
        server: Server,
        scenario: Scenario,
        number: int,
        *,
        loader: str,
        profile: Path | None,
        idle_check: bool,
    ) -> dict[str, Any]:
        ttff = first_frame_ms(server.port)
        if server.kind == "camserve" and ttff is not None:
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
        if loader == "own":
            command = [
                sys.executable,
                str(BENCH / "mjpeg_load.py"),
                "--url",
                url,
                "--clients",
                str(scenario.clients),
                "--seconds",
                str(self.seconds),
                "--warmup",
                str(warmup),
                "--ramp",
                str(ramp),
                "--t0",
                repr(t0),
                "--frames-dir",
                str(self.frames),
                "--fps",
                str(FPS),
                "--stall",
                str(scenario.stall),
                "--stall-rcvbuf",
                str(STALL_RCVBUF),
                "--churn",
                str(scenario.churn),
                "--json",
                str(json_path),
                "--quiet",
            ]
        else:
            command = [
                sys.executable,
                str(self.shared_load),
                "--url",
                url,
                "--clients",
                str(scenario.clients),
                "--seconds",
                str(self.seconds),
                "--warmup",
                str(warmup),
                "--ramp",
                str(ramp),
                "--frames-dir",
                str(self.frames),
                "--json",
                str(json_path),
                "--quiet",
            ]
        sampler = Sampler(server.pid)
        sampler.start()
        spy = None
        if profile is not None:
            spy = threading.Thread(
                target=self._profile,
                args=(server.pid, t0 + warmup, profile),
                daemon=True,
            )
            spy.start()
        limit = warmup + self.seconds + 120
        completed = subprocess.run(
            command, capture_output=True, text=True, timeout=limit, check=False
        )
        time.sleep(0.1)
        sampler.finish()
        if spy is not None:
            spy.join(self.seconds + 60)
        if completed.returncode:
            raise RuntimeError(f"load generator failed:\n{completed.stderr[-3000:]}")
        load = json.loads(json_path.read_text())
        record = self._record(server, scenario, number, loader, load, sampler)
        record["ttff_cold_ms"] = ttff
        record["rss_base_mb"] = rss_base
        record["server_alive"] = server.alive()
        if idle_check:
            record["idle"] = self._idle_check(server)
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

    def _profile(self, pid: int, start: float, path: Path) -> None:
        time.sleep(max(0.0, start - time.time()))
        duration = int(min(15, self.seconds))
        before, started = thread_cpu(pid), time.monotonic()
        command = [
            str(VENV / "py-spy"),
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(duration),
            "--rate",
            "200",
            "--function",
            "--native",
            "--format",
            "raw",
            "--output",
            str(path),
        ]
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=duration + 60, check=False
        )
        if result.returncode:
            path.with_suffix(".err").write_text(result.stdout + result.stderr)
        after, elapsed = thread_cpu(pid), time.monotonic() - started
        main = 100 * (after.pop(pid, 0) - before.pop(pid, 0)) / elapsed
        others = 100 * (sum(after.values()) - sum(before.values())) / elapsed
        path.with_suffix(".threads.json").write_text(
            json.dumps({"reactor_cpu_pct": main, "other_threads_cpu_pct": others})
        )

    def _idle_check(self, server: Server) -> dict[str, Any]:
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

    def pattern_first_frames(self, starts: int = 3) -> list[float]:
        """First frame of a cold camera on the test pattern (OpenCV encoding)."""
        times = []
        for _ in range(starts):
            server = Server("camserve", None, None, self.logs)
            try:
                ttff = first_frame_ms(server.port)
            finally:
                server.stop()
            if ttff is not None:
                times.append(ttff)
        log(f"first frame of the test pattern, cold: {times} ms")
        return times

    def checks(self) -> dict[str, Any]:
        """Cross-check of the load generators, the idle check, the profile."""
        checks: dict[str, Any] = {}
        scenario = SCENARIOS["100"]
        if self.args.no_checks:
            pass
        elif self.shared_load.exists():
            if not any(
                r["scenario"] == "100" and r["server"] == "camserve" for r in self.runs
            ):
                log("cross-check: camserve, 100 viewers, our load generator")
                self.runs.append(self.run(scenario, "camserve", 1))
            log("cross-check: camserve, 100 viewers, the shared load generator")
            record = self.run(scenario, "camserve", 1, loader="shared", idle_check=True)
            checks["idle"] = record.pop("idle")
            self.runs.append(record)
            log(f"  {describe(record)}")
        else:
            log("idle check: camserve, 10 viewers first")
            record = self.run(SCENARIOS["10"], "camserve", 0, idle_check=True)
            checks["idle"] = record.pop("idle")
        if not self.args.no_checks:
            checks["ttff_pattern_ms"] = self.pattern_first_frames()
        if self.args.profile:
            path = self.out / "profile-300.txt"
            log("profile: camserve, 300 viewers, py-spy over the window")
            record = self.run(SCENARIOS["300"], "camserve", 0, profile=path)
            checks["profile_run"] = record
            log(f"  {describe(record)} (under py-spy: not comparable)")
            if path.exists():
                checks["profile"] = summarise_profile(path, self.out)
            else:
                error = path.with_suffix(".err")
                checks["profile"] = {
                    "error": error.read_text() if error.exists() else "no output"
                }
        return checks


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


# Profile


def _leaf(frames: list[str]) -> str:
    """
    A stack's leaf as a person would name it: a system call in libc (where
    a Python socket call spends its time in the kernel), else the innermost
    Python function (interpreter internals are its cost).
    """
    leaf = frames[-1]
    if "(libc" in leaf:
        return f"{leaf.split(' (', 1)[0]}() in libc: the system call"
    return next((f for f in reversed(frames) if ".py:" in f), leaf)


def summarise_profile(path: Path, out: Path, top: int = 12) -> dict[str, Any]:
    """
    Where the reactor thread's on-CPU samples fall: by leaf (self), by
    camserve function (inclusive) and by file; the other threads (the
    camera's capture thread, Twisted's pool) are counted apart.
    """
    stacks: list[tuple[list[str], int]] = []
    for line in path.read_text().splitlines():
        frames, _, count = line.rpartition(" ")
        if frames and count.isdigit():
            stacks.append((frames.split(";"), int(count)))
    write_flamegraph(stacks, out / "profile-300.svg")
    reactor = [
        (frames, count)
        for frames, count in stacks
        if any(f.startswith("<module> (twistd") for f in frames)
    ]
    everything = sum(count for _, count in stacks) or 1
    total = sum(count for _, count in reactor) or 1
    own: dict[str, int] = {}
    inclusive: dict[str, int] = {}
    files: dict[str, int] = {}
    for frames, count in reactor:
        leaf = _leaf(frames)
        own[leaf] = own.get(leaf, 0) + count
        where = leaf if "libc" in leaf else leaf.rpartition("(")[2].rsplit(":", 1)[0]
        files[where] = files.get(where, 0) + count
        for name in set(frames):
            inclusive[name] = inclusive.get(name, 0) + count
    # Frames on (nearly) every stack say nothing: the call chain's root.
    chain = {name for name, n in inclusive.items() if n >= 0.97 * total}

    def ranked(table: dict[str, int], keep: Any = lambda _: True) -> list[Any]:
        best = sorted(
            ((k, v) for k, v in table.items() if keep(k)), key=lambda kv: -kv[1]
        )
        return [(name, 100 * count / total) for name, count in best[:top]]

    threads_path = path.with_suffix(".threads.json")
    return {
        "samples": everything,
        "reactor_samples": total,
        "self": ranked(own),
        "inclusive": ranked(
            inclusive, lambda name: "(camserve/" in name and name not in chain
        ),
        "files": ranked(files),
        "threads": json.loads(threads_path.read_text())
        if threads_path.exists()
        else {},
        "raw": str(path),
        "svg": str(out / "profile-300.svg"),
    }


def write_flamegraph(stacks: list[tuple[list[str], int]], path: Path) -> None:
    """A plain SVG flame graph (root at the bottom; hover for names)."""
    tree: dict[str, Any] = {"count": 0, "children": {}}
    for frames, count in stacks:
        node = tree
        node["count"] += count
        for name in frames:
            node = node["children"].setdefault(name, {"count": 0, "children": {}})
            node["count"] += count

    def depth(node: dict[str, Any]) -> int:
        return 1 + max((depth(c) for c in node["children"].values()), default=0)

    width, row = 1400.0, 16
    height = (depth(tree) + 1) * row + 30
    total = max(1, tree["count"])
    parts = [
        (
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height}"'
            ' font-family="monospace" font-size="11">'
        ),
        f'<text x="4" y="14">camserve, 300 viewers: py-spy, {total} samples</text>',
    ]

    def draw(node: dict[str, Any], name: str, x: float, level: int) -> None:
        w = width * node["count"] / total
        if w < 0.3:
            return
        y = height - (level + 1) * row
        if level:
            digest = hashlib.md5(name.encode()).digest()  # noqa: S324 - a colour, not security
            colour = (
                f"rgb({205 + digest[0] % 50},{90 + digest[1] % 110},{digest[2] % 60})"
            )
            share = 100 * node["count"] / total
            label = name.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            parts.append(
                f'<g><title>{label} ({share:.1f}%)</title><rect x="{x:.1f}" y="{y}"'
                f' width="{w:.1f}" height="{row - 1}" fill="{colour}"/>'
            )
            if w > 40:
                text = label[: int(w / 6.6)]
                parts.append(f'<text x="{x + 2:.1f}" y="{y + 12}">{text}</text>')
            parts.append("</g>")
        child_x = x
        for child_name, child in sorted(node["children"].items()):
            draw(child, child_name, child_x, level + 1)
            child_x += width * child["count"] / total

    draw(tree, "all", 0.0, 0)
    parts.append("</svg>")
    path.write_text("\n".join(parts))


# Results


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


def summarise(  # noqa: C901, PLR0912, PLR0915
    bench: Bench, checks: dict[str, Any], meta: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
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
    table = "\n".join(lines)

    # Checks
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
    check_lines = ["| check | measured | target |", "|---|---|---|"]
    check_lines += [f"| {a} | {b} | {c} |" for a, b, c in facts]

    # Cross-check of the load generators
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

    notes = [
        (
            f"camserve {meta['git']}, Python {meta['python']}, Twisted"
            f" {meta['twisted']}, {meta['cpus']} cores; {meta['frames']};"
            f" {bench.seconds:g} s windows, {bench.args.runs} runs each, camserve and"
            " the floor interleaved, a fresh server for every run."
        ),
    ]
    if bench.floor_note:
        notes.append(f"**{bench.floor_note}**: no floor rows and no ratios.")
    notes.append(
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
    markdown = "\n\n".join(
        [
            table,
            "\n".join(check_lines),
            "\n".join(cross_lines) if cross_lines else "",
            "\n\n".join(notes),
        ]
    ).replace("\n\n\n\n", "\n\n")
    summary["checks"] = [{"check": a, "measured": b, "target": c} for a, b, c in facts]
    return markdown + "\n", summary


def _annotate(
    cpu_axis: Any,
    lat_axis: Any,
    groups: dict[tuple[str, str], list[dict[str, Any]]],
    names: list[str],
    colour: str,
) -> None:
    """The ratio to the floor beside camserve's points; saturated hosts."""
    for name in names:
        runs, floor_runs = groups.get((name, "camserve")), groups.get((name, "floor"))
        if not runs:
            continue
        x = SCENARIOS[name].clients
        mine = mean_of(runs, "cpu_us_per_frame")
        floor_cpu = mean_of(floor_runs, "cpu_us_per_frame") if floor_runs else None
        if mine and floor_cpu:
            cpu_axis.annotate(
                f"{mine / floor_cpu:.2f}x",
                (x, mine),
                textcoords="offset points",
                xytext=(0, 7),
                ha="center",
                fontsize=8,
                color=colour,
            )
        busy = mean_of(runs, "host_busy_pct") or 0
        latency = mean_of(runs, "latency_ms_p99")
        if busy > 50 and latency is not None:
            lat_axis.annotate(
                f"host {busy:.0f}% busy",
                (x, latency),
                textcoords="offset points",
                xytext=(-8, 0),
                ha="right",
                va="center",
                fontsize=8,
                color="#7f8c8d",
            )


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


def _log_scale(axis: Any, formatter: Any) -> None:
    axis.set_yscale("log")
    low, high = axis.get_ylim()
    low, high = low / 1.3, high * 1.6  # room for the ratios
    steps = (2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000)
    axis.set_yticks([t for t in steps if low <= t <= high])
    axis.set_ylim(low, high)
    axis.yaxis.set_major_formatter(formatter)


def plot(bench: Bench, path: Path) -> None:
    import matplotlib as mpl  # noqa: PLC0415 - only the plot needs it

    mpl.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415
    import matplotlib.ticker  # noqa: PLC0415

    groups = grouped(bench.runs)
    names = [s.name for s in bench.scenarios() if SCENARIOS[s.name].floor]
    figure, (cpu_axis, lat_axis) = plt.subplots(1, 2, figsize=(12, 4.8))
    styles = {"camserve": ("#c0392b", "o"), "floor": ("#2c3e50", "s")}
    for kind in ("camserve", "floor"):
        colour, marker = styles[kind]
        xs, cpu, p99, fan = [], [], [], []
        for name in names:
            runs = groups.get((name, kind))
            if not runs:
                continue
            xs.append(SCENARIOS[name].clients)
            cpu.append(mean_of(runs, "cpu_us_per_frame"))
            p99.append(mean_of(runs, "latency_ms_p99"))
            fan.append(mean_of(runs, "fanout_ms_p99"))
            for r in runs:
                cpu_axis.plot(
                    SCENARIOS[name].clients,
                    r["cpu_us_per_frame"],
                    marker,
                    color=colour,
                    alpha=0.35,
                )
        if not xs:
            continue
        label = "floor (C, epoll)" if kind == "floor" else "camserve"
        cpu_axis.plot(xs, cpu, "-", marker=marker, color=colour, label=label)
        if kind == "camserve":
            lat_axis.plot(
                xs, p99, "-", marker=marker, color=colour, label="camserve: X-Timestamp"
            )
        lat_axis.plot(
            xs,
            fan,
            "--",
            marker=marker,
            color=colour,
            mfc="none",
            label=f"{label}: fan-out",
        )
    _annotate(cpu_axis, lat_axis, groups, names, styles["camserve"][0])
    for axis, title, unit in (
        (cpu_axis, "server CPU per delivered frame (log scale; x floor)", "µs"),
        (lat_axis, "p99 latency to the viewer's last byte", "ms"),
    ):
        axis.set_xscale("log")
        axis.set_xlabel("viewers")
        axis.set_ylabel(unit)
        axis.set_title(title, fontsize=10)
        if axis is cpu_axis:
            _log_scale(axis, matplotlib.ticker.ScalarFormatter())
        else:
            axis.set_ylim(bottom=0)
        ticks = [SCENARIOS[n].clients for n in names]
        axis.set_xticks(ticks, [str(t) for t in ticks])
        axis.minorticks_off()
        axis.grid(visible=True, alpha=0.3)
        axis.legend(loc="upper right" if axis is cpu_axis else "upper left", fontsize=8)
    if bench.floor_note:
        cpu_axis.text(
            0.5,
            0.5,
            bench.floor_note,
            transform=cpu_axis.transAxes,
            ha="center",
            fontsize=9,
            color="#7f8c8d",
        )
    figure.suptitle(
        f"camserve {'(no floor)' if bench.floor_note else 'vs the floor'}:"
        f" 640x480 JPEGs at {FPS} fps,"
        f" {os.cpu_count()} cores, {bench.seconds:g} s windows",
        fontsize=11,
    )
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


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


def profile_markdown(profile: dict[str, Any]) -> str:
    if "error" in profile:
        return f"py-spy failed: {profile['error'][-500:]}"
    threads = profile.get("threads") or {}
    cpu = (
        f" Over the same seconds /proc counts the reactor thread at"
        f" {threads['reactor_cpu_pct']:.0f}% of a core and the other threads (the"
        f" camera's capture thread, Twisted's pool) at"
        f" {threads['other_threads_cpu_pct']:.0f}%."
        if threads
        else ""
    )
    lines = [
        f"py-spy (`--native`, 200 Hz) on camserve with 300 viewers:"
        f" {profile['reactor_samples']} samples of the reactor thread, of"
        f" {profile['samples']} in all; shares below are of the reactor thread's."
        + cpu,
        "",
        "| self % | where (the stack's leaf) |",
        "|---|---|",
    ]
    lines += [f"| {pct:.1f} | `{name}` |" for name, pct in profile["self"]]
    lines += ["", "| inclusive % | camserve function (anywhere on the stack) |"]
    lines += ["|---|---|"]
    lines += [f"| {pct:.1f} | `{name}` |" for name, pct in profile["inclusive"]]
    lines += ["", "| self % | file |", "|---|---|"]
    lines += [f"| {pct:.1f} | `{name}` |" for name, pct in profile["files"]]
    return "\n".join(lines) + "\n"


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
        help="skip the cross-check, the idle check and the test pattern's first frame",
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
    checks = bench.checks()
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
