# -*- test-case-name: tests.test_login,tests.test_auth -*-
"""
The login in front of a service's routes: public paths for everyone,
requests with an API token by the token, the browser's Basic login for the
rest; its users replaced on a reload, which ends the streams of each user
whose access changed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast
from weakref import WeakSet

from twisted.cred.portal import IRealm, Portal
from twisted.internet.threads import deferToThreadPool
from twisted.logger import Logger
from twisted.web.guard import HTTPAuthSessionWrapper
from twisted.web.resource import IResource, Resource, getChildForRequest
from twisted.web.server import NOT_DONE_YET
from twisted.web.util import DeferredResource
from zope.interface import implementer

from camserve.access._auth import BcryptChecker, PeerBasicCredentialFactory
from camserve.access._token_door import TokenDoor
from camserve.access._tokens import Tokens, new_key, opens_to_tokens
from camserve.web._server_app import SERVER_ROUTES, ServerApp
from camserve.web._token_argument import token_of

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

    from twisted.internet.defer import Deferred
    from twisted.python.failure import Failure
    from twisted.web.iweb import IRequest
    from twisted.web.server import Request

    from camserve.access._auth import Accounts, LoginThrottle
    from camserve.camera._service import CameraService
    from camserve.web._collaborators import Reload
    from camserve.web._user import User


class LoginResource(Resource):
    """
    Serves a L{CameraService} as L{camserve.service_resource} does, to the
    users of an L{Accounts} who log in with the browser's Basic login: each
    sees only their cameras, the others answering C{404} as unknown cameras
    do.
    The public paths are served to everyone, without a login, as if there
    were no C{[auth]}; but health, which names cameras and their sources,
    says only how many cameras there are and have failed (and a camera's
    own, its state). A request of C{/healthz} with a Basic login, or of a
    camera's health with a token, is served as its user's instead.

    A request of a camera's page, stream, snapshot or health (or of
    C{/video_feed} and C{/snapshot.jpg}, for the first camera) with a
    C{token} query argument is served by the token alone: a valid token of
    that camera serves it as its user would see it, until the token
    expires (a stream then ends), any other is answered C{401}. Logged-in
    users mint tokens with C{POST /api/tokens}.

    @ivar reload: what C{POST /api/reload} calls, for an admin; L{None}
        (the default) to answer it C{409}, as for a server that was not
        started from a config file.
    """

    _log = Logger()

    def __init__(
        self,
        service: CameraService,
        reactor: Any,
        accounts: Accounts,
        *,
        throttle: LoginThrottle | None = None,
        tokens: Tokens | None = None,
    ) -> None:
        """
        @param reactor: for viewers' timers, and whose thread pool checks
            passwords.
        @param tokens: mints and checks API tokens; by default, with the
            accounts' token key (a random one if they have none).
        """
        super().__init__()
        self._service = service
        self._reactor = reactor
        self.reload: Reload | None = None
        self._checker = BcryptChecker(
            accounts,
            reactor,
            lambda check: deferToThreadPool(reactor, reactor.getThreadPool(), check),
            throttle,
        )
        self._accounts = accounts
        users = _users(accounts)
        if tokens is None:
            key = new_key() if accounts.token_key is None else accounts.token_key
            tokens = Tokens(key, users, reactor)
        self._tokens = tokens
        # The requests in progress of each user, by name (by token under
        # "?name"), which a change to the user ends.
        self._served: dict[str, WeakSet[IRequest]] = {}
        self._realm = _Realm(users, self._user_resource)
        self._guard = HTTPAuthSessionWrapper(
            Portal(self._realm, [self._checker]),
            [PeerBasicCredentialFactory(b"camserve")],
        )
        self._door = TokenDoor(service, reactor, tokens, self._tracked)
        self._public = ServerApp(service, reactor, anonymous=True).app.resource()
        self._paths = _paths(accounts.public)

    def update(self, accounts: Accounts) -> list[str]:
        """
        Take the users of C{accounts} from the next request on. The streams
        of each user who is gone or whose password, role or cameras changed
        are ended (their own and those of their tokens), so that they log in
        again as what they are now; a new token key ends every token's.

        @return: the names of the users changed, added and removed.
        """
        before = self._accounts
        changed = sorted(
            name
            for name in before.users.keys() | accounts.users.keys()
            if before.users.get(name) != accounts.users.get(name)
        )
        new_key = accounts.token_key is not None and (
            accounts.token_key != before.token_key
        )
        self._accounts = accounts
        users = _users(accounts)
        self._checker.update(accounts)
        self._realm.update(users, changed)
        self._tokens.update(users, accounts.token_key)
        self._door.forget(None if new_key else changed)
        self._paths = _paths(accounts.public)
        ended = self._end(changed, every_token=new_key)
        if changed or new_key:
            self._log.info(
                "camserve: logins changed for {users}{key}; {ended} of their"
                " streams ended",
                users=", ".join(changed) or "nobody",
                key=" and the token key" if new_key else "",
                ended=ended,
            )
        return changed

    def _end(self, names: list[str], *, every_token: bool) -> int:
        """
        End the streams in progress of the users C{names}, and those served
        by any token if C{every_token}; how many.
        """
        keys = {*names, *(f"?{name}" for name in names)}
        if every_token:
            keys |= {key for key in self._served if key.startswith("?")}
        ended = 0
        for key in keys:
            for request in list(self._served.pop(key, ())):
                # A stream is the request with a producer: the request that
                # asked for the reload, say, is left to finish.
                if not request.finished and request.producer is not None:  # type: ignore[attr-defined]  # twisted.web.server.Request's
                    request.loseConnection()  # type: ignore[attr-defined]  # twisted.web.server.Request's
                    ended += 1
        return ended

    def _tracked(self, key: str, resource: IResource) -> IResource:
        return _Tracked(resource, self._served.setdefault(key, WeakSet()))

    def _user_resource(self, user: User) -> IResource:
        app = ServerApp(
            self._service,
            self._reactor,
            user=user,
            tokens=self._tokens,
            reload=self._reload,
        )
        return self._tracked(user.name, app.app.resource())

    def _reload(self) -> Deferred[Any] | None:
        return None if self.reload is None else self.reload()

    def getChildWithDefault(self, path: bytes, request: IRequest) -> IResource:
        """
        The resource that serves C{request}, which is at the root.
        """
        sent = request.path or b""
        if _public(sent, self._paths) and not _as_someone(request, sent):
            # Served as if mounted at the root, as the guard does.
            request.postpath.insert(0, request.prepath.pop())
            return self._public
        by_token = self._door.resource(request)
        if by_token is not None:
            request.postpath.insert(0, request.prepath.pop())
            return by_token
        child: IResource = self._guard.getChildWithDefault(path, request)
        if isinstance(child, DeferredResource):
            return _LoggingIn(child.d)
        return child

    def render(self, request: IRequest) -> bytes:
        """
        Never called: a request's path has at least one segment.
        """
        answer: bytes = self._guard.render(request)
        return answer


def _users(accounts: Accounts) -> dict[str, User]:
    return {name: account.user for name, account in accounts.users.items()}


def _paths(public: Iterable[str]) -> tuple[bytes, ...]:
    return tuple(path.encode("utf-8") for path in public)


class _Tracked(Resource):
    """
    A leaf resource served as it is, each request it serves kept in
    C{served} while it lasts.
    """

    isLeaf = True

    def __init__(self, resource: IResource, served: WeakSet[IRequest]) -> None:
        super().__init__()
        self._resource = resource
        self._served = served

    def render(self, request: IRequest) -> Any:
        """
        Serve C{request} as the resource does.
        """
        self._served.add(request)
        return self._resource.render(request)


class _LoggingIn(Resource):
    """
    Serves a request with the resource its login gives, once checked; or
    not at all if its client has left meanwhile, as one may while a failed
    login waits out the L{LoginThrottle}'s delay.
    """

    isLeaf = True
    _log = Logger()

    def __init__(self, login: Deferred[IResource]) -> None:
        """
        @param login: fires with the resource for the request: the user's,
            or one that refuses the login.
        """
        super().__init__()
        self._login = login

    def render(self, request: IRequest) -> object:
        """
        Serve C{request} once its login is checked.
        """
        served = cast("Request", request)
        gone: list[Failure] = []
        served.notifyFinish().addErrback(gone.append)

        def checked(resource: IResource) -> None:
            if not gone:
                served.render(getChildForRequest(resource, served))

        def failed(reason: Failure) -> None:
            if gone:
                self._log.failure("camserve: serving a login failed", reason)
            else:
                served.processingFailed(reason)

        self._login.addCallback(checked).addErrback(failed)
        return NOT_DONE_YET


@implementer(IRealm)
class _Realm:
    """
    Gives each user the resource C{make} makes for them, made once per
    version of the user.
    """

    def __init__(
        self, users: Mapping[str, User], make: Callable[[User], IResource]
    ) -> None:
        self._users = users
        self._make = make
        self._resources: dict[str, IResource] = {}

    def update(self, users: Mapping[str, User], changed: Iterable[str]) -> None:
        """
        Serve C{users} from now on, making the resources of those
        C{changed} again.
        """
        self._users = users
        for name in changed:
            self._resources.pop(name, None)

    def requestAvatar(
        self,
        avatarId: bytes | tuple[()],
        mind: object,  # noqa: ARG002 - the login's client, which HTTP has none of
        *interfaces: Any,
    ) -> tuple[Any, IResource, Callable[[], None]]:
        """
        The resource of user C{avatarId}, whom the checker let in.
        """
        if IResource not in interfaces or not isinstance(avatarId, bytes):
            raise NotImplementedError("camserve's users are web resources")
        name = avatarId.decode("utf-8")
        resource = self._resources.get(name)
        if resource is None:
            resource = self._resources[name] = self._make(self._users[name])
        return IResource, resource, lambda: None


def _as_someone(request: IRequest, path: bytes) -> bool:
    """
    Whether C{request} of C{path} (as sent) asks as someone, who may be told
    more than everyone: of a route that says less in public (health), with
    a login, or with a token where a token opens the route.
    """
    found = SERVER_ROUTES.find(path, request.method)
    if found is None or not found.route.declaration.says_less_in_public:
        return False
    if request.getHeader(b"authorization") is not None:
        return True
    return token_of(request) is not None and opens_to_tokens(found.route)


def _public(path: bytes, paths: tuple[bytes, ...]) -> bool:
    """
    Whether C{path} as sent is one of C{paths}, or below one ending in
    C{/}; a path that is escaped or has dot segments is below none.
    """
    if path in paths:
        return True
    if b"%" in path or any(part in (b".", b"..") for part in path.split(b"/")):
        return False
    return any(each.endswith(b"/") and path.startswith(each) for each in paths)
