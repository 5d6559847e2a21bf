"""The exercise is the work: an answer that calls the thing it is asked to write fails, with a
sentence naming the call, however it reached it; the building blocks stay allowed. Each planted
shortcut below returns the right numbers."""

import pytest
import torch
from torch import _VF, nn

import lstm_lab
from lstm_lab import bptt, mistakes
from lstm_lab.cells import lstm_cell, rnn_cell
from lstm_lab.checks import bptt as notebook_checks
from lstm_lab.checks import sequences
from lstm_lab.checks.exercises import (
    check_bidirectional_rnn,
    check_last_valid_output,
    check_lstm_forward,
    check_lstm_step,
    check_lstm_step_backward,
    check_rnn_step,
)
from lstm_lab.layouts import fuse_gates
from test_checks_diagnose import bidirectional_rnn, failing


def rnn_via_lstm_lab(x, h_prev, weight_ih, weight_hh, bias_ih, bias_hh):
    return lstm_lab.rnn_cell(x, h_prev, weight_ih, weight_hh, bias_ih, bias_hh)


def rnn_via_imported_cell(x, h_prev, weight_ih, weight_hh, bias_ih, bias_hh):
    return rnn_cell(x, h_prev, weight_ih, weight_hh, bias_ih, bias_hh)  # imported before the check ran


def rnn_via_torch(x, h_prev, weight_ih, weight_hh, bias_ih, bias_hh):
    return torch.rnn_tanh_cell(x, h_prev, weight_ih, weight_hh, bias_ih, bias_hh)


def rnn_via_nn_cell(x, h_prev, weight_ih, weight_hh, bias_ih, bias_hh):
    cell = nn.RNNCell(x.shape[1], h_prev.shape[1], dtype=x.dtype)
    with torch.no_grad():
        for name, value in zip(("weight_ih", "weight_hh", "bias_ih", "bias_hh"),
                               (weight_ih, weight_hh, bias_ih, bias_hh)):
            getattr(cell, name).copy_(value)
    return cell(x, h_prev)


def lstm_via_lstm_lab(x, h_prev, c_prev, weight_ih, weight_hh, bias_ih, bias_hh):
    return lstm_lab.lstm_cell(x, (h_prev, c_prev), weight_ih, weight_hh, bias_ih, bias_hh)


def lstm_via_torch(x, h_prev, c_prev, weight_ih, weight_hh, bias_ih, bias_hh):
    return torch.lstm_cell(x, (h_prev, c_prev), weight_ih, weight_hh, bias_ih, bias_hh)


def lstm_via_vf(x, h_prev, c_prev, weight_ih, weight_hh, bias_ih, bias_hh):
    return _VF.lstm_cell(x, (h_prev, c_prev), weight_ih, weight_hh, bias_ih, bias_hh)


def forward_via_cell(x, state, params):
    weights, outputs = fuse_gates(params, transposed=True), []
    for t in range(x.shape[1]):
        state = lstm_cell(x[:, t], state, **weights)
        outputs.append(state[0])
    return torch.stack(outputs, 1), state


def forward_via_module(x, state, params):
    model = lstm_lab.LSTM(x.shape[-1], state[0].shape[-1], batch_first=True, dtype=x.dtype)
    with torch.no_grad():
        for name, value in fuse_gates(params, transposed=True).items():
            getattr(model, f"{name}_l0").copy_(value)
    output, (h, c) = model(x, (state[0][None], state[1][None]))
    return output, (h[0], c[0])


def last_via_fixed_mistake(outputs, lengths):
    return mistakes.last_output_off_by_one(outputs.transpose(0, 1), lengths, fixed=True)


def bidirectional_via_stack(x, weights_fwd, weights_bwd):
    h0 = x.new_zeros(2, x.shape[1], weights_fwd["weight_hh"].shape[1])
    return lstm_lab.runners.run_stack("RNN", x, h0, [[weights_fwd, weights_bwd]])


def backward_via_bptt(dh, dc, x, h_prev, c_prev, step, weight_ih, weight_hh):
    g = bptt.lstm_step_backward(dh, dc, x, h_prev, c_prev, step, weight_ih, weight_hh)
    return g.dx, g.dh_prev, g.dc_prev, g.weight_ih, g.weight_hh, g.bias


def rnn_backward_via_bptt(dh, x, h_prev, h, weight_ih, weight_hh):
    g = bptt.rnn_step_backward(dh, x, h_prev, h, weight_ih, weight_hh)
    return g.dx, g.dh_prev, g.weight_ih, g.weight_hh, g.bias


def fused_step_via_update(x, state, weight_ih, weight_hh, bias_ih, bias_hh):
    from lstm_lab.cells import lstm_update

    pre = x @ weight_ih.T + bias_ih + state[0] @ weight_hh.T + bias_hh
    step = lstm_update(pre, state[1])  # the gate equations themselves: what notebook 05 asks for
    return step.h, step.c


def gru_via_torch(x, h_prev, weight_ih, weight_hh, bias_ih, bias_hh):
    return torch.gru_cell(x, h_prev, weight_ih, weight_hh, bias_ih, bias_hh)


SHORTCUTS = [
    (check_rnn_step, rnn_via_lstm_lab, "lstm_lab.cells.rnn_cell"),
    (check_rnn_step, rnn_via_imported_cell, "lstm_lab.cells.rnn_cell"),
    (check_rnn_step, rnn_via_torch, "torch.rnn_tanh_cell"),
    (check_rnn_step, rnn_via_nn_cell, "torch.nn.RNNCell"),
    (check_lstm_step, lstm_via_lstm_lab, "lstm_lab.cells.lstm_cell"),
    (check_lstm_step, lstm_via_torch, "torch.lstm_cell"),
    (check_lstm_step, lstm_via_vf, "torch.lstm_cell"),
    (check_lstm_forward, forward_via_cell, "lstm_lab.cells.lstm_cell"),
    (check_lstm_forward, forward_via_module, "lstm_lab.modules.LSTM"),
    (check_last_valid_output, last_via_fixed_mistake, "lstm_lab.mistakes.last_output_off_by_one"),
    (check_bidirectional_rnn, bidirectional_via_stack, "lstm_lab.runners.run_stack"),
    (check_lstm_step_backward, backward_via_bptt, "lstm_lab.bptt.lstm_step_backward"),
    (notebook_checks.check_lstm_step_backward, backward_via_bptt, "lstm_lab.bptt.lstm_step_backward"),
    (notebook_checks.check_rnn_step_backward, rnn_backward_via_bptt, "lstm_lab.bptt.rnn_step_backward"),
    (notebook_checks.check_gru_step, gru_via_torch, "torch.gru_cell"),
    (sequences.check_fused_step, fused_step_via_update, "lstm_lab.cells.lstm_update"),
]


@pytest.mark.parametrize("check, shortcut, call", SHORTCUTS,
                         ids=[f"{c.__name__}-{s.__name__}" for c, s, _ in SHORTCUTS])
def test_a_shortcut_fails_with_a_sentence_naming_the_call(check, shortcut, call):
    text = failing(check(shortcut))
    assert "your function calls `" in text and f"`{call}`" in text
    assert "which is not allowed in this exercise" in text


def test_the_layer_an_exercise_hands_out_stays_allowed():
    assert check_bidirectional_rnn(bidirectional_rnn)  # it uses the exercise's rnn_layer (run_layer)

    def bidirectional_layer(inputs, forward_weights, backward_weights):
        batch, hidden = inputs.shape[1], forward_weights["weight_hh"].shape[1]
        state = (inputs.new_zeros(batch, hidden), inputs.new_zeros(batch, hidden))
        forward, _ = lstm_lab.run_layer("LSTM", inputs, state, forward_weights)
        backward, _ = lstm_lab.run_layer("LSTM", inputs.flip(0), state, backward_weights)
        return torch.cat([forward, backward.flip(0)], dim=-1)

    assert sequences.check_bidirectional_layer(bidirectional_layer)


def test_the_watch_is_off_after_the_check():
    import sys

    before = sys.getprofile()
    check_lstm_step(lstm_via_torch)
    assert sys.getprofile() is before
