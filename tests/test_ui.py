"""
camserve's web interface in a real headless Chromium (Debian's, driven by
Playwright), against a real C{twistd camserve --config} serving eight
cameras, one of which fails on demand (the C{eight_cameras} fixture), and
one with logins (the C{wall} fixture).

The server is a subprocess, so the browser and the server never share a
reactor; Playwright's synchronous API runs in a thread of its own. Every
check reads what the browser shows (pictures, text, downloads) or what the
server reports (its API), never the page's internals.
"""

from __future__ import annotations

import base64
import json
import re
import time
import urllib.parse
import urllib.request
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
import pytest
from browsing import (
    CAMERAS,
    login,
    needs_chromium,
    open_window,
    refusals,
    tile,
    tile_picture,
    wait_for,
)

if TYPE_CHECKING:
    from pathlib import Path

    from browsing import Browse, Server
    from playwright.sync_api import Browser, Page

pytestmark = needs_chromium


@pytest.fixture
def server(eight_cameras: Server) -> Server:
    """
    The eight cameras.
    """
    return eight_cameras


def wait_for_changing_picture(page: Page, what: str) -> None:
    """
    Let a camera page run until its picture shows, then changes.
    """
    wait_for(
        page,
        lambda: bool(page.evaluate("document.getElementById('stream').naturalWidth")),
        f"the camera page shows {what}",
    )
    first = page.locator("#stream").screenshot()
    wait_for(
        page,
        lambda: page.locator("#stream").screenshot() != first,
        f"the camera page's {what} changes",
    )


def test_grid_shows_every_camera_live_over_few_connections(
    server: Server, browser: Browse, tmp_path: Path
) -> None:
    """
    With eight cameras on the grid, every camera runs and every tile's
    picture changes, the page's own API calls still answer, and a paused
    tile stops changing while the server lets its camera go idle. Closing
    the page lets every camera go idle.
    """

    def work(browser: Browser) -> dict[str, Any]:
        context = open_window(browser, "desktop")
        page = context.new_page()
        page.goto(server.url)
        expect_count = len(CAMERAS)
        assert page.locator(".tile").count() == expect_count
        server.wait_until(
            lambda: all(state == "running" for state in server.states().values()),
            "every camera runs",
        )
        # Every tile's picture changes.
        before = {name: tile_picture(page, name) for name in CAMERAS}
        wait_for(
            page,
            lambda: all(tile_picture(page, name) != before[name] for name in CAMERAS),
            "every tile's picture changes",
        )
        # The page's own requests are not starved by the streams.
        started = time.monotonic()
        answer = page.evaluate(
            "fetch('api/cameras').then((r) => r.json()).then((c) => c.length)"
        )
        api_seconds = time.monotonic() - started
        # The badges follow: every camera is live.
        wait_for(
            page,
            lambda: (
                page.locator("#summary").inner_text()
                == f"{expect_count} cameras, {expect_count} live"
            ),
            "the page says every camera is live",
        )
        badges = page.locator(".tile .badge").all_inner_texts()
        page.screenshot(path=str(tmp_path / "grid.png"))
        # Pausing a tile: its picture holds, and its camera idles.
        page.locator(f"{tile('cam1')} .pause").click()
        server.wait_until(
            lambda: server.states()["cam1"] == "idle", "the paused camera idles"
        )
        held = tile_picture(page, "cam1")
        page.wait_for_timeout(1000)
        still = tile_picture(page, "cam1")
        others = server.states()
        context.close()
        return {
            "answer": answer,
            "api_seconds": api_seconds,
            "held": held == still,
            "others": others,
            "badges": badges,
        }

    result = browser(work)
    assert result["answer"] == len(CAMERAS)
    assert result["api_seconds"] < 5
    assert result["held"]
    assert [badge.lower() for badge in result["badges"]] == ["live"] * len(CAMERAS)
    assert all(
        state == "running" for name, state in result["others"].items() if name != "cam1"
    )
    server.wait_until(
        lambda: all(state == "idle" for state in server.states().values()),
        "every camera idles once the page is closed",
    )


def test_tiles_out_of_sight_let_their_cameras_idle(
    server: Server, browser: Browse
) -> None:
    """
    Only the tiles in view are streamed: with a window of two rows of two
    (the 2x2 layout), the cameras of the rows below idle, and come on when
    scrolled to. When the
    page is hidden (as a browser reports a background tab, with
    C{document.hidden} and C{visibilitychange}), every camera idles, and
    they come back when it is shown again.
    """

    def hide(page: Page, hidden: bool) -> None:
        page.evaluate(
            """(hidden) => {
              Object.defineProperty(document, "hidden", {value: hidden, configurable: true});
              document.dispatchEvent(new Event("visibilitychange"));
            }""",
            hidden,
        )

    def work(browser: Browser) -> None:
        page = browser.new_page(viewport={"width": 1280, "height": 720})
        page.goto(server.url)
        page.locator("#layout").select_option("2")
        first_row, second_row = CAMERAS[:4], CAMERAS[4:]
        server.wait_until(
            lambda: all(server.states()[name] == "running" for name in first_row),
            "the first row's cameras run",
        )
        server.wait_until(
            lambda: all(server.states()[name] == "idle" for name in second_row),
            "the second row's cameras stay idle",
        )
        page.locator(tile(second_row[0])).scroll_into_view_if_needed()
        server.wait_until(
            lambda: server.states()[second_row[0]] == "running",
            "a camera scrolled to runs",
        )
        hide(page, hidden=True)
        server.wait_until(
            lambda: all(state == "idle" for state in server.states().values()),
            "every camera idles while the page is hidden",
        )
        hide(page, hidden=False)
        server.wait_until(
            lambda: server.states()[second_row[0]] == "running",
            "the cameras in view run again once the page is shown",
        )
        page.close()

    browser(work)
    server.wait_until(
        lambda: all(state == "idle" for state in server.states().values()),
        "every camera idles once the page is closed",
    )


def test_snapshot_mode_refreshes_snapshots(server: Server, browser: Browse) -> None:
    """
    With C{?mode=snapshot}, for browsers that cannot read a stream, the
    grid's tiles and a camera's page show pictures that keep changing,
    fetched as snapshots, and open no stream.
    """

    def work(browser: Browser) -> list[str]:
        page = browser.new_page()
        asked: list[str] = []
        page.on("request", lambda request: asked.append(request.url))
        page.goto(server.url + "?mode=snapshot")
        before = tile_picture(page, "cam4")
        wait_for(
            page,
            lambda: tile_picture(page, "cam4") != before,
            "a tile's snapshot changes",
        )
        page.goto(server.url + "cameras/cam5/?mode=snapshot")
        wait_for_changing_picture(page, "a snapshot")
        page.close()
        return asked

    asked = browser(work)
    paths = [url.removeprefix(server.url).partition("?")[0] for url in asked]
    assert "cameras/cam4/snapshot.jpg" in paths
    assert "cameras/cam5/snapshot.jpg" in paths
    assert not any(path in ("streams", "cameras/cam5/video_feed") for path in paths)


def test_pages_are_accessible_and_fit_a_phone(server: Server, browser: Browse) -> None:
    """
    Every picture has a text alternative naming its camera, every control
    is reached with the Tab key and says what it does, and on a phone's
    width neither page scrolls sideways.
    """

    def work(browser: Browser) -> dict[str, Any]:
        context = open_window(browser, "phone")
        page = context.new_page()
        page.goto(server.url)
        alts = page.eval_on_selector_all(
            ".tile canvas", "(all) => all.map((c) => c.getAttribute('aria-label'))"
        )
        controls = page.eval_on_selector_all(
            ".tile button, .tile a.button",
            "(all) => all.map((c) => c.getAttribute('aria-label'))",
        )
        reached = []
        for _ in range(7):
            page.keyboard.press("Tab")
            reached.append(
                page.evaluate(
                    """(() => {
                      const focused = document.activeElement;
                      const label = focused.labels && focused.labels[0];
                      return focused.getAttribute("aria-label")
                        || (label ? label.firstChild.textContent.trim() : focused.textContent.trim());
                    })()"""
                )
            )
        grid_width = page.evaluate("document.documentElement.scrollWidth")
        page.goto(server.url + "cameras/cam1/")
        camera_width = page.evaluate("document.documentElement.scrollWidth")
        camera_alt = page.locator("#stream").get_attribute("alt")
        context.close()
        return {
            "alts": alts,
            "controls": controls,
            "reached": reached,
            "widths": (grid_width, camera_width),
            "camera_alt": camera_alt,
        }

    facts = browser(work)
    assert facts["alts"] == [f"live picture of {name}" for name in CAMERAS]
    assert facts["camera_alt"] == "live picture of cam1"
    assert all(facts["controls"]), facts["controls"]
    assert len(facts["controls"]) == 3 * len(CAMERAS)
    # The picture links to the camera's page as its name does: one stop of
    # the Tab key is enough.
    assert facts["reached"][:6] == [
        "Layout",
        "cam1",
        "pause cam1",
        "download a snapshot of cam1",
        "show cam1 full screen",
        "cam2",
    ], facts["reached"]
    assert facts["widths"] == (390, 390)


def test_snapshot_button_downloads_a_jpeg(
    server: Server, browser: Browse, tmp_path: Path
) -> None:
    """
    A tile's snapshot button downloads a JPEG of that camera, named for the
    camera and the time.
    """

    def work(browser: Browser) -> tuple[str, bytes]:
        context = browser.new_context(accept_downloads=True)
        page = context.new_page()
        page.goto(server.url)
        with page.expect_download() as download:
            page.locator(f"{tile('cam3')} .snapshot").click()
        saved = tmp_path / "snapshot.jpg"
        download.value.save_as(saved)
        name = download.value.suggested_filename
        context.close()
        return name, saved.read_bytes()

    name, data = browser(work)
    assert re.fullmatch(r"cam3-\d{8}-\d{6}\.jpg", name), name
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None
    assert image.shape[:2] == (240, 320)


def test_camera_page_shows_the_picture(server: Server, browser: Browse) -> None:
    """
    Clicking a tile's name opens the camera's page, which shows its live
    picture large with its resolution, and links back to the grid.
    """

    def work(browser: Browser) -> dict[str, Any]:
        page = browser.new_page()
        page.goto(server.url)
        page.locator(f"{tile('cam2')} .name").click()
        page.wait_for_url(re.compile(r"/cameras/cam2/$"))
        wait_for_changing_picture(page, "a picture")
        facts = {
            "title": page.title(),
            "heading": page.locator("h1").inner_text(),
            "resolution": page.locator("#resolution").inner_text(),
            "stats": page.locator("#stats").inner_text(),
            "up": page.locator("a.up").get_attribute("href"),
        }
        page.close()
        return facts

    facts = browser(work)
    assert facts["heading"] == "cam2"
    assert facts["title"].startswith("cam2")
    assert facts["resolution"] == "320\u00d7240"
    assert re.fullmatch(r"\d+ watching · \d+\.\d fps", facts["stats"]), facts["stats"]
    assert facts["up"] == "../../"


def test_failed_camera_shows_its_reason_and_recovers(
    server: Server, browser: Browse
) -> None:
    """
    A camera that fails shows its reason where its picture would be, on the
    grid and on its page; once it works again, both show its picture again
    without a reload.
    """
    broken = server.folder / "broken"

    def work(browser: Browser) -> dict[str, str]:
        grid = browser.new_page()
        grid.goto(server.url)
        single = browser.new_page()
        single.goto(server.url + "cameras/flaky/")
        overlay = grid.locator(f"{tile('flaky')} .overlay")
        problem = single.locator("#problem")
        broken.touch()
        wait_for(
            grid,
            lambda: "lens cap" in overlay.inner_text(),
            "the tile shows the reason",
        )
        wait_for(
            single,
            lambda: "lens cap" in problem.inner_text(),
            "the page shows the reason",
        )
        failed = {"tile": overlay.inner_text(), "page": problem.inner_text()}
        broken.unlink()
        wait_for(grid, lambda: overlay.inner_text() == "", "the tile recovers")
        wait_for(single, lambda: problem.inner_text() == "", "the page recovers")
        before = single.locator("#stream").screenshot()
        wait_for(
            single,
            lambda: single.locator("#stream").screenshot() != before,
            "the page's picture moves again",
        )
        grid.close()
        single.close()
        return failed

    failed = browser(work)
    assert failed["tile"] == "No picture: the lens cap is on"
    assert failed["page"] == "No picture: the lens cap is on"


# With logins


@pytest.fixture
def login_server(wall: Server) -> Server:
    """
    A camserve with logins, where bob sees only porch.
    """
    return wall


BOB = login("bob")


def test_grid_with_a_login_shows_the_users_cameras(
    login_server: Server, browser: Browse
) -> None:
    """
    Logged in with the browser's Basic login, bob's grid shows porch, his
    only camera, live, and the page's own requests (its stream and API
    calls) carry the login: none is refused.
    """

    def work(browser: Browser) -> dict[str, Any]:
        context = browser.new_context(http_credentials=BOB)
        page = context.new_page()
        refused = refusals(page)
        page.goto(login_server.url)
        tiles = page.locator(".tile").evaluate_all(
            "(tiles) => tiles.map((tile) => tile.dataset.camera)"
        )
        before = tile_picture(page, "porch")
        wait_for(
            page,
            lambda: tile_picture(page, "porch") != before,
            "porch's tile changes",
        )
        wait_for(
            page,
            lambda: page.locator("#summary").inner_text() == "1 camera, 1 live",
            "the page says porch is live",
        )
        context.close()
        return {"tiles": tiles, "refused": refused}

    result = browser(work)
    assert result == {"tiles": ["porch"], "refused": []}


def test_page_opened_with_a_token_works_without_a_login(
    login_server: Server, browser: Browse
) -> None:
    """
    A camera's page opened with an API token (as a link shared without a
    login) shows the live picture, styled, its snapshot and health links
    carry the token, it links to no grid, and nothing it asks for is
    refused: no login is ever asked for.
    """
    request = urllib.request.Request(  # noqa: S310 - our own server
        login_server.url + "api/tokens",
        data=json.dumps({"camera": "porch", "seconds": 600}).encode(),
        headers={
            "content-type": "application/json",
            "authorization": "Basic " + base64.b64encode(b"bob:builder").decode(),
        },
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - our own server
        minted = json.load(response)
    page_url = login_server.url + minted["stream"].replace("video_feed", "")

    def work(browser: Browser) -> dict[str, Any]:
        context = browser.new_context()
        page = context.new_page()
        refused = refusals(page)
        page.goto(page_url)
        wait_for_changing_picture(page, "a picture")
        wait_for(
            page,
            lambda: page.locator("#state").inner_text().lower() == "live",
            "the page's health poll says live",
        )
        facts = {
            "styled": page.evaluate(
                "getComputedStyle(document.body).display === 'grid'"
                " || document.styleSheets.length > 0"
                " && document.styleSheets[0].cssRules.length > 0"
            ),
            "snapshot": page.locator("#snapshot").get_attribute("href"),
            "health": page.locator("a", has_text="Health").get_attribute("href"),
            "up": page.locator("a.up").count(),
            "refused": refused,
        }
        context.close()
        return facts

    facts = browser(work)
    token = minted["token"]
    assert facts == {
        "styled": True,
        "snapshot": f"snapshot.jpg?download=1&token={token}",
        "health": f"healthz?token={token}",
        "up": 0,
        "refused": [],
    }


def test_share_makes_a_link_that_opens_the_page_without_a_login(
    login_server: Server,
    server: Server,
    browser: Browse,
) -> None:
    """
    On a camera's page, a logged-in user's Share makes a link with an API
    token for the time chosen, which opens the page, live, in a browser
    with no login. Without logins there is nothing to share with.
    """

    def work(browser: Browser) -> dict[str, Any]:
        context = browser.new_context(http_credentials=BOB)
        page = context.new_page()
        page.goto(login_server.url + "cameras/porch/")
        page.locator("#share").click()
        page.locator("#share-seconds").select_option(label="a day")
        page.locator("#share-make").click()
        wait_for(
            page,
            lambda: bool(page.locator("#share-link").input_value()),
            "the link is made",
        )
        link = page.locator("#share-link").input_value()
        expiry = page.locator("#share-expiry").inner_text()
        context.close()
        stranger = browser.new_context()
        page = stranger.new_page()
        refused = refusals(page)
        page.goto(link)
        wait_for_changing_picture(page, "a picture")
        heading = page.locator("h1").inner_text()
        page.goto(server.url + "cameras/cam1/")
        without_logins = page.locator("#share").count()
        stranger.close()
        return {
            "link": link,
            "expiry": expiry,
            "heading": heading,
            "refused": refused,
            "share without logins": without_logins,
        }

    made = browser(work)
    assert re.fullmatch(
        re.escape(login_server.url) + r"cameras/porch/\?token=[\w%.-]+", made["link"]
    ), made["link"]
    assert made["expiry"].startswith("valid until ")
    assert made["heading"] == "porch"
    assert made["refused"] == []
    assert made["share without logins"] == 0
    token = urllib.parse.unquote(made["link"].split("token=")[1])
    payload = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert payload[:2] == ["bob", "porch"]
    # A day from the end of the second it was minted in.
    assert 86400 - 60 < payload[2] - time.time() <= 86400 + 1
