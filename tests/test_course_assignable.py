"""Any course notebook can be assigned: every exercise is checked by an autograded cell with points, so
``lstm-lab student`` releases it, ``lstm-lab grade --source`` grades it, and nbgrader could too.

Tried as an instructor would, on notebook 07: released, submitted and graded in one command each.
"""

import csv
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from test_nbgrader_peer import nbgrader  # noqa: F401  (the fixture: nbgrader in its own environment)

from lstm_lab import student

ROOT = Path(__file__).resolve().parents[1]
COURSE = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
NOTEBOOK_07 = ROOT / "notebooks" / "07_variable_length.ipynb"


def _exercises(path):
    nb = nbformat.read(path, as_version=4)
    for index, cell in enumerate(nb.cells):
        if student.is_solution(cell):
            graded = []
            for after in nb.cells[index + 1:]:
                if not (after.cell_type == "code" and student.is_grade(after)):
                    break
                graded.append(after)
            yield cell, graded


@pytest.mark.parametrize("path", [p for p in COURSE if any(_exercises(p))], ids=lambda p: p.stem)
def test_every_exercise_of_a_course_notebook_is_checked_by_a_graded_cell_with_points(path):
    nb = nbformat.read(path, as_version=4)
    assert student.check_source(nb) == []
    for cell, graded in _exercises(path):
        name = student._meta(cell)["grade_id"]
        assert graded, f"{name}: no autograded cell right after the exercise"
        for check in graded:
            meta = student._meta(check)
            assert meta["locked"] and not meta["solution"] and float(meta["points"]) > 0, (name, meta)
            assert meta["grade_id"].startswith("test_"), meta["grade_id"]
        # the check reads what the exercise defines: a function or the answer names
        checked = "\n".join(c.source for c in graded)
        assert "check" in checked, (name, checked)


def test_a_value_exercise_whose_check_sits_in_the_next_graded_cell_starts_as_none():
    nb = nbformat.read(ROOT / "notebooks" / "01_rnn_by_hand.ipynb", as_version=4)
    released = student.student_version(nb)
    stubs = [c.source for c in released.cells if student.is_solution(c)]
    assert stubs[0].endswith("# YOUR CODE HERE\nanswer_1 = None"), stubs[0]
    assert all("NotImplementedError" not in s for s in stubs)


def _cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "lstm_lab.cli", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd)


SOLUTIONS_07 = {  # the instructor's regions, an off-by-one mask, and a mask that calls the library's own
    "correct": None,
    "off_by_one": {"length_mask": "    return torch.arange(max_len).unsqueeze(1) <= lengths.unsqueeze(0)"},
    "shortcut": {"length_mask": "    from lstm_lab import runners\n"
                                "    return runners.valid_steps(lengths, max_len, 'cpu').squeeze(-1)"},
}


def _submission(released: nbformat.NotebookNode, kind: str) -> nbformat.NotebookNode:
    """The released notebook with this kind of student's answers: the instructor's regions, some replaced."""
    source = nbformat.read(NOTEBOOK_07, as_version=4)
    answers = {student._meta(c)["grade_id"]: c.source for c in source.cells if student.is_solution(c)}
    nb = nbformat.from_dict(released)
    for cell in nb.cells:
        if student.is_solution(cell):
            name = student._meta(cell)["grade_id"]
            if kind == "untouched":
                continue
            body = (SOLUTIONS_07[kind] or {}).get(name)
            cell.source = answers[name] if body is None else answers[name].split("\n")[0] + "\n" + body
    return nb


@pytest.fixture(scope="module")
def graded_07(tmp_path_factory):
    root = tmp_path_factory.mktemp("assign07")
    released = _cli("student", NOTEBOOK_07, "--out", root / "release", cwd=root)  # 1. release
    assert released.returncode == 0, released.stderr
    handed_out = nbformat.read(root / "release" / NOTEBOOK_07.name, as_version=4)
    for kind in (*SOLUTIONS_07, "untouched"):  # 2. each student hands in their copy
        target = root / "submitted" / kind / NOTEBOOK_07.name
        target.parent.mkdir(parents=True)
        nbformat.write(_submission(handed_out, kind), target)
    result = _cli("grade", root / "submitted", "--source", NOTEBOOK_07, "--out", root / "grades", cwd=root)  # 3.
    assert result.returncode == 0, result.stdout + result.stderr
    with open(root / "grades" / "grades.csv", newline="", encoding="utf-8") as f:
        table = list(csv.DictReader(f))
    return handed_out, {(r["student"], r["exercise"]): r for r in table}


def test_notebook_07_is_released_with_its_graded_cells_and_no_solution(graded_07):
    handed_out, _ = graded_07
    text = "\n".join(c.source for c in handed_out.cells)
    assert "BEGIN SOLUTION" not in text and "lengths.unsqueeze(0)  # (T, 1)" not in text
    graded = [student._meta(c)["grade_id"] for c in handed_out.cells if student.is_grade(c)]
    assert graded == ["test_length_mask", "test_last_valid_output_time_major", "test_reverse_final"]


def test_notebook_07_graded_a_correct_student_gets_every_point(graded_07):
    _, table = graded_07
    rows = [r for (who, _), r in table.items() if who == "correct"]
    assert len(rows) == 3 and all(r["points"] == r["max_points"] == "1" and r["diagnosis"] == "" for r in rows)


def test_notebook_07_graded_an_untouched_copy_earns_nothing_and_says_not_yet(graded_07):
    _, table = graded_07
    rows = [r for (who, _), r in table.items() if who == "untouched"]
    assert len(rows) == 3 and all(r["points"] == "0" for r in rows)
    assert all("not implemented yet" in r["diagnosis"] or "not yet" in r["diagnosis"] for r in rows), rows


def test_notebook_07_graded_names_the_mistake_and_the_shortcut(graded_07):
    _, table = graded_07
    off = table[("off_by_one", "length_mask")]
    assert off["points"] == "0" and "one step too many" in off["diagnosis"], off
    assert table[("off_by_one", "reverse_final")]["points"] == "1"  # the other answers still count
    cut = table[("shortcut", "length_mask")]
    assert cut["points"] == "0" and "valid_steps" in cut["diagnosis"], cut


def test_nbgrader_gives_notebook_07_the_same_points(graded_07, nbgrader, tmp_path):
    """The same submissions, autograded by nbgrader as an assignment of its own: each student's total is
    the one `lstm-lab grade` gave."""
    import shutil

    from test_nbgrader_peer import gradebook_scores, peer_env

    handed_out, table = graded_07
    root = tmp_path / "course"
    (root / "source" / "week07").mkdir(parents=True)
    shutil.copy(NOTEBOOK_07, root / "source" / "week07" / NOTEBOOK_07.name)
    shutil.copy(ROOT / "nbgrader_config.py", root / "nbgrader_config.py")
    common = [f"--CourseDirectory.root={root}"]
    generated = subprocess.run([str(nbgrader), "generate_assignment", "week07", *common], capture_output=True,
                               text=True, cwd=root, env=peer_env(nbgrader))
    assert generated.returncode == 0, generated.stdout + generated.stderr
    kinds = (*SOLUTIONS_07, "untouched")
    for kind in kinds:
        target = root / "submitted" / kind / "week07" / NOTEBOOK_07.name
        target.parent.mkdir(parents=True)
        nbformat.write(_submission(handed_out, kind), target)
    graded = subprocess.run([str(nbgrader), "autograde", "week07", "--create", *common], capture_output=True,
                            text=True, cwd=root, env=peer_env(nbgrader))
    assert graded.returncode == 0, graded.stdout + graded.stderr
    scores = gradebook_scores(nbgrader, root / "gradebook.db", "week07", NOTEBOOK_07.stem, kinds)
    ours = {kind: sum(float(r["points"]) for (who, _), r in table.items() if who == kind) for kind in kinds}
    assert ours == {"correct": 3, "off_by_one": 2, "shortcut": 2, "untouched": 0}
    assert scores == ours, f"nbgrader: {scores}"


@pytest.mark.parametrize("path", COURSE, ids=lambda p: p.stem)
def test_a_cell_that_shows_a_mistakes_feedback_does_not_fail_under_grading(path):
    """A notebook's example of a wrong answer (a check's "not yet" shown on purpose) runs through
    ``as_an_example``: under grading a failing check raises, and only the exercises' graded cells may fail."""
    for k, cell in enumerate(nbformat.read(path, as_version=4).cells):
        if cell.cell_type != "code" or student.is_grade(cell):
            continue
        shown = "".join(str(o.get("data", {}).get("text/plain", "")) + str(o.get("text", "")) for o in cell.get("outputs", []))
        if re.search(r"^✗ .+: not yet$", shown, re.M):
            assert "as_an_example(" in cell.source, f"{path.name} cell {k} shows a failing check without as_an_example"
