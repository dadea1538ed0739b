"""
Tests for the recording routes (L{camserve.web._recording_routes}) on a
real server: an admin (anyone, without logins) starts and stops an
C{on_demand} camera's recording and is answered its report, a viewer is
refused, other cameras are refused with a short message, and the camera
page offers it to whoever may; and what a camera recorded is listed as
ranges of capture times.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

import treq
from attrs import define
from recorded import START, frames_at, write_segment
from support import reactor, reactor_test, wait_until
from twisted.internet.task import Clock, deferLater
from twisted.web.client import Agent, HTTPConnectionPool
from twisted.web.http_headers import Headers
from twisted.web.server import Site

from camserve import CameraService, EmulatedCamera
from camserve.recording._modes import RecordingMode, RecordingSettings
from camserve.recording._service import RecordingService
from camserve.web._server_app import ServerApp
from camserve.web._user import User

if TYPE_CHECKING:
    from pathlib import Path

    from twisted.web.iweb import IResponse


@define
class Recording:
    """
    A real server of cameras C{porch} (recorded on demand), C{yard}
    (recorded continuously) and C{shed} (not recorded), for C{user}.
    """

    folder: Path
    cameras: CameraService
    recorder: RecordingService
    port: Any
    pool: HTTPConnectionPool

    @classmethod
    def start(cls, folder: Path, user: User | None = None) -> Recording:
        cameras = CameraService(reactor)
        for name in ("porch", "yard", "shed"):
            cameras.add_camera(name, EmulatedCamera(fps=10, width=64, height=48))
        cameras.startService()
        recorder = RecordingService(cameras, reactor)
        recorder.configure(
            folder,
            0,
            {
                "porch": RecordingSettings(RecordingMode.ON_DEMAND),
                "yard": RecordingSettings(RecordingMode.CONTINUOUS),
            },
        )
        recorder.startService()
        app = ServerApp(
            cameras, reactor, user=user, recordings_dir=folder, recorder=recorder
        )
        port = reactor.listenTCP(0, Site(app.app.resource()), interface="127.0.0.1")
        return cls(folder, cameras, recorder, port, HTTPConnectionPool(reactor, False))

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port.getHost().port}{path}"

    async def ask(
        self, path: str, body: object = None, method: str = "POST"
    ) -> tuple[int, Any]:
        """
        Send C{body} as JSON to C{path} (or C{GET} it); the answer's code
        and its JSON.
        """
        client = treq.client.HTTPClient(Agent(reactor, pool=self.pool))
        response: IResponse
        if method == "GET":
            response = await client.get(self.url(path))
        else:
            response = await client.post(
                self.url(path),
                data=json.dumps(body).encode(),
                headers=Headers({b"content-type": [b"application/json"]}),
            )
        return response.code, json.loads(await treq.content(response))

    async def close(self) -> None:
        await self.pool.closeCachedConnections()
        await self.port.stopListening()
        await self.recorder.stopService()
        await self.cameras.stopService()


@reactor_test
async def test_start_and_stop(tmp_path: Path) -> None:
    """
    Without logins, anyone starts an C{on_demand} camera's recording,
    which then writes frames, and stops it; each answer is the camera's
    recording report.
    """
    server = Recording.start(tmp_path)
    try:
        code, report = await server.ask(
            "/api/cameras/porch/recording", {"action": "start"}
        )
        assert (code, report["mode"], report["state"]) == (
            200,
            "on_demand",
            "recording",
        )
        await wait_until(
            lambda: server.recorder.report("porch")["frames_written"] >= 5,
            "porch records",
        )
        code, report = await server.ask(
            "/api/cameras/porch/recording", {"action": "stop"}
        )
        assert (code, report["state"]) == (200, "off")
        assert report["frames_written"] >= 5
        assert report["bytes"] > 0
        written = report["frames_written"]
        await deferLater(reactor, 0.5, lambda: None)
        assert server.recorder.report("porch")["frames_written"] == written
    finally:
        await server.close()


@reactor_test
async def test_refused(tmp_path: Path) -> None:
    """
    A camera that does not record on demand is refused C{409} with a short
    message, an unknown camera C{404}, another action or a body that is
    not JSON C{400}/C{415}.
    """
    server = Recording.start(tmp_path)
    try:
        start = {"action": "start"}
        assert await server.ask("/api/cameras/yard/recording", start) == (
            409,
            {"error": "camera yard does not record on demand (record = 'continuous')"},
        )
        assert await server.ask("/api/cameras/shed/recording", start) == (
            409,
            {"error": "camera shed does not record on demand"},
        )
        code, answer = await server.ask("/api/cameras/garage/recording", start)
        assert (code, answer["error"]) == (404, "no such camera")
        assert await server.ask(
            "/api/cameras/porch/recording", {"action": "pause"}
        ) == (400, {"error": 'action must be "start" or "stop"'})
        assert server.recorder.report("porch")["state"] == "off"
    finally:
        await server.close()


@reactor_test
async def test_admins_only_with_logins(tmp_path: Path) -> None:
    """
    With logins, a viewer is refused C{403}, and an admin starts and stops
    the recording.
    """
    viewer = Recording.start(tmp_path / "viewer", User("bob", "viewer"))
    admin = Recording.start(tmp_path / "admin", User("alice", "admin"))
    try:
        start = {"action": "start"}
        code, answer = await viewer.ask("/api/cameras/porch/recording", start)
        assert code == 403
        assert "only an admin may start or stop recording" in json.dumps(answer)
        assert viewer.recorder.report("porch")["state"] == "off"
        code, report = await admin.ask("/api/cameras/porch/recording", start)
        assert (code, report["state"]) == (200, "recording")
        code, report = await admin.ask(
            "/api/cameras/porch/recording", {"action": "stop"}
        )
        assert (code, report["state"]) == (200, "off")
    finally:
        await viewer.close()
        await admin.close()


@reactor_test
async def test_ranges(tmp_path: Path) -> None:
    """
    The recordings of a camera are listed as ranges of capture times
    without a gap, within the span asked (ISO 8601 or Unix seconds), from
    a day ago by default; a bad span is refused.
    """
    write_segment(tmp_path, frames_at(START, 20, fps=10))
    write_segment(tmp_path, frames_at(START + 60, 20, fps=10, first=20))
    server = Recording.start(tmp_path, User("bob", "viewer"))
    try:
        code, ranges = await server.ask(
            f"/api/cameras/porch/recordings?start={START - 10}&end={START + 3600}",
            method="GET",
        )
        assert code == 200
        assert ranges == [
            {"start": START, "end": START + 1.9},
            {"start": START + 60, "end": START + 61.9},
        ]
        iso = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(START + 30))
        code, ranges = await server.ask(
            f"/api/cameras/porch/recordings?start={iso}Z&end={START + 3600}",
            method="GET",
        )
        assert [(r["start"], r["end"]) for r in ranges] == [(START + 60, START + 61.9)]
        assert await server.ask("/api/cameras/porch/recordings", method="GET") == (
            200,
            [],
        )
        assert await server.ask(
            "/api/cameras/porch/recordings?start=soon", method="GET"
        ) == (400, {"error": "start and end must be ISO 8601 times or Unix seconds"})
        code, _ = await server.ask("/api/cameras/garage/recordings", method="GET")
        assert code == 404
    finally:
        await server.close()


@reactor_test
async def test_default_span_is_the_last_day(tmp_path: Path) -> None:
    """
    Without a span, what was recorded in the last day is listed, and a
    long span is not cut short.
    """
    now = time.time()
    write_segment(tmp_path, frames_at(now - 3 * 86400, 10, fps=10))
    write_segment(tmp_path, frames_at(now - 3600, 10, fps=10, first=10))
    server = Recording.start(tmp_path)
    try:
        _, ranges = await server.ask("/api/cameras/porch/recordings", method="GET")
        assert [r["start"] for r in ranges] == [now - 3600]
        _, ranges = await server.ask(
            f"/api/cameras/porch/recordings?start={now - 7 * 86400}", method="GET"
        )
        assert [r["start"] for r in ranges] == [now - 3 * 86400, now - 3600]
    finally:
        await server.close()


@reactor_test
async def test_the_folder_read_is_the_one_recorded_in(tmp_path: Path) -> None:
    """
    A reload that moves the recordings folder moves what is listed (and so
    played back and exported) with it.
    """
    first, moved = tmp_path / "first", tmp_path / "moved"
    write_segment(first, frames_at(START, 20, fps=10))
    write_segment(moved, frames_at(START + 60, 20, fps=10, first=20))
    server = Recording.start(first)
    span = f"/api/cameras/porch/recordings?start={START - 10}&end={START + 3600}"
    try:
        _, ranges = await server.ask(span, method="GET")
        assert [r["start"] for r in ranges] == [START]
        await server.recorder.configure(moved, 0, server.recorder.settings)
        _, ranges = await server.ask(span, method="GET")
        assert [r["start"] for r in ranges] == [START + 60]
    finally:
        await server.close()


@reactor_test
async def test_the_page_offers_recording_to_admins(tmp_path: Path) -> None:
    """
    The camera page of a camera recorded on demand has the timeline for
    everyone, and the Record button for an admin, or anyone without
    logins, never for a viewer.
    """
    servers = {
        "viewer": Recording.start(tmp_path / "viewer", User("bob", "viewer")),
        "admin": Recording.start(tmp_path / "admin", User("alice", "admin")),
        "nobody": Recording.start(tmp_path / "nobody"),
    }
    try:
        pages = {}
        for who, server in servers.items():
            response = await treq.get(server.url("/cameras/porch/"), pool=server.pool)
            pages[who] = await treq.text_content(response)
        assert all('id="timeline"' in page for page in pages.values())
        assert {who: 'id="record"' in page for who, page in pages.items()} == {
            "viewer": False,
            "admin": True,
            "nobody": True,
        }
    finally:
        for server in servers.values():
            await server.close()


def test_who_starts_and_stops() -> None:
    """
    The recording's routes serve as an admin anyone without logins, those
    who did not log in on a server with logins as nobody (whom an admin's
    route refuses), and a logged-in user as themselves.
    """
    clock = Clock()
    cameras = CameraService(clock)
    nobody = ServerApp(cameras, clock).recording.user
    assert nobody is not None
    assert nobody.may("admin")
    assert ServerApp(cameras, clock, anonymous=True).recording.user is None
    viewer = User("bob", "viewer")
    assert ServerApp(cameras, clock, user=viewer).recording.user == viewer
