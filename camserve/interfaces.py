# -*- test-case-name: tests.test_hub -*-
"""
The contracts between camserve's parts: cameras, frame sources and frame sinks.

Threading rules are part of each contract: only a camera's C{frames()} runs
outside the reactor thread.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from zope.interface import Attribute, Interface

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from twisted.internet.defer import Deferred
    from twisted.python.failure import Failure

    from camserve._frame import Frame

CameraItem = bytes | tuple[bytes, float]
"""
What a camera's C{frames()} yields: JPEG bytes, or JPEG bytes with their
capture time in Unix seconds.
"""


class ICamera(Interface):
    """
    A camera driver: the one thing a new camera has to implement.

    camserve calls C{frames()} in a thread of its own capture thread pool,
    only while someone watches, and closes the generator when nobody has
    watched for the idle timeout.
    """

    def frames() -> Iterator[CameraItem]:
        """
        Open the device and yield frames for as long as the caller iterates.

        Runs in a capture thread and may block. Each item is JPEG bytes, or a
        C{(jpeg, capture_time)} pair where C{capture_time} is Unix seconds.
        The device must be released when the generator is closed (put the
        release in a C{finally} block). Raising, or returning, reports the
        camera as failed; camserve retries with backoff while viewers remain.
        """


class IFrameSource(Interface):
    """
    Where a hub's frames come from: a camera run in a capture thread, or an
    asynchronous driver that receives frames on the reactor.

    An asynchronous driver is a class declared with
    C{@implementer(IFrameSource)}: the registry makes it with the driver's
    options as keyword arguments plus C{reactor}, and the hub drives it
    exactly as it drives a blocking camera (idle stop, backoff, health).

    All methods are called, and all callbacks made, in the reactor thread.
    """

    def start(
        deliver: Callable[[bytes, float], None],
        stopped: Callable[[Failure | None], None],
    ) -> None:
        """
        Begin producing frames.

        @param deliver: called with C{(jpeg, capture_time)} for each new frame.
            A source may skip frames the reactor had no time to take (newest
            wins) but must never queue them.
        @param stopped: called exactly once when the source has finished and
            released its device: with L{None} after L{stop}, or with a
            L{Failure} when it failed or ended by itself.
        """

    def stop() -> None:
        """
        Ask the source to stop; C{stopped} follows once the device is free.
        """


class IHealthDetails(Interface):
    """
    A camera or frame source with driver-specific facts worth showing in
    C{/healthz}, such as which path its frames take.
    """

    def health_details() -> dict[str, object]:
        """
        JSON-ready facts about the driver now, under C{"details"} in the
        camera's health.

        Called in the reactor thread, also while the driver runs in a capture
        thread: it must not block, and should only read values the driver
        keeps up to date.
        """


class ICheckable(Interface):
    """
    A camera or frame source that can tell, without opening its device,
    what would stop it: a video file that is not there, say. C{camserve
    --check-config} reports it; serving, camserve logs it and serves the
    camera all the same (its failure is then reported and retried, as a
    file may yet appear).
    """

    def problems() -> list[str]:
        """
        What would stop the camera, each in one line; empty if nothing is
        known to. Must not open the device, nor block.
        """


class IFrameSink(Interface):
    """
    A consumer fed by a hub: a viewer's connection, a thumbnail maker, a
    recorder, a motion detector.

    A sink may say what it is with a C{kind} attribute (a string such as
    L{VIEWER}, L{THUMBNAIL} or C{"recorder"}); a hub counts its sinks by
    kind, and one without C{kind} counts as a viewer. A sink whose
    C{every_frame} attribute is true (with a C{size}, the frames it may
    wait for) asks the hub for every frame the camera gives (see
    L{IEveryFrame}) while it is subscribed. A sink that raises is
    logged once and detached; the hub and its other sinks go on.

    All methods are called in the reactor thread and must not block.
    """

    def send_frame(frame: Frame) -> None:
        """
        A new frame exists; called once per frame, in capture order.
        """

    def camera_closed() -> object:
        """
        The hub is shutting down: end whatever the sink does with frames.

        May return a L{twisted.internet.defer.Deferred} that fires once the
        sink has finished (a recorder's file written out): the hub's
        shutdown waits for it, within the hub's close timeout.
        """


class IKeepAliveSink(IFrameSink):
    """
    A sink that must hear from its camera at least every keepalive interval,
    as an HTTP stream does so that connections and proxies stay open.
    """

    def keep_alive(frame: Frame) -> None:
        """
        The camera has sent nothing new for the keepalive interval; C{frame}
        is the newest one, which the sink has most likely been given already.
        """


class IDroppedFrames(Interface):
    """
    A frame source that may skip frames (newest wins, never queue), and
    counts those it skipped.
    """

    def frames_dropped() -> int:
        """
        How many frames the source replaced with newer ones before they were
        delivered, since it was made. Called in the reactor thread.
        """


class IEveryFrame(Interface):
    """
    A frame source that can hand its hub every frame rather than only the
    newest, for consumers that must not miss one (a recorder); the hub asks
    for it while such a consumer is subscribed.
    """

    def keep_every_frame(most: int | None) -> None:
        """
        Deliver every frame, keeping up to C{most} the reactor has not yet
        taken (beyond it the oldest is dropped, and counted); with L{None},
        only the newest again. Called in the reactor thread.
        """


class IFeed(Interface):
    """
    Where an HTTP stream takes its frames from: a camera's hub, live
    (L{camserve.CameraHub}), or frames played back from a recording.

    The frames a feed gives are numbered in increasing order for as long as
    it feeds a stream: a feed that plays frames again (a seek backwards)
    numbers them anew, as a stream sends only frames newer than the last it
    sent. All methods are called in the reactor thread.
    """

    name = Attribute("The camera's name, for logs and the parts' headers.")
    newest = Attribute("The newest frame given, however old; L{None} if none.")

    def subscribe(sink: IFrameSink) -> None:
        """
        Give C{sink} every new frame from now on.
        """

    def unsubscribe(sink: IFrameSink) -> None:
        """
        Give C{sink} frames no more; a sink not subscribed is ignored.
        """

    def next_frame() -> Deferred[Frame]:
        """
        A frame to begin a stream with: the newest if it is fresh, else the
        next to come.
        """

    def fresh_frame() -> Frame | None:
        """
        The newest frame if it is fresh enough to show at once, else
        L{None}.
        """


VIEWER = "viewer"
"""The C{kind} of a sink that shows frames to a person (an HTTP stream)."""
THUMBNAIL = "thumbnail"
"""The C{kind} of a sink that makes a camera's frames small."""
