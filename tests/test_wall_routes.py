"""
Tests for the playback of several cameras in step over the grid's one
connection (C{/streams?start=}, L{camserve.web._streams_route}) on a real
server: the parts of every camera, each part's C{X-Timestamp} its capture
time, in step with the others'; the session that controls the whole wall
(C{/streams/<session>}); and what is refused.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import pytest
from recorded import START, Served, Watching, frames_at, watch, write_segment
from support import reactor_test, wait_until
from twisted.web.http_headers import Headers

if TYPE_CHECKING:
    from pathlib import Path

RATES = {"porch": 10.0, "yard": 4.0}


@pytest.fixture
def recorded(tmp_path: Path) -> dict[str, list[float]]:
    """
    C{porch} at 10 fps for 20 s from START, C{yard} at 4 fps from START + 1
    for 19 s, then both again a minute later for 10 s.
    """
    porch = [
        *frames_at(START, 200, fps=10),
        *frames_at(START + 80, 100, fps=10, first=200),
    ]
    yard = [
        *frames_at(START + 1, 76, fps=4, first=1000),
        *frames_at(START + 80, 40, fps=4, first=1100),
    ]
    write_segment(tmp_path, porch[:200], camera="porch")
    write_segment(tmp_path, porch[200:], camera="porch")
    write_segment(tmp_path, yard[:76], camera="yard")
    write_segment(tmp_path, yard[76:], camera="yard")
    return {"porch": [t for t, _ in porch], "yard": [t for t, _ in yard]}


def latest(client: Watching) -> dict[str, float]:
    """
    The capture time of each camera's newest part so far.
    """
    newest: dict[str, float] = {}
    for _, part in client.parts:
        newest[part.headers["x-camera"]] = float(part.headers["x-timestamp"])
    return newest


def in_step(client: Watching, since: int = 0) -> None:
    """
    From the C{since}th part on, once both cameras have sent one, their
    newest capture times are within one frame interval of each camera of
    each other, or are after the next part: frames due at once (after a
    seek, a jump across a gap) come one after the other. A part older than
    its camera's newest is a keepalive.
    """
    newest: dict[str, float] = {}
    apart: list[bool] = []
    for _, part in client.parts:
        camera, when = part.headers["x-camera"], float(part.headers["x-timestamp"])
        newest[camera] = max(when, newest.get(camera, when))
        apart.append(
            len(newest) == 2
            and abs(newest["porch"] - newest["yard"]) > 0.25 + 0.1 + 1e-3
        )
    for index in range(since, len(apart) - 1):
        assert not (apart[index] and apart[index + 1]), client.parts[index]


async def control(served: Served, session: str, **asked: Any) -> tuple[int, Any]:
    """
    Ask the wall's playback C{session} for C{asked}; the answer's status
    and JSON.
    """
    response = await served.http.post(served.url(f"/streams/{session}"), json=asked)
    return response.code, await response.json()


@reactor_test
async def test_in_step(
    served: Served, recorded: dict[str, list[float]], watching: list[Watching]
) -> None:
    """
    C{/streams?start=} plays both cameras' recordings in the stream format
    of C{/streams}, each part naming its camera and its capture time, the
    two cameras in step, and skips the minute neither recorded.
    """
    client = watch(served, watching, f"/streams?start={START + 5}&speed=4")
    await wait_until(
        lambda: any(
            float(part.headers["x-timestamp"]) >= START + 81 for _, part in client.parts
        ),
        "the frames after the gap",
    )
    assert client.head is not None
    assert client.head.headers[b"content-type"] == [
        b"multipart/x-mixed-replace; boundary=frame"
    ]
    assert len(client.session) >= 16
    cameras = {part.headers["x-camera"] for _, part in client.parts}
    assert cameras == {"porch", "yard"}
    for name in RATES:
        times = [
            float(part.headers["x-timestamp"])
            for _, part in client.parts
            if part.headers["x-camera"] == name
        ]
        assert times == sorted(times)
        assert set(times) <= {float(f"{t:.6f}") for t in recorded[name]}
        assert times[0] <= START + 5
    in_step(client)
    # The minute without frames took no time: 15 s of recording at 4x.
    first, last = client.parts[0][0], client.parts[-1][0]
    assert last - first < 15 / 4 + 3


@reactor_test
async def test_control(
    served: Served, recorded: dict[str, list[float]], watching: list[Watching]
) -> None:
    """
    The wall's session pauses, seeks, steps, speeds up and resumes both
    cameras at once, and answers the wall's state, each camera's with it.
    """
    client = watch(served, watching, f"/streams?start={START + 2}")
    await wait_until(lambda: len(latest(client)) == 2, "both cameras' frames")
    code, state = await control(served, client.session, action="pause")
    assert code == 200
    assert (state["paused"], state["live"], state["speed"]) == (True, False, 1)
    assert [each["camera"] for each in state["cameras"]] == ["porch", "yard"]
    assert all(each["frame"] for each in state["cameras"])
    assert state["not_recorded"] == []
    code, state = await control(
        served, client.session, action="seek", time=START + 10.05
    )
    assert (code, state["time"], state["paused"]) == (200, START + 10.05, True)
    await wait_until(
        lambda: (
            latest(client)
            == {"porch": float(f"{START + 10:.6f}"), "yard": float(f"{START + 10:.6f}")}
        ),
        "the frames sought",
    )
    code, state = await control(served, client.session, action="step", frames=1)
    assert state["time"] == pytest.approx(START + 10.1)
    code, state = await control(served, client.session, action="step", frames=-1)
    assert state["time"] == pytest.approx(START + 10)
    code, state = await control(served, client.session, action="speed", speed=8)
    assert state["speed"] == 8
    code, state = await control(served, client.session, action="resume")
    assert state["paused"] is False
    resumed = len(client.parts)
    await wait_until(
        lambda: min(latest(client).values()) >= START + 15, "both played on at 8x"
    )
    in_step(client, resumed)
    response = await served.http.get(served.url(f"/streams/{client.session}"))
    state = await response.json()
    assert state["time"] >= START + 15


@reactor_test
async def test_live(
    served: Served, recorded: dict[str, list[float]], watching: list[Watching]
) -> None:
    """
    Asked to go live, both cameras go on with their live frames on the same
    stream; paused, both go back to their recordings.
    """
    client = watch(served, watching, f"/streams?start={START}")
    await wait_until(lambda: len(latest(client)) == 2, "both cameras' frames")
    before = time.time()
    code, state = await control(served, client.session, action="live")
    assert code == 200
    assert state["live"] is True
    await wait_until(
        lambda: min(latest(client).values()) >= before - 1, "both cameras live"
    )
    assert all(hub.viewers == 1 for hub in served.service.hubs.values())
    code, state = await control(served, client.session, action="pause")
    assert (state["live"], state["paused"]) == (False, True)
    assert all(hub.viewers == 0 for hub in served.service.hubs.values())


@reactor_test
async def test_camera_not_recorded(
    served: Served, tmp_path: Path, watching: list[Watching]
) -> None:
    """
    A camera with no recordings is left out of the playback, and its state
    says so.
    """
    write_segment(tmp_path, frames_at(START, 50), camera="porch")
    client = watch(served, watching, f"/streams?start={START}")
    await wait_until(lambda: len(client.parts) >= 3, "frames are played")
    assert {part.headers["x-camera"] for _, part in client.parts} == {"porch"}
    response = await served.http.get(served.url(f"/streams/{client.session}"))
    state = await response.json()
    assert state["not_recorded"] == ["yard"]
    assert [each["camera"] for each in state["cameras"]] == ["porch"]


@reactor_test
async def test_session_is_the_streams(
    served: Served, recorded: dict[str, list[float]], watching: list[Watching]
) -> None:
    """
    A session exists while its stream does; a control must be JSON from
    the same origin, and asked right.
    """
    client = watch(served, watching, f"/streams?start={START}")
    await wait_until(lambda: bool(client.parts), "a frame is played")
    url = served.url(f"/streams/{client.session}")
    response = await served.http.post(url, data=b"{}")
    assert response.code == 415
    response = await served.http.post(
        url,
        json={"action": "pause"},
        headers=Headers({b"Origin": [b"http://elsewhere.example"]}),
    )
    assert response.code == 403
    refusals: list[tuple[dict[str, Any], int, str]] = [
        ({"action": "rewind"}, 400, "action must be one of"),
        ({"action": "speed", "speed": 32}, 400, "speed must be a number"),
        ({"action": "step", "frames": 2}, 400, "frames must be 1 or -1"),
        ({"action": "seek", "time": START + 999}, 404, "nothing was recorded there"),
    ]
    for asked, code, error in refusals:
        answer = await control(served, client.session, **asked)
        assert answer[0] == code
        assert error in answer[1]["error"]
    response = await served.http.get(served.url("/streams/nosuchsession"))
    assert response.code == 404
    assert await response.json() == {"error": "no such playback"}
    client.close()
    watching.remove(client)
    await served.until_gone(url, "the session outlived its stream")


@pytest.mark.parametrize(
    ("query", "code", "message"),
    [
        ("?start=soon", 400, b"start must be an ISO 8601 time or Unix seconds\n"),
        (
            "?start=1700000000&speed=20",
            400,
            b"speed must be a number from 0.25 to 16\n",
        ),
        (
            "?start=1700000000&size=thumbnail",
            400,
            b"a playback sends full frames: leave out size and thumbnails\n",
        ),
        (
            "?start=1700000000&thumbnails=yard",
            400,
            b"a playback sends full frames: leave out size and thumbnails\n",
        ),
        ("?start=1700000000&cameras=garage", 404, b"no such camera\n"),
        ("?start=1800000000", 404, b"nothing was recorded then or since\n"),
    ],
)
@reactor_test
async def test_refused(
    served: Served,
    recorded: dict[str, list[float]],
    query: str,
    code: int,
    message: bytes,
) -> None:
    """
    A playback asked wrong, or of a time after everything recorded, is
    refused with a short message.
    """
    response, body = await served.get(f"/streams{query}")
    assert (response.code, body) == (code, message)


@reactor_test
async def test_not_recorded() -> None:
    """
    A server that does not record plays nothing back.
    """
    served = Served.start(None)
    try:
        response, body = await served.get("/streams?start=0")
        assert (response.code, body) == (404, b"this server does not record\n")
        response, body = await served.get("/streams/abc")
        assert (response.code, body) == (404, b"not found\n")
    finally:
        await served.close()
