# -*- test-case-name: tests.test_v4l2 -*-
"""
Encoding a YUYV (packed YUV 4:2:2) capture buffer as a JPEG.

OpenCV converts to BGR and encodes. C{bench/yuyv_encode.py} measured that at
half the time of handing the Y, U and V planes straight to libjpeg-turbo
through simplejpeg, and a little faster even if the planes skip being
stretched from the camera's limited range to JPEG's full range: splitting
the packed planes out with numpy costs more than OpenCV's vectorised
conversion, which stretches the range for free. OpenCV's default 4:2:0
chroma also makes the JPEGs about a fifth smaller than 4:2:2 planes would,
which every viewer's connection carries.
"""

from __future__ import annotations

import cv2
import numpy as np


def encode_yuyv(
    data: bytes, *, width: int, height: int, bytes_per_line: int, quality: int
) -> bytes | None:
    """
    C{data} as a JPEG, or L{None} if it holds less than a whole frame.

    @param data: the buffer: C{height} rows of C{bytes_per_line} bytes, each
        starting with C{width} pixels as C{Y0 U Y1 V} for every two pixels,
        in ITU-R BT.601 limited range, as V4L2 defines YUYV.
    @param bytes_per_line: the row stride the device reported, which may
        include padding; 0 (as some drivers report) means no padding.
    @param quality: JPEG quality, 1 to 100.
    """
    stride = bytes_per_line or 2 * width
    if len(data) < stride * height:
        # A buffer cut short (a USB transfer lost packets): encoding it would
        # show the rest of the picture as stale or garbage rows.
        return None
    rows = np.frombuffer(data, np.uint8, count=stride * height).reshape(height, stride)
    # A view, not a copy: padding is skipped through the row stride.
    packed = rows[:, : 2 * width].reshape(height, width, 2)
    bgr = cv2.cvtColor(packed, cv2.COLOR_YUV2BGR_YUYV)
    ok, encoded = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError(f"OpenCV could not encode a {width}x{height} frame")
    return encoded.tobytes()
