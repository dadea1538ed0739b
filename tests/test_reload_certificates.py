"""
Tests for a config file's reload (L{camserve.config._reload}) beside the TLS
certificates it reads again (L{camserve.access._certificates}): neither depends on
the other. A certificate that cannot be used is kept as it was, with one
line logged, while the file is applied and answered as if the certificate
were fine; each endpoint's certificate is read again whatever another's
files hold; and a reloaded certificate keeps camserve's ALPN answer.

Real servers on 127.0.0.1 serving a config file (or the one camera), real
TLS clients in threads.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import time
from functools import cache
from typing import TYPE_CHECKING

import pytest
from support import (
    free_port,
    reactor,
    reactor_test,
    receive,
    split_response,
    wait_until,
)
from test_auth import PASSWORDS, htpasswd_line
from test_certificates import (
    TIMEOUT,
    certificates_of,
    description,
    served_name,
    write_pair,
)
from test_http2 import connect, refused, serving
from twisted.internet.threads import deferToThread

from camserve import CameraService
from camserve.config._reload import ConfigReloader
from camserve.tap import build_service
from camserve.testing import self_signed_pem

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from pathlib import Path

    from support import LogRecorder

ROLES = {"alice": "admin", "bob": "viewer"}


def write_config(
    path: Path, endpoints: Iterable[str], cameras: Iterable[str], users: Iterable[str]
) -> None:
    """
    Write a config file serving emulated C{cameras} on C{endpoints}, with a
    login for each of C{users} (of L{ROLES}, with their L{PASSWORDS}) if
    any, their htpasswd file beside it.
    """
    users = list(users)
    lines = ["[server]", f"endpoints = {json.dumps(list(endpoints))}"]
    for name in cameras:
        lines += ["[[cameras]]", f'name = "{name}"', 'driver = "emulated"']
    if users:
        lines += ["[auth]", 'htpasswd = "users.htpasswd"']
        for user in users:
            lines += [f"[auth.users.{user}]", f'role = "{ROLES[user]}"']
        htpasswd = "".join(hashed(user) for user in users)
        (path.parent / "users.htpasswd").write_text(htpasswd)
    path.write_text("\n".join(lines) + "\n")


@cache
def hashed(user: str) -> str:
    """
    C{user}'s htpasswd line, the same in every file written: a user whose
    hash changed would be a user whose login changed.
    """
    return htpasswd_line(user, PASSWORDS[user])


def garbage(directory: Path) -> None:
    """
    Spoil the certificate file of C{directory}: not PEM.
    """
    (directory / "cert.pem").write_text("not PEM")


def mismatched(directory: Path) -> None:
    """
    Spoil the certificate file of C{directory}: a good certificate, of a
    key other than the one in C{key.pem}.
    """
    (directory / "cert.pem").write_bytes(self_signed_pem("other")[1])


SPOILS = [
    pytest.param(garbage, "PEM routines: no start line", id="garbage"),
    pytest.param(mismatched, "keys do not match", id="mismatched"),
]


def ask(port: int, method: str, path: str, user: str) -> tuple[bytes, bytes]:
    """
    Send C{method path} (with an empty JSON body) as C{user} on a new TLS
    connection to C{port}; the status line and body of the answer.
    """
    deadline = time.monotonic() + TIMEOUT
    login = base64.b64encode(f"{user}:{PASSWORDS[user]}".encode()).decode()
    with connect(port, ["http/1.1"]) as sock:
        sock.sendall(
            # HTTP/1.0: the body is what comes before the close, unchunked.
            f"{method} {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n"
            f"Authorization: Basic {login}\r\nContent-Type: application/json\r\n"
            "Content-Length: 2\r\n\r\n{}".encode()
        )
        raw = b""
        while data := receive(sock, deadline):
            raw += data
    response = split_response(raw)
    return response.status, response.body


async def post_reload(port: int) -> tuple[bytes, bytes]:
    """
    C{POST /api/reload} as alice, an admin: the status line and body.
    """
    answer: tuple[bytes, bytes] = await deferToThread(
        ask, port, "POST", "/api/reload", "alice"
    )
    return answer


def certificate_line(log: LogRecorder, endpoint: str, reason: str) -> None:
    """
    The log has one line at warning level or above, and no failure: that a
    certificate of C{endpoint} could not be read again, and C{reason}.
    """
    (line,) = log.troubles()
    assert line.startswith(f"camserve: cannot read the TLS certificate for {endpoint}")
    assert "keeping the one in use: " in line
    assert reason in line
    assert "\n" not in line


@pytest.mark.parametrize(("spoil", "reason"), SPOILS)
@reactor_test
async def test_a_bad_certificate_leaves_post_api_reload_to_the_file(
    tmp_path: Path,
    log: LogRecorder,
    spoil: Callable[[Path], None],
    reason: str,
) -> None:
    """
    An admin's C{POST /api/reload} while the certificate files cannot be
    used applies the file all the same (here bob's login removed) and
    answers what it did; the certificate in use is kept, with one line
    logged naming the endpoint and why. A file with a mistake is answered
    C{400} with the file's mistake alone.
    """
    write_pair(tmp_path, "first")
    port = free_port()
    endpoint = description(tmp_path, port)
    path = tmp_path / "camserve.toml"
    write_config(path, [endpoint], ["porch"], ["alice", "bob"])
    top = build_service(str(path), reactor)
    top.startService()
    try:
        assert await served_name(port) == "first"
        spoil(tmp_path)
        write_config(path, [endpoint], ["porch"], ["alice"])
        status, body = await post_reload(port)
        assert status == b"HTTP/1.0 200 OK", body
        assert json.loads(body) == {
            "added": [],
            "removed": [],
            "restarted": [],
            "unchanged": ["porch"],
            "users": ["bob"],
        }
        assert await served_name(port) == "first"
        certificate_line(log, endpoint, reason)
        bob = await deferToThread(ask, port, "GET", "/api/cameras", "bob")
        assert bob[0] == b"HTTP/1.0 401 Unauthorized"
        path.write_text("not TOML [")
        status, body = await post_reload(port)
        assert status == b"HTTP/1.0 400 Bad Request", body
        (mistake,) = json.loads(body).values()
        assert mistake.startswith(f"{path}: line 1")
    finally:
        await top.stopService()


@pytest.mark.parametrize(("spoil", "reason"), SPOILS)
@reactor_test
async def test_sighup_with_a_bad_certificate_applies_the_file(
    tmp_path: Path,
    log: LogRecorder,
    spoil: Callable[[Path], None],
    reason: str,
) -> None:
    """
    C{SIGHUP} while the certificate files cannot be used applies the file
    (here a camera added) and keeps the certificate in use, with one line
    logged and nothing else.
    """
    write_pair(tmp_path, "first")
    port = free_port()
    endpoint = description(tmp_path, port)
    path = tmp_path / "camserve.toml"
    write_config(path, [endpoint], ["porch"], [])
    top = build_service(str(path), reactor)
    top.startService()
    try:
        (cameras,) = [each for each in top if isinstance(each, CameraService)]
        spoil(tmp_path)
        write_config(path, [endpoint], ["porch", "shed"], [])
        os.kill(os.getpid(), signal.SIGHUP)
        await wait_until(lambda: list(cameras.hubs) == ["porch", "shed"], "reloaded")
        assert await served_name(port) == "first"
    finally:
        await top.stopService()
    certificate_line(log, endpoint, reason)


@reactor_test
async def test_each_endpoint_is_read_again_whatever_the_others_hold(
    tmp_path: Path, log: LogRecorder
) -> None:
    """
    Of two C{ssl:} endpoints, the first's files unusable and the second's
    renewed, a reload keeps the first's certificate and serves the
    second's new one.
    """
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    write_pair(first, "first")
    write_pair(second, "second")
    ports = free_port(), free_port()
    endpoints = [description(first, ports[0]), description(second, ports[1])]
    path = tmp_path / "camserve.toml"
    write_config(path, endpoints, ["porch"], [])
    top = build_service(str(path), reactor)
    top.startService()
    try:
        (reloader,) = [each for each in top if isinstance(each, ConfigReloader)]
        write_pair(first, "first renewed")
        garbage(first)
        write_pair(second, "second renewed")
        assert (await reloader.reload()).error is None
        assert await served_name(ports[0]) == "first"
        assert await served_name(ports[1]) == "second renewed"
    finally:
        await top.stopService()
    certificate_line(log, endpoints[0], "no start line")


@reactor_test
async def test_a_reloaded_certificate_keeps_the_alpn_answer(tmp_path: Path) -> None:
    """
    Once the certificate is reloaded, a client offering only C{h2} is
    still told C{no_application_protocol} (not Twisted's C{internal_error}),
    and one offering C{h2} and C{http/1.1} still gets C{http/1.1}.
    """
    top, port = await serving(tmp_path)
    try:
        before = await deferToThread(refused, port, ["h2"])
        assert "alert no application protocol" in before
        write_pair(tmp_path, "renewed")
        assert certificates_of(top).reload() is True
        assert await served_name(port) == "renewed"
        assert await deferToThread(refused, port, ["h2"]) == before

        def chosen() -> str | None:
            with connect(port, ["h2", "http/1.1"]) as sock:
                return sock.selected_alpn_protocol()

        assert await deferToThread(chosen) == "http/1.1"
    finally:
        await top.stopService()
