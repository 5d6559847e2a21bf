"""The assignments' exercises (``notebooks/exercises/``) and the course notebooks' function exercises of the same
kind (05, 06, 07, 09, 12 reach them through ``sequences`` and ``bptt``): cases on the seed-001 fixed X (golden
numbers from torch.nn) and seeded random batches (``seed``, ``random_cases``: the hidden tests draw more)."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from .. import bptt, fixtures
from ..cells import gru_cell, gru_cell_trace, lstm_cell, lstm_cell_trace, rnn_cell, rnn_cell_trace, rnn_update
from ..layouts import fuse_gates, reorder_gates, split_gates
from ..mistakes import last_output_off_by_one, state_never_carried
from ..runners import run_layer, run_stack
from .catalogue import GATES, fused_mistakes, per_gate_mistakes
from .core import TOLERANCES, as_tensor, call_student, randn, same, seeded, shape_message
from .diagnose import ATOL, Case, Exercise, checker, clone, split

F64 = torch.float64
_FUSED = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")  # torch's weights of one cell, in the order it lists them


def _layer_weights(gen, rows: int, D: int, H: int, ih=1.0, hh=1.0, bias=1.0) -> dict:
    """Random weights in torch's layout (``rows``: gate blocks × H), drawn in the order torch lists them."""
    return {"weight_ih": randn(gen, rows, D, scale=ih), "weight_hh": randn(gen, rows, H, scale=hh),
            "bias_ih": randn(gen, rows, scale=bias), "bias_hh": randn(gen, rows, scale=bias)}


def _random_cases(count: int, table: list[tuple], seed: int, names: tuple, draw,
                  axes=("batch", "input size", "hidden size")) -> list[Case]:
    """``count`` random cases, sizes from ``table`` (from row ``seed`` on; one size per name of ``axes``), arguments
    ``draw(*sizes)``."""
    return [Case(f"random case {k + 1} ({', '.join(f'{axis} {n}' for axis, n in zip(axes, sizes))})", draw(*sizes),
                 None, names) for k in range(count) for sizes in [table[(k + seed) % len(table)]]]


def _step_cases(names, weights, golden, gen, random_cases, seed, sizes, blocks) -> list[Case]:
    """The fixed X's first three steps, each from the golden state before it, then random batches (x, the
    ``golden`` states, weights of ``blocks`` gate blocks at scale 0.5)."""
    X, cases = fixtures.fixed_x(), []
    for t in range(3):
        before = tuple(g[t - 1:t] if t else torch.zeros(1, 2, dtype=F64) for g in golden)
        after = tuple(g[t:t + 1] for g in golden)
        cases.append(Case(f"the fixed X, step {t + 1} (x[{t}])", (X[t:t + 1], *before, *weights.values()),
                          after if len(after) > 1 else after[0], names, zero_state=t == 0))

    def draw(B, D, H):  # the states, then x, then the weights; handed over x first
        states = tuple(randn(gen, B, H) for _ in golden)
        return (randn(gen, B, D), *states, *_layer_weights(gen, blocks * H, D, H, 0.5, 0.5, 0.5).values())
    return cases + _random_cases(random_cases, sizes, seed, names, draw)


# ================================================================ RNN step
_RNN_SIZES = [(4, 3, 5), (2, 4, 4), (3, 6, 2), (5, 2, 3)]  # (batch, input, hidden); one with input == hidden


def _rnn_mistakes(case: Case) -> dict:
    x, h, w_ih, w_hh, b_ih, b_hh = case.args
    pre = rnn_cell_trace(x, h, w_ih, w_hh, b_ih, b_hh).pre
    return {
        "weight_hh is used transposed (h_prev @ weight_hh without .T): torch keeps a row per hidden unit, so it is "
        "h_prev @ weight_hh.T": lambda: rnn_cell(x, h, w_ih, w_hh.t(), b_ih, b_hh),
        "weight_ih is used transposed (x @ weight_ih without .T): torch keeps a row per hidden unit, so it is "
        "x @ weight_ih.T": lambda: rnn_cell(x, h, w_ih.t(), w_hh, b_ih, b_hh),
        "h_prev is never used: the recurrent term h_prev @ weight_hh.T is missing":
            lambda: rnn_cell(x, torch.zeros_like(h), w_ih, w_hh, b_ih, b_hh),
        "the tanh is missing: h_t = tanh(pre-activation)": pre,
        "a sigmoid is used where the RNN has a tanh": torch.sigmoid(pre),
        "a relu is used where this RNN has a tanh": lambda: rnn_cell(x, h, w_ih, w_hh, b_ih, b_hh, "relu"),
        "the biases were added as columns (H, 1): they broadcast along the batch axis instead of giving one "
        "entry per hidden unit. Keep a bias 1-D, shape (H,)":
            lambda: rnn_update(rnn_cell_trace(x, h, w_ih, w_hh).pre + b_ih[:, None] + b_hh[:, None]).h,
        "bias_hh is missing: torch adds both biases": lambda: rnn_cell(x, h, w_ih, w_hh, b_ih, None),
        "bias_ih is missing: torch adds both biases": lambda: rnn_cell(x, h, w_ih, w_hh, None, b_hh),
        "both biases are missing": lambda: rnn_cell(x, h, w_ih, w_hh),
    }


RNN_STEP = Exercise(
    "rnn_step", rnn_cell, "h_t", axis_names={"h_t": ("batch", "unit")}, mistakes=_rnn_mistakes,
    state_args=(1,), batch_args=(0, 1),
    success=(f"the fixed X, steps 1 to 3: torch.nn.RNN's golden numbers, to within {ATOL:g}",
             f"{{random_cases}} random batches: lstm_lab.rnn_cell (itself checked against torch.nn.RNNCell)",
             "gradients with respect to every argument: autograd through lstm_lab.rnn_cell"),
    cases=lambda seed=0, random_cases=2: _step_cases(
        ("x", "h_prev", *_FUSED), fixtures.rnn_weights(),
        (fixtures.golden()["rnn"]["h"],), seeded(100 + seed), random_cases, seed, _RNN_SIZES, 1))
check_rnn_step = checker(RNN_STEP, """``rnn_step(x, h_prev, weight_ih, weight_hh, bias_ih, bias_hh) -> h_t``, x (B,
    D), h (B, H).""")


# ================================================================ LSTM step
_LSTM_SIZES = [(3, 4, 5), (2, 3, 3), (4, 2, 6), (1, 5, 2)]


def _lstm_reference(x, h_prev, c_prev, weight_ih, weight_hh, bias_ih, bias_hh):
    return lstm_cell(x, (h_prev, c_prev), weight_ih, weight_hh, bias_ih, bias_hh)


def _lstm_step_mistakes(case: Case) -> dict:
    x, h, c, *fused = case.args
    weights = dict(zip(_FUSED, fused))
    step = lstm_cell_trace(x, (h, c), **weights)
    c_sigmoid_g = step.f * c + step.i * torch.sigmoid(step.pre.chunk(4, -1)[2])  # g's pre-activation through a sigmoid
    c_swapped = step.i * c + step.f * step.g  # c_t = i ⊙ c_{t-1} + f ⊙ g
    return {
        "you returned (c_t, h_t): return (h_t, c_t), hidden state first, as torch.nn.LSTMCell does": (step.c, step.h),
        "h_prev and c_prev are swapped": lambda: lstm_cell(x, (c, h), **weights),
        "h_t = o ⊙ c_t: the tanh is missing, h_t = o ⊙ tanh(c_t)": (step.o * step.c, step.c),
        # the same numbers as blocks split f, i, g, o: one sentence names both ways of getting there
        "i and f are swapped: either you split the gate blocks in the order f, i, g, o (seed 002's order; torch "
        "stacks them i, f, g, o), or the cell update reads c_t = i ⊙ c_{t-1} + f ⊙ g where c_t = f ⊙ c_{t-1} + "
        "i ⊙ g belongs (the forget gate scales the old memory, the input gate the candidate)":
            (step.o * torch.tanh(c_swapped), c_swapped),
        "the candidate g uses a sigmoid: it is a tanh (values in (-1, 1)); only i, f and o are sigmoids":
            (step.o * torch.tanh(c_sigmoid_g), c_sigmoid_g),
        **fused_mistakes(weights, lambda w: lstm_cell(x, (h, c), **w)),
    }


def gate_locator(returns: tuple, weights: Callable, bumped: Callable) -> Callable:
    """A locator for an LSTM step ``fn(x, h_prev, c_prev, *more) -> returns`` (h, c) that narrows a wrong step down
    to a gate by probing: move c_{t-1}, then the input gate's bias (``bumped(*more)``: ``more`` with it raised by 1;
    ``weights(*more)``: torch's fused weights that ``more`` holds). It raises where it cannot say more: the engine
    runs a locator ``_safely``."""
    h_t, c_t = returns
    longer = TOLERANCES["float64, longer"]

    def locate(fn, case: Case, result) -> list[str]:
        x, h, c, *more = case.args
        ref = lstm_cell_trace(x, (h, c), **weights(*more))

        def probe(c_prev, more):  # the student's c_t from other arguments, of the reference's shape
            c_s = as_tensor(split(call_student("probe", fn, *clone((x, h, c_prev, *more)))[0], returns)[1])
            if c_s.shape != ref.c.shape:
                raise ValueError("a result of another shape: compare's sentence says all there is")
            return c_s

        h_s, c_s = (as_tensor(v) for v in split(result, returns))  # the reference's shapes (the engine's _fitting)
        if same(c_s, ref.c, ATOL):
            return [f"{c_t} is right and {h_t} is not: look at the output gate o and at {h_t} = o ⊙ tanh({c_t})"]
        if not same(probe(c + 1, more) - c_s, ref.f, longer):
            return [f"the forget gate is where it goes wrong: raising c_{{t-1}} by 1 should raise {c_t} by exactly f "
                    f"({c_t} = f ⊙ c_{{t-1}} + i ⊙ g), and yours changes by something else"]
        ref_shifted = lstm_cell_trace(x, (h, c), **weights(*bumped(*more)))
        mine, mine_shifted = c_s - ref.f * c, probe(c, bumped(*more)) - ref_shifted.f * c
        # if only g is off, the student's i follows the reference: i·g scales by i_shifted / i
        lines = ["f ⊙ c_{t-1} is right; the new memory i ⊙ g is not",
                 "the input gate i responds to its bias as it should: the candidate g is off"
                 if same(mine_shifted * ref.i, mine * ref_shifted.i, longer) else
                 "the input gate i does not respond to its bias block as it should: the input gate i is off"]
        if not same(h_s, ref.o * torch.tanh(c_s), longer):
            lines.append(f"{h_t} is off by more than your {c_t} explains: the output gate o is off too")
        return lines
    return locate


LSTM_STEP = Exercise(
    "lstm_step", _lstm_reference, ("h_t", "c_t"),
    axis_names={"h_t": ("batch", "unit"), "c_t": ("batch", "unit")},
    mistakes=_lstm_step_mistakes, state_args=(1, 2),
    locate=gate_locator(("h_t", "c_t"), lambda *w: dict(zip(_FUSED, w)),
                        lambda w_ih, w_hh, b_ih, b_hh: (w_ih, w_hh, b_ih + (torch.arange(len(b_ih)) < len(b_ih) // 4),
                                                        b_hh)),  # the input gate's block of bias_ih raised by 1
    gate_blocks=dict.fromkeys(_FUSED, GATES),
    batch_args=(0, 1, 2),
    success=(f"the fixed X, steps 1 to 3: torch.nn.LSTM's golden numbers, to within {ATOL:g}",
             f"{{random_cases}} random batches: lstm_lab.lstm_cell (itself checked against torch.nn.LSTMCell)",
             "gradients with respect to every argument: autograd through lstm_lab.lstm_cell"),
    cases=lambda seed=0, random_cases=2: _step_cases(
        ("x", "h_prev", "c_prev", *_FUSED), fixtures.lstm_weights(bias=True),
        (fixtures.golden()["lstm_bias"]["h"], fixtures.golden()["lstm_bias"]["c"]), seeded(200 + seed), random_cases,
        seed, _LSTM_SIZES, 4))
check_lstm_step = checker(LSTM_STEP, """``lstm_step(x, h_prev, c_prev, weight_ih, weight_hh, bias_ih, bias_hh) ->
    (h_t, c_t)``, torch's fused layout: weight_ih (4H, D), weight_hh (4H, H), gate blocks i, f, g, o.""")


# ================================================================ LSTM step, backwards
_BACKWARD_AXES = {"dx": ("batch", "feature"), "dh_prev": ("batch", "unit"), "dc_prev": ("batch", "unit"),
                  "dweight_ih": ("row", "column"), "dweight_hh": ("row", "column"), "dbias": ("row",)}
BACKWARD_MATMUL = ("going backwards the products turn round: dx = dpre @ weight_ih with no .T (weight_ih is "
                   "(gates·H, D) and dpre (B, gates·H)), and dweight_ih = dpre.T @ x")


def _backward_reference(dh, dc, x, h_prev, c_prev, step, weight_ih, weight_hh):
    g = bptt.lstm_step_backward(dh, dc, x, h_prev, c_prev, step, weight_ih, weight_hh)
    return g.dx, g.dh_prev, g.dc_prev, g.weight_ih, g.weight_hh, g.bias


def _backward_mistakes(case: Case) -> dict:
    dh, dc, x, h, c, step, w_ih, w_hh = case.args
    ref, rest = bptt.lstm_step_backward(*case.args), case.args[2:]  # rest: the arguments after dh and dc
    out = {
        "the gradient arriving at c_t from step t+1 (dc) is not added in: c_t reaches the loss both through h_t "
        "and directly through the next step's c":
            lambda: _backward_reference(dh, torch.zeros_like(dc), *rest),
        # without tanh'(c_t) the path through h_t gives dh·o where dh·o·(1 - tanh²c) belongs: the same as the
        # right backward with dh·o·tanh²(c) more arriving at c_t
        "tanh' of the cell state is missing: through h_t = o ⊙ tanh(c_t), c_t receives "
        "dh ⊙ o ⊙ (1 - tanh²(c_t))":
            lambda: _backward_reference(dh, dc + dh * step.o * torch.tanh(step.c) ** 2, *rest),
        "c_t receives only dc, the gradient from step t+1: the path through h_t = o ⊙ tanh(c_t) is missing, "
        "dc_t = dc + dh ⊙ o ⊙ (1 - tanh²(c_t))":
            lambda: _backward_reference(dh, dc - dh * step.o * (1 - torch.tanh(step.c) ** 2), *rest),
        "dc_prev is missing the forget gate: c_t = f ⊙ c_{t-1} + ..., so dc_{t-1} = dc_t ⊙ f":
            lambda: (ref.dx, ref.dh_prev, ref.dc, ref.weight_ih, ref.weight_hh, ref.bias),
        "the weight gradients are transposed: dweight_ih has weight_ih's shape (4H, D), dpreᵀ @ x":
            lambda: (ref.dx, ref.dh_prev, ref.dc_prev, ref.weight_ih.t(), ref.weight_hh.t(), ref.bias),
        "dbias is not summed over the batch: a bias is shared by every example, so its gradient is the sum":
            lambda: (None, None, None, None, None, ref.dpre),
    }
    for order in ("ifog", "figo", "iofg", "fiog"):  # the four gate gradients concatenated in another order
        dpre = reorder_gates(ref.dpre, GATES, order, dim=-1)
        out[f"the gate gradients are stacked in the order {', '.join(order)}: weight_ih's rows are i, f, g, o, so "
            f"dpre must be too"] = (dpre @ w_ih, dpre @ w_hh, ref.dc_prev, bptt.weight_grad(dpre, x),
                                    bptt.weight_grad(dpre, h), bptt.bias_grad(dpre))
    return out


def _backward_args(x, h, c, weights, dh, dc) -> tuple:  # the backward step's arguments, the forward step traced
    return dh, dc, x, h, c, lstm_cell_trace(x, (h, c), **weights), weights["weight_ih"], weights["weight_hh"]


def _lstm_step_backward_cases(seed: int = 0, random_cases: int = 2) -> list[Case]:
    names = ("dh", "dc", "x", "h_prev", "c_prev", "step", "weight_ih", "weight_hh")
    gen, golden = seeded(300 + seed), fixtures.golden()["lstm_bias"]
    fixed = _backward_args(fixtures.fixed_x()[1:2], golden["h"][0:1], golden["c"][0:1],
                           fixtures.lstm_weights(bias=True), torch.tensor([[1.0, -0.5]], dtype=F64),
                           torch.tensor([[0.25, 0.5]], dtype=F64))

    def draw(B, D, H):  # the weights, x, h, c, then dh and dc
        weights = _layer_weights(gen, 4 * H, D, H, 0.5, 0.5, 0.5)
        return _backward_args(*(randn(gen, B, n) for n in (D, H, H)), weights, randn(gen, B, H), randn(gen, B, H))
    return [Case("the fixed X, step 1 (x[1]; dh = [1, -0.5], dc = [0.25, 0.5])", fixed, None, names),
            *_random_cases(random_cases, _LSTM_SIZES, seed, names, draw)]


LSTM_STEP_BACKWARD = Exercise(
    "lstm_step_backward", _backward_reference, ("dx", "dh_prev", "dc_prev", "dweight_ih", "dweight_hh", "dbias"),
    axis_names=_BACKWARD_AXES, gate_blocks={"dweight_ih": GATES, "dweight_hh": GATES, "dbias": GATES},
    mistakes=_backward_mistakes, gradients=False, matmul_advice=BACKWARD_MATMUL,
    notebook_answers=("lstm_gates_backward",),  # notebook 09 shows steps 1-3 of this backward step as that function
    success=(f"{{cases}} steps (the fixed X and random batches): every gradient equals "
             f"lstm_lab.bptt.lstm_step_backward (itself checked against autograd) to within {ATOL:g}",),
    cases=_lstm_step_backward_cases)
check_lstm_step_backward = checker(LSTM_STEP_BACKWARD, """``lstm_step_backward(dh, dc, x, h_prev, c_prev, step,
    weight_ih, weight_hh)`` -> ``(dx, dh_prev, dc_prev, dweight_ih, dweight_hh, dbias)``; ``step`` is the forward
    ``LSTMStep`` (gates i, f, g, o, c, h), dbias the gradient of either bias.""")


# ================================================================ parameter initialisation (seed 003)
INIT_SCALE = 0.1  # seed 003 draws its weights as randn * 0.1 (what the exercise asks, not a tolerance)
PARAM_NAMES = tuple(f"{prefix}{gate}" for gate in GATES for prefix in ("W_x", "W_h", "b_"))


def _expected_shape(name: str, input_size: int, hidden_size: int) -> tuple:
    return {"W_x": (input_size, hidden_size), "W_h": (hidden_size, hidden_size)}.get(name[:3], (hidden_size,))


_SHAPE_ADVICE = {  # what seed 003's init asks of each kind of tensor
    "W_x": "this exercise multiplies x @ W_x?, so W_x? has a row per input feature: (input_size, hidden_size)",
    "W_h": "W_h? is (hidden_size, hidden_size)",
    "b_": "keep a bias 1-D, (hidden_size,), as torch does: a column (hidden_size, 1) added to x @ W_x? of shape "
          "(batch, hidden_size) broadcasts to a (hidden_size, hidden_size) square, or fails"}


def _shape_problem(name: str, value, input_size: int, hidden_size: int) -> str | None:
    if not isinstance(value, Tensor):
        return f"{name} should be a tensor, got a {type(value).__name__}"
    if not value.is_floating_point():
        return f"{name} has dtype {value.dtype}: weights are floating point (torch.randn gives float32)"
    want = _expected_shape(name, input_size, hidden_size)
    return None if value.shape == want else shape_message(value.shape, want, name, advice=_SHAPE_ADVICE[name[:-1]])


def _init_reference(input_size: int, hidden_size: int) -> dict:
    return {n: torch.randn(*_expected_shape(n, input_size, hidden_size)) * INIT_SCALE if n[0] == "W" else
            torch.zeros(hidden_size) for n in PARAM_NAMES}


def _init_params(params, case: Case) -> dict | list:
    """The answer as the dict of 12 tensors of the right shapes, or the lines that say why it is not."""
    if params is None:
        return ["it returned None: did the function forget to `return` the dict of parameters?"]
    if not isinstance(params, dict):
        return [f"it should return a dict {{'W_xi': ..., 'W_hi': ..., 'b_i': ..., ...}}, got a {type(params).__name__}"]
    missing = [n for n in PARAM_NAMES if n not in params]
    extra = sorted(str(n) for n in params if n not in PARAM_NAMES)
    lines = [f"{what}: {', '.join(names)}" for what, names in (("missing", missing), ("not expected", extra)) if names]
    if any(n.endswith("c") for n in extra):
        lines.append("this course calls the candidate g (W_xg, W_hg, b_g); seed 003 calls it c")
    return lines or [p for n in PARAM_NAMES if (p := _shape_problem(n, params[n], *case.args))] or params


def _spread_problem(name: str, value: Tensor) -> str | None:
    """Is this tensor a draw of N(0, 0.1²)? Judged on thousands of numbers, so the bounds are wide."""
    v = value.detach().to(F64).flatten()
    if v.abs().max() == 0:
        return (f"{name} is all zeros: every unit of a layer would compute the same thing and get the same "
                "gradient, forever. Draw the weights at random: torch.randn(...) * 0.1")
    std, mean = v.std().item(), v.mean().item()
    if v.min() >= 0:
        return (f"every number in {name} is ≥ 0 (torch.rand draws from [0, 1)): the exercise uses torch.randn, "
                "a normal distribution around 0, times 0.1")
    if abs(std - 1) < TOLERANCES["unscaled"]:
        return f"{name} has standard deviation {std:.2f}: multiply torch.randn(...) by the scale 0.1"
    if abs(std - INIT_SCALE) >= TOLERANCES["spread"]:
        return f"{name} has standard deviation {std:.3f}, expected 0.1: torch.randn(...) * 0.1"
    if abs(mean) > TOLERANCES["mean"]:
        return f"{name} has mean {mean:.3f}, expected about 0"
    if ((v.abs() < std).double().mean().item()) < TOLERANCES["normal mass"]:
        return f"{name} looks uniformly spread, not normal: use torch.randn (a normal distribution)"
    return None


def _biases_zero(params: dict, case: Case, again) -> list | None:
    nonzero = [n for n in PARAM_NAMES if n.startswith("b_") and params[n].abs().max() > 0]
    return nonzero and [f"{', '.join(nonzero)} not zero: seed 003 starts every bias at 0 (torch.zeros(hidden_size))"]


def _spread(params: dict, case: Case, again) -> list | None:
    problems = [p for n in PARAM_NAMES if not n.startswith("b_") and (p := _spread_problem(n, params[n]))]
    more = [f"(and {len(problems) - 1} more of the 8 weight matrices)"] if len(problems) > 1 else []
    return problems and [f"for {case.label}:", problems[0], *more]


def _no_twins(params: dict, case: Case, again) -> list | None:
    weights = [n for n in PARAM_NAMES if not n.startswith("b_")]
    return next(([f"{a} and {b} hold the same numbers: draw each with its own torch.randn call, or the two gates "
                  "start as twins"] for k, a in enumerate(weights) for b in weights[k + 1:]
                 if params[a].shape == params[b].shape and torch.equal(params[a], params[b])), None)


def _seeded_by_the_caller(params: dict, case: Case, again) -> list | None:
    seed = case.about["seed"]
    first, again_, other = again(seed + 1), again(seed + 1), again(seed + 2)
    if not all(isinstance(p, dict) for p in (first, again_, other)):
        return ["a second call failed: the function should give a new set each call"]
    if not all(torch.equal(first[n], again_[n]) for n in PARAM_NAMES):
        return ["two calls after the same torch.manual_seed gave different weights: draw them with torch.randn "
                "(torch's generator), not numpy or random"]
    if all(torch.equal(first[n], other[n]) for n in PARAM_NAMES):
        return ["calls after different seeds gave the same weights: does the function call torch.manual_seed "
                "itself? Leave seeding to the caller"]
    return None


INIT_LSTM_PARAMS = Exercise(
    "init_lstm_params", _init_reference, "params", judge="property", statistic=_init_params, gradients=False,
    properties=(_biases_zero, _spread, _no_twins, _seeded_by_the_caller),
    cases=lambda seed=0: [Case(f"input_size={d}, hidden_size={h}", (d, h), about={"seed": seed + k})
                          for k, (d, h) in enumerate(((3, 2), (64, 96)))],
    success=("12 tensors shaped for x @ W: W_x? (input_size, hidden_size), W_h? (hidden_size, hidden_size), b_? "
             "(hidden_size,)", "biases 0; weights drawn from N(0, 0.1²), each on its own, with torch's generator"))
check_init_lstm_params = checker(INIT_LSTM_PARAMS, """``init_lstm_params(input_size, hidden_size) -> {W_xi, W_hi,
    b_i, ...}`` as seed 003 asks: ``W_x? = randn(input_size, hidden_size) * 0.1``, ``W_h? = randn(hidden_size,
    hidden_size) * 0.1``, ``b_? = zeros(hidden_size)``. The notebook's random stream is left as it was.""")


# ================================================================ LSTM over a sequence (seed 003)
_SEQ_SIZES = [(2, 5, 3, 4), (3, 4, 4, 4), (1, 6, 2, 3), (4, 3, 5, 2)]  # (batch, steps, input, hidden)


def _forward_reference(x, state, params):
    """lstm_lab's one-direction LSTM on seed-003 weights: (N, T, D) in, (N, T, H) out."""
    outputs, final = run_layer("LSTM", x.transpose(0, 1), tuple(state), fuse_gates(params, transposed=True))
    return outputs.transpose(0, 1), final


def _forward_mistakes(case: Case) -> dict:
    x, (h0, c0), params = case.args

    def restarting():  # seed 003's loop: every step from the initial state
        outputs, final = state_never_carried(x.transpose(0, 1), fuse_gates(params, transposed=True), (h0, c0))
        return outputs.transpose(0, 1), final

    return {
        **per_gate_mistakes(params, lambda p: _forward_reference(x, (h0, c0), p), x.shape[-1], h0.shape[-1]),
        "the outputs are stacked time-first, (T, N, H): this LSTM is batch-first, so return (N, T, H) (seed 003 "
        "had to permute after torch.cat(o, dim=0))": lambda: (_forward_reference(*case.args)[0].transpose(0, 1), None),
        "the state returned is the initial one: return the (h, c) of the last step": lambda: (None, (h0, c0)),
        "h_n and c_n are swapped: return (outputs, (h, c))":
            lambda: (None, tuple(reversed(_forward_reference(*case.args)[1]))),
        "every step starts again from the initial state: carry (h, c) from one step to the next": restarting,
    }


def _lstm_forward_cases(seed: int = 0, random_cases: int = 2) -> list[Case]:
    names = ("x", ("h0", "c0"), "")
    golden = fixtures.golden()["lstm_bias"]
    params = split_gates(**fixtures.lstm_weights(bias=True), transposed=True)
    zeros = torch.zeros(1, 2, dtype=F64)
    cases = [Case("the fixed X (batch 1, 3 steps)", (fixtures.fixed_x().unsqueeze(0), (zeros, zeros), params),
                  (golden["h"].unsqueeze(0), (golden["h"][2:], golden["c"][2:])), names, zero_state=True)]
    gen = seeded(400 + seed)

    def draw(N, T, D, H):  # drawn weights first, then the (non-zero) initial state, then x
        p = {n: randn(gen, *_expected_shape(n, D, H), scale=0.5) for n in PARAM_NAMES}
        state = (randn(gen, N, H), randn(gen, N, H))
        return randn(gen, N, T, D), state, p
    return cases + _random_cases(random_cases, _SEQ_SIZES, seed, names, draw, ("batch", "steps", "input size",
                                                                               "hidden size"))


LSTM_FORWARD = Exercise(
    "lstm_forward", _forward_reference, ("outputs", ("h_n", "c_n")),
    axis_names={"outputs": ("batch", "step", "unit"), "h_n": ("batch", "unit"), "c_n": ("batch", "unit")},
    time_axis={"outputs": 1}, mistakes=_forward_mistakes, state_args=(1,), batch_args=(0, 1),
    success=(f"the fixed X: torch.nn.LSTM's golden numbers, to within {ATOL:g}",
             f"{{random_cases}} random batches: lstm_lab's LSTM (itself checked against torch.nn.LSTM)",
             "gradients with respect to x, the initial state and every parameter: autograd through lstm_lab"),
    cases=_lstm_forward_cases)
check_lstm_forward = checker(LSTM_FORWARD, """``lstm_forward(x, (h0, c0), params) -> (outputs, (h_n, c_n))``: x (N,
    T, D) batch-first, params as ``init_lstm_params`` makes them (applied as ``x @ W_x? + h @ W_h? + b_?``).""")


# ================================================================ last valid output
def _last_valid_mistakes(case: Case) -> dict:
    given, lengths = case.args
    batch_first = case.about.get("batch_first", True)
    outputs = given if batch_first else given.transpose(0, 1)  # (N, T, H) from here on
    rows = torch.arange(outputs.shape[0])
    layout = ("batch-first here, (N, T, H), so the sequence index comes first" if batch_first else
              "time-major here, (T, B, H), so the step index comes first")
    last, first = ("outputs[:, -1]", "outputs[:, 0]") if batch_first else ("output[-1]", "output[0]")
    every = ("outputs[:, lengths - 1]", "outputs[torch.arange(N), lengths - 1]") if batch_first else (
        "output[lengths - 1]", "output[lengths - 1, torch.arange(B)]")
    return {
        "one step past the end: a sequence of length L has its last real output at index L - 1 (step L), not L (seed "
        "003 indexes with src_len itself)": lambda: last_output_off_by_one(outputs.transpose(0, 1), lengths),
        "one step too early: the last real output of a sequence of length L is at index L - 1 (step L)":
            lambda: outputs[rows, lengths - 2],
        f"that is the last step of the padded tensor, {last}: for a shorter sequence it comes after its end":
            lambda: outputs[:, -1],
        f"that is the first step, {first}": lambda: outputs[:, 0],
        f"{every[0]} takes every length for every sequence, (N, N, H): pair each sequence with its own length, "
        f"{every[1]}":
            lambda: given[:, lengths - 1] if batch_first else given[lengths - 1],
        f"the axes are swapped: the output is {layout}": lambda: outputs[lengths - 1, rows],
    }


def _last_valid_output_cases(seed: int = 0, random_cases: int = 2, batch_first: bool = True) -> list[Case]:
    names = ("outputs", "lengths")
    golden = fixtures.golden()["lstm_bias"]["h"]
    cases = [Case(f"the fixed X twice, lengths {lengths}", (torch.stack([golden, golden]), torch.tensor(lengths)),
                  torch.stack([golden[n - 1] for n in lengths]), names) for lengths in ([3, 2], [2, 1])]
    gen = seeded(500 + seed)
    for k in range(random_cases):
        N, T, D, H = _SEQ_SIZES[(k + seed) % len(_SEQ_SIZES)]
        N = max(N, 3)
        # even cases hold a full-length sequence (indexing with the length itself raises there), odd ones
        # do not (the same mistake gives wrong numbers instead); every case holds a sequence of length 1
        longest = T - k % 2
        lengths = torch.randint(1, longest + 1, (N,), generator=gen)
        lengths[0], lengths[1] = longest, 1
        weights = _layer_weights(gen, 4 * H, D, H)
        x = randn(gen, T, N, D)
        # the LSTM reads the padding too (as seed 003's does); the masked run stops at each length, and
        # its final state is the answer, computed without any indexing (both from zero states)
        outputs, _ = run_layer("LSTM", x, None, weights)
        _, (h_n, _) = run_layer("LSTM", x, None, weights, lengths=lengths)
        cases.append(Case(f"random case {k + 1} (lengths {lengths.tolist()}, {T} steps)",
                          (outputs.transpose(0, 1).contiguous(), lengths), h_n, names))
    if not batch_first:  # the same cases, time-major
        cases = [Case(c.label, (c.args[0].transpose(0, 1).contiguous(), c.args[1]), c.expected, c.names,
                      about={"batch_first": False}) for c in cases]
    return cases


LAST_VALID_OUTPUT = Exercise(
    "last_valid_output", lambda outputs, lengths: outputs[torch.arange(len(lengths)), lengths - 1], "last",
    axis_names={"last": ("sequence", "unit")}, mistakes=_last_valid_mistakes, gradients=False,
    error_hints={"IndexError": "an index equal to a sequence's length is one past its end: the last real "
                               "output of a sequence of length L is at index L - 1 (step L)"},
    success=("the fixed X: the golden h at each sequence's last step, for lengths [3, 2] and [2, 1]",
             f"{{random_cases}} random batches: the final state of lstm_lab's LSTM run with lengths (masked), "
             "which matches torch.nn.LSTM on packed sequences"),
    cases=_last_valid_output_cases)
check_last_valid_output = checker(LAST_VALID_OUTPUT, """``last_valid_output(outputs, lengths) -> (N, H)``: outputs
    (N, T, H) batch-first (the assignment), or (T, N, H) with ``batch_first=False`` (notebook 07), lengths (N,).""")


# ================================================================ bidirectional RNN
# the bidirectional exercises hand out lstm_lab's one-direction layer; its reverse=True is the pairing they ask for
# (exercises/04 hands it out wrapped in the notebook's own rnn_layer)
_ONE_DIRECTION = ("lstm_lab.runners.run_layer(reverse=False)", "rnn_layer")
_BI_SIZES = [(5, 2, 3, 4), (4, 3, 2, 2), (6, 1, 4, 3)]  # (steps, batch, input, hidden)


def _bidirectional_rnn(x, forward, backward):  # from zero states, [forward, backward]: (output, h_n)
    return run_stack("RNN", x, None, [[forward, backward]])


def _bidirectional_lstm(x, forward, backward):  # the LSTM exercise returns the output alone
    return run_stack("LSTM", x, None, [[forward, backward]])[0]


def _paired_wrongly(kind: str):
    """The mistakes of pairing two directions of ``kind``: the output's, and for the RNN exercise h_n's."""
    def mistakes(case: Case) -> dict:
        x, wf, wb = case.args
        (fwd, h_f), (read_backwards, h_b) = run_layer(kind, x, None, wf), run_layer(kind, x.flip(0), None, wb)
        bwd = read_backwards.flip(0)  # read_backwards is in reading order: step T-1 first
        outputs = {
            "the backward outputs are still in reading order (last step first): flip them back, so that output[t] "
            "pairs the forward and the backward state of step t": torch.cat([fwd, read_backwards], -1),
            "the backward direction read the sequence from the start: reverse the input before running it":
                torch.cat([fwd, run_layer(kind, x, None, wb)[0]], -1),
            "the halves of output are swapped: torch puts [forward, backward], forward first":
                torch.cat([bwd, fwd], -1),
            f"both directions use {case.names[1]}":
                torch.cat([fwd, run_layer(kind, x.flip(0), None, wf)[0].flip(0)], -1),
            "the two directions are concatenated along time (dim 0): concatenate the features, dim -1":
                torch.cat([fwd, bwd], 0),
            "the two directions are concatenated along the batch (dim 1): concatenate the features, dim -1":
                torch.cat([fwd, bwd], 1)}
        if kind != "RNN":
            return outputs
        return {**{message: (output, None) for message, output in outputs.items()},
                "the rows of h_n are swapped: h_n[0] is the forward direction's final state, h_n[1] the backward one's":
                    (None, torch.stack([h_b, h_f])),
                "h_n's backward row should be the backward direction's final state, after it has read x_0: that is "
                "output[0, :, H:], not output[-1, :, H:]": (None, torch.stack([h_f, bwd[-1]])),
                "h_n should stack the two final states, shape (2, batch, H), not concatenate them":
                    (None, torch.cat([h_f, h_b], -1))}
    return mistakes


def _bidirectional_rnn_cases(seed: int = 0, random_cases: int = 2) -> list[Case]:
    names = ("x", "weights_fwd", "weights_bwd")
    golden = fixtures.golden()["birnn"]
    cases = [Case("the fixed X (seed 001's weights in both directions)",
                  (fixtures.fixed_x().unsqueeze(1), fixtures.rnn_weights(), fixtures.rnn_weights()),
                  (golden["output"].unsqueeze(1), golden["h_n"].unsqueeze(1)), names)]
    return cases + _two_directions(seeded(600 + seed), random_cases, seed, names, 1, 0.5)


def _two_directions(gen, count: int, seed: int, names: tuple, blocks: int, scale: float) -> list[Case]:
    """Random cases of a bidirectional layer: x (T, B, D) and each direction's weights (``blocks`` gate blocks;
    the recurrent matrix and the biases drawn at ``scale``)."""
    def draw(T, B, D, H):
        return randn(gen, T, B, D), *(_layer_weights(gen, blocks * H, D, H, 1.0, scale, scale) for _ in "fb")
    return _random_cases(count, _BI_SIZES, seed, names, draw, ("steps", "batch", "input size", "hidden size"))


BIDIRECTIONAL_RNN = Exercise(
    "bidirectional_rnn", _bidirectional_rnn, ("output", "h_n"), allowed=_ONE_DIRECTION,
    axis_names={"output": ("step", "batch", "unit"), "h_n": ("direction", "batch", "unit")},
    time_axis={"output": 0}, mistakes=_paired_wrongly("RNN"),
    success=(f"the fixed X: torch.nn.RNN(bidirectional=True)'s golden numbers, to within {ATOL:g}",
             f"{{random_cases}} random batches: lstm_lab's bidirectional run (checked against torch.nn.RNN)",
             "gradients with respect to x and both directions' weights: autograd through lstm_lab"),
    cases=_bidirectional_rnn_cases)
check_bidirectional_rnn = checker(BIDIRECTIONAL_RNN, """``bidirectional_rnn(x, weights_fwd, weights_bwd) -> (output,
    h_n)``: x (T, B, D), output (T, B, 2H) = [forward, backward] at each step, h_n (2, B, H), zero initial states.""")


# ================================================================ RNN step, backwards (notebook 09)
def _rnn_backward_reference(dh, x, h_prev, h, weight_ih, weight_hh):
    g = bptt.rnn_step_backward(dh, x, h_prev, h, weight_ih, weight_hh)
    return g.dx, g.dh_prev, g.weight_ih, g.weight_hh, g.bias


def _rnn_backward_mistakes(case: Case) -> dict:
    dh, x, h_prev, h, w_ih, w_hh = case.args
    pre = torch.atanh(h)
    return {
        "the gradient must pass through tanh first: dpre = dh * (1 - h**2)":
            lambda: _rnn_backward_reference(dh / (1 - h * h), x, h_prev, h, w_ih, w_hh),
        "tanh'(pre) = 1 - tanh(pre)**2 = 1 - h**2, not 1 - pre**2":
            lambda: _rnn_backward_reference(dh * (1 - pre * pre) / (1 - h * h), x, h_prev, h, w_ih, w_hh),
    }


def _rnn_backward_args(x, h_prev, weights, dh) -> tuple:  # the backward step's arguments, h computed forward
    return dh, x, h_prev, rnn_cell_trace(x, h_prev, **weights).h, weights["weight_ih"], weights["weight_hh"]


def _rnn_step_backward_cases(seed: int = 0, random_cases: int = 1) -> list[Case]:
    names = ("dh", "x", "h_prev", "h", "weight_ih", "weight_hh")
    gen = seeded(700 + seed)
    fixed = _rnn_backward_args(fixtures.fixed_x()[1], fixtures.golden()["rnn"]["h"][0], fixtures.rnn_weights(),
                               randn(gen, 2))

    def draw(B, D, H):  # the weights, x, h_prev, then dh
        weights = _layer_weights(gen, H, D, H, hh=0.3)
        return _rnn_backward_args(randn(gen, B, D), torch.tanh(randn(gen, B, H)), weights, randn(gen, B, H))
    return [Case("the fixed X at x[1] (one sample, after h for x[0])", fixed, None, names),
            *_random_cases(random_cases, _RNN_SIZES, seed, names, draw)]


RNN_STEP_BACKWARD = Exercise(
    "rnn_step_backward", _rnn_backward_reference, ("dx", "dh_prev", "dweight_ih", "dweight_hh", "dbias"),
    axis_names=_BACKWARD_AXES, mistakes=_rnn_backward_mistakes, gradients=False, matmul_advice=BACKWARD_MATMUL,
    success=(f"{{cases}} steps (one sample of the fixed X, then batches): every gradient equals "
             f"lstm_lab.bptt.rnn_step_backward (itself checked against autograd) to within {ATOL:g}",),
    cases=_rnn_step_backward_cases)
check_rnn_step_backward = checker(RNN_STEP_BACKWARD, """``rnn_step_backward(dh, x, h_prev, h, weight_ih, weight_hh)
    -> (dx, dh_prev, dW_ih, dW_hh, db)`` for one sample (1-D) or a batch (2-D, a row per sample).""")


# ================================================================ GRU step (notebook 12)
def _gru_mistakes(case: Case) -> dict:
    x, h, w_ih, w_hh, b_ih, b_hh = case.args
    step = gru_cell_trace(x, h, w_ih, w_hh, b_ih, b_hh)

    def reset_before_matmul():  # the GRU of Cho et al.: r multiplies h before W_hn
        n = torch.tanh(step.pre_ih.chunk(3, -1)[2] + (step.r * h) @ w_hh.chunk(3)[2].T + b_hh.chunk(3)[2])
        return (1 - step.z) * n + step.z * h

    return {
        "z weighs the OLD state in torch: h = (1 - z) * n + z * h_prev": lambda: step.z * step.n + (1 - step.z) * h,
        "torch applies r to (W_hn h + b_hn) as a whole, after the matmul: n = tanh(W_in x + b_in + r * (W_hn h + "
        "b_hn))": reset_before_matmul,
        "torch's gate blocks are r, z, n in that order (reset first, then update)":
            lambda: gru_cell(x, h, *(torch.cat([t.chunk(3)[k] for k in (1, 0, 2)]) for t in (w_ih, w_hh, b_ih, b_hh))),
    }


def _gru_step_cases(seed: int = 0, random_cases: int = 1) -> list[Case]:
    names, golden = ("x", "h_prev", *_FUSED), fixtures.golden()["gru"]["h"]
    gen, fixed = seeded(800 + seed), (fixtures.fixed_x()[1], golden[0], *fixtures.gru_weights().values())
    return [Case("the fixed X at x[1] (one sample, after h for x[0])", fixed, golden[1], names),
            *_random_cases(random_cases, _RNN_SIZES, seed, names, lambda B, D, H: (
                randn(gen, B, D), torch.tanh(randn(gen, B, H)), *_layer_weights(gen, 3 * H, D, H).values()))]


GRU_STEP = Exercise(
    "gru_step", gru_cell, "h_t", axis_names={"h_t": ("batch", "unit")}, mistakes=_gru_mistakes,
    state_args=(1,), batch_args=(0, 1),
    error_hints={"ValueError": "if it is the gate blocks that did not unpack: they lie along the last axis, "
                               ".chunk(3, dim=-1). Without dim, chunk splits axis 0, which in a batch is the "
                               "examples (notebook 12's gru_step takes one sample only)"},
    gate_blocks=dict.fromkeys(_FUSED, "rzn"),
    success=(f"the fixed X at x[1]: torch.nn.GRU's golden numbers, to within {ATOL:g}",
             f"{{random_cases}} random batch(es): lstm_lab.gru_cell (itself checked against torch.nn.GRUCell)",
             "gradients with respect to every argument: autograd through lstm_lab.gru_cell"),
    cases=_gru_step_cases)
check_gru_step = checker(GRU_STEP, """``gru_step(x, h_prev, weight_ih, weight_hh, bias_ih, bias_hh) -> h``: one GRU
    step in torch's layout (gate blocks r, z, n; ``b_hn`` inside the reset product), for one sample or a batch.""")


# ================================================================ bidirectional LSTM layer (notebook 06)
BIDIRECTIONAL_LAYER = Exercise(
    "bidirectional_layer", _bidirectional_lstm, "output",
    axis_names={"output": ("step", "batch", "unit")}, time_axis={"output": 0},
    mistakes=_paired_wrongly("LSTM"), allowed=_ONE_DIRECTION,  # the exercise is the pairing
    success=(f"{{cases}} random batches: lstm_lab's bidirectional LSTM layer (checked against "
             f"torch.nn.LSTM(bidirectional=True)), to within {ATOL:g}",
             "gradients with respect to the inputs and both directions' weights"),
    cases=lambda seed=0, random_cases=2: _two_directions(seeded(900 + seed), max(random_cases, 1), seed,
                                                         ("inputs", "forward_weights", "backward_weights"), 4, 1.0))
check_bidirectional_layer = checker(BIDIRECTIONAL_LAYER, """``bidirectional_layer(inputs (T, B, D), forward_weights,
    backward_weights)`` -> ``output (T, B, 2H)`` of one bidirectional torch.nn.LSTM layer (zero initial states),
    built from ``lstm_lab.run_layer``.""")
