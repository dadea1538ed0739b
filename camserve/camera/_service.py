# -*- test-case-name: tests.test_service -*-
"""
The service that owns cameras: their hubs and the capture thread pool.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from twisted.application.service import MultiService
from twisted.internet.defer import Deferred, DeferredList
from twisted.internet.threads import deferToThreadPool
from twisted.logger import Logger
from twisted.python.threadpool import ThreadPool

from camserve.camera._capture import ThreadedCameraSource
from camserve.camera._handles import CameraHandle
from camserve.camera._hub import CameraHub
from camserve.camera._states import CameraUnavailable
from camserve.camera._thumbnail import thumbnail_hub
from camserve.interfaces import IFrameSource

if TYPE_CHECKING:
    from collections.abc import Callable

    from twisted.internet.interfaces import IReactorFromThreads, IReactorTime

    from camserve.interfaces import ICamera

    class _Reactor(IReactorTime, IReactorFromThreads):
        """What the service needs of a reactor."""


class CameraService(MultiService):
    """
    Owns a set of cameras and the thread pool their capture loops run in.

    Capture threads come from a pool of camserve's own, one thread per
    camera, so cameras never wait on (or starve) the reactor's default pool.
    Stopping the service ends every stream and releases every device.
    """

    _log = Logger()

    def __init__(self, reactor: Any = None, *, release_grace: float = 5.0) -> None:
        """
        @param reactor: provides C{IReactorTime} and C{IReactorFromThreads};
            the global reactor by default.
        @param release_grace: seconds L{stopService} waits for cameras to
            release their devices before it gives up on them.
        """
        super().__init__()
        if reactor is None:
            from twisted.internet import reactor as global_reactor  # noqa: PLC0415

            reactor = global_reactor
        self._reactor = reactor
        self._release_grace = release_grace
        self._threadpool = _CaptureThreadPool(
            minthreads=0, maxthreads=1, name="camserve-capture"
        )
        # Thumbnails are short jobs of OpenCV's, which lets go of the GIL:
        # as many at once as there are cores to spare.
        self._thumbnail_pool = _CaptureThreadPool(
            minthreads=0, maxthreads=2, name="camserve-thumbnails"
        )
        self._hubs: dict[str, CameraHub] = {}
        self._handles: dict[str, CameraHandle] = {}
        self._thumbnails: dict[str, CameraHub] = {}
        self._stopped = False
        # Removed cameras whose drivers have not yet let go of their devices
        # (nor, if blocking, of their capture threads).
        self._releasing: dict[CameraHub, None] = {}

    @property
    def hubs(self) -> dict[str, CameraHub]:
        """
        The hubs of this service's cameras, by name.
        """
        return dict(self._hubs)

    def camera(self, name: str) -> CameraHandle:
        """
        The handle of camera C{name}, the same for as long as the service
        runs: it follows the camera across reloads that make it again, and
        tells its events, from its adding to its removal. A name not served
        yet has a handle too, which hears when it is added.
        """
        handle = self._handles.get(name)
        if handle is None:
            handle = self._handles[name] = CameraHandle(name)
            hub = self._hubs.get(name)
            if hub is not None:
                handle.added(hub)
        return handle

    @property
    def thumbnail_hubs(self) -> dict[str, CameraHub]:
        """
        The hubs of thumbnails made so far (see L{thumbnails}), by camera.
        """
        return dict(self._thumbnails)

    def add_camera(self, name: str, camera: ICamera, **hub_options: Any) -> CameraHub:
        """
        Serve a blocking camera driver, run in this service's capture threads.

        @param hub_options: passed to L{CameraHub}: C{driver},
            C{idle_timeout}, C{start_timeout}, C{keepalive_interval}.
        @return: the camera's hub, to mount with L{camera_resource}.
        """
        return self.add_source(name, self._threaded(camera), **hub_options)

    def _threaded(self, camera: ICamera) -> ThreadedCameraSource:
        """
        A source running C{camera} in a capture thread of the service's.
        """
        # Never fewer threads than cameras (this one counted), counting
        # removed ones whose drivers still hold a thread as they let go (or
        # are stuck); nor fewer after a camera is removed, for the same
        # reason.
        self._threadpool.adjustPoolsize(
            maxthreads=max(
                self._threadpool.max, len(self._hubs) + 1 + len(self._releasing)
            )
        )
        return ThreadedCameraSource(
            camera, self._reactor, self._threadpool.callInThread
        )

    def add_driver(
        self, name: str, camera: ICamera | IFrameSource, **hub_options: Any
    ) -> CameraHub:
        """
        Serve what L{make_camera} made: an asynchronous frame source as it
        is, a blocking camera in a capture thread.

        @return: the camera's hub.
        """
        if IFrameSource.providedBy(camera):
            return self.add_source(name, camera, **hub_options)
        return self.add_camera(name, camera, **hub_options)

    def add_source(
        self, name: str, source: IFrameSource, **hub_options: Any
    ) -> CameraHub:
        """
        Serve any frame source, such as an asynchronous driver.

        @return: the camera's hub.
        """
        hub = self._new_hub(name, source, hub_options)
        handle = self._handles.get(name)
        if handle is not None:
            handle.added(hub)
        return hub

    def _new_hub(
        self, name: str, source: IFrameSource, hub_options: dict[str, Any]
    ) -> CameraHub:
        if name in self._hubs:
            raise ValueError(f"there is already a camera named {name!r}")
        hub = CameraHub(name, source, self._reactor, **hub_options)
        self._hubs[name] = hub
        return hub

    def replace_driver(
        self, name: str, camera: ICamera | IFrameSource, **hub_options: Any
    ) -> Deferred[CameraHub]:
        """
        Serve camera C{name} with what L{make_camera} made anew, as a reload
        does for a camera whose settings changed: the old camera's streams
        end and its device is released, then the new one is served. Sinks
        subscribed through the camera's handle (see L{camera}) are moved to
        the new hub, not closed.

        @return: fires with the new hub.
        @raise KeyError: if there is no such camera.
        """
        handle = self._handles.get(name)
        if name not in self._hubs:
            raise KeyError(name)
        if handle is not None:
            handle.detach()
        released = self._release(name)

        def serve(_: object) -> CameraHub:
            if IFrameSource.providedBy(camera):
                hub = self._new_hub(name, camera, hub_options)
            else:
                hub = self._new_hub(name, self._threaded(camera), hub_options)
            if handle is not None:
                handle.replaced(hub)
            return hub

        return released.addCallback(serve)

    def remove_camera(self, name: str) -> Deferred[None]:
        """
        Stop serving camera C{name}: its viewers' streams end, its device is
        released, and its name is free again.

        @return: fires once the device is released, or after the release
            grace if the driver does not let go.
        @raise KeyError: if there is no such camera.
        """
        if name not in self._hubs:
            raise KeyError(name)
        handle = self._handles.get(name)
        if handle is not None:
            handle.removing()
        return self._release(name)

    def _release(self, name: str) -> Deferred[None]:
        """
        Shut camera C{name}'s hub down and free its name.
        """
        hub = self._hubs.pop(name)
        thumbnails = self._thumbnails.pop(name, None)
        if thumbnails is not None:
            thumbnails.shutdown()
        released: Deferred[None] = Deferred()

        def not_waiting(_: object, grace: float) -> None:
            self._log.warn(
                "camera {names} did not release its device within {grace:g} s;"
                " not waiting for it",
                names=name,
                grace=grace,
            )

        def done(_: object) -> None:
            del self._releasing[hub]
            if not released.called:
                released.callback(None)

        self._releasing[hub] = None
        released.addTimeout(
            self._release_grace, self._reactor, onTimeoutCancel=not_waiting
        )
        hub.shutdown().addCallback(done)
        return released

    def arrange(self, names: list[str]) -> None:
        """
        List the cameras in the order of C{names} (the first is the one
        served at a server's C{/video_feed}); cameras not named follow.
        """
        ordered = {name: self._hubs[name] for name in names if name in self._hubs}
        self._hubs = {**ordered, **self._hubs}

    def thumbnails(self, name: str) -> CameraHub:
        """
        A hub of camera C{name}'s frames made small (see
        L{camserve.camera._thumbnail}), made on first use: it follows the camera
        only while it has viewers of its own.

        @raise KeyError: if there is no such camera.
        @raise CameraUnavailable: if the service has stopped.
        """
        if self._stopped:
            raise CameraUnavailable(f"camera {name} is shut down")
        hub = self._thumbnails.get(name)
        if hub is None:
            hub = thumbnail_hub(self._hubs[name], self._shrink_in_thread, self._reactor)
            self._thumbnails[name] = hub
        return hub

    def _shrink_in_thread(
        self, shrink: Callable[[bytes], bytes], jpeg: bytes
    ) -> Deferred[bytes]:
        return deferToThreadPool(self._reactor, self._thumbnail_pool, shrink, jpeg)

    def startService(self) -> None:
        """
        Start the thread pools; cameras start when first watched.
        """
        self._threadpool.start()
        self._thumbnail_pool.start()
        super().startService()

    def stopService(self) -> Deferred[None]:
        """
        End every stream, release every camera, then stop the thread pool.
        """
        self._stopped = True
        stopped: Deferred[Any] = super().stopService()
        for thumbnails in self._thumbnails.values():
            thumbnails.shutdown()
        self._thumbnail_pool.stop()
        # Removed cameras still letting go are waited for as the others are.
        hubs = [*self._hubs.values(), *self._releasing]
        releases = [(hub.name, hub.shutdown()) for hub in hubs]
        settled: Deferred[None] = Deferred()

        def all_released(_: object) -> None:
            if not settled.called:
                settled.callback(None)

        DeferredList([release for _, release in releases]).addCallback(all_released)
        # Giving up is reported below, naming the cameras still holding on.
        settled.addTimeout(
            self._release_grace, self._reactor, onTimeoutCancel=lambda _, __: None
        )

        def stop_threads(_: object) -> Deferred[Any]:
            stuck = sorted({name for name, release in releases if not release.called})
            if stuck:
                # A driver blocked inside frames() cannot be interrupted; its
                # daemon thread is left behind rather than hang the shutdown.
                self._log.warn(
                    "camera {names} did not release its device within {grace:g} s;"
                    " not waiting for it",
                    names=", ".join(stuck),
                    grace=self._release_grace,
                )
            else:
                self._threadpool.stop()
            return stopped

        return settled.addCallback(stop_threads)


class _CaptureThreadPool(ThreadPool):
    """
    A thread pool whose threads do not keep the process alive: a capture
    thread stuck in a driver must not stop camserve from exiting.
    """

    @staticmethod
    def threadFactory(*args: Any, **kwargs: Any) -> threading.Thread:  # type: ignore[override] # Twisted declares it as the Thread class
        """
        A daemon thread.
        """
        return threading.Thread(*args, daemon=True, **kwargs)
