"""
Tests for C{GET /api/cameras/<name>/activity} on a real server, over
C{.act} files written by camserve's own writer with known scores: each
bucket's peak, C{null} where nothing was scored, a file cut short or
missing, bad arguments, who may ask; and the reader behind it
(L{camserve.recording._activity_reader}), which reads a closed segment's
file once.
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

from recorded import START, Served, frames_at, write_segment
from support import reactor_test
from twisted.internet.defer import Deferred, maybeDeferred

from camserve.recording._activity_file import ACTIVITY_RECORD, ActivityFile
from camserve.recording._activity_reader import ActivityIndex, Peaks
from camserve.recording._catalog_files import Segment, SegmentListing
from camserve.recording._segment_writer import write_all
from camserve.web._user import User

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from pathlib import Path

    from recorded import Written
    from support import LogRecorder

SECOND = math.floor(START)
"""The start of the second of the first segment's first frame."""
FIRST = [0.0, 0.25, 0.5, 0.125, 0.0]
"""The first segment's scores, a second each from L{SECOND}."""
SECOND_SEGMENT = [0.75, 0.25, 0.0, 0.0, 0.0]
"""The second segment's, from 65 seconds later."""


def write_activity(written: Written, scores: Sequence[float]) -> Path:
    """
    Write the C{.act} file of segment C{written} with camserve's writer:
    one record a second of C{scores}, from the second of its first frame.
    """
    first = written.frames[0][0]
    path = written.mjpeg.with_suffix(".act")
    activity = ActivityFile(path, first, write_all)
    activity.append(
        (math.floor(first) + number, score) for number, score in enumerate(scores)
    )
    activity.close()
    return path


def record(folder: Path) -> list[Written]:
    """
    Camera C{porch}'s recording: two segments of 5 seconds at 10 fps, the
    second 65 seconds after the first, with their activity.
    """
    segments = [
        write_segment(folder, frames_at(START, 50, fps=10)),
        write_segment(folder, frames_at(START + 65, 50, fps=10, first=50)),
    ]
    write_activity(segments[0], FIRST)
    write_activity(segments[1], SECOND_SEGMENT)
    return segments


async def ask(served: Served, path: str) -> tuple[int, Any]:
    """
    The code and JSON of the server's answer at C{path}, checking that the
    body is JSON as it says.
    """
    response, body = await served.get(path)
    assert response.headers.getRawHeaders(b"content-type") == [b"application/json"]
    return response.code, json.loads(body)


def activity(start: float, end: float, buckets: int | None = None) -> str:
    """
    The path of camera C{porch}'s activity from C{start} to C{end}.
    """
    asked = f"/api/cameras/porch/activity?start={start}&end={end}"
    return asked if buckets is None else f"{asked}&buckets={buckets}"


@reactor_test
async def test_peaks(served: Served, tmp_path: Path) -> None:
    """
    Each bucket's peak is the highest score of the seconds in it, C{null}
    where no second was scored; buckets of seconds show each second's
    score, and buckets of many minutes each minute's peak.
    """
    record(tmp_path)
    assert await ask(served, activity(SECOND, SECOND + 80, 8)) == (
        200,
        {
            "start": SECOND,
            "step": 10.0,
            "peaks": [0.5, None, None, None, None, None, 0.75, None],
        },
    )
    _, fine = await ask(served, activity(SECOND, SECOND + 80, 80))
    assert fine["step"] == 1.0
    assert fine["peaks"][:6] == [*FIRST, None]
    assert fine["peaks"][65:71] == [*SECOND_SEGMENT, None]
    assert [each for each in fine["peaks"] if each is not None] == [
        *FIRST,
        *SECOND_SEGMENT,
    ]
    _, coarse = await ask(served, activity(SECOND - 3600, SECOND + 3600, 4))
    assert coarse["peaks"] == [None, 0.5, 0.75, None]
    _, nothing = await ask(served, activity(SECOND - 7200, SECOND - 3600, 3))
    assert nothing["peaks"] == [None, None, None]


@reactor_test
async def test_default_buckets_and_span(served: Served, tmp_path: Path) -> None:
    """
    Without C{buckets}, the span is cut into 600; without a span, it is
    the last day.
    """
    record(tmp_path)
    _, answer = await ask(served, activity(SECOND, SECOND + 600))
    assert (answer["step"], len(answer["peaks"])) == (1.0, 600)
    assert answer["peaks"][2] == 0.5
    code, answer = await ask(served, "/api/cameras/porch/activity?buckets=24")
    assert code == 200
    assert answer["step"] == 3600.0
    assert answer["peaks"] == [None] * 24


@reactor_test
async def test_cut_short_or_missing(served: Served, tmp_path: Path) -> None:
    """
    A C{.act} file cut short is read up to its last whole record; a
    segment without one has no activity, while the others have theirs.
    """
    segments = record(tmp_path)
    act = segments[0].mjpeg.with_suffix(".act")
    act.write_bytes(act.read_bytes()[: 12 * 3 + 7])
    segments[1].mjpeg.with_suffix(".act").unlink()
    _, fine = await ask(served, activity(SECOND, SECOND + 80, 80))
    assert fine["peaks"][:4] == [*FIRST[:3], None]
    assert [each for each in fine["peaks"] if each is not None] == FIRST[:3]


@reactor_test
async def test_bad_arguments(served: Served, tmp_path: Path) -> None:
    """
    A count of buckets that is not a whole number from 1 to 2000, a time
    that is not one, or an end not after the start is a C{400} saying so.
    """
    record(tmp_path)
    buckets = {"error": "buckets must be a whole number from 1 to 2000"}
    for count in ("0", "2001", "ten", "1.5", "-3", "%C2%B2"):
        assert await ask(served, f"/api/cameras/porch/activity?buckets={count}") == (
            400,
            buckets,
        )
    assert await ask(served, "/api/cameras/porch/activity?start=soon") == (
        400,
        {"error": "start and end must be ISO 8601 times or Unix seconds"},
    )
    assert await ask(served, activity(SECOND, SECOND - 1)) == (
        400,
        {"error": "end must not be before start"},
    )
    assert await ask(served, activity(SECOND, SECOND)) == (
        400,
        {"error": "end must be after start"},
    )
    code, _ = await ask(served, activity(SECOND, SECOND + 60, 2000))
    assert code == 200


@reactor_test
async def test_unknown_camera_or_server_that_does_not_record(
    served: Served, tmp_path: Path
) -> None:
    """
    An unknown camera's activity is a C{404}, as is any camera's on a
    server that does not record; a camera never recorded has none.
    """
    record(tmp_path)
    code, answer = await ask(served, "/api/cameras/garage/activity")
    assert (code, answer["error"]) == (404, "no such camera")
    _, answer = await ask(served, "/api/cameras/yard/activity?buckets=2")
    assert answer["peaks"] == [None, None]
    unrecorded = Served.start(None)
    try:
        assert await ask(unrecorded, "/api/cameras/porch/activity") == (
            404,
            {"error": "this server does not record"},
        )
    finally:
        await unrecorded.close()


@reactor_test
async def test_a_viewer_of_other_cameras(tmp_path: Path) -> None:
    """
    With logins, a viewer limited to other cameras is answered C{404} for
    the camera, as if it did not exist; one who sees it, its activity.
    """
    record(tmp_path)
    others = Served.start(tmp_path, user=User("bob", "viewer", frozenset({"yard"})))
    viewer = Served.start(tmp_path, user=User("carol", "viewer"))
    try:
        code, answer = await ask(others, activity(SECOND, SECOND + 80, 8))
        assert (code, answer["error"]) == (404, "no such camera")
        code, answer = await ask(viewer, activity(SECOND, SECOND + 80, 8))
        assert (code, answer["peaks"][0]) == (200, 0.5)
    finally:
        await others.close()
        await viewer.close()


# The reader and its cache


class Counted:
    """
    Reads files, counting the reads of each by name; a file named in
    C{refused} cannot be read.
    """

    def __init__(self) -> None:
        self.reads: dict[str, int] = {}
        self.refused: set[str] = set()

    def __call__(self, path: Path) -> bytes:
        self.reads[path.name] = self.reads.get(path.name, 0) + 1
        if path.name in self.refused:
            raise PermissionError(13, "Permission denied")
        return path.read_bytes()

    def take(self) -> dict[str, int]:
        """
        The reads counted since the last time, by file name.
        """
        taken, self.reads = self.reads, {}
        return taken


def peaks_of(
    index: ActivityIndex, folder: Path, start: float, end: float, buckets: int
) -> Peaks:
    """
    The peaks of camera C{porch} in C{folder}, as the route asks them.
    """
    segments = [
        Segment(folder / "porch", name, first)
        for name, first in SegmentListing(folder / "porch")()
    ]
    result: list[Peaks] = []
    index.peaks(segments, start, end, buckets).addCallback(result.append)
    (found,) = result
    return found


def at_once(work: Callable[[], Any]) -> Deferred[Any]:
    return maybeDeferred(work)


def test_a_closed_segment_is_read_once(tmp_path: Path) -> None:
    """
    A segment that is not its camera's newest has its C{.act} read once,
    whatever is asked after, at the same fineness; the newest is read
    again only when it has grown, and once a newer segment begins, never
    again.
    """
    segments = record(tmp_path)
    first, second = (each.mjpeg.with_suffix(".act").name for each in segments)
    reads = Counted()
    index = ActivityIndex(at_once, read=reads)
    for _ in range(3):
        coarse = peaks_of(index, tmp_path, SECOND - 3600, SECOND + 3600, 4)
        assert coarse.peaks == [None, 0.5, 0.75, None]
    assert reads.take() == {first: 1, second: 1}
    for _ in range(3):
        fine = peaks_of(index, tmp_path, SECOND, SECOND + 80, 80)
        assert fine.peaks[65] == 0.75
    # Seconds are kept apart from the summary of minutes.
    assert reads.take() == {first: 1, second: 1}
    with segments[1].mjpeg.with_suffix(".act").open("ab") as grown:
        grown.write(ACTIVITY_RECORD.pack(SECOND + 70, 1.0))
    assert peaks_of(index, tmp_path, SECOND, SECOND + 80, 80).peaks[70] == 1.0
    assert peaks_of(index, tmp_path, SECOND, SECOND + 80, 80).peaks[70] == 1.0
    assert reads.take() == {second: 1}
    third = write_segment(tmp_path, frames_at(START + 200, 10, fps=10, first=100))
    write_activity(third, [0.5])
    for _ in range(2):
        assert peaks_of(index, tmp_path, SECOND, SECOND + 600, 600).peaks[200] == 0.5
        assert peaks_of(index, tmp_path, SECOND, SECOND + 3600, 6).peaks[0] == 1.0
    assert reads.take() == {third.mjpeg.with_suffix(".act").name: 1}


def test_an_unreadable_file_is_left_out(tmp_path: Path, log: LogRecorder) -> None:
    """
    An C{.act} file that cannot be read is left out, and logged once, and
    read when it can be.
    """
    segments = record(tmp_path)
    first = segments[0].mjpeg.with_suffix(".act")
    reads = Counted()
    reads.refused.add(first.name)
    index = ActivityIndex(at_once, read=reads)
    for _ in range(2):
        assert peaks_of(index, tmp_path, SECOND, SECOND + 80, 8).peaks[:1] == [None]
    assert log.formatted() == [
        f"activity file {first} cannot be read: Permission denied"
    ]
    reads.refused.clear()
    assert peaks_of(index, tmp_path, SECOND, SECOND + 80, 8).peaks[:1] == [0.5]


def test_the_cache_is_bounded(tmp_path: Path) -> None:
    """
    Past its bounds, the cache forgets the files used longest ago, which
    are then read again.
    """
    segments = record(tmp_path)
    first, second = (each.mjpeg.with_suffix(".act").name for each in segments)
    reads = Counted()
    # One summary, and one segment's seconds (5 records).
    index = ActivityIndex(at_once, read=reads, summaries=1, seconds=12 * 5)
    for _ in range(2):
        assert peaks_of(index, tmp_path, SECOND - 3600, SECOND + 3600, 4).peaks[
            1:3
        ] == [
            0.5,
            0.75,
        ]
    assert reads.take() == {first: 2, second: 2}
    for _ in range(2):
        assert peaks_of(index, tmp_path, SECOND, SECOND + 80, 80).peaks[65] == 0.75
    assert reads.take() == {first: 2, second: 2}
    roomy = ActivityIndex(at_once, read=reads, summaries=2, seconds=12 * 10)
    for _ in range(2):
        peaks_of(roomy, tmp_path, SECOND - 3600, SECOND + 3600, 4)
        peaks_of(roomy, tmp_path, SECOND, SECOND + 80, 80)
    assert reads.take() == {first: 2, second: 2}
