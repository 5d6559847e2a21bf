"""`lstm-lab student`: student versions that leak nothing, run, and are written all or nothing."""

import contextlib
import io
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import nbformat
from regions import solution_lines
import pytest

from lstm_lab import cli, student

ROOT = Path(__file__).resolve().parents[1]
EXERCISES = sorted((ROOT / "notebooks" / "exercises").glob("*.ipynb"))
IDS = [p.name for p in EXERCISES]


def run_cli(*args):
    """``lstm-lab ARGS`` in this process (fast); ``run_command`` below runs the real command once."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = cli.main([str(a) for a in args])
        except SystemExit as exit_:  # argparse's usage errors
            code = exit_.code
    return subprocess.CompletedProcess(args, code, out.getvalue(), err.getvalue())


def run_command(*args):
    return subprocess.run([sys.executable, "-m", "lstm_lab.cli", *map(str, args)], capture_output=True, text=True,
                          cwd=ROOT)


def regions(source: str, begin: str, end: str) -> list[str]:
    """The lines strictly inside begin..end regions, stripped, blank ones left out."""
    return [line.strip() for line in solution_lines(source, begin, end) if line.strip()]


def outside(source: str, *pairs) -> list[str]:
    lines = source.split("\n")
    for begin, end in pairs:
        kept, inside = [], False
        for line in lines:
            if begin in line:
                inside = True
            elif end in line:
                inside = False
            elif not inside:
                kept.append(line)
        lines = kept
    return [line.strip() for line in lines]


@pytest.fixture(scope="module")
def released(tmp_path_factory):
    out = tmp_path_factory.mktemp("release")
    result = run_cli("student", *EXERCISES, "--out", out)
    assert result.returncode == 0, result.stderr
    return out


def test_there_are_exercise_notebooks_with_solutions_and_hidden_tests():
    assert len(EXERCISES) >= 5
    names = [name for path in EXERCISES for name in student.exercise_names(nbformat.read(path, as_version=4))]
    for required in ("rnn_step", "lstm_step", "init_lstm_params", "lstm_forward", "last_valid_output",
                     "bidirectional_rnn", "lstm_step_backward"):
        assert required in names
    for path in EXERCISES:
        text = path.read_text()
        assert "### BEGIN SOLUTION" in text and "### BEGIN HIDDEN TESTS" in text, path.name


@pytest.mark.parametrize("path", EXERCISES, ids=IDS)
def test_no_solution_line_and_no_hidden_test_reaches_the_student(path, released):
    source = nbformat.read(path, as_version=4)
    version = nbformat.read(released / path.name, as_version=4)
    pairs = (("BEGIN SOLUTION", "END SOLUTION"), ("BEGIN HIDDEN TESTS", "END HIDDEN TESTS"))
    secret = [line for cell in source.cells for begin, end in pairs for line in regions(cell.source, begin, end)]
    assert secret, "the notebook has no solution and no hidden test"
    public = [line for cell in source.cells for line in outside(cell.source, *pairs)]
    given = [line.strip() for cell in version.cells for line in cell.source.split("\n")]
    for line in secret:
        # a line may appear in the student version only as often as it appears outside every region
        assert given.count(line) <= public.count(line), f"leaked: {line!r}"
    text = (released / path.name).read_text()
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"):
        assert marker not in text


@pytest.mark.parametrize("path", EXERCISES, ids=IDS)
def test_valid_notebook_without_outputs_with_named_stubs_and_nbgrader_metadata(path, released):
    version = nbformat.read(released / path.name, as_version=4)
    nbformat.validate(version)
    assert version.metadata["kernelspec"]["name"] == "python3"
    source = nbformat.read(path, as_version=4)
    assert [c.id for c in version.cells] == [c.id for c in source.cells]
    for cell in version.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
        meta = cell.metadata.get("nbgrader")
        if meta is None:
            continue
        assert meta["schema_version"] == 3 and meta["checksum"] == student.checksum(cell)
        assert meta["cell_type"] == cell.cell_type
        if meta["solution"]:
            assert cell.metadata["deletable"] is False and "editable" not in cell.metadata
            assert f'raise NotImplementedError("{meta["grade_id"]}: not implemented yet")' in cell.source
            assert "# YOUR CODE HERE" in cell.source
        if meta["grade"]:
            assert cell.metadata["deletable"] is False and cell.metadata["editable"] is False
            assert meta["locked"] is True and meta["points"] > 0


# Executed, the released notebooks name every missing exercise and nothing else fails: the committed student
# edition holds these very notebooks (test_student_edition checks the bytes) and runs each of them once
# (test_student_edition.test_run_top_to_bottom_..., with graded_cells_say_not_yet for the assignments).


def test_the_same_input_gives_the_same_bytes(released, tmp_path):
    again = run_cli("student", *EXERCISES, "--out", tmp_path)
    assert again.returncode == 0, again.stderr
    for path in EXERCISES:
        assert (tmp_path / path.name).read_bytes() == (released / path.name).read_bytes()


def test_twice_into_an_existing_folder_refuses_then_overwrites_with_force(tmp_path):
    source = EXERCISES[0]
    first = run_command("student", source, "--out", tmp_path)  # as an instructor types it
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip().endswith("(1 exercise: rnn_step)")
    target = tmp_path / source.name
    target.write_text(target.read_text() + " ")  # a student's (or an instructor's) edit
    edited = target.read_bytes()

    again = run_command("student", source, "--out", tmp_path)
    assert again.returncode == 1
    assert "already exists: pass --force to overwrite" in again.stderr and "nothing written" in again.stderr
    assert target.read_bytes() == edited

    forced = run_cli("student", source, "--out", tmp_path, "--force")
    assert forced.returncode == 0, forced.stderr
    fresh = tmp_path / "fresh"
    assert run_cli("student", source, "--out", fresh).returncode == 0
    assert target.read_bytes() == (fresh / source.name).read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([source.name, "fresh"])  # no temporary files


def test_one_existing_target_means_nothing_is_written(tmp_path):
    (tmp_path / EXERCISES[1].name).write_text("mine")
    result = run_cli("student", EXERCISES[0], EXERCISES[1], "--out", tmp_path)
    assert result.returncode == 1
    assert not (tmp_path / EXERCISES[0].name).exists()
    assert (tmp_path / EXERCISES[1].name).read_text() == "mine"


def test_a_folder_stands_for_its_notebooks_and_an_output_inside_it_is_refused(tmp_path):
    course = tmp_path / "course"
    course.mkdir()
    for path in EXERCISES:
        (course / path.name).write_bytes(path.read_bytes())
    result = run_cli("student", course, "--out", tmp_path / "release")
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / "release").iterdir()) == IDS
    for out in (course / "release", course, course / "deeper" / "still"):
        inside = run_cli("student", course, "--out", out, "--force")
        assert inside.returncode == 1
        assert "is inside the source tree" in inside.stderr and "nothing written" in inside.stderr
    assert not (course / "release").exists() and not (course / "deeper").exists()
    one = run_cli("student", course / EXERCISES[0].name, "--out", course / "out")  # a notebook's own folder
    assert one.returncode == 1 and "is inside the source tree" in one.stderr


def test_a_notebook_that_holds_solutions_is_never_overwritten_even_with_force(tmp_path):
    solutions = tmp_path / "solutions"  # an instructor's own copy, where they point --out by mistake
    solutions.mkdir()
    target = solutions / EXERCISES[0].name
    target.write_bytes(EXERCISES[0].read_bytes())
    result = run_cli("student", EXERCISES[0], "--out", solutions, "--force")
    assert result.returncode == 1
    assert "holds solutions" in result.stderr and "not even with --force" in result.stderr
    assert target.read_bytes() == EXERCISES[0].read_bytes()


def test_the_cli_names_the_same_stubs_as_student():
    from lstm_lab import cli

    assert cli.STUBS == student.STUBS


def test_help_answers_without_importing_torch():
    code = "import sys, lstm_lab.cli; sys.exit(('torch' in sys.modules) + 2 * ('nbformat' in sys.modules))"
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0
    result = run_cli("--help")
    assert result.returncode == 0 and "student" in result.stdout


# ---------------------------------------------------------------- bad sources: every problem, nothing written
def notebook(*cells) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    nb.cells = list(cells)
    for k, cell in enumerate(nb.cells):
        cell.id = f"c{k}"
    return nb


def solution_cell(source, grade_id="f"):
    return nbformat.v4.new_code_cell(source, metadata={"nbgrader": {
        "grade": False, "grade_id": grade_id, "locked": False, "schema_version": 3, "solution": True}})


def graded_cell(source, grade_id="t", points=1):
    meta = {"grade": True, "grade_id": grade_id, "locked": True, "schema_version": 3, "solution": False}
    if points is not None:
        meta["points"] = points
    return nbformat.v4.new_code_cell(source, metadata={"nbgrader": meta})


GOOD = "def f(x):\n    ### BEGIN SOLUTION\n    return x + 1\n    ### END SOLUTION\n"
BROKEN = {
    "region in a plain cell": (notebook(nbformat.v4.new_code_cell(GOOD), solution_cell(GOOD, "g")),
                               "cell 0: a solution region needs a solution cell"),
    "no end": (notebook(solution_cell("### BEGIN SOLUTION\nx = 1")), "'BEGIN SOLUTION' without 'END SOLUTION'"),
    "nested": (notebook(solution_cell("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION")),
               "a nested 'BEGIN SOLUTION'"),
    "hidden tests in a solution cell": (notebook(solution_cell(GOOD + "### BEGIN HIDDEN TESTS\n### END HIDDEN TESTS")),
                                        "hidden tests need an autograded test cell"),
    "duplicate id": (notebook(solution_cell(GOOD), solution_cell(GOOD)), "grade_id 'f' is used twice"),
    "no points": (notebook(solution_cell(GOOD), graded_cell("assert f(1) == 2", points=None)),
                  "a graded cell needs points"),
    "no solution at all": (notebook(nbformat.v4.new_code_cell("x = 1")), "has no solution cells"),
}


@pytest.mark.parametrize("name", BROKEN)
def test_a_broken_source_is_refused_with_its_reason_and_nothing_is_written(name, tmp_path):
    nb, reason = BROKEN[name]
    bad = tmp_path / "bad.ipynb"
    nbformat.write(nb, bad)
    out = tmp_path / "out"
    result = run_cli("student", EXERCISES[0], bad, "--out", out)
    assert result.returncode == 1
    assert reason in result.stderr and str(bad) in result.stderr
    assert not out.exists()


def test_missing_files_other_files_and_clashing_names_are_all_reported_at_once(tmp_path):
    other = tmp_path / "elsewhere"
    other.mkdir()
    clash = other / EXERCISES[0].name
    clash.write_bytes(EXERCISES[0].read_bytes())
    text_file = tmp_path / "notes.txt"
    text_file.write_text("hello")
    result = run_cli("student", EXERCISES[0], clash, tmp_path / "missing.ipynb", text_file, "--out", tmp_path / "o")
    assert result.returncode == 1
    assert "has the same name as" in result.stderr
    assert "missing.ipynb: no such file" in result.stderr
    assert "notes.txt: not a notebook" in result.stderr
    assert not (tmp_path / "o").exists()


def test_nbgrader_stub_option_and_stub_placement():
    nb = notebook(solution_cell("def f(x):\n    ### BEGIN SOLUTION\n    return x + 1\n    ### END SOLUTION\n"
                                "    # after"),
                  solution_cell("answer = 42", "whole"))
    named = student.student_version(nb)
    assert named.cells[0].source == ('def f(x):\n    # YOUR CODE HERE\n'
                                     '    raise NotImplementedError("f: not implemented yet")\n    # after')
    assert named.cells[1].source == '# YOUR CODE HERE\nraise NotImplementedError("whole: not implemented yet")'
    plain = student.student_version(nb, stub="nbgrader")
    assert plain.cells[0].source == "def f(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()\n    # after"
    assert nb.cells[0].source.count("BEGIN SOLUTION") == 1, "the source notebook is left as it was"


def test_a_value_exercise_starts_as_none_so_its_check_runs():
    """A top-level region that assigns the answer its check reads becomes that name set to None (a raise
    there would stop Run All); helpers it assigns on the way, and names assigned in a loop or by
    subscript, are no answers. nbgrader's own stub stays nbgrader's."""
    value = ("setup = 1\n### BEGIN SOLUTION\nz = setup + 1\nfor k in range(2):\n    z = z + k\nanswer_2 = z * 2\n"
             "table[0] = 3\n### END SOLUTION\ncheck(answer_2)")
    nb = notebook(solution_cell(value, "value"), solution_cell("### BEGIN SOLUTION\nhelper = 1\n### END SOLUTION\n"
                                                               "check(other)", "unread"))
    named = student.student_version(nb)
    assert named.cells[0].source == "setup = 1\n# YOUR CODE HERE\nanswer_2 = None\ncheck(answer_2)"
    assert named.cells[1].source == ('# YOUR CODE HERE\nraise NotImplementedError("unread: not implemented yet")\n'
                                     "check(other)"), "an answer the check does not read is no value exercise"
    plain = student.student_version(nb, stub="nbgrader")
    assert plain.cells[0].source == "setup = 1\n# YOUR CODE HERE\nraise NotImplementedError()\ncheck(answer_2)"
    assert student.answer_names("a, (b, c) = 1, (2, 3)\nd: int = 4\ne += 1", "check(a, c, d, e)") == ["a", "c", "d", "e"]


def test_the_command_is_declared_and_lstm_lab_does_not_need_nbgrader():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert pyproject["project"]["scripts"]["lstm-lab"] == "lstm_lab.cli:main"
    assert callable(cli.main)
    probe = subprocess.run([sys.executable, "-c", "import sys, lstm_lab.cli, lstm_lab.student, "
                            "lstm_lab.checks.exercises; print('nbgrader' in sys.modules)"],
                           capture_output=True, text=True)
    assert probe.stdout.strip() == "False", probe.stderr
    for path in (ROOT / "lstm_lab").rglob("*.py"):
        assert not re.search(r"^\s*(import|from)\s+nbgrader", path.read_text(), re.M), path


def test_usage_without_a_command():
    result = run_cli()
    assert result.returncode == 2 and "student" in result.stderr
