"""
Tests for recording's settings: the config file's C{[server]
recordings_dir} and C{min_free_bytes} and each camera's C{record},
C{segment_minutes}, C{max_bytes} and C{max_age}; the same on the one-camera
command line and in the environment; what L{build_service} and a reload
make of them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from test_reload import emulated, toml
from twisted.internet.testing import MemoryReactorClock
from twisted.python.threadpool import ThreadPool
from twisted.trial.unittest import SynchronousTestCase

from camserve import CameraService, ConfigError, ServerConfig
from camserve._listener import Listener
from camserve.config._file import load_config, parse_config
from camserve.config._reload import ConfigReloader
from camserve.recording._modes import RecordingMode, RecordingSettings
from camserve.recording._service import RecordingService
from camserve.tap import Options, build_service, config_from_environment

if TYPE_CHECKING:
    from twisted.application.service import MultiService

successResultOf = SynchronousTestCase().successResultOf  # noqa: N816 - Twisted's name

CONTINUOUS = RecordingSettings(RecordingMode.CONTINUOUS)


class Reactor(MemoryReactorClock):
    """
    A memory reactor with a thread pool (never started), which the
    recordings' readers ask for as the server is built.
    """

    def getThreadPool(self) -> ThreadPool:
        return ThreadPool()


def recordings_of(top: MultiService) -> RecordingService:
    (service,) = (child for child in top if isinstance(child, RecordingService))
    return service


def test_a_file_says_how_each_camera_records(tmp_path: Path) -> None:
    """
    The recordings folder is relative to the config file, wherever camserve
    was started; each camera records as its table says (in minutes for the
    segments, seconds for the age), with the declared defaults where it
    says nothing.
    """
    (tmp_path / "conf").mkdir()
    path = tmp_path / "conf" / "cameras.toml"
    path.write_text(
        "[server]\n"
        'recordings_dir = "../recordings"\n'
        "min_free_bytes = 5_000_000_000\n"
        "[[cameras]]\n"
        'name = "porch"\ndriver = "emulated"\nrecord = "continuous"\n'
        "segment_minutes = 0.5\nmax_bytes = 20_000_000_000\nmax_age = 604800\n"
        "[[cameras]]\n"
        'name = "garage"\ndriver = "emulated"\nrecord = "on_demand"\n'
        "[[cameras]]\n"
        'name = "shed"\ndriver = "emulated"\n'
        "[[cameras]]\n"
        'name = "yard"\ndriver = "emulated"\nrecord = "motion"\n'
        "motion_threshold = 0.1\npre_roll = 3\npost_roll = 20\n"
        "motion_mask = [[0, 0, 0.5, 0.25], [0.9, 0.9, 0.1, 0.1]]\n"
    )
    config = load_config(path)
    assert config.server.recordings_dir == str(tmp_path / "conf" / "../recordings")
    porch = config.cameras[0]
    assert (porch.record, porch.segment_minutes, porch.max_bytes, porch.max_age) == (
        "continuous",
        0.5,
        20_000_000_000,
        604800.0,
    )
    assert dict(porch.options) == {}
    recordings = recordings_of(build_service(str(path), Reactor()))
    assert recordings.root == tmp_path / "conf" / "../recordings"
    assert recordings.min_free_bytes == 5_000_000_000
    assert recordings.settings == {
        "porch": RecordingSettings(
            RecordingMode.CONTINUOUS, 30.0, 20_000_000_000, 604800.0
        ),
        "garage": RecordingSettings(RecordingMode.ON_DEMAND, 300.0),
        "shed": RecordingSettings(RecordingMode.OFF, 300.0),
        "yard": RecordingSettings(
            RecordingMode.MOTION,
            300.0,
            motion_threshold=0.1,
            pre_roll=3.0,
            post_roll=20.0,
            motion_mask=((0.0, 0.0, 0.5, 0.25), (0.9, 0.9, 0.1, 0.1)),
        ),
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '[[cameras]]\nname = "porch"\ndriver = "emulated"\nrecord = "often"\n',
            (
                "cameras.toml: camera 'porch': record must be one of 'off',"
                " 'continuous', 'on_demand', 'motion', not 'often'"
            ),
        ),
        (
            '[[cameras]]\nname = "porch"\ndriver = "emulated"\nrecord = true\n',
            (
                "cameras.toml: camera 'porch': record must be one of 'off',"
                " 'continuous', 'on_demand', 'motion', not true"
            ),
        ),
        (
            (
                '[[cameras]]\nname = "porch"\ndriver = "emulated"\n'
                "motion_mask = [[0, 0, 0.5]]\n"
            ),
            (
                "cameras.toml: camera 'porch': motion_mask must be rectangles of"
                " left, top, width and height, each a number from 0 to 1,"
                " not [[0, 0, 0.5]]"
            ),
        ),
        (
            '[[cameras]]\nname = "porch"\ndriver = "emulated"\nmotion_threshold = 0\n',
            (
                "cameras.toml: camera 'porch': motion_threshold must be a number"
                " greater than 0, not 0"
            ),
        ),
        (
            '[[cameras]]\nname = "porch"\ndriver = "emulated"\nrecord = "continuous"\n',
            (
                "cameras.toml: camera 'porch' records (record = 'continuous') but"
                " [server] recordings_dir is not set: the folder to record in"
            ),
        ),
        (
            (
                '[server]\nrecordings_dir = "r"\n[[cameras]]\nname = "porch"\n'
                'driver = "emulated"\nsegment_minutes = 0\n'
            ),
            (
                "cameras.toml: camera 'porch': segment_minutes must be a number"
                " greater than 0, not 0"
            ),
        ),
        (
            (
                '[server]\nrecordings_dir = "r"\n[[cameras]]\nname = "porch"\n'
                'driver = "emulated"\nmax_bytes = "20GB"\n'
            ),
            (
                "cameras.toml: camera 'porch': max_bytes must be a whole number at"
                " least 1, not the text '20GB'"
            ),
        ),
        (
            (
                '[server]\nmin_free_bytes = -1\n[[cameras]]\nname = "porch"\n'
                'driver = "emulated"\n'
            ),
            (
                "cameras.toml: [server] min_free_bytes must be a whole number at"
                " least 0, not -1"
            ),
        ),
        (
            (
                '[server]\nrecordings_dir = ""\n[[cameras]]\nname = "porch"\n'
                'driver = "emulated"\n'
            ),
            "cameras.toml: [server] recordings_dir must not be empty",
        ),
    ],
)
def test_mistakes_are_one_line(text: str, message: str) -> None:
    """
    A recording setting camserve cannot use is refused in one line naming
    the file, the camera and the key, and what is allowed: only the modes
    that work.
    """
    with pytest.raises(ConfigError) as raised:
        parse_config(text, "cameras.toml")
    assert str(raised.value) == message


def test_the_command_line_records_its_camera(tmp_path: Path) -> None:
    """
    The one-camera command line and the environment take the same settings
    as options, the folder relative to the working directory.
    """
    options = Options()
    options.parseOptions(
        [
            "--record",
            "on_demand",
            "--recordings-dir",
            str(tmp_path),
            "--segment-minutes",
            "1",
            "--max-age",
            "3600",
            "--max-bytes",
            "1000000",
            "--min-free-bytes",
            "10",
        ]
    )
    recordings = recordings_of(build_service(options["serve"], Reactor()))
    assert recordings.root == tmp_path
    assert recordings.min_free_bytes == 10
    assert recordings.settings == {
        "emulated": RecordingSettings(RecordingMode.ON_DEMAND, 60.0, 1_000_000, 3600.0)
    }
    environment = config_from_environment(
        {"CAMSERVE_RECORD": "continuous", "CAMSERVE_RECORDINGS_DIR": "rec"}
    )
    assert isinstance(environment, ServerConfig)
    recordings = recordings_of(build_service(environment, Reactor()))
    assert recordings.root == Path("rec").absolute()
    assert recordings.settings["emulated"].mode is RecordingMode.CONTINUOUS


def test_the_command_line_records_into_a_folder() -> None:
    """
    Recording asked for on the command line with no folder is a one-line
    mistake naming the options.
    """
    with pytest.raises(ConfigError) as raised:
        build_service(ServerConfig(record="continuous"), Reactor())
    assert str(raised.value) == (
        "camera 'emulated' records (record = 'continuous') but recordings_dir"
        " (--recordings-dir, CAMSERVE_RECORDINGS_DIR) is not set: the folder to"
        " record in"
    )
    with pytest.raises(SystemExit, match=r"^camserve: --record must be one of"):
        Options().parseOptions(["--record", "often"])
    motion = ServerConfig.from_strings(
        {
            "record": "motion",
            "recordings-dir": "rec",
            "motion-mask": "0,0,.5,1; .9,0,.1,.1",
        }
    )
    settings = recordings_of(build_service(motion, Reactor())).settings["emulated"]
    assert settings.mode is RecordingMode.MOTION
    assert settings.motion_mask == ((0.0, 0.0, 0.5, 1.0), (0.9, 0.0, 0.1, 0.1))


def test_a_reload_applies_recording_settings(tmp_path: Path) -> None:
    """
    A reload that changes only how cameras record changes nothing else of
    them: no camera restarts; the recording service is told. A reload that
    makes a camera record with no folder is refused whole.
    """
    path = tmp_path / "cameras.toml"
    path.write_text(toml(emulated("a"), emulated("b")))
    top = build_service(str(path), Reactor())
    recordings = recordings_of(top)
    (cameras,) = (child for child in top if isinstance(child, CameraService))
    (reloader,) = (child for child in top if isinstance(child, ConfigReloader))
    assert recordings.settings["a"].mode is RecordingMode.OFF
    hubs = cameras.hubs
    path.write_text(
        toml(
            emulated("a", record="continuous", max_age=60),
            emulated("b"),
            server={"recordings_dir": "rec", "min_free_bytes": 1},
        )
    )
    outcome = successResultOf(reloader.reload())
    assert outcome.unchanged == ("a", "b")
    assert all(cameras.hubs[name] is hubs[name] for name in hubs)
    assert recordings.root == tmp_path / "rec"
    assert recordings.min_free_bytes == 1
    assert recordings.settings["a"] == RecordingSettings(
        RecordingMode.CONTINUOUS, max_age=60.0
    )
    path.write_text(toml(emulated("a", record="continuous")))
    outcome = successResultOf(reloader.reload())
    assert outcome.error == (
        f"{path}: camera 'a' records (record = 'continuous') but [server]"
        " recordings_dir is not set: the folder to record in"
    )
    assert recordings.settings["a"].max_age == 60.0


def test_a_server_that_records_takes_small_bodies(tmp_path: Path) -> None:
    """
    A server that records, or may be reloaded to, takes the small JSON
    bodies of a playback's control and a recording's start and stop, even
    without logins; the one-camera command line, neither recording nor
    with logins, takes none.
    """
    path = tmp_path / "cameras.toml"
    camera = '[[cameras]]\nname = "porch"\ndriver = "emulated"\n'
    for server in ["", '[server]\nrecordings_dir = "r"\n']:
        path.write_text(server + camera)
        top = build_service(str(path), Reactor())
        (listener,) = (child for child in top if isinstance(child, Listener))
        assert listener.factory.max_body_size == 4096
    recording = ["--record", "continuous", "--recordings-dir", str(tmp_path)]
    for arguments, size in [([], 0), (recording, 4096)]:
        options = Options()
        options.parseOptions(arguments)
        top = build_service(options["serve"], Reactor())
        (listener,) = (child for child in top if isinstance(child, Listener))
        assert listener.factory.max_body_size == size
