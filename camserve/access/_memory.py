# -*- test-case-name: tests.test_memory -*-
"""
The memory a server's TLS connections free, kept for reuse rather than
given back to the system after every frame.
"""

from __future__ import annotations

import ctypes
import sys

# mallopt's parameters, as glibc's malloc.h numbers them.
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
TRIM_THRESHOLD = 64 << 20
"""Free memory glibc keeps at the top of its heap rather than giving back."""
MMAP_THRESHOLD = 16 << 20
"""Allocations from this size up get pages of their own from the system."""


def keep_freed_memory() -> bool:
    """
    Keep the memory that TLS connections free for reuse, rather than give it
    back to the system after every frame. Only where the C library is glibc;
    it applies to the whole process.

    Over TLS every viewer encrypts every frame into memory of its own
    (pyOpenSSL's record buffers and the bytes Twisted queues for the
    socket: about a frame per viewer), freed once sent. glibc gives the top
    of its heap back to the system whenever more than 128 KiB there is free
    (C{M_TRIM_THRESHOLD}), so with 100 viewers its heap shrank and grew
    again several times a frame, and each page it grew by was faulted in
    and zeroed once more: about 10 page faults and a fifth of camserve's CPU
    per TLS frame (C{bench/README.md}, TLS). With a trim threshold of
    L{TRIM_THRESHOLD} up to that much stays free in the heap for the next
    frame. Setting it also fixes glibc's threshold for separate mappings
    (else raised as large blocks are freed) at 128 KiB, which would give
    every frame larger than that a mapping of its own per viewer, so that
    is set too, to L{MMAP_THRESHOLD}.

    @return: whether glibc took the settings.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    mapped = mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)
    trimmed = mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    return bool(mapped and trimmed)
