"""A stub a student can start from, in a student edition that speaks to the student.

Every function exercise of the course (notebooks 01-13 and ``exercises/``), as ``student/`` hands it
out: a docstring that names the shapes of what goes in and what comes back and gives a hint, then the
stub. And no page of ``student/`` talks about "the instructor edition" the student does not have.
"""

import ast
from pathlib import Path

import nbformat
import pytest

from lstm_lab import student

ROOT = Path(__file__).resolve().parents[1]
STUDENT = sorted((ROOT / "student").rglob("*.ipynb"))


def _stub_functions():
    for path in STUDENT:
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if not student.is_solution(cell):
                continue
            tree = ast.parse(cell.source)
            for node in tree.body:
                if isinstance(node, ast.FunctionDef):
                    yield pytest.param(path, node, cell.source, id=f"{path.stem}:{node.name}")


@pytest.mark.parametrize("path, function, source", list(_stub_functions()))
def test_every_function_stub_has_a_docstring_with_shapes_and_a_hint(path, function, source):
    doc = ast.get_docstring(function)
    assert doc, f"{path.name}: {function.name} is a bare stub: give it a docstring (shapes, what to use, a hint)"
    assert "Returns" in doc or "returns" in doc or "->" in doc, f"{function.name}: the docstring says not what comes back"
    assert "(" in doc and ")" in doc, f"{function.name}: the docstring gives no shapes"
    # a hint: in the docstring, or in the TODO banner of exercises/ (a comment, so read from the source)
    assert "hint" in doc.lower() or "# TODO" in source, f"{function.name}: no hint"
    # after the docstring: set-up at most, then the stub; what follows it (exercises/'s scaffold) never runs
    kinds = [type(statement) for statement in function.body[1:]]
    assert ast.Raise in kinds, f"{function.name}: no stub"
    assert ast.Return not in kinds[:kinds.index(ast.Raise)], f"{function.name}: returns before its stub"


def test_the_student_edition_does_not_talk_about_the_instructor_edition():
    said = [f"{path.relative_to(ROOT)} cell {k}" for path in STUDENT
            for k, cell in enumerate(nbformat.read(path, as_version=4).cells)
            if cell.cell_type == "markdown" and "instructor edition" in cell.source.lower()]
    assert not said, said


def test_the_checks_catch_a_bare_stub():
    """A planted bare stub fails the docstring test (the test can fail)."""
    bare = ast.parse("def f(x):\n    # YOUR CODE HERE\n    raise NotImplementedError('f: not implemented yet')").body[0]
    with pytest.raises(AssertionError, match="bare stub"):
        test_every_function_stub_has_a_docstring_with_shapes_and_a_hint(Path("planted.ipynb"), bare, "")
