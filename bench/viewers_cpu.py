"""
Server CPU and capture rate of camserve with N viewers.

Starts camserve (C{twistd -n camserve}) from this checkout's environment on
the default emulated camera, connects N raw-socket viewers that read as fast
as they can, and reports over the window: the camera's measured capture fps
(from /healthz), frames delivered per viewer, and the server's CPU (user +
system time from /proc) as a share of one core.

    .venv/bin/python bench/viewers_cpu.py --viewers 1 10 --seconds 30
"""

from __future__ import annotations

import argparse
import json
import os
import selectors
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")
BOUNDARY = b"\r\n--frame\r\n"


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def health(port: int) -> dict[str, object]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as r:
        result: dict[str, object] = json.load(r)
        return result


def run(port: int, pid: int, viewers: int, seconds: float) -> dict[str, float]:
    selector = selectors.DefaultSelector()
    counts = []
    for index in range(viewers):
        connection = socket.create_connection(("127.0.0.1", port))
        connection.sendall(b"GET /video_feed HTTP/1.1\r\nHost: bench\r\n\r\n")
        connection.setblocking(False)
        counts.append(0)
        selector.register(connection, selectors.EVENT_READ, index)
    tails = [b""] * viewers

    def pump(until: float, *, count: bool) -> None:
        while (remaining := until - time.monotonic()) > 0:
            for key, _ in selector.select(remaining):
                data = key.fileobj.recv(1 << 18)  # type: ignore[union-attr]
                if not data:
                    raise SystemExit("server closed a viewer's connection")
                chunk = tails[key.data] + data
                if count:
                    counts[key.data] += chunk.count(BOUNDARY)
                tails[key.data] = chunk[-len(BOUNDARY) + 1 :]

    pump(time.monotonic() + 3, count=False)  # warm up: camera started, viewers in
    cpu_before, started = cpu_seconds(pid), time.monotonic()
    pump(started + seconds, count=True)
    cpu_used, elapsed = cpu_seconds(pid) - cpu_before, time.monotonic() - started
    fps = float(health(port)["fps"])  # type: ignore[arg-type]
    for key in list(selector.get_map().values()):
        key.fileobj.close()  # type: ignore[union-attr]
    selector.close()
    delivered = sum(counts)
    return {
        "viewers": viewers,
        "capture_fps": fps,
        "viewer_fps": delivered / viewers / elapsed,
        "cpu_percent": 100 * cpu_used / elapsed,
        "cpu_us_per_frame": 1e6 * cpu_used / max(delivered, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--viewers", type=int, nargs="+", default=[1, 10])
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()

    port = free_port()
    twistd = Path(sys.executable).parent / "twistd"
    server = subprocess.Popen(
        [
            str(twistd),
            "--pidfile=",
            "-n",
            "camserve",
            f"--endpoint=tcp:{port}:interface=127.0.0.1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                health(port)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        idle_before, idle_started = cpu_seconds(server.pid), time.monotonic()
        time.sleep(3)
        idle = (
            100
            * (cpu_seconds(server.pid) - idle_before)
            / (time.monotonic() - idle_started)
        )
        print(f"idle server (no viewers): {idle:.1f}% CPU")
        print(
            "| viewers | capture fps | fps per viewer | server CPU | CPU per delivered frame |"
        )
        print("|---|---|---|---|---|")
        for viewers in args.viewers:
            row = run(port, server.pid, viewers, args.seconds)
            print(
                f"| {viewers} | {row['capture_fps']:.1f} | {row['viewer_fps']:.1f} "
                f"| {row['cpu_percent']:.1f}% | {row['cpu_us_per_frame']:.0f} µs |",
                flush=True,
            )
    finally:
        server.terminate()
        server.wait(timeout=20)


if __name__ == "__main__":
    main()
