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
import urllib.request
from pathlib import Path

from support import free_port, read_head, read_parts, send_get

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


def read_stream(port: int, path: str, parts: int, deadline: float) -> list[bytes]:
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
        send_get(connection, path)
        read_by = time.monotonic() + 20
        head = read_head(connection, read_by)
        assert head.status.startswith(b"HTTP/1.1 200 "), head
        return [part.body for part in read_parts(connection, parts, read_by, head.body)]


def test_embedding_example_serves_under_cam(tmp_path: Path) -> None:
    """
    The README's embedding example, run by twistd as a tac file, streams the
    lobby camera at /cam/video_feed, and serves both cameras under
    /cameras/: the yard camera's stream, and the grid with a tile for each.
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
        for path in ("/cam/video_feed", "/cameras/cameras/yard/video_feed"):
            jpegs = read_stream(port, path, 3, time.monotonic() + 20)
            assert all(
                j.startswith(b"\xff\xd8") and j.endswith(b"\xff\xd9") for j in jpegs
            )
            assert len(set(jpegs)) == len(jpegs)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/cameras/") as grid:
            page = grid.read().decode("utf-8")
        assert re.findall(r'data-camera="(\w+)"', page) == ["lobby", "yard"]
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=20)
    # twistd ends by re-raising the signal that stopped it, after a clean
    # shutdown.
    assert process.returncode in (0, -signal.SIGTERM), output.decode()[-3000:]
    assert b"Server Shut Down." in output
    assert b"Traceback" not in output
