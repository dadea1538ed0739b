# -*- test-case-name: tests.test_config_file -*-
"""
Reading a config file's values: a table's keys, a number for the command
line's parsers, and a value as a message shows it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Self

from camserve._errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence


def known_keys(table: Mapping[str, object], known: Sequence[str], where: str) -> None:
    """
    Refuse a key of C{table} not in C{known}.
    """
    unknown = sorted(set(table) - set(known))
    if unknown:
        raise ConfigError(
            f"unknown key {unknown[0]!r} in {where}; allowed: {', '.join(known)}"
        )


class NumberText(str):  # noqa: SLOT000 - a str subclass cannot have instance slots, and this one keeps its value
    """
    A TOML value as text for the command line's number parsers, which take
    text: a number as its digits, anything else as text no parser takes, so
    that C{"15"} or C{true} is refused in the same words as a number out of
    range. The parsers' messages show it as the file wrote it.
    """

    value: object

    def __new__(cls, value: object) -> Self:
        """
        C{value} as text.
        """
        number = isinstance(value, int | float) and not isinstance(value, bool)
        text = super().__new__(cls, str(value) if number else "")
        text.value = value
        return text

    def __repr__(self) -> str:
        if isinstance(self.value, str):
            # TOML's quotes make text of a number: say so, for "1280".
            try:
                float(self.value)
            except ValueError:
                return f"the text {self.value!r}"
            return f"the text {self.value!r} (write a number without quotes)"
        return shown(self.value)


def shown(value: object) -> str:
    """
    A value from a TOML file, written for a message much as TOML writes it.
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)
