#!/usr/bin/env python3
"""
The benchmark's standard work: 30 distinct 640x480 JPEGs of about 51 KB.

Each frame is a drifting pattern of coloured bands with seeded noise (noise
is what makes a JPEG of this size: it sets the entropy) and the frame's
number drawn large, so any two frames differ and a stream can be checked by
eye. The noise level is tuned on the first frame so that the JPEGs come out
at the target size whatever the OpenCV version. Files are named
C{frame_000.jpg} ... so that name order is frame order (camserve's emulated
camera cycles a folder in name order).

    .venv/bin/python bench/make_frames.py --out /tmp/frames
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np

COUNT, WIDTH, HEIGHT, QUALITY, KB = 30, 640, 480, 80, 51.0
"""The standard work: how many frames, their size, JPEG quality, mean KB."""


def _pattern(index: int, count: int, width: int, height: int) -> np.ndarray:
    phase = 2 * np.pi * index / count
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    u, v = x / width, y / height
    red = 128 + 90 * np.sin(2 * np.pi * (2 * u + v) + phase)
    green = 128 + 90 * np.sin(2 * np.pi * (u - 3 * v) - phase)
    blue = 128 + 90 * np.cos(2 * np.pi * np.hypot(u - 0.5, v - 0.5) * 3 + phase)
    return np.stack([blue, green, red], axis=-1)


def _render(
    index: int,
    *,
    count: int,
    width: int,
    height: int,
    noise: float,
    quality: int,
) -> bytes:
    rng = np.random.default_rng(1000 + index)
    image = _pattern(index, count, width, height)
    image += rng.normal(0.0, noise, image.shape).astype(np.float32)
    pixels = np.clip(image, 0, 255).astype(np.uint8)
    text = f"{index:02d}"
    scale = height / 100
    thickness = max(2, height // 40)
    (text_width, text_height), _ = cv2.getTextSize(
        text, cv2.FONT_HERSHEY_DUPLEX, scale, thickness
    )
    origin = ((width - text_width) // 2, (height + text_height) // 2)
    for colour, extra in (((0, 0, 0), 8), ((255, 255, 255), 0)):
        cv2.putText(
            pixels,
            text,
            origin,
            cv2.FONT_HERSHEY_DUPLEX,
            scale,
            colour,
            thickness + extra,
            cv2.LINE_AA,
        )
    ok, encoded = cv2.imencode(".jpg", pixels, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError("OpenCV could not encode a frame")
    data: bytes = encoded.tobytes()
    return data


def _tune_noise(width: int, height: int, quality: int, kb: float, count: int) -> float:
    """The noise level that makes frame 0 about C{kb} KB (bisection)."""
    low, high = 0.0, 40.0
    for _ in range(14):
        middle = (low + high) / 2
        size = (
            len(
                _render(
                    0,
                    count=count,
                    width=width,
                    height=height,
                    noise=middle,
                    quality=quality,
                )
            )
            / 1024
        )
        if size < kb:
            low = middle
        else:
            high = middle
    return (low + high) / 2


def make_frames(
    out: Path,
    *,
    count: int = COUNT,
    width: int = WIDTH,
    height: int = HEIGHT,
    quality: int = QUALITY,
    kb: float = KB,
) -> dict[str, object]:
    """
    Write the frames to C{out} (made if missing; old C{*.jpg} removed), unless
    it already holds the same set, and describe them.
    """
    spec: dict[str, object] = {"count": count, "width": width, "height": height}
    spec.update(quality=quality, kb=kb)
    stamp = out / "frames.json"
    if stamp.exists():
        info: dict[str, object] = json.loads(stamp.read_text())
        if info.get("spec") == spec and len(list(out.glob("*.jpg"))) == count:
            return info
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.jpg"):
        old.unlink()
    noise = _tune_noise(width, height, quality, kb, count)
    sizes = []
    for index in range(count):
        data = _render(
            index, count=count, width=width, height=height, noise=noise, quality=quality
        )
        if data[:2] != b"\xff\xd8" or data[-2:] != b"\xff\xd9":
            raise RuntimeError("a frame is not a complete JPEG")
        (out / f"frame_{index:03d}.jpg").write_bytes(data)
        sizes.append(len(data))
    if len(set(sizes)) < 2:
        raise RuntimeError("frames came out identical")
    info = {
        "spec": spec,
        "noise": round(noise, 3),
        "kb_min": round(min(sizes) / 1024, 1),
        "kb_mean": round(sum(sizes) / len(sizes) / 1024, 1),
        "kb_max": round(max(sizes) / 1024, 1),
    }
    stamp.write_text(json.dumps(info, indent=1))
    return info


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--count", type=int, default=COUNT)
    parser.add_argument("--width", type=int, default=WIDTH)
    parser.add_argument("--height", type=int, default=HEIGHT)
    parser.add_argument("--quality", type=int, default=QUALITY)
    parser.add_argument("--kb", type=float, default=KB)
    args = parser.parse_args()
    info = make_frames(
        args.out,
        count=args.count,
        width=args.width,
        height=args.height,
        quality=args.quality,
        kb=args.kb,
    )
    print(
        f"{args.count} frames in {args.out}: {info['kb_min']} / {info['kb_mean']} /"
        f" {info['kb_max']} KB (min / mean / max)"
    )


if __name__ == "__main__":
    main()
