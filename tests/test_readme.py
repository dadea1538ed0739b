"""
Tests that the README's embedding example runs as it stands.
"""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from support import free_port

from camserve.testing import MultipartParser

ROOT = Path(__file__).parent.parent
TWISTD = Path(sys.executable).parent / "twistd"


def embedding_example() -> str:
    """
    The Python block that follows the README's embedding-example marker.
    """
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(
        r"<!-- embedding-example -->\n```python\n(.*?)```", readme, re.DOTALL
    )
    assert match is not None, "README has no embedding example"
    return match.group(1)


def read_stream(port: int, path: bytes, parts: int, deadline: float) -> list[bytes]:
    """
    JPEGs from a raw HTTP stream, retrying the connection until C{deadline}.
    """
    while True:
        try:
            connection = socket.create_connection(("127.0.0.1", port), timeout=5)
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    with connection:
        connection.sendall(b"GET " + path + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        data = b""
        while b"\r\n\r\n" not in data:
            data += connection.recv(65536)
        head, _, body = data.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 "), head
        parser = MultipartParser()
        jpegs = [part.body for part in parser.feed(body)]
        while len(jpegs) < parts:
            chunk = connection.recv(65536)
            assert chunk, "stream ended early"
            jpegs += [part.body for part in parser.feed(chunk)]
        return jpegs


def test_embedding_example_serves_under_cam(tmp_path: Path) -> None:
    """
    The README's embedding example, run by twistd as a tac file, streams the
    camera at /cam/video_feed.
    """
    port = free_port()
    code = embedding_example()
    assert '"tcp:8080"' in code
    tac = tmp_path / "example.tac"
    tac.write_text(code.replace('"tcp:8080"', f'"tcp:{port}:interface=127.0.0.1"'))
    process = subprocess.Popen(
        [str(TWISTD), "--pidfile=", "-ny", str(tac)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        jpegs = read_stream(port, b"/cam/video_feed", 3, time.monotonic() + 20)
        assert all(j.startswith(b"\xff\xd8") and j.endswith(b"\xff\xd9") for j in jpegs)
        assert len(set(jpegs)) == len(jpegs)
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=20)
    # twistd ends by re-raising the signal that stopped it, after a clean
    # shutdown.
    assert process.returncode in (0, -signal.SIGTERM), output.decode()[-3000:]
    assert b"Server Shut Down." in output
    assert b"Traceback" not in output
