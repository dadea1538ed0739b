# -*- test-case-name: tests.test_auth -*-
"""
Logins: the users of an htpasswd file of bcrypt hashes, each with a role
and the cameras they may see, asked for with the browser's Basic login on
every path but the public ones.

Here are the accounts, read from the config, and the twisted.cred checker
of their passwords (L{BcryptChecker}); the resource that asks for the login
is L{camserve.access._login.LoginResource}.

Only Basic is offered: Digest needs the server to know the password (or an
MD5 of it), which a bcrypt hash cannot give, so a Digest login could never
be checked. Basic sends the password as it is: serve over TLS (an C{ssl:}
endpoint) anywhere but a trusted network.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from functools import partial
from math import inf
from typing import TYPE_CHECKING

import bcrypt
from attrs import field, frozen
from twisted.cred.checkers import ICredentialsChecker
from twisted.cred.credentials import IUsernamePassword, UsernamePassword
from twisted.cred.error import UnauthorizedLogin
from twisted.internet.defer import Deferred, DeferredLock, fail, succeed
from twisted.internet.task import deferLater
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.guard import BasicCredentialFactory
from zope.interface import implementer

from camserve._frozen import read_only

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from twisted.internet.interfaces import IReactorTime
    from twisted.web.iweb import IRequest

    from camserve.web._user import User


BCRYPT_HASH = re.compile(r"\$2[aby]\$(?P<cost>\d\d)\$[./A-Za-z0-9]{53}")
"""A bcrypt hash as C{htpasswd -B} writes it (C{$2y$}), or another bcrypt
library (C{$2a$}, C{$2b$}); the C{bcrypt} package checks all three alike."""
_PASSWORD_LIMIT = 72
"""bcrypt reads this many bytes of a password; Apache's C{htpasswd -B} hashes
these of a longer one, and the C{bcrypt} package refuses more."""


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

    users: Mapping[str, Account] = field(converter=read_only)
    public: tuple[str, ...] = ("/healthz",)
    token_key: bytes | None = field(default=None, repr=False)
    """The key API tokens are signed with; L{None} for a random one."""


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


class PeerBasicCredentialFactory(BasicCredentialFactory):
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


@implementer(ICredentialsChecker)
class BcryptChecker:
    """
    Checks a user name and password against the bcrypt hashes of
    L{Accounts}, in a thread, since a hash takes a noticeable time (about
    0.25 s at cost 12) that the reactor must not wait for.

    A browser sends its login with every request (the grid's, every few
    seconds): a password found right is remembered for C{remember} seconds
    from its latest use, as a hash under a key made at start, never as it
    is, so that those requests cost a bcrypt check only once in a while. A
    reload that leaves a user's hash as it was keeps their password
    remembered; the same login sent several times at once is checked once.

    An unknown user's password is checked against a hash of a random
    password made with the accounts' highest cost, so that a failure takes
    as long for them as for a user who exists. Failures are logged with
    the address they came from and the user name asked for (never the
    password), and answered after L{LoginThrottle}'s delay for their
    address. The checks of one user from one address (of every unknown user
    alike) are made one after the other, each once the one before has been
    answered (after its delay), so that guesses sent in parallel go no faster than one by one,
    while a flood of guesses at one user holds up no other user's login;
    beyond C{most_waiting} waiting, more are refused unchecked.
    """

    credentialInterfaces = (IUsernamePassword,)
    _log = Logger()

    def __init__(
        self,
        accounts: Accounts,
        clock: IReactorTime,
        run: Callable[[Callable[[], bool]], Deferred[bool]],
        throttle: LoginThrottle | None = None,
        *,
        remember: float = 300.0,
        most_waiting: int = 16,
    ) -> None:
        """
        @param run: runs its argument in a thread, for its result.
        """
        self._clock = clock
        self._run = run
        self._throttle = LoginThrottle(clock) if throttle is None else throttle
        self._remember = remember
        self._most_waiting = most_waiting
        self._key = secrets.token_bytes(32)
        self._right: dict[str, tuple[bytes, float]] = {}
        # One lock per line of logins (a user, from an address).
        self._lines: dict[tuple[str, str], DeferredLock] = {}
        self._checking: dict[bytes, list[Deferred[bool]]] = {}
        self._hashes: dict[str, bytes] = {}
        self._dummy = b""
        self.update(accounts)

    def update(self, accounts: Accounts) -> None:
        """
        Check the passwords of C{accounts} from now on. Passwords remembered
        stay so for the users whose hash is unchanged.
        """
        self._hashes = {name: each.hashed for name, each in accounts.users.items()}
        for name in self._right.keys() - self._hashes.keys():
            del self._right[name]
        cost = max((int(_cost(hashed)) for hashed in self._hashes.values()), default=12)
        if not self._dummy or _cost(self._dummy) != f"{cost:02d}":
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
        if hashed is not None and self._remembered(name, hashed, password):
            return succeed(name.encode("utf-8"))
        right = self._shared_check(name, password, hashed, peer)
        if right is None:
            self._log.warn(
                "camserve: too many logins at once from {peer}; refused unchecked",
                peer=peer,
            )
            return fail(UnauthorizedLogin())

        def answer(found: bool) -> bytes:
            if not found:
                raise UnauthorizedLogin
            return name.encode("utf-8")

        return right.addCallback(answer)

    def _shared_check(
        self, name: str, password: bytes, hashed: bytes | None, peer: str
    ) -> Deferred[bool] | None:
        """
        Whether C{password} is user C{name}'s, answered after a failure's
        delay: from the check of the same login already waiting or in
        progress, if there is one, else from a check of its own that waits
        its turn; L{None} if too many wait for their turn.
        """
        against = self._dummy if hashed is None else hashed
        digest = self._digest(name, against, password)
        answered: Deferred[bool] = Deferred()
        sharing = self._checking.get(digest)
        if sharing is not None:
            sharing.append(answered)
            return answered
        line = (peer, "" if hashed is None else name)
        turn = self._turn(line)
        if turn is None:
            return None
        self._checking[digest] = [answered]

        def check(_: object) -> Deferred[bool]:
            # One checked before this one may have found the same password.
            if hashed is not None and self._remembered(name, hashed, password):
                return succeed(True)
            return self._run(partial(bcrypt.checkpw, password, against))

        def paced(right: bool) -> Deferred[bool]:
            if right and hashed is not None:
                self._throttle.succeeded(peer)
                self._right[name] = (digest, self._clock.seconds() + self._remember)
                return succeed(True)
            self._log.warn(
                "camserve: failed login as {user!r} from {peer}", user=name, peer=peer
            )
            delay = self._throttle.failed(peer)
            return deferLater(self._clock, delay, lambda: False)

        def done(result: bool | Failure) -> None:
            self._next(line)
            for each in self._checking.pop(digest):
                if isinstance(result, Failure):
                    each.errback(result)
                else:
                    each.callback(result)

        turn.addCallback(check).addCallback(paced).addBoth(done)
        return answered

    def _turn(self, line: tuple[str, str]) -> Deferred[DeferredLock] | None:
        """
        Fires when a login of C{line} may be checked: at once if none is
        waiting or being checked; L{None} if too many are waiting.
        """
        lock = self._lines.get(line)
        if lock is None:
            lock = self._lines[line] = DeferredLock()
        elif len(lock.waiting) >= self._most_waiting:
            return None
        return lock.acquire()

    def _next(self, line: tuple[str, str]) -> None:
        """
        Let the next login waiting in C{line} be checked.
        """
        lock = self._lines[line]
        lock.release()
        if not lock.locked:
            del self._lines[line]

    def _digest(self, name: str, hashed: bytes, password: bytes) -> bytes:
        message = name.encode("utf-8") + b"\0" + hashed + b"\0" + password
        return hmac.new(self._key, message, hashlib.sha256).digest()

    def _remembered(self, name: str, hashed: bytes, password: bytes) -> bool:
        """
        Whether C{password} was found right for user C{name}, whose hash is
        C{hashed}, lately; if so, it is remembered for longer.
        """
        right = self._right.get(name)
        now = self._clock.seconds()
        if right is None or now >= right[1]:
            return False
        if not hmac.compare_digest(right[0], self._digest(name, hashed, password)):
            return False
        self._right[name] = (right[0], now + self._remember)
        return True


def _cost(hashed: bytes) -> str:
    match = BCRYPT_HASH.fullmatch(hashed.decode("ascii"))
    return match["cost"] if match else "12"
