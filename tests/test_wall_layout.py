"""
The camera wall's layout and controls in a real headless Chromium, in the
three windows of L{browsing.WINDOWS} (1366x768, 1920x1080 and a 390x844
phone at a pixel ratio of 3), against the C{wall} fixture: five cameras of
three shapes, in two groups, with logins (alice sees all five, carol three,
bob one).

Every check reads the boxes the browser lays out, what it shows, or what
the server reports.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from browsing import (
    SCREENSHOTS,
    USERS,
    WALL,
    WINDOWS,
    boxes,
    login,
    needs_chromium,
    open_window,
    tile,
    wait_for,
    wait_for_pictures,
)

if TYPE_CHECKING:
    from pathlib import Path

    from browsing import Browse, Server
    from playwright.sync_api import Browser, Page

pytestmark = needs_chromium


def cameras_of(user: str) -> list[str]:
    """
    The cameras C{user} sees, in the wall's order.
    """
    seen = USERS[user][2]
    return [name for name in WALL if seen is None or name in seen]


def room(page: Page) -> dict[str, float]:
    """
    The room the wall has: the window's width, and its height below the
    header.
    """
    found: dict[str, float] = page.evaluate(
        """(() => ({
          width: document.documentElement.clientWidth,
          height: innerHeight,
          top: document.getElementById("grid").getBoundingClientRect().top + scrollY,
          wall: document.getElementById("grid").clientWidth,
          gap: parseFloat(getComputedStyle(document.getElementById("grid")).getPropertyValue("--gap")),
          scrolls: document.documentElement.scrollHeight > innerHeight,
          sideways: document.documentElement.scrollWidth > document.documentElement.clientWidth,
        }))()"""
    )
    return found


def open_wall(browser: Browser, server: Server, window: str, user: str) -> Page:
    """
    The wall as C{user} sees it in C{window}, once every tile in the window
    shows a picture.
    """
    context = open_window(browser, window, http_credentials=login(user))
    page = context.new_page()
    page.goto(server.url)
    wait_for_pictures(page)
    return page


@pytest.mark.parametrize("user", ["bob", "carol", "alice"])
@pytest.mark.parametrize("window", list(WINDOWS))
def test_tiles_fill_the_window(
    wall: Server, browser: Browse, window: str, user: str
) -> None:
    """
    However many cameras there are (one, three, five), each tile shows its
    camera's whole frame at the frame's own aspect ratio (no band, no
    stretching, a portrait camera as narrow as it is), and together they
    fill the window: on a desktop every camera is in the window and the
    tiles cover most of it; on a phone one camera fills its width, and
    the wall never scrolls sideways.
    """

    def work(browser: Browser) -> dict[str, Any]:
        page = open_wall(browser, wall, window, user)
        facts = {"boxes": boxes(page), "room": room(page)}
        page.context.close()
        return facts

    facts = browser(work)
    found, space = facts["boxes"], facts["room"]
    assert [box["camera"] for box in found] == cameras_of(user)
    for box in found:
        width, height, _ = WALL[box["camera"]]
        assert box["picture"] == [width, height] or not box["shown"], box
        assert abs(box["width"] - box["height"] * width / height) <= 2, box
        assert box["x"] >= 0
        assert box["x"] + box["width"] <= space["width"], box
    assert not space["sideways"]
    area = space["width"] * (space["height"] - space["top"])
    covered = sum(box["width"] * box["height"] for box in found) / area
    if window == "phone":
        widest = max(box["width"] for box in found)
        assert widest >= 0.9 * space["width"], found
        if len(found) == 1:
            assert covered >= 0.3, covered
    else:
        assert not space["scrolls"]
        assert all(box["y"] + box["height"] <= space["height"] for box in found)
        # The tiles span the window's height, or a row of them its width.
        rows: dict[float, list[dict[str, Any]]] = {}
        for box in found:
            rows.setdefault(box["y"], []).append(box)
        widest = max(
            max(box["x"] + box["width"] for box in row) - min(box["x"] for box in row)
            for row in rows.values()
        )
        tallest = max(box["y"] + box["height"] for box in found) - min(
            box["y"] for box in found
        )
        assert (
            tallest >= 0.9 * (space["height"] - space["top"])
            or widest >= 0.9 * space["width"]
        ), found
        assert covered >= (0.4 if len(found) > 1 else 0.6), covered


@pytest.mark.parametrize("window", list(WINDOWS))
def test_layout_choice_is_kept(wall: Server, browser: Browse, window: str) -> None:
    """
    The layout choice cuts the window into 1, 2x2, 3x3 or 4x4 cells, one
    tile in each, at its own aspect ratio; the wall scrolls to the others.
    The browser keeps the choice: the page opened again lays out the same.
    """

    def layout(page: Page, side: int) -> dict[str, Any]:
        space = room(page)
        gaps = space["gap"] * (side - 1)
        cell_width = (space["wall"] - gaps) / side
        cell_height = (space["height"] - space["top"] - space["gap"] - gaps) / side
        found = boxes(page)
        rows = sorted({round(box["y"] + box["height"] / 2) for box in found})
        return {
            "choice": page.locator("#layout").input_value(),
            "in cells": all(
                box["width"] <= cell_width + 1 and box["height"] <= cell_height + 1
                for box in found
            ),
            "filling": max(
                max(box["width"] / cell_width, box["height"] / cell_height)
                for box in found
            ),
            "first row": sum(
                abs(box["y"] + box["height"] / 2 - rows[0]) < cell_height / 2
                for box in found
            ),
        }

    def work(browser: Browser) -> dict[int, Any]:
        page = open_wall(browser, wall, window, "alice")
        seen = {}
        for side in (1, 2, 3, 4):
            page.locator("#layout").select_option(str(side))
            page.wait_for_timeout(100)
            chosen = layout(page, side)
            page.reload()
            wait_for_pictures(page)
            seen[side] = (chosen, layout(page, side))
        page.context.close()
        return seen

    for side, (chosen, reopened) in browser(work).items():
        assert chosen == reopened, (side, chosen, reopened)
        assert chosen["choice"] == str(side)
        assert chosen["in cells"], (side, chosen)
        assert chosen["filling"] >= 0.98, (side, chosen)
        assert chosen["first row"] == min(side, len(WALL)), (side, chosen)


@pytest.mark.parametrize("window", list(WINDOWS))
def test_group_choice_shows_one_group(
    wall: Server, browser: Browse, window: str
) -> None:
    """
    The group choice lists the config file's groups; a group chosen shows
    its cameras only, laid out anew for the whole window, and leaves the
    others' cameras unwatched (the server lets them idle). The browser
    keeps the choice.
    """
    front = [name for name, (_, _, group) in WALL.items() if group == "front"]

    def work(browser: Browser) -> dict[str, Any]:
        page = open_wall(browser, wall, window, "alice")
        options = page.locator("#group option").all_inner_texts()
        page.locator("#group").select_option("front")
        wait_for(
            page,
            lambda: [box["camera"] for box in boxes(page)] == front,
            "only the front cameras are shown",
        )
        alice = "alice:" + USERS["alice"][0]
        wall.wait_until(
            lambda: all(
                (state == "running") == (name in front)
                for name, state in wall.states(alice).items()
            ),
            "only the front cameras run",
        )
        page.reload()
        wait_for_pictures(page)
        facts = {
            "options": options,
            "kept": page.locator("#group").input_value(),
            "boxes": boxes(page),
            "room": room(page),
        }
        page.context.close()
        return facts

    facts = browser(work)
    assert facts["options"] == ["all", "front", "back"]
    assert facts["kept"] == "front"
    assert [box["camera"] for box in facts["boxes"]] == front
    # Two cameras take the room five had.
    biggest = max(box["height"] for box in facts["boxes"])
    if window != "phone":
        assert biggest >= 0.9 * (facts["room"]["height"] - facts["room"]["top"])


def focused(page: Page) -> str | None:
    """
    The camera of the tile that has the focus, or is shown full screen.
    """
    camera: str | None = page.evaluate(
        """(() => {
          const element = document.fullscreenElement || document.activeElement;
          const tile = element && element.closest(".tile");
          return tile ? tile.dataset.camera : null;
        })()"""
    )
    return camera


@pytest.mark.parametrize("window", list(WINDOWS))
def test_keyboard(wall: Server, browser: Browse, window: str) -> None:
    """
    The arrow keys move from tile to tile as they lie on screen, F shows
    the tile full screen (and the arrows then show the next tile full
    screen), Escape leaves full screen, Enter opens the tile's camera; on
    the camera's page, F shows its picture full screen and Escape goes back
    to every camera.
    """

    def center(page: Page, camera: str) -> tuple[float, float]:
        box = page.locator(tile(camera)).bounding_box()
        assert box is not None
        return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2

    def work(browser: Browser) -> dict[str, Any]:
        page = open_wall(browser, wall, window, "alice")
        facts: dict[str, Any] = {}
        page.keyboard.press("ArrowRight")
        first = focused(page)
        facts["first"] = first
        page.keyboard.press("ArrowDown")
        below = focused(page)
        assert below is not None
        facts["below"] = center(page, below)[1] > center(page, first or "")[1]
        page.keyboard.press("ArrowUp")
        facts["back up"] = focused(page) == first
        page.keyboard.press("ArrowRight")
        right = focused(page)
        x, y = center(page, first or "")
        row = [
            name
            for name in WALL
            if abs(center(page, name)[1] - y) < 1 and center(page, name)[0] > x
        ]
        # The tile to the right in the same row; none (the focus stays) in
        # a row of one.
        facts["right"] = right == min(
            row, key=lambda name: center(page, name)[0], default=first
        )
        page.locator(f"{tile(first or '')} .name").focus()
        page.keyboard.press("f")
        wait_for(page, lambda: focused(page) == first, "the tile is full screen")
        facts["full screen"] = page.evaluate(
            "document.fullscreenElement && document.fullscreenElement.dataset.camera"
        )
        page.keyboard.press("ArrowRight")
        wait_for(page, lambda: focused(page) != first, "the next tile is full screen")
        facts["next full screen"] = page.evaluate(
            "document.fullscreenElement && document.fullscreenElement.dataset.camera"
        )
        page.keyboard.press("Escape")
        wait_for(
            page,
            lambda: page.evaluate("document.fullscreenElement === null"),
            "full screen is left",
        )
        opened = focused(page)
        page.keyboard.press("Enter")
        page.wait_for_url(f"**/cameras/{opened}/")
        page.keyboard.press("f")
        wait_for(
            page,
            lambda: (
                page.evaluate(
                    "document.fullscreenElement && document.fullscreenElement.id"
                )
                == "picture"
            ),
            "the camera's picture is full screen",
        )
        page.keyboard.press("Escape")
        wait_for(
            page,
            lambda: page.evaluate("document.fullscreenElement === null"),
            "the camera page leaves full screen",
        )
        page.keyboard.press("Escape")
        page.wait_for_url(wall.url)
        facts["back"] = page.url
        page.context.close()
        return facts

    facts = browser(work)
    assert facts["first"] == next(iter(WALL))
    assert facts["below"]
    assert facts["back up"]
    assert facts["right"]
    assert facts["full screen"] == facts["first"]
    assert facts["next full screen"] not in (None, facts["first"])
    assert facts["back"] == wall.url


TARGETS = """(() => [...document.querySelectorAll("a, button, select, input")]
  .filter((element) => element.getClientRects().length
    && getComputedStyle(element).visibility !== "hidden")
  .map((element) => {
    const box = element.getBoundingClientRect();
    return [element.getAttribute("aria-label") || element.id || element.textContent.trim(),
            Math.round(box.width), Math.round(box.height)];
  }))()"""
"""Every link and control a finger can reach, with its width and height."""


def test_touch_targets_on_a_phone(wall: Server, browser: Browse) -> None:
    """
    On a phone, every link and control of the wall and of a camera's page
    (its Share panel open) is at least 44 CSS pixels wide and tall.
    """

    def work(browser: Browser) -> dict[str, Any]:
        page = open_wall(browser, wall, "phone", "alice")
        on_wall = page.evaluate(TARGETS)
        page.goto(wall.url + "cameras/porch/")
        page.locator("#share").click()
        on_camera = page.evaluate(TARGETS)
        page.context.close()
        return {"wall": on_wall, "camera": on_camera}

    facts = browser(work)
    for where, targets in facts.items():
        assert len(targets) > 5, (where, targets)
        small = [target for target in targets if min(target[1:]) < 44]
        assert small == [], where


@pytest.mark.parametrize("window", list(WINDOWS))
def test_camera_page_fits_the_window(
    wall: Server, browser: Browse, window: str
) -> None:
    """
    A camera's page shows the picture as large as the window allows; its
    line of facts wraps only between facts, never inside one; and its
    Share panel, once opened, is in the window whole.
    """

    def work(browser: Browser) -> dict[str, Any]:
        context = open_window(browser, window, http_credentials=login("alice"))
        page = context.new_page()
        page.goto(wall.url + "cameras/garage/")
        wait_for(
            page,
            lambda: page.evaluate("document.getElementById('stream').naturalWidth > 0"),
            "the picture shows",
        )
        wait_for(
            page,
            lambda: "watching" in page.locator("#stats").inner_text(),
            "the facts are filled in",
        )
        facts = {
            "picture": page.evaluate(
                """(() => {
                  const img = document.getElementById("stream");
                  const box = img.getBoundingClientRect();
                  const scale = Math.min(box.width / img.naturalWidth, box.height / img.naturalHeight);
                  return {width: img.naturalWidth * scale, height: img.naturalHeight * scale,
                          window: [innerWidth, innerHeight]};
                })()"""
            ),
            "lines": page.eval_on_selector_all(
                ".meta > span", "(all) => all.map((one) => one.getClientRects().length)"
            ),
            "sideways": page.evaluate(
                "document.documentElement.scrollWidth > innerWidth"
            ),
        }
        page.locator("#share").click()
        page.wait_for_timeout(300)
        facts["panel"] = page.evaluate(
            """(() => {
              const box = document.getElementById("share-panel").getBoundingClientRect();
              return box.top >= 0 && box.bottom <= innerHeight && box.height > 0;
            })()"""
        )
        context.close()
        return facts

    facts = browser(work)
    width, height = facts["picture"]["window"]
    shown = facts["picture"]
    assert shown["width"] >= 0.9 * width or shown["height"] >= 0.55 * height, shown
    assert facts["lines"] == [1, 1, 1]
    assert not facts["sideways"]
    assert facts["panel"]


@pytest.mark.parametrize("window", list(WINDOWS))
def test_the_user_is_named(wall: Server, browser: Browse, window: str) -> None:
    """
    The wall names who is logged in; only an admin gets the Reload button.
    """

    def work(browser: Browser) -> dict[str, Any]:
        seen = {}
        for user in ("alice", "bob"):
            page = open_wall(browser, wall, window, user)
            seen[user] = (
                page.locator("#user").inner_text(),
                page.locator("#reload").count()
                and page.locator("#reload").is_visible(),
            )
            page.context.close()
        return seen

    assert browser(work) == {
        "alice": ("Signed in as alice", True),
        "bob": ("Signed in as bob", False),
    }


def test_screenshots(wall: Server, browser: Browse, tmp_path: Path) -> None:
    """
    The README's screenshots of the wall, on a desktop and on a phone:
    taken here, and saved for the README when C{CAMSERVE_SCREENSHOTS}
    names a folder.
    """

    def work(browser: Browser) -> None:
        for window, name in (("desktop", "grid"), ("phone", "grid-phone")):
            page = open_wall(browser, wall, window, "alice")
            page.wait_for_timeout(1500)
            for folder in filter(None, (str(tmp_path), SCREENSHOTS)):
                page.screenshot(path=f"{folder}/screenshot-{name}.png", scale="css")
            page.context.close()

    browser(work)
    assert (tmp_path / "screenshot-grid.png").stat().st_size > 10000
