"""``lstm-lab grade``: submissions in, a table of student x exercise (points and the diagnosed
mistake) and a feedback file per student out, without nbgrader."""

import csv
import os

import pytest

from fake_submissions import NOTEBOOK, POINTS, max_points, nbgrader_layout, write_submissions
from lstm_lab import grade
from test_student import run_cli

# where no sandbox can be made (macOS, no bubblewrap) these tests grade --unsandboxed; test_the_sandbox_is_there
# fails instead when the test command requires every tool (run.sh installs bubblewrap)
NO_SANDBOX = grade.why_no_sandbox()
SANDBOX = ["--unsandboxed"] if NO_SANDBOX else []


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("grading")
    # as nbgrader receives them (its layout and its stub): test_nbgrader_peer gives nbgrader these very
    # submissions and requires the same POINTS
    write_submissions(root / "submitted", layout=nbgrader_layout, stub="nbgrader")
    result = run_cli("grade", root / "submitted", "--out", root / "grades", "--source", NOTEBOOK.parent, *SANDBOX)
    assert result.returncode == 0, result.stderr
    return root, result


def table_of(out):
    with open(out / "grades.csv", newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def rows(root):
    return table_of(root / "grades")


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
    assert "wrote to stderr while its test ran" in table[("stderr", "rnn_step")]["diagnosis"]


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
    again = run_cli("grade", root / "submitted", "--out", root / "grades", "--source", NOTEBOOK.parent, *SANDBOX)
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
    grades = grade.grade_notebook(NOTEBOOK, tmp_path / "cheat" / NOTEBOOK.name, "cheat", options=OPTIONS)
    assert [g.points for g in grades] == [0.0]


def test_a_sandbox_without_lstm_lab_is_an_error_not_a_grade_of_zero(tmp_path, monkeypatch):
    write_submissions(tmp_path / "submitted")
    monkeypatch.setattr(grade, "PREFLIGHT", "import lstm_lab_that_is_not_installed")
    with pytest.raises(grade.GradingError, match="cannot run `import lstm_lab_that_is_not_installed`.*every student get 0"):
        grade.grade(tmp_path / "submitted", tmp_path / "grades", sources=NOTEBOOK.parent, unsandboxed=bool(NO_SANDBOX))
    assert not (tmp_path / "grades").exists()


def test_the_students_code_is_told_it_is_grading(tmp_path):
    """As nbgrader tells its kernel, so that a check raises on an unfinished exercise rather than print "not yet"."""
    import nbformat

    from test_student import graded_cell, notebook, solution_cell

    nb = notebook(solution_cell("### BEGIN SOLUTION\nimport os\ntold = os.environ.get('NBGRADER_EXECUTION')\n"
                                "### END SOLUTION\n", "x"),
                  graded_cell("assert told == 'autograde', told", "test_x"))
    nbformat.write(nb, tmp_path / "told.ipynb")
    grades = grade.grade_notebook(tmp_path / "told.ipynb", tmp_path / "told.ipynb", "me", options=OPTIONS)
    assert [g.points for g in grades] == [1.0], grades


def test_a_folder_name_that_is_not_utf8_is_graded_and_shown_by_its_bytes(tmp_path):
    """An old zip tool may write a student's folder name in Latin-1: the run goes to the end (it used to stop when it
    wrote the name into the table), the table and the feedback show the name by its bytes, and shards merge."""
    write_submissions(tmp_path / "submitted", kinds=["correct"])
    os.rename(tmp_path / "submitted" / "correct", os.fsencode(tmp_path / "submitted") + b"/stud\xe9nt")
    grade.grade(tmp_path / "submitted", tmp_path / "grades", sources=NOTEBOOK.parent, unsandboxed=bool(NO_SANDBOX))
    table = table_of(tmp_path / "grades")
    assert {r["student"] for r in table} == {"stud\\xe9nt"} and max(float(r["points"]) for r in table) > 0
    assert os.listdir(os.fsencode(tmp_path / "grades" / "feedback")) == [b"stud\xe9nt.txt"]
    feedback = tmp_path / "grades" / "feedback" / os.fsdecode(b"stud\xe9nt.txt")
    assert feedback.read_text(encoding="utf-8").startswith("stud\\xe9nt: ")
    grade.merge([tmp_path / "grades"], tmp_path / "merged")
    assert table_of(tmp_path / "merged") == table


OPTIONS = grade.Options(timeout=30, notebook_timeout=120, sandboxed=not NO_SANDBOX)


def test_the_sandbox_is_there_where_every_tool_is_required():
    if os.environ.get("LSTM_LAB_REQUIRE_PEERS") == "1":
        assert NO_SANDBOX is None, f"lstm-lab grade's sandbox is required here: {NO_SANDBOX}"
    elif NO_SANDBOX:
        pytest.skip(NO_SANDBOX)


def test_without_a_sandbox_grade_refuses_unless_told_and_says_what_that_risks(tmp_path, monkeypatch):
    write_submissions(tmp_path / "submitted", kinds=["correct", "wrong"])
    monkeypatch.setattr(grade, "why_no_sandbox", lambda: "bubblewrap (bwrap) is not installed")
    refused = run_cli("grade", tmp_path / "submitted", "--out", tmp_path / "grades", "--source", NOTEBOOK.parent)
    assert refused.returncode == 1 and not (tmp_path / "grades").exists()
    assert "no sandbox for the students' code: bubblewrap (bwrap) is not installed" in refused.stderr
    assert "can read the solution notebooks and hidden tests" in refused.stderr and "--unsandboxed" in refused.stderr
    told = run_cli("grade", tmp_path / "submitted", "--out", tmp_path / "grades", "--source", NOTEBOOK.parent,
                   "--unsandboxed", "--jobs", "1")
    assert told.returncode == 0, told.stderr
    assert "--unsandboxed: each notebook runs as a bare process of yours" in told.stderr
    table = {(r["student"], r["exercise"]): r["points"] for r in rows(tmp_path)}
    assert table[("correct", "rnn_step")] == "1" and table[("wrong", "rnn_step")] == "0"


def test_two_shards_merged_give_the_table_of_one_run(graded, tmp_path):
    root, _ = graded
    parts = []
    for k in (1, 2):
        part = tmp_path / f"part{k}"
        result = run_cli("grade", root / "submitted", "--out", part, "--source", NOTEBOOK.parent, "--shard", f"{k}/2",
                         "--jobs", "1", *SANDBOX)  # one notebook at a time in this process: no workers to start
        assert result.returncode == 0, result.stderr
        parts.append(part)
    shard_students = [{r["student"] for r in table_of(part)} for part in parts]
    assert shard_students[0] and shard_students[1] and not shard_students[0] & shard_students[1]
    assert shard_students[0] | shard_students[1] == set(POINTS)
    merged = run_cli("merge-grades", *parts, "--out", tmp_path / "merged")
    assert merged.returncode == 0, merged.stderr
    one = root / "grades"
    assert (tmp_path / "merged" / "grades.csv").read_bytes() == (one / "grades.csv").read_bytes()
    assert (tmp_path / "merged" / "grades.json").read_bytes() == (one / "grades.json").read_bytes()
    for path in (one / "feedback").iterdir():
        assert (tmp_path / "merged" / "feedback" / path.name).read_bytes() == path.read_bytes(), path.name
    assert sorted(p.name for p in (tmp_path / "merged" / "feedback").iterdir()) == \
        sorted(p.name for p in (one / "feedback").iterdir())
    incomplete = run_cli("merge-grades", parts[0], "--out", tmp_path / "half")
    assert incomplete.returncode == 1 and "expected shards 1 to 2 once each; given [1] (missing [2])" in incomplete.stderr


@pytest.mark.parametrize("args, says", [
    (["--shard", "3/2"], "--shard takes K/N with 1 <= K <= N (this machine grades shard K of N), got '3/2'"),
    (["--jobs", "0"], "expected a whole number above 0, got '0'"),
    (["--timeout", "soon"], "expected a number of seconds above 0, got 'soon'"),
])
def test_bad_options_say_what_was_expected_and_what_was_given(tmp_path, args, says):
    write_submissions(tmp_path / "submitted", kinds=["correct"])
    result = run_cli("grade", tmp_path / "submitted", "--out", tmp_path / "grades", "--source", NOTEBOOK.parent,
                     *SANDBOX, *args)
    assert result.returncode != 0 and says in result.stderr, result.stderr
    assert not (tmp_path / "grades").exists()


def test_the_grader_shows_its_progress(graded):
    _, result = graded
    assert f"graded {len(POINTS)} of {len(POINTS)} students" in result.stderr and "left" in result.stderr


# ---------------------------------------------------------------- what crosses the channel to the sandbox
BIDIRECTIONAL = NOTEBOOK.parent / "04_bidirectional.ipynb"
CHANNEL_CASES = {  # student: (notebook, the solution cell, points, what the diagnosis says)
    "reverse_shortcut": (BIDIRECTIONAL, (
        "def bidirectional_rnn(x, weights_fwd, weights_bwd):\n"
        "    h0 = x.new_zeros(x.shape[1], weights_fwd['weight_hh'].shape[1])\n"
        "    out_f, h_f = run_layer('RNN', x, h0, weights_fwd)\n"
        "    out_b, h_b = run_layer('RNN', x, h0, weights_bwd, reverse=True)\n"
        "    return torch.cat([out_f, out_b], dim=-1), torch.stack([h_f, h_b])\n"),
        0, "`lstm_lab.runners.run_layer(reverse=True)`, which is not allowed"),
    "detached": (NOTEBOOK, (
        "def rnn_step(x, h_prev, weight_ih, weight_hh, bias_ih, bias_hh):\n"
        "    return torch.tanh(x @ weight_ih.T + bias_ih + h_prev @ weight_hh.T + bias_hh).detach()\n"),
        0, "the numbers are right, but on"),
    "in_place": (NOTEBOOK, (
        "def rnn_step(x, h_prev, weight_ih, weight_hh, bias_ih, bias_hh):\n"
        "    h = torch.tanh(x @ weight_ih.T + bias_ih + h_prev @ weight_hh.T + bias_hh)\n"
        "    h_prev.zero_()\n"
        "    return h\n"),
        0, "your function changed its argument h_prev in place"),
}


@pytest.fixture(scope="module")
def through_the_channel(tmp_path_factory):
    """The reference answers of all five assignments submitted by one student (their checks need gradients
    through the sandbox, torch's random state, dicts, named tuples and the handed-out run_layer), and three
    students whose mistakes only show through what crosses the channel."""
    import shutil

    import nbformat

    from fake_submissions import planted_submission
    from lstm_lab import student

    root = tmp_path_factory.mktemp("channel")
    (root / "submitted" / "teacher").mkdir(parents=True)
    for path in sorted(NOTEBOOK.parent.glob("*.ipynb")):
        shutil.copy(path, root / "submitted" / "teacher" / path.name)
    for name, (notebook, source, _, _) in CHANNEL_CASES.items():
        nb = student.student_version(nbformat.read(notebook, as_version=4)) if notebook != NOTEBOOK else \
            planted_submission(source)
        for cell in nb.cells:
            if student.is_solution(cell):
                cell.source = source
        (root / "submitted" / name).mkdir()
        nbformat.write(nb, root / "submitted" / name / notebook.name)
    result = run_cli("grade", root / "submitted", "--out", root / "grades", "--source", NOTEBOOK.parent, *SANDBOX)
    assert result.returncode == 0, result.stderr
    return {(r["student"], r["notebook"]): r for r in rows(root)}, {(r["student"], r["exercise"]): r for r in rows(root)}


def test_the_reference_answers_get_every_point_through_the_channel(through_the_channel):
    _, by_exercise = through_the_channel
    mine = {exercise: r for (student_, exercise), r in by_exercise.items() if student_ == "teacher"}
    assert len(mine) == 7
    for exercise, row in mine.items():
        assert row["points"] == row["max_points"] and row["diagnosis"] == "", row


@pytest.mark.parametrize("name", CHANNEL_CASES)
def test_mistakes_seen_only_through_the_channel_are_named(through_the_channel, name):
    by_notebook, _ = through_the_channel
    notebook, _, points, says = CHANNEL_CASES[name]
    row = by_notebook[(name, notebook.name)]
    assert float(row["points"]) == points and says in row["diagnosis"], row


def test_a_notebook_past_its_time_limit_scores_0_and_says_so(tmp_path):
    """Each call is within the time of a cell, the calls together are not within the notebook's."""
    import nbformat

    from test_student import graded_cell, notebook, solution_cell

    nb = notebook(solution_cell("### BEGIN SOLUTION\nimport time\ndef slow():\n    time.sleep(2)\n    return 1\n"
                                "### END SOLUTION\n", "slow"),
                  graded_cell("for _ in range(8):\n    assert slow() == 1", "test_slow"))
    nbformat.write(nb, tmp_path / "slow.ipynb")
    options = grade.Options(timeout=5, notebook_timeout=8, sandboxed=not NO_SANDBOX)
    graded, = grade.grade_notebook(tmp_path / "slow.ipynb", tmp_path / "slow.ipynb", "me", options=options)
    assert graded.points == 0 and not graded.graded
    assert graded.diagnosis == "could not be graded: ran past 8 s (the time limit of a notebook)", graded
