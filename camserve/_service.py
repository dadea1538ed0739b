# -*- test-case-name: tests.test_service -*-
"""
The service that owns cameras: their hubs and the capture thread pool.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from twisted.application.service import MultiService
from twisted.internet.defer import Deferred, DeferredList
from twisted.python.threadpool import ThreadPool

from ._capture import ThreadedCameraSource
from ._hub import CameraHub

if TYPE_CHECKING:
    from twisted.internet.interfaces import IReactorFromThreads, IReactorTime

    from .interfaces import ICamera, IFrameSource

    class _Reactor(IReactorTime, IReactorFromThreads):
        """What the service needs of a reactor."""


class CameraService(MultiService):
    """
    Owns a set of cameras and the thread pool their capture loops run in.

    Capture threads come from a pool of camserve's own, one thread per
    camera, so cameras never wait on (or starve) the reactor's default pool.
    Stopping the service ends every stream and releases every device.
    """

    def __init__(self, reactor: Any = None) -> None:
        """
        @param reactor: provides C{IReactorTime} and C{IReactorFromThreads};
            the global reactor by default.
        """
        super().__init__()
        if reactor is None:
            from twisted.internet import reactor as global_reactor  # noqa: PLC0415

            reactor = global_reactor
        self._reactor = reactor
        self._threadpool = ThreadPool(
            minthreads=0, maxthreads=1, name="camserve-capture"
        )
        self._hubs: dict[str, CameraHub] = {}

    @property
    def hubs(self) -> dict[str, CameraHub]:
        """
        The hubs of this service's cameras, by name.
        """
        return dict(self._hubs)

    def add_camera(self, name: str, camera: ICamera, **hub_options: Any) -> CameraHub:
        """
        Serve a blocking camera driver, run in this service's capture threads.

        @param hub_options: passed to L{CameraHub}: C{driver},
            C{idle_timeout}, C{start_timeout}, C{keepalive_interval}.
        @return: the camera's hub, to mount with L{camera_resource}.
        """
        source = ThreadedCameraSource(
            camera, self._reactor, self._threadpool.callInThread
        )
        hub = self.add_source(name, source, **hub_options)
        self._threadpool.adjustPoolsize(maxthreads=len(self._hubs))
        return hub

    def add_source(
        self, name: str, source: IFrameSource, **hub_options: Any
    ) -> CameraHub:
        """
        Serve any frame source, such as an asynchronous driver.

        @return: the camera's hub.
        """
        if name in self._hubs:
            raise ValueError(f"there is already a camera named {name!r}")
        hub = CameraHub(name, source, self._reactor, **hub_options)
        self._hubs[name] = hub
        return hub

    def startService(self) -> None:
        """
        Start the capture thread pool; cameras start when first watched.
        """
        self._threadpool.start()
        super().startService()

    def stopService(self) -> Deferred[None]:
        """
        End every stream, release every camera, then stop the thread pool.
        """
        stopped: Deferred[Any] = super().stopService()
        released = DeferredList([hub.shutdown() for hub in self._hubs.values()])

        def stop_threads(_: object) -> Deferred[Any] | None:
            self._threadpool.stop()
            return stopped

        return released.addBoth(stop_threads)
