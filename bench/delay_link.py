"""
A link with a round-trip delay between two network namespaces, for
measuring camserve over a long path on a machine whose kernel has no
C{netem} qdisc.

Two TUN devices, one in each namespace, are joined by this process: every
IP packet read from one is written to the other half a round trip later.
TCP on both ends sees a real round-trip time (its congestion window, its
acknowledgements, its retransmissions), which a relay of TCP streams could
not show: a relay terminates TCP and its own socket buffers would stand in
for the path. What it does not model: a bottleneck's bandwidth and queue,
loss, or reordering; and the delay line is a Python thread, which adds
well under a millisecond per packet at the rates measured here (it runs
in a process of its own).

Needs root (namespaces, TUN devices) and C{ip} from iproute2. The
namespaces hold only the two ends' addresses, C{10.201.0.1} (server) and
C{10.201.0.2} (client), and route nowhere else.
"""

from __future__ import annotations

import collections
import contextlib
import ctypes
import fcntl
import multiprocessing
import os
import select
import socket
import struct
import subprocess
import time
from typing import TYPE_CHECKING, Self

if TYPE_CHECKING:
    from collections.abc import Iterator

SERVER_ADDRESS = "10.201.0.1"
CLIENT_ADDRESS = "10.201.0.2"

_TUNSETIFF = 0x400454CA
_IFF_TUN = 0x0001
_IFF_NO_PI = 0x1000
_CLONE_NEWNET = 0x40000000


def _ip(*arguments: str) -> None:
    subprocess.run(["ip", *arguments], check=True)


def _open_tun(name: str) -> int:
    descriptor = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    fcntl.ioctl(
        descriptor,
        _TUNSETIFF,
        struct.pack("16sH", name.encode(), _IFF_TUN | _IFF_NO_PI),
    )
    return descriptor


class DelayLink:
    """
    Two namespaces joined by TUN devices with a round trip of C{rtt}
    seconds; a context manager that builds them and removes them.
    """

    def __init__(
        self, rtt: float, congestion_control: str | None = None, tag: str = "csbench"
    ) -> None:
        """
        @param congestion_control: TCP's congestion control in both
            namespaces (one the system allows), if not the system's default.
        """
        self.rtt = rtt
        self.congestion_control = congestion_control
        self.server_ns = f"{tag}-srv"
        self.client_ns = f"{tag}-cli"
        self._tag = tag
        self._fds: list[int] = []
        self._process: multiprocessing.Process | None = None

    def __enter__(self) -> Self:
        for namespace in (self.server_ns, self.client_ns):
            subprocess.run(
                ["ip", "netns", "del", namespace],
                capture_output=True,
                check=False,
            )
            _ip("netns", "add", namespace)
            _ip("-n", namespace, "link", "set", "lo", "up")
            if self.congestion_control:
                subprocess.run(
                    [
                        "ip",
                        "netns",
                        "exec",
                        namespace,
                        "sysctl",
                        "-qw",
                        f"net.ipv4.tcp_congestion_control={self.congestion_control}",
                    ],
                    check=True,
                )
        ends = (
            (f"{self._tag}s", self.server_ns, SERVER_ADDRESS, CLIENT_ADDRESS),
            (f"{self._tag}c", self.client_ns, CLIENT_ADDRESS, SERVER_ADDRESS),
        )
        for device, namespace, local, peer in ends:
            self._fds.append(_open_tun(device))
            _ip("link", "set", device, "netns", namespace)
            _ip("-n", namespace, "link", "set", device, "mtu", "1500", "up")
            _ip("-n", namespace, "addr", "add", local, "peer", peer, "dev", device)
        # A process of its own: a thread would wait for the GIL behind the
        # measuring threads, and hold packets back by as much.
        self._process = multiprocessing.get_context("fork").Process(
            target=_carry, args=(*self._fds, self.rtt / 2), daemon=True
        )
        self._process.start()
        return self

    def __exit__(self, *_: object) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.join(5)
        for descriptor in self._fds:
            os.close(descriptor)
        for namespace in (self.server_ns, self.client_ns):
            subprocess.run(
                ["ip", "netns", "del", namespace],
                capture_output=True,
                check=False,
            )

    @contextlib.contextmanager
    def in_client_namespace(self) -> Iterator[None]:
        """
        Sockets made inside this block belong to the client's namespace.
        """
        with in_namespace(self.client_ns):
            yield

    def server_command(self, command: list[str]) -> list[str]:
        """
        C{command}, run in the server's namespace.
        """
        return ["ip", "netns", "exec", self.server_ns, *command]


def _carry(server: int, client: int, one_way: float) -> None:
    """
    Move packets between the two devices, each C{one_way} seconds late,
    until terminated.
    """
    other = {server: client, client: server}
    line: collections.deque[tuple[float, int, bytes]] = collections.deque()
    while True:
        timeout = 0.05
        if line:
            timeout = max(0.0, min(timeout, line[0][0] - time.monotonic()))
        readable, _, _ = select.select([server, client], [], [], timeout)
        now = time.monotonic()
        for descriptor in readable:
            with contextlib.suppress(BlockingIOError):
                for _ in range(64):
                    packet = os.read(descriptor, 65536)
                    line.append((now + one_way, other[descriptor], packet))
        while line and line[0][0] <= time.monotonic():
            _, target, packet = line.popleft()
            with contextlib.suppress(OSError):
                os.write(target, packet)


@contextlib.contextmanager
def in_namespace(name: str) -> Iterator[None]:
    """
    Switch the calling thread into network namespace C{name}, and back.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    original = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open(f"/run/netns/{name}", os.O_RDONLY)
    try:
        if libc.setns(target, _CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f"cannot enter namespace {name}")
        try:
            yield
        finally:
            libc.setns(original, _CLONE_NEWNET)
    finally:
        os.close(target)
        os.close(original)


def round_trip_ms(link: DelayLink, port: int) -> float:
    """
    The time a TCP connect to the server's C{port} takes, in ms.
    """
    with link.in_client_namespace():
        probe = socket.socket()
    started = time.monotonic()
    with probe:
        probe.settimeout(5)
        probe.connect((SERVER_ADDRESS, port))
    return (time.monotonic() - started) * 1000
