"""Notebook 13's exercises are marked in nbgrader's syntax: the student tool accepts them, and the
student version keeps no solution and fails the checks with named stubs, not tracebacks."""

from pathlib import Path

import nbformat

from lstm_lab import student
from lstm_lab.checks import text as check

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "13_language_model.ipynb"


def test_solution_cells_are_well_formed_and_named():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    assert student.check_source(nb) == []
    solutions = [c for c in nb.cells if student.is_solution(c)]
    assert sorted(c.metadata.nbgrader.grade_id for c in solutions) == ["tbptt_pass", "temperature_sampling"]


def test_student_version_holds_no_solution_and_its_stubs_get_a_sentence():
    version = student.student_version(nbformat.read(NOTEBOOK, as_version=4))
    text = "\n".join(c.source for c in version.cells)
    assert "BEGIN SOLUTION" not in text and "torch.multinomial(probs" not in text
    namespace = {}
    for cell in version.cells:
        if cell.cell_type == "code" and student.is_solution(cell):
            exec(compile(f"import torch\nfrom lstm_lab import text\n{cell.source}", "<student>", "exec"), namespace)
    for feedback in (check.check_temperature_probs(namespace["temperature_probs"]),
                     check.check_sample_next(namespace["sample_next"]),
                     check.check_tbptt_pass(namespace["tbptt_pass"])):
        assert not feedback and "is not implemented yet" in str(feedback) and "replace the line `raise NotImplementedError(...)`" in str(feedback)
