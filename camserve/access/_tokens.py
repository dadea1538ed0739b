# -*- test-case-name: tests.test_tokens -*-
"""
API tokens: signed, expiring, per-camera tokens that stand for a login
where none can be sent, as in an C{<img>} of another page
(C{?token=<payload>.<signature>}).

A token is the url-safe base64 of C{[user, camera, expiry]} (JSON, the
expiry in Unix time) and of its HMAC-SHA256 under the server's key. It is
taken only for its own camera's routes, before its expiry, and while its
user still exists and still sees the camera, looked up at each use; a
request it serves is ended at its expiry.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
import re
import secrets
from typing import TYPE_CHECKING
from urllib.parse import unquote_to_bytes

from attrs import frozen

from camserve.web._permissions import Permission
from camserve.web._server_app import SERVER_ROUTES

if TYPE_CHECKING:
    from collections.abc import Mapping

    from twisted.internet.interfaces import IReactorTime

    from camserve.web._route_table import Route
    from camserve.web._user import User

LONGEST_SECONDS = 7 * 24 * 3600
"""How long a token may last at most: a week."""
KEY_SIZE = 32
"""Bytes of a random key, and the fewest a key file must hold."""


def _encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@frozen
class Grant:
    """
    What a valid token stands for: its user, until its expiry.

    @ivar expires: the token's expiry, in the seconds of L{Tokens.clock}.
    """

    user: User
    expires: int


class Tokens:
    """
    Mints and checks the tokens of one server.

    @ivar clock: tells the time tokens expire by.
    """

    def __init__(
        self,
        key: bytes,
        users: Mapping[str, User],
        clock: IReactorTime,
        *,
        longest: int = LONGEST_SECONDS,
    ) -> None:
        """
        @param key: the HMAC key; tokens signed with another key are refused.
        @param users: who may use a token, by name, looked up at each use
            (so a mapping that changes takes effect at once).
        @param clock: tells the time tokens expire by.
        @param longest: the most seconds a token may last.
        """
        self._key = key
        self._users = users
        self.clock = clock
        self.longest = longest

    def update(self, users: Mapping[str, User], key: bytes | None) -> None:
        """
        Take the tokens of C{users} from now on, signed with C{key} (the
        key in use for L{None}): tokens signed with another key are refused
        from now on.
        """
        self._users = users
        if key is not None:
            self._key = key

    def _sign(self, payload: str) -> str:
        digest = hmac.new(self._key, payload.encode("ascii"), hashlib.sha256)
        return _encode(digest.digest())

    def mint(self, user: User, camera: str, seconds: int) -> tuple[str, int]:
        """
        A token letting C{user}'s scripts and pages watch C{camera} for
        C{seconds}, and its expiry in Unix time.
        """
        # Up, not down: a token lasts at least the seconds asked for, not as
        # little as one second less.
        expires = math.ceil(self.clock.seconds()) + seconds
        payload = _encode(
            json.dumps([user.name, camera, expires], separators=(",", ":")).encode(
                "utf-8"
            )
        )
        return f"{payload}.{self._sign(payload)}", expires

    def user_of(self, token: str, camera: str) -> User | None:
        """
        The user a C{token} for C{camera} stands for, or L{None} if it is
        not one (see L{grant}).
        """
        grant = self.grant(token, camera)
        return None if grant is None else grant.user

    def grant(self, token: str, camera: str) -> Grant | None:
        """
        What a C{token} for C{camera} stands for, or L{None} if it is not
        one: badly formed, not signed with this key, for another camera,
        expired, or of a user who no longer exists or no longer sees the
        camera.
        """
        payload, dot, signature = token.partition(".")
        if not dot or not hmac.compare_digest(
            self._sign(payload).encode("ascii"), signature.encode("ascii", "replace")
        ):
            return None
        try:
            name, for_camera, expires = json.loads(_decode(payload))
        except (ValueError, TypeError, binascii.Error):
            return None
        if (
            not isinstance(name, str)
            or for_camera != camera
            or not isinstance(expires, int)
            or self.clock.seconds() >= expires
        ):
            return None
        user = self._users.get(name)
        if user is None or not user.sees(camera):
            return None
        return Grant(user, expires)


def token_camera(path: bytes, first: str | None, method: bytes = b"GET") -> str | None:
    """
    The camera whose token opens a request of C{path} (as sent) with
    C{method}: a route of one camera (L{Permission.CAMERA}), the camera's
    page, its files, stream, snapshot and health under C{/cameras/<name>/},
    and C{/video_feed} and C{/snapshot.jpg} for the C{first} camera;
    L{None} for any other path, which needs a login.
    """
    found = SERVER_ROUTES.find(path, method)
    if found is None or not opens_to_tokens(found.route):
        return None
    return found.camera(first)


def opens_to_tokens(route: Route) -> bool:
    """
    Whether the bearer of a token of its camera may use C{route}, as its
    viewers may.
    """
    return route.permission is Permission.CAMERA


def new_key() -> bytes:
    """
    A random key, for a server whose config names no key file: its tokens
    stop working when it restarts.
    """
    return secrets.token_bytes(KEY_SIZE)


def scrub(uri: bytes) -> bytes:
    """
    C{uri} with the value of each C{token} query argument left out, for
    logs.
    """
    path, question, query = uri.partition(b"?")
    if not question:
        return uri
    parts = re.split(rb"([&;])", query)
    for index in range(0, len(parts), 2):
        name = parts[index].split(b"=", 1)[0].replace(b"+", b" ")
        # As twisted.web reads an argument's name.
        if unquote_to_bytes(name) == b"token":
            parts[index] = b"token=-"
    return path + b"?" + b"".join(parts)
