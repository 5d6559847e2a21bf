"""Execute notebooks in place and store their outputs, the way nbval will re-run them.

    .venv/bin/python scripts/execute_notebooks.py notebooks/01_rnn_by_hand.ipynb [...]
    .venv/bin/python scripts/execute_notebooks.py --all

Runs each notebook top to bottom in a fresh kernel from its own folder, with 2 threads
(nbval runs it again with 1), no per-cell timing metadata, and reports the wall time, which
must stay under 20 s on a 2-core CPU, or the budget a notebook names for itself in its metadata
(``"lstm_lab": {"budget_s": 40}`` in the notebooks that train a model on text).

A cell tagged ``timing`` (it measures how long something takes) runs like any other, but its
outputs are not stored: a time is true of one machine and one run, and a stored notebook holds
only what holds on any machine. The reader runs the cell to see the times of their own machine.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
LIMIT_S = 20.0


def coalesced(outputs: list) -> list:
    """Consecutive prints to one stream as one output: where the kernel happened to flush a line (it does so
    sooner on a loaded machine) is not part of what the cell shows."""
    merged = []
    for output in outputs:
        last = merged[-1] if merged else None
        if (output.output_type == "stream" and last is not None and last.output_type == "stream"
                and last.name == output.name):
            last.text += output.text
        else:
            merged.append(output)
    return merged


def execute(path: Path) -> tuple[float, float]:
    """Run the notebook and store it; ``(seconds it took, seconds it may take)``."""
    nb = nbformat.read(path, as_version=4)
    nb.metadata["kernelspec"] = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
    nb.metadata.setdefault("language_info", {"name": "python"})
    start = time.perf_counter()
    nb.metadata.pop("widgets", None)
    # No widget state: the sliders need a live kernel anyway, and the state (every widget model and the
    # figures inside them, a second time) made notebook 08 three times its size.
    NotebookClient(nb, timeout=300, kernel_name="python3", record_timing=False, store_widget_state=False,
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    elapsed = time.perf_counter() - start
    for cell in nb.cells:
        if "timing" in cell.metadata.get("tags", []):
            cell.outputs = []
        elif cell.cell_type == "code":
            cell.outputs = coalesced(cell.outputs)
    nbformat.validate(nb)
    nbformat.write(nb, path)
    return elapsed, float(nb.metadata.get("lstm_lab", {}).get("budget_s", LIMIT_S))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path)
    parser.add_argument("--all", action="store_true", help="every notebook under notebooks/")
    args = parser.parse_args()
    paths = sorted((ROOT / "notebooks").rglob("*.ipynb")) if args.all else args.paths
    paths = [p for p in paths if ".ipynb_checkpoints" not in p.parts]
    if not paths:
        parser.error("name notebooks or pass --all")
    os.environ.setdefault("OMP_NUM_THREADS", "2")
    os.environ.setdefault("PYTHONHASHSEED", "0")
    # the environment's own matplotlib font cache, as run.sh sets it (a stale shared one puts
    # font warnings into the stored outputs)
    os.environ.setdefault("MPLCONFIGDIR", str(ROOT / ".venv" / "matplotlib"))
    slow = []
    for path in paths:
        seconds, limit = execute(path)
        flag = f"  <-- over the {limit:.0f} s budget" if seconds > limit else ""
        print(f"{seconds:6.1f} s  {path.relative_to(ROOT) if path.is_absolute() else path}{flag}")
        if flag:
            slow.append(path)
    return 1 if slow else 0


if __name__ == "__main__":
    sys.exit(main())
