# -*- test-case-name: tests.test_server_app,tests.test_health -*-
"""
What a server app reports of its cameras: each camera's summary in the API,
and the health of them all.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from camserve.camera._states import HubState
from camserve.web._pages import resolution

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from camserve.camera._hub import CameraHub


def camera_summary(hub: CameraHub, viewers: int) -> dict[str, Any]:
    """
    The API's summary of C{hub}'s camera, which C{viewers} watch: its
    state, rate and size, and the paths of its page, stream and snapshot.
    """
    health = hub.health()
    size = resolution(hub)
    path = f"cameras/{quote(hub.name, safe='')}/"
    return {
        "name": hub.name,
        "driver": hub.driver,
        "group": hub.group,
        "state": health["state"],
        "last_error": health["last_error"],
        "viewers": viewers,
        "fps": health["fps"],
        "width": size[0] if size else None,
        "height": size[1] if size else None,
        "page": path,
        "stream": f"{path}video_feed",
        "snapshot": f"{path}snapshot.jpg",
    }


def camera_details(hub: CameraHub, viewers: int) -> dict[str, Any]:
    """
    The API's account of one camera: its summary, with its frame count,
    uptime, driver's details and timeouts.
    """
    health = hub.health()
    return {
        **camera_summary(hub, viewers),
        "frames_captured": health["frames_captured"],
        "uptime": health["uptime"],
        "details": health["details"],
        "timeouts": {
            "idle": hub.idle_timeout,
            "start": hub.start_timeout,
            "keepalive": hub.keepalive_interval,
            "stall": hub.stall_timeout,
        },
    }


def health_report(
    hubs: Sequence[CameraHub],
    viewers: Callable[[CameraHub], int],
    *,
    anonymous: bool,
) -> tuple[dict[str, Any], int]:
    """
    The health of C{hubs}' cameras and its status code: C{503} while one has
    failed, naming them. For those who did not log in, in front of logins
    (C{anonymous}), only whether all is well and how many cameras there are
    and have failed.

    @param viewers: how many watch a hub's camera.
    """
    if anonymous:
        down = sum(hub.state is HubState.FAILED for hub in hubs)
        counts = {"status": "failed" if down else "ok", "cameras": len(hubs)}
        return {**counts, "failed": down}, 503 if down else 200
    cameras = [{**hub.health(), "viewers": viewers(hub)} for hub in hubs]
    failed = [camera["name"] for camera in cameras if camera["state"] == "failed"]
    report = {
        "status": "failed" if failed else "ok",
        "failed": failed,
        "cameras": cameras,
    }
    return report, 503 if failed else 200
