# -*- test-case-name: tests.test_playback_routes,tests.test_wall_routes -*-
"""
What the playbacks' routes share: the start and speed a playback is asked
for, and the control of a playback in progress (one camera's, or a wall's
of several), as JSON from the same origin.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Protocol

from twisted.internet.defer import succeed

from camserve.recording._playback import FASTEST, SLOWEST
from camserve.web._instants import instant
from camserve.web._requests import RefusedError, json_answer, json_body, query_argument

if TYPE_CHECKING:
    from collections.abc import Callable

    from twisted.internet.defer import Deferred
    from twisted.web.iweb import IRequest

SESSION_HEADER = b"x-playback-session"
"""The response header naming a playback's session, to control it with."""
ACTIONS = ("pause", "resume", "seek", "speed", "step", "live")
"""What a playback's control may ask for."""


class Controlled(Protocol):
    """
    A playback in progress, as its control changes it. The methods that
    show a frame return a L{Deferred} that fires with something false if
    there was nothing to show.
    """

    def pause(self) -> None:
        """
        Show no new frame until resumed.
        """

    def resume(self) -> None:
        """
        Go on from the frame shown.
        """

    def seek(self, when: float) -> Deferred[Any]:
        """
        Go on from the time C{when}.
        """

    def set_speed(self, speed: float) -> None:
        """
        Play at C{speed} from now on.
        """

    def step(self, frames: int) -> Deferred[Any]:
        """
        Pause, and show the frame after (C{frames} 1) or before (-1).
        """

    def go_live(self) -> Deferred[Any]:
        """
        Show the live frames from now on.
        """


def start_and_speed(request: IRequest) -> tuple[float, float]:
    """
    The start (C{?start=}) and speed (C{?speed=}, 1 by default) a
    playback's request asks for.

    @raise ValueError: for either missing or wrong.
    """
    try:
        when = instant(query_argument(request, "start") or "")
    except ValueError:
        raise ValueError("start must be an ISO 8601 time or Unix seconds") from None
    raw = query_argument(request, "speed")
    return when, 1.0 if raw is None else speed_argument(raw)


def speed_argument(raw: object) -> float:
    """
    A speed from L{SLOWEST} to L{FASTEST}.

    @raise RefusedError: for anything else (a L{ValueError}).
    """
    try:
        speed = float(raw)  # type: ignore[arg-type]  # whatever was sent
    except (TypeError, ValueError):
        speed = math.nan
    if isinstance(raw, bool) or not (
        math.isfinite(speed) and SLOWEST <= speed <= FASTEST
    ):
        raise RefusedError(
            400, f"speed must be a number from {SLOWEST:g} to {FASTEST:g}"
        )
    return speed


def answer_control(
    request: IRequest,
    playback: Controlled,
    state: Callable[[], dict[str, Any]],
    *,
    no_live: str,
) -> Deferred[bytes] | bytes:
    """
    Answer a control of C{playback}: C{GET} its state, C{POST} a change
    (see L{control}), then its state.

    @param state: the playback's state, as JSON.
    @param no_live: the refusal of C{"live"} when no live frame came.
    """
    if request.method != b"POST":
        return json_answer(request, state())
    try:
        asked = json_body(request)
        changed = control(playback, asked)
    except RefusedError as refused:
        return json_answer(request, {"error": str(refused)}, refused.code)
    refusal = (
        (no_live, 503)
        if asked.get("action") == "live"
        else ("nothing was recorded there", 404)
    )

    def answer(shown: object) -> bytes:
        if not shown and changed is not None:
            return json_answer(request, {"error": refusal[0]}, refusal[1])
        return json_answer(request, state())

    return (succeed(True) if changed is None else changed).addCallback(answer)


def control(playback: Controlled, asked: dict[str, Any]) -> Deferred[Any] | None:
    """
    Do to C{playback} what C{asked} asks: C{{"action": "pause"}},
    C{"resume"}, C{"seek"} with C{"time"}, C{"speed"} with C{"speed"},
    C{"step"} with C{"frames"} (1 or -1), C{"live"}.

    @return: fires with what was shown, for an action that shows a frame.
    @raise RefusedError: for an action unknown or asked wrong.
    """
    action = asked.get("action")
    if action == "pause":
        playback.pause()
    elif action == "resume":
        playback.resume()
    elif action == "seek":
        try:
            when = instant(str(asked.get("time", "")))
        except ValueError:
            raise RefusedError(
                400, "time must be an ISO 8601 time or Unix seconds"
            ) from None
        return playback.seek(when)
    elif action == "speed":
        playback.set_speed(speed_argument(asked.get("speed")))
    elif action == "step":
        frames = asked.get("frames")
        if frames not in (1, -1) or isinstance(frames, bool):
            raise RefusedError(400, "frames must be 1 or -1")
        return playback.step(frames)
    elif action == "live":
        return playback.go_live()
    else:
        raise RefusedError(400, f"action must be one of {', '.join(ACTIONS)}")
    return None
