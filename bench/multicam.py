#!/usr/bin/env python3
"""
Many cameras, and the grid page: what camserve costs per camera, and what
the grid of cameras costs against plain streams.

    .venv/bin/python bench/multicam.py [--seconds 15] [--cameras 1 8 20]

Every server is C{twistd camserve --config} from this checkout, on a free
port on 127.0.0.1, with cameras that pass a folder of JPEGs through
(C{bench/make_frames.py}'s standard 640x480 frames, at 30 fps).

1. Cameras: for each count in C{--cameras}, that many cameras with four
   viewers each (one C{bench/mjpeg_load.py} per camera, all measuring the
   same window); camserve's CPU per camera and per delivered frame, the
   viewers' frame rate, and the load on the machine.

2. The grid: eight cameras in Debian's headless Chromium (Playwright), one
   page at a time: the grid page as camserve serves it (tiles fed by one
   C{/streams} connection, full frames and thumbnails), against a page of
   eight plain C{<img>} streams. For each: camserve's CPU, the bytes a
   second the browser receives (Chromium's own count, from the DevTools
   protocol), and the time from opening the page to the first picture in
   each tile (a tile never shown counts as missing).

Figures are printed, and written as JSON with C{--json FILE}.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))

from make_frames import make_frames  # noqa: E402 - after the path
from servers import Sampler, free_port  # noqa: E402

FPS = 30


def serve(
    cameras: int,
    frames: Path,
    logs: Path,
    server: dict[str, Any] | None = None,
    **camera: Any,
) -> tuple[Any, int]:
    """
    camserve serving C{cameras} passthrough cameras, each with the options
    C{camera}, and the C{[server]} options C{server}; the process and port.
    """
    port = free_port()
    options = "".join(f"{key} = {json.dumps(value)}\n" for key, value in camera.items())
    settings = "".join(
        f"{key} = {json.dumps(value)}\n" for key, value in (server or {}).items()
    )
    tables = "".join(
        f'[[cameras]]\nname = "cam{number}"\ndriver = "emulated"\n'
        f'source = "{frames}"\nfps = {FPS}\n{options}\n'
        for number in range(1, cameras + 1)
    )
    config = logs / f"cameras-{port}.toml"
    config.write_text(
        f'[server]\nendpoints = ["tcp:{port}:interface=127.0.0.1:backlog=1024"]\n'
        # Every viewer comes from 127.0.0.1.
        f"max_connections = 5000\nmax_connections_per_client = 5000\n{settings}\n"
        f"{tables}"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONDONTWRITEBYTECODE="1")
    with (logs / f"camserve-{port}.log").open("wb") as output:
        process = subprocess.Popen(
            [
                str(ROOT / ".venv" / "bin" / "twistd"),
                "--pidfile=",
                "-n",
                "camserve",
                "--config",
                str(config),
            ],
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=logs,
            env=env,
        )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            import urllib.request  # noqa: PLC0415

            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
                return process, port
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("camserve did not start")


def stop(process: Any) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()


# 1. Cameras


def cameras_run(count: int, frames: Path, logs: Path, seconds: float) -> dict[str, Any]:
    """
    C{count} cameras, four viewers each, measured over one window.
    """
    process, port = serve(count, frames, logs)
    sampler = Sampler(process.pid)
    sampler.start()
    warmup = 4.0
    t0 = time.time() + 1.0
    loads = []
    try:
        for number in range(1, count + 1):
            out = logs / f"load-{port}-{number}.json"
            loads.append(
                (
                    out,
                    subprocess.Popen(
                        [
                            sys.executable,
                            str(BENCH / "mjpeg_load.py"),
                            "--url",
                            f"http://127.0.0.1:{port}/cameras/cam{number}/video_feed",
                            "--clients",
                            "4",
                            "--procs",
                            "1",
                            "--seconds",
                            str(seconds),
                            "--warmup",
                            str(warmup),
                            "--t0",
                            str(t0),
                            "--frames-dir",
                            str(frames),
                            "--json",
                            str(out),
                            "--quiet",
                        ],
                        stdout=subprocess.DEVNULL,
                    ),
                )
            )
        for _, load in loads:
            load.wait(seconds + warmup + 120)
    finally:
        sampler.finish()
        stop(process)
    results = [json.loads(out.read_text())["aggregate"] for out, _ in loads]
    window = sampler.window(t0 + warmup, t0 + warmup + seconds)
    frames_delivered = sum(r["frames_window"] for r in results)
    fps_min = min(r["fps_min"] for r in results)
    fps_median = sorted(r["fps_median"] for r in results)[len(results) // 2]
    return {
        "cameras": count,
        "viewers": 4 * count,
        "cpu_pct": 100 * window["cpu_s"] / seconds,
        "cpu_pct_per_camera": 100 * window["cpu_s"] / seconds / count,
        "cpu_us_per_frame": 1e6 * window["cpu_s"] / frames_delivered
        if frames_delivered
        else None,
        "fps_min": fps_min,
        "fps_median": fps_median,
        "dups": sum(r["dups"] for r in results),
        "malformed": sum(r["malformed"] for r in results),
        "host_busy_pct": window["host_busy_pct"],
        "rss_mb": window["rss_peak_mb"],
    }


# 2. The grid


PLAIN_PAGE = """<!doctype html><meta charset="utf-8"><title>eight streams</title>
<style>body{{margin:0;display:grid;grid-template-columns:repeat(4,1fr);gap:8px}}
img{{width:100%;aspect-ratio:4/3;background:#000}}</style>
{images}"""

FIRST_PICTURES = """() => {
  const tiles = [...document.querySelectorAll('.tile')];
  if (tiles.length) return tiles.map((tile) => tile.classList.contains('shown'));
  return [...document.querySelectorAll('img')].map((img) => img.naturalWidth > 0);
}"""
"""Whether each tile of the grid (marked C{shown} once its first picture is
on screen) or each image of the plain page (once it has a width) shows a
picture."""


def grid_run(
    page_kind: str, frames: Path, logs: Path, seconds: float, chromium: str
) -> dict[str, Any]:
    """
    One page of eight cameras in the browser: its server CPU, the bytes a
    second it receives, and the time to its first picture in each tile.
    """
    from playwright.sync_api import sync_playwright  # noqa: PLC0415 - optional

    process, port = serve(8, frames, logs)
    base = f"http://127.0.0.1:{port}/"
    sampler = Sampler(process.pid)
    sampler.start()
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=chromium, args=["--no-sandbox", "--disable-gpu"]
            )
            context = browser.new_context(viewport={"width": 1280, "height": 720})
            page = context.new_page()
            session = context.new_cdp_session(page)
            session.send("Network.enable")
            received = [0]
            session.on(
                "Network.dataReceived",
                lambda event: received.__setitem__(
                    0, received[0] + event["encodedDataLength"]
                ),
            )
            started = time.monotonic()
            if page_kind == "plain":
                # A page of eight <img> streams, served from camserve's
                # origin so that the browser's per-host limit applies.
                page.goto(base + "healthz")
                images = "".join(
                    f'<img src="{base}cameras/cam{n}/video_feed?advance_headers=1">'
                    for n in range(1, 9)
                )
                page.set_content(PLAIN_PAGE.format(images=images), wait_until="commit")
            else:
                page.goto(base + ("" if page_kind == "grid" else f"?size={page_kind}"))
            first: list[float | None] = [None] * 8
            deadline = started + 10
            while time.monotonic() < deadline and None in first:
                shown = page.evaluate(FIRST_PICTURES)
                now = time.monotonic() - started
                for index, seen in enumerate(shown[:8]):
                    if seen and first[index] is None:
                        first[index] = now
                page.wait_for_timeout(20)
            page.wait_for_timeout(2000)
            before_bytes, window_start = received[0], time.time()
            page.wait_for_timeout(seconds * 1000)
            window_end = time.time()
            after_bytes = received[0]
            context.close()
            browser.close()
    finally:
        sampler.finish()
        stop(process)
    window = sampler.window(window_start, window_end)
    elapsed = window_end - window_start
    shown_times = [t for t in first if t is not None]
    return {
        "page": page_kind,
        "cpu_pct": 100 * window["cpu_s"] / elapsed,
        "kb_per_s": (after_bytes - before_bytes) / elapsed / 1000,
        "tiles_shown": len(shown_times),
        "first_picture_max_ms": 1000 * max(shown_times) if shown_times else None,
        "first_picture_ms": [None if t is None else round(1000 * t) for t in first],
        "host_busy_pct": window["host_busy_pct"],
    }


def report(result: dict[str, Any]) -> str:
    lines = [
        (
            "| cameras | viewers | camserve CPU | per camera | per delivered frame"
            " | viewers' fps (min / median) | dups, malformed | host busy |"
        ),
        "|---|---|---|---|---|---|---|---|",
    ]
    lines.extend(
        f"| {run['cameras']} | {run['viewers']} | {run['cpu_pct']:.1f}%"
        f" | {run['cpu_pct_per_camera']:.2f}% | {run['cpu_us_per_frame']:.1f} µs"
        f" | {run['fps_min']:.1f} / {run['fps_median']:.1f}"
        f" | {run['dups']}, {run['malformed']} | {run['host_busy_pct']:.0f}% |"
        for run in result["cameras"]
    )
    lines += [
        "",
        (
            "| page | tiles shown | first picture, slowest tile | camserve CPU"
            " | received by the browser |"
        ),
        "|---|---|---|---|---|",
    ]
    for run in result["grid"]:
        slowest = run["first_picture_max_ms"]
        lines.append(
            f"| {run['page']} | {run['tiles_shown']} of 8"
            f" | {'-' if slowest is None else f'{slowest:.0f} ms'}"
            f" | {run['cpu_pct']:.1f}% | {run['kb_per_s']:.0f} KB/s |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--cameras", type=int, nargs="*", default=[1, 8, 20])
    parser.add_argument(
        "--pages",
        nargs="*",
        default=["grid", "full", "thumbnail", "plain"],
        help="grid (as served), full, thumbnail (forced), plain (eight <img>)",
    )
    parser.add_argument("--out", type=Path, default=BENCH / "out")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    frames = args.out / "frames"
    make_frames(frames)
    result: dict[str, Any] = {"cameras": [], "grid": []}
    for count in args.cameras:
        result["cameras"].append(cameras_run(count, frames, args.out, args.seconds))
        print(f"{count} cameras done", flush=True)
    chromium = shutil.which("chromium")
    if args.pages and chromium is None:
        print("no chromium: the grid is not measured")
    elif args.pages:
        for kind in args.pages:
            result["grid"].append(
                grid_run(kind, frames, args.out, args.seconds, chromium or "")
            )
            print(f"{kind} page done", flush=True)
    print(report(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
