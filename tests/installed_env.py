"""lstm_lab as a student on Colab or a JupyterHub image has it: built into a wheel and installed into
a fresh environment outside the clone. tests/test_installed.py checks the wheel and the commands there,
and tests/test_student_edition.py runs every notebook of the student edition in that environment's
kernel (so the student edition is verified as installed, not only as cloned)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
KERNEL = "lstm_lab_installed"  # the kernel spec of the fresh environment's python


@dataclass(frozen=True)
class Installed:
    python: Path     # the fresh environment's python
    bin_dir: Path    # its bin/ (lstm-lab is there)
    wheel: Path
    work: Path       # a folder outside the clone
    jupyter: Path    # a JUPYTER_PATH folder whose kernels/ holds KERNEL, started with ``python``

    def env(self, **extra) -> dict:
        """This process's environment with the fresh environment first on PATH."""
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
        env["PATH"] = f"{self.bin_dir}{os.pathsep}{env.get('PATH', '')}"
        return env | extra


def run(*args, cwd, env=None, timeout=300) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, cwd=cwd, env=env, timeout=timeout)


def install(root: Path) -> Installed:
    """Build the wheel from a copy of the clone and install it into a fresh venv under ``root``."""
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
    # line in a .pth file: torch is not copied again. A path line does not run that folder's own .pth
    # files, so the editable install of the clone (activated by a .pth there) stays out of it.
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

    jupyter = root / "jupyter"
    spec = jupyter / "kernels" / KERNEL
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (lstm_lab installed from its wheel)", "language": "python"}))
    work = root / "work"
    work.mkdir()
    return Installed(python, venv / "bin", wheel, work, jupyter)
