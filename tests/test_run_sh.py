"""run.sh's choice of Python, driven with stand-in interpreters on PATH."""

import os
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
