# -*- test-case-name: tests.test_opencv -*-
"""
What an C{opencv} camera's C{source} names: a device, a file or a stream.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from attrs import frozen


@frozen
class Source:
    """
    What C{source} names: a C{"device"}, a C{"file"} or a C{"stream"}.

    @ivar target: what C{VideoCapture} opens: a device index, a path, a URL.
    @ivar shown: how messages and health name it (a URL without password).
    """

    kind: Literal["device", "file", "stream"]
    target: int | str
    shown: str

    def problem(self) -> str | None:
        """
        What would stop the source that can be known without opening it: a
        video file that does not exist. Devices and streams are not looked
        for, as they may come up later, nor GStreamer pipelines.
        """
        target = self.target
        if (
            self.kind != "file"
            or not isinstance(target, str)
            or "!" in target
            or Path(target).expanduser().exists()
        ):
            return None
        return f"source {self.shown!r}: no such video file"

    @property
    def described(self) -> str:
        """
        The source with what it is, for messages: "video file clip.avi".
        """
        noun = {"device": "camera device", "file": "video file"}
        return f"{noun.get(self.kind, 'stream')} {self.shown}"


def parse_source(source: str) -> Source:
    """
    Tell a device number, a device path, a URL and a video file apart.
    """
    if source.isdigit():
        return Source("device", int(source), source)
    if source.startswith("/dev/"):
        return Source("device", source, source)
    if "://" in source:
        parts = urlsplit(source)
        if parts.password is None:
            return Source("stream", source, source)
        # The reason a stream failed is shown to every viewer and in health.
        host = parts.netloc.rpartition("@")[2]
        hidden = parts._replace(netloc=f"{parts.username}:***@{host}").geturl()
        return Source("stream", source, hidden)
    return Source("file", source, source)
