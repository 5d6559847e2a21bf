"""A value exercise's answer must be the student's arithmetic: in a notebook, the exercise cells run under the
watch, and a check refuses a value that a library call computed (``fixtures.golden()``, ``lstm_lab.rnn_cell``),
naming the call. Run in IPython's own shell, which fires the same cell events as a Jupyter kernel, in a fresh
interpreter: there, as in a kernel, importing ``lstm_lab.checks`` is what starts the watch."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

SETUP = """
import torch, lstm_lab, lstm_lab.checks.exercises
from lstm_lab import fixtures
from lstm_lab.checks import by_hand
X, w = fixtures.fixed_x(), fixtures.rnn_weights()
h_1 = torch.tanh(w["weight_ih"] @ X[0] + w["bias_ih"] + w["bias_hh"])
"""

BY_HAND = 'answer_1 = torch.tanh(w["weight_ih"] @ X[1] + w["weight_hh"] @ h_1 + w["bias_ih"] + w["bias_hh"])'
LIBRARY = {"lstm_lab.cells.rnn_cell": "answer_1 = lstm_lab.rnn_cell(X[1], h_1, **w)",
           "lstm_lab.fixtures.golden": 'answer_1 = fixtures.golden()["rnn"]["h"][1]',
           # a check's own golden case is no answer either: only the checks themselves (and their Feedback) are not
           # watched in lstm_lab.checks
           "lstm_lab.checks.exercises.": "answer_1 = lstm_lab.checks.exercises.RNN_STEP.cases()[1].expected",
           # any assignment at the cell's top level is watched, not only `name = ...`
           "lstm_lab.cells.rnn_cell (unpacked)": "answer_1, _ = lstm_lab.rnn_cell(X[1], h_1, **w), None"}
CELLS = {"solution cell, by hand": f"### BEGIN SOLUTION\n{BY_HAND}\n### END SOLUTION",
         "student's cell, by hand": f"# YOUR CODE HERE\n{BY_HAND}",
         "student's cell, by hand, checked in the same cell":
             f"# YOUR CODE HERE\n{BY_HAND}\nby_hand.check_rnn_hidden(2, answer_1)",
         "the notebook's own cell, by the library": LIBRARY["lstm_lab.cells.rnn_cell"],
         **{f"student's cell, by {call}": f"# YOUR CODE HERE\n{cell}" for call, cell in LIBRARY.items()}}

SCRIPT = f"""
import json, sys
from IPython.core.interactiveshell import InteractiveShell
shell = InteractiveShell.instance()
assert shell.run_cell({SETUP!r}).success
said = {{}}
for label, cell in json.loads(sys.argv[1]).items():
    assert shell.run_cell(cell).success, label
    said[label] = shell.run_cell("str(by_hand.check_rnn_hidden(2, answer_1))").result
print(json.dumps(said))
"""


@pytest.fixture(scope="module")
def said() -> dict:
    run = subprocess.run([sys.executable, "-c", SCRIPT, json.dumps(CELLS)], capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("label", ["solution cell, by hand", "student's cell, by hand",
                                   "student's cell, by hand, checked in the same cell"])  # a check is no answer
def test_the_answer_worked_out_passes_in_either_edition(said, label):
    assert said[label].startswith("✓ h_2"), said[label]


@pytest.mark.parametrize("call", LIBRARY)
def test_a_value_the_library_computed_is_refused_naming_the_call(said, call):
    text = said[f"student's cell, by {call}"]
    assert text.startswith("✗ h_2") and "computes it for you" in text and f"`{call.split()[0]}" in text, text


def test_outside_an_exercise_cell_nothing_is_watched(said):
    # the notebook's own worked example may call the library: it is no exercise cell
    assert said["the notebook's own cell, by the library"].startswith("✓ h_2")
