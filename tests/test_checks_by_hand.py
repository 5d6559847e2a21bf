"""lstm_lab.checks.by_hand: each check accepts the right answer and names the mistake in a wrong one.

The right answers here come from torch.nn (RNN, LSTM, Linear) loaded with the fixture weights, and
the layouts from torch.cat of the per-gate matrices in the order each library documents — never
from the golden file or the converters the checks themselves read.
"""

import pytest
import torch

from lstm_lab import fixtures
from lstm_lab.checks import by_hand
from lstm_lab.checks.core import ExerciseFailed

STEPS = (1, 2, 3)


# ---------------------------------------------------------------- independent references
def _load(module, weights, suffix=""):
    with torch.no_grad():
        for name, value in weights.items():
            getattr(module, f"{name}_l0{suffix}").copy_(value)
    return module


@pytest.fixture(scope="module")
def rnn_states():
    rnn = _load(torch.nn.RNN(3, 2, dtype=torch.float64), fixtures.rnn_weights())
    with torch.no_grad():
        return rnn(fixtures.fixed_x())[0]


@pytest.fixture(scope="module")
def birnn_output():
    rnn = torch.nn.RNN(3, 2, bidirectional=True, dtype=torch.float64)
    _load(rnn, fixtures.rnn_weights())
    _load(rnn, fixtures.rnn_weights(), "_reverse")
    with torch.no_grad():
        return rnn(fixtures.fixed_x())[0]


def _torch_lstm_steps(bias):
    """(h, c) per step from torch.nn.LSTM, and the gates from torch.nn.LSTMCell's own weights."""
    per_gate = fixtures.lstm_gate_weights(bias=bias)
    order = "ifgo"
    weights = {"weight_ih": torch.cat([per_gate[f"W_x{g}"] for g in order]),
               "weight_hh": torch.cat([per_gate[f"W_h{g}"] for g in order])}
    lstm = torch.nn.LSTM(3, 2, bias=bias, dtype=torch.float64)
    if bias:
        weights["bias_ih"] = torch.cat([per_gate[f"b_{g}"] for g in order])
        weights["bias_hh"] = torch.zeros(8, dtype=torch.float64)
    _load(lstm, weights)
    with torch.no_grad():
        hs = lstm(fixtures.fixed_x())[0]
    # c_t and the gates, recovered with nn.LSTMCell run one step at a time from torch's own states
    cell = torch.nn.LSTMCell(3, 2, bias=bias, dtype=torch.float64)
    with torch.no_grad():
        cell.weight_ih.copy_(weights["weight_ih"])
        cell.weight_hh.copy_(weights["weight_hh"])
        if bias:
            cell.bias_ih.copy_(weights["bias_ih"])
            cell.bias_hh.copy_(weights["bias_hh"])
        h = c = torch.zeros(2, dtype=torch.float64)
        out = {k: [] for k in "ifgohc"}
        for x in fixtures.fixed_x():
            z = x @ weights["weight_ih"].T + h @ weights["weight_hh"].T
            if bias:
                z = z + weights["bias_ih"]
            for k, block in zip("ifgo", z.chunk(4)):
                out[k].append(torch.tanh(block) if k == "g" else torch.sigmoid(block))
            h, c = cell(x, (h, c))
            out["h"].append(h)
            out["c"].append(c)
    out = {k: torch.stack(v) for k, v in out.items()}
    assert torch.allclose(out["h"], hs, atol=1e-12)
    return out


@pytest.fixture(scope="module")
def lstm_ref():
    return {False: _torch_lstm_steps(False), True: _torch_lstm_steps(True)}


def text(feedback):
    return str(feedback)


# ---------------------------------------------------------------- 01: RNN
@pytest.mark.parametrize("step", STEPS)
def test_rnn_hidden_accepts_torch_and_a_four_decimal_answer(step, rnn_states):
    right = rnn_states[step - 1]
    assert by_hand.check_rnn_hidden(step, right)
    assert by_hand.check_rnn_hidden(step, [round(v, 4) for v in right.tolist()])
    assert by_hand.check_rnn_hidden(step, right.unsqueeze(0))  # a batch of one, as seed 001 prints it
    assert by_hand.check_rnn_hidden(step, right.float())


def test_rnn_hidden_names_the_wrong_unit(rnn_states):
    wrong = rnn_states[1].clone()
    wrong[1] += 0.01
    feedback = by_hand.check_rnn_hidden(2, wrong)
    assert not feedback
    assert "unit 1: got" in text(feedback) and "unit 0" not in text(feedback)


def test_rnn_hidden_names_the_wrong_step(rnn_states):
    feedback = by_hand.check_rnn_hidden(2, rnn_states[0])
    assert not feedback
    assert "at step 1, not step 2" in text(feedback)


def test_rnn_hidden_transposed_and_swapped_and_none(rnn_states):
    column = by_hand.check_rnn_hidden(3, rnn_states[2].reshape(2, 1))
    assert not column and "column" in text(column)
    swapped = by_hand.check_rnn_hidden(3, rnn_states[2].flip(0))
    assert not swapped and "swapped" in text(swapped)
    none = by_hand.check_rnn_hidden(3, None)
    assert not none and "None" in text(none)
    words = by_hand.check_rnn_hidden(3, "0.9, 0.9")
    assert not words and "numbers" in text(words)


def test_rnn_hidden_names_the_forgotten_tanh_and_recurrence(rnn_states):
    w = fixtures.rnn_weights()
    x = fixtures.fixed_x()
    pre = x[1] @ w["weight_ih"].T + w["bias_ih"] + rnn_states[0] @ w["weight_hh"].T + w["bias_hh"]
    assert "tanh of it" in text(by_hand.check_rnn_hidden(2, pre))
    no_recurrence = torch.tanh(x[1] @ w["weight_ih"].T + w["bias_ih"] + w["bias_hh"])
    assert "recurrent term" in text(by_hand.check_rnn_hidden(2, no_recurrence))


@pytest.mark.parametrize("step", STEPS)
def test_labelling_probs(step, rnn_states):
    head = torch.nn.Linear(2, 2, dtype=torch.float64)
    weight, bias = fixtures.head("labelling")
    with torch.no_grad():
        head.weight.copy_(weight)
        head.bias.copy_(bias)
        logits = head(rnn_states)
    right = torch.softmax(logits, dim=-1)[step - 1]
    assert by_hand.check_labelling_probs(step, right)
    assert "before the softmax" in text(by_hand.check_labelling_probs(step, logits[step - 1]))
    wrong_axis = torch.softmax(logits, dim=0)[step - 1]
    assert "over the time steps" in text(by_hand.check_labelling_probs(step, wrong_axis))


@pytest.mark.parametrize("step", STEPS)
def test_birnn_output(step, birnn_output):
    assert by_hand.check_birnn_output(step, birnn_output[step - 1])
    swapped_halves = torch.cat([birnn_output[step - 1, 2:], birnn_output[step - 1, :2]])
    assert "halves are swapped" in text(by_hand.check_birnn_output(step, swapped_halves))


def test_birnn_output_names_seed_001s_pairing(birnn_output):
    # seed 001: forward state of step 1 next to the backward state after x_3 only (step 3)
    seed = torch.cat([birnn_output[0, :2], birnn_output[2, 2:]])
    feedback = by_hand.check_birnn_output(1, seed)
    assert not feedback and "seed 001" in text(feedback)
    assert "direction 1, unit 0" in text(feedback)
    # at the middle step the two pairings coincide, so seed 001's answer is right there
    assert by_hand.check_birnn_output(2, torch.cat([birnn_output[1, :2], birnn_output[1, 2:]]))


# ---------------------------------------------------------------- 02: LSTM
@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("step", STEPS)
@pytest.mark.parametrize("gate", "ifgo")
def test_each_gate_accepts_the_right_answer(gate, step, bias, lstm_ref):
    assert by_hand.check_gate(gate, step, lstm_ref[bias][gate][step - 1], bias=bias)


@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("step", STEPS)
def test_cell_and_hidden_state_accept_the_right_answer(step, bias, lstm_ref):
    assert by_hand.check_cell_state(step, lstm_ref[bias]["c"][step - 1], bias=bias)
    assert by_hand.check_hidden_state(step, lstm_ref[bias]["h"][step - 1], bias=bias)


def test_seed_001_step_1_by_hand():
    # the numbers seed 001 printed for step 1 (pre-activations, and h_1 to four decimals)
    pre = {"i": [0.5, -2.5], "f": [2.5, -0.5], "g": [-0.5, -0.5], "o": [4.5, -2.5]}
    for gate, values in pre.items():
        activation = torch.tanh if gate == "g" else torch.sigmoid
        assert by_hand.check_gate(gate, 1, activation(torch.tensor(values, dtype=torch.float64)))
    assert by_hand.check_hidden_state(1, [-0.2769, -0.0027])


def test_forget_gate_names_the_mistakes(lstm_ref):
    ref = lstm_ref[False]
    assert "input gate's value" in text(by_hand.check_forget_gate(2, ref["i"][1]))
    assert "at step 1, not step 2" in text(by_hand.check_forget_gate(2, ref["f"][0]))
    assert "LSTM with bias" in text(by_hand.check_forget_gate(2, lstm_ref[True]["f"][1]))
    assert "without bias" in text(by_hand.check_forget_gate(2, ref["f"][1], bias=True))
    wrong = ref["f"][1].clone()
    wrong[0] = 0.5
    feedback = by_hand.check_forget_gate(2, wrong)
    assert not feedback and "unit 0: got 0.5000" in text(feedback)
    assert "None" in text(by_hand.check_forget_gate(2, None))
    assert "column" in text(by_hand.check_forget_gate(2, ref["f"][1].reshape(2, 1)))
    assert "swapped" in text(by_hand.check_forget_gate(2, ref["f"][1].flip(0)))


def test_gate_names_the_missing_nonlinearity():
    w = fixtures.lstm_gate_weights()
    pre_f = fixtures.fixed_x()[0] @ w["W_xf"].T  # step 1: h_0 = 0
    assert "apply the sigmoid" in text(by_hand.check_forget_gate(1, pre_f))
    assert "uses the sigmoid" in text(by_hand.check_forget_gate(1, torch.tanh(pre_f)))
    pre_g = fixtures.fixed_x()[0] @ w["W_xg"].T
    assert "apply tanh" in text(by_hand.check_gate("g", 1, pre_g))


def test_seed_001_c_in_place_of_h_is_named_from_step_2(lstm_ref):
    w = fixtures.lstm_gate_weights()
    h = c = torch.zeros(2, dtype=torch.float64)
    seed = []
    for x in fixtures.fixed_x():
        # seed 001's cell [57]: W_h* multiplies C_{t-1}
        z = {g: x @ w[f"W_x{g}"].T + c @ w[f"W_h{g}"].T for g in "ifgo"}
        i, f, o = (torch.sigmoid(z[g]) for g in "ifo")
        c = f * c + i * torch.tanh(z["g"])
        h = o * torch.tanh(c)
        seed.append(h)
    assert by_hand.check_hidden_state(1, seed[0])  # harmless at step 1: both states are zero
    for step in (2, 3):
        feedback = by_hand.check_hidden_state(step, seed[step - 1])
        assert not feedback and "c_{t-1} instead of h_{t-1}" in text(feedback)


def test_cell_and_hidden_state_name_the_mistakes(lstm_ref):
    ref = lstm_ref[False]
    assert "this is h_t" in text(by_hand.check_cell_state(2, ref["h"][1]))
    assert "f_t * c_{t-1}) is missing" in text(by_hand.check_cell_state(2, ref["i"][1] * ref["g"][1]))
    assert "this is the cell state" in text(by_hand.check_hidden_state(2, ref["c"][1]))
    assert "tanh is missing" in text(by_hand.check_hidden_state(2, ref["o"][1] * ref["c"][1]))


def test_bad_arguments_raise_clear_errors():
    with pytest.raises(ValueError, match="count from 1"):
        by_hand.check_forget_gate(0, [0.0, 0.0])
    with pytest.raises(TypeError, match="step should be an int"):
        by_hand.check_forget_gate(1.0, [0.0, 0.0])
    with pytest.raises(ValueError, match="gate should be one of"):
        by_hand.check_gate("x", 1, [0.0, 0.0])
    with pytest.raises(TypeError, match="bias should be True or False"):
        by_hand.check_gate("f", 1, [0.0, 0.0], bias="yes")
    with pytest.raises(ValueError, match="unknown convention"):
        by_hand.check_input_weights("pytorch", torch.zeros(8, 3))


def test_assert_ok_raises_for_graders(lstm_ref):
    assert by_hand.check_cell_state(3, lstm_ref[False]["c"][2]).assert_ok() is None
    with pytest.raises(ExerciseFailed, match="c_3"):
        by_hand.check_cell_state(3, lstm_ref[False]["c"][1]).assert_ok()


# ---------------------------------------------------------------- 03: layouts
def _blocks(order, bias=False):
    w = fixtures.lstm_gate_weights(bias=bias)
    order = order.replace("c", "g")
    return [w[f"b_{g}"] if bias else w[f"W_x{g}"] for g in order]


def test_input_weights_accept_each_documented_layout():
    assert by_hand.check_input_weights("torch", torch.cat(_blocks("ifgo")))
    assert by_hand.check_input_weights("seed002", torch.cat(_blocks("figo")))
    assert by_hand.check_input_weights("cs231n", torch.cat(_blocks("ifog")).T)
    assert by_hand.check_input_weights("keras", torch.cat(_blocks("ifco")).T)
    assert by_hand.check_input_weights("onnx", torch.cat(_blocks("iofc")).unsqueeze(0))


def test_input_weights_name_the_misplaced_blocks():
    feedback = by_hand.check_input_weights("torch", torch.cat(_blocks("figo")))
    assert not feedback
    assert "block 0 (rows 0-1) holds the forget gate's W_xf; torch expects the input gate's W_xi" in text(feedback)
    assert "block 2" not in text(feedback)  # the blocks in their right place are not blamed
    cs = by_hand.check_input_weights("cs231n", torch.cat(_blocks("ifgo")).T)
    assert "block 2 (columns 4-5) holds the candidate gate's W_xg" in text(cs)


def test_input_weights_transposed_and_onnx_direction_axis():
    feedback = by_hand.check_input_weights("torch", torch.cat(_blocks("ifgo")).T)
    assert not feedback and "row per gate unit" in text(feedback)
    feedback = by_hand.check_input_weights("cs231n", torch.cat(_blocks("ifog")))
    assert not feedback and "column per gate unit" in text(feedback)
    feedback = by_hand.check_input_weights("onnx", torch.cat(_blocks("iofc")))
    assert not feedback and "leading axis" in text(feedback)
    assert "None" in text(by_hand.check_input_weights("keras", None))


def test_input_weights_unknown_block_is_named():
    wrong = torch.cat(_blocks("ifgo"))
    wrong[6:] = 0.0
    feedback = by_hand.check_input_weights("torch", wrong)
    assert not feedback and "block 3 (rows 6-7) matches none" in text(feedback)


def test_bias_layouts():
    assert by_hand.check_bias("keras", torch.cat(_blocks("ifco", bias=True)))
    assert by_hand.check_bias("cs231n", torch.cat(_blocks("ifog", bias=True)))
    onnx = torch.cat([torch.cat(_blocks("iofc", bias=True)), torch.zeros(8, dtype=torch.float64)]).unsqueeze(0)
    assert by_hand.check_bias("onnx", onnx)
    wrong = by_hand.check_bias("cs231n", torch.cat(_blocks("ifgo", bias=True)))
    assert not wrong and "holds the candidate gate's b_g; CS231n expects the output gate's b_o" in text(wrong)
    doubled = torch.cat([torch.cat(_blocks("iofc", bias=True))] * 2).unsqueeze(0)
    assert "should be zeros" in text(by_hand.check_bias("onnx", doubled))
    assert "(1, 16)" in text(by_hand.check_bias("onnx", torch.cat(_blocks("iofc", bias=True))))
