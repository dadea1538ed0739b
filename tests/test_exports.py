"""
Tests for camserve's public API.
"""

from __future__ import annotations

import camserve


def test_all_names_exist() -> None:
    """
    Everything in C{camserve.__all__} is importable from C{camserve}, and
    nothing private is exported.
    """
    for name in camserve.__all__:
        assert hasattr(camserve, name), name
        assert not name.startswith("_")
    assert sorted(camserve.__all__) == sorted(set(camserve.__all__))


def test_public_objects_are_defined_in_camserve() -> None:
    """
    Exported names are camserve's own, re-exported from private modules.
    """
    for name in camserve.__all__:
        module = getattr(getattr(camserve, name), "__module__", "camserve")
        assert module.startswith("camserve"), (name, module)
