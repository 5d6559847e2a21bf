"""nbval compares only what a notebook stored: an unexecuted cell "passes" without being checked.

These tests make sure every notebook in notebooks/ was executed top to bottom in one kernel,
stored its outputs, and stored nothing that cannot survive re-execution.
"""

import json
import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(p for p in (ROOT / "notebooks").rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
IDS = [str(p.relative_to(ROOT / "notebooks")) for p in NOTEBOOKS]


def code_cells(path):
    nb = nbformat.read(path, as_version=4)
    return nb, [c for c in nb.cells if c.cell_type == "code"]


def test_there_are_notebooks():
    assert NOTEBOOKS, "notebooks/ holds no notebook"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_valid_and_python3(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_every_code_cell_executed_in_order(path):
    _, cells = code_cells(path)
    counts = [c.execution_count for c in cells if c.source.strip()]
    missing = [i for i, n in enumerate(counts) if n is None]
    assert not missing, f"code cells {missing} were never executed: nbval would not compare them"
    assert counts == list(range(1, len(counts) + 1)), f"cells were not run top to bottom in one kernel: {counts}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_has_stored_outputs(path):
    _, cells = code_cells(path)
    assert any(c.outputs for c in cells), "no stored outputs, so nbval has nothing to compare"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_no_errors_addresses_or_paths_in_outputs(path):
    _, cells = code_cells(path)
    for cell in cells:
        tags = cell.metadata.get("tags", [])
        for out in cell.outputs:
            if out.output_type == "error":
                assert "raises-exception" in tags, f"stored error {out.ename} in a cell not tagged raises-exception"
            text = json.dumps(out.get("text", "")) + json.dumps(out.get("data", {}).get("text/plain", ""))
            assert not re.search(r"at 0x[0-9a-fA-F]{6,}", text), f"memory address in output: {text[:120]}"
            assert not re.search(r"/(home|root|tmp|work|Users)/", text), f"machine path in output: {text[:120]}"


# A notebook holds its story, its numbers and a few figures; 300 KB is room for that (notebook 10, the
# largest, has six figures in about 270 KB). Stored widget state was 72% of notebook 08 once: the widget
# models and the figures inside them a second time, which nothing reads (the sliders need a live kernel).
SIZE_BUDGET_BYTES = 300_000


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_within_the_size_budget_and_no_widget_state(path):
    nb = nbformat.read(path, as_version=4)
    assert "widgets" not in nb.metadata, "stored widget state: execute with scripts/execute_notebooks.py, which stores none"
    size = path.stat().st_size
    assert size <= SIZE_BUDGET_BYTES, f"{size} bytes, over the {SIZE_BUDGET_BYTES}-byte budget: what grew?"


# what a time looks like in an output: "0.143 ms", "12 µs", tqdm's "[00:05<00:00, 38.2it/s]"
TIME = re.compile(r"\d\s?(ms|µs|us)\b|\d\s?(it/s|s/it)\b|\[\d\d:\d\d[<,]")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_no_times_in_outputs(path):
    """A time holds for one machine and one run: stored outputs hold none (cells tagged timing store nothing,
    scripts/execute_notebooks.py; progress bars count steps, lstm_lab.training.progress_bar)."""
    _, cells = code_cells(path)
    for index, cell in enumerate(cells):
        if "timing" in cell.metadata.get("tags", []):
            assert not cell.outputs, f"code cell {index} is tagged timing but stored outputs"
        for out in cell.outputs:
            text = json.dumps(out.get("text", "")) + json.dumps(out.get("data", {}).get("text/plain", ""))
            found = TIME.search(text)
            assert not found, f"code cell {index} stored a time ({found.group(0)!r}): {text[:160]}"
