# -*- test-case-name: tests.test_server_app -*-
"""
The files pages load: a stylesheet, scripts and images, from camserve's
package. Only files listed here are served, so no request names a path.
"""

from __future__ import annotations

from importlib.resources import files
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from twisted.web.iweb import IRequest

_TYPES = {
    "camserve.css": b"text/css; charset=utf-8",
    "parts.js": b"text/javascript; charset=utf-8",
    "feed.js": b"text/javascript; charset=utf-8",
    "pictures.js": b"text/javascript; charset=utf-8",
    "layout.js": b"text/javascript; charset=utf-8",
    "arrange.js": b"text/javascript; charset=utf-8",
    "keys.js": b"text/javascript; charset=utf-8",
    "snapshots.js": b"text/javascript; charset=utf-8",
    "reload.js": b"text/javascript; charset=utf-8",
    "grid.js": b"text/javascript; charset=utf-8",
    "decoder.js": b"text/javascript; charset=utf-8",
    "camera.js": b"text/javascript; charset=utf-8",
    "timescale.js": b"text/javascript; charset=utf-8",
    "timeline.js": b"text/javascript; charset=utf-8",
    "activity.js": b"text/javascript; charset=utf-8",
    "wall.js": b"text/javascript; charset=utf-8",
    "favicon.svg": b"image/svg+xml",
}


def _read(name: str) -> bytes:
    return files(__package__).joinpath("static", name).read_bytes()


_CONTENTS = {name: _read(name) for name in _TYPES}


def static_file(request: IRequest, name: str) -> bytes | None:
    """
    Answer C{request} with the static file C{name}, or return L{None} if
    there is no such file (and leave the answer to the caller).
    """
    content = _CONTENTS.get(name)
    if content is None:
        return None
    request.setHeader(b"content-type", _TYPES[name])
    request.setHeader(b"cache-control", b"max-age=300")
    request.setHeader(b"x-content-type-options", b"nosniff")
    return content
