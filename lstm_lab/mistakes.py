"""The source notebooks' bugs, re-created small enough to run, each next to its one-line fix.

Every function here is *wrong on purpose* (unless called with ``fixed=True``). Each one
re-creates a single mistake from one of the seed notebooks on top of lstm_lab's correct
cells and runners, and changes only the line the seed got wrong, so that any difference from
``torch.nn.LSTM`` is that mistake and nothing else. ``fixed=True`` runs the same function with
that line corrected: the notebooks show both, and ``tests/test_mistakes.py`` checks that the
mistake really differs from torch.nn (or really cuts the gradient, or really fails) and that
the fixed line matches torch.nn to 1e-10.

==============================  ====  ===================================================
function                        seed  what goes wrong
==============================  ====  ===================================================
input_gate_uses_W_hf            003   the input gate multiplies h_{t-1} by the *forget*
                                      gate's recurrent matrix; invisible at step 1 (h_0 = 0)
stack_each_direction_reads_     002   layer l+1's forward cell reads only layer l's forward
its_own                               outputs and its backward cell only the backward ones
h_n_overwritten                 002   the reverse final state of layer l goes to h_n[l + 1],
                                      where layer l+1's forward state then overwrites it
stack_detached_between_layers   002   ``.clone().detach()`` between layers: the same numbers,
                                      but no gradient reaches the layers below the top one
hidden_size_missing_div4        004   hidden size read as weight_ih.size(0), forgetting that
                                      the four gates are stacked in it: states 4x too wide
last_output_off_by_one          003   the last valid step indexed with the length itself
                                      instead of length - 1
==============================  ====  ===================================================

Shapes follow ``lstm_lab.runners``: inputs are time-major ``(T, B, D)``; ``weights`` is one
fused weight dict (``weight_ih``, ``weight_hh``, optional ``bias_ih``, ``bias_hh``);
``layer_weights[layer][direction]`` is such a dict, as ``runners.run_stack`` takes it.
Initial states are zeros, as in the seeds.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .cells import lstm_cell
from .runners import run_layer, run_stack

__all__ = [
    "input_gate_uses_W_hf",
    "stack_each_direction_reads_its_own",
    "h_n_overwritten",
    "stack_detached_between_layers",
    "hidden_size_missing_div4",
    "last_output_off_by_one",
]


def _zero_state(inputs: Tensor, weights: dict) -> tuple[Tensor, Tensor]:
    """(h_0, c_0) of zeros for one layer and direction, shaped from its weights."""
    batch = inputs.shape[1]
    hidden_size, out_size = weights["weight_hh"].shape[0] // 4, weights["weight_hh"].shape[1]
    return inputs.new_zeros(batch, out_size), inputs.new_zeros(batch, hidden_size)


def _zero_stack_state(inputs: Tensor, layer_weights) -> tuple[Tensor, Tensor]:
    """(h_0, c_0) of zeros for a whole stack, laid out l0, l0_reverse, l1, ... as in torch."""
    states = [_zero_state(inputs, w) for directions in layer_weights for w in directions]
    return torch.stack([h for h, _ in states]), torch.stack([c for _, c in states])


def _need_two_directions(layer_weights, name: str) -> None:
    if any(len(directions) != 2 for directions in layer_weights):
        raise ValueError(
            f"{name} re-creates a bidirectional stack: each layer needs two weight dicts "
            f"[forward, reverse], got {[len(d) for d in layer_weights]} per layer"
        )


# ---------------------------------------------------------------- seed 003
def input_gate_uses_W_hf(inputs: Tensor, weights: dict, state=None, *, fixed: bool = False):
    """Seed 003: ``input_gate = sigmoid(x @ W_xi + h @ W_hf + b_i)`` — W_hf where W_hi belongs.

    A one-character typo. At the first step h_0 = 0, so the product vanishes and step 1 is
    right; from step 2 on, the input gate is wrong. Returns ``run_layer``'s
    ``(outputs (T, B, H), (h_T, c_T))``.
    """
    w_hi, w_hf, w_hg, w_ho = weights["weight_hh"].chunk(4)
    recurrent_for_input_gate = w_hi if fixed else w_hf  # the seed typed W_hf
    typo = dict(weights, weight_hh=torch.cat([recurrent_for_input_gate, w_hf, w_hg, w_ho]))
    return run_layer("LSTM", inputs, state if state is not None else _zero_state(inputs, weights), typo)


# ---------------------------------------------------------------- seed 002
def stack_each_direction_reads_its_own(inputs: Tensor, layer_weights, *, fixed: bool = False):
    """Seed 002's bidirectional stack: above layer 0, each direction reads only its own outputs.

    The seed builds the upper layers' cells with ``hidden_size`` inputs, so its backward
    cell of layer l+1 reads the backward outputs of layer l and nothing else (and the forward
    cell only the forward ones). torch's cells read both, ``[forward, backward]``: its
    ``weight_ih_l1`` has ``2 * hidden_size`` columns, one half per direction below. Given
    torch-shaped weights, this re-creation keeps each direction's own half, so the seed's
    model is torch's with the other half set to zero: half the connections cut.

    ``fixed=True``: every layer reads the concatenation. Returns ``(output, (h_n, c_n))``.
    """
    _need_two_directions(layer_weights, "stack_each_direction_reads_its_own")
    forward_in = backward_in = inputs
    finals = []
    for layer, (forward, backward) in enumerate(layer_weights):
        if layer > 0 and fixed:
            forward_in = backward_in = torch.cat([forward_out, backward_out], dim=-1)
        elif layer > 0:  # the seed: each direction keeps to itself
            H = forward["weight_hh"].shape[1]
            forward = dict(forward, weight_ih=forward["weight_ih"][:, :H])  # columns that read the forward half
            backward = dict(backward, weight_ih=backward["weight_ih"][:, H:])  # ... and the backward half
            forward_in, backward_in = forward_out, backward_out
        forward_out, forward_final = run_layer("LSTM", forward_in, _zero_state(inputs, forward), forward)
        backward_out, backward_final = run_layer("LSTM", backward_in, _zero_state(inputs, backward), backward,
                                                 reverse=True)
        finals += [forward_final, backward_final]
    output = torch.cat([forward_out, backward_out], dim=-1)
    return output, (torch.stack([h for h, _ in finals]), torch.stack([c for _, c in finals]))


def h_n_overwritten(inputs: Tensor, layer_weights, *, fixed: bool = False):
    """Seed 002's ``LSTM_v2``: ``h_n[layer] = forward``, then ``h_n[layer + 1] = backward``.

    torch's layout is l0, l0_reverse, l1, l1_reverse, ...: row ``2 * layer + direction``. With
    the seed's index, layer 1's forward state lands on row 1 and overwrites layer 0's reverse
    state, and the last rows are never written (they stay zero). ``output`` is right; only
    ``h_n`` and ``c_n`` are wrong. Returns ``(output, (h_n, c_n))``.
    """
    _need_two_directions(layer_weights, "h_n_overwritten")
    output, (h_n, c_n) = run_stack("LSTM", inputs, _zero_stack_state(inputs, layer_weights), layer_weights)

    def seed_rows(finals: Tensor) -> Tensor:  # finals in torch's order; rewritten the seed's way
        rows = [torch.zeros_like(finals[0])] * len(finals)
        for layer in range(len(layer_weights)):
            rows[2 * layer if fixed else layer] = finals[2 * layer]
            rows[2 * layer + 1 if fixed else layer + 1] = finals[2 * layer + 1]  # the seed: layer + 1
        return torch.stack(rows)

    return output, (seed_rows(h_n), seed_rows(c_n))


def stack_detached_between_layers(inputs: Tensor, layer_weights, *, fixed: bool = False):
    """Seed 002: ``input = next_layer_input.clone().detach()`` between layers.

    The forward numbers are exactly right, so no value check catches it; but autograd no
    longer sees that layer l+1's input came from layer l, so a loss on ``output`` gives no
    gradient at all to any layer but the top one (and a loss on ``h_n`` only the part
    through each layer's own final state). Works for one or two directions.
    Returns ``(output, (h_n, c_n))``.
    """
    layer_input, finals = inputs, []
    for layer, directions in enumerate(layer_weights):
        if layer > 0 and not fixed:
            layer_input = layer_input.clone().detach()  # the seed's line: cuts the graph here
        outputs = []
        for direction, weights in enumerate(directions):
            out, final = run_layer("LSTM", layer_input, _zero_state(inputs, weights), weights,
                                   reverse=direction == 1)
            outputs.append(out)
            finals.append(final)
        layer_input = torch.cat(outputs, dim=-1)
    return layer_input, (torch.stack([h for h, _ in finals]), torch.stack([c for _, c in finals]))


# ---------------------------------------------------------------- seed 004
def hidden_size_missing_div4(inputs: Tensor, layer_weights, *, fixed: bool = False):
    """Seed 004's ``two_layer_lstm``: ``hidden_size = W_ih.size(0) //`` with the ``4`` missing.

    ``weight_ih`` stacks the four gates, so it has ``4 * hidden_size`` rows. Without the
    ``// 4`` the zero states are four times too wide and the very first step cannot multiply
    ``h`` by ``W_hh``: lstm_lab's cell stops with a ShapeError that says which shape it
    expected. One direction per layer, as in the seed. Returns ``(output, (h_n, c_n))``.
    """
    rows = layer_weights[0][0]["weight_ih"].shape[0]
    hidden_size = rows // 4 if fixed else rows  # the seed: the four gates' rows counted as units
    h = inputs.new_zeros(len(layer_weights), inputs.shape[1], hidden_size)
    c = torch.zeros_like(h)
    layer_input, finals = inputs, []
    for layer, (weights,) in enumerate(layer_weights):
        state, steps = (h[layer], c[layer]), []
        for x_t in layer_input:
            state = lstm_cell(x_t, state, **weights)
            steps.append(state[0])
        layer_input = torch.stack(steps)
        finals.append(state)
    return layer_input, (torch.stack([h for h, _ in finals]), torch.stack([c for _, c in finals]))


# ---------------------------------------------------------------- seed 003, variable lengths
def last_output_off_by_one(output: Tensor, lengths: Tensor, *, fixed: bool = False) -> Tensor:
    """Seed 003: ``o[np.arange(N), src_len]`` — the last valid step indexed with the length.

    A sequence of length L has its last valid output at step ``L - 1``. Indexing with ``L``
    reads the step after it: a padding step for a short sequence (zeros, or a state that has
    eaten padding), and for a sequence as long as the batch, an IndexError. ``output`` is
    time-major ``(T, B, H)`` (the seed's was batch-first); returns ``(B, H)``.
    """
    last = lengths - 1 if fixed else lengths  # the seed used src_len itself
    return output[last.to(output.device), torch.arange(output.shape[1], device=output.device)]
