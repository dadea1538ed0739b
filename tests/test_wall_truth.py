"""
What the camera wall tells, in a real headless Chromium in the three
windows of L{browsing.WINDOWS}: each tile's newest frame time, stalled and
failed cameras named in the header, why a snapshot cannot be had, viewer
counts from the first second, the wall without scripts, and what a reload
of the config file did. Against the C{eight_cameras} fixture, whose
C{flaky} camera fails or stalls on demand, and for the reload a camserve of
its own with logins.
"""

from __future__ import annotations

import re
import time
from datetime import datetime
from itertools import pairwise
from typing import TYPE_CHECKING, Any

import pytest
from browsing import (
    CAMERAS,
    WINDOWS,
    login,
    needs_chromium,
    open_window,
    serving,
    tile,
    wait_for,
    wait_for_pictures,
    wall_config,
    wall_files,
)

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from browsing import Browse, Server
    from playwright.sync_api import Browser, Page

pytestmark = needs_chromium


def troubles(page: Page) -> list[list[Any]]:
    """
    What the header names as wrong: each kind, its text, and where its
    links go.
    """
    found: list[list[Any]] = page.eval_on_selector_all(
        "#troubles .trouble",
        """(all) => all.map((one) => [one.dataset.kind, one.textContent,
          [...one.querySelectorAll("a")].map((link) => link.getAttribute("href"))])""",
    )
    return found


@pytest.mark.parametrize("window", list(WINDOWS))
def test_stalled_and_failed_cameras_are_named(
    eight_cameras: Server, browser: Browse, window: str
) -> None:
    """
    Each tile shows the capture time of its newest frame. A camera that
    gives no new frame for several of its intervals (without failing)
    turns "stalled" on its tile, the header names it with a link to it, and
    it is no longer counted live; a failed camera is named likewise; both
    come back on their own. Snapshot on a failed camera says why there is
    none, and downloads nothing.
    """
    folder = eight_cameras.folder
    flaky = tile("flaky")

    def work(browser: Browser) -> dict[str, Any]:
        context = open_window(browser, window, accept_downloads=True)
        page = context.new_page()
        downloads: list[str] = []
        page.on("download", lambda download: downloads.append(download.url))
        page.goto(eight_cameras.url)
        page.locator(flaky).scroll_into_view_if_needed()
        wait_for(
            page,
            lambda: (
                page.locator(f"{flaky}.shown").count() == 1
                and page.locator(f"{flaky} .badge").inner_text().lower() == "live"
            ),
            "the flaky camera is live",
        )
        facts: dict[str, Any] = {
            "time": page.locator(f"{flaky} time").get_attribute("datetime"),
            "shown time": page.locator(f"{flaky} time").inner_text(),
            "now": time.time(),
        }
        (folder / "frozen").touch()
        try:
            wait_for(
                page,
                lambda: (
                    page.locator(f"{flaky} .badge").inner_text().lower() == "stalled"
                ),
                "the tile says the camera stalled",
            )
            facts["stalled"] = {
                "troubles": troubles(page),
                "summary": page.locator("#summary").inner_text(),
                "live badges": [
                    badge.lower()
                    for badge in page.locator(".tile .badge").all_inner_texts()
                ].count("live"),
                "overlay": page.locator(f"{flaky} .overlay").inner_text(),
            }
        finally:
            (folder / "frozen").unlink()
        wait_for(page, lambda: troubles(page) == [], "the stall is over")
        (folder / "broken").touch()
        try:
            wait_for(page, lambda: troubles(page) != [], "the failure is named")
            facts["failed"] = troubles(page)
            page.locator(f"{flaky} .snapshot").click()
            facts["snapshot"] = page.locator(f"{flaky} .note").inner_text()
        finally:
            (folder / "broken").unlink()
        wait_for(page, lambda: troubles(page) == [], "the camera is back")
        facts["downloads"] = downloads
        facts["badge"] = page.locator(f"{flaky} .badge").inner_text().lower()
        context.close()
        return facts

    facts = browser(work)
    assert facts["time"] is not None
    stamp = datetime.fromisoformat(facts["time"]).timestamp()
    assert facts["now"] - 5 < stamp <= facts["now"] + 1
    assert re.fullmatch(r"\d\d:\d\d:\d\d( [AP]M)?", facts["shown time"])
    stalled = facts["stalled"]
    assert stalled["troubles"] == [["stalled", "stalled: flaky", ["cameras/flaky/"]]]
    # The cameras counted live are those whose tiles say so, the stalled
    # one not among them.
    assert (
        stalled["summary"] == f"{len(CAMERAS)} cameras, {stalled['live badges']} live"
    )
    assert stalled["overlay"].startswith("No new picture since ")
    assert facts["failed"] == [["failed", "failed: flaky", ["cameras/flaky/"]]]
    assert facts["snapshot"] == "No snapshot: flaky has failed (the lens cap is on)"
    assert facts["downloads"] == []
    assert facts["badge"] == "live"


def test_snapshot_of_a_failed_camera_on_its_page(
    eight_cameras: Server, browser: Browse
) -> None:
    """
    On a failed camera's own page, Snapshot says why there is none.
    """
    broken = eight_cameras.folder / "broken"

    def work(browser: Browser) -> str:
        context = open_window(browser, "phone", accept_downloads=True)
        page = context.new_page()
        page.goto(eight_cameras.url + "cameras/flaky/")
        broken.touch()
        try:
            wait_for(
                page,
                lambda: "lens cap" in page.locator("#problem").inner_text(),
                "the page says the camera failed",
            )
            page.locator("#snapshot").click()
            said = page.locator("#note").inner_text()
        finally:
            broken.unlink()
        context.close()
        return said

    assert browser(work) == "No snapshot: the camera has failed (the lens cap is on)"


COUNTS = """
window.camserve_counts = { said: [], shown: {} };
const note = () => {
  const now = performance.now();
  for (const stats of document.querySelectorAll(".tile .stats, #stats")) {
    const tile = stats.closest(".tile");
    const camera = tile ? tile.dataset.camera : "page";
    const said = window.camserve_counts.said.filter((one) => one[1] === camera).at(-1);
    if (!said || said[2] !== stats.textContent) {
      window.camserve_counts.said.push([now, camera, stats.textContent]);
    }
    if (tile && tile.classList.contains("shown")) window.camserve_counts.shown[camera] ??= now;
  }
};
new MutationObserver(note).observe(document, {
  subtree: true, childList: true, characterData: true, attributes: true,
});
document.addEventListener("load", (event) => {
  if (event.target.id === "stream") window.camserve_counts.shown.page ??= performance.now();
}, true);
"""
"""Notes what each tile's count of viewers (and a camera page's) says and
when, and when each first shows a picture (milliseconds from the page's
start)."""


def counted_late(counts: dict[str, Any], now: float) -> dict[str, float]:
    """
    For each camera shown, how long after its first picture its count
    still said nobody watched (negative if never).
    """
    late = {}
    for camera, shown in counts["shown"].items():
        said = [one for one in counts["said"] if one[1] == camera] + [[now, camera, ""]]
        ends = [
            later[0] for one, later in pairwise(said) if one[2].startswith("0 watching")
        ]
        late[camera] = max(ends, default=shown - 1) - shown
    return late


@pytest.mark.parametrize("window", list(WINDOWS))
def test_viewer_counts_from_the_first_second(
    eight_cameras: Server, browser: Browse, window: str
) -> None:
    """
    Once a tile shows its camera's picture, it counts the wall among the
    camera's viewers within the second, and a camera's page likewise, even
    for cameras that were idle: they do not say "0 watching" until the
    next regular poll.
    """

    def idle() -> None:
        eight_cameras.wait_until(
            lambda: set(eight_cameras.states().values()) == {"idle"},
            "every camera is idle",
        )

    def work(browser: Browser) -> list[dict[str, float]]:
        context = open_window(browser, window)
        context.add_init_script(COUNTS)
        page = context.new_page()
        idle()
        page.goto(eight_cameras.url)
        wait_for_pictures(page)
        page.wait_for_timeout(1500)
        late = [
            counted_late(
                page.evaluate("camserve_counts"), page.evaluate("performance.now()")
            )
        ]
        page.goto("about:blank")
        idle()
        page.goto(eight_cameras.url + "cameras/cam3/")
        wait_for(
            page,
            lambda: "page" in page.evaluate("camserve_counts.shown"),
            "the camera's page shows its picture",
        )
        page.wait_for_timeout(1500)
        late.append(
            counted_late(
                page.evaluate("camserve_counts"), page.evaluate("performance.now()")
            )
        )
        context.close()
        return late

    wall, single = browser(work)
    assert wall, "no tile showed a picture"
    assert list(single) == ["page"]
    assert all(late < 1000 for late in [*wall.values(), *single.values()]), (
        wall,
        single,
    )


@pytest.mark.parametrize("window", list(WINDOWS))
def test_without_scripts_each_camera_is_a_stream(
    eight_cameras: Server, browser: Browse, window: str
) -> None:
    """
    With scripts off, the page shows each camera as a plain stream and says
    that a browser plays only six at a time: of the eight cameras, six
    stream (each has a viewer) and the others wait.
    """

    def watched() -> int:
        return sum(camera["viewers"] > 0 for camera in eight_cameras.api())

    def work(browser: Browser) -> dict[str, Any]:
        eight_cameras.wait_until(lambda: watched() == 0, "nobody watches")
        context = open_window(browser, window, java_script_enabled=False)
        page = context.new_page()
        # The page never ends loading: two of its pictures wait for ever.
        page.goto(eight_cameras.url, wait_until="domcontentloaded")
        eight_cameras.wait_until(lambda: watched() == 6, "six cameras stream")
        time.sleep(1)
        facts = {
            "watched": watched(),
            "streams": [
                page.locator(".plain img").nth(index).get_attribute("src")
                for index in range(page.locator(".plain img").count())
            ],
            "note": page.locator("#without-scripts").inner_text(),
            "wall": page.locator("#grid").is_visible(),
        }
        context.close()
        return facts

    facts = browser(work)
    assert facts["watched"] == 6
    assert facts["streams"] == [
        f"cameras/{name}/video_feed?advance_headers=1" for name in CAMERAS
    ]
    assert "six connections" in facts["note"]
    assert not facts["wall"]


@pytest.fixture
def reloadable(tmp_path: Path) -> Iterator[Server]:
    """
    A camserve of the wall's cameras and logins of its own, whose config
    file a test may change.
    """
    with serving(tmp_path, wall_config(), wall_files()) as server:
        yield server


@pytest.mark.parametrize("window", list(WINDOWS))
def test_reload_says_what_changed(
    reloadable: Server, browser: Browse, window: str
) -> None:
    """
    An admin's Reload reads the config file again and says what it did: a
    camera added appears on the wall at once, and what the reload did is
    still said; a file with a mistake changes nothing, and the page says
    what the mistake is.
    """
    config = reloadable.folder / "cameras.toml"
    original = config.read_text()

    def reload(page: Page) -> str:
        page.locator("#reload").click()
        wait_for(
            page,
            lambda: (
                page.locator("#reloaded").inner_text().startswith(("Reloaded", "Not"))
            ),
            "the reload is done",
        )
        return page.locator("#reloaded").inner_text()

    def work(browser: Browser) -> dict[str, Any]:
        context = open_window(browser, window, http_credentials=login("alice"))
        page = context.new_page()
        page.goto(reloadable.url)
        facts: dict[str, Any] = {"unchanged": reload(page)}
        config.write_text(
            original + '\n[[cameras]]\nname = "shed"\ndriver = "emulated"\nfps = 5\n'
        )
        page.locator("#reload").click()
        wait_for(
            page,
            lambda: (
                page.locator(tile("shed")).count() == 1
                and page.locator("#reloaded").inner_text().startswith("Reloaded")
            ),
            "the new camera is on the wall",
        )
        facts["added"] = page.locator("#reloaded").inner_text()
        config.write_text(original + "\n[[cameras]]\nname = 'shed'\n")
        facts["mistake"] = reload(page)
        facts["tiles"] = page.locator(".tile").count()
        config.write_text(original)
        facts["removed"] = reload(page)
        wait_for(page, lambda: page.locator(tile("shed")).count() == 0, "shed is gone")
        context.close()
        return facts

    facts = browser(work)
    assert facts["unchanged"] == "Reloaded: 5 unchanged"
    assert facts["added"] == "Reloaded: added shed; 5 unchanged"
    assert facts["mistake"].startswith(
        f"Not reloaded: {config}: camera 'shed' has no driver; available: emulated"
    )
    assert facts["tiles"] == 6
    assert facts["removed"] == "Reloaded: removed shed; 5 unchanged"
