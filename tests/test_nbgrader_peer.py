"""`lstm-lab student` against the real nbgrader, on the same solution notebooks.

nbgrader lives in its own environment (it would add its menus to every JupyterLab that shares
its packages); ``LSTM_LAB_NBGRADER`` names its ``nbgrader`` executable. ``run.sh test`` sets it
and ``LSTM_LAB_REQUIRE_PEERS=1``: then a missing nbgrader fails these tests instead of skipping.
"""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from lstm_lab import student

ROOT = Path(__file__).resolve().parents[1]
EXERCISES = sorted((ROOT / "notebooks" / "exercises").glob("*.ipynb"))


@pytest.fixture(scope="module")
def nbgrader() -> Path:
    value = os.environ.get("LSTM_LAB_NBGRADER")
    path = Path(value) if value else None
    if path is None or not path.is_file() or not os.access(path, os.X_OK):
        why = (f"LSTM_LAB_NBGRADER={value!r} is not an executable nbgrader" if value
               else "LSTM_LAB_NBGRADER is not set (bash run.sh test sets it up)")
        if os.environ.get("LSTM_LAB_REQUIRE_PEERS") == "1":
            pytest.fail(f"nbgrader is required here: {why}")
        pytest.skip(why)
    return path


def generate_assignment(nbgrader: Path, sources: list[Path], root: Path) -> subprocess.CompletedProcess:
    """nbgrader's generate_assignment --no-db on copies of ``sources``, in a course folder of its own."""
    source_dir = root / "source" / "exercises"
    source_dir.mkdir(parents=True)
    for path in sources:
        shutil.copy(path, source_dir / path.name)
    return subprocess.run(
        [str(nbgrader), "generate_assignment", "exercises", "--no-db", f"--CourseDirectory.root={root}",
         "--CourseDirectory.source_directory=source", "--CourseDirectory.release_directory=release"],
        capture_output=True, text=True, cwd=root)


def lstm_lab_student(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lstm_lab.cli", "student", *map(str, args)],
                          capture_output=True, text=True, cwd=ROOT)


def peer_python(nbgrader: Path, code: str, *args) -> str:
    """Run ``code`` with the Python that nbgrader runs in (to call nbgrader's own functions)."""
    result = subprocess.run([str(nbgrader.parent / "python"), "-c", code, *map(str, args)], capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def releases(nbgrader, tmp_path_factory):
    root = tmp_path_factory.mktemp("course")
    generated = generate_assignment(nbgrader, EXERCISES, root)
    assert generated.returncode == 0, generated.stdout + generated.stderr
    ours = {}
    for stub in ("nbgrader", "named"):
        out = root / f"lstm_lab_{stub}"
        result = lstm_lab_student(*EXERCISES, "--out", out, "--stub", stub)
        assert result.returncode == 0, result.stderr
        ours[stub] = out
    return root / "release" / "exercises", ours


def test_nbgrader_accepts_the_solution_notebooks_metadata(nbgrader):
    checked = peer_python(nbgrader, (
        "import sys, nbformat\n"
        "from nbgrader.nbgraderformat import MetadataValidator\n"
        "for path in sys.argv[1:]:\n"
        "    MetadataValidator().validate_nb(nbformat.read(path, as_version=4))\n"
        "print(len(sys.argv) - 1)"), *EXERCISES)
    assert int(checked) == len(EXERCISES)


def test_with_nbgraders_stub_the_files_are_byte_for_byte_nbgraders(releases):
    theirs, ours = releases
    assert sorted(p.name for p in theirs.iterdir()) == sorted(p.name for p in EXERCISES)
    for path in EXERCISES:
        assert (ours["nbgrader"] / path.name).read_bytes() == (theirs / path.name).read_bytes(), path.name


def test_with_named_stubs_the_cells_are_nbgraders_but_for_the_stub_line(releases, nbgrader):
    theirs, ours = releases
    for path in EXERCISES:
        mine = nbformat.read(ours["named"] / path.name, as_version=4)
        other = nbformat.read(theirs / path.name, as_version=4)
        assert mine.metadata == other.metadata
        assert len(mine.cells) == len(other.cells)
        for a, b in zip(mine.cells, other.cells):
            assert (a.id, a.cell_type, a.get("outputs"), a.get("execution_count")) == \
                   (b.id, b.cell_type, b.get("outputs"), b.get("execution_count"))
            if student.is_solution(a):
                name = a.metadata["nbgrader"]["grade_id"]
                named = f'raise NotImplementedError("{name}: not implemented yet")'
                assert named in a.source
                assert a.source.replace(named, "raise NotImplementedError()") == b.source
                meta_a = {k: v for k, v in a.metadata["nbgrader"].items() if k != "checksum"}
                meta_b = {k: v for k, v in b.metadata["nbgrader"].items() if k != "checksum"}
                assert meta_a == meta_b
                assert {k: v for k, v in a.metadata.items() if k != "nbgrader"} == \
                       {k: v for k, v in b.metadata.items() if k != "nbgrader"}
            else:
                assert a == b
    # our checksums are the ones nbgrader computes for our cells, so nbgrader's tools accept them
    sums = json.loads(peer_python(nbgrader, (
        "import sys, json, nbformat\n"
        "from nbgrader.utils import compute_checksum\n"
        "from nbgrader.nbgraderformat import MetadataValidator\n"
        "out = []\n"
        "for path in sys.argv[1:]:\n"
        "    nb = nbformat.read(path, as_version=4)\n"
        "    MetadataValidator().validate_nb(nb)\n"
        "    out += [[c.metadata.nbgrader['checksum'], compute_checksum(c)]\n"
        "            for c in nb.cells if 'nbgrader' in c.metadata]\n"
        "print(json.dumps(out))"), *(ours["named"] / p.name for p in EXERCISES)))
    assert sums and all(stored == computed for stored, computed in sums)


BAD_SOURCES = {  # name: (how to break an exercise notebook, what nbgrader says, what we say)
    "a solution region outside a solution cell": (lambda nb: nb.cells.__setitem__(
        0, nbformat.v4.new_code_cell("def f():\n    ### BEGIN SOLUTION\n    pass\n    ### END SOLUTION")),
        "Solution region detected in a non-solution cell", "a solution region needs a solution cell"),
    "hidden tests outside a graded cell": (lambda nb: nb.cells.__setitem__(
        0, nbformat.v4.new_code_cell("### BEGIN HIDDEN TESTS\nassert True\n### END HIDDEN TESTS")),
        "Hidden test region detected in a non-grade cell", "hidden tests need an autograded test cell"),
    "a solution region that never ends": (lambda nb: setattr(
        next(c for c in nb.cells if student.is_solution(c)), "source", "### BEGIN SOLUTION\nx = 1"),
        "no end solution statement found", "'BEGIN SOLUTION' without 'END SOLUTION'"),
}


@pytest.mark.parametrize("name", BAD_SOURCES)
def test_both_refuse_the_same_broken_sources(name, nbgrader, tmp_path):
    breaks, nbgrader_says, we_say = BAD_SOURCES[name]
    nb = nbformat.read(EXERCISES[0], as_version=4)
    breaks(nb)
    for cell in nb.cells:
        cell.setdefault("id", "added")
    bad = tmp_path / "bad.ipynb"
    nbformat.write(nb, bad)
    theirs = generate_assignment(nbgrader, [bad], tmp_path / "course")
    assert theirs.returncode != 0 and nbgrader_says in theirs.stdout + theirs.stderr
    with pytest.raises(student.StudentVersionError, match=re.escape(we_say)):
        student.make_student_versions([bad], tmp_path / "ours")
    assert not (tmp_path / "ours").exists()


# ---------------------------------------------------------------- grading: nbgrader and lstm-lab grade agree
def gradebook_scores(nbgrader: Path, gradebook: Path, assignment: str, notebook: str, students) -> dict:
    """Each student's score of ``notebook`` in ``assignment``, as nbgrader's gradebook holds it."""
    return json.loads(peer_python(nbgrader, (
        "import sys, json\n"
        "from nbgrader.api import Gradebook\n"
        "with Gradebook('sqlite:///' + sys.argv[1]) as gb:\n"
        "    print(json.dumps({s: gb.find_submission_notebook(sys.argv[2], sys.argv[3], s).score\n"
        "                      for s in sys.argv[4:]}))"), gradebook, notebook, assignment, *students))


def peer_env(nbgrader: Path) -> dict:
    """nbgrader runs `jupyter` and the kernel of its own environment: that environment goes first on PATH."""
    return dict(os.environ, PATH=f"{nbgrader.parent}{os.pathsep}{os.environ.get('PATH', '')}")


def test_the_peer_can_import_lstm_lab_and_torch(nbgrader):
    """Without them every notebook fails its first cell and nbgrader gives 0 points with exit 0."""
    result = subprocess.run([str(nbgrader.parent / "python"), "-c", "import lstm_lab, torch, lstm_lab.checks"],
                            capture_output=True, text=True)
    assert result.returncode == 0, ("nbgrader's environment cannot import lstm_lab and torch, so it would grade "
                                    f"every student 0: {result.stderr.strip().splitlines()[-1:]}")


@pytest.fixture(scope="module")
def generated_course(nbgrader, tmp_path_factory) -> Path:
    """A course folder holding this repository's nbgrader_config.py (nbgrader reads it from the folder it
    starts in), exercise 01 generated by nbgrader (once for this file), and the fake submissions in nbgrader's
    layout: the very submissions tests/test_grade.py grades with `lstm-lab grade`."""
    from fake_submissions import NOTEBOOK, nbgrader_layout, write_submissions

    root = tmp_path_factory.mktemp("generated") / "course"
    source_dir = root / "source" / "exercises"
    source_dir.mkdir(parents=True)
    shutil.copy(NOTEBOOK, source_dir / NOTEBOOK.name)
    shutil.copy(ROOT / "nbgrader_config.py", root / "nbgrader_config.py")
    generated = subprocess.run([str(nbgrader), "generate_assignment", "exercises", f"--CourseDirectory.root={root}"],
                               capture_output=True, text=True, cwd=root, env=peer_env(nbgrader))
    assert generated.returncode == 0, generated.stdout + generated.stderr
    write_submissions(root / "submitted", layout=nbgrader_layout, stub="nbgrader")
    return root


def course_with_submissions(generated: Path, root: Path, kinds=None) -> list[str]:
    """A copy of the generated course at ``root``, with the submissions of ``kinds`` only (default: all);
    nbgrader's common arguments for it."""
    shutil.copytree(generated, root)
    for folder in (root / "submitted").iterdir():
        if kinds is not None and folder.name not in kinds:
            shutil.rmtree(folder)
    return [f"--CourseDirectory.root={root}"]


BROKEN_ENVIRONMENTS = {  # what `import lstm_lab` raises in the kernel, and what autograde must then say
    "lstm_lab missing": ('raise ModuleNotFoundError("No module named \'lstm_lab\'", name="lstm_lab")',
                         ("the kernel nbgrader started cannot import lstm_lab (cell ",
                          "ModuleNotFoundError: No module named 'lstm_lab'")),
    "lstm_lab broken": ('raise ImportError("lstm_lab needs torch 2.13, found 1.0")',
                        ("cannot import what the course's own cells import (cell ",
                         "ImportError: lstm_lab needs torch 2.13, found 1.0")),
}


@pytest.mark.parametrize("broken", BROKEN_ENVIRONMENTS)
def test_nbgrader_without_lstm_lab_is_an_error_that_says_so(broken, nbgrader, generated_course, tmp_path):
    """The issue measured 0 points and exit 0 for a correct student when the kernel lacks lstm_lab.
    With the course's nbgrader_config.py, autograde stops with an error that says what is missing."""
    raises, says = BROKEN_ENVIRONMENTS[broken]
    root = tmp_path / "course"
    common = course_with_submissions(generated_course, root, kinds=["correct"])
    hidden = tmp_path / "shadow" / "lstm_lab"  # first on the path: `import lstm_lab` fails as it would there
    hidden.mkdir(parents=True)
    (hidden / "__init__.py").write_text(raises + "\n")
    env = dict(peer_env(nbgrader), PYTHONPATH=str(hidden.parent))
    graded = subprocess.run([str(nbgrader), "autograde", "exercises", "--create", *common], capture_output=True,
                            text=True, cwd=root, env=env)
    log = graded.stdout + graded.stderr
    assert graded.returncode != 0, log
    assert all(part in log for part in says), log
    assert "Install lstm_lab and torch in nbgrader's environment" in log, log
    assert not list((root / "autograded").rglob("*.ipynb")), "a notebook graded without lstm_lab was kept"


def test_nbgrader_and_lstm_lab_grade_give_the_same_points(nbgrader, generated_course, tmp_path):
    """nbgrader grades the fake submissions; tests/test_grade.py grades the very same ones (written by
    fake_submissions.write_submissions in nbgrader's layout, with nbgrader's stub) with `lstm-lab grade` and
    requires the same POINTS, so the two give the same points."""
    from fake_submissions import NOTEBOOK, POINTS, max_points

    test_the_peer_can_import_lstm_lab_and_torch(nbgrader)
    root = tmp_path / "course"
    common = course_with_submissions(generated_course, root)  # the config's import check passes and changes nothing
    graded = subprocess.run([str(nbgrader), "autograde", "exercises", "--create", *common], capture_output=True,
                            text=True, cwd=root, env=peer_env(nbgrader))
    log = graded.stdout + graded.stderr
    assert graded.returncode == 0, log
    assert "partial credit" not in log.lower(), log
    scores = gradebook_scores(nbgrader, root / "gradebook.db", "exercises", NOTEBOOK.stem, POINTS)
    most = max_points()
    expected = {kind: (most if points == "all" else points) for kind, points in POINTS.items()}
    assert scores == expected, f"nbgrader: {scores}"
