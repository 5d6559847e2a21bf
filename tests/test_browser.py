"""The gate explorer in a real browser: JupyterLab driven by headless Chromium.

``browser_driver`` starts JupyterLab over a temporary copy of the student edition's
student/08_gate_explorer.ipynb (what a student opens; the same driver ``benchmarks/browser_latency.py``
times the instructor edition) and opens it in Debian's Chromium; this test clears the stored outputs,
runs every cell as Run All does (it stops at the first error: reaching the last cell means none), moves
the forget-bias slider of the LSTM
explorer with the keyboard, and checks that the numbers shown are the ones
``compute.lstm_trace`` gives for the new slider value and that the figure changed.
Screenshots go to artifacts/ (git-ignored). The server is always shut down.

Without /usr/bin/chromium or playwright the test skips, unless LSTM_LAB_REQUIRE_PEERS=1 (set by
``bash run.sh test``), where it fails: the README's test command must run it.
"""

from __future__ import annotations

import os
import time

import pytest

import browser_driver as driver
from lstm_lab import fixtures
from lstm_lab.explorers import compute

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ARTIFACTS = driver.ROOT / "artifacts"


def _missing(reason: str):
    if os.environ.get("LSTM_LAB_REQUIRE_PEERS") == "1":
        pytest.fail(f"{reason} (LSTM_LAB_REQUIRE_PEERS=1: the browser test must run)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def playwright_api():
    try:
        manager = driver.playwright()
    except driver.Unavailable as reason:
        _missing(str(reason))
    with manager as api:
        yield api


@pytest.fixture
def lab(tmp_path):
    with driver.jupyterlab(tmp_path, driver.STUDENT_NOTEBOOK) as lab:
        yield lab


def test_gate_explorer_in_jupyterlab(playwright_api, lab):
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "browser_gate_explorer_failure.png").unlink(missing_ok=True)  # from an earlier run
    with driver.chromium(playwright_api) as browser:
        page = driver.open_page(browser, lab)
        try:
            # Run every cell from empty outputs, so what is checked below was computed in this kernel.
            driver.run_all(page, driver.LAST_OUTPUT["student"])
            assert page.locator("[data-mime-type='application/vnd.jupyter.stderr']").count() == 0, \
                "a cell wrote to stderr"
            assert page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.error']").count() == 0

            explorer = driver.lstm_explorer(page)
            numbers = explorer.locator(".lstm-lab-numbers pre")
            figure = explorer.locator(driver.FIGURE)
            numbers_before = numbers.text_content()
            assert numbers_before == compute.trace_table(
                compute.lstm_trace(fixtures.fixed_x(), compute.seed001_params()))
            src_before = figure.get_attribute("src")
            pixels_before = figure.screenshot()
            page.screenshot(path=str(ARTIFACTS / "browser_gate_explorer_before.png"), full_page=False)

            # The forget gate's column comes first; its last slider is unit 0's forget bias.
            forget_bias = driver.slider(explorer, "bias")
            driver.press_slider(page, forget_bias, "ArrowRight", times=5)  # one slider step (0.1) each
            shown = driver.wait_for_change(numbers.text_content, numbers_before)
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

            src_after = driver.wait_for_change(lambda: figure.get_attribute("src"), src_before)
            assert src_after != src_before, "the figure's image was not replaced"
            assert figure.screenshot() != pixels_before, "the figure looks the same after the slider moved"
            assert page.locator(f"{driver.EXPLORER} {driver.FIGURE}").count() == 1  # redrawn in place
            explorer.screenshot(path=str(ARTIFACTS / "browser_gate_explorer.png"))  # the test artefact
        except Exception:
            page.screenshot(path=str(ARTIFACTS / "browser_gate_explorer_failure.png"), full_page=True)
            raise
