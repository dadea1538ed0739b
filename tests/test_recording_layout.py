"""
Tests for L{camserve.recording._layout}: where recordings are and what
their files are called.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from camserve.recording._layout import (
    INDEX_RECORD,
    is_day_folder,
    milliseconds_of,
    segment_named,
    started_at,
)


def test_a_segment_is_named_for_its_first_frame_in_utc() -> None:
    """
    A segment's folder is its day and its name its first frame's time, in
    UTC to the millisecond, rounded down; the name reads back as that time.
    """
    moment = 1_700_000_000.2509
    name = segment_named(Path("/rec"), "porch", milliseconds_of(moment))
    assert name.path(".mjpeg") == Path(
        "/rec/porch/2023-11-14/20231114T221320.250Z.mjpeg"
    )
    assert name.base == Path("/rec/porch/2023-11-14/20231114T221320.250Z")
    assert name.started_at == 1_700_000_000.25
    assert started_at(name.stem) == 1_700_000_000.25
    midnight = segment_named(Path("/rec"), "porch", 1_700_006_400_000 - 1)
    assert midnight.path(".idx") == Path(
        "/rec/porch/2023-11-14/20231114T235959.999Z.idx"
    )


@pytest.mark.parametrize(
    "stem",
    ["20231114T221320Z", "20231114T221320.25Z", "20231399T221320.250Z", "notes"],
)
def test_other_names_are_no_segments(stem: str) -> None:
    """
    A name that is not exactly a segment's is none.
    """
    assert started_at(stem) is None


def test_day_folders_and_the_index_record() -> None:
    """
    Day folders are named C{YYYY-MM-DD}; an index record is 24 bytes.
    """
    assert is_day_folder("2023-11-14")
    assert not is_day_folder("exports")
    assert INDEX_RECORD.size == 24
    assert INDEX_RECORD.format == "<dQII"
