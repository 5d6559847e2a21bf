"""Exercises of the gate-explorer notebook (08): weights that keep the first input to the end and a forget bias
that lets it reach the LSTM's last state (judge "property"), the memory after T steps of constant gates."""

from __future__ import annotations

import math
import numbers

import torch

from ..explorers import compute
from .core import TOLERANCES
from .diagnose import Case, Exercise, checker

# ---------------------------------------------------------------- 1. keep the first input
KEEP_SEQUENCE = "1, 0, 0, 0, 0, 0, 0, 0"  # one input, then silence
KEEP_TOLERANCE = TOLERANCES["memory kept"]  # c_t may drift this far from c_1
MIN_WRITTEN = 0.5  # |c_1| at least this: something must have been written


def _keep_trace(answer, case) -> dict | list:
    """Unit 0's gates and memory on the sequence 1, 0, ..., 0 from c_0 = 0, or what is wrong with the weights."""
    params = getattr(answer, "params", answer)  # an LSTMExplorer's current weights, or a per-gate dict
    try:
        _, input_size = compute.sizes_of(params)
        if input_size != 1:
            return [f"the weights read {input_size} features per step; this exercise feeds one "
                    f"(type the sequence {KEEP_SEQUENCE} in the explorer)"]
        trace = compute.lstm_trace(KEEP_SEQUENCE, params, c0=0.0)  # it parses the text
    except (TypeError, ValueError, RuntimeError) as error:  # lstm_lab's checks of the weights say what is off
        return [str(error)]
    c, f, i, g = (getattr(trace, k)[:, 0].tolist() for k in "cfig")  # the first hidden unit
    return {"c": c, "f": f, "i": i, "g": g, "c1": c[0], "cT": c[-1], "steps": len(c), "fmin": min(f)}


def _written(m: dict, case, again) -> list | None:
    return None if abs(m["c1"]) >= MIN_WRITTEN else [
        f"after step 1 the memory holds c_1 = {m['c1']:.4f}: the first input was not written in (|c_1| should be at "
        f"least {MIN_WRITTEN})", f"c_1 = i_1·g_1 with the input gate i_1 = {m['i'][0]:.4f} and the candidate g_1 = "
        f"{m['g'][0]:.4f}"]


def _kept(m: dict, case, again) -> list | None:
    c, f, i, g, first = m["c"], m["f"], m["i"], m["g"], m["c1"]
    drifted = [t for t in range(len(c)) if abs(c[t] - first) > KEEP_TOLERANCE]
    t = drifted[0] if drifted else None
    return drifted and [
        f"{len(drifted)} of {len(c)} steps drift more than {KEEP_TOLERANCE} from c_1 = {first:.4f}:",
        *(f"step {t + 1}: c_{t + 1} = {c[t]:.4f}" for t in drifted[:3]),
        f"at step {t + 1}: c_{t + 1} = f·c_{t} + i·g with f = {f[t]:.4f}, i = {i[t]:.4f}, g = {g[t]:.4f}; the memory "
        "keeps a fraction f of itself and takes in i·g"]


KEEP_FIRST_INPUT = Exercise(
    "keep the first input", None, "c", answer="value", judge="property", cases=lambda: [Case("", ())],
    allowed=("lstm_lab.explorers.compute.zero_params", "lstm_lab.explorers.compute.lstm_trace"),
    statistic=_keep_trace, properties=(_written, _kept),
    success=("c_1 = {c1:.4f} is kept to step {steps} within %g: c_{steps} = {cT:.4f}; the forget gate never drops "
             "below {fmin:.4f}" % KEEP_TOLERANCE,))
check_keep_first_input = checker(KEEP_FIRST_INPUT, """``answer``: an ``LSTMExplorer`` or a per-gate parameter dict.
    On 1, 0, ..., 0 from c_0 = 0, unit 0's memory takes in the first input (|c_1| >= 0.5) and keeps it within 0.01.""",
                                 "check_keep_first_input")


# ---------------------------------------------------------------- 2. constant gates
# (steps, f, i, g, c0): the memory after `steps` steps whose gates never change.
CELL_CASES = [
    (1, 0.5, 0.5, 0.5, 0.0),
    (3, 0.9, 0.2, 1.0, 1.0),
    (8, compute.SHUT, compute.OPEN, 0.76, 1.0),  # "forget every step": only the last write is left
    (8, compute.OPEN, compute.SHUT, 0.5, 1.0),  # "remember everything": c0 stays
    (20, 0.99, 0.1, -0.5, 0.3),
    (50, 0.9, 0.5, 0.8, -1.0),  # long enough to reach the steady state i·g / (1 - f)
]


def reference_cell_after(steps: int, f: float, i: float, g: float, c0: float) -> float:
    """c after ``steps`` steps of an LSTM (one unit, one feature) whose gates are f, i, g at every step, run step by
    step: all weights zero, so each gate is its activation of its bias (b_f = logit(f), ...)."""
    params = compute.zero_params(1, 1)
    for gate, value in (("f", f), ("i", i)):
        params[f"b_{gate}"].fill_(math.log(value / (1 - value)))
    params["b_g"].fill_(math.atanh(g) if abs(g) < 1 else math.copysign(30.0, g))
    return compute.lstm_trace(torch.zeros(steps, 1, dtype=compute.DTYPE), params, c0).c[-1, 0].item()


CELL_AFTER = Exercise(
    "memory after T steps", reference_cell_after, "c_T", gradients=False, atol=TOLERANCES["closed form"],
    cases=lambda: [Case(f"case {k} is steps={steps}, f={f:.4f}, i={i:.4f}, g={g:.4f}, c0={c0:.4f}",
                        (steps, f, i, g, c0), names=("steps", "f", "i", "g", "c0"), returns=f"case {k}")
                   for k, (steps, f, i, g, c0) in enumerate(CELL_CASES)])  # compare says it matches
check_cell_after = checker(CELL_AFTER, "``cell_after(steps, f, i, g, c0)``: the cell state after ``steps`` steps.",
                           "check_cell_after")


# ---------------------------------------------------------------- 3. the forget bias
REACH_TARGET = 0.1


def _reach(forget_bias, case) -> dict | str:
    """The LSTM's and the RNN's reach (‖∂h_T/∂x_1‖ / ‖∂h_T/∂x_T‖) with ``forget_bias`` added to b_f."""
    if isinstance(forget_bias, bool) or not isinstance(forget_bias, numbers.Real) or not math.isfinite(forget_bias):
        return f"the forget bias should be a finite number, got {forget_bias!r}"
    x = compute.random_sequence(20, compute.CONNECTIVITY_INPUT, 0)  # T = 20, sequence 0, as check_forget_bias says
    norms = compute.connectivity(x, forget_bias=float(forget_bias))
    return {"bias": float(forget_bias), "reach": compute.reach(norms["LSTM"]), "rnn": compute.reach(norms["RNN"])}


_REACH_SAID = "with b_f + {bias:g} the LSTM's reach is {reach:.3e} (the RNN's: {rnn:.3e})"
FORGET_BIAS = Exercise(
    "forget bias", None, "reach", answer="value", judge="property", cases=lambda: [Case("", ())], statistic=_reach,
    properties=(lambda m, case, again: None if m["reach"] >= REACH_TARGET else [
        _REACH_SAID.format(**m), f"it should be at least {REACH_TARGET}: the first input's influence fades by the "
        "forget gate at every step, so a forget gate nearer 1 keeps more of it"],), success=(_REACH_SAID,))
check_forget_bias = checker(FORGET_BIAS, """With ``forget_bias`` added to the LSTM's forget gate (T = 20, sequence
    0), the first input reaches the last state at least a tenth as strongly as the last: ‖∂h_T/∂x_1‖ / ‖∂h_T/∂x_20‖
    >= 0.1.""", "check_forget_bias")
