"""The floors of docs/architecture.md, enforced: a package imports only from lower floors and from itself.

Parsed from the source (``ast``), so a module that is never imported by a test is checked too. A new
package must be placed in ``FLOORS`` on purpose; an import that climbs fails with the file and line.
"""

from __future__ import annotations

import ast
from pathlib import Path

import openmyna

SOURCE = Path(openmyna.__file__).parent

# Floors as ARCHITECTURE.md draws them. Within floor 1 and floor 3 one package may use the other, never back
# (orgs uses the number formats; card calls jpki.service), hence the half floors.
FLOORS: dict[str, float] = {
    "core": 0,
    "numbers": 1,
    "orgs": 1.5,
    "registry": 2,
    "corporate": 2,
    "localtax": 2,
    "pension": 2,
    "koseki": 2.5,  # the family register reads the resident registry (the 附票 is its history of addresses)
    "jpki": 3,
    "card": 3.5,
    "network": 4,
    "portal": 5,
    "eservice": 5,
    "kiosk": 5,
    "health": 5,
    "carduses": 5,
    "ekyc": 5,
    "disaster": 5,
    "points": 5,
    # The assembling layer: nothing imports it, and its parts may use each other.
    "app": 6,
    "cli": 6,
    "migrations": 6,
}

# Modules that sit on a higher floor than their package (ARCHITECTURE: "corporate.api" is a floor-5 service).
MODULE_FLOORS: dict[str, float] = {"corporate.api": 5}


def _imports(path: Path) -> list[tuple[int, str]]:
    """Absolute ``openmyna.*`` imports of one file, with their line numbers."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return [(line, name) for line, name in found if name.startswith("openmyna.")]


def _floor_of(relative: Path) -> tuple[str, float]:
    package = relative.parts[0]
    module = ".".join(relative.with_suffix("").parts)
    assert package in FLOORS, f"{relative}: package {package!r} has no floor; place it in FLOORS on purpose"
    return package, MODULE_FLOORS.get(module, FLOORS[package])


def test_every_import_goes_down_a_floor() -> None:
    climbing: list[str] = []
    for path in sorted(SOURCE.rglob("*.py")):
        relative = path.relative_to(SOURCE)
        if len(relative.parts) == 1:
            continue  # openmyna/__init__.py and top-level scripts
        package, floor = _floor_of(relative)
        for line, name in _imports(path):
            target = name.split(".")[1]
            if target == package:
                continue
            assert target in FLOORS, f"{relative}:{line} imports {name}: package {target!r} has no floor"
            if FLOORS[target] >= floor and not (floor == FLOORS[target] == 6):
                climbing.append(f"{relative}:{line} ({package}, floor {floor}) imports {name} (floor {FLOORS[target]})")
    assert not climbing, "imports that do not go down a floor:\n" + "\n".join(climbing)


def test_the_check_sees_a_climbing_import(tmp_path: Path) -> None:
    """The parser finds the kind of import the rule forbids (so the test above can fail)."""
    module = tmp_path / "service.py"
    module.write_text("from openmyna.portal.notices import service as notices\nimport openmyna.card.chip\n")
    assert _imports(module) == [(1, "openmyna.portal.notices"), (2, "openmyna.card.chip")]
