"""
Tests for L{camserve.config._reload}: a config file read again without a restart.

The unit tests serve a file with L{build_service} on a memory reactor, as
C{twistd camserve --config} does on the real one, and never start a capture
thread: the emulated driver's cameras are made and served but not run,
while cameras of the C{manual} driver (a L{PushSource} registered for the
test) start and let go of their device exactly when a test says. The last
test is a real C{twistd} told to reload by a real C{SIGHUP}.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import threading
import time
from typing import TYPE_CHECKING, Any, ClassVar

import pytest
from attrs import define, field
from support import free_port, read_head, send_get
from test_running import TIMEOUT, TWISTD_CAMSERVE, environment, get, running, stop
from twisted.internet.testing import MemoryReactorClock
from twisted.logger import LogLevel
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer

import camserve.config._reload
from camserve import CameraEvent, CameraHub, CameraService, EmulatedCamera
from camserve.cameras._registry import _BUILT_IN
from camserve.config._reload import ConfigReloader, Reloaded
from camserve.interfaces import IFrameSink, IFrameSource
from camserve.tap import build_service
from camserve.testing import MultipartParser, PushSource

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from pathlib import Path

    from support import LogRecorder
    from twisted.internet.defer import Deferred

    from camserve import Frame
    from camserve.testing import Part

successResultOf = SynchronousTestCase().successResultOf  # noqa: N816 - Twisted's name
assertNoResult = SynchronousTestCase().assertNoResult  # noqa: N816 - Twisted's name

RELEASE_GRACE = 5.0
"""L{CameraService}'s default release grace, which L{build_service} keeps."""


# A driver whose cameras a test starts and stops by hand.


@implementer(IFrameSource)
class ManualSource(PushSource):
    """
    The C{manual} driver: an asynchronous camera that lets go of its device
    only on L{finish_stop}. Every one made is kept in L{made}, in order.
    """

    made: ClassVar[list[ManualSource]] = []

    def __init__(self, *, fps: float = 1.0, reactor: object = None) -> None:
        super().__init__()
        self.fps = fps
        self.reactor = reactor
        ManualSource.made.append(self)


@pytest.fixture
def manual(monkeypatch: pytest.MonkeyPatch) -> list[ManualSource]:
    """
    Register the C{manual} driver; the cameras it makes, in order.
    """
    made: list[ManualSource] = []
    monkeypatch.setattr(ManualSource, "made", made)
    monkeypatch.setitem(_BUILT_IN, "manual", f"{__name__}:ManualSource")
    return made


@implementer(IFrameSink)
class Sink:
    """
    A viewer of a hub, as far as the hub can tell: it counts frames and
    whether its camera was closed.
    """

    def __init__(self) -> None:
        self.frames: list[Frame] = []
        self.closed = 0

    def send_frame(self, frame: Frame) -> None:
        self.frames.append(frame)

    def keep_alive(self, frame: Frame) -> None:
        pass

    def camera_closed(self) -> None:
        self.closed += 1


# Writing files and serving them.


def toml(
    *cameras: Mapping[str, object], server: Mapping[str, object] | None = None
) -> str:
    """
    A config file of C{cameras} (each a C{[[cameras]]} table's keys) and
    C{server} (the C{[server]} table's); JSON writes these values as TOML
    does.
    """
    lines = []
    if server is not None:
        lines.append("[server]")
        lines += [f"{key} = {json.dumps(value)}" for key, value in server.items()]
    for camera in cameras:
        lines.append("[[cameras]]")
        lines += [f"{key} = {json.dumps(value)}" for key, value in camera.items()]
    return "\n".join(lines) + "\n"


def emulated(name: str, **options: object) -> dict[str, object]:
    """
    A small emulated camera's table.
    """
    return {"name": name, "driver": "emulated", "width": 160, "height": 120, **options}


def manual_camera(name: str, **options: object) -> dict[str, object]:
    """
    A C{manual} camera's table.
    """
    return {"name": name, "driver": "manual", **options}


@define
class Served:
    """
    A config file served by L{build_service} on a memory reactor, not
    started.
    """

    path: Path
    reactor: MemoryReactorClock
    cameras: CameraService
    reloader: ConfigReloader
    sinks: dict[str, Sink] = field(factory=dict)

    def write(
        self,
        *cameras: Mapping[str, object],
        server: Mapping[str, object] | None = None,
    ) -> None:
        """
        Write the file anew.
        """
        self.path.write_text(toml(*cameras, server=server))

    def reload(self) -> Deferred[Reloaded]:
        """
        Ask for a reload, as C{SIGHUP} does.
        """
        return self.reloader.reload()

    def watch(self, name: str) -> Sink:
        """
        Give camera C{name} a viewer, which starts it.
        """
        sink = self.sinks[name] = Sink()
        self.cameras.hubs[name].subscribe(sink)
        return sink

    @property
    def names(self) -> list[str]:
        """
        The cameras served, in order.
        """
        return list(self.cameras.hubs)


def serve(
    tmp_path: Path,
    *cameras: Mapping[str, object],
    server: Mapping[str, object] | None = None,
    reactor: MemoryReactorClock | None = None,
) -> Served:
    """
    Write a config file of C{cameras} and serve it as C{twistd camserve
    --config} would.
    """
    path = tmp_path / "cameras.toml"
    path.write_text(toml(*cameras, server=server))
    reactor = MemoryReactorClock() if reactor is None else reactor
    top = build_service(str(path), reactor)
    (service,) = (child for child in top if isinstance(child, CameraService))
    (reloader,) = (child for child in top if isinstance(child, ConfigReloader))
    return Served(path, reactor, service, reloader)


def emulated_camera(hub: CameraHub) -> EmulatedCamera:
    """
    The emulated camera a hub serves in a capture thread.
    """
    camera = hub._source._camera  # type: ignore[attr-defined] # a ThreadedCameraSource's
    assert isinstance(camera, EmulatedCamera)
    return camera


def manual_source(hub: CameraHub) -> ManualSource:
    """
    The C{manual} camera a hub serves.
    """
    source = hub._source
    assert isinstance(source, ManualSource)
    return source


def reload_line(path: Path, added: str, removed: str, restarted: str, kept: str) -> str:
    """
    The line a reload of C{path} logs, naming the cameras of each kind.
    """
    return (
        f"camserve: reloaded {path}: {added} added, {removed} removed,"
        f" {restarted} restarted, {kept} unchanged"
    )


def reloaded(log: LogRecorder) -> list[str]:
    """
    What the reloader logged at info level: one line per reload applied.
    """
    return [
        line
        for line in log.formatted(LogLevel.info)
        if line.startswith("camserve: reloaded ")
    ]


# Cameras added, removed, changed and kept.


def test_an_unchanged_file_changes_nothing(tmp_path: Path, log: LogRecorder) -> None:
    """
    Reloading a file that has not changed keeps every camera's hub and
    viewers, and says so.
    """
    served = serve(tmp_path, emulated("a"), emulated("b"))
    hubs = served.cameras.hubs
    sink = served.watch("a")
    assert successResultOf(served.reload()) == Reloaded(unchanged=("a", "b"))
    assert served.cameras.hubs == hubs
    assert all(served.cameras.hubs[name] is hubs[name] for name in hubs)
    assert (sink.closed, hubs["a"].viewers) == (0, 1)
    assert reloaded(log) == [reload_line(served.path, "none", "none", "none", "a, b")]
    assert log.formatted() == []


def test_added_cameras_appear_with_their_settings(
    tmp_path: Path, log: LogRecorder
) -> None:
    """
    A camera added to the file is served once reloaded, made by its driver
    with its options and timeouts (its own, else the server's); the cameras
    there were keep their hubs and viewers.
    """
    served = serve(tmp_path, emulated("a"), server={"start_timeout": 4})
    hub = served.cameras.hubs["a"]
    sink = served.watch("a")
    served.write(
        emulated("a"),
        emulated("b", fps=5, quality=60, idle_timeout=3),
        server={"start_timeout": 4},
    )
    assert successResultOf(served.reload()) == Reloaded(added=("b",), unchanged=("a",))
    assert served.names == ["a", "b"]
    assert served.cameras.hubs["a"] is hub
    assert (sink.closed, hub.viewers) == (0, 1)
    added = served.cameras.hubs["b"]
    assert added.driver == "emulated"
    camera = emulated_camera(added)
    assert (camera.fps, camera.width, camera.height, camera.quality) == (
        5,
        160,
        120,
        60,
    )
    assert (added.idle_timeout, added.start_timeout) == (3, 4)
    assert (added.keepalive_interval, added.stall_timeout) == (2, 30)
    assert reloaded(log) == [reload_line(served.path, "b", "none", "none", "a")]


def test_a_reload_that_fails_while_applied_is_logged(
    tmp_path: Path, log: LogRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """
    A reload that fails while its changes are being made (here, serving the
    added camera) is logged with its failure rather than lost, and a later
    reload still runs.
    """
    served = serve(tmp_path, emulated("a"))
    served.write(emulated("a"), emulated("b"))

    def broken(*_: object) -> None:
        raise RuntimeError("no room for another camera")

    monkeypatch.setattr(camserve.config._reload, "serve_camera", broken)
    assert successResultOf(served.reload()) == Reloaded(
        error="reloading failed part of the way; see the log"
    )
    (failed,) = [event for event in log.events if "log_failure" in event]
    assert failed["log_failure"].check(RuntimeError)
    assert log.formatted(LogLevel.critical) == [
        f"camserve: reloading {served.path} failed part of the way"
    ]
    monkeypatch.undo()
    assert successResultOf(served.reload()).error is None
    assert served.names == ["a", "b"]


def test_removed_cameras_stop_and_their_viewers_streams_end(
    tmp_path: Path, manual: list[ManualSource]
) -> None:
    """
    A camera left out of the file is no longer served once reloaded: its
    viewers' streams end at once, its driver is asked to let go of the
    device, and the reload is done once it has. The other cameras' viewers
    notice nothing.
    """
    served = serve(tmp_path, manual_camera("a"), manual_camera("b"))
    kept, removed = manual
    sink_a, sink_b = served.watch("a"), served.watch("b")
    assert kept.running
    assert removed.running
    served.write(manual_camera("a"))
    reloading = served.reload()
    assert served.names == ["a"]
    assert sink_b.closed == 1
    assert removed.stop_requested
    assertNoResult(reloading)
    removed.finish_stop()
    assert successResultOf(reloading).error is None
    assert sink_a.closed == 0
    assert (kept.running, kept.stops) == (True, 0)
    kept.push(b"frame")
    assert [frame.jpeg for frame in sink_a.frames] == [b"frame"]


def test_a_removed_camera_that_does_not_let_go_is_given_up_on(
    tmp_path: Path, log: LogRecorder
) -> None:
    """
    A removed camera whose driver does not let go of its device holds up
    the reload only for the service's release grace.
    """
    served = serve(tmp_path, emulated("a"), emulated("b"))
    # Its capture thread never runs: the service is not started.
    sink = served.watch("b")
    served.write(emulated("a"))
    reloading = served.reload()
    assert sink.closed == 1
    served.reactor.advance(RELEASE_GRACE - 0.5)
    assertNoResult(reloading)
    served.reactor.advance(0.5)
    assert successResultOf(reloading).error is None
    assert served.names == ["a"]
    assert log.formatted() == [
        "camera b did not release its device within 5 s; not waiting for it"
    ]


def test_a_changed_camera_restarts_once_the_old_one_let_go(
    tmp_path: Path, manual: list[ManualSource], log: LogRecorder
) -> None:
    """
    A camera whose options changed ends its viewers' streams and is served
    again, by a new hub with the new options, only once the old camera has
    let go of its device; the unchanged camera is not disturbed and keeps
    its place in the order.
    """
    served = serve(tmp_path, manual_camera("a", fps=1), manual_camera("b"))
    old, other = manual
    old_hub, other_hub = served.cameras.hubs["a"], served.cameras.hubs["b"]
    sink_a, sink_b = served.watch("a"), served.watch("b")
    served.write(manual_camera("a", fps=2), manual_camera("b"))
    reloading = served.reload()
    assert sink_a.closed == 1
    assert old.stop_requested
    # Nobody can start the new camera while the old one holds the device.
    assert "a" not in served.cameras.hubs
    assertNoResult(reloading)
    old.finish_stop()
    assert successResultOf(reloading).error is None
    assert served.names == ["a", "b"]
    new_hub = served.cameras.hubs["a"]
    assert new_hub is not old_hub
    new = manual_source(new_hub)
    assert new is manual[2]
    assert (new.fps, new.running) == (2, False)
    new_hub.subscribe(Sink())
    assert new.running
    assert (old.starts, old.running) == (1, False)
    assert served.cameras.hubs["b"] is other_hub
    assert (sink_b.closed, other.stops, other_hub.viewers) == (0, 0, 1)
    assert reloaded(log) == [reload_line(served.path, "none", "none", "a", "b")]


def test_a_consumer_follows_a_changed_camera_through_its_handle(
    tmp_path: Path, manual: list[ManualSource]
) -> None:
    """
    A consumer subscribed through a camera's handle (a recorder, say) is
    not closed when a reload makes the camera again: it is fed by the new
    camera, which it keeps running, and its handle tells it was replaced.
    A reload that removes the camera closes it.
    """
    served = serve(tmp_path, manual_camera("a", fps=1))
    handle = served.cameras.camera("a")
    events: list[CameraEvent] = []
    handle.follow(lambda event, _: events.append(event))
    recorder = Sink()
    handle.subscribe(recorder)
    old = manual[0]
    old.push(b"old")
    served.write(manual_camera("a", fps=2))
    reloading = served.reload()
    old.finish_stop()
    assert successResultOf(reloading).restarted == ("a",)
    new = manual[1]
    assert new.running
    new.push(b"new")
    assert [frame.jpeg for frame in recorder.frames] == [b"old", b"new"]
    assert recorder.closed == 0
    assert events == [CameraEvent.STARTED, CameraEvent.REPLACED, CameraEvent.STARTED]
    served.write(manual_camera("b"))
    removing = served.reload()
    new.finish_stop()
    assert successResultOf(removing).removed == ("a",)
    assert recorder.closed == 1
    assert events[-1] is CameraEvent.REMOVED
    assert handle.hub is None


@pytest.mark.parametrize(
    ("key", "value", "attribute"),
    [
        ("idle_timeout", 0, "idle_timeout"),
        ("start_timeout", 3, "start_timeout"),
        ("keepalive", 1.5, "keepalive_interval"),
        ("stall_timeout", 60, "stall_timeout"),
    ],
)
def test_a_camera_whose_timeout_changed_restarts_with_it(
    tmp_path: Path, key: str, value: float, attribute: str
) -> None:
    """
    A camera whose own timeout changed is served by a new hub with the new
    timeout; the other camera keeps its hub.
    """
    served = serve(tmp_path, emulated("a"), emulated("b"))
    old, other = served.cameras.hubs["a"], served.cameras.hubs["b"]
    assert getattr(old, attribute) != value
    served.write(emulated("a", **{key: value}), emulated("b"))
    assert successResultOf(served.reload()).error is None
    new = served.cameras.hubs["a"]
    assert new is not old
    assert getattr(new, attribute) == value
    assert served.cameras.hubs["b"] is other
    assert served.names == ["a", "b"]


def test_a_changed_server_timeout_restarts_the_cameras_that_use_it(
    tmp_path: Path,
) -> None:
    """
    A changed C{[server]} timeout restarts, with the new timeout, the
    cameras that do not set their own, and only those.
    """
    served = serve(
        tmp_path,
        emulated("a"),
        emulated("b", idle_timeout=3),
        server={"idle_timeout": 10},
    )
    hubs = served.cameras.hubs
    served.write(
        emulated("a"), emulated("b", idle_timeout=3), server={"idle_timeout": 20}
    )
    assert successResultOf(served.reload()).error is None
    assert served.cameras.hubs["a"] is not hubs["a"]
    assert served.cameras.hubs["a"].idle_timeout == 20
    assert served.cameras.hubs["b"] is hubs["b"]
    assert served.cameras.hubs["b"].idle_timeout == 3


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (emulated("a", fps=5), emulated("a", fps=10)),
        (emulated("a"), emulated("a", quality=50)),
        (emulated("a", quality=50), emulated("a")),
        (emulated("a"), manual_camera("a")),
    ],
    ids=["option changed", "option added", "option removed", "driver changed"],
)
def test_a_camera_whose_driver_or_options_changed_restarts(
    tmp_path: Path,
    manual: list[ManualSource],
    before: dict[str, object],
    after: dict[str, object],
) -> None:
    """
    A camera whose driver or driver options changed is served by a new hub,
    made by the file's driver with the file's options.
    """
    served = serve(tmp_path, before)
    old = served.cameras.hubs["a"]
    served.write(after)
    assert successResultOf(served.reload()).error is None
    new = served.cameras.hubs["a"]
    assert new is not old
    assert new.driver == after["driver"]
    if after["driver"] == "manual":
        assert new._source is manual[-1]
    else:
        camera = emulated_camera(new)
        assert camera.fps == after.get("fps", 30)
        assert camera.quality == after.get("quality", 80)


def test_the_same_settings_written_otherwise_keep_the_camera(
    tmp_path: Path, manual: list[ManualSource]
) -> None:
    """
    A camera whose driver, options and resolved timeouts are the same is
    kept with its viewers however the file writes them: its own timeout
    dropped for the server's of the same value, a whole number written as
    a decimal, its keys in another order.
    """
    served = serve(
        tmp_path,
        manual_camera("a", fps=5, idle_timeout=7),
        server={"idle_timeout": 7},
    )
    (source,) = manual
    hub = served.cameras.hubs["a"]
    sink = served.watch("a")
    served.write(
        {"fps": 5.0, "driver": "manual", "name": "a"}, server={"idle_timeout": 7}
    )
    assert successResultOf(served.reload()).error is None
    assert served.cameras.hubs["a"] is hub
    assert (sink.closed, source.stops, hub.viewers) == (0, 0, 1)


def test_a_changed_group_keeps_the_camera(
    tmp_path: Path, manual: list[ManualSource]
) -> None:
    """
    A camera's group is not what it runs with: changed, the camera is kept
    with its viewers, and its hub says the new group.
    """
    served = serve(tmp_path, manual_camera("a", group="inside"))
    (source,) = manual
    hub = served.cameras.hubs["a"]
    assert hub.group == "inside"
    sink = served.watch("a")
    served.write(manual_camera("a", group="outside"))
    outcome = successResultOf(served.reload())
    assert outcome.unchanged == ("a",)
    assert served.cameras.hubs["a"] is hub
    assert hub.group == "outside"
    served.write(manual_camera("a"))
    assert successResultOf(served.reload()).error is None
    assert hub.group is None
    assert (sink.closed, source.stops, hub.viewers) == (0, 0, 1)


# Order.


def test_cameras_are_served_in_the_files_order(tmp_path: Path) -> None:
    """
    After a reload the cameras are listed in the file's order, whichever
    were kept, added or restarted, so that the file's first camera is the
    one at C{/video_feed}.
    """
    served = serve(tmp_path, emulated("a"), emulated("b"), emulated("c"))
    hubs = served.cameras.hubs
    served.write(emulated("c"), emulated("d"), emulated("a"))
    assert successResultOf(served.reload()).error is None
    assert served.names == ["c", "d", "a"]
    assert served.cameras.hubs["c"] is hubs["c"]
    assert served.cameras.hubs["a"] is hubs["a"]
    # A restarted camera is made anew, yet stays first.
    served.write(emulated("c", fps=5), emulated("d"), emulated("a"))
    assert successResultOf(served.reload()).error is None
    assert served.names == ["c", "d", "a"]


# Mistakes.


@pytest.mark.parametrize(
    ("text", "mistake"),
    [
        (
            toml(emulated("a"), emulated("c")) + "fps = \n",
            "cameras.toml: line 11, column 7: Invalid value",
        ),
        (
            toml(emulated("a"), {"name": "c", "driver": "nosuch"}),
            "cameras.toml: camera 'c': unknown driver 'nosuch'; available: ",
        ),
        (
            toml(emulated("a", fps=10), emulated("c", quality=500)),
            (
                "cameras.toml: camera 'c': option 'quality' must be a whole"
                " number from 1 to 100, not 500"
            ),
        ),
        (
            toml(emulated("a"), server={"endpoints": ["tcp:notaport"]}),
            "cameras.toml: [server] endpoint 'tcp:notaport' is not a valid",
        ),
        (None, "cannot read "),
    ],
    ids=["syntax", "unknown driver", "bad option", "bad endpoint", "no file"],
)
def test_a_file_with_a_mistake_is_refused_whole(
    tmp_path: Path, log: LogRecorder, text: str | None, mistake: str
) -> None:
    """
    A file with a mistake anywhere changes nothing, not even what it gets
    right (here camera b removed, c added, a changed): the mistake is
    logged once, as an error, and every camera keeps its hub and viewers.
    Once the file is mended, a reload applies it.
    """
    served = serve(tmp_path, emulated("a"), emulated("b"))
    hubs = served.cameras.hubs
    sinks = [served.watch("a"), served.watch("b")]
    if text is None:
        served.path.unlink()
    else:
        served.path.write_text(text)
    refused = successResultOf(served.reload()).error
    prefix = f"camserve: not reloading {served.path}, the cameras stay as they were: "
    (line,) = log.formatted()
    assert refused is not None
    assert line == prefix + refused
    assert line.startswith(prefix + (str(tmp_path) + "/" if text else ""))
    assert mistake in line
    assert "\n" not in line
    (error,) = [event for event in log.events if event["log_level"] >= LogLevel.warn]
    assert error["log_level"] is LogLevel.error
    assert served.cameras.hubs == hubs
    assert all(served.cameras.hubs[name] is hubs[name] for name in hubs)
    assert [
        (sink.closed, hubs[name].viewers)
        for name, sink in zip("ab", sinks, strict=True)
    ] == [
        (0, 1),
        (0, 1),
    ]
    assert reloaded(log) == []
    served.write(emulated("a", fps=10), emulated("c"))
    mended = served.reload()
    # Cameras a and b, not running, let go after the release grace.
    served.reactor.advance(RELEASE_GRACE)
    assert successResultOf(mended).error is None
    assert served.names == ["a", "c"]
    assert served.cameras.hubs["a"] is not hubs["a"]


def test_changed_endpoints_wait_for_a_restart(tmp_path: Path, log: LogRecorder) -> None:
    """
    Endpoints are listened on once: a reloaded file that lists others gets
    a warning naming those still listened on, once per reload, and its
    cameras are applied all the same. A file listing the same endpoints as
    at the start gets no warning.
    """
    served = serve(tmp_path, emulated("a"))
    served.write(
        emulated("a"), emulated("b"), server={"endpoints": ["tcp:8081", "tcp:8082"]}
    )
    assert successResultOf(served.reload()).error is None
    assert served.names == ["a", "b"]
    warning = (
        f"camserve: {served.path} lists other endpoints; camserve listens on"
        " tcp:8080 until it is restarted"
    )
    assert log.formatted() == [warning]
    assert successResultOf(served.reload()).error is None
    assert log.formatted() == [warning, warning]
    served.write(emulated("a"), server={"endpoints": ["tcp:8080"]})
    assert successResultOf(served.reload()).error is None
    assert served.names == ["a"]
    assert log.formatted() == [warning, warning]


# Reloads one after another.


def test_a_reload_asked_for_during_one_follows_it(
    tmp_path: Path, manual: list[ManualSource], log: LogRecorder
) -> None:
    """
    Reloads asked for while one waits for a camera to let go are not
    applied at once, nor lost: once the first is done the file is read
    again, once however often it was asked for, and what it then says is
    served.
    """
    served = serve(tmp_path, manual_camera("a", fps=1))
    (old,) = manual
    served.watch("a")
    served.write(manual_camera("a", fps=2))
    first = served.reload()
    served.write(manual_camera("a", fps=3), manual_camera("c"))
    second = served.reload()
    third = served.reload()
    assertNoResult(first)
    assert served.names == []
    assert len(reloaded(log)) == 0
    old.finish_stop()
    # The second and third are told of the first, which they followed.
    for asked in (first, second, third):
        assert successResultOf(asked) == Reloaded(restarted=("a",))
    assert served.names == ["a", "c"]
    assert manual_source(served.cameras.hubs["a"]).fps == 3
    assert reloaded(log) == [
        reload_line(served.path, "none", "none", "a", "none"),
        reload_line(served.path, "c", "none", "a", "none"),
    ]


def test_a_relative_path_is_read_from_where_camserve_started(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """
    A config file named by a relative path is read again from the folder
    camserve started in, though it has since changed folders (as
    C{twistd --rundir} does after making the service).
    """
    (tmp_path / "start").mkdir()
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "start")
    path = tmp_path / "start" / "cameras.toml"
    path.write_text(toml(emulated("a")))
    top = build_service("cameras.toml", MemoryReactorClock())
    (service,) = (child for child in top if isinstance(child, CameraService))
    (reloader,) = (child for child in top if isinstance(child, ConfigReloader))
    monkeypatch.chdir(tmp_path / "elsewhere")
    (tmp_path / "elsewhere" / "cameras.toml").write_text(toml(emulated("other")))
    path.write_text(toml(emulated("a"), emulated("b")))
    assert successResultOf(reloader.reload()) == Reloaded(
        added=("b",), unchanged=("a",)
    )
    assert list(service.hubs) == ["a", "b"]


# SIGHUP.


class ThreadedMemoryReactor(MemoryReactorClock):
    """
    A memory reactor that keeps what it is asked to call from another
    thread (or a signal handler) for the test to run.
    """

    def __init__(self) -> None:
        super().__init__()
        self.from_threads: list[Callable[[], object]] = []

    def callFromThread(self, f: Callable[..., object], *args: Any, **kw: Any) -> None:
        self.from_threads.append(lambda: f(*args, **kw))


def test_sighup_reloads_while_running(tmp_path: Path) -> None:
    """
    While the service runs, C{SIGHUP} has the reactor reload the file (the
    handler itself only hands the reload over, as a signal may arrive in
    the middle of anything); once stopped, C{SIGHUP}'s handler is the one
    there was before.
    """
    hung_up: list[int] = []

    def before(number: int, _frame: object) -> None:
        hung_up.append(number)

    reactor = ThreadedMemoryReactor()
    served = serve(tmp_path, emulated("a"), reactor=reactor)
    previous = signal.signal(signal.SIGHUP, before)
    try:
        served.reloader.startService()
        try:
            served.write(emulated("a"), emulated("b"))
            os.kill(os.getpid(), signal.SIGHUP)
            assert hung_up == []
            (reload,) = reactor.from_threads
            assert served.names == ["a"]
            reload()
            assert served.names == ["a", "b"]
        finally:
            served.reloader.stopService()
        assert signal.getsignal(signal.SIGHUP) is before
        os.kill(os.getpid(), signal.SIGHUP)
        assert hung_up == [signal.SIGHUP]
        assert len(reactor.from_threads) == 1
    finally:
        signal.signal(signal.SIGHUP, previous)


# A real twistd, told by a real SIGHUP.


class StreamReader:
    """
    Reads one stream in a thread for as long as it lasts, keeping each
    part with the time it arrived.
    """

    def __init__(self, port: int, path: str) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        send_get(self.sock, path)
        head = read_head(self.sock, time.monotonic() + TIMEOUT)
        assert head.status == b"HTTP/1.1 200 OK", head
        self.parser = MultipartParser()
        self.parts: list[tuple[float, Part]] = []
        self.ended = threading.Event()
        self.error: BaseException | None = None
        self._lock = threading.Lock()
        self._add(head.body)
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _add(self, data: bytes) -> None:
        now = time.time()
        with self._lock:
            self.parts += [(now, part) for part in self.parser.feed(data)]

    def _read(self) -> None:
        try:
            while data := self.sock.recv(65536):
                self._add(data)
        except BaseException as error:  # noqa: BLE001 - kept for the test to report
            self.error = error
        self.ended.set()

    def count_since(self, moment: float) -> int:
        """
        How many parts arrived after C{moment} (on C{time.time()}).
        """
        with self._lock:
            return sum(1 for arrived, _ in self.parts if arrived > moment)

    def close(self) -> None:
        """
        Hang up, and wait for the reading thread to notice.
        """
        with contextlib.suppress(OSError):
            # Unlike close, this wakes a thread blocked in recv.
            self.sock.shutdown(socket.SHUT_RDWR)
        self._thread.join(TIMEOUT)
        self.sock.close()


def wait_for(predicate: Callable[[], bool], what: str) -> None:
    """
    Wait until C{predicate()} holds; fail if it does not within L{TIMEOUT}.
    """
    deadline = time.monotonic() + TIMEOUT
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting until {what}")
        time.sleep(0.05)


def api_cameras(port: int) -> list[dict[str, Any]]:
    """
    The server's C{/api/cameras}.
    """
    status, body = get(port, "/api/cameras")
    assert status == 200, body
    cameras: list[dict[str, Any]] = json.loads(body)
    return cameras


def test_twistd_reloads_on_sighup(tmp_path: Path) -> None:
    """
    C{twistd camserve --config FILE} told by C{SIGHUP} to read its edited
    file serves the new set of cameras: the removed camera's viewer sees
    its stream end after whole frames, the added camera streams, and the
    viewer of the camera that did not change goes on receiving frames on
    the same connection, never the worse for it.
    """
    port = free_port()
    path = tmp_path / "cameras.toml"
    server = {"endpoints": [f"tcp:{port}:interface=127.0.0.1"]}
    path.write_text(
        toml(emulated("kept", fps=10), emulated("removed", fps=10), server=server)
    )
    log = tmp_path / "out.log"
    args = [*TWISTD_CAMSERVE, "--config", str(path)]
    with running(args, cwd=tmp_path, port=port, log=log, env=environment()) as process:
        kept = StreamReader(port, "/cameras/kept/video_feed")
        removed = StreamReader(port, "/cameras/removed/video_feed")
        try:
            wait_for(lambda: kept.count_since(0) >= 2, "the kept camera streams")
            wait_for(lambda: removed.count_since(0) >= 2, "the other streams")
            path.write_text(
                toml(emulated("kept", fps=10), emulated("added", fps=10), server=server)
            )
            process.send_signal(signal.SIGHUP)
            wait_for(
                lambda: (
                    [camera["name"] for camera in api_cameras(port)]
                    == ["kept", "added"]
                ),
                "the API lists the new cameras",
            )
            reloaded_at = time.time()
            assert removed.ended.wait(TIMEOUT)
            assert removed.error is None
            assert removed.parser._buffer == b"", "the stream ended mid-part"
            wait_for(
                lambda: kept.count_since(reloaded_at) >= 5,
                "the kept camera's viewer has frames sent after the reload",
            )
            assert not kept.ended.is_set()
            (kept_camera,) = [c for c in api_cameras(port) if c["name"] == "kept"]
            assert kept_camera["viewers"] == 1
            added = StreamReader(port, "/cameras/added/video_feed")
            try:
                wait_for(lambda: added.count_since(0) >= 2, "the added camera streams")
            finally:
                added.close()
        finally:
            kept.close()
            removed.close()
        output = stop(process, log)
    assert (
        f"camserve: reloaded {path}: added added, removed removed, none restarted,"
        " kept unchanged"
    ) in output
    assert "Traceback" not in output
