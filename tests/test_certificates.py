"""
Tests for L{camserve.access._certificates}: an C{ssl:} endpoint's certificate is
read again on C{SIGHUP} or a config reload, on a real listener, without a
restart.
"""

from __future__ import annotations

import os
import signal
import socket
import ssl
import time
import warnings
from typing import TYPE_CHECKING

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dh, dsa, ec
from cryptography.utils import CryptographyDeprecationWarning
from cryptography.x509.oid import NameOID
from support import (
    LogRecorder,
    free_port,
    reactor_test,
    read_head,
    self_signed_tls,
    send_get,
    wait_until,
)
from twisted.internet import reactor
from twisted.internet.endpoints import SSL4ServerEndpoint, TCP4ServerEndpoint
from twisted.internet.interfaces import (
    IOpenSSLContextFactory,
    IOpenSSLServerConnectionCreator,
)
from twisted.internet.threads import deferToThread
from twisted.logger import LogLevel
from zope.interface.verify import verifyObject

from camserve._listener import Listener
from camserve.access._certificates import ReloadableCertificates, reloadable
from camserve.config._reload import ConfigReloader
from camserve.config._server_config import ServerConfig
from camserve.tap import build_service
from camserve.testing import self_signed_pem

if TYPE_CHECKING:
    from pathlib import Path

    from twisted.application.service import MultiService

TIMEOUT = 10


def write_pair(directory: Path, name: str) -> None:
    """
    Write a fresh self-signed certificate whose subject is C{CN=name} to
    C{cert.pem}, and its key to C{key.pem}, in C{directory}.
    """
    key, certificate = self_signed_pem(name)
    (directory / "cert.pem").write_bytes(certificate)
    (directory / "key.pem").write_bytes(key)


def description(directory: Path, port: int) -> str:
    return (
        f"ssl:{port}:interface=127.0.0.1"
        f":privateKey={directory / 'key.pem'}:certKey={directory / 'cert.pem'}"
    )


def _client_context() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def _connect(port: int) -> ssl.SSLSocket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    return _client_context().wrap_socket(sock)


def _subject(sock: ssl.SSLSocket) -> str:
    der = sock.getpeercert(binary_form=True)
    assert der is not None
    name = x509.load_der_x509_certificate(der).subject
    (common_name,) = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(common_name.value)


def _served_name(port: int) -> str:
    with _connect(port) as sock:
        return _subject(sock)


async def served_name(port: int) -> str:
    """
    The common name of the certificate a new connection to C{port} gets.
    """
    name: str = await deferToThread(_served_name, port)
    return name


def _healthz(sock: ssl.SSLSocket) -> bytes:
    send_get(sock, "/healthz")
    return read_head(sock, time.monotonic() + TIMEOUT).status


def certificates_of(top: MultiService) -> ReloadableCertificates:
    (listener,) = [each for each in top if isinstance(each, Listener)]
    certificates = listener.endpoint._sslContextFactory
    assert isinstance(certificates, ReloadableCertificates)
    return certificates


async def one_camera(tmp_path: Path) -> tuple[MultiService, int]:
    """
    The one-camera server, started, listening with the first certificate.
    """
    write_pair(tmp_path, "first")
    port = free_port()
    top = build_service(ServerConfig(endpoint=description(tmp_path, port)), reactor)
    top.startService()
    return top, port


def test_twisted_keeps_the_settings_where_camserve_looks() -> None:
    """
    An C{ssl:} endpoint keeps its TLS settings in C{_sslContextFactory},
    the private attribute camserve replaces; if Twisted moves it, this
    fails rather than certificates silently never reloading.
    """
    options = self_signed_tls()
    endpoint = SSL4ServerEndpoint(reactor, 0, options)
    assert endpoint._sslContextFactory is options
    certificates = reloadable("ssl:0", endpoint, reactor)
    assert certificates is not None
    replaced: object = endpoint._sslContextFactory
    assert replaced is certificates


def test_other_endpoints_are_left_alone() -> None:
    """
    Only C{ssl:} endpoints have certificates to reload.
    """
    assert reloadable("tcp:0", TCP4ServerEndpoint(reactor, 0), reactor) is None


def test_interfaces() -> None:
    """
    L{ReloadableCertificates} is what Twisted's TLS wrapper asks of server
    settings, old and new style.
    """
    certificates = ReloadableCertificates("ssl:0", self_signed_tls(), reactor)
    assert verifyObject(IOpenSSLServerConnectionCreator, certificates)
    assert verifyObject(IOpenSSLContextFactory, certificates)


@reactor_test
async def test_reload_serves_the_new_certificate(tmp_path: Path) -> None:
    """
    Once reloaded, new connections get the certificate now in the files; a
    connection made before keeps its session and is still served.
    """
    top, port = await one_camera(tmp_path)
    try:
        assert await served_name(port) == "first"
        old = await deferToThread(_connect, port)
        try:
            write_pair(tmp_path, "second")
            assert await served_name(port) == "first"
            assert certificates_of(top).reload() is True
            assert await served_name(port) == "second"
            assert _subject(old) == "first"
            assert await deferToThread(_healthz, old) == b"HTTP/1.1 200 OK"
        finally:
            old.close()
    finally:
        await top.stopService()


@reactor_test
async def test_sighup_reloads_the_certificate(tmp_path: Path) -> None:
    """
    On the one-camera command line, C{SIGHUP} reads the certificate again;
    once stopped, the handler there was before is back.
    """
    before = signal.getsignal(signal.SIGHUP)
    top, port = await one_camera(tmp_path)
    try:
        assert await served_name(port) == "first"
        write_pair(tmp_path, "second")
        certificates = certificates_of(top)
        old = certificates._current
        os.kill(os.getpid(), signal.SIGHUP)
        await wait_until(lambda: certificates._current is not old, "reloaded")
        assert await served_name(port) == "second"
    finally:
        await top.stopService()
    assert signal.getsignal(signal.SIGHUP) == before


@pytest.mark.parametrize(
    ("spoil", "reason"),
    [
        pytest.param(
            lambda d: (d / "cert.pem").write_text("not PEM"),
            "PEM routines: no start line",
            id="garbage",
        ),
        pytest.param(
            lambda d: (d / "key.pem").unlink(),
            "key.pem: No such file or directory",
            id="missing",
        ),
        pytest.param(
            lambda d: (d / "key.pem").write_bytes(
                ec.generate_private_key(ec.SECP256R1()).private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                )
            ),
            "Certificate public and private keys do not match.",
            id="mismatched-key",
        ),
    ],
)
@reactor_test
async def test_bad_files_keep_the_certificate(
    tmp_path: Path, log: LogRecorder, spoil: object, reason: str
) -> None:
    """
    Files that cannot be used leave the certificate in use as it was, with
    one error logged: a line naming the endpoint and why.
    """
    top, port = await one_camera(tmp_path)
    try:
        write_pair(tmp_path, "second")
        spoil(tmp_path)  # type: ignore[operator]
        assert certificates_of(top).reload() is False
        assert await served_name(port) == "first"
        (error,) = log.formatted(LogLevel.error)
        assert error.startswith(
            "camserve: cannot read the TLS certificate for"
            f" {description(tmp_path, port)} again, keeping the one in use: "
        )
        assert error.endswith(reason)
        assert log.troubles() == [error]
    finally:
        await top.stopService()


def write_dh_parameters(path: Path) -> None:
    """
    Write Diffie-Hellman parameters, as C{ssl:}'s C{dhParameters} option
    reads them, to C{path}: DSA's, made in a fraction of the time a safe
    prime takes.
    """
    numbers = dsa.generate_parameters(2048).parameter_numbers()
    with warnings.catch_warnings():
        # cryptography deprecates finite-field Diffie-Hellman, which
        # Twisted's option still takes.
        warnings.simplefilter("ignore", CryptographyDeprecationWarning)
        parameters = dh.DHParameterNumbers(numbers.p, numbers.g, numbers.q)
        pem = parameters.parameters().parameter_bytes(
            serialization.Encoding.PEM, serialization.ParameterFormat.PKCS3
        )
    path.write_bytes(pem)


@reactor_test
async def test_bad_dh_parameters_keep_the_settings(
    tmp_path: Path, log: LogRecorder
) -> None:
    """
    A Diffie-Hellman parameters file that cannot be used (which shows only
    once OpenSSL is given it, not when the description is parsed) leaves
    the settings in use as they were, certificate and all: new handshakes
    still succeed with them.
    """
    write_pair(tmp_path, "first")
    write_dh_parameters(tmp_path / "dh.pem")
    port = free_port()
    endpoint = description(tmp_path, port) + f":dhParameters={tmp_path / 'dh.pem'}"
    top = build_service(ServerConfig(endpoint=endpoint), reactor)
    top.startService()
    try:
        assert await served_name(port) == "first"
        write_pair(tmp_path, "second")
        (tmp_path / "dh.pem").write_text("not PEM")
        reloaded = certificates_of(top).reload()
        assert await served_name(port) == "first"
        assert reloaded is False
        (error,) = log.troubles()
        assert error.startswith(
            f"camserve: cannot read the TLS certificate for {endpoint} again"
        )
        assert "PEM routines: no start line" in error
    finally:
        await top.stopService()


@reactor_test
async def test_config_reload_reloads_the_certificate(tmp_path: Path) -> None:
    """
    With a config file, its reload (as C{SIGHUP} asks) reads the
    certificates again too, even when the file itself is refused.
    """
    write_pair(tmp_path, "first")
    port = free_port()
    config = tmp_path / "camserve.toml"
    config.write_text(
        f"[server]\nendpoints = [{description(tmp_path, port)!r}]\n"
        '[[cameras]]\nname = "a"\ndriver = "emulated"\n'
    )
    top = build_service(str(config), reactor)
    top.startService()
    try:
        (reloader,) = [each for each in top if isinstance(each, ConfigReloader)]
        assert await served_name(port) == "first"
        write_pair(tmp_path, "second")
        config.write_text("not TOML [")
        await reloader.reload()
        assert await served_name(port) == "second"
    finally:
        await top.stopService()
