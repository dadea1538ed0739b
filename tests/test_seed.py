"""
Tests for L{camserve._seed}: drivers of the Flask design, run unchanged.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import pytest
from support import blocking_camera, reactor, reactor_test

from camserve import CameraService, ConfigError, make_camera
from camserve.testing import make_jpeg

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

# The Flask design's emulated camera, as it is there but for the pause (one
# second there), shortened to keep the test quick.
SEED_CAMERA = '''
import os
import time
from base_camera import BaseCamera


class Camera(BaseCamera):
    """An emulated camera implementation that streams a repeated sequence of
    files 1.jpg, 2.jpg and 3.jpg at a rate of one frame per second."""
    imgs = [open(f + '.jpg', 'rb').read() for f in ['1', '2', '3']]

    @staticmethod
    def frames():
        while True:
            time.sleep(0.05)
            yield Camera.imgs[int(time.time() * 20) % 3]
'''

SEED_OPENCV_STYLE = '''
from base_camera import BaseCamera


class Camera(BaseCamera):
    """Reads its source through set_video_source()."""

    @staticmethod
    def frames():
        yield str(Camera.video_source).encode()
'''


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """
    An empty working directory; modules imported from it are forgotten.
    """
    monkeypatch.chdir(tmp_path)
    yield tmp_path
    for name in [n for n in sys.modules if n.startswith(("camera_", "base_camera"))]:
        del sys.modules[name]
    if str(tmp_path) in sys.path:
        sys.path.remove(str(tmp_path))


def write_seed_camera(folder: Path) -> list[bytes]:
    images = [make_jpeg(number) for number in (1, 2, 3)]
    for number, jpeg in enumerate(images, start=1):
        (folder / f"{number}.jpg").write_bytes(jpeg)
    (folder / "camera_seed.py").write_text(SEED_CAMERA)
    return images


def test_seed_driver_runs_without_base_camera(folder: Path) -> None:
    """
    The Flask design's emulated camera, with no C{base_camera.py} beside it,
    loads and yields its files.
    """
    images = write_seed_camera(folder)
    camera = blocking_camera("seed", {})
    frames = camera.frames()
    got = {next(frames) for _ in range(6)}
    assert got <= set(images)
    assert len(got) >= 2


def test_seed_base_camera_is_never_instantiated(folder: Path) -> None:
    """
    When the folder has the design's own C{base_camera.py}, whose constructor
    starts capture threads, camserve uses the driver without making one.
    """
    images = write_seed_camera(folder)
    (folder / "base_camera.py").write_text(
        "class BaseCamera:\n"
        "    def __init__(self):\n"
        "        raise RuntimeError('would start a second capture thread')\n"
    )
    camera = blocking_camera("seed", {})
    assert next(camera.frames()) in images


def test_source_goes_to_set_video_source(folder: Path) -> None:
    """
    C{source} reaches the driver's C{set_video_source()}; a number names a
    device index.
    """
    (folder / "camera_cv.py").write_text(SEED_OPENCV_STYLE)
    assert next(blocking_camera("cv", {"source": "2"}).frames()) == b"2"
    assert next(blocking_camera("cv", {"source": "clip.mp4"}).frames()) == b"clip.mp4"


def test_other_options_are_refused(folder: Path) -> None:
    """
    Options a Flask-style driver cannot take are refused with what it takes.
    """
    write_seed_camera(folder)
    with pytest.raises(ConfigError) as caught:
        make_camera("seed", {"fps": 10.0})
    assert str(caught.value) == (
        "camera 'seed' is a Flask-style driver and takes only the option"
        " 'source', not 'fps'"
    )


@reactor_test
async def test_seed_driver_serves_through_a_hub(folder: Path) -> None:
    """
    A Flask-design driver runs in camserve's capture thread and its frames
    reach the hub.
    """
    images = write_seed_camera(folder)
    cameras = CameraService(reactor)
    hub = cameras.add_driver("seed", make_camera("seed", {}))
    cameras.startService()
    try:
        frame = await hub.next_frame().addTimeout(5, reactor)
        assert frame.jpeg in images
    finally:
        await cameras.stopService()
