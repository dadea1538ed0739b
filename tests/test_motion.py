"""
Tests for recording on motion and the activity index
(L{camserve.recording._analysis}, L{camserve.recording._motion},
L{camserve.recording._activity_watch}, L{camserve.recording._motion_log},
L{camserve.recording._activity_file}): an emulated camera that alternates
still and moving stretches, recorded by a real L{RecordingService} on a
C{Clock}, its jobs run at once, into real files.
"""

from __future__ import annotations

import math
import struct
import threading
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
from recording_files import read_camera, segments
from support import reactor, reactor_test, wait_until
from test_recorder import Recording, WriterThread
from twisted.internet.defer import maybeDeferred
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from camserve import CameraService
from camserve._frame import Frame
from camserve.recording._activity_watch import ActivityWatch
from camserve.recording._analysis import Analysis
from camserve.recording._modes import RecordingMode, RecordingSettings
from camserve.recording._motion import MotionGate
from camserve.recording._open_segments import OpenSegments
from camserve.recording._recorder import Recorder
from camserve.recording._segment_writer import SegmentWriter
from camserve.recording._service import RecordingService
from camserve.testing import PushSource, ScriptedCamera

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from recording_files import Recorded

_RESULTS = SynchronousTestCase()
START = 1_700_000_000.0
FPS = 10
CONTINUOUS = RecordingSettings(RecordingMode.CONTINUOUS)
MOTION = RecordingSettings(
    RecordingMode.MOTION, motion_threshold=0.02, pre_roll=2.0, post_roll=3.0
)
ACT = struct.Struct("<df")


def at_once(job: Callable[[], Any]) -> Any:
    return maybeDeferred(job)


def picture(block_at: int) -> bytes:
    """
    A grey 256x192 JPEG with a white 48-pixel block C{block_at} pixels from
    the left.
    """
    image = np.full((192, 256, 3), 90, dtype=np.uint8)
    image[64:128, block_at : block_at + 48] = 240
    ok, encoded = cv2.imencode(".jpg", image)
    assert ok
    return bytes(encoded.tobytes())


STILL = picture(16)


class Porch:
    """
    Camera C{porch} on a clock, recorded by a recording service into
    C{root}, giving C{FPS} frames a second: the same picture while still,
    a block moving 8 pixels a frame while moving.
    """

    def __init__(self, root: Path, settings: RecordingSettings) -> None:
        self.root = root
        self.clock = Clock()
        self.clock.advance(START)
        self.cameras = CameraService(self.clock)
        self.source = PushSource()
        self.cameras.add_source("porch", self.source)
        self.recordings = RecordingService(
            self.cameras, self.clock, in_thread=at_once, wall_clock=self.clock.seconds
        )
        self.recordings.configure(root, 0, {"porch": settings})
        self.recordings.startService()
        self.frames = 0

    def still(self, seconds: float) -> None:
        self._give(seconds, lambda _: STILL)

    def moving(self, seconds: float) -> None:
        self._give(seconds, lambda step: picture(24 + 8 * (step % 23)))

    def _give(self, seconds: float, drawn: Callable[[int], bytes]) -> None:
        for step in range(round(seconds * FPS)):
            self.source.push(drawn(step), START + self.frames / FPS)
            self.frames += 1
            self.clock.advance(1 / FPS)

    def events(self) -> list[dict[str, Any]]:
        listed: list[dict[str, Any]] = _RESULTS.successResultOf(
            self.recordings.motion_events("porch")
        )
        return listed

    def stop(self) -> None:
        _RESULTS.successResultOf(self.recordings.stopService())

    def recorded(self) -> list[Recorded]:
        return read_camera(self.root, "porch")


def activity(root: Path) -> dict[float, float]:
    """
    Each second's activity in camera C{porch}'s C{.act} files, by its
    offset from C{START}; every file's records in time order.
    """
    seconds: dict[float, float] = {}
    for segment in segments(root, "porch"):
        data = segment.with_suffix(".act").read_bytes()
        assert len(data) % ACT.size == 0
        records = [ACT.unpack_from(data, at) for at in range(0, len(data), ACT.size)]
        assert [start for start, _ in records] == sorted({s for s, _ in records})
        seconds.update((start - START, score) for start, score in records)
    return seconds


def test_motion_is_recorded_with_its_pre_and_post_roll(tmp_path: Path) -> None:
    """
    Recording on motion writes nothing while the picture is still; once a
    block moves, it writes from C{pre_roll} seconds before the first moving
    frame (within a frame) until C{post_roll} seconds after the last frame
    scored as motion, each event in a segment of its own, and lists the
    events with their times and peaks; a second event is listed, with no
    end, while it goes on.
    """
    porch = Porch(tmp_path, MOTION)
    porch.still(5)
    assert segments(tmp_path, "porch") == []
    assert porch.events() == []
    assert porch.recordings.report("porch")["state"] == "waiting_for_motion"
    porch.moving(3)
    assert porch.recordings.report("porch")["state"] == "recording"
    porch.still(12)
    porch.moving(1)
    (first, going_on) = porch.events()
    assert going_on["end"] is None
    assert going_on["start"] - START in (20.0, 20.1)
    porch.moving(1)
    porch.still(10)
    porch.stop()

    events = porch.events()
    assert len(events) == 2
    assert events[0] == first
    for event, moved, until in ((events[0], 5.0, 8.0), (events[1], 20.0, 22.0)):
        assert event["start"] - START in (moved, moved + 0.1)
        # The background takes a moment to forget the block once it stops.
        assert until - 0.1 <= event["end"] - START <= until + 1.5
        assert 0.05 < event["peak"] <= 1
    assert events[1]["start"] == going_on["start"]

    first_segment, second_segment = segments(tmp_path, "porch")
    recorded = porch.recorded()
    times = [round(frame.captured_at - START, 1) for frame in recorded]
    for event, segment in zip(events, (first_segment, second_segment), strict=True):
        start = event["start"] - START
        end = event["end"] - START
        written = [t for t in times if start - 2.5 < t < end + 3.5]
        # Every frame from pre-roll to post-roll, none missing.
        assert written[0] == round(start - 2.0, 1)
        assert round(written[-1] - end, 1) == 3.0
        assert len(written) == round((written[-1] - written[0]) * FPS) + 1
        assert segment.stat().st_size > 0
    assert len(times) == len(set(times))
    assert all(
        any(e["start"] - 2.05 <= t + START <= e["end"] + 3.05 for e in events)
        for t in times
    )


def test_the_activity_index_is_high_where_the_picture_moves(tmp_path: Path) -> None:
    """
    Every segment recorded has an C{.act} file beside it: one record a
    second, its activity high in the seconds the block moves and about 0
    in the still ones, once the background has learnt the picture again.
    """
    porch = Porch(tmp_path, RecordingSettings(RecordingMode.CONTINUOUS))
    porch.still(4)
    porch.moving(3)
    porch.still(6)
    porch.stop()
    seconds = activity(tmp_path)
    assert sorted(seconds)[:12] == [float(second) for second in range(12)]
    for second in (4.0, 5.0, 6.0):
        assert seconds[second] > 0.05
    for second in (0.0, 1.0, 2.0, 3.0, 9.0, 10.0, 11.0):
        assert seconds[second] < 0.01
    assert len(porch.recorded()) == 13 * FPS


def test_motion_seconds_are_indexed_too(tmp_path: Path) -> None:
    """
    Recording on motion, the seconds written have their activity in the
    C{.act} file, the pre-roll's included: about 0 before the motion, high
    during it.
    """
    porch = Porch(tmp_path, MOTION)
    porch.still(5)
    porch.moving(3)
    porch.still(8)
    porch.stop()
    seconds = activity(tmp_path)
    assert seconds[3.0] < 0.01
    assert seconds[4.0] < 0.01
    assert min(seconds[5.0], seconds[6.0], seconds[7.0]) > 0.05


def test_a_slow_analysis_never_slows_the_recording(tmp_path: Path) -> None:
    """
    While the analysis thread is busy (here, stuck), the frames offered to
    it are passed over, counted, and every frame is still written; the
    activity index then has only the seconds analysed.
    """
    stuck = WriterThread(at_once=False)
    recording = Recording(tmp_path)
    recording.recorder.close()
    watch = ActivityWatch(lambda: CONTINUOUS, stuck, lambda _: None)
    recorder = Recorder(
        recording.cameras.camera("porch"),
        CONTINUOUS,
        SegmentWriter(tmp_path, "porch", recording.open),
        recording.clock,
        recording.thread,
        watch=watch,
    )
    recorder.start()
    recording.push(50)
    _RESULTS.successResultOf(recorder.stop())
    assert recording.recorded() == recording.pushed
    analysis = watch.analysis
    assert analysis.analysed == 0
    assert analysis.passed_over == 49
    assert len(stuck.jobs) == 1
    assert not segments(tmp_path, "porch")[0].with_suffix(".act").exists()


def frame(at: float, size: int = 1000) -> Frame:
    return Frame(b"x" * size, at, 1, at)


def test_the_pre_roll_ring_is_bounded_by_frames_and_bytes() -> None:
    """
    Waiting for motion, the gate keeps no more frames, nor bytes, than its
    bounds (the oldest forgotten first), nor frames older than the
    pre-roll; motion then lets the frames kept through, oldest first.
    """
    settings = RecordingSettings(RecordingMode.MOTION, pre_roll=60.0)
    ended: list[Any] = []
    by_frames = MotionGate(lambda: settings, ended.append, ring_frames=5)
    assert by_frames.admit([frame(START + n) for n in range(20)]) == []
    by_frames.scored(START + 19, 0.5)
    kept = by_frames.admit([])
    assert [each.captured_at - START for each in kept] == [15, 16, 17, 18, 19]

    by_bytes = MotionGate(lambda: settings, ended.append, ring_bytes=3500)
    by_bytes.admit([frame(START + n) for n in range(20)])
    by_bytes.scored(START + 19, 0.5)
    assert [each.captured_at - START for each in by_bytes.admit([])] == [17, 18, 19]

    short = RecordingSettings(RecordingMode.MOTION, pre_roll=2.0)
    by_time = MotionGate(lambda: short, ended.append)
    by_time.admit([frame(START + n / 2) for n in range(40)])
    by_time.scored(START + 19.5, 0.5)
    kept = by_time.admit([])
    assert [each.captured_at - START for each in kept] == [
        17.5,
        18.0,
        18.5,
        19.0,
        19.5,
    ]
    assert ended == []
    current = by_time.current()
    assert current is not None
    assert current.end is None
    assert math.isclose(current.peak, 0.5)


def test_a_new_segment_starts_where_it_did_among_the_frames_let_through() -> None:
    """
    Recording on motion, a frame that starts a new segment (the first of a
    camera made again) still does among the frames let through, the
    pre-roll's before it.
    """
    settings = RecordingSettings(RecordingMode.MOTION, pre_roll=1.0)
    watch = ActivityWatch(lambda: settings, WriterThread(at_once=False), lambda _: None)
    kept, splits = watch.take([frame(START + n / 10) for n in range(5)], {3})
    assert (kept, splits) == ([], set())
    watch.gate.scored(START + 0.4, 0.5)
    batch = [frame(START + 0.5 + n / 10) for n in range(3)]
    passed, splits = watch.take(batch, {1})
    assert len(passed) == 8
    assert passed[5:] == batch
    assert splits == {6}
    assert not watch.resting


@reactor_test
async def test_motion_recording_in_real_threads(tmp_path: Path) -> None:
    """
    On the real reactor, a camera captured in its thread that keeps still,
    then moves, is analysed in a thread of its own and recorded on motion:
    the event is listed and kept in C{motion.jsonl}, and the recording has
    an activity index.
    """
    cameras = CameraService(reactor)
    moving = [picture(24 + 8 * step) for step in range(20)]
    cameras.add_camera("porch", ScriptedCamera([STILL] * 100 + moving, fps=40))
    recordings = RecordingService(cameras, reactor)
    settings = RecordingSettings(
        RecordingMode.MOTION, motion_threshold=0.02, pre_roll=0.3, post_roll=1.0
    )
    recordings.configure(tmp_path, 0, {"porch": settings})
    cameras.startService()
    recordings.startService()
    try:
        await wait_until(
            (tmp_path / "porch" / "motion.jsonl").exists,
            "a motion event is kept",
        )
        names = {thread.name for thread in threading.enumerate()}
        events = await recordings.motion_events("porch")
    finally:
        await recordings.stopService()
        await cameras.stopService()
    assert "camserve-activity-porch" in names
    assert events[0]["end"] is not None
    assert 0.05 < events[0]["peak"] <= 1
    assert read_camera(tmp_path, "porch")
    assert segments(tmp_path, "porch")[0].with_suffix(".act").exists()


def test_motion_going_on_when_the_recording_ends_is_kept(tmp_path: Path) -> None:
    """
    Stopping while the picture moves ends the recording and its event,
    which is kept with the last frame scored as motion as its end.
    """
    porch = Porch(tmp_path, MOTION)
    porch.still(3)
    porch.moving(2)
    porch.stop()
    (event,) = porch.events()
    assert event["start"] - START in (3.0, 3.1)
    assert 4.7 <= event["end"] - START <= 4.9
    assert (tmp_path / "porch" / "motion.jsonl").read_text().count("\n") == 1
    times = [frame.captured_at - START for frame in porch.recorded()]
    assert round(times[0], 1) == round(event["start"] - START - 2.0, 1)
    assert round(times[-1], 1) == 4.9


class Scripted:
    """
    A meter whose scores are given in advance, in order.
    """

    def __init__(self, scores: list[float | None]) -> None:
        self.scores = scores

    def score(self, jpeg: bytes) -> float | None:  # noqa: ARG002 - a meter's signature
        return self.scores.pop(0)


def test_the_analysis_keeps_each_seconds_peak_at_a_few_frames_a_second() -> None:
    """
    Of frames 10 a second, the analysis scores one every fifth of a second
    (passing over the others); each second's activity is the highest score
    of its frames, given once a later second has a score.
    """
    scores: list[float | None] = [0.1, 0.4, 0.2, None, 0.3] + [0.0] * 5 + [0.9]
    heard: list[tuple[float, float]] = []
    analysis = Analysis(
        Scripted(scores),  # type: ignore[arg-type]
        at_once,
        lambda captured, score: heard.append((captured - START, score)),
    )
    for n in range(21):
        analysis.offer(frame(START + n / 10))
    assert analysis.analysed == 10
    assert analysis.passed_over == 10
    assert [round(at, 1) for at, _ in heard] == [
        0.0,
        0.2,
        0.4,
        0.8,
        1.0,
        1.2,
        1.4,
        1.6,
        1.8,
        2.0,
    ]
    assert analysis.take_seconds() == [(START, 0.4), (START + 1, 0.0)]
    assert analysis.take_seconds() == []


def test_a_segments_activity_file(tmp_path: Path) -> None:
    """
    A segment written with activity has an C{.act} of 12-byte records in
    time order, from the second of its first frame on, each second once;
    one written without has none, nor has a segment that ends with no
    frame.
    """
    open_segments = OpenSegments()
    writer = SegmentWriter(tmp_path, "porch", open_segments)
    jpeg = picture(24)
    frames = [Frame(jpeg, START + 5 + n / 2, n, 0.0) for n in range(4)]
    writer.write(frames[:2], segment_seconds=60, activity=[(START + 4, 0.5)])
    writer.write(
        frames[2:],
        segment_seconds=60,
        activity=[(START + 5, 0.25), (START + 5, 0.75), (START + 6, 1.5)],
        sync=True,
    )
    writer.end_segment()
    writer.write([Frame(jpeg, START + 100, 5, 0.0)], segment_seconds=60, activity=[])
    writer.end_segment()
    writer.write([], segment_seconds=60, activity=[(START + 200, 0.5)])
    first, _ = segments(tmp_path, "porch")
    assert list(tmp_path.rglob("*.act")) == [first.with_suffix(".act")]
    data = first.with_suffix(".act").read_bytes()
    assert [ACT.unpack_from(data, at) for at in range(0, len(data), ACT.size)] == [
        (START + 5, 0.25),
        (START + 6, 1.0),
    ]


def test_events_older_than_the_recordings_are_forgotten(tmp_path: Path) -> None:
    """
    When an event is kept, those that ended more than the camera's
    C{max_age} before it are forgotten; without a C{max_age}, none is.
    """
    kept = RecordingSettings(
        RecordingMode.MOTION,
        motion_threshold=0.02,
        pre_roll=1.0,
        post_roll=1.0,
        max_age=10.0,
    )
    for settings, count in ((kept, 2), (MOTION, 3)):
        root = tmp_path / str(count)
        porch = Porch(root, settings)
        for _ in range(3):
            porch.moving(1)
            porch.still(8)
        porch.stop()
        events = porch.events()
        assert [round(each["start"] - START) for each in events] == [0, 9, 18][-count:]
        log = root / "porch" / "motion.jsonl"
        assert log.read_text().count("\n") == count
        assert [path.name for path in log.parent.iterdir() if path.is_file()] == [
            "motion.jsonl"
        ]


def test_every_second_is_indexed_across_segments(tmp_path: Path) -> None:
    """
    Recording continuously in segments of a few seconds, every second but
    the last has its activity in the C{.act} of a segment it is in.
    """
    porch = Porch(
        tmp_path,
        RecordingSettings(RecordingMode.CONTINUOUS, segment_seconds=3.0),
    )
    porch.still(2)
    porch.moving(4)
    porch.still(6)
    porch.stop()
    assert len(segments(tmp_path, "porch")) == 4
    seconds = activity(tmp_path)
    assert sorted(seconds) == [float(second) for second in range(11)]
    assert all(seconds[second] > 0.05 for second in (2.0, 3.0, 4.0, 5.0))
