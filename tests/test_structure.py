"""The package's modules import only downward, and the README's picture of them is the real one."""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "lstm_lab"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts) or "__init__"


def imports_of(path: Path) -> tuple[set[str], list[str]]:
    """(lstm_lab modules imported anywhere in the file, those imported inside a function)."""
    tree = ast.parse(path.read_text())
    here = module_name(path).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    found, inner = set(), []
    functions = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    nested = {id(n) for f in functions for n in ast.walk(f) if n is not f}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package[:len(package) - (node.level - 1)] if node.level > 1 else package
            base = [p for p in base if p != "__init__"]
            if node.module:
                targets = [".".join(base + node.module.split("."))]
            else:
                targets = [".".join(base + [alias.name]) for alias in node.names]
            targets = [t for t in targets if (PACKAGE / (t.replace(".", "/") + ".py")).exists()
                       or (PACKAGE / t.replace(".", "/") / "__init__.py").exists()]
            found |= set(targets)
            if id(node) in nested:
                inner += targets
    return found, inner


GRAPH = {module_name(p): imports_of(p) for p in sorted(PACKAGE.rglob("*.py"))}


def test_no_import_cycle():
    done, visiting = set(), []

    def visit(name):
        if name in done:
            return
        assert name not in visiting, f"import cycle: {' -> '.join(visiting[visiting.index(name):] + [name])}"
        visiting.append(name)
        for dep in GRAPH.get(name, (set(), []))[0]:
            visit(dep)
        visiting.pop()
        done.add(name)

    for name in GRAPH:
        visit(name)


def top(name: str) -> str:
    return name.split(".")[0]


def test_no_import_hidden_inside_a_function():
    """An import inside a function is how a cycle hides: every import of another lstm_lab module sits at the
    top of its module. (Inside one subpackage a lazy import is allowed: explorers loads its widgets on use.)"""
    # (And the command line loads each command's module when that command runs, so `lstm-lab --help`
    # answers without importing torch.)
    hidden = {name: [t for t in inner if top(t) != top(name)] for name, (_, inner) in GRAPH.items() if name != "cli"}
    hidden = {name: inner for name, inner in hidden.items() if inner}
    assert not hidden, f"lstm_lab imports inside functions: {hidden}"


def readme_picture() -> dict[str, set[str]]:
    text = (ROOT / "README.md").read_text()
    block = text.split("<!-- package picture -->")[1].split("```")[1]
    picture = {}
    for line in block.splitlines():
        match = re.match(r"^\s*(\w+)\s+.*?←\s*(.*)$", line)
        if match:
            deps = match.group(2).strip()
            picture[match.group(1)] = set() if deps == "—" else {d.strip() for d in deps.split(",")}
    return picture


def test_readme_picture_shows_the_imports_as_they_are():
    picture = readme_picture()
    assert {"errors", "gates", "cells", "loop", "lstm_function", "gru_function", "runners", "bptt", "modules"} <= set(picture)
    for name, deps in picture.items():
        actual = {top(d) for module, (found, _) in GRAPH.items() if top(module) == name for d in found} - {name}
        assert deps == actual, f"README says {name} imports {sorted(deps)}, it imports {sorted(actual)}"


def test_readme_picture_lists_every_module_above_what_it_imports():
    order = list(readme_picture())
    for name, deps in readme_picture().items():
        above = [d for d in deps if order.index(d) < order.index(name)]
        assert not above, f"README lists {name} below {above}, which it imports"
