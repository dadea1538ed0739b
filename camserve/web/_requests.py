# -*- test-case-name: tests.test_server_app,tests.test_tokens -*-
"""
What a server app's routes read of a request (the cameras a stream asks
for, a JSON body from the same origin) and how they answer: JSON, or short
plain text.
"""

from __future__ import annotations

import json
from io import BytesIO
from typing import TYPE_CHECKING, Any

from camserve.web._token_argument import DEFAULT_SECONDS

if TYPE_CHECKING:
    from collections.abc import Mapping

    from twisted.web.iweb import IRequest

    from camserve.camera._hub import CameraHub


class RefusedError(ValueError):
    """
    A request refused with C{code} and the message.
    """

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def stream_choice(
    request: IRequest, hubs: Mapping[str, CameraHub]
) -> tuple[list[str], set[str]]:
    """
    The cameras a C{/streams} request asks for, in order, and those of them
    it asks for as thumbnails.

    @raise RefusedError: for a camera that does not exist, or a request that
        cannot be served as asked.
    """
    size = query_argument(request, "size") or "full"
    if size not in ("full", "thumbnail"):
        raise RefusedError(400, "size must be full or thumbnail")
    names = query_argument(request, "cameras")
    wanted = list(hubs) if names is None else camera_names(names)
    shrunk = (
        set(wanted)
        if size == "thumbnail"
        else set(camera_names(query_argument(request, "thumbnails")))
    )
    unknown = [name for name in [*wanted, *shrunk] if name not in hubs]
    if unknown:
        raise RefusedError(404, "no such camera")
    if not wanted or len(set(wanted)) != len(wanted):
        raise RefusedError(400, "cameras must name each camera once")
    if not shrunk <= set(wanted):
        raise RefusedError(400, "thumbnails must name cameras of the stream")
    return wanted, shrunk


def camera_names(raw: str | None) -> list[str]:
    """
    The camera names of a comma-separated query argument.
    """
    return [name for name in (raw or "").split(",") if name]


def query_argument(request: IRequest, name: str) -> str | None:
    values = (request.args or {}).get(name.encode("ascii"))
    return values[-1].decode("utf-8", "replace") if values else None


def token_request(request: IRequest, longest: int) -> tuple[str, int]:
    """
    The camera and the seconds a C{POST /api/tokens} asks a token for.

    @raise RefusedError: for a request from another origin, of another
        content type than JSON, or whose JSON is not what it should be.
    """
    asked = json_body(request)
    if not isinstance(asked.get("camera"), str):
        raise RefusedError(400, "camera must be a camera's name")
    seconds = asked.get("seconds", DEFAULT_SECONDS)
    if (
        not isinstance(seconds, int)
        or isinstance(seconds, bool)
        or not 1 <= seconds <= longest
    ):
        raise RefusedError(400, f"seconds must be from 1 to {longest}")
    return asked["camera"], seconds


def json_body(request: IRequest) -> dict[str, Any]:
    """
    The JSON object a request that changes something sends, which only a
    page of the same origin (or a program) can: a form of another site
    cannot send JSON, and a script of another site sends its C{Origin}.

    @raise RefusedError: for a request from another origin, of another
        content type than JSON, or whose body is not a JSON object (or is
        nested too deeply to read).
    """
    if not same_origin(request):
        raise RefusedError(403, "cross-origin request")
    if media_type(request) != "application/json":
        raise RefusedError(415, "send application/json")
    try:
        asked = json.loads((request.content or BytesIO()).read())
    except ValueError:
        raise RefusedError(400, "the body is not JSON") from None
    except RecursionError:
        # A few kilobytes of brackets nest deeper than the parser goes.
        raise RefusedError(400, "the body is nested too deeply") from None
    if not isinstance(asked, dict):
        raise RefusedError(400, "the body must be a JSON object")
    return asked


def same_origin(request: IRequest) -> bool:
    """
    Whether C{request} has no C{Origin}, or its own: a page of another site
    may send a request, but not read the answer, nor make it look like one
    of camserve's own pages.
    """
    origins = request.requestHeaders.getRawHeaders(b"origin")
    if not origins:
        return True
    host = request.getHeader(b"host")
    if host is None:
        return False
    scheme = b"https" if request.isSecure() else b"http"
    return all(origin.lower() == scheme + b"://" + host.lower() for origin in origins)


def media_type(request: IRequest) -> str:
    raw = request.getHeader(b"content-type") or b""
    return raw.split(b";", 1)[0].strip().lower().decode("latin-1")


def under_api(request: IRequest) -> bool:
    # Wherever the app is mounted; a camera's own routes never get here.
    path: bytes = request.path or b""
    return path.endswith(b"/api") or b"/api/" in path


def plain_answer(request: IRequest, code: int, message: str) -> bytes:
    """
    A short plain-text answer.
    """
    request.setResponseCode(code)
    request.setHeader(b"content-type", b"text/plain; charset=utf-8")
    request.setHeader(b"cache-control", b"no-store")
    return message.encode("utf-8") + b"\n"


def json_answer(request: IRequest, value: object, code: int = 200) -> bytes:
    request.setResponseCode(code)
    request.setHeader(b"content-type", b"application/json")
    request.setHeader(b"cache-control", b"no-store")
    return json.dumps(value).encode("utf-8") + b"\n"


def unknown_camera(request: IRequest, names: list[str]) -> bytes:
    """
    Answer C{404} to a request of a camera not among C{names}, naming those
    there are: in JSON under the API, as text elsewhere.
    """
    if under_api(request):
        return json_answer(request, {"error": "no such camera", "cameras": names}, 404)
    return plain_answer(
        request, 404, f"no such camera; cameras: {', '.join(names) or 'none'}"
    )
