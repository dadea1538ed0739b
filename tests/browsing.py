"""
What the browser tests share: a real C{twistd camserve --config} in a
subprocess, Debian's Chromium driven by Playwright in a thread of its own
(the C{browser} fixture of C{conftest.py}), the three windows pages are
checked in, films of JPEGs for cameras to play, and waits on what a page
shows.

The server is a subprocess, so the browser and the server never share a
reactor. Every check reads what the browser shows (pictures, text, boxes,
downloads) or what the server reports (its API).
"""

from __future__ import annotations

import json
import os
import shutil
import time
import urllib.request
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeAlias

import cv2
import numpy as np
import pytest
from support import free_port
from test_running import TWISTD_CAMSERVE, endpoint, environment, running

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping
    from pathlib import Path

    from playwright.sync_api import Browser, BrowserContext, HttpCredentials, Page

CHROMIUM = shutil.which("chromium")
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium")

WAIT = 20.0
"""Seconds any one thing the browser should show may take."""
SCREENSHOTS = os.environ.get("CAMSERVE_SCREENSHOTS")
"""A folder to save the README's screenshots in (docs/), when set."""

Browse: TypeAlias = "Callable[[Callable[[Browser], Any]], Any]"
"""The C{browser} fixture: runs a function with the browser, in
Playwright's thread, and returns what it returns."""

WINDOWS: dict[str, dict[str, Any]] = {
    "desktop": {"viewport": {"width": 1366, "height": 768}},
    "wide": {"viewport": {"width": 1920, "height": 1080}},
    "phone": {
        "viewport": {"width": 390, "height": 844},
        "device_scale_factor": 3,
        "is_mobile": True,
        "has_touch": True,
    },
}
"""The windows every point of the wall is checked in: two desktop screens
and a phone."""


def open_window(browser: Browser, window: str, **options: Any) -> BrowserContext:
    """
    A new browser context the size of C{window}, one of L{WINDOWS}, with
    C{options} (which may change the window's own, such as its pixel
    ratio).
    """
    return browser.new_context(**{**WINDOWS[window], **options})


class Server:
    """
    A camserve subprocess, its folder and its address.
    """

    def __init__(self, port: int, folder: Path) -> None:
        self.port = port
        self.folder = folder
        self.url = f"http://127.0.0.1:{port}/"

    def api(self, path: str = "api/cameras", login: str | None = None) -> Any:
        """
        The server's JSON answer at C{path}, asked with the Basic C{login}
        (C{"user:password"}) if given.
        """
        request = urllib.request.Request(self.url + path)  # noqa: S310 - our own server
        if login is not None:
            from base64 import b64encode  # noqa: PLC0415 - only logins need it

            request.add_header(
                "authorization", f"Basic {b64encode(login.encode()).decode()}"
            )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - our own server
            return json.load(response)

    def get(self, path: str) -> bytes:
        """
        The body of the server's answer at C{path}.
        """
        with urllib.request.urlopen(self.url + path, timeout=10) as response:  # noqa: S310 - our own server
            body: bytes = response.read()
        return body

    def states(self, login: str | None = None) -> dict[str, str]:
        """
        Each camera's state.
        """
        return {camera["name"]: camera["state"] for camera in self.api(login=login)}

    def wait_until(self, predicate: Callable[[], bool], what: str) -> None:
        """
        Wait until C{predicate()} holds.
        """
        deadline = time.monotonic() + WAIT
        while not predicate():
            if time.monotonic() > deadline:
                pytest.fail(f"timed out waiting until {what}")
            time.sleep(0.2)


@contextmanager
def serving(
    folder: Path, config: str, files: Mapping[str, str] | None = None
) -> Iterator[Server]:
    """
    Serve C{config} (a config file whose C{{endpoint}} is filled in) from
    C{folder}, holding C{files} too (their texts by name), until the block
    ends.
    """
    port = free_port()
    (folder / "cameras.toml").write_text(config.replace("{endpoint}", endpoint(port)))
    for name, content in (files or {}).items():
        (folder / name).write_text(content)
    args = [*TWISTD_CAMSERVE, "--config", "cameras.toml"]
    with running(
        args, cwd=folder, port=port, log=folder / "camserve.log", env=environment()
    ):
        yield Server(port, folder)


def film(folder: Path, width: int, height: int, count: int = 30) -> None:
    """
    Fill C{folder} with C{count} JPEGs of C{width} by C{height}, for an
    emulated camera to play: a bright gradient (nowhere near black) with a
    white disc that crosses it.
    """
    folder.mkdir(parents=True, exist_ok=True)
    for number in range(count):
        image = np.zeros((height, width, 3), np.uint8)
        image[:, :, 0] = np.linspace(60, 255, width, dtype=np.uint8)[np.newaxis, :]
        image[:, :, 1] = np.linspace(60, 255, height, dtype=np.uint8)[:, np.newaxis]
        image[:, :, 2] = 120
        centre = (int(width * number / count), height // 2)
        cv2.circle(image, centre, height // 6, (255, 255, 255), -1)
        cv2.imwrite(
            str(folder / f"{number:03}.jpg"), image, [cv2.IMWRITE_JPEG_QUALITY, 80]
        )


def wait_for(page: Page, check: Callable[[], bool], what: str) -> None:
    """
    Let the page run until C{check()} holds.
    """
    deadline = time.monotonic() + WAIT
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting until {what}")
        page.wait_for_timeout(100)


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


def tile(name: str) -> str:
    """
    The selector of camera C{name}'s tile on the wall.
    """
    return f'.tile[data-camera="{name}"]'


def tile_picture(page: Page, name: str) -> bytes:
    """
    The pixels a tile's picture shows now, as PNG bytes, with what the tile
    says over it (its state, time, buttons) masked: only the picture
    changes them.
    """
    over = [page.locator(f"{tile(name)} {part}") for part in (".status", ".foot")]
    return page.locator(f"{tile(name)} canvas").screenshot(mask=over)


def wait_for_pictures(page: Page) -> None:
    """
    Let the wall run until every tile in the window shows a picture.
    """
    wait_for(
        page,
        lambda: page.evaluate(
            """(() => [...document.querySelectorAll(".tile:not([hidden])")]
              .filter((tile) => tile.getBoundingClientRect().top < innerHeight - 1)
              .every((tile) => tile.classList.contains("shown")))()"""
        ),
        "every tile in the window shows a picture",
    )


def boxes(page: Page) -> list[dict[str, Any]]:
    """
    Each tile of the wall that is shown: its camera, its box on the page
    (C{x}, C{y}, C{width}, C{height}, in CSS pixels), and the size of the
    picture it shows.
    """
    found: list[dict[str, Any]] = page.eval_on_selector_all(
        ".tile:not([hidden])",
        """(tiles) => tiles.map((tile) => {
          const box = tile.getBoundingClientRect();
          const canvas = tile.querySelector("canvas");
          return {
            camera: tile.dataset.camera,
            shown: tile.classList.contains("shown"),
            x: box.x + scrollX, y: box.y + scrollY, width: box.width, height: box.height,
            picture: [canvas.width, canvas.height],
          };
        })""",
    )
    return found


# The wall of eight cameras, one of which fails or stalls on demand

CAMERAS = [f"cam{number}" for number in range(1, 8)] + ["flaky"]
IDLE_TIMEOUT = 2.0
"""Short, so that the checks of cameras going idle are quick."""

FLAKY_DRIVER = '''
import os
import time

import cv2
import numpy as np


class Camera:
    """
    Fails while a file named "broken" is in the working directory, and
    gives no frame (without failing) while one named "frozen" is. Its
    frames are grey, each a shade lighter than the one before.
    """

    @staticmethod
    def frames():
        number = 0
        while True:
            while os.path.exists("frozen"):
                time.sleep(0.05)
            if os.path.exists("broken"):
                raise OSError("the lens cap is on")
            number += 1
            grey = np.full((120, 160, 3), 40 + number * 8 % 200, np.uint8)
            yield cv2.imencode(".jpg", grey)[1].tobytes()
            time.sleep(0.1)
'''


def eight_cameras_config() -> str:
    """
    Seven emulated test patterns, 4:3 but two of them 16:9, and the flaky
    camera.
    """
    cameras = "".join(
        f"""
[[cameras]]
name = "{name}"
driver = "emulated"
fps = 10
width = {384 if name in ("cam4", "cam6") else 320}
height = {216 if name in ("cam4", "cam6") else 240}
"""
        for name in CAMERAS[:-1]
    )
    return f"""
[server]
endpoints = ["{{endpoint}}"]
idle_timeout = {IDLE_TIMEOUT}
{cameras}
[[cameras]]
name = "flaky"
driver = "flaky"
"""


# A wall of cameras of three shapes, with logins

WALL = {
    "porch": (320, 240, "front"),
    "garage": (384, 216, "back"),
    "door": (180, 320, "front"),
    "yard": (384, 216, "back"),
    "side": (320, 240, None),
}
"""The wall's cameras, in order: the size of their frames (4:3, 16:9 and a
portrait camera), and their groups."""
USERS = {
    "alice": ("wonderland", "admin", None),
    "bob": ("builder", "viewer", ["porch"]),
    "carol": ("singer", "viewer", ["porch", "garage", "door"]),
}
"""The wall's users: their passwords, roles and cameras (all for None)."""


def wall_config() -> str:
    """
    The wall's config file, its C{{endpoint}} to be filled in.
    """
    cameras = "".join(
        f"""
[[cameras]]
name = "{name}"
driver = "emulated"
fps = 10
width = {width}
height = {height}
"""
        + ("" if group is None else f'group = "{group}"\n')
        for name, (width, height, group) in WALL.items()
    )
    users = "".join(
        f'\n[auth.users.{name}]\nrole = "{role}"\n'
        + ("" if cameras is None else f"cameras = {json.dumps(cameras)}\n")
        for name, (_, role, cameras) in USERS.items()
    )
    return f"""
[server]
endpoints = ["{{endpoint}}"]
idle_timeout = {IDLE_TIMEOUT}
{cameras}
[auth]
htpasswd = "users.htpasswd"
{users}"""


def wall_files() -> dict[str, str]:
    """
    The files the wall's config file names: its users' passwords, hashed.
    """
    import bcrypt  # noqa: PLC0415 - only logins need it

    return {
        "users.htpasswd": "".join(
            f"{name}:{bcrypt.hashpw(password.encode(), bcrypt.gensalt(4)).decode()}\n"
            for name, (password, _, _) in USERS.items()
        )
    }


def login(user: str) -> HttpCredentials:
    """
    The browser's Basic login of C{user}, one of L{USERS}.
    """
    return {"username": user, "password": USERS[user][0]}
