"""
camserve behind a real nginx, configured with the README's own C{location}
block: streams pass unbuffered, and with nginx as a trusted proxy each
viewer is limited as the client it is, not as nginx. Skipped where nginx is
not installed.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import pytest_twisted  # type: ignore[import-untyped]  # it ships no type hints
from support import (
    LogRecorder,
    assert_no_trouble,
    free_port,
    reactor,
    reactor_test,
    read_head,
    read_parts,
)
from twisted.internet.threads import deferToThread

from camserve.tap import build_service

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from twisted.application.service import MultiService

README = Path(__file__).parent.parent / "README.md"
TIMEOUT = 10
NGINX = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")

pytestmark = pytest.mark.skipif(NGINX is None, reason="nginx is not installed")


def readme_location() -> str:
    """
    The README's nginx C{location} block: the fenced block after its
    C{<!-- nginx:location -->} marker.
    """
    text = README.read_text(encoding="utf-8")
    match = re.search(r"<!-- nginx:location -->\s*```nginx\n(.*?)```", text, re.DOTALL)
    assert match is not None, "the README has no nginx location block"
    return match[1]


def nginx_config(prefix: Path, listen: int, upstream: int) -> str:
    """
    A whole nginx config that serves the README's location on C{listen},
    proxying to camserve on C{upstream}, with every file under C{prefix}.
    """
    location = readme_location().replace("127.0.0.1:8080", f"127.0.0.1:{upstream}")
    assert f"127.0.0.1:{upstream}" in location
    # As root, nginx's workers would run as nobody, who cannot read the
    # test's folder.
    user = "user root;\n" if os.geteuid() == 0 else ""
    return (
        f"{user}worker_processes 1;\n"
        f"pid {prefix}/nginx.pid;\n"
        f"error_log {prefix}/error.log warn;\n"
        "events { worker_connections 256; }\n"
        "http {\n"
        f"  access_log {prefix}/access.log;\n"
        f"  client_body_temp_path {prefix}/body;\n"
        f"  proxy_temp_path {prefix}/proxy;\n"
        f"  fastcgi_temp_path {prefix}/fastcgi;\n"
        f"  uwsgi_temp_path {prefix}/uwsgi;\n"
        f"  scgi_temp_path {prefix}/scgi;\n"
        f"  server {{\n    listen 127.0.0.1:{listen};\n{location}  }}\n"
        "}\n"
    )


class Proxied:
    """
    camserve (one emulated camera at 20 fps, nginx trusted, two connections
    per client) behind nginx.
    """

    top: MultiService
    nginx: subprocess.Popen[bytes]
    port: int


@pytest_twisted.async_yield_fixture  # type: ignore[untyped-decorator]  # pytest-twisted is untyped
async def proxied(tmp_path: Path) -> AsyncIterator[Proxied]:
    made = Proxied()
    upstream = free_port()
    config = tmp_path / "camserve.toml"
    config.write_text(
        "[server]\n"
        f'endpoints = ["tcp:{upstream}:interface=127.0.0.1"]\n'
        'trusted_proxies = ["127.0.0.1"]\n'
        "max_connections_per_client = 2\n"
        "[[cameras]]\n"
        'name = "porch"\n'
        'driver = "emulated"\n'
        "fps = 20\n"
    )
    made.top = build_service(str(config), reactor)
    made.top.startService()
    made.port = free_port()
    made.nginx = start_nginx(tmp_path, made.port, upstream)
    try:
        await deferToThread(wait_for_port, made.port, made.nginx)
        yield made
    finally:
        made.nginx.terminate()
        made.nginx.wait(TIMEOUT)
        await made.top.stopService()


def start_nginx(prefix: Path, port: int, upstream: int) -> subprocess.Popen[bytes]:
    """
    nginx in the foreground, listening on C{port} for camserve on
    C{upstream}, with its files under C{prefix}.
    """
    (prefix / "nginx.conf").write_text(nginx_config(prefix, port, upstream))
    assert NGINX is not None
    command = [NGINX, "-p", str(prefix), "-c", str(prefix / "nginx.conf")]
    return subprocess.Popen([*command, "-g", "daemon off;"], stderr=subprocess.PIPE)


def wait_for_port(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            _, errors = process.communicate()
            pytest.fail(f"nginx exited: {errors.decode(errors='replace')}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except OSError:
            time.sleep(0.05)
        else:
            return
    pytest.fail("nginx did not listen")


def viewer(port: int, source: str, extra: str = "") -> socket.socket:
    """
    A connection to nginx on C{port} from the loopback address C{source},
    which has asked for the camera's stream.
    """
    sock = socket.create_connection(
        ("127.0.0.1", port), timeout=TIMEOUT, source_address=(source, 0)
    )
    sock.sendall(
        f"GET /cameras/porch/video_feed HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"{extra}\r\n".encode("ascii")
    )
    return sock


def watch(sock: socket.socket, count: int) -> tuple[Any, float]:
    """
    The response head of the stream on C{sock} and how long its first
    C{count} parts took to arrive, which must each be a JPEG.
    """
    started = time.monotonic()
    head = read_head(sock, started + TIMEOUT)
    parts = read_parts(sock, count, started + TIMEOUT, head.body)
    assert all(part.body.startswith(b"\xff\xd8") for part in parts[:count])
    return head, time.monotonic() - started


@reactor_test
async def test_streams_pass_nginx_unbuffered(
    proxied: Proxied, log: LogRecorder
) -> None:
    """
    Through nginx as the README configures it, a stream arrives part by
    part at the camera's rate (20 parts in about a second at 20 fps), not
    held in nginx's buffers, and not chunked.
    """
    sock = await deferToThread(viewer, proxied.port, "127.0.0.2")
    try:
        head, took = await deferToThread(watch, sock, 20)
    finally:
        sock.close()
    assert head.status == b"HTTP/1.1 200 OK"
    assert head.headers[b"content-type"] == [
        b"multipart/x-mixed-replace; boundary=frame"
    ]
    assert b"transfer-encoding" not in head.headers
    assert took < 5
    assert_no_trouble(log)


@reactor_test
async def test_each_viewer_behind_nginx_is_its_own_client(
    proxied: Proxied, log: LogRecorder
) -> None:
    """
    With nginx trusted, the per-client limit counts each viewer's own
    address, from C{X-Forwarded-For}: a third stream from one address is
    refused 503 while another address is served; an address a client
    writes into C{X-Forwarded-For} itself is not believed.
    """
    spoofed = "X-Forwarded-For: 203.0.113.9\r\n"
    mine = [
        await deferToThread(viewer, proxied.port, "127.0.0.2", spoofed)
        for _ in range(2)
    ]
    try:
        for sock in mine:
            head, _ = await deferToThread(watch, sock, 1)
            assert head.status == b"HTTP/1.1 200 OK"
        third = await deferToThread(viewer, proxied.port, "127.0.0.2")
        head = await deferToThread(read_head, third, time.monotonic() + TIMEOUT)
        third.close()
        assert head.status == b"HTTP/1.1 503 Service Unavailable"
        other = await deferToThread(viewer, proxied.port, "127.0.0.3", spoofed)
        head, _ = await deferToThread(watch, other, 1)
        other.close()
        assert head.status == b"HTTP/1.1 200 OK"
    finally:
        for sock in mine:
            sock.close()
    assert_no_trouble(log)
