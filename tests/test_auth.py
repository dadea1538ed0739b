"""
Tests for logins (L{camserve.access._auth}): the C{[auth]} table of a config file,
its htpasswd file of bcrypt hashes, the checker, the throttle of failed
logins, and a server asking for the browser's Basic login over a real
loopback port, each user seeing only their cameras.
"""

from __future__ import annotations

import base64
import json
from typing import TYPE_CHECKING, Any

import bcrypt
import pytest
import pytest_twisted  # type: ignore[import-untyped]  # it ships no type hints
from support import reactor, reactor_test
from treq.client import HTTPClient
from twisted.cred.checkers import ICredentialsChecker
from twisted.cred.credentials import UsernamePassword
from twisted.cred.error import UnauthorizedLogin
from twisted.cred.portal import IRealm
from twisted.internet.defer import Deferred, gatherResults, succeed
from twisted.internet.task import Clock
from twisted.logger import LogLevel
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.client import Agent, HTTPConnectionPool
from twisted.web.resource import IResource
from twisted.web.server import Site
from zope.interface.verify import verifyObject

import camserve.access._auth
from camserve import CameraService, CamserveSite, ConfigError
from camserve._listener import Listener
from camserve.access._auth import (
    Accounts,
    BcryptChecker,
    LoginThrottle,
    PeerCredentials,
)
from camserve.access._login import LoginResource, _Realm
from camserve.config._file import check_config, load_config
from camserve.tap import build_service
from camserve.testing import ScriptedCamera, make_jpeg
from camserve.web._user import User

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from support import LogRecorder
    from twisted.internet.interfaces import IListeningPort
    from twisted.web.iweb import IResponse

successResultOf = SynchronousTestCase().successResultOf  # noqa: N816 - Twisted's name
failureResultOf = SynchronousTestCase().failureResultOf  # noqa: N816 - Twisted's name
assertNoResult = SynchronousTestCase().assertNoResult  # noqa: N816 - Twisted's name

PASSWORDS = {"alice": "wonderland", "bob": "builder"}

CONFIG = """
[server]
endpoints = ["tcp:0:interface=127.0.0.1"]

[[cameras]]
name = "porch"
driver = "emulated"

[[cameras]]
name = "garage"
driver = "emulated"

[auth]
htpasswd = "users.htpasswd"
{extra}
[auth.users.alice]
role = "admin"

[auth.users.bob]
role = "viewer"
cameras = ["porch"]
"""


def htpasswd_line(user: str, password: str) -> str:
    """
    A line of an htpasswd file as C{htpasswd -B} writes it: a bcrypt hash
    with the C{$2y$} prefix (at the lowest cost, for speed).
    """
    hashed = bcrypt.hashpw(password.encode("utf-8"), bcrypt.gensalt(4))
    assert hashed.startswith(b"$2b$")
    return f"{user}:$2y${hashed[4:].decode('ascii')}\n"


def write_config(
    tmp_path: Path,
    *,
    extra: str = "",
    users: dict[str, str] = PASSWORDS,
    config: str = CONFIG,
) -> Path:
    """
    Write L{CONFIG} and an htpasswd file of C{users} beside it.
    """
    htpasswd = "".join(htpasswd_line(user, pw) for user, pw in users.items())
    (tmp_path / "users.htpasswd").write_text(htpasswd)
    path = tmp_path / "camserve.toml"
    path.write_text(config.format(extra=extra))
    return path


def accounts_of(path: Path) -> Accounts:
    """
    The accounts of the config file at C{path}, as serving it reads them.
    """
    accounts = check_config(load_config(path), reactor).accounts
    assert accounts is not None
    return accounts


def basic(user: str, password: str) -> dict[bytes | str, list[bytes | str]]:
    """
    An C{Authorization} header of a Basic login.
    """
    token = base64.b64encode(f"{user}:{password}".encode())
    return {b"authorization": [b"Basic " + token]}


# The [auth] table


def test_config_reads_users_roles_and_cameras(tmp_path: Path) -> None:
    """
    The users of C{[auth.users]} have their roles and cameras, and the
    C{$2y$} hashes of an htpasswd file named relative to the config file;
    C{/healthz} alone is public by default.
    """
    accounts = accounts_of(write_config(tmp_path))
    assert accounts.users["alice"].user == User("alice", "admin", None)
    assert accounts.users["bob"].user == User("bob", "viewer", frozenset({"porch"}))
    assert accounts.users["bob"].hashed.startswith(b"$2y$04$")
    assert accounts.public == ("/healthz",)


def test_config_without_auth_has_no_accounts(tmp_path: Path) -> None:
    """
    A file without C{[auth]} has no accounts: everyone is served.
    """
    path = write_config(tmp_path, config=CONFIG.split("[auth]", maxsplit=1)[0])
    assert check_config(load_config(path), reactor).accounts is None


def test_bcrypt_checks_2y_hashes() -> None:
    """
    The C{bcrypt} package checks a hash with Apache's C{$2y$} prefix as it
    does one with C{$2b$}.
    """
    line = htpasswd_line("carol", "secret")
    hashed = line.split(":", 1)[1].strip().encode("ascii")
    assert hashed.startswith(b"$2y$")
    assert bcrypt.checkpw(b"secret", hashed)
    assert not bcrypt.checkpw(b"Secret", hashed)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"users": {"alice": "wonderland"}},
            r"camserve\.toml: \[auth\.users\.bob\]: user 'bob' is not in .*users\.htpasswd",
        ),
        (
            {"users": {**PASSWORDS, "eve": "x"}},
            (
                r"camserve\.toml: \[auth\] htpasswd .*users\.htpasswd: user 'eve' has no"
                r" \[auth\.users\.eve\] table, so no role"
            ),
        ),
        (
            {"config": CONFIG.replace('"viewer"', '"guest"')},
            (
                r"camserve\.toml: \[auth\.users\.bob\] role must be one of admin, viewer,"
                r" not 'guest'"
            ),
        ),
        (
            {"config": CONFIG.replace('["porch"]', '["porch", "attic"]')},
            (
                r"camserve\.toml: \[auth\.users\.bob\] cameras: no camera is named"
                r" 'attic'; cameras: garage, porch"
            ),
        ),
        (
            {"config": CONFIG.replace("users.htpasswd", "nobody.htpasswd")},
            (
                r"camserve\.toml: \[auth\] htpasswd .*nobody\.htpasswd: cannot read it:"
                r" No such file or directory"
            ),
        ),
        (
            {"extra": 'public = "/healthz"'},
            r"camserve\.toml: \[auth\] public must be a list of paths",
        ),
        (
            {"extra": "colour = 1"},
            r"camserve\.toml: unknown key 'colour' in \[auth\]",
        ),
    ],
)
def test_config_mistakes(tmp_path: Path, change: dict[str, Any], message: str) -> None:
    """
    A user only in the htpasswd file or only in C{[auth.users]}, an unknown
    role or camera, a missing htpasswd file and a malformed C{[auth]} are
    each refused in one line naming the file, the user and the key.
    """
    path = write_config(tmp_path, **change)
    with pytest.raises(ConfigError, match=message) as raised:
        check_config(load_config(path), reactor)
    assert "\n" not in str(raised.value)


def test_htpasswd_without_bcrypt_is_refused(tmp_path: Path) -> None:
    """
    An htpasswd line with another kind of hash (here Apache's MD5) is
    refused, naming the line and the user.
    """
    path = write_config(tmp_path)
    (tmp_path / "users.htpasswd").write_text(
        htpasswd_line("alice", "x") + "bob:$apr1$abcdefgh$0123456789abcdefghijkl\n"
    )
    with pytest.raises(
        ConfigError, match=r"line 2: user 'bob' has no bcrypt hash \(make it with"
    ):
        check_config(load_config(path), reactor)


# The checker and the realm


@pytest.fixture
def bcrypt_checks(monkeypatch: pytest.MonkeyPatch) -> list[tuple[bytes, bytes]]:
    """
    The passwords bcrypt is asked to check, each with the hash, in order.
    """
    checked: list[tuple[bytes, bytes]] = []
    real = bcrypt.checkpw

    def counting(password: bytes, hashed: bytes) -> bool:
        checked.append((password, hashed))
        return real(password, hashed)

    monkeypatch.setattr(bcrypt, "checkpw", counting)
    return checked


Run = tuple["Callable[[], bool]", Deferred[bool]]
"""A bcrypt check handed to the checker's thread runner, and its answer."""


def accounts_with(passwords: dict[str, str]) -> Accounts:
    """
    Accounts of viewers with C{passwords}, hashed at bcrypt's lowest cost.
    """
    return Accounts(
        {
            name: camserve.access._auth.Account(
                User(name, "viewer"),
                htpasswd_line(name, pw).split(":", 1)[1].strip().encode("ascii"),
            )
            for name, pw in passwords.items()
        }
    )


def make_checker(
    runs: list[Run] | None = None,
    passwords: dict[str, str] = PASSWORDS,
    **options: Any,
) -> tuple[BcryptChecker, Clock]:
    """
    A checker of C{passwords}' users (alice and bob by default) on a
    L{Clock}; its hashes are checked at once, or left in C{runs} if given
    (see L{finish}).
    """
    clock = Clock()

    def run(check: Callable[[], bool]) -> Deferred[bool]:
        if runs is None:
            return succeed(check())
        answer: Deferred[bool] = Deferred()
        runs.append((check, answer))
        return answer

    return BcryptChecker(accounts_with(passwords), clock, run, **options), clock


def finish(runs: list[Run]) -> None:
    """
    Run the first check waiting in C{runs}, as the thread would.
    """
    check, answer = runs.pop(0)
    answer.callback(check())


def test_checker_provides_its_interface() -> None:
    """
    L{BcryptChecker} is an C{ICredentialsChecker}; the realm an C{IRealm}.
    """
    checker, _ = make_checker()
    assert verifyObject(ICredentialsChecker, checker)
    assert verifyObject(IRealm, _Realm({}, lambda _: IResource(None)))


def test_right_password_gives_the_user_name() -> None:
    """
    The right password gives the user's name, at once.
    """
    checker, _ = make_checker()
    credentials = PeerCredentials(b"bob", b"builder", "192.0.2.1")
    assert successResultOf(checker.requestAvatarId(credentials)) == b"bob"


def test_wrong_password_fails_after_the_delay(log: LogRecorder) -> None:
    """
    A wrong password fails with L{UnauthorizedLogin}, half a second later,
    logging the user asked for and the address, not the password.
    """
    checker, clock = make_checker()
    credentials = PeerCredentials(b"bob", b"hunter2", "192.0.2.1")
    checking = checker.requestAvatarId(credentials)
    clock.advance(0.49)
    assertNoResult(checking)
    clock.advance(0.01)
    failureResultOf(checking, UnauthorizedLogin)
    lines = [line for line in log.formatted() if "failed login" in line]
    assert lines == ["camserve: failed login as 'bob' from 192.0.2.1"]
    assert "hunter2" not in "".join(log.formatted(LogLevel.debug))


def test_unknown_user_is_checked_like_a_known_one(
    log: LogRecorder, bcrypt_checks: list[tuple[bytes, bytes]]
) -> None:
    """
    An unknown user's password is checked with bcrypt too (against a hash
    of the same cost), fails after the same delay and is logged alike.
    """
    checker, clock = make_checker()
    checking = checker.requestAvatarId(
        PeerCredentials(b"mallory", b"hunter2", "192.0.2.1")
    )
    ((password, hashed),) = bcrypt_checks
    assert password == b"hunter2"
    assert hashed.startswith(b"$2b$04$")
    clock.advance(0.49)
    assertNoResult(checking)
    clock.advance(0.01)
    failureResultOf(checking, UnauthorizedLogin)
    lines = [line for line in log.formatted() if "failed login" in line]
    assert lines == ["camserve: failed login as 'mallory' from 192.0.2.1"]


def test_long_passwords_are_cut_as_bcrypt_cuts_them() -> None:
    """
    A password longer than bcrypt's 72 bytes is checked by its first 72, as
    C{htpasswd -B} hashed it, rather than refused with an error.
    """
    checker, _ = make_checker(passwords={"carol": "c" * 72})
    credentials = PeerCredentials(b"carol", b"c" * 72 + b"x" * 30, "192.0.2.1")
    assert successResultOf(checker.requestAvatarId(credentials)) == b"carol"


def test_checker_runs_bcrypt_in_another_thread() -> None:
    """
    The checker hands bcrypt to its thread runner and returns at once; the
    answer comes when the thread's result does.
    """
    runs: list[Run] = []
    checker, _ = make_checker(runs)
    checking = checker.requestAvatarId(PeerCredentials(b"bob", b"builder", "peer"))
    assertNoResult(checking)
    assert len(runs) == 1
    finish(runs)
    assert successResultOf(checking) == b"bob"


def test_a_right_password_is_remembered_for_five_minutes(
    bcrypt_checks: list[tuple[bytes, bytes]],
) -> None:
    """
    A password found right is not checked with bcrypt again for five
    minutes from its latest use: the browser sends it with every request.
    A wrong one always is. An update of the accounts that keeps the user's
    hash keeps the password remembered; one that changes it does not.
    """
    accounts = accounts_with(PASSWORDS)
    clock = Clock()
    checker = BcryptChecker(accounts, clock, lambda check: succeed(check()))

    def login(password: bytes) -> Deferred[bytes | tuple[()]]:
        return checker.requestAvatarId(PeerCredentials(b"bob", password, "a"))

    assert successResultOf(login(b"builder")) == b"bob"
    clock.advance(299)
    assert successResultOf(login(b"builder")) == b"bob"
    clock.advance(299)
    assert successResultOf(login(b"builder")) == b"bob"
    assert [password for password, _ in bcrypt_checks] == [b"builder"]
    wrong = login(b"builder!")
    clock.advance(0.5)
    failureResultOf(wrong, UnauthorizedLogin)
    assert [password for password, _ in bcrypt_checks] == [b"builder", b"builder!"]
    clock.advance(300)
    assert successResultOf(login(b"builder")) == b"bob"
    assert [password for password, _ in bcrypt_checks] == [
        b"builder",
        b"builder!",
        b"builder",
    ]
    alice_changed = {**accounts.users, **accounts_with({"alice": "other"}).users}
    checker.update(Accounts(alice_changed))
    assert successResultOf(login(b"builder")) == b"bob"
    assert len(bcrypt_checks) == 3
    checker.update(accounts_with({"bob": "renamed"}))
    changed = login(b"builder")
    clock.advance(0.5)
    failureResultOf(changed, UnauthorizedLogin)
    assert len(bcrypt_checks) == 4


def test_logins_from_one_address_are_checked_one_after_another() -> None:
    """
    Logins sent at once from one address are checked one at a time, each
    once the one before has been answered, after its failure's delay; so
    guesses sent in parallel go no faster than one by one. Another
    address is checked meanwhile.
    """
    runs: list[Run] = []
    checker, clock = make_checker(runs)
    guesses = [
        checker.requestAvatarId(PeerCredentials(b"bob", b"guess%d" % n, "192.0.2.1"))
        for n in range(3)
    ]
    other = checker.requestAvatarId(PeerCredentials(b"alice", b"wonderland", "b"))
    assert len(runs) == 2
    finish(runs)  # the first guess
    finish(runs)  # alice, from the other address
    assert successResultOf(other) == b"alice"
    assert runs == []
    clock.advance(0.5)
    failureResultOf(guesses[0], UnauthorizedLogin)
    assert len(runs) == 1
    finish(runs)
    clock.advance(0.99)
    assert runs == []
    assertNoResult(guesses[1])
    clock.advance(0.01)
    failureResultOf(guesses[1], UnauthorizedLogin)
    finish(runs)
    clock.advance(2)
    failureResultOf(guesses[2], UnauthorizedLogin)
    assert checker._lines == {}


def test_a_right_password_waiting_behind_another_is_not_checked_again(
    bcrypt_checks: list[tuple[bytes, bytes]],
) -> None:
    """
    A browser's first requests, sent at once with the same login, cost one
    bcrypt check: those waiting find it remembered.
    """
    runs: list[Run] = []
    checker, _ = make_checker(runs)
    logins = [
        checker.requestAvatarId(PeerCredentials(b"bob", b"builder", "192.0.2.1"))
        for _ in range(6)
    ]
    finish(runs)
    assert [successResultOf(each) for each in logins] == [b"bob"] * 6
    assert [password for password, _ in bcrypt_checks] == [b"builder"]


def test_too_many_logins_waiting_from_one_address_are_refused_unchecked(
    log: LogRecorder,
) -> None:
    """
    Beyond the logins of one user that may wait per address, more are
    refused at once, without a check, and logged; another address is not
    held up, and neither is another user from the same address.
    """
    runs: list[Run] = []
    checker, _ = make_checker(runs, most_waiting=2)
    waiting = [
        checker.requestAvatarId(PeerCredentials(b"bob", b"x%d" % n, "192.0.2.1"))
        for n in range(3)
    ]
    refused = checker.requestAvatarId(PeerCredentials(b"bob", b"y", "192.0.2.1"))
    failureResultOf(refused, UnauthorizedLogin)
    for each in waiting:
        assertNoResult(each)
    assert len(runs) == 1
    checker.requestAvatarId(PeerCredentials(b"bob", b"builder", "192.0.2.2"))
    assert len(runs) == 2
    alice = checker.requestAvatarId(
        PeerCredentials(b"alice", b"wonderland", "192.0.2.1")
    )
    assert len(runs) == 3
    finish(runs)
    finish(runs)
    finish(runs)
    assert successResultOf(alice) == b"alice"
    assert log.formatted()[0] == (
        "camserve: too many logins at once from 192.0.2.1; refused unchecked"
    )


def test_unknown_users_wait_in_one_line() -> None:
    """
    Guesses at names that are no user's wait in one line per address, so
    that inventing names gets a flood no further.
    """
    runs: list[Run] = []
    checker, _ = make_checker(runs, most_waiting=2)
    guesses = [
        checker.requestAvatarId(PeerCredentials(b"nobody%d" % n, b"x", "192.0.2.1"))
        for n in range(4)
    ]
    assert len(runs) == 1
    failureResultOf(guesses[3], UnauthorizedLogin)
    for each in guesses[:3]:
        assertNoResult(each)


def test_the_same_login_sent_at_once_is_checked_once(
    bcrypt_checks: list[tuple[bytes, bytes]],
) -> None:
    """
    A right login sent many times at once (a browser's first page, after a
    reload has made its server forget nothing but the pages' state) costs
    one bcrypt check and is never refused as too many, however many wait.
    A wrong one sent many times at once is refused alike, after one
    check's delay.
    """
    runs: list[Run] = []
    checker, clock = make_checker(runs, most_waiting=2)
    logins = [
        checker.requestAvatarId(PeerCredentials(b"bob", b"builder", "192.0.2.1"))
        for _ in range(20)
    ]
    wrong = [
        checker.requestAvatarId(PeerCredentials(b"alice", b"guess", "192.0.2.1"))
        for _ in range(20)
    ]
    assert len(runs) == 2
    finish(runs)
    finish(runs)
    assert [successResultOf(each) for each in logins] == [b"bob"] * 20
    clock.advance(0.5)
    for each in wrong:
        failureResultOf(each, UnauthorizedLogin)
    assert sorted(password for password, _ in bcrypt_checks) == [b"builder", b"guess"]


def test_a_flood_of_guesses_holds_up_no_other_user(
    log: LogRecorder,
) -> None:
    """
    While guesses at one user from an address wait their turn, each after
    the last one's growing delay, another user's right password from the
    same address (every user's, behind a reverse proxy) is checked at once
    and let in.
    """
    runs: list[Run] = []
    checker, clock = make_checker(runs)
    guesses = [
        checker.requestAvatarId(PeerCredentials(b"alice", b"guess%d" % n, "proxy"))
        for n in range(16)
    ]
    finish(runs)
    clock.advance(0.5)
    failureResultOf(guesses[0], UnauthorizedLogin)
    finish(runs)
    bob = checker.requestAvatarId(PeerCredentials(b"bob", b"builder", "proxy"))
    assert len(runs) == 1
    finish(runs)
    assert successResultOf(bob) == b"bob"
    assertNoResult(guesses[1])
    assert len(log.formatted()) == 2


@reactor_test
async def test_checker_uses_the_reactors_thread_pool(tmp_path: Path) -> None:
    """
    The server's checker runs bcrypt in the reactor's thread pool: its
    C{Deferred} has not fired when it returns, and gives the user later.
    """
    accounts = accounts_of(write_config(tmp_path))
    resource = LoginResource(CameraService(reactor), reactor, accounts)
    portal = resource._guard._portal
    (checker,) = portal.checkers.values()
    checking = checker.requestAvatarId(UsernamePassword(b"alice", b"wonderland"))
    assertNoResult(checking)
    assert await checking == b"alice"


def test_user_roles() -> None:
    """
    An admin may do what a viewer may, a viewer not what an admin may; a
    user sees their cameras, or every camera if they have no list.
    """
    viewer = User("bob", "viewer", frozenset({"porch"}))
    admin = User("alice", "admin")
    assert viewer.may("viewer")
    assert not viewer.may("admin")
    assert admin.may("admin")
    assert admin.may("viewer")
    assert viewer.sees("porch")
    assert not viewer.sees("garage")
    assert admin.sees("garage")


# The throttle


def test_delay_doubles_per_address_up_to_a_limit() -> None:
    """
    Each failure from an address waits twice as long as the one before, up
    to 8 s; another address starts at half a second.
    """
    throttle = LoginThrottle(Clock())
    delays = [throttle.failed("192.0.2.1") for _ in range(7)]
    assert delays == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    assert throttle.failed("192.0.2.2") == 0.5


def test_delay_is_reset_by_a_success_or_a_quiet_minute() -> None:
    """
    A successful login, or a minute without failures, starts an address
    again at half a second.
    """
    clock = Clock()
    throttle = LoginThrottle(clock)
    throttle.failed("a")
    throttle.failed("a")
    throttle.succeeded("a")
    assert throttle.failed("a") == 0.5
    assert throttle.failed("a") == 1.0
    clock.advance(59)
    assert throttle.failed("a") == 2.0
    clock.advance(61)
    assert throttle.failed("a") == 0.5


def test_throttle_forgets_addresses_beyond_its_limit() -> None:
    """
    Beyond the addresses it may remember, the throttle forgets the oldest.
    """
    throttle = LoginThrottle(Clock(), remembered=2)
    for peer in ["a", "b", "c"]:
        throttle.failed(peer)
    assert list(throttle._failures) == ["b", "c"]
    assert throttle.failed("a") == 0.5


def test_failures_are_delayed_by_address() -> None:
    """
    Through the checker, a second wrong password from the same address is
    answered after a second, whether the user exists or not.
    """
    checker, clock = make_checker()
    first = checker.requestAvatarId(PeerCredentials(b"bob", b"x", "192.0.2.9"))
    clock.advance(0.5)
    failureResultOf(first, UnauthorizedLogin)
    second = checker.requestAvatarId(PeerCredentials(b"nobody", b"x", "192.0.2.9"))
    clock.advance(0.9)
    assertNoResult(second)
    clock.advance(0.1)
    failureResultOf(second, UnauthorizedLogin)


# Over HTTP


class Served:
    """
    A server of two scripted cameras, porch and garage, asking for a login
    of L{CONFIG}'s users, on a port of 127.0.0.1.
    """

    def __init__(self, tmp_path: Path, extra: str = "") -> None:
        self.service = CameraService(reactor)
        for name in ["porch", "garage"]:
            jpegs = [make_jpeg(number, 64, 48) for number in range(3)]
            self.service.add_camera(name, ScriptedCamera(jpegs, fps=20))
        self.service.startService()
        self.config = write_config(tmp_path, extra=extra)
        accounts = accounts_of(self.config)
        # Short delays, that the tests need not wait for.
        throttle = LoginThrottle(reactor, first=0.01, longest=0.01)
        self.resource = LoginResource(
            self.service, reactor, accounts, throttle=throttle
        )
        self.port: IListeningPort = reactor.listenTCP(
            0, Site(self.resource), interface="127.0.0.1"
        )
        self.url = f"http://127.0.0.1:{self.port.getHost().port}"
        self.client = HTTPClient(
            Agent(reactor, pool=HTTPConnectionPool(reactor, persistent=False))
        )

    async def get(
        self, path: str, user: str | None = None, password: str | None = None
    ) -> tuple[IResponse, bytes]:
        """
        GET C{path}, logged in as C{user} (with their password unless
        C{password} is given); the response and its body.
        """
        headers = None
        if user is not None:
            headers = basic(
                user, PASSWORDS.get(user, "") if password is None else password
            )
        response = await self.client.get(self.url + path, headers=headers, timeout=10)
        return response, await response.content()

    async def post_json(self, path: str, body: object, user: str) -> tuple[int, Any]:
        """
        POST C{body} as JSON to C{path}, logged in as C{user}; the answer's
        code and JSON.
        """
        headers: dict[bytes | str, list[bytes | str]] = {
            b"content-type": [b"application/json"],
            **basic(user, PASSWORDS[user]),
        }
        response = await self.client.post(
            self.url + path,
            data=json.dumps(body).encode(),
            headers=headers,
            timeout=10,
        )
        return response.code, json.loads(await response.content())

    async def head(self, path: str, user: str) -> IResponse:
        """
        HEAD C{path}, logged in as C{user}.
        """
        response: IResponse = await self.client.head(
            self.url + path, headers=basic(user, PASSWORDS[user]), timeout=10
        )
        return response

    async def close(self) -> None:
        """
        Stop the cameras and the port.
        """
        await self.service.stopService()
        stopped = self.port.stopListening()
        if stopped is not None:
            await stopped


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    """
    A L{Served}, closed afterwards.
    """
    server = Served(tmp_path)
    yield server
    pytest_twisted.blockon(Deferred.fromCoroutine(server.close()))


GUARDED = [
    "/",
    "/cameras/porch/",
    "/cameras/porch/video_feed",
    "/cameras/porch/snapshot.jpg",
    "/video_feed",
    "/snapshot.jpg",
    "/streams",
    "/api/cameras",
    "/api/cameras/porch",
    "/static/camserve.css",
    "/nothing-here",
]


@reactor_test
async def test_no_login_is_asked_for_one(served: Served) -> None:
    """
    Without credentials, every path but C{/healthz} (the grid, a camera's
    page, stream and snapshot, the API, even unknown ones) answers C{401}
    asking for a Basic login.
    """
    for path in GUARDED:
        response, _ = await served.get(path)
        assert response.code == 401, path
        assert response.headers.getRawHeaders(b"www-authenticate") == [
            b'basic realm="camserve"'
        ], path


@reactor_test
async def test_healthz_is_public(served: Served) -> None:
    """
    C{/healthz} answers without a login, with the overall health and
    counts only; a login gets the cameras' names.
    """
    response, body = await served.get("/healthz")
    assert response.code == 200
    assert json.loads(body) == {"status": "ok", "cameras": 2, "failed": 0}
    response, body = await served.get("/healthz", "alice")
    assert response.code == 200
    assert [camera["name"] for camera in json.loads(body)["cameras"]] == [
        "porch",
        "garage",
    ]


@reactor_test
async def test_public_paths_are_configurable(tmp_path: Path) -> None:
    """
    C{[auth] public} chooses the paths served without a login: with none,
    C{/healthz} asks for one too; a path ending in C{/} opens what is below
    it, but not a path that climbs out of it.
    """
    server = Served(tmp_path, extra='public = ["/static/"]')
    try:
        assert (await server.get("/healthz"))[0].code == 401
        assert (await server.get("/static/camserve.css"))[0].code == 200
        assert (await server.get("/static/../api/cameras"))[0].code == 401
        assert (await server.get("/static/%2e%2e/api/cameras"))[0].code == 401
        assert (await server.get("/api/cameras"))[0].code == 401
    finally:
        await server.close()


@reactor_test
async def test_wrong_and_unknown_logins_are_refused_alike(
    served: Served, log: LogRecorder
) -> None:
    """
    A wrong password and an unknown user both get C{401}, and a log line
    of one shape naming the user and the client's address, never the
    password.
    """
    wrong, _ = await served.get("/api/cameras", "bob", "not-the-password")
    unknown, _ = await served.get("/api/cameras", "mallory", "not-the-password")
    assert wrong.code == unknown.code == 401
    lines = [line for line in log.formatted() if "failed login" in line]
    assert lines == [
        "camserve: failed login as 'bob' from 127.0.0.1",
        "camserve: failed login as 'mallory' from 127.0.0.1",
    ]
    assert "not-the-password" not in "".join(log.formatted(LogLevel.debug))


@reactor_test
async def test_admin_sees_every_camera(served: Served) -> None:
    """
    Alice, an admin with no camera list, sees both cameras in the grid and
    the API, and gets a snapshot of each.
    """
    response, body = await served.get("/", "alice")
    assert response.code == 200
    assert b"cameras/porch/" in body
    assert b"cameras/garage/" in body
    response, body = await served.get("/api/cameras", "alice")
    assert [camera["name"] for camera in json.loads(body)] == ["porch", "garage"]
    for name in ["porch", "garage"]:
        response, body = await served.get(f"/cameras/{name}/snapshot.jpg", "alice")
        assert response.code == 200
        assert body.startswith(b"\xff\xd8")
    response = await served.head("/streams?cameras=porch,garage", "alice")
    assert response.code == 200


@reactor_test
async def test_viewer_sees_only_their_cameras(served: Served) -> None:
    """
    Bob, a viewer of porch, sees only porch: garage is left out of the grid,
    the API and C{/healthz}, and its routes and C{/streams} answer C{404} as
    for a camera that does not exist, without naming it.
    """
    response, body = await served.get("/", "bob")
    assert response.code == 200
    assert b"cameras/porch/" in body
    assert b"garage" not in body
    response, body = await served.get("/api/cameras", "bob")
    assert [camera["name"] for camera in json.loads(body)] == ["porch"]
    assert (await served.get("/cameras/porch/", "bob"))[0].code == 200
    assert (await served.head("/streams?cameras=porch", "bob")).code == 200
    for path in [
        "/cameras/garage/",
        "/cameras/garage/video_feed",
        "/cameras/garage/snapshot.jpg",
        "/api/cameras/garage",
        "/streams?cameras=garage",
        "/streams?cameras=porch,garage",
    ]:
        response, body = await served.get(path, "bob")
        assert response.code == 404, path
        assert b"garage" not in body, path


@reactor_test
async def test_server_built_from_a_config_with_auth(tmp_path: Path) -> None:
    """
    C{build_service} of a config file with C{[auth]} serves a login: no
    credentials get C{401}, alice's get the API; C{/healthz} is public. Its
    site answers to the C{[server] hosts}.
    """
    config = CONFIG.replace("[server]", '[server]\nhosts = ["cams.example"]')
    top = build_service(str(write_config(tmp_path, config=config)), reactor)
    top.startService()
    try:
        (listener,) = [child for child in top if isinstance(child, Listener)]
        site = listener.factory
        assert isinstance(site, CamserveSite)
        assert site.allowed_hosts == frozenset({"cams.example"})
        url = f"http://127.0.0.1:{listener.port.getHost().port}"  # type: ignore[union-attr]  # a listening TCP port's
        client = HTTPClient(
            Agent(reactor, pool=HTTPConnectionPool(reactor, persistent=False))
        )
        assert (await client.get(url + "/api/cameras")).code == 401
        assert (await client.get(url + "/healthz")).code == 200
        response = await client.get(
            url + "/api/cameras", headers=basic("alice", "wonderland")
        )
        assert response.code == 200
        await response.content()
    finally:
        await top.stopService()


@reactor_test
async def test_a_right_password_is_let_in_after_a_reload(
    served: Served, bcrypt_checks: list[tuple[bytes, bytes]]
) -> None:
    """
    Over HTTP, after a reload that leaves the users as they were, twenty
    requests sent at once with a right password from one address are all
    served, with no new bcrypt check; after one that changes bob's password,
    twenty at once with his new one are all served, for one check.
    """
    assert (await served.get("/api/cameras", "bob"))[0].code == 200
    assert len(bcrypt_checks) == 1
    config = served.config
    served.resource.update(accounts_of(config))
    answers = await gatherResults(
        [Deferred.fromCoroutine(served.get("/api/cameras", "bob")) for _ in range(20)]
    )
    assert [response.code for response, _ in answers] == [200] * 20
    assert len(bcrypt_checks) == 1
    htpasswd = config.parent / "users.htpasswd"
    lines = htpasswd.read_text().splitlines(keepends=True)
    lines = [
        htpasswd_line("bob", "rebuilt") if line.startswith("bob:") else line
        for line in lines
    ]
    htpasswd.write_text("".join(lines))
    served.resource.update(accounts_of(config))
    answers = await gatherResults(
        [
            Deferred.fromCoroutine(served.get("/api/cameras", "bob", "rebuilt"))
            for _ in range(20)
        ]
    )
    assert [response.code for response, _ in answers] == [200] * 20
    assert len(bcrypt_checks) == 2
