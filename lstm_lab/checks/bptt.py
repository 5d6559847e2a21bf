"""Exercises of notebooks 09-12: clipping, steps to vanish, memory-task targets, the GRU by hand. The backward
steps (09), the GRU step (12) and the parameter count (11) are declared in ``exercises`` and ``sequences``."""

from __future__ import annotations

import math

import torch

from .. import bptt, fixtures
from ..training import memory_task
from .core import TOLERANCES, Feedback, randn, seeded, verdict
from .diagnose import Case, Exercise, check_value, checker
from .exercises import check_gru_step, check_lstm_step_backward, check_rnn_step_backward
from .sequences import check_parameter_count  # notebook 04's for the LSTM alone, 11's for all three


# ================================================================ notebook 10: clipping, vanishing
def _clip_reference(grads, max_norm):
    """torch's clip_grad_norm_ on copies (it divides by (norm + 1e-6): within TOLERANCES["clipping"])."""
    params = [torch.nn.Parameter(g.clone()) for g in grads]
    for p, g in zip(params, grads):
        p.grad = g.clone()
    torch.nn.utils.clip_grad_norm_(params, max_norm)
    return [p.grad for p in params]


def _clip_cases() -> list[Case]:
    return [Case(label, (grads, max_norm), names=("grads", "max_norm"),
                 returns=tuple(f"gradient {k}" for k in range(len(grads))))
            for label, grads, max_norm in (
                ("three gradients, large", [randn(31, 4, 3) * 10, randn(32, 4), randn(33, 2, 2) * 5], 1.0),
                ("three gradients, already small", [randn(34, 3) * 0.01, randn(35, 2) * 0.01], 1.0),
                ("one gradient, max_norm 0.5", [randn(36, 5, 5)], 0.5))]


def _clip_mistakes(case: Case) -> dict:
    grads, max_norm = case.args
    total = math.sqrt(sum(float((t * t).sum()) for t in grads))
    return {"clip by the norm of ALL gradients together (one scale for every tensor), not each tensor by its own norm":
            [g * min(1.0, max_norm / g.norm().item()) for g in grads],
            "gradients whose total norm is below max_norm must be left unchanged": [g / total * max_norm for g in grads]}


CLIP_GRAD_NORM = Exercise(
    "clip by the global norm", _clip_reference, "clipped", cases=_clip_cases, mistakes=_clip_mistakes, gradients=False,
    atol=TOLERANCES["clipping"],
    success=(f"all 6 results match (tolerance {TOLERANCES['clipping']:g}) on: three gradients, large; three "
             "gradients, already small; one gradient, max_norm 0.5",))
check_clip_grad_norm = checker(CLIP_GRAD_NORM, """``fn(grads: list of tensors, max_norm) -> list of clipped
    tensors`` (new tensors, inputs untouched).""", "check_clip_grad_norm")


@verdict
def check_steps_to_vanish(answer, radius: float = 0.9, factor: float = 1e-6) -> Feedback:
    want = bptt.steps_to_vanish(radius, factor)
    return check_value(
        f"steps until the gradient is {factor:g} of its size (spectral radius {radius})", answer, want,
        {f"one step short: the first step whose ratio is *below* {factor:g} is the answer, {radius}**{want - 1} is "
         f"not yet (the gradient measured with bptt.rnn_backward says {want})": want - 1}, atol=TOLERANCES["exact"],
        judge="exact", what="the steps", note=f"the gradient measured with bptt.rnn_backward says {want}",
        success=(f"{want} steps: {radius}**{want} < {factor:g} <= {radius}**{want - 1}",))


# ================================================================ notebook 11: training
MEMORY_TARGETS = Exercise(
    "memory-task targets", lambda inputs, num_symbols: inputs[0].argmax(-1), "targets",
    cases=lambda: [Case(f"lag {lag}, {symbols} symbols", (inputs, symbols), targets, ("inputs", "num_symbols"))
                   for lag, symbols in ((3, 4), (10, 6))
                   for inputs, targets in [memory_task(8, lag, num_symbols=symbols, generator=seeded(lag))]],
    judge="exact", axis_names={"targets": ("sequence",)},
    hint=("hint: inputs has shape (lag + 1, batch, channels); the symbol is at step 1 (index 0)",),
    success=("the targets of both batches (lag 3 and lag 10) match",))
check_memory_targets = checker(MEMORY_TARGETS, """``fn(inputs, num_symbols) -> targets (batch,)``: read a
    memory-task batch's answers from its inputs.""", "check_memory_targets")


# ================================================================ notebook 12: the GRU
@verdict
def check_gate_by_hand(value, gate: str, step: int, unit: int) -> Feedback:
    """A number worked out by hand: gate ``gate`` ('r', 'z', 'n' or 'h') of the fixed-X GRU at ``step``
    (1, 2 or 3, as the notebooks count) and ``unit`` (0 or 1)."""
    exercise = f"GRU {gate} at step {step}, unit {unit}"
    if gate not in ("r", "z", "n", "h"):
        return Feedback(exercise, False, [f"gate should be 'r', 'z', 'n' or 'h', got {gate!r}"])
    if not all(type(k) is int for k in (step, unit)) or step not in (1, 2, 3) or unit not in (0, 1):  # not 1.0, True
        return Feedback(exercise, False, [f"step should be 1, 2 or 3 and unit 0 or 1, got step {step!r}, unit {unit!r}"])
    return check_value(exercise, value, fixtures.golden()["gru"][gate][step - 1, unit], atol=TOLERANCES["rounded"],
                       what="your number")
