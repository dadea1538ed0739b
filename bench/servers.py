"""
The servers under test, started and sampled.

A L{Server} is one process on a free port on 127.0.0.1: camserve from this
checkout (on a folder of JPEGs, or on its test pattern) or the floor, the
minimal C server built from C{../shared/bench/floor.c}. L{first_frame_ms}
times a cold camera's first frame; a L{Sampler} thread reads the process's
CPU-time clock, its RSS and the whole machine's busy time every 20 ms, and
interpolates them at any instant. Also the paths and the frame rate every
run shares, and the suite's log line.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
SHARED = ROOT.parent / "shared" / "bench"
VENV = ROOT / ".venv" / "bin"
FPS = 30
PAGE = os.sysconf("SC_PAGE_SIZE")
TICKS = os.sysconf("SC_CLK_TCK")


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


class ServerProcess:
    """
    A server process on C{self.port}, started with L{_launch}, ready once
    L{_probe} says so, and stopped with L{stop}.
    """

    name: str
    port: int
    log_path: Path
    process: subprocess.Popen[bytes]
    pid: int

    def _launch(self, command: list[str], cwd: Path, root: Path = ROOT) -> None:
        """
        Run C{command} with camserve from C{root}, its output to
        C{self.log_path}, and wait until it is ready.
        """
        env = dict(os.environ, PYTHONPATH=str(root), PYTHONDONTWRITEBYTECODE="1")
        with self.log_path.open("wb") as output:
            self.process = subprocess.Popen(
                command,
                stdout=output,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=cwd,
                env=env,
            )
        self.pid = self.process.pid
        self._wait_ready()

    def _wait_ready(self) -> None:
        """Wait until L{_probe} says the server answers; else stop it."""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                if self._probe():
                    return
            except OSError:
                pass
            time.sleep(0.1)
        self.stop()
        tail = self.log_path.read_text(errors="replace")[-2000:]
        raise RuntimeError(f"{self.name} did not start; its log ends:\n{tail}")

    def _probe(self) -> bool:
        """Whether the server answers (the floor: takes a connection)."""
        with socket.create_connection(("127.0.0.1", self.port), 2):
            return True

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


class Server(ServerProcess):
    """One server process: camserve from this checkout, or the floor."""

    def __init__(
        self, kind: str, frames: Path | None, floor: Path | None, logs: Path
    ) -> None:
        """
        Start it and wait until it answers; C{frames} L{None} runs camserve
        on its test pattern instead of the folder.
        """
        self.kind = self.name = kind
        self.frames = frames
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
                # Every viewer comes from 127.0.0.1.
                "--max-connections",
                "5000",
                "--max-connections-per-client",
                "5000",
            ]
        else:
            if floor is None:
                raise ValueError("no floor binary")
            command = [str(floor), str(self.port), str(frames), str(FPS)]
        self._launch(command, logs)

    def _probe(self) -> bool:
        if self.kind == "camserve":
            return http_get(self.port, "/healthz", 2)[0] == 200
        return super()._probe()

    def health(self) -> dict[str, Any]:
        """The health of the server's one camera."""
        result: dict[str, Any] = json.loads(http_get(self.port, "/healthz")[1])
        camera: dict[str, Any] = result["cameras"][0]
        return camera


def first_frame_ms(port: int, timeout: float = 10.0) -> float | None:
    """Time from connecting to the whole first part of C{/video_feed}."""
    started = time.perf_counter()
    deadline = time.monotonic() + timeout
    with socket.create_connection(("127.0.0.1", port), timeout) as sock:
        sock.sendall(b"GET /video_feed HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
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
    Samples a process's CPU time, RSS, minor page faults and the machine's
    busy time.

    CPU time is the process's CPU-time clock (C{clock_getcpuclockid}): the
    kernel's utime + stime of all its threads in nanoseconds, the sum that
    C{/proc/PID/stat} rounds to clock ticks; C{/proc/PID/stat} is sampled too,
    as a check.
    """

    def __init__(self, pid: int, interval: float = 0.02) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.clock = cpu_clock(pid)
        self.interval = interval
        self.samples: list[tuple[float, float, float, int, int, int, int]] = []
        self._done = threading.Event()

    def sample(self) -> tuple[float, float, float, int, int, int, int] | None:
        try:
            now = time.time()
            cpu = time.clock_gettime(self.clock)
            fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1]
            parts = fields.split()
            ticks = (int(parts[11]) + int(parts[12])) / TICKS
            faults = int(parts[7])
            rss = int(Path(f"/proc/{self.pid}/statm").read_text().split()[1]) * PAGE
        except (OSError, ValueError, IndexError):
            return None
        busy, total = host_times()
        return (now, cpu, ticks, rss, busy, total, faults)

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
            "minor_faults": self.at(end, 6) - self.at(start, 6),
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


def rss_mb(pid: int) -> float:
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE / 2**20


def cpu_clock(pid: int) -> int:
    """The clock id of a process's CPU time (CPUCLOCK_SCHED of the whole process)."""
    return ((~pid) << 3) | 2


def cpu_now(pid: int) -> float:
    return time.clock_gettime(cpu_clock(pid))
