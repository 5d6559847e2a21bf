"""Through the sandbox's channel too, a function the notebook defined in another cell that computes the
answer is no answer: ``lstm-lab grade`` refuses it as the notebook's own check does, and a helper of the
student's own that computes something smaller still passes."""

import csv

import nbformat
import pytest

from lstm_lab import student
from test_grade import SANDBOX
from test_student import run_cli


def _solution_cell(source: str, grade_id: str) -> nbformat.NotebookNode:
    return nbformat.v4.new_code_cell(source, metadata={"nbgrader": {
        "grade": False, "grade_id": grade_id, "locked": False, "schema_version": 3, "solution": True}})


def _test_cell(source: str, grade_id: str) -> nbformat.NotebookNode:
    return nbformat.v4.new_code_cell(source, metadata={"nbgrader": {
        "grade": True, "grade_id": f"test_{grade_id}", "locked": True, "points": 1, "schema_version": 3,
        "solution": False}})


def _notebook(*cells) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = list(cells)
    return nb


def _grade(root, source: nbformat.NotebookNode, handed_in: dict, by: str = "student") -> dict:
    """``lstm-lab grade`` of ``handed_in`` (who -> notebook) against ``source``: the rows of grades.csv by ``by``."""
    (root / "source").mkdir()
    nbformat.write(source, root / "source" / "nb.ipynb")
    for who, nb in handed_in.items():
        (root / "submitted" / who).mkdir(parents=True)
        nbformat.write(nb, root / "submitted" / who / "nb.ipynb")
    result = run_cli("grade", root / "submitted", "--out", root / "grades", "--source", root / "source" / "nb.ipynb",
                     *SANDBOX)
    assert result.returncode == 0, result.stderr
    with open(root / "grades" / "grades.csv", newline="", encoding="utf-8") as f:
        return {row[by]: row for row in csv.DictReader(f)}

WORKED = '''import torch
from lstm_lab.checks import bptt as check


def gru_step(x, h, weight_ih, weight_hh, bias_ih, bias_hh):  # the notebook's worked step, above the exercise
    x_r, x_z, x_n = (x @ weight_ih.T + bias_ih).chunk(3, dim=-1)
    h_r, h_z, h_n = (h @ weight_hh.T + bias_hh).chunk(3, dim=-1)
    r, z = torch.sigmoid(x_r + h_r), torch.sigmoid(x_z + h_z)
    n = torch.tanh(x_n + r * h_n)
    return (1 - z) * n + z * h


def sigmoid(a):  # a small helper that computes no answer
    return 1 / (1 + torch.exp(-a))
'''

ANSWERS = {
    "own_work": '''def my_gru_step(x, h_prev, weight_ih, weight_hh, bias_ih, bias_hh):
    x_r, x_z, x_n = (x @ weight_ih.T + bias_ih).chunk(3, dim=-1)
    h_r, h_z, h_n = (h_prev @ weight_hh.T + bias_hh).chunk(3, dim=-1)
    r, z = sigmoid(x_r + h_r), sigmoid(x_z + h_z)
    return (1 - z) * torch.tanh(x_n + r * h_n) + z * h_prev''',
    "calls_the_worked_step": '''def my_gru_step(x, h_prev, weight_ih, weight_hh, bias_ih, bias_hh):
    return gru_step(x, h_prev, weight_ih, weight_hh, bias_ih, bias_hh)''',
}


def _source() -> nbformat.NotebookNode:
    solution = ("def my_gru_step(x, h_prev, weight_ih, weight_hh, bias_ih, bias_hh):\n    ### BEGIN SOLUTION\n"
                "    return gru_step(x, h_prev, weight_ih, weight_hh, bias_ih, bias_hh)\n    ### END SOLUTION")
    return _notebook(nbformat.v4.new_code_cell(WORKED), _solution_cell(solution, "gru_step"),
                     _test_cell("check.check_gru_step(my_gru_step)", "gru_step"))


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    handed_in = {}
    for who, answer in ANSWERS.items():
        handed_in[who] = nbformat.from_dict(student.student_version(_source()))
        for cell in handed_in[who].cells:
            if student.is_solution(cell):
                cell.source = answer
    return _grade(tmp_path_factory.mktemp("helpers"), _source(), handed_in)


def test_a_worked_step_from_another_cell_is_refused_through_the_channel(graded):
    row = graded["calls_the_worked_step"]
    assert row["points"] == "0" and "`gru_step`, defined in another cell of the notebook" in row["diagnosis"], row


def test_a_small_helper_of_ones_own_still_passes(graded):
    assert graded["own_work"]["points"] == "1", graded["own_work"]


# ---------------------------------------------------------------- what the channel carries, and what it does not
CHANNEL_IMPORTS = "import torch\nfrom lstm_lab.checks import seq2seq as check14\nfrom lstm_lab.checks import text as check13"
CHANNEL_EXERCISES = {  # grade_id: (the answer, the test cell)
    "sample_next": ('''def temperature_probs(logits, temperature):
    return torch.softmax(logits / temperature, dim=-1)


def sample_next(logits, temperature, generator):
    return torch.multinomial(temperature_probs(logits, temperature), 1, generator=generator).squeeze(-1)''',
                    "check13.check_sample_next(sample_next)"),
    "decoder_step": ('''def decoder_step(decoder, token, state, memory, attend):
    h, c = decoder.cell(decoder.embedding(token), state)
    context, weights = attend(h, memory)
    return decoder.readout(torch.cat([h, context], dim=-1)), (h, c), weights''',
                     "check14.check_decoder_step(decoder_step)"),
}


@pytest.fixture(scope="module")
def through_the_channel(tmp_path_factory):
    nb = _notebook(nbformat.v4.new_code_cell(CHANNEL_IMPORTS))
    for grade_id, (answer, test) in CHANNEL_EXERCISES.items():
        nb.cells += [_solution_cell(answer, grade_id), _test_cell(test, grade_id)]
    # the reference answers, handed in
    return _grade(tmp_path_factory.mktemp("channel"), nb, {"right": nb}, by="exercise")


def test_a_generator_goes_through_the_channel_as_its_state(through_the_channel):
    assert through_the_channel["sample_next"]["points"] == "1", through_the_channel["sample_next"]


def test_an_exercise_handed_a_model_is_said_not_gradable_here_not_blamed_on_the_student(through_the_channel):
    row = through_the_channel["decoder_step"]
    assert row["points"] == "0" and row["diagnosis"].startswith("NotGradedHere: this exercise hands decoder_step a "
                                                                "Decoder"), row
    assert "nbgrader" in row["diagnosis"] and "your function raised" not in row["diagnosis"]


# ---------------------------------------------------------------- a value worked by hand, or by the library
VALUE_SETUP = '''import torch, lstm_lab
from lstm_lab import fixtures
from lstm_lab.checks import by_hand
X, w = fixtures.fixed_x(), fixtures.rnn_weights()
h_1 = torch.tanh(w["weight_ih"] @ X[0] + w["bias_ih"] + w["bias_hh"])'''
VALUE_ANSWERS = {  # the student's cell as handed in: the "# YOUR CODE HERE" line deleted, as students do
    "by_hand": 'answer_1 = torch.tanh(w["weight_ih"] @ X[1] + w["weight_hh"] @ h_1 + w["bias_ih"] + w["bias_hh"])',
    "by_the_library": "answer_1 = lstm_lab.rnn_cell(X[1], h_1, **w)",
    "from_the_golden_numbers": 'answer_1 = fixtures.golden()["rnn"]["h"][1]',
}


@pytest.fixture(scope="module")
def values_graded(tmp_path_factory):
    nb = _notebook(nbformat.v4.new_code_cell(VALUE_SETUP),
                   _solution_cell(f"### BEGIN SOLUTION\n{VALUE_ANSWERS['by_hand']}\n### END SOLUTION", "h_2"),
                   _test_cell("by_hand.check_rnn_hidden(2, answer_1).assert_ok()", "h_2"))
    handed_in = {}
    for who, answer in VALUE_ANSWERS.items():
        handed_in[who] = nbformat.from_dict(student.student_version(nb))
        handed_in[who].cells[1].source = answer
    return _grade(tmp_path_factory.mktemp("values"), nb, handed_in)


def test_a_value_worked_by_hand_earns_its_point_through_the_channel(values_graded):
    assert values_graded["by_hand"]["points"] == "1", values_graded["by_hand"]


@pytest.mark.parametrize("who, call", [("by_the_library", "lstm_lab.cells.rnn_cell"),
                                       ("from_the_golden_numbers", "lstm_lab.fixtures.golden")])
def test_a_value_the_library_computed_earns_nothing_and_the_call_is_named(values_graded, who, call):
    row = values_graded[who]
    assert row["points"] == "0" and f"`{call}`" in row["diagnosis"], row
