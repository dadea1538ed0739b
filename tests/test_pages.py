"""
Tests for camserve's pages (L{camserve.web._pages}): the grid of every camera
and one camera's page, rendered with C{twisted.web.template}'s
C{flattenString} from hubs fed by hand-driven L{PushSource}s on a L{Clock}.

The pages are parsed as XML (which the flattener writes), so that each test
reads exact attribute values and texts rather than searching the markup,
and a name that escaped its escaping would break the parse or the
structure.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING, Any

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.template import flattenString

from camserve import CameraHub
from camserve.testing import PushSource, make_jpeg
from camserve.web._pages import CameraPage, GridPage
from camserve.web._user import User

if TYPE_CHECKING:
    from twisted.web.template import Element

successResultOf = SynchronousTestCase().successResultOf  # noqa: N816 - Twisted's name

NASTY = "Porch <b>&\"'</b>"
"""A name an embedding may give a camera: every character HTML treats specially."""

NASTY_IN_URL = "Porch%20%3Cb%3E%26%22%27%3C%2Fb%3E"
"""L{NASTY} percent-encoded as one path segment."""


def render(element: Element) -> tuple[str, ET.Element]:
    """
    The page C{element} renders, as text and parsed.
    """
    html = successResultOf(flattenString(None, element)).decode("utf-8")
    return html, ET.fromstring(html)  # noqa: S314 - our own output


def one(root: ET.Element, path: str) -> ET.Element:
    """
    The single element at C{path} (ElementTree's XPath subset).
    """
    found = root.findall(path)
    assert len(found) == 1, f"{len(found)} elements at {path}"
    return found[0]


def text(element: ET.Element) -> str:
    """
    All the text inside C{element}, whitespace collapsed.
    """
    return " ".join("".join(element.itertext()).split())


def make_hub(
    name: str = "cam", driver: str = "emulated"
) -> tuple[CameraHub, PushSource]:
    """
    An idle hub and the source that feeds it.
    """
    source = PushSource()
    return CameraHub(name, source, Clock(), driver=driver), source


def run(hub: CameraHub, source: PushSource, width: int = 64, height: int = 48) -> None:
    """
    Start C{hub}'s camera, as a snapshot would, and give it one frame.
    """
    hub.next_frame()
    source.push(make_jpeg(1, width=width, height=height))


def fail(hub: CameraHub, source: PushSource, reason: str = "no such device") -> None:
    """
    Start C{hub}'s camera and have it fail.
    """
    waiting = hub.next_frame()
    source.fail(OSError(reason))
    waiting.addErrback(lambda _: None)


# The camera page


def test_camera_page_idle() -> None:
    """
    An idle camera's page names the camera and its driver, says there is no
    picture yet, carries the state for its script, shows the stream in the
    framing browsers show at once, and links a snapshot to download and the
    camera's health; out of a grid it has no link up to one.
    """
    hub, _ = make_hub()
    html, root = render(CameraPage(hub))
    assert text(one(root, "head/title")) == "cam \u00b7 camserve"
    assert text(one(root, ".//h1[@id='name']")) == "cam"
    assert text(one(root, ".//span[@id='driver']/b")) == "emulated"
    assert text(one(root, ".//span[@id='resolution']")) == "no picture yet"
    assert one(root, ".//span[@id='state']").get("data-state") == "idle"
    picture = one(root, ".//figure[@id='picture']")
    assert picture.get("data-state") == "idle"
    image = one(picture, "img[@id='stream']")
    assert image.get("src") == "video_feed?advance_headers=1"
    assert image.get("alt") == "live picture of cam"
    assert text(one(picture, "figcaption[@id='problem']")) == ""
    snapshot = one(root, ".//a[@id='snapshot']")
    assert snapshot.get("href") == "snapshot.jpg?download=1"
    assert snapshot.get("download") == ""
    assert one(root, ".//nav//a[.='Health']").get("href") == "healthz"
    assert one(root, ".//button[@id='pause']").get("aria-pressed") == "false"
    one(root, ".//button[@id='fullscreen']")
    assert root.findall(".//a[@class='up']") == []
    assert "All cameras" not in html
    assert [script.get("src") for script in root.findall("head/script")] == [
        "static/snapshots.js",
        "static/camera.js",
    ]


def test_camera_page_in_grid_links_up() -> None:
    """
    In a grid (served two levels under it) the page links back to the grid.
    """
    hub, _ = make_hub()
    _, root = render(CameraPage(hub, in_grid=True))
    up = one(root, ".//a[@class='up']")
    assert up.get("href") == "../../"
    assert text(up) == "All cameras"


def test_camera_page_shows_resolution() -> None:
    """
    Once the camera has given a frame, the page shows that frame's width and
    height and that the camera is running.
    """
    hub, source = make_hub()
    run(hub, source, width=64, height=48)
    html, root = render(CameraPage(hub))
    assert text(one(root, ".//span[@id='resolution']")) == "64\u00d748"
    assert "no picture yet" not in html
    assert one(root, ".//span[@id='state']").get("data-state") == "running"
    assert one(root, ".//figure[@id='picture']").get("data-state") == "running"


def test_camera_page_failed() -> None:
    """
    A failed camera's page says why there is no picture where the picture
    would be, and carries the failed state.
    """
    hub, source = make_hub()
    fail(hub, source, "no such device")
    _, root = render(CameraPage(hub))
    picture = one(root, ".//figure[@id='picture']")
    assert picture.get("data-state") == "failed"
    assert text(one(picture, "figcaption")) == "No picture: no such device"
    assert one(root, ".//span[@id='state']").get("data-state") == "failed"
    assert text(one(root, ".//span[@id='resolution']")) == "no picture yet"


def test_camera_page_failed_after_a_picture() -> None:
    """
    A camera that failed after giving frames still shows the resolution it
    had, and the reason it has no picture now.
    """
    hub, source = make_hub()
    run(hub, source, width=48, height=32)
    source.fail(OSError("unplugged"))
    _, root = render(CameraPage(hub))
    assert text(one(root, ".//span[@id='resolution']")) == "48\u00d732"
    assert text(one(root, ".//figcaption")) == "No picture: unplugged"


def test_camera_page_escapes_name_and_driver() -> None:
    """
    A name and driver full of HTML's special characters are escaped
    everywhere the page shows them: title, heading, alt text.
    """
    hub, _ = make_hub(NASTY, driver="<x>")
    html, root = render(CameraPage(hub))
    assert text(one(root, "head/title")) == f"{NASTY} \u00b7 camserve"
    assert text(one(root, ".//h1[@id='name']")) == NASTY
    assert text(one(root, ".//span[@id='driver']/b")) == "<x>"
    assert one(root, ".//img[@id='stream']").get("alt") == f"live picture of {NASTY}"
    # Nothing of the names became markup.
    assert root.findall(".//x") == []
    assert len(root.findall(".//b")) == 1
    assert "<x>" not in html
    assert "Porch <b>" not in html
    assert "Porch &lt;b&gt;&amp;" in html


def test_camera_page_escapes_failure_reason() -> None:
    """
    A driver's error message is text on the page, never markup.
    """
    hub, source = make_hub()
    fail(hub, source, "<script>alert(1)</script>")
    html, root = render(CameraPage(hub))
    assert root.findall(".//script") == root.findall("head/script")
    assert text(one(root, ".//figcaption")) == ("No picture: <script>alert(1)</script>")
    assert "<script>alert" not in html


# The grid


def test_grid_tiles() -> None:
    """
    The grid has one tile per camera, in order, each naming its camera for
    the script, linking to the camera's page, with a canvas for its picture
    labelled with the camera's name, a snapshot link that downloads, and
    pause and full-screen buttons labelled with the camera's name. The
    grid waits for its script to show it.
    """
    front, _ = make_hub("front")
    back, _ = make_hub("back")
    _, root = render(GridPage([front, back]))
    grid = one(root, ".//main[@id='grid']")
    assert grid.get("hidden") == ""
    tiles = grid.findall("article")
    assert [tile.get("data-camera") for tile in tiles] == ["front", "back"]
    for tile, name in zip(tiles, ["front", "back"], strict=True):
        assert tile.get("class") == "tile"
        assert tile.get("data-state") == "idle"
        assert tile.get("data-width") == tile.get("data-height") == ""
        picture = one(tile, "a[@class='picture']")
        assert picture.get("href") == f"cameras/{name}/"
        canvas = one(picture, "canvas")
        assert canvas.get("role") == "img"
        assert canvas.get("aria-label") == f"live picture of {name}"
        assert text(one(picture, "span[@class='overlay']")) == ""
        link = one(tile, ".//a[@class='name']")
        assert link.get("href") == f"cameras/{name}/"
        assert text(link) == name
        snapshot = one(tile, ".//a[@class='button snapshot']")
        assert snapshot.get("href") == f"cameras/{name}/snapshot.jpg?download=1"
        assert snapshot.get("download") == ""
        assert snapshot.get("aria-label") == f"download a snapshot of {name}"
        pause = one(tile, ".//button[@class='pause']")
        assert pause.get("aria-label") == f"pause {name}"
        assert pause.get("aria-pressed") == "false"
        fullscreen = one(tile, ".//button[@class='fullscreen']")
        assert fullscreen.get("aria-label") == f"show {name} full screen"
        assert text(one(tile, ".//span[@class='stats']")).startswith(
            "0 watching \u00b7 "
        )
    assert [script.get("src") for script in root.findall("head/script")] == [
        "static/parts.js",
        "static/feed.js",
        "static/pictures.js",
        "static/layout.js",
        "static/arrange.js",
        "static/keys.js",
        "static/snapshots.js",
        "static/reload.js",
        "static/timescale.js",
        "static/wall.js",
        "static/grid.js",
    ]


def test_grid_tiles_know_their_cameras_sizes() -> None:
    """
    A tile whose camera has given a frame carries that frame's width and
    height, for its script to lay it out at its aspect ratio before the
    first picture comes.
    """
    hub, source = make_hub("wide")
    run(hub, source, width=64, height=36)
    _, root = render(GridPage([hub]))
    tile = one(root, ".//article")
    assert (tile.get("data-width"), tile.get("data-height")) == ("64", "36")


def test_grid_summary() -> None:
    """
    The grid's summary counts the cameras, in the singular for one, and
    those that are live.
    """
    none_html, none_root = render(GridPage([]))
    assert text(one(none_root, ".//span[@id='summary']")) == "0 cameras, 0 live"
    assert text(one(none_root, ".//span[@id='troubles']")) == ""
    assert none_root.findall(".//article") == []
    assert "data-camera" not in none_html

    only, source = make_hub("only")
    _, root = render(GridPage([only]))
    assert text(one(root, ".//span[@id='summary']")) == "1 camera, 0 live"
    run(only, source)
    idle, _ = make_hub("idle")
    _, root = render(GridPage([only, idle]))
    assert text(one(root, ".//span[@id='summary']")) == "2 cameras, 1 live"


def test_grid_failed_tile() -> None:
    """
    A failed camera's tile carries the failed state and says why there is
    no picture; the others' tiles do not.
    """
    broken, source = make_hub("broken")
    fine, _ = make_hub("fine")
    fail(broken, source, "no such device")
    _, root = render(GridPage([broken, fine]))
    first, second = root.findall(".//article")
    assert first.get("data-state") == "failed"
    assert text(one(first, ".//span[@class='overlay']")) == (
        "No picture: no such device"
    )
    assert second.get("data-state") == "idle"
    assert text(one(second, ".//span[@class='overlay']")) == ""


def test_grid_names_failed_cameras() -> None:
    """
    The grid's header names every failed camera, each a link to its page,
    so that a failure below the fold is seen.
    """
    hubs = []
    for name in ("one", "two", "three"):
        hub, source = make_hub(name)
        if name != "two":
            fail(hub, source)
        hubs.append(hub)
    _, root = render(GridPage(hubs))
    trouble = one(root, ".//span[@id='troubles']/span")
    assert trouble.get("data-kind") == "failed"
    assert text(trouble) == "failed: one, three"
    assert [(link.get("href"), text(link)) for link in trouble.findall("a")] == [
        ("cameras/one/", "one"),
        ("cameras/three/", "three"),
    ]


def test_grid_without_scripts() -> None:
    """
    For a browser without scripts, the grid holds each camera as a plain
    stream in the framing browsers show at once, linking to its page and
    saying its state and any problem, with a note on the six connections a
    browser opens to a server.
    """
    fine, _ = make_hub("fine")
    broken, source = make_hub(NASTY)
    fail(broken, source, "unplugged")
    _, root = render(GridPage([fine, broken]))
    fallback = one(root, "body/noscript")
    assert "six connections" in text(one(fallback, "p"))
    figures = fallback.findall(".//figure")
    assert [one(figure, "a/img").get("src") for figure in figures] == [
        "cameras/fine/video_feed?advance_headers=1",
        f"cameras/{NASTY_IN_URL}/video_feed?advance_headers=1",
    ]
    assert [one(figure, "a/img").get("alt") for figure in figures] == [
        "live picture of fine",
        f"live picture of {NASTY}",
    ]
    assert text(one(figures[0], "figcaption")) == "fine idle"
    assert (
        text(one(figures[1], "figcaption")) == f"{NASTY} failed No picture: unplugged"
    )
    assert one(figures[1], "figcaption/a").get("href") == f"cameras/{NASTY_IN_URL}/"


def test_grid_names_the_user() -> None:
    """
    The grid names the logged-in user; without logins, nobody.
    """
    hub, _ = make_hub()
    html, root = render(GridPage([hub]))
    assert root.findall(".//span[@id='user']") == []
    assert "Signed in" not in html
    _, root = render(GridPage([hub], user=User(NASTY, "viewer")))
    assert text(one(root, ".//span[@id='user']")) == f"Signed in as {NASTY}"


def test_grid_offers_reload_to_an_admin() -> None:
    """
    Only an admin's grid has the button that reloads the config file, and
    the place where what the reload did is said.
    """
    hub, _ = make_hub()
    for user in (None, User("bob", "viewer")):
        _, root = render(GridPage([hub], user=user))
        assert root.findall(".//button[@id='reload']") == []
        assert root.findall(".//output[@id='reloaded']") == []
    _, root = render(GridPage([hub], user=User("alice", "admin")))
    assert text(one(root, ".//button[@id='reload']")) == "Reload config"
    assert text(one(root, ".//output[@id='reloaded']")) == ""


def test_grid_escapes_and_encodes_names() -> None:
    """
    A name full of HTML's special characters is escaped wherever the grid
    shows it and percent-encoded, as one path segment, in every link.
    """
    hub, _ = make_hub(NASTY)
    html, root = render(GridPage([hub]))
    tile = one(root, ".//article")
    assert tile.get("data-camera") == NASTY
    assert one(tile, "a[@class='picture']").get("href") == f"cameras/{NASTY_IN_URL}/"
    assert one(tile, ".//canvas").get("aria-label") == f"live picture of {NASTY}"
    name = one(tile, ".//a[@class='name']")
    assert name.get("href") == f"cameras/{NASTY_IN_URL}/"
    assert text(name) == NASTY
    assert one(tile, ".//a[@class='button snapshot']").get("href") == (
        f"cameras/{NASTY_IN_URL}/snapshot.jpg?download=1"
    )
    assert one(tile, ".//button[@class='pause']").get("aria-label") == (
        f"pause {NASTY}"
    )
    assert root.findall(".//b") == []
    assert "<b>" not in html


def test_grid_counts_viewers_given() -> None:
    """
    Given a count of viewers (the server's, which counts thumbnail viewers),
    a tile shows it rather than the hub's count of its sinks.
    """
    hub, _ = make_hub("cam")
    counted: list[CameraHub] = []

    def viewers(asked: CameraHub) -> int:
        counted.append(asked)
        return 3

    _, root = render(GridPage([hub], viewers=viewers))
    stats = text(one(root, ".//span[@class='stats']"))
    assert stats.startswith("3 watching \u00b7 ")
    assert counted == [hub]


def recording_report(mode: str, state: str = "off", size: int = 0) -> dict[str, Any]:
    """
    A camera's recording report, as the recording service gives it.
    """
    return {
        "mode": mode,
        "state": state,
        "bytes": size,
        "frames_written": 0,
        "frames_dropped": 0,
        "last_error": None,
    }


def test_camera_page_timeline() -> None:
    """
    A camera that records, or has recordings, gets the timeline (with the
    API path of its camera) and its script; one that neither records nor
    has recordings, a page without a report, or one opened with an API
    token (which does not open the API), gets neither. Only an
    admin of a camera that records on demand gets the Record button.
    """
    hub, _ = make_hub("porch/1")
    for report in (None, recording_report("off")):
        html, root = render(CameraPage(hub, in_grid=True, recording=report))
        assert root.findall(".//*[@id='timeline']") == []
        assert "timeline.js" not in html
        assert "activity.js" not in html
    token = "a-token"  # noqa: S105 - a made-up token, no secret
    _, root = render(
        CameraPage(
            hub, in_grid=True, token=token, recording=recording_report("on_demand")
        )
    )
    assert root.findall(".//*[@id='timeline']") == []
    for report, admin, button in [
        (recording_report("continuous", "recording"), True, False),
        (recording_report("off", size=1000), True, False),
        (recording_report("on_demand"), False, False),
        (recording_report("on_demand", "recording"), True, True),
    ]:
        html, root = render(
            CameraPage(hub, in_grid=True, recording=report, admin=admin)
        )
        timeline = one(root, ".//section[@id='timeline']")
        assert timeline.get("data-api") == "../../api/cameras/porch%2F1/"
        assert timeline.get("data-recording") == report["state"]
        assert "static/timeline.js" in html
        assert "static/activity.js" in html
        assert bool(root.findall(".//button[@id='record']")) is button
