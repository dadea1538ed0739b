#!/usr/bin/env python3
"""
Slow viewers: how far behind live a viewer falls when it reads slower than
the stream, and what a viewer that reads nothing costs the kernel.

    .venv/bin/python bench/slow_viewers.py [--seconds 20] [--fps 15] [--rtt 0 50 200]

Starts camserve from this checkout on its default camera (the emulated test
pattern, 640x480) on a free port on 127.0.0.1, measures the stream's bitrate
with one fast viewer, then runs at once:

  - fast viewers, reading as fast as they can;
  - one viewer at each of C{--rates} (fractions of the stream's bitrate),
    reading through a small receive buffer (C{--rcvbuf}) at that rate;

and reports, for each slow viewer, the age of each frame on arrival (the
time its last byte was read minus its C{X-Timestamp}, the capture time):
p50, p99, max, and the median over the first and the last quarter of the
run (a queue that grows shows as a later age much larger than the earlier
one); and the frames it skipped, counted from the gaps between capture
times. Beside them, the fast viewers' frame rate.

Then C{--stalled} viewers connect, send their request and never read; after
C{--settle} seconds, C{ss -tnm} gives the kernel memory queued on the
server's side of their connections (C{wmem_queued}) and C{/proc} the
server's RSS, each per stalled viewer.

With C{--rtt 0 50 200} (as root), the fast and slow viewers are measured
again over a link with each round trip, camserve and the viewers in two
network namespaces joined by L{delay_link.DelayLink}.

Figures are printed, and written as JSON with C{--json FILE}.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))

from delay_link import SERVER_ADDRESS, DelayLink, round_trip_ms  # noqa: E402

from camserve.testing import MultipartParser  # noqa: E402 - after the path


class Reader(threading.Thread):
    """
    One viewer on a raw socket, reading at most C{rate} bytes a second
    (as fast as it can if L{None}) until told to stop, noting each whole
    part's arrival and capture time.
    """

    def __init__(
        self,
        host: str,
        port: int,
        rate: float | None,
        rcvbuf: int | None,
        *,
        bind: str | None = None,
    ) -> None:
        super().__init__(daemon=True)
        self.rate = rate
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        if bind:
            self.sock.bind((bind, 0))
        self.sock.settimeout(10)
        self.sock.connect((host, port))
        self.sock.sendall(
            f"GET /video_feed HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode()
        )
        self.arrivals: list[tuple[float, float]] = []
        self.bytes = 0
        self.error: str | None = None
        self._halt = threading.Event()

    def run(self) -> None:
        parser = MultipartParser()
        head: bytes | None = b""
        started = time.monotonic()
        self.sock.settimeout(0.5)
        while not self._halt.is_set():
            chunk = 65536
            if self.rate is not None:
                chunk = 4096
                due = started + (self.bytes + chunk) / self.rate
                wait = due - time.monotonic()
                if wait > 0:
                    self._halt.wait(wait)
                    continue
            try:
                data = self.sock.recv(chunk)
            except TimeoutError:
                continue
            except OSError as error:
                self.error = str(error)
                return
            if not data:
                self.error = "the server closed the stream"
                return
            self.bytes += len(data)
            if head is not None:
                head += data
                end = head.find(b"\r\n\r\n")
                if end < 0:
                    continue
                data = head[end + 4 :]
                head = None
            now = time.time()
            for part in parser.feed(data):
                self.arrivals.append((now, float(part.headers["x-timestamp"])))

    def stop(self) -> None:
        self._halt.set()
        self.join(5)
        self.sock.close()

    def fps(self, start: float, end: float) -> float:
        inside = [at for at, _ in self.arrivals if start <= at <= end]
        return len(inside) / (end - start)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def slow_figures(
    reader: Reader, fps: float, start: float, end: float
) -> dict[str, Any]:
    """Frame age on arrival and frames skipped, inside C{start}..C{end}."""
    inside = [(at, ts) for at, ts in reader.arrivals if start <= at <= end]
    if len(inside) < 4:
        return {"frames": len(inside), "error": reader.error}
    ages = [(at - ts) * 1000 for at, ts in inside]
    quarter = max(1, len(ages) // 4)
    captured = [ts for _, ts in inside]
    skipped = sum(
        max(0, round((b - a) * fps) - 1) for a, b in itertools.pairwise(captured)
    )
    return {
        "frames": len(inside),
        "fps": len(inside) / (end - start),
        "age_p50_ms": percentile(ages, 0.5),
        "age_p99_ms": percentile(ages, 0.99),
        "age_max_ms": max(ages),
        "age_first_quarter_ms": statistics.median(ages[:quarter]),
        "age_last_quarter_ms": statistics.median(ages[-quarter:]),
        "skipped": skipped,
        "skipped_share": skipped / (skipped + len(inside)),
        "error": reader.error,
    }


def queued_bytes(port: int) -> list[int]:
    """C{wmem_queued} of each established connection from local C{port}."""
    output = subprocess.run(
        ["ss", "-tnmH", "state", "established", f"sport = :{port}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [int(found) for found in re.findall(r"\bw(\d+)\b", output)]


def rss_bytes(pid: int) -> int:
    pages = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE")


VARIANTS = {
    "camserve": None,
    "unbounded": (
        "import camserve.streams._stream\n"
        "camserve.streams._stream.bound_send_queue = lambda transport, unsent: False\n"
    ),
    "lowat2": (
        "import camserve.streams._stream\n"
        "from camserve.streams._send_queue import bound_send_queue\n"
        "camserve.streams._stream.bound_send_queue = (\n"
        "    lambda transport, unsent: bound_send_queue(transport, 2 * unsent))\n"
    ),
    "sndbuf": (
        "import socket\n"
        "import camserve.streams._stream\n"
        "from camserve.streams._send_queue import tcp_connection\n"
        "def bound(transport, unsent):\n"
        "    connection = tcp_connection(transport)\n"
        "    connection.bufferSize = 0\n"
        "    connection.getHandle().setsockopt(\n"
        "        socket.SOL_SOCKET, socket.SO_SNDBUF, 2 * unsent)\n"
        "    return True\n"
        "camserve.streams._stream.bound_send_queue = bound\n"
    ),
}
"""
What bounds a stream's send queue: camserve as it is, or, for comparison,
camserve patched (by a C{sitecustomize} module) to bound nothing, or to cap
C{SO_SNDBUF} at two frames instead of C{TCP_NOTSENT_LOWAT}.
"""


def start_camserve(
    port: int, args: argparse.Namespace, logs: Path, link: DelayLink | None = None
) -> tuple[subprocess.Popen[bytes], str]:
    """
    camserve from this checkout on its default camera; the process and the
    address it listens on (in the link's server namespace, if given).
    """
    host = SERVER_ADDRESS if link else "127.0.0.1"
    command = [
        str(ROOT / ".venv" / "bin" / "twistd"),
        "--pidfile=",
        "-n",
        "camserve",
        "--endpoint",
        f"tcp:{port}:interface={host}",
        "--fps",
        str(args.fps),
        "--width",
        str(args.width),
        "--height",
        str(args.height),
    ]
    if "max-connections-per-client" in (ROOT / "camserve" / "tap.py").read_text():
        # Every viewer here comes from one address: lift the per-client limit
        # of the checkouts that have one.
        command += ["--max-connections", "5000", "--max-connections-per-client", "5000"]
    path = str(ROOT)
    patch = VARIANTS[args.variant]
    if patch is not None:
        # A patch of a name that has moved would silently measure camserve.
        patch = (
            "import camserve.streams._stream\nassert camserve.streams._stream.bound_send_queue\n"
            + patch
        )
    if patch is not None:
        patched = logs / f"variant-{args.variant}"
        patched.mkdir(exist_ok=True)
        (patched / "sitecustomize.py").write_text(patch)
        path = f"{patched}{os.pathsep}{path}"
    env = dict(os.environ, PYTHONPATH=path, PYTHONDONTWRITEBYTECODE="1")
    with (logs / f"camserve-{port}.log").open("wb") as output:
        process = subprocess.Popen(
            link.server_command(command) if link else command,
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=logs,
            env=env,
        )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with client_side(link):
                probe = socket.create_connection((host, port), timeout=2)
        except OSError:
            time.sleep(0.1)
        else:
            probe.close()
            return process, host
    process.kill()
    raise RuntimeError("camserve did not start")


def client_side(link: DelayLink | None) -> contextlib.AbstractContextManager[None]:
    """Where clients' sockets are made: the link's client namespace, or here."""
    return link.in_client_namespace() if link else contextlib.nullcontext()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def watch(
    host: str,
    port: int,
    bitrate: float,
    args: argparse.Namespace,
    link: DelayLink | None = None,
) -> dict[str, Any]:
    """Fast and slow viewers at once: their figures."""
    with client_side(link):
        fast = [Reader(host, port, None, None) for _ in range(args.fast)]
        slow = {
            share: Reader(host, port, share * bitrate, args.rcvbuf)
            for share in args.rates
        }
    for reader in [*fast, *slow.values()]:
        reader.start()
    start = time.time() + args.warmup
    time.sleep(args.seconds + args.warmup)
    end = time.time()
    for reader in [*fast, *slow.values()]:
        reader.stop()
    return {
        "fast_fps": [reader.fps(start, end) for reader in fast],
        "slow": {
            f"{share:g}": slow_figures(reader, args.fps, start, end)
            for share, reader in slow.items()
        },
    }


def stalled_figures(port: int, pid: int, count: int, settle: float) -> dict[str, Any]:
    """Kernel and process memory per viewer that reads nothing."""
    rss_before = rss_bytes(pid)
    stalled = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port))
        sock.sendall(b"GET /video_feed HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        stalled.append(sock)
    time.sleep(settle)
    queued = queued_bytes(port)
    figures = {
        "viewers": count,
        "kernel_queued_per_viewer_kb": sum(queued) / len(queued) / 1024,
        "kernel_queued_max_kb": max(queued) / 1024,
        "rss_per_viewer_kb": (rss_bytes(pid) - rss_before) / count / 1024,
    }
    for sock in stalled:
        sock.close()
    return figures


def measure(args: argparse.Namespace) -> dict[str, Any]:
    logs = Path(args.logs)
    logs.mkdir(parents=True, exist_ok=True)
    port = free_port()
    server, host = start_camserve(port, args, logs)
    result: dict[str, Any] = {
        "variant": args.variant,
        "fps": args.fps,
        "size": [args.width, args.height],
        "rcvbuf": args.rcvbuf,
    }
    try:
        probe = Reader(host, port, None, None)
        probe.start()
        time.sleep(1.0)
        before, begun = probe.bytes, time.monotonic()
        time.sleep(3.0)
        bitrate = (probe.bytes - before) / (time.monotonic() - begun)
        probe.stop()
        result["bitrate_kbps"] = bitrate / 1000
        print(f"stream: {bitrate / 1000:.0f} KB/s at {args.fps:g} fps", flush=True)
        result.update(watch(host, port, bitrate, args))
        if args.stalled:
            result["stalled"] = stalled_figures(
                port, server.pid, args.stalled, args.settle
            )
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(15)
    result["rtt"] = {}
    result["congestion_control"] = (
        args.cc or Path("/proc/sys/net/ipv4/tcp_congestion_control").read_text().strip()
    )
    for rtt in args.rtt:
        with DelayLink(rtt / 1000, args.cc) as link:
            server, host = start_camserve(port, args, logs, link)
            try:
                figures = watch(host, port, bitrate, args, link)
                figures["measured_rtt_ms"] = round_trip_ms(link, port)
                result["rtt"][f"{rtt:g}"] = figures
            finally:
                server.send_signal(signal.SIGTERM)
                server.wait(15)
        print(f"round trip {rtt:g} ms done", flush=True)
    return result


def slow_rows(slow: dict[str, dict[str, Any]]) -> list[str]:
    rows = [
        (
            "| reads at | fps | age p50 | p99 | max | first quarter | last quarter"
            " | skipped |"
        ),
        "|---|---|---|---|---|---|---|---|",
    ]
    for share, figures in slow.items():
        if "age_p50_ms" not in figures:
            rows.append(f"| {share} | failed: {figures} |")
            continue
        rows.append(
            f"| {float(share):.0%} | {figures['fps']:.1f}"
            f" | {figures['age_p50_ms']:.0f} ms | {figures['age_p99_ms']:.0f} ms"
            f" | {figures['age_max_ms']:.0f} ms"
            f" | {figures['age_first_quarter_ms']:.0f} ms"
            f" | {figures['age_last_quarter_ms']:.0f} ms"
            f" | {figures['skipped_share']:.0%} |"
        )
    return rows


def report(result: dict[str, Any]) -> str:
    lines = [
        (
            f"{result['variant']}: stream {result['bitrate_kbps']:.0f} KB/s,"
            f" {result['size'][0]}x{result['size'][1]} at {result['fps']:g} fps;"
            f" slow viewers' receive buffer {result['rcvbuf']} B"
        ),
        "fast viewers' fps: " + ", ".join(f"{fps:.1f}" for fps in result["fast_fps"]),
        *slow_rows(result["slow"]),
    ]
    stalled = result.get("stalled")
    if stalled:
        lines.append(
            f"{stalled['viewers']} stalled viewers: kernel send queue"
            f" {stalled['kernel_queued_per_viewer_kb']:.0f} KB each"
            f" (max {stalled['kernel_queued_max_kb']:.0f} KB),"
            f" server RSS {stalled['rss_per_viewer_kb']:.1f} KB each"
        )
    for rtt, figures in result["rtt"].items():
        lines += [
            "",
            f"round trip {rtt} ms, {result['congestion_control']} (a TCP connect took"
            f" {figures['measured_rtt_ms']:.0f} ms): fast viewers' fps "
            + ", ".join(f"{fps:.1f}" for fps in figures["fast_fps"]),
            *slow_rows(figures["slow"]),
        ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument(
        "--warmup",
        type=float,
        default=3.0,
        help="seconds the viewers watch before the window (TCP's slow start)",
    )
    parser.add_argument("--fps", type=float, default=15.0)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument(
        "--variant",
        choices=list(VARIANTS),
        default="camserve",
        help="camserve as it is, or patched for comparison (see VARIANTS)",
    )
    parser.add_argument("--rates", type=float, nargs="+", default=[0.25, 0.5, 0.9])
    parser.add_argument("--rcvbuf", type=int, default=65536)
    parser.add_argument("--fast", type=int, default=4)
    parser.add_argument("--stalled", type=int, default=20)
    parser.add_argument("--settle", type=float, default=5.0)
    parser.add_argument(
        "--rtt",
        type=float,
        nargs="*",
        default=[],
        metavar="MS",
        help="also measure over a link with these round trips (needs root)",
    )
    parser.add_argument(
        "--cc",
        help="TCP congestion control over the link (default: the system's)",
    )
    parser.add_argument("--logs", default=str(BENCH / "out"))
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    result = measure(args)
    print(report(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
