"""Bad input, one case per row, grouped by the public function that receives it.

Each row calls the function wrongly and names the error it must raise and the words that say what
was expected and what was given. ``test_every_public_function_has_bad_input_cases`` fails when a
public function of the core (``lstm_lab.__all__``, ``runners``, ``layouts``) has no row here, so a
new function arrives with its bad-input tests. (``test_errors.py`` holds more, older cases.)
"""

import inspect
import re

import pytest
import torch
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence

import lstm_lab
from lstm_lab import bptt, fixtures, layouts, runners
from lstm_lab.errors import ShapeError, WeightsKeyError

F64 = torch.float64
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")


def x3(T=3, B=1):
    return fixtures.fixed_x().unsqueeze(1).repeat(1, B, 1)[:T]  # (T, B, 3) float64


def lstm_w():
    return fixtures.lstm_weights(bias=True)  # hidden size 2, input size 3


def pair(B=1, H=2, layers=None):
    shape = (B, H) if layers is None else (layers, B, H)
    return torch.zeros(shape, dtype=F64), torch.zeros(shape, dtype=F64)


def packed(batch_sizes, rows=3):
    return PackedSequence(torch.randn(rows, 3), torch.tensor(batch_sizes, dtype=torch.int64))


def gru_weights():
    torch.manual_seed(0)
    g = lstm_lab.GRU(3, 4)
    return g.weight_ih_l0.detach(), g.weight_hh_l0.detach()


def stacked_weights():
    w = lstm_w()
    return [[w], [{**w, "weight_ih": torch.zeros(8, 2, dtype=F64)}]]


# (what is wrong, call, error type, regex the message must match)
CASES = {
    "LSTM": [  # the module's forward
        ("a hand-made pack with a zero batch size (once a dead kernel)", lambda: lstm_lab.LSTM(3, 4)(packed([2, 0, 1])),
         ValueError, r"LSTM: a PackedSequence's batch_sizes .* should be positive and never increase, got \[2, 0, 1\]"),
        ("a pack whose batch sizes grow", lambda: lstm_lab.LSTM(3, 4)(packed([1, 2])),
         ValueError, r"never increase, got \[1, 2\]"),
        ("a pack with more steps than data", lambda: lstm_lab.LSTM(3, 4)(packed([3, 3])),
         ShapeError, r"data should have sum\(batch_sizes\) = 6 rows .* got data of shape \(3, 3\)"),
        ("a pack with a sequence longer than the data holds", lambda: lstm_lab.LSTM(3, 4)(packed([2, 1, 1, 1])),
         ShapeError, r"sum\(batch_sizes\) = 5 rows"),
        ("a pack with no steps (torch.nn raises IndexError: so do we, a ValueError too)",
         lambda: lstm_lab.LSTM(3, 4)(packed([], rows=0)),
         (IndexError, ValueError), r"^LSTM: a PackedSequence should hold at least one step, got batch_sizes \[\] and "
                                   r"data of shape \(0, 3\); pack_padded_sequence and pack_sequence refuse"),
        ("a pack whose sorted_indices are not a permutation",
         lambda: lstm_lab.LSTM(3, 4)(PackedSequence(torch.randn(3, 3), torch.tensor([2, 1]), torch.tensor([0, 0]))),
         ValueError, r"sorted_indices should be a permutation of 0..1 \(int64\), got \[0, 0\]"),
        ("a pack whose batch_sizes are floats",
         lambda: lstm_lab.LSTM(3, 4)(PackedSequence(torch.randn(3, 3), torch.tensor([2.0, 1.0]))),
         ValueError, r"batch_sizes should be a 1-D int64 tensor on the CPU, got a torch.float32 tensor"),
        ("an empty sequence, without gradients", lambda: lstm_lab.LSTM(3, 4)(torch.randn(0, 2, 3)),
         RuntimeError, r"^Expected sequence length to be larger than 0 in RNN$"),
        ("an empty sequence, with gradients", lambda: lstm_lab.LSTM(3, 4)(torch.randn(0, 2, 3, requires_grad=True)),
         RuntimeError, r"^Expected sequence length to be larger than 0 in RNN$"),
        ("an empty unbatched sequence", lambda: lstm_lab.LSTM(3, 4)(torch.randn(0, 3)),
         RuntimeError, r"^Expected sequence length to be larger than 0 in RNN$"),
        ("three tensors as hx", lambda: lstm_lab.LSTM(3, 4)(torch.randn(5, 2, 3), (torch.zeros(1, 2, 4),) * 3),
         RuntimeError, r"LSTM: hx should be a tuple \(h_0, c_0\), got a tuple of 3"),
        ("one tensor as hx", lambda: lstm_lab.LSTM(3, 4)(torch.randn(5, 2, 3), torch.zeros(1, 2, 4)),
         RuntimeError, r"LSTM: hx should be a tuple \(h_0, c_0\), got a single tensor of shape \(1, 2, 4\)"),
        ("an initial state on another device",
         lambda: lstm_lab.LSTM(3, 4)(torch.randn(5, 2, 3), (torch.zeros(1, 2, 4, device="meta"),) * 2),
         RuntimeError, r"Input and hidden tensors are not at the same device, found input tensor at cpu and hidden "
                       r"tensor at meta"),
    ],
    "RNN": [
        ("an empty sequence", lambda: lstm_lab.RNN(3, 4)(torch.randn(0, 2, 3)),
         RuntimeError, r"^Expected sequence length to be larger than 0 in RNN$"),
        ("a pack with a zero batch size", lambda: lstm_lab.RNN(3, 4)(packed([2, 0, 1])),
         ValueError, r"RNN: a PackedSequence's batch_sizes"),
        ("an initial state on another device",
         lambda: lstm_lab.RNN(3, 4)(torch.randn(5, 2, 3), torch.zeros(1, 2, 4, device="meta")),
         RuntimeError, r"found input tensor at cpu and hidden tensor at meta"),
    ],
    "GRU": [
        ("an empty batch-first sequence", lambda: lstm_lab.GRU(3, 4, batch_first=True)(torch.randn(2, 0, 3)),
         RuntimeError, r"^Expected sequence length to be larger than 0 in RNN$"),
        ("a pack with a zero batch size", lambda: lstm_lab.GRU(3, 4)(packed([2, 0, 1])),
         ValueError, r"GRU: a PackedSequence's batch_sizes"),
        ("an initial state of another dtype",
         lambda: lstm_lab.GRU(3, 4)(torch.randn(5, 2, 3), torch.zeros(1, 2, 4, dtype=F64)),
         TypeError, r"the initial state should have the input's dtype torch.float32 on cpu, got torch.float64"),
    ],
    "LSTMCell": [
        ("a 3-D input", lambda: lstm_lab.LSTMCell(3, 4)(torch.randn(2, 1, 3)),
         ValueError, r"LSTMCell: Expected input to be 1D or 2D, got 3D instead"),
        ("scripted", lambda: torch.jit.script(lstm_lab.LSTMCell(3, 4)),
         RuntimeError, r"lstm_lab.LSTMCell is not TorchScript-able: .* Use torch.compile"),
    ],
    "RNNCell": [
        ("a 3-D hidden state", lambda: lstm_lab.RNNCell(3, 4)(torch.randn(2, 3), torch.zeros(1, 2, 4)),
         ValueError, r"RNNCell: Expected hidden to be 1D or 2D, got 3D instead"),
    ],
    "GRUCell": [
        ("a 3-D hidden state", lambda: lstm_lab.GRUCell(3, 4)(torch.randn(2, 3), torch.zeros(1, 2, 4)),
         ValueError, r"GRUCell: Expected hidden to be 1D or 2D, got 3D instead"),
    ],
    "run_layer": [
        ("a lower-case mode", lambda: runners.run_layer("lstm", x3(), pair(), lstm_w()),
         ValueError, r"run_layer: mode should be one of 'RNN', 'LSTM', 'GRU', got 'lstm' \(upper case: 'LSTM'\)"),
        ("an unknown mode", lambda: runners.run_layer("GRUU", x3(), pair(), lstm_w()),
         ValueError, r"mode should be one of 'RNN', 'LSTM', 'GRU', got 'GRUU'$"),
        ("lengths longer than T", lambda: runners.run_layer("LSTM", x3(), pair(), lstm_w(), lengths=torch.tensor([5])),
         ValueError, r"run_layer: every length should be between 0 and the sequence length: 3 for inputs of shape "
                     r"\(3, 1, 3\) \(seq_len, batch, input_size\), got \[5\]$"),
        ("a negative length", lambda: runners.run_layer("LSTM", x3(), pair(), lstm_w(), lengths=torch.tensor([-1])),
         ValueError, r"between 0 and the sequence length: 3 for inputs of shape \(3, 1, 3\) .*, got \[-1\]$"),
        ("lengths of the wrong batch",
         lambda: runners.run_layer("LSTM", x3(), pair(), lstm_w(), lengths=torch.tensor([2, 1])),
         ShapeError, r"run_layer: lengths should hold one length per sequence: 1 for inputs of shape \(3, 1, 3\) "
                     r"\(seq_len, batch, input_size\), got 2, \[2, 1\]$"),
        ("float lengths", lambda: runners.run_layer("LSTM", x3(), pair(), lstm_w(), lengths=torch.tensor([2.0])),
         TypeError, r"lengths should be a 1-D tensor of ints, one per sequence, got a torch.float32 tensor of shape"),
        ("a single tensor as the LSTM's state", lambda: runners.run_layer("LSTM", x3(), pair()[0], lstm_w()),
         TypeError, r"the LSTM's state should be a pair \(h, c\) of shapes \(1, 2\) and \(1, 2\), got a single tensor "
                    r"of shape \(1, 2\)"),
        ("2-D inputs", lambda: runners.run_layer("LSTM", x3()[:, 0], pair(), lstm_w()),
         ShapeError, r"inputs should be 3-D \(seq_len, batch, input_size\), got shape \(3, 3\); for one unbatched "
                     r"sequence use inputs.unsqueeze\(1\)"),
        ("an empty sequence", lambda: runners.run_layer("LSTM", x3()[:0], pair(), lstm_w()),
         ShapeError, r"Expected sequence length to be larger than 0, got inputs of shape \(0, 1, 3\)"),
        ("weights without weight_hh",
         lambda: runners.run_layer("LSTM", x3(), pair(), {k: v for k, v in lstm_w().items() if k != "weight_hh"}),
         WeightsKeyError, r"missing weight_hh \(given: weight_ih, bias_ih, bias_hh\)"),
        ("weights for another input size", lambda: runners.run_layer("LSTM", x3()[..., :2], pair(), lstm_w()),
         ShapeError, r"weight_ih \(8, 3\) reads 3 features, but the inputs have 2"),
        ("a state of the wrong batch", lambda: runners.run_layer("LSTM", x3(B=2), pair(B=1), lstm_w()),
         ShapeError, r"state\[0\] \(h\) should have shape \(2, 2\), got \(1, 2\)"),
        ("an RNN state on another device",
         lambda: runners.run_layer("RNN", x3(), torch.zeros(1, 2, dtype=F64, device="meta"), fixtures.rnn_weights()),
         RuntimeError, r"found input tensor at cpu and state at meta"),
        ("a nonlinearity for an LSTM", lambda: runners.run_layer("LSTM", x3(), pair(), lstm_w(), nonlinearity="relu"),
         ValueError, r"nonlinearity='relu' is only for the RNN"),
    ],
    "run_stack": [
        ("a layer hook that is not a function",
         lambda: runners.run_stack("LSTM", x3(), None, stacked_weights(), layer="reverse"),
         TypeError, r"run_stack: layer should be a function \(index, direction, inputs, state, weights\) -> "
                    r"\(outputs, final state\), or None, got str"),
        ("hx for fewer layers than the weights",
         lambda: runners.run_stack("LSTM", x3(), pair(layers=1), stacked_weights()),
         ShapeError, r"hx\[0\] \(h\) should have shape \(2, 1, 2\) \(num_layers \* num_directions, batch, hidden\), "
                     r"got \(1, 1, 2\)"),
        ("a second layer reading the wrong width",
         lambda: runners.run_stack("LSTM", x3(), pair(layers=2), [[lstm_w()], [lstm_w()]]),
         ShapeError, r"layer_weights\[1\]\[0\]: weight_ih \(8, 3\) reads 3 features, but the inputs have 2"),
        ("layers with different numbers of directions",
         lambda: runners.run_stack("LSTM", x3(), pair(layers=3), [[lstm_w(), lstm_w()], [lstm_w()]]),
         TypeError, r"layer_weights should be a non-empty list of layers, each a list of one weight dict"),
        ("a lower-case mode", lambda: runners.run_stack("gru", x3(), pair(layers=2), stacked_weights()),
         ValueError, r"run_stack: mode should be one of 'RNN', 'LSTM', 'GRU', got 'gru' \(upper case: 'GRU'\)"),
        ("a single tensor as the LSTM's hx", lambda: runners.run_stack("LSTM", x3(), pair(layers=2)[0], stacked_weights()),
         TypeError, r"the LSTM's hx should be a pair \(h, c\)"),
        ("a dropout above 1", lambda: runners.run_stack("LSTM", x3(), pair(layers=2), stacked_weights(), dropout=2),
         ValueError, r"dropout should be a number in range \[0, 1\], got 2"),
        ("lengths of the wrong batch", lambda: runners.run_stack("LSTM", x3(B=2), None, [[lstm_w()]],
                                                                 lengths=torch.tensor([3, 2, 1])),
         ShapeError, r"run_stack: lengths should hold one length per sequence: 2 for inputs of shape \(3, 2, 3\) "
                     r"\(seq_len, batch, input_size\), got 3, \[3, 2, 1\]$"),
    ],
    "split_gates": [
        ("a GRU's weights", lambda: layouts.split_gates(*gru_weights()),
         ShapeError, r"^split_gates: weight_hh should have shape \(4H, H\) = \(16, 4\) for the hidden size H = 4 it "
                     r"reads, got \(12, 4\): it holds 3 gate blocks of hidden size 4, these look like a GRU's weights "
                     r"\(r, z, n\), but the layouts convert an LSTM's four blocks i, f, g, o \(4H = 16"),
        ("weight_ih for another hidden size", lambda: layouts.split_gates(torch.zeros(12, 3), lstm_w()["weight_hh"]),
         ShapeError, r"^split_gates: weight_ih should have shape \(4H, D\) = \(8, 3\) for the hidden size H = 2 of "
                     r"weight_hh \(8, 2\), got \(12, 3\)$"),
        ("one matrix that is not a tensor", lambda: layouts.split_gates([[1.0]], lstm_w()["weight_hh"]),
         TypeError, r"split_gates: weight_ih should be a torch.Tensor, got list"),
    ],
    "fuse_gates": [
        ("a gate missing", lambda: layouts.fuse_gates({k: v for k, v in layouts.split_gates(
            lstm_w()["weight_ih"], lstm_w()["weight_hh"]).items() if k != "W_xo"}),
         WeightsKeyError, r"fuse_gates: missing W_xo"),
        # the per-gate tensors given are named, not the fused (8, 3) and (8, 2) made of them
        ("recurrent matrices that are not square", lambda: layouts.fuse_gates(
            {f"{p}{g}": torch.zeros(2, 3) for p in ("W_x", "W_h") for g in "ifgo"}),
         ShapeError, r"^fuse_gates: W_h\? should have shape \(H, H\) = \(3, 3\) for the hidden size H = 3 it reads, "
                     r"got \(2, 3\)$"),
        ("biases of another hidden size", lambda: layouts.fuse_gates(
            {**layouts.split_gates(*list(lstm_w().values())), **{f"b_{g}": torch.zeros(3, dtype=F64) for g in "ifgo"}}),
         ShapeError, r"^fuse_gates: b_\? should have shape \(H,\) = \(2,\) for the hidden size H = 2 of W_h\? "
                     r"\(2, 2\), got \(3,\)$"),
    ],
    "to_convention": [
        ("the per-gate dict", lambda: layouts.to_convention(layouts.split_gates(*list(lstm_w().values())), "cs231n"),
         WeightsKeyError, r"missing weight_ih, weight_hh; given: W_xi, .*; these are per-gate tensors: fuse them first"),
        ("an unknown convention", lambda: layouts.to_convention(lstm_w(), "tensorflow"),
         ValueError, r"unknown convention 'tensorflow'; expected one of torch, cs231n"),
        ("a GRU's weights", lambda: layouts.to_convention(dict(zip(("weight_ih", "weight_hh"), gru_weights())), "keras"),
         ShapeError, r"to_convention: weight_hh should have shape \(4H, H\) = \(16, 4\) .*, got \(12, 4\): .* a "
                     r"GRU's weights"),
    ],
    "from_convention": [
        ("the wrong convention's names", lambda: layouts.from_convention(layouts.to_convention(lstm_w(), "keras"), "cs231n"),
         WeightsKeyError, r"from_convention\('cs231n'\): missing Wx, Wh, b; expected Wx, Wh, b"),
        # the convention's own tensors are named, with the shapes given, not torch's made of them
        ("a recurrent matrix of another hidden size", lambda: layouts.from_convention(
            {**layouts.to_convention(lstm_w(), "cs231n"), "Wh": torch.zeros(3, 8, dtype=F64)}, "cs231n"),
         ShapeError, r"^from_convention\('cs231n'\): Wh should have shape \(H, 4H\) = \(3, 12\) for the hidden "
                     r"size H = 3 it reads, got \(3, 8\)$"),
        ("torch's recurrent matrix in cs231n's place", lambda: layouts.from_convention(
            {**layouts.to_convention(lstm_w(), "cs231n"), "Wh": lstm_w()["weight_hh"]}, "cs231n"),
         ShapeError, r"Wh should have shape \(H, 4H\) = \(8, 32\) .*, got \(8, 2\); transposed, \(2, 8\), it would "
                     r"fit$"),
        ("a bias one short", lambda: layouts.from_convention(
            {**layouts.to_convention(lstm_w(), "keras"), "bias": torch.zeros(7, dtype=F64)}, "keras"),
         ShapeError, r"^from_convention\('keras'\): bias should have shape \(4H,\) = \(8,\) for the hidden size "
                     r"H = 2 of recurrent_kernel \(2, 8\), got \(7,\)$"),
        ("a GRU's weights", lambda: layouts.from_convention(
            {"Wx": gru_weights()[0].t(), "Wh": gru_weights()[1].t(), "b": torch.zeros(12)}, "cs231n"),
         ShapeError, r"^from_convention\('cs231n'\): Wh should have shape \(H, 4H\) = \(4, 16\) for the hidden size "
                     r"H = 4 it reads, got \(4, 12\): .* these look like a GRU's weights"),
        ("ONNX weights of two directions", lambda: layouts.from_convention(
            {k: torch.cat([v, v]) for k, v in layouts.to_convention(lstm_w(), "onnx").items()}, "onnx"),
         ShapeError, r"^from_convention\('onnx'\): R should have shape \(1, 4H, H\) = \(1, 8, 2\) .*, got "
                     r"\(2, 8, 2\); the leading 1 is the number of directions, 2 here"),
        ("a bias of another dtype", lambda: layouts.from_convention(
            {**layouts.to_convention(lstm_w(), "seed002"), "b_h": torch.zeros(8)}, "seed002"),
         TypeError, r"^from_convention\('seed002'\): b_h is torch.float32 on cpu, but W_x is torch.float64 on cpu"),
    ],
    "reorder_gates": [
        ("an order naming a gate twice", lambda: layouts.reorder_gates(lstm_w()["weight_ih"], "ifgo", "iifo"),
         ValueError, r"should name each of the gates i, f, g \(or c\), o exactly once, got 'iifo'"),
    ],
    "bptt.rnn_backward": [
        ("weights without weight_ih", lambda: bptt.rnn_backward(x3(), torch.zeros(1, 2, dtype=F64),
                                                                {"weight_hh": torch.eye(2, dtype=F64)},
                                                                torch.zeros(3, 1, 2, dtype=F64)),
         WeightsKeyError, r"rnn_backward: weights should hold weight_ih and weight_hh, missing weight_ih"),
    ],
    "bptt.lstm_backward": [
        ("a single tensor as the state", lambda: bptt.lstm_backward(x3(), torch.zeros(1, 2, dtype=F64), lstm_w(),
                                                                    torch.zeros(3, 1, 2, dtype=F64)),
         TypeError, r"lstm_backward: state should be a pair \(h0, c0\), got Tensor"),
    ],
    "rnn_cell": [
        ("weights of another input size", lambda: lstm_lab.rnn_cell(torch.zeros(1, 2, dtype=F64), None,
                                                                    *fixtures.rnn_weights().values()),
         ShapeError, r"RNNCell: input has inconsistent input_size: got 2 expected 3"),
    ],
    "rnn_cell_trace": [
        ("an unknown nonlinearity", lambda: lstm_lab.rnn_cell_trace(fixtures.fixed_x()[:1], None,
                                                                    *fixtures.rnn_weights().values(), nonlinearity="sigmoid"),
         ValueError, r"Unknown nonlinearity 'sigmoid'. Select from 'tanh' or 'relu'."),
    ],
    "lstm_cell": [
        ("a single tensor as the state", lambda: lstm_lab.lstm_cell(fixtures.fixed_x()[:1], torch.zeros(1, 2, dtype=F64),
                                                                    *lstm_w().values()),
         ShapeError, r"LSTMCell: state should be a pair \(h, c\), got Tensor"),
    ],
    "lstm_cell_trace": [
        ("a cell state of the wrong shape", lambda: lstm_lab.lstm_cell_trace(
            fixtures.fixed_x()[:1], (torch.zeros(1, 2, dtype=F64), torch.zeros(2, dtype=F64)), *lstm_w().values()),
         ShapeError, r"c should have shape \(1, 2\) \(batch, hidden\) to match the input \(1, 3\), got \(2,\)"),
    ],
    "gru_cell": [
        ("an input on another device", lambda: lstm_lab.gru_cell(torch.zeros(1, 3, device="meta"), None,
                                                                 *gru_weights()),
         RuntimeError, r"GRUCell: Input and parameter tensors are not at the same device"),
    ],
    "gru_cell_trace": [
        ("LSTM weights", lambda: lstm_lab.gru_cell_trace(fixtures.fixed_x()[:1], None, *list(lstm_w().values())[:2]),
         ShapeError, r"GRUCell: weight_ih should have 3\*hidden_size rows \(gate blocks r, z, n stacked\), got shape "
                     r"\(8, 3\)"),
    ],
}

ROWS = [(fn, *case) for fn, cases in CASES.items() for case in cases]


@pytest.mark.parametrize("function, what, call, error, message", ROWS, ids=[f"{r[0]}: {r[1]}" for r in ROWS])
def test_bad_input_gets_a_clear_error(function, what, call, error, message):
    with pytest.raises(error) as raised:
        call()
    assert re.search(message, str(raised.value)), f"{function}, {what}: the message was {str(raised.value)!r}"
    # nothing from inside torch or lstm_lab: no matmul, reshape or internal tensor names
    for internal in ("mat1", "shape '[", "is invalid for input of size", "lstm_layer: proj", "KeyError", "index "):
        assert internal not in str(raised.value), f"{function}, {what}: an internal message: {raised.value}"


def _public_functions():
    names = {n for n in lstm_lab.__all__ if inspect.isfunction(getattr(lstm_lab, n))}
    names |= {n for n in lstm_lab.__all__ if inspect.isclass(getattr(lstm_lab, n))
              and issubclass(getattr(lstm_lab, n), torch.nn.Module)}
    for module in (runners, layouts):
        names |= {n for n, obj in vars(module).items() if inspect.isfunction(obj) and obj.__module__ == module.__name__
                  and not n.startswith("_") and (module is layouts or n in runners.__all__)}
    return sorted(names)


def test_every_public_function_has_bad_input_cases():
    # reverse_padded and valid_steps are helpers the runners call after their checks (tested in test_runners)
    missing = [n for n in _public_functions() if n not in CASES and n not in ("reverse_padded", "valid_steps")]
    assert not missing, f"public functions without a bad-input case in tests/test_bad_input.py: {missing}"


def test_a_valid_pack_still_runs_after_the_checks():
    """The pack checks accept what pack_padded_sequence makes (unsorted lengths too)."""
    torch.manual_seed(0)
    ref = torch.nn.LSTM(3, 4)
    ours = lstm_lab.LSTM(3, 4)
    ours.load_state_dict(ref.state_dict())
    pack = pack_padded_sequence(torch.randn(5, 3, 3), torch.tensor([2, 5, 3]), enforce_sorted=False)
    torch.testing.assert_close(ours(pack)[0].data, ref(pack)[0].data, atol=1e-6, rtol=1e-6)


def test_lengths_of_zero_keep_the_initial_state():
    """0 is an allowed length for the runners (the sequence has not started): state h0, outputs zeros."""
    h0 = (torch.full((2, 2), 0.5, dtype=F64), torch.full((2, 2), -0.5, dtype=F64))
    out, (h, c) = runners.run_layer("LSTM", x3(B=2), h0, lstm_w(), lengths=torch.tensor([0, 3]))
    assert torch.equal(h[0], h0[0][0]) and torch.equal(c[0], h0[1][0])
    assert torch.equal(out[:, 0], torch.zeros(3, 2, dtype=F64))
