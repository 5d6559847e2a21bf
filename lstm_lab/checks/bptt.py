"""Checks for the exercises of notebooks 09-12: clipping, steps to vanish, training, the GRU by hand.

The backward steps (09) and the GRU step (12) are exercises of the one engine
(``exercises``/``diagnose``); their names here are the same functions. Every other check calls the student's function on the fixed X example and on a random batch drawn
from its own generator (so a check never moves the notebook's random state), compares each
result with lstm_lab's reference, and says which gradient, which gate and which number is off.
Where a wrong answer matches a mistake we know, the feedback names the mistake.
"""

from __future__ import annotations

import math

import torch

from .. import bptt, fixtures
from ..training import memory_task
from . import exercises as _exercises
from . import sequences as _sequences
from .core import TOLERANCES, Feedback, call_student, check_value, compare, randn, same, verdict


# ================================================================ notebook 09: backward steps
# one exercise engine: the backward steps (09) and the GRU step (12) are checks of ``exercises``, run by
# ``diagnose``; notebook 09's LSTM step backwards is the assignment's own (exercises/05)
check_rnn_step_backward = _exercises.check_rnn_step_backward
check_lstm_step_backward = _exercises.check_lstm_step_backward
check_gru_step = _exercises.check_gru_step


# ================================================================ notebook 10: clipping, vanishing
def _clip_cases():
    yield "three gradients, large", [randn(31, 4, 3) * 10, randn(32, 4), randn(33, 2, 2) * 5], 1.0
    yield "three gradients, already small", [randn(34, 3) * 0.01, randn(35, 2) * 0.01], 1.0
    yield "one gradient, max_norm 0.5", [randn(36, 5, 5)], 0.5


@verdict
def check_clip_grad_norm(fn) -> Feedback:
    """``fn(grads: list of tensors, max_norm) -> list of clipped tensors`` (new tensors, inputs untouched)."""
    exercise = "clip by the global norm"
    parts, hints = [], set()
    for case, grads, max_norm in _clip_cases():
        params = [torch.nn.Parameter(g.clone()) for g in grads]
        for p, g in zip(params, grads):
            p.grad = g.clone()
        torch.nn.utils.clip_grad_norm_(params, max_norm)
        expected = [p.grad for p in params]
        result, fail = call_student(exercise, fn, [g.clone() for g in grads], max_norm)
        if fail is not None:
            return fail
        if not isinstance(result, (list, tuple)) or len(result) != len(grads):
            return Feedback(exercise, False, [f"{case}: expected a list of {len(grads)} tensors, got "
                                              f"{type(result).__name__}"])
        for k, (g, want) in enumerate(zip(result, expected)):
            # torch divides by (norm + 1e-6): a tolerance of 1e-5 accepts the exact scale and torch's
            parts.append(compare(f"{case}: gradient {k}", g, want, atol=TOLERANCES["clipping"], what=f"gradient {k}"))
        per_tensor = [g * min(1.0, max_norm / g.norm().item()) for g in grads]
        if len(grads) > 1 and all(same(r, p, TOLERANCES["clipping"]) for r, p in zip(result, per_tensor)):
            hints.add("hint: clip by the norm of ALL gradients together (one scale for every tensor), "
                      "not each tensor by its own norm")
        if all(same(r, g / math.sqrt(sum(float((t * t).sum()) for t in grads)) * max_norm, TOLERANCES["clipping"])
               for r, g in zip(result, grads)):
            if case.endswith("already small"):
                hints.add("hint: gradients whose total norm is below max_norm must be left unchanged")
    cases = "; ".join(case for case, _, _ in _clip_cases())
    return Feedback.merge(exercise, parts, sorted(hints), success=[
        f"all {len(parts)} results match (tolerance {TOLERANCES['clipping']:g}) on: {cases}"])


def steps_to_vanish(radius: float, factor: float) -> int:
    """The fewest steps back after which ‖∂L/∂h‖ is below ``factor`` times its size at the end, in an
    RNN whose W_hh is ``radius`` times an orthogonal matrix and whose states stay near 0 (tanh' ≈ 1).

    Measured with ``bptt.rnn_backward`` on such an RNN, not from the formula.
    """
    size, steps = 8, int(math.ceil(math.log(factor) / math.log(radius))) + 5
    w = {"weight_ih": randn(41, size, 1) * 1e-9,
         "weight_hh": bptt.orthogonal_with_radius(size, radius, torch.Generator().manual_seed(42))}
    inputs = randn(43, steps, 1, 1)
    d_out = torch.zeros(steps, 1, size, dtype=torch.float64)
    d_out[-1] = randn(44, 1, size)
    norms = bptt.rnn_backward(inputs, torch.zeros(1, size, dtype=torch.float64), w, d_out).dh.norm(dim=(1, 2))
    ratios = (norms / norms[-1]).flip(0)  # by distance from the end
    return int(torch.nonzero(ratios < factor)[0].item())


@verdict
def check_steps_to_vanish(answer, radius: float = 0.9, factor: float = 1e-6) -> Feedback:
    exercise = f"steps until the gradient is {factor:g} of its size (spectral radius {radius})"
    want = steps_to_vanish(radius, factor)
    if not isinstance(answer, int) or isinstance(answer, bool):
        return Feedback(exercise, False, [f"answer with a whole number of steps, got {answer!r}"])
    if answer == want:
        return Feedback(exercise, True, [f"{want} steps: {radius}**{want} < {factor:g} <= {radius}**{want - 1}"])
    lines = [f"you said {answer}, the gradient measured with bptt.rnn_backward says {want}"]
    if answer == want - 1:
        lines.append(f"hint: the first step whose ratio is *below* {factor:g}: {radius}**{answer} is not yet")
    return Feedback(exercise, False, lines)


# ================================================================ notebook 11: training
# the parameter count is one exercise, notebook 04's for the LSTM alone and 11's for all three kinds
check_parameter_count = _sequences.check_parameter_count


@verdict
def check_memory_targets(fn) -> Feedback:
    """``fn(inputs, num_symbols) -> targets (batch,)``: read a memory-task batch's answers from its inputs."""
    exercise = "memory-task targets"
    parts = []
    for lag, symbols in ((3, 4), (10, 6)):
        inputs, targets = memory_task(8, lag, num_symbols=symbols, generator=torch.Generator().manual_seed(lag))
        got, fail = call_student(exercise, fn, inputs.clone(), symbols)
        if fail is not None:
            return fail
        parts.append(compare(f"lag {lag}", got, targets, atol=TOLERANCES["exact"], axis_names=("sequence",), what="targets"))
    if all(parts):
        return Feedback(exercise, True, ["the targets of both batches (lag 3 and lag 10) match"])
    return Feedback.merge(exercise, parts, ["hint: inputs has shape (lag + 1, batch, channels); the symbol is at step 1 (index 0)"])


# ================================================================ notebook 12: the GRU
@verdict
def check_gate_by_hand(value, gate: str, step: int, unit: int) -> Feedback:
    """A number worked out by hand: gate ``gate`` ('r', 'z', 'n' or 'h') of the fixed-X GRU at ``step``
    (1, 2 or 3, as the notebooks count) and ``unit`` (0 or 1)."""
    exercise = f"GRU {gate} at step {step}, unit {unit}"
    golden = fixtures.golden()["gru"]
    if gate not in ("r", "z", "n", "h"):
        return Feedback(exercise, False, [f"gate should be 'r', 'z', 'n' or 'h', got {gate!r}"])
    if step not in (1, 2, 3) or unit not in (0, 1):
        return Feedback(exercise, False, [f"step should be 1, 2 or 3 and unit 0 or 1, got step {step!r}, unit {unit!r}"])
    want = golden[gate][step - 1, unit]
    return check_value(exercise, value, want, atol=TOLERANCES["rounded"], what="your number")
