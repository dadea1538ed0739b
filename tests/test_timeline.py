"""
Tests of the camera page's timeline (C{static/timeline.js}) in a real
browser, on a real C{twistd camserve} that records an emulated camera on
demand: the page's Record button records, a drag on the timeline plays
the recording from then in the page's picture (an earlier frame than
live, by its C{X-Timestamp}), pause freezes the picture, the step
buttons move it a frame, a span marked exports, and LIVE returns to the live stream; at a
desktop's size and a phone's.
"""

from __future__ import annotations

import time
import urllib.request
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin

import pytest
from browsing import needs_chromium, open_window, serving, wait_for

if TYPE_CHECKING:
    from collections.abc import Iterator

    from browsing import Browse, Server
    from playwright.sync_api import Browser, Page

pytestmark = needs_chromium

CONFIG = """
[server]
endpoints = ["{endpoint}"]
recordings_dir = "recordings"

[[cameras]]
name = "porch"
driver = "emulated"
fps = 10
width = 320
height = 240
record = "on_demand"
"""


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """
    A server of camera C{porch}, recorded on demand, without logins.
    """
    with serving(tmp_path_factory.mktemp("timeline"), CONFIG) as server:
        yield server


def shown(page: Page) -> float | None:
    """
    The capture time of the recorded frame the page's picture shows, or
    L{None} while it shows the live stream.
    """
    stamp = page.evaluate("document.getElementById('stream').dataset.timestamp")
    return None if stamp is None else float(stamp)


def drag_to_time(page: Page, when: float) -> None:
    """
    Drag on the timeline from 10 seconds before time C{when} to where it
    shows C{when}, and let go.
    """
    box = page.locator("#timeline-canvas").bounding_box()
    assert box is not None
    # The timeline's right edge is 2% of its span past now, which it
    # follows.
    span = 60.0
    right: float = page.evaluate("Date.now() / 1000") + span * 0.02
    y = box["y"] + box["height"] / 2

    def x(at: float) -> float:
        return box["x"] + box["width"] * (1 - (right - at) / span)

    page.mouse.move(x(when - 10), y)
    page.mouse.down()
    page.mouse.move(x(when - 5), y)
    page.mouse.move(x(when), y)
    page.mouse.up()


def record_a_while(page: Page, server: Server) -> float:
    """
    Record the camera for 4 seconds with the page's Record button, then
    stop; the time its recording ends.
    """

    def state() -> str:
        found: str = server.api("api/cameras/porch")["recording"]["state"]
        return found

    record = page.locator("#record")
    record.click()
    wait_for(page, lambda: state() == "recording", "it records")
    wait_for(
        page,
        lambda: record.inner_text() == "Stop recording",
        "the button says it records",
    )
    started = time.time()
    page.wait_for_timeout(4000)
    record.click()
    wait_for(page, lambda: state() == "off", "it stops")
    wait_for(page, lambda: record.inner_text() == "Record", "the button says so")
    # (The window checked before recorded a moment ago, maybe without a
    # gap to this.)
    ranges = server.api("api/cameras/porch/recordings")
    first, last = ranges[-1]["start"], ranges[-1]["end"]
    assert first < started + 1 < started + 3 < last
    last_seen: float = last
    return last_seen


def pause_step_and_go_live(page: Page) -> dict[str, Any]:
    """
    Pause the playback, step a frame forward and back, and go back to
    live; what the page showed meanwhile.
    """
    page.locator("#play").click()
    wait_for(
        page,
        lambda: page.locator("#mode-badge").inner_text() == "PAUSED",
        "it pauses",
    )
    page.wait_for_timeout(300)
    paused_at = shown(page)
    picture = page.locator("#stream").screenshot()
    page.wait_for_timeout(1500)
    still = shown(page) == paused_at and (
        page.locator("#stream").screenshot() == picture
    )
    page.locator("#step-forward").click()
    wait_for(page, lambda: shown(page) != paused_at, "a step forward")
    forward = shown(page)
    page.locator("#step-back").click()
    wait_for(page, lambda: shown(page) != forward, "a step back")
    back = shown(page)
    page.locator("#mark-start").click()
    page.locator("#step-forward").click()
    wait_for(page, lambda: shown(page) == forward, "a step forward again")
    page.locator("#mark-end").click()
    exported = page.locator("#export")
    assert exported.is_visible()
    export = exported.get_attribute("href")
    page.locator("#live").click()
    wait_for(page, lambda: shown(page) is None, "the live stream shows")
    wait_for(
        page,
        lambda: "video_feed" in page.evaluate("document.getElementById('stream').src"),
        "the picture is the live stream",
    )
    live_picture = page.locator("#stream").screenshot()
    wait_for(
        page,
        lambda: page.locator("#stream").screenshot() != live_picture,
        "the live picture moves",
    )
    return {
        "paused_at": paused_at,
        "still": still,
        "forward": forward,
        "back": back,
        "export": urljoin(page.url, export),
        "badge": page.locator("#mode-badge").inner_text(),
        "live_pause": page.locator("#pause").is_visible(),
    }


@pytest.mark.parametrize("window", ["desktop", "phone"])
def test_record_seek_pause_step_and_live(
    recording: Server, browser: Browse, window: str
) -> None:
    """
    On the camera page, Record records the camera and Stop stops it; a
    drag on the timeline to a recorded time shows the frame captured
    then; pause freezes the picture, a step forward and back moves it one
    frame; a span marked from one frame to the next exports as those two
    frames; LIVE shows the live stream again.
    """
    server = recording

    def work(browser: Browser) -> dict[str, Any]:
        context = open_window(browser, window)
        page = context.new_page()
        try:
            page.goto(server.url + "cameras/porch/")
            page.locator("#timeline-canvas").wait_for()
            assert page.locator("#mode-badge").inner_text() == "LIVE"
            last = record_a_while(page, server)
            for _ in range(6):
                page.locator("#zoom-in").click()
            assert page.locator("#span-label").inner_text() == "1 min across"
            page.locator("#speed").select_option("0.25")
            assert not page.locator("#play").is_visible()
            target = last - 2.5
            drag_to_time(page, target)
            wait_for(page, lambda: shown(page) is not None, "a recorded frame shows")
            played = shown(page)
            assert played is not None
            assert abs(played - target) < 0.6
            assert played < time.time() - 2
            assert page.locator("#mode-badge").inner_text() == "PLAYBACK"
            # The playback's Pause in place of the live picture's.
            assert page.locator("#play").is_visible()
            assert not page.locator("#pause").is_visible()
            controlled = pause_step_and_go_live(page)
            canvas = page.locator("#timeline-canvas").bounding_box()
            assert canvas is not None
            page.mouse.move(canvas["x"] + canvas["width"] / 2, canvas["y"] + 5)
            for _ in range(6):
                page.mouse.wheel(0, 100)
            wait_for(
                page,
                lambda: page.locator("#span-label").inner_text() == "4 min across",
                "the wheel zooms out",
            )
            for _ in range(10):
                page.locator("#zoom-out").click()
            # Past a day: the timeline is not capped at 24 h.
            days = page.locator("#span-label").inner_text()
            return {
                **controlled,
                "days": days,
                "fits": page.evaluate(
                    "document.documentElement.scrollWidth <= window.innerWidth"
                ),
            }
        finally:
            context.close()

    seen = browser(work)
    assert seen["still"]
    assert seen["forward"] - seen["paused_at"] == pytest.approx(0.1, abs=0.03)
    assert seen["back"] == pytest.approx(seen["paused_at"], abs=0.001)
    assert seen["badge"] == "LIVE"
    assert seen["live_pause"]
    assert seen["days"] == "3 days across"
    with urllib.request.urlopen(seen["export"], timeout=10) as response:  # noqa: S310 - our own server
        assert response.headers["x-frames"] == "2"
        assert response.read(4) == b"RIFF"
    assert seen["fits"]
