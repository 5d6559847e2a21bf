"""lstm_lab installed, not cloned: what ``pip install .``, ``pip install git+…``, Colab or a
JupyterHub image give. The wheel holds the package only, so what the notebooks read at run time
(notebook 13's text) ships inside it, and the commands that need the course (``lstm-lab answer``,
``lstm-lab grade``) find it from the current folder or ``--course``, or say where they looked."""

import csv
import importlib.util
import re
import zipfile
from pathlib import Path

import nbformat
import pytest

from installed_env import PYPROJECT, ROOT, run
from lstm_lab import student
from test_student import run_cli

EXERCISE = ROOT / "notebooks" / "exercises" / "01_rnn_step.ipynb"
MARK = "# the reference answer of the course copy in tmp_path"


# ---------------------------------------------------------------- finding the course (fast, in this process)
@pytest.fixture
def course_copy(tmp_path):
    """A course of one exercise outside the clone, its rnn_step answer marked so we can tell it
    from the clone's (which the package's own folder would also find)."""
    course = tmp_path / "course"
    nb = nbformat.read(EXERCISE, as_version=4)
    cell = next(c for c in nb.cells if student.is_solution(c))
    cell.source = f"{MARK}\n{cell.source}"
    (course / "notebooks" / "exercises").mkdir(parents=True)
    nbformat.write(nb, course / "notebooks" / "exercises" / EXERCISE.name)
    return course


def test_the_course_is_found_from_the_current_folder_or_one_above_it(course_copy, monkeypatch):
    inside = course_copy / "work" / "week1"
    inside.mkdir(parents=True)
    monkeypatch.chdir(inside)
    assert student.find_course() == course_copy.resolve()
    shown = run_cli("answer", "rnn_step")
    assert shown.returncode == 0, shown.stderr
    assert MARK in shown.stdout and "reference answer in notebooks/exercises/01_rnn_step.ipynb" in shown.stdout


def test_the_course_is_found_from_the_course_option(course_copy, tmp_path, monkeypatch):
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    shown = run_cli("answer", "rnn_step", "--course", course_copy)
    assert shown.returncode == 0 and MARK in shown.stdout, shown.stderr
    listed = run_cli("answer", "--course", course_copy)
    assert listed.stdout.split() == ["rnn_step", "notebooks/exercises/01_rnn_step.ipynb"]
    wrong = run_cli("answer", "--course", tmp_path / "elsewhere")
    assert wrong.returncode == 1 and wrong.stdout == ""
    assert (f"--course {tmp_path / 'elsewhere'}: expected the course folder, which holds notebooks/exercises/"
            in wrong.stderr) and "has no notebook in notebooks/exercises/" in wrong.stderr


def test_no_course_found_names_every_folder_tried_and_the_fix(tmp_path, monkeypatch):
    # as installed: the folder around the package is site-packages, no course
    site_packages = tmp_path / "venv" / "site-packages"
    monkeypatch.setattr(student, "PACKAGE_REPOSITORY", site_packages)
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.chdir(empty)
    tried = [empty.resolve(), *empty.resolve().parents]
    for result in (run_cli("answer"), run_cli("answer", "rnn_step"),
                   run_cli("grade", empty, "--out", tmp_path / "grades")):
        assert result.returncode == 1 and result.stdout == "" and "Traceback" not in result.stderr
        assert "cannot find the course: no folder holding notebooks/exercises/*.ipynb" in result.stderr
        lines = [line.strip() for line in result.stderr.splitlines()]
        assert all(str(folder) in lines for folder in tried), result.stderr
        assert f"{site_packages}  (around the lstm_lab package)" in lines
        assert "Run the command inside the course folder" in result.stderr and "pass --course DIR" in result.stderr
    assert not (tmp_path / "grades").exists()


# ---------------------------------------------------------------- the real thing: the wheel in a fresh environment
# (the `installed` fixture, tests/conftest.py; the student edition runs in it too, tests/test_student_edition.py)
def test_the_test_extra_can_build_the_wheel_offline():
    build_backend = PYPROJECT["build-system"]["requires"]
    assert [r for r in PYPROJECT["project"]["optional-dependencies"]["test"] if r.startswith("setuptools")] == \
        build_backend, "the test extra's setuptools (used to build offline here) should be the build backend's range"
    assert importlib.util.find_spec("setuptools"), f"building the wheel offline needs {build_backend} in this venv"


def test_the_wheel_holds_the_data_and_the_licence(installed):
    with zipfile.ZipFile(installed.wheel) as z:
        names = set(z.namelist())
        metadata = z.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert {"lstm_lab/data/pride_and_prejudice_vol1.txt", "lstm_lab/data/README.md", "lstm_lab/golden.json"} <= names
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names), sorted(names)
    assert "License-Expression: MIT" in metadata.splitlines()
    assert not any(n.startswith(("notebooks/", "student/", "data/")) for n in names)


def test_the_fresh_environment_imports_the_installed_package_not_the_clone(installed):
    """Notebook 13's text is read from the package (its whole notebook runs there in the student edition's
    test); the clone's lstm_lab is not what the fresh environment imports."""
    probe = run(installed.python, "-c", "import lstm_lab, lstm_lab.text; print(lstm_lab.__file__); "
                "print(len(lstm_lab.text.load_text()))", cwd=installed.work, env=installed.env())
    assert probe.returncode == 0, probe.stderr
    where, length = probe.stdout.split()
    assert Path(where).is_relative_to(installed.bin_dir.parent), f"lstm_lab came from {where}, not the fresh venv"
    assert int(length) == 231_267


def test_the_commands_find_the_course_from_the_folder_or_the_option_or_say_where_they_looked(installed):
    work, env = installed.work, installed.env()
    command = installed.bin_dir / "lstm-lab"
    assert command.read_text().startswith(f"#!{installed.python}")

    lost = run(command, "answer", "rnn_step", cwd=work, env=env)
    assert lost.returncode == 1 and "Traceback" not in lost.stderr
    assert "cannot find the course" in lost.stderr and f"  {work.resolve()}\n" in lost.stderr
    assert "(around the lstm_lab package)" in lost.stderr and "pass --course DIR" in lost.stderr

    listed = run(command, "answer", cwd=ROOT / "notebooks" / "exercises", env=env)  # walks up to the clone
    assert listed.returncode == 0, listed.stderr
    assert re.search(r"^rnn_step +notebooks/exercises/01_rnn_step.ipynb$", listed.stdout, re.M), listed.stdout
    untried = run(command, "answer", "rnn_step", "--course", ROOT, cwd=work, env=env)
    assert untried.returncode == 1 and "rnn_step: try it first" in untried.stderr  # the clone's student/ has the stub
    shown = run(command, "answer", "rnn_step", "--anyway", "--course", ROOT, cwd=work, env=env)
    assert shown.returncode == 0 and "def rnn_step(" in shown.stdout, shown.stderr

    (work / "submitted" / "ada").mkdir(parents=True)  # a student who handed in nothing: no notebook runs
    graded = run(command, "grade", "submitted", "--out", "grades", "--course", ROOT, cwd=work, env=env)
    assert graded.returncode == 0, graded.stderr
    with open(work / "grades" / "grades.csv", newline="") as f:
        table = list(csv.DictReader(f))
    solutions = sorted(p.name for p in (ROOT / "notebooks" / "exercises").glob("*.ipynb"))
    assert sorted({r["notebook"] for r in table}) == solutions
    assert all(r["student"] == "ada" and r["diagnosis"] == "not submitted" for r in table)

    made = run(command, "student", EXERCISE, "--out", "release", cwd=work, env=env)
    assert made.returncode == 0, made.stderr
    released = nbformat.read(work / "release" / EXERCISE.name, as_version=4)
    answer, = [c.source for c in released.cells if student.is_solution(c)]
    assert 'raise NotImplementedError("rnn_step: not implemented yet")' in answer and "SOLUTION" not in answer
