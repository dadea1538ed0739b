# -*- test-case-name: tests.test_permissions,tests.test_server_app -*-
"""
One Klein app made of the routes of several: a server app serves the
routes of its parts (the pages, the API, the stream of several cameras) as
its own, each by the part's object.

A part is not mounted with a C{branch=True} route: the pages are at the
root beside the server's own routes, where a branch would take every path
no other route answers, and a path a route answers with other methods
would be a C{404} instead of a C{405}. With every route in one map, each
path is answered as it would be were every route the app's own, and the
app's error handlers answer its errors.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from camserve.web._permissions import declaration_of, declare_as
from camserve.web._route_table import BRANCH_REST

if TYPE_CHECKING:
    from collections.abc import Callable

    from klein import Klein, KleinRenderable
    from twisted.web.iweb import IRequest


def include(app: Klein, routes: Klein, part: Callable[[Any], Klein]) -> None:
    """
    Serve the routes of C{routes}, another class's Klein app, from C{app}
    too, at the same paths, each with what it declares.

    @param part: the app C{routes} of the object that serves them, bound to
        it, by the instance of C{app}'s class the request is served by.
    @raise ValueError: for a branch route (C{branch=True}) of C{routes}, or
        a route whose name C{app} already has.
    """
    for rule in routes.url_map.iter_rules():
        if BRANCH_REST in rule.arguments or rule.endpoint in app.endpoints:
            raise ValueError(f"cannot include route {rule.rule} ({rule.endpoint})")
        app.route(
            rule.rule,
            methods=None if rule.methods is None else sorted(rule.methods),
            endpoint=rule.endpoint,
            strict_slashes=rule.strict_slashes,
        )(_serving(routes, rule.endpoint, part))


def _serving(
    routes: Klein, endpoint: str, part: Callable[[Any], Klein]
) -> Callable[..., KleinRenderable]:
    """
    The function serving route C{endpoint} of C{routes} by its part.
    """

    def serve(instance: object, request: IRequest, **arguments: Any) -> Any:
        return part(instance).execute_endpoint(endpoint, request, **arguments)

    declaration = declaration_of(routes.endpoints[endpoint])
    if declaration is not None:
        declare_as(serve, declaration)
    return serve
