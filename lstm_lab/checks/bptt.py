"""Checks for the exercises of notebooks 09-12: backward steps, clipping, training, the GRU.

Every check calls the student's function on the fixed X example and on a random batch drawn
from its own generator (so a check never moves the notebook's random state), compares each
result with lstm_lab's reference, and says which gradient, which gate and which number is off.
Where a wrong answer matches a mistake we know, the feedback names the mistake.
"""

from __future__ import annotations

import math

import torch

from .. import bptt, fixtures
from ..cells import gru_cell, gru_update, linear, lstm_cell_trace, rnn_cell_trace
from ..modules import GRU, LSTM, RNN
from ..training import memory_task
from . import exercises as _exercises
from .core import TOLERANCES, Feedback, as_tensor, call_student, compare

ATOL = TOLERANCES["float64, longer"]


def _random(seed: int, *shape) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def _unpack(exercise: str, result, names: tuple[str, ...]):
    """The student's tuple of results, or a Feedback saying what came back instead."""
    if result is None:
        return None, Feedback(exercise, False, ["your function returned None: did it forget to `return`?"])
    if not isinstance(result, (tuple, list)) or len(result) != len(names):
        got = f"a {type(result).__name__}" + (f" of {len(result)}" if isinstance(result, (tuple, list)) else "")
        return None, Feedback(exercise, False, [f"expected a tuple of {len(names)} ({', '.join(names)}), got {got}"])
    return dict(zip(names, result)), None


def _compare_all(exercise: str, case: str, given: dict, expected: dict) -> list[Feedback]:
    return [compare(f"{case}: {name}", given[name], expected[name], atol=ATOL, what=name, max_listed=3)
            for name in expected]


def _verdict(exercise: str, parts: list[Feedback], hints: list[str], shown: int = 2, atol: float = ATOL) -> Feedback:
    """One verdict: on success one line; on failure the first ``shown`` wrong results, then hints."""
    failing = [p for p in parts if not p.ok]
    if not failing:
        cases = list(dict.fromkeys(p.exercise.split(":")[0] for p in parts))
        return Feedback(exercise, True, [f"all {len(parts)} results match (tolerance {atol:g}) on: {'; '.join(cases)}"])
    lines = []
    for p in failing[:shown]:
        lines += [f"{p.exercise}:"] + ["   " + line for line in p.lines]
    if len(failing) > shown:
        lines.append(f"... and {len(failing) - shown} more result(s) differ")
    return Feedback(exercise, False, lines + hints)


# ================================================================ notebook 09: backward steps
RNN_STEP_RESULTS = ("dx", "dh_prev", "weight_ih", "weight_hh", "bias")


def _rnn_cases():
    w = fixtures.rnn_weights()
    x, h_prev = fixtures.fixed_x()[1], fixtures.golden()["rnn"]["h"][0]  # step 2 of the fixed X (1-D; steps count from 1)
    yield "fixed X, step 2", x, h_prev, _random(1, 2), w
    batch = {"weight_ih": _random(2, 5, 3), "weight_hh": _random(3, 5, 5) / 3,
             "bias_ih": _random(4, 5), "bias_hh": _random(5, 5)}
    yield "a random batch of 4", _random(6, 4, 3), torch.tanh(_random(7, 4, 5)), _random(8, 4, 5), batch


def check_rnn_step_backward(fn) -> Feedback:
    """``fn(dh, x, h_prev, h, weight_ih, weight_hh) -> (dx, dh_prev, dW_ih, dW_hh, db)``."""
    exercise = "RNN step backward"
    parts, hints = [], set()
    for case, x, h_prev, dh, w in _rnn_cases():
        h = rnn_cell_trace(x, h_prev, **w).h
        want = bptt.rnn_step_backward(dh, x, h_prev, h, w["weight_ih"], w["weight_hh"])
        result, fail = call_student(exercise, fn, dh.clone(), x.clone(), h_prev.clone(), h.clone(),
                                    w["weight_ih"].clone(), w["weight_hh"].clone())
        if fail is not None:
            return fail
        given, fail = _unpack(exercise, result, RNN_STEP_RESULTS)
        if fail is not None:
            return fail
        expected = {name: getattr(want, name) for name in RNN_STEP_RESULTS}
        parts += _compare_all(exercise, case, given, expected)
        # known mistakes: forgetting tanh', or taking it at the wrong place
        no_slope = bptt.rnn_step_backward(dh / (1 - h * h), x, h_prev, h, w["weight_ih"], w["weight_hh"])
        if _same(given["dh_prev"], no_slope.dh_prev):
            hints.add("hint: the gradient must pass through tanh first: dpre = dh * (1 - h**2)")
        pre = torch.atanh(h)
        wrong_slope = bptt.rnn_step_backward(dh * (1 - pre * pre) / (1 - h * h), x, h_prev, h, w["weight_ih"],
                                             w["weight_hh"])
        if _same(given["dh_prev"], wrong_slope.dh_prev):
            hints.add("hint: tanh'(pre) = 1 - tanh(pre)**2 = 1 - h**2, not 1 - pre**2")
    return _verdict(exercise, parts, sorted(hints))


def _same(given, expected) -> bool:
    got, want = as_tensor(given), as_tensor(expected)
    return got is not None and got.shape == want.shape and bool(torch.allclose(got, want, atol=ATOL))


# one exercise, one check: notebook 09's LSTM step backwards is the assignment's (exercises/05)
check_lstm_step_backward = _exercises.check_lstm_step_backward


# ================================================================ notebook 10: clipping, vanishing
def _clip_cases():
    yield "three gradients, large", [_random(31, 4, 3) * 10, _random(32, 4), _random(33, 2, 2) * 5], 1.0
    yield "three gradients, already small", [_random(34, 3) * 0.01, _random(35, 2) * 0.01], 1.0
    yield "one gradient, max_norm 0.5", [_random(36, 5, 5)], 0.5


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
        if len(grads) > 1 and all(_same(r, p) for r, p in zip(result, per_tensor)):
            hints.add("hint: clip by the norm of ALL gradients together (one scale for every tensor), "
                      "not each tensor by its own norm")
        if all(_same(r, g / math.sqrt(sum(float((t * t).sum()) for t in grads)) * max_norm)
               for r, g in zip(result, grads)):
            if case.endswith("already small"):
                hints.add("hint: gradients whose total norm is below max_norm must be left unchanged")
    return _verdict(exercise, parts, sorted(hints), atol=TOLERANCES["clipping"])


def steps_to_vanish(radius: float, factor: float) -> int:
    """The fewest steps back after which ‖∂L/∂h‖ is below ``factor`` times its size at the end, in an
    RNN whose W_hh is ``radius`` times an orthogonal matrix and whose states stay near 0 (tanh' ≈ 1).

    Measured with ``bptt.rnn_backward`` on such an RNN, not from the formula.
    """
    size, steps = 8, int(math.ceil(math.log(factor) / math.log(radius))) + 5
    w = {"weight_ih": _random(41, size, 1) * 1e-9,
         "weight_hh": bptt.orthogonal_with_radius(size, radius, torch.Generator().manual_seed(42))}
    inputs = _random(43, steps, 1, 1)
    d_out = torch.zeros(steps, 1, size, dtype=torch.float64)
    d_out[-1] = _random(44, 1, size)
    norms = bptt.rnn_backward(inputs, torch.zeros(1, size, dtype=torch.float64), w, d_out).dh.norm(dim=(1, 2))
    ratios = (norms / norms[-1]).flip(0)  # by distance from the end
    return int(torch.nonzero(ratios < factor)[0].item())


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
def check_parameter_count(fn) -> Feedback:
    """``fn(kind, input_size, hidden_size) -> int``: the parameters of a one-layer RNN / LSTM / GRU."""
    exercise = "parameter count"
    lines, ok = [], True
    for kind, model in (("RNN", RNN), ("LSTM", LSTM), ("GRU", GRU)):
        for input_size, hidden_size in ((8, 32), (3, 2)):
            want = sum(p.numel() for p in model(input_size, hidden_size).parameters())
            got, fail = call_student(exercise, fn, kind, input_size, hidden_size)
            if fail is not None:
                return fail
            if got != want:
                ok = False
                gates = {"RNN": 1, "LSTM": 4, "GRU": 3}[kind]
                lines.append(f"{kind}(input {input_size}, hidden {hidden_size}): got {got!r}, expected {want}")
                if got == want - gates * hidden_size:
                    lines.append("   hint: torch keeps two biases per layer, b_ih and b_hh")
                if got == want // gates:
                    lines.append(f"   hint: an {kind} has {gates} gate block(s) per matrix")
    return Feedback(exercise, ok, lines or ["RNN, LSTM and GRU all match lstm_lab's modules"])


def check_memory_targets(fn) -> Feedback:
    """``fn(inputs, num_symbols) -> targets (batch,)``: read a memory-task batch's answers from its inputs."""
    exercise = "memory-task targets"
    parts = []
    for lag, symbols in ((3, 4), (10, 6)):
        inputs, targets = memory_task(8, lag, num_symbols=symbols, generator=torch.Generator().manual_seed(lag))
        got, fail = call_student(exercise, fn, inputs.clone(), symbols)
        if fail is not None:
            return fail
        parts.append(compare(f"lag {lag}", got, targets, atol=0, axis_names=("sequence",), what="targets"))
    if all(parts):
        return Feedback(exercise, True, ["the targets of both batches (lag 3 and lag 10) match"])
    return _verdict(exercise, parts, ["hint: inputs has shape (lag + 1, batch, channels); the symbol is at step 0"])


# ================================================================ notebook 12: the GRU
def check_gru_step(fn) -> Feedback:
    """``fn(x, h_prev, weight_ih, weight_hh, bias_ih, bias_hh) -> h``: one GRU step in torch's layout."""
    exercise = "GRU step"
    parts, hints = [], set()
    w = fixtures.gru_weights()
    golden = fixtures.golden()["gru"]
    cases = [("fixed X, step 2", fixtures.fixed_x()[1], golden["h"][0], w)]
    batch = {"weight_ih": _random(51, 9, 3), "weight_hh": _random(52, 9, 3),
             "bias_ih": _random(53, 9), "bias_hh": _random(54, 9)}
    cases.append(("a random batch of 4", _random(55, 4, 3), torch.tanh(_random(56, 4, 3)), batch))
    for case, x, h_prev, weights in cases:
        want = gru_cell(x, h_prev, **weights)
        got, fail = call_student(exercise, fn, x.clone(), h_prev.clone(), *(t.clone() for t in weights.values()))
        if fail is not None:
            return fail
        parts.append(compare(f"{case}: h", got, want, atol=ATOL, what="h"))
        for hint, mistaken in _gru_mistakes(x, h_prev, **weights):
            if _same(got, mistaken):
                hints.add(hint)
    return _verdict(exercise, parts, sorted(hints))


def _gru_mistakes(x, h, weight_ih, weight_hh, bias_ih, bias_hh):
    pre_ih, pre_hh = linear(x, weight_ih, bias_ih), linear(h, weight_hh, bias_hh)
    step = gru_update(pre_ih, pre_hh, h)
    yield ("hint: z weighs the OLD state in torch: h = (1 - z) * n + z * h_prev",
           step.z * step.n + (1 - step.z) * h)
    w_hn, b_hn = weight_hh.chunk(3)[2], bias_hh.chunk(3)[2]
    x_n = pre_ih.chunk(3, -1)[2]
    n_outside = torch.tanh(x_n + linear(step.r * h, w_hn, b_hn))
    yield ("hint: torch applies r to (W_hn h + b_hn) as a whole, after the matmul: "
           "n = tanh(W_in x + b_in + r * (W_hn h + b_hn))", (1 - step.z) * n_outside + step.z * h)
    def z_first(pre):  # the blocks read as z, r, n: reset and update swapped
        r, z, n = pre.chunk(3, -1)
        return torch.cat([z, r, n], -1)

    swapped = gru_update(z_first(pre_ih), z_first(pre_hh), h)
    yield "hint: torch's gate blocks are r, z, n in that order (reset first, then update)", swapped.h


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
    return compare(exercise, value, want, atol=TOLERANCES["rounded"], what="your number")
