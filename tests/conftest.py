"""
Fixtures shared by the tests.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import pytest
import pytest_twisted  # type: ignore[import-untyped]  # it ships no type hints
from browsing import (
    CHROMIUM,
    FLAKY_DRIVER,
    eight_cameras_config,
    serving,
    wall_config,
    wall_files,
)
from recorded import Served, Watching
from support import LogRecorder
from twisted.internet.defer import Deferred
from twisted.logger import globalLogPublisher

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from browsing import Browse, Server


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    """
    A server of the recordings in C{tmp_path}, without logins (a module
    whose tests want another server defines its own C{served}).
    """
    server = Served.start(tmp_path)
    yield server
    pytest_twisted.blockon(Deferred.fromCoroutine(server.close()))


@pytest.fixture
def watching(served: Served) -> Iterator[list[Watching]]:
    """
    The clients a test watches with, closed after it.
    """
    clients: list[Watching] = []
    yield clients
    for client in clients:
        client.close()


@pytest.fixture
def log() -> Iterator[LogRecorder]:
    """
    Every event of the global log during the test, and during the teardown
    of every fixture that depends on this one (pytest tears those down
    first).
    """
    recorder = LogRecorder()
    globalLogPublisher.addObserver(recorder)
    yield recorder
    globalLogPublisher.removeObserver(recorder)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browse]:
    """
    One headless Chromium for every browser test, driven by Playwright's
    synchronous API in a thread of its own (the tests' reactor runs in
    theirs): a function runs with the browser there and returns what it
    returns.
    """
    from playwright.sync_api import sync_playwright  # noqa: PLC0415 - in its thread

    executor = ThreadPoolExecutor(max_workers=1)
    state: dict[str, Any] = {}

    def launch() -> None:
        state["playwright"] = sync_playwright().start()
        state["browser"] = state["playwright"].chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
        )

    executor.submit(launch).result(timeout=60)

    def use(work: Any) -> Any:
        return executor.submit(work, state["browser"]).result(timeout=180)

    yield use

    def close() -> None:
        state["browser"].close()
        state["playwright"].stop()

    executor.submit(close).result(timeout=60)
    executor.shutdown()


@pytest.fixture(scope="session")
def eight_cameras(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """
    A camserve of eight cameras, the last of which (C{flaky}) fails while a
    file named C{broken} is in the server's folder and stalls while one
    named C{frozen} is; for every test that wants them.
    """
    folder = tmp_path_factory.mktemp("eight")
    with serving(
        folder, eight_cameras_config(), {"camera_flaky.py": FLAKY_DRIVER}
    ) as server:
        yield server


@pytest.fixture(scope="session")
def wall(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """
    A camserve of five cameras of three shapes (L{browsing.WALL}) with
    logins (L{browsing.USERS}): alice is an admin, bob and carol see some
    cameras; for every test that wants them.
    """
    with serving(
        tmp_path_factory.mktemp("wall"), wall_config(), wall_files()
    ) as server:
        yield server
