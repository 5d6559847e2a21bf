"""Student versions of the exercise notebooks, made the way nbgrader's ``generate_assignment`` makes them.

An exercise notebook is authored once, with its solutions, in nbgrader's syntax:

* a **solution cell** (cell metadata ``nbgrader.solution = true``) holds the answer between
  ``### BEGIN SOLUTION`` and ``### END SOLUTION`` (or is an answer as a whole);
* an **autograded test cell** (``nbgrader.grade = true``, ``locked = true``, ``points``) may
  hold tests the student must not see between ``### BEGIN HIDDEN TESTS`` and
  ``### END HIDDEN TESTS``.

``student_version`` applies, in nbgrader's order, what nbgrader's preprocessors do (lock the
graded cells, replace solutions by a stub, clear outputs, add checksums, remove hidden tests,
checksums again), so an instructor who runs nbgrader and one who runs ``lstm-lab student``
hand out the same notebooks. The one difference is on purpose: our stub names the exercise,

    # YOUR CODE HERE
    raise NotImplementedError("rnn_step: not implemented yet")

so a student who runs the notebook reads *which* exercise is missing. A *value* exercise (a solution
region at the top level of its cell that assigns the answer the rest of the cell checks,
``answer_1 = ...``) starts as that name set to None instead,

    # YOUR CODE HERE
    answer_1 = None

so the check below it says "not yet" and Run All goes on to the next exercise (a raise at the top
level would stop it there). ``stub="nbgrader"`` writes nbgrader's own stub everywhere instead, byte
for byte what nbgrader writes (the tests compare).

nbgrader itself is not needed (it is the optional ``instructor`` extra): this module uses
only nbformat and the standard library.
"""

from __future__ import annotations

import ast
import copy
import hashlib
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbformat import NotebookNode

BEGIN_SOLUTION, END_SOLUTION = "BEGIN SOLUTION", "END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"
BEGIN_MARK_SCHEME, END_MARK_SCHEME = "BEGIN MARK SCHEME", "END MARK SCHEME"
NBGRADER_CODE_STUB = "# YOUR CODE HERE\nraise NotImplementedError()"
TEXT_STUB = "YOUR ANSWER HERE"
STUBS = ("named", "nbgrader")


def named_stub(exercise: str) -> str:
    """The stub that replaces a solution: nbgrader's, with the exercise named in the error."""
    return f'# YOUR CODE HERE\nraise NotImplementedError("{exercise}: not implemented yet")'


def value_stub(names: list[str]) -> str:
    """The stub of a value exercise: its answers not there yet, which the check reports as "not yet"."""
    return "\n".join(["# YOUR CODE HERE", *(f"{name} = None" for name in names)])


def _parse(source: str):
    try:
        return ast.parse(source)
    except SyntaxError:  # IPython syntax (%magic, !shell) or a fragment: not a value exercise
        return None


def answer_names(region: str, after: str) -> list[str]:
    """The names a top-level solution region assigns that the code after it (its check) reads, in
    the order they are assigned: ``answer_2`` of ``z = ...; answer_2 = softmax(z)`` followed by
    ``check(answer_2)``. Empty when the region is no top-level code or the rest reads none of them."""
    region_tree, after_tree = _parse(region), _parse(after)
    if region_tree is None or after_tree is None:
        return []
    read = {node.id for node in ast.walk(after_tree) if isinstance(node, ast.Name)}
    assigned = []
    for statement in region_tree.body:  # only the top level: a name bound in a loop body is no answer
        targets = statement.targets if isinstance(statement, ast.Assign) else (
            [statement.target] if isinstance(statement, (ast.AnnAssign, ast.AugAssign)) else [])
        for target in targets:
            for node in ast.walk(target):
                if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store) and node.id not in assigned:
                    assigned.append(node.id)
    return [name for name in assigned if name in read]


class StudentVersionError(ValueError):
    """A source notebook cannot be turned into a student version; the message says where and why."""


# ---------------------------------------------------------------- what kind of cell is it (nbgrader's rules)
def _meta(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


def is_solution(cell) -> bool:
    return bool(_meta(cell).get("solution", False))


def is_grade(cell) -> bool:
    return bool(_meta(cell).get("grade", False))


def is_task(cell) -> bool:
    return bool(_meta(cell).get("task", False))


def is_locked(cell) -> bool:
    """nbgrader's 'read-only' notion: graded test cells and cells marked locked (not solutions)."""
    if "nbgrader" not in cell.metadata or is_solution(cell):
        return False
    return is_grade(cell) or bool(_meta(cell).get("locked", False))


def checksum(cell) -> str:
    """nbgrader's checksum of a cell (``nbgrader.utils.compute_checksum``): source, type, kind, id, points."""
    m = hashlib.md5()
    m.update(cell.source.encode("utf-8"))
    m.update(cell.cell_type.encode("utf-8"))
    for flag in (is_grade(cell), is_solution(cell), is_locked(cell)):
        m.update(str(flag).encode("utf-8"))
    m.update(_meta(cell)["grade_id"].encode("utf-8"))
    if is_grade(cell):
        m.update(str(float(_meta(cell)["points"])).encode("utf-8"))
    return m.hexdigest()


# ---------------------------------------------------------------- checks before anything is changed
def _where(cell, index: int) -> str:
    grade_id = _meta(cell).get("grade_id")
    return f"cell {index}" + (f" ({grade_id})" if grade_id else "")


def check_source(nb: NotebookNode) -> list[str]:
    """Everything nbgrader would refuse in a source notebook, as sentences (empty: fine)."""
    problems = []
    language = nb.metadata.get("kernelspec", {}).get("language", "python")
    if language != "python":
        problems.append(f"the notebook's kernel language is {language!r}; only python stubs are known")
    seen = set()
    for index, cell in enumerate(nb.cells):
        where = _where(cell, index)
        meta = cell.metadata.get("nbgrader")
        if meta is not None:
            if meta.get("schema_version") != 3:
                problems.append(f"{where}: nbgrader metadata should have schema_version 3, got "
                                f"{meta.get('schema_version')!r}")
            missing = [k for k in ("grade", "solution", "locked") if k not in meta]
            if missing:
                problems.append(f"{where}: nbgrader metadata lacks {', '.join(missing)}")
            if is_grade(cell) or is_solution(cell) or meta.get("locked"):
                grade_id = meta.get("grade_id")
                if not grade_id:
                    problems.append(f"{where}: an nbgrader cell needs a non-empty grade_id")
                elif grade_id in seen:
                    problems.append(f"{where}: grade_id {grade_id!r} is used twice")
                else:
                    seen.add(grade_id)
            if is_grade(cell) and "points" not in meta:
                problems.append(f"{where}: a graded cell needs points")
            if cell.cell_type == "markdown" and not is_task(cell) and is_grade(cell) != is_solution(cell):
                problems.append(f"{where}: a markdown answer cell must be both a solution and a graded cell")
        problems += [f"{where}: {p}" for p in _region_problems(cell)]
        if "AUTOTEST" in cell.source:
            problems.append(f"{where}: nbgrader's AUTOTEST syntax is not supported by lstm-lab student")
    return problems


def _region_problems(cell) -> list[str]:
    problems = []
    for begin, end, allowed, kind in (
        (BEGIN_SOLUTION, END_SOLUTION, is_solution(cell), "a solution region needs a solution cell "
                                                          "(nbgrader.solution = true)"),
        (BEGIN_HIDDEN, END_HIDDEN, is_grade(cell), "hidden tests need an autograded test cell "
                                                   "(nbgrader.grade = true)"),
        (BEGIN_MARK_SCHEME, END_MARK_SCHEME, is_task(cell), "a mark scheme needs a task cell"),
    ):
        inside = False
        found = False
        for line in cell.source.split("\n"):
            if begin in line:
                if inside:
                    problems.append(f"a nested '{begin}'")
                inside = found = True
            elif end in line:
                inside = False
        if inside:
            problems.append(f"'{begin}' without '{end}'")
        if found and not allowed:
            problems.append(kind)
    return problems


# ---------------------------------------------------------------- nbgrader's preprocessors, in its order
def _lock(cell) -> None:  # LockCells
    if is_solution(cell):
        cell.metadata["deletable"] = False
    elif is_grade(cell) or is_locked(cell):
        cell.metadata["deletable"] = False
        cell.metadata["editable"] = False


def _replace_regions(source: str, begin: str, end: str, stub_lines: list[str] | None) -> tuple[str, bool]:
    """Drop every begin..end region (delimiter lines included), or put the stub, indented, in its place."""
    out, inside, replaced = [], False, False
    for line in source.split("\n"):
        if begin in line:
            inside = replaced = True
            if stub_lines is not None:
                indent = re.match(r"\s*", line).group(0)
                out += [indent + s for s in stub_lines]
        elif end in line:
            inside = False
        elif not inside:
            out.append(line)
    return "\n".join(out), replaced


def _top_level_region(source: str) -> tuple[str, str] | None:
    """(the solution region, the code after it) when a cell has one region and it is not indented."""
    lines = source.split("\n")
    begins = [k for k, line in enumerate(lines) if BEGIN_SOLUTION in line]
    ends = [k for k, line in enumerate(lines) if END_SOLUTION in line]
    if len(begins) != 1 or len(ends) != 1 or lines[begins[0]] != lines[begins[0]].lstrip():
        return None
    return "\n".join(lines[begins[0] + 1:ends[0]]), "\n".join(lines[ends[0] + 1:])


def checked_by(cells, index: int) -> str:
    """The code that checks solution cell ``cells[index]``: what follows its region in the cell, then
    the autograded cells right after it (a course notebook's check sits in its own graded cell)."""
    region = _top_level_region(cells[index].source)
    after = [region[1]] if region else []
    for cell in cells[index + 1:]:
        if not (cell.cell_type == "code" and is_grade(cell)):
            break
        after.append(cell.source)
    return "\n".join(after)


def _code_stub(cell, stub: str, after: str = "") -> str:
    """The stub for a solution cell; ``after``: the code that checks it (``checked_by``)."""
    if stub == "nbgrader":
        return NBGRADER_CODE_STUB
    region = _top_level_region(cell.source)
    names = answer_names(region[0], after) if region else []
    return value_stub(names) if names else named_stub(_meta(cell).get("grade_id", "exercise"))


def _clear_solution(cell, stub: str, after: str = "") -> None:  # ClearSolutions
    text = _code_stub(cell, stub, after) if cell.cell_type == "code" else TEXT_STUB
    cell.source, replaced = _replace_regions(cell.source, BEGIN_SOLUTION, END_SOLUTION, text.split("\n"))
    if is_solution(cell) and not replaced:
        cell.source = text


def _clear_output(cell) -> None:  # ClearOutput (nbconvert's ClearOutputPreprocessor)
    if cell.cell_type == "code":
        cell.outputs = []
        cell.execution_count = None
        for key in ("collapsed", "scrolled"):
            cell.metadata.pop(key, None)


def _add_checksum(cell) -> None:  # ComputeChecksums
    if is_grade(cell) or is_solution(cell) or is_locked(cell):
        cell.metadata["nbgrader"]["checksum"] = checksum(cell)
        cell.metadata["nbgrader"]["cell_type"] = cell.cell_type


def student_version(nb: NotebookNode, *, stub: str = "named") -> NotebookNode:
    """The student notebook for a solution notebook (a new object; ``nb`` is not changed)."""
    if stub not in STUBS:
        raise ValueError(f"stub should be one of {', '.join(STUBS)}, got {stub!r}")
    problems = check_source(nb)
    if problems:
        raise StudentVersionError("; ".join(problems))
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        _lock(cell)
    after = [checked_by(nb.cells, k) if is_solution(cell) else "" for k, cell in enumerate(nb.cells)]
    for cell, checks in zip(nb.cells, after):
        _clear_solution(cell, stub, checks)
    nb.metadata.pop("celltoolbar", None)
    # the state of widgets whose outputs are cleared below: dead weight (notebook 08's is 7,000 lines)
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        _clear_output(cell)
        _add_checksum(cell)
    for cell in nb.cells:
        cell.source = _replace_regions(cell.source, BEGIN_HIDDEN, END_HIDDEN, None)[0]
    for cell in nb.cells:
        cell.source = _replace_regions(cell.source, BEGIN_MARK_SCHEME, END_MARK_SCHEME, None)[0]
        _add_checksum(cell)
    nbformat.validate(nb)
    return nb


def exercise_names(nb: NotebookNode) -> list[str]:
    """The grade_ids of the solution cells: the exercises a student has to write."""
    return [_meta(c)["grade_id"] for c in nb.cells if is_solution(c)]


# ---------------------------------------------------------------- files
@dataclass
class Planned:
    source: Path
    target: Path
    text: str
    exercises: list[str]


@dataclass
class Source:
    path: Path
    relative: Path  # where it goes under --out: its path inside the folder given, or its name
    in_folder: bool  # found in a folder given (a course page without exercises is fine there)


def find_sources(paths: list[Path], out_dir: Path | None = None) -> list[Source]:
    """Notebooks named on the command line; a folder stands for the notebooks inside it, at the
    same relative paths (leaving out checkpoints and the output folder, should it lie inside)."""
    found = []
    skip = out_dir.resolve() if out_dir is not None else None
    for path in paths:
        if path.is_dir():
            found += [Source(p, p.relative_to(path), True) for p in sorted(path.rglob("*.ipynb"))
                      if ".ipynb_checkpoints" not in p.parts
                      and not (skip is not None and p.resolve().is_relative_to(skip))]
        else:
            found.append(Source(path, Path(path.name), False))
    return found


def plan(sources: list[Path], out_dir: Path, *, force: bool = False, stub: str = "named") -> list[Planned]:
    """Read and convert every source, check every target; raise with *all* problems, write nothing."""
    problems, planned = [], []
    found = find_sources(sources, out_dir)
    notebooks = [item.path for item in found]
    if not found:
        problems.append("no notebooks given (name .ipynb files or folders that hold them)")
    targets: dict[Path, Path] = {}
    for item in found:
        source = item.path
        if not source.exists():
            problems.append(f"{source}: no such file")
            continue
        if source.suffix != ".ipynb":
            problems.append(f"{source}: not a notebook (.ipynb)")
            continue
        if item.relative in targets:
            problems.append(f"{source}: has the same name as {targets[item.relative]}; both would be written to "
                            f"{out_dir / item.relative}")
            continue
        targets[item.relative] = source
        try:
            nb = nbformat.read(source, as_version=4)
            nbformat.validate(nb)
        except Exception as error:  # nbformat's errors are many kinds; all mean "not a valid notebook"
            problems.append(f"{source}: not a valid notebook ({type(error).__name__}: {error})")
            continue
        if not exercise_names(nb) and not item.in_folder:  # in a course folder it is a page: outputs cleared
            problems.append(f"{source}: has no solution cells (nbgrader.solution = true), so it is no exercise")
            continue
        try:
            student = student_version(nb, stub=stub)
        except StudentVersionError as error:
            problems.append(f"{source}: {error}")
            continue
        planned.append(Planned(source, out_dir / item.relative, nbformat.writes(student) + "\n",
                               exercise_names(nb)))
    problems += _unsafe_output(notebooks, sources, out_dir, planned)
    if out_dir.exists() and not out_dir.is_dir():
        problems.append(f"{out_dir}: exists and is not a folder")
    elif not force:
        existing = [str(p.target) for p in planned if p.target.exists()]
        if existing:
            problems.append(f"{', '.join(existing)} already exist{'s' if len(existing) == 1 else ''}: "
                            "pass --force to overwrite")
    if problems:
        raise StudentVersionError("\n".join(problems))
    return planned


def holds_solutions(path: Path) -> bool:
    """Does this file hold solutions or hidden tests (nbgrader's markers)? Then nothing may
    overwrite it, ``--force`` or not: it is an instructor's only copy of the answers."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return any(f"### {marker}" in text for marker in (BEGIN_SOLUTION, BEGIN_HIDDEN, BEGIN_MARK_SCHEME))


def _unsafe_output(notebooks: list[Path], sources: list[Path], out_dir: Path, planned: list[Planned]) -> list[str]:
    """Why writing into ``out_dir`` could lose a solution: it lies inside the source tree (the
    folders given, or the folder of a notebook given), or a target holds solutions."""
    problems = []
    out = out_dir.resolve()
    trees = {p.resolve() for p in sources if p.is_dir()} | {p.resolve().parent for p in notebooks if p.is_file()}
    inside = sorted(str(t) for t in trees if out == t or out.is_relative_to(t))
    if inside:
        problems.append(f"--out {out_dir} is inside the source tree ({', '.join(inside)}): student versions would "
                        "sit next to the solutions (and a later run could take them for sources). Choose a folder "
                        "outside it, e.g. release/")
    for item in planned:
        if item.target.exists() and holds_solutions(item.target):
            problems.append(f"{item.target} holds solutions (### BEGIN SOLUTION or hidden tests): it is never "
                            "overwritten, not even with --force")
    return problems


def write(planned: list[Planned]) -> None:
    """Write each planned notebook through a temporary file, so no half-written notebook is left."""
    for item in planned:
        item.target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=item.target.parent, prefix=f".{item.target.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
                f.write(item.text)
            os.chmod(tmp, 0o644)
            os.replace(tmp, item.target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def make_student_versions(sources, out_dir, *, force: bool = False, stub: str = "named") -> list[Planned]:
    """``lstm-lab student``: plan everything (raising ``StudentVersionError`` with every problem),
    then write."""
    planned = plan([Path(s) for s in sources], Path(out_dir), force=force, stub=stub)
    write(planned)
    return planned


# ---------------------------------------------------------------- where the course is
# The notebooks are not part of the package: a wheel (pip install ., Colab, a JupyterHub image)
# holds lstm_lab/ only. So the commands that need the instructor edition look for the course on
# disk: the folder given, else the current folder or one above it, else the clone around the
# package (a clone or an editable install).
PACKAGE_REPOSITORY = Path(__file__).resolve().parents[1]
COURSE_MARK = Path("notebooks") / "exercises"  # the instructor edition's assignments: only the course has them


class CourseNotFound(LookupError):
    """No course folder where we looked; the message names every folder tried and the fix."""


def is_course(folder: Path) -> bool:
    return any((Path(folder) / COURSE_MARK).glob("*.ipynb"))


def find_course(course=None) -> Path:
    """The course folder (the one holding ``notebooks/exercises/*.ipynb``): ``course`` if given,
    else the current folder or the nearest folder above it that is one, else the repository
    around the package."""
    if course is not None:
        if is_course(course):
            return Path(course).resolve()
        given = f"{course} has no notebook in {COURSE_MARK}/" if Path(course).is_dir() else f"{course} is no folder"
        raise CourseNotFound(f"--course {course}: expected the course folder, which holds {COURSE_MARK}/ with the "
                             f"instructor's notebooks; {given}. Give the folder lstm_lab was cloned into (the one "
                             "that holds notebooks/ and student/).")
    here = Path.cwd().resolve()
    tried = list(dict.fromkeys([here, *here.parents, PACKAGE_REPOSITORY]))
    for folder in tried:
        if is_course(folder):
            return folder
    listed = "\n".join(f"  {folder}" + ("  (around the lstm_lab package)" if folder == PACKAGE_REPOSITORY else "")
                       for folder in tried)
    raise CourseNotFound(f"cannot find the course: no folder holding {COURSE_MARK}/*.ipynb (the instructor "
                         f"edition) in the current folder, the folders above it, or around the installed "
                         f"lstm_lab package. Looked in:\n{listed}\nRun the command inside the course folder "
                         "(the clone of lstm_lab, or any folder in it), or pass --course DIR.")


# ---------------------------------------------------------------- after trying: the reference answer
class NotTriedYet(LookupError):
    """The student's copy of the exercise still holds the stub."""


def _solution_cells(folder: Path):
    for path in sorted(folder.rglob("*.ipynb")):
        if ".ipynb_checkpoints" in path.parts:
            continue
        nb = nbformat.read(path, as_version=4)
        for index, cell in enumerate(nb.cells):
            if is_solution(cell):
                yield path, cell, checked_by(nb.cells, index)


def all_exercises(instructor: Path | None = None) -> list[tuple[str, Path]]:
    """(exercise name, notebook) for every solution cell of the instructor edition
    (default: the found course's ``notebooks/``)."""
    instructor = find_course() / "notebooks" if instructor is None else instructor
    return [(_meta(cell)["grade_id"], path) for path, cell, _ in _solution_cells(instructor)]


def reference_answer(name: str, *, instructor: Path | None = None, student: Path | None = None,
                     anyway: bool = False) -> list[tuple[Path, str]]:
    """The reference answers of exercise ``name`` (one per notebook that has it), as
    ``(instructor notebook, cell source)``. Unless ``anyway``, only once the student's copy in
    ``student`` no longer holds the stub: the answer is for after trying. The editions default
    to the found course's ``notebooks/`` and ``student/``."""
    if instructor is None or student is None:
        course = find_course()
        instructor = course / "notebooks" if instructor is None else instructor
        student = course / "student" if student is None else student
    cells = [(path, cell, after) for path, cell, after in _solution_cells(instructor)
             if _meta(cell)["grade_id"] == name]
    if not cells:
        known = ", ".join(sorted({n for n, _ in all_exercises(instructor)}))
        raise LookupError(f"no exercise named {name!r}; the exercises are: {known}")
    if not anyway and student.is_dir():
        # the stub's last line: `raise NotImplementedError("name: ...")`, or a value exercise's `answer = None`
        stub = _code_stub(cells[0][1], "named", cells[0][2]).split("\n")[-1]
        untried = [path for path, cell, _ in _solution_cells(student) if _meta(cell)["grade_id"] == name
                   and stub in [line.strip() for line in cell.source.split("\n")]]
        if untried and len(untried) == len(cells):
            where = untried[0].relative_to(student.parent) if untried[0].is_relative_to(student.parent) else untried[0]
            raise NotTriedYet(f"{name}: try it first. Its cell in {where} still holds `{stub}`; write your "
                              f"answer there and run the check. (--anyway shows the answer regardless.)")
    return [(path, cell.source) for path, cell, _ in cells]
