"""Cells over time: one layer in one direction, then stacked and bidirectional.

The shape of the computation is the one ``torch.nn`` uses, written in plain PyTorch:

1. the input half of every gate for *all* time steps in one matmul
   (``x_proj[t] = W_ih x_t + b_ih``), because it does not depend on the recurrence;
2. then, step by step, one recurrent matmul ``W_hh h_{t-1}`` and the gate equations of
   ``cells.py`` (the same functions a single cell uses).

Variable lengths (padded batches, packed sequences) use a mask: after its last valid step a
sequence keeps its state and writes zeros to the output, exactly what torch's packed path
gives. The reverse direction reverses each sequence *within its own length*, runs forward,
and reverses the outputs back, so ``output[t]`` always pairs the forward and the backward
state of the same time step.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from . import bptt
from .cells import gru_update, lstm_update, rnn_update

# The LSTM's fast path: a hand-written backward (lstm_lab.bptt, the same derivation the BPTT
# notebook teaches). It has no second derivative; set this to False to differentiate twice
# (e.g. torch.autograd.gradgradcheck) through plain autograd instead.
HAND_WRITTEN_LSTM_BACKWARD = True


def input_projection(mode: str, inputs: Tensor, weights: dict) -> Tensor:
    """W_ih x_t + b_ih for every t in one matmul: (T, B, D) -> (T, B, gates*H).

    For the RNN and the LSTM, b_hh only ever gets added to it, so it is folded in here too.
    The GRU keeps b_hh apart: its reset gate multiplies (W_hn h + b_hn).
    """
    bias = weights.get("bias_ih")
    if bias is not None and mode != "GRU":
        bias = bias + weights["bias_hh"]
    return F.linear(inputs, weights["weight_ih"], bias)


def reverse_padded(seq: Tensor, lengths: Tensor | None) -> Tensor:
    """Reverse time (dim 0) of each sequence within its own length; padding stays in place."""
    if lengths is None:
        return seq.flip(0)
    steps = torch.arange(seq.shape[0], device=seq.device).unsqueeze(1)  # (T, 1)
    last = (lengths.to(seq.device) - 1).unsqueeze(0)  # (1, B)
    source = torch.where(steps <= last, last - steps, steps)  # (T, B)
    return seq.gather(0, source.unsqueeze(-1).expand_as(seq))


def valid_steps(lengths: Tensor | None, steps: int, device) -> Tensor | None:
    """(T, B, 1) bool mask: True where t < length of sequence b."""
    if lengths is None:
        return None
    return (torch.arange(steps, device=device).unsqueeze(1) < lengths.to(device).unsqueeze(0)).unsqueeze(-1)


def run_layer(mode, inputs, state, weights, *, reverse=False, lengths=None, nonlinearity="tanh"):
    """One direction of one layer over a (T, B, D) sequence.

    ``state`` is h0 of shape (B, H_out), or ``(h0, c0)`` for the LSTM; ``weights`` a dict with
    ``weight_ih``, ``weight_hh`` and optionally ``bias_ih``, ``bias_hh``, ``weight_hr``.
    Returns ``(outputs (T, B, H_out), final state)`` in the same form as ``state``.
    """
    if reverse:
        inputs = reverse_padded(inputs, lengths)
    proj = input_projection(mode, inputs, weights)
    mask = valid_steps(lengths, inputs.shape[0], inputs.device)
    fast = HAND_WRITTEN_LSTM_BACKWARD and torch.is_grad_enabled()  # without grad, nothing to save for
    if mode == "LSTM" and mask is None and weights.get("weight_hr") is None and fast:
        outputs, h, c = bptt.lstm_layer(proj, state[0], state[1], weights["weight_hh"])
        state = (h, c)
    else:
        if mode == "LSTM":
            outputs, state = _lstm_steps(proj, state, weights, mask)
        elif mode == "GRU":
            outputs, state = _gru_steps(proj, state, weights, mask)
        else:
            outputs, state = _rnn_steps(proj, state, weights, mask, nonlinearity)
        outputs = torch.stack(outputs)
    if reverse:
        outputs = reverse_padded(outputs, lengths)
    return outputs, state


def _masked(mask_t, new, old):
    """Past a sequence's end, keep the old state."""
    return new if mask_t is None else torch.where(mask_t, new, old)


def _output(mask_t, h):
    return h if mask_t is None else h * mask_t


def _steps_of(proj, mask):
    # unbind once: indexing proj[t] under autograd would build a full-size gradient per step
    masks = [None] * proj.shape[0] if mask is None else mask.unbind(0)
    return zip(proj.unbind(0), masks)


def _rnn_steps(proj, h, weights, mask, nonlinearity):
    w_hh = weights["weight_hh"].t()
    outputs = []
    for proj_t, mask_t in _steps_of(proj, mask):
        h = _masked(mask_t, rnn_update(torch.addmm(proj_t, h, w_hh), nonlinearity).h, h)
        outputs.append(_output(mask_t, h))
    return outputs, h


def _lstm_steps(proj, state, weights, mask):
    h, c = state
    w_hh, w_hr = weights["weight_hh"].t(), weights.get("weight_hr")
    outputs = []
    for proj_t, mask_t in _steps_of(proj, mask):
        step = lstm_update(torch.addmm(proj_t, h, w_hh), c, w_hr)
        h, c = _masked(mask_t, step.h, h), _masked(mask_t, step.c, c)
        outputs.append(_output(mask_t, h))
    return outputs, (h, c)


def _gru_steps(proj, h, weights, mask):
    w_hh, b_hh = weights["weight_hh"].t(), weights.get("bias_hh")
    outputs = []
    for proj_t, mask_t in _steps_of(proj, mask):
        proj_h = h @ w_hh if b_hh is None else torch.addmm(b_hh, h, w_hh)
        h = _masked(mask_t, gru_update(proj_t, proj_h, h).h, h)
        outputs.append(_output(mask_t, h))
    return outputs, h


def run_stack(mode, inputs, hx, layer_weights, *, dropout=0.0, training=False, lengths=None, nonlinearity="tanh"):
    """A stack of layers, each one- or two-directional, over a (T, B, D) sequence.

    ``layer_weights[layer][direction]`` is a weight dict; direction 1 is the reverse one.
    ``hx`` is (num_layers * num_directions, B, H_out) — or ``(h0, c0)`` for the LSTM — laid out
    l0, l0_reverse, l1, l1_reverse, ... as in torch. Layer l+1 reads the concatenation
    [forward, backward] of layer l's outputs at each time step; dropout acts between layers,
    in training only.
    """
    is_lstm = mode == "LSTM"
    h0, c0 = hx if is_lstm else (hx, None)
    layer_input, finals_h, finals_c = inputs, [], []
    num_layers = len(layer_weights)
    for layer, directions in enumerate(layer_weights):
        outputs = []
        for direction, weights in enumerate(directions):
            k = layer * len(directions) + direction
            state = (h0[k], c0[k]) if is_lstm else h0[k]
            out, state = run_layer(mode, layer_input, state, weights, reverse=direction == 1,
                                   lengths=lengths, nonlinearity=nonlinearity)
            outputs.append(out)
            finals_h.append(state[0] if is_lstm else state)
            if is_lstm:
                finals_c.append(state[1])
        layer_input = torch.cat(outputs, dim=-1) if len(outputs) > 1 else outputs[0]
        if dropout > 0 and training and layer < num_layers - 1:
            layer_input = F.dropout(layer_input, dropout, training=True)
    h_n = torch.stack(finals_h)
    return layer_input, ((h_n, torch.stack(finals_c)) if is_lstm else h_n)
