#!/usr/bin/env python3
"""
camserve's load generator and stream checker for Motion JPEG over HTTP.

Opens N viewers of one C{multipart/x-mixed-replace} stream on non-blocking
raw sockets, each worker process running its share on its own epoll, and
parses every byte strictly: a C{200} whose C{Content-Type} names the
boundary and that is not chunked, the opening delimiter, then parts that
each carry C{Content-Length}, a JPEG that starts with FFD8 and ends with
FFD9, and C{CRLF--boundary CRLF} right after it. Anything else counts as
malformed (a stream that cannot be followed is an error and is closed).

Over the measurement window it reports per viewer fps (median, p5, min),
duplicates (a frame whose crc32 equals the viewer's previous frame's),
malformed parts, skipped source frames (with C{--frames-dir}), time to first
frame, the longest gap, and latency: arrival of the part's last byte minus
the part's C{X-Timestamp}. Arrival is the kernel's receive time of the read
that completed the part (C{SO_TIMESTAMPNS}), so a busy load generator does
not add its own delay; the time its poll returned is reported beside it
("seen"), and used instead with C{--no-kernel-timestamps}. A server that
sends no C{X-Timestamp} still gets a I{fan-out} delay: a frame's arrival at
a viewer minus its earliest arrival at any viewer, so servers can be
compared on the same footing. It also reports its own CPU time over the
window, so a saturated machine shows.

Viewers connect from C{--t0} (spread over C{--ramp} seconds); the window is
C{[t0 + warmup, t0 + warmup + seconds]} in Unix time, written to the JSON so
that a sampler outside can count the server's CPU over exactly that window.

Other viewer kinds: C{--stall K} adds K viewers that send the request and
never read (with C{--stall-rcvbuf} bytes of receive buffer);
C{--churn K} adds K viewers that each watch for a random C{--churn-life}
seconds, hang up and connect again, until the window ends.

With C{--tls} (or an C{https:} URL) the viewers speak TLS: each wraps its
connected socket with C{ssl} (no certificate check: the benchmarks' servers
use self-signed ones), finishes the handshake under epoll and reads the
decrypted stream through the same parser. The kernel's receive time does not
apply to decrypted bytes, so arrival is the time the poll returned.

C{--header 'Authorization: Basic ...'} (repeatable) adds a header to every
viewer's request, for a server that asks for a login; a token goes in the
URL's query.

Standard library only:

    python bench/mjpeg_load.py --url http://127.0.0.1:8080/video_feed \\
        --clients 100 --seconds 15 --frames-dir FRAMES --json out.json
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import json
import multiprocessing
import os
import random
import select
import socket
import ssl
import statistics
import struct
import sys
import time
import traceback
import zlib
from array import array
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

CAPACITY = 1 << 18
"""Bytes of receive buffer per viewer (grown for a bigger part)."""
MIN_FREE = 1 << 16
"""Compact a viewer's buffer when less than this is free at its end."""
MAX_HEADERS = 16384
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
TIMESPEC = struct.Struct("@qq")
TS_SPACE = socket.CMSG_SPACE(TIMESPEC.size)
TICK = 0.05

(CONNECTING, RESPONSE, PREAMBLE, HEADERS, BODY, DELIMITER, SEEK, IDLE, HANDSHAKE) = (
    range(9)
)

STEADY, STALL, CHURN = "steady", "stall", "churn"


def percentile(ordered: list[float] | array[float], p: float) -> float | None:
    """Linear-interpolated percentile (p in 0..100) of sorted values."""
    if not ordered:
        return None
    k = (len(ordered) - 1) * p / 100
    lower = int(k)
    upper = min(lower + 1, len(ordered) - 1)
    return ordered[lower] + (ordered[upper] - ordered[lower]) * (k - lower)


class Viewer:
    __slots__ = (
        "buf",
        "bytes_win",
        "deadline",
        "dups",
        "end",
        "error",
        "fd",
        "frames_total",
        "frames_win",
        "index",
        "kind",
        "last_arrival",
        "last_crc",
        "last_source",
        "malformed",
        "max_gap",
        "mv",
        "part_length",
        "part_timestamp",
        "pos",
        "session_frames",
        "sessions",
        "sessions_failed",
        "sessions_with_frames",
        "skipped",
        "sock",
        "state",
        "t_connect",
        "ttff",
        "unknown",
    )

    def __init__(self, index: int, kind: str) -> None:
        self.index = index
        self.kind = kind
        self.buf = bytearray(CAPACITY) if kind != STALL else bytearray()
        self.mv = memoryview(self.buf)
        self.sock: socket.socket | None = None
        self.fd = -1
        self.state = IDLE
        self.pos = self.end = 0
        self.part_length = 0
        self.part_timestamp: float | None = None
        self.frames_total = self.frames_win = self.bytes_win = 0
        self.dups = self.malformed = self.skipped = self.unknown = 0
        self.last_crc: int | None = None
        self.last_source: int | None = None
        self.last_arrival: float | None = None
        self.max_gap = 0.0
        self.t_connect = 0.0
        self.ttff: float | None = None
        self.error: str | None = None
        self.deadline = 0.0
        self.sessions = self.sessions_failed = self.sessions_with_frames = 0
        self.session_frames = 0

    def new_session(self) -> None:
        self.state = CONNECTING
        self.pos = self.end = 0
        self.last_crc = None
        self.last_source = None
        self.last_arrival = None
        self.session_frames = 0
        self.error = None


class Worker:
    """Runs some of the viewers in one process, on one epoll."""

    def __init__(self, config: dict[str, Any], plan: list[tuple[int, str]]) -> None:
        self.config = config
        self.t0 = config["t0"]
        self.t_start = self.t0 + config["warmup"]
        self.t_end = self.t_start + config["seconds"]
        self.known: dict[tuple[int, int], int] = {
            tuple(key): value  # type: ignore[misc]
            for key, value in config.get("known", [])
        }
        self.nknown = len(self.known)
        self.viewers = [Viewer(index, kind) for index, kind in plan]
        url = urlsplit(config["url"])
        self.tls: ssl.SSLContext | None = None
        if config.get("tls") or url.scheme == "https":
            self.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            self.tls.check_hostname = False
            self.tls.verify_mode = ssl.CERT_NONE
        default_port = 443 if url.scheme == "https" else 80
        self.address = (url.hostname or "127.0.0.1", url.port or default_port)
        target = (url.path or "/") + (f"?{url.query}" if url.query else "")
        extra = "".join(f"{line}\r\n" for line in config.get("headers", []))
        self.request = (
            f"GET {target} HTTP/1.1\r\nHost: {url.netloc}\r\n"
            f"User-Agent: camserve-bench/1\r\nAccept: */*\r\n{extra}\r\n"
        ).encode()
        self.epoll = select.epoll()
        self.by_fd: dict[int, Viewer] = {}
        self.boundary: bytes | None = None
        self.preamble = b""
        self.delimiter = b""
        self.timestamps = config.get("kernel_timestamps", True) and self.tls is None
        self.seen = 0.0
        self.latency = array("d")
        self.latency_seen = array("d")
        self.fan_key = array("l")
        self.fan_time = array("d")
        self.errors: dict[str, int] = {}
        self.ttff_churn: list[float] = []
        self.churn_connects = 0
        self.response_headers: dict[str, str] | None = None
        self.random = random.Random(config.get("seed", 1) * 7919 + plan[0][0])

    # Connections

    def connect(self, viewer: Viewer, now: float) -> None:
        viewer.new_session()
        viewer.sessions += 1
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM | socket.SOCK_NONBLOCK)
        if viewer.kind == STALL and self.config["stall_rcvbuf"]:
            sock.setsockopt(
                socket.SOL_SOCKET, socket.SO_RCVBUF, self.config["stall_rcvbuf"]
            )
        elif self.timestamps:
            sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        viewer.sock = sock
        viewer.fd = sock.fileno()
        viewer.t_connect = now
        if viewer.kind == CHURN:
            low, high = self.config["churn_life"]
            viewer.deadline = now + self.random.uniform(low, high)
        result = sock.connect_ex(self.address)
        if result not in (0, errno.EINPROGRESS):
            self.fail(viewer, f"connect: {os.strerror(result)}", now)
            return
        self.by_fd[viewer.fd] = viewer
        self.epoll.register(viewer.fd, select.EPOLLOUT)

    def connected(self, viewer: Viewer, now: float) -> None:
        sock = viewer.sock
        if sock is None:
            return
        error = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if error:
            self.fail(viewer, f"connect: {os.strerror(error)}", now)
            return
        if self.tls is not None:
            viewer.sock = self.tls.wrap_socket(sock, do_handshake_on_connect=False)
            viewer.state = HANDSHAKE
            self.handshake(viewer, now)
            return
        self.request_sent(viewer, now)

    def handshake(self, viewer: Viewer, now: float) -> None:
        """Carry the TLS handshake on; send the request once it is done."""
        sock: ssl.SSLSocket = viewer.sock  # type: ignore[assignment]
        try:
            sock.do_handshake()
        except ssl.SSLWantReadError:
            self.epoll.modify(viewer.fd, select.EPOLLIN)
            return
        except ssl.SSLWantWriteError:
            self.epoll.modify(viewer.fd, select.EPOLLOUT)
            return
        except (OSError, ValueError) as e:
            self.fail(viewer, f"TLS handshake: {e}", now)
            return
        self.request_sent(viewer, now)

    def request_sent(self, viewer: Viewer, now: float) -> None:
        """Send the request on a connected (and TLS-ready) viewer."""
        sock = viewer.sock
        if sock is None:
            return
        try:
            sock.send(self.request)  # a few dozen bytes into an empty buffer
        except OSError as e:
            self.fail(viewer, f"send: {e.strerror}", now)
            return
        viewer.state = RESPONSE
        if viewer.kind == STALL:
            self.epoll.unregister(viewer.fd)  # never read again
        else:
            self.epoll.modify(viewer.fd, select.EPOLLIN)

    def close(self, viewer: Viewer) -> None:
        if viewer.sock is None:
            return
        self.by_fd.pop(viewer.fd, None)
        with contextlib.suppress(OSError, ValueError):  # a stalled one is not there
            self.epoll.unregister(viewer.fd)
        viewer.sock.close()
        viewer.sock = None
        viewer.fd = -1
        viewer.state = IDLE

    def fail(self, viewer: Viewer, why: str, now: float) -> None:
        if viewer.error is None:
            viewer.error = why
            key = f"{viewer.kind}: {why}"
            self.errors[key] = self.errors.get(key, 0) + 1
            if viewer.kind == CHURN and now < self.t_end:
                viewer.sessions_failed += 1
        self.close(viewer)

    def rotate(self, viewer: Viewer, now: float) -> None:
        """End a churning viewer's session, if it is over, and start the next."""
        if viewer.state != IDLE:
            if now < viewer.deadline:
                return
            if not viewer.session_frames:
                self.fail(viewer, "no frame within its session", now)
            self.close(viewer)
        self.connect(viewer, now)
        if self.t_start <= now < self.t_end:
            self.churn_connects += 1

    # Reading

    def read(self, viewer: Viewer, now: float) -> None:
        """
        Read what the socket has and parse it; C{now} is when the poll
        returned, replaced by the kernel's arrival time of the last byte read
        when there is one.
        """
        end = viewer.end
        if len(viewer.buf) - end < MIN_FREE:
            self.compact(viewer)
            end = viewer.end
        sock: socket.socket = viewer.sock  # type: ignore[assignment]
        try:
            if self.timestamps:
                n, ancillary, _, _ = sock.recvmsg_into([viewer.mv[end:]], TS_SPACE)
                for _, kind, data in ancillary:
                    if kind == SO_TIMESTAMPNS and len(data) >= 16:
                        seconds, nanoseconds = TIMESPEC.unpack_from(data)
                        now = seconds + nanoseconds * 1e-9
            elif self.tls is not None:
                self.read_tls(viewer, now)
                return
            else:
                n = sock.recv_into(viewer.mv[end:])
        except (BlockingIOError, InterruptedError):
            return
        except OSError as e:
            self.fail(viewer, f"recv: {e.strerror}", now)
            return
        if not n:
            self.fail(viewer, "the server closed the connection", now)
            return
        viewer.end = end + n
        self.parse(viewer, now)

    def read_tls(self, viewer: Viewer, now: float) -> None:
        """
        Read decrypted bytes until the TLS layer wants more from the socket:
        it may hold whole records already read that epoll cannot see.
        """
        for _ in range(64):
            sock: ssl.SSLSocket = viewer.sock  # type: ignore[assignment]
            if sock is None:
                return
            end = viewer.end
            if len(viewer.buf) - end < MIN_FREE:
                self.compact(viewer)
                end = viewer.end
            try:
                n = sock.recv_into(viewer.mv[end:])
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                return
            except (BlockingIOError, InterruptedError):
                return
            except (OSError, ValueError) as e:
                self.fail(viewer, f"recv: {e}", now)
                return
            if not n:
                self.fail(viewer, "the server closed the connection", now)
                return
            viewer.end = end + n
            self.parse(viewer, now)

    def compact(self, viewer: Viewer) -> None:
        pos, end = viewer.pos, viewer.end
        if pos:
            tail = bytes(viewer.mv[pos:end])
            viewer.buf[: len(tail)] = tail
            viewer.pos, viewer.end = 0, len(tail)
        if len(viewer.buf) - viewer.end < MIN_FREE:  # a part bigger than the buffer
            viewer.mv.release()
            viewer.buf.extend(bytes(len(viewer.buf)))
            viewer.mv = memoryview(viewer.buf)

    def parse(self, viewer: Viewer, now: float) -> None:  # noqa: C901, PLR0912, PLR0915
        buf = viewer.buf
        pos, end = viewer.pos, viewer.end
        while True:
            state = viewer.state
            if state == BODY:
                stop = pos + viewer.part_length
                if end < stop:
                    break
                self.frame(viewer, pos, stop, now)
                pos = stop
                viewer.state = DELIMITER
            elif state == DELIMITER:
                size = len(self.delimiter)
                if end - pos < size:
                    break
                if buf.startswith(self.delimiter, pos):
                    pos += size
                    viewer.state = HEADERS
                else:
                    viewer.malformed += 1
                    if buf.startswith(self.delimiter[:-2] + b"--", pos):
                        self.fail(viewer, "the multipart stream was closed", now)
                        return
                    viewer.state = SEEK
            elif state == SEEK:  # after a malformed part: find the next one
                size = len(self.delimiter)
                found = buf.find(self.delimiter, pos, end)
                if found < 0:  # keep what may be a delimiter's start
                    pos = max(pos, end - size)
                    break
                pos = found + size
                viewer.state = HEADERS
            elif state == HEADERS:
                stop = buf.find(b"\r\n\r\n", pos, end)
                if stop < 0:
                    if end - pos > MAX_HEADERS:
                        self.fail(viewer, "part headers too long", now)
                        return
                    break
                if not self.part_headers(viewer, bytes(buf[pos:stop]), now):
                    return
                pos = stop + 4
                viewer.state = BODY
            elif state == PREAMBLE:
                size = len(self.preamble)
                if end - pos < size:
                    break
                if not buf.startswith(self.preamble, pos):
                    self.fail(viewer, "the body does not open with --boundary", now)
                    return
                pos += size
                viewer.state = HEADERS
            elif state == RESPONSE:
                stop = buf.find(b"\r\n\r\n", pos, end)
                if stop < 0:
                    if end - pos > MAX_HEADERS:
                        self.fail(viewer, "response headers too long", now)
                    break
                if not self.response(viewer, bytes(buf[pos:stop]), now):
                    return
                pos = stop + 4
                viewer.state = PREAMBLE
            else:
                break
        if pos == end:
            pos = end = 0
        viewer.pos, viewer.end = pos, end

    def response(self, viewer: Viewer, head: bytes, now: float) -> bool:
        lines = head.decode("latin-1").split("\r\n")
        status = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if self.response_headers is None:
            self.response_headers = {"status-line": lines[0], **headers}
        if len(status) < 2 or status[1] != "200":
            self.fail(viewer, f"status {lines[0][:40]!r}", now)
            return False
        if "chunked" in headers.get("transfer-encoding", "").lower():
            self.fail(viewer, "chunked transfer encoding", now)
            return False
        content_type = headers.get("content-type", "")
        boundary = None
        for param in content_type.split(";")[1:]:
            key, _, value = param.strip().partition("=")
            if key.lower() == "boundary":
                boundary = value.strip('"').encode("latin-1")
        if not content_type.lower().startswith("multipart/") or not boundary:
            self.fail(viewer, f"not a multipart stream: {content_type!r}", now)
            return False
        if self.boundary is None:
            self.boundary = boundary
            self.preamble = b"--" + boundary + b"\r\n"
            self.delimiter = b"\r\n--" + boundary + b"\r\n"
        elif boundary != self.boundary:
            self.fail(viewer, "a different boundary", now)
            return False
        return True

    def part_headers(self, viewer: Viewer, head: bytes, now: float) -> bool:
        length = None
        timestamp = None
        jpeg = False
        for line in head.split(b"\r\n"):
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                try:
                    length = int(value)
                except ValueError:
                    break
            elif name == b"x-timestamp":
                try:
                    timestamp = float(value)
                except ValueError:
                    viewer.malformed += 1
            elif name == b"content-type":
                jpeg = value.strip().lower() == b"image/jpeg"
        if length is None or length < 0:
            self.fail(viewer, "a part without a valid Content-Length", now)
            return False
        if not jpeg:
            viewer.malformed += 1
        viewer.part_length = length
        viewer.part_timestamp = timestamp
        return True

    def frame(self, viewer: Viewer, start: int, stop: int, now: float) -> None:
        """A part's body has arrived whole: check it and count it."""
        buf = viewer.buf
        size = stop - start
        body = viewer.mv[start:stop]
        crc = zlib.crc32(body)
        body.release()
        if not (
            size >= 4
            and buf[start] == 0xFF
            and buf[start + 1] == 0xD8
            and buf[stop - 2] == 0xFF
            and buf[stop - 1] == 0xD9
        ):
            viewer.malformed += 1
        viewer.frames_total += 1
        viewer.session_frames += 1
        if viewer.session_frames == 1:
            self.first_frame(viewer, now)
        source = self.known.get((crc, size)) if self.nknown else None
        if self.t_start <= now < self.t_end:
            if crc == viewer.last_crc:
                viewer.dups += 1
            viewer.frames_win += 1
            viewer.bytes_win += size
            last = viewer.last_arrival
            if last is not None and now - last > viewer.max_gap:
                viewer.max_gap = now - last
            if viewer.part_timestamp is not None:
                self.latency.append(now - viewer.part_timestamp)
                self.latency_seen.append(self.seen - viewer.part_timestamp)
            if self.nknown:
                self.source_frame(viewer, source, now)
        viewer.last_crc = crc
        viewer.last_arrival = now
        if source is not None:
            viewer.last_source = source

    def first_frame(self, viewer: Viewer, now: float) -> None:
        ttff = now - viewer.t_connect
        if viewer.ttff is None:
            viewer.ttff = ttff
        if viewer.kind == CHURN:
            viewer.sessions_with_frames += 1
            if self.t_start <= now < self.t_end:
                self.ttff_churn.append(ttff)

    def source_frame(self, viewer: Viewer, source: int | None, now: float) -> None:
        """Skipped source frames, and the samples for the fan-out delay."""
        if source is None:
            viewer.unknown += 1
            return
        if viewer.last_source is not None:
            gap = (source - viewer.last_source) % self.nknown
            if gap > 1:
                viewer.skipped += gap - 1
        if viewer.kind == STEADY:
            self.fan_key.append(source)
            self.fan_time.append(now)

    # The loop

    def report(self, v: Viewer) -> dict[str, Any]:
        """One viewer's figures."""
        return {
            "index": v.index,
            "kind": v.kind,
            "error": v.error,
            "frames": v.frames_win,
            "fps": v.frames_win / self.config["seconds"],
            "frames_total": v.frames_total,
            "bytes": v.bytes_win,
            "dups": v.dups,
            "malformed": v.malformed,
            "skipped": v.skipped if self.nknown else None,
            "unknown": v.unknown if self.nknown else None,
            "ttff": v.ttff,
            "max_gap": v.max_gap,
            "sessions": v.sessions,
            "sessions_with_frames": v.sessions_with_frames,
            "sessions_failed": v.sessions_failed,
        }

    def run(self) -> dict[str, Any]:  # noqa: C901, PLR0912
        config = self.config
        count = len(self.viewers)
        total = config["total_viewers"]
        ramp = config["ramp"]
        # Connection times, latest first so that pop() gives the next one.
        pending = sorted(
            ((self.t0 + ramp * v.index / max(total, 1), v) for v in self.viewers),
            key=lambda item: -item[0],
        )
        churners = [v for v in self.viewers if v.kind == CHURN]
        cpu_start = cpu_end = None
        next_tick = self.t0
        epoll, by_fd = self.epoll, self.by_fd
        time.sleep(max(0.0, self.t0 - time.time()))
        while True:
            now = time.time()
            if cpu_start is None and now >= self.t_start:
                cpu_start = time.process_time()
            if now >= self.t_end:
                cpu_end = time.process_time()
                break
            while pending and pending[-1][0] <= now:
                self.connect(pending.pop()[1], now)
            if now >= next_tick:
                for viewer in churners:
                    if viewer.sessions:  # not before its first connection
                        self.rotate(viewer, now)
                next_tick = now + TICK
            wake = min(self.t_end, next_tick if churners else self.t_end)
            if pending:
                wake = min(wake, pending[-1][0])
            if cpu_start is None:
                wake = min(wake, self.t_start)
            events = epoll.poll(max(0.0, wake - now), 1024) if by_fd else ()
            if not by_fd:
                time.sleep(max(0.0, min(wake - now, TICK)))
            now = self.seen = time.time()
            for fd, _ in events:
                viewer = by_fd.get(fd)
                if viewer is None:
                    continue
                if viewer.state == CONNECTING:
                    self.connected(viewer, now)
                elif viewer.state == HANDSHAKE:
                    self.handshake(viewer, now)
                else:
                    self.read(viewer, now)
        for viewer in self.viewers:
            if viewer.state in {CONNECTING, HANDSHAKE} and viewer.error is None:
                self.fail(viewer, "not connected by the end of the window", now)
            self.close(viewer)
        self.epoll.close()
        return {
            "viewers": [self.report(v) for v in self.viewers],
            "count": count,
            "latency": self.latency,
            "latency_seen": self.latency_seen,
            "fan_key": self.fan_key,
            "fan_time": self.fan_time,
            "errors": self.errors,
            "ttff_churn": self.ttff_churn,
            "churn_connects": self.churn_connects,
            "response_headers": self.response_headers,
            "cpu_window": (cpu_end or 0.0) - (cpu_start or cpu_end or 0.0),
        }


def _worker(config: dict[str, Any], plan: list[tuple[int, str]], conn: Any) -> None:
    try:
        result = Worker(config, plan).run()
    except BaseException:  # noqa: BLE001 - reported to the parent instead of hanging it
        result = {"exception": traceback.format_exc()}
    conn.send(result)
    conn.close()


def load_known(frames_dir: str) -> list[tuple[tuple[int, int], int]]:
    """(crc32, length) of each source JPEG, in name order, with its index."""
    names = sorted(Path(frames_dir).glob("*.jpg"))
    known = []
    for index, path in enumerate(names):
        data = path.read_bytes()
        known.append(((zlib.crc32(data), len(data)), index))
    return known


def fan_out(keys: array[int], times: array[float], cycle: float) -> list[float]:
    """
    For each delivery of a source frame, its arrival minus the earliest
    arrival of the same delivery at any viewer. Deliveries of one source
    frame are told apart by time: they come C{cycle} seconds apart.
    """
    by_key: dict[int, list[float]] = {}
    for key, when in zip(keys, times, strict=True):
        by_key.setdefault(key, []).append(when)
    delays: list[float] = []
    for arrivals in by_key.values():
        arrivals.sort()
        first = arrivals[0]
        previous = first
        for when in arrivals:
            if when - previous > cycle / 2:
                first = when
            delays.append(when - first)
            previous = when
    delays.sort()
    return delays


def _plan(config: dict[str, Any]) -> list[tuple[int, str]]:
    """Each viewer's kind, stalled and churning ones spread among the steady."""
    special = [STALL] * config["stall"] + [CHURN] * config["churn"]
    total = config["clients"] + len(special)
    kinds = [STEADY] * total
    for number, kind in enumerate(special):
        kinds[number * total // len(special)] = kind
    return list(enumerate(kinds))


def run_load(config: dict[str, Any]) -> dict[str, Any]:
    """Run the load described by C{config}; the result's C{aggregate} sums it up."""
    plan = _plan(config)
    total = len(plan)
    config["total_viewers"] = total
    procs = config.get("procs") or (1 if total <= 20 else min(2, os.cpu_count() or 1))
    procs = max(1, min(procs, total))
    config["procs"] = procs
    if config.get("frames_dir"):
        config["known"] = load_known(config["frames_dir"])
    if not config.get("t0"):
        config["t0"] = time.time() + 0.3 + 0.05 * procs
    context = multiprocessing.get_context("fork")
    workers = []
    for number in range(procs):
        receiver, sender = context.Pipe(duplex=False)
        process = context.Process(
            target=_worker, args=(config, plan[number::procs], sender), daemon=True
        )
        process.start()
        sender.close()
        workers.append((process, receiver))
    deadline = config["t0"] + config["warmup"] + config["seconds"] + 60
    results = []
    for process, receiver in workers:
        if not receiver.poll(max(0.0, deadline - time.time())):
            for other, _ in workers:
                other.kill()
            raise RuntimeError("a load worker did not report in time")
        results.append(receiver.recv())
        process.join(10)
    for result in results:
        if "exception" in result:
            raise RuntimeError("a load worker failed:\n" + result["exception"])
    aggregate = _aggregate(config, results)
    t_start = config["t0"] + config["warmup"]
    config.pop("known", None)
    return {
        "config": config,
        "window": {
            "t0": config["t0"],
            "t_start": t_start,
            "t_end": t_start + config["seconds"],
        },
        "aggregate": aggregate,
        "viewers": sorted(
            (v for r in results for v in r["viewers"]), key=lambda v: v["index"]
        ),
    }


def _aggregate(config: dict[str, Any], results: list[dict[str, Any]]) -> dict[str, Any]:
    seconds = config["seconds"]
    total = config["total_viewers"]
    procs = config["procs"]
    viewers = sorted(
        (v for r in results for v in r["viewers"]), key=lambda v: v["index"]
    )
    steady = [v for v in viewers if v["kind"] == STEADY]
    churn = [v for v in viewers if v["kind"] == CHURN]
    fps = sorted(v["fps"] for v in steady)
    latency = sorted(x for r in results for x in r["latency"])
    seen = sorted(x for r in results for x in r["latency_seen"])
    fan_keys = array("l")
    fan_times = array("d")
    for r in results:
        fan_keys.extend(r["fan_key"])
        fan_times.extend(r["fan_time"])
    nknown = len(config.get("known", []))
    cycle = nknown / config["fps"] if nknown and config.get("fps") else 1.0
    fan = fan_out(fan_keys, fan_times, cycle) if nknown else []
    errors: dict[str, int] = {}
    for r in results:
        for key, count in r["errors"].items():
            errors[key] = errors.get(key, 0) + count
    ttff_churn = sorted(x for r in results for x in r["ttff_churn"])
    ttffs = sorted(v["ttff"] for v in viewers if v["ttff"] is not None)
    gaps = sorted(v["max_gap"] for v in steady)
    frames_window = sum(v["frames"] for v in viewers)
    cpu = sum(r["cpu_window"] for r in results)

    def ms(value: float | None) -> float | None:
        return None if value is None else value * 1000

    return {
        "viewers": total,
        "steady": len(steady),
        "stalled": config["stall"],
        "churning": len(churn),
        "fps_median": percentile(fps, 50),
        "fps_p5": percentile(fps, 5),
        "fps_min": fps[0] if fps else None,
        "fps_mean": statistics.fmean(fps) if fps else None,
        "frames_window": frames_window,
        "steady_frames_window": sum(v["frames"] for v in steady),
        "total_fps": frames_window / seconds,
        "MBps": sum(v["bytes"] for v in viewers) / seconds / 1e6,
        "dups": sum(v["dups"] for v in viewers if v["kind"] != STALL),
        "malformed": sum(v["malformed"] for v in viewers),
        "skipped_per_viewer_s": (
            statistics.fmean(v["skipped"] for v in steady) / seconds
            if nknown and steady
            else None
        ),
        "unknown_frames": sum(v["unknown"] or 0 for v in viewers) if nknown else None,
        "steady_without_frames": sum(1 for v in steady if not v["frames"]),
        "errors": errors,
        "error_count": sum(errors.values()),
        "ttff_ms_median": ms(percentile(ttffs, 50)),
        "ttff_ms_max": ms(ttffs[-1] if ttffs else None),
        "max_gap_ms_median": ms(percentile(gaps, 50)),
        "max_gap_ms_max": ms(gaps[-1] if gaps else None),
        "latency_samples": len(latency),
        "latency_ms_median": ms(percentile(latency, 50)),
        "latency_ms_p99": ms(percentile(latency, 99)),
        "latency_ms_max": ms(latency[-1] if latency else None),
        "latency_seen_ms_median": ms(percentile(seen, 50)),
        "latency_seen_ms_p99": ms(percentile(seen, 99)),
        "kernel_timestamps": config.get("kernel_timestamps", True),
        "fanout_samples": len(fan),
        "fanout_ms_median": ms(percentile(fan, 50)),
        "fanout_ms_p99": ms(percentile(fan, 99)),
        "churn_sessions": sum(v["sessions"] for v in churn),
        "churn_sessions_with_frames": sum(v["sessions_with_frames"] for v in churn),
        "churn_sessions_failed": sum(v["sessions_failed"] for v in churn),
        "churn_connects_per_s": (
            sum(r["churn_connects"] for r in results) / seconds if churn else None
        ),
        "churn_ttff_ms_median": ms(percentile(ttff_churn, 50)),
        "churn_ttff_ms_p99": ms(percentile(ttff_churn, 99)),
        "loadgen_procs": procs,
        "loadgen_cpu_s": cpu,
        "loadgen_cpu_pct": 100 * cpu / seconds,
        "response_headers": next(
            (r["response_headers"] for r in results if r["response_headers"]), None
        ),
    }


def _fmt(value: float | None, spec: str = ".1f") -> str:
    return "-" if value is None else format(value, spec)


def summary(result: dict[str, Any]) -> str:
    """A few lines for people."""
    a = result["aggregate"]
    lines = [
        (
            f"viewers {a['viewers']} (steady {a['steady']}, stalled {a['stalled']},"
            f" churning {a['churning']}), {a['loadgen_procs']} worker process(es)"
        ),
        (
            f"fps median / p5 / min: {_fmt(a['fps_median'], '.2f')} /"
            f" {_fmt(a['fps_p5'], '.2f')} / {_fmt(a['fps_min'], '.2f')};"
            f" {a['total_fps']:.0f} frames/s, {a['MBps']:.1f} MB/s"
        ),
        (
            f"duplicates {a['dups']}, malformed {a['malformed']}, skipped"
            f" {_fmt(a['skipped_per_viewer_s'], '.2f')}/viewer/s, errors"
            f" {a['errors'] or 'none'}"
        ),
        (
            f"latency ms median / p99 / max: {_fmt(a['latency_ms_median'])} /"
            f" {_fmt(a['latency_ms_p99'])} / {_fmt(a['latency_ms_max'])};"
            f" fan-out median / p99: {_fmt(a['fanout_ms_median'])} /"
            f" {_fmt(a['fanout_ms_p99'])}; as seen by the poll: median / p99"
            f" {_fmt(a['latency_seen_ms_median'])} /"
            f" {_fmt(a['latency_seen_ms_p99'])}"
        ),
        f"load generator CPU in the window: {a['loadgen_cpu_pct']:.0f}% of one core",
    ]
    if a["churning"]:
        lines.append(
            f"churn: {a['churn_sessions']} sessions"
            f" ({_fmt(a['churn_connects_per_s'])}/s), {a['churn_sessions_failed']}"
            f" failed, first frame median / p99"
            f" {_fmt(a['churn_ttff_ms_median'])} / {_fmt(a['churn_ttff_ms_p99'])} ms"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", required=True)
    parser.add_argument("--clients", type=int, default=1, help="steady viewers")
    parser.add_argument("--seconds", type=float, default=15.0, help="window length")
    parser.add_argument(
        "--warmup", type=float, default=3.0, help="seconds from t0 to the window"
    )
    parser.add_argument("--ramp", type=float, default=0.0, help="connect over this")
    parser.add_argument("--t0", type=float, default=0.0, help="Unix time to start")
    parser.add_argument("--procs", type=int, default=0, help="0: 1 or 2 by count")
    parser.add_argument("--frames-dir", help="the source JPEGs, to know frames")
    parser.add_argument("--fps", type=float, default=30.0, help="the source's rate")
    parser.add_argument("--stall", type=int, default=0, help="viewers that never read")
    parser.add_argument("--stall-rcvbuf", type=int, default=4096)
    parser.add_argument("--churn", type=int, default=0, help="viewers that come and go")
    parser.add_argument(
        "--churn-life", type=float, nargs=2, default=[0.3, 1.5], metavar=("MIN", "MAX")
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--no-kernel-timestamps",
        action="store_true",
        help="take arrival times when the poll returns, not from the kernel",
    )
    parser.add_argument(
        "--tls", action="store_true", help="speak TLS (no certificate check)"
    )
    parser.add_argument(
        "--header",
        action="append",
        default=[],
        metavar="'NAME: VALUE'",
        help="a header for every viewer's request (repeatable), e.g. a login's"
        " Authorization",
    )
    parser.add_argument("--json", help="write the full result here")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    config = {
        "url": args.url,
        "clients": args.clients,
        "seconds": args.seconds,
        "warmup": args.warmup,
        "ramp": args.ramp,
        "t0": args.t0,
        "procs": args.procs,
        "frames_dir": args.frames_dir,
        "fps": args.fps,
        "stall": args.stall,
        "stall_rcvbuf": args.stall_rcvbuf,
        "churn": args.churn,
        "churn_life": args.churn_life,
        "seed": args.seed,
        "kernel_timestamps": not args.no_kernel_timestamps,
        "tls": args.tls,
        "headers": args.header,
    }
    started = os.times()
    result = run_load(config)
    ended = os.times()
    result["loadgen_cpu_s_total"] = (
        ended.user
        - started.user
        + ended.system
        - started.system
        + ended.children_user
        - started.children_user
        + ended.children_system
        - started.children_system
    )
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))
    if not args.quiet:
        print(summary(result))
    return result


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
