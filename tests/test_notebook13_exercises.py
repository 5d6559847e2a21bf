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
    assert sorted(c.metadata.nbgrader.grade_id for c in solutions) == ["batchify", "char_model", "chunk_pairs",
                                                                                "tbptt_pass", "temperature_sampling"]


def test_student_version_holds_no_solution_and_its_stubs_get_a_sentence():
    version = student.student_version(nbformat.read(NOTEBOOK, as_version=4))
    text = "\n".join(c.source for c in version.cells)
    assert "BEGIN SOLUTION" not in text and "torch.multinomial(probs" not in text
    namespace = {}
    for cell in version.cells:
        if cell.cell_type == "code" and student.is_solution(cell):
            exec(compile(f"import torch\nfrom lstm_lab import modules, text\n{cell.source}", "<student>", "exec"),
                 namespace)
    for feedback in (check.check_batchify(namespace["batchify"]),
                     check.check_chunk_pairs(namespace["chunk_pairs"]),
                     check.check_char_model(namespace["CharModel"]),
                     check.check_temperature_probs(namespace["temperature_probs"]),
                     check.check_sample_next(namespace["sample_next"]),
                     check.check_tbptt_pass(namespace["tbptt_pass"])):
        assert not feedback and "is not implemented yet" in str(feedback) and "replace the line `raise NotImplementedError(...)`" in str(feedback)


def _code_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code"]


def test_each_exercise_comes_before_the_code_that_uses_its_answer():
    """Try, then see: the streams, the chunks and the model are the student's before the notebook cuts its text or
    builds a model, and every model after that is built from the class the notebook chose (the student's or the
    reference)."""
    cells = _code_cells(nbformat.read(NOTEBOOK, as_version=4))
    first = {name: next(k for k, c in enumerate(cells) if used in c.source) for name, used in {
        "batchify exercise": "def batchify(", "streams chosen": "streams = yours_or_reference(batchify",
        "chunks exercise": "def chunk_pairs(", "chunks chosen": "chunks = yours_or_reference(chunk_pairs",
        "text cut": "train_streams = ", "model exercise": "class CharModel(",
        "model chosen": "CharLM = yours_or_reference(CharModel", "first model": "model = CharLM("}.items()}
    assert first["batchify exercise"] < first["streams chosen"] < first["text cut"] < first["model exercise"]
    assert first["chunks exercise"] < first["chunks chosen"] < first["text cut"]
    assert first["model exercise"] < first["model chosen"] < first["first model"]
    assert not any(f"text.{name}(" in c.source for c in cells for name in ("streams", "chunks", "CharLM")), \
        "a cell builds with the library's streams, chunks or model instead of the ones the notebook chose"
