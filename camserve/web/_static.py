# -*- test-case-name: tests.test_server_app -*-
"""
The files pages load: a stylesheet, scripts and images, from camserve's
package's C{static} folder, read at start. Only the files found then are
served, by name, so no request names a path.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from twisted.web.iweb import IRequest

_TYPES = {
    ".css": b"text/css; charset=utf-8",
    ".js": b"text/javascript; charset=utf-8",
    ".svg": b"image/svg+xml",
}
"""The content type of each kind of file served, by suffix."""


def _read() -> dict[str, tuple[bytes, bytes]]:
    """
    The files of the package's C{static} folder, by name: each one's bytes
    and content type, read once, at start.
    """
    found = {}
    for path in files(__package__).joinpath("static").iterdir():
        kind = _TYPES.get(PurePosixPath(path.name).suffix)
        if kind is not None:
            found[path.name] = (path.read_bytes(), kind)
    return found


_CONTENTS = _read()


def static_file(request: IRequest, name: str) -> bytes | None:
    """
    Answer C{request} with the static file C{name}, or return L{None} if
    there is no such file (and leave the answer to the caller).
    """
    found = _CONTENTS.get(name)
    if found is None:
        return None
    content, kind = found
    request.setHeader(b"content-type", kind)
    request.setHeader(b"cache-control", b"max-age=300")
    request.setHeader(b"x-content-type-options", b"nosniff")
    return content
