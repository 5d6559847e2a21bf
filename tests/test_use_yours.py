"""After an exercise, the notebook goes on with the student's function once its check passes and with
the reference until then, and says which (``lstm_lab.checks.use``)."""

import pytest
import torch

import lstm_lab
from lstm_lab.checks import bptt as check
from lstm_lab.checks.core import ExerciseFailed
from lstm_lab.checks.use import as_an_example, yours_or_reference


def right(x, h_prev, weight_ih, weight_hh, bias_ih, bias_hh):
    x_r, x_z, x_n = (x @ weight_ih.T + bias_ih).chunk(3, dim=-1)
    h_r, h_z, h_n = (h_prev @ weight_hh.T + bias_hh).chunk(3, dim=-1)
    r, z = torch.sigmoid(x_r + h_r), torch.sigmoid(x_z + h_z)
    return (1 - z) * torch.tanh(x_n + r * h_n) + z * h_prev


def z_swapped(x, h_prev, weight_ih, weight_hh, bias_ih, bias_hh):  # the notebook's common mistake
    x_r, x_z, x_n = (x @ weight_ih.T + bias_ih).chunk(3, dim=-1)
    h_r, h_z, h_n = (h_prev @ weight_hh.T + bias_hh).chunk(3, dim=-1)
    r, z = torch.sigmoid(x_r + h_r), torch.sigmoid(x_z + h_z)
    return z * torch.tanh(x_n + r * h_n) + (1 - z) * h_prev


def stub(x, h_prev, weight_ih, weight_hh, bias_ih, bias_hh):
    raise NotImplementedError("gru_step: not implemented yet")


def choose(fn):
    said = []
    return yours_or_reference(fn, check.check_gru_step, lstm_lab.gru_cell, say=said.append), said


def test_a_passing_answer_is_used_and_the_notebook_says_so():
    chosen, said = choose(right)
    assert chosen is right and said == ["using your right (its check passes)"]


@pytest.mark.parametrize("fn", [z_swapped, stub], ids=["wrong", "unfinished"])
def test_until_then_the_reference_is_used_and_the_notebook_says_whose(fn):
    chosen, said = choose(fn)
    assert chosen is lstm_lab.gru_cell
    assert said == [f"using the reference lstm_lab.gru_cell: your {fn.__name__} does not pass its check yet"]


@pytest.mark.parametrize("fn", [z_swapped, stub], ids=["wrong", "unfinished"])
def test_under_grading_choosing_never_fails_the_cell(fn, monkeypatch):
    """Under grading a check raises on a wrong answer; the cell that only chooses must not (the exercise's
    own graded cell is what fails)."""
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    with pytest.raises(ExerciseFailed):
        check.check_gru_step(fn)
    assert choose(fn)[0] is lstm_lab.gru_cell
    assert choose(right)[0] is right


def test_a_reference_that_is_no_function_is_a_clear_error():
    with pytest.raises(TypeError, match="reference should be the function to use until yours passes, got Tensor"):
        yours_or_reference(right, check.check_gru_step, torch.zeros(2))


def test_a_reference_adapted_to_the_exercise_is_named_as_told():
    said = []
    yours_or_reference(stub, check.check_gru_step, lambda *args: lstm_lab.gru_cell(*args), name="lstm_lab.gru_cell",
                       say=said.append)
    assert said == ["using the reference lstm_lab.gru_cell: your stub does not pass its check yet"]


def test_an_example_of_a_mistake_is_shown_and_never_raised_even_under_grading(monkeypatch):
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    feedback = as_an_example(check.check_gru_step, z_swapped)
    assert not feedback and "not yet" in str(feedback)
    with pytest.raises(ExerciseFailed):  # outside the example the same check still fails its cell
        check.check_gru_step(z_swapped)


def test_without_a_reference_the_checks_own_is_used():
    """The notebook need not write the answer out as a reference: the check's declaration holds one."""
    said = []
    chosen = yours_or_reference(stub, check.check_gru_step, say=said.append)
    assert chosen is check.check_gru_step.exercise.reference
    assert said == ["using the reference answer of check_gru_step: your stub does not pass its check yet"]
    h = chosen(torch.zeros(1, 2, dtype=torch.float64), torch.zeros(1, 2, dtype=torch.float64),
               *(torch.ones(6, 2, dtype=torch.float64),) * 2, *(torch.ones(6, dtype=torch.float64),) * 2)
    assert torch.allclose(h, right(torch.zeros(1, 2, dtype=torch.float64), torch.zeros(1, 2, dtype=torch.float64),
                                   *(torch.ones(6, 2, dtype=torch.float64),) * 2, *(torch.ones(6, dtype=torch.float64),) * 2),
                          atol=1e-12, rtol=0)


def test_a_check_without_a_declaration_needs_its_reference():
    with pytest.raises(TypeError, match="reference should be the function to use until yours passes, got NoneType"):
        yours_or_reference(right, lambda fn: check.check_gru_step(fn))


def test_the_reference_is_named_where_the_student_can_find_it():
    from lstm_lab import seq2seq
    from lstm_lab.checks import seq2seq as seq2seq_checks
    from lstm_lab.checks.use import _library_name

    assert _library_name(lstm_lab.gru_cell) == "lstm_lab.gru_cell"  # the package names it so
    assert _library_name(seq2seq.masked_loss) == "lstm_lab.seq2seq.masked_loss"  # there is no lstm_lab.masked_loss
    said = []
    yours_or_reference(lambda *a: None, seq2seq_checks.check_masked_loss, seq2seq.masked_loss, say=said.append)
    assert said == ["using the reference lstm_lab.seq2seq.masked_loss: your <lambda> does not pass its check yet"]
