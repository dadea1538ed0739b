# -*- test-case-name: tests.test_motion -*-
"""
A camera's motion events, kept beside its segments in
C{<recordings_dir>/<camera>/motion.jsonl}: one JSON object a line, as
C{docs/recording-format.md} says.
"""

from __future__ import annotations

import json
import os
from functools import partial
from typing import TYPE_CHECKING, Any

from twisted.internet.defer import succeed
from twisted.logger import Logger

from camserve.recording._layout import camera_folder

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from twisted.internet.defer import Deferred
    from twisted.python.failure import Failure

    from camserve.recording._activity_watch import ActivityWatch
    from camserve.recording._modes import RecordingSettings
    from camserve.recording._motion import MotionEvent
    from camserve.recording._writer_jobs import InThread

MOTION_LOG = "motion.jsonl"
"""The name of a camera's file of motion events, in its folder."""


def motion_log_path(root: Path, camera: str) -> Path:
    """
    Where camera C{camera}'s motion events are kept, under C{root}.
    """
    return camera_folder(root, camera) / MOTION_LOG


class MotionLog:
    """
    Appends a camera's motion events to its file, each as it ends, in the
    camera's writer thread.
    """

    _log = Logger()

    def __init__(
        self,
        path: Path,
        in_thread: InThread,
        settings: Callable[[], RecordingSettings],
    ) -> None:
        """
        @param path: the file.
        @param in_thread: runs a job in the camera's writer thread (the one
            that writes the file, so that appending and pruning never
            meet).
        @param settings: the recording's settings now: its C{max_age}.
        """
        self._path = path
        self._in_thread = in_thread
        self._settings = settings

    def ended(self, event: MotionEvent) -> None:
        """
        Keep C{event}, which has ended, and forget those that ended more
        than the recording's C{max_age} before it.
        """
        line = json.dumps(event.as_json()) + "\n"
        max_age = self._settings().max_age
        end = event.start if event.end is None else event.end
        oldest = None if max_age is None else end - max_age
        job = partial(_append, self._path, line.encode(), oldest)
        self._in_thread(job).addErrback(self._failed)

    def _failed(self, failure: Failure) -> None:
        self._log.error(
            "cannot keep a motion event in {path}: {why}",
            path=self._path,
            why=failure.getErrorMessage(),
        )


def _append(path: Path, line: bytes, oldest: float | None) -> None:
    """
    Append C{line} to the file at C{path}, and flush it to the disk; first
    forget the events that ended before C{oldest}, if not L{None}.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    if oldest is not None:
        _prune(path, oldest)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o666)
    try:
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)


def _prune(path: Path, oldest: float) -> None:
    """
    Rewrite the file at C{path} without the events that ended before
    C{oldest}, if it has any (a new file, flushed, then renamed over it).
    """
    events = read_events(path)
    kept = [each for each in events if _ended_at(each) >= oldest]
    if len(kept) == len(events):
        return
    again = path.with_name(path.name + ".new")
    again.write_bytes(b"".join(json.dumps(each).encode() + b"\n" for each in kept))
    fd = os.open(again, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    again.replace(path)


def _ended_at(event: dict[str, Any]) -> float:
    """
    When C{event} ended (or started, if it has no end), Unix seconds.
    """
    when = event["end"] if event["end"] is not None else event["start"]
    return float(when) if isinstance(when, (int, float)) else float("inf")


def read_events(path: Path) -> list[dict[str, Any]]:
    """
    The events kept in the file at C{path}, oldest first: each its
    C{start}, C{end} and C{peak}. A line cut short by a crash, or that is
    not an event, is left out; no file, no events.
    """
    try:
        text = path.read_bytes().decode("utf-8", "replace")
    except FileNotFoundError:
        return []
    events = []
    for line in text.splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict) and {"start", "end", "peak"} <= event.keys():
            events.append(event)
    return events


def list_events(
    path: Path | None,
    in_thread: InThread,
    watch: Callable[[], ActivityWatch | None],
) -> Deferred[list[dict[str, Any]]]:
    """
    A camera's motion events, JSON-ready, oldest first: those kept in the
    file at C{path} (L{None} for none), read by C{in_thread}, then the
    motion going on, if any, with an C{end} of L{None}.

    @param watch: the camera's activity now, if it records.
    """
    reading: Deferred[list[dict[str, Any]]] = (
        succeed([]) if path is None else in_thread(partial(read_events, path))
    )

    def with_current(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        watching = watch()
        current = None if watching is None else watching.current()
        return events if current is None else [*events, current.as_json()]

    return reading.addCallback(with_current)
