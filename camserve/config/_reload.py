# -*- test-case-name: tests.test_reload,tests.test_reload_certificates -*-
"""
Reloading a config file without a restart: on C{SIGHUP}, or when asked.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from attrs import evolve, frozen
from twisted.internet.defer import Deferred, DeferredList, succeed
from twisted.logger import Logger

from camserve._errors import ConfigError
from camserve.access._certificates import reload_all
from camserve.access._hangup import HangupService
from camserve.config._file import check_config, load_config

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from twisted.python.failure import Failure

    from camserve.access._auth import Accounts
    from camserve.access._certificates import ReloadableCertificates
    from camserve.access._login import LoginResource
    from camserve.camera._hub import CameraHub
    from camserve.camera._service import CameraService
    from camserve.config._camera_table import Timeouts
    from camserve.config._file import CheckedConfig, FileConfig, MadeCamera

    _Running = tuple[str, Mapping[str, Any], Timeouts]
    """A camera's driver, options and timeouts."""


@frozen
class Reloaded:
    """
    What a reload did: the cameras added, removed, restarted and left
    alone, and the users whose logins changed; or the mistake that made it
    do nothing.
    """

    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    restarted: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    users: tuple[str, ...] = ()
    error: str | None = None

    def as_json(self) -> dict[str, Any]:
        """
        The outcome as C{POST /api/reload} answers it.
        """
        if self.error is not None:
            return {"error": self.error}
        return {
            "added": list(self.added),
            "removed": list(self.removed),
            "restarted": list(self.restarted),
            "unchanged": list(self.unchanged),
            "users": list(self.users),
        }


class ConfigReloader(HangupService):
    """
    Reads a config file again and brings a service's cameras in line with
    it: added cameras appear, removed ones stop (their viewers' streams
    end), changed ones restart, and unchanged ones keep their viewers
    undisturbed. A file with a mistake is refused whole, with the mistake
    logged, and the cameras stay as they are.

    The users of C{[auth]} are read again too, and take effect at once
    (see L{LoginResource.update}); turning logins on or off waits for a
    restart, as a change to the endpoints does, which are listened on once:
    either is logged. Each reload also reads the endpoints' TLS
    certificates again, whatever the file holds; neither depends on the
    other: a certificate that cannot be used is kept, with one line
    logged, and the file is applied or refused as it would be otherwise.

    While running, it reloads on C{SIGHUP}.
    """

    _log = Logger()

    def __init__(
        self,
        path: str,
        checked: CheckedConfig,
        cameras: CameraService,
        reactor: Any,
        *,
        certificates: Sequence[ReloadableCertificates] = (),
        logins: LoginResource | None = None,
    ) -> None:
        """
        @param path: the file, read again from the same place however the
            working directory changes later (as C{twistd --rundir} changes
            it once the service is made).
        @param checked: what the service serves now, as made from C{path}.
        @param reactor: provides C{IReactorFromThreads}, for the signal.
        @param certificates: read again on each reload.
        @param logins: the login in front of the service, if the file has
            C{[auth]}.
        """
        self._certificates = certificates
        self._logins = logins
        self._accounts: Accounts | None = checked.accounts
        self._path = str(Path(path).absolute())
        self._serving: dict[str, _Running] = {
            made.config.name: _running(made) for made in checked.cameras
        }
        self._endpoints = checked.config.server.endpoints
        self._cameras = cameras
        self._reactor = reactor
        self._reloading: Deferred[Reloaded] | None = None
        self._again = False

    def reload(self) -> Deferred[Reloaded]:
        """
        Read the certificates and the file again, and apply the file.

        @return: fires once every change is made (removed and changed
            cameras have released their devices) with what was done; a
            reload asked for meanwhile follows it, and fires with this one's
            outcome. Cancelling it changes nothing of the reload.
        """
        reload_all(self._certificates)
        if self._reloading is not None:
            self._again = True
            return _copy(self._reloading)
        try:
            config = load_config(self._path)
            checked = check_config(
                _not_listened_on(config, self._endpoints), self._reactor
            )
        except ConfigError as error:
            self._log.error(
                "camserve: not reloading {path}, the cameras stay as they were: {error}",
                path=self._path,
                error=str(error),
            )
            return succeed(Reloaded(error=str(error)))
        done = self._apply(checked, config.server.endpoints)
        self._reloading = done

        def finished(outcome: Reloaded) -> Reloaded:
            self._reloading = None
            if self._again:
                self._again = False
                self.reload()
            return outcome

        done.addCallback(finished)
        return _copy(done)

    def _apply_logins(self, accounts: Accounts | None) -> tuple[str, ...]:
        """
        Serve the logins of C{accounts}; the users changed.
        """
        if (accounts is None) != (self._accounts is None):
            self._log.warn(
                "camserve: {path} turns logins {which}; that waits for a restart",
                path=self._path,
                which="off" if accounts is None else "on",
            )
            return ()
        self._accounts = accounts
        if accounts is None or self._logins is None:
            return ()
        return tuple(self._logins.update(accounts))

    def _apply(
        self, checked: CheckedConfig, endpoints: tuple[str, ...]
    ) -> Deferred[Reloaded]:
        """
        Serve C{checked}'s cameras and users; C{endpoints} are those the
        file lists.
        """
        wanted = {made.config.name: made for made in checked.cameras}
        serving = self._serving
        removed = [name for name in serving if name not in wanted]
        changed = [
            name
            for name, made in wanted.items()
            if name in serving and serving[name] != _running(made)
        ]
        added = [name for name in wanted if name not in serving]
        if endpoints != self._endpoints:
            self._log.warn(
                "camserve: {path} lists other endpoints; camserve listens on"
                " {endpoints} until it is restarted",
                path=self._path,
                endpoints=", ".join(self._endpoints),
            )
        users = self._apply_logins(checked.accounts)
        releases: list[Deferred[Any]] = [
            self._cameras.remove_camera(name) for name in removed
        ]
        releases += [
            serve_camera(self._cameras, wanted[name], replacing=True)
            for name in changed
        ]

        def add(_: object) -> Reloaded:
            for name in added:
                serve_camera(self._cameras, wanted[name])
            hubs = self._cameras.hubs
            for name, made in wanted.items():
                # Not part of what a camera runs with: changed in place.
                hubs[name].group = made.config.group
            self._cameras.arrange(list(wanted))
            self._serving = {name: _running(made) for name, made in wanted.items()}
            kept = [name for name in wanted if name not in changed + added]
            self._log.info(
                "camserve: reloaded {path}: {added} added, {removed} removed,"
                " {changed} restarted, {kept} unchanged",
                path=self._path,
                added=_names(added),
                removed=_names(removed),
                changed=_names(changed),
                kept=_names(kept),
            )
            return Reloaded(
                tuple(added), tuple(removed), tuple(changed), tuple(kept), users
            )

        def failed(failure: Failure) -> Reloaded:
            self._log.failure(
                "camserve: reloading {path} failed part of the way",
                failure,
                path=self._path,
            )
            return Reloaded(error="reloading failed part of the way; see the log")

        applied: Deferred[Reloaded] = (
            DeferredList(releases, fireOnOneErrback=True, consumeErrors=True)
            .addCallback(add)
            .addErrback(failed)
        )
        return applied


def _not_listened_on(config: FileConfig, listening: Sequence[str]) -> FileConfig:
    """
    C{config} without the endpoints of C{listening}, for L{check_config}.

    Those are listened on already, and not made again: checking an C{ssl:}
    one would read its certificate files, whose trouble is the
    certificates' reload's (it keeps the certificate in use), not a
    mistake of the file's.
    """
    endpoints = tuple(each for each in config.server.endpoints if each not in listening)
    return evolve(config, server=evolve(config.server, endpoints=endpoints))


def serve_camera(
    cameras: CameraService, made: MadeCamera, *, replacing: bool = False
) -> Deferred[CameraHub]:
    """
    Serve a camera made from a config, with its timeouts; if C{replacing},
    in place of the camera of that name (see L{CameraService.replace_driver}).

    @return: fires with the camera's hub once it is served.
    """
    options: dict[str, Any] = {
        "driver": made.config.driver,
        "group": made.config.group,
        "idle_timeout": made.timeouts.idle_timeout,
        "start_timeout": made.timeouts.start_timeout,
        "keepalive_interval": made.timeouts.keepalive,
        "stall_timeout": made.timeouts.stall_timeout,
    }
    if replacing:
        return cameras.replace_driver(made.config.name, made.camera, **options)
    return succeed(cameras.add_driver(made.config.name, made.camera, **options))


def _running(made: MadeCamera) -> _Running:
    """
    What a camera runs with: its driver, its options and the timeouts it
    resolves to. A camera is restarted only when these change, not when
    its table says the same thing otherwise (such as a timeout of its own
    equal to the server's).
    """
    return (made.config.driver, made.config.options, made.timeouts)


def _copy(done: Deferred[Reloaded]) -> Deferred[Reloaded]:
    """
    A L{Deferred} firing with C{done}'s outcome, whose cancelling leaves
    C{done} alone.
    """
    copy: Deferred[Reloaded] = Deferred()

    def fire(outcome: Reloaded) -> Reloaded:
        if not copy.called:
            copy.callback(outcome)
        return outcome

    done.addCallback(fire)
    return copy


def _names(names: list[str]) -> str:
    return ", ".join(names) if names else "none"
