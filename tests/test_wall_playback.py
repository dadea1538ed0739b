"""
Tests for L{camserve.recording._wall_playback}: several cameras' recordings
played in step by one clock (L{camserve.recording._wall_clock}), on a
L{Clock}: each camera shows its frame captured at the wall's time or just
before; a gap in one camera's recording does not move the time, a gap in
every camera's is skipped; pause, seek, step, speed and live apply to all;
and the wall catches up with the live frames together.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

import pytest
from recorded import frames_at, write_segment
from test_catalog import Counting, result
from test_playback import Sink, run
from test_playback_live import T0
from twisted.internet.defer import Deferred, maybeDeferred
from twisted.internet.task import Clock
from zope.interface.verify import verifyObject

from camserve import CameraHub
from camserve.interfaces import IFeed
from camserve.recording._catalog import Catalog
from camserve.recording._catalogs import Recordings
from camserve.recording._recorded_spans import GAP
from camserve.recording._sessions import MOST_SESSIONS
from camserve.recording._wall_clock import WallClock
from camserve.recording._wall_lane import WallCamera
from camserve.recording._wall_playback import WallPlayback
from camserve.testing import PushSource

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from camserve._frame import Frame
    from camserve.recording._catalog_files import Worker

_T = TypeVar("_T")

S = T0 - 600
"""Where the recordings begin."""
RATES = {"porch": 10.0, "yard": 4.0}
"""Each camera's frames a second."""


class WallSink(Sink):
    """
    A sink that notes, with each frame, the wall's time it was given at.
    """

    def __init__(self, clock: Clock, wall: WallPlayback) -> None:
        super().__init__(clock)
        self.wall = wall
        self.at: list[float] = []

    def send_frame(self, frame: Frame) -> None:
        super().send_frame(frame)
        self.at.append(self.wall.time)


class Wall:
    """
    A wall of cameras C{porch} and C{yard}, each with a hub fed by hand,
    played from the recordings in a folder.
    """

    def __init__(
        self,
        folder: Path,
        clock: Clock,
        speed: float = 1.0,
        work: Worker | None = None,
    ) -> None:
        """
        @param work: reads the recordings; at once by default.
        """
        self.clock = clock
        self.sources = {name: PushSource() for name in RATES}
        self.hubs = {
            name: CameraHub(name, source, clock)
            for name, source in self.sources.items()
        }
        self.playback = WallPlayback(
            [
                WallCamera(
                    name, Catalog(folder / name, work or Counting()), self.hubs[name]
                )
                for name in RATES
            ],
            clock,
            speed=speed,
        )
        self.sinks: dict[str, WallSink] = {}

    def start(self, when: float) -> bool:
        started = result(self.playback.start(when))
        for lane in self.playback.lanes:
            sink = self.sinks[lane.name] = WallSink(self.clock, self.playback)
            if lane.newest is not None:
                sink.send_frame(lane.newest)
            lane.subscribe(sink)
        return started

    def times(self, name: str) -> list[float]:
        return self.sinks[name].times

    def give_live(self, until: float) -> None:
        """
        Let both cameras give a live frame every 0.1 s, captured as given,
        until C{until}.
        """
        while self.clock.seconds() < until:
            run(self.clock, self.clock.seconds() + 0.1)
            for number, source in enumerate(self.sources.values()):
                if source.running:
                    source.push(b"\xff\xd8live" + bytes([number]), self.clock.seconds())


class Held:
    """
    A worker that does its work at once, or, while C{holding}, when told
    to: the reading of a slow disk.
    """

    def __init__(self) -> None:
        self.holding = False
        self.jobs: list[tuple[Callable[[], Any], Deferred[Any]]] = []

    def __call__(self, work: Callable[[], _T]) -> Deferred[_T]:
        if not self.holding:
            return maybeDeferred(work)
        held: Deferred[_T] = Deferred()
        self.jobs.append((work, held))
        return held

    def release(self) -> None:
        """
        Do the work held, as it came, and hold no more.
        """
        self.holding = False
        jobs, self.jobs = self.jobs, []
        for work, held in jobs:
            maybeDeferred(work).chainDeferred(held)


@pytest.fixture
def clock() -> Clock:
    clock = Clock()
    clock.advance(T0)
    return clock


@pytest.fixture
def recorded(tmp_path: Path) -> dict[str, list[float]]:
    """
    C{porch} at 10 fps from S for 30 s, then from S + 50 for 30 s; C{yard}
    at 4 fps from S + 2 for 40 s, then from S + 60 for 20 s: a gap of
    C{porch}'s alone (S + 30 to S + 42), then of both (to S + 50).
    """
    porch = [
        *frames_at(S, 300, fps=10),
        *frames_at(S + 50, 300, fps=10, first=300),
    ]
    yard = [
        *frames_at(S + 2, 160, fps=4, first=1000),
        *frames_at(S + 60, 80, fps=4, first=1200),
    ]
    write_segment(tmp_path, porch[:300], camera="porch")
    write_segment(tmp_path, porch[300:], camera="porch")
    write_segment(tmp_path, yard[:160], camera="yard")
    write_segment(tmp_path, yard[160:], camera="yard")
    return {"porch": [t for t, _ in porch], "yard": [t for t, _ in yard]}


def in_step(wall: Wall, name: str, since: int = 0) -> None:
    """
    Each frame of camera C{name} given from the C{since}th was captured at
    the wall's time it was given at or within one frame interval before.
    """
    sink = wall.sinks[name]
    for at, frame in list(zip(sink.at, (f for _, f in sink.frames), strict=True))[
        since:
    ]:
        assert -1e-6 <= at - frame.captured_at < 1 / RATES[name] + 1e-6, (name, at)


def test_lanes_are_feeds(
    tmp_path: Path, clock: Clock, recorded: dict[str, list[float]]
) -> None:
    """
    Each camera of a wall is a feed a stream shows.
    """
    wall = Wall(tmp_path, clock)
    assert wall.start(S + 10)
    for lane in wall.playback.lanes:
        assert verifyObject(IFeed, lane)
    assert wall.playback.names == ["porch", "yard"]


def test_in_step(
    tmp_path: Path, clock: Clock, recorded: dict[str, list[float]]
) -> None:
    """
    Two cameras at different rates show, as the wall's time runs, each the
    frame captured at that time or within one of its frame intervals
    before: each its own frames, every one of them at 1x.
    """
    wall = Wall(tmp_path, clock)
    assert wall.start(S + 10.05)
    assert wall.times("porch")[0] == recorded["porch"][100]
    assert wall.times("yard")[0] == recorded["yard"][32]
    run(clock, T0 + 10)
    assert wall.playback.time == pytest.approx(S + 20.05)
    assert wall.times("porch") == recorded["porch"][100:201]
    assert wall.times("yard") == recorded["yard"][32:73]
    in_step(wall, "porch")
    in_step(wall, "yard")


def test_one_camera_gap_keeps_time(
    tmp_path: Path, clock: Clock, recorded: dict[str, list[float]]
) -> None:
    """
    A gap in one camera's recording does not move the wall's time: that
    camera shows no new frame, says it has none at the time, and the other
    plays on in step.
    """
    wall = Wall(tmp_path, clock)
    assert wall.start(S + 28)
    run(clock, T0 + 10)
    assert wall.playback.time == pytest.approx(S + 38)
    assert wall.times("porch")[-1] == recorded["porch"][299]
    assert wall.times("yard")[-1] == max(t for t in recorded["yard"] if t <= S + 38)
    in_step(wall, "yard")
    state = wall.playback.state()
    assert [(each["camera"], each["frame"]) for each in state["cameras"]] == [
        ("porch", False),
        ("yard", True),
    ]
    assert state["time"] == pytest.approx(S + 38)


def test_gap_of_every_camera_is_skipped(
    tmp_path: Path, clock: Clock, recorded: dict[str, list[float]]
) -> None:
    """
    When no camera has a frame within L{GAP} after the wall's time, the
    time jumps at once to the first frame recorded after it by any camera,
    and the cameras go on in step from there.
    """
    wall = Wall(tmp_path, clock)
    assert wall.start(S + 40)
    yard_last = recorded["yard"][159]
    run(clock, T0 + yard_last - (S + 40) + 1e-6)
    assert wall.times("yard")[-1] == yard_last
    # The last frame of yard was the last of both before S + 50.
    assert wall.times("porch")[-1] == S + 50
    assert wall.playback.time == pytest.approx(S + 50)
    run(clock, clock.seconds() + 12)
    assert wall.playback.time == pytest.approx(S + 62)
    assert wall.times("porch")[-1] == max(t for t in recorded["porch"] if t <= S + 62)
    assert wall.times("yard")[-1] == max(t for t in recorded["yard"] if t <= S + 62)
    in_step(wall, "porch")
    in_step(wall, "yard")


def test_start_in_a_gap_of_every_camera(
    tmp_path: Path, clock: Clock, recorded: dict[str, list[float]]
) -> None:
    """
    A wall started where no camera recorded anything plays from the first
    frame recorded after; started after everything recorded, it does not
    start; a camera never recorded is left out.
    """
    wall = Wall(tmp_path, clock)
    assert wall.start(S - 100)
    run(clock, T0 + 0.01)
    assert wall.playback.time == pytest.approx(S + 0.01)
    assert wall.times("porch") == recorded["porch"][:1]
    assert wall.times("yard") == []
    late = Wall(tmp_path, clock)
    assert not late.start(S + 200)
    assert result(late.playback.ended) is None
    (tmp_path / "porch").rename(tmp_path / "gone")
    alone = Wall(tmp_path, clock)
    assert alone.start(S + 41)
    assert alone.playback.names == ["yard"]
    assert alone.playback.state()["not_recorded"] == ["porch"]


def test_pause_resume_and_speed(
    tmp_path: Path, clock: Clock, recorded: dict[str, list[float]]
) -> None:
    """
    Paused, no camera gets a new frame, and the time stands; resumed, both
    go on from there; at a new speed, both follow the time at that speed.
    """
    wall = Wall(tmp_path, clock)
    assert wall.start(S + 10)
    run(clock, T0 + 1)
    wall.playback.pause()
    counts = {name: len(wall.times(name)) for name in RATES}
    run(clock, T0 + 20)
    assert {name: len(wall.times(name)) for name in RATES} == counts
    assert wall.playback.time == pytest.approx(S + 11)
    assert wall.playback.state()["paused"] is True
    wall.playback.resume()
    wall.playback.set_speed(4)
    run(clock, T0 + 22)
    assert wall.playback.time == pytest.approx(S + 19)
    assert wall.playback.speed == 4
    for name in RATES:
        assert wall.times(name)[-1] == max(t for t in recorded[name] if t <= S + 19)
        # At 4x, yard's frames come every 1/16 s of the wall's clock; none
        # is skipped below the most a playback shows a second.
        assert wall.times(name)[counts[name] :] == [
            t for t in recorded[name] if S + 11 < t <= S + 19
        ]


def test_seek(tmp_path: Path, clock: Clock, recorded: dict[str, list[float]]) -> None:
    """
    A seek shows each camera's frame at the time sought at once, even
    paused (nothing for a camera in a gap then), and the wall goes on from
    there; a seek to where nothing was recorded since changes nothing.
    """
    wall = Wall(tmp_path, clock)
    assert wall.start(S + 10)
    run(clock, T0 + 1)
    wall.playback.pause()
    assert result(wall.playback.seek(S + 35.01))
    assert wall.times("porch")[-1] == recorded["porch"][110]
    assert wall.times("yard")[-1] == S + 35
    assert wall.playback.time == pytest.approx(S + 35.01)
    assert not result(wall.playback.seek(S + 500))
    assert wall.playback.time == pytest.approx(S + 35.01)
    wall.playback.resume()
    run(clock, T0 + 3)
    assert wall.times("porch")[-1] == recorded["porch"][110]
    assert wall.times("yard")[-1] == S + 37
    assert result(wall.playback.seek(S + 5))
    run(clock, T0 + 4)
    assert wall.times("porch")[-1] == S + 6
    in_step(wall, "yard", since=len(wall.times("yard")) - 4)


def test_step(tmp_path: Path, clock: Clock, recorded: dict[str, list[float]]) -> None:
    """
    A step pauses, and moves the wall's time to the next (or previous)
    capture time of either camera, where each shows its frame.
    """
    wall = Wall(tmp_path, clock)
    assert wall.start(S + 10)
    every = sorted(set(recorded["porch"] + recorded["yard"]))
    place = every.index(S + 10)
    for frames, moved in [(1, 1), (1, 2), (1, 3), (-1, 2), (-1, 1), (-1, 0), (-1, -1)]:
        assert result(wall.playback.step(frames))
        assert wall.playback.paused
        when = every[place + moved]
        assert wall.playback.time == when
        for name in RATES:
            assert wall.times(name)[-1] == max(t for t in recorded[name] if t <= when)
    run(clock, T0 + 5)
    assert wall.playback.time == every[place - 1]


def test_pause_shows_the_frames_at_its_time(
    tmp_path: Path, clock: Clock, recorded: dict[str, list[float]]
) -> None:
    """
    Paused while its frames are read more slowly than its time runs, the
    wall shows each camera's frame at the time it stands at, which a step
    then goes on from.
    """
    disk = Held()
    wall = Wall(tmp_path, clock, work=disk)
    assert wall.start(S + 10)
    run(clock, T0 + 1)
    disk.holding = True
    run(clock, T0 + 3)
    wall.playback.pause()
    disk.release()
    when = wall.playback.time
    assert when >= S + 12
    for name in RATES:
        assert wall.times(name)[-1] == max(t for t in recorded[name] if t <= when)
    assert result(wall.playback.step(1))
    every = sorted(set(recorded["porch"] + recorded["yard"]))
    assert wall.playback.time == min(t for t in every if t > when)


def test_the_last_seek_asked_wins(
    tmp_path: Path, clock: Clock, recorded: dict[str, list[float]]
) -> None:
    """
    Of two seeks asked one after the other, the second is where the wall
    goes, even if the first finds its frames after it.
    """
    disk = Held()
    wall = Wall(tmp_path, clock, work=disk)
    assert wall.start(S + 10)
    wall.playback.pause()
    disk.holding = True
    # The recordings' second segments are not read yet; the first are.
    first = wall.playback.seek(S + 55)
    second = wall.playback.seek(S + 5)
    assert disk.jobs
    disk.release()
    assert result(second)
    assert result(first)
    assert wall.playback.time == S + 5
    for name in RATES:
        assert wall.times(name)[-1] == max(t for t in recorded[name] if t <= S + 5)


def test_go_live(
    tmp_path: Path, clock: Clock, recorded: dict[str, list[float]]
) -> None:
    """
    Asked to, every camera goes on with its live frames; paused, every one
    goes back to its recording.
    """
    wall = Wall(tmp_path, clock)
    assert wall.start(S + 10)
    run(clock, T0 + 1)
    going = wall.playback.go_live()
    assert all(source.running for source in wall.sources.values())
    wall.give_live(T0 + 2)
    assert result(going) is True
    state = wall.playback.state()
    assert state["live"] is True
    assert state["speed"] == 1
    for name in RATES:
        assert wall.times(name)[-1] == pytest.approx(T0 + 2, abs=0.15)
        assert wall.sinks[name].frames[-1][1].jpeg.startswith(b"\xff\xd8live")
    wall.playback.pause()
    assert not wall.playback.live
    assert all(hub.viewers == 0 for hub in wall.hubs.values())


def test_catch_up_to_live_together(tmp_path: Path, clock: Clock) -> None:
    """
    A camera whose recording ended long ago does not go live while the
    wall's time is behind; when the wall's time reaches the newest frame
    recorded by any camera, every camera goes live.
    """
    porch = frames_at(T0 - 40, 50, fps=10)
    yard = frames_at(T0 - 40, 400, fps=10, first=1000)
    write_segment(tmp_path, porch, camera="porch")
    write_segment(tmp_path, yard, camera="yard")
    wall = Wall(tmp_path, clock, speed=4)
    assert wall.start(T0 - 40)
    run(clock, T0 + 5)
    assert wall.playback.time == pytest.approx(T0 - 20)
    assert not wall.playback.live
    assert all(hub.viewers == 0 for hub in wall.hubs.values())
    assert wall.times("porch")[-1] == porch[-1][0]
    run(clock, T0 + 9.9)
    assert not wall.playback.live
    wall.give_live(T0 + 20)
    assert wall.playback.live
    assert wall.playback.state()["at_end"] is False
    for name in RATES:
        assert wall.playback.lanes[list(RATES).index(name)].live
        assert wall.sinks[name].frames[-1][1].jpeg.startswith(b"\xff\xd8live")
    # yard's recording was played to its end, then its live frames.
    recorded = [t for t in wall.times("yard") if t <= yard[-1][0]]
    assert recorded == [t for t, _ in yard]
    live = [t for t in wall.times("yard") if t > yard[-1][0]]
    assert live == sorted(set(live))
    first_live = {
        name: next(
            at
            for at, frame in wall.sinks[name].frames
            if frame.jpeg.startswith(b"\xff\xd8live")
        )
        for name in RATES
    }
    assert abs(first_live["porch"] - first_live["yard"]) <= GAP + 0.5


def test_stops_with_its_stream(
    tmp_path: Path, clock: Clock, recorded: dict[str, list[float]]
) -> None:
    """
    When a camera's stream leaves, the whole wall stops and no timer is
    left.
    """
    wall = Wall(tmp_path, clock)
    assert wall.start(S + 10)
    run(clock, T0 + 1)
    ended: list[object] = []
    wall.playback.ended.addCallback(ended.append)
    for lane in wall.playback.lanes:
        lane.unsubscribe(wall.sinks[lane.name])
    assert ended == [None]
    assert clock.getDelayedCalls() == []


def test_clock() -> None:
    """
    The wall's clock runs at its speed from where it is set, stands while
    held, and says when it reaches a time.
    """
    clock = Clock()
    wall = WallClock(clock, speed=2)
    moved: list[float] = []
    wall.when_moved(lambda: moved.append(wall.time()))
    wall.set(100)
    assert wall.due(110) is None
    wall.run()
    clock.advance(3)
    assert wall.time() == 106
    assert wall.due(110) == 5
    wall.hold()
    clock.advance(3)
    assert wall.time() == 106
    wall.set_speed(4)
    wall.run()
    clock.advance(1)
    assert wall.time() == 110
    assert moved == [100, 100, 106, 106, 106]


def test_sessions_are_bounded(
    tmp_path: Path, clock: Clock, recorded: dict[str, list[float]]
) -> None:
    """
    The recordings keep at most L{MOST_SESSIONS} playbacks of several cameras,
    each under a name of its own that is hard to guess, until it ends.
    """
    recordings = Recordings(lambda: tmp_path, Counting())
    walls = [Wall(tmp_path, clock).playback for _ in range(MOST_SESSIONS + 1)]
    sessions = [recordings.walls.add(wall) for wall in walls]
    assert sessions[-1] is None
    names = [session for session in sessions if session is not None]
    assert len(set(names)) == MOST_SESSIONS
    assert all(len(session) >= 20 for session in names)
    assert recordings.walls.get(names[0]) is walls[0]
    walls[0].stop()
    assert recordings.walls.get(names[0]) is None
    assert recordings.walls.add(walls[-1]) is not None


def test_seek_to_the_frames_shown(
    tmp_path: Path, clock: Clock, recorded: dict[str, list[float]]
) -> None:
    """
    A seek, while playing, to a time whose frames are those shown goes on
    from them in step, without showing them again.
    """
    wall = Wall(tmp_path, clock)
    assert wall.start(S + 10)
    run(clock, T0 + 0.05)
    assert result(wall.playback.seek(S + 10.02))
    assert wall.times("porch") == [S + 10]
    run(clock, T0 + 1)
    assert wall.times("porch") == recorded["porch"][100:110]
    for name in RATES:
        in_step(wall, name)
