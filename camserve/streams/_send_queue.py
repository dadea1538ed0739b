# -*- test-case-name: tests.test_send_queue -*-
"""
Keeping a stream's connection from queueing more than about a frame.

A viewer skips to the newest frame only when its connection pushes back, and
a connection pushes back only once its queues are full. Left alone, those
queues hold seconds of video for a slow viewer: Twisted buffers 64 KiB
before it pauses a producer, and Linux grows a socket's send buffer to
megabytes. Everything queued there is sent, old, before the newest frame.

So a stream's connection is bounded twice:

  - in Twisted, the transport pauses its producer as soon as anything at all
    waits in its buffer (C{bufferSize} 0), so at most the frame being
    written waits there;
  - in the kernel, C{TCP_NOTSENT_LOWAT} bounds the bytes that are queued but
    not yet sent: the socket takes no more, and is not reported writable,
    while that many wait. It bounds nothing in flight, so a fast viewer far
    away still has its whole congestion window; a fixed C{SO_SNDBUF} would
    bound the bytes in flight too, and with them the rate over a long round
    trip.

Where the system has no C{TCP_NOTSENT_LOWAT} (Windows, the BSDs), only
Twisted's side is bounded and the kernel's send buffer is left as the system
sizes it.
"""

from __future__ import annotations

import socket
from typing import Any

from twisted.internet import tcp

NOTSENT_LOWAT: int | None = getattr(socket, "TCP_NOTSENT_LOWAT", None)
"""The socket option, where this system's Python has it."""


def tcp_connection(transport: object) -> tcp.Connection | None:
    """
    The TCP connection under C{transport}: itself, or the one under its
    TLS layer; L{None} for any other transport.
    """
    for _ in range(3):
        if isinstance(transport, tcp.Connection):
            return transport
        transport = getattr(transport, "transport", None)
    return None


def bound_send_queue(transport: object, unsent: int) -> bool:
    """
    Make C{transport} pause its producer whenever it has anything buffered,
    and let its socket hold at most about C{unsent} bytes not yet sent.

    @param unsent: how many bytes may wait in the kernel unsent; about a
        frame lets a whole frame go out in one C{send} when nothing waits.
    @return: whether the kernel's queue is bounded; L{False} where the
        system lacks C{TCP_NOTSENT_LOWAT} or C{transport} is no TCP
        connection.
    """
    connection: Any = tcp_connection(transport)
    if connection is None:
        return False
    connection.bufferSize = 0
    if NOTSENT_LOWAT is None:
        return False
    try:
        connection.getHandle().setsockopt(
            socket.IPPROTO_TCP, NOTSENT_LOWAT, max(unsent, 1)
        )
    except OSError:
        return False
    return True
