"""Exercises of notebooks 04-07: the per-gate and the efficient LSTM, stacked and bidirectional layers,
variable-length sequences; references from torch.nn where torch has the answer, else from lstm_lab."""

from __future__ import annotations

import math
from dataclasses import replace
from functools import partial
from itertools import permutations

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence, pad_sequence

from .. import fixtures
from ..costs import CallCounter
from ..cells import input_projection, lstm_cell
from ..gates import TORCH_ORDER as GATES
from ..layouts import fuse_gates, reorder_gates
from ..mistakes import forward_layers_first_row, last_output_off_by_one, overwritten_row
from ..training import fixed_seed
from . import exercises as _exercises
from .catalogue import KNOWN_ORDERS, per_gate_mistakes
from .core import TOLERANCES, Feedback, randn, seeded, verdict
from .diagnose import Case, Exercise, check_value, checker, run_check
# notebook 06's bidirectional layer and 07's last valid output (time-major) are the assignment's (``exercises``)
from .exercises import check_bidirectional_layer, check_last_valid_output
from .shortcuts import see_through

F64 = torch.float64
ATOL = TOLERANCES["sequence"]


# ---------------------------------------------------------------- helpers
def _random_gate_weights(input_size: int, hidden_size: int, seed: int) -> dict[str, Tensor]:
    """Per-gate weights, every matrix different, so that any mix-up of two gates shows."""
    gen, H = seeded(seed), hidden_size
    shapes = {"W_x": (H, input_size), "W_h": (H, H), "b_": (H,)}
    return {f"{prefix}{gate}": randn(gen, *shape) for gate in GATES for prefix, shape in shapes.items()}


# ================================================================ notebook 04: one gate at a time
def _parameter_count(kind: str, input_size: int, hidden_size: int) -> int:
    return sum(p.numel() for p in getattr(nn, kind)(input_size, hidden_size, device="meta").parameters())


def _count_cases(kind: str | None = None) -> list[Case]:
    return [Case(f"{each}, input_size={D}, hidden_size={H}", (D, H) if kind else (each, D, H),
                 _parameter_count(each, D, H))
            for each in ((kind,) if kind else ("RNN", "LSTM", "GRU")) for D, H in ((3, 2), (10, 20), (1, 7))]


def _count_mistakes(case: Case) -> dict:
    D, H = case.args[-2:]
    blocks = case.expected // (H * D + H * H + 2 * H)  # 1, 4 or 3: the kind's gate blocks
    return {"you counted one bias per gate block; torch.nn's RNN, LSTM and GRU keep two biases, bias_ih and bias_hh "
            "(they always add up, but both are parameters)": blocks * (H * D + H * H + H),
            "you counted no biases: torch.nn's RNN, LSTM and GRU have bias_ih and bias_hh, a gate block's worth each":
                blocks * (H * D + H * H),
            "the recurrent matrix W_h multiplies h (hidden_size numbers), so it is hidden_size x hidden_size":
                blocks * (H * D + D * D + 2 * H),
            "that is one gate's worth: an LSTM has four gates (i, f, g, o), a GRU three gate blocks (r, z, n), each "
            "with its own W_x, W_h and biases": H * D + H * H + 2 * H}


PARAMETER_COUNT = Exercise("parameter count", _parameter_count, "count", cases=_count_cases, judge="exact",
                           mistakes=_count_mistakes,
                           success=("RNN, LSTM and GRU all match torch.nn's counts for three sizes",))


@verdict
def check_parameter_count(fn, kind: str | None = None) -> Feedback:
    """The parameters of a one-layer torch.nn RNN, LSTM and GRU: ``fn(kind, input_size, hidden_size)``
    (notebook 11); with ``kind`` given, ``fn(input_size, hidden_size)`` for that kind alone (04's LSTM)."""
    alone = (f"matches torch.nn.{kind} for three sizes; it does not depend on the length T",)
    return run_check(replace(PARAMETER_COUNT, success=alone) if kind else PARAMETER_COUNT, fn, kind=kind)


@verdict
def check_forget_bias_for_0_9(value) -> Feedback:
    """The forget bias that makes the forget gate 0.9 when its weighted inputs are 0."""
    target = 0.9  # the gate's value the exercise asks for, not a tolerance
    bias = math.log(target / (1 - target))
    return check_value("forget bias for f = 0.9", value, bias, {
        "0.9 is the gate's value; the bias is the pre-activation: solve sigmoid(b) = 0.9 for b": target,
        "the sign is flipped: that bias gives 0.1": -bias,
        "you inverted tanh; the forget gate is a sigmoid": math.atanh(target)}, atol=TOLERANCES["typed"],
        what="the bias", note="the bias is the pre-activation whose sigmoid is 0.9: solve sigmoid(b) = 0.9 for b",
        success=(f"sigmoid({bias:.4f}) = {target:.4f}",))


def _per_gate_reference(x, h, c, p):
    return lstm_cell(x, (h, c), **fuse_gates(p))


def _per_gate_mistakes(case: Case) -> dict:
    x, h, c, p = case.args
    run = partial(_per_gate_reference, x, h, c)
    swapped = {**p, **{f"{w}{a}": p[f"{w}{b}"] for w in ("W_x", "W_h", "b_") for a, b in ("if", "fi")}}
    return {
        "you returned (c, h): return (h, c), the hidden state first": lambda: run(p)[::-1],
        "the input and forget gates are swapped: i uses W_xi, W_hi, b_i; f uses W_xf, W_hf, b_f":
            lambda: run(swapped),
        **per_gate_mistakes(p, run, x.shape[-1], h.shape[-1], transposed=False),
    }


def _per_gate_cases() -> list[Case]:
    names, p = ("x", "h", "c", "p"), fixtures.lstm_gate_weights(bias=True)
    cases, h, c = [], torch.zeros(1, 2, dtype=F64), torch.zeros(1, 2, dtype=F64)
    for t, x in enumerate(fixtures.fixed_x()):  # each step from the reference state: one wrong step hides no other
        cases.append(Case(f"fixed X, step {t + 1}", (x.unsqueeze(0), h, c, p), None, names, zero_state=t == 0))
        h, c = _per_gate_reference(x.unsqueeze(0), h, c, p)
    return [*cases, Case("a random batch of 5 with a non-zero state", (randn(41, 5, 3), randn(42, 5, 4), randn(43, 5, 4),
                                                                      _random_gate_weights(3, 4, seed=40)), None, names)]


LSTM_STEP_PER_GATE = Exercise(
    "LSTM step, one gate at a time", _per_gate_reference, ("h_new", "c_new"), cases=_per_gate_cases,
    axis_names={"h_new": ("batch", "unit"), "c_new": ("batch", "unit")}, mistakes=_per_gate_mistakes,
    state_args=(1, 2), batch_args=(0, 1, 2),
    locate=_exercises.gate_locator(("h_new", "c_new"), fuse_gates, lambda p: [{**p, "b_i": p["b_i"] + 1}]),
    success=("h and c match lstm_lab.lstm_cell (tested against torch.nn) on fixed X and on a random batch",))
check_lstm_step_per_gate = checker(LSTM_STEP_PER_GATE, """``fn(x, h, c, p)`` -> ``(h_new, c_new)``: one LSTM step
    from per-gate weights ``p`` (``W_xi, W_hi, b_i, W_xf, ...`` in torch's convention, applied as ``x @ W.T``), on
    seed 001's fixed X and a random batch.""", "check_lstm_step_per_gate")


# ================================================================ notebook 05: the efficient LSTM
def _fuse_reference(per_gate):
    fused = fuse_gates(per_gate)
    return fused["weight_ih"], fused["weight_hh"]


def _fuse_mistakes(case: Case) -> dict:
    fused = _fuse_reference(*case.args)
    out = {"the matrices are transposed: torch keeps a row per gate unit, (4H, D), applied as x @ W.T, so stack "
           "the blocks along dim 0": tuple(w.T for w in fused)}
    for order in ("".join(p) for p in permutations(GATES) if "".join(p) != GATES):
        known = f" ({KNOWN_ORDERS[order]})" if order in KNOWN_ORDERS else ""
        out[f"the gate blocks are in the order {', '.join(order)}{known}; torch's order is i, f, g, o"] = tuple(
            reorder_gates(w, GATES, order) for w in fused)
    return out


FUSE = Exercise(
    "fuse the gates", _fuse_reference, ("weight_ih", "weight_hh"), mistakes=_fuse_mistakes, gradients=False,
    cases=lambda: [Case("per-gate weights, input size 3, hidden size 2", (
        {k: v for k, v in _random_gate_weights(3, 2, seed=50).items() if not k.startswith("b_")},), names=("",))],
    axis_names={"weight_ih": ("row", "column"), "weight_hh": ("row", "column")}, atol=ATOL,
    gate_blocks={"weight_ih": GATES, "weight_hh": GATES},
    success=("weight_ih and weight_hh match torch's layout (blocks i, f, g, o)",))
check_fuse = checker(FUSE, """``fn(per_gate)`` -> ``(weight_ih, weight_hh)``: stack the per-gate matrices in torch's
    layout.""", "check_fuse")


def _projection_cases() -> list[Case]:
    inputs = randn(51, 5, 2, 3)  # (T, B, D), hidden size 4
    weights = {"weight_ih": randn(52, 16, 3), "bias_ih": randn(53, 16), "bias_hh": randn(54, 16)}
    return [Case("5 steps, batch 2, input size 3, hidden size 4", (inputs, *weights.values()),
                 input_projection("LSTM", inputs, weights), ("inputs", "weight_ih", "bias_ih", "bias_hh"))]


def _projection_mistakes(case: Case) -> dict:
    inputs, weight_ih, bias_ih, bias_hh = case.args
    no_hh = inputs @ weight_ih.t() + bias_ih
    return {"bias_hh is missing: for the LSTM it is added to every pre-activation too, so it can be folded in here":
            no_hh, "bias_ih is missing": no_hh - bias_ih + bias_hh, "both biases are missing": no_hh - bias_ih}


INPUT_PROJECTION = Exercise(
    "input projection for all steps", lambda inputs, weight_ih, bias_ih, bias_hh: input_projection(
        "LSTM", inputs, {"weight_ih": weight_ih, "bias_ih": bias_ih, "bias_hh": bias_hh}), "projection",
    cases=_projection_cases, mistakes=_projection_mistakes,
    axis_names={"projection": ("step", "batch", "unit")}, atol=ATOL, gradients=False)  # compare says it matches


@verdict
def check_input_projection(fn) -> Feedback:
    """``fn(inputs (T, B, D), weight_ih, bias_ih, bias_hh)`` -> ``(T, B, 4H)``: the input half of
    every gate at every step, in one matrix product (``costs.CallCounter`` counts them)."""
    counter, cases = CallCounter(), INPUT_PROJECTION.cases()  # the reference's product is not the answer's
    with counter:
        feedback = run_check(INPUT_PROJECTION, fn, cases)
    if feedback and counter.matmuls > 1:
        return Feedback(INPUT_PROJECTION.name, False, [
            f"the numbers are right, but it took {counter.matmuls} matrix products: the point is one product for all "
            "5 steps at once (a (T, B, D) tensor can be multiplied by W_ih.T directly)"])
    return feedback


@verdict
def check_fused_step(fn) -> Feedback:
    """``fn(x, (h, c), weight_ih, weight_hh, bias_ih, bias_hh)`` -> ``(h, c)``: the assignment's LSTM step
    (``exercises.LSTM_STEP``), called with the state as one pair, as torch.nn.LSTMCell takes it."""
    @see_through  # the adapter is the check's: what it calls is the student's function
    def as_the_assignment_calls_it(x, h_prev, c_prev, weight_ih, weight_hh, bias_ih, bias_hh):
        return fn(x, (h_prev, c_prev), weight_ih, weight_hh, bias_ih, bias_hh)

    as_the_assignment_calls_it.__name__ = getattr(fn, "__name__", "fused_step")
    return run_check(replace(_exercises.LSTM_STEP, name="fused_step"), as_the_assignment_calls_it)


# ================================================================ notebook 06: stacked and bidirectional
H_N_INDEX = Exercise(
    "row of h_n", lambda layer, direction, num_layers, num_directions: layer * num_directions + direction, "row",
    cases=lambda: [Case(f"layer {layer}, direction {direction} of {layers} layer(s) x {directions} direction(s)",
                        (layer, direction, layers, directions)) for directions in (1, 2) for layers in (1, 2, 3)
                   for layer in range(layers) for direction in range(directions)], judge="exact",
    mistakes=lambda case: {
        "that is seed 002's h_n[layer + 1]: layer 1's forward state lands on layer 0's reverse row and overwrites it":
            overwritten_row(*case.args[:2]),
        "that puts all forward layers first, then all reverse ones (seed 002's h0 indexing); torch interleaves "
        "them: l0, l0_reverse, l1, ...": forward_layers_first_row(*case.args[:3])},
    success=("right for 1 to 3 layers, one or two directions",))
check_h_n_index = checker(H_N_INDEX, """``fn(layer, direction, num_layers, num_directions)`` -> the row of ``h_n``
    holding that state.""", "check_h_n_index")


def _features_read(layer, input_size, hidden_size, bidirectional, proj_size) -> int:
    model = nn.LSTM(input_size, hidden_size, num_layers=layer + 1, bidirectional=bidirectional, proj_size=proj_size,
                    device="meta")
    return getattr(model, f"weight_ih_l{layer}").shape[1]


def _input_size_mistakes(case: Case) -> dict:
    layer, input_size, hidden_size, bidirectional, proj_size = case.args
    out, both = proj_size or hidden_size, 2 if bidirectional else 1
    return {
        "layer l+1 reads both directions of layer l, [forward, backward]: twice the width (seed 002 gave it only "
        "one direction's)": input_size if layer == 0 else out,
        "with proj_size, h is projected to proj_size numbers before the next layer reads it":
            input_size if layer == 0 else hidden_size * both,
        "layer 0 reads the input itself: input_size features": out * both}


LAYER_INPUT_SIZE = Exercise(
    "input size of a layer", _features_read, "size", judge="exact", mistakes=_input_size_mistakes,
    cases=lambda: [Case(f"layer {layer}, input_size=5, hidden_size=6, bidirectional={bi}, proj_size={proj}",
                        (layer, 5, 6, bi, proj)) for bi in (False, True) for proj in (0, 3) for layer in (0, 1, 2)],
    success=("matches torch.nn.LSTM's weight_ih shapes for 3 layers, with and without bidirectional and proj_size",))
check_layer_input_size = checker(LAYER_INPUT_SIZE, """``fn(layer, input_size, hidden_size, bidirectional,
    proj_size)`` -> the number of features layer ``layer`` reads (the columns of its ``weight_ih``), as in
    torch.nn.LSTM.""", "check_layer_input_size")


# ================================================================ notebook 07: variable lengths
def _mask(lengths: Tensor, max_len: int) -> Tensor:
    """torch's own padding of all-ones sequences: 1 on real steps, 0 on padding, (max_len, B)."""
    mask = pad_sequence([torch.ones(int(n), dtype=F64) for n in lengths])
    return torch.cat([mask, mask.new_zeros(max_len - mask.shape[0], len(lengths))])


LENGTH_MASK = Exercise(
    "mask from lengths", _mask, "mask", judge="exact",
    cases=lambda: [Case(f"lengths {n.tolist()} and max_len {T}", (n, T))
                   for n, T in ((torch.tensor([5, 2, 3]), 5), (torch.tensor([1, 4]), 6))],
    axis_names={"mask": ("time index", "sequence")},
    mistakes=lambda case: {
        "each column has one step too many: time index t is a real step when t < length (indices count from 0: "
        "index t is step t + 1), not t <= length": (torch.arange(case.args[1]).unsqueeze(1) <= case.args[0]).to(F64)},
    success=("matches the padding torch.nn.utils.rnn.pad_sequence makes",))
check_length_mask = checker(LENGTH_MASK, """``fn(lengths, max_len)`` -> ``(max_len, B)``: True (or 1) where step t
    is a real step.""", "check_length_mask")


def _reverse_final_cases() -> list[Case]:
    """A seeded bidirectional torch.nn.LSTM over a packed batch: its output padded to (5, B, 2H), and h_n."""
    lengths = torch.tensor([3, 1, 4, 2])
    with fixed_seed(80):  # the notebook's own random stream is left alone
        model = nn.LSTM(3, 2, bidirectional=True, dtype=F64)
    with torch.no_grad():
        out, (h_n, _) = model(pack_padded_sequence(randn(81, 5, len(lengths), 3), lengths, enforce_sorted=False))
        output, _ = pad_packed_sequence(out, total_length=5)
    return [Case("a bidirectional torch.nn.LSTM on a packed batch, lengths [3, 1, 4, 2]",
                 (output, lengths, h_n.shape[-1]), h_n[1], names=("output", "lengths", "hidden_size"))]


def _reverse_final_mistakes(case: Case) -> dict:
    output, lengths, H = case.args
    return {
        "that is where the forward direction ends: the reverse direction reads from the last real step back "
        "to step 1, so it finishes at step 1 (index 0)": last_output_off_by_one(output, lengths, fixed=True)[:, H:],
        "that is the last padded step: the reverse direction finishes at step 1 (index 0)": output[-1, :, H:],
        "that is the forward direction's half: the reverse one is output[..., H:]": output[0, :, :H]}


REVERSE_FINAL = Exercise(
    "reverse direction's final state", lambda output, lengths, hidden_size: output[0, :, hidden_size:], "final",
    cases=_reverse_final_cases, mistakes=_reverse_final_mistakes,
    axis_names={"final": ("sequence", "unit")}, atol=ATOL, gradients=False,
    success=("equals h_n[1] of torch.nn.LSTM(bidirectional=True) on the packed batch",))
check_reverse_final = checker(REVERSE_FINAL, """``fn(output (T, B, 2H), lengths, hidden_size)`` -> ``(B, H)``: the
    reverse direction's final state, read from a bidirectional layer's padded output.""", "check_reverse_final")
