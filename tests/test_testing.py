"""
Tests for L{camserve.testing}'s cameras and sources.
"""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING

import pytest
from cryptography import x509
from zope.interface.verify import verifyObject

from camserve import ICamera, IFrameSource
from camserve._jpeg import jpeg_size
from camserve.testing import PushSource, ScriptedCamera, make_jpeg, self_signed_pem

if TYPE_CHECKING:
    from pathlib import Path


def test_make_jpeg_is_distinct_per_number() -> None:
    """
    Different numbers give different real JPEGs of the asked size.
    """
    jpegs = {make_jpeg(number, 40, 30) for number in range(300)}
    assert len(jpegs) == 300
    assert all(jpeg_size(jpeg) == (40, 30) for jpeg in jpegs)


def test_scripted_camera_loops_counts_and_fails() -> None:
    """
    The scripted camera loops over its JPEGs, records open and close, and
    raises its error after C{fail_after} frames.
    """
    camera = ScriptedCamera([b"a", b"b"], fps=1000, fail_after=3)
    assert verifyObject(ICamera, camera)
    frames = camera.frames()
    assert [next(frames) for _ in range(3)] == [b"a", b"b", b"a"]
    assert camera.is_open
    with pytest.raises(OSError, match="scripted camera failure"):
        next(frames)
    assert not camera.is_open
    assert camera.opened == camera.closed == 1


def test_push_source_reports_to_its_hub_callbacks() -> None:
    """
    A push source delivers pushed frames and reports stops and failures once.
    """
    source = PushSource()
    assert verifyObject(IFrameSource, source)
    delivered: list[tuple[bytes, float]] = []
    outcomes: list[object] = []
    source.start(lambda jpeg, when: delivered.append((jpeg, when)), outcomes.append)
    source.push(b"x", 12.5)
    source.stop()
    assert source.stop_requested
    source.finish_stop()
    assert delivered == [(b"x", 12.5)]
    assert outcomes == [None]
    assert not source.running
    with pytest.raises(RuntimeError):
        source.push(b"y")


@pytest.mark.parametrize(
    ("name", "alternative"),
    [("127.0.0.1", "IP:127.0.0.1"), ("cams.example", "DNS:cams.example")],
)
def test_self_signed_pem_serves_tls_for_its_name(
    tmp_path: Path, name: str, alternative: str
) -> None:
    """
    L{self_signed_pem} gives a key and a certificate that a TLS server
    takes as a pair, for C{name}: its common name and its alternative name.
    """
    key, certificate = self_signed_pem(name)
    (tmp_path / "key.pem").write_bytes(key)
    (tmp_path / "cert.pem").write_bytes(certificate)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    loaded = x509.load_pem_x509_certificate(certificate)
    assert loaded.subject.rfc4514_string() == f"CN={name}"
    names = loaded.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    (value,) = list(names.value)
    kind = "IP" if isinstance(value, x509.IPAddress) else "DNS"
    assert f"{kind}:{value.value}" == alternative
