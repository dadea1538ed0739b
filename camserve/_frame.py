# -*- test-case-name: tests.test_multipart -*-
"""
A captured frame, as the hub hands it to its sinks.
"""

from __future__ import annotations

from functools import cached_property

from attrs import field, frozen

from camserve._multipart import encode_advance_part, encode_part


@frozen
class Frame:
    """
    One JPEG from a camera, numbered in capture order.

    @ivar jpeg: the JPEG bytes, exactly as the camera gave them.
    @ivar captured_at: capture time, Unix seconds.
    @ivar number: position in the hub's sequence, from 1; a sink that has sent
        frame C{n} never needs a frame numbered C{n} or lower again.
    @ivar received_at: when the reactor received it, on the hub's clock.
    @ivar camera: the name of the camera it comes from.
    """

    jpeg: bytes = field(repr=lambda jpeg: f"<{len(jpeg)} bytes>")
    captured_at: float
    number: int
    received_at: float
    camera: str = ""

    @cached_property
    def part(self) -> bytes:
        """
        The frame as one multipart part (headers, JPEG, closing boundary),
        built on first use and shared by every viewer.
        """
        return encode_part(self.jpeg, self.captured_at)

    @cached_property
    def labelled_part(self) -> bytes:
        """
        The frame as one part that names its camera, for streams of several
        cameras, built on first use and shared by every viewer that uses it.
        """
        return encode_part(self.jpeg, self.captured_at, self.camera)

    @cached_property
    def advance_part(self) -> bytes:
        """
        The frame as one part in the advance-headers framing, for browsers,
        built on first use and shared by every viewer that uses it.
        """
        return encode_advance_part(self.jpeg)
