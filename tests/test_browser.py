"""
The camera page in a real headless Chromium, driven over the DevTools
protocol (C{--remote-debugging-pipe}).

Chromium shows a part of a multipart image only once it has parsed the
headers of the part after it. These tests send a frame and then nothing
(no keepalive), and read back the pixels the page shows: the page must show
each frame as soon as it has arrived, not one frame late.
"""

from __future__ import annotations

import json
import shutil
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
from support import reactor, reactor_test
from twisted.internet.defer import Deferred
from twisted.internet.protocol import ProcessProtocol
from twisted.internet.task import deferLater
from twisted.web.server import Site

from camserve import CameraService, camera_resource
from camserve.testing import PushSource

if TYPE_CHECKING:
    from pathlib import Path

    from twisted.python.failure import Failure

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--remote-debugging-pipe",
)

SHOWN_PIXEL = """(() => {
  const img = document.getElementById("stream");
  if (!img || !img.naturalWidth) return null;
  const canvas = document.createElement("canvas");
  canvas.width = img.naturalWidth;
  canvas.height = img.naturalHeight;
  const context = canvas.getContext("2d");
  context.drawImage(img, 0, 0);
  const pixel = context.getImageData(canvas.width >> 1, canvas.height >> 1, 1, 1);
  return Array.from(pixel.data.slice(0, 3));
})()"""
"""The RGB of the centre of the frame the page's stream shows, or null."""


def solid_jpeg(rgb: tuple[int, int, int]) -> bytes:
    """
    A 320x240 JPEG of one colour.
    """
    image = np.full((240, 320, 3), rgb[::-1], dtype=np.uint8)
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 95])
    assert ok
    return bytes(encoded.tobytes())


def chromium() -> str:
    """
    The Chromium executable; the README's test command installs it.
    """
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    assert path is not None, "Chromium is not installed (see the README's test command)"
    return path


class DevTools(ProcessProtocol):
    """
    A Chromium process and its DevTools protocol over a pipe: commands go to
    its file descriptor 3, answers come from 4, each a NUL-terminated JSON
    message.
    """

    def __init__(self) -> None:
        self._buffer = b""
        self._next_id = 0
        self._pending: dict[int, Deferred[dict[str, Any]]] = {}
        self.ended: Deferred[None] = Deferred()
        self.stderr = b""

    def childDataReceived(self, childFD: int, data: bytes) -> None:
        if childFD == 2:
            self.stderr = (self.stderr + data)[-4000:]
            return
        if childFD != 4:
            return
        self._buffer += data
        *messages, self._buffer = self._buffer.split(b"\0")
        for raw in messages:
            message = json.loads(raw)
            waiter = self._pending.pop(message.get("id", -1), None)
            if waiter is None:
                continue
            if "error" in message:
                waiter.errback(RuntimeError(f"DevTools: {message['error']}"))
            else:
                waiter.callback(message.get("result", {}))

    def processEnded(self, reason: Failure) -> None:  # noqa: ARG002 - why it ended is in stderr
        for waiter in self._pending.values():
            waiter.errback(RuntimeError(f"Chromium ended: {self.stderr[-500:]!r}"))
        self._pending.clear()
        self.ended.callback(None)

    def send(
        self, method: str, params: dict[str, Any], session: str | None = None
    ) -> Deferred[dict[str, Any]]:
        """
        Send one command; its result to come.
        """
        self._next_id += 1
        message: dict[str, Any] = {
            "id": self._next_id,
            "method": method,
            "params": params,
        }
        if session is not None:
            message["sessionId"] = session
        waiter: Deferred[dict[str, Any]] = Deferred()
        self._pending[self._next_id] = waiter
        assert self.transport is not None
        self.transport.writeToChild(3, json.dumps(message).encode() + b"\0")
        return waiter.addTimeout(10, reactor)


async def open_page(devtools: DevTools, url: str) -> str:
    """
    Open C{url} in a new tab; the DevTools session attached to it.
    """
    target = await devtools.send("Target.createTarget", {"url": url})
    attached = await devtools.send(
        "Target.attachToTarget", {"targetId": target["targetId"], "flatten": True}
    )
    session: str = attached["sessionId"]
    return session


async def wait_until_shown(
    devtools: DevTools, session: str, expected: tuple[int, int, int], within: float
) -> None:
    """
    Poll the page until it shows C{expected} (each channel within 40).

    @raise AssertionError: naming what it shows instead, after C{within}
        seconds.
    """
    seen: list[int] | None = None
    for _ in range(int(within / 0.05)):
        answer = await devtools.send(
            "Runtime.evaluate",
            {"expression": SHOWN_PIXEL, "returnByValue": True},
            session,
        )
        seen = answer["result"].get("value")
        if seen is not None and all(
            abs(a - b) <= 40 for a, b in zip(seen, expected, strict=True)
        ):
            return
        await deferLater(reactor, 0.05, lambda: None)
    message = f"after {within} s the page shows {seen}, not {list(expected)}"
    raise AssertionError(message)


@reactor_test
async def test_page_shows_each_frame_as_soon_as_it_arrives(tmp_path: Path) -> None:
    """
    Chromium shows the camera page's stream frame by frame with no frame of
    delay: each frame is on screen while it is still the newest one.
    """
    source = PushSource()
    cameras = CameraService(reactor)
    hub = cameras.add_source("cam", source, keepalive_interval=3600)
    cameras.startService()
    port: Any = reactor.listenTCP(
        0, Site(camera_resource(hub, reactor)), interface="127.0.0.1"
    )
    devtools = DevTools()
    process: Any = reactor.spawnProcess(
        devtools,
        chromium(),
        [chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}"],
        env={"HOME": str(tmp_path)},
        childFDs={0: "w", 1: "r", 2: "r", 3: "w", 4: "r"},
    )
    try:
        session = await open_page(devtools, f"http://127.0.0.1:{port.getHost().port}/")
        for _ in range(200):
            if source.running:
                break
            await deferLater(reactor, 0.05, lambda: None)
        assert source.running, "the page did not open the stream"

        red, blue = (255, 0, 0), (0, 0, 255)
        source.push(solid_jpeg(red))
        await wait_until_shown(devtools, session, red, within=5)
        # The second frame is the last one sent: it must show without a
        # third frame's headers to push it out.
        source.push(solid_jpeg(blue))
        await wait_until_shown(devtools, session, blue, within=3)
        assert hub.frames_captured == 2
    finally:
        try:
            await devtools.send("Browser.close", {})
        except Exception:  # noqa: BLE001 - the browser may be gone already
            process.signalProcess("KILL")
        await devtools.ended
        await port.stopListening()
        await cameras.stopService()
