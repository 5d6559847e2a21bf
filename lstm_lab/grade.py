"""``lstm-lab grade``: every submitted notebook run with its hidden tests, without nbgrader.

Submissions are a folder per student (nbgrader's ``submitted/<student>/<assignment>/`` works
too: every notebook under a student's folder counts), each holding notebooks named like the
solution notebooks in ``notebooks/exercises``. A submission is graded as nbgrader would grade
it, and can change neither its tests nor anyone else's grade:

1. the instructor's solution notebook is the frame: its graded test cells, hidden tests
   included, and every other cell stay as the instructor wrote them;
2. each of its solution cells (by ``grade_id``) gets the student's cell source; an exercise
   the student's notebook lacks becomes the stub (not submitted);
3. the notebook's cells run top to bottom **in a sandbox** (``grading.sandbox``: it sees this
   notebook and a private folder, nothing else) — every cell but the test cells;
4. each test cell runs **here**, in the grader's process, with the real checks and the student's
   names as proxies into the sandbox (``grading.remote``): a graded cell earns its points when it
   raises nothing, else 0, and the first line of its message is the diagnosed mistake.

A notebook that runs past its time, whose process dies, that is not a notebook, or is too large
scores 0 with the reason; the run goes on and the table is written. Written: ``grades.csv``
(student x exercise: points, out of, the diagnosis; safe to open in a spreadsheet),
``feedback/<student>.txt`` (every exercise's message) and ``grades.json`` (what was graded: for
``merge`` of shards).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import copy
import csv
import hashlib
import io
import json
import multiprocessing
import os
import re
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat

from .grading.remote import run_test_cell, trusted_namespace
from .grading.sandbox import NoSandbox, Sandbox, SandboxGone, why_no_sandbox
from .student import COURSE_MARK, CourseNotFound, _meta, find_course, is_grade, is_solution, named_stub

GRADING = "NBGRADER_EXECUTION"  # what nbgrader sets for its kernels, and lstm_lab.checks.core.grading reads
PREFLIGHT = "import torch, lstm_lab, lstm_lab.checks"  # what every exercise notebook needs from its kernel
COLUMNS = ("student", "notebook", "exercise", "points", "max_points", "diagnosis")
MAX_NOTEBOOK_BYTES = 16 * 2**20
MAX_CELLS = 2_000
MAX_FILES = 10_000  # files looked at under one student's folder
MAX_DIAGNOSIS = 300  # characters of a diagnosis in grades.csv
MAX_MESSAGE = 4_000  # characters of one exercise's message in a feedback file
MAX_NAME = 200  # characters of a student's folder name
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
MANIFEST = "grades.json"


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
    graded: bool = True  # False: the notebook could not be graded (timeout, dead process, not a notebook)


@dataclass
class Options:
    timeout: float = 120  # seconds a cell (or one call of a student's function) may run
    notebook_timeout: float = 600  # seconds a whole notebook may take
    memory: int = 4 * 2**30  # bytes of address space of a notebook's process
    sandboxed: bool = True
    hidden: tuple = ()  # folders the sandbox must not show (solutions, submissions, output): checked, not bound


def _exercise_of(test_cell) -> str:
    grade_id = _meta(test_cell)["grade_id"]
    return grade_id[len("test_"):] if grade_id.startswith("test_") else grade_id


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
        if is_solution(cell) and isinstance(cell.get("source"), str):
            answers[_meta(cell)["grade_id"]] = cell.source
    nb = copy.deepcopy(source)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        if is_solution(cell):
            grade_id = _meta(cell)["grade_id"]
            cell.source = answers.get(grade_id, named_stub(grade_id))
    return nb


def read_submission(path: Path) -> nbformat.NotebookNode:
    """The student's notebook, or ValueError saying why it cannot be graded."""
    if path.is_symlink():
        raise ValueError(f"{path.name} is a symbolic link (to {os.readlink(path)}): submit the notebook itself")
    try:
        size = path.stat().st_size
        if size > MAX_NOTEBOOK_BYTES:
            raise ValueError(f"{path.name} is {size / 2**20:.0f} MB: a submitted notebook may be at most "
                             f"{MAX_NOTEBOOK_BYTES >> 20} MB")
        with open(path, "rb") as f:
            raw = f.read(MAX_NOTEBOOK_BYTES + 1)
    except OSError as error:
        raise ValueError(f"{path.name} could not be read ({type(error).__name__}: {error.strerror or error})") from None
    try:
        nb = nbformat.reads(raw.decode("utf-8"), as_version=4)
    except Exception as error:  # not UTF-8, not JSON, not a notebook: nbformat's many exceptions
        raise ValueError(f"{path.name} is not a notebook ({type(error).__name__}: {str(error)[:200]})") from None
    cells = nb.get("cells")
    if not isinstance(cells, list):
        raise ValueError(f"{path.name} is not a notebook (it has no list of cells)")
    if len(cells) > MAX_CELLS:
        raise ValueError(f"{path.name} holds {len(cells)} cells: a submitted notebook may hold at most {MAX_CELLS}")
    return nb


def _zero(source_nb, source_path: Path, student: str, why: str, graded: bool) -> list[Grade]:
    return [Grade(student, source_path.name, _exercise_of(c), 0.0, float(_meta(c).get("points", 0)), why, why, graded)
            for c in source_nb.cells if is_grade(c) and c.cell_type == "code"]


@contextlib.contextmanager
def _grading_environment():
    """The checks read ``NBGRADER_EXECUTION`` (they then raise on an unfinished answer): set while grading."""
    before = os.environ.get(GRADING)
    os.environ[GRADING] = "autograde"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(GRADING, None)
        else:
            os.environ[GRADING] = before


def grade_notebook(source_path: Path, submitted_path: Path | None, student: str, *, timeout: float = 120,
                   options: Options | None = None) -> list[Grade]:
    """One student's notebook, graded: a Grade per test cell of the solution notebook."""
    options = options or Options(timeout=timeout)
    source = nbformat.read(source_path, as_version=4)
    if submitted_path is None:
        return _zero(source, source_path, student, "not submitted", True)
    try:
        submitted = read_submission(Path(submitted_path))
    except ValueError as error:
        return _zero(source, source_path, student, f"could not be graded: {error}", False)
    nb = merged(source, submitted)
    instructor = [c.source for c in nb.cells if c.cell_type == "code" and not is_solution(c) and not is_grade(c)]
    solution_errors: dict[str, list[str]] = {}
    results: dict[int, tuple[bool, str]] = {}
    try:
        with _grading_environment(), Sandbox(Path(submitted_path), sandboxed=options.sandboxed,
                                             cell_timeout=options.timeout, notebook_timeout=options.notebook_timeout,
                                             memory=options.memory, hidden=options.hidden) as sandbox:
            trusted = trusted_namespace(instructor)
            for index, cell in enumerate(nb.cells):
                if cell.cell_type != "code":
                    continue
                if is_grade(cell):
                    results[index] = run_test_cell(sandbox, cell.source, trusted)
                    continue
                reply = sandbox.request({"op": "cell", "source": cell.source, "timeout": options.timeout,
                                         "exercise": is_solution(cell)}, timeout=options.timeout + 5)
                if is_solution(cell) and not reply.get("ok"):
                    error = reply.get("error") if isinstance(reply.get("error"), dict) else {}
                    text = f"{str(error.get('type', 'Error'))[:80]}: {str(error.get('message', ''))[:MAX_MESSAGE]}"
                    solution_errors.setdefault(_meta(cell)["grade_id"], []).append(text)
    except SandboxGone as gone:
        return _zero(source, source_path, student, f"could not be graded: {gone}", False)
    grades = []
    for index, cell in enumerate(nb.cells):
        if not (is_grade(cell) and cell.cell_type == "code"):
            continue
        exercise, points = _exercise_of(cell), float(_meta(cell).get("points", 0))
        ok, error = results[index]
        message = "" if ok else "\n".join(solution_errors.get(exercise, []) + [error])
        grades.append(Grade(student, source_path.name, exercise, points if ok else 0.0, points,
                            "" if ok else _diagnosis(message), message))
    return grades


def preflight(options: Options | None = None) -> None:
    """Refuse to grade where the sandbox cannot start or cannot import lstm_lab and torch: there every
    notebook would fail its first cell and every student would get 0, silently."""
    options = options or Options()
    try:
        with Sandbox(None, sandboxed=options.sandboxed, cell_timeout=options.timeout,
                     notebook_timeout=max(options.timeout, 60), memory=options.memory, hidden=options.hidden) as sandbox:
            try:
                reply = sandbox.request({"op": "cell", "source": PREFLIGHT, "timeout": options.timeout})
            except SandboxGone as gone:
                raise GradingError(f"the grading sandbox stopped ({gone}): {sandbox.stderr_tail()}") from None
    except NoSandbox as error:
        raise GradingError(f"no sandbox can be made for the students' code: {error}") from None
    except (SandboxGone, OSError) as error:
        raise GradingError(f"the grading sandbox does not start ({type(error).__name__}: {error})") from None
    if not reply.get("ok"):
        error = reply.get("error", {})
        raise GradingError(f"the grading sandbox cannot run `{PREFLIGHT}` ({error.get('type')}: "
                           f"{error.get('message')}): every notebook would fail its first cell and every student get "
                           "0. Grade in the environment lstm_lab is installed in (.venv/bin/lstm-lab grade ...)")


def sandbox_refusal() -> str | None:
    """Why ``lstm-lab grade`` refuses to run without --unsandboxed here, or None."""
    why = why_no_sandbox()
    if why is None:
        return None
    return (f"no sandbox for the students' code: {why}.\nWithout one each notebook runs as a bare process of yours: "
            "a submission can read the solution notebooks and hidden tests, the other submissions and your files, "
            "write over them, reach the network and leave processes running. Pass --unsandboxed to grade so anyway "
            "(the verdicts are still decided outside the student's code).")


# ---------------------------------------------------------------- the class: students, shards, jobs
@dataclass
class Student:
    name: str
    folder: Path
    problem: str | None = None  # why this folder cannot be graded at all


def students(submissions: Path) -> tuple[list[Student], list[str]]:
    """Every folder under ``submissions`` (hidden ones and odd names included: each gets a row), sorted by
    name; and what was skipped (files that are not folders)."""
    found, skipped = [], []
    for entry in sorted(submissions.iterdir(), key=lambda p: p.name):
        name = entry.name
        if entry.is_symlink():
            found.append(Student(name, entry, "the student's folder is a symbolic link: copy the submission in"))
        elif not entry.is_dir():
            skipped.append(f"{name!r}: a file, not a student's folder")
        elif any(ord(ch) < 32 or ord(ch) == 127 for ch in name):
            found.append(Student(name, entry, "the folder's name holds control characters: rename it"))
        elif len(name) > MAX_NAME:
            found.append(Student(name, entry, f"the folder's name is longer than {MAX_NAME} characters: rename it"))
        else:
            found.append(Student(name, entry))
    return found, skipped


def find_notebooks(folder: Path) -> tuple[dict[str, Path], str | None]:
    """The notebooks under a student's folder by file name (not following links; checkpoints skipped)."""
    found, seen = {}, 0
    for root, dirs, files in os.walk(folder, followlinks=False):
        dirs[:] = sorted(d for d in dirs if d != ".ipynb_checkpoints")
        for name in sorted(files):
            seen += 1
            if seen > MAX_FILES:
                return found, f"the folder holds more than {MAX_FILES} files"
            if name.endswith(".ipynb"):
                found[name] = Path(root) / name
    return found, None


def shard_of(name: str, count: int) -> int:
    """The shard (1..count) a student belongs to: by a hash of the folder's name, the same on every machine."""
    return int(hashlib.sha256(name.encode("utf-8", "surrogateescape")).hexdigest(), 16) % count + 1


def parse_shard(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text or "")
    if not match or not 1 <= int(match.group(1)) <= int(match.group(2)):
        raise GradingError(f"--shard takes K/N with 1 <= K <= N (this machine grades shard K of N), got {text!r}")
    return int(match.group(1)), int(match.group(2))


def _task(args) -> list[Grade]:
    """One notebook (run in a worker process)."""
    source, submitted, student, options = args
    try:
        return grade_notebook(source, submitted, student, options=options)
    except Exception as error:  # the grader's own failure on this notebook: named, not a lost table
        nb = nbformat.read(source, as_version=4)
        return _zero(nb, Path(source), student, f"could not be graded: the grader failed ({type(error).__name__}: "
                                                f"{str(error)[:200]})", False)


def _eta(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"


def grade(submissions, out, *, sources=None, course=None, force: bool = False, timeout: float = 120,
          notebook_timeout: float = 600, memory: int = 4 * 2**30, jobs: int | None = None, shard: str | None = None,
          unsandboxed: bool = False, progress=None) -> list[Grade]:
    """Grade every student's notebooks; write ``out/grades.csv``, ``out/feedback/<student>.txt`` and
    ``out/grades.json``. ``sources``: the solution notebooks (default: notebooks/exercises of ``course`` or of
    the course found). ``jobs``: notebooks graded at once (default: the number of cores); ``shard``: "K/N",
    only the students of shard K of N."""
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
    for inside, what in ((submissions, "the submissions"), (sources if sources.is_dir() else sources.parent,
                                                            "the solution notebooks' folder")):
        if submissions.is_dir() and _within(out, inside):
            problems.append(f"--out {out} is inside {what} ({inside}): write the grades elsewhere")
    shard_k, shard_n = parse_shard(shard) if shard else (1, 1)
    options = Options(timeout=timeout, notebook_timeout=notebook_timeout, memory=memory, sandboxed=not unsandboxed,
                      hidden=(str(sources), str(submissions), str(out)))
    if not problems and not unsandboxed:
        refusal = sandbox_refusal()
        if refusal:
            problems.append(refusal)
    everyone, skipped = students(submissions) if not problems else ([], [])
    if not problems and not everyone:
        problems.append(f"{submissions}: holds no student folders" + (f" ({'; '.join(skipped)})" if skipped else ""))
    if problems:
        raise GradingError("\n".join(problems))
    preflight(options)
    mine = [s for s in everyone if shard_of(s.name, shard_n) == shard_k]
    tasks, done_grades = [], {}
    for s_index, student in enumerate(mine):
        found, problem = ({}, student.problem) if student.problem else find_notebooks(student.folder)
        for n_index, (name, source) in enumerate(solution_notebooks.items()):
            key = (s_index, n_index)
            if problem:
                nb = nbformat.read(source, as_version=4)
                done_grades[key] = _zero(nb, source, student.name, f"could not be graded: {problem}", False)
            else:
                tasks.append((key, (source, found.get(name), student.name, options)))
    _run(tasks, done_grades, jobs, progress, len(mine))
    grades = [g for key in sorted(done_grades) for g in done_grades[key]]
    write(grades, out, manifest={"shard": [shard_k, shard_n], "students": [s.name for s in mine],
                                 "skipped": skipped, "sources": _fingerprints(solution_notebooks)})
    return grades


def _within(path: Path, folder: Path) -> bool:
    try:
        return path.resolve().is_relative_to(folder.resolve())
    except OSError:
        return False


def _run(tasks, done_grades, jobs, progress, student_count) -> None:
    """Grade ``tasks`` ((key, arguments of _task)) into ``done_grades``, ``jobs`` notebooks at once."""
    usable = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else range(os.cpu_count() or 1)
    jobs = max(1, jobs or len(usable))  # the CPUs this process may run on (a batch system's share), not the machine's
    left_per_student: dict[int, int] = {}
    for (s_index, _), _ in tasks:
        left_per_student[s_index] = left_per_student.get(s_index, 0) + 1
    real = [(key, args) for key, args in tasks if args[1] is not None]
    for key, args in tasks:
        if args[1] is None:  # not submitted: nothing runs
            done_grades[key] = _task(args)
            left_per_student[key[0]] -= 1
    started, count = time.monotonic(), 0

    def finished(key, grades):
        nonlocal count
        done_grades[key] = grades
        left_per_student[key[0]] -= 1
        count += 1
        if progress is not None:
            elapsed = time.monotonic() - started
            students_done = student_count - sum(1 for v in left_per_student.values() if v > 0)
            progress(f"graded {students_done} of {student_count} students ({count} of {len(real)} notebooks run), "
                     f"{_eta(elapsed)} so far, about {_eta(elapsed / count * (len(real) - count))} left")

    if jobs == 1 or len(real) <= 1:
        for key, args in real:
            finished(key, _task(args))
        return
    context = multiprocessing.get_context("spawn")  # a clean interpreter: no torch threads inherited by fork
    with concurrent.futures.ProcessPoolExecutor(max_workers=min(jobs, len(real)), mp_context=context) as pool:
        futures = {pool.submit(_task, args): (key, args) for key, args in real}
        for future in concurrent.futures.as_completed(futures):
            key, args = futures[future]
            try:
                grades = future.result()
            except Exception as error:  # a worker that died: that notebook is named, the others go on
                source, _, student, _ = args
                nb = nbformat.read(source, as_version=4)
                grades = _zero(nb, Path(source), student, f"could not be graded: the grader's worker failed "
                                                          f"({type(error).__name__})", False)
            finished(key, grades)


def _fingerprints(notebooks: dict[str, Path]) -> dict[str, str]:
    return {name: hashlib.sha256(path.read_bytes()).hexdigest() for name, path in notebooks.items()}


def solution_folder(sources=None, course=None) -> Path:
    """The solution notebooks (a folder, or one notebook): ``sources`` if given, else the course's notebooks/exercises
    (the course found as ``student.find_course`` finds it)."""
    if sources is not None:
        return Path(sources)
    try:
        return find_course(course) / COURSE_MARK
    except CourseNotFound as error:  # the same "nothing graded" report as every other problem
        raise GradingError(f"{error} Or give the solution notebooks themselves with --source DIR.") from None


# ---------------------------------------------------------------- the table and the feedback
def _by_its_bytes(text: str) -> str:
    """``text`` with what came from bytes that are not UTF-8 (a folder name an old zip tool wrote in Latin-1, which
    Python reads as lone surrogates that no UTF-8 file can hold) shown by those bytes: stud\\xe9nt."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def safe_cell(value, limit: int = MAX_DIAGNOSIS) -> str:
    """A text for a spreadsheet: one line, at most ``limit`` characters, never the start of a formula."""
    text = re.sub(r"[\x00-\x1f\x7f]", " ", _by_its_bytes(str(value))).strip()
    if len(text) > limit:
        text = text[:limit - 3] + "..."
    if text.startswith(FORMULA_START):
        text = "'" + text
    return text


def rows_of(grades: list[Grade]) -> list[list[str]]:
    return [[safe_cell(g.student), safe_cell(g.notebook), safe_cell(g.exercise), f"{g.points:g}", f"{g.max_points:g}",
             safe_cell(g.diagnosis)] for g in grades]


def _bounded(message: str) -> str:
    return message if len(message) <= MAX_MESSAGE else message[:MAX_MESSAGE] + f"\n... ({len(message) - MAX_MESSAGE} " \
                                                                              "more characters left out)"


def feedback_text(student: str, grades: list[Grade]) -> str:
    total, most = sum(g.points for g in grades), sum(g.max_points for g in grades)
    lines = [f"{student}: {total:g} of {most:g} points", ""]
    for g in grades:
        mark = "✓" if g.points == g.max_points else "✗"
        lines.append(f"{mark} {g.notebook} / {g.exercise}: {g.points:g} of {g.max_points:g}")
        lines += [f"    {line}" for line in _bounded(g.message).splitlines()]
    return "\n".join(lines) + "\n"


def _write_table(rows: list[list[str]], path: Path) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    writer.writerows(rows)
    _replace(path, buffer.getvalue())


def _replace(path: Path, text: str) -> None:
    """Write ``path`` whole or not at all."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(handle, "w", encoding="utf-8", newline="") as f:
        f.write(_by_its_bytes(text))
    os.replace(temporary, path)


def write(grades: list[Grade], out: Path, manifest: dict | None = None) -> None:
    (out / "feedback").mkdir(parents=True, exist_ok=True)
    for student in dict.fromkeys(g.student for g in grades):
        mine = [g for g in grades if g.student == student]
        _replace(out / "feedback" / f"{student}.txt", feedback_text(student, mine))
    failed = [f"{g.student} / {g.notebook}: {g.diagnosis}" for g in grades if not g.graded]
    # ASCII JSON (\udce9) keeps a folder name that is not UTF-8 exactly: merge finds its feedback file by it
    _replace(out / MANIFEST, json.dumps({**(manifest or {}), "could_not_grade": sorted(dict.fromkeys(failed))},
                                        indent=1) + "\n")
    _write_table(rows_of(grades), out / "grades.csv")


def could_not_grade(grades: list[Grade]) -> list[str]:
    """"student / notebook: why" for each notebook that could not be graded."""
    return list(dict.fromkeys(f"{g.student} / {g.notebook}: {g.diagnosis}" for g in grades if not g.graded))


# ---------------------------------------------------------------- shards merged
def merge(shards, out, *, force: bool = False) -> list[list[str]]:
    """One table from the outputs of ``grade --shard K/N`` for every K: the table one run would write.
    Returns its rows."""
    shards, out = [Path(s) for s in shards], Path(out)
    problems, manifests = [], []
    for folder in shards:
        try:
            manifests.append(json.loads((folder / MANIFEST).read_text(encoding="utf-8")))
        except (OSError, ValueError) as error:
            problems.append(f"{folder}: not the output of lstm-lab grade ({MANIFEST}: {type(error).__name__})")
    if (out / "grades.csv").exists() and not force:
        problems.append(f"{out / 'grades.csv'} already exists: pass --force to overwrite it")
    if problems:
        raise GradingError("\n".join(problems))
    counts = {tuple(m.get("shard", [1, 1]))[1] for m in manifests}
    if len(counts) != 1:
        raise GradingError(f"the shards were cut differently: N = {sorted(counts)} (give the shards of one --shard K/N)")
    count = counts.pop()
    given = sorted(tuple(m.get("shard"))[0] for m in manifests)
    if given != list(range(1, count + 1)):
        missing = sorted(set(range(1, count + 1)) - set(given))
        twice = sorted({k for k in given if given.count(k) > 1})
        raise GradingError(f"expected shards 1 to {count} once each; given {given}"
                           + (f" (missing {missing})" if missing else "") + (f" (twice {twice})" if twice else ""))
    if len({json.dumps(m.get("sources"), sort_keys=True) for m in manifests}) != 1:
        raise GradingError("the shards were graded against different solution notebooks: grade every shard with the "
                           "same --source")
    by_student, skipped, failed = {}, [], []
    for folder, manifest in zip(shards, manifests):
        with open(folder / "grades.csv", newline="", encoding="utf-8") as f:
            table = list(csv.reader(f))
        if not table or tuple(table[0]) != COLUMNS:
            raise GradingError(f"{folder / 'grades.csv'}: not a table of lstm-lab grade (columns {COLUMNS})")
        names = manifest.get("students", [])
        for name in names:
            by_student[name] = ([r for r in table[1:] if r[0] == safe_cell(name)], folder)
        skipped, failed = manifest.get("skipped", []), failed + manifest.get("could_not_grade", [])
    rows = [r for name in sorted(by_student) for r in by_student[name][0]]
    (out / "feedback").mkdir(parents=True, exist_ok=True)
    for name, (_, folder) in by_student.items():
        shutil.copyfile(folder / "feedback" / f"{name}.txt", out / "feedback" / f"{name}.txt")
    _replace(out / MANIFEST, json.dumps({"shard": [1, 1], "students": sorted(by_student), "skipped": skipped,
                                         "sources": manifests[0].get("sources"),
                                         "could_not_grade": sorted(failed)}, indent=1) + "\n")
    _write_table(rows, out / "grades.csv")
    return rows
