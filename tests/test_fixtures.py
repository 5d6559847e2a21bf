"""The fixed-X golden numbers: equal to torch.nn, to the seeds' printed values, and to lstm_lab."""

import importlib.util
import json
from pathlib import Path

import torch

import lstm_lab
from lstm_lab import fixtures

ROOT = Path(__file__).resolve().parents[1]
G = fixtures.golden()


def _load_generator():
    spec = importlib.util.spec_from_file_location("make_golden", ROOT / "scripts" / "make_golden.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GEN = _load_generator()


def _stored_and_fresh():
    return json.loads(GEN.OUT.read_text()), json.loads(GEN.render(GEN.compute()))


def test_golden_file_is_what_the_generator_computes_from_torch_nn():
    stored, fresh = _stored_and_fresh()
    mismatches = GEN.mismatches(stored, fresh)
    assert not mismatches, "golden.json is stale (run scripts/make_golden.py):\n" + "\n".join(mismatches[:10])


def test_golden_comparison_notices_one_number_moved_by_1e_9():
    stored, fresh = _stored_and_fresh()
    count = len(GEN.mismatches(stored, fresh, atol=float("inf")))  # structure only
    assert count == 0
    edited = json.loads(json.dumps(stored))
    edited["lstm"]["h"][2][1] += 1e-9
    assert GEN.mismatches(edited, fresh) == [f"lstm.h[2][1]: {edited['lstm']['h'][2][1]!r} stored, "
                                                 f"{fresh['lstm']['h'][2][1]!r} computed"]
    edited = json.loads(json.dumps(stored))
    edited["rnn"]["labelling_labels"][0] = 0
    assert len(GEN.mismatches(edited, fresh)) == 1


def test_golden_file_keeps_every_digit():
    """The stored numbers are full float64 (repr round-trips), not rounded for the comparison."""
    stored, _ = _stored_and_fresh()
    h = stored["lstm_bias"]["h"][2][0]
    assert len(repr(h).lstrip("-0.")) >= 15, h


# The numbers seed 001 printed (4 decimals). Typed from the seed, not computed here.
SEED_RNN_H = [[0.9866, 0.9051], [0.0946, 0.9702], [-0.8996, 0.9983]]
SEED_REGRESSION = 0.9983
SEED_LABEL_PROBS = [[0.4796, 0.5204], [0.7059, 0.2941], [0.8697, 0.1303]]
SEED_LABELS = [1, 0, 0]
SEED_BIRNN_FINAL = 2.5000
SEED_LSTM_STEP1_PRE = {"i": [0.5, -2.5], "f": [2.5, -0.5], "g": [-0.5, -0.5], "o": [4.5, -2.5]}
SEED_LSTM_H1 = [-0.2769, -0.0027]


def close4(actual, printed):
    return torch.allclose(actual, torch.tensor(printed, dtype=torch.float64), atol=5e-5, rtol=0)


def test_golden_rnn_matches_what_seed001_printed():
    assert close4(G["rnn"]["h"], SEED_RNN_H)
    assert close4(G["rnn"]["regression"], [SEED_REGRESSION])
    assert close4(G["rnn"]["labelling_probs"], SEED_LABEL_PROBS)
    assert G["rnn"]["labelling_labels"].tolist() == SEED_LABELS
    assert close4(G["birnn"]["model_output"], [SEED_BIRNN_FINAL])


def test_golden_lstm_step1_matches_seed001():
    pre = G["lstm"]["pre"][0]
    for k, gate in enumerate("ifgo"):
        assert close4(pre[2 * k: 2 * k + 2], SEED_LSTM_STEP1_PRE[gate]), gate
    assert close4(G["lstm"]["h"][0], SEED_LSTM_H1)


def test_lstm_lab_reproduces_golden_rnn_and_birnn():
    x, w = fixtures.fixed_x(), fixtures.rnn_weights()
    h, states = None, []
    for x_t in x:
        step = lstm_lab.rnn_cell_trace(x_t, h, **w)
        h = step.h
        states.append(step)
    torch.testing.assert_close(torch.stack([s.h for s in states]), G["rnn"]["h"], atol=1e-12, rtol=0)
    torch.testing.assert_close(torch.stack([s.pre for s in states]), G["rnn"]["pre"], atol=1e-12, rtol=0)
    birnn = lstm_lab.RNN(3, 2, bidirectional=True, dtype=torch.float64)
    birnn.load_state_dict({f"{k}_l0{s}": v for k, v in w.items() for s in ("", "_reverse")})
    output, h_n = birnn(x)
    torch.testing.assert_close(output, G["birnn"]["output"], atol=1e-12, rtol=0)
    torch.testing.assert_close(h_n, G["birnn"]["h_n"], atol=1e-12, rtol=0)


def test_lstm_lab_reproduces_golden_lstm_gates_with_and_without_bias():
    for key, bias in (("lstm", False), ("lstm_bias", True)):
        w, state, steps = fixtures.lstm_weights(bias=bias), None, []
        for x_t in fixtures.fixed_x():
            step = lstm_lab.lstm_cell_trace(x_t, state, **w)
            state = (step.h, step.c)
            steps.append(step)
        for field in ("i", "f", "g", "o", "c", "h", "pre"):
            torch.testing.assert_close(torch.stack([getattr(s, field) for s in steps]), G[key][field],
                                       atol=1e-12, rtol=0, msg=lambda m: f"{key}.{field}: {m}")


def test_lstm_lab_reproduces_golden_gru():
    h, steps = None, []
    for x_t in fixtures.fixed_x():
        step = lstm_lab.gru_cell_trace(x_t, h, **fixtures.gru_weights())
        h = step.h
        steps.append(step)
    for field in ("r", "z", "n", "h"):
        torch.testing.assert_close(torch.stack([getattr(s, field) for s in steps]), G["gru"][field], atol=1e-12, rtol=0)


def test_accessors_return_fresh_tensors():
    a = fixtures.fixed_x()
    a[0, 0] = 100.0
    assert fixtures.fixed_x()[0, 0] == 1.0
    assert fixtures.fixed_x(torch.float32).dtype == torch.float32


def test_seed_weights_as_written_only_work_by_broadcasting():
    """Seed 001's (1, 2) W_hh and (1,) biases give the golden numbers in a broadcast formula."""
    w = fixtures.rnn_weights_as_written()
    assert w["weight_hh"].shape == (1, 2) and w["bias_ih"].shape == (1,)
    h = torch.zeros(1, 2, dtype=torch.float64)
    for t, x_t in enumerate(fixtures.fixed_x()):
        h = torch.tanh(x_t @ w["weight_ih"].T + w["bias_ih"] + h @ w["weight_hh"].T + w["bias_hh"])
        torch.testing.assert_close(h[0], G["rnn"]["h"][t], atol=1e-12, rtol=0)
