#!/usr/bin/env python3
"""
What recording costs: CPU and disk bytes per hour for cameras at 640x480
and 30 fps recorded continuously, beside the same cameras unrecorded and
beside writing the same bytes and nothing else.

    .venv/bin/python bench/recording_cpu.py [--cameras 1 8] [--seconds 10]
        [--warmup 3] [--still 50] [--moving 10] [--json FILE]

For each number of cameras it runs four processes in turn, each over a
window of C{--seconds} after C{--warmup} (the motion window: at least one
whole scene), and reads the process's CPU time (all its threads) at the
window's ends:

- C{cameras}: a L{camserve.CameraService} of emulated cameras cycling the
  standard frames (C{bench/make_frames.py}: 30 JPEGs of about 51 KB) at 30
  fps, each kept running by a sink that does nothing: what the cameras
  cost without recording;
- C{recording}: the same cameras recorded continuously by a
  L{RecordingService} into a temporary folder (on the same disk as the
  system's temporary files);
- C{motion}: the same cameras recorded on motion (the default threshold,
  pre-roll and post-roll), each showing a scene that is still for
  C{--still} seconds (one of the standard frames over and over) and then
  moves for C{--moving} seconds (the standard frames), over and over, each
  camera starting its scene at another point of it;
- C{write}: no camserve, one thread per camera writing the same bytes at
  the same pace (each frame's multipart part, then its 24-byte index
  record, both made beforehand) and flushing both files to the disk once a
  second: about the least recording can cost.

Reports, per hour (the window's figures scaled): the CPU seconds of each,
the recording's own CPU (recording minus cameras), and the bytes written;
and the frames written and dropped in the window.
"""

from __future__ import annotations

import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from pathlib import Path
from typing import Any

from make_frames import make_frames
from servers import ROOT

sys.path.insert(0, str(ROOT))
from zope.interface import implementer

from camserve import CameraService, EmulatedCamera, ICamera, encode_part
from camserve._multipart import PREAMBLE
from camserve.recording._modes import RecordingMode, RecordingSettings
from camserve.recording._service import RecordingService

FPS = 30.0
HOUR = 3600.0
MODES = ("cameras", "recording", "motion", "write")


def folder_bytes(folder: Path) -> int:
    """The bytes of the files under C{folder}."""
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


class NoSink:
    """A sink that keeps its camera running and does nothing with frames."""

    kind = "bench"

    def send_frame(self, frame: object) -> None:
        pass

    def camera_closed(self) -> None:
        pass


@implementer(ICamera)
class SceneCamera:
    """
    A camera showing a scene that is still for C{still} seconds, then
    moves for C{moving}, over and over, at L{FPS}: a stand-in for a yard
    where something happens now and then.
    """

    def __init__(
        self, jpegs: list[bytes], still: float, moving: float, offset: float
    ) -> None:
        """
        @param offset: seconds into the scene to start at.
        """
        self.jpegs = jpegs
        self.still = still
        self.cycle = still + moving
        self.offset = offset

    def frames(self) -> Any:
        """
        Yield the scene's frames at L{FPS}.
        """
        deadline = time.monotonic()
        number = 0
        while True:
            moving = (self.offset + number / FPS) % self.cycle >= self.still
            yield self.jpegs[number % len(self.jpegs) if moving else 0]
            number += 1
            deadline += 1 / FPS
            time.sleep(max(0.0, deadline - time.monotonic()))


def run_camserve(
    mode: str,
    cameras: int,
    frames: Path,
    out: Path,
    *,
    warmup: float,
    seconds: float,
    scene: tuple[float, float],
) -> dict[str, Any]:
    """
    Run C{cameras} emulated cameras on the reactor, recorded or not, and
    measure a window.
    """
    from twisted.internet import reactor  # noqa: PLC0415

    service = CameraService(reactor)
    names = [f"cam{number}" for number in range(cameras)]
    jpegs = [path.read_bytes() for path in sorted(frames.glob("*.jpg"))]
    still, moving = scene
    for number, name in enumerate(names):
        if mode == "motion":
            # Each camera at another point of the scene, the first moving
            # at once, so that a window of one scene holds all of one.
            offset = (still + number * (still + moving) / cameras) % (still + moving)
            service.add_camera(name, SceneCamera(jpegs, still, moving, offset))
        else:
            service.add_camera(name, EmulatedCamera(source=str(frames), fps=FPS))
    recordings = RecordingService(service, reactor)
    if mode in ("recording", "motion"):
        kind = RecordingMode.CONTINUOUS if mode == "recording" else RecordingMode.MOTION
        every = RecordingSettings(kind)
        recordings.configure(out, 0, dict.fromkeys(names, every))
    else:
        for hub in service.hubs.values():
            hub.subscribe(NoSink())
    service.startService()
    recordings.startService()
    measured: dict[str, Any] = {}

    def counts() -> tuple[int, int]:
        reports = [recordings.report(name) for name in names]
        written = sum(report["frames_written"] for report in reports)
        dropped = sum(report["frames_dropped"] for report in reports)
        captured = sum(hub.frames_captured for hub in service.hubs.values())
        return written if mode in ("recording", "motion") else captured, dropped

    def start() -> None:
        measured["start"] = (time.monotonic(), time.process_time(), folder_bytes(out))
        measured["counts"] = counts()

    def end() -> None:
        wall, cpu, size = time.monotonic(), time.process_time(), folder_bytes(out)
        started_wall, started_cpu, started_size = measured.pop("start")
        frames_before, dropped_before = measured.pop("counts")
        frames_now, dropped_now = counts()
        measured.update(
            seconds=wall - started_wall,
            cpu=cpu - started_cpu,
            bytes=size - started_size,
            frames=frames_now - frames_before,
            dropped=dropped_now - dropped_before,
        )
        recordings.stopService().addBoth(lambda _: service.stopService()).addBoth(
            lambda _: reactor.stop()
        )

    reactor.callLater(warmup, start)
    reactor.callLater(warmup + seconds, end)
    reactor.run()
    return measured


def run_write(
    cameras: int, frames: Path, out: Path, *, warmup: float, seconds: float
) -> dict[str, Any]:
    """
    Write the bytes recording would, at the same pace, in a thread per
    camera, and measure a window.
    """
    jpegs = [path.read_bytes() for path in sorted(frames.glob("*.jpg"))]
    parts = [encode_part(jpeg, time.time()) for jpeg in jpegs]
    records = [
        struct.pack("<dQII", time.time(), 0, len(jpeg), zlib.crc32(jpeg))
        for jpeg in jpegs
    ]
    stop = threading.Event()
    written = [0] * cameras

    def write(number: int) -> None:
        folder = out / f"cam{number}"
        folder.mkdir(parents=True)
        segment = os.open(folder / "s.mjpeg", os.O_WRONLY | os.O_CREAT, 0o644)
        index = os.open(folder / "s.idx", os.O_WRONLY | os.O_CREAT, 0o644)
        os.write(segment, PREAMBLE)
        deadline = synced = time.monotonic()
        while not stop.is_set():
            which = written[number] % len(parts)
            os.write(segment, parts[which])
            os.write(index, records[which])
            written[number] += 1
            if time.monotonic() - synced >= 1.0:
                os.fsync(segment)
                os.fsync(index)
                synced = time.monotonic()
            deadline += 1 / FPS
            time.sleep(max(0.0, deadline - time.monotonic()))
        os.close(segment)
        os.close(index)

    threads = [
        threading.Thread(target=write, args=(number,), daemon=True)
        for number in range(cameras)
    ]
    for thread in threads:
        thread.start()
    time.sleep(warmup)
    started = (time.monotonic(), time.process_time(), folder_bytes(out), sum(written))
    time.sleep(seconds)
    ended = (time.monotonic(), time.process_time(), folder_bytes(out), sum(written))
    stop.set()
    for thread in threads:
        thread.join()
    return {
        "seconds": ended[0] - started[0],
        "cpu": ended[1] - started[1],
        "bytes": ended[2] - started[2],
        "frames": ended[3] - started[3],
        "dropped": 0,
    }


def child(arguments: argparse.Namespace) -> None:
    """Run one measurement and print it as JSON."""
    frames = Path(arguments.frames)
    with tempfile.TemporaryDirectory(prefix="camserve-bench-") as folder:
        out = Path(folder) / "rec"
        if arguments.child == "write":
            measured = run_write(
                arguments.cameras,
                frames,
                out,
                warmup=arguments.warmup,
                seconds=arguments.seconds,
            )
        else:
            measured = run_camserve(
                arguments.child,
                arguments.cameras,
                frames,
                out,
                warmup=arguments.warmup,
                seconds=arguments.seconds,
                scene=(arguments.still, arguments.moving),
            )
    print(json.dumps(measured))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cameras", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--still", type=float, default=50.0)
    parser.add_argument("--moving", type=float, default=10.0)
    parser.add_argument("--json", help="also write every figure to this file")
    parser.add_argument("--child", choices=MODES, help=argparse.SUPPRESS)
    parser.add_argument("--frames", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.child is not None:
        arguments.cameras = arguments.cameras[0]
        child(arguments)
        return
    frames = Path(tempfile.gettempdir()) / "camserve-bench-frames"
    make_frames(frames)
    results: dict[str, dict[str, Any]] = {}
    for cameras in arguments.cameras:
        for mode in MODES:
            seconds = arguments.seconds
            if mode == "motion":
                seconds = max(seconds, arguments.still + arguments.moving)
            done = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--child",
                    mode,
                    "--cameras",
                    str(cameras),
                    "--frames",
                    str(frames),
                    "--seconds",
                    str(seconds),
                    "--warmup",
                    str(arguments.warmup),
                    "--still",
                    str(arguments.still),
                    "--moving",
                    str(arguments.moving),
                ],
                capture_output=True,
                text=True,
                check=True,
                cwd=ROOT,
            )
            results[f"{cameras}/{mode}"] = json.loads(done.stdout.splitlines()[-1])
    print(
        f"{'cameras':>7} {'what':>10} {'CPU s/h':>9} {'CPU %':>6}"
        f" {'GB/h':>7} {'frames/s':>9} {'dropped':>7}"
    )
    for cameras in arguments.cameras:
        for mode in MODES:
            one = results[f"{cameras}/{mode}"]
            scale = HOUR / one["seconds"]
            print(
                f"{cameras:>7} {mode:>10} {one['cpu'] * scale:>9.0f}"
                f" {100 * one['cpu'] / one['seconds']:>6.1f}"
                f" {one['bytes'] * scale / 1e9:>7.2f}"
                f" {one['frames'] / one['seconds']:>9.1f} {one['dropped']:>7}"
            )
        plain, floor = results[f"{cameras}/cameras"], results[f"{cameras}/write"]
        least = floor["cpu"] / floor["seconds"] * HOUR
        for mode in ("recording", "motion"):
            recorded = results[f"{cameras}/{mode}"]
            own = (
                recorded["cpu"] / recorded["seconds"] - plain["cpu"] / plain["seconds"]
            ) * HOUR
            print(
                f"{cameras:>7} {mode:>10}: its own CPU {own:.0f} s/h,"
                f" {own / least:.1f} times writing every frame alone ({least:.0f} s/h)"
            )
    print(
        f"motion: a scene still for {arguments.still:g} s, then moving for"
        f" {arguments.moving:g} s, over and over"
    )
    if arguments.json:
        Path(arguments.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
