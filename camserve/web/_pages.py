# -*- test-case-name: tests.test_pages -*-
"""
camserve's pages, as C{twisted.web.template} elements: the grid of every
camera (a wall of tiles that its scripts lay out and fill, starting at
C{static/grid.js}; without scripts, a plain stream per camera) and one
camera's page (its stream, which its script, C{static/camera.js}, follows
and controls).
"""

from __future__ import annotations

from importlib.resources import files
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from twisted.web.template import Element, XMLString, renderer, tags

from camserve._jpeg import jpeg_size
from camserve.camera._states import HubState

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

    from twisted.web.iweb import IRequest
    from twisted.web.template import Tag

    from camserve.camera._hub import CameraHub
    from camserve.web._user import User


def _template(name: str) -> XMLString:
    return XMLString(
        files(__package__).joinpath("templates", name).read_text(encoding="utf-8")
    )


_GRID = _template("grid.xml")
_CAMERA = _template("camera.xml")


def resolution(hub: CameraHub) -> tuple[int, int] | None:
    """
    The size of the camera's newest frame, if it has had one.
    """
    newest = hub.newest
    return jpeg_size(newest.jpeg) if newest is not None else None


def describe(hub: CameraHub, viewers: int | None = None) -> dict[str, str]:
    """
    What a page says of a camera: its state, a resolution line, and its
    problem if it has one.

    @param viewers: how many watch the camera, if the hub's own count of
        its sinks is not the whole story (see L{GridPage}).
    """
    health = hub.health()
    if viewers is not None:
        health["viewers"] = viewers
    size = resolution(hub)
    failed = hub.state is HubState.FAILED
    return {
        "name": hub.name,
        "driver": hub.driver,
        "state": hub.state.value,
        "shown_state": "live" if hub.state is HubState.RUNNING else hub.state.value,
        "resolution": f"{size[0]}\u00d7{size[1]}" if size else "no picture yet",
        "problem": f"No picture: {health['last_error']}" if failed else "",
        "stats": f"{health['viewers']} watching \u00b7 {health['fps']:.1f} fps",
    }


class GridPage(Element):
    """
    Every camera's live picture in a grid, each with its name, state and
    controls; who is logged in, and for an admin a way to reload the config
    file. Without scripts, each camera is a plain stream instead.
    """

    loader = _GRID

    def __init__(
        self,
        hubs: Sequence[CameraHub],
        *,
        viewers: Callable[[CameraHub], int] | None = None,
        user: User | None = None,
    ) -> None:
        """
        @param viewers: how many watch a camera, counting those who watch it
            through another hub (its thumbnails); the hub's count of its
            sinks by default.
        @param user: who is logged in, named on the page (and offered the
            reload if an admin); L{None} without logins.
        """
        super().__init__()
        self._hubs = hubs
        self._viewers = viewers
        self._user = user

    @renderer
    def page(self, _request: IRequest | None, tag: Tag) -> Tag:
        """
        The page, with its summary filled in.
        """
        running = sum(hub.state is HubState.RUNNING for hub in self._hubs)
        count = len(self._hubs)
        return tag.fillSlots(
            summary=f"{count} camera{'s' if count != 1 else ''}, {running} live"
        )

    @renderer
    def failed(self, _request: IRequest | None, tag: Tag) -> Tag | str:
        """
        The failed cameras, each a link to its page; nothing if none failed.
        """
        failed = [hub.name for hub in self._hubs if hub.state is HubState.FAILED]
        if not failed:
            return ""
        links: list[Tag | str] = []
        for name in failed:
            links += [", " if links else "", tags.a(name, href=_page(name))]
        return tag(*links)

    @renderer
    def tiles(self, _request: IRequest | None, tag: Tag) -> Iterator[Tag]:
        """
        One tile per camera.
        """
        for hub in self._hubs:
            path = _page(hub.name)
            size = resolution(hub)
            yield tag.clone().fillSlots(
                page=path,
                snapshot=f"{path}snapshot.jpg?download=1",
                width=str(size[0]) if size else "",
                height=str(size[1]) if size else "",
                group=hub.group or "",
                **{
                    key: value
                    for key, value in describe(
                        hub, None if self._viewers is None else self._viewers(hub)
                    ).items()
                    if key in ("name", "state", "shown_state", "problem", "stats")
                },
            )

    @renderer
    def plain(self, _request: IRequest | None, tag: Tag) -> Iterator[Tag]:
        """
        Each camera as a plain stream, for browsers without scripts.
        """
        for hub in self._hubs:
            path = _page(hub.name)
            yield tag.clone().fillSlots(
                page=path,
                stream=f"{path}video_feed?advance_headers=1",
                **{
                    key: value
                    for key, value in describe(hub).items()
                    if key in ("name", "state", "shown_state", "problem")
                },
            )

    @renderer
    def user(self, _request: IRequest | None, tag: Tag) -> Tag | str:
        """
        Who is logged in, if anyone.
        """
        return "" if self._user is None else tag.fillSlots(user=self._user.name)

    @renderer
    def reload(self, _request: IRequest | None, tag: Tag) -> Tag | str:
        """
        The control that reloads the config file, and what it did, for an
        admin.
        """
        return tag if self._user is not None and self._user.may("admin") else ""


def _page(name: str) -> str:
    """
    The path of camera C{name}'s page, relative to the grid.
    """
    return f"cameras/{quote(name, safe='')}/"


class CameraPage(Element):
    """
    One camera's page: its live picture large, its state, and controls.
    """

    loader = _CAMERA

    def __init__(
        self,
        hub: CameraHub,
        *,
        in_grid: bool = False,
        snapshots: bool = False,
        token: str | None = None,
        share: bool = False,
        recording: dict[str, Any] | None = None,
        admin: bool = False,
    ) -> None:
        """
        @param in_grid: whether the page sits under a grid of cameras, two
            levels up, which it then links to.
        @param snapshots: whether the page shows snapshots rather than the
            stream, for browsers that cannot show a stream.
        @param token: the API token the page was asked with, which its
            links then carry (and it links to no grid, which a token does
            not open).
        @param share: whether to offer to make a link with an API token.
        @param recording: the camera's recording report, if the server
            records and serves its API beside the page: a camera that
            records, or has recordings, gets a timeline of them.
        @param admin: whether to offer to start and stop the recording of
            a camera that records on demand.
        """
        super().__init__()
        self._hub = hub
        self._in_grid = in_grid
        self._snapshots = snapshots
        self._token = token
        self._share = share and token is None
        self._recording = None if token is not None else recording
        self._admin = admin

    @renderer
    def camera(self, _request: IRequest | None, tag: Tag) -> Tag:
        """
        The camera's facts, and where its picture comes from.
        """
        token = "" if self._token is None else quote(self._token, safe="")
        alone, added = (f"?token={token}", f"&token={token}") if token else ("", "")
        picture = (
            f"snapshot.jpg{alone}"
            if self._snapshots
            else f"video_feed?advance_headers=1{added}"
        )
        return tag.fillSlots(
            picture=picture, token=alone, and_token=added, **describe(self._hub)
        )

    @renderer
    def up(self, _request: IRequest | None, tag: Tag) -> Tag | str:
        """
        A link to the grid, if the page is in one.
        """
        return tag if self._in_grid and self._token is None else ""

    @renderer
    def share(self, _request: IRequest | None, tag: Tag) -> Tag | str:
        """
        The control that makes a link to the page with an API token, for a
        user who may mint one.
        """
        return tag if self._share else ""

    @renderer
    def timeline(self, _request: IRequest | None, tag: Tag) -> Tag | str:
        """
        The timeline of the camera's recordings and the playback's
        controls (C{static/timeline.js}), if it records or has recordings.
        """
        report = self._recording
        if report is None or (report["mode"] == "off" and not report["bytes"]):
            return ""
        return tag.fillSlots(
            api=f"../../api/cameras/{quote(self._hub.name, safe='')}/",
            mode=report["mode"],
            recording_state=report["state"],
        )

    @renderer
    def record(self, _request: IRequest | None, tag: Tag) -> Tag | str:
        """
        The control that starts and stops the recording, for an admin of a
        camera that records on demand.
        """
        report = self._recording
        on_demand = report is not None and report["mode"] == "on_demand"
        return tag if on_demand and self._admin else ""
