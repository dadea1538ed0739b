#!/usr/bin/env python3
"""
What encoding one YUYV frame as a JPEG costs the v4l2 driver, by encoder.

The v4l2 driver encodes only when a camera offers no MJPEG, once per frame,
in its capture thread. Candidates, all at quality 80 on one core:

  - C{opencv}: what the driver does (L{camserve.cameras._yuyv.encode_yuyv}):
    C{cvtColor} from packed YUYV to BGR, then C{imencode}, which converts
    back to YCbCr inside libjpeg-turbo.
  - C{simplejpeg}: the Y, U and V planes split out with numpy, stretched
    from the camera's limited range to JPEG's full range with a lookup
    table, and handed to libjpeg-turbo as planes, skipping both colour
    conversions. Needs C{pip install simplejpeg}.
  - C{simplejpeg-raw}: the same without the range stretch: the floor of the
    planes approach, though its greys come out washed out.

The frames are a smooth colour field with camera-like noise, as YUYV.

    PYTHONPATH=. .venv/bin/python bench/yuyv_encode.py [--frames 200]

(C{PYTHONPATH=.} measures the checkout rather than an installed camserve.)
"""

from __future__ import annotations

import argparse
import importlib
import time
from collections.abc import Callable

import cv2
import numpy as np

from camserve.cameras._yuyv import encode_yuyv

SIZES = ((640, 480), (1280, 720), (1920, 1080))
QUALITY = 80

Encoder = Callable[[bytes, int, int], bytes]


def _yuyv_frame(width: int, height: int) -> bytes:
    """
    A camera-like picture as a YUYV buffer in BT.601 limited range.
    """
    rng = np.random.default_rng(1)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    rgb = np.stack(
        [
            0.5 + 0.35 * np.sin(x / 37),
            0.5 + 0.35 * np.cos(y / 23),
            0.5 + 0.25 * np.sin((x + y) / 51),
        ],
        axis=-1,
    )
    rgb = np.clip(rgb + rng.normal(0, 0.05, rgb.shape), 0, 1)
    red, green, blue = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    luma = 16 + 65.481 * red + 128.553 * green + 24.966 * blue
    cb = 128 - 37.797 * red - 74.203 * green + 112.0 * blue
    cr = 128 + 112.0 * red - 93.786 * green - 18.214 * blue
    packed = np.empty((height, width * 2), np.uint8)
    packed[:, 0::2] = np.round(luma)
    # Each pair of pixels shares the first pixel's chroma.
    packed[:, 1::4] = np.round(cb[:, 0::2])
    packed[:, 3::4] = np.round(cr[:, 0::2])
    return packed.tobytes()


def _opencv(data: bytes, width: int, height: int) -> bytes:
    jpeg = encode_yuyv(
        data, width=width, height=height, bytes_per_line=0, quality=QUALITY
    )
    if jpeg is None:
        raise RuntimeError("the benchmark frame is short")
    return jpeg


def _simplejpeg_encoders() -> dict[str, Encoder]:
    try:
        # Imported by name: optional, and it ships no type hints.
        simplejpeg = importlib.import_module("simplejpeg")
    except ImportError:
        return {}
    # Limited range (Y 16 to 235, U and V 16 to 240) to JPEG's full range.
    levels = np.arange(256)
    stretch_y = np.clip(np.round((levels - 16) * 255 / 219), 0, 255).astype(np.uint8)
    stretch_uv = np.clip(np.round((levels - 128) * 255 / 224 + 128), 0, 255).astype(
        np.uint8
    )

    def planes(data: bytes, width: int, height: int, *, stretch: bool) -> bytes:
        packed = np.frombuffer(data, np.uint8).reshape(height, width * 2)
        y, u, v = packed[:, 0::2], packed[:, 1::4], packed[:, 3::4]
        if stretch:
            y, u, v = stretch_y[y], stretch_uv[u], stretch_uv[v]
        else:
            y, u, v = (np.ascontiguousarray(plane) for plane in (y, u, v))
        return bytes(simplejpeg.encode_jpeg_yuv_planes(y, u, v, QUALITY))

    return {
        "simplejpeg": lambda data, w, h: planes(data, w, h, stretch=True),
        "simplejpeg-raw": lambda data, w, h: planes(data, w, h, stretch=False),
    }


def _time(encode: Encoder, data: bytes, width: int, height: int, frames: int) -> float:
    """
    Median seconds per frame over C{frames} encodes, after a warm-up.
    """
    for _ in range(5):
        encode(data, width, height)
    times = []
    for _ in range(frames):
        started = time.perf_counter()
        encode(data, width, height)
        times.append(time.perf_counter() - started)
    return float(np.median(times))


def main() -> None:
    """
    Print the cost of each encoder at each size, as a Markdown table.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--frames", type=int, default=200)
    arguments = parser.parse_args()
    cv2.setNumThreads(1)
    encoders: dict[str, Encoder] = {"opencv": _opencv, **_simplejpeg_encoders()}
    if len(encoders) == 1:
        print("simplejpeg is not installed: measuring OpenCV alone\n")
    print("| size | encoder | ms per frame | frames/s on one core | KB |")
    print("|---|---|---|---|---|")
    for width, height in SIZES:
        data = _yuyv_frame(width, height)
        for name, encode in encoders.items():
            seconds = _time(encode, data, width, height, arguments.frames)
            size = len(encode(data, width, height)) / 1000
            print(
                f"| {width}x{height} | {name} | {seconds * 1000:.2f} "
                f"| {1 / seconds:.0f} | {size:.0f} |"
            )


if __name__ == "__main__":
    main()
