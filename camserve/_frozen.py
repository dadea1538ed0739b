# -*- test-case-name: tests.test_config_file -*-
"""
Helpers of camserve's frozen value objects.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping


def read_only(options: Mapping[str, Any]) -> Mapping[str, Any]:
    """
    A read-only copy of C{options}, for a frozen class's field.
    """
    return MappingProxyType(dict(options))
