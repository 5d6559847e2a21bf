"""The gate explorer in a real browser: JupyterLab driven by headless Chromium.

Starts JupyterLab on 127.0.0.1 (a free port, a random token) over a temporary copy of
notebooks/08_gate_explorer.ipynb, opens it in Debian's Chromium through Playwright for Python
(the system browser: Playwright's own download does not work here), clears the stored outputs,
runs every cell, moves the forget-bias slider of the LSTM explorer with the keyboard, and checks
that the numbers shown are the ones ``compute.lstm_trace`` gives for the new slider value and
that the figure changed. Screenshots go to artifacts/ (git-ignored). The server is always shut down.

Without /usr/bin/chromium or playwright the test skips, unless LSTM_LAB_REQUIRE_PEERS=1 (set by
``bash run.sh test``), where it fails: the README's test command must run it.
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
from pathlib import Path

import pytest

from lstm_lab import fixtures
from lstm_lab.explorers import compute

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "08_gate_explorer.ipynb"
ARTIFACTS = ROOT / "artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
TIMEOUT_MS = 90_000


def _missing(reason: str):
    if os.environ.get("LSTM_LAB_REQUIRE_PEERS") == "1":
        pytest.fail(f"{reason} (LSTM_LAB_REQUIRE_PEERS=1: the browser test must run)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def playwright_api():
    if not CHROMIUM.exists():
        _missing(f"{CHROMIUM} is not installed: apt-get install -y chromium (bash run.sh test does it)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("the Python package playwright is not installed: pip install -e '.[test]'")
    with sync_playwright() as api:
        yield api


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def lab(tmp_path):
    """A JupyterLab server over a copy of the notebook; yields (base url, token)."""
    root = tmp_path / "root"
    root.mkdir()
    shutil.copy(NOTEBOOK, root / NOTEBOOK.name)
    settings = tmp_path / "settings"
    news = settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    news.parent.mkdir(parents=True)
    news.write_text(json.dumps({"fetchNews": "false"}))  # no "official Jupyter news?" toast over the page
    port, token = _free_port(), secrets.token_hex(16)
    env = dict(os.environ,
               JUPYTER_CONFIG_DIR=str(tmp_path / "config"),  # no user settings, no saved workspace
               JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"),
               IPYTHONDIR=str(tmp_path / "ipython"),
               JUPYTERLAB_WORKSPACES_DIR=str(tmp_path / "workspaces"),
               JUPYTERLAB_SETTINGS_DIR=str(settings),
               PYTHONHASHSEED="0")
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
               "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
               f"--ServerApp.root_dir={root}", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")
    log = (tmp_path / "jupyterlab.log").open("w")
    server = subprocess.Popen(command, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT,
                              start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if server.poll() is not None:
                pytest.fail(f"JupyterLab exited with {server.returncode}:\n{_tail(tmp_path / 'jupyterlab.log')}")
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2) as reply:
                    if reply.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"JupyterLab did not answer within 60 s:\n{_tail(tmp_path / 'jupyterlab.log')}")
            time.sleep(0.25)
        yield base, token
    finally:
        _stop(server)
        log.close()


def _stop(server: subprocess.Popen) -> None:
    """SIGTERM to the server's process group (server and kernels), SIGKILL if it lingers."""
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=15)


def _tail(path: Path, lines: int = 40) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def _wait_for_kernel(base: str, token: str, timeout_s: float = 60.0) -> None:
    """Until the notebook's kernel is started, connected to the page and idle.

    The page's execution indicator says 'idle' before any kernel exists, so it cannot tell.
    """
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with urllib.request.urlopen(f"{base}/api/kernels?token={token}", timeout=5) as reply:
            kernels = json.load(reply)
        if any(k["execution_state"] == "idle" and k["connections"] > 0 for k in kernels):
            return
        time.sleep(0.25)
    pytest.fail(f"no connected, idle kernel within {timeout_s:.0f} s: {kernels}")


def _menu(page, menu: str, command: str) -> None:
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(f"^{menu}$")).click()
    page.locator(f"li[data-command='{command}']").click()


def _wait_for_change(read, before, timeout_s: float = 30.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        now = read()
        if now != before:
            return now
        time.sleep(0.1)
    return read()


def test_gate_explorer_in_jupyterlab(playwright_api, lab):
    base, token = lab
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "browser_gate_explorer_failure.png").unlink(missing_ok=True)  # from an earlier run
    browser = playwright_api.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(TIMEOUT_MS)
    try:
        page.goto(f"{base}/lab/tree/{NOTEBOOK.name}?token={token}")
        page.wait_for_selector(".jp-Notebook .jp-Cell")
        _wait_for_kernel(base, token)
        page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']")

        # Run every cell from empty outputs, so what is checked below was computed in this kernel.
        _menu(page, "Edit", "editmenu:clear-all")
        assert page.locator(".lstm-lab-lstm-explorer").count() == 0
        _menu(page, "Run", "runmenu:run-all")
        page.get_by_text("✓ forget bias: correct").wait_for(state="attached")
        page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']")
        assert page.locator("[data-mime-type='application/vnd.jupyter.stderr']").count() == 0, "a cell wrote to stderr"
        assert page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.error']").count() == 0

        explorer = page.locator(".lstm-lab-lstm-explorer")
        explorer.scroll_into_view_if_needed()
        numbers = explorer.locator(".lstm-lab-numbers pre")
        figure = explorer.locator("img.lstm-lab-figure")
        numbers_before = numbers.text_content()
        assert numbers_before == compute.trace_table(compute.lstm_trace(fixtures.fixed_x(), compute.seed001_params()))
        src_before = figure.get_attribute("src")
        pixels_before = figure.screenshot()
        page.screenshot(path=str(ARTIFACTS / "browser_gate_explorer_before.png"), full_page=False)

        # The forget gate's column comes first; its last slider is unit 1's forget bias.
        forget_bias = explorer.locator(".widget-slider", has_text="bias").first
        forget_bias.locator(".noUi-handle").focus()
        for _ in range(5):
            page.keyboard.press("ArrowRight")  # one slider step (0.1) each
        shown = _wait_for_change(numbers.text_content, numbers_before)
        readout = float(forget_bias.locator(".widget-readout").text_content())
        assert readout == pytest.approx(0.5)
        # settle: the kernel answers each key press in turn; wait for the last one
        expected_params = compute.seed001_params()
        expected_params["b_f"][0] = readout
        expected = compute.trace_table(compute.lstm_trace(fixtures.fixed_x(), expected_params))
        deadline = time.monotonic() + 30
        while shown != expected and time.monotonic() < deadline:
            time.sleep(0.1)
            shown = numbers.text_content()
        assert shown == expected, f"the explorer shows\n{shown}\nbut compute.lstm_trace gives\n{expected}"
        assert shown != numbers_before

        src_after = _wait_for_change(lambda: figure.get_attribute("src"), src_before)
        assert src_after != src_before, "the figure's image was not replaced"
        assert figure.screenshot() != pixels_before, "the figure looks the same after the slider moved"
        assert page.locator(".lstm-lab-lstm-explorer img.lstm-lab-figure").count() == 1  # redrawn in place
        explorer.screenshot(path=str(ARTIFACTS / "browser_gate_explorer.png"))  # the test artefact
    except Exception:
        page.screenshot(path=str(ARTIFACTS / "browser_gate_explorer_failure.png"), full_page=True)
        raise
    finally:
        browser.close()
