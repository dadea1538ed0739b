"""
Tests for L{camserve.cameras._seed}: drivers of the Flask design, run unchanged.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import pytest
from support import blocking_camera, reactor, reactor_test

from camserve import CameraService, ConfigError, find_driver, make_camera
from camserve.cameras._seed import BaseCamera, own_copy, seed_camera
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

# The Flask design's OpenCV camera as it chooses and reads its source: a
# static set_video_source() that names the module's Camera, and a frames()
# that reads Camera.video_source (here at every frame, as a driver that
# reopens its device would).
SEED_OWN_SETTER = """
from base_camera import BaseCamera


class Camera(BaseCamera):
    video_source = 0

    @staticmethod
    def set_video_source(source):
        Camera.video_source = source

    @staticmethod
    def frames():
        while True:
            yield str(Camera.video_source).encode()
"""

# The same with the stand-in's set_video_source().
SEED_INHERITED_SETTER = """
from base_camera import BaseCamera


class Camera(BaseCamera):
    @staticmethod
    def frames():
        while True:
            yield str(Camera.video_source).encode()
"""

# A driver that keeps a count at module level.
SEED_COUNTER = """
from base_camera import BaseCamera

frames_made = 0


class Camera(BaseCamera):
    @staticmethod
    def frames():
        global frames_made
        while True:
            frames_made += 1
            yield str(frames_made).encode()
"""

# JPEGs numbered by the source, re-read at every frame.
SEED_NUMBERED = """
import time

from base_camera import BaseCamera
from camserve.testing import make_jpeg


class Camera(BaseCamera):
    @staticmethod
    def frames():
        while True:
            time.sleep(0.01)
            yield make_jpeg(Camera.video_source)
"""


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


SETTERS = pytest.mark.parametrize(
    "driver", [SEED_OWN_SETTER, SEED_INHERITED_SETTER], ids=["own", "inherited"]
)


@SETTERS
def test_cameras_from_one_module_keep_their_own_sources(
    folder: Path, driver: str
) -> None:
    """
    Two cameras made from one seed module with different sources, their
    frames taken in turn, each yield only their own source's frames.
    """
    (folder / "camera_cv.py").write_text(driver)
    first = blocking_camera("cv", {"source": "0"}).frames()
    second = blocking_camera("cv", {"source": "1"}).frames()
    taken = [(next(first), next(second)) for _ in range(5)]
    assert taken == [(b"0", b"1")] * 5


@SETTERS
def test_a_later_camera_leaves_an_earlier_ones_source(
    folder: Path, driver: str
) -> None:
    """
    A camera made from a seed module after another one, from the same module
    with another source, changes neither the source of the earlier camera's
    running frames nor that of frames it starts afterwards.
    """
    (folder / "camera_cv.py").write_text(driver)
    earlier = blocking_camera("cv", {"source": "rtsp://a/"})
    running = earlier.frames()
    assert next(running) == b"rtsp://a/"
    later = blocking_camera("cv", {"source": "3"})
    assert next(running) == b"rtsp://a/"
    assert next(earlier.frames()) == b"rtsp://a/"
    assert next(later.frames()) == b"3"


def test_module_level_state_is_not_shared(folder: Path) -> None:
    """
    Cameras made from one seed module each have their own module-level
    state: a count kept at module level counts one camera's frames alone.
    """
    (folder / "camera_counter.py").write_text(SEED_COUNTER)
    first = blocking_camera("counter", {}).frames()
    second = blocking_camera("counter", {}).frames()
    taken = [(next(first), next(second)) for _ in range(3)]
    assert taken == [(b"1", b"1"), (b"2", b"2"), (b"3", b"3")]


def test_imported_module_is_left_as_it_was(folder: Path) -> None:
    """
    Making a camera from a seed module with a source neither replaces the
    module imported under its name nor changes that module's driver class,
    which L{find_driver} still gives.
    """
    (folder / "camera_cv.py").write_text(SEED_OWN_SETTER)
    driver = find_driver("cv")
    module = sys.modules["camera_cv"]
    blocking_camera("cv", {"source": "5"})
    assert sys.modules["camera_cv"] is module
    assert find_driver("cv") is driver
    assert driver.video_source == 0  # type: ignore[attr-defined]


def test_module_failing_when_run_again(folder: Path) -> None:
    """
    A seed module that imported once but fails when run afresh for a camera
    (here, changed in between) is reported as failing.
    """
    (folder / "camera_cv.py").write_text(SEED_OWN_SETTER)
    find_driver("cv")
    (folder / "camera_cv.py").write_text("raise RuntimeError('no camera here')\n")
    with pytest.raises(ConfigError) as caught:
        make_camera("cv", {"source": "1"})
    assert str(caught.value) == "camera 'cv': camera_cv.py failed: no camera here"


def test_module_losing_its_class_when_run_again(folder: Path) -> None:
    """
    A seed module that no longer defines its driver class when run afresh
    for a camera is reported as such.
    """
    (folder / "camera_cv.py").write_text(SEED_OWN_SETTER)
    find_driver("cv")
    (folder / "camera_cv.py").write_text("video_source = 0\n")
    with pytest.raises(ConfigError) as caught:
        make_camera("cv", {})
    assert str(caught.value) == "camera 'cv': camera_cv.py has no Camera class"


def test_class_without_a_module_file_is_used_as_it_is() -> None:
    """
    A Flask-design driver class that no fresh run of a module file can give
    again (here, one defined in a function) is used as it is.
    """

    class Camera(BaseCamera):
        @staticmethod
        def frames() -> Iterator[bytes]:
            yield b"jpeg"

    assert own_copy("local", Camera) is Camera
    assert next(seed_camera("local", Camera, {}).frames()) == b"jpeg"


@reactor_test
async def test_hubs_from_one_module_serve_their_own_sources(folder: Path) -> None:
    """
    Two hubs whose cameras come from one seed module, capturing at the same
    time in their own threads, each serve only their own source's frames.
    """
    (folder / "camera_numbered.py").write_text(SEED_NUMBERED)
    cameras = CameraService(reactor)
    hubs = {
        number: cameras.add_driver(
            f"camera{number}", make_camera("numbered", {"source": str(number)})
        )
        for number in (1, 2)
    }
    cameras.startService()
    try:
        for _ in range(5):
            for number, hub in hubs.items():
                frame = await hub.next_frame().addTimeout(5, reactor)
                assert frame.jpeg == make_jpeg(number)
    finally:
        await cameras.stopService()
