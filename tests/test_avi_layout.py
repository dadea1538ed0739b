"""
Tests for the layout of an export (L{camserve.recording._avi_plan},
L{camserve.recording._avi_index}, L{camserve.recording._export_timing}):
the size worked out before a frame is read is the size written, for any
frame lengths and RIFF limit, and the file is a well-formed OpenDML file
whose index follows the frames' capture times.
"""

from __future__ import annotations

import struct
from pathlib import Path

import cv2
import numpy as np
import pytest
from avi_files import read_avi
from hypothesis import given, settings
from hypothesis import strategies as st

from camserve.recording import _avi_plan
from camserve.recording._avi_plan import AviPlan, TooLargeError, plan_avi
from camserve.recording._catalog import GAP, Stretch
from camserve.recording._catalog_files import Segment
from camserve.recording._export_timing import MOST_RATE, frame_timing
from camserve.testing import make_jpeg

START = 1_700_000_000.0


def planned(
    jpegs: list[bytes], times: list[float] | None = None, **options: int
) -> tuple[AviPlan, bytes]:
    """
    The plan of a file of C{jpegs}, captured at C{times} (20 a second by
    default), and the file written by its pieces.
    """
    if times is None:
        times = [START + n / 20 for n in range(len(jpegs))]
    segment = Segment(Path("recordings"), "a", times[0])
    stretch = Stretch(segment, 0, [len(jpeg) for jpeg in jpegs], times)
    plan = plan_avi([stretch], jpegs[0], **options)
    written = []
    frames = iter(jpegs)
    for piece in plan.pieces():
        if isinstance(piece, bytes):
            written.append(piece)
            continue
        for _ in range(piece):
            jpeg = next(frames)
            pad = b"\0" * (len(jpeg) % 2)
            written.append(b"00dc" + struct.pack("<I", len(jpeg)) + jpeg + pad)
    assert next(frames, None) is None
    return plan, b"".join(written)


def fake_jpegs(lengths: list[int]) -> list[bytes]:
    """
    Stand-ins for JPEGs of C{lengths} (the layout reads only their
    lengths, and the first one's size if it is a JPEG).
    """
    return [bytes([n % 251]) * length for n, length in enumerate(lengths)]


def check(plan: AviPlan, data: bytes, jpegs: list[bytes], riff_size: int) -> None:
    """
    The file C{data} of C{plan} is as long as planned, well formed, holds
    C{jpegs}, and keeps each RIFF within C{riff_size} unless it holds a
    single frame.
    """
    assert len(data) == plan.size
    read = read_avi(data)
    assert read.jpegs == jpegs
    assert read.riff_sizes == [8 + riff.size for riff in plan.riffs]
    for riff, size in zip(plan.riffs, read.riff_sizes, strict=True):
        assert size <= riff_size or riff.stop - riff.first == 1


@pytest.mark.parametrize(
    ("lengths", "riff_size"),
    [
        ([1], 1 << 30),
        ([7, 8, 9, 1, 2, 3], 1 << 30),
        ([1000] * 50, 4000),
        ([3, 5000, 4, 6000, 1, 1], 2000),
        ([9999], 100),
        (list(range(1, 300)), 1500),
    ],
)
def test_planned_size_is_written_size(lengths: list[int], riff_size: int) -> None:
    """
    The size planned is the size written, for frames of odd and even
    lengths, one RIFF or many, and frames larger than a RIFF.
    """
    jpegs = fake_jpegs(lengths)
    plan, data = planned(jpegs, riff_size=riff_size)
    check(plan, data, jpegs, riff_size)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(1, 3000), min_size=1, max_size=80),
    st.integers(400, 20000),
    st.lists(st.floats(0.001, 2 * GAP), min_size=79, max_size=79),
)
def test_any_lengths(lengths: list[int], riff_size: int, steps: list[float]) -> None:
    """
    The size planned is the size written for any frame lengths, RIFF
    limit and capture times (with frames listed again).
    """
    jpegs = fake_jpegs(lengths)
    times = list(np.cumsum([START, *steps[: len(lengths) - 1]]))
    plan, data = planned(jpegs, times, riff_size=riff_size)
    check(plan, data, jpegs, riff_size)
    assert read_avi(data).repeats == plan.timing.repeats.tolist()


def test_frame_filling_a_riff() -> None:
    """
    A frame that exactly fills what is left of a RIFF stays in it; one
    byte more, and it starts the next RIFF.
    """
    jpegs = fake_jpegs([100, 200, 300])
    plan, _ = planned(jpegs)
    whole = plan.size
    plan, data = planned(jpegs, riff_size=whole)
    assert len(plan.riffs) == 1
    check(plan, data, jpegs, whole)
    # With two RIFFs, the headers grow by a super index entry.
    plan, data = planned(jpegs, riff_size=whole - 1)
    assert [(riff.first, riff.stop) for riff in plan.riffs] == [(0, 2), (2, 3)]
    check(plan, data, jpegs, whole - 1)
    # The second RIFF exactly filled by its two frames, then one byte short.
    jpegs = fake_jpegs([100, 200, 301, 400])
    second = 12 + 12 + 32 + (8 + 200 + 8) + (8 + 302 + 8)
    plan, data = planned(jpegs, riff_size=second)
    assert [(riff.first, riff.stop) for riff in plan.riffs] == [(0, 1), (1, 3), (3, 4)]
    assert 8 + plan.riffs[1].size == second
    check(plan, data, jpegs, second)
    plan, _ = planned(jpegs, riff_size=second - 1)
    assert [(riff.first, riff.stop) for riff in plan.riffs] == [
        (0, 1),
        (1, 2),
        (2, 3),
        (3, 4),
    ]


def test_frame_larger_than_a_riff() -> None:
    """
    A frame larger than the limit has a RIFF of its own.
    """
    jpegs = fake_jpegs([10, 5000, 10, 10])
    plan, data = planned(jpegs, riff_size=1000)
    assert [(riff.first, riff.stop) for riff in plan.riffs] == [(0, 1), (1, 2), (2, 4)]
    check(plan, data, jpegs, 1000)


def test_too_many_frames(monkeypatch: pytest.MonkeyPatch) -> None:
    """
    A span of more frames than an export holds is refused.
    """
    monkeypatch.setattr(_avi_plan, "MOST_FRAMES", 3)
    with pytest.raises(TooLargeError, match="at most 3"):
        planned(fake_jpegs([1, 2, 3, 4]))
    planned(fake_jpegs([1, 2, 3]))


def test_steady_rate() -> None:
    """
    Frames captured at a steady rate are each listed once, at that rate.
    """
    timing = frame_timing(START + np.arange(100) / 30)
    assert timing.rate == pytest.approx(30)
    assert timing.repeats.tolist() == [1] * 100


def test_dropped_frames_and_gaps() -> None:
    """
    A frame followed by dropped ones is listed again until the next is
    due; a gap takes one frame's time; jitter shorter than a frame takes
    none.
    """
    times = [0.0, 0.1, 0.2, 0.5, 0.6, 0.69, 0.81, 60.0, 60.1]
    timing = frame_timing(START + np.array(times))
    assert timing.rate == pytest.approx(10)
    assert timing.repeats.tolist() == [1, 1, 3, 1, 1, 1, 1, 1, 1]


def test_time_lapse() -> None:
    """
    A recording of nothing but gaps plays at its average rate; a single
    frame at one a second.
    """
    timing = frame_timing(START + np.array([0.0, 10.0, 30.0]))
    assert timing.rate == pytest.approx(2 / 30)
    assert timing.repeats.tolist() == [1, 1, 1]
    assert frame_timing(np.array([START])).rate == 1


def test_fast_camera() -> None:
    """
    A camera faster than L{MOST_RATE} plays at that rate, each frame once,
    and no frame is listed more than the frames of a gap.
    """
    times = START + np.concatenate([np.arange(50) / 1000, [0.049 + GAP]])
    timing = frame_timing(times)
    assert timing.rate == MOST_RATE
    assert timing.repeats.tolist()[:49] == [1] * 49
    assert timing.repeats.max() <= GAP * MOST_RATE + 1


def test_opencv_follows_capture_times(tmp_path: Path) -> None:
    """
    OpenCV (its FFmpeg backend) reads every frame of a file of several
    RIFFs once, each at its capture time, gaps taken out; the frames after
    dropped ones come late, as they were captured.
    """
    times = [START + n / 20 for n in range(120)]
    times = [
        when + (1 if n >= 40 else 0) + (100 if n >= 80 else 0)
        for n, when in enumerate(times)
    ]
    jpegs = [make_jpeg(n, width=160, height=120) for n in range(120)]
    plan, data = planned(jpegs, times, riff_size=20_000)
    check(plan, data, jpegs, 20_000)
    assert len(plan.riffs) > 3
    path = tmp_path / "export.avi"
    path.write_bytes(data)
    capture = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    shown = []
    while True:
        if not capture.grab():
            break
        shown.append(capture.get(cv2.CAP_PROP_POS_MSEC) / 1000)
    capture.release()
    assert len(shown) == 120
    expected = [n / 20 + (1 if n >= 40 else 0) for n in range(120)]
    assert shown == pytest.approx(expected, abs=0.001)


def test_avi_1_reader(tmp_path: Path) -> None:
    """
    A reader of AVI 1.0 files only (OpenCV's own MJPEG reader) reads all
    of a file of one RIFF, each frame as many times as it is listed, and
    the first RIFF of a file of several.
    """
    times = [START + n / 20 + (0.5 if n >= 20 else 0) for n in range(60)]
    jpegs = [make_jpeg(n, width=160, height=120) for n in range(60)]
    for riff_size, riffs in [(1 << 30, 1), (25_000, 3)]:
        plan, data = planned(jpegs, times, riff_size=riff_size)
        assert len(plan.riffs) == riffs
        path = tmp_path / "export.avi"
        path.write_bytes(data)
        capture = cv2.VideoCapture(str(path), cv2.CAP_OPENCV_MJPEG)
        assert capture.isOpened()
        read = []
        while True:
            ok, image = capture.read()
            if not ok:
                break
            read.append(image)
        capture.release()
        assert len(read) == plan.riffs[0].entries
        listed = np.repeat(np.arange(60), plan.timing.repeats)[: len(read)]
        for image, number in list(zip(read, listed, strict=True))[::7]:
            expected = cv2.imdecode(
                np.frombuffer(jpegs[number], np.uint8), cv2.IMREAD_COLOR
            )
            assert expected is not None
            assert np.array_equal(image, expected)
    assert plan.timing.repeats[19] == 11


def test_past_4_gib() -> None:
    """
    A file past 4 GiB, walked without being made: each RIFF starts where
    the one before ends, the super index's 64-bit offsets are where each
    C{ix00} is written, each C{ix00}'s base and first offset are where its
    RIFF's first JPEG is, and the file ends at the size planned.
    """
    count, length = 5000, 1_000_001
    segment = Segment(Path("recordings"), "a", START)
    stretch = Stretch(
        segment, 0, [length] * count, [START + n / 20 for n in range(count)]
    )
    plan = plan_avi([stretch], b"")
    assert plan.size > 1 << 32
    assert len(plan.riffs) == 5
    position = 0
    first_jpegs: list[int] = []
    ixs: list[int] = []
    base: int | None = None
    for piece in plan.pieces():
        if base is not None:
            # The first entry of the ix00 just begun.
            assert isinstance(piece, bytes)
            assert base + struct.unpack_from("<I", piece)[0] == first_jpegs[-1]
            base = None
        if isinstance(piece, int):
            first_jpegs.append(position + 8)
            position += piece * (8 + length + 1)
            continue
        if piece.startswith(b"RIFF"):
            riff = plan.riffs[len(ixs)]
            assert position == riff.start
            assert struct.unpack_from("<I", piece, 4)[0] == riff.size
        if piece.startswith(b"ix00"):
            _, _, base = struct.unpack_from("<I4sQ", piece, 12)
            ixs.append(position)
        position += len(piece)
    assert position == plan.size
    indx = plan.headers.index(b"indx")
    assert struct.unpack_from("<I", plan.headers, indx + 12)[0] == 5
    supers = [
        struct.unpack_from("<QII", plan.headers, indx + 32 + 16 * n)[0]
        for n in range(5)
    ]
    assert supers == ixs
    assert max(supers) > 1 << 32
