"""
The wall's synced playback (C{static/wall.js}) in a real browser, on a real
C{twistd camserve} that records two emulated cameras: the wall's timeline
shows, a drag on it to an earlier time plays both cameras back from then
over the grid's one connection (each tile's picture a frame captured then,
by its C{X-Timestamp}, within a frame of the other's), pause freezes both,
a step moves to the next frame of either, and LIVE returns both to their
live frames.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import pytest
from browsing import needs_chromium, open_window, serving, tile, wait_for

if TYPE_CHECKING:
    from collections.abc import Iterator

    from browsing import Browse, Server
    from playwright.sync_api import Browser, Page

pytestmark = needs_chromium

CONFIG = """
[server]
endpoints = ["{endpoint}"]
recordings_dir = "recordings"
""" + "".join(
    f"""
[[cameras]]
name = "{name}"
driver = "emulated"
fps = 10
width = 320
height = 240
record = "continuous"
"""
    for name in ("porch", "yard")
)
INTERVAL = 0.1
"""Seconds between two frames of either camera."""


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """
    A server of cameras C{porch} and C{yard}, both recorded all the time,
    without logins.
    """
    with serving(tmp_path_factory.mktemp("wall-sync"), CONFIG) as server:
        yield server


def stamps(page: Page) -> dict[str, float]:
    """
    The capture time of the picture on each tile, by camera.
    """
    found: dict[str, str] = page.evaluate(
        """Object.fromEntries([...document.querySelectorAll(".tile")]
             .map((tile) => [tile.dataset.camera, tile.dataset.timestamp || "0"]))"""
    )
    return {name: float(stamp) for name, stamp in found.items()}


def drag_to_time(page: Page, when: float, span: float) -> None:
    """
    Drag on the wall's timeline, C{span} seconds across and following now,
    from 10 seconds before time C{when} to where it shows C{when}, and let
    go.
    """
    box = page.locator("#wall-canvas").bounding_box()
    assert box is not None
    right: float = page.evaluate("Date.now() / 1000") + span * 0.02
    y = box["y"] + box["height"] / 2

    def x(at: float) -> float:
        return box["x"] + box["width"] * (1 - (right - at) / span)

    page.mouse.move(x(when - 10), y)
    page.mouse.down()
    page.mouse.move(x(when), y)
    page.mouse.up()


def test_seek_pause_and_live(recording: Server, browser: Browse) -> None:
    """
    A drag on the wall's timeline to 6 seconds ago shows on both tiles
    frames captured then, within a frame interval of each other; Pause
    freezes both; a step forward shows the next frame of either; LIVE
    shows both cameras' live frames again.
    """
    server = recording
    server.wait_until(
        lambda: all(
            ranges and ranges[-1]["end"] - ranges[-1]["start"] > 10
            for ranges in (
                server.api(f"api/cameras/{name}/recordings")
                for name in ("porch", "yard")
            )
        ),
        "both cameras have recorded 10 s",
    )

    def work(browser: Browser) -> dict[str, Any]:
        context = open_window(browser, "desktop")
        page = context.new_page()
        try:
            page.goto(server.url)
            page.locator("#wall-canvas").wait_for()
            assert page.locator("#wall-badge").inner_text() == "LIVE"
            for _ in range(6):
                page.locator("#wall-zoom-in").click()
            assert page.locator("#wall-span").inner_text() == "1 min across"
            target = time.time() - 6
            drag_to_time(page, target, 60)
            wait_for(
                page,
                lambda: all(
                    0 < stamp < time.time() - 4 for stamp in stamps(page).values()
                ),
                "both tiles show recorded frames",
            )
            played = stamps(page)
            badge = page.locator("#wall-badge").inner_text()
            tile_badge = page.locator(f"{tile('porch')} .badge").inner_text()
            page.locator("#wall-play").click()
            wait_for(
                page,
                lambda: page.locator("#wall-badge").inner_text() == "PAUSED",
                "it pauses",
            )
            page.wait_for_timeout(500)
            paused = stamps(page)
            page.wait_for_timeout(1500)
            still = stamps(page)
            page.locator("#wall-step-forward").click()
            wait_for(page, lambda: stamps(page) != still, "a step forward")
            stepped = stamps(page)
            page.locator("#wall-live").click()
            wait_for(
                page,
                lambda: all(
                    stamp > time.time() - 1.5 for stamp in stamps(page).values()
                ),
                "both tiles show live frames",
            )
            return {
                "target": target,
                "played": played,
                "badge": badge,
                "tile_badge": tile_badge,
                "paused": paused,
                "still": still,
                "stepped": stepped,
                "live_badge": page.locator("#wall-badge").inner_text(),
            }
        finally:
            context.close()

    seen = browser(work)
    assert seen["badge"] == "PLAYBACK"
    assert seen["tile_badge"].lower() == "playback"
    for stamp in seen["played"].values():
        assert seen["target"] - 0.5 < stamp < seen["target"] + 2
    paused = seen["paused"]
    assert abs(paused["porch"] - paused["yard"]) < INTERVAL + 1e-3
    assert seen["still"] == paused
    # A step shows the next frame of either camera, the other's stays.
    stepped = seen["stepped"]
    assert 0 < max(stepped.values()) - max(paused.values()) <= INTERVAL + 1e-3
    assert min(stepped.values()) in paused.values()
    assert seen["live_badge"] == "LIVE"
