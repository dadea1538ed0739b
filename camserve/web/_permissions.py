# -*- test-case-name: tests.test_permissions -*-
"""
Who may use each route, declared beside it: L{allow} under each Klein
C{route}. The login in front of the routes reads the declarations (see
L{camserve.web._route_table}) to know which paths an API token opens and
which answers tell someone more than everyone; an admin's route checks its
user itself.
"""

from __future__ import annotations

from enum import Enum
from functools import wraps
from typing import (
    TYPE_CHECKING,
    Any,
    Concatenate,
    Literal,
    ParamSpec,
    Protocol,
    TypeVar,
    overload,
)

from attrs import frozen
from werkzeug.exceptions import Forbidden

if TYPE_CHECKING:
    from collections.abc import Callable

    from klein import Klein

    from camserve.web._user import User


class Permission(Enum):
    """
    Who may use a route, when the server asks for logins. Without logins
    everyone may use every route but an admin's, and the login in front
    lets anyone use the paths C{[auth] public} lists.
    """

    USER = "user"
    """
    Anyone logged in. The login in front asks everyone else for one; an API
    token does not open the route.
    """

    CAMERA = "camera"
    """
    Anyone logged in who sees the route's camera, and the bearer of an API
    token for that camera. The route's camera is the one a branch of camera
    routes (L{Declaration.camera_routes}) names in the path; a server app's
    own camera route, which names none, is the first camera's. The app
    finds only the cameras its user sees, so any other is answered C{404}
    as a camera that does not exist.
    """

    ADMIN = "admin"
    """
    A logged-in admin. The route answers anyone else C{403} (raising
    L{Forbidden}), even without logins, where nobody is an admin.
    """


@frozen
class Declaration:
    """
    What a route declares of who may use it.

    @ivar says_less_in_public: whether the route tells those who did not log
        in (where C{[auth] public} lets them in) less than it tells a user,
        so that such a request with a login, or with a token where a token
        opens the route, is served as its user.
    @ivar camera_routes: for a branch (C{branch=True}), the routes of each
        camera it serves below it, under the camera's name: one path segment
        as sent. Each has its own declaration.
    """

    permission: Permission
    says_less_in_public: bool = False
    camera_routes: Klein | None = None


class Served(Protocol):
    """
    An app whose routes know who they serve, as an admin's route must.
    """

    @property
    def user(self) -> User | None:
        """
        Who logged in; L{None} without logins.
        """


_S = TypeVar("_S", bound=Served)
_P = ParamSpec("_P")
_R = TypeVar("_R")
_F = TypeVar("_F", bound="Callable[..., Any]")
_ATTRIBUTE = "camserve_declaration"


@overload
def allow(
    permission: Literal[Permission.ADMIN], *, action: str
) -> Callable[
    [Callable[Concatenate[_S, _P], _R]], Callable[Concatenate[_S, _P], _R]
]: ...


@overload
def allow(
    permission: Literal[Permission.USER, Permission.CAMERA],
    *,
    says_less_in_public: bool = False,
    camera_routes: Klein | None = None,
) -> Callable[[_F], _F]: ...


def allow(
    permission: Permission,
    *,
    action: str = "",
    says_less_in_public: bool = False,
    camera_routes: Klein | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """
    Declare who may use the route decorated, under its C{@app.route} (so
    that what Klein calls is what is declared)::

        @app.route("/api/reload", methods=["POST"])
        @allow(Permission.ADMIN, action="reload")
        def reload(self, request): ...

    @param action: what an admin's route does, for its refusal: C{"only an
        admin may <action>"}.
    @param says_less_in_public: see L{Declaration.says_less_in_public}.
    @param camera_routes: see L{Declaration.camera_routes}.
    """
    declaration = Declaration(permission, says_less_in_public, camera_routes)

    def declare(route: Callable[..., Any]) -> Callable[..., Any]:
        if permission is Permission.ADMIN:
            route = _admins_only(route, f"only an admin may {action}")
        declare_as(route, declaration)
        return route

    return declare


def _admins_only(route: Callable[..., Any], refusal: str) -> Callable[..., Any]:
    @wraps(route)
    def checked(app: Served, *args: Any, **kwargs: Any) -> Any:
        user = app.user
        if user is None or not user.may("admin"):
            raise Forbidden(refusal)
        return route(app, *args, **kwargs)

    return checked


def declare_as(route: Callable[..., Any], declaration: Declaration) -> None:
    """
    Declare C{declaration} of C{route}, a function that serves the route of
    another that is declared so.
    """
    setattr(route, _ATTRIBUTE, declaration)


def declaration_of(route: Callable[..., Any]) -> Declaration | None:
    """
    What C{route} (a route's function, or what Klein calls for it)
    declares; L{None} if it declares nothing.
    """
    declaration = getattr(route, _ATTRIBUTE, None)
    return declaration if isinstance(declaration, Declaration) else None
