"""Imports point down the layers only (docs/ARCHITECTURE.md): parse every module's imports.

Layers, bottom first; a module may import its own layer and the layers below it:

    errors, registry, io, config, timing, progress  <  data, nets, viz  <  rundir  <  losses, metrics  <  models
    <  train  <  landscape.core  <  landscape.methods  <  landscape.studies, probe, tune
    <  commands, cli, demo, compute

`landscape` is layered inside: its pure maths (core) knows nothing of the methods that train
(methods), which know nothing of the analyses that read runs and write folders (studies).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "latentscape"

LAYERS: list[set[str]] = [
    {"errors", "registry", "io", "config", "timing", "faults", "ranges", "redact", "progress", "__init__"},
    {"data", "nets", "viz"},
    {"rundir"},
    {"losses", "metrics"},
    {"models"},
    {"train"},
    {"landscape", "landscape.core"},
    {"landscape.methods"},
    {"landscape.studies", "probe", "tune"},
    {"commands", "cli", "demo", "compute", "__main__"},
]
RANK = {name: i for i, layer in enumerate(LAYERS) for name in layer}


def _top(module: str) -> str | None:
    """'latentscape.train.api' -> 'train', 'latentscape.landscape.core.params' -> 'landscape.core';
    None for modules outside the package."""
    parts = module.split(".")
    if parts[0] != "latentscape":
        return None
    if len(parts) > 2 and parts[1] == "landscape":
        return f"landscape.{parts[2]}"
    return parts[1] if len(parts) > 1 else "__init__"


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1] if len(parts) > 1 else parts
    return ".".join(parts)


def _imports(source: str, module: str, is_package: bool = False) -> list[tuple[int, str]]:
    """(line, absolute module) of every import in `source`, including those inside functions."""
    tree = ast.parse(source)
    here = module.split(".")
    package = here if is_package else here[:-1]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1])
                mod = f"{base}.{node.module}" if node.module else base
            else:
                mod = node.module or ""
            found.append((node.lineno, mod))
    return found


def check_module(module: str, source: str, is_package: bool = False) -> list[str]:
    """One line per import of `module` that points to a higher layer (or to no layer)."""
    own = _top(module)
    if own not in RANK:
        return [f"{module}: not assigned to a layer (add it to LAYERS)"]
    problems = []
    for line, mod in _imports(source, module, is_package):
        target = _top(mod)
        if target is None:
            continue
        if target not in RANK:
            problems.append(f"{module}:{line} imports {mod}: unknown layer")
        elif RANK[target] > RANK[own]:
            problems.append(f"{module}:{line} imports {mod} (layer {target} is above {own})")
    return problems


def upward_imports() -> list[str]:
    problems = []
    for path in sorted(PACKAGE.rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        problems += check_module(_module_name(path), source, path.name == "__init__.py")
    return problems


def test_every_import_points_down():
    problems = upward_imports()
    assert not problems, "upward imports:\n" + "\n".join(problems)


def test_the_checker_flags_upward_imports_inside_functions_and_relative_ones():
    code = "import torch\nfrom latentscape.data import types\ndef f():\n    from latentscape.train.api import load_run\n"
    assert check_module("latentscape.metrics.m", code) == [
        "latentscape.metrics.m:4 imports latentscape.train.api (layer train is above metrics)"
    ]
    assert check_module("latentscape.models.m", "from ..landscape import curves\n") == [
        "latentscape.models.m:1 imports latentscape.landscape (layer landscape is above models)"
    ]
    assert check_module("latentscape.landscape.core.m", code) == []
    assert check_module("latentscape.landscape.core.m", "from latentscape.landscape.studies import outputs\n") == [
        "latentscape.landscape.core.m:1 imports latentscape.landscape.studies "
        "(layer landscape.studies is above landscape.core)"
    ]


if __name__ == "__main__":  # pragma: no cover - a quick listing while refactoring
    print("\n".join(upward_imports()))
