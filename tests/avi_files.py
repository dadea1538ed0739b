"""
Reading an exported AVI file back for the tests, by the OpenDML 1.02 layout
alone (camserve's writer is another module): a strict walk of its chunks
that checks every size and every index entry.
"""

from __future__ import annotations

import struct
from typing import Any

from attrs import frozen


@frozen
class AviFile:
    """
    An AVI file of one Motion JPEG stream, read back.

    @ivar facts: its headers' main facts.
    @ivar jpegs: the JPEGs of its C{00dc} chunks, in order.
    @ivar repeats: how many index entries point at each.
    @ivar riff_sizes: each RIFF's length, its header included.
    """

    facts: dict[str, Any]
    jpegs: list[bytes]
    repeats: list[int]
    riff_sizes: list[int]


def _chunks(data: bytes, start: int, end: int) -> list[tuple[bytes, int, int]]:
    """
    The chunks from C{start} to exactly C{end}: each one's four-character
    code (a list's type for a C{LIST}), where it starts, and its size.
    """
    found = []
    position = start
    while position < end:
        fourcc = data[position : position + 4]
        (size,) = struct.unpack_from("<I", data, position + 4)
        if fourcc in (b"LIST", b"RIFF"):
            fourcc = data[position + 8 : position + 12]
        found.append((fourcc, position, size))
        position += 8 + size + size % 2
    assert position == end, (position, end)
    return found


def read_avi(data: bytes) -> AviFile:
    """
    Walk the AVI file C{data}, checking that its RIFFs' sizes add up to its
    length, that its headers are those of OpenDML, that the super index
    points at each RIFF's C{ix00} at the end of its C{movi} list, and that
    every entry of each C{ix00} (and of the first RIFF's C{idx1}) points
    at a C{00dc} chunk of its RIFF, in order, with that chunk's size.
    """
    riffs = _chunks(data, 0, len(data))
    assert [data[at : at + 4] for _, at, _ in riffs] == [b"RIFF"] * len(riffs)
    assert [kind for kind, _, _ in riffs] == [b"AVI "] + [b"AVIX"] * (len(riffs) - 1)
    first = _chunks(data, 12, 8 + riffs[0][2])
    assert [kind for kind, _, _ in first] == [b"hdrl", b"movi", b"idx1"]
    (_, hdrl_at, hdrl_size) = first[0]
    hdrl = _chunks(data, hdrl_at + 12, hdrl_at + 8 + hdrl_size)
    assert [kind for kind, _, _ in hdrl] == [b"avih", b"strl", b"odml"]
    avih = struct.unpack_from("<10I", data, hdrl[0][1] + 8)
    strl = _chunks(data, hdrl[1][1] + 12, hdrl[1][1] + 8 + hdrl[1][2])
    assert [kind for kind, _, _ in strl] == [b"strh", b"strf", b"indx"]
    strh = strl[0][1] + 8
    handler = data[strh + 4 : strh + 8]
    scale, rate, _, length = struct.unpack_from("<IIII", data, strh + 20)
    dmlh = _chunks(data, hdrl[2][1] + 12, hdrl[2][1] + 8 + hdrl[2][2])
    assert [(kind, size) for kind, _, size in dmlh] == [(b"dmlh", 248)]
    (total,) = struct.unpack_from("<I", data, dmlh[0][1] + 8)
    indx = strl[2][1] + 8
    longs, subtype, kind, count, stream = struct.unpack_from("<HBBI4s", data, indx)
    assert (longs, subtype, kind, count, stream) == (4, 0, 0, len(riffs), b"00dc")
    supers = [
        struct.unpack_from("<QII", data, indx + 24 + 16 * n) for n in range(count)
    ]
    assert strl[2][2] == 24 + 16 * count
    jpegs: list[bytes] = []
    repeats: list[int] = []
    movis = [first[1]] + [
        _chunks(data, at + 12, at + 8 + size)[0] for _, at, size in riffs[1:]
    ]
    for number, ((kind, movi_at, movi_size), super_entry) in enumerate(
        zip(movis, supers, strict=True)
    ):
        assert kind == b"movi"
        inside = _chunks(data, movi_at + 12, movi_at + 8 + movi_size)
        assert [kind for kind, _, _ in inside[:-1]] == [b"00dc"] * (len(inside) - 1)
        assert inside[-1][0] == b"ix00"
        frames = {at + 8: size for _, at, size in inside[:-1]}
        ix_at, ix_size = inside[-1][1], inside[-1][2]
        longs, subtype, index_type, entries, stream, base, reserved = (
            struct.unpack_from("<HBBI4sQI", data, ix_at + 8)
        )
        assert (longs, subtype, index_type, stream, reserved) == (2, 0, 1, b"00dc", 0)
        assert ix_size == 24 + 8 * entries
        assert super_entry == (ix_at, 8 + ix_size, entries)
        pointed = [
            struct.unpack_from("<II", data, ix_at + 32 + 8 * n) for n in range(entries)
        ]
        starts = [base + offset for offset, _ in pointed]
        # Each entry points at its RIFF's frames, in order, each at least
        # once, with its size, the keyframe bit clear.
        assert sorted(set(starts)) == sorted(frames)
        assert [size for _, size in pointed] == [frames[at] for at in starts]
        assert starts == sorted(starts)
        for at in sorted(frames):
            jpegs.append(data[at : at + frames[at]])
            repeats.append(starts.count(at))
        if number == 0:
            idx1_at, idx1_size = first[2][1], first[2][2]
            legacy = [
                struct.unpack_from("<4sIII", data, idx1_at + 8 + 16 * n)
                for n in range(idx1_size // 16)
            ]
            assert legacy == [
                (b"00dc", 0x10, at - 8 - movi_at - 8, frames[at]) for at in starts
            ]
            assert avih[4] == entries
    assert total == length == sum(repeats)
    facts = {
        "frames": total,
        "width": avih[8],
        "height": avih[9],
        "handler": handler,
        "fps": rate / scale,
        "length": length,
    }
    return AviFile(facts, jpegs, repeats, [8 + size for _, _, size in riffs])
