"""
camserve's web interface in a real headless Chromium (Debian's, driven by
Playwright), against a real C{twistd camserve --config} serving eight
cameras, one of which fails on demand.

The server is a subprocess, so the browser and the server never share a
reactor; Playwright's synchronous API runs in a thread of its own. Every
check reads what the browser shows (pictures, text, downloads) or what the
server reports (its API), never the page's internals.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import textwrap
import threading
import time
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
import pytest
from support import free_port
from test_running import TWISTD_CAMSERVE, endpoint, environment, running

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from playwright.sync_api import Browser, HttpCredentials, Page

CHROMIUM = shutil.which("chromium")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium")

CAMERAS = [f"cam{number}" for number in range(1, 8)] + ["flaky"]
IDLE_TIMEOUT = 2.0
"""Short, so that the idle checks are quick."""
WAIT = 20.0
"""Seconds any one thing the browser should show may take."""
SCREENSHOTS = os.environ.get("CAMSERVE_SCREENSHOTS")
"""A folder to save the grid's screenshot in, for the README (docs/)."""

FLAKY_DRIVER = '''
import os
import time

from camserve.testing import make_jpeg


class Camera:
    """Fails while a file named "broken" is in the working directory."""

    @staticmethod
    def frames():
        number = 0
        while True:
            if os.path.exists("broken"):
                raise OSError("the lens cap is on")
            number += 1
            yield make_jpeg(number % 200, 160, 120)
            time.sleep(0.1)
'''


def config(port: int) -> str:
    """
    Seven emulated test patterns and the flaky camera.
    """
    cameras = "".join(
        f"""
        [[cameras]]
        name = "{name}"
        driver = "emulated"
        fps = 10
        width = 320
        height = 240
        """
        for name in CAMERAS[:-1]
    )
    return textwrap.dedent(
        f"""
        [server]
        endpoints = ["{endpoint(port)}"]
        idle_timeout = {IDLE_TIMEOUT}
        {cameras}
        [[cameras]]
        name = "flaky"
        driver = "flaky"
        """
    )


class Server:
    """
    The camserve subprocess and its address.
    """

    def __init__(self, port: int, folder: Path) -> None:
        self.port = port
        self.folder = folder
        self.url = f"http://127.0.0.1:{port}/"

    def api(self, path: str = "api/cameras") -> Any:
        """
        The server's JSON answer at C{path}.
        """
        with urllib.request.urlopen(self.url + path, timeout=10) as response:  # noqa: S310 - our own server
            return json.load(response)

    def states(self) -> dict[str, str]:
        """
        Each camera's state.
        """
        return {camera["name"]: camera["state"] for camera in self.api()}

    def wait_until(self, predicate: Callable[[], bool], what: str) -> None:
        """
        Wait until C{predicate()} holds.
        """
        deadline = time.monotonic() + WAIT
        while not predicate():
            if time.monotonic() > deadline:
                pytest.fail(f"timed out waiting until {what}: {self.states()}")
            time.sleep(0.2)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """
    A camserve serving the eight cameras, for every test of this module.
    """
    folder = tmp_path_factory.mktemp("ui")
    port = free_port()
    (folder / "cameras.toml").write_text(config(port))
    (folder / "camera_flaky.py").write_text(FLAKY_DRIVER)
    args = [*TWISTD_CAMSERVE, "--config", "cameras.toml"]
    with running(
        args, cwd=folder, port=port, log=folder / "camserve.log", env=environment()
    ):
        yield Server(port, folder)


@pytest.fixture(scope="module")
def browser() -> Iterator[Callable[[Callable[[Browser], Any]], Any]]:
    """
    Run a function with the browser, in Playwright's own thread.
    """
    from playwright.sync_api import sync_playwright  # noqa: PLC0415 - in its thread

    executor = ThreadPoolExecutor(max_workers=1)
    started = threading.Event()
    state: dict[str, Any] = {}

    def launch() -> None:
        state["playwright"] = sync_playwright().start()
        state["browser"] = state["playwright"].chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
        )
        started.set()

    executor.submit(launch).result(timeout=60)

    def use(work: Callable[[Browser], Any]) -> Any:
        return executor.submit(work, state["browser"]).result(timeout=120)

    yield use

    def close() -> None:
        state["browser"].close()
        state["playwright"].stop()

    executor.submit(close).result(timeout=60)
    executor.shutdown()


def tile_picture(page: Page, name: str) -> bytes:
    """
    The pixels a tile's picture shows now, as PNG bytes.
    """
    return page.locator(f'.tile[data-camera="{name}"] .picture img').screenshot()


def wait_for(page: Page, check: Callable[[], bool], what: str) -> None:
    """
    Let the page run until C{check()} holds.
    """
    deadline = time.monotonic() + WAIT
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting until {what}")
        page.wait_for_timeout(200)


def refusals(page: Page) -> list[str]:
    """
    The addresses of the page's requests answered with an error, from now
    on, as they come.
    """
    refused: list[str] = []
    page.on(
        "response",
        lambda response: (
            refused.append(response.url) if response.status >= 400 else None
        ),
    )
    return refused


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
    server: Server, browser: Callable[[Callable[[Browser], Any]], Any], tmp_path: Path
) -> None:
    """
    With eight cameras on the grid, every camera runs and every tile's
    picture changes, the page's own API calls still answer, and a paused
    tile stops changing while the server lets its camera go idle. Closing
    the page lets every camera go idle.
    """

    def work(browser: Browser) -> dict[str, Any]:
        context = browser.new_context(viewport={"width": 1280, "height": 720})
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
        if SCREENSHOTS:
            page.screenshot(path=str(Path(SCREENSHOTS) / "screenshot-grid.png"))
        # Pausing a tile: its picture holds, and its camera idles.
        page.locator('.tile[data-camera="cam1"] .pause').click()
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
    server: Server, browser: Callable[[Callable[[Browser], Any]], Any]
) -> None:
    """
    Only the tiles in view are streamed: with a window one row high, the
    cameras of the other row idle, and come on when scrolled to. When the
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
        page = browser.new_page(viewport={"width": 1280, "height": 330})
        page.goto(server.url)
        first_row, second_row = CAMERAS[:4], CAMERAS[4:]
        server.wait_until(
            lambda: all(server.states()[name] == "running" for name in first_row),
            "the first row's cameras run",
        )
        server.wait_until(
            lambda: all(server.states()[name] == "idle" for name in second_row),
            "the second row's cameras stay idle",
        )
        page.locator(
            f'.tile[data-camera="{second_row[0]}"]'
        ).scroll_into_view_if_needed()
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


def test_snapshot_mode_refreshes_snapshots(
    server: Server, browser: Callable[[Callable[[Browser], Any]], Any]
) -> None:
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


def test_pages_are_accessible_and_fit_a_phone(
    server: Server, browser: Callable[[Callable[[Browser], Any]], Any]
) -> None:
    """
    Every picture has a text alternative naming its camera, every control
    is reached with the Tab key and says what it does, and on a phone's
    width neither page scrolls sideways.
    """

    def work(browser: Browser) -> dict[str, Any]:
        page = browser.new_page(viewport={"width": 390, "height": 844})
        page.goto(server.url)
        alts = page.eval_on_selector_all("img", "(images) => images.map((i) => i.alt)")
        controls = page.eval_on_selector_all(
            ".tile button, .tile a.button",
            "(all) => all.map((c) => c.getAttribute('aria-label'))",
        )
        reached = []
        for _ in range(6):
            page.keyboard.press("Tab")
            reached.append(
                page.evaluate(
                    "document.activeElement.getAttribute('aria-label')"
                    " || document.activeElement.textContent.trim()"
                )
            )
        grid_width = page.evaluate("document.documentElement.scrollWidth")
        page.goto(server.url + "cameras/cam1/")
        camera_width = page.evaluate("document.documentElement.scrollWidth")
        camera_alt = page.locator("#stream").get_attribute("alt")
        page.close()
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
    assert facts["reached"][:5] == [
        "cam1",
        "pause cam1",
        "download a snapshot of cam1",
        "show cam1 full screen",
        "cam2",
    ], facts["reached"]
    assert facts["widths"] == (390, 390)


def test_snapshot_button_downloads_a_jpeg(
    server: Server, browser: Callable[[Callable[[Browser], Any]], Any], tmp_path: Path
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
            page.locator('.tile[data-camera="cam3"] .snapshot').click()
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


def test_camera_page_shows_the_picture(
    server: Server, browser: Callable[[Callable[[Browser], Any]], Any]
) -> None:
    """
    Clicking a tile's name opens the camera's page, which shows its live
    picture large with its resolution, and links back to the grid.
    """

    def work(browser: Browser) -> dict[str, Any]:
        page = browser.new_page()
        page.goto(server.url)
        page.locator('.tile[data-camera="cam2"] .name').click()
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
    server: Server, browser: Callable[[Callable[[Browser], Any]], Any]
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
        tile = grid.locator('.tile[data-camera="flaky"] .overlay')
        problem = single.locator("#problem")
        broken.touch()
        wait_for(
            grid, lambda: "lens cap" in tile.inner_text(), "the tile shows the reason"
        )
        wait_for(
            single,
            lambda: "lens cap" in problem.inner_text(),
            "the page shows the reason",
        )
        failed = {"tile": tile.inner_text(), "page": problem.inner_text()}
        broken.unlink()
        wait_for(grid, lambda: tile.inner_text() == "", "the tile recovers")
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


LOGINS_CONFIG = """
[server]
endpoints = ["{endpoint}"]

[[cameras]]
name = "porch"
driver = "emulated"
fps = 10
width = 320
height = 240

[[cameras]]
name = "garage"
driver = "emulated"
fps = 10
width = 320
height = 240

[auth]
htpasswd = "users.htpasswd"

[auth.users.bob]
role = "viewer"
cameras = ["porch"]
"""


@pytest.fixture(scope="module")
def login_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """
    A camserve of two cameras, porch and garage, with logins: bob (password
    builder) sees porch only.
    """
    import bcrypt  # noqa: PLC0415 - only these tests hash a password

    folder = tmp_path_factory.mktemp("ui-logins")
    port = free_port()
    (folder / "cameras.toml").write_text(LOGINS_CONFIG.format(endpoint=endpoint(port)))
    hashed = bcrypt.hashpw(b"builder", bcrypt.gensalt(4)).decode("ascii")
    (folder / "users.htpasswd").write_text(f"bob:{hashed}\n")
    args = [*TWISTD_CAMSERVE, "--config", "cameras.toml"]
    with running(
        args, cwd=folder, port=port, log=folder / "camserve.log", env=environment()
    ):
        yield Server(port, folder)


BOB: HttpCredentials = {"username": "bob", "password": "builder"}


def test_grid_with_a_login_shows_the_users_cameras(
    login_server: Server, browser: Callable[[Callable[[Browser], Any]], Any]
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
    login_server: Server, browser: Callable[[Callable[[Browser], Any]], Any]
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
    browser: Callable[[Callable[[Browser], Any]], Any],
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
    assert 86400 - 60 < payload[2] - time.time() <= 86400
