# -*- test-case-name: tests.test_recording_config -*-
"""
What a config asks of the recordings: the folder, the free space to keep,
and how each camera records.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from attrs import frozen

from camserve._errors import ConfigError
from camserve.config._settings import default_of
from camserve.recording._modes import RecordingMode, RecordingSettings

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from camserve.config._camera_table import CameraConfig
    from camserve.config._server_table import ServerSettings


@frozen
class Recordings:
    """
    How a config's cameras record.

    @ivar root: the recordings folder, absolute; L{None} for none.
    @ivar min_free_bytes: the bytes to keep free on its disk.
    @ivar cameras: each camera's recording settings, by name.
    """

    root: Path | None
    min_free_bytes: int
    cameras: Mapping[str, RecordingSettings]


FILE_SETTING = "[server] recordings_dir"
"""The recordings folder's setting, as a config file has it."""
COMMAND_LINE_SETTING = "recordings_dir (--recordings-dir, CAMSERVE_RECORDINGS_DIR)"
"""The recordings folder's setting, as the command line and the environment
have it."""


def check_recordings(
    server: ServerSettings,
    cameras: Iterable[CameraConfig],
    setting: str = FILE_SETTING,
) -> None:
    """
    Refuse a camera that records when the server has no recordings folder.

    @param setting: the folder's setting, as the message names it.
    @raise ConfigError: naming the camera and C{setting}.
    """
    if server.recordings_dir is not None:
        return
    for camera in cameras:
        if camera.record not in (None, RecordingMode.OFF.value):
            raise ConfigError(
                f"camera {camera.name!r} records (record = {camera.record!r})"
                f" but {setting} is not set: the folder to record in"
            )


def recordings_of(
    server: ServerSettings,
    cameras: Iterable[CameraConfig],
    setting: str = FILE_SETTING,
) -> Recordings:
    """
    How C{cameras} record with C{server}'s folder: a relative folder is
    taken from the working directory of now, which a daemon may leave.

    @param setting: the folder's setting, as a message names it.
    @raise ConfigError: for a camera that records with no folder.
    """
    cameras = tuple(cameras)
    check_recordings(server, cameras, setting)
    root = server.recordings_dir
    return Recordings(
        None if root is None else Path(root).expanduser().absolute(),
        server.min_free_bytes,
        {camera.name: _settings(camera) for camera in cameras},
    )


def _settings(camera: CameraConfig) -> RecordingSettings:
    """
    How C{camera} records: what it sets, else the declared defaults.
    """
    record = default_of("record") if camera.record is None else camera.record
    minutes = (
        default_of("segment_minutes")
        if camera.segment_minutes is None
        else camera.segment_minutes
    )
    return RecordingSettings(
        RecordingMode(record),
        minutes * 60,
        camera.max_bytes,
        camera.max_age,
        motion_threshold=_given("motion_threshold", camera.motion_threshold),
        pre_roll=_given("pre_roll", camera.pre_roll),
        post_roll=_given("post_roll", camera.post_roll),
        motion_mask=_given("motion_mask", camera.motion_mask),
    )


def _given(name: str, value: Any) -> Any:
    """
    C{value}, setting C{name}'s as a camera gives it; its default if
    L{None}.
    """
    return default_of(name) if value is None else value
