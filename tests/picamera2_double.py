"""
A test double of picamera2 0.3.38's documented API (the Picamera2 manual,
U{https://datasheets.raspberrypi.com/camera/picamera2-manual.pdf}) and of
libcamera's C{Transform}, for the Raspberry Pi camera hardware this machine
cannot have.

L{install} puts it in C{sys.modules} as C{picamera2},
C{picamera2.encoders}, C{picamera2.outputs} and C{libcamera}. It has the
parts of the API the C{picamera2} driver uses, with the signatures and
behaviour of picamera2 0.3.38's source: C{Picamera2(camera_num, ...)},
C{create_video_configuration(main, ..., transform, ..., controls, ...)}
(which rounds the size down to even numbers), C{configure},
C{camera_configuration}, C{start_recording(encoder, output, ..., quality)},
C{stop_recording} and C{close}; C{MJPEGEncoder}, which hands each frame to
its outputs' C{outputframe(frame, keyframe, timestamp, packet, audio)};
C{Quality}; C{Output}; and C{FileOutput}, which writes each frame of a
recording to a C{io.BufferedIOBase} in one C{write}. Instead of a sensor and
an encoder thread, frames come from L{Bench.deliver}, called from any
thread; the bench records every call the driver makes, in order.
"""

from __future__ import annotations

import enum
import io
import sys
import threading
from typing import TYPE_CHECKING, Any, ClassVar

from support import double_module

if TYPE_CHECKING:
    from collections.abc import Mapping

    import pytest


class Transform:
    """
    libcamera's C{Transform}: a rotation by a multiple of 90 degrees,
    combined with flips, held as a horizontal flip, a vertical flip and a
    transposition.
    """

    def __init__(
        self,
        rotation: int = 0,
        hflip: bool = False,
        vflip: bool = False,
        transpose: bool = False,
    ) -> None:
        # libcamera's rotations, as flips and a transposition.
        turns = {
            0: (False, False, False),
            90: (False, True, True),
            180: (True, True, False),
            270: (True, False, True),
        }
        if rotation not in turns:
            raise ValueError("Invalid rotation")
        turned_h, turned_v, turned_t = turns[rotation]
        self.hflip = turned_h != hflip
        self.vflip = turned_v != vflip
        self.transpose = turned_t != transpose


class Quality(enum.Enum):
    """
    picamera2's encoder quality levels.
    """

    VERY_LOW = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    VERY_HIGH = 4


class Output:
    """
    picamera2's base class of what encoders write to.
    """

    def __init__(self, pts: object = None) -> None:
        self.recording = False
        self.ptsoutput = pts
        self.needs_pacing = False
        self.needs_add_stream = False

    def start(self) -> None:
        """
        Start recording.
        """
        self.recording = True

    def stop(self) -> None:
        """
        Stop recording.
        """
        self.recording = False

    def outputframe(
        self,
        frame: bytes,
        keyframe: bool = True,
        timestamp: int | None = None,
        packet: object = None,
        audio: bool = False,
    ) -> None:
        """
        Take one encoded frame; the base class drops it.
        """


class FileOutput(Output):
    """
    picamera2's output to a file: each frame of a recording is written to
    it in one C{write}, starting with a key frame.
    """

    def __init__(
        self,
        file: io.BufferedIOBase | None = None,
        pts: object = None,
        split: int | None = None,
    ) -> None:
        super().__init__(pts=pts)
        self.split = split
        if file is not None and not isinstance(file, io.BufferedIOBase):
            raise RuntimeError("Must pass io.BufferedIOBase")
        self.fileoutput = file
        self.dead = False
        self._firstframe = True

    def outputframe(
        self,
        frame: bytes,
        keyframe: bool = True,
        timestamp: int | None = None,  # noqa: ARG002 - picamera2's signature; no pts file here
        packet: object = None,  # noqa: ARG002
        audio: bool = False,
    ) -> None:
        """
        Write C{frame} while recording, from the first key frame on.
        """
        if audio:
            raise RuntimeError("Fileoutput does not support audio")
        if self.fileoutput is None or not self.recording:
            return
        if self._firstframe:
            if not keyframe:
                return
            self._firstframe = False
        try:
            self.fileoutput.write(frame)
            self.fileoutput.flush()
        except (
            ConnectionResetError,
            ConnectionRefusedError,
            BrokenPipeError,
            ValueError,
        ):
            self.dead = True


class Encoder:
    """
    picamera2's base class of encoders: it starts and stops its outputs
    with itself and hands each encoded frame to all of them.
    """

    def __init__(self) -> None:
        self._output: list[Output] = []
        self._running = False
        self.width = 0
        self.height = 0
        self.format: str | None = None
        self.quality: Quality | None = None

    @property
    def running(self) -> bool:
        """
        Whether the encoder is running.
        """
        return self._running

    @property
    def output(self) -> Output | list[Output]:
        """
        The output, or the list of outputs if there are several.
        """
        return self._output[0] if len(self._output) == 1 else self._output

    @output.setter
    def output(self, value: Output | list[Output]) -> None:
        outputs = value if isinstance(value, list) else [value]
        if not all(isinstance(output, Output) for output in outputs):
            raise RuntimeError("Must pass Output")
        self._output = outputs

    def start(self, quality: Quality | None = None) -> None:
        """
        Start encoding, and start the outputs.
        """
        if self._running:
            raise RuntimeError("Encoder already running")
        self.quality = quality
        self._running = True
        for output in self._output:
            output.start()

    def stop(self) -> None:
        """
        Stop encoding, and stop the outputs.
        """
        if not self._running:
            raise RuntimeError("Encoder already stopped")
        self._running = False
        for output in self._output:
            output.stop()

    def outputframe(
        self,
        frame: bytes,
        keyframe: bool = True,
        timestamp: int | None = None,
        packet: object = None,
        audio: bool = False,
    ) -> None:
        """
        Hand an encoded frame to every output.
        """
        for output in self._output:
            output.outputframe(frame, keyframe, timestamp, packet, audio)


class MJPEGEncoder(Encoder):
    """
    picamera2's hardware MJPEG encoder, on Raspberry Pi 4 and older: every
    frame a JPEG, and a key frame.
    """

    def __init__(self, bitrate: int | None = None) -> None:
        super().__init__()
        self.bitrate = bitrate


class LibavMjpegEncoder(Encoder):
    """
    picamera2's software MJPEG encoder, which C{picamera2.encoders} names
    C{MJPEGEncoder} on a Raspberry Pi 5 (it has no hardware one).
    """

    def __init__(
        self,
        bitrate: int | None = None,
        repeat: bool = True,
        iperiod: int = 30,
        framerate: float = 30,
        qp: int | None = None,
    ) -> None:
        super().__init__()
        self.bitrate = bitrate
        self.repeat = repeat
        self.iperiod = iperiod
        self.framerate = framerate
        self.qp = qp


class Bench:
    """
    The pretend hardware: how many cameras there are, how they fail, the
    frames they make, and the record of calls the driver makes.

    @ivar calls: each call, in order, as a tuple of its name and arguments.
    @ivar cameras: how many cameras are attached.
    @ivar open_error: raised by C{Picamera2()} instead of opening.
    @ivar configure_error: raised by C{configure()}.
    @ivar stop_error: raised by C{stop_recording()}, after it has stopped.
    @ivar frames_at_start: delivered as soon as the camera starts, before
        C{start_recording} returns, as an encoder thread may.
    @ivar camera: the newest camera opened.
    @ivar started: set whenever a camera starts.
    """

    def __init__(self) -> None:
        self.calls: list[tuple[object, ...]] = []
        self.cameras = 1
        self.open_error: Exception | None = None
        self.configure_error: Exception | None = None
        self.stop_error: Exception | None = None
        self.frames_at_start: list[bytes] = []
        self.camera: Picamera2 | None = None
        self.started = threading.Event()
        self._lock = threading.Lock()
        self._frames = 0

    def deliver(self, frame: bytes) -> bool:
        """
        Make the running encoder output C{frame}, as its thread does for
        each frame the camera captures.

        @return: whether an encoder was running to output it.
        """
        encoder = self.camera.encoder if self.camera is not None else None
        if encoder is None or not encoder.running:
            return False
        with self._lock:
            # picamera2 counts timestamps in microseconds from the run's
            # first frame.
            timestamp = self._frames * 33333
            self._frames += 1
        encoder.outputframe(frame, True, timestamp)
        return True


class Picamera2:
    """
    picamera2's C{Picamera2}, on a L{Bench}.
    """

    bench: ClassVar[Bench]

    def __init__(
        self,
        camera_num: int = 0,
        verbose_console: int | None = None,
        tuning: object = None,
        allocator: object = None,
    ) -> None:
        bench = self.bench
        bench.calls.append(
            (
                "Picamera2",
                {
                    "camera_num": camera_num,
                    "verbose_console": verbose_console,
                    "tuning": tuning,
                    "allocator": allocator,
                },
            )
        )
        if bench.open_error is not None:
            raise bench.open_error
        if camera_num >= bench.cameras:
            raise RuntimeError(
                f"No camera number {camera_num} found - use "
                '"rpicam-hello --list-cameras" to check connected cameras'
            )
        self.camera_config: dict[str, Any] = {}
        self.is_open = True
        self.started = False
        self.encoder: Encoder | None = None
        bench.camera = self

    def create_video_configuration(  # noqa: PLR0917 - picamera2's signature
        self,
        main: Mapping[str, Any] | None = None,
        lores: Mapping[str, Any] | None = None,
        raw: Mapping[str, Any] | None = None,
        transform: Transform | None = None,
        colour_space: object = None,
        buffer_count: int = 6,
        controls: Mapping[str, Any] | None = None,
        display: str | None = "main",
        encode: str | None = "main",
        queue: bool = True,
        sensor: Mapping[str, Any] | None = None,
        use_case: str = "video",
    ) -> dict[str, Any]:
        """
        A video configuration: the main stream's size, rounded down to even
        numbers, in C{XBGR8888}, and the given controls after the default
        ones.
        """
        self.bench.calls.append(
            (
                "create_video_configuration",
                {
                    "main": main,
                    "lores": lores,
                    "raw": raw,
                    "transform": transform,
                    "colour_space": colour_space,
                    "buffer_count": buffer_count,
                    "controls": controls,
                    "display": display,
                    "encode": encode,
                    "queue": queue,
                    "sensor": sensor,
                    "use_case": use_case,
                },
            )
        )
        stream: dict[str, Any] = {
            "format": "XBGR8888",
            "size": (1280, 720),
            "preserve_ar": True,
        }
        stream.update(main or {})
        width, height = stream["size"]
        stream["size"] = (width - width % 2, height - height % 2)
        return {
            "use_case": use_case,
            "transform": transform or Transform(),
            "colour_space": colour_space,
            "buffer_count": buffer_count,
            "queue": queue,
            "main": stream,
            "lores": lores,
            "raw": raw,
            "controls": {
                "NoiseReductionMode": "Fast",
                "FrameDurationLimits": (33333, 33333),
                **(controls or {}),
            },
            "sensor": sensor,
            "display": display,
            "encode": encode,
        }

    def configure(self, camera_config: dict[str, Any] | None = None) -> None:
        """
        Configure the camera.
        """
        self.bench.calls.append(("configure", camera_config))
        if self.bench.configure_error is not None:
            raise self.bench.configure_error
        self.camera_config = dict(camera_config or self.create_video_configuration())

    def camera_configuration(self) -> dict[str, Any]:
        """
        The configuration the camera has.
        """
        return self.camera_config

    def start_recording(  # noqa: PLR0917 - picamera2's signature
        self,
        encoder: Encoder,
        output: Output,
        pts: object = None,
        config: dict[str, Any] | None = None,
        quality: Quality | None = None,
        name: str | None = None,
    ) -> None:
        """
        Start C{encoder} writing to C{output}, then start the camera.
        """
        self.bench.calls.append(
            (
                "start_recording",
                {
                    "encoder": encoder,
                    "output": output,
                    "pts": pts,
                    "config": config,
                    "quality": quality,
                    "name": name,
                },
            )
        )
        if config is not None:
            self.configure(config)
        if not self.camera_config:
            # picamera2 would configure the camera for video itself; this
            # double makes no configurations of its own.
            raise RuntimeError("Camera has not been configured")
        encoder.output = output
        encoder.width, encoder.height = self.camera_config["main"]["size"]
        encoder.format = self.camera_config["main"]["format"]
        encoder.start(quality=quality)
        self.encoder = encoder
        self.started = True
        self.bench.started.set()
        for frame in self.bench.frames_at_start:
            self.bench.deliver(frame)

    def stop_recording(self) -> None:
        """
        Stop the camera, then the encoder (which stops its outputs).
        """
        self.bench.calls.append(("stop_recording",))
        self.started = False
        if self.encoder is not None:
            self.encoder.stop()
            self.encoder = None
        if self.bench.stop_error is not None:
            raise self.bench.stop_error

    def close(self) -> None:
        """
        Stop the camera if it runs, and release it.
        """
        self.bench.calls.append(("close",))
        self.started = False
        self.is_open = False


def install(monkeypatch: pytest.MonkeyPatch) -> Bench:
    """
    Make this double the C{picamera2} package (with its C{encoders} and
    C{outputs} modules) and the C{libcamera} module for the rest of the
    test.

    @return: the bench its cameras use.
    """
    bench = Bench()
    monkeypatch.setattr(Picamera2, "bench", bench, raising=False)
    encoders = double_module(
        "picamera2.encoders",
        None,
        Encoder=Encoder,
        LibavMjpegEncoder=LibavMjpegEncoder,
        MJPEGEncoder=MJPEGEncoder,
        Quality=Quality,
    )
    outputs = double_module(
        "picamera2.outputs", None, Output=Output, FileOutput=FileOutput
    )
    modules = {
        "picamera2": double_module(
            "picamera2",
            __doc__,
            Picamera2=Picamera2,
            encoders=encoders,
            outputs=outputs,
        ),
        "picamera2.encoders": encoders,
        "picamera2.outputs": outputs,
        "libcamera": double_module("libcamera", None, Transform=Transform),
    }
    for name, module in modules.items():
        monkeypatch.setitem(sys.modules, name, module)
    return bench
