"""``lstm-lab grade``: every submitted notebook run with its hidden tests, without nbgrader.

Submissions are a folder per student (nbgrader's ``submitted/<student>/<assignment>/`` works
too: every notebook under a student's folder counts), each holding notebooks named like the
solution notebooks in ``notebooks/exercises``. A submission is graded as nbgrader would grade
it, and cannot change its tests:

1. the instructor's solution notebook is the frame: its graded test cells, hidden tests
   included, and every other cell stay as the instructor wrote them;
2. each of its solution cells (by ``grade_id``) gets the student's cell source; an exercise
   the student's notebook lacks becomes the stub (not submitted);
3. the notebook runs top to bottom (errors allowed, each cell timed out); a graded cell earns its
   points when it raises nothing, else 0, and the first line of its message is the diagnosed
   mistake (the checks name it: a gate reading another gate's matrix, a shortcut called, ...).

Written: ``grades.csv`` (one row per student and exercise: points, out of, the diagnosis) and
``feedback/<student>.txt`` (every exercise's full message).
"""

from __future__ import annotations

import copy
import csv
import os
import re
from dataclasses import dataclass
from pathlib import Path

import nbformat

from .student import COURSE_MARK, CourseNotFound, _meta, find_course, is_grade, is_solution, named_stub

GRADING = "NBGRADER_EXECUTION"  # what nbgrader sets for its kernels, and lstm_lab.checks.core.grading reads
PREFLIGHT = "import torch, lstm_lab, lstm_lab.checks"  # what every exercise notebook needs from its kernel
COLUMNS = ("student", "notebook", "exercise", "points", "max_points", "diagnosis")


class GradingError(ValueError):
    """The submissions or the output folder cannot be graded as given; the message says why."""


@dataclass
class Grade:
    student: str
    notebook: str
    exercise: str
    points: float
    max_points: float
    diagnosis: str  # "" when right
    message: str  # the whole message, for the feedback file


def _exercise_of(test_cell) -> str:
    grade_id = _meta(test_cell)["grade_id"]
    return grade_id[len("test_"):] if grade_id.startswith("test_") else grade_id


def _errors(cell) -> list[str]:
    return [f"{o.ename}: {o.evalue}" for o in cell.get("outputs", []) if o.output_type == "error"]


def _diagnosis(message: str) -> str:
    """The line that names the mistake: the first line of a check's message after its heading."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    if lines and re.match(r"^ExerciseFailed: ✗ .*: not yet$", lines[0]) and len(lines) > 1:
        lines = lines[1:]
    if len(lines) > 1 and lines[0].endswith(":"):  # "on <case>:" / "for lengths ...:" + what happened
        return f"{lines[0]} {lines[1]}"
    return lines[0] if lines else ""


def merged(source: nbformat.NotebookNode, submitted: nbformat.NotebookNode | None) -> nbformat.NotebookNode:
    """The instructor's notebook with the student's answers in its solution cells."""
    answers = {}
    for cell in (submitted.cells if submitted is not None else []):
        if is_solution(cell):
            answers[_meta(cell)["grade_id"]] = cell.source
    nb = copy.deepcopy(source)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        if is_solution(cell):
            grade_id = _meta(cell)["grade_id"]
            cell.source = answers.get(grade_id, named_stub(grade_id))
    return nb


def grading_env() -> dict[str, str]:
    """The environment of a grading kernel: this process's, with ``NBGRADER_EXECUTION`` set as
    nbgrader sets it during autograde."""
    return {**os.environ, GRADING: "autograde"}


def grade_notebook(source_path: Path, submitted_path: Path | None, student: str, *, timeout: int = 120,
                   kernel: str = "python3") -> list[Grade]:
    from nbclient import NotebookClient

    source = nbformat.read(source_path, as_version=4)
    submitted = nbformat.read(submitted_path, as_version=4) if submitted_path is not None else None
    nb = merged(source, submitted)
    if submitted is not None:
        # the kernel is told it is grading, as nbgrader tells it: the checks then raise on an unfinished answer
        NotebookClient(nb, timeout=timeout, allow_errors=True, kernel_name=kernel,
                       resources={"metadata": {"path": str(source_path.parent)}}).execute(env=grading_env())
    solution_errors = {_meta(c)["grade_id"]: _errors(c) for c in nb.cells if is_solution(c)}
    grades = []
    for cell in nb.cells:
        if not (is_grade(cell) and cell.cell_type == "code"):
            continue
        exercise, points = _exercise_of(cell), float(_meta(cell).get("points", 0))
        if submitted is None:
            message = "not submitted"
        else:
            message = "\n".join(solution_errors.get(exercise, []) + _errors(cell))
        ok = submitted is not None and not _errors(cell)
        grades.append(Grade(student, source_path.name, exercise, points if ok else 0.0, points,
                            "" if ok else _diagnosis(message), "" if ok else message))
    return grades


def preflight(kernel: str = "python3", timeout: int = 120) -> None:
    """Refuse to grade in a kernel that cannot import lstm_lab and torch: there every notebook
    would fail its first cell and every student would get 0, silently."""
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(PREFLIGHT)]
    try:
        NotebookClient(nb, timeout=timeout, allow_errors=True, kernel_name=kernel).execute()
    except Exception as error:  # no such kernel, a kernel that dies: grading cannot start
        raise GradingError(f"the kernel {kernel!r} does not start ({type(error).__name__}: {error})") from None
    failed = _errors(nb.cells[0])
    if failed:
        raise GradingError(f"the kernel {kernel!r} cannot run `{PREFLIGHT}` ({failed[0]}): every notebook would "
                           "fail its first cell and every student get 0. Grade in the environment lstm_lab is "
                           "installed in (.venv/bin/lstm-lab grade ...)")


def _students(submissions: Path) -> list[Path]:
    return sorted(p for p in submissions.iterdir() if p.is_dir() and not p.name.startswith("."))


def solution_folder(sources=None, course=None) -> Path:
    """The solution notebooks (a folder, or one notebook): ``sources`` if given, else the course's notebooks/exercises
    (the course found as ``student.find_course`` finds it)."""
    if sources is not None:
        return Path(sources)
    try:
        return find_course(course) / COURSE_MARK
    except CourseNotFound as error:  # the same "nothing graded" report as every other problem
        raise GradingError(f"{error} Or give the solution notebooks themselves with --source DIR.") from None


def grade(submissions, out, *, sources=None, course=None, force: bool = False, timeout: int = 120) -> list[Grade]:
    """Grade every student's notebooks; write ``out/grades.csv`` and ``out/feedback/<student>.txt``.
    ``sources``: the solution notebooks (default: notebooks/exercises of ``course`` or of the course found)."""
    submissions, out, sources = Path(submissions), Path(out), solution_folder(sources, course)
    problems = []
    if not submissions.is_dir():
        problems.append(f"{submissions}: no such folder (give the folder that holds a folder per student)")
    if sources.is_file():  # one notebook: a course notebook assigned on its own
        solution_notebooks = {sources.name: sources} if sources.suffix == ".ipynb" else {}
    else:
        solution_notebooks = {p.name: p for p in sorted(sources.glob("*.ipynb"))}
    if not solution_notebooks:
        problems.append(f"{sources}: no solution notebooks (give a folder of .ipynb files or one .ipynb file)")
    if (out / "grades.csv").exists() and not force:
        problems.append(f"{out / 'grades.csv'} already exists: pass --force to overwrite it")
    if not problems and not _students(submissions):
        problems.append(f"{submissions}: holds no student folders")
    if problems:
        raise GradingError("\n".join(problems))
    preflight(timeout=timeout)
    grades = []
    for folder in _students(submissions):
        found = {p.name: p for p in sorted(folder.rglob("*.ipynb")) if ".ipynb_checkpoints" not in p.parts}
        for name, source in solution_notebooks.items():
            grades += grade_notebook(source, found.get(name), folder.name, timeout=timeout)
    write(grades, out)
    return grades


def write(grades: list[Grade], out: Path) -> None:
    (out / "feedback").mkdir(parents=True, exist_ok=True)
    with open(out / "grades.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(COLUMNS)
        for g in grades:
            writer.writerow([g.student, g.notebook, g.exercise, f"{g.points:g}", f"{g.max_points:g}", g.diagnosis])
    for student in dict.fromkeys(g.student for g in grades):
        mine = [g for g in grades if g.student == student]
        total, most = sum(g.points for g in mine), sum(g.max_points for g in mine)
        lines = [f"{student}: {total:g} of {most:g} points", ""]
        for g in mine:
            mark = "✓" if g.points == g.max_points else "✗"
            lines.append(f"{mark} {g.notebook} / {g.exercise}: {g.points:g} of {g.max_points:g}")
            lines += [f"    {line}" for line in g.message.splitlines()]
        (out / "feedback" / f"{student}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
