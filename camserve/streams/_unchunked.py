# -*- test-case-name: tests.test_unchunked -*-
"""
Close-delimited responses from twisted.web.

twisted.web chunk-encodes every HTTP/1.1 response that has no Content-Length.
Motion JPEG clients (embedded players, older OpenCV and ffmpeg builds) show
chunk sizes as garbage, and chunking turns each frame into several writes, so
established MJPEG servers send a body that simply ends when the connection
closes. This module does the same with twisted.web's public request and
channel API.
"""

from __future__ import annotations

from twisted.web.http import HTTPChannel, Request


def start_close_delimited(request: Request) -> None:
    """
    Send C{request}'s status line and headers now, announcing a body that
    ends when the connection closes; what is written afterwards goes to the
    wire as it is.

    Requests over HTTP/1.0, or over channels other than twisted.web's
    HTTP/1.1 one, are never chunked: for them this only sends the headers.
    """
    request.setHeader(b"connection", b"close")
    channel = request.channel
    if request.clientproto != b"HTTP/1.1" or not isinstance(channel, HTTPChannel):
        request.write(b"")
        return
    # Request.write would add "Transfer-Encoding: chunked" on its first call;
    # sending the headers through the channel ourselves and marking them sent
    # leaves Request.chunked false, so later writes go out unframed. A
    # non-persistent channel closes the connection when the request finishes.
    channel.persistent = False
    channel.writeHeaders(
        request.clientproto,
        b"%d" % (request.code,),
        request.code_message,
        request.responseHeaders,
    )
    request.startedWriting = True
