"""
Tests for L{camserve.access._memory}: glibc keeps the memory TLS connections free,
in a server that listens on an C{ssl:} endpoint.
"""

from __future__ import annotations

import platform
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest
from support import reactor
from test_certificates import description, write_pair

import camserve.tap
from camserve.access._memory import keep_freed_memory
from camserve.config._server_config import ServerConfig
from camserve.tap import build_service

if TYPE_CHECKING:
    from pathlib import Path

GLIBC = platform.libc_ver()[0] == "glibc"


@pytest.mark.parametrize(
    ("endpoint", "kept"), [("tcp:0:interface=127.0.0.1", False), ("ssl", True)]
)
def test_a_server_on_an_ssl_endpoint_keeps_freed_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, endpoint: str, kept: bool
) -> None:
    """
    A server built to listen on an C{ssl:} endpoint keeps the memory its
    connections free; one on plain TCP changes nothing of the C library.
    """
    calls: list[None] = []

    def keep() -> bool:
        calls.append(None)
        return True

    monkeypatch.setattr(camserve.tap, "keep_freed_memory", keep)
    if endpoint == "ssl":
        write_pair(tmp_path, "camserve")
        endpoint = description(tmp_path, 0)
    build_service(ServerConfig(endpoint=endpoint), reactor)
    assert calls == ([None] if kept else [])


FREE_AND_TAKE_AGAIN = """
import resource, sys
from camserve.access._memory import keep_freed_memory
if sys.argv[1] == "keep":
    assert keep_freed_memory()
def frame_for_each_viewer():
    held = [b"x" * 51_000 for _ in range(100)]
    del held
frame_for_each_viewer()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    frame_for_each_viewer()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


@pytest.mark.skipif(not GLIBC, reason="the setting is glibc's")
def test_freed_memory_is_taken_again_without_page_faults() -> None:
    """
    After L{keep_freed_memory}, memory freed and taken again at the rate of
    a frame for each of 100 TLS viewers costs no page faults; glibc as it
    comes gives it back to the system each time and faults every page in
    again.
    """
    faults = {}
    for how in ("keep", "default"):
        completed = subprocess.run(
            [sys.executable, "-c", FREE_AND_TAKE_AGAIN, how],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        faults[how] = int(completed.stdout)
    # 20 times 100 parts of 51 KB is 25,000 pages.
    assert faults["keep"] < 1000
    assert faults["default"] > 10_000


def test_keep_freed_memory_says_whether_it_was_taken() -> None:
    """
    L{keep_freed_memory} says whether the C library took the settings: on
    glibc it does.
    """
    assert keep_freed_memory() is GLIBC
