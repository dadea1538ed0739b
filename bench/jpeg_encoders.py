#!/usr/bin/env python3
"""
Which JPEG encoder the opencv driver should use: OpenCV's C{cv2.imencode}
against simplejpeg (a thin binding of libjpeg-turbo), both on the same BGR
images at the same quality and chroma subsampling (4:2:0, OpenCV's default),
each result taken as C{bytes} as the driver needs it.

For each size it prints the median time per encode on one thread, the JPEG
size, and the throughput of two threads encoding at once over one thread's:
about 2 means the encoder releases the GIL, so a capture thread encoding
does not hold up the reactor.

    .venv/bin/pip install simplejpeg && .venv/bin/python bench/jpeg_encoders.py
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
from collections.abc import Callable

import cv2
import numpy as np

Encoder = Callable[[np.ndarray, int], bytes]

SIZES = ((640, 480), (1280, 720), (1920, 1080))


def scene(width: int, height: int) -> np.ndarray:
    """
    A BGR picture a camera might see: smooth gradients, shapes, text and a
    little sensor noise (all noise would make every encoder look alike).
    """
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    u, v = x / width, y / height
    image = np.stack(
        [
            120 + 80 * np.sin(2 * np.pi * (u + 0.5 * v)),
            110 + 70 * np.cos(2 * np.pi * (2 * v - u)),
            130 + 60 * np.sin(2 * np.pi * np.hypot(u - 0.4, v - 0.6) * 2),
        ],
        axis=-1,
    )
    image += np.random.default_rng(7).normal(0, 4, image.shape).astype(np.float32)
    pixels: np.ndarray = np.clip(image, 0, 255).astype(np.uint8)
    scale = height / 480
    for index in range(12):
        centre = (int(width * (index + 0.5) / 12), int(height * (0.3 + 0.04 * index)))
        colour = (40 * index % 256, 255 - 20 * index, 90 + 10 * index)
        cv2.circle(pixels, centre, int(30 * scale), colour, -1, cv2.LINE_AA)
    cv2.putText(
        pixels,
        "camserve 12:34:56",
        (int(20 * scale), int(height * 0.85)),
        cv2.FONT_HERSHEY_SIMPLEX,
        2 * scale,
        (255, 255, 255),
        max(1, int(3 * scale)),
        cv2.LINE_AA,
    )
    return pixels


def opencv_encoder() -> Encoder:
    """
    C{cv2.imencode} at the given quality, as bytes.
    """

    def encode(image: np.ndarray, quality: int) -> bytes:
        ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
        if not ok:
            raise RuntimeError("cv2.imencode failed")
        return encoded.tobytes()

    return encode


def simplejpeg_encoder() -> Encoder | None:
    """
    simplejpeg's C{encode_jpeg} on BGR at 4:2:0, or L{None} if it is not
    installed.
    """
    try:
        import simplejpeg  # type: ignore[import-untyped]  # noqa: PLC0415 - optional: measured only if installed; it ships no type hints
    except ImportError:
        return None

    def encode(image: np.ndarray, quality: int) -> bytes:
        data: bytes = simplejpeg.encode_jpeg(
            image, quality=quality, colorspace="BGR", colorsubsampling="420"
        )
        return data

    return encode


def per_encode(
    encode: Encoder, image: np.ndarray, quality: int, seconds: float
) -> float:
    """
    The median seconds per encode over batches run for about C{seconds}.
    """
    for _ in range(3):
        encode(image, quality)
    batches: list[float] = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline or len(batches) < 5:
        started = time.perf_counter()
        for _ in range(5):
            encode(image, quality)
        batches.append((time.perf_counter() - started) / 5)
    return statistics.median(batches)


def parallel_speedup(
    encode: Encoder, image: np.ndarray, quality: int, seconds: float
) -> float:
    """
    Encodes a second by two threads at once over encodes a second by one.
    """

    def rate(threads: int) -> float:
        counts = [0] * threads
        deadline = time.perf_counter() + seconds

        def work(slot: int) -> None:
            while time.perf_counter() < deadline:
                encode(image, quality)
                counts[slot] += 1

        started = time.perf_counter()
        workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        return sum(counts) / (time.perf_counter() - started)

    return rate(2) / rate(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quality", type=int, default=80)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    encoders: dict[str, Encoder] = {"cv2.imencode": opencv_encoder()}
    simple = simplejpeg_encoder()
    if simple is None:
        print("simplejpeg is not installed: measuring cv2.imencode alone")
    else:
        encoders["simplejpeg"] = simple
    print(f"OpenCV {cv2.__version__}, quality {args.quality}, 4:2:0")
    print(f"{'size':>10} {'encoder':<13} {'ms/frame':>9} {'KB':>7} {'2 threads':>10}")
    for width, height in SIZES:
        image = scene(width, height)
        times = {}
        for name, encode in encoders.items():
            times[name] = per_encode(encode, image, args.quality, args.seconds)
            size = len(encode(image, args.quality)) / 1024
            speedup = parallel_speedup(encode, image, args.quality, args.seconds)
            print(
                f"{width:>5}x{height:<4} {name:<13} {times[name] * 1000:>9.2f}"
                f" {size:>7.1f} {speedup:>9.2f}x"
            )
        if simple is not None:
            ratio = times["cv2.imencode"] / times["simplejpeg"]
            print(f"{'':>10} simplejpeg is {ratio:.2f}x as fast as cv2.imencode")


if __name__ == "__main__":
    main()
