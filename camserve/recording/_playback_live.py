# -*- test-case-name: tests.test_playback_live -*-
"""
A playback that joins the camera's live frames, and those frames as it
takes them: every frame the camera's hub gives from the moment the playback
follows it, so that none is skipped or given twice where the playback goes
from the recording to live.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any

from twisted.internet.defer import Deferred, succeed
from zope.interface import implementer

from camserve._defaults import START_TIMEOUT
from camserve.interfaces import VIEWER, IFrameSink
from camserve.recording._catalog import Recorded
from camserve.recording._playback import Playback
from camserve.recording._recorded_spans import GAP

if TYPE_CHECKING:
    from collections.abc import Callable

    from twisted.internet.interfaces import IReactorTime

    from camserve._frame import Frame
    from camserve.interfaces import IFeed
    from camserve.recording._catalog import Catalog, Position
    from camserve.recording._playback_pacing import Timed

NEAR_POLL = 0.2
"""Seconds between looks for new recorded frames at the end of what is
recorded, while the live frames wait for the recording to reach them."""


@implementer(IFrameSink)
class LiveTail:
    """
    The frames a camera's live feed gives while followed, kept until the
    playback takes them, at most C{most} of them: a playback that falls
    further behind goes back to the recording.

    It counts among the camera's viewers: it is someone watching.

    @ivar overflowed: whether frames were let go of, untaken, since it
        began to follow.
    @ivar closed: whether the camera was shut down while it followed.
    """

    kind = VIEWER

    def __init__(
        self, feed: IFeed, arrived: Callable[[], None], *, most: int = 150
    ) -> None:
        """
        @param arrived: called when a frame arrives, or the camera is shut
            down.
        """
        self._feed = feed
        self._arrived = arrived
        self._frames: deque[Frame] = deque(maxlen=most)
        self.following = False
        self.overflowed = False
        self.closed = False

    def follow(self) -> None:
        """
        Keep the feed's frames from now on.
        """
        if not self.following:
            self.following = True
            self.overflowed = self.closed = False
            self._feed.subscribe(self)

    def leave(self) -> None:
        """
        Keep no more of the feed's frames, and let go of those kept.
        """
        if self.following:
            self.following = False
            self._feed.unsubscribe(self)
        self._frames.clear()

    @property
    def oldest(self) -> Frame | None:
        """
        The first frame kept, if any.
        """
        return self._frames[0] if self._frames else None

    def fresh(self) -> Frame | None:
        """
        The feed's newest frame, if it is fresh enough to show at once.
        """
        return self._feed.fresh_frame()

    def after(self, captured_at: float) -> None:
        """
        Let go of the frames captured at C{captured_at} or before.
        """
        while self._frames and self._frames[0].captured_at <= captured_at:
            self._frames.popleft()

    def keep_newest(self) -> None:
        """
        Let go of every frame but the newest.
        """
        while len(self._frames) > 1:
            self._frames.popleft()

    def peek(self) -> Frame | None:
        """
        The next frame, if one has arrived.
        """
        return self.oldest

    def take(self) -> Frame | None:
        """
        The next frame, if one has arrived, which is then let go of.
        """
        return self._frames.popleft() if self._frames else None

    # IFrameSink

    def send_frame(self, frame: Frame) -> None:
        """
        Keep C{frame}, letting go of the oldest if there are too many.
        """
        if len(self._frames) == self._frames.maxlen:
            self.overflowed = True
        self._frames.append(frame)
        self._arrived()

    def camera_closed(self) -> None:
        """
        The camera is gone: follow it no more.
        """
        self.following = False
        self.closed = True
        self._frames.clear()
        self._arrived()


class LivePlayback(Playback):
    """
    A playback that joins the camera's live frames: when asked
    (L{go_live}), or on reaching the end of what is recorded, once the
    recording has caught up with the live frames kept meanwhile (or has not
    for L{GAP} seconds: the time between is a gap, skipped), so that no
    frame is skipped or given twice at the switch. Live frames are paced as
    recorded ones; a playback that falls more than a tail's worth behind
    them, or whose camera is shut down, goes back to the recording. Paused
    while live, it goes on from the recording where it was paused.
    """

    def __init__(
        self,
        name: str,
        catalog: Catalog,
        clock: IReactorTime,
        live: IFeed,
        **options: Any,
    ) -> None:
        """
        @param live: the camera's live feed (its hub).
        @param options: as L{Playback}'s.
        """
        super().__init__(name, catalog, clock, **options)
        self._tail = LiveTail(live, self._live)
        self._end_since: float | None = None

    def go_live(self) -> Deferred[Frame | None]:
        """
        Give the camera's live frames from now on, at their own pace, the
        newest at once (or the next, if the camera is not running).

        @return: fires with the first live frame given, or L{None} if the
            camera gave none within L{START_TIMEOUT}.
        """
        if self._stopped:
            return succeed(None)
        self.paused = False
        self._pacer.set_speed(1.0)
        waiter: Deferred[Frame | None] = Deferred()
        waiter.addTimeout(START_TIMEOUT, self._clock, lambda _, __: None)
        self._at_once.append(waiter)
        self._tail.follow()
        fresh = self._tail.fresh()
        self._join_live()
        if fresh is not None and fresh.captured_at > self._shown_time():
            self._show_now(fresh)
            self._answer(self.newest)
        if self._sinks:
            self._pacer.run()
        return waiter

    def pause(self) -> None:
        """
        Give no new frame until resumed; paused while live, go on from the
        recording.
        """
        super().pause()
        if self.live:
            self._leave_live()

    def stop(self) -> None:
        """
        Play no more, and follow the camera no more.
        """
        self._tail.leave()
        super().stop()

    def _go(self, position: Position | None) -> Deferred[Frame | None]:
        if position is not None and self.live:
            self._leave_live()
        self._end_since = None
        return super()._go(position)

    def _paced(self, timed: Timed) -> None:
        if isinstance(timed, Recorded):
            self._end_since = None
        super()._paced(timed)

    def _at_recording_end(self) -> bool:
        tail = self._tail
        if tail.closed:
            return False
        now = self._clock.seconds()
        if self._end_since is None:
            self._end_since = now
        tail.follow()
        oldest = tail.oldest
        if oldest is None:
            return False
        if self._shown_time() < oldest.captured_at:
            if now - self._end_since < GAP:
                return False
            # The recording is not being made: the time since its end is a
            # gap, and the playback joins the camera where it is now.
            tail.keep_newest()
        self._join_live()
        self._pacer.schedule()
        return True

    def _poll_wait(self) -> float:
        return NEAR_POLL if self._tail.following else super()._poll_wait()

    def _join_live(self) -> None:
        tail = self._tail
        self._moves += 1
        self.live = True
        # What it let go of while the recording caught up was recorded.
        tail.overflowed = False
        self._position = None
        self._end_since = None
        self._reader.stop()
        tail.after(self._shown_time())
        self._pacer.use(tail)

    def _leave_live(self) -> None:
        """
        Go on from the recording, after the frame given last.
        """
        self.live = False
        self._tail.leave()
        self._pacer.use(self._reader)
        moves = self._moves

        shown = self._shown_time()

        def found(position: Position | None) -> None:
            # Unless the playback was moved meanwhile (a step, a seek). The
            # frame shown may not be recorded yet: what is read is what was
            # captured after it.
            if position is not None and moves == self._moves and not self._stopped:
                self._reader.restart(
                    position, step=self._step(), including=False, after=shown
                )

        self._catalog.refresh().addCallback(
            lambda _: self._catalog.at(shown)
        ).addCallback(found)

    def _live(self) -> None:
        """
        A live frame arrived, or the camera was shut down.
        """
        tail = self._tail
        if self._stopped or not self.live:
            return
        if tail.closed or tail.overflowed:
            # The camera is gone, or the playback fell too far behind it.
            self._leave_live()
            if tail.closed:
                self._answer(None)
            return
        tail.after(self._shown_time())
        if self._at_once:
            frame = tail.take()
            if frame is None:
                return
            self._show_now(frame)
            self._answer(self.newest)
        self._pacer.schedule()
