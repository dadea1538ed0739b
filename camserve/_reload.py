# -*- test-case-name: tests.test_reload -*-
"""
Reloading a config file without a restart: on C{SIGHUP}, or when asked.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from twisted.internet.defer import Deferred, DeferredList, succeed
from twisted.logger import Logger

from ._certificates import reload_all
from ._config import ConfigError
from ._config_file import check_config, load_config
from ._hangup import HangupService

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from twisted.python.failure import Failure

    from ._certificates import ReloadableCertificates
    from ._config_file import CheckedConfig, MadeCamera, Timeouts
    from ._service import CameraService

    _Running = tuple[str, Mapping[str, Any], Timeouts]
    """A camera's driver, options and timeouts."""


class ConfigReloader(HangupService):
    """
    Reads a config file again and brings a service's cameras in line with
    it: added cameras appear, removed ones stop (their viewers' streams
    end), changed ones restart, and unchanged ones keep their viewers
    undisturbed. A file with a mistake is refused whole, with the mistake
    logged, and the cameras stay as they are.

    While running, it reloads on C{SIGHUP}. Endpoints are listened on once:
    a change to them is logged and waits for a restart. Each reload also
    reads the endpoints' TLS certificates again, whatever the file holds.
    """

    _log = Logger()

    def __init__(
        self,
        path: str,
        checked: CheckedConfig,
        cameras: CameraService,
        reactor: Any,
        certificates: Sequence[ReloadableCertificates] = (),
    ) -> None:
        """
        @param path: the file, read again from the same place however the
            working directory changes later (as C{twistd --rundir} changes
            it once the service is made).
        @param checked: what the service serves now, as made from C{path}.
        @param reactor: provides C{IReactorFromThreads}, for the signal.
        @param certificates: read again on each reload.
        """
        self._certificates = certificates
        self._path = str(Path(path).absolute())
        self._serving: dict[str, _Running] = {
            made.config.name: _running(made) for made in checked.cameras
        }
        self._endpoints = checked.config.server.endpoints
        self._cameras = cameras
        self._reactor = reactor
        self._reloading: Deferred[None] | None = None
        self._again = False

    def reload(self) -> Deferred[None]:
        """
        Read the certificates and the file again, and apply the file.

        @return: fires once every change is made (removed and changed
            cameras have released their devices); a reload asked for
            meanwhile follows it.
        """
        reload_all(self._certificates)
        if self._reloading is not None:
            self._again = True
            return self._reloading
        try:
            checked = check_config(load_config(self._path), self._reactor)
        except ConfigError as error:
            self._log.error(
                "camserve: not reloading {path}, the cameras stay as they were: {error}",
                path=self._path,
                error=str(error),
            )
            return succeed(None)
        done = self._apply(checked)
        self._reloading = done

        def finished(_: object) -> None:
            self._reloading = None
            if self._again:
                self._again = False
                self.reload()

        done.addBoth(finished)
        return done

    def _apply(self, checked: CheckedConfig) -> Deferred[None]:
        wanted = {made.config.name: made for made in checked.cameras}
        serving = self._serving
        removed = [name for name in serving if name not in wanted]
        changed = [
            name
            for name, made in wanted.items()
            if name in serving and serving[name] != _running(made)
        ]
        added = [name for name in wanted if name not in serving]
        if checked.config.server.endpoints != self._endpoints:
            self._log.warn(
                "camserve: {path} lists other endpoints; camserve listens on"
                " {endpoints} until it is restarted",
                path=self._path,
                endpoints=", ".join(self._endpoints),
            )
        releases = [self._cameras.remove_camera(name) for name in removed + changed]

        def add(_: object) -> None:
            for name in changed + added:
                serve_camera(self._cameras, wanted[name])
            self._cameras.arrange(list(wanted))
            self._serving = {name: _running(made) for name, made in wanted.items()}
            self._log.info(
                "camserve: reloaded {path}: {added} added, {removed} removed,"
                " {changed} restarted, {kept} unchanged",
                path=self._path,
                added=_names(added),
                removed=_names(removed),
                changed=_names(changed),
                kept=_names([n for n in wanted if n not in changed + added]),
            )

        def failed(failure: Failure) -> None:
            self._log.failure(
                "camserve: reloading {path} failed part of the way",
                failure,
                path=self._path,
            )

        applied: Deferred[None] = (
            DeferredList(releases).addCallback(add).addErrback(failed)
        )
        return applied


def serve_camera(cameras: CameraService, made: MadeCamera) -> None:
    """
    Serve a camera made from a config, with its timeouts.
    """
    cameras.add_driver(
        made.config.name,
        made.camera,
        driver=made.config.driver,
        idle_timeout=made.timeouts.idle_timeout,
        start_timeout=made.timeouts.start_timeout,
        keepalive_interval=made.timeouts.keepalive,
        stall_timeout=made.timeouts.stall_timeout,
    )


def _running(made: MadeCamera) -> _Running:
    """
    What a camera runs with: its driver, its options and the timeouts it
    resolves to. A camera is restarted only when these change, not when
    its table says the same thing otherwise (such as a timeout of its own
    equal to the server's).
    """
    return (made.config.driver, made.config.options, made.timeouts)


def _names(names: list[str]) -> str:
    return ", ".join(names) if names else "none"
