"""Cells over time, what is about sequences: masks for variable lengths, direction, stacking.

The shape of the computation is the one ``torch.nn`` uses, written in plain PyTorch: the input
half of every gate for *all* time steps in one matmul (``x_proj[t] = W_ih x_t + b_ih``), because
it does not depend on the recurrence; then, step by step, one recurrent matmul ``W_hh h_{t-1}``
and the gate equations. How one layer runs is its cell type's choice, made beside its fast layer:
``lstm_function.layer_forward``, ``gru_function.layer_forward``, ``loop.rnn_layer_forward``.

Variable lengths (padded batches, packed sequences) become a mask (``valid_steps``): after its last
valid step a sequence keeps its state and writes zeros to the output, exactly what torch's packed
path gives. The reverse direction runs from the last step to the first, each output at its own
step, so ``output[t]`` pairs the forward and the backward state of the same time step (see ``loop``).
A state of ``None`` means zeros (h_0 = 0, and c_0 = 0 for the LSTM), as ``hx=None`` does in ``torch.nn``.

``run_layer`` and ``run_stack`` check their arguments once, at the entry, in the package's words;
the modules, which have checked theirs in torch's words, call ``run_*_unchecked``.
"""

from __future__ import annotations

import numbers

import torch
import torch.nn.functional as F
from torch import Tensor

from . import gru_function, lstm_function
from .cells import NONLINEARITIES
from .errors import ShapeError, WeightsKeyError, check_cell_weights, check_same_dtype_device, check_tensor, shape_str
from .gates import GATES
from .loop import rnn_layer_forward

__all__ = ["reverse_padded", "valid_steps", "run_layer", "run_stack"]


def reverse_padded(seq: Tensor, lengths: Tensor | None) -> Tensor:
    """Reverse time (dim 0) of each sequence within its own length; padding stays in place.

    What the reverse direction of a padded batch must read (notebook 07); the layers get there without
    the copy, last step first under the mask (``loop.step_loop``), and a test holds the two equal."""
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


def run_layer(mode, inputs, state, weights, *, reverse=False, lengths=None, nonlinearity="tanh",
              hand_written_backward=True):
    """One direction of one layer over a (T, B, D) sequence.

    ``state`` is h0 of shape (B, H_out), or ``(h0, c0)`` for the LSTM, or None for zeros; ``weights`` a dict with
    ``weight_ih``, ``weight_hh`` and optionally ``bias_ih``, ``bias_hh``, ``weight_hr``.
    ``lengths`` (B,) ints from 0 to T: steps past a sequence's length keep its state and output zeros.
    Returns ``(outputs (T, B, H_out), final state)`` in the same form as ``state``.
    ``hand_written_backward=False`` makes the LSTM and the GRU train through plain autograd
    (see ``lstm_function``, ``gru_function``).
    """
    where = "run_layer"
    _check_mode_and_inputs(where, mode, inputs, nonlinearity)
    hidden, out = _check_weights(where, mode, weights, inputs.shape[-1], inputs)
    _check_state(where, mode, "state", state, (inputs.shape[1], out), (inputs.shape[1], hidden), inputs)
    _check_lengths(where, lengths, inputs)
    return run_layer_unchecked(mode, inputs, state, weights, reverse, lengths, nonlinearity, hand_written_backward)


def run_layer_unchecked(mode, inputs, state, weights, reverse, lengths, nonlinearity, hand_written_backward):
    """``run_layer`` without the argument checks (the modules have done them in torch's words)."""
    mask = valid_steps(lengths, inputs.shape[0], inputs.device)
    if mode == "LSTM":
        return lstm_function.layer_forward(inputs, state, weights, reverse, mask, hand_written_backward)
    if mode == "GRU":
        return gru_function.layer_forward(inputs, state, weights, reverse, mask, hand_written_backward)
    return rnn_layer_forward(inputs, state, weights, reverse, mask, nonlinearity)


def run_stack(mode, inputs, hx, layer_weights, *, dropout=0.0, training=False, lengths=None, nonlinearity="tanh",
              hand_written_backward=True, layer=None):
    """A stack of layers, each one- or two-directional, over a (T, B, D) sequence.

    ``layer_weights[layer][direction]`` is a weight dict; direction 1 is the reverse one.
    ``hx`` is (num_layers * num_directions, B, H_out) — or ``(h0, c0)`` for the LSTM — laid out
    l0, l0_reverse, l1, l1_reverse, ... as in torch; None for zeros. Layer l+1 reads the concatenation
    [forward, backward] of layer l's outputs at each time step; dropout acts between layers,
    in training only. ``layer``: a function ``layer(index, direction, inputs, state, weights) ->
    (outputs, final state)`` run in place of each layer (``mistakes`` re-creates the seeds' stacking
    bugs with it, on this stack loop); by default each runs as ``run_layer`` would.
    """
    where = "run_stack"
    _check_mode_and_inputs(where, mode, inputs, nonlinearity)
    if not isinstance(layer_weights, (list, tuple)) or not layer_weights or not all(
            isinstance(d, (list, tuple)) and len(d) == len(layer_weights[0]) in (1, 2) for d in layer_weights):
        raise TypeError(f"{where}: layer_weights should be a non-empty list of layers, each a list of one weight "
                        "dict (one direction) or two (forward, reverse), the same number in every layer")
    directions = len(layer_weights[0])
    size = inputs.shape[-1]
    for index, weights_of_layer in enumerate(layer_weights):
        for direction, weights in enumerate(weights_of_layer):
            label = f"{where}: layer_weights[{index}][{direction}]"
            hidden, out = _check_weights(label, mode, weights, size, inputs)
        size = out * directions
    states = len(layer_weights) * directions
    _check_state(where, mode, "hx", hx, (states, inputs.shape[1], out), (states, inputs.shape[1], hidden), inputs)
    if not isinstance(dropout, numbers.Number) or isinstance(dropout, bool) or not 0 <= dropout <= 1:
        raise ValueError(f"{where}: dropout should be a number in range [0, 1], got {dropout!r}")
    _check_lengths(where, lengths, inputs)
    if layer is not None and not callable(layer):
        raise TypeError(f"{where}: layer should be a function (index, direction, inputs, state, weights) -> "
                        f"(outputs, final state), or None, got {type(layer).__name__}")
    return run_stack_unchecked(mode, inputs, hx, layer_weights, dropout, training, lengths, nonlinearity,
                               hand_written_backward, layer)


def run_stack_unchecked(mode, inputs, hx, layer_weights, dropout, training, lengths, nonlinearity, hand_written_backward,
                        layer=None):
    """``run_stack`` without the argument checks."""
    is_lstm = mode == "LSTM"
    h0, c0 = (None, None) if hx is None else hx if is_lstm else (hx, None)
    layer_input, finals_h, finals_c = inputs, [], []
    num_layers = len(layer_weights)
    for index, directions in enumerate(layer_weights):
        outputs = []
        for direction, weights in enumerate(directions):
            k = index * len(directions) + direction
            state = None if h0 is None else (h0[k], c0[k]) if is_lstm else h0[k]
            if layer is None:
                out, state = run_layer_unchecked(mode, layer_input, state, weights, direction == 1, lengths,
                                                 nonlinearity, hand_written_backward)
            else:
                out, state = layer(index, direction, layer_input, state, weights)
            outputs.append(out)
            finals_h.append(state[0] if is_lstm else state)
            if is_lstm:
                finals_c.append(state[1])
        layer_input = torch.cat(outputs, dim=-1) if len(outputs) > 1 else outputs[0]
        if dropout > 0 and training and index < num_layers - 1:
            layer_input = F.dropout(layer_input, dropout, training=True)
    h_n = torch.stack(finals_h)
    return layer_input, ((h_n, torch.stack(finals_c)) if is_lstm else h_n)


# ---------------------------------------------------------------- argument checks of the public runners
def _check_mode_and_inputs(where: str, mode, inputs, nonlinearity) -> None:
    if mode not in GATES:
        hint = f" (upper case: {mode.upper()!r})" if isinstance(mode, str) and mode.upper() in GATES else ""
        raise ValueError(f"{where}: mode should be one of 'RNN', 'LSTM', 'GRU', got {mode!r}{hint}")
    if nonlinearity not in NONLINEARITIES:
        raise ValueError(f"{where}: Unknown nonlinearity {nonlinearity!r}. Select from 'tanh' or 'relu'.")
    if mode != "RNN" and nonlinearity != "tanh":
        raise ValueError(f"{where}: nonlinearity={nonlinearity!r} is only for the RNN; the {mode} has fixed gates")
    check_tensor("inputs", inputs, where)
    if inputs.dim() != 3:
        raise ShapeError(f"{where}: inputs should be 3-D (seq_len, batch, input_size), got shape {shape_str(inputs)}"
                         + ("; for one unbatched sequence use inputs.unsqueeze(1)" if inputs.dim() == 2 else ""))
    if inputs.shape[0] == 0:
        raise ShapeError(f"{where}: Expected sequence length to be larger than 0, got inputs of shape {shape_str(inputs)}")


def _check_weights(where: str, mode: str, weights, input_size: int, inputs: Tensor) -> tuple[int, int]:
    """A layer's weight dict; returns (hidden_size, size of h) and checks it reads ``input_size`` features."""
    if not isinstance(weights, dict):
        raise TypeError(f"{where}: weights should be a dict with weight_ih, weight_hh (and optionally bias_ih, "
                        f"bias_hh, weight_hr), got {type(weights).__name__}")
    allowed = {"weight_ih", "weight_hh", "bias_ih", "bias_hh"} | ({"weight_hr"} if mode == "LSTM" else set())
    missing = [k for k in ("weight_ih", "weight_hh") if k not in weights]
    unknown = sorted(set(weights) - allowed)
    if missing or unknown:
        raise WeightsKeyError(f"{where}: the {mode}'s weights should hold weight_ih, weight_hh and optionally "
                       f"{', '.join(sorted(allowed - {'weight_ih', 'weight_hh'}))}; "
                       + (f"missing {', '.join(missing)}" if missing else "")
                       + ("; " if missing and unknown else "") + (f"unexpected {', '.join(unknown)}" if unknown else "")
                       + f" (given: {', '.join(map(str, weights)) or 'nothing'})")
    if ("bias_ih" in weights) != ("bias_hh" in weights):
        raise WeightsKeyError(f"{where}: give both bias_ih and bias_hh or neither, got only "
                       + ("bias_ih" if "bias_ih" in weights else "bias_hh"))
    input_width, hidden, out = check_cell_weights(mode, weights["weight_ih"], weights["weight_hh"], weights.get("bias_ih"),
                                                  weights.get("bias_hh"), weights.get("weight_hr"), where=where)
    if input_width != input_size:
        raise ShapeError(f"{where}: weight_ih {shape_str(weights['weight_ih'])} reads {input_width} features, "
                         f"but the inputs have {input_size}")
    check_same_dtype_device(where, inputs, weight_ih=weights["weight_ih"])
    return hidden, out


def _check_state(where: str, mode: str, name: str, state, h_shape: tuple, c_shape: tuple, inputs: Tensor) -> None:
    if state is None:  # zeros
        return
    if mode == "LSTM":
        if not isinstance(state, (tuple, list)) or len(state) != 2:
            given = f"a single tensor of shape {shape_str(state)}" if isinstance(state, Tensor) else \
                f"a {type(state).__name__}" + (f" of {len(state)}" if isinstance(state, (tuple, list)) else "")
            raise TypeError(f"{where}: the LSTM's {name} should be a pair (h, c) of shapes {h_shape} and {c_shape}, "
                            f"got {given}")
        pairs = [(f"{name}[0] (h)", state[0], h_shape), (f"{name}[1] (c)", state[1], c_shape)]
    else:
        pairs = [(name, state, h_shape)]
    for label, t, shape in pairs:
        check_tensor(label, t, where)
        if tuple(t.shape) != tuple(shape):
            layers = "" if len(shape) == 2 else " (num_layers * num_directions, batch, hidden)"
            raise ShapeError(f"{where}: {label} should have shape {tuple(shape)}{layers}, got {shape_str(t)}")
        check_same_dtype_device(where, inputs, **{label: t})


def _check_lengths(where: str, lengths, inputs: Tensor) -> None:
    if lengths is None:
        return
    steps, batch = inputs.shape[:2]
    if not isinstance(lengths, Tensor) or lengths.dim() != 1 or lengths.is_floating_point() or lengths.is_complex() \
            or lengths.dtype == torch.bool:
        given = f"a {lengths.dtype} tensor of shape {shape_str(lengths)}" if isinstance(lengths, Tensor) \
            else type(lengths).__name__
        raise TypeError(f"{where}: lengths should be a 1-D tensor of ints, one per sequence, got {given}")
    # both messages quote what was given: the inputs, whose shape the lengths must fit, and the lengths
    for_inputs = f"for inputs of shape {shape_str(inputs)} (seq_len, batch, input_size)"
    if lengths.shape[0] != batch:
        raise ShapeError(f"{where}: lengths should hold one length per sequence: {batch} {for_inputs}, "
                         f"got {lengths.shape[0]}, {lengths.tolist()}")
    if batch and not bool(((lengths >= 0) & (lengths <= steps)).all()):
        raise ValueError(f"{where}: every length should be between 0 and the sequence length: {steps} {for_inputs}, "
                         f"got {lengths.tolist()}")
