# -*- test-case-name: tests.test_auth -*-
"""
Logins: the users of an htpasswd file of bcrypt hashes, each with a role
and the cameras they may see, asked for with the browser's Basic login on
every path but the public ones.

The pieces are twisted.cred's: a L{Portal} over a L{BcryptChecker} (an
C{ICredentialsChecker}) and a realm whose avatar for each user is a
L{ServerApp} built for that L{User}, seeing only the user's cameras; and
twisted.web's L{HTTPAuthSessionWrapper} asking for the login.

Only Basic is offered: Digest needs the server to know the password (or an
MD5 of it), which a bcrypt hash cannot give, so a Digest login could never
be checked. Basic sends the password as it is: serve over TLS (an C{ssl:}
endpoint) anywhere but a trusted network.
"""

from __future__ import annotations

import re
import secrets
from functools import partial
from math import inf
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import bcrypt
from attrs import field, frozen
from twisted.cred.checkers import ICredentialsChecker
from twisted.cred.credentials import IUsernamePassword, UsernamePassword
from twisted.cred.error import UnauthorizedLogin
from twisted.cred.portal import IRealm, Portal
from twisted.internet.task import deferLater
from twisted.internet.threads import deferToThreadPool
from twisted.logger import Logger
from twisted.web.guard import BasicCredentialFactory, HTTPAuthSessionWrapper
from twisted.web.resource import IResource, Resource
from zope.interface import implementer

from ._config import ConfigError, _read_only
from ._server_app import ServerApp, service_resource
from ._tokens import KEY_SIZE, Tokens, new_key, token_camera, token_of
from ._web import _plain

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

    from twisted.internet.defer import Deferred
    from twisted.internet.interfaces import IReactorTime
    from twisted.web.iweb import IRequest

    from ._config_file import AuthSettings
    from ._service import CameraService

_BCRYPT = re.compile(r"\$2[aby]\$(?P<cost>\d\d)\$[./A-Za-z0-9]{53}")
"""A bcrypt hash as C{htpasswd -B} writes it (C{$2y$}), or another bcrypt
library (C{$2a$}, C{$2b$}); the C{bcrypt} package checks all three alike."""
_PASSWORD_LIMIT = 72
"""bcrypt reads this many bytes of a password; Apache's C{htpasswd -B} hashes
these of a longer one, and the C{bcrypt} package refuses more."""
_ROLE_RANK = {"viewer": 0, "admin": 1}


@frozen
class User:
    """
    Who logged in: the avatar routes are served for, so that they never
    look the user up again.

    @ivar role: C{"viewer"} or C{"admin"}.
    @ivar cameras: the names of the only cameras the user sees; L{None} for
        every camera.
    """

    name: str
    role: str
    cameras: frozenset[str] | None = None

    def sees(self, camera: str) -> bool:
        """
        Whether the user may see camera C{camera}; the others are, for them,
        cameras that do not exist.
        """
        return self.cameras is None or camera in self.cameras

    def may(self, role: str) -> bool:
        """
        Whether the user's role allows what C{role} may do: an admin may do
        everything a viewer may. A route for C{role} answers C{403} to a
        user who may not.
        """
        return _ROLE_RANK[self.role] >= _ROLE_RANK[role]


@frozen
class Account:
    """
    A user of the htpasswd file, with the bcrypt hash of their password.
    """

    user: User
    hashed: bytes = field(repr=False)


@frozen
class Accounts:
    """
    Everyone who may log in, by name, and the paths served without a login.
    """

    users: Mapping[str, Account] = field(converter=_read_only)
    public: tuple[str, ...] = ("/healthz",)
    token_key: bytes | None = field(default=None, repr=False)
    """The key API tokens are signed with; L{None} for a random one."""


def read_accounts(source: str, auth: AuthSettings) -> Accounts:
    """
    The accounts of C{auth}: its users with their hashes from its htpasswd
    file.

    @param source: the config file, named in messages.
    @raise ConfigError: in one line naming C{source}, for an htpasswd file
        that cannot be read, a line of it that is not C{user:bcrypt-hash},
        a user of it with no C{[auth.users.<name>]} table, or a table with
        no user in it.
    """
    path = auth.htpasswd
    where = f"{source}: [auth] htpasswd {path}"
    try:
        text = Path(path).read_bytes().decode("utf-8")
    except OSError as error:
        raise ConfigError(
            f"{where}: cannot read it: {error.strerror or error}"
        ) from None
    except UnicodeDecodeError:
        raise ConfigError(f"{where}: not UTF-8 text") from None
    hashes = _hashes(where, text)
    for name in hashes:
        if name not in auth.users:
            raise ConfigError(
                f"{where}: user {name!r} has no [auth.users.{name}] table, so no "
                "role: add one, or remove the user from the file"
            )
    for name in auth.users:
        if name not in hashes:
            raise ConfigError(
                f"{source}: [auth.users.{name}]: user {name!r} is not in {path}"
            )
    return Accounts(
        {
            name: Account(User(name, settings.role, settings.cameras), hashes[name])
            for name, settings in auth.users.items()
        },
        auth.public,
        None if auth.token_secret_file is None else _token_key(source, auth),
    )


def _token_key(source: str, auth: AuthSettings) -> bytes:
    """
    The bytes of C{auth}'s token secret file.
    """
    path = auth.token_secret_file
    where = f"{source}: [auth] token_secret_file {path}"
    try:
        key = Path(str(path)).read_bytes()
    except OSError as error:
        raise ConfigError(
            f"{where}: cannot read it: {error.strerror or error}"
        ) from None
    if len(key) < KEY_SIZE:
        raise ConfigError(
            f"{where}: holds {len(key)} bytes, fewer than {KEY_SIZE}: make it "
            f"with head -c {KEY_SIZE} /dev/urandom"
        )
    return key


def _hashes(where: str, text: str) -> dict[str, bytes]:
    """
    The bcrypt hash of each user of an htpasswd file's C{text}.

    @param where: the file, as messages name it.
    """
    hashes: dict[str, bytes] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, colon, hashed = line.strip().partition(":")
        if not colon or not name:
            raise ConfigError(f"{where}: line {number} is not user:hash")
        if not _BCRYPT.fullmatch(hashed):
            raise ConfigError(
                f"{where}: line {number}: user {name!r} has no bcrypt hash "
                "(make it with htpasswd -B)"
            )
        if name in hashes:
            raise ConfigError(f"{where}: line {number}: user {name!r} again")
        hashes[name] = hashed.encode("ascii")
    return hashes


class LoginThrottle:
    """
    Slows failed logins from each address: the first failure is answered
    after C{first} seconds, each next one after twice as long as the one
    before, up to C{longest}. A login that succeeds, or C{quiet} seconds
    without a failure, starts an address again from C{first}. Failures are
    counted alike whether their user exists or not.
    """

    def __init__(
        self,
        clock: IReactorTime,
        *,
        first: float = 0.5,
        longest: float = 8.0,
        quiet: float = 60.0,
        remembered: int = 10_000,
    ) -> None:
        """
        @param remembered: how many addresses to keep at most: beyond it,
            those quiet for C{quiet} seconds are forgotten, then the oldest.
        """
        self._clock = clock
        self._first = first
        self._longest = longest
        self._quiet = quiet
        self._remembered = remembered
        self._failures: dict[str, tuple[float, float]] = {}

    def failed(self, peer: str) -> float:
        """
        Count a failed login from C{peer}; how many seconds to wait before
        answering it.
        """
        now = self._clock.seconds()
        last_delay, last_time = self._failures.pop(peer, (0.0, -inf))
        if now - last_time > self._quiet:
            last_delay = 0.0
        delay = min(last_delay * 2, self._longest) if last_delay else self._first
        self._failures[peer] = (delay, now)
        if len(self._failures) > self._remembered:
            self._forget(now)
        return delay

    def succeeded(self, peer: str) -> None:
        """
        Forget C{peer}'s failures: it logged in.
        """
        self._failures.pop(peer, None)

    def _forget(self, now: float) -> None:
        for peer, (_, last) in list(self._failures.items()):
            if now - last > self._quiet:
                del self._failures[peer]
        while len(self._failures) > self._remembered:
            # Insertion order is the order of the latest failures.
            del self._failures[next(iter(self._failures))]


class PeerCredentials(UsernamePassword):
    """
    A user name and password, and the address they came from, which the
    checker logs and slows failures by.
    """

    def __init__(self, username: bytes, password: bytes, peer: str) -> None:
        super().__init__(username, password)
        self.peer = peer


class _PeerBasicCredentialFactory(BasicCredentialFactory):
    """
    The Basic login, giving L{PeerCredentials}.
    """

    def decode(self, response: bytes, request: IRequest) -> PeerCredentials:
        """
        The credentials of a C{Basic} C{Authorization} header's C{response}.
        """
        credentials = super().decode(response, request)
        return PeerCredentials(
            credentials.username, credentials.password, _peer(request)
        )


def _peer(request: IRequest) -> str:
    address = request.getClientAddress()
    return str(getattr(address, "host", address))


@implementer(IRealm)
class _Realm:
    """
    Gives each user the resource C{make} makes for them, made once.
    """

    def __init__(
        self, users: Mapping[str, User], make: Callable[[User], IResource]
    ) -> None:
        self._users = users
        self._make = make
        self._resources: dict[str, IResource] = {}

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


@implementer(ICredentialsChecker)
class BcryptChecker:
    """
    Checks a user name and password against the bcrypt hashes of
    L{Accounts}, in a thread, since a hash takes a noticeable time (about
    0.25 s at cost 12) that the reactor must not wait for.

    An unknown user's password is checked against a hash of a random
    password made with the accounts' highest cost, so that a failure takes
    as long for them as for a user who exists. Failures are logged with
    the address they came from and the user name asked for (never the
    password), and answered after L{LoginThrottle}'s delay.
    """

    credentialInterfaces = (IUsernamePassword,)
    _log = Logger()

    def __init__(
        self,
        accounts: Accounts,
        clock: IReactorTime,
        run: Callable[[Callable[[], bool]], Deferred[bool]],
        throttle: LoginThrottle | None = None,
    ) -> None:
        """
        @param run: runs its argument in a thread, for its result.
        """
        self._hashes = {name: each.hashed for name, each in accounts.users.items()}
        self._clock = clock
        self._run = run
        self._throttle = LoginThrottle(clock) if throttle is None else throttle
        cost = max((int(_cost(hashed)) for hashed in self._hashes.values()), default=12)
        random = secrets.token_urlsafe(16).encode("ascii")
        self._dummy = bcrypt.hashpw(random, bcrypt.gensalt(cost))

    def requestAvatarId(
        self, credentials: IUsernamePassword
    ) -> Deferred[bytes | tuple[()]]:
        """
        The user name of C{credentials}, in UTF-8, if their password is
        right; else fail with L{UnauthorizedLogin}, after a delay.
        """
        name = credentials.username.decode("utf-8", "replace")
        peer = str(getattr(credentials, "peer", "an unknown address"))
        hashed = self._hashes.get(name)
        password = credentials.password[:_PASSWORD_LIMIT]
        checking = self._run(
            partial(bcrypt.checkpw, password, self._dummy if hashed is None else hashed)
        )

        def checked(right: bool) -> bytes | Deferred[bytes | tuple[()]]:
            if right and hashed is not None:
                self._throttle.succeeded(peer)
                return name.encode("utf-8")
            self._log.warn(
                "camserve: failed login as {user!r} from {peer}", user=name, peer=peer
            )
            return deferLater(self._clock, self._throttle.failed(peer), _refuse)

        return checking.addCallback(checked)


def _cost(hashed: bytes) -> str:
    match = _BCRYPT.fullmatch(hashed.decode("ascii"))
    return match["cost"] if match else "12"


def _refuse() -> NoReturn:
    raise UnauthorizedLogin


def login_resource(
    service: CameraService,
    reactor: Any,
    accounts: Accounts,
    *,
    throttle: LoginThrottle | None = None,
    tokens: Tokens | None = None,
) -> IResource:
    """
    A resource serving C{service} as L{service_resource} does, to users of
    C{accounts} who log in with the browser's Basic login: each sees only
    their cameras, the others answering C{404} as unknown cameras do. The
    public paths are served to everyone, without a login, as if there were
    no C{[auth]}.

    A request of a camera's page, stream, snapshot or health (or of
    C{/video_feed} and C{/snapshot.jpg}, for the first camera) with a
    C{token} query argument is served by the token alone: a valid token of
    that camera serves it as its user would see it, any other is answered
    C{401}. Logged-in users mint tokens with C{POST /api/tokens}.

    @param reactor: for viewers' timers, and whose thread pool checks
        passwords.
    @param tokens: mints and checks API tokens; by default, with the
        accounts' token key (a random one if they have none) and users.
    """
    checker = BcryptChecker(
        accounts,
        reactor,
        lambda check: deferToThreadPool(reactor, reactor.getThreadPool(), check),
        throttle,
    )
    users = {name: account.user for name, account in accounts.users.items()}
    if tokens is None:
        key = new_key() if accounts.token_key is None else accounts.token_key
        tokens = Tokens(key, users, reactor)
    minting = tokens
    realm = _Realm(
        users,
        lambda user: ServerApp(
            service, reactor, user=user, tokens=minting
        ).app.resource(),
    )
    guard = HTTPAuthSessionWrapper(
        Portal(realm, [checker]), [_PeerBasicCredentialFactory(b"camserve")]
    )
    return _PublicOrLogin(
        accounts.public,
        service_resource(service, reactor),
        guard,
        _TokenDoor(service, reactor, tokens),
    )


class _TokenDoor:
    """
    Serves the requests that carry an API token, by the token alone.
    """

    def __init__(
        self, service: CameraService, clock: IReactorTime, tokens: Tokens
    ) -> None:
        self._service = service
        self._clock = clock
        self._tokens = tokens
        self._resources: dict[tuple[str, str], IResource] = {}

    def resource(self, request: IRequest) -> IResource | None:
        """
        The resource serving C{request} by its token; L{None} if it has no
        token or is not of a path a token is for, so that it needs a login.
        """
        token = token_of(request)
        if token is None:
            return None
        first = next(iter(self._service.hubs), None)
        camera = token_camera(request.path or b"", first)
        if camera is None:
            return None
        user = self._tokens.user_of(token, camera)
        if user is None:
            return _Unauthorized()
        resource = self._resources.get((user.name, camera))
        if resource is None:
            # Seeing only the token's camera, which /video_feed and
            # /snapshot.jpg then serve, as the first camera.
            only = User(user.name, "viewer", frozenset({camera}))
            resource = ServerApp(self._service, self._clock, user=only).app.resource()
            self._resources[user.name, camera] = resource
        return resource


class _Unauthorized(Resource):
    """
    The answer to a request whose token is not valid, saying nothing of why.
    """

    isLeaf = True

    def render(self, request: IRequest) -> bytes:
        """
        Answer C{401}.
        """
        return _plain(request, 401, "unauthorized")


class _PublicOrLogin(Resource):
    """
    The public paths from C{public}; requests with an API token by the
    token; everything else from C{guarded}.
    """

    def __init__(
        self,
        paths: Iterable[str],
        public: IResource,
        guarded: IResource,
        door: _TokenDoor,
    ) -> None:
        super().__init__()
        self._paths = tuple(path.encode("utf-8") for path in paths)
        self._public = public
        self._guarded = guarded
        self._door = door

    def getChildWithDefault(self, path: bytes, request: IRequest) -> IResource:
        """
        The resource that serves C{request}, which is at the root.
        """
        if _public(request.path or b"", self._paths):
            # Served as if mounted at the root, as the guard does.
            request.postpath.insert(0, request.prepath.pop())
            return self._public
        by_token = self._door.resource(request)
        if by_token is not None:
            request.postpath.insert(0, request.prepath.pop())
            return by_token
        child: IResource = self._guarded.getChildWithDefault(path, request)
        return child

    def render(self, request: IRequest) -> bytes:
        """
        Never called: a request's path has at least one segment.
        """
        answer: bytes = self._guarded.render(request)
        return answer


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
