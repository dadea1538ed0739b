# -*- test-case-name: tests.test_auth,tests.test_tokens -*-
"""
A config file's C{[auth]} table, and the accounts it makes: its users, with
their bcrypt hashes from its htpasswd file, and the key API tokens are
signed with.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from attrs import field, frozen

from camserve._errors import ConfigError
from camserve._frozen import read_only
from camserve.access._auth import BCRYPT_HASH, Account, Accounts
from camserve.access._tokens import KEY_SIZE
from camserve.config._toml_values import known_keys, shown
from camserve.web._user import User

if TYPE_CHECKING:
    from collections.abc import Mapping


_ROLES = ("admin", "viewer")
"""The roles a user may have: C{viewer} watches, C{admin} may do everything."""
_AUTH_KEYS = ("htpasswd", "public", "token_secret_file", "users")
_USER_KEYS = ("cameras", "role")


@frozen
class UserSettings:
    """
    One C{[auth.users.<name>]} table: what a user of the htpasswd file may
    do.

    @ivar role: C{"viewer"} (pages, streams, snapshots, the read-only API)
        or C{"admin"} (everything).
    @ivar cameras: the names of the only cameras the user sees; L{None} for
        every camera, those added later included.
    """

    role: str
    cameras: frozenset[str] | None = None


@frozen
class AuthSettings:
    """
    The C{[auth]} table: who may log in, and what they see.

    Every user of the htpasswd file must have a C{[auth.users.<name>]}
    table and every such table a line in the file: a user in only one of
    the two is refused at start, in one line naming the user, rather than
    left in a state nobody chose.

    @ivar htpasswd: the path of an Apache htpasswd file of bcrypt hashes
        (as C{htpasswd -B} writes), relative to the config file's folder if
        the file gives a relative one.
    @ivar users: each user's settings, by name.
    @ivar public: the paths served without a login; a path ending in C{/}
        stands for everything below it.
    @ivar token_secret_file: the path of a file of random bytes (at least
        32) that API tokens are signed with, relative to the config file's
        folder if the file gives a relative one; L{None} for a random key
        made at each start, so that tokens stop working at a restart.
    """

    htpasswd: str
    users: Mapping[str, UserSettings] = field(converter=read_only)
    public: tuple[str, ...] = ("/healthz",)
    token_secret_file: str | None = None


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
        if not BCRYPT_HASH.fullmatch(hashed):
            raise ConfigError(
                f"{where}: line {number}: user {name!r} has no bcrypt hash "
                "(make it with htpasswd -B -C 12)"
            )
        if name in hashes:
            raise ConfigError(f"{where}: line {number}: user {name!r} again")
        hashes[name] = hashed.encode("ascii")
    return hashes


def auth_table(table: object, cameras: set[str]) -> AuthSettings:
    """
    The C{[auth]} table's settings, its users' cameras among C{cameras}.
    """
    if not isinstance(table, dict):
        raise ConfigError(f"auth must be a table ([auth]), not {shown(table)}")
    known_keys(table, _AUTH_KEYS, "[auth]")
    htpasswd = table.get("htpasswd")
    if not isinstance(htpasswd, str) or not htpasswd:
        raise ConfigError(
            "[auth] htpasswd must name an htpasswd file of bcrypt hashes "
            f"(htpasswd -B -C 12), not {shown(htpasswd)}"
        )
    users = table.get("users")
    if not isinstance(users, dict) or not users:
        raise ConfigError(
            "[auth] has no users: add a [auth.users.<name>] table with a role"
        )
    settings = {name: _user(name, value, cameras) for name, value in users.items()}
    public = table.get("public", ["/healthz"])
    if not (
        isinstance(public, list)
        and all(isinstance(path, str) and path.startswith("/") for path in public)
    ):
        raise ConfigError(
            '[auth] public must be a list of paths, e.g. ["/healthz"], '
            f"not {shown(public)}"
        )
    secret = table.get("token_secret_file")
    if secret is not None and (not isinstance(secret, str) or not secret):
        raise ConfigError(
            "[auth] token_secret_file must name a file of random bytes, "
            f"not {shown(secret)}"
        )
    return AuthSettings(htpasswd, settings, tuple(public), secret)


def _user(name: str, table: object, cameras: set[str]) -> UserSettings:
    """
    The settings of user C{name}'s C{[auth.users.<name>]} table.
    """
    where = f"[auth.users.{name}]"
    if not isinstance(table, dict):
        raise ConfigError(f"{where} must be a table, not {shown(table)}")
    known_keys(table, _USER_KEYS, where)
    role = table.get("role")
    if role not in _ROLES:
        raise ConfigError(
            f"{where} role must be one of {', '.join(_ROLES)}, not {shown(role)}"
        )
    if "cameras" not in table:
        return UserSettings(role)
    allowed = table["cameras"]
    if not isinstance(allowed, list) or not all(
        isinstance(each, str) for each in allowed
    ):
        raise ConfigError(
            f"{where} cameras must be a list of camera names, not {shown(allowed)}"
        )
    for each in allowed:
        if each not in cameras:
            raise ConfigError(
                f"{where} cameras: no camera is named {each!r}; "
                f"cameras: {', '.join(sorted(cameras))}"
            )
    return UserSettings(role, frozenset(allowed))
