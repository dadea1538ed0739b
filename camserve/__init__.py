"""
camserve: a Twisted camera streaming server.

Cameras stream to browsers as Motion JPEG. Each camera has a L{CameraHub}
fed by a frame source: a blocking driver's C{frames()} run in a capture
thread, or an asynchronous driver on the reactor. L{camera_resource} serves
a hub over HTTP, L{service_resource} every camera of a L{CameraService},
and L{CamserveSite} serves either with limits on connections and requests,
which owns hubs and their capture threads. The
built-in drivers (L{EmulatedCamera}, L{MJPEGRelay}, L{OpenCVCamera},
L{V4L2Camera}, L{PiCamera}, L{Picamera2Camera}) import their libraries only
when used.
"""

from ._capture import CameraEnded, ThreadedCameraSource
from ._config import ConfigError, ServerConfig
from ._events import CameraEvent
from ._frame import Frame
from ._frame_queue import CameraClosed, FrameQueue
from ._handles import CameraHandle
from ._hub import CameraHub, CameraUnavailable, HubState
from ._multi_viewer import MultiViewer
from ._multipart import BOUNDARY, CONTENT_TYPE, encode_part
from ._registry import driver_names, find_driver, make_camera
from ._server_app import service_resource
from ._service import CameraService
from ._site import CamserveSite
from ._viewer import StreamViewer
from ._web import camera_resource
from .cameras.emulated import EmulatedCamera
from .cameras.mjpeg import MJPEGRelay
from .cameras.opencv import OpenCVCamera
from .cameras.pi import PiCamera
from .cameras.picamera2 import Picamera2Camera
from .cameras.v4l2 import V4L2Camera
from .interfaces import (
    THUMBNAIL,
    VIEWER,
    ICamera,
    IDroppedFrames,
    IEveryFrame,
    IFrameSink,
    IFrameSource,
    IHealthDetails,
    IKeepAliveSink,
)

__all__ = [
    "BOUNDARY",
    "CONTENT_TYPE",
    "THUMBNAIL",
    "VIEWER",
    "CameraClosed",
    "CameraEnded",
    "CameraEvent",
    "CameraHandle",
    "CameraHub",
    "CameraService",
    "CameraUnavailable",
    "CamserveSite",
    "ConfigError",
    "EmulatedCamera",
    "Frame",
    "FrameQueue",
    "HubState",
    "ICamera",
    "IDroppedFrames",
    "IEveryFrame",
    "IFrameSink",
    "IFrameSource",
    "IHealthDetails",
    "IKeepAliveSink",
    "MJPEGRelay",
    "MultiViewer",
    "OpenCVCamera",
    "PiCamera",
    "Picamera2Camera",
    "ServerConfig",
    "StreamViewer",
    "ThreadedCameraSource",
    "V4L2Camera",
    "camera_resource",
    "driver_names",
    "encode_part",
    "find_driver",
    "make_camera",
    "service_resource",
]
