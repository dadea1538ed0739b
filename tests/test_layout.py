"""
The package's layout keeps its architecture: imports between camserve's
parts go one way, no module imports another in a circle (not even for type
checking), no module imports a private name of another, and modules stay
small.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "camserve"

LAYERS = {
    "contract": 0,
    "cameras": 1,
    "camera": 1,
    "streams": 2,
    "recording": 2,
    "web": 3,
    "access": 4,
    "config": 5,
    "top": 6,
}
"""Each part's place: a part imports only parts below it, except that the
drivers (C{cameras}) and the camera layer know nothing of each other, nor
do the HTTP streams and the recordings (a stream plays any C{IFeed})."""
CONTRACT = {
    "camserve.interfaces",
    "camserve._defaults",
    "camserve._errors",
    "camserve._frame",
    "camserve._frozen",
    "camserve._jpeg",
    "camserve._multipart",
}
"""What every part may import: the interfaces, a frame and its wire format,
the settings' defaults and the error of a bad setting, and small helpers of
their own."""
LARGEST = 400
"""The most lines a module should have."""


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(path): path for path in PACKAGE.rglob("*.py")}


def imports(name: str) -> list[tuple[str, str]]:
    """
    What module C{name} imports of camserve, anywhere in it (under
    C{TYPE_CHECKING} and in functions too): each module, and the name taken
    from it (empty for a whole module).
    """
    found = []
    for node in ast.walk(ast.parse(MODULES[name].read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level:
            pytest.fail(f"{name} imports relatively: camserve's imports are absolute")
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
            "camserve"
        ):
            assert node.module is not None
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                if submodule in MODULES:
                    found.append((submodule, ""))
                else:
                    found.append((node.module, alias.name))
        elif isinstance(node, ast.Import):
            found += [(alias.name, "") for alias in node.names if alias.name in MODULES]
    return [(module, taken) for module, taken in found if module != name]


def part(name: str) -> str:
    if name in CONTRACT:
        return "contract"
    pieces = name.split(".")
    if len(pieces) > 2 and pieces[1] in LAYERS:
        return pieces[1]
    return "top"


def test_parts_import_only_parts_below_them() -> None:
    """
    The drivers and the camera layer import only the contract; streams the
    camera layer; the web app streams; access the web app; configuration
    all of them; only C{camserve}, C{camserve.tap}, C{camserve.testing} and
    C{__main__} see everything.
    """
    upward = [
        f"{name} imports {module}"
        for name in MODULES
        for module, _ in imports(name)
        if module in MODULES
        and part(module) != part(name)
        and (
            LAYERS[part(module)] >= LAYERS[part(name)]
            or {part(name), part(module)} == {"camera", "cameras"}
        )
    ]
    assert upward == []


def test_no_module_imports_itself_in_a_circle() -> None:
    """
    Following imports from any module never leads back to it, counting the
    imports made only for type checking.
    """
    graph = {
        name: {module for module, _ in imports(name) if module in MODULES}
        - {"camserve"}
        for name in MODULES
    }
    circles = []
    for start, imported in graph.items():
        seen: set[str] = set()
        stack = list(imported)
        while stack:
            module = stack.pop()
            if module == start:
                circles.append(start)
                break
            if module not in seen:
                seen.add(module)
                stack.extend(graph.get(module, ()))
    assert circles == []


def test_no_private_name_is_imported_from_another_module() -> None:
    """
    A name starting with an underscore stays in its module; a private
    module is imported only by its own package or for what it exports.
    """
    taken = [
        f"{name} takes {module}.{what}"
        for name in MODULES
        for module, what in imports(name)
        if what.startswith("_") and not what.startswith("__")
    ]
    assert taken == []


def test_modules_stay_small() -> None:
    """
    No module is past L{LARGEST} lines.
    """
    lengths = {
        name: len(path.read_text(encoding="utf-8").splitlines())
        for name, path in MODULES.items()
    }
    too_long = {name: length for name, length in lengths.items() if length > LARGEST}
    assert too_long == {}
