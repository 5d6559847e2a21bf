"""The student edition of the whole course (``student/``), made from the notebooks by
``lstm-lab student notebooks --out student``: committed, so ``bash run.sh lab`` opens it on a fresh
clone, and checked here to be exactly what the command makes. It holds every notebook, every
exercise as a stub, no solution and no hidden test; run top to bottom as JupyterLab's Run All runs
it, each course notebook reaches its last cell with every exercise reported "not yet", and each
assignment's graded cells fail naming their exercise. After trying, ``lstm-lab answer NAME`` shows
the reference answer."""

import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from installed_env import KERNEL
from lstm_lab import student
from test_student import run_cli

ROOT = Path(__file__).resolve().parents[1]
EDITION = ROOT / "student"
COURSE = sorted(p.relative_to(ROOT / "notebooks") for p in (ROOT / "notebooks").rglob("*.ipynb")
                if ".ipynb_checkpoints" not in p.parts)
REGENERATE = "regenerate it: .venv/bin/lstm-lab student notebooks --out student --force"


@pytest.fixture(scope="module")
def fresh(tmp_path_factory):
    out = tmp_path_factory.mktemp("edition") / "student"
    result = run_cli("student", ROOT / "notebooks", "--out", out)
    assert result.returncode == 0, result.stderr
    return out


def test_the_committed_edition_is_what_the_command_makes(fresh):
    made = sorted(p.relative_to(fresh) for p in fresh.rglob("*.ipynb"))
    committed = sorted(p.relative_to(EDITION) for p in EDITION.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
    assert made == COURSE, "every notebook of the course has its student version"
    assert committed == made, f"student/ lists other notebooks than the course: {REGENERATE}"
    stale = [str(p) for p in made if (EDITION / p).read_bytes() != (fresh / p).read_bytes()]
    assert not stale, f"student/ differs from the notebooks for {', '.join(stale)}: {REGENERATE}"


@pytest.mark.parametrize("relative", COURSE, ids=str)
def test_no_solution_no_hidden_test_and_no_output_reaches_the_student(relative):
    text = (EDITION / relative).read_text()
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "worked answer"):
        assert marker not in text
    nb = nbformat.read(EDITION / relative, as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")
    stubs = {student._meta(c)["grade_id"]: c.source for c in nb.cells if student.is_solution(c)}
    source = nbformat.read(ROOT / "notebooks" / relative, as_version=4)
    for name in student.exercise_names(source):  # a function raises naming its exercise; a value is None
        assert (f'raise NotImplementedError("{name}: not implemented yet")' in stubs[name]
                or re.search(r"^# YOUR CODE HERE\n(\w+ = None(\n|$))+", stubs[name], re.M)), stubs[name]


def reported(nb) -> tuple[list[str], list[str]]:
    """(exercises reported as not implemented, every other error) of an executed notebook."""
    names, others = [], []
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            text = output.get("text", "") or output.get("data", {}).get("text/plain", "")
            names += re.findall(r"\((\w+): not implemented yet\)", text)
            if output.output_type == "error":
                stub = re.fullmatch(r"(\w+): not implemented yet", output.evalue)
                graded = re.findall(r"\((\w+): not implemented yet\)", output.evalue)  # a grading cell's verdict
                if output.ename == "NotImplementedError" and stub:
                    names.append(stub.group(1))
                elif output.ename == "ExerciseFailed" and graded:
                    names += graded
                else:
                    others.append(f"cell {index}: {output.ename}: {output.evalue}")
    return names, others


WHICH_LSTM_LAB = "import lstm_lab; print(lstm_lab.__file__)"  # appended: which package the kernel imported


def shown(cell) -> str:
    return "".join(o.get("text", "") + o.get("data", {}).get("text/plain", "") for o in cell.get("outputs", []))


def exercise_outputs(nb) -> dict[str, str]:
    """What each exercise's cell and the code cells after it (its checks) print, up to the next text or
    exercise, by exercise name."""
    outputs, name = {}, None
    for cell in nb.cells:
        if student.is_solution(cell):
            name = student._meta(cell)["grade_id"]
        elif cell.cell_type != "code":
            name = None
        if name is not None:
            outputs[name] = outputs.get(name, "") + shown(cell)
    return outputs


@pytest.mark.parametrize("relative", COURSE, ids=str)
def test_run_top_to_bottom_each_exercise_is_reported_by_name_and_nothing_else_fails(relative, installed, monkeypatch):
    """Each notebook of the student edition, run top to bottom as a student on Colab or a JupyterHub image
    runs it: in the kernel of lstm_lab installed from its wheel (the `installed` fixture), not the clone's.
    A course notebook runs as Run All does, stopping at the first error (no allow_errors): it must reach
    its last cell, each exercise's check saying "not yet". An assignment's graded cells fail, as nbgrader
    wants them to. This is the student edition's one execution per test run."""
    assignment = relative.parts[0] == "exercises"
    nb = nbformat.read(EDITION / relative, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(WHICH_LSTM_LAB))
    monkeypatch.setenv("JUPYTER_PATH", str(installed.jupyter))  # where the installed kernel's spec is
    NotebookClient(nb, timeout=300, allow_errors=assignment, kernel_name=KERNEL,
                   resources={"metadata": {"path": str((EDITION / relative).parent)}}).execute()
    imported = nb.cells.pop().outputs[0].text.strip()  # run, so Run All reached the end
    assert Path(imported).is_relative_to(installed.bin_dir.parent), f"the kernel imported {imported}"
    expected = student.exercise_names(nbformat.read(ROOT / "notebooks" / relative, as_version=4))
    if assignment:
        names, others = reported(nb)
        assert not others, f"{relative}: cells other than the exercises fail in the student edition: {others}"
        assert sorted(set(names)) == sorted(expected), f"{relative}: reported {names}, exercises {expected}"
        graded_cells_say_not_yet(nb, expected)
        return
    verdicts = exercise_outputs(nb)
    for name in expected:  # each exercise's check names it and says "not yet"
        assert re.search(r"^✗ .+: not yet$", verdicts[name], re.M), f"{relative}, {name}: {verdicts[name]!r}"
        stub = re.findall(r"\((\w+): not implemented yet\)", verdicts[name])
        assert set(stub) <= {name}, f"{relative}, {name}: a function's stub names its exercise: {stub}"


def graded_cells_say_not_yet(nb, exercises):
    """An assignment's graded cells, while its exercises are stubs: each fails with a check that names its
    exercise ("✗ rnn_step: not yet ... is not implemented yet"), shown without lstm_lab's traceback."""
    errors, shown = [], []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.output_type == "error":
                errors.append(out)
            else:
                shown.append(out.get("text", "") + out.get("data", {}).get("text/plain", ""))
    assert errors, "the graded cells should fail while the exercises are stubs"
    for error in errors:  # every failure is a check naming an exercise, never a crash elsewhere
        assert error.ename == "ExerciseFailed", f"{error.ename}: {error.evalue}"
        named = re.match(r"✗ (\w+): not yet", error.evalue)
        assert named and named.group(1) in exercises, error.evalue
        assert error.traceback[0].startswith("ExerciseFailed: ✗"), "shown without lstm_lab's traceback"
    for name in exercises:
        assert any(f"{name} is not implemented yet" in e.evalue for e in errors), name
        assert any(f"✗ {name}: not yet" in text and f"{name} is not implemented yet" in text for text in shown), name


def test_an_answer_is_shown_after_trying_and_not_before(tmp_path):
    mine = tmp_path / "student"
    assert run_cli("student", ROOT / "notebooks", "--out", mine).returncode == 0
    with pytest.raises(student.NotTriedYet, match="rnn_step: try it first"):
        student.reference_answer("rnn_step", student=mine)
    path = mine / "exercises" / "01_rnn_step.ipynb"
    nb = nbformat.read(path, as_version=4)
    cell = next(c for c in nb.cells if student.is_solution(c))
    cell.source = cell.source.replace('raise NotImplementedError("rnn_step: not implemented yet")', "return x")
    nbformat.write(nb, path)
    (found_path, source), = student.reference_answer("rnn_step", student=mine)
    assert found_path.name == "01_rnn_step.ipynb" and "return torch.tanh(x @ weight_ih.T" in source
    assert student.reference_answer("rnn_step", student=mine, anyway=True)
    with pytest.raises(LookupError, match="no exercise named 'rnn_stpe'; the exercises are: .*rnn_step"):
        student.reference_answer("rnn_stpe", student=mine)


def test_the_answer_command_refuses_before_trying_and_lists_the_exercises():
    before = run_cli("answer", "gru_step")
    assert before.returncode == 1 and "gru_step: try it first" in before.stderr and "def " not in before.stdout
    value = run_cli("answer", "forget_bias_reach")  # a value exercise's stub: its answer is still None
    assert value.returncode == 1 and "still holds `forget_bias = None`" in value.stderr and not value.stdout
    anyway = run_cli("answer", "gru_step", "--anyway")
    assert anyway.returncode == 0 and "notebooks/12_gru.ipynb" in anyway.stdout
    listed = run_cli("answer")
    assert listed.returncode == 0 and re.search(r"^gru_step +notebooks/12_gru.ipynb$", listed.stdout, re.M)


def test_one_name_per_exercise_across_the_course():
    """A name found twice must be the same exercise: the same check in both notebooks."""
    names = {}
    for name, path in student.all_exercises():
        names.setdefault(name, []).append(path.name)
    twice = {n: p for n, p in names.items() if len(p) > 1}
    assert twice == {"lstm_step_backward": ["09_bptt.ipynb", "05_lstm_step_backward.ipynb"]}


def test_run_sh_lab_opens_the_student_edition():
    script = (ROOT / "run.sh").read_text()
    opened = re.findall(r"--LabApp\.default_url=/lab/tree/(\S+)", script)
    assert opened == ["student/00_start_here.ipynb"] and (ROOT / opened[0]).is_file()


def test_an_unfinished_exercise_says_not_yet_and_raises_only_under_grading(installed, monkeypatch):
    """One untouched course notebook, a function exercise and a value exercise in it. Run by a student,
    each check prints "not yet" and the notebook goes on to its end; run by a grader (nbgrader sets
    NBGRADER_EXECUTION while it autogrades or validates, `lstm-lab grade` too), the same cells raise
    ExerciseFailed, so an unfinished exercise earns no points."""
    relative = "12_gru.ipynb"
    exercises = ["gru_step", "gru_candidate_by_hand"]
    path = EDITION / relative
    monkeypatch.setenv("JUPYTER_PATH", str(installed.jupyter))  # the kernel of lstm_lab installed from its wheel

    def run(**env):
        monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        nb = nbformat.read(path, as_version=4)
        nb.cells.append(nbformat.v4.new_code_cell("print('the end')"))
        NotebookClient(nb, timeout=300, allow_errors=bool(env), kernel_name=KERNEL,
                       resources={"metadata": {"path": str(path.parent)}}).execute()
        # each exercise's check: the autograded cell right after its solution cell
        return nb, {student._meta(c)["grade_id"]: nb.cells[k + 1] for k, c in enumerate(nb.cells)
                    if student.is_solution(c) and student.is_grade(nb.cells[k + 1])}

    nb, cells = run()  # no allow_errors: an error anywhere fails the test
    assert sorted(cells) == sorted(exercises) and shown(nb.cells[-1]) == "the end\n"
    for name, cell in cells.items():  # each exercise's graded cell runs its check
        assert re.search(r"^✗ .+: not yet$", shown(cell), re.M), name

    nb, cells = run(NBGRADER_EXECUTION="autograde")
    for name, cell in cells.items():
        errors = [o for o in cell.outputs if o.output_type == "error"]
        assert [e.ename for e in errors] == ["ExerciseFailed"], name
        assert re.match(r"✗ .+: not yet", errors[0].evalue), errors[0].evalue
    assert not [c for c in nb.cells if c not in cells.values()
                for o in c.get("outputs", []) if o.output_type == "error"], "only the exercises' graded cells fail"
