# -*- test-case-name: tests.test_direct -*-
"""
Writing a response body straight to its socket when Twisted has nothing
queued for it.

On an idle TCP connection each C{transport.write} costs Twisted an epoll
registration, a later C{doWrite} from the reactor, the C{send} and an epoll
unregistration. When nothing is queued on the transport, the bytes can go to
C{send} at once; whatever the kernel does not take is handed to
C{transport.write}, which keeps Twisted's ordering, backpressure
(C{pauseProducing} past its buffer size) and error handling. When the kernel
takes none of a part, the part is left to its writer, which may send a newer
one instead once the socket drains, and the producer is paused the way a
full buffer pauses it.

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

Write = Callable[[bytes], bool]
"""
Writes one whole part of a response body; returns whether it was taken.
"""


def body_writer(request: Request) -> Write:
    """
    A function that writes whole parts to C{request}'s body: directly to the
    socket where L{direct_body_writer} can, else with C{request.write}, which
    takes every part.
    """
    direct = direct_body_writer(request)
    if direct is not None:
        return direct

    def write(data: bytes) -> bool:
        request.write(data)
        return True

    return write


def direct_body_writer(request: Request) -> Write | None:
    """
    A function that writes whole parts to C{request}'s body as
    C{request.write} does, but sends at once when nothing is queued.

    When nothing is queued and the socket takes none of a part, the part is
    not taken: the function returns L{False} and pauses the request's
    producer until the socket is writable again, so that what goes out then
    can be a newer part rather than this one, kept waiting in Twisted's
    buffer.

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

    def write(data: bytes) -> bool:
        if (
            transport._tempDataLen  # noqa: SLF001 - see the module docstring
            or transport.dataBuffer
            or transport.disconnecting
            or not transport.connected
        ):
            request.sentLength += len(data)
            queue(data)
            return True
        try:
            sent = send(data)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError:
            # Twisted meets the same error in its own write path and closes
            # the connection the way it always does.
            request.sentLength += len(data)
            queue(data)
            return True
        if not sent:
            producer: Any = transport.producer
            if producer is not None:
                # What a full buffer does in FileDescriptor.write: the
                # producer (the request's channel) is paused, and doWrite
                # resumes it once the socket is writable.
                transport.producerPaused = True
                producer.pauseProducing()
                transport.startWriting()
                return False
        request.sentLength += len(data)
        if sent < len(data):
            queue(data[sent:])
        return True

    return write
