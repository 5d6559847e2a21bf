"""run.sh driven with stand-ins: its choice of Python and of torch's index, what `lab` installs and starts,
and how `test` runs its two passes."""

import hashlib
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BASH = shutil.which("bash")


def choose(tmp_path: Path, interpreters: dict[str, str]) -> subprocess.CompletedProcess:
    """Run `bash run.sh which-python` with only `interpreters` (name -> "implementation X.Y") on PATH."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "dirname").symlink_to(shutil.which("dirname"))
    for name, answer in interpreters.items():
        stand_in = bin_dir / name
        stand_in.write_text(f"#!/bin/sh\necho '{answer}'\n")
        stand_in.chmod(0o755)
    return subprocess.run([BASH, str(ROOT / "run.sh"), "which-python"], capture_output=True, text=True,
                          env={"PATH": str(bin_dir), "HOME": str(tmp_path)}, timeout=30)


def test_prefers_the_python_ci_verifies(tmp_path):
    result = choose(tmp_path, {"python3": "cpython 3.13", "python3.11": "cpython 3.11", "python3.12": "cpython 3.12"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "python3.11"
    assert result.stderr == ""


def test_takes_a_newer_python_and_says_so(tmp_path):
    result = choose(tmp_path, {"python3": "cpython 3.12"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "python3"
    assert "using Python 3.12" in result.stderr and "CI verifies 3.11" in result.stderr


def test_takes_the_newest_accepted_of_several(tmp_path):
    result = choose(tmp_path, {"python3.12": "cpython 3.12", "python3.13": "cpython 3.13", "python3": "cpython 3.9"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "python3.13"


@pytest.mark.parametrize("interpreters, found", [
    ({"python3": "cpython 3.9"}, "3.9"),
    ({"python3": "cpython 3.15", "python": "cpython 2.7"}, "3.15 2.7"),
    ({"python3.11": "pypy 3.11"}, "3.11"),
    ({}, "no python on PATH"),
])
def test_refuses_clearly_naming_the_versions_it_accepts(tmp_path, interpreters, found):
    result = choose(tmp_path, interpreters)
    assert result.returncode != 0
    assert result.stdout == ""
    assert "needs CPython 3.11 3.12 3.13 3.14" in result.stderr
    assert f"found: {found}" in result.stderr


def test_requires_python_matches_run_sh():
    import tomllib

    spec = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert spec == ">=3.11,<3.15", "pyproject's requires-python and run.sh's ACCEPTED_PYTHONS disagree"
    assert 'ACCEPTED_PYTHONS="3.11 3.12 3.13 3.14"' in (ROOT / "run.sh").read_text()


@pytest.mark.parametrize("omp, expected", [(None, str(max(1, min(4, os.cpu_count() // 2)))), ("3", "3")])
def test_lab_threads_are_half_the_cores_unless_the_user_chose(omp, expected):
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    if omp is not None:
        env["OMP_NUM_THREADS"] = omp
    result = subprocess.run([BASH, str(ROOT / "run.sh"), "lab-threads"], capture_output=True, text=True,
                            env=env, timeout=30)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == expected


# ---------------------------------------------------------------- where torch comes from
STAND_IN_PYTHON = """#!/usr/bin/env bash
# A stand-in for the environment's python: answers run.sh's torch questions, logs what pip is asked to install.
here=$(dirname "$0")
case "$*" in
  "-c "*) [ -f "$here/torch-installed" ] ;;                      # is torch 2.13.0 installed already?
  *"install --dry-run --no-index"*) [ -f "$here/local-wheel" ] ;;  # can pip's configuration alone provide it?
  *" install "*) echo "${@:5}" >> "$here/pip.log" ;;             # a real install: log its arguments
  *) echo "unexpected: $*" >&2; exit 3 ;;
esac
"""


def install_torch(tmp_path: Path, system: str, machine: str, *, local_wheel: bool, installed: bool = False):
    """`bash run.sh install-torch` with a stand-in python and a stand-in `uname`; what pip was asked."""
    venv_bin = tmp_path / "venv" / "bin"
    venv_bin.mkdir(parents=True)
    python = venv_bin / "python"
    python.write_text(STAND_IN_PYTHON)
    python.chmod(0o755)
    for flag, wanted in (("local-wheel", local_wheel), ("torch-installed", installed)):
        if wanted:
            (venv_bin / flag).touch()
    tools = tmp_path / "tools"
    tools.mkdir()
    uname = tools / "uname"
    uname.write_text(f'#!/bin/sh\ncase "$1" in -s) echo {system} ;; -m) echo {machine} ;; esac\n')
    uname.chmod(0o755)
    env = dict(os.environ, PATH=f"{tools}{os.pathsep}{os.environ['PATH']}", LSTM_LAB_VENV=str(tmp_path / "venv"))
    result = subprocess.run([BASH, str(ROOT / "run.sh"), "install-torch"], capture_output=True, text=True, env=env,
                            timeout=30)
    assert result.returncode == 0, result.stderr
    log = venv_bin / "pip.log"
    return result, (log.read_text().splitlines() if log.exists() else [])


def test_a_linux_student_gets_the_cpu_build_from_pytorchs_cpu_index(tmp_path):
    result, asked = install_torch(tmp_path, "Linux", "x86_64", local_wheel=False)
    assert asked == ["-q torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu"]
    assert "CPU build, from PyTorch's CPU wheel index" in result.stdout


def test_a_torch_that_pips_configuration_provides_is_taken_and_no_other_index_is_asked(tmp_path):
    """CI's machines: pip's configuration points at a local CPU wheel, and PyTorch's index cannot be reached."""
    result, asked = install_torch(tmp_path, "Linux", "x86_64", local_wheel=True)
    assert asked == ["-q torch==2.13.0"]
    assert "index" not in result.stdout


@pytest.mark.parametrize("system, machine", [("Darwin", "arm64"), ("Linux", "aarch64"), ("MINGW64_NT-10.0", "x86_64")])
def test_elsewhere_pypis_wheels_are_cpu_builds_already(tmp_path, system, machine):
    _, asked = install_torch(tmp_path, system, machine, local_wheel=False)
    assert asked == ["-q torch==2.13.0"]


def test_torch_already_installed_is_not_installed_again(tmp_path):
    _, asked = install_torch(tmp_path, "Linux", "x86_64", local_wheel=False, installed=True)
    assert asked == []


def test_lab_installs_the_course_without_the_test_tools_and_opens_the_student_edition(tmp_path):
    """`bash run.sh lab` with a stand-in python (torch present) and a stand-in jupyter: what it installs and
    how it starts JupyterLab. As root (a container) it passes --allow-root and says so."""
    venv_bin = tmp_path / "venv" / "bin"
    venv_bin.mkdir(parents=True)
    (venv_bin / "python").write_text(STAND_IN_PYTHON)
    (venv_bin / "torch-installed").touch()
    (venv_bin / "jupyter").write_text('#!/bin/sh\necho "jupyter $*" >> "$(dirname "$0")/jupyter.log"\n')
    for name in ("python", "jupyter"):
        (venv_bin / name).chmod(0o755)
    env = dict(os.environ, LSTM_LAB_VENV=str(tmp_path / "venv"))
    result = subprocess.run([BASH, str(ROOT / "run.sh"), "lab"], capture_output=True, text=True, env=env, timeout=30)
    assert result.returncode == 0, result.stderr
    assert (venv_bin / "pip.log").read_text().splitlines() == ["-q -e ."]  # no [test]: no pytest, no Playwright
    started = (venv_bin / "jupyter.log").read_text().split()
    assert started[:2] == ["jupyter", "lab"]
    assert "--LabApp.default_url=/lab/tree/student/00_start_here.ipynb" in started
    as_root = os.geteuid() == 0
    assert ("--allow-root" in started) == as_root
    assert ("running as root (a container?): starting JupyterLab with --allow-root" in result.stdout) == as_root


STAND_IN_TEST_PYTHON = """#!/usr/bin/env bash
# A stand-in for the environments' python during `run.sh test`: every set-up question answered "all there";
# pytest's passes logged, the first one failing.
here=$(dirname "$0")
case "$*" in
  "-m pytest "*)
    echo "$*" >> "$here/pytest.log"
    if [ "$(wc -l < "$here/pytest.log")" = 1 ]; then echo "=== 1 failed, 9 passed in 1.00s ==="; exit 1; fi
    echo "=== 5 passed in 1.00s ==="; exit 0 ;;
  *) exit 0 ;;
esac
"""


def test_the_test_command_runs_both_passes_prints_both_summaries_and_fails_if_either_failed(tmp_path):
    """`bash run.sh test` with stand-in environments: pass 1 fails, pass 2 still runs, the command fails."""
    want = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    for venv in ("venv", "venv-nbgrader"):
        bin_dir = tmp_path / venv / "bin"
        bin_dir.mkdir(parents=True)
        for name in ("python", "nbgrader"):
            (bin_dir / name).write_text(STAND_IN_TEST_PYTHON)
            (bin_dir / name).chmod(0o755)
    (tmp_path / "venv" / ".lstm_lab-installed").write_text(f"{want} course\n{want} test\n")
    site = tmp_path / "venv-nbgrader" / "lib" / "python3.11" / "site-packages"
    site.mkdir(parents=True)
    (site / "lstm_lab_shared.pth").write_text("import site; site.addsitedir('')\n")  # the stand-in prints no path
    chromium = Path("/usr/bin/chromium")
    if not chromium.exists():
        pytest.fail("the test command needs /usr/bin/chromium (bash run.sh test installs it as root)")
    env = dict(os.environ, LSTM_LAB_VENV=str(tmp_path / "venv"))
    result = subprocess.run([BASH, str(ROOT / "run.sh"), "test", "-k", "something"], capture_output=True, text=True,
                            env=env, timeout=60)
    assert result.returncode == 1, result.stdout + result.stderr
    passes = (tmp_path / "venv" / "bin" / "pytest.log").read_text().splitlines()
    assert len(passes) == 2, passes
    tests = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "tests").glob("test_*.py"))
    notebooks = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "notebooks").rglob("*.ipynb")
                       if ".ipynb_checkpoints" not in p.parts)
    first, second = (p.split() for p in passes)
    assert first[:3] == ["-m", "pytest", "-n"] and "--nbval" in first and "--no-loadscope-reorder" in first
    # every test file and notebook once, the longest first (so that no worker waits at the end for another)
    assert sorted(a for a in first if a.endswith((".py", ".ipynb"))) == sorted(tests + notebooks)
    assert first[first.index("--no-loadscope-reorder") + 1] == "tests/test_student_edition.py"
    # the second pass: every notebook once, and the check that the emulation took effect
    assert sorted(a for a in second if a.endswith((".py", ".ipynb"))) == \
        sorted(notebooks + ["tests/test_cpu_emulation.py"])
    assert all(p.endswith("-k something") for p in passes)  # the user's arguments reach both passes
    assert "pass 1: === 1 failed, 9 passed in 1.00s ===" in result.stdout
    assert "pass 2: === 5 passed in 1.00s ===" in result.stdout
    table = result.stdout[result.stdout.index("stage "):]
    assert re.search(r"pass 1: tests and notebooks, native CPU +\d+ s +FAILED", table), table
    assert re.search(r"pass 2: notebooks, emulated AVX2 CPU +\d+ s +ok", table), table
    assert re.search(r"^total +\d+ s$", table, re.M), table
