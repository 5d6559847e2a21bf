"""Try, then see: no number a by-hand exercise asks for is on the screen before the student tries it.

For every value exercise (an answer such as ``answer_1 = ...`` worked on paper, a prediction, a count),
no cell above it shows the expected numbers to the precision it prints them with: not in what it prints
when run (the instructor edition's stored outputs are what the student's run shows: printed lines,
tables, ``show_source`` listings), not in its code, not in the prose above. ``h_2 = [0.0946, 0.9702]``
printed to four decimals is the answer; ``[0.095, 0.970]`` and ``[0.09, 0.97]`` are the answer too.

The expected numbers are the ones each exercise's check compares with, read where the check reads them:
``fixtures.golden()`` (numbers stored from torch.nn, not computed by the course's code) for the by-hand
notebooks, and the closed forms the checks state (log 9 for a forget gate of 0.9, the steps until
0.9**T < 1e-6). Planted leaks prove the scan finds each kind.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import nbformat
from regions import solution_lines
import pytest
import torch

from lstm_lab import fixtures, student
from lstm_lab.layouts import to_convention

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"


def _golden():
    return fixtures.golden()


def _layout(convention: str, name: str, bias: bool = False):
    # the check's own expectation (checks.by_hand._layout): torch's fused weights in another layout
    return to_convention(fixtures.lstm_weights(bias=bias), convention)[name]


# (notebook, grade_id of the exercise's solution cell) -> the numbers its check expects
EXPECTED = {
    ("01_rnn_by_hand.ipynb", "rnn_h2_by_hand"): lambda: _golden()["rnn"]["h"][1],
    ("01_rnn_by_hand.ipynb", "labelling_probs_by_hand"): lambda: _golden()["rnn"]["labelling_probs"][2],
    ("01_rnn_by_hand.ipynb", "birnn_output_by_hand"): lambda: _golden()["birnn"]["output"][0],
    ("02_lstm_by_hand.ipynb", "forget_gate_by_hand"): lambda: _golden()["lstm"]["f"][1],
    ("02_lstm_by_hand.ipynb", "cell_state_by_hand"): lambda: _golden()["lstm"]["c"][2],
    ("02_lstm_by_hand.ipynb", "hidden_state_with_bias_by_hand"): lambda: _golden()["lstm_bias"]["h"][0],
    ("03_gate_layouts.ipynb", "cs231n_input_weights"): lambda: _layout("cs231n", "Wx"),
    ("03_gate_layouts.ipynb", "onnx_input_weights"): lambda: _layout("onnx", "W"),
    ("03_gate_layouts.ipynb", "onnx_bias"): lambda: _layout("onnx", "B", bias=True),
    # sigmoid(b) = 0.9 <=> b = log(0.9 / 0.1), as check_forget_bias_for_0_9 states it
    ("04_lstm_one_gate_at_a_time.ipynb", "forget_bias_for_0_9"): lambda: torch.tensor([math.log(9.0)]),
    # the first T with 0.9**T < 1e-6 (check_steps_to_vanish's radius and factor): a whole number
    ("10_vanishing_gradients.ipynb", "steps_to_vanish"):
        lambda: torch.tensor([float(next(t for t in range(1, 1000) if 0.9 ** t < 1e-6))]),
    ("12_gru.ipynb", "gru_candidate_by_hand"): lambda: _golden()["gru"]["n"][1, 0:1],
    # a range of biases passes (reach >= 0.1), so no one number is the answer; what gives it away is the reach
    # a passing bias reaches, a table of them: 0.2511 is what check_forget_bias reports for b_f + 3, the reference
    # answer (the graded cell's stored output, "reach is 2.511e-01")
    ("08_gate_explorer.ipynb", "forget_bias_reach"): lambda: torch.tensor([0.2511]),
}
WHOLE = {("10_vanishing_gradients.ipynb", "steps_to_vanish")}  # judged exactly: its digits are the answer

# A number as printed: 0.0946, -1.0, 2.511e-01, 132. Its precision is half a unit of its last digit.
_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.(\d+))?(?:[eE]([-+]?\d+))?(?![\w.])")
SIGNIFICANT = 0.005  # one number shows an answer printed to half a percent of its size (2.20 for 2.197, not 2.2)
_BETWEEN = re.compile(r"[\s,;|()\[\]]*")  # what may stand between the numbers of one printed vector or table row


def numbers(text: str) -> list[tuple[float, float, int, int]]:
    """The numbers a text shows, in order: each with the half unit of its last printed digit, and where it is."""
    found = []
    for match in _NUMBER.finditer(text):
        decimals = len(match.group(1) or "")
        exponent = int(match.group(2) or 0)
        found.append((float(match.group(0)), 0.5 * 10.0 ** (exponent - decimals), match.start(), match.end()))
    return found


LONG = 8  # a run of this many numbers in order is the answer at any printed precision (03's weights: 1.0, -0.5)


def _is(shown, want: float, whole: bool, coarse: bool = False) -> bool:
    value, half_unit = shown[:2]
    if whole:
        return half_unit == 0.5 and value == want
    return abs(value - want) <= half_unit * (1 + 1e-9) + 1e-12 and (coarse or half_unit <= 0.005)


def shows(text: str, expected: torch.Tensor, whole: bool = False) -> bool:
    """Does ``text`` print ``expected`` (its numbers in order, one after another) to the precision shown?

    A single number counts only when printed to half a percent of its size; a short vector's numbers count
    from two decimals on (two numbers of two decimals that match in order are the answer, not chance); a
    vector of ``LONG`` numbers or more at any precision."""
    want = [float(v) for v in expected.reshape(-1)]
    shown = numbers(text)
    if len(want) == 1 and not whole:
        return any(_is(s, want[0], False) and s[1] <= SIGNIFICANT * abs(want[0]) for s in shown)
    def run_from(k):  # the numbers from the k-th on are the vector, one after another (only brackets between)
        return all(_is(shown[k + j], w, whole, len(want) >= LONG) and (j == 0 or _BETWEEN.fullmatch(text, shown[k + j - 1][3],
                                                                                     shown[k + j][2]))
                   for j, w in enumerate(want))
    return any(run_from(k) for k in range(len(shown) - len(want) + 1))


def _texts(cell) -> list[str]:
    """What a cell puts on the screen: its prose or code (an earlier exercise without its solution, which
    the student writes) and every text form of its outputs."""
    if cell.cell_type != "code":
        return [cell.source]
    source = cell.source
    if student.is_solution(cell):
        hidden = set(solution_lines(cell.source))
        source = "\n".join(line for line in cell.source.split("\n") if line not in hidden)
    texts = [source]
    for output in cell.get("outputs", []):
        for text in [output.get("text", "")] + [v for k, v in output.get("data", {}).items() if k.startswith("text/")]:
            texts.append("".join(text) if isinstance(text, list) else text)
    return texts


def value_leaks(cells, index: int, expected: torch.Tensor, whole: bool = False) -> list[str]:
    """The cells above ``cells[index]`` that show ``expected``, one sentence each."""
    return [f"cell {k} shows the answer {[round(float(v), 4) for v in expected.reshape(-1)][:8]}"
            for k, cell in enumerate(cells[:index]) if any(shows(text, expected, whole) for text in _texts(cell))]


def _index(cells, grade_id: str) -> int:
    return next(k for k, cell in enumerate(cells) if student._meta(cell).get("grade_id") == grade_id)


@pytest.mark.parametrize("name, grade_id", sorted(EXPECTED), ids=lambda v: v)
def test_no_cell_above_a_value_exercise_shows_its_number(name, grade_id):
    cells = nbformat.read(NOTEBOOKS / name, as_version=4).cells
    index = _index(cells, grade_id)  # fails if the exercise was renamed: the table above must follow it
    found = value_leaks(cells, index, EXPECTED[name, grade_id](), (name, grade_id) in WHOLE)
    assert found == [], f"{name} {grade_id}: " + "; ".join(found)


def test_every_value_exercise_of_the_course_is_in_the_table():
    """A new by-hand exercise (a top-level answer the check reads) must say what number it asks for."""
    value_exercises = set()
    for path in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")):
        cells = nbformat.read(path, as_version=4).cells
        for k, cell in enumerate(cells):
            if student.is_solution(cell) and student.answer_names("\n".join(solution_lines(cell.source)),
                                                                   "\n".join(c.source for c in cells[k + 1:k + 3])):
                value_exercises.add((path.name, student._meta(cell)["grade_id"]))
    assert value_exercises - set(EXPECTED) - NOT_A_NUMBER == set()


# answers that are no number to print: a dict of weights (08 keep_first_input)
NOT_A_NUMBER = {("08_gate_explorer.ipynb", "keep_first_input")}


# ---------------------------------------------------------------- the scan on planted leaks
H_2 = torch.tensor([0.09461, 0.97023], dtype=torch.float64)
EXERCISE = nbformat.v4.new_code_cell("### BEGIN SOLUTION\nanswer_1 = torch.tanh(W_ih @ X[1] + b_ih + W_hh @ h_1 + b_hh)\n"
                                     "### END SOLUTION",
                                     metadata={"nbgrader": {"grade": False, "grade_id": "h2", "locked": False,
                                                            "schema_version": 3, "solution": True}})


def _printing(text: str):
    cell = nbformat.v4.new_code_cell("print(h)")
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=text)]
    return cell


@pytest.mark.parametrize("text", ["h_2 = [0.0946, 0.9702]\n", "h_2 = tensor([0.095, 0.970])", "h_2 ≈ [0.09, 0.97]",
                                  "step  h\n----  ------------------\n1     [0.6044, 0.6044]\n2     [0.0946, 0.9702]\n"])
def test_a_printed_value_above_the_exercise_is_found(text):
    assert value_leaks([_printing(text), EXERCISE], 1, H_2) == ["cell 0 shows the answer [0.0946, 0.9702]"]


def test_the_value_in_prose_or_code_above_is_found():
    prose = nbformat.v4.new_markdown_cell("The second step gives $h_2 = [0.0946, 0.9702]$.")
    code = nbformat.v4.new_code_cell("assert torch.allclose(h_2, torch.tensor([0.0946, 0.9702]), atol=1e-4)")
    assert len(value_leaks([prose, code, EXERCISE], 2, H_2)) == 2


def test_a_planted_printed_value_in_a_real_notebook_fails():
    cells = nbformat.read(NOTEBOOKS / "01_rnn_by_hand.ipynb", as_version=4).cells
    index = _index(cells, "rnn_h2_by_hand")
    want = EXPECTED["01_rnn_by_hand.ipynb", "rnn_h2_by_hand"]()
    assert value_leaks(cells, index, want) == []
    planted = cells[:index - 1] + [_printing(f"h_2 = [{want[0]:.4f}, {want[1]:.4f}]")] + cells[index - 1:]
    assert value_leaks(planted, index + 1, want) == [f"cell {index - 1} shows the answer [0.0946, 0.9702]"]


@pytest.mark.parametrize("text", ["h_2 = [0.9702, 0.0946]",  # another order: the units swapped, not the answer
                                  "h_2 = [0.1, 1.0]",  # one decimal: too coarse to be the answer
                                  "h_1 = [0.0946]\nloss 0.9702",  # not one vector: words between
                                  "0.0952, 0.9702"])  # one number off
def test_other_numbers_are_no_leak(text):
    assert value_leaks([_printing(text), EXERCISE], 1, H_2) == []


def test_a_printed_weight_matrix_is_found_at_one_decimal():
    wx = EXPECTED["03_gate_layouts.ipynb", "cs231n_input_weights"]()  # (3, 8), entries such as 1.0 and -0.5
    rows = ", ".join("[" + ", ".join(f"{float(v):.1f}" for v in row) + "]" for row in wx)
    assert value_leaks([_printing(f"Wx = [{rows}]"), EXERCISE], 1, wx) == [
        f"cell 0 shows the answer {[round(float(v), 4) for v in wx.reshape(-1)][:8]}"]
    assert value_leaks([_printing(f"Wx[:, 4:6] = {wx[:, 4:6].tolist()}"), EXERCISE], 1, wx) == []  # a part of it


def test_a_single_number_counts_at_its_significant_digits():
    bias = torch.tensor([math.log(9.0)])
    assert shows("b = 2.197", bias) and shows("b_f = 2.20", bias) and not shows("2.2", bias)
    n_2 = torch.tensor([0.7390])
    assert shows("n = 0.739", n_2) and not shows("n = 0.74", n_2)  # 0.74 is 0.739 to within 0.7%: not enough


def test_a_whole_number_counts_only_as_that_whole_number():
    steps = torch.tensor([132.0])
    assert shows("T = 132 steps", steps, whole=True)
    assert not shows("T = 132.5", steps, whole=True) and not shows("1320", steps, whole=True)
