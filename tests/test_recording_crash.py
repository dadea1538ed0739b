"""
Recordings after the worst: a real C{python -m camserve} killed with
C{SIGKILL} while it records (and after a C{SIGHUP} reload changed what it
records), segments cut at random places as a power cut leaves them, and a
real disk that fills up or turns read-only. Each is read back by
C{docs/recording-format.md}'s rules alone.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import time
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
import pytest
from recording_files import (
    PART_END,
    RECORD,
    check_whole,
    index_of,
    read_segment,
    segments,
)
from support import free_port
from test_recorder import Recording
from test_running import PYTHON, TIMEOUT, environment, get, running, stop
from test_segment_writer import FIVE_MINUTES, frames
from twisted.trial.unittest import SynchronousTestCase

from camserve.recording._modes import RecordingState
from camserve.recording._open_segments import OpenSegments
from camserve.recording._segment_writer import SegmentWriter

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

_RESULTS = SynchronousTestCase()


def config(port: int, *cameras: str) -> str:
    """
    A config file recording into C{rec} beside it, listening on C{port}.
    """
    server = (
        "[server]\n"
        f'endpoints = ["tcp:{port}:interface=127.0.0.1"]\n'
        'recordings_dir = "rec"\n'
    )
    return server + "".join(cameras)


def camera(name: str, record: str, fps: int = 30) -> str:
    return (
        f'[[cameras]]\nname = "{name}"\ndriver = "emulated"\nwidth = 160\n'
        f'height = 120\nfps = {fps}\nrecord = "{record}"\nsegment_minutes = 0.05\n'
    )


def wait_for(
    predicate: Callable[[], bool], what: str, timeout: float = TIMEOUT
) -> None:
    """
    Wait until C{predicate()} holds, polling: the server is another process.
    """
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting until {what}")
        time.sleep(0.05)


def decodes(jpeg: bytes) -> bool:
    image = cv2.imdecode(np.frombuffer(jpeg, dtype=np.uint8), cv2.IMREAD_COLOR)
    return image is not None


def test_a_killed_server_loses_at_most_a_second(tmp_path: Path) -> None:
    """
    A camserve killed with SIGKILL while it records leaves segments that
    read back whole: those ended (by their length, or by a reload that
    made their camera again) exactly, the last up to its last complete
    frame, which is less than a second older than the kill. A reload
    that makes a camera record starts its recording.
    """
    port = free_port()
    path = tmp_path / "cameras.toml"
    path.write_text(config(port, camera("porch", "continuous"), camera("yard", "off")))
    rec = tmp_path / "rec"
    log = tmp_path / "camserve.log"
    args = [PYTHON, "-m", "camserve", "--config", str(path)]
    with running(args, cwd=tmp_path, port=port, log=log, env=environment()) as process:
        wait_for(lambda: len(segments(rec, "porch")) >= 2, "porch's second segment")
        path.write_text(
            config(
                port,
                camera("porch", "continuous", fps=25),
                camera("yard", "continuous"),
            )
        )
        reloaded = len(segments(rec, "porch"))
        process.send_signal(signal.SIGHUP)
        wait_for(
            lambda: (
                len(segments(rec, "yard")) >= 2
                and len(segments(rec, "porch")) >= reloaded + 2
            ),
            "both cameras record after the reload",
        )
        killed_at = time.time()
        process.kill()
        process.wait(TIMEOUT)
    output = log.read_text()
    assert "Traceback" not in output
    assert "camserve: reloaded" in output
    for name in ("porch", "yard"):
        written = segments(rec, name)
        *ended, last = written
        for each in ended:
            assert check_whole(each), f"{each} holds no frame"
        tail = read_segment(last)
        assert tail, f"{last} holds no frame"
        assert all(decodes(frame.jpeg) for frame in tail)
        times = [frame.captured_at for frame in tail]
        assert times == sorted(times)
        assert killed_at - times[-1] < 1.0, (name, killed_at - times[-1])


def test_a_server_stopped_closes_its_recordings(tmp_path: Path) -> None:
    """
    A camserve stopped with SIGTERM writes its recordings' last frames and
    closes them, each segment whole; while it ran, the API and the camera's
    health told the recording, and an export of it opened in OpenCV.
    """
    port = free_port()
    path = tmp_path / "cameras.toml"
    path.write_text(config(port, camera("porch", "continuous")))
    rec = tmp_path / "rec"
    log = tmp_path / "camserve.log"
    args = [PYTHON, "-m", "camserve", "--config", str(path)]
    with running(args, cwd=tmp_path, port=port, log=log, env=environment()) as process:

        def recording() -> dict[str, Any]:
            status, body = get(port, "/api/cameras")
            assert status == 200
            (porch,) = json.loads(body)
            return dict(porch["recording"])

        wait_for(lambda: recording()["frames_written"] >= 10, "porch records")
        assert recording()["mode"] == "continuous"
        assert recording()["state"] == "recording"
        status, body = get(port, "/cameras/porch/healthz")
        health = json.loads(body)
        assert (status, health["viewers"], health["consumers"]) == (
            200,
            0,
            {"recorder": 1},
        )
        # What it records, it serves: an export of it opens in OpenCV.
        status, exported = get(port, "/api/cameras/porch/export?start=0&end=4e9")
        assert status == 200
        (tmp_path / "porch.avi").write_bytes(exported)
        capture = cv2.VideoCapture(str(tmp_path / "porch.avi"))
        opened = 0
        while capture.read()[0]:
            opened += 1
        capture.release()
        assert opened >= 10
        output = stop(process, log)
    assert "Traceback" not in output
    recorded = [frame for each in segments(rec, "porch") for frame in check_whole(each)]
    assert len(recorded) >= opened


# A power cut at any moment


def test_a_segment_cut_anywhere_reads_back_to_its_last_whole_frame(
    tmp_path: Path,
) -> None:
    """
    Whatever a power cut leaves of a segment and its index (each cut
    anywhere, and perhaps longer than what reached the disk, filled with
    zeros), the spec's rules read back the frames before the cut exactly:
    each whose JPEG is on the disk with its index record, and each whose
    part is whole; nothing else.
    """
    written = frames(20)
    writer = SegmentWriter(tmp_path / "whole", "porch", OpenSegments())
    writer.write(written, segment_seconds=FIVE_MINUTES)
    writer.end_segment()
    (segment,) = segments(tmp_path / "whole", "porch")
    data, index = segment.read_bytes(), index_of(segment).read_bytes()
    records = [
        RECORD.unpack_from(index, at) for at in range(0, len(index), RECORD.size)
    ]
    cut = tmp_path / "cut" / "porch" / segment.parent.name
    cut.mkdir(parents=True)
    chance = random.Random(18)  # noqa: S311 - reproducible, not secret
    for _ in range(400):
        kept_data = chance.randint(0, len(data))
        kept_index = chance.randint(0, len(index))
        zeros_data = chance.choice([0, chance.randint(1, 3000)])
        zeros_index = chance.choice([0, chance.randint(1, 80)])
        (cut / segment.name).write_bytes(data[:kept_data] + bytes(zeros_data))
        index_of(cut / segment.name).write_bytes(
            index[:kept_index] + bytes(zeros_index)
        )
        read = read_segment(cut / segment.name)
        indexed = 0
        for _, offset, length, _ in records[: kept_index // RECORD.size]:
            if offset + length > kept_data:
                break
            indexed += 1
        whole = sum(
            offset + length + len(PART_END) <= kept_data
            for _, offset, length, _ in records
        )
        expected = written[: max(indexed, whole)]
        assert [frame.jpeg for frame in read] == [frame.jpeg for frame in expected], (
            kept_data,
            kept_index,
            zeros_data,
            zeros_index,
        )
        assert [round(frame.captured_at, 6) for frame in read] == [
            round(frame.captured_at, 6) for frame in expected
        ]


# A real disk


@contextmanager
def small_disk(folder: Path, size: int) -> Iterator[Path]:
    """
    A file system of its own of C{size} bytes mounted at C{folder} (a
    tmpfs) for the block; the test is skipped where mounting is not
    allowed (it takes root).
    """
    folder.mkdir()
    mount = shutil.which("mount")
    if os.geteuid() != 0 or mount is None:
        pytest.skip("mounting a tmpfs takes root")
    made = subprocess.run(
        [mount, "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
        capture_output=True,
        check=False,
    )
    if made.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {made.stderr.decode().strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def state(recording: Recording) -> RecordingState:
    return recording.recorder.state


def test_a_real_disk_full_then_read_only(tmp_path: Path) -> None:
    """
    On a real file system that fills up, the recording stops with the
    kernel's own error, keeps what it wrote, and records again by itself
    once space is freed; the same when the file system turns read-only,
    and back.
    """
    with small_disk(tmp_path / "disk", 256 * 1024) as disk:
        # Room for some twenty frames.
        (disk / "filler").write_bytes(bytes(232 * 1024))
        recording = Recording(disk)
        recording.recorder.start()
        recording.push(80, fps=8)
        assert state(recording) is RecordingState.FAILED
        error = str(recording.recorder.last_error)
        assert error.startswith(f"cannot write {disk / 'porch'}")
        assert error.endswith(": No space left on device")
        first = segments(disk, "porch")[0]
        kept = read_segment(first)
        assert 1 <= len(kept) < 80
        assert [frame.jpeg for frame in kept] == recording.pushed[: len(kept)]
        (disk / "filler").unlink()
        recording.push(41, fps=8)  # the next try, five seconds on
        assert state(recording) is RecordingState.RECORDING
        _RESULTS.successResultOf(recording.recorder.stop())
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        try:
            recording.recorder.start()
            recording.push(2, fps=8)
            assert state(recording) is RecordingState.FAILED
            assert str(recording.recorder.last_error).endswith(
                ": Read-only file system"
            )
        finally:
            subprocess.run(["mount", "-o", "remount,rw", str(disk)], check=True)
        recording.push(41, fps=8)
        assert state(recording) is RecordingState.RECORDING
        _RESULTS.successResultOf(recording.recorder.stop())
        assert len(segments(disk, "porch")) == 3
