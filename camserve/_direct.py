# -*- test-case-name: tests.test_direct -*-
"""
Writing a response body straight to its socket when Twisted has nothing
queued for it.

On an idle TCP connection each C{transport.write} costs Twisted an epoll
registration, a later C{doWrite} from the reactor, the C{send} and an epoll
unregistration. When nothing is queued on the transport, the bytes can go to
C{send} at once; whatever the kernel does not take is handed to
C{transport.write}, which keeps Twisted's ordering, backpressure
(C{pauseProducing} past its buffer size) and error handling.

Knowing that nothing is queued takes two attributes of
L{twisted.internet.abstract.FileDescriptor} that Twisted does not document:
C{dataBuffer} and C{_tempDataLen}. They are read here and nowhere else;
L{direct_body_writer} declines any transport without them, and
C{tests/test_direct.py} fails loudly if a Twisted release changes what they
mean.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twisted.internet import tcp
from twisted.web.http import HTTPChannel, Request

Write = Callable[[bytes], None]


def direct_body_writer(request: Request) -> Write | None:
    """
    A function that writes to C{request}'s body as C{request.write} does,
    but sends at once when nothing is queued.

    @return: L{None} unless the response's headers are sent, its body is not
        chunked, and it goes over plain TCP: then C{request.write} is the
        way.
    """
    channel = request.channel
    if not (
        isinstance(channel, HTTPChannel)
        and request.startedWriting
        and not request.chunked
        and not request.finished
    ):
        return None
    transport: Any = channel.transport
    if (
        not isinstance(transport, tcp.Connection)
        or getattr(transport, "TLS", True)
        or not isinstance(getattr(transport, "dataBuffer", None), bytes | memoryview)
        or not isinstance(getattr(transport, "_tempDataLen", None), int)
    ):
        return None
    send = transport.getHandle().send
    queue = transport.write

    def write(data: bytes) -> None:
        request.sentLength += len(data)
        if (
            transport._tempDataLen  # noqa: SLF001 - see the module docstring
            or transport.dataBuffer
            or transport.disconnecting
            or not transport.connected
        ):
            queue(data)
            return
        try:
            sent = send(data)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError:
            # Twisted meets the same error in its own write path and closes
            # the connection the way it always does.
            queue(data)
            return
        if sent < len(data):
            queue(data[sent:])

    return write
