"""The exercise checks diagnose: each test plants one mistake in a student's function and asserts
that the check's message names it. The right answers pass, so no check is a rubber stamp."""

import re

import pytest
import torch

from lstm_lab.checks import core
from lstm_lab.checks.diagnose import Case, Exercise, _explain, run_check
from lstm_lab.checks.exercises import (
    check_bidirectional_rnn,
    check_gru_step,
    check_init_lstm_params,
    check_last_valid_output,
    check_lstm_forward,
    check_lstm_step,
    check_lstm_step_backward,
    check_rnn_step,
)
from lstm_lab.runners import run_layer


def failing(feedback) -> str:
    """The text of a failing Feedback (and that it did fail, and looks like a Feedback)."""
    assert not feedback, f"expected the check to fail, it said:\n{feedback}"
    text = str(feedback)
    assert text.startswith("✗ ") and "Traceback" not in text and "/lstm_lab/" not in text
    return text


# ================================================================ students' functions, right and wrong
def rnn_step(x, h_prev, weight_ih, weight_hh, bias_ih, bias_hh):
    return torch.tanh(x @ weight_ih.T + bias_ih + h_prev @ weight_hh.T + bias_hh)


def lstm_gates(pre, order="ifgo"):
    blocks = dict(zip(order, pre.chunk(4, dim=1)))
    return torch.sigmoid(blocks["i"]), torch.sigmoid(blocks["f"]), torch.tanh(blocks["g"]), torch.sigmoid(blocks["o"])


def lstm_step(x, h_prev, c_prev, weight_ih, weight_hh, bias_ih, bias_hh, order="ifgo"):
    i, f, g, o = lstm_gates(x @ weight_ih.T + bias_ih + h_prev @ weight_hh.T + bias_hh, order)
    c = f * c_prev + i * g
    return o * torch.tanh(c), c


def lstm_forward(x, state, params, recurrent=None, transpose_recurrent=False):
    """Seed 003's LSTM; ``recurrent`` can put another gate's W_h? in a gate's place."""
    recurrent = recurrent or {}
    h, c = state
    outputs = []
    for t in range(x.shape[1]):
        x_t, gates = x[:, t], {}
        for gate, act in (("i", torch.sigmoid), ("f", torch.sigmoid), ("g", torch.tanh), ("o", torch.sigmoid)):
            w_h = params[recurrent.get(gate, f"W_h{gate}")]
            w_h = w_h.T if transpose_recurrent else w_h
            gates[gate] = act(x_t @ params[f"W_x{gate}"] + h @ w_h + params[f"b_{gate}"])
        c = gates["f"] * c + gates["i"] * gates["g"]
        h = gates["o"] * torch.tanh(c)
        outputs.append(h)
    return torch.stack(outputs, dim=1), (h, c)


def last_valid_output(outputs, lengths):
    return outputs[torch.arange(outputs.shape[0]), lengths - 1]


def rnn_layer(x, weights):
    return run_layer("RNN", x, x.new_zeros(x.shape[1], weights["weight_hh"].shape[1]), weights)


def bidirectional_rnn(x, weights_fwd, weights_bwd, flip_back=True):
    out_f, h_f = rnn_layer(x, weights_fwd)
    out_b, h_b = rnn_layer(x.flip(0), weights_bwd)
    return torch.cat([out_f, out_b.flip(0) if flip_back else out_b], -1), torch.stack([h_f, h_b])


def init_lstm_params(input_size, hidden_size, scale=0.1, draw=torch.randn):
    params = {}
    for gate in "ifgo":
        params[f"W_x{gate}"] = draw(input_size, hidden_size) * scale
        params[f"W_h{gate}"] = draw(hidden_size, hidden_size) * scale
        params[f"b_{gate}"] = torch.zeros(hidden_size)
    return params


def lstm_step_backward(dh, dc, x, h_prev, c_prev, step, weight_ih, weight_hh, use_dc=True, tanh_slope=True,
                       sum_bias=True):
    i, f, g, o, c = step.i, step.f, step.g, step.o, step.c
    tanh_c = torch.tanh(c)
    dc = (dc if use_dc else 0) + dh * o * ((1 - tanh_c ** 2) if tanh_slope else 1)
    dpre = torch.cat([dc * g * i * (1 - i), dc * c_prev * f * (1 - f), dc * i * (1 - g ** 2),
                      dh * tanh_c * o * (1 - o)], dim=1)
    return dpre @ weight_ih, dpre @ weight_hh, dc * f, dpre.T @ x, dpre.T @ h_prev, dpre.sum(0) if sum_bias else dpre


# ================================================================ the right answers pass
@pytest.mark.parametrize("check, fn", [
    (check_rnn_step, rnn_step),
    (check_lstm_step, lstm_step),
    (check_lstm_forward, lstm_forward),
    (check_last_valid_output, last_valid_output),
    (check_bidirectional_rnn, bidirectional_rnn),
    (check_init_lstm_params, init_lstm_params),
    (check_lstm_step_backward, lstm_step_backward),
], ids=lambda v: getattr(v, "__name__", ""))
def test_a_right_answer_passes_also_on_the_hidden_cases(check, fn):
    feedback = check(fn)
    assert feedback, str(feedback)
    assert str(feedback).startswith("✓ ")
    kwargs = {"seed": 3} if check is check_init_lstm_params else {"seed": 3, "random_cases": 6}
    assert check(fn, **kwargs)


# ================================================================ the wrong shape, and which axis
def test_a_squeezed_batch_axis_is_named():
    text = failing(check_rnn_step(lambda *args: rnn_step(*args)[0]))
    assert "h_t has shape (2,), expected (1, 2): axis 0 (batch) of size 1 is missing" in text


def test_outputs_stacked_time_first_name_the_swapped_axes():
    def time_first(x, state, params):
        outputs, final = lstm_forward(x, state, params)
        return outputs.transpose(0, 1), final

    text = failing(check_lstm_forward(time_first))
    assert "axis 0 (batch) and axis 1 (step) look swapped" in text
    assert "stacked time-first, (T, N, H)" in text


def test_directions_concatenated_along_the_batch():
    def along_batch(x, wf, wb):
        out_f, h_f = rnn_layer(x, wf)
        out_b, h_b = rnn_layer(x.flip(0), wb)
        return torch.cat([out_f, out_b.flip(0)], 1), torch.stack([h_f, h_b])

    text = failing(check_bidirectional_rnn(along_batch))
    assert "axis 1 (batch) has size 2 instead of 1; axis 2 (unit) has size 2 instead of 4" in text
    assert "concatenated along the batch (dim 1)" in text


def test_core_shape_messages():
    msg = core.shape_message
    assert msg((3, 2), (2, 3), "x", None).endswith("it looks transposed (the axes are swapped)")
    assert msg((4, 3, 2), (4, 2, 3), "x", ("batch", "step", "unit")).endswith(
        "axis 1 (step) and axis 2 (unit) look swapped")
    assert msg((2, 3), (1, 2, 3), "x", None).endswith("axis 0 of size 1 is missing (squeezed away?)")
    assert msg((5, 2, 3), (2, 3), "x", None).endswith(
        "it has an extra axis 0 of size 5 (forgot to sum or pick along it?)")
    assert msg((2, 5), (2, 3), "x", ("batch", "unit")).endswith("axis 1 (unit) has size 5 instead of 3")


# ================================================================ which gate differs, and at which step
def test_the_seed_003_typo_in_the_fused_step():
    def seed_003(x, h_prev, c_prev, weight_ih, weight_hh, bias_ih, bias_hh):
        w_hi, w_hf, w_hg, w_ho = weight_hh.chunk(4)
        return lstm_step(x, h_prev, c_prev, weight_ih, torch.cat([w_hf, w_hf, w_hg, w_ho]), bias_ih, bias_hh)

    text = failing(check_lstm_step(seed_003))
    assert "the input gate i uses the forget gate f's block of weight_hh instead of its own" in text
    assert "seed 003's typo" in text
    assert "with the state set to zero your answer is right: the mistake is in the recurrent part" in text


def test_the_seed_003_typo_over_a_sequence():
    text = failing(check_lstm_forward(lambda x, s, p: lstm_forward(x, s, p, recurrent={"i": "W_hf"})))
    assert "the input gate i uses W_hf, the forget gate f's recurrent matrix, instead of W_hi" in text


def test_seed_003_state_never_carried_over_a_sequence():
    def restarts(x, state, params):  # seed 003's loop: (h, c) never carried to the next step
        steps = [lstm_forward(x[:, t:t + 1], state, params) for t in range(x.shape[1])]
        return torch.cat([out for out, _ in steps], 1), steps[-1][1]

    text = failing(check_lstm_forward(restarts))
    assert "every step starts again from the initial state: carry (h, c) from one step to the next" in text


@pytest.mark.parametrize("target, source", [("o", "i"), ("g", "o"), ("f", "g")])
def test_any_gate_reading_another_gates_matrix_is_named(target, source):
    words = {"i": "input gate i", "f": "forget gate f", "g": "candidate g", "o": "output gate o"}
    text = failing(check_lstm_forward(lambda x, s, p: lstm_forward(x, s, p, recurrent={target: f"W_h{source}"})))
    assert (f"the {words[target]} uses W_h{source}, the {words[source]}'s recurrent matrix, "
            f"instead of W_h{target}") in text


def test_an_unknown_mix_up_is_found_through_the_gradient():
    def blend(x, state, params):  # not in the catalogue: the input gate reads half of two other matrices
        p = dict(params, W_hi=0.5 * (params["W_hf"] + params["W_hg"]))
        return lstm_forward(x, state, p)

    text = failing(check_lstm_forward(blend))
    assert "your answer does not depend on W_hi at all" in text


def test_the_first_step_that_differs():
    def drifts(x, state, params):
        outputs, final = lstm_forward(x, state, params)
        outputs = outputs.clone()
        outputs[:, 2:] *= 1.01
        return outputs, final

    text = failing(check_lstm_forward(drifts))
    assert "steps 1 to 2 are right; the first difference is at step 3 (index 2)" in text


@pytest.mark.parametrize("gate, expected", [
    ("f", "the forget gate is where it goes wrong"),
    ("i", "the input gate i is off"),
    ("g", "the candidate g is off"),
    ("o", "c_t is right and h_t is not: look at the output gate o"),
])
def test_an_unknown_error_in_one_gate_is_located(gate, expected):
    def one_gate_off(x, h_prev, c_prev, weight_ih, weight_hh, bias_ih, bias_hh):
        pre = x @ weight_ih.T + bias_ih + h_prev @ weight_hh.T + bias_hh
        blocks = dict(zip("ifgo", pre.chunk(4, dim=1)))
        blocks[gate] = 0.5 * blocks[gate]  # a scale no catalogue lists
        i, f, g, o = (torch.sigmoid(blocks["i"]), torch.sigmoid(blocks["f"]), torch.tanh(blocks["g"]),
                      torch.sigmoid(blocks["o"]))
        c = f * c_prev + i * g
        return o * torch.tanh(c), c

    assert expected in failing(check_lstm_step(one_gate_off))


def test_which_gate_block_of_a_weight_gradient_differs():
    def forget_slope_missing(dh, dc, x, h_prev, c_prev, step, weight_ih, weight_hh):
        i, f, g, o, c = step.i, step.f, step.g, step.o, step.c
        tanh_c = torch.tanh(c)
        dc = dc + dh * o * (1 - tanh_c ** 2)
        dpre = torch.cat([dc * g * i * (1 - i), dc * c_prev * f, dc * i * (1 - g ** 2), dh * tanh_c * o * (1 - o)], 1)
        return dpre @ weight_ih, dpre @ weight_hh, dc * f, dpre.T @ x, dpre.T @ h_prev, dpre.sum(0)

    text = failing(check_lstm_step_backward(forget_slope_missing))
    assert "dweight_ih: " in text and "the gate blocks that differ: forget gate f" in text


# ================================================================ weights used transposed
def test_a_square_recurrent_matrix_used_transposed():
    text = failing(check_rnn_step(lambda x, h, wi, wh, bi, bh: torch.tanh(x @ wi.T + bi + h @ wh + bh)))
    assert "weight_hh is used transposed (h_prev @ weight_hh without .T)" in text


def test_the_input_matrix_used_transposed_is_caught_where_it_fits_and_explained_where_it_fails():
    text = failing(check_rnn_step(lambda x, h, wi, wh, bi, bh: torch.tanh(x @ wi + bi + h @ wh.T + bh)))
    assert "weight_ih is used transposed (x @ weight_ih without .T)" in text  # the case with D == H
    assert "mat1 and mat2 shapes cannot be multiplied" in text  # the others raise


def test_a_fused_matrix_used_transposed_raises_with_a_hint():
    def untransposed(x, h_prev, c_prev, weight_ih, weight_hh, bias_ih, bias_hh):
        return lstm_step(x, h_prev, c_prev, weight_ih, weight_hh.T, bias_ih, bias_hh)

    text = failing(check_lstm_step(untransposed))
    assert "your function raised RuntimeError: mat1 and mat2 shapes cannot be multiplied" in text
    assert "would fit with the second matrix transposed" in text


def test_recurrent_blocks_used_transposed():
    def blocks_transposed(x, h_prev, c_prev, weight_ih, weight_hh, bias_ih, bias_hh):
        w_hh = torch.cat([block.T for block in weight_hh.chunk(4)])
        return lstm_step(x, h_prev, c_prev, weight_ih, w_hh, bias_ih, bias_hh)

    text = failing(check_lstm_step(blocks_transposed))
    assert "the recurrent blocks of weight_hh are used transposed" in text
    text = failing(check_lstm_forward(lambda x, s, p: lstm_forward(x, s, p, transpose_recurrent=True)))
    assert "the recurrent matrices are used transposed (h @ W_h?.T)" in text


def test_init_with_a_transposed_input_matrix():
    def transposed(input_size, hidden_size):
        return dict(init_lstm_params(input_size, hidden_size), W_xi=torch.randn(hidden_size, input_size) * 0.1)

    text = failing(check_init_lstm_params(transposed))
    assert "W_xi has shape (2, 3), expected (3, 2): it looks transposed" in text


# ================================================================ gates chunked in the wrong order
@pytest.mark.parametrize("order, name", [("ifog", "CS231n's order"), ("figo", "seed 002's order"),
                                         ("iofg", "ONNX's order"), ("oifg", "")])
def test_gates_chunked_in_another_order(order, name):
    text = failing(check_lstm_step(lambda *args: lstm_step(*args, order=order)))
    assert f"you split the gate blocks in the order {', '.join(order)}" in text
    assert name in text and "torch stacks them i, f, g, o" in text


def test_backward_gate_gradients_stacked_in_another_order():
    def stacked_ifog(dh, dc, x, h_prev, c_prev, step, weight_ih, weight_hh):
        i, f, g, o, c = step.i, step.f, step.g, step.o, step.c
        tanh_c = torch.tanh(c)
        dc = dc + dh * o * (1 - tanh_c ** 2)
        dpre = torch.cat([dc * g * i * (1 - i), dc * c_prev * f * (1 - f), dh * tanh_c * o * (1 - o),
                          dc * i * (1 - g ** 2)], 1)
        return dpre @ weight_ih, dpre @ weight_hh, dc * f, dpre.T @ x, dpre.T @ h_prev, dpre.sum(0)

    assert "the gate gradients are stacked in the order i, f, o, g" in failing(check_lstm_step_backward(stacked_ifog))


# ================================================================ a bias broadcast from the wrong shape
def test_a_bias_added_as_a_column():
    def column(x, h_prev, weight_ih, weight_hh, bias_ih, bias_hh):
        return torch.tanh(x @ weight_ih.T + bias_ih[:, None] + h_prev @ weight_hh.T + bias_hh[:, None])

    text = failing(check_rnn_step(column))
    assert "the biases were added as columns (H, 1)" in text
    assert "h_t has shape (2, 2), expected (1, 2): axis 0 (batch) has size 2 instead of 1" in text


def test_init_with_a_column_bias():
    def column(input_size, hidden_size):
        return dict(init_lstm_params(input_size, hidden_size), b_f=torch.zeros(hidden_size, 1))

    text = failing(check_init_lstm_params(column))
    assert "b_f has shape (2, 1), expected (2,)" in text and "a column" in text and "broadcasts" in text


def test_a_missing_bias():
    def no_bias_hh(x, h, c, wi, wh, bi, bh):
        return lstm_step(x, h, c, wi, wh, bi, torch.zeros_like(bh))

    text = failing(check_lstm_step(no_bias_hh))
    assert "bias_hh is missing" in text


# ================================================================ the reverse direction not flipped back
def test_the_backward_direction_not_flipped_back():
    text = failing(check_bidirectional_rnn(lambda x, wf, wb: bidirectional_rnn(x, wf, wb, flip_back=False)))
    assert "the backward outputs are still in reading order (last step first): flip them back" in text


def test_the_backward_final_state_taken_from_the_wrong_end():
    def wrong_end(x, wf, wb):
        output, h_n = bidirectional_rnn(x, wf, wb)
        H = h_n.shape[-1]
        return output, torch.stack([h_n[0], output[-1, :, H:]])

    assert "h_n's backward row should be the backward direction's final state" in failing(
        check_bidirectional_rnn(wrong_end))


# ================================================================ an off-by-one in the last valid step
def test_off_by_one_in_the_last_valid_step():
    text = failing(check_last_valid_output(lambda outputs, lengths: outputs[torch.arange(len(lengths)), lengths]))
    assert "one step past the end: a sequence of length L has its last real output at index L - 1 (step L)" in text
    assert "IndexError" in text  # where a sequence fills the batch, the same line raises


def test_off_by_one_that_only_raises_is_explained():
    def always_raises(outputs, lengths):
        return outputs[torch.arange(len(lengths)), lengths + outputs.shape[1]]

    text = failing(check_last_valid_output(always_raises))
    assert "your function raised IndexError" in text and "one past its end" in text


def test_the_last_padded_step():
    assert "the last step of the padded tensor, outputs[:, -1]" in failing(
        check_last_valid_output(lambda outputs, lengths: outputs[:, -1]))


# ================================================================ exceptions, None, and autograd
def test_a_students_exception_becomes_a_sentence_naming_their_line():
    def broken(x, h_prev, weight_ih, weight_hh, bias_ih, bias_hh):
        raise ValueError("I am not done")

    text = failing(check_rnn_step(broken))
    assert "your function raised ValueError: I am not done (line" in text
    assert 'raise ValueError("I am not done")' in text


def test_the_stub_is_reported_by_name():
    def lstm_forward(x, state, params):  # noqa: F811 - the stub a student version holds
        raise NotImplementedError("lstm_forward: not implemented yet")

    text = failing(check_lstm_forward(lstm_forward))
    assert "lstm_forward is not implemented yet" in text


def test_a_missing_return():
    def forgot(x, h_prev, weight_ih, weight_hh, bias_ih, bias_hh):
        torch.tanh(x @ weight_ih.T + bias_ih + h_prev @ weight_hh.T + bias_hh)

    assert "h_t is None: did the function forget to `return` its result?" in failing(check_rnn_step(forgot))
    assert "it returned None: did the function forget to `return` (h_t, c_t)?" in failing(
        check_lstm_step(lambda *args: None))
    assert "it returned None: did the function forget to `return` the dict" in failing(
        check_init_lstm_params(lambda d, h: None))


@pytest.mark.parametrize("returned", ["text", 3, {"h": 1}, (1, 2, 3), torch.tensor([1, 2]), [torch.zeros(3)],
                                      torch.full((1, 2), float("nan"), dtype=torch.float64)])
@pytest.mark.parametrize("check", [check_rnn_step, check_lstm_step, check_lstm_forward, check_last_valid_output,
                                   check_bidirectional_rnn, check_lstm_step_backward, check_init_lstm_params])
def test_any_strange_return_value_fails_with_words_not_a_crash(check, returned):
    failing(check(lambda *args: returned))


def test_a_detached_weight_fails_on_the_gradient():
    def detached(x, h_prev, weight_ih, weight_hh, bias_ih, bias_hh):
        return torch.tanh(x @ weight_ih.T + bias_ih + h_prev @ weight_hh.detach().T + bias_hh)

    assert "the numbers are right, but no gradient reaches weight_hh" in failing(check_rnn_step(detached))


def test_a_result_rebuilt_with_torch_tensor_is_cut_off_from_autograd():
    def rebuilt(*args):
        return torch.tensor(rnn_step(*args).tolist(), dtype=torch.float64)

    assert "your result is cut off from autograd" in failing(check_rnn_step(rebuilt))


def test_an_argument_changed_in_place():
    def in_place(x, h_prev, c_prev, weight_ih, weight_hh, bias_ih, bias_hh):
        h, c = lstm_step(x, h_prev, c_prev, weight_ih, weight_hh, bias_ih, bias_hh)
        c_prev.copy_(c)
        return h, c

    assert "changed its argument c_prev in place" in failing(check_lstm_step(in_place))


# ---------------------------------------------------------------- right on some cases, no answer on others
def gru_step_one_sample(x, h_prev, weight_ih, weight_hh, bias_ih, bias_hh):
    """Notebook 12's gru_step adapted as it stands: .chunk(3) without dim=-1, right on one sample only."""
    x_r, x_z, x_n = (x @ weight_ih.T + bias_ih).chunk(3)
    h_r, h_z, h_n = (h_prev @ weight_hh.T + bias_hh).chunk(3)
    r, z = torch.sigmoid(x_r + h_r), torch.sigmoid(x_z + h_z)
    n = torch.tanh(x_n + r * h_n)
    return (1 - z) * n + z * h_prev


def test_right_on_one_sample_but_raising_on_a_batch_gets_a_sentence():
    text = failing(check_gru_step(gru_step_one_sample))  # was a StopIteration from _explain
    assert "your answer is right on the fixed X at x[1] (one sample" in text
    assert "on random case 1 (batch 4" in text and "raised ValueError: not enough values to unpack" in text
    assert ".chunk(3, dim=-1)" in text


def test_right_on_one_sample_but_no_answer_on_a_batch_gets_a_sentence():
    def more_on_a_batch(x, h_prev, c_prev, weight_ih, weight_hh, bias_ih, bias_hh):
        h, c = lstm_step(x, h_prev, c_prev, weight_ih, weight_hh, bias_ih, bias_hh)
        return (h, c) if x.shape[0] == 1 else (h, c, x)  # the fixed X comes one step (a batch of 1) at a time

    text = failing(check_lstm_step(more_on_a_batch))
    assert "your answer is right on the fixed X, step 1 (x[0]); the fixed X, step 2 (x[1])" in text
    assert ("on random case 1 (batch 3, input size 4, hidden size 5): it should return (h_t, c_t), got a tuple of 3 "
            "item(s)") in text


def test_a_check_with_no_cases_says_so():
    exercise = Exercise("rnn_step", rnn_step, "h_t")
    assert "there is no case to check rnn_step on" in failing(run_check(exercise, rnn_step, []))


def test_a_reference_without_gradients_compares_the_numbers_only():
    """The reference answers in whole numbers: there is no gradient to hold the student's to."""
    exercise = Exercise("count", lambda x: torch.tensor([2, 3]), "count")
    case = Case("two numbers", (torch.ones(2, dtype=torch.float64),), names=("x",))
    assert run_check(exercise, lambda x: x * 0 + torch.tensor([2.0, 3.0], dtype=torch.float64), [case])


def test_explaining_runs_that_all_gave_nothing_gets_a_sentence():
    """_explain on no runs at all (run_check never asks it to) still says something, not an IndexError."""
    assert _explain(Exercise("rnn_step", rnn_step, "h_t"), rnn_step, []) == ["your function gave no answer to check"]


def test_float32_rounding_is_named():
    def in_float32(x, h_prev, weight_ih, weight_hh, bias_ih, bias_hh):
        return rnn_step(*(t.float() for t in (x, h_prev, weight_ih, weight_hh, bias_ih, bias_hh))).double()

    assert "that is float32 rounding" in failing(check_rnn_step(in_float32))


# ================================================================ the backward step and the initialisation
def test_backward_without_the_gradient_from_the_next_step():
    assert "the gradient arriving at c_t from step t+1 (dc) is not added in" in failing(
        check_lstm_step_backward(lambda *args: lstm_step_backward(*args, use_dc=False)))


def test_backward_without_tanh_slope():
    assert "tanh' of the cell state is missing" in failing(
        check_lstm_step_backward(lambda *args: lstm_step_backward(*args, tanh_slope=False)))


def test_backward_bias_not_summed_over_the_batch():
    text = failing(check_lstm_step_backward(lambda *args: lstm_step_backward(*args, sum_bias=False)))
    assert "dbias is not summed over the batch" in text
    assert "dbias has shape (1, 8), expected (8,): it has an extra axis 0 of size 1" in text


@pytest.mark.parametrize("fn, expected", [
    (lambda d, h: init_lstm_params(d, h, scale=1.0), "standard deviation 1.0"),
    (lambda d, h: init_lstm_params(d, h, scale=0.01), "standard deviation 0.010, expected 0.1"),
    (lambda d, h: init_lstm_params(d, h, draw=torch.rand), "torch.rand draws from [0, 1)"),
    (lambda d, h: init_lstm_params(d, h, scale=0.1 * 12 ** 0.5, draw=lambda *s: torch.rand(*s) - 0.5),
     "looks uniformly spread, not normal"),
    (lambda d, h: init_lstm_params(d, h, scale=0.0), "is all zeros"),
    (lambda d, h: dict(init_lstm_params(d, h), b_o=torch.ones(h)), "b_o not zero"),
    (lambda d, h: {k.replace("g", "c"): v for k, v in init_lstm_params(d, h).items()}, "calls the candidate g"),
    (lambda d, h: list(init_lstm_params(d, h).values()), "should return a dict"),
])
def test_init_mistakes(fn, expected):
    assert expected in failing(check_init_lstm_params(fn))


def test_init_with_a_shared_matrix():
    def shared(input_size, hidden_size):
        params = init_lstm_params(input_size, hidden_size)
        params["W_hf"] = params["W_hi"]
        return params

    assert "W_hi and W_hf hold the same numbers" in failing(check_init_lstm_params(shared))


def test_init_that_seeds_itself():
    def seeds_itself(input_size, hidden_size):
        torch.manual_seed(0)
        return init_lstm_params(input_size, hidden_size)

    assert "does the function call torch.manual_seed itself?" in failing(check_init_lstm_params(seeds_itself))


def test_the_init_check_leaves_the_notebooks_random_stream_alone():
    torch.manual_seed(7)
    expected = torch.rand(3)
    torch.manual_seed(7)
    check_init_lstm_params(init_lstm_params)
    assert torch.equal(torch.rand(3), expected)


# ================================================================ grading
def test_assert_ok_raises_an_error_that_renders_without_a_traceback():
    feedback = check_rnn_step(lambda *args: None)
    with pytest.raises(core.ExerciseFailed) as info:
        feedback.assert_ok()
    rendered = info.value._render_traceback_()
    assert rendered[0] == "ExerciseFailed: ✗ rnn_step: not yet"
    assert not any(re.search(r"File \"|Traceback", line) for line in rendered)
    assert check_rnn_step(rnn_step).assert_ok() is None  # no value: no output in a grading cell


def test_the_judges_are_a_closed_set():
    with pytest.raises(ValueError, match="judge 'roughly' is none of"):
        Exercise("x", None, "y", judge="roughly")


def test_a_mistake_is_named_only_where_its_catalogue_explains_every_wrong_answer():
    """A mistake catalogued for some cases only (the transposed input matrices fit square cases) does not
    explain a wrong answer on a case where it cannot happen."""
    cases = [Case("case one", (torch.ones(1, dtype=torch.float64),)), Case("case two", (torch.ones(2, dtype=torch.float64),))]
    ex = Exercise("double", lambda x: 2 * x, "y", gradients=False,
                  mistakes=lambda case: {"multiplied by 4": 4 * case.args[0]} if case.label == "case two" else {})
    assert "multiplied by 4" in failing(run_check(ex, lambda x: 4 * x if len(x) == 2 else 2 * x, cases))
    assert "multiplied by 4" not in failing(run_check(ex, lambda x: 4 * x if len(x) == 2 else 3 * x, cases))


# ================================================================ the property judge
def test_the_property_judge_names_the_first_property_that_fails():
    between = Exercise(
        "between", None, "x", answer="value", judge="property", cases=lambda: [Case("", ())],
        statistic=lambda value, case: {"x": float(value)} if isinstance(value, (int, float)) else "a number, please",
        properties=(lambda m, case, again: None if m["x"] > 0 else ["it should be above 0"],
                    lambda m, case, again: None if m["x"] < 10 else ["it should be below 10"]),
        success=("{x:g} lies between 0 and 10",))
    assert str(run_check(between, 3)) == "✓ between: correct\n   3 lies between 0 and 10"
    assert run_check(between, -1).lines == ["it should be above 0"]
    assert run_check(between, 12).lines == ["it should be below 10"]
    assert run_check(between, "3").lines == ["a number, please"]
    assert "there is no case" in str(run_check(between, 3, []))


def test_an_option_a_check_does_not_take_is_told_by_name_with_the_ones_it_does():
    import inspect

    from lstm_lab.checks.exercises import check_rnn_step
    with pytest.raises(TypeError, match=r"check_rnn_step takes the options seed, random_cases, got seeds=1"):
        check_rnn_step(rnn_step, seeds=1)
    assert str(inspect.signature(check_rnn_step)) == "(fn, *, seed=0, random_cases=2)"  # what help() shows


def test_whole_numbers_given_as_floats_are_named_where_the_answer_is_integers():
    from lstm_lab.checks.text import check_batchify

    def streams(ids, batch_size):  # right numbers, float dtype: an embedding cannot index with them
        rows = len(ids) // batch_size
        return ids[:rows * batch_size].reshape(batch_size, rows).t()
    assert check_batchify(streams)
    said = str(check_batchify(lambda ids, batch_size: streams(ids, batch_size).double()))
    assert "streams should hold integers, dtype torch.int64, got torch.float64" in said
