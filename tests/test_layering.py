"""The architecture stays layered: no module imports from a package above its own.

    errors, cache, tables  <  schema, judgevenv  <  io  <  runtime, judgejob  <  canonical  <  targets
      <  converter, realcaffe, rknn, tpumlir, mnn, manual, inspect, calibration  <  int8  <  parity
      <  cli, examples  <  purecaffe (the facade)

(runners: the judges' scripts, run in other venvs, import nothing of purecaffe.)

Packages on one level do not import each other, and no module imports itself through others
(`test_no_import_cycle_between_modules`: a `TYPE_CHECKING` import counts, as the catalog <-> rules
one did).  Read from the source with `ast`, so a lazy import inside a function counts too.
"""
from __future__ import annotations

import ast
from pathlib import Path

import purecaffe

LEVELS: dict[str, int] = {
    "errors": 0, "cache": 0, "tables": 0, "data": 0,  # data: shipped files (the Caffe runner, a script)
    "runners": 0,  # the judges' runner scripts
    "schema": 1, "judgevenv": 1,
    "io": 2,
    "runtime": 3, "judgejob": 3,
    "canonical": 4,
    "targets": 5,
    "converter": 6, "realcaffe": 6, "rknn": 6, "tpumlir": 6, "mnn": 6, "manual": 6, "inspect": 6,
    "calibration": 6,
    "int8": 7,  # both int8 routes on RKNN and tpu-mlir: above rknn and tpumlir, below parity (whose verify uses it)
    "parity": 8,
    "cli": 9, "examples": 9,
    "__init__": 10, "__main__": 10,
}
PACKAGE = Path(purecaffe.__file__).parent


def _imports(path: Path) -> set[str]:
    """The purecaffe subpackages/modules `path` imports (`purecaffe` alone is the facade, `__init__`)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "purecaffe":
                if len(parts) > 1:
                    found.add(parts[1])
                elif isinstance(node, ast.ImportFrom):  # from purecaffe import x: a subpackage or the facade
                    found.update(alias.name if alias.name in LEVELS else "__init__" for alias in node.names)
                else:
                    found.add("__init__")
    return found


def _package_of(path: Path) -> str:
    relative = path.relative_to(PACKAGE).with_suffix("").parts
    return relative[0]


def test_every_package_has_a_level() -> None:
    packages = {_package_of(path) for path in PACKAGE.rglob("*.py")}
    assert packages <= set(LEVELS), f"give these a level: {sorted(packages - set(LEVELS))}"


def test_no_upward_or_sideways_imports() -> None:
    bad = []
    for path in sorted(PACKAGE.rglob("*.py")):
        own = _package_of(path)
        for imported in _imports(path) - {own}:
            if imported not in LEVELS:
                continue  # a module of the facade itself would be listed by the test above
            if LEVELS[imported] >= LEVELS[own]:
                bad.append(f"{path.relative_to(PACKAGE.parent)} ({own}, level {LEVELS[own]}) imports "
                           f"{imported} (level {LEVELS[imported]})")
    assert not bad, "\n".join(bad)


def test_the_check_sees_an_upward_import(tmp_path: Path) -> None:
    """The reader finds `from purecaffe.cli import ...` inside a function (so the test above can fail)."""
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from purecaffe.cli import main\n    import purecaffe.parity\n")
    assert _imports(module) == {"cli", "parity"}


def _module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _module_graph(root: Path) -> dict[str, set[str]]:
    """Module -> the modules of the same tree it imports (`from a.b import c` is a.b.c when that is a module)."""
    modules = {_module_name(path, root): path for path in root.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.update(f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in modules
                             else node.module for alias in node.names)
            elif isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
        graph[name] = {module for module in found if module in modules and module != name}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for imported in sorted(graph[module]):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            group = []
            while True:
                top = stack.pop()
                group.append(top)
                if top == module:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return found


def test_no_import_cycle_between_modules() -> None:
    assert _cycles(_module_graph(PACKAGE)) == []


def test_the_cycle_check_sees_a_type_checking_cycle(tmp_path: Path) -> None:
    root = tmp_path / "pkg"
    root.mkdir()
    (root / "__init__.py").write_text("")
    (root / "catalog.py").write_text("from pkg.rules import RULES\n")
    (root / "rules.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                                   "    from pkg.catalog import Target\n")
    assert _cycles(_module_graph(root)) == [["pkg.catalog", "pkg.rules"]]
