"""
camserve keeps HTTP/2 off: over TLS it offers only C{http/1.1} by ALPN,
even where Twisted could speak C{h2}. A client offering C{h2} first gets
C{http/1.1} and whole frames on every stream route; a client offering only
C{h2} is told so by the TLS alert RFC 7301 names; Chromium streams over
C{http/1.1}. Why HTTP/2 stays off, with the figures: docs/http.md.

Real servers on 127.0.0.1 (the whole one-camera server, and a
L{CamserveSite} listening as an embedding would), real TLS clients in
threads, and Debian's Chromium through Playwright.
"""

from __future__ import annotations

import shutil
import socket
import ssl
import time
from typing import TYPE_CHECKING, Any

import pytest
from OpenSSL.SSL import NO_OVERLAPPING_PROTOCOLS
from support import (
    free_port,
    reactor,
    reactor_test,
    read_head,
    read_parts,
    self_signed_tls,
    send_get,
    wait_until,
)
from test_certificates import description, write_pair
from twisted.internet.threads import deferToThread
from twisted.logger import LogLevel
from twisted.web import http
from twisted.web.resource import Resource
from twisted.web.server import Site

from camserve._listener import Listener
from camserve.access._certificates import select_protocol
from camserve.access._site import CamserveSite
from camserve.config._server_config import ServerConfig
from camserve.tap import build_service

if TYPE_CHECKING:
    from pathlib import Path

    from playwright.sync_api import Browser
    from support import LogRecorder, Response
    from twisted.application.service import MultiService

    from camserve.testing import Part

TIMEOUT = 10
CHROMIUM = shutil.which("chromium")
STREAMS = [
    "/video_feed",
    "/cameras/emulated/video_feed",
    "/streams?cameras=emulated",
]


async def serving(tmp_path: Path) -> tuple[MultiService, int]:
    """
    The one-camera server (the emulated camera), started, listening with
    TLS on 127.0.0.1 as C{camserve --endpoint ssl:...} does.
    """
    write_pair(tmp_path, "127.0.0.1")
    port = free_port()
    top = build_service(ServerConfig(endpoint=description(tmp_path, port)), reactor)
    top.startService()
    return top, port


def site_of(top: MultiService) -> CamserveSite:
    (listener,) = [each for each in top if isinstance(each, Listener)]
    site = listener.factory
    assert isinstance(site, CamserveSite)
    return site


def connect(port: int, offered: list[str]) -> ssl.SSLSocket:
    """
    A TLS connection to C{port} that offers the ALPN protocols C{offered}.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_alpn_protocols(offered)
    sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    try:
        return context.wrap_socket(sock)
    except BaseException:
        sock.close()
        raise


def watch(
    port: int, offered: list[str], path: str
) -> tuple[str | None, Any, list[Part]]:
    """
    Connect offering C{offered}, ask for the stream at C{path} and read
    three parts: the protocol chosen, the response's head and the parts.
    """
    deadline = time.monotonic() + TIMEOUT
    with connect(port, offered) as sock:
        chosen = sock.selected_alpn_protocol()
        send_get(sock, path)
        head = read_head(sock, deadline)
        return chosen, head, read_parts(sock, 3, deadline, head.body)


def refused(port: int, offered: list[str]) -> str:
    """
    The error a client offering only C{offered} meets in the handshake.
    """
    with pytest.raises(ssl.SSLError) as caught:
        connect(port, offered).close()
    return str(caught.value)


def healthz(port: int) -> bytes:
    with connect(port, ["http/1.1"]) as sock:
        send_get(sock, "/healthz")
        return read_head(sock, time.monotonic() + TIMEOUT).status


def check_stream(head: Response, parts: list[Part], path: str) -> None:
    """
    A stream's head is HTTP/1.1's, close-delimited, and its parts are
    whole JPEGs (the parser checks each part's C{Content-Length} and the
    boundary after it).
    """
    assert head.status == b"HTTP/1.1 200 OK"
    content_type = b"multipart/x-mixed-replace; boundary=frame"
    assert head.headers[b"content-type"] == [content_type]
    assert head.headers[b"connection"] == [b"close"]
    assert b"transfer-encoding" not in head.headers
    assert len(parts) >= 3
    for part in parts:
        assert part.headers["content-type"] == "image/jpeg"
        assert part.body[:2] == b"\xff\xd8"
        assert part.body[-2:] == b"\xff\xd9"
        if path.startswith("/streams"):
            assert part.headers["x-camera"] == "emulated"


@pytest.mark.parametrize("path", STREAMS)
@reactor_test
async def test_a_client_offering_h2_first_gets_http11_and_whole_frames(
    tmp_path: Path, path: str
) -> None:
    """
    A client that offers C{h2} before C{http/1.1}, as browsers and HTTP/2
    libraries do, is given C{http/1.1}, and each stream route sends it
    whole JPEG parts over a close-delimited HTTP/1.1 response.
    """
    top, port = await serving(tmp_path)
    try:
        chosen, head, parts = await deferToThread(watch, port, ["h2", "http/1.1"], path)
        assert chosen == "http/1.1"
        check_stream(head, parts, path)
    finally:
        await top.stopService()


@reactor_test
async def test_a_client_offering_only_h2_is_told_no_protocol(
    tmp_path: Path, log: LogRecorder
) -> None:
    """
    A client that offers only C{h2} fails its handshake with the
    C{no_application_protocol} alert (not C{internal_error}), without an
    error in camserve's log; its connection frees its place under the
    limits, and the server goes on serving others.
    """
    top, port = await serving(tmp_path)
    try:
        site = site_of(top)
        error = await deferToThread(refused, port, ["h2"])
        assert "alert no application protocol" in error
        await wait_until(lambda: site.open_connections == 0, "the place is free")
        assert await deferToThread(healthz, port) == b"HTTP/1.1 200 OK"
    finally:
        await top.stopService()
    assert log.troubles(LogLevel.error) == []


def test_camserve_site_offers_http11_where_twisted_offers_h2(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """
    Where Twisted can speak HTTP/2 (the C{h2} package installed), its own
    L{Site} offers C{h2}; L{CamserveSite} still offers only C{http/1.1}.
    """
    monkeypatch.setattr(http, "H2_ENABLED", True)
    assert Site(Resource()).acceptableProtocols() == [b"h2", b"http/1.1"]
    site = CamserveSite(Resource(), reactor)
    assert site.acceptableProtocols() == [b"http/1.1"]


@reactor_test
async def test_an_embedded_site_offers_http11_with_twisteds_tls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """
    A L{CamserveSite} on Twisted's own TLS settings (C{listenSSL}, as an
    embedding would, without camserve's certificate reloading) gives a
    client offering C{h2} first C{http/1.1}, and streams to it, even with
    Twisted's HTTP/2 support switched on.
    """
    monkeypatch.setattr(http, "H2_ENABLED", True)
    top, _ = await serving(tmp_path)
    try:
        port = reactor.listenSSL(
            0, site_of(top), self_signed_tls(), interface="127.0.0.1"
        )
        try:
            number = port.getHost().port
            chosen, head, parts = await deferToThread(
                watch, number, ["h2", "http/1.1"], "/video_feed"
            )
            assert chosen == "http/1.1"
            check_stream(head, parts, "/video_feed")
        finally:
            await port.stopListening()
    finally:
        await top.stopService()


class _NoNegotiation:
    """
    A TLS connection whose server factory names no protocols.
    """

    class factory:  # noqa: N801 - stands for an attribute
        wrappedFactory = object()

    def get_app_data(self) -> Any:
        return self


def test_a_factory_without_protocols_negotiates_none() -> None:
    """
    Under a server factory that names no ALPN protocols, the handshake goes
    on without ALPN rather than failing.
    """
    chosen = select_protocol(_NoNegotiation(), [b"h2"])  # type: ignore[arg-type]
    assert chosen is NO_OVERLAPPING_PROTOCOLS


@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium")
@reactor_test
async def test_chromium_streams_over_tls_on_http11(tmp_path: Path) -> None:
    """
    Chromium, which offers C{h2} to every TLS server, loads a camera's
    stream over C{http/1.1} and shows its picture changing.
    """
    top, port = await serving(tmp_path)
    try:
        result = await deferToThread(chromium_watch, f"https://127.0.0.1:{port}")
    finally:
        await top.stopService()
    assert result["protocol"] == "http/1.1"
    assert result["width"] == 640
    assert result["first"] != result["later"]


def chromium_watch(url: str) -> dict[str, Any]:
    """
    Open C{url}'s stream in Chromium: the protocol its navigation used, the
    picture's width, and two screenshots of it a second apart.
    """
    from playwright.sync_api import sync_playwright  # noqa: PLC0415 - in its thread

    with sync_playwright() as playwright:
        browser: Browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            context = browser.new_context(ignore_https_errors=True)
            page = context.new_page()
            # The stream never ends, so its page never fires "load".
            page.goto(f"{url}/video_feed", wait_until="commit")
            page.wait_for_function(
                "document.images.length > 0 && document.images[0].naturalWidth > 0",
                timeout=TIMEOUT * 1000,
            )
            picture = page.locator("img")
            first = picture.screenshot()
            page.wait_for_timeout(1000)
            return {
                "protocol": page.evaluate(
                    "performance.getEntriesByType('navigation')[0].nextHopProtocol"
                ),
                "width": page.evaluate("document.images[0].naturalWidth"),
                "first": first,
                "later": picture.screenshot(),
            }
        finally:
            browser.close()
