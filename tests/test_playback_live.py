"""
Tests for L{camserve.recording._playback_live}: a playback joins its
camera's live frames when asked, or on reaching the end of a recording
still being made, with no frame skipped or given twice at the switch;
paused while live, it goes on from the recording. On a L{Clock}, with a
hub fed by hand.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from recorded import frames_at, write_segment
from test_catalog import Counting, result
from test_playback import Sink, run
from twisted.internet.task import Clock

from camserve import CameraHub
from camserve.recording._catalog import Catalog
from camserve.recording._playback_live import LivePlayback
from camserve.recording._recorded_spans import GAP
from camserve.testing import PushSource

if TYPE_CHECKING:
    from pathlib import Path

T0 = 1000.0
"""Capture times start here, on the clock's time line, so that the camera's
frames captured now are fresh to its hub."""


class Camera:
    """
    A camera's hub, fed by hand with frames captured now.
    """

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.source = PushSource()
        self.hub = CameraHub("porch", self.source, clock)

    def give(self, frames: list[tuple[float, bytes]]) -> None:
        """
        Deliver C{frames}, each at its capture time on the clock.
        """
        for captured_at, jpeg in frames:
            run(self.clock, captured_at)
            assert self.source.running
            self.source.push(jpeg, captured_at)


def playing(
    tmp_path: Path, clock: Clock, camera: Camera, when: float, speed: float = 1.0
) -> tuple[LivePlayback, Sink]:
    playback = LivePlayback(
        "porch", Catalog(tmp_path / "porch", Counting()), clock, camera.hub, speed=speed
    )
    first = result(playback.start(when))
    assert first is not None
    sink = Sink(clock)
    sink.send_frame(first)
    playback.subscribe(sink)
    return playback, sink


@pytest.fixture
def clock() -> Clock:
    clock = Clock()
    clock.advance(T0 - 10)
    return clock


def test_go_live(tmp_path: Path, clock: Clock) -> None:
    """
    Asked to, a playback gives the camera's newest frame at once, then
    each frame the camera gives, as it gives it, numbered on from the
    recorded ones; the camera runs while it does.
    """
    recorded = frames_at(T0 - 600, 20, fps=10)
    write_segment(tmp_path, recorded)
    camera = Camera(clock)
    playback, sink = playing(tmp_path, clock, camera, T0 - 600)
    run(clock, T0 - 9.5)
    assert sink.times == [t for t, _ in recorded[:6]]
    live = frames_at(T0, 10, fps=10, first=100)
    waiting = playback.go_live()
    assert camera.source.running
    camera.give(live[:1])
    assert result(waiting) is sink.frames[-1][1]
    camera.give(live[1:])
    run(clock, clock.seconds() + 0.01)
    assert playback.live
    assert sink.times == [t for t, _ in recorded[:6]] + [t for t, _ in live]
    assert [frame.jpeg for _, frame in sink.frames[6:]] == [jpeg for _, jpeg in live]
    assert [frame.number for _, frame in sink.frames] == list(range(1, 17))
    arrived = [given for given, _ in sink.frames[6:]]
    assert arrived == pytest.approx([t for t, _ in live])


def test_newest_at_once(tmp_path: Path, clock: Clock) -> None:
    """
    A camera already running gives its fresh newest frame at once, then
    the frames after it, each once.
    """
    write_segment(tmp_path, frames_at(T0 - 600, 20, fps=10))
    camera = Camera(clock)
    viewer = Sink(clock)
    camera.hub.subscribe(viewer)
    live = frames_at(T0, 5, fps=10, first=100)
    camera.give(live[:2])
    playback, sink = playing(tmp_path, clock, camera, T0 - 600)
    first = result(playback.go_live())
    assert first is not None
    assert first.captured_at == live[1][0]
    camera.give(live[2:])
    run(clock, clock.seconds() + 0.01)
    assert sink.times[1:] == [t for t, _ in live[1:]]


def test_catching_up_to_live(tmp_path: Path, clock: Clock) -> None:
    """
    Playback faster than real time of a recording still being made
    reaches its end, and goes on with the camera's live frames, from the
    one after the last recorded frame shown: no frame skipped, none twice.
    """
    run(clock, T0)
    frames = frames_at(T0 - 2, 60, fps=10)
    # The camera runs (for its recorder), and the recorder writes its
    # frames a second late.
    camera = Camera(clock)
    camera.hub.subscribe(Sink(clock))
    write_segment(tmp_path, frames[:11])
    playback, sink = playing(tmp_path, clock, camera, T0 - 2, speed=4)
    for index in range(21, 60):
        camera.give([frames[index]])
        write_segment(tmp_path, frames[: index - 9])
    run(clock, clock.seconds() + 1)
    assert playback.live
    assert sink.times == [t for t, _ in frames]
    assert [frame.number for _, frame in sink.frames] == list(range(1, 61))


def test_live_after_a_gap(tmp_path: Path, clock: Clock) -> None:
    """
    The end of a recording no longer being made is followed, after the
    gap's time (L{GAP}), by the camera's live frames.
    """
    recorded = frames_at(T0 - 600, 10, fps=10)
    write_segment(tmp_path, recorded)
    camera = Camera(clock)
    playback, sink = playing(tmp_path, clock, camera, T0 - 600)
    run(clock, T0 - 9)
    assert camera.source.running
    live = frames_at(T0 - 8.9, 100, fps=10, first=100)
    camera.give(live)
    run(clock, clock.seconds() + 0.01)
    assert playback.live
    assert sink.times[:10] == [t for t, _ in recorded]
    # The newest when the gap's time had passed since the recording's last
    # frame was shown, and every frame after it.
    ended = sink.frames[9][0]
    joined = sink.times[10]
    assert ended + GAP - 1e-6 <= joined < ended + GAP + 0.5
    assert sink.times[10:] == [t for t, _ in live if t >= joined]


def test_pause_live_then_resume_from_the_recording(
    tmp_path: Path, clock: Clock
) -> None:
    """
    Paused while live, a playback stops following the camera, and, resumed,
    plays the recording from the frame after the one it paused on.
    """
    run(clock, T0)
    frames = frames_at(T0, 40, fps=10)
    camera = Camera(clock)
    write_segment(tmp_path, frames[:1])
    playback, sink = playing(tmp_path, clock, camera, T0)
    joining = playback.go_live()
    camera.give(frames[1:10])
    assert result(joining) is not None
    playback.pause()
    assert not playback.live
    assert not camera.hub.viewers
    camera_frames = len(sink.frames)
    write_segment(tmp_path, frames)
    run(clock, clock.seconds() + 5)
    assert len(sink.frames) == camera_frames
    playback.resume()
    run(clock, clock.seconds() + 1.5)
    assert sink.times == [t for t, _ in frames[: len(sink.times)]]
    assert len(sink.times) >= 20
    assert not playback.live


def test_falling_behind_goes_back_to_the_recording(
    tmp_path: Path, clock: Clock
) -> None:
    """
    Played slower than the camera gives frames, live frames pile up; past
    what is kept, the playback goes on from the recording, from the frame
    after the one shown last: none skipped, none twice.
    """
    run(clock, T0)
    frames = frames_at(T0, 600, fps=10)
    camera = Camera(clock)
    write_segment(tmp_path, frames[:1])
    playback, sink = playing(tmp_path, clock, camera, T0)
    joining = playback.go_live()
    camera.give(frames[1:2])
    assert result(joining) is not None
    playback.set_speed(0.5)
    for index in range(2, 600):
        camera.give(frames[index : index + 1])
        write_segment(tmp_path, frames[: index + 1])
        if not playback.live:
            break
    assert not playback.live
    left = len(sink.frames)
    run(clock, clock.seconds() + 10)
    shown = sink.times
    assert shown == [t for t, _ in frames[: len(shown)]]
    assert len(shown) >= left + 40
