"""``lstm-lab grade``: submissions in, a table of student x exercise (points and the diagnosed
mistake) and a feedback file per student out, without nbgrader."""

import csv

import pytest

from fake_submissions import NOTEBOOK, POINTS, max_points, nbgrader_layout, write_submissions
from lstm_lab import grade
from test_student import run_cli


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("grading")
    # as nbgrader receives them (its layout and its stub): test_nbgrader_peer gives nbgrader these very
    # submissions and requires the same POINTS
    write_submissions(root / "submitted", layout=nbgrader_layout, stub="nbgrader")
    result = run_cli("grade", root / "submitted", "--out", root / "grades", "--source", NOTEBOOK.parent)
    assert result.returncode == 0, result.stderr
    return root, result


def rows(root):
    with open(root / "grades" / "grades.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_one_row_per_student_and_exercise_with_points_and_the_mistake(graded):
    root, _ = graded
    table = {(r["student"], r["exercise"]): r for r in rows(root) if r["notebook"] == NOTEBOOK.name}
    assert sorted({s for s, _ in table}) == sorted(POINTS)
    most = max_points()
    for kind, expected in POINTS.items():
        row = table[(kind, "rnn_step")]
        assert float(row["points"]) == (most if expected == "all" else expected), row
        assert float(row["max_points"]) == most
    assert table[("correct", "rnn_step")]["diagnosis"] == ""
    assert "weight_hh is used transposed" in table[("wrong", "rnn_step")]["diagnosis"]
    assert "your function raised RuntimeError: I ran out of time" in table[("raising", "rnn_step")]["diagnosis"]
    assert "`torch.rnn_tanh_cell`, which is not allowed" in table[("shortcut", "rnn_step")]["diagnosis"]
    assert "random case" in table[("hidden_only", "rnn_step")]["diagnosis"]


def test_notebooks_a_student_did_not_submit_score_zero(graded):
    root, _ = graded
    others = [r for r in rows(root) if r["notebook"] != NOTEBOOK.name]
    assert others and all(r["points"] == "0" and r["diagnosis"] == "not submitted" for r in others)


def test_a_feedback_file_per_student_with_the_whole_message(graded):
    root, result = graded
    assert sorted(p.stem for p in (root / "grades" / "feedback").iterdir()) == sorted(POINTS)
    wrong = (root / "grades" / "feedback" / "wrong.txt").read_text()
    assert wrong.startswith("wrong: 0 of ") and "✗ 01_rnn_step.ipynb / rnn_step: 0 of" in wrong
    assert "weight_hh is used transposed" in wrong and "Traceback" not in wrong
    assert f"correct: {max_points():g} of" in result.stdout


def test_grading_again_refuses_to_overwrite_without_force(graded):
    root, _ = graded
    again = run_cli("grade", root / "submitted", "--out", root / "grades", "--source", NOTEBOOK.parent)
    assert again.returncode == 1 and "grades.csv already exists: pass --force" in again.stderr


def test_a_student_cannot_change_the_tests(tmp_path):
    """The submission's own test cells are ignored: the instructor's (hidden tests included) run."""
    import nbformat

    from fake_submissions import submission
    from lstm_lab import student

    nb = submission("wrong")
    for cell in nb.cells:
        if student.is_grade(cell):
            cell.source = "pass"
    (tmp_path / "cheat").mkdir()
    nbformat.write(nb, tmp_path / "cheat" / NOTEBOOK.name)
    grades = grade.grade_notebook(NOTEBOOK, tmp_path / "cheat" / NOTEBOOK.name, "cheat")
    assert [g.points for g in grades] == [0.0]


def test_a_sandbox_without_lstm_lab_is_an_error_not_a_grade_of_zero(tmp_path, monkeypatch):
    write_submissions(tmp_path / "submitted")
    monkeypatch.setattr(grade, "PREFLIGHT", "import lstm_lab_that_is_not_installed")
    with pytest.raises(grade.GradingError, match="cannot run `import lstm_lab_that_is_not_installed`.*every student get 0"):
        grade.grade(tmp_path / "submitted", tmp_path / "grades", sources=NOTEBOOK.parent)
    assert not (tmp_path / "grades").exists()


def test_the_grading_kernel_is_told_it_is_grading(tmp_path):
    """As nbgrader does, so that a check raises on an unfinished exercise rather than print "not yet"."""
    import nbformat

    from test_student import graded_cell, notebook, solution_cell

    nb = notebook(solution_cell("### BEGIN SOLUTION\nx = 1\n### END SOLUTION\n", "x"),
                  graded_cell("import os\nassert os.environ['NBGRADER_EXECUTION'] == 'autograde'", "test_x"))
    nbformat.write(nb, tmp_path / "told.ipynb")
    assert [g.points for g in grade.grade_notebook(tmp_path / "told.ipynb", tmp_path / "told.ipynb", "me")] == [1.0]
