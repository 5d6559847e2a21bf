"""The fixed example every hand computation in the course uses, and its golden numbers.

X = [[1, 2, 3], [4, 5, 6], [7, 8, 9]]: three time steps of three features, hidden size 2,
with the weights seed 001 chose so that the arithmetic fits on paper.

Every accessor returns fresh tensors (float64 unless asked otherwise), so a learner who edits
one in a notebook cannot change what the next cell or the tests see.

``golden()`` reads ``golden.json``, written by ``scripts/make_golden.py`` from ``torch.nn``
and plain tensor arithmetic in float64 — never from lstm_lab's own cells — so the tests that
compare lstm_lab with it are comparing with an independent reference, and a number shown in a
notebook is the number the tests check.
"""

from __future__ import annotations

import json
from importlib import resources

import torch
from torch import Tensor

from .layouts import fuse_gates

X_VALUES = [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]]
HIDDEN_SIZE = 2

# Seed 001's RNN. Its recurrent matrix was typed as [[0, -1]] (one row) and its biases as
# [1.0] (one entry); both only worked by broadcasting. These are the shapes torch expects,
# holding the values the broadcast produced.
_RNN = {
    "weight_ih": [[-1.0, 0.0, 0.5], [1.0, 0.0, -0.5]],
    "weight_hh": [[0.0, -1.0], [0.0, -1.0]],
    "bias_ih": [1.0, 1.0],
    "bias_hh": [1.0, 1.0],
}
_RNN_AS_WRITTEN = {
    "weight_ih": [[-1.0, 0.0, 0.5], [1.0, 0.0, -0.5]],
    "weight_hh": [[0.0, -1.0]],
    "bias_ih": [1.0],
    "bias_hh": [1.0],
}

# Seed 001's output heads (weight, bias), as torch.nn.Linear holds them.
_HEADS = {
    "regression": ([[0.0, 1.0]], [0.0]),  # d_out = 1 from the last hidden state
    "labelling": ([[0.0, 1.0], [1.0, 0.0]], [0.0, 0.0]),  # two labels per time step
    "bidirectional": ([[1.0, 1.0, 1.0, 1.0]], [1.0]),  # d_out = 1 from [h_fwd, h_bwd]
}

# Seed 001's LSTM (no bias), one matrix per gate, torch's row convention (x @ W.T).
# The seed calls the candidate "c" (W_xc); torch and this package call it "g".
_LSTM = {
    "W_xi": [[-1.0, 0.0, 0.5], [-1.0, 0.0, -0.5]],
    "W_hi": [[0.0, 1.0], [0.0, -1.0]],
    "W_xf": [[1.0, 0.0, 0.5], [1.0, 0.0, -0.5]],
    "W_hf": [[0.0, 1.0], [0.0, -1.0]],
    "W_xg": [[1.0, 0.0, -0.5], [1.0, 0.0, -0.5]],
    "W_hg": [[0.0, 1.0], [0.0, -1.0]],
    "W_xo": [[1.0, 1.0, 0.5], [1.0, -1.0, -0.5]],
    "W_ho": [[0.0, 1.0], [0.0, -1.0]],
}
# Ours, not the seed's: the same LSTM with a bias, forget bias 1 (as seed 000 initialises it)
# and a small input and output bias, so every gate shows the bias at work.
_LSTM_BIAS = {"b_i": [0.5, -0.5], "b_f": [1.0, 1.0], "b_g": [0.0, 0.0], "b_o": [-0.5, 0.5]}

# Ours: a GRU on the same X, reusing seed 001's LSTM matrices for r, z, n. b_hn is non-zero
# so the reset gate's product r * (W_hn h + b_hn) shows where torch puts that bias.
_GRU = {
    "weight_ih": _LSTM["W_xf"] + _LSTM["W_xi"] + _LSTM["W_xg"],  # r, z, n
    "weight_hh": _LSTM["W_hf"] + _LSTM["W_hi"] + _LSTM["W_hg"],
    "bias_ih": [0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
    "bias_hh": [0.0, 0.0, 0.0, 0.0, 0.5, -0.5],
}


def _t(values, dtype) -> Tensor:
    return torch.tensor(values, dtype=dtype)


def fixed_x(dtype: torch.dtype = torch.float64) -> Tensor:
    """X, shape (3, 3): row t is x_t."""
    return _t(X_VALUES, dtype)


def rnn_weights(dtype: torch.dtype = torch.float64) -> dict[str, Tensor]:
    """Seed 001's RNN in torch's layout: weight_ih (2, 3), weight_hh (2, 2), biases (2,)."""
    return {k: _t(v, dtype) for k, v in _RNN.items()}


def rnn_weights_as_written(dtype: torch.dtype = torch.float64) -> dict[str, Tensor]:
    """Seed 001's RNN exactly as typed: weight_hh (1, 2) and biases (1,) that rely on broadcasting."""
    return {k: _t(v, dtype) for k, v in _RNN_AS_WRITTEN.items()}


def head(name: str, dtype: torch.dtype = torch.float64) -> tuple[Tensor, Tensor]:
    """An output head of seed 001: 'regression', 'labelling' or 'bidirectional'."""
    if name not in _HEADS:
        raise KeyError(f"unknown head {name!r}; expected one of {', '.join(_HEADS)}")
    weight, bias = _HEADS[name]
    return _t(weight, dtype), _t(bias, dtype)


def lstm_gate_weights(dtype: torch.dtype = torch.float64, bias: bool = False) -> dict[str, Tensor]:
    """Seed 001's LSTM, one matrix per gate: W_xi, W_hi, W_xf, ... (and b_i, ... with bias=True)."""
    out = {k: _t(v, dtype) for k, v in _LSTM.items()}
    if bias:
        out.update({k: _t(v, dtype) for k, v in _LSTM_BIAS.items()})
    return out


def lstm_weights(dtype: torch.dtype = torch.float64, bias: bool = False) -> dict[str, Tensor]:
    """The same LSTM fused in torch's layout (gate blocks i, f, g, o)."""
    return fuse_gates(lstm_gate_weights(dtype, bias))


def gru_weights(dtype: torch.dtype = torch.float64) -> dict[str, Tensor]:
    """A GRU on the fixed X in torch's layout (gate blocks r, z, n)."""
    return {k: _t(v, dtype) for k, v in _GRU.items()}


def golden() -> dict:
    """The golden numbers, float64, as nested dicts of tensors (see scripts/make_golden.py)."""
    raw = json.loads(resources.files("lstm_lab").joinpath("golden.json").read_text())
    return _to_tensors(raw)


def _to_tensors(node):
    if isinstance(node, dict):
        return {k: _to_tensors(v) for k, v in node.items()}
    if isinstance(node, list) and _all_ints(node):
        return torch.tensor(node, dtype=torch.long)  # labels
    return torch.tensor(node, dtype=torch.float64)


def _all_ints(node) -> bool:
    if isinstance(node, list):
        return all(_all_ints(v) for v in node)
    return isinstance(node, int)
