#!/usr/bin/env python3
"""
How soon a recording plays: the time to the first frame of a playback, and
from a seek to the frame sought, over a real server and a real socket.

    .venv/bin/python bench/playback_latency.py [--minutes 30] [--tries 20]
        [--wall 4] [--json FILE]

It writes C{--minutes} of recording (the standard 640x480 frames of
C{bench/make_frames.py}, about 51 KB each, at 30 fps, ending a minute ago)
with camserve's own segment writer into a temporary folder, as camera
C{cam1}'s; cameras C{cam2} to C{cam<wall>} get the same files (hard links).
It serves them with C{twistd camserve --config} from this checkout (the
cameras themselves are not recorded and nobody watches them live). Then,
at random instants of the recording (seeded, so every run asks the same):

- I{first frame}: from sending C{GET /cameras/cam1/playback?start=T} on a
  new connection to the whole first part, whose C{X-Timestamp} is checked
  to be the frame at or just before C{T};
- I{seek}: on such a playback, playing, from sending C{POST .../playback/
  <session>} C{{"action": "seek", "time": T}} to the whole first part
  captured at C{T} (to the frame) on the stream;
- I{wall first frame} and I{wall seek}: the same for the grid's playback
  of every camera in step (C{GET /streams?cameras=...&start=T}, C{POST
  /streams/<session>}), until every camera's part captured at C{T} is in.

Segments are read through the page cache (the recording was just written):
what a server whose disk holds its recent recordings in memory pays; a cold
disk adds its seeks. The first of each is listed apart, as it finds the
segment list and indexes unread.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(ROOT))

from make_frames import make_frames  # noqa: E402 - after the path
from multicam import serve, stop  # noqa: E402

from camserve._frame import Frame  # noqa: E402
from camserve.recording._open_segments import OpenSegments  # noqa: E402
from camserve.recording._segment_writer import SegmentWriter  # noqa: E402

FPS = 30.0
INTERVAL = 1 / FPS


def record(root: Path, frames: Path, minutes: float) -> tuple[float, float]:
    """
    Write C{minutes} of camera C{cam1}'s recording into C{root}, as its
    recorder would, ending a minute ago; its first and last capture times.
    """
    jpegs = [path.read_bytes() for path in sorted(frames.glob("*.jpg"))]
    count = int(minutes * 60 * FPS)
    first = time.time() - 60 - count * INTERVAL
    writer = SegmentWriter(root, "cam1", OpenSegments())
    batch = int(FPS)
    for start in range(0, count, batch):
        written = writer.write(
            [
                Frame(
                    jpegs[number % len(jpegs)],
                    first + number * INTERVAL,
                    number + 1,
                    0.0,
                )
                for number in range(start, min(start + batch, count))
            ],
            segment_seconds=300.0,
            sync=False,
        )
        if written.error is not None:
            raise RuntimeError(f"writing the recording failed: {written.error}")
    writer.end_segment()
    return first, first + (count - 1) * INTERVAL


def linked(source: Path, copy: Path) -> None:
    """Make C{copy} a folder of hard links to the files of C{source}."""
    for path in source.rglob("*"):
        target = copy / path.relative_to(source)
        if path.is_dir():
            target.mkdir(parents=True, exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.link(path, target)


class Stream:
    """
    A playback stream read in a thread: each whole part's arrival time and
    capture time.
    """

    def __init__(self, port: int, path: str) -> None:
        self.sent = time.perf_counter()
        self.socket = socket.create_connection(("127.0.0.1", port), 10)
        self.socket.sendall(
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
        )
        self.session = ""
        self.parts: list[tuple[float, float, str]] = []
        self.changed = threading.Condition()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        data = b""
        head = -1
        try:
            while True:
                chunk = self.socket.recv(1 << 18)
                if not chunk:
                    return
                data += chunk
                if head < 0:
                    head = data.find(b"\r\n\r\n")
                    if head < 0:
                        continue
                    for line in data[:head].split(b"\r\n"):
                        name, _, value = line.partition(b":")
                        if name.strip().lower() == b"x-playback-session":
                            self.session = value.strip().decode()
                    data = data[head + 4 :]
                data = self._parts(data)
        except OSError:
            return

    def _parts(self, data: bytes) -> bytes:
        """Take the whole parts at the start of C{data}; what is left."""
        while True:
            end = data.find(b"\r\n\r\n")
            if end < 0:
                return data
            headers = {
                name.strip().lower(): value.strip()
                for name, _, value in (
                    line.partition(b":") for line in data[:end].split(b"\r\n")
                )
            }
            length = int(headers.get(b"content-length", b"-1"))
            if length < 0:
                # The boundary line before the part's headers.
                data = data[data.find(b"\r\n") + 2 :]
                continue
            if len(data) < end + 4 + length:
                return data
            arrived = time.perf_counter()
            with self.changed:
                camera = headers.get(b"x-camera", b"").decode()
                self.parts.append((arrived, float(headers[b"x-timestamp"]), camera))
                self.changed.notify_all()
            data = data[end + 4 + length :]

    def wait_for(
        self, wanted: Any, since: int = 0, cameras: int = 1, timeout: float = 10.0
    ) -> float:
        """
        When, from the C{since}th part on, parts for which
        C{wanted(captured_at)} had come from C{cameras} cameras.
        """
        with self.changed:
            seen = since
            found: set[str] = set()
            deadline = time.monotonic() + timeout
            while True:
                for arrived, captured, camera in self.parts[seen:]:
                    if wanted(captured):
                        found.add(camera)
                        if len(found) == cameras:
                            return arrived
                seen = len(self.parts)
                left = deadline - time.monotonic()
                if left <= 0 or not self.changed.wait(left):
                    raise RuntimeError("the parts wanted never came")

    def close(self) -> None:
        self.socket.close()
        self.thread.join(5)


def post(port: int, path: str, body: dict[str, Any]) -> None:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=json.dumps(body).encode(),
        headers={
            "Content-Type": "application/json",
            "Origin": f"http://127.0.0.1:{port}",
        },
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 - http
        answer.read()


def summary(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)
    return {
        "first_ms": times[0],
        "median_ms": statistics.median(ordered[1:] or ordered),
        "p90_ms": ordered[int(0.9 * (len(ordered) - 1))],
        "max_ms": ordered[-1],
    }


def near(when: float) -> Any:
    """Whether a capture time is that of the frame at or just before C{when}."""
    return lambda captured: when - INTERVAL - 1e-3 <= captured <= when + 1e-3


def measure(
    port: int, stream_path: str, control_path: str, cameras: int, instants: list[float]
) -> dict[str, Any]:
    """
    The first-frame times of playbacks at the first half of C{instants},
    and the seek times to the second half on one playback.
    """
    tries = len(instants) // 2
    starts: list[float] = []
    for when in instants[:tries]:
        stream = Stream(port, f"{stream_path}start={when:.6f}")
        arrived = stream.wait_for(near(when), cameras=cameras)
        if any(not near(when)(captured) for _, captured, _ in stream.parts[:cameras]):
            raise RuntimeError(f"asked {when:.3f}, first frames {stream.parts}")
        starts.append((arrived - stream.sent) * 1000)
        stream.close()
    seeks: list[float] = []
    stream = Stream(port, f"{stream_path}start={instants[0]:.6f}")
    stream.wait_for(lambda _: True, cameras=cameras)
    for when in instants[tries:]:
        # The parts sought may come before the answer to the seek does.
        since = len(stream.parts)
        sent = time.perf_counter()
        post(port, control_path + stream.session, {"action": "seek", "time": when})
        arrived = stream.wait_for(near(when), since, cameras)
        seeks.append((arrived - sent) * 1000)
    stream.close()
    return {"first frame": summary(starts), "seek": summary(seeks)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--tries", type=int, default=20)
    parser.add_argument("--wall", type=int, default=4)
    parser.add_argument("--json", help="also write the figures to this file")
    arguments = parser.parse_args()
    frames = Path(tempfile.gettempdir()) / "camserve-bench-frames"
    make_frames(frames)
    with tempfile.TemporaryDirectory(prefix="camserve-playback-") as folder:
        logs = Path(folder)
        recordings = logs / "recordings"
        began = time.monotonic()
        first, last = record(recordings, frames, arguments.minutes)
        size = sum(
            path.stat().st_size for path in recordings.rglob("*") if path.is_file()
        )
        print(
            f"recorded {arguments.minutes:g} minutes, {size / 1e9:.2f} GB,"
            f" in {time.monotonic() - began:.0f} s"
        )
        for number in range(2, arguments.wall + 1):
            linked(recordings / "cam1", recordings / f"cam{number}")
        process, port = serve(
            arguments.wall, frames, logs, server={"recordings_dir": str(recordings)}
        )
        chosen = random.Random(1)
        instants = [
            chosen.uniform(first, last - 60) for _ in range(2 * arguments.tries)
        ]
        names = ",".join(f"cam{number}" for number in range(1, arguments.wall + 1))
        try:
            results = {
                "camera": measure(
                    port,
                    "/cameras/cam1/playback?",
                    "/cameras/cam1/playback/",
                    1,
                    instants,
                ),
                f"wall of {arguments.wall}": measure(
                    port,
                    f"/streams?cameras={names}&",
                    "/streams/",
                    arguments.wall,
                    instants,
                ),
            }
        finally:
            stop(process)
    print(f"{'':>24} {'first':>8} {'median':>8} {'p90':>8} {'max':>8}  (ms)")
    for who, measured in results.items():
        for what, figures in measured.items():
            print(
                f"{who + ' ' + what:>24} {figures['first_ms']:>8.1f}"
                f" {figures['median_ms']:>8.1f} {figures['p90_ms']:>8.1f}"
                f" {figures['max_ms']:>8.1f}"
            )
    if arguments.json:
        Path(arguments.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
