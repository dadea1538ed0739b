"""
camserve as people run it: C{twistd -ny camserve.tac}, C{twistd camserve}
and C{python -m camserve}, each a real subprocess serving a real port, and
their failures, each of which must end the program with one readable line.

Every wait is bounded and every process is stopped (killed if need be)
before its test ends.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import cv2
import numpy as np
import pytest
from support import free_port, read_head, read_parts, send_get

from camserve.testing import make_jpeg

if TYPE_CHECKING:
    from collections.abc import Iterator

    from camserve.testing import Part

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
TWISTD = str(BIN / "twistd")
PYTHON = sys.executable
TWISTD_CAMSERVE = (TWISTD, "--pidfile=", "-n", "camserve")
"""C{twistd -n camserve}, writing no pid file."""

STARTUP_TIMEOUT = 30.0
"""Seconds a server may take to start listening (it imports OpenCV)."""
TIMEOUT = 10.0
"""Seconds any other single wait may take."""

SERVER_OPTIONS = ["--fps", "10", "--width", "160", "--height", "120"]


def environment(**settings: str) -> dict[str, str]:
    """
    The environment for a camserve process: this one's, without camserve
    settings, plus C{settings}.

    The repository goes on C{PYTHONPATH} because in an editable install
    twistd finds the camserve plugin (C{twisted/plugins/camserve_plugin.py})
    only when the repository is on C{sys.path}; from any other working
    directory C{twistd camserve} would be an unknown command.
    """
    env = {
        name: value
        for name, value in os.environ.items()
        if name != "CAMERA" and not name.startswith("CAMSERVE_")
    }
    paths = [str(REPO), *filter(None, [env.get("PYTHONPATH")])]
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(settings)
    return env


def endpoint(port: int) -> str:
    """
    The Twisted endpoint description of C{port} on 127.0.0.1.
    """
    return f"tcp:{port}:interface=127.0.0.1"


@contextmanager
def running(
    args: list[str], *, cwd: Path, port: int, log: Path, env: dict[str, str]
) -> Iterator[subprocess.Popen[bytes]]:
    """
    Run C{args} until the block ends, once it listens on C{port}; its output
    goes to C{log}. On leaving, the process is sent SIGTERM, then killed if
    it has not exited within the time limit.
    """
    with log.open("wb") as output:
        process = subprocess.Popen(
            args, cwd=cwd, env=env, stdout=output, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            if process.poll() is not None:
                raise AssertionError(
                    f"exited with {process.returncode} before listening:\n"
                    + log.read_text(errors="replace")
                )
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise AssertionError(
                        "not listening in time:\n" + log.read_text(errors="replace")
                    ) from None
                time.sleep(0.1)
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            process.wait(TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(TIMEOUT)


def stop(process: subprocess.Popen[bytes], log: Path) -> str:
    """
    Stop a server with SIGTERM, as a service manager would, and return its
    whole output once it has exited.
    """
    process.send_signal(signal.SIGTERM)
    process.wait(TIMEOUT)
    return log.read_text(errors="replace")


def read_stream(port: int, path: str = "/video_feed", count: int = 3) -> list[Part]:
    """
    GET a stream on a raw socket and parse its first C{count} parts.
    """
    deadline = time.monotonic() + TIMEOUT
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
        send_get(sock, path)
        head = read_head(sock, deadline)
        assert head.status == b"HTTP/1.1 200 OK", head
        assert head.headers[b"content-type"][-1] == (
            b"multipart/x-mixed-replace; boundary=frame"
        )
        assert b"transfer-encoding" not in head.headers
        parts = read_parts(sock, count, deadline, head.body)
    for part in parts:
        assert part.headers["content-type"] == "image/jpeg"
        assert int(part.headers["content-length"]) == len(part.body)
        image = cv2.imdecode(np.frombuffer(part.body, dtype=np.uint8), cv2.IMREAD_COLOR)
        assert image is not None, "a part is not a JPEG OpenCV can decode"
    return parts


def get(port: int, path: str) -> tuple[int, bytes]:
    """
    GET C{path}: the status and the body.
    """
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def camera_health(port: int) -> tuple[int, dict[str, Any]]:
    """
    The server's C{/healthz}: its status, and the health of its one camera.
    """
    status, body = get(port, "/healthz")
    health = json.loads(body)
    (camera,) = health["cameras"]
    assert health["status"] == ("failed" if camera["state"] == "failed" else "ok")
    return status, camera


def assert_served(port: int, size: tuple[int, int] | None = (160, 120)) -> None:
    """
    The server on C{port} streams frames (of C{size}) and answers /healthz
    with a running camera.
    """
    parts = read_stream(port)
    if size is not None:
        image = cv2.imdecode(
            np.frombuffer(parts[0].body, dtype=np.uint8), cv2.IMREAD_COLOR
        )
        assert image is not None
        assert (image.shape[1], image.shape[0]) == size
    status, health = camera_health(port)
    assert status == 200
    assert health["state"] == "running"
    assert health["frames_captured"] >= 3


def assert_clean_exit(output: str, returncode: int, *, twistd: bool) -> None:
    """
    A server stopped by SIGTERM shuts down without a traceback. twistd then
    ends itself with the same signal, by design (C{twistd.runApp} calls
    C{app._exitWithSignal}), so its status is -SIGTERM after "Server Shut
    Down."; C{python -m camserve} exits 0.
    """
    assert "Traceback" not in output, output
    if twistd:
        assert "Server Shut Down." in output, output
        assert returncode == -signal.SIGTERM, output
    else:
        assert returncode == 0, output


def run_to_end(
    args: list[str], *, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """
    Run C{args} to the end (a minute at most), capturing its output as text.
    """
    return subprocess.run(
        args,
        cwd=cwd,
        env=environment() if env is None else env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    """
    The one line that a process which exited non-zero wrote, with no
    traceback.
    """
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "Traceback" not in output, output
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line, got {len(lines)}:\n{output}"
    return lines[0]


def fail_with_one_line(args: list[str], *, cwd: Path, env: dict[str, str]) -> str:
    """
    Run C{args}, which must exit non-zero having written exactly one line
    and no traceback; return that line.
    """
    return one_line(run_to_end(args, cwd=cwd, env=env))


def twistd_camserve_fails(cwd: Path, *options: str) -> str:
    """
    Run C{twistd -n camserve} with C{options} in C{cwd}: it must fail as
    L{fail_with_one_line} requires; return its one line.
    """
    return fail_with_one_line([*TWISTD_CAMSERVE, *options], cwd=cwd, env=environment())


class Daemonized(NamedTuple):
    """
    A C{twistd} run as a daemon: what the process started from the terminal
    did, and where the daemon's pid file and log file are.
    """

    result: subprocess.CompletedProcess[str]
    pidfile: Path
    logfile: Path


@contextmanager
def daemonized(
    tmp_path: Path, args: list[str], *, cwd: Path, env: dict[str, str]
) -> Iterator[Daemonized]:
    """
    Run C{twistd} as a daemon (no C{-n}) with C{args}, its pid file and log
    file in C{tmp_path}: the block runs once the process started from the
    terminal has returned, which it must do within the start-up time limit
    (for a daemon that starts, as for one that cannot). On leaving, a daemon
    still running is stopped as L{stop_daemon} does.
    """
    pidfile, logfile = tmp_path / "twistd.pid", tmp_path / "twistd.log"
    command = [TWISTD, "--pidfile", str(pidfile), "--logfile", str(logfile), *args]
    try:
        try:
            result = subprocess.run(
                command,
                cwd=cwd,
                env=env,
                capture_output=True,
                text=True,
                timeout=STARTUP_TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired:
            log = logfile.read_text(errors="replace") if logfile.exists() else ""
            raise AssertionError(
                f"twistd did not return within {STARTUP_TIMEOUT} s; its log:\n{log}"
            ) from None
        yield Daemonized(result, pidfile, logfile)
    finally:
        stop_daemon(pidfile)


def daemons(pidfile: Path) -> list[int]:
    """
    The process ids of the twistd processes run with C{pidfile} that are
    still running (neither gone nor zombies): the daemon, whether or not its
    pid file is there yet or still. Each test's C{pidfile} is a path of its
    own, so no other program's process is ever taken for one of these.
    """
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            arguments = (proc / "cmdline").read_bytes().split(b"\0")
            # The state follows the command name, which may hold ")".
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state != "Z" and os.fsencode(pidfile) in arguments:
            found.append(int(proc.name))
    return found


def wait_for_exit(pidfile: Path, timeout: float = TIMEOUT) -> bool:
    """
    Wait up to C{timeout} seconds for every process of L{daemons} to exit;
    whether they did.
    """
    deadline = time.monotonic() + timeout
    while daemons(pidfile):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def stop_daemon(pidfile: Path) -> None:
    """
    Stop the processes of L{daemons}, if any: SIGTERM, then SIGKILL for
    those that have not exited within the time limit.
    """
    for signal_number in (signal.SIGTERM, signal.SIGKILL):
        for pid in daemons(pidfile):
            with suppress(ProcessLookupError):
                os.kill(pid, signal_number)
        if wait_for_exit(pidfile):
            return


def assert_daemon_ended(pidfile: Path) -> None:
    """
    The daemon of C{pidfile}, which could not start, exits within the time
    limit (it may still be on its way out when the process started from
    the terminal returns), and removes its pid file if it wrote one.
    """
    assert wait_for_exit(pidfile), "the daemon still runs"
    assert not pidfile.exists(), pidfile.read_text()


# Serving.


def test_tac_file_serves(tmp_path: Path) -> None:
    """
    C{twistd -ny camserve.tac}, run from the repository with its settings in
    the environment, streams frames on /video_feed and reports a running
    camera on /healthz; SIGTERM stops it cleanly. It writes no pid file
    into the repository (C{--pidfile=}).
    """
    port = free_port()
    env = environment(
        CAMSERVE_ENDPOINT=endpoint(port),
        CAMSERVE_FPS="10",
        CAMSERVE_WIDTH="160",
        CAMSERVE_HEIGHT="120",
    )
    log = tmp_path / "out.log"
    args = [TWISTD, "--pidfile=", "-ny", "camserve.tac"]
    with running(args, cwd=REPO, port=port, log=log, env=env) as process:
        assert_served(port)
        output = stop(process, log)
    assert_clean_exit(output, process.returncode, twistd=True)


def test_twistd_plugin_serves(tmp_path: Path) -> None:
    """
    C{twistd -n camserve --endpoint ... --fps 10} streams frames and reports
    a running camera; SIGTERM stops it cleanly.
    """
    port = free_port()
    log = tmp_path / "out.log"
    args = [*TWISTD_CAMSERVE, "--endpoint", endpoint(port), *SERVER_OPTIONS]
    with running(args, cwd=tmp_path, port=port, log=log, env=environment()) as process:
        assert_served(port)
        output = stop(process, log)
    assert_clean_exit(output, process.returncode, twistd=True)
    assert not (tmp_path / "twistd.pid").exists()


def test_python_m_camserve_serves(tmp_path: Path) -> None:
    """
    C{python -m camserve --endpoint ...} streams frames and reports a
    running camera; SIGTERM stops it cleanly.
    """
    port = free_port()
    log = tmp_path / "out.log"
    args = [PYTHON, "-m", "camserve", "--endpoint", endpoint(port), *SERVER_OPTIONS]
    with running(args, cwd=tmp_path, port=port, log=log, env=environment()) as process:
        assert_served(port)
        output = stop(process, log)
    assert_clean_exit(output, process.returncode, twistd=False)


def test_relay_of_a_camserve(tmp_path: Path) -> None:
    """
    A C{twistd camserve --camera mjpeg} relay serves an origin camserve's
    JPEGs byte for byte, its options given with C{--option}, through one
    upstream connection.
    """
    frames = tmp_path / "frames"
    frames.mkdir()
    jpegs = [make_jpeg(number) for number in range(1, 4)]
    for number, jpeg in enumerate(jpegs):
        (frames / f"{number}.jpg").write_bytes(jpeg)
    origin, relay = free_port(), free_port()
    origin_args = [
        *(PYTHON, "-m", "camserve", "--endpoint", endpoint(origin)),
        *("--source", str(frames), "--fps", "10"),
    ]
    relay_args = [
        *(TWISTD, "--pidfile=", "-n", "camserve", "--endpoint", endpoint(relay)),
        *("--camera", "mjpeg", "--source", f"http://127.0.0.1:{origin}/video_feed"),
        *("--option", "timeout=5,tls_verify=yes"),
    ]
    env = environment()
    with (
        running(origin_args, cwd=tmp_path, port=origin, log=tmp_path / "o", env=env),
        running(relay_args, cwd=tmp_path, port=relay, log=tmp_path / "r", env=env),
    ):
        for _ in range(2):
            parts = read_stream(relay, count=4)
            assert all(part.body in jpegs for part in parts)
            assert len({part.body for part in parts}) >= 2
        status, health = camera_health(relay)
        assert status == 200
        assert (health["driver"], health["state"]) == ("mjpeg", "running")
        assert health["details"]["connected"] is True
        assert camera_health(origin)[1]["viewers"] == 1


def test_seed_camera_module_in_working_directory(tmp_path: Path) -> None:
    """
    The seed's convention: C{--camera foo} serves the C{Camera} class of a
    C{camera_foo.py} in the working directory, whose C{frames()} yields
    JPEGs.
    """
    (tmp_path / "camera_foo.py").write_text(
        textwrap.dedent(
            """
            import time

            from camserve.testing import make_jpeg


            class Camera:
                def frames(self):
                    number = 0
                    while True:
                        number += 1
                        yield make_jpeg(number, 40, 30)
                        time.sleep(0.05)
            """
        )
    )
    port = free_port()
    log = tmp_path / "out.log"
    args = [*TWISTD_CAMSERVE, "--camera", "foo", "--endpoint", endpoint(port)]
    with running(args, cwd=tmp_path, port=port, log=log, env=environment()):
        assert_served(port, size=(40, 30))
        status, health = camera_health(port)
        assert status == 200
        assert health["driver"] == "foo"


def test_twistd_help_lists_options(tmp_path: Path) -> None:
    """
    C{twistd camserve --help} exits 0 and lists camserve's options.
    """
    result = run_to_end([TWISTD, "--pidfile=", "camserve", "--help"], cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    listed = {
        line.split("=")[0].strip()
        for line in result.stdout.splitlines()
        if line.strip().startswith("--")
    }
    for option in (
        "--camera",
        "--source",
        "--fps",
        "--width",
        "--height",
        "--quality",
        "--idle-timeout",
        "--endpoint",
    ):
        assert option in listed, result.stdout


@pytest.mark.parametrize("runner", ["twistd", "python -m"])
def test_list_cameras(tmp_path: Path, runner: str) -> None:
    """
    C{--list-cameras} prints each driver, whether it is usable here and
    what it is, including a C{camera_<name>.py} module in the working
    directory and one that cannot load, then exits 0.
    """
    (tmp_path / "camera_porch.py").write_text(
        'class Camera:\n    """The porch camera."""\n    def frames(self):\n'
        "        yield b''\n"
    )
    (tmp_path / "camera_broken.py").write_text("import no_such_library\n")
    command = (
        [TWISTD, "--pidfile=", "camserve"]
        if runner == "twistd"
        else [PYTHON, "-m", "camserve"]
    )
    result = run_to_end([*command, "--list-cameras"], cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = {
        line.split()[0]: line.split(None, 1)[1] for line in result.stdout.splitlines()
    }
    assert lines["emulated"].startswith("usable")
    assert "test pattern" in lines["emulated"]
    for usable in ("mjpeg", "opencv", "v4l2"):
        assert lines[usable].startswith("usable"), lines[usable]
    # The Raspberry Pi libraries cannot be installed here.
    assert lines["pi"].startswith("not usable  needs picamera, which is not installed")
    assert lines["picamera2"].startswith(
        "not usable  needs picamera2, which is not installed"
    )
    assert lines["porch"].split() == ["usable", "The", "porch", "camera."]
    assert lines["broken"].startswith("not usable")
    assert "no_such_library" in lines["broken"]
    assert "Traceback" not in result.stderr


# Failing, with one line.


def test_twistd_unknown_camera(tmp_path: Path) -> None:
    """
    C{twistd -n camserve --camera nosuch} exits non-zero with one line
    naming the camera and listing the drivers there are.
    """
    line = twistd_camserve_fails(tmp_path, "--camera", "nosuch")
    assert "unknown camera 'nosuch'" in line
    assert "available: emulated" in line


def test_twistd_fps_not_a_number(tmp_path: Path) -> None:
    """
    C{twistd -n camserve --fps abc} exits non-zero with one line naming the
    option, the value and what is allowed (a number greater than 0), not
    twistd's whole usage text.
    """
    line = twistd_camserve_fails(tmp_path, "--fps", "abc")
    assert "--fps" in line
    assert "'abc'" in line
    assert "greater than 0" in line


def test_twistd_quality_out_of_range(tmp_path: Path) -> None:
    """
    C{twistd -n camserve --quality 500} exits non-zero with one line naming
    the option, the value and the range allowed, not twistd's whole usage
    text.
    """
    line = twistd_camserve_fails(tmp_path, "--quality", "500")
    assert "--quality" in line
    assert "'500'" in line
    assert "from 1 to 100" in line


def test_twistd_endpoint_in_use(tmp_path: Path) -> None:
    """
    C{twistd -n camserve} on a port another socket listens on exits
    non-zero with one line naming the endpoint and the reason: camserve
    listens before twistd's start-up lines, as it does to say so on the
    terminal as a daemon (see L{test_twistd_daemon_endpoint_in_use}).
    """
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        line = twistd_camserve_fails(tmp_path, "--endpoint", endpoint(port))
    assert line == (
        f"camserve: cannot listen on {endpoint(port)}: [Errno 98] Address already"
        " in use"
    )


def test_tac_file_unknown_camera(tmp_path: Path) -> None:
    """
    C{CAMERA=nosuch twistd -ny camserve.tac} exits non-zero with one line
    naming the camera and listing the drivers there are.
    """
    line = fail_with_one_line(
        [TWISTD, "--pidfile=", "-ny", "camserve.tac"],
        cwd=REPO,
        env=environment(CAMERA="nosuch"),
    )
    assert "unknown camera 'nosuch'" in line
    assert "available: emulated" in line


def test_python_m_camserve_fps_not_a_number(tmp_path: Path) -> None:
    """
    C{python -m camserve --fps abc} exits non-zero with one line naming the
    option, the value and what is allowed (a number greater than 0).
    """
    line = fail_with_one_line(
        [PYTHON, "-m", "camserve", "--fps", "abc"], cwd=tmp_path, env=environment()
    )
    assert line.startswith("camserve: --fps ")
    assert "'abc'" in line
    assert "greater than 0" in line


# As a daemon (twistd without -n), where a failure must still reach the
# terminal: the process started there waits for the daemon to say it started.


def test_twistd_daemon_serves(tmp_path: Path) -> None:
    """
    C{twistd camserve} without C{-n} returns 0 at once, writing nothing,
    and leaves a daemon that serves, is named by its pid file, logs where it
    is to its log file, and stops cleanly on SIGTERM, removing its pid file.
    """
    port = free_port()
    args = ["camserve", "--endpoint", endpoint(port), *SERVER_OPTIONS]
    with daemonized(tmp_path, args, cwd=tmp_path, env=environment()) as daemon:
        result = daemon.result
        assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
        pid = int(daemon.pidfile.read_text())
        assert pid in daemons(daemon.pidfile)
        assert_served(port)
        os.kill(pid, signal.SIGTERM)
        assert wait_for_exit(daemon.pidfile)
    assert not daemon.pidfile.exists()
    log = daemon.logfile.read_text(errors="replace")
    assert f"camserve is at http://127.0.0.1:{port}/ " in log
    assert "Server Shut Down." in log
    assert "Traceback" not in log


def test_twistd_daemon_endpoint_in_use(tmp_path: Path) -> None:
    """
    C{twistd camserve} without C{-n}, on a port another socket listens on,
    exits non-zero at once with one line on the terminal naming the
    endpoint and the reason, and leaves neither a daemon nor a pid file.
    """
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        args = ["camserve", "--endpoint", endpoint(port)]
        with daemonized(tmp_path, args, cwd=tmp_path, env=environment()) as daemon:
            assert one_line(daemon.result) == (
                f"camserve: cannot listen on {endpoint(port)}: [Errno 98] Address"
                " already in use"
            )
            assert_daemon_ended(daemon.pidfile)


def test_twistd_daemon_config_mistake(tmp_path: Path) -> None:
    """
    C{twistd camserve --config FILE} without C{-n}, for a file with a
    mistake, exits non-zero at once with the mistake's one line, and leaves
    neither a daemon nor a pid file.
    """
    path = tmp_path / "cameras.toml"
    path.write_text('[[cameras]]\nname = "a"\ndriver = "nosuch"\n')
    args = ["camserve", "--config", str(path)]
    with daemonized(tmp_path, args, cwd=tmp_path, env=environment()) as daemon:
        assert one_line(daemon.result).startswith(
            f"camserve: {path}: camera 'a': unknown driver 'nosuch'; available:"
        )
        assert_daemon_ended(daemon.pidfile)


def test_tac_file_daemon_endpoint_in_use(tmp_path: Path) -> None:
    """
    C{twistd -y camserve.tac} without C{-n}, on a port another socket
    listens on, exits non-zero at once: its daemon, which tries to listen
    only once it is one, tells the terminal why in twistd's words (which
    cut it short) and the log in full, and leaves no pid file.
    """
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        line = (
            f"camserve: cannot listen on {endpoint(port)}: [Errno 98] Address"
            " already in use"
        )
        env = environment(CAMSERVE_ENDPOINT=endpoint(port))
        args = ["-y", str(REPO / "camserve.tac")]
        with daemonized(tmp_path, args, cwd=tmp_path, env=env) as daemon:
            result = daemon.result
            assert result.returncode == 1, result
            assert "Traceback" not in result.stdout + result.stderr
            assert f"camserve: cannot listen on {endpoint(port)}" in result.stderr
            assert_daemon_ended(daemon.pidfile)
    assert line in daemon.logfile.read_text(errors="replace")


def test_twistd_rundir_holds_a_unix_socket(tmp_path: Path) -> None:
    """
    With C{--rundir}, a Unix socket's relative path is in that directory,
    as twistd's option promises: camserve listens once twistd is there,
    as a daemon too.
    """
    rundir = tmp_path / "run"
    rundir.mkdir()
    args = ["--rundir", str(rundir), "camserve", "--endpoint", "unix:camserve.sock"]
    with daemonized(tmp_path, args, cwd=tmp_path, env=environment()) as daemon:
        result = daemon.result
        assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
        assert not (tmp_path / "camserve.sock").exists()
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(TIMEOUT)
            sock.connect(str(rundir / "camserve.sock"))
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
            head = read_head(sock, time.monotonic() + TIMEOUT)
        assert head.status == b"HTTP/1.1 200 OK", head
