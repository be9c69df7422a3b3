"""The code's shape, read from its source (no imports): no import circle between modules, no
function over 60 lines, no file over 400 lines, in the product's four packages."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("compute", "store", "app", "views")
MAX_FUNCTION_LINES = 60
MAX_FILE_LINES = 400


def modules(root: Path = ROOT) -> dict[str, Path]:
    """Dotted module name -> file, for every module of the four packages (and the entry point)."""
    found = {"streamlit_app": root / "streamlit_app.py"}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The modules of `known` that `name` imports, anywhere in its body (a function's import
    runs too). `from package import module` imports the module; its package's __init__ runs
    first whatever the importer, so it is not an edge of the importer's."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name in known)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            submodules = {f"{source}.{a.name}" for a in node.names} & known
            out |= submodules
            if len(submodules) < len(node.names) and source in known:
                out.add(source)
    out.discard(name)
    return out


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, edges = work[-1]
            child = next(edges, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_cycle_finder_finds_a_circle_and_only_a_circle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set(), "c": {"a", "b"}}) == []


def test_a_package_importing_its_own_modules_is_no_circle(tmp_path):
    (tmp_path / "compute" / "kit").mkdir(parents=True)
    (tmp_path / "compute" / "kit" / "__init__.py").write_text("from compute.kit import a, b\n")
    (tmp_path / "compute" / "kit" / "a.py").write_text("from compute.kit import b\n")
    (tmp_path / "compute" / "kit" / "b.py").write_text("import os\n")
    (tmp_path / "compute" / "c.py").write_text("from .kit import a\nfrom compute import d\n")
    (tmp_path / "compute" / "d.py").write_text("def f():\n    from compute.c import x\n")
    (tmp_path / "streamlit_app.py").write_text("")
    found = modules(tmp_path)
    graph = {m: imports(m, p, set(found)) for m, p in found.items()}
    assert graph["compute.kit.a"] == {"compute.kit.b"}
    assert cycles(graph) == [["compute.c", "compute.d"]]  # a function's import counts too


def test_no_import_circle_between_modules():
    found = modules()
    graph = {m: imports(m, p, set(found)) for m, p in found.items()}
    assert cycles(graph) == []


def _lines(node: ast.AST) -> int:
    return node.end_lineno - node.lineno + 1


@pytest.mark.parametrize("package", PACKAGES)
def test_no_function_is_longer_than_a_screen(package):
    long = [f"{path.relative_to(ROOT)}:{node.name} ({_lines(node)} lines)"
            for path in sorted((ROOT / package).rglob("*.py"))
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            and _lines(node) > MAX_FUNCTION_LINES]
    assert long == []


@pytest.mark.parametrize("package", PACKAGES)
def test_no_file_is_longer_than_it_can_be_read(package):
    big = [f"{path.relative_to(ROOT)} ({n} lines)" for path in sorted((ROOT / package).rglob("*.py"))
           if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_FILE_LINES]
    assert big == []
