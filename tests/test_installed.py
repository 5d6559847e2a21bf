"""lstm_lab installed, not cloned: what ``pip install .``, ``pip install git+…``, Colab or a
JupyterHub image give. The wheel holds the package only, so what the notebooks read at run time
(notebook 13's text) ships inside it, and the commands that need the course (``lstm-lab answer``,
``lstm-lab grade``) find it from the current folder or ``--course``, or say where they looked."""

import csv
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from pathlib import Path

import nbformat
import pytest

from lstm_lab import student
from test_student import run_cli

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
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
def run(*args, cwd, env=None, timeout=300):
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, cwd=cwd, env=env, timeout=timeout)


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(the fresh environment's python, its bin/, the wheel, a work folder outside the clone)."""
    root = tmp_path_factory.mktemp("installed")
    build_backend = PYPROJECT["build-system"]["requires"]
    assert [r for r in PYPROJECT["project"]["optional-dependencies"]["test"] if r.startswith("setuptools")] == \
        build_backend, "the test extra's setuptools (used to build offline here) should be the build backend's range"
    assert importlib.util.find_spec("setuptools"), f"building the wheel offline needs {build_backend} in this venv"

    # Build from a copy: the clone gets no build/ or egg-info, and the wheel can hold only what the copy has.
    source = root / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, source / name)
    shutil.copytree(ROOT / "lstm_lab", source / "lstm_lab", ignore=shutil.ignore_patterns("__pycache__"))
    built = run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                "-w", root / "dist", source, cwd=root)
    assert built.returncode == 0, built.stdout + built.stderr
    wheel, = (root / "dist").glob("lstm_lab-*.whl")

    # A fresh venv that shares this one's packages (torch, jupyter, nbclient, pip) through a path
    # line in a .pth file. A path line does not run that folder's own .pth files, so the editable
    # install of the clone (activated by a .pth there) stays out of the fresh environment.
    venv = root / "venv"
    made = run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=root)
    assert made.returncode == 0, made.stderr
    python = venv / "bin" / "python"
    purelib = Path(run(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))", cwd=root).stdout.strip())
    shared = dict.fromkeys([sysconfig.get_path("purelib"), sysconfig.get_path("platlib")])
    (purelib / "shared_with_the_test_venv.pth").write_text("".join(f"{p}\n" for p in shared))
    # --ignore-installed: pip sees the clone's editable lstm_lab through the shared path and must not touch it
    done = run(python, "-m", "pip", "install", "--no-deps", "--no-index", "--ignore-installed", wheel, cwd=root)
    assert done.returncode == 0, done.stdout + done.stderr

    work = root / "work"
    work.mkdir()
    return python, venv / "bin", wheel, work


def fresh_env(bin_dir: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    return env


def test_the_wheel_holds_the_data_and_the_licence(installed):
    _, _, wheel, _ = installed
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        metadata = z.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert {"lstm_lab/data/pride_and_prejudice_vol1.txt", "lstm_lab/data/README.md", "lstm_lab/golden.json"} <= names
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names), sorted(names)
    assert "License-Expression: MIT" in metadata.splitlines()
    assert not any(n.startswith(("notebooks/", "student/", "data/")) for n in names)


def test_the_fresh_environment_imports_the_installed_package_not_the_clone(installed):
    python, bin_dir, _, work = installed
    probe = run(python, "-c", "import lstm_lab, lstm_lab.text; print(lstm_lab.__file__); "
                "print(len(lstm_lab.text.load_text()))", cwd=work, env=fresh_env(bin_dir))
    assert probe.returncode == 0, probe.stderr
    where, length = probe.stdout.split()
    assert Path(where).is_relative_to(bin_dir.parent), f"lstm_lab came from {where}, not the fresh venv"
    assert int(length) == 231_267


@pytest.mark.slow
def test_notebook_13_runs_from_the_installed_package(installed):
    python, bin_dir, _, work = installed
    folder = work / "notebook13"
    folder.mkdir()
    shutil.copy2(ROOT / "notebooks" / "13_language_model.ipynb", folder)
    # The fresh python runs the client, so its kernel ("python3", ipykernel's own) is that python;
    # a last cell says which lstm_lab the kernel imported.
    script = ("import sys, nbformat\n"
              "from nbclient import NotebookClient\n"
              "nb = nbformat.read('13_language_model.ipynb', as_version=4)\n"
              "nb.cells.append(nbformat.v4.new_code_cell('import lstm_lab; print(lstm_lab.__file__)'))\n"
              "NotebookClient(nb, timeout=300, kernel_name='python3').execute()\n"  # raises on any cell error
              "print(nb.cells[-1].outputs[0].text)\n")
    # one thread: with another program on a core, torch's threads wait for each other (README, Threads)
    executed = run(python, "-c", script, cwd=folder, env=fresh_env(bin_dir) | {"OMP_NUM_THREADS": "1"})
    assert executed.returncode == 0, executed.stderr[-3000:]
    assert Path(executed.stdout.strip()).is_relative_to(bin_dir.parent), executed.stdout


@pytest.mark.slow
def test_the_commands_find_the_course_from_the_folder_or_the_option_or_say_where_they_looked(installed):
    python, bin_dir, _, work = installed
    env = fresh_env(bin_dir)
    command = bin_dir / "lstm-lab"
    assert command.read_text().startswith(f"#!{python}")

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
