# -*- test-case-name: tests.test_retention -*-
"""
Retention: deleting the oldest whole segments of the recordings, by age
and by bytes for each camera, and for the free-space floor of their disk.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

from attrs import field, frozen

from camserve.recording._layout import SUFFIXES, is_day_folder, started_at

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

    from camserve.recording._open_segments import OpenSegments

_SETTLED = 3.0
"""Seconds after its last change beyond which a folder's listing is kept
until it changes again: more than the coarsest file times (FAT's 2 s)."""


@frozen
class Limits:
    """
    How much of one camera's recording is kept.

    @ivar max_age: seconds a segment is kept after its last frame; L{None}
        for no limit.
    @ivar max_bytes: the most bytes its segments hold; L{None} for no limit.
    """

    max_age: float | None = None
    max_bytes: int | None = None


@frozen
class Swept:
    """
    What a sweep found and did.

    @ivar usage: the bytes each camera's recording holds now, by the name
        of its folder.
    @ivar deleted: the segments deleted, by their path without a suffix.
    @ivar low: whether the disk has less free space than the floor, with no
        segment left to delete but those being written.
    @ivar errors: what could not be read or deleted, each in one line.
    """

    usage: Mapping[str, int] = field(factory=dict)
    deleted: tuple[Path, ...] = ()
    low: bool = False
    errors: tuple[str, ...] = ()


@frozen
class _Stored:
    """
    A segment on the disk.

    @ivar base: its path without a suffix.
    @ivar suffixes: those of its files.
    @ivar size: the bytes of its files.
    @ivar modified: when its files last changed, Unix seconds.
    """

    base: Path
    started_at: float
    suffixes: tuple[str, ...]
    size: int
    modified: float


@frozen
class _Listing:
    """
    A day folder's segments, as read when the folder had last changed at
    C{changed} (its C{st_mtime_ns}).
    """

    changed: int
    segments: tuple[_Stored, ...]


def disk_free(path: Path) -> int:
    """
    The bytes free for an unprivileged user on the disk of C{path} (or of
    the nearest folder above it that exists).
    """
    for each in (path, *path.parents):
        try:
            found = os.statvfs(each)
        except FileNotFoundError:
            continue
        return found.f_bavail * found.f_frsize
    raise FileNotFoundError(path)


class Retention:
    """
    Deletes the oldest whole segments (each with every file it has) of a
    recordings folder: those of a camera older than its C{max_age} or
    beyond its C{max_bytes}, and then, while the disk has less free space
    than the floor, the oldest of any camera. A segment being written is
    never deleted, nor a file whose name is not a segment's.

    A sweep runs in a thread of its own, one at a time. The listing of a
    day's folder is kept from one sweep to the next while the folder is
    unchanged, so that a sweep reads only the folders that changed: today's.
    """

    def __init__(
        self,
        open_segments: OpenSegments,
        free_space: Callable[[Path], int] = disk_free,
    ) -> None:
        """
        @param open_segments: the segments being written.
        @param free_space: the bytes free on the disk of a path.
        """
        self._open = open_segments
        self._free_space = free_space
        self._listings: dict[Path, _Listing] = {}

    def sweep(
        self,
        root: Path,
        limits: Mapping[str, Limits],
        min_free_bytes: int,
        now: float,
    ) -> Swept:
        """
        Delete what C{limits} and the floor ask to from C{root}.

        @param limits: by camera; cameras not named keep all but what the
            floor takes.
        @param min_free_bytes: the bytes to keep free on C{root}'s disk.
        @param now: the time, Unix seconds, that ages are counted to.
        """
        errors: list[str] = []
        deleted: list[Path] = []
        cameras = self._cameras(root, errors)
        for name, stored in cameras.items():
            limit = limits.get(name, Limits())
            cameras[name] = self._limit(stored, limit, now, deleted, errors)
        low = False
        if min_free_bytes > 0:
            low = self._floor(root, cameras, min_free_bytes, deleted, errors)
        self._forget_empty(deleted, errors)
        usage = {
            name: sum(each.size for each in stored) for name, stored in cameras.items()
        }
        return Swept(usage, tuple(deleted), low, tuple(errors))

    def _cameras(self, root: Path, errors: list[str]) -> dict[str, list[_Stored]]:
        """
        Every camera's segments under C{root}, oldest first.
        """
        cameras: dict[str, list[_Stored]] = {}
        for folder in _folders(root, errors, day=False):
            stored = [
                segment
                for day in _folders(folder, errors, day=True)
                for segment in self._listing(day, errors)
            ]
            cameras[folder.name] = sorted(stored, key=lambda each: each.started_at)
        return cameras

    def _listing(self, day: Path, errors: list[str]) -> tuple[_Stored, ...]:
        """
        The segments of C{day}'s folder: as listed before if it has not
        changed since, else read again.
        """
        try:
            changed = day.stat().st_mtime_ns
        except OSError as error:
            errors.append(_said("cannot read", day, error))
            return ()
        known = self._listings.get(day)
        if known is not None and known.changed == changed:
            return known.segments
        self._listings.pop(day, None)
        try:
            segments = _read_day(day)
        except OSError as error:
            errors.append(_said("cannot read", day, error))
            return ()
        settled = time.time() - changed / 1e9 > _SETTLED
        with self._open.unused(day) as unused:
            if settled and unused:
                self._listings[day] = _Listing(changed, segments)
        return segments

    def _limit(
        self,
        stored: list[_Stored],
        limit: Limits,
        now: float,
        deleted: list[Path],
        errors: list[str],
    ) -> list[_Stored]:
        """
        Delete the segments of C{stored} beyond C{limit}; those kept.
        """
        kept = []
        total = sum(each.size for each in stored)
        for each in stored:
            too_old = limit.max_age is not None and each.modified < now - limit.max_age
            too_much = limit.max_bytes is not None and total > limit.max_bytes
            if (too_old or too_much) and self._delete(each, deleted, errors):
                total -= each.size
            else:
                kept.append(each)
        return kept

    def _floor(
        self,
        root: Path,
        cameras: dict[str, list[_Stored]],
        min_free_bytes: int,
        deleted: list[Path],
        errors: list[str],
    ) -> bool:
        """
        Delete the oldest segments of any camera while the disk has less
        than C{min_free_bytes} free; whether it still has.
        """
        try:
            free = self._free_space(root)
        except OSError as error:
            errors.append(_said("cannot measure the free space of", root, error))
            return False
        oldest = sorted(
            ((each, name) for name, stored in cameras.items() for each in stored),
            key=lambda pair: pair[0].started_at,
        )
        for each, name in oldest:
            if free >= min_free_bytes:
                break
            if self._delete(each, deleted, errors):
                cameras[name].remove(each)
                free = self._free_space(root)
        return free < min_free_bytes

    def _delete(self, segment: _Stored, deleted: list[Path], errors: list[str]) -> bool:
        """
        Delete C{segment}'s files unless it is being written; whether it
        was deleted.
        """
        with self._open.closed(segment.base) as closed:
            if not closed:
                return False
            for suffix in segment.suffixes:
                path = segment.base.with_name(segment.base.name + suffix)
                try:
                    path.unlink(missing_ok=True)
                except OSError as error:
                    errors.append(_said("cannot delete", path, error))
                    return False
        deleted.append(segment.base)
        return True

    def _forget_empty(self, deleted: Iterable[Path], errors: list[str]) -> None:
        """
        Remove the day folders that deleting emptied, unless a segment is
        being made there.
        """
        for day in {base.parent for base in deleted}:
            self._listings.pop(day, None)
            with self._open.unused(day) as unused:
                if not unused or any(day.iterdir()):
                    continue
                try:
                    day.rmdir()
                except OSError as error:
                    errors.append(_said("cannot delete", day, error))


def _folders(folder: Path, errors: list[str], *, day: bool) -> list[Path]:
    """
    The folders in C{folder}: the days' if C{day}, else any.
    """
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return []
    except OSError as error:
        errors.append(_said("cannot read", folder, error))
        return []
    return [
        Path(entry.path)
        for entry in entries
        if entry.is_dir(follow_symlinks=False)
        and (not day or is_day_folder(entry.name))
    ]


def _read_day(day: Path) -> tuple[_Stored, ...]:
    """
    The segments in a day's folder: its files grouped by name, those whose
    name is no segment's left out.
    """
    found: dict[str, list[tuple[str, os.stat_result]]] = {}
    for entry in os.scandir(day):
        stem, dot, suffix = entry.name.rpartition(".")
        if dot and "." + suffix in SUFFIXES and started_at(stem) is not None:
            try:
                status = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue
            found.setdefault(stem, []).append(("." + suffix, status))
    return tuple(
        _Stored(
            day / stem,
            started_at(stem) or 0.0,
            tuple(suffix for suffix, _ in files),
            sum(status.st_size for _, status in files),
            max(status.st_mtime for _, status in files),
        )
        for stem, files in found.items()
    )


def _said(what: str, path: Path, error: OSError) -> str:
    return f"{what} {path}: {error.strerror or error}"
