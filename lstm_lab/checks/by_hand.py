"""Value exercises of the by-hand notebooks: the RNN (01), the LSTM (02) and the gate layouts (03), against
``fixtures.golden()`` (float64, from torch.nn), naming the mistakes people make on paper. Steps count from 1 as
in the maths, units from 0 as in Python; a batch of one, (1, H), is accepted for (H,)."""

from __future__ import annotations

from functools import lru_cache

import torch
from torch import Tensor

from .. import fixtures, mistakes
from ..cells import lstm_cell_trace, rnn_cell
from ..gates import GATE_NAMES
from ..layouts import CONVENTIONS, SHAPES, to_convention
from .core import TOLERANCES, Feedback, as_tensor, same, verdict
from .diagnose import check_value

STEPS = len(fixtures.X_VALUES)
H = fixtures.HIDDEN_SIZE
ATOL = TOLERANCES["by hand"]


# ---------------------------------------------------------------- shared machinery
@lru_cache(maxsize=1)
def _golden() -> dict:
    return fixtures.golden()  # read once; the checks never modify these tensors


def _step(step, where: str) -> int:
    if isinstance(step, bool) or not isinstance(step, int):
        raise TypeError(f"{where}: step should be an int (1, 2 or 3), got {type(step).__name__}")
    if not 1 <= step <= STEPS:
        raise ValueError(f"{where}: step should be 1, 2 or 3 (time steps count from 1, like x_1), got {step}")
    return step


def _diagnose(exercise: str, answer, values: Tensor, step: int, what: str, suspects=(), *, axis_names=("unit",),
              reshape=None, note=None) -> Feedback:
    """The engine's value check for a number worked by hand, ``values[step - 1]``: ``suspects`` are pairs of
    explanation and the numbers that mistake gives; another step's ``values`` and two units swapped always are."""
    expected = values[step - 1]
    other_steps = [(f"these are the numbers of {what} at step {k}, not step {step}: check which x_t (and which "
                    f"previous state) you used", values[k - 1]) for k in range(1, STEPS + 1) if k != step]
    swapped = [("the two units are swapped: unit 0 holds unit 1's number and the other way round (a row of a weight "
                "matrix belongs to one unit)", expected.flip(-1))] if expected.shape[-1] == 2 else []
    return check_value(exercise, answer, expected, [*suspects, *other_steps, *swapped], atol=ATOL,
                       axis_names=axis_names, lenient=True, reshape=reshape, note=note)


# ---------------------------------------------------------------- 01: the RNN by hand
@verdict
def check_rnn_hidden(step: int, answer) -> Feedback:
    """The RNN's hidden state h_t at ``step`` (1, 2 or 3)."""
    step, rnn, w = _step(step, "check_rnn_hidden"), _golden()["rnn"], fixtures.rnn_weights()
    x, h_prev = fixtures.fixed_x()[step - 1], torch.zeros(H, dtype=torch.float64) if step == 1 else rnn["h"][step - 2]
    return _diagnose(f"h_{step}", answer, rnn["h"], step, "h_t", [
        ("this is the pre-activation: h_t is tanh of it", rnn["pre"][step - 1]),
        ("the recurrent term W_hh h_{t-1} is missing: h_t depends on the previous state",
         rnn_cell(x, None, **w)),
        ("only one of the two biases is in: torch adds both b_ih and b_hh",
         rnn_cell(x, h_prev, w["weight_ih"], w["weight_hh"], w["bias_ih"])),
        ("the sigmoid was used: this RNN's nonlinearity is tanh", torch.sigmoid(rnn["pre"][step - 1])),
    ])


@verdict
def check_labelling_probs(step: int, answer) -> Feedback:
    """The softmax over the two labels at ``step`` of the sequence-labelling head."""
    step, rnn = _step(step, "check_labelling_probs"), _golden()["rnn"]
    logits = rnn["labelling_logits"]
    return _diagnose(f"step {step} label probabilities", answer, rnn["labelling_probs"], step,
                     "the label probabilities", [
        ("these are the logits, before the softmax", logits[step - 1]),
        ("the softmax ran over the time steps (dim 0): it should run over the labels of one step (dim -1)",
         torch.softmax(logits, dim=0)[step - 1]),
        ("this is the hidden state h_t: the labelling head W_out h_t + b_out comes first, then the softmax",
         rnn["h"][step - 1]),
    ], axis_names=("label",))


@verdict
def check_birnn_output(step: int, answer) -> Feedback:
    """What ``torch.nn.RNN(bidirectional=True)`` puts in ``output`` at ``step``: four numbers,
    the forward state then the backward state of that same step."""
    step, birnn = _step(step, "check_birnn_output"), _golden()["birnn"]
    out, mirror = birnn["output"], STEPS + 1 - step
    return _diagnose(f"bidirectional output at step {step}", answer, out, step, "output", [
        (f"this pairs the forward state of step {step} with the backward state of step {mirror}, as seed 001 "
         f"does; torch pairs the two states of the same step", torch.cat([out[step - 1, :H], out[mirror - 1, H:]])),
        ("this is [h_n[0], h_n[1]], the final state of each direction: output[t] holds the states of step t",
         birnn["h_n"].reshape(-1)),
        ("the halves are swapped: the forward state comes first, then the backward one",
         torch.cat([out[step - 1, H:], out[step - 1, :H]])),
    ], axis_names=("direction", "unit"), reshape=(2, H),
        note="direction 0 is the forward state (output[t, :H]), direction 1 the backward one")


# ---------------------------------------------------------------- 02: the LSTM by hand
_GATE_ALIASES = {"i": "i", "input": "i", "add": "i", "f": "f", "forget": "f", "g": "g", "c": "g",
                 "candidate": "g", "cell": "g", "o": "o", "output": "o"}


def _lstm(bias: bool) -> dict:
    if not isinstance(bias, bool):
        raise TypeError(f"bias should be True or False, got {type(bias).__name__}")
    return _golden()["lstm_bias" if bias else "lstm"]


def _lstm_previous(step: int, bias: bool) -> tuple[Tensor, Tensor]:
    gold, zeros = _lstm(bias), torch.zeros(H, dtype=torch.float64)
    return (zeros, zeros) if step == 1 else (gold["h"][step - 2], gold["c"][step - 2])


def _diagnose_lstm(exercise: str, answer, step: int, bias: bool, quantity: str, what: str, suspects) -> Feedback:
    """``_diagnose`` of an LSTM quantity (a gate's letter, "c" or "h": a field of a traced step), with the mistakes
    that apply to every one after ``suspects``."""
    def traced(bias: bool, h_prev=None):  # the step from the reference's state before it (or another h_{t-1})
        h, c = _lstm_previous(step, bias)
        return getattr(lstm_cell_trace(fixtures.fixed_x()[step - 1], (h if h_prev is None else h_prev, c),
                                       **fixtures.lstm_weights(bias=bias)), quantity)

    c_for_h = mistakes.gates_read_cell_state(fixtures.fixed_x(), fixtures.lstm_weights(bias=bias))[step - 1]
    return _diagnose(exercise, answer, _lstm(bias)[quantity], step, what, [
        *suspects,
        (f"these are the numbers of the LSTM {'without' if bias else 'with'} bias: this exercise is the one "
         f"{'with' if bias else 'without'} bias", traced(not bias)),
        ("the recurrent matrices W_h* multiplied c_{t-1} instead of h_{t-1} (the slip in seed 001's cell [57]): "
         "the gates read the previous hidden state", getattr(c_for_h, quantity)),
        ("the recurrent term W_h* h_{t-1} is missing: every gate reads the previous hidden state too",
         traced(bias, torch.zeros(H, dtype=torch.float64))),
    ])


@verdict
def check_gate(gate: str, step: int, answer, *, bias: bool = False) -> Feedback:
    """One gate's activation at ``step`` for seed 001's LSTM (``bias=True``: our biased variant)."""
    if not isinstance(gate, str) or gate.lower() not in _GATE_ALIASES:
        raise ValueError(f"gate should be one of 'i' (input), 'f' (forget), 'g' (candidate, 'c' in seed 001) "
                         f"or 'o' (output), got {gate!r}")
    letter, step, gold = _GATE_ALIASES[gate.lower()], _step(step, "check_gate"), _lstm(bias)
    name, pre = GATE_NAMES[letter], gold["pre"][step - 1].chunk(4)["ifgo".index(letter)]
    # the candidate is a tanh, the three gates sigmoids: the other function is the slip
    right, wrong, slip = (("tanh", "the sigmoid", torch.sigmoid) if letter == "g" else
                          ("the sigmoid", "tanh", torch.tanh))
    return _diagnose_lstm(f"step {step} {name} gate ({letter}_{step})", answer, step, bias, letter,
                          f"the {name} gate", [
        (f"this is the pre-activation of the {name} gate: apply {right}", pre),
        (f"{wrong} was applied: the {name} gate uses {right}", slip(pre)),
        *[(f"this is the {GATE_NAMES[other]} gate's value: the {name} gate uses W_x{letter} and W_h{letter}",
           gold[other][step - 1]) for other in "ifgo" if other != letter],
    ])


@verdict
def check_forget_gate(step: int, answer, *, bias: bool = False) -> Feedback:
    return check_gate("f", step, answer, bias=bias)


@verdict
def check_cell_state(step: int, answer, *, bias: bool = False) -> Feedback:
    """The cell state c_t = f_t * c_{t-1} + i_t * g_t at ``step``."""
    step, gold = _step(step, "check_cell_state"), _lstm(bias)
    t, (_, c_prev) = step - 1, _lstm_previous(step, bias)
    return _diagnose_lstm(f"c_{step}", answer, step, bias, "c", "c_t", [
        ("this is h_t: the cell state is c_t = f_t * c_{t-1} + i_t * g_t", gold["h"][t]),
        ("the memory kept from c_{t-1} (f_t * c_{t-1}) is missing", gold["i"][t] * gold["g"][t]),
        ("the input gate is missing: what is written is i_t * g_t, not g_t", gold["f"][t] * c_prev + gold["g"][t]),
        ("the forget gate and the input gate are swapped: f_t scales c_{t-1}, i_t scales g_t",
         gold["i"][t] * c_prev + gold["f"][t] * gold["g"][t]),
    ])


@verdict
def check_hidden_state(step: int, answer, *, bias: bool = False) -> Feedback:
    """The hidden state h_t = o_t * tanh(c_t) at ``step``."""
    step, gold = _step(step, "check_hidden_state"), _lstm(bias)
    t = step - 1
    return _diagnose_lstm(f"h_{step}", answer, step, bias, "h", "h_t", [
        ("this is the cell state c_t: h_t = o_t * tanh(c_t)", gold["c"][t]),
        ("the tanh is missing: h_t = o_t * tanh(c_t), not o_t * c_t", gold["o"][t] * gold["c"][t]),
        ("the output gate is missing: h_t = o_t * tanh(c_t)", torch.tanh(gold["c"][t])),
    ])


# ---------------------------------------------------------------- 03: the same weights in other layouts
_DISPLAY = {"torch": "torch", "cs231n": "CS231n", "keras": "Keras", "onnx": "ONNX", "seed002": "seed 002"}


def _layout(convention, answer, tensor: int, bias: bool, what: str, locate, advice) -> Feedback:
    """A layout's tensor as a value exercise (``tensor``: its place in layouts.SHAPES, which lists each convention's
    input matrix, recurrent matrix, (input) bias): ``advice(got, want)`` says what an answer of shape ``got`` gets
    wrong, ``locate(got, expected, convention, what)`` which gate blocks an answer of the right shape holds."""
    if convention not in CONVENTIONS:
        raise ValueError(f"unknown convention {convention!r}; expected one of {', '.join(CONVENTIONS)}")
    name = list(SHAPES[convention])[tensor]
    expected = to_convention(fixtures.lstm_weights(bias=bias), convention)[name]
    one = (lambda t: t[0]) if convention == "onnx" else (lambda t: t)  # ONNX's leading axis: its one direction
    return check_value(f"{_DISPLAY[convention]} {name}", answer, expected, atol=ATOL,
                       advice=lambda got: advice(tuple(got.shape), tuple(expected.shape)),
                       locate=lambda fn, case, got: locate(one(as_tensor(got)), one(expected), convention, what))


def _name_blocks(got: Tensor, expected: Tensor, convention: str, what: str) -> list:
    """For an answer of the right shape with the wrong numbers: which gate each block holds. The expected tensor's
    blocks are the gates' own, in the convention's order, along its axis of 4H numbers (D is 3)."""
    letters, dim = CONVENTIONS[convention].replace("c", "g"), list(expected.shape).index(4 * H)
    kind = "entries" if expected.dim() == 1 else ("rows", "columns")[dim]
    blocks = dict(zip(letters, expected.chunk(4, dim)))
    lines = []
    for k, (mine, theirs) in enumerate(zip(got.chunk(4, dim), expected.chunk(4, dim))):
        if same(mine, theirs, ATOL):
            continue
        found = next((g for g in "ifgo" if same(mine, blocks[g], ATOL)), None)  # the gate whose block it holds
        span = f"block {k} ({kind} {k * H}-{(k + 1) * H - 1})"
        want = f"the {GATE_NAMES[letters[k]]} gate's {what}{letters[k]}"
        lines.append(f"{span} holds the {GATE_NAMES[found]} gate's {what}{found}; {_DISPLAY[convention]} expects "
                     f"{want} there" if found else
                     f"{span} matches none of the four gates' {what}i, {what}f, {what}g, {what}o: expected {want}")
    lines.append(f"{_DISPLAY[convention]}'s gate order is {', '.join(CONVENTIONS[convention])}")
    return lines


@verdict
def check_input_weights(convention: str, answer) -> Feedback:
    """Seed 001's input weights (W_xi, W_xf, W_xg, W_xo) fused the way ``convention`` stores them:
    torch ``weight_ih`` (8, 3), CS231n ``Wx`` (3, 8), Keras ``kernel`` (3, 8), ONNX ``W`` (1, 8, 3),
    seed 002 ``W_x`` (8, 3)."""
    def advice(got: tuple, want: tuple) -> str:
        if got == want[::-1] or (len(want) == 3 and got == want[:0:-1]):
            return (f"{_DISPLAY[convention]} multiplies x @ W, so W has a column per gate unit, (D, 4H)"
                    if want[-1] == 4 * H else
                    f"{_DISPLAY[convention]} stores a row per gate unit, (4H, D), and applies x @ W.T")
        return ("ONNX's W has a leading axis for the direction, (num_directions, 4H, D)"
                if convention == "onnx" and got == want[1:] else "")

    return _layout(convention, answer, 0, False, "W_x", _name_blocks, advice)


@verdict
def check_bias(convention: str, answer) -> Feedback:
    """The biased LSTM's bias (b_i, b_f, b_g, b_o of ``fixtures.lstm_gate_weights(bias=True)``) laid out
    as ``convention`` keeps it: torch ``bias_ih`` (8,), CS231n ``b`` (8,), Keras ``bias`` (8,),
    ONNX ``B`` (1, 16) (input bias then recurrent bias), seed 002 ``b_x`` (8,)."""
    def onnx_blocks(got, expected, convention, what):  # ONNX's B holds two biases
        (mine_x, mine_h), (want_x, want_h) = got.chunk(2), expected.chunk(2)
        lines = []
        if not same(mine_x, want_x, ATOL):
            lines.append("in the input bias (the first 8 numbers):")
            lines += ["  " + line for line in _name_blocks(mine_x, want_x, convention, what)]
        if not same(mine_h, want_h, ATOL):
            lines.append("the recurrent bias (the last 8 numbers) should be zeros: this LSTM keeps its whole "
                         "bias in torch's bias_ih, and bias_hh is zero")
        return lines

    onnx = "ONNX's B is (num_directions, 8H), the input bias then the recurrent bias"
    return _layout(convention, answer, 2, True, "b_", onnx_blocks if convention == "onnx" else _name_blocks,
                   lambda got, want: onnx if convention == "onnx" else "")
