#!/usr/bin/env python3
"""
What a camera driver costs camserve: CPU time per frame delivered to one
viewer, and the frame rate, for any driver and options.

It starts C{python -m camserve --camera CAMERA ...} from this checkout on a
free port on 127.0.0.1, attaches one viewer (a raw socket reading
C{/video_feed} as fast as it can), lets it settle, then over a window reads
the server's CPU time (utime + stime of all its threads, from
C{/proc/PID/stat}) and counts the frames that reach the viewer whole.

    bench/driver_cpu.py --camera emulated --fps 30
    bench/driver_cpu.py --camera opencv --source clip.avi --option rotate=90
    bench/driver_cpu.py --compare

C{--compare} writes an MJPEG file (1280x720, 30 fps, 10 s) and serves it
with the opencv driver twice: as it is (passthrough: the file's JPEGs
forwarded untouched) and rotated by 180 degrees (decode+encode); then it
measures an mjpeg relay of the first (the relay's process alone).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from servers import ROOT, cpu_now, free_port, http_get

if TYPE_CHECKING:
    from collections.abc import Iterator

PASSED_ON = ("source", "fps", "width", "height", "quality", "option")
"""Options given to camserve as they are."""


def health(port: int) -> dict[str, object]:
    """The health of the server's one camera."""
    camera: dict[str, object] = json.loads(http_get(port, "/healthz")[1])["cameras"][0]
    return camera


class Viewer(threading.Thread):
    """
    Reads C{/video_feed} and notes when each part arrives whole.
    """

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.sock = socket.create_connection(("127.0.0.1", port), 10)
        self.sock.sendall(b"GET /video_feed HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        self.arrivals: list[float] = []
        self.error: str | None = None

    def run(self) -> None:
        buffer = b""
        try:
            while True:
                data = self.sock.recv(1 << 18)
                if not data:
                    self.error = "the server closed the stream"
                    return
                buffer = self._parts(buffer + data)
        except OSError as error:
            self.error = str(error)

    def _parts(self, buffer: bytes) -> bytes:
        """
        Count the parts complete in C{buffer}; what is left of it.
        """
        while True:
            head_end = buffer.find(b"\r\n\r\n")
            if head_end < 0:
                return buffer
            head = buffer[:head_end].lower()
            marker = head.find(b"content-length:")
            if marker < 0:  # the response's own head, or the first boundary
                buffer = buffer[head_end + 4 :]
                continue
            length = int(head[marker + 15 :].split(b"\r\n")[0])
            end = head_end + 4 + length
            if len(buffer) < end:
                return buffer
            self.arrivals.append(time.monotonic())
            buffer = buffer[end:]

    def close(self) -> None:
        self.sock.close()


@contextmanager
def serving(
    camera: str, options: dict[str, str]
) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """
    Run camserve with C{camera} and C{options} (long option names to
    values) on a free port until the block ends: the process and the port.
    """
    port = free_port()
    command = [sys.executable, "-m", "camserve", "--camera", camera]
    command += ["--endpoint", f"tcp:{port}:interface=127.0.0.1"]
    for name, value in options.items():
        command += [f"--{name}", value]
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONDONTWRITEBYTECODE="1")
    with tempfile.TemporaryFile() as output:
        server = subprocess.Popen(
            command, stdout=output, stderr=subprocess.STDOUT, env=env, cwd=ROOT
        )
        try:
            _wait_until_serving(server, port)
            yield server, port
        except RuntimeError:
            output.seek(0)
            print(output.read().decode(errors="replace")[-2000:])
            raise
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(5)


def measure(
    camera: str, options: dict[str, str], seconds: float, settle: float
) -> dict[str, object]:
    """
    Serve C{camera} with C{options}, watch it with one viewer, and measure
    over C{seconds} after C{settle} seconds.
    """
    with serving(camera, options) as (server, port):
        return _measure(server, port, seconds, settle)


def _wait_until_serving(server: subprocess.Popen[bytes], port: int) -> None:
    deadline = time.monotonic() + 30
    while True:
        if server.poll() is not None:
            raise RuntimeError(f"camserve exited with {server.returncode}")
        try:
            health(port)
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError("camserve did not answer in time") from None
            time.sleep(0.1)
        else:
            return


def _measure(
    server: subprocess.Popen[bytes], port: int, seconds: float, settle: float
) -> dict[str, object]:
    viewer = Viewer(port)
    viewer.start()
    try:
        time.sleep(settle)
        if not viewer.arrivals:
            raise RuntimeError(f"no frame after {settle} s: {viewer.error}")
        started, cpu_started = time.monotonic(), cpu_now(server.pid)
        time.sleep(seconds)
        ended, cpu_ended = time.monotonic(), cpu_now(server.pid)
        details = health(port).get("details", {})
    finally:
        viewer.close()
    frames = sum(started <= at <= ended for at in viewer.arrivals)
    if not frames:
        raise RuntimeError(f"no frame in the window: {viewer.error}")
    cpu = cpu_ended - cpu_started
    return {
        "frames": frames,
        "fps": frames / (ended - started),
        "cpu_percent": 100 * cpu / (ended - started),
        "cpu_us_per_frame": 1e6 * cpu / frames,
        "path": details.get("path") if isinstance(details, dict) else None,
    }


def report(title: str, result: dict[str, object]) -> None:
    path = f"  path {result['path']}" if result["path"] else ""
    print(
        f"{title:<32} {result['fps']:6.1f} fps  {result['cpu_percent']:5.1f}% CPU"
        f"  {result['cpu_us_per_frame']:7.0f} µs/frame{path}",
        flush=True,
    )


def write_mjpeg(path: Path, width: int, height: int, fps: int, seconds: int) -> None:
    """
    An MJPEG AVI file of a scene panning sideways, made with OpenCV.
    """
    import cv2  # noqa: PLC0415 - only this mode needs OpenCV here
    import numpy as np  # noqa: PLC0415
    from jpeg_encoders import scene  # noqa: PLC0415

    base = scene(width, height)
    writer = cv2.VideoWriter(
        str(path), cv2.VideoWriter.fourcc(*"MJPG"), fps, (width, height)
    )
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write {path}")
    try:
        for number in range(fps * seconds):
            writer.write(np.roll(base, number * 8, axis=1))
    finally:
        writer.release()


def compare(seconds: float, settle: float) -> None:
    """
    One MJPEG file through the opencv driver, passed through and then
    decoded and encoded again; then the same stream through an mjpeg relay.
    """
    with tempfile.TemporaryDirectory() as folder:
        clip = Path(folder) / "clip.avi"
        write_mjpeg(clip, 1280, 720, 30, 10)
        size = clip.stat().st_size / 300 / 1024
        print(f"{clip.name}: 1280x720, 30 fps, 10 s, MJPEG, {size:.0f} KB a frame")
        runs = {
            "opencv, as it is": {},
            "opencv, rotate=180": {"option": "rotate=180"},
        }
        for title, extra in runs.items():
            options = {"source": str(clip), **extra}
            report(title, measure("opencv", options, seconds, settle))
        with serving("opencv", {"source": str(clip)}) as (_, origin):
            stream = {"source": f"http://127.0.0.1:{origin}/video_feed"}
            report("mjpeg relay of it", measure("mjpeg", stream, seconds, settle))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="Any option of camserve's named above is passed on as it is.",
    )
    parser.add_argument("--camera", default="emulated")
    parser.add_argument("--seconds", type=float, default=10.0, help="window")
    parser.add_argument("--settle", type=float, default=3.0)
    parser.add_argument("--compare", action="store_true")
    for name in PASSED_ON:
        parser.add_argument(f"--{name}")
    args = parser.parse_args()
    if args.compare:
        compare(args.seconds, args.settle)
        return
    options = {name: getattr(args, name) for name in PASSED_ON if getattr(args, name)}
    given = " ".join(f"--{name} {value}" for name, value in options.items())
    report(
        f"{args.camera} {given}",
        measure(args.camera, options, args.seconds, args.settle),
    )


if __name__ == "__main__":
    main()
