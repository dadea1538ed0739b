"""
Running tests on Twisted's real reactor, typed.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, TypeVar, cast

import pytest_twisted  # type: ignore[import-untyped]  # it ships no type hints

_Test = TypeVar("_Test", bound=Callable[..., Coroutine[Any, Any, None]])


def reactor_test(test: _Test) -> _Test:
    """
    Run an C{async} test on the real reactor (pytest-twisted's
    C{ensureDeferred}, which returns the test itself, marked).
    """
    return cast("_Test", pytest_twisted.ensureDeferred(test))
