"""One page driver for notebook 08 in JupyterLab and headless Chromium.

Used by the browser test (``tests/test_browser.py``, which checks what the page shows) and by the
browser latency benchmark (``benchmarks/browser_latency.py``, which times it), so both drive the
page the same way:

    with jupyterlab(workdir, NOTEBOOK) as lab, chromium(api) as browser:
        page = open_page(browser, lab)
        run_all(page, lab)
        explorer = lstm_explorer(page)
        press_slider(page, slider(explorer, "bias"), "ArrowRight")

JupyterLab runs on 127.0.0.1 (a free port, a random token) over a temporary copy of the
notebook, with its own config, settings and workspace folders, so nothing of the user's is read
or written; ``jupyterlab`` always shuts the server and its kernels down. The browser is Debian's
Chromium (``/usr/bin/chromium``) through Playwright for Python: Playwright's own download does not
work here. What cannot run raises ``Unavailable``, what goes wrong ``DriverError``; the test turns
the first into a skip (or a failure under LSTM_LAB_REQUIRE_PEERS=1).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "08_gate_explorer.ipynb"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
VIEWPORT = {"width": 1400, "height": 1000}
TIMEOUT_MS = 90_000
STUDENT_NOTEBOOK = ROOT / "student" / "08_gate_explorer.ipynb"  # what a student opens (the browser test)
# printed by the notebook's last cell, so every cell has run: in the instructor edition (the latency
# benchmark) its answer is right; in the untouched student edition the exercise is not done yet
LAST_OUTPUT = {"instructor": "✓ forget bias: correct", "student": "✗ forget bias: not yet"}
EXPLORER = ".lstm-lab-lstm-explorer"
FIGURE = "img.lstm-lab-figure"
IDLE = ".jp-Notebook-ExecutionIndicator[data-status='idle']"


class Unavailable(RuntimeError):
    """The browser or Playwright is not installed."""


class DriverError(RuntimeError):
    """JupyterLab or the page did not do what the driver waited for."""


@dataclass
class Lab:
    base: str  # http://127.0.0.1:PORT
    token: str
    root: Path  # the folder the server serves
    log: Path

    def url(self, notebook: str) -> str:
        return f"{self.base}/lab/tree/{notebook}?token={self.token}"


# ---------------------------------------------------------------- JupyterLab
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tail(path: Path, lines: int = 40) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


@contextmanager
def jupyterlab(workdir: Path, notebook: Path = NOTEBOOK, env: dict | None = None):
    """A JupyterLab server over a copy of ``notebook`` in ``workdir``; yields a ``Lab``.

    ``env`` adds environment variables for the server and its kernels (e.g. PYTHONPATH, so a
    benchmark can point the kernel at another checkout of lstm_lab).
    """
    root = workdir / "root"
    root.mkdir(parents=True)
    shutil.copy(notebook, root / notebook.name)
    settings = workdir / "settings"
    news = settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    news.parent.mkdir(parents=True)
    news.write_text(json.dumps({"fetchNews": "false"}))  # no "official Jupyter news?" toast over the page
    port, token = _free_port(), secrets.token_hex(16)
    server_env = dict(os.environ,
                      JUPYTER_CONFIG_DIR=str(workdir / "config"),  # no user settings, no saved workspace
                      JUPYTER_RUNTIME_DIR=str(workdir / "runtime"),
                      IPYTHONDIR=str(workdir / "ipython"),
                      JUPYTERLAB_WORKSPACES_DIR=str(workdir / "workspaces"),
                      JUPYTERLAB_SETTINGS_DIR=str(settings),
                      PYTHONHASHSEED="0", **(env or {}))
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
               "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
               f"--ServerApp.root_dir={root}", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")
    log_path = workdir / "jupyterlab.log"
    with log_path.open("w") as log:
        server = subprocess.Popen(command, cwd=root, env=server_env, stdout=log, stderr=subprocess.STDOUT,
                                  start_new_session=True)  # its own process group: the kernels stop with it
        lab = Lab(f"http://127.0.0.1:{port}", token, root, log_path)
        try:
            _wait_for_server(server, lab)
            yield lab
        finally:
            _stop(server)


def _wait_for_server(server: subprocess.Popen, lab: Lab, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        if server.poll() is not None:
            raise DriverError(f"JupyterLab exited with {server.returncode}:\n{_tail(lab.log)}")
        try:
            with urllib.request.urlopen(f"{lab.base}/api/status?token={lab.token}", timeout=2) as reply:
                if reply.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise DriverError(f"JupyterLab did not answer within {timeout_s:.0f} s:\n{_tail(lab.log)}")
        time.sleep(0.25)


def _stop(server: subprocess.Popen) -> None:
    """SIGTERM to the server's process group (server and kernels), SIGKILL if it lingers."""
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=15)


def wait_for_kernel(lab: Lab, timeout_s: float = 60.0) -> None:
    """Until the notebook's kernel is started, connected to the page and idle.

    The page's execution indicator says 'idle' before any kernel exists, so it cannot tell.
    """
    deadline = time.monotonic() + timeout_s
    kernels = []
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{lab.base}/api/kernels?token={lab.token}", timeout=5) as reply:
                kernels = json.load(reply)
        except OSError:  # a loaded server sometimes answers 500 while the kernel starts: ask again
            time.sleep(0.25)
            continue
        if any(k["execution_state"] == "idle" and k["connections"] > 0 for k in kernels):
            return
        time.sleep(0.25)
    raise DriverError(f"no connected, idle kernel within {timeout_s:.0f} s: {kernels}")


# ---------------------------------------------------------------- Chromium
def playwright():
    """Playwright's sync API as a context manager, or ``Unavailable``."""
    if not CHROMIUM.exists():
        raise Unavailable(f"{CHROMIUM} is not installed: apt-get install -y chromium (bash run.sh test does it)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        raise Unavailable("the Python package playwright is not installed: pip install -e '.[test]'") from None
    return sync_playwright()


@contextmanager
def chromium(api):
    browser = api.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
    try:
        yield browser
    finally:
        browser.close()


# ---------------------------------------------------------------- the page
def open_page(browser, lab: Lab, notebook: str = NOTEBOOK.name):
    """The notebook open in a new page, its kernel connected and idle."""
    page = browser.new_page(viewport=VIEWPORT)
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(lab.url(notebook))
    page.wait_for_selector(".jp-Notebook .jp-Cell")
    wait_for_kernel(lab)
    page.wait_for_selector(IDLE)
    return page


def menu(page, name: str, command: str) -> None:
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(f"^{name}$")).click()
    page.locator(f"li[data-command='{command}']").click()


def run_all(page, last_output: str = LAST_OUTPUT["instructor"]) -> None:
    """Clear every stored output, then run every cell (JupyterLab's Run All, which stops at the first
    error) and wait for ``last_output``, which the last cell prints.

    Clearing first means that whatever the page shows afterwards was computed in this kernel.
    """
    menu(page, "Edit", "editmenu:clear-all")
    if page.locator(EXPLORER).count() != 0:
        raise DriverError("the explorer is still shown after clearing every output")
    menu(page, "Run", "runmenu:run-all")
    page.get_by_text(last_output).wait_for(state="attached")
    page.wait_for_selector(IDLE)


def lstm_explorer(page):
    """The LSTM gate explorer, scrolled into view (a figure off screen need not be painted)."""
    explorer = page.locator(EXPLORER)
    explorer.scroll_into_view_if_needed()
    return explorer


def slider(explorer, label: str):
    """The first slider whose label contains ``label``: "bias" is unit 0's forget bias (forget column first)."""
    return explorer.locator(".widget-slider", has_text=label).first


def press_slider(page, slider_locator, key: str = "ArrowRight", times: int = 1) -> None:
    """Focus the slider's handle and press ``key``: each ArrowRight/ArrowLeft moves it one step."""
    slider_locator.locator(".noUi-handle").focus()
    for _ in range(times):
        page.keyboard.press(key)


def preset_button(explorer, name: str):
    return explorer.locator("button", has_text=re.compile(f"^{re.escape(name)}$"))


def wait_for_change(read, before, timeout_s: float = 30.0):
    """Poll ``read()`` until it differs from ``before`` (or the time is up); return the last value."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        now = read()
        if now != before:
            return now
        time.sleep(0.1)
    return read()
