"""
Tests of what moved, on the camera page's timeline (C{static/activity.js}),
in a real browser on a real C{twistd camserve}: over a recording with a
moving stretch (its C{.act} scores high, a motion event in
C{motion.jsonl}) and a still one (scores of 0), the timeline's canvas shows
the activity's amber bars and the event's red band over the moving
stretch, and neither over the still one; hovering the event says what it
was.
"""

from __future__ import annotations

import json
import math
import time
from typing import TYPE_CHECKING, Any

import pytest
from browsing import needs_chromium, open_window, serving
from recorded import frames_at, write_segment
from test_activity_route import write_activity
from test_timeline import CONFIG

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from browsing import Browse, Server
    from playwright.sync_api import Browser, Page

pytestmark = needs_chromium


MOVING = 120
"""Seconds of the moving stretch, which starts the recording."""
STILL = (240, 360)
"""When the still stretch starts and ends, after the moving one starts."""
EVENT = (20, 100, 0.6)
"""The motion event's start and end, after the moving stretch starts, and
its peak."""


def record(folder: Path, start: float) -> None:
    """
    Camera C{porch}'s recording in C{folder}, from C{start}: a moving
    stretch (a score of 0.5 each second) with a motion event, then a still
    one (0 each second), each a segment of a frame a second.
    """
    moving = write_segment(folder, frames_at(start, MOVING + 1, fps=1))
    write_activity(moving, [0.5] * (MOVING + 1))
    first, last = STILL
    still = write_segment(
        folder, frames_at(start + first, last - first + 1, fps=1, first=200)
    )
    write_activity(still, [0.0] * (last - first + 1))
    began, ended, peak = EVENT
    event = {"start": start + began, "end": start + ended, "peak": peak}
    (folder / "porch" / "motion.jsonl").write_text(json.dumps(event) + "\n")


@pytest.fixture(scope="module")
def recorded(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Server, float]]:
    """
    A server of camera C{porch} with a recording that began 25 minutes
    ago, and when it began.
    """
    folder = tmp_path_factory.mktemp("activity")
    start = math.floor(time.time()) - 1500
    record(folder / "recordings", start)
    with serving(folder, CONFIG) as server:
        yield server, start


PIXEL = """
([when, fraction]) => {
  const canvas = document.getElementById("timeline-canvas");
  const width = canvas.clientWidth;
  // The timeline shows an hour to begin with, its right edge 2% of it
  // past now.
  const right = Date.now() / 1000 + 3600 * 0.02;
  const x = width * (1 - (right - when) / 3600);
  const ratio = window.devicePixelRatio || 1;
  const y = canvas.clientHeight * fraction;
  const data = canvas.getContext("2d")
    .getImageData(Math.round(x * ratio), Math.round(y * ratio), 1, 1).data;
  return [data[0], data[1], data[2]];
}
"""
"""The colour on the timeline at a time and a fraction of its height."""

AMBER = "([r, g, b]) => r > 200 && g > 150 && b < 80"
RED = "([r, g, b]) => r > 200 && g < 100 && b < 100"


def wait_for_colour(page: Page, when: float, fraction: float, test: str) -> None:
    """
    Wait until the colour on the timeline at time C{when}, C{fraction} of
    its height down, passes C{test} (a JavaScript function of it).
    """
    page.wait_for_function(
        f"(asked) => ({test})(({PIXEL})(asked))", arg=[when, fraction]
    )


def colour(page: Page, when: float, fraction: float) -> list[int]:
    """
    The colour on the timeline at time C{when}, C{fraction} of its height
    down.
    """
    found: list[int] = page.evaluate(PIXEL, [when, fraction])
    return found


@pytest.mark.parametrize("window", ["desktop", "phone"])
def test_activity_and_events_are_drawn(
    recorded: tuple[Server, float], browser: Browse, window: str
) -> None:
    """
    The timeline shows amber activity in the recorded band and a red band
    along the bottom over the motion event; over the still stretch, the
    recorded band is green throughout, with nothing along the bottom.
    Hovering the event names its times and peak.
    """
    server, start = recorded
    began, ended, _ = EVENT
    during = start + (began + ended) / 2
    still = start + sum(STILL) / 2

    def work(browser: Browser) -> dict[str, Any]:
        context = open_window(browser, window)
        page = context.new_page()
        try:
            page.goto(server.url + "cameras/porch/")
            page.locator("#timeline-canvas").wait_for()
            wait_for_colour(page, during, 0.89, RED)
            wait_for_colour(page, during, 0.72, AMBER)
            box = page.locator("#timeline-canvas").bounding_box()
            assert box is not None
            x = page.evaluate(
                """(when) => {
                  const canvas = document.getElementById("timeline-canvas");
                  const right = Date.now() / 1000 + 3600 * 0.02;
                  return canvas.getBoundingClientRect().left
                    + canvas.clientWidth * (1 - (right - when) / 3600);
                }""",
                during,
            )
            page.mouse.move(x, box["y"] + box["height"] * 0.6)
            page.locator("#timeline").screenshot(
                path=server.folder / f"timeline-{window}.png"
            )
            return {
                "event": colour(page, during, 0.89),
                "activity": colour(page, during, 0.72),
                "still": [colour(page, still, fraction) for fraction in (0.5, 0.72)],
                "below still": colour(page, still, 0.89),
                "title": page.locator("#timeline-canvas").get_attribute("title"),
                "legend": page.locator(".timeline .legend").inner_text(),
            }
        finally:
            context.close()

    seen = browser(work)
    # The event's red (#ea4335) and the activity's amber (#fbbc04).
    assert seen["event"] == [234, 67, 53]
    assert seen["activity"] == [251, 188, 4]
    # The recorded band's green (#34a853) over the still stretch, and the
    # timeline's background (#1c1f24) below it.
    assert seen["still"] == [[52, 168, 83], [52, 168, 83]]
    assert seen["below still"] == [28, 31, 36]
    title = seen["title"]
    assert title.startswith("motion ")
    assert title.endswith(", peak 60%")
    assert "recorded" in seen["legend"]
    assert "motion" in seen["legend"]
