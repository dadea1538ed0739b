# -*- test-case-name: tests.test_permissions -*-
"""
The routes of an app as the login in front of it sees them: each with what
it declares (L{camserve.web._permissions}), matched against a request's
path as sent, before any route sees it, and including the routes of each
camera below a branch of camera routes.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING
from urllib.parse import unquote_to_bytes

from attrs import frozen

from camserve.web._permissions import declaration_of

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from klein import Klein
    from werkzeug.routing import Rule

    from camserve.web._permissions import Declaration, Permission

_VARIABLE = re.compile(r"<(?:(?P<converter>\w+)(?:\(.*\))?:)?\w+>")
BRANCH_REST = "__rest__"
"""The variable Klein gives the rest of the path, past a branch route's own."""


class UndeclaredRouteError(TypeError):
    """
    A route declares no permission.
    """


@frozen
class Route:
    """
    A route, as the paths it answers are sent.

    @ivar rule: its Klein rule, after those of the branches it is below, for
        messages.
    @ivar segments: each segment of its paths: the text sent, or L{None}
        for a segment of any text (a variable's).
    @ivar rest: whether a path of any further segments ends it (a C{path}
        variable's).
    @ivar slash_optional: whether its last, empty segment may be left out.
    @ivar methods: the methods it answers; L{None} for any.
    @ivar camera: the index in L{segments} of the one naming its camera,
        for the route of a camera below a branch of camera routes.
    """

    rule: str
    segments: tuple[str | None, ...]
    rest: bool
    slash_optional: bool
    methods: frozenset[str] | None
    declaration: Declaration
    camera: int | None = None

    @property
    def permission(self) -> Permission:
        """
        Who may use the route.
        """
        return self.declaration.permission

    def matches(self, sent: Sequence[bytes]) -> bool:
        """
        Whether the segments C{sent} of a path (as sent) are of this route.
        """
        fixed = self.segments
        if self.rest:
            if len(sent) <= len(fixed) or not sent[len(fixed)]:
                return False
            sent = sent[: len(fixed)]
        elif self.slash_optional and len(sent) == len(fixed) - 1:
            fixed = fixed[:-1]
        if len(sent) != len(fixed):
            return False
        return all(
            bool(each) if text is None else each == text.encode("utf-8")
            for text, each in zip(fixed, sent, strict=True)
        )


@frozen
class Found:
    """
    The route of a request's path, and the path's segments as sent.
    """

    route: Route
    sent: tuple[bytes, ...]

    def camera(self, first: str | None) -> str | None:
        """
        The camera of a L{Permission.CAMERA} route: the one its path names,
        or C{first} for a route that names none; L{None} for a name that is
        not UTF-8 once decoded, which no camera has.
        """
        index = self.route.camera
        if index is None:
            return first
        try:
            return unquote_to_bytes(self.sent[index]).decode("utf-8")
        except UnicodeDecodeError:
            return None


class RouteTable:
    """
    The routes of a Klein app, each with its declaration.
    """

    def __init__(self, app: Klein) -> None:
        """
        @raise UndeclaredRouteError: if a route of C{app} (or of the camera
            routes of one of its branches) declares no permission.
        @raise ValueError: for a route whose paths the table cannot match as
            sent: a variable in part of a segment, or of a converter other
            than the default and C{path}.
        """
        routes = list(_routes(app, "", (), None))
        routes.sort(key=_precedence)
        self.routes: tuple[Route, ...] = tuple(routes)

    def find(self, path: bytes, method: bytes) -> Found | None:
        """
        The route of a request of C{path} (as sent, without its query) with
        C{method}; L{None} for a path no route answers. Of the most literal
        routes of the path, one that answers C{method}, or else the first,
        which answers the request C{405}.
        """
        if not path.startswith(b"/"):
            return None
        sent = tuple(path[1:].split(b"/"))
        found = [route for route in self.routes if route.matches(sent)]
        if not found:
            return None
        asked = method.decode("latin-1")
        first = _precedence(found[0])
        for route in found:
            if _precedence(route) != first:
                break
            if route.methods is None or asked in route.methods:
                return Found(route, sent)
        return Found(found[0], sent)


def _routes(
    app: Klein, below: str, prefix: tuple[str | None, ...], camera: int | None
) -> Iterator[Route]:
    """
    The routes of C{app} served below the rule C{below}, of the segments
    C{prefix}, whose camera is named by the segment at C{camera}, if given.
    """
    for rule in app.url_map.iter_rules():
        name = below + rule.rule
        declaration = declaration_of(app.endpoints[rule.endpoint])
        if declaration is None:
            raise UndeclaredRouteError(
                f"route {name} ({rule.endpoint}) declares no permission:"
                " add @allow(...) under its @route"
            )
        segments, rest = _pattern(rule, name)
        full = prefix + segments
        cameras = declaration.camera_routes
        if cameras is not None and BRANCH_REST in rule.arguments:
            base = name.removesuffix(f"<path:{BRANCH_REST}>") + "<camera>"
            yield from _routes(cameras, base, (*full, None), len(full))
        yield Route(
            rule=name,
            segments=full,
            rest=rest,
            slash_optional=rule.strict_slashes is False and full[-1:] == ("",),
            methods=None if rule.methods is None else frozenset(rule.methods),
            declaration=declaration,
            camera=camera,
        )


def _pattern(rule: Rule, name: str) -> tuple[tuple[str | None, ...], bool]:
    """
    The segments of C{rule}'s paths, and whether a rest of the path ends
    them.

    @param name: the rule, for messages, with what it is served below.
    """
    segments: list[str | None] = []
    rest = False
    for segment in rule.rule.removeprefix("/").split("/"):
        if rest:
            raise ValueError(f"route {name}: its path variable is not its last")
        variable = _VARIABLE.fullmatch(segment)
        if variable is None and "<" not in segment:
            segments.append(segment)
        elif variable is not None and variable["converter"] in (None, "string"):
            segments.append(None)
        elif variable is not None and variable["converter"] == "path":
            rest = True
        else:
            raise ValueError(f"route {name}: its paths cannot be matched as sent")
    return tuple(segments), rest


def _precedence(route: Route) -> tuple[bool, int]:
    """
    The more literal a route, the likelier it is what a path asks for: the
    routes of the cameras below a branch come before the branch's own rest
    of the path, whatever the method, as the branch hands each path to them.
    """
    return route.rest, -sum(segment is not None for segment in route.segments)
