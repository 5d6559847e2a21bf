"""Fake submissions of exercise 01 (rnn_step), one per kind of student, for the grading tests
(``lstm-lab grade`` and nbgrader must give each the same points)."""

from pathlib import Path

import nbformat

from lstm_lab import student

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "exercises" / "01_rnn_step.ipynb"
STUB = 'raise NotImplementedError("rnn_step: not implemented yet")'

BODIES = {
    "correct": "return torch.tanh(x @ weight_ih.T + bias_ih + h_prev @ weight_hh.T + bias_hh)",
    "wrong": "return torch.tanh(x @ weight_ih.T + bias_ih + h_prev @ weight_hh + bias_hh)",  # W_hh without .T
    "raising": "raise RuntimeError('I ran out of time')",
    "shortcut": "return torch.rnn_tanh_cell(x, h_prev, weight_ih, weight_hh, bias_ih, bias_hh)",
    # right on the cases a student sees (batches of 1, 4 and 2), wrong on a hidden one (batch 3, hidden size 2)
    "hidden_only": "h = torch.tanh(x @ weight_ih.T + bias_ih + h_prev @ weight_hh.T + bias_hh)\n"
                   "    return h + 0.5 * h[:1] if x.shape[0] == 3 and h.shape[1] == 2 else h",
}
POINTS = {"correct": "all", "wrong": 0, "raising": 0, "shortcut": 0, "hidden_only": 0}


def submission(kind: str, stub: str = "named") -> nbformat.NotebookNode:
    """The student version of exercise 01 with this kind of student's answer in it."""
    nb = student.student_version(nbformat.read(NOTEBOOK, as_version=4), stub=stub)
    stub_line = STUB if stub == "named" else "raise NotImplementedError()"
    for cell in nb.cells:
        if student.is_solution(cell):
            assert stub_line in cell.source
            cell.source = cell.source.replace(stub_line, BODIES[kind])
    return nb


def max_points(source=NOTEBOOK) -> float:
    nb = nbformat.read(source, as_version=4)
    return sum(float(c.metadata["nbgrader"]["points"]) for c in nb.cells if student.is_grade(c))


def nbgrader_layout(kind: str) -> Path:
    """nbgrader's submitted/<student>/<assignment>/ layout (the assignment is called "exercises")."""
    return Path(kind) / "exercises"


def write_submissions(folder: Path, layout=lambda kind: Path(kind), stub: str = "named", kinds=None) -> None:
    """One notebook per kind of student. tests/test_grade.py grades with ``lstm-lab grade`` and
    tests/test_nbgrader_peer.py with nbgrader the very same submissions (nbgrader's layout and stub), and
    both require POINTS."""
    for kind in kinds or BODIES:
        target = folder / layout(kind) / NOTEBOOK.name
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(submission(kind, stub), target)
