# -*- test-case-name: tests.test_settings,tests.test_config,tests.test_config_file -*-
"""
The kinds of value a setting takes, each read from text (an option or an
environment variable) and from a TOML value, refused in one line that names
the setting and says what it takes.
"""

from __future__ import annotations

import math
import re
from typing import Any, Protocol, TypeGuard, runtime_checkable

from attrs import frozen

from camserve._errors import ConfigError
from camserve.access._proxies import parse_networks
from camserve.config._toml_values import NumberText, shown

_HOST = re.compile(r"(?=.{1,253}\Z)[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?")


@runtime_checkable
class TextValue(Protocol):
    """
    A kind of value given as text, by an option or an environment variable.
    """

    def from_text(self, name: str, raw: str) -> Any:
        """
        The value of setting C{name} given as the text C{raw}.

        @raise ConfigError: naming C{name}, for text it does not take.
        """


@runtime_checkable
class TomlValue(Protocol):
    """
    A kind of value given in a config file.
    """

    def from_toml(self, name: str, value: object) -> Any:
        """
        The value of setting C{name} given as a TOML C{value}.

        @raise ConfigError: naming C{name}, for a value it does not take.
        """


@frozen
class Number:
    """
    A whole number (C{kind} L{int}) or any number, from C{low} to C{high};
    or, with C{above}, greater than C{low}.
    """

    kind: type[float | int]
    low: float
    high: float = math.inf
    above: bool = False

    def from_text(self, name: str, raw: str) -> float | int:
        try:
            value = self.kind(raw)
        except ValueError:
            value = math.nan
        if math.isfinite(value) and (
            (value > self.low if self.above else value >= self.low)
            and value <= self.high
        ):
            return value
        raise ConfigError(f"{name} must be {self.described}, not {raw!r}")

    def from_toml(self, name: str, value: object) -> float | int:
        # As text its parser takes only for a number, so that "15" or true
        # is refused in the words of a number out of range.
        return self.from_text(name, NumberText(value))

    @property
    def described(self) -> str:
        """
        What the number may be, as a message says it.
        """
        what = "a whole number" if self.kind is int else "a number"
        if self.above:
            return f"{what} greater than {self.low:g}"
        if math.isfinite(self.high):
            return f"{what} from {self.low:g} to {self.high:g}"
        return f"{what} at least {self.low:g}"


@frozen
class Text:
    """
    Any text but the empty.
    """

    def from_text(self, name: str, raw: str) -> str:
        if not raw.strip():
            raise ConfigError(f"{name} must not be empty")
        return raw

    def from_toml(self, name: str, value: object) -> str:
        if not isinstance(value, str):
            raise ConfigError(f"{name} must be a string, not {shown(value)}")
        return self.from_text(name, value)


@frozen
class Choice:
    """
    One of a few words.
    """

    words: tuple[str, ...]

    def from_text(self, name: str, raw: str) -> str:
        if raw not in self.words:
            allowed = ", ".join(repr(word) for word in self.words)
            raise ConfigError(f"{name} must be one of {allowed}, not {raw!r}")
        return raw

    def from_toml(self, name: str, value: object) -> str:
        if not isinstance(value, str):
            return self.from_text(name, NumberText(value))
        return self.from_text(name, value)


@frozen
class Networks:
    """
    IP addresses and networks, as networks (C{127.0.0.1/32}): text
    separated by commas, or a TOML list of strings.
    """

    def from_text(self, name: str, raw: str) -> tuple[str, ...]:
        return self._networks(name, [each for each in raw.split(",") if each.strip()])

    def from_toml(self, name: str, value: object) -> tuple[str, ...]:
        if not _strings(value):
            raise ConfigError(
                f"{name} must be a list of IP addresses or networks, "
                f'e.g. ["127.0.0.1", "10.0.0.0/8"], not {shown(value)}'
            )
        return self._networks(name, value)

    def _networks(self, name: str, entries: list[str]) -> tuple[str, ...]:
        try:
            return tuple(str(network) for network in parse_networks(entries))
        except ValueError as error:
            raise ConfigError(f"{name}: {error}") from None


@frozen
class HostNames:
    """
    Host names without ports, lower-cased: text separated by commas, or a
    TOML list of strings.
    """

    def from_text(self, name: str, raw: str) -> tuple[str, ...]:
        return self._hosts(name, [each.strip() for each in raw.split(",")])

    def from_toml(self, name: str, value: object) -> tuple[str, ...]:
        if not _strings(value):
            raise ConfigError(
                f'{name} must be a list of host names, e.g. ["camera.example"], '
                f"not {shown(value)}"
            )
        return self._hosts(name, value)

    def _hosts(self, name: str, hosts: list[str]) -> tuple[str, ...]:
        for each in hosts:
            if not _HOST.fullmatch(each):
                raise ConfigError(
                    f"{name}: {each!r} is not a host name "
                    "(letters, digits, '-' and '.', without a port)"
                )
        return tuple(each.lower() for each in hosts)


@frozen
class Endpoints:
    """
    One or more Twisted endpoint descriptions, each once, as a TOML list of
    strings. (The command line's C{--endpoint} is one, as L{Text}.)
    """

    def from_toml(self, name: str, value: object) -> tuple[str, ...]:
        if not (_strings(value) and value and all(each.strip() for each in value)):
            raise ConfigError(
                f"{name} must be a list of one or more Twisted endpoint "
                f'descriptions, e.g. ["tcp:8080"], not {shown(value)}'
            )
        for index, description in enumerate(value):
            if description in value[:index]:
                raise ConfigError(f"{name} lists {description!r} twice")
        return tuple(value)


@frozen
class DriverOptions:
    """
    Any of a driver's options, as text: C{KEY=VALUE} pairs separated by
    commas, C{-} in a key read as C{_}. (In a config file, a camera's keys
    are its driver's options.)
    """

    def from_text(self, name: str, raw: str) -> dict[str, str]:
        options = {}
        for pair in raw.split(","):
            key, equals, value = pair.partition("=")
            key = key.strip().replace("-", "_")
            if not (equals and key.isidentifier()):
                raise ConfigError(
                    f"{name} must be KEY=VALUE pairs separated by commas "
                    f"(e.g. loop=false,rotate=90), not {raw!r}"
                )
            options[key] = value
        return options


@frozen
class Rectangles:
    """
    Parts of a picture, each four numbers from 0 to 1: its left, top, width
    and height in fractions of the picture's width and height. As text,
    the numbers separated by commas and the rectangles by C{;}; in a
    config file, a list of lists of four numbers.
    """

    def from_text(self, name: str, raw: str) -> tuple[Rectangle, ...]:
        rectangles = [
            [each.strip() for each in part.split(",")]
            for part in raw.split(";")
            if part.strip()
        ]
        return self._checked(name, rectangles, raw)

    def from_toml(self, name: str, value: object) -> tuple[Rectangle, ...]:
        if not isinstance(value, list) or not all(
            isinstance(each, list) for each in value
        ):
            raise ConfigError(
                f"{name} must be a list of [left, top, width, height] lists,"
                f" not {shown(value)}"
            )
        return self._checked(name, value, value)

    def _checked(
        self, name: str, rectangles: list[Any], given: object
    ) -> tuple[Rectangle, ...]:
        checked = []
        for rectangle in rectangles:
            numbers = [_fraction(each) for each in rectangle]
            if len(numbers) != 4 or None in numbers:  # noqa: PLR2004 - four sides
                raise ConfigError(
                    f"{name} must be rectangles of left, top, width and height,"
                    f" each a number from 0 to 1, not {given!r}"
                )
            left, top, width, height = (float(each or 0) for each in numbers)
            checked.append((left, top, width, height))
        return tuple(checked)


Rectangle = tuple[float, float, float, float]
"""A part of a picture: left, top, width and height, in fractions."""


def _fraction(value: object) -> float | None:
    """
    C{value} as a number from 0 to 1; L{None} if it is not one.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if 0 <= number <= 1 else None


def _strings(value: object) -> TypeGuard[list[str]]:
    """
    Whether C{value} is a list of strings.
    """
    return isinstance(value, list) and all(isinstance(each, str) for each in value)
