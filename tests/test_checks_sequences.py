"""The exercise checks of notebooks 04-07 accept right answers and name the mistakes they know.

Right answers are written here independently of the checks' references (plain tensor code or
torch.nn); each planted mistake must produce a failing Feedback whose text names it.
"""

import math

import pytest
import torch
import torch.nn.functional as F

from lstm_lab import run_layer
from lstm_lab.checks import ExerciseFailed
from lstm_lab.checks import sequences as checks


def passes(feedback):
    assert feedback, str(feedback)
    assert str(feedback).startswith("✓")
    feedback.assert_ok()


def fails(feedback, *phrases):
    text = str(feedback)
    assert not feedback, text
    assert text.startswith("✗")
    for phrase in phrases:
        assert phrase in text, f"{phrase!r} not in:\n{text}"
    with pytest.raises(ExerciseFailed):
        feedback.assert_ok()


def not_implemented(*args):
    raise NotImplementedError


def returns_none(*args):
    return None


# ================================================================ notebook 04
def test_parameter_count_right():
    passes(checks.check_parameter_count(lambda D, H: 4 * (H * D + H * H + 2 * H), kind="LSTM"))
    gru = checks.check_parameter_count(lambda D, H: 3 * (H * D + H * H + 2 * H), kind="GRU")
    assert gru and "matches torch.nn.GRU for three sizes" in str(gru)  # the kind it was checked against, not LSTM


@pytest.mark.parametrize("count, phrase", [
    (lambda D, H: 4 * (H * D + H * H + H), "one bias per gate"),
    (lambda D, H: 4 * (H * D + H * H), "no biases"),
    (lambda D, H: H * D + H * H + 2 * H, "four gates"),
    (lambda D, H: 4 * (H * D + D * D + 2 * H), "hidden_size x hidden_size"),
    (lambda D, H: 4.0 * (H * D + H * H + 2 * H), "whole number"),
    (lambda D, H: 12345, "got 12345, expected 56"),
    (not_implemented, "not implemented yet"),
])
def test_parameter_count_mistakes(count, phrase):
    fails(checks.check_parameter_count(count, kind="LSTM"), phrase)


def test_forget_bias_right():
    passes(checks.check_forget_bias_for_0_9(math.log(9)))
    passes(checks.check_forget_bias_for_0_9(torch.tensor(2.1972)))


@pytest.mark.parametrize("value, phrase", [
    (0.9, "0.9 is the gate's value"),
    (-math.log(9), "sign is flipped"),
    (math.atanh(0.9), "inverted tanh"),
    (1.0, "the bias: got 1.0000, expected 2.1972"),
    ("two", "the bias should be a tensor of numbers, got a str"),
    ([1.0, 2.0], "the bias has shape (2,), expected ()"),
])
def test_forget_bias_mistakes(value, phrase):
    fails(checks.check_forget_bias_for_0_9(value), phrase)


def lstm_step(x, h, c, p, *, typo=False, swap=False, no_tanh=False, sigmoid_candidate=False):
    """A per-gate LSTM step written for this test, with mistakes to switch on."""
    def pre(gate, h_matrix=None):
        return x @ p[f"W_x{gate}"].T + h @ p[h_matrix or f"W_h{gate}"].T + p[f"b_{gate}"]
    i = torch.sigmoid(pre("f" if swap else "i", "W_hf" if typo else None))
    f = torch.sigmoid(pre("i" if swap else "f"))
    g = (torch.sigmoid if sigmoid_candidate else torch.tanh)(pre("g"))
    o = torch.sigmoid(pre("o"))
    c_new = f * c + i * g
    h_new = o * (c_new if no_tanh else torch.tanh(c_new))
    return h_new, c_new


def test_per_gate_step_right():
    passes(checks.check_lstm_step_per_gate(lstm_step))


@pytest.mark.parametrize("student, phrases", [
    (lambda x, h, c, p: lstm_step(x, h, c, p, typo=True), ["random batch", "W_hf", "seed 003"]),
    (lambda x, h, c, p: lstm_step(x, h, c, p, swap=True), ["fixed X, step 1", "input and forget gates are swapped"]),
    (lambda x, h, c, p: lstm_step(x, h, c, p)[::-1], ["you returned (c, h)"]),
    (lambda x, h, c, p: lstm_step(x, h, c, p, no_tanh=True),
     ["c_new is right and h_new is not: look at the output gate o", "batch 0, unit"]),
    (lambda x, h, c, p: lstm_step(x, h, c, p, sigmoid_candidate=True), ["f ⊙ c_{t-1} is right", "the candidate g is off"]),
    (lambda x, h, c, p: lstm_step(x, h, c, p)[0], ["it should return (h_new, c_new)"]),
    (lambda x, h, c, p: x @ p["W_xi"], ["raised RuntimeError", "x @ p[\"W_xi\"]"]),
    (not_implemented, ["not implemented yet"]),
])
def test_per_gate_step_mistakes(student, phrases):
    fails(checks.check_lstm_step_per_gate(student), *phrases)


def test_per_gate_step_says_when_only_the_recurrent_part_is_wrong():
    def recurrent_sign_flipped(x, h, c, p):
        return lstm_step(x, -h, c, p)
    fails(checks.check_lstm_step_per_gate(recurrent_sign_flipped), "on fixed X, step 2:",
          "with the state set to zero your answer is right: the mistake is in the recurrent part")


def test_per_gate_step_does_not_let_the_student_change_the_fixtures():
    def vandal(x, h, c, p):
        for value in p.values():
            value.zero_()
        return lstm_step(x, h, c, p)
    checks.check_lstm_step_per_gate(vandal)
    passes(checks.check_lstm_step_per_gate(lstm_step))


# ================================================================ notebook 05
def fuse(per_gate, order="ifgo"):
    return (torch.cat([per_gate[f"W_x{g}"] for g in order]), torch.cat([per_gate[f"W_h{g}"] for g in order]))


def test_fuse_right():
    passes(checks.check_fuse(fuse))
    passes(checks.check_fuse(lambda p: dict(zip(("weight_ih", "weight_hh"), fuse(p)))))


@pytest.mark.parametrize("student, phrases", [
    (lambda p: fuse(p, "figo"), ["order f, i, g, o (seed 002's order)", "torch's order is i, f, g, o"]),
    (lambda p: fuse(p, "ifog"), ["CS231n"]),
    (lambda p: tuple(w.T for w in fuse(p)), ["weight_ih has shape (3, 8), expected (8, 3): it looks transposed", "row per gate unit"]),
    (lambda p: fuse(p)[0], ["it should return (weight_ih, weight_hh), got a tensor of shape (8, 3)"]),
    (lambda p: (fuse(p)[0], fuse(p)[0]), ["weight_hh", "shape (8, 3), expected (8, 2)"]),
    (returns_none, ["it returned None: did the function forget to `return` (weight_ih, weight_hh)?"]),
])
def test_fuse_mistakes(student, phrases):
    fails(checks.check_fuse(student), *phrases)


def test_input_projection_right_in_any_single_product():
    passes(checks.check_input_projection(lambda X, W, b_ih, b_hh: X @ W.T + b_ih + b_hh))
    passes(checks.check_input_projection(lambda X, W, b_ih, b_hh: F.linear(X, W, b_ih + b_hh)))
    passes(checks.check_input_projection(lambda X, W, b_ih, b_hh: torch.einsum("tbd,gd->tbg", X, W) + b_ih + b_hh))


@pytest.mark.parametrize("student, phrases", [
    (lambda X, W, b_ih, b_hh: X @ W.T + b_ih, ["bias_hh is missing"]),
    (lambda X, W, b_ih, b_hh: X @ W.T + b_hh, ["bias_ih is missing"]),
    (lambda X, W, b_ih, b_hh: X @ W.T, ["both biases are missing"]),
    (lambda X, W, b_ih, b_hh: torch.stack([x @ W.T for x in X]) + b_ih + b_hh,
     ["numbers are right, but it took 5 matrix products"]),
    (lambda X, W, b_ih, b_hh: X @ W.T + b_ih + b_hh + 1e-3, ["step 1 (index 0), batch 0, unit 0"]),
    (lambda X, W, b_ih, b_hh: X[0] @ W.T + b_ih + b_hh, ["shape (2, 16), expected (5, 2, 16)"]),
    (lambda X, W, b_ih, b_hh: X @ W + b_ih, ["raised RuntimeError"]),
])
def test_input_projection_mistakes(student, phrases):
    fails(checks.check_input_projection(student), *phrases)


def fused_step(x, state, w_ih, w_hh, b_ih, b_hh, order="ifgo"):
    h, c = state
    blocks = dict(zip(order, (x @ w_ih.T + b_ih + h @ w_hh.T + b_hh).chunk(4, -1)))
    i, f, o = (torch.sigmoid(blocks[k]) for k in "ifo")
    g = torch.tanh(blocks["g"])
    c = f * c + i * g
    return o * torch.tanh(c), c


def test_fused_step_right():
    passes(checks.check_fused_step(fused_step))


@pytest.mark.parametrize("student, phrases", [
    (lambda *a: fused_step(*a, order="figo"), ["the order f, i, g, o (seed 002's order"]),
    (lambda *a: fused_step(*a, order="ifog"), ["the order i, f, o, g (CS231n's order)"]),
    (lambda *a: fused_step(*a)[1], ["(h_t, c_t)"]),
    (lambda *a: (fused_step(*a)[0], fused_step(*a)[1] * 2), ["c_t:", "batch 0, unit 0"]),
])
def test_fused_step_mistakes(student, phrases):
    fails(checks.check_fused_step(student), *phrases)


# ================================================================ notebook 06
def test_h_n_index_right():
    passes(checks.check_h_n_index(lambda layer, direction, num_layers, dirs: layer * dirs + direction))


@pytest.mark.parametrize("student, phrases", [
    (lambda layer, d, n, dirs: layer + d,
     ["on layer 1, direction 0 of 2 layer(s) x 2 direction(s):\n     row: got 1, expected 2",
      "seed 002's h_n[layer + 1]"]),
    (lambda layer, d, n, dirs: d * n + layer, ["all forward layers first"]),
    (lambda layer, d, n, dirs: float(layer * dirs + d), ["whole number"]),
    (lambda layer, d, n, dirs: layer * 2 + d, ["on layer 1, direction 0 of 2 layer(s) x 1 direction(s):\n     row: got 2, expected 1"]),
])
def test_h_n_index_mistakes(student, phrases):
    fails(checks.check_h_n_index(student), *phrases)


def test_h_n_index_layout_is_torch_s():
    """The check's formula, against torch.nn.LSTM itself: which row of h_n is which run."""
    torch.manual_seed(0)
    model = torch.nn.LSTM(3, 2, num_layers=3, bidirectional=True, dtype=torch.float64)
    x = torch.randn(4, 1, 3, dtype=torch.float64)
    _, (h_n, c_n) = model(x)
    layer_input = x
    for layer in range(3):
        outs = []
        for direction in range(2):
            suffix = f"_l{layer}" + ("_reverse" if direction else "")
            weights = {name.split("_l")[0]: getattr(model, name) for name in model._flat_weights_names
                       if name.endswith(suffix)}
            zeros = (torch.zeros(1, 2, dtype=torch.float64),) * 2
            out, (h, _) = run_layer("LSTM", layer_input, zeros, weights, reverse=direction == 1)
            torch.testing.assert_close(h_n[layer * 2 + direction], h, atol=1e-10, rtol=0)
            outs.append(out)
        layer_input = torch.cat(outs, -1)


def layer_input_size(layer, input_size, hidden_size, bidirectional, proj_size):
    return input_size if layer == 0 else (proj_size or hidden_size) * (2 if bidirectional else 1)


def test_layer_input_size_right():
    passes(checks.check_layer_input_size(layer_input_size))


@pytest.mark.parametrize("student, phrases", [
    (lambda layer, d, h, bi, p: d if layer == 0 else (p or h), ["bidirectional=True", "both directions", "seed 002"]),
    (lambda layer, d, h, bi, p: d if layer == 0 else h * (2 if bi else 1), ["proj_size=3", "projected"]),
    (lambda layer, d, h, bi, p: (p or h) * (2 if bi else 1), ["layer 0", "reads the input itself"]),
])
def test_layer_input_size_mistakes(student, phrases):
    fails(checks.check_layer_input_size(student), *phrases)


def bidirectional_layer(inputs, forward, backward, *, flip_back=True, swap=False, flip_input=True):
    B, H = inputs.shape[1], forward["weight_hh"].shape[1]
    zeros = (inputs.new_zeros(B, H), inputs.new_zeros(B, H))
    fwd, _ = run_layer("LSTM", inputs, zeros, forward)
    bwd, _ = run_layer("LSTM", inputs.flip(0) if flip_input else inputs, zeros, backward)
    if flip_back:
        bwd = bwd.flip(0)
    return torch.cat([bwd, fwd] if swap else [fwd, bwd], -1)


def test_bidirectional_layer_right():
    # (run_layer's reverse=True is the pairing the exercise asks for: test_checks_shortcuts refuses it)
    passes(checks.check_bidirectional_layer(bidirectional_layer))


@pytest.mark.parametrize("kwargs, phrases", [
    (dict(flip_back=False), ["reading order", "flip them back"]),
    (dict(swap=True), ["halves of output are swapped"]),
    (dict(flip_input=False, flip_back=False), ["read the sequence from the start"]),
])
def test_bidirectional_layer_mistakes(kwargs, phrases):
    fails(checks.check_bidirectional_layer(lambda x, f, b: bidirectional_layer(x, f, b, **kwargs)), *phrases)


def test_bidirectional_layer_other_mistake_says_which_number():
    fails(checks.check_bidirectional_layer(lambda x, f, b: bidirectional_layer(x, f, b) * 1.01), "step 1 (index 0), batch 0")


# ================================================================ notebook 07
def test_length_mask_right():
    passes(checks.check_length_mask(lambda lengths, T: torch.arange(T).unsqueeze(1) < lengths))
    passes(checks.check_length_mask(lambda lengths, T: (torch.arange(T).unsqueeze(1) < lengths).float()))


@pytest.mark.parametrize("student, phrases", [
    (lambda lengths, T: torch.arange(T).unsqueeze(1) <= lengths, ["one step too many", "t < length"]),
    (lambda lengths, T: torch.arange(T) < lengths.unsqueeze(1), ["transposed"]),
    (lambda lengths, T: torch.arange(int(lengths.max())).unsqueeze(1) < lengths,
     ["on lengths [1, 4] and max_len 6:", "shape (4, 2), expected (6, 2)"]),
])
def test_length_mask_mistakes(student, phrases):
    fails(checks.check_length_mask(student), *phrases)


def test_last_valid_output_right():
    passes(checks.check_last_valid_output(lambda out, lengths: out[lengths - 1, torch.arange(out.shape[1])],
                                          batch_first=False))


@pytest.mark.parametrize("student, phrases", [
    (lambda out, lengths: out[lengths, torch.arange(out.shape[1])], ["IndexError", "one past its end", "L - 1"]),
    (lambda out, lengths: out[-1], ["that is the last step of the padded tensor"]),
    (lambda out, lengths: out[lengths - 1, torch.arange(out.shape[1])] * 1.01, ["sequence 0, unit 0"]),
    (lambda out, lengths: out[lengths - 1], ["output[lengths - 1] takes every length for every sequence"]),
    (lambda out, lengths: out[torch.arange(out.shape[1]), lengths - 1], ["the axes are swapped", "time-major"]),
])
def test_last_valid_output_mistakes(student, phrases):
    """Notebook 07's exercise is the assignment's check, time-major: the same engine and messages."""
    fails(checks.check_last_valid_output(student, batch_first=False), *phrases)


def test_off_by_one_without_an_index_error_is_named():
    """If the batch has room after its longest sequence, the off-by-one gives numbers, not an error."""
    def off_by_one_but_safe(out, lengths):
        if int(lengths.max()) >= out.shape[0]:  # dodge the IndexError where a sequence fills the batch
            return out[lengths - 1, torch.arange(out.shape[1])]
        return out[lengths, torch.arange(out.shape[1])]

    fails(checks.check_last_valid_output(off_by_one_but_safe, batch_first=False), "one step past the end", "src_len")


def test_reverse_final_right():
    passes(checks.check_reverse_final(lambda out, lengths, H: out[0, :, H:]))


@pytest.mark.parametrize("student, phrases", [
    (lambda out, lengths, H: out[lengths - 1, torch.arange(out.shape[1]), H:], ["where the forward direction ends"]),
    (lambda out, lengths, H: out[-1, :, H:], ["last padded step"]),
    (lambda out, lengths, H: out[0, :, :H], ["forward direction's half"]),
    (returns_none, ["None"]),
])
def test_reverse_final_mistakes(student, phrases):
    fails(checks.check_reverse_final(student), *phrases)


def test_checks_leave_the_global_random_stream_alone():
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    checks.check_last_valid_output(lambda out, lengths: out[lengths - 1, torch.arange(out.shape[1])], batch_first=False)
    checks.check_reverse_final(lambda out, lengths, H: out[0, :, H:])
    torch.testing.assert_close(torch.rand(3), expected)


def test_a_value_check_tells_a_complex_answer_that_it_is_complex():
    def complex_projection(X, W, b_ih, b_hh):
        return (X @ W.T + b_ih + b_hh).to(torch.complex128)

    fails(checks.check_input_projection(complex_projection), "is a complex tensor")
