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
from torch import Tensor, nn

from . import text
from .cells import linear, lstm_cell, lstm_cell_trace, lstm_update
from .fixtures import head
from .loop import zero_state
from .runners import run_layer, run_stack

__all__ = [
    "input_gate_uses_W_hf",
    "stack_each_direction_reads_its_own",
    "h_n_overwritten",
    "stack_detached_between_layers",
    "hidden_size_missing_div4",
    "last_output_off_by_one",
]


def _zero_stack_state(inputs: Tensor, layer_weights) -> tuple[Tensor, Tensor]:
    """(h_0, c_0) of zeros for a whole stack, laid out l0, l0_reverse, l1, ... as in torch."""
    h, c = zero_state("LSTM", inputs, layer_weights[0][0])  # one layer's and direction's, then one row each
    rows = sum(map(len, layer_weights))
    return h.expand(rows, *h.shape).clone(), c.expand(rows, *c.shape).clone()


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
    typo = weights if fixed else with_W_hf_for_W_hi(weights)
    return run_layer("LSTM", inputs, state, typo)  # state None: zeros


def with_W_hf_for_W_hi(weights: dict) -> dict:
    """Seed 003's typo as weights: the input gate's recurrent matrix is the forget gate's, in torch's
    fused layout (the i block of ``weight_hh``) or per gate (``W_hi``). The exercise checks name this
    mistake from here."""
    if "weight_hh" not in weights:
        return dict(weights, W_hi=weights["W_hf"])
    w_hi, w_hf, w_hg, w_ho = weights["weight_hh"].chunk(4)
    return dict(weights, weight_hh=torch.cat([w_hf, w_hf, w_hg, w_ho]))  # the seed typed W_hf


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

    def own_half(layer, direction, inputs, state, weights):
        if layer > 0 and not fixed:  # the seed: each direction keeps to itself
            H = weights["weight_hh"].shape[1]
            half = slice(None, H) if direction == 0 else slice(H, None)  # the forward half, or the backward half
            inputs, weights = inputs[..., half], dict(weights, weight_ih=weights["weight_ih"][:, half])
        return run_layer("LSTM", inputs, state, weights, reverse=direction == 1)

    return run_stack("LSTM", inputs, None, layer_weights, layer=own_half)


def h_n_overwritten(inputs: Tensor, layer_weights, *, fixed: bool = False):
    """Seed 002's ``LSTM_v2``: ``h_n[layer] = forward``, then ``h_n[layer + 1] = backward``.

    torch's layout is l0, l0_reverse, l1, l1_reverse, ...: row ``2 * layer + direction``. With
    the seed's index, layer 1's forward state lands on row 1 and overwrites layer 0's reverse
    state, and the last rows are never written (they stay zero). ``output`` is right; only
    ``h_n`` and ``c_n`` are wrong. Returns ``(output, (h_n, c_n))``.
    """
    _need_two_directions(layer_weights, "h_n_overwritten")
    output, (h_n, c_n) = run_stack("LSTM", inputs, None, layer_weights)

    def seed_rows(finals: Tensor) -> Tensor:  # finals in torch's order; rewritten the seed's way
        rows = [torch.zeros_like(finals[0])] * len(finals)
        for layer in range(len(layer_weights)):
            for direction in (0, 1):
                rows[overwritten_row(layer, direction, fixed=fixed)] = finals[2 * layer + direction]
        return torch.stack(rows)

    return output, (seed_rows(h_n), seed_rows(c_n))


def overwritten_row(layer: int, direction: int, *, fixed: bool = False) -> int:
    """The row of h_n seed 002's LSTM_v2 writes (layer, direction) to: ``layer + direction``, where torch's
    is ``2 * layer + direction``."""
    return 2 * layer + direction if fixed else layer + direction  # the seed: h_n[layer + 1] for the reverse


def forward_layers_first_row(layer: int, direction: int, num_layers: int, *, fixed: bool = False) -> int:
    """The row of h_n seed 002's final LSTM uses for (layer, direction): ``direction * num_layers + layer``
    (``backward_idx = num_layers + layer``), where torch's is ``2 * layer + direction``."""
    return 2 * layer + direction if fixed else direction * num_layers + layer


def stack_detached_between_layers(inputs: Tensor, layer_weights, *, fixed: bool = False):
    """Seed 002: ``input = next_layer_input.clone().detach()`` between layers.

    The forward numbers are exactly right, so no value check catches it; but autograd no
    longer sees that layer l+1's input came from layer l, so a loss on ``output`` gives no
    gradient at all to any layer but the top one (and a loss on ``h_n`` only the part
    through each layer's own final state). Works for one or two directions.
    Returns ``(output, (h_n, c_n))``.
    """

    def detached(layer, direction, inputs, state, weights):
        if layer > 0 and not fixed:
            inputs = inputs.clone().detach()  # the seed's line: cuts the graph here
        return run_layer("LSTM", inputs, state, weights, reverse=direction == 1)

    return run_stack("LSTM", inputs, None, layer_weights, layer=detached)


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

    def seed_layer(layer, direction, inputs, state, weights):  # the seed's step loop, from its zero states
        state, outputs = (inputs.new_zeros(inputs.shape[1], hidden_size),) * 2, []
        for x_t in inputs:
            state = lstm_cell(x_t, state, **weights)
            outputs.append(state[0])
        return torch.stack(outputs), state

    return run_stack("LSTM", inputs, None, layer_weights, layer=seed_layer)


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


# ================================================================ more of the seeds' bugs
# One function per bug, in the same pattern as above (``fixed=True`` runs the corrected line).
#
#   state_never_carried             003  prev_h / prev_c never reassigned: T one-step cells
#   parameters_as_plain_tensors     003  plain tensors, not nn.Parameter: parameters() is empty
#   state_after_padding             003  the school version returns the state after the padding
#   state_written_in_place          004  ht[layer], ct[layer] = cell(...): forward right, backward fails
#   input_from_previous_step        004  its equation reads X_{t-1} where x_t belongs
#   h_n_forward_layers_first        002  backward_idx = num_layers + layer: l0, l1, ..., l0_reverse, ...
#   backward_outputs_not_flipped    002  LSTM_v1 concatenates the backward outputs in reading order
#   backward_c_n_missing            002  LSTM_v1 never stores the backward directions' c_n
#   last_step_takes_last_unit       002  ht[:, -1] is the last hidden unit, not the last time step
#   unbatched_zero_state            002  h0 = torch.zeros(H) for a batch: right only by broadcasting
#   labelling_head_bias_broadcast   001  a (1,) bias for two labels: one number added to both
#   gates_read_cell_state           001  cell [57]: the recurrent matrices W_h* multiply c_{t-1}

__all__ += [
    "state_never_carried",
    "parameters_as_plain_tensors",
    "state_after_padding",
    "state_written_in_place",
    "input_from_previous_step",
    "h_n_forward_layers_first",
    "backward_outputs_not_flipped",
    "backward_c_n_missing",
    "last_step_takes_last_unit",
    "unbatched_zero_state",
    "labelling_head_bias_broadcast",
    "gates_read_cell_state",
]


# ---------------------------------------------------------------- seed 003, "LSTM From Scratch"
def state_never_carried(inputs: Tensor, weights: dict, state=None, *, fixed: bool = False):
    """Seed 003: the loop computes ``Ht`` and ``Ct`` but never assigns them to ``prev_h, prev_c``.

    Every step starts again from the initial state, so the "LSTM" is T separate one-step
    cells: ``output[t]`` is what torch gives for the sequence ``x_t`` alone, and nothing is
    remembered. Step 1 is right (it really does start from the initial state). The seed's
    ``return hidden_seq, hidden_seq_2`` names a variable it never defined, so its forward
    raised NameError on the first call: it never ran, which is how the missing recurrence
    went unnoticed. Here the final state is the last step's ``(h, c)``.

    ``fixed=True``: ``prev_h, prev_c = Ht, Ct`` after each step. Returns
    ``(outputs (T, B, H), (h_T, c_T))`` like ``run_layer``.
    """
    initial = state  # None: zeros, for lstm_cell as for run_layer
    carried, outputs = initial, []
    for x_t in inputs:
        step_state = lstm_cell(x_t, carried if fixed else initial, **weights)  # the seed: always the initial
        carried = step_state
        outputs.append(step_state[0])
    return torch.stack(outputs), carried


class _PlainTensorLSTM(nn.Module):
    """A one-layer LSTM that keeps its weights as plain tensors (seed 003) or as nn.Parameter."""

    def __init__(self, input_size: int, hidden_size: int, fixed: bool, generator=None):
        super().__init__()
        shapes = {"weight_ih_l0": (4 * hidden_size, input_size), "weight_hh_l0": (4 * hidden_size, hidden_size)}
        for name, shape in shapes.items():  # the school version's init: randn * 0.1, biases 0
            value = torch.randn(shape, generator=generator) * 0.1
            setattr(self, name, nn.Parameter(value) if fixed else value)  # the seed: a plain tensor
        for name in ("bias_ih_l0", "bias_hh_l0"):
            value = torch.zeros(4 * hidden_size)
            setattr(self, name, nn.Parameter(value) if fixed else value)

    def weights(self) -> dict:
        return {name[:-3]: getattr(self, name) for name in
                ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")}

    def forward(self, inputs: Tensor):
        return run_layer("LSTM", inputs, None, self.weights())


def parameters_as_plain_tensors(input_size: int, hidden_size: int, *, fixed: bool = False,
                                generator: torch.Generator | None = None) -> nn.Module:
    """Seed 003: ``self.W_xf = torch.randn(...)`` — weights as plain tensor attributes.

    ``nn.Module`` only registers what is an ``nn.Parameter`` (or a submodule, or a buffer), so
    the seed's model has no parameters: ``parameters()`` is empty (an optimizer refuses it,
    or, given other parameters, never updates these), ``state_dict()`` is empty (nothing
    is saved), and ``.to(...)``/``.double()`` leave the weights where they were. The forward
    numbers are fine.

    ``fixed=True``: the same tensors wrapped in ``nn.Parameter``, named as torch.nn.LSTM names
    them, so ``load_state_dict(torch_lstm.state_dict())`` works. Returns a module whose
    ``forward`` takes ``(T, B, input_size)`` and returns ``(outputs, (h_T, c_T))``.
    """
    return _PlainTensorLSTM(input_size, hidden_size, fixed, generator)


# ---------------------------------------------------------------- seed 003, school version
def state_after_padding(inputs: Tensor, lengths: Tensor, weights: dict, *, fixed: bool = False):
    """Seed 003's school version: ``state = (h, c)`` after the loop over all T steps.

    In a padded batch a sequence of length L < T is followed by padding; the loop runs over
    it anyway, so the state it returns has read T - L padding vectors after the sequence
    ended. torch (packed input) returns each sequence's state at its own last step, L - 1.
    Sequences as long as the batch are right.

    ``fixed=True``: each sequence keeps its state after its last valid step (a mask, as
    ``run_layer`` does with ``lengths``). ``inputs`` is time-major ``(T, B, D)``. Returns
    ``(h, c)``, each ``(B, H)``.
    """
    _, final = run_layer("LSTM", inputs, None, weights,
                         lengths=lengths if fixed else None)  # the seed: every step, padding too
    return final


# ---------------------------------------------------------------- seed 004
def state_written_in_place(inputs: Tensor, layer_weights, *, fixed: bool = False):
    """Seed 004: ``ht[layer], ct[layer] = lstm_cell(x, (ht[layer], ct[layer]), ...)``.

    The state of every step is written into one preallocated tensor. The forward values
    are exactly torch's (seed 004's allclose checks pass), but autograd saved ``ht[layer]``
    for the backward pass of ``h @ W_hh.T`` and the next write changes it, so ``backward()``
    raises "one of the variables needed for gradient computation has been modified by an
    inplace operation". Seed 004's bidirectional stack (rows ``2 * layer + direction``, the
    backward outputs reversed back, each layer reading both directions) is laid out exactly as
    torch's; it writes its states the same way, so it fails backward in the same place.
    One or two directions per layer.

    ``fixed=True``: keep each step's state in a local variable and stack the finals at the
    end. Returns ``(output, (h_n, c_n))``.
    """
    h0, c0 = _zero_stack_state(inputs, layer_weights)
    ht, ct = h0.clone(), c0.clone()  # the seed's preallocated states, written row by row

    def seed_layer(layer, direction, inputs, state, weights):  # the seed's step loop, its states written in place
        k, seen = len(layer_weights[0]) * layer + direction, []
        for x_t in inputs.flip(0) if direction == 1 else inputs:
            if fixed:
                state = lstm_cell(x_t, state, **weights)
            else:  # the seed's line: overwrites a tensor autograd has saved
                ht[k], ct[k] = lstm_cell(x_t, (ht[k], ct[k]), **weights)
                state = (ht[k].clone(), ct[k].clone())
            seen.append(state[0])
        return (torch.stack(seen).flip(0) if direction == 1 else torch.stack(seen)), state

    output, finals = run_stack("LSTM", inputs, (h0, c0), layer_weights, layer=seed_layer)
    return (output, finals) if fixed else (output, (ht, ct))


def input_from_previous_step(inputs: Tensor, weights: dict, *, fixed: bool = False):
    """Seed 004's equation ``Z = X_{t-1} W_ih^T + b_ih + H_{t-1} W_hh^T + b_hh``.

    Its code reads the current input (``x @ W_ih.t()``); only the equation says X_{t-1}.
    Taken literally, step t reads the previous input: the first step reads nothing (zeros),
    the last input is never read (its gradient is exactly zero), and the whole output is
    torch's output for the sequence shifted one step late.

    ``fixed=True``: step t reads x_t. Returns ``(outputs (T, B, H), (h_T, c_T))``.
    """
    read = inputs if fixed else torch.cat([torch.zeros_like(inputs[:1]), inputs[:-1]])  # the seed: X_{t-1}
    return run_layer("LSTM", read, None, weights)


# ---------------------------------------------------------------- seed 002
def h_n_forward_layers_first(inputs: Tensor, layer_weights, state=None, *, fixed: bool = False):
    """Seed 002's final ``LSTM``: ``backward_idx = self.num_layers + layer``.

    It reads each direction's initial state from, and writes its final state to, row
    ``layer`` (forward) and ``num_layers + layer`` (backward): all forward layers, then all
    backward ones. torch lays the rows out l0, l0_reverse, l1, l1_reverse, ...: row
    ``2 * layer + direction``. With zero initial states ``output`` is right and ``h_n``,
    ``c_n`` hold the right states in the wrong rows; given a torch-laid-out ``(h0, c0)``,
    the seed also starts the layers from the wrong rows, so ``output`` is wrong too.

    ``fixed=True``: row ``2 * layer + direction``. Returns ``(output, (h_n, c_n))``.
    """
    _need_two_directions(layer_weights, "h_n_forward_layers_first")
    num_layers = len(layer_weights)
    pairs = [(layer, direction) for direction in (0, 1) for layer in range(num_layers)]
    torch_rows = [forward_layers_first_row(*pair, num_layers, fixed=True) for pair in pairs]
    rows = [forward_layers_first_row(*pair, num_layers, fixed=fixed) for pair in pairs]  # where each one lives
    order = torch.tensor([rows[torch_rows.index(k)] for k in range(2 * num_layers)])  # torch row k -> seed row
    h0, c0 = state if state is not None else _zero_stack_state(inputs, layer_weights)
    output, (h_n, c_n) = run_stack("LSTM", inputs, (h0[order], c0[order]), layer_weights)
    back = torch.argsort(order)
    return output, (h_n[back], c_n[back])


def backward_outputs_not_flipped(inputs: Tensor, layer_weights, *, fixed: bool = False):
    """Seed 002's ``LSTM_v1``: ``output = torch.cat([output, output_backward], dim=2)``.

    The backward cells read the flipped sequence, so their j-th output belongs to time step
    T - 1 - j; LSTM_v1 concatenates them in the order they were computed, pairing the forward
    state of step t with the backward state of step T - 1 - t. Only the middle step of an odd
    T comes out right, and ``h_n`` is unaffected. (LSTM_v2 and the final LSTM flip them back.)
    This re-creation changes only that line: the layers below are torch's.

    ``fixed=True``: flip the backward outputs back before concatenating.
    Returns ``(output, (h_n, c_n))``.
    """
    _need_two_directions(layer_weights, "backward_outputs_not_flipped")
    output, finals = run_stack("LSTM", inputs, None, layer_weights)
    if fixed:
        return output, finals
    H = output.shape[-1] // 2
    return torch.cat([output[..., :H], output[..., H:].flip(0)], dim=-1), finals  # reading order kept


def backward_c_n_missing(inputs: Tensor, layer_weights, *, fixed: bool = False):
    """Seed 002's ``LSTM_v1``: ``h_n = torch.cat([h_n, h_n_backward])`` but no such line for ``c_n``.

    ``c_n`` keeps only the forward directions' final memories: ``num_layers`` rows where
    torch has ``2 * num_layers``, and no row of it holds a backward memory. The seed's shape
    assert checks ``h_n`` and not ``c_n``, so nothing complained. (Its ``h_n`` is laid out
    all forward, then all backward: see ``h_n_forward_layers_first``.) Here ``h_n`` is torch's.

    ``fixed=True``: ``c_n`` with every direction, in torch's order. Returns
    ``(output, (h_n, c_n))``.
    """
    _need_two_directions(layer_weights, "backward_c_n_missing")
    output, (h_n, c_n) = run_stack("LSTM", inputs, None, layer_weights)
    return output, (h_n, c_n if fixed else c_n[0::2])  # the seed: forward rows only


def last_step_takes_last_unit(inputs: Tensor, weights: dict, *, fixed: bool = False) -> Tensor:
    """Seed 002: ``ht[:, -1]`` — meant as the last time step, it is the last hidden unit.

    ``ht`` is a state, ``(batch, hidden)``: it has no time axis, so ``[:, -1]`` picks the
    last unit of every sample, ``(B,)``. The last time step's output of a batch-first
    ``(B, T, H)`` sequence is ``output[:, -1]``, which for one layer and one direction is also
    the final state ``ht`` itself. ``inputs`` is batch-first ``(B, T, D)``, as in the seed.

    ``fixed=True``: the last time step, ``(B, H)``.
    """
    outputs, (ht, _) = run_layer("LSTM", inputs.transpose(0, 1), None, weights)
    return outputs.transpose(0, 1)[:, -1] if fixed else ht[:, -1]  # the seed indexed the state


def unbatched_zero_state(x: Tensor, weights: dict, *, fixed: bool = False) -> tuple[Tensor, Tensor, Tensor]:
    """Seed 002: ``h0 = torch.zeros(3)`` for a batch of three — one unbatched state.

    With ``nn.Linear`` the seed's cell broadcasts ``W_h(h0)``, shape ``(4H,)``, over the
    batch, so one step on ``x`` of shape ``(B, D)`` runs and gives torch's numbers: zeros are
    the same for every sample. It works only by broadcasting (and here batch and hidden size
    were both 3, so even the shapes looked right): ``torch.nn.LSTMCell`` refuses a 1-D state
    for a 2-D input, and lstm_lab's ``lstm_cell`` says which shape it expected. This re-creation
    does the seed's unchecked arithmetic (``linear`` and the LSTM equations, no shape checks).

    ``fixed=True``: ``h0 = torch.zeros(B, H)``. Returns ``(h0, h_1, c_1)``: the initial state it
    used (its shape is the whole difference: ``(H,)`` or ``(B, H)``) and the new state, ``(B, H)`` each.
    """
    hidden_size = weights["weight_hh"].shape[1]
    shape = (x.shape[0], hidden_size) if fixed else (hidden_size,)  # the seed: zeros(hidden_size)
    h0 = c0 = x.new_zeros(shape)
    pre = linear(x, weights["weight_ih"], weights.get("bias_ih")) + linear(h0, weights["weight_hh"],
                                                                            weights.get("bias_hh"))
    step = lstm_update(pre, c0)
    return h0, step.h, step.c


# ---------------------------------------------------------------- seed 001
def labelling_head_bias_broadcast(hidden: Tensor, bias_value: float = 0.0, *, fixed: bool = False):
    """Seed 001's labelling head: ``hidden_to_output.bias.data = torch.tensor([0.0])``.

    ``nn.Linear(2, 2)`` has one bias per label; the seed gave it one number, which the
    addition broadcasts to both labels. Softmax does not change when the same number is
    added to every logit, so this bias can never change a probability, and under
    cross-entropy its gradient is exactly zero: it never learns. ``nn.Linear(2, 2)`` refuses
    it in ``load_state_dict``. With the seed's value 0 the numbers are right.

    The weight is seed 001's (``fixtures.head("labelling")``). ``hidden`` is ``(..., 2)``.
    ``fixed=True``: a bias of shape ``(2,)``, one entry per label. Returns
    ``(probabilities (..., 2), bias)``; the bias is a leaf that requires grad.
    """
    weight, _ = head("labelling", dtype=hidden.dtype)
    shape = (weight.shape[0],) if fixed else (1,)  # the seed: torch.tensor([0.0])
    bias = hidden.new_full(shape, bias_value).requires_grad_()
    return torch.softmax(linear(hidden, weight.to(hidden.device), bias), dim=-1), bias


def gates_read_cell_state(inputs: Tensor, weights: dict, *, fixed: bool = False) -> list:
    """Seed 001's cell [57]: every gate reads ``W_h* @ c_{t-1}`` where ``W_h* @ h_{t-1}`` belongs.

    Worked by hand, the two previous states sit side by side and the seed took the wrong one.
    At the first step both are zero, so step 1 is right; from step 2 on every gate is wrong.
    ``inputs`` is ``(T, D)`` or ``(T, B, D)``, from zero states. Returns the traced steps
    (``cells.LSTMStep``: every gate, c and h), one per time step, so that the by-hand checks can
    name each wrong quantity. ``fixed=True``: the gates read h_{t-1}.
    """
    h = c = inputs.new_zeros(*inputs.shape[1:-1], weights["weight_hh"].shape[1])
    steps = []
    for x_t in inputs:
        step = lstm_cell_trace(x_t, (h if fixed else c, c), **weights)  # the seed: c where h belongs
        steps.append(step)
        h, c = step.h, step.c
    return steps


# ================================================================ notebook 13: streams and the character model
# Not a seed's bug: the usual mistakes of a student writing notebook 13's stream batching (``text.streams``) and
# its character model's forward pass (``text.CharLM.forward``), in the same pattern (``fixed=True``: the right
# line). The checks of ``lstm_lab.checks.text`` name each one.
#
#   streams_batch_major             (batch, T) where the LSTM reads (T, batch): the streams lie along the rows
#   streams_interleaved             reshape(T, batch): stream b reads ids b, b + batch, ... instead of one passage
#   streams_head_dropped            the ids that do not fill a row are cut from the start instead of the end
#   chunk_targets_not_shifted       each chunk's targets are its inputs: the model is scored on the character it reads
#   chunk_targets_shifted_back      the targets one step behind the inputs: the previous character, not the next
#   chunk_inputs_run_to_the_end     the last chunk's inputs reach the last step, which has no next character
#   char_lm_softmax                 the read-out's scores put through a softmax: probabilities, not logits
#   char_lm_log_softmax             ... through a log-softmax: log-probabilities, not the raw scores
#   char_lm_state_ignored           the state handed in never reaches the recurrent layer
#   char_lm_state_handed_back       the state handed in is returned instead of the one the chunk leaves
#   char_lm_no_readout              the recurrent layer's outputs returned: no linear read-out to the vocabulary

__all__ += [
    "streams_batch_major",
    "streams_interleaved",
    "streams_head_dropped",
    "chunk_targets_not_shifted",
    "chunk_targets_shifted_back",
    "chunk_inputs_run_to_the_end",
    "char_lm_softmax",
    "char_lm_log_softmax",
    "char_lm_state_ignored",
    "char_lm_state_handed_back",
    "char_lm_no_readout",
]


def _full_rows(ids: Tensor, batch_size: int) -> int:
    """How many ids fill whole rows of ``batch_size`` streams: the rest is dropped."""
    return len(ids) // batch_size * batch_size


def streams_batch_major(ids: Tensor, batch_size: int, *, fixed: bool = False) -> Tensor:
    """Each stream a row, ``(batch, T)``: the pieces are right, but the LSTM reads time along the first axis.
    ``fixed=True``: the same pieces as columns, ``(T, batch)``."""
    streams = text.streams(ids, batch_size)
    return streams if fixed else streams.t()  # the mistake: the (batch, T) pieces left as rows, no .t()


def streams_interleaved(ids: Tensor, batch_size: int, *, fixed: bool = False) -> Tensor:
    """``reshape(T, batch)`` straight away: row t holds ids t*batch ... t*batch + batch - 1, so stream b reads
    every batch-th character of the whole text, no passage of it. ``fixed=True``: reshape(batch, T), then .t()."""
    if fixed:
        return text.streams(ids, batch_size)
    return ids[:_full_rows(ids, batch_size)].reshape(-1, batch_size)  # the mistake: the text runs across the row


def streams_head_dropped(ids: Tensor, batch_size: int, *, fixed: bool = False) -> Tensor:
    """The ids that do not fill a whole row dropped from the start of the text (``ids[len(ids) % batch:]``): the
    streams start in the middle of a word. ``fixed=True``: the tail dropped."""
    if fixed:
        return text.streams(ids, batch_size)
    return ids[len(ids) - _full_rows(ids, batch_size):].reshape(batch_size, -1).t()


def _chunk_bounds(stream: Tensor, length: int) -> list[tuple[int, int]]:
    """(start, end) of each chunk of ``stream`` (T, batch): steps 0 .. T - 2, since the last has no next step."""
    last = stream.shape[0] - 1
    return [(t, min(t + length, last)) for t in range(0, last, length)]


def chunk_targets_not_shifted(stream: Tensor, length: int, *, fixed: bool = False) -> list[tuple[Tensor, Tensor]]:
    """``(inputs, targets)`` chunks whose targets are the inputs themselves: the model would learn to copy the
    character it has just read. ``fixed=True``: the targets one step on, ``stream[start + 1:end + 1]``."""
    pairs = text.chunks(stream, length)
    return pairs if fixed else [(inputs, inputs) for inputs, _ in pairs]  # the mistake: the targets not shifted


def chunk_targets_shifted_back(stream: Tensor, length: int, *, fixed: bool = False) -> list[tuple[Tensor, Tensor]]:
    """The pair swapped: the inputs one step on and the targets the characters before them, so the model is
    scored on the character it read one step earlier. ``fixed=True``: inputs first, targets one step on."""
    pairs = text.chunks(stream, length)
    return pairs if fixed else [(targets, inputs) for inputs, targets in pairs]


def chunk_inputs_run_to_the_end(stream: Tensor, length: int, *, fixed: bool = False) -> list[tuple[Tensor, Tensor]]:
    """Inputs ``stream[start:start + length]`` up to the very end: where the last chunk reaches the last step,
    it holds one input more than targets, for the last step has no next character. ``fixed=True``: the inputs
    stop one step before the end."""
    if fixed:
        return text.chunks(stream, length)
    return [(stream[a:a + length], stream[a + 1:a + length + 1]) for a, _ in _chunk_bounds(stream, length)]


def _char_lm_parts(model: nn.Module, ids: Tensor, state, *, carry: bool = True):
    """(the recurrent layer's outputs, the state it leaves): ``model.embedding`` then ``model.rnn``."""
    return model.rnn(model.embedding(ids), state if carry else None)


def char_lm_softmax(model: nn.Module, ids: Tensor, state=None, *, fixed: bool = False):
    """A character model (``embedding``, ``rnn``, ``readout``, as ``text.CharLM``) whose forward returns
    softmax(read-out): probabilities. ``cross_entropy`` takes logits and applies log-softmax itself, so
    the loss would be computed on a softmax of a softmax. Returns ``(logits (T, B, V), state)``.
    ``fixed=True``: the read-out's raw scores."""
    outputs, state = _char_lm_parts(model, ids, state)
    scores = model.readout(outputs)
    return (scores if fixed else torch.softmax(scores, dim=-1)), state


def char_lm_log_softmax(model: nn.Module, ids: Tensor, state=None, *, fixed: bool = False):
    """As ``char_lm_softmax`` with a log-softmax: log-probabilities (the loss would be the same, but the
    model is asked for its raw scores). ``fixed=True``: the raw scores."""
    outputs, state = _char_lm_parts(model, ids, state)
    scores = model.readout(outputs)
    return (scores if fixed else torch.log_softmax(scores, dim=-1)), state


def char_lm_state_ignored(model: nn.Module, ids: Tensor, state=None, *, fixed: bool = False):
    """The state handed in never reaches the recurrent layer (``self.rnn(x)``): every chunk starts from zeros,
    which truncated BPTT must not do. ``fixed=True``: ``self.rnn(x, state)``."""
    outputs, state = _char_lm_parts(model, ids, state, carry=fixed)
    return model.readout(outputs), state


def char_lm_state_handed_back(model: nn.Module, ids: Tensor, state=None, *, fixed: bool = False):
    """The logits are right, but the state returned is the one handed in: the next chunk starts from the
    previous one's start. ``fixed=True``: the state the recurrent layer leaves."""
    outputs, new_state = _char_lm_parts(model, ids, state)
    return model.readout(outputs), (new_state if fixed else state)


def char_lm_no_readout(model: nn.Module, ids: Tensor, state=None, *, fixed: bool = False):
    """The recurrent layer's outputs returned as they are, (T, B, H): no linear read-out to one score per
    character. ``fixed=True``: ``self.readout(outputs)``, (T, B, V)."""
    outputs, state = _char_lm_parts(model, ids, state)
    return (model.readout(outputs) if fixed else outputs), state
