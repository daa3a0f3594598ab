"""What may import what, read from the source (ast) of every module in gsmbridge/.

Layers, top to bottom: gui (and the entry points: __main__, cli) > service (with
headless and logs) > web, tunnel > core (with config) > modem.  A module imports only
its own layer or below; ``modem`` is a leaf (the standard library, pyserial and
itself); the simulator speaks AT over a socket or a pty, imports only the modem's
codecs and is imported by nobody below the service; only the GUI touches Qt.
Every import counts, also one inside a function or under ``TYPE_CHECKING``: a type-only
import of a caller is still a dependency on it.

The run-time twin of this test, that importing the Qt-free parts loads no PySide6, is
``tests/integration/test_headless.py::test_core_never_imports_qt``.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "gsmbridge"

# The unit of a module is its first name under gsmbridge (gsmbridge.core.store -> core;
# gsmbridge.service -> service); "" is the package itself (its version).
LAYER = {
    "__main__": 4,
    "cli": 4,
    "gui": 4,
    "service": 3,
    "headless": 3,
    "logs": 3,
    "web": 2,
    "tunnel": 2,
    "core": 1,
    "config": 1,
    "modem": 0,
}
SIMULATOR = "simulator"
# The simulator imports the modem's codecs (PDU, errors) only; who may import it.
SIMULATOR_IMPORTS = {"modem", SIMULATOR, ""}
SIMULATOR_USERS = {unit for unit, layer in LAYER.items() if layer >= LAYER["service"]}
QT = ("PySide6", "shiboken6")
QT_USERS = {"gui", "__main__"}  # __main__ imports the GUI only to start it
MODEM_THIRD_PARTY = {"serial"}  # pyserial

# Known violations, each named with why it is tolerated and until when.  None today:
# add one only with a comment, and tell the team (it is a bug to fix, not a rule).
KNOWN_EXCEPTIONS: set[tuple[str, str]] = set()


@dataclass(frozen=True)
class Import:
    module: str  # the importing module, dotted
    target: str  # what it imports, dotted (absolute)
    line: int


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path) -> list[Import]:
    """Every import statement of one file, relative ones made absolute."""
    module = module_name(path)
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [Import(module, alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target == "gsmbridge":  # from gsmbridge import service: the names are units
                found += [Import(module, f"gsmbridge.{a.name}", node.lineno) for a in node.names]
            else:
                found.append(Import(module, target, node.lineno))
    return found


def all_imports() -> list[Import]:
    return [i for path in sorted(PACKAGE.rglob("*.py")) for i in imports_of(path)]


def unit(dotted: str) -> str:
    """core for gsmbridge.core.store; "" for the package and its own names (__version__)."""
    parts = dotted.split(".")
    if len(parts) < 2:
        return ""
    name = parts[1]
    is_module = (PACKAGE / name).is_dir() or (PACKAGE / f"{name}.py").is_file()
    return name if is_module or name in LAYER or name == SIMULATOR else ""


def problem(imp: Import) -> str | None:
    """Why this import breaks the layering, or None."""
    source = unit(imp.module)
    top = imp.target.split(".")[0]
    if top in QT:
        return None if source in QT_USERS else f"{source} must not import Qt"
    if source == "modem":
        if top == "gsmbridge":
            return None if unit(imp.target) == "modem" else "modem/ is a leaf"
        if top in sys.stdlib_module_names or top in MODEM_THIRD_PARTY or top == "__future__":
            return None
        return f"modem/ imports only the standard library and pyserial, not {top}"
    if top != "gsmbridge":
        return None  # third-party libraries are each layer's own business
    target = unit(imp.target)
    if target in ("", source):
        return None
    if source == SIMULATOR:
        return None if target in SIMULATOR_IMPORTS else f"the simulator must not import {target}"
    if target == SIMULATOR:
        return None if source in SIMULATOR_USERS else f"{source} must not know the simulator"
    if source not in LAYER or target not in LAYER:
        return f"{source or target} is in no layer: add it to LAYER in this test"
    if LAYER[target] > LAYER[source]:
        return f"{source} (layer {LAYER[source]}) imports {target} (layer {LAYER[target]})"
    return None


def test_the_layering_holds():
    bad = [
        f"{i.module}:{i.line} imports {i.target}: {reason}"
        for i in all_imports()
        if (reason := problem(i)) and (i.module, i.target) not in KNOWN_EXCEPTIONS
    ]
    assert not bad, "\n".join(bad)


def test_known_exceptions_still_exist():
    # A fixed violation leaves the list, so the list never hides a new one.
    present = {(i.module, i.target) for i in all_imports()}
    assert KNOWN_EXCEPTIONS <= present


def test_every_unit_has_a_layer():
    units = {unit(module_name(p)) for p in PACKAGE.rglob("*.py")} - {""}
    assert units <= set(LAYER) | {SIMULATOR}, units - set(LAYER)


def test_the_scan_sees_what_it_checks():
    # The checks can fail: the GUI's Qt imports and the driver's pyserial import are seen.
    found = all_imports()
    assert any(i.target.startswith("PySide6") and unit(i.module) == "gui" for i in found)
    assert any(i.target == "serial" and i.module == "gsmbridge.modem.at" for i in found)
    assert any(i.target == "gsmbridge.simulator" and unit(i.module) == "service" for i in found)


@pytest.mark.parametrize(
    ("module", "target", "broken"),
    [
        ("gsmbridge.core.store", "gsmbridge.service", True),
        ("gsmbridge.core.store", "gsmbridge.gui.app", True),
        ("gsmbridge.web.app", "PySide6.QtCore", True),
        ("gsmbridge.modem.gsm", "gsmbridge.config", True),
        ("gsmbridge.modem.gsm", "gsmbridge.core.events", True),
        ("gsmbridge.modem.gsm", "gsmbridge.simulator", True),
        ("gsmbridge.modem.gsm", "requests", True),
        ("gsmbridge.core.sender", "gsmbridge.simulator", True),
        ("gsmbridge.tunnel.ngrok", "gsmbridge.simulator.server", True),
        ("gsmbridge.simulator.modem", "gsmbridge.core.events", True),
        ("gsmbridge.web.app", "gsmbridge.service", True),
        ("gsmbridge.modem.gsm", "serial.tools.list_ports", False),
        ("gsmbridge.modem.gsm", "gsmbridge.modem.pdu", False),
        ("gsmbridge.service", "gsmbridge.simulator", False),
        ("gsmbridge.cli.modem", "gsmbridge.simulator", False),
        ("gsmbridge.gui.app", "gsmbridge.service", False),
        ("gsmbridge.web.app", "gsmbridge.core.store", False),
        ("gsmbridge.core.store", "gsmbridge.config", False),
        ("gsmbridge.core.store", "gsmbridge.__version__", False),  # the package's own name
    ],
)
def test_the_rules(module, target, broken):
    assert (problem(Import(module, target, 1)) is not None) == broken


def test_relative_imports_are_resolved(tmp_path, monkeypatch):
    package = tmp_path / "gsmbridge" / "modem"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("from . import gsm\n")
    (package / "gsm.py").write_text(
        "from ..core import events\nfrom .pdu import x\nfrom .. import service, __version__\n"
        "if False:\n    import PySide6\n"
    )
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", tmp_path / "gsmbridge")
    targets = [i.target for i in imports_of(package / "gsm.py")]
    assert targets == [
        "gsmbridge.core",
        "gsmbridge.modem.pdu",
        "gsmbridge.service",
        "gsmbridge.__version__",
        "PySide6",
    ]
    assert [i.target for i in imports_of(package / "__init__.py")] == ["gsmbridge.modem"]
