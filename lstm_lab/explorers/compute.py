"""What the explorers compute: weights in, traces and figure data out. No widgets here.

Every widget in ``widgets.py`` only moves numbers into these functions and draws what they
return, so everything a learner sees can be tested without Jupyter.

Three computations:

* ``lstm_trace``: a small LSTM (hidden size 1 or 2) over a short sequence, every gate of every
  step, from one matrix per gate (``W_xf, W_hf, b_f, ...``: one slider per number).
  ``apply_preset`` holds the presets that teach what each gate does.
* ``rnn_profile``: an RNN whose recurrent matrix is ``scale`` times an orthogonal matrix, so
  ``scale`` is exactly the size of the recurrent weights; it returns the hidden states and
  ``‖∂h_T/∂x_t‖`` for every step t, the quantity that vanishes or explodes.
* ``connectivity``: ``‖∂h_T/∂x_t‖`` per step for an RNN, an LSTM and a GRU reading the same
  sequence (the idea of Distill's "Visualizing memorization in RNNs", on small models).

Steps are numbered from 1, as in the rest of the course: the inputs are x_1 ... x_T, and ``c0``
(torch's name for the initial cell state) is c_0, the memory before the first step. Row t-1 of
every tensor here holds step t. Everything is float64.
"""

from __future__ import annotations

import functools
import math
import re
from typing import NamedTuple

import torch
from torch import Tensor

from .. import display, fixtures
from ..cells import lstm_cell_trace
from ..errors import shape_str
from ..gates import GATE_WORDS
from ..layouts import fuse_gates
from ..modules import GRU, LSTM, RNN
from ..training import fixed_seed

DTYPE = torch.float64

# ---------------------------------------------------------------- the gates, as the widget shows them
GATES = ("f", "i", "g", "o")  # left to right in the explorer: the order in which the memory is updated
GATE_TITLES = {gate: GATE_WORDS[gate] for gate in GATES}

# A gate whose weights are zero and whose bias is ±SATURATE sits at sigmoid(±6):
# 0.9975 ("held open") or 0.0025 ("held shut"), at every step and for every input.
SATURATE = 6.0
OPEN = 1.0 / (1.0 + math.exp(-SATURATE))  # 0.997527...
SHUT = 1.0 - OPEN  # 0.002472...

MAX_STEPS = 40
MAX_FEATURES = 3
HIDDEN_SIZES = (1, 2)


def single_threaded(fn):
    """Run ``fn`` on one CPU thread. These models are tiny (a few hundred numbers): with two
    threads, torch spends longer handing work between them than computing (4x slower measured
    on a busy 2-core machine). The caller's thread count is restored afterwards."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        before = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return fn(*args, **kwargs)
        finally:
            torch.set_num_threads(before)

    return wrapper


def gate_keys(gate: str) -> tuple[str, str, str]:
    """The names of one gate's three tensors: input weights, recurrent weights, bias."""
    return f"W_x{gate}", f"W_h{gate}", f"b_{gate}"


def zero_params(hidden_size: int, input_size: int) -> dict[str, Tensor]:
    """Every gate weight and bias zero: W_x? (H, D), W_h? (H, H), b_? (H,)."""
    _check_sizes(hidden_size, input_size)
    params = {}
    for gate in GATES:
        wx, wh, b = gate_keys(gate)
        params[wx] = torch.zeros(hidden_size, input_size, dtype=DTYPE)
        params[wh] = torch.zeros(hidden_size, hidden_size, dtype=DTYPE)
        params[b] = torch.zeros(hidden_size, dtype=DTYPE)
    return params


def seed001_params() -> dict[str, Tensor]:
    """Seed 001's LSTM (hidden size 2, three features) with its biases made explicit zeros."""
    params = fixtures.lstm_gate_weights(DTYPE)
    for gate in GATES:
        params[f"b_{gate}"] = torch.zeros(2, dtype=DTYPE)
    return params


def sizes_of(params: dict[str, Tensor]) -> tuple[int, int]:
    """(hidden_size, input_size) of a per-gate parameter dict, after checking it."""
    check_params(params)
    hidden_size, input_size = params["W_xf"].shape
    return hidden_size, input_size


def check_params(params) -> None:
    """Per-gate parameters with every key and consistent shapes, or a ValueError saying what is off."""
    if not isinstance(params, dict):
        raise TypeError(
            f"the parameters should be a dict of tensors (W_xf, W_hf, b_f, ...), got {type(params).__name__}")
    expected = [key for gate in GATES for key in gate_keys(gate)]
    missing = [key for key in expected if key not in params]
    if missing:
        raise ValueError(f"the parameters miss {', '.join(missing)}; expected the keys {', '.join(expected)}")
    extra = sorted(set(params) - set(expected))
    if extra:
        raise ValueError(f"unexpected parameter names {', '.join(extra)}; expected {', '.join(expected)}")
    for key in expected:
        if not isinstance(params[key], Tensor):
            raise TypeError(f"{key} should be a torch.Tensor, got {type(params[key]).__name__}")
    w = params["W_xf"]
    if w.dim() != 2:
        raise ValueError(f"W_xf should have shape (hidden_size, input_size), got {shape_str(w)}")
    hidden_size, input_size = w.shape
    want = {"W_x": (hidden_size, input_size), "W_h": (hidden_size, hidden_size), "b_": (hidden_size,)}
    for gate in GATES:
        for key, shape in zip(gate_keys(gate), want.values()):
            if tuple(params[key].shape) != shape:
                raise ValueError(
                    f"{key} should have shape {shape} to match W_xf {shape_str(w)}, got {shape_str(params[key])}"
                )


def _check_sizes(hidden_size, input_size) -> None:
    if hidden_size not in HIDDEN_SIZES:
        raise ValueError(f"the explorer's LSTM has hidden size 1 or 2, got {hidden_size!r}")
    if not isinstance(input_size, int) or not 1 <= input_size <= MAX_FEATURES:
        raise ValueError(f"the explorer reads 1 to {MAX_FEATURES} features per step, got {input_size!r}")


def resize_params(params: dict[str, Tensor], hidden_size: int, input_size: int) -> dict[str, Tensor]:
    """The same weights for another hidden or input size: shared entries kept, new ones zero."""
    _check_sizes(hidden_size, input_size)
    old_hidden, old_input = sizes_of(params)
    out = zero_params(hidden_size, input_size)
    h, d = min(hidden_size, old_hidden), min(input_size, old_input)
    for gate in GATES:
        wx, wh, b = gate_keys(gate)
        out[wx][:h, :d] = params[wx][:h, :d]
        out[wh][:h, :h] = params[wh][:h, :h]
        out[b][:h] = params[b][:h]
    return out


# ---------------------------------------------------------------- presets
PRESETS = ("seed 001", "remember everything", "forget every step", "copy the input", "silent output", "all zero")

PRESET_DOCS = {
    "seed 001": "seed 001's weights (hidden size 2, the fixed X), zero biases, c0 = 0",
    "remember everything": "f ≈ 1 and i ≈ 0 at every step, c0 = 1: the memory keeps c0 and lets nothing in",
    "forget every step": "f ≈ 0 at every step, c0 = 1: the old memory is dropped at once, c_t = i_t·g_t",
    "copy the input": "f ≈ 0, i ≈ 1, o ≈ 1 and unit k's candidate reads feature k: c_t ≈ tanh(x_t)",
    "silent output": "o ≈ 0 at every step: the memory still changes, but h_t ≈ 0 shows none of it",
    "all zero": "every weight and bias 0, c0 = 0: every gate is sigmoid(0) = 0.5 and g = 0, a blank start",
}


def hold_gate(params: dict[str, Tensor], gate: str, value: str) -> dict[str, Tensor]:
    """A copy of ``params`` with one gate held 'open' (sigmoid(6)) or 'shut' (sigmoid(-6)).

    Its weights become zero, so the gate no longer depends on x_t or h_{t-1}.
    """
    if gate not in GATES:
        raise ValueError(f"unknown gate {gate!r}; the gates are {', '.join(GATES)}")
    if value not in ("open", "shut"):
        raise ValueError(f"a gate can be held 'open' or 'shut', got {value!r}")
    out = {k: v.clone() for k, v in params.items()}
    wx, wh, b = gate_keys(gate)
    out[wx].zero_()
    out[wh].zero_()
    out[b].fill_(SATURATE if value == "open" else -SATURATE)
    return out


def apply_preset(name: str, params: dict[str, Tensor], c0: float) -> tuple[dict[str, Tensor], float]:
    """``(params, c0)`` after pressing a preset button. Only the gates a preset names change.

    "seed 001" replaces everything (and has hidden size 2 and three features: the fixed X).
    """
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(repr(p) for p in PRESETS)}")
    if name == "seed 001":
        return seed001_params(), 0.0
    if name == "remember everything":
        return hold_gate(hold_gate(params, "f", "open"), "i", "shut"), 1.0
    if name == "forget every step":
        return hold_gate(params, "f", "shut"), 1.0
    if name == "silent output":
        return hold_gate(params, "o", "shut"), c0
    if name == "all zero":
        return zero_params(*sizes_of(params)), 0.0
    # copy the input
    out = hold_gate(hold_gate(hold_gate(params, "f", "shut"), "i", "open"), "o", "open")
    hidden_size, input_size = sizes_of(out)
    for key in gate_keys("g"):
        out[key].zero_()
    for unit in range(hidden_size):
        out["W_xg"][unit, min(unit, input_size - 1)] = 1.0
    return out, c0


# ---------------------------------------------------------------- the LSTM trace
class LSTMTrace(NamedTuple):
    """Every quantity of every step; row t-1 is step t (t = 1..T), columns are hidden units."""

    x: Tensor  # (T, D) the inputs
    i: Tensor  # (T, H) input gate
    f: Tensor  # (T, H) forget gate
    g: Tensor  # (T, H) candidate
    o: Tensor  # (T, H) output gate
    c: Tensor  # (T, H) cell state after the step
    h: Tensor  # (T, H) hidden state after the step
    pre: Tensor  # (T, 4H) pre-activations, torch's blocks i, f, g, o


def as_sequence(x) -> Tensor:
    """A (T, D) float64 tensor from a tensor, a list of numbers (D = 1) or a list of rows."""
    if isinstance(x, str):
        return parse_sequence(x)
    t = x.detach().to(DTYPE) if isinstance(x, Tensor) else torch.tensor(x, dtype=DTYPE)
    if t.dim() == 1:
        t = t.unsqueeze(1)
    if t.dim() != 2 or t.shape[0] == 0:
        raise ValueError(f"a sequence should have shape (steps, features), got {shape_str(t)}")
    if not torch.isfinite(t).all():
        raise ValueError("the sequence holds a value that is not a finite number")
    return t


@single_threaded
def lstm_trace(x, params: dict[str, Tensor], c0: float = 0.0) -> LSTMTrace:
    """Run the LSTM of ``params`` over ``x`` (T, D) from h = 0, c = c0, recording every gate.

    Each step is ``lstm_lab.cells.lstm_cell_trace``, the LSTM equations' teaching form (not a copy of them).
    """
    x = as_sequence(x)
    hidden_size, input_size = sizes_of(params)
    if x.shape[1] != input_size:
        raise ValueError(
            f"the sequence has {x.shape[1]} feature(s) per step but the weights W_x? read {input_size}"
        )
    fused = fuse_gates(params)
    h = torch.zeros(hidden_size, dtype=DTYPE)
    c = torch.full((hidden_size,), float(c0), dtype=DTYPE)
    steps = []
    for x_t in x:
        step = lstm_cell_trace(x_t, (h, c), **fused)
        h, c = step.h, step.c
        steps.append(step)
    stacked = {name: torch.stack([getattr(s, name) for s in steps]) for name in ("i", "f", "g", "o", "c", "h", "pre")}
    return LSTMTrace(x=x, **stacked)


def trace_rows(trace: LSTMTrace) -> tuple[list[str], list[list]]:
    """``(header, rows)`` of the per-step table the explorer shows (see ``display.table``)."""
    header = ["t", "x_t", "f", "i", "g", "o", "c", "h"]
    rows = []
    for t in range(trace.x.shape[0]):
        row = [str(t + 1), trace.x[t]]
        row += [getattr(trace, name)[t] for name in ("f", "i", "g", "o", "c", "h")]
        rows.append(row)
    return header, rows


def trace_table(trace: LSTMTrace) -> str:
    """The per-step table as text, at display.fmt's fixed precision."""
    header, rows = trace_rows(trace)
    return display.table(rows, header)


# ---------------------------------------------------------------- typed sequences
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


def parse_sequence(text: str) -> Tensor:
    """A sequence typed by a learner -> (T, D) float64 (the messages count steps from 1).

    ``"1, 0, 0, 0"`` is four steps of one feature; ``"1 2 3; 4 5 6"`` two steps of three
    features (';' separates steps, spaces or commas separate features).
    """
    if not isinstance(text, str):
        raise TypeError(f"type the sequence as text, e.g. '1, 0, 0, 0'; got {type(text).__name__}")
    text = text.strip()
    if not text:
        raise ValueError("the sequence is empty: type numbers such as '1, 0, 0, 0' or '1 2 3; 4 5 6'")
    if ";" in text:
        rows = [part.replace(",", " ").split() for part in text.strip(";").split(";")]
    else:
        rows = [[token] for token in text.replace(",", " ").split()]
    for t, row in enumerate(rows, start=1):
        if not row:
            raise ValueError(f"step {t} is empty: every step between ';' needs at least one number")
        for token in row:
            if not _NUMBER.match(token):
                raise ValueError(f"{token!r} (step {t}) is not a number")
    widths = [len(row) for row in rows]
    if len(set(widths)) > 1:
        raise ValueError(
            "every step needs the same number of features: "
            + ", ".join(f"step {t} has {w}" for t, w in enumerate(widths, start=1) if w != widths[0])
            + f", step 1 has {widths[0]}"
        )
    if len(rows) > MAX_STEPS:
        raise ValueError(f"the explorer takes at most {MAX_STEPS} steps, got {len(rows)}")
    if widths[0] > MAX_FEATURES:
        raise ValueError(f"the explorer takes at most {MAX_FEATURES} features per step, got {widths[0]}")
    return torch.tensor([[float(v) for v in row] for row in rows], dtype=DTYPE)


def format_sequence(x: Tensor) -> str:
    """The inverse of ``parse_sequence`` (up to number formatting)."""
    x = as_sequence(x)
    if x.shape[1] == 1:
        return ", ".join(f"{v:g}" for v in x[:, 0].tolist())
    return "; ".join(" ".join(f"{v:g}" for v in row) for row in x.tolist())


# ---------------------------------------------------------------- gradients through time
def input_jacobian_norms(model: torch.nn.Module, x: Tensor) -> tuple[Tensor, Tensor]:
    """``(outputs (T, H), norms (T,))`` with ``norms[t] = ‖∂h_T/∂x_t‖`` (Frobenius norm).

    h_T is the model's last output. The sequence goes in H times as a batch of H identical
    copies; copy k back-propagates only unit k of its h_T, so one backward pass gives every
    row of every Jacobian: ``grad[t, k] = ∂h_T[k]/∂x_t``. ``torch.func.jacrev`` gives the same
    numbers (a test checks it), but one batched pass, which the LSTM's hand-written backward
    serves, is 2-3 times quicker than its vmapped one, and a slider redraws with every move.
    """
    hidden_size = model.proj_size or model.hidden_size
    copies = x.detach().unsqueeze(1).repeat(1, hidden_size, 1).requires_grad_(True)  # (T, H, D)
    outputs, _ = model(copies)  # (T, H copies, H units)
    (grad,) = torch.autograd.grad(outputs[-1].diagonal().sum(), copies)  # (T, H, D)
    return outputs[:, 0].detach(), grad.pow(2).sum(dim=(1, 2)).sqrt()


def _seeded_model(cls, seed: int, *args, **kwargs):
    """Build a module with torch's own initialisation under ``seed``, leaving the global RNG as it was
    (``training.fixed_seed``, the package's one seeding rule).

    For the same seed, lstm_lab's modules draw exactly the numbers torch.nn's do.
    """
    with fixed_seed(seed):
        return cls(*args, dtype=DTYPE, **kwargs)


def random_sequence(length: int, input_size: int, seed: int) -> Tensor:
    """Standard normal inputs (length, input_size); a longer sequence extends a shorter one."""
    if not isinstance(length, int) or not 1 <= length <= 200:
        raise ValueError(f"the sequence length should be an int from 1 to 200, got {length!r}")
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(200, input_size, generator=generator, dtype=DTYPE)[:length]


class RNNProfile(NamedTuple):
    x: Tensor  # (T, D) inputs
    h: Tensor  # (T, H) hidden states
    grad_norm: Tensor  # (T,) ‖∂h_T/∂x_t‖ for t = 1..T
    weights: dict  # the RNN's weight_ih, weight_hh, bias_ih, bias_hh


RNN_HIDDEN = 8
RNN_INPUT = 1
RNN_SEED = 0
# The input weights are kept small so that, for a scale up to about 1, h stays where tanh is nearly
# linear: then ‖∂h_T/∂x_t‖ follows scale^(T-t) and the weight scale alone decides its fate.
RNN_INPUT_GAIN = 0.05


def rnn_explorer_weights(scale: float, hidden_size: int = RNN_HIDDEN, input_size: int = RNN_INPUT,
                         seed: int = RNN_SEED) -> dict[str, Tensor]:
    """weight_hh = scale · Q with Q orthogonal: every singular value of W_hh is exactly ``scale``.

    weight_ih is random (fixed by ``seed``) times ``RNN_INPUT_GAIN``; the biases are zero.
    """
    if not isinstance(scale, (int, float)) or not math.isfinite(scale) or scale < 0:
        raise ValueError(f"scale should be a finite number >= 0, got {scale!r}")
    generator = torch.Generator().manual_seed(seed)
    q, r = torch.linalg.qr(torch.randn(hidden_size, hidden_size, generator=generator, dtype=DTYPE))
    q = q * torch.sign(torch.diagonal(r))  # the QR factor made unique (positive diagonal of r)
    weight_ih = RNN_INPUT_GAIN * torch.randn(hidden_size, input_size, generator=generator, dtype=DTYPE)
    zeros = torch.zeros(hidden_size, dtype=DTYPE)
    return {"weight_ih": weight_ih, "weight_hh": scale * q, "bias_ih": zeros, "bias_hh": zeros.clone()}


@single_threaded
def rnn_profile(scale: float, nonlinearity: str = "tanh", length: int = 30, *, hidden_size: int = RNN_HIDDEN,
                seed: int = RNN_SEED) -> RNNProfile:
    """The RNN explorer's data: hidden states and ‖∂h_T/∂x_t‖ for one weight scale."""
    model = _seeded_model(RNN, seed, RNN_INPUT, hidden_size, nonlinearity=nonlinearity)
    weights = rnn_explorer_weights(scale, hidden_size, RNN_INPUT, seed)
    with torch.no_grad():
        for name, value in weights.items():
            getattr(model, f"{name}_l0").copy_(value)
    x = random_sequence(length, RNN_INPUT, seed)
    h, norms = input_jacobian_norms(model, x)
    return RNNProfile(x, h, norms, weights)


# ---------------------------------------------------------------- connectivity
MODES = ("RNN", "LSTM", "GRU")
CONNECTIVITY_HIDDEN = 8
CONNECTIVITY_INPUT = 2


def connectivity_models(*, hidden_size: int = CONNECTIVITY_HIDDEN, input_size: int = CONNECTIVITY_INPUT,
                        seed: int = 0, forget_bias: float = 0.0) -> dict[str, torch.nn.Module]:
    """An RNN, an LSTM and a GRU as torch initialises them for ``seed`` (float64).

    ``forget_bias`` is added to the LSTM's forget-gate bias (rows H..2H of bias_ih): at 0 the
    forget gate sits near sigmoid(0) = 0.5, at 3 near 0.95.
    """
    models = {mode: _seeded_model(cls, seed, input_size, hidden_size) for mode, cls in zip(MODES, (RNN, LSTM, GRU))}
    with torch.no_grad():
        models["LSTM"].bias_ih_l0[hidden_size:2 * hidden_size] += forget_bias
    return models


@single_threaded
def connectivity(x, *, hidden_size: int = CONNECTIVITY_HIDDEN, seed: int = 0,
                 forget_bias: float = 0.0) -> dict[str, Tensor]:
    """``{"RNN": norms, "LSTM": norms, "GRU": norms}``, each (T,) with ‖∂h_T/∂x_t‖."""
    x = as_sequence(x)
    models = connectivity_models(hidden_size=hidden_size, input_size=x.shape[1], seed=seed, forget_bias=forget_bias)
    return {mode: input_jacobian_norms(model, x)[1] for mode, model in models.items()}


def reach(norms: Tensor) -> float:
    """‖∂h_T/∂x_1‖ / ‖∂h_T/∂x_T‖: how strongly the first input reaches the last state, relative to the last input."""
    return (norms[0] / norms[-1]).item()
