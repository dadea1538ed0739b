"""
camserve: a Twisted camera streaming server.

Cameras stream to browsers as Motion JPEG. Each camera has a L{CameraHub}
fed by a frame source: a blocking driver's C{frames()} run in a capture
thread, or an asynchronous driver on the reactor; L{camera_resource} serves a hub over HTTP; L{CameraService} owns
hubs and their capture threads.
"""

from ._capture import CameraEnded, ThreadedCameraSource
from ._config import ConfigError, ServerConfig
from ._frame import Frame
from ._hub import CameraHub, CameraUnavailable, HubState
from ._multipart import BOUNDARY, CONTENT_TYPE, encode_part
from ._registry import driver_names, find_driver, make_camera
from ._service import CameraService
from ._viewer import StreamViewer
from ._web import camera_resource
from .cameras.emulated import EmulatedCamera
from .interfaces import ICamera, IFrameSink, IFrameSource, IHealthDetails

__all__ = [
    "BOUNDARY",
    "CONTENT_TYPE",
    "CameraEnded",
    "CameraHub",
    "CameraService",
    "CameraUnavailable",
    "ConfigError",
    "EmulatedCamera",
    "Frame",
    "HubState",
    "ICamera",
    "IFrameSink",
    "IFrameSource",
    "IHealthDetails",
    "ServerConfig",
    "StreamViewer",
    "ThreadedCameraSource",
    "camera_resource",
    "driver_names",
    "encode_part",
    "find_driver",
    "make_camera",
]
