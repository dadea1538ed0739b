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

from camserve._errors import ConfigError
from camserve._frame import Frame
from camserve._multipart import BOUNDARY, CONTENT_TYPE, encode_part
from camserve.access._site import CamserveSite
from camserve.camera._capture import CameraEnded, ThreadedCameraSource
from camserve.camera._events import CameraEvent
from camserve.camera._frame_queue import CameraClosed, FrameQueue
from camserve.camera._handles import CameraHandle
from camserve.camera._hub import CameraHub
from camserve.camera._service import CameraService
from camserve.camera._states import CameraUnavailable, HubState
from camserve.cameras._registry import driver_names, find_driver, make_camera
from camserve.cameras.emulated import EmulatedCamera
from camserve.cameras.mjpeg import MJPEGRelay
from camserve.cameras.opencv import OpenCVCamera
from camserve.cameras.pi import PiCamera
from camserve.cameras.picamera2 import Picamera2Camera
from camserve.cameras.v4l2 import V4L2Camera
from camserve.config._server_config import ServerConfig
from camserve.interfaces import (
    THUMBNAIL,
    VIEWER,
    ICamera,
    IDroppedFrames,
    IEveryFrame,
    IFeed,
    IFrameSink,
    IFrameSource,
    IHealthDetails,
    IKeepAliveSink,
)
from camserve.streams._multi_viewer import MultiViewer
from camserve.streams._viewer import StreamViewer
from camserve.web._camera_app import camera_resource
from camserve.web._server_app import service_resource

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
    "IFeed",
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
