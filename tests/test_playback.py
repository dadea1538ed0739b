"""
Tests for L{camserve.recording._playback}: recorded frames played as a feed,
paced by their capture times at a speed (checked on a L{Clock}), from the
frame at the time asked, across segments and gaps, paused, stepped, sought
and sped up while playing, and following a recording still being made.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from recorded import START, frames_at, write_segment
from test_catalog import Counting, result
from twisted.internet.task import Clock
from zope.interface import implementer
from zope.interface.verify import verifyObject

from camserve.interfaces import IFeed, IKeepAliveSink
from camserve.recording._catalog import Catalog
from camserve.recording._playback import MAX_RATE, Playback
from camserve.recording._recorded_spans import GAP

if TYPE_CHECKING:
    from pathlib import Path

    from recorded import Written

    from camserve._frame import Frame


@implementer(IKeepAliveSink)
class Sink:
    """
    A sink that notes what it is given, and when.
    """

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.frames: list[tuple[float, Frame]] = []
        self.kept: list[tuple[float, Frame]] = []

    def send_frame(self, frame: Frame) -> None:
        self.frames.append((self.clock.seconds(), frame))

    def keep_alive(self, frame: Frame) -> None:
        self.kept.append((self.clock.seconds(), frame))

    def camera_closed(self) -> None:
        pass

    @property
    def times(self) -> list[float]:
        return [frame.captured_at for _, frame in self.frames]


def run(clock: Clock, until: float) -> None:
    """
    Let C{clock} run to C{until}, one call at a time, each at its time.
    """
    # Bounded: a call that keeps scheduling itself at the same time fails
    # the test rather than hanging it.
    for _ in range(100_000):
        calls = [call.getTime() for call in clock.getDelayedCalls()]
        due = min(calls, default=until)
        if due > until or not calls:
            break
        clock.advance(max(due - clock.seconds(), 0))
    else:
        pytest.fail(f"the clock never reached {until}")
    clock.advance(max(until - clock.seconds(), 0))


@pytest.fixture
def recorded(tmp_path: Path) -> list[Written]:
    """
    Two segments at 10 fps, 3 s each, one after the other, then a third
    after a gap of a minute.
    """
    return [
        write_segment(tmp_path, frames_at(START, 30, fps=10)),
        write_segment(tmp_path, frames_at(START + 3, 30, fps=10, first=30)),
        write_segment(tmp_path, frames_at(START + 66, 30, fps=10, first=60)),
    ]


def every(recorded: list[Written]) -> list[float]:
    return [captured_at for each in recorded for captured_at, _ in each.frames]


def playing(
    tmp_path: Path, when: float, speed: float = 1.0
) -> tuple[Playback, Sink, Clock]:
    """
    A playback of camera C{porch} from C{when} at C{speed}, streaming to a
    sink, its first frame given at time 100 of its clock.
    """
    clock = Clock()
    clock.advance(100)
    playback = Playback(
        "porch", Catalog(tmp_path / "porch", Counting()), clock, speed=speed
    )
    first = result(playback.start(when))
    assert first is not None
    sink = Sink(clock)
    sink.send_frame(first)
    playback.subscribe(sink)
    return playback, sink, clock


def test_is_a_feed(tmp_path: Path, recorded: list[Written]) -> None:
    """
    A playback is a feed a stream can show.
    """
    playback, _, _ = playing(tmp_path, START)
    assert verifyObject(IFeed, playback)
    assert result(playback.next_frame()) is playback.newest
    assert playback.fresh_frame() is playback.newest


@pytest.mark.parametrize("speed", [0.25, 1.0, 2.0])
def test_paced_by_capture_times(
    tmp_path: Path, recorded: list[Written], speed: float
) -> None:
    """
    Frames are given when their capture time, less the first one's and
    divided by the speed, has passed since the first was given; each is a
    frame recorded, numbered in order, with its capture time.
    """
    times = every(recorded)
    _, sink, clock = playing(tmp_path, times[5], speed)
    run(clock, 100 + 5.4 / speed + 1e-6)
    assert sink.times == times[5:60]
    for given, frame in sink.frames:
        assert given - 100 == pytest.approx((frame.captured_at - times[5]) / speed)
    assert [frame.number for _, frame in sink.frames] == list(range(1, 56))
    jpegs = [jpeg for each in recorded for _, jpeg in each.frames]
    assert [frame.jpeg for _, frame in sink.frames] == jpegs[5:60]
    assert {frame.camera for _, frame in sink.frames} == {"porch"}


def test_starts_within_a_frame(tmp_path: Path, recorded: list[Written]) -> None:
    """
    Playback starts at the frame captured at the time asked or just before;
    in a gap or before the recording, at the first frame after; after the
    end of everything recorded, not at all.
    """
    times = every(recorded)
    for when, first in [
        (times[7], times[7]),
        (times[7] + 0.09, times[7]),
        (times[59] + 2, times[59]),
        (times[59] + GAP + 1, times[60]),
        (times[0] - 100, times[0]),
    ]:
        playback, sink, _ = playing(tmp_path, when)
        assert sink.times == [first]
        playback.stop()
    clock = Clock()
    playback = Playback("porch", Catalog(tmp_path / "porch", Counting()), clock)
    assert result(playback.start(times[-1] + GAP + 1)) is None


def test_fast_playback_skips_frames(tmp_path: Path, recorded: list[Written]) -> None:
    """
    At a high speed, no more than L{MAX_RATE} frames a second are given:
    frames captured closer together than that, times the speed, are
    skipped, and the others keep to their times.
    """
    times = every(recorded)
    _, sink, clock = playing(tmp_path, times[0], speed=16)
    run(clock, 100 + 5.9 / 16)
    assert sink.times[0] == times[0]
    assert sink.times[-1] >= times[57]
    gaps = [b - a for a, b in zip(sink.times, sink.times[1:], strict=False)]
    assert min(gaps) >= 16 / MAX_RATE - 1e-9
    assert len(sink.times) < 30
    for given, frame in sink.frames:
        assert given - 100 == pytest.approx((frame.captured_at - times[0]) / 16)


def test_gaps_are_skipped(tmp_path: Path, recorded: list[Written]) -> None:
    """
    The frame after a gap comes as the frame before the gap came after its
    own: the minute without frames takes no time.
    """
    times = every(recorded)
    _, sink, clock = playing(tmp_path, times[58])
    run(clock, 100.35)
    assert sink.times == times[58:62]
    walls = [given for given, _ in sink.frames]
    assert walls == pytest.approx([100, 100.1, 100.2, 100.3])


def test_pause_and_resume(tmp_path: Path, recorded: list[Written]) -> None:
    """
    Paused, a playback gives no new frame, and its last one again every
    keepalive interval (2 s); resumed, it goes on from the next frame as if
    the pause had not been.
    """
    times = every(recorded)
    playback, sink, clock = playing(tmp_path, times[0])
    run(clock, 100.25)
    assert sink.times == times[:3]
    playback.pause()
    run(clock, 107)
    assert sink.times == times[:3]
    assert [frame.captured_at for _, frame in sink.kept] == [times[2]] * 3
    assert [round(given - 100.2, 6) for given, _ in sink.kept] == [2, 4, 6]
    playback.resume()
    run(clock, 107.25)
    assert sink.times == times[:5]
    assert [given for given, _ in sink.frames[3:]] == pytest.approx([107.1, 107.2])


def test_step_while_paused(tmp_path: Path, recorded: list[Written]) -> None:
    """
    Stepping pauses, and gives the next frame or the previous one, across
    segments, each numbered anew.
    """
    times = every(recorded)
    playback, sink, clock = playing(tmp_path, times[28])
    for step, expected in [(1, 29), (1, 30), (1, 31), (-1, 30), (-1, 29), (-1, 28)]:
        frame = result(playback.step(step))
        assert frame is not None
        assert frame.captured_at == times[expected]
    run(clock, 110)
    assert playback.paused
    assert sink.times == [times[n] for n in [28, 29, 30, 31, 30, 29, 28]]
    assert [frame.number for _, frame in sink.frames] == list(range(1, 8))
    playback.resume()
    run(clock, 110.15)
    assert sink.times[-1] == times[29]


def test_seek(tmp_path: Path, recorded: list[Written]) -> None:
    """
    A seek gives the frame at the time asked at once, and playback goes on
    from it, back or forward; frames played again are numbered anew.
    """
    times = every(recorded)
    playback, sink, clock = playing(tmp_path, times[20])
    run(clock, 100.5)
    assert sink.times[-1] == times[25]
    assert result(playback.seek(times[2] + 0.01)) is not None
    assert sink.frames[-1] == (clock.seconds(), sink.frames[-1][1])
    run(clock, 100.75)
    assert sink.times[6:] == times[2:5]
    numbers = [frame.number for _, frame in sink.frames]
    assert numbers == sorted(set(numbers))
    assert result(playback.seek(times[-1] + 3600)) is None
    run(clock, 100.85)
    assert sink.times[-1] == times[5]


def test_speed_changed_while_playing(tmp_path: Path, recorded: list[Written]) -> None:
    """
    A new speed paces the frames after the one given last.
    """
    times = every(recorded)
    playback, sink, clock = playing(tmp_path, times[0])
    run(clock, 100.2 + 1e-6)
    playback.set_speed(4)
    run(clock, 100.2 + 0.5 + 1e-6)
    assert sink.times == times[:23]
    assert sink.frames[-1][0] == pytest.approx(100.2 + 2 / 4)


def test_follows_a_recording_being_made(tmp_path: Path) -> None:
    """
    At the end of what is recorded, the last frame is kept alive, and
    frames recorded since are found and played.
    """
    frames = frames_at(START, 40, fps=10)
    write_segment(tmp_path, frames[:10])
    playback, sink, clock = playing(tmp_path, START)
    run(clock, 103)
    assert sink.times == [t for t, _ in frames[:10]]
    assert playback.at_end
    assert [frame.captured_at for _, frame in sink.kept] == [frames[9][0]]
    write_segment(tmp_path, frames[:25])
    run(clock, 106)
    assert sink.times == [t for t, _ in frames[:25]]


def test_stops_with_its_last_sink(tmp_path: Path, recorded: list[Written]) -> None:
    """
    When its last sink leaves, a playback stops: no timer is left, and it
    says it has ended.
    """
    playback, sink, clock = playing(tmp_path, every(recorded)[0])
    run(clock, 100.5)
    ended: list[object] = []
    playback.ended.addCallback(ended.append)
    playback.unsubscribe(sink)
    assert ended == [None]
    assert clock.getDelayedCalls() == []
