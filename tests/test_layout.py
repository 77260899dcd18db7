"""The package layout keeps the design: one core, two front ends that do not know each other.

Every ``import`` in ``addin/bpxl`` is read (with ``ast``, the ones inside functions too) and held
to these rules (docs/architecture.md draws them):

- the core (``bpxl.core``) imports no front end (``bpxl.workbook``, ``bpxl.excel``, ``bpxl.cli``),
  not the template builder and no workbook library (openpyxl, lxml, python-calamine, xlwings);
- the .xlsx front end (``bpxl.workbook``) and the Excel front end (``bpxl.excel``) never import
  each other; both may use the core, the template builder and the sandbox;
- the template builder (``bpxl.template``) stands on the core alone;
- the sandbox imports no front end, no template and no workbook library;
- nothing imports the command line;
- no module imports itself through others (no cycle).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "addin" / "bpxl"
WORKBOOK_LIBRARIES = ("openpyxl", "lxml", "python_calamine", "xlwings")
FRONT_ENDS = ("bpxl.workbook", "bpxl.excel", "bpxl.cli")


def _name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _within(module: str, *prefixes: str) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def imports(module: str, source: str) -> Iterator[tuple[int, str]]:
    """(line, module imported) for each import of ``source``: a name taken from a package is the
    submodule of that name if there is one, else the package itself."""
    package = module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                origin = ".".join(base + ([node.module] if node.module else []))
            else:
                origin = node.module or ""
            for alias in node.names:
                submodule = f"{origin}.{alias.name}"
                yield node.lineno, submodule if submodule in MODULES else origin


def graph() -> dict[str, list[tuple[int, str]]]:
    return {
        module: list(imports(module, path.read_text(encoding="utf-8")))
        for module, path in MODULES.items()
    }


def broken_rules(edges: dict[str, list[tuple[int, str]]]) -> list[str]:
    """Every import that breaks a layout rule, as ``module:line imports target (why)``."""
    found = []
    for module, targets in edges.items():
        for line, target in targets:
            why = None
            library = target.split(".")[0] in WORKBOOK_LIBRARIES
            if _within(target, "bpxl.cli"):
                why = "nothing imports the command line"
            elif _within(module, "bpxl.core"):
                if _within(target, *FRONT_ENDS, "bpxl.template") or library:
                    why = "the core knows no workbook and no front end"
            elif _within(module, "bpxl.workbook") and _within(target, "bpxl.excel"):
                why = "the .xlsx front end does not use the Excel one"
            elif _within(module, "bpxl.excel") and _within(target, "bpxl.workbook"):
                why = "the Excel front end does not use the .xlsx one"
            elif _within(module, "bpxl.template") and _within(target, *FRONT_ENDS):
                why = "the template stands on the core alone"
            elif _within(module, "bpxl.sandbox") and (
                _within(target, *FRONT_ENDS, "bpxl.template") or library
            ):
                why = "the sandbox knows no workbook and no front end"
            if why:
                found.append(f"{module}:{line} imports {target} ({why})")
    return found


def cycles(edges: dict[str, list[tuple[int, str]]]) -> list[list[str]]:
    """The import cycles between bpxl's modules, each as the path that closes it."""
    ours = {m: sorted({t for _, t in targets if t in MODULES}) for m, targets in edges.items()}
    found: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(module: str) -> None:
        state[module] = 1
        path.append(module)
        for target in ours[module]:
            if state.get(target) == 1:
                found.append([*path[path.index(target) :], target])
            elif target not in state:
                visit(target)
        path.pop()
        state[module] = 2

    for module in sorted(ours):
        if module not in state:
            visit(module)
    return found


def test_the_layout_rules_hold() -> None:
    broken = broken_rules(graph())
    assert not broken, "\n".join(broken)


def test_no_module_imports_itself_through_others() -> None:
    found = cycles(graph())
    assert not found, "\n".join(" -> ".join(cycle) for cycle in found)


def test_the_folders_are_the_design() -> None:
    packages = {m for m, p in MODULES.items() if p.name == "__init__.py"}
    assert {"bpxl.core", "bpxl.workbook", "bpxl.excel", "bpxl.sandbox"} <= packages
    assert "bpxl.cli" in MODULES and "bpxl.core.cells" in MODULES
    assert "bpxl.core.client" in MODULES and "bpxl.excel.ribbon" in MODULES


@pytest.mark.parametrize(
    ("module", "source", "why"),
    [
        ("bpxl.core.cells", "import openpyxl\n", "the core knows no workbook"),
        ("bpxl.core.push", "from ..workbook import sheet_io\n", "the core knows no workbook"),
        ("bpxl.core.push", "from .. import cli\n", "nothing imports the command line"),
        ("bpxl.excel.ribbon", "from ..workbook import saving\n", "the Excel front end does not"),
        ("bpxl.workbook.saving", "from ..excel import xlam\n", "the .xlsx front end does not"),
        ("bpxl.sandbox.store", "import xlwings\n", "the sandbox knows no workbook"),
        ("bpxl.template", "from .workbook import saving\n", "the template stands on the core"),
    ],
)
def test_a_bad_import_is_named(module: str, source: str, why: str) -> None:
    edges = graph()
    before = set(broken_rules(edges))
    edges[module] = [*edges[module], *imports(module, source)]
    [broken] = set(broken_rules(edges)) - before
    assert broken.startswith(f"{module}:1 imports ") and why in broken


def test_a_cycle_is_named() -> None:
    edges = graph()
    edges["bpxl.core.cells"] = [
        *edges["bpxl.core.cells"],
        *imports("bpxl.core.cells", "from . import records\n"),
    ]
    assert ["bpxl.core.cells", "bpxl.core.records", "bpxl.core.cells"] in cycles(edges)
