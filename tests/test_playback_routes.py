"""
Tests for the playback routes (L{camserve.web._playback_routes}) on a real
server: a camera's recording streamed from a time at a speed in the live
stream's format, each part's C{X-Timestamp} its capture time, and the
session that controls it (pause, resume, seek, speed, step), which ends
with its stream.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import pytest
from recorded import START, Served, Watching, frames_at, watch, write_segment
from support import reactor_test, wait_until
from twisted.web.http_headers import Headers

from camserve.recording import _sessions as sessions

if TYPE_CHECKING:
    from pathlib import Path

    from recorded import Written


@pytest.fixture
def recorded(tmp_path: Path) -> list[Written]:
    """
    Camera C{porch}'s recording: two segments of 50 frames at 10 fps, the
    second a minute after the first.
    """
    return [
        write_segment(tmp_path, frames_at(START, 50, fps=10)),
        write_segment(tmp_path, frames_at(START + 65, 50, fps=10, first=50)),
    ]


async def control(served: Served, session: str, **asked: Any) -> tuple[int, Any]:
    """
    Ask playback C{session} of camera C{porch} for C{asked}; the answer's
    status and JSON.
    """
    response = await served.http.post(
        served.url(f"/cameras/porch/playback/{session}"), json=asked
    )
    return response.code, await response.json()


@reactor_test
async def test_playback_stream(
    served: Served, recorded: list[Written], watching: list[Watching]
) -> None:
    """
    The playback is a stream in the live stream's format, from the frame
    captured at the time asked or just before, of the frames recorded with
    their capture times, paced by them at the speed, skipping the gap
    between the segments.
    """
    frames = [frame for each in recorded for frame in each.frames]
    client = watch(
        served,
        watching,
        f"/cameras/porch/playback?start={frames[10][0] + 0.05}&speed=4",
    )
    await wait_until(lambda: len(client.parts) >= 60, "60 frames are played")
    assert client.head is not None
    assert client.head.headers[b"content-type"] == [
        b"multipart/x-mixed-replace; boundary=frame"
    ]
    assert client.head.headers[b"cache-control"] == [
        b"no-store, no-cache, must-revalidate"
    ]
    assert b"transfer-encoding" not in client.head.headers
    assert len(client.session) >= 16
    played = client.parts[:60]
    assert [part.body for _, part in played] == [jpeg for _, jpeg in frames[10:70]]
    assert client.times[:60] == [float(f"{t:.6f}") for t, _ in frames[10:70]]
    # Timers fire late on a busy machine, never early: the 40 frames
    # before the gap took at least their 3.9 s of recording, at 4 times.
    elapsed = played[39][0] - played[0][0]
    assert elapsed >= 3.9 / 4 - 0.05
    # The minute of the gap took no time.
    assert played[40][0] - played[39][0] < 5


@reactor_test
async def test_control(
    served: Served, recorded: list[Written], watching: list[Watching]
) -> None:
    """
    A playback is paused (its frame sent again as a keepalive), stepped,
    sought, sped up and resumed through its session, which answers its
    state.
    """
    frames = [t for each in recorded for t, _ in each.frames]
    client = watch(served, watching, f"/cameras/porch/playback?start={frames[0]}")
    await wait_until(lambda: len(client.parts) >= 3, "frames are played")
    code, state = await control(served, client.session, action="pause")
    assert code == 200
    assert state["paused"] is True
    assert state["speed"] == 1
    shown = state["time"]
    count = len(client.parts)
    # Paused, the frame shown comes again every keepalive interval (2 s).
    await wait_until(lambda: len(client.parts) > count, "a keepalive")
    assert set(client.times[count - 1 :]) == {shown}
    code, state = await control(served, client.session, action="seek", time=frames[30])
    assert (code, state["time"], state["paused"]) == (200, frames[30], True)
    await wait_until(lambda: client.times[-1] == frames[30], "the frame sought")
    code, state = await control(served, client.session, action="step", frames=-1)
    assert state["time"] == frames[29]
    code, state = await control(served, client.session, action="step", frames=1)
    assert state["time"] == frames[30]
    await wait_until(lambda: client.times[-2:] == frames[29:31], "the steps")
    code, state = await control(served, client.session, action="speed", speed=16)
    assert state["speed"] == 16
    code, state = await control(served, client.session, action="resume")
    assert state["paused"] is False
    await wait_until(lambda: client.times[-1] >= frames[60], "played on at 16 times")
    response = await served.http.get(
        served.url(f"/cameras/porch/playback/{client.session}")
    )
    state = await response.json()
    assert state["camera"] == "porch"
    assert state["time"] >= frames[60]


@reactor_test
async def test_live(
    served: Served, recorded: list[Written], watching: list[Watching]
) -> None:
    """
    Asked to go live, a playback goes on with the camera's live frames on
    the same stream, each once, and the camera counts it as a viewer; the
    state says so.
    """
    client = watch(served, watching, f"/cameras/porch/playback?start={START}")
    await wait_until(lambda: len(client.parts) >= 2, "frames are played")
    before = time.time()
    code, state = await control(served, client.session, action="live")
    assert code == 200
    assert state["live"] is True
    assert state["speed"] == 1
    assert state["time"] >= before - 1
    count = len(client.parts)
    await wait_until(lambda: len(client.parts) >= count + 3, "live frames come")
    times = client.times
    assert times[:2] == [t for t, _ in recorded[0].frames[:2]]
    assert times[-3:] == sorted(set(times[-3:]))
    assert times[-1] >= before - 1
    hub = served.service.hubs["porch"]
    assert hub.viewers == 1
    code, state = await control(served, client.session, action="pause")
    assert (state["live"], state["paused"]) == (False, True)
    assert hub.viewers == 0


@pytest.mark.parametrize(
    "case",
    [
        (
            {"action": "rewind"},
            400,
            "action must be one of pause, resume, seek, speed, step, live",
        ),
        (
            {"action": "speed", "speed": 32},
            400,
            "speed must be a number from 0.25 to 16",
        ),
        (
            {"action": "speed", "speed": True},
            400,
            "speed must be a number from 0.25 to 16",
        ),
        ({"action": "step", "frames": 2}, 400, "frames must be 1 or -1"),
        ({"action": "seek", "time": "soon"}, 400, "time must be an ISO 8601 time"),
        ({"action": "seek", "time": START + 999}, 404, "nothing was recorded there"),
    ],
)
@reactor_test
async def test_bad_control(
    served: Served,
    recorded: list[Written],
    watching: list[Watching],
    case: tuple[dict[str, Any], int, str],
) -> None:
    """
    A control asked wrong is refused with a short message, and changes
    nothing.
    """
    asked, code, error = case
    client = watch(served, watching, f"/cameras/porch/playback?start={START}")
    await wait_until(lambda: bool(client.parts), "a frame is played")
    answer = await control(served, client.session, **asked)
    assert answer[0] == code
    assert error in answer[1]["error"]
    response = await served.http.get(
        served.url(f"/cameras/porch/playback/{client.session}")
    )
    state = await response.json()
    assert (state["paused"], state["speed"]) == (False, 1)


@reactor_test
async def test_session_is_the_streams(
    served: Served, recorded: list[Written], watching: list[Watching]
) -> None:
    """
    A session exists while its stream does, for its camera only; a control
    must be JSON from the same origin.
    """
    client = watch(served, watching, f"/cameras/porch/playback?start={START}")
    await wait_until(lambda: bool(client.parts), "a frame is played")
    session = client.session
    url = served.url(f"/cameras/porch/playback/{session}")
    response = await served.http.post(url, data=b"{}")
    assert response.code == 415
    response = await served.http.post(
        url,
        json={"action": "pause"},
        headers=Headers({b"Origin": [b"http://elsewhere.example"]}),
    )
    assert response.code == 403
    response = await served.http.get(served.url(f"/cameras/yard/playback/{session}"))
    assert response.code == 404
    client.close()
    watching.remove(client)
    await served.until_gone(url, "the session outlived its stream")


@reactor_test
async def test_playbacks_are_bounded(
    tmp_path: Path,
    recorded: list[Written],
    watching: list[Watching],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """
    Beyond L{MOST_SESSIONS} playbacks at once, another is a C{503}; one
    that ends makes room.
    """
    monkeypatch.setattr(sessions, "MOST_SESSIONS", 1)
    served = Served.start(tmp_path)
    try:
        await one_playback_at_a_time(served, watching)
    finally:
        await served.close()


async def one_playback_at_a_time(served: Served, watching: list[Watching]) -> None:
    """
    On C{served}, which takes one playback at a time, a second is refused
    until the first ends.
    """
    path = f"/cameras/porch/playback?start={START}"
    client = watch(served, watching, path)
    await wait_until(lambda: bool(client.parts), "a frame is played")
    response = await served.http.get(served.url(path))
    assert response.code == 503
    assert await response.text() == "too many playbacks are in progress\n"
    session = served.url(f"/cameras/porch/playback/{client.session}")
    client.close()
    watching.remove(client)
    await served.until_gone(session, "the session outlived its stream")
    again = watch(served, watching, path)
    await wait_until(lambda: bool(again.parts), "a frame is played again")


@pytest.mark.parametrize(
    ("query", "code", "message"),
    [
        ("", 400, b"start must be an ISO 8601 time or Unix seconds\n"),
        (
            "?start=1700000000&speed=0.1",
            400,
            b"speed must be a number from 0.25 to 16\n",
        ),
        ("?start=1700000000&speed=x", 400, b"speed must be a number from 0.25 to 16\n"),
        (
            "?start=1700000000&advance_headers=2",
            400,
            b"advance_headers must be 0 or 1\n",
        ),
        ("?start=1800000000", 404, b"nothing was recorded then or since\n"),
    ],
)
@reactor_test
async def test_bad_playback(
    served: Served, recorded: list[Written], query: str, code: int, message: bytes
) -> None:
    """
    A playback asked wrong, or of a time after everything recorded, is
    refused with a short message.
    """
    response, body = await served.get(f"/cameras/porch/playback{query}")
    assert (response.code, body) == (code, message)


@reactor_test
async def test_not_recorded(tmp_path: Path) -> None:
    """
    A server that does not record plays nothing back: C{404}, as for an
    unknown camera.
    """
    served = Served.start(None)
    try:
        response, body = await served.get("/cameras/porch/playback?start=0")
        assert (response.code, body) == (404, b"this camera is not recorded\n")
        response, body = await served.get("/cameras/garage/playback?start=0")
        assert (response.code, body) == (404, b"no such camera; cameras: porch, yard\n")
    finally:
        await served.close()
