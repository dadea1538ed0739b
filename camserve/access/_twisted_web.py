# -*- test-case-name: tests.test_site -*-
"""
What camserve's site reads of twisted.web's L{HTTPChannel} that Twisted
does not document: the request line of the request being received, which
the channel keeps from its first line until the request is complete.

It is read here and nowhere else; C{tests/test_site.py} fails loudly if a
Twisted release keeps it elsewhere.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from twisted.web.http import HTTPChannel


def request_line(channel: HTTPChannel) -> tuple[bytes, bytes, bytes]:
    """
    The method, target and version of the request C{channel} is receiving,
    once its head is whole and before its body is.
    """
    # Twisted leaves HTTPChannel untyped.
    command: bytes = channel._command  # noqa: SLF001 - see the module docstring
    path: bytes = channel._path  # noqa: SLF001
    version: bytes = channel._version  # noqa: SLF001
    return command, path, version
