"""Per-gate <-> fused conversions and other conventions: exact round trips, same LSTM step."""

import pytest
import torch

from lstm_lab import fixtures, layouts, lstm_cell
from lstm_lab.errors import ShapeError

F64 = torch.float64


def random_lstm(hidden=3, inputs=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    return {
        "weight_ih": torch.randn(4 * hidden, inputs, generator=g, dtype=F64),
        "weight_hh": torch.randn(4 * hidden, hidden, generator=g, dtype=F64),
        "bias_ih": torch.randn(4 * hidden, generator=g, dtype=F64),
        "bias_hh": torch.randn(4 * hidden, generator=g, dtype=F64),
    }


def test_split_then_fuse_is_exact_with_two_biases():
    w = random_lstm()
    back = layouts.fuse_gates(layouts.split_gates(**w, two_biases=True))
    for k in w:
        assert torch.equal(back[k], w[k]), k


@pytest.mark.parametrize("transposed", [False, True])
def test_split_blocks_are_torch_gate_order(transposed):
    w = random_lstm(hidden=2)
    per_gate = layouts.split_gates(**w, transposed=transposed)
    for k, gate in enumerate("ifgo"):
        block = w["weight_ih"][2 * k: 2 * k + 2]
        assert torch.equal(per_gate[f"W_x{gate}"], block.t() if transposed else block)
        assert torch.equal(per_gate[f"b_{gate}"], w["bias_ih"][2 * k: 2 * k + 2] + w["bias_hh"][2 * k: 2 * k + 2])
    assert torch.equal(layouts.fuse_gates(per_gate, transposed=transposed)["weight_hh"], w["weight_hh"])


def test_seed_names_with_c_for_the_candidate_are_accepted():
    g = fixtures.lstm_gate_weights()
    seed_style = {k.replace("g", "c") if k[-1] == "g" else k: v for k, v in g.items()}
    assert "W_xc" in seed_style
    assert torch.equal(layouts.fuse_gates(seed_style)["weight_ih"], fixtures.lstm_weights()["weight_ih"])


def test_fuse_gates_reports_missing_and_mismatched_gates():
    g = fixtures.lstm_gate_weights()
    del g["W_xo"]
    with pytest.raises(KeyError, match="missing W_xo"):
        layouts.fuse_gates(g)
    g = fixtures.lstm_gate_weights()
    g["W_hf"] = g["W_hf"][:1]
    with pytest.raises(ShapeError, match=r"the four W_h\? tensors should share one shape, got .*W_hf \(1, 2\)"):
        layouts.fuse_gates(g)
    with pytest.raises(KeyError, match="unexpected name 'W_xq'"):
        layouts.fuse_gates({"W_xq": torch.zeros(2, 3)})


def test_reorder_gates_moves_whole_blocks():
    t = torch.arange(8.0)  # blocks of 2: i=[0,1] f=[2,3] g=[4,5] o=[6,7]
    assert reorder_gates_list(t, "ifgo", "ifog") == [0, 1, 2, 3, 6, 7, 4, 5]
    assert reorder_gates_list(t, "ifgo", "iofc") == [0, 1, 6, 7, 2, 3, 4, 5]
    assert reorder_gates_list(t, "ifgo", "figo") == [2, 3, 0, 1, 4, 5, 6, 7]


def reorder_gates_list(t, a, b):
    return layouts.reorder_gates(t, a, b).int().tolist()


@pytest.mark.parametrize("order", ["ifg", "iffo", "ifgx", 4])
def test_reorder_gates_rejects_bad_orders(order):
    with pytest.raises((ValueError, TypeError), match="gate order"):
        layouts.reorder_gates(torch.zeros(8), "ifgo", order)


def test_reorder_gates_rejects_sizes_that_are_not_four_blocks():
    with pytest.raises(ShapeError, match="6 is not a multiple of 4"):
        layouts.reorder_gates(torch.zeros(6), "ifgo", "ifog")


def _step_in(convention, params, x, h, c):
    """The LSTM step the way each convention writes it (independent of lstm_lab's cell)."""
    if convention in ("cs231n", "keras"):
        wx, wh, b = (params["Wx"], params["Wh"], params["b"]) if convention == "cs231n" else (
            params["kernel"], params["recurrent_kernel"], params["bias"])
        a = x @ wx + h @ wh + b
    elif convention == "onnx":
        hidden = params["R"].shape[-1]
        a = x @ params["W"][0].T + h @ params["R"][0].T + params["B"][0, :4 * hidden] + params["B"][0, 4 * hidden:]
    else:  # torch, seed002: x W^T
        names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh") if convention == "torch" else ("W_x", "W_h", "b_x", "b_h")
        a = x @ params[names[0]].T + h @ params[names[1]].T + params[names[2]] + params[names[3]]
    blocks = dict(zip(layouts.CONVENTIONS[convention].replace("c", "g"), a.chunk(4, -1)))
    i, f, g, o = blocks["i"].sigmoid(), blocks["f"].sigmoid(), blocks["g"].tanh(), blocks["o"].sigmoid()
    c_next = f * c + i * g
    return o * c_next.tanh(), c_next


@pytest.mark.parametrize("convention", list(layouts.CONVENTIONS))
def test_each_convention_computes_the_same_step(convention):
    w = random_lstm()
    g = torch.Generator().manual_seed(1)
    x, h, c = (torch.randn(2, n, generator=g, dtype=F64) for n in (4, 3, 3))
    params = layouts.to_convention(w, convention)
    h_conv, c_conv = _step_in(convention, params, x, h, c)
    cell = torch.nn.LSTMCell(4, 3, dtype=F64).requires_grad_(False)
    for name, value in w.items():
        getattr(cell, name).copy_(value)
    h_torch, c_torch = cell(x, (h, c))
    torch.testing.assert_close(h_conv, h_torch, atol=1e-12, rtol=0)
    torch.testing.assert_close(c_conv, c_torch, atol=1e-12, rtol=0)
    back = layouts.from_convention(params, convention)
    h_back, c_back = lstm_cell(x, (h, c), **back)
    torch.testing.assert_close(h_back, h_torch, atol=1e-12, rtol=0)


@pytest.mark.parametrize("convention", ["torch", "onnx", "seed002"])
def test_two_bias_conventions_round_trip_exactly(convention):
    w = random_lstm()
    back = layouts.from_convention(layouts.to_convention(w, convention), convention)
    for k in w:
        assert torch.equal(back[k], w[k]), k


def test_a_mixed_up_chunk_order_gives_wrong_numbers():
    """Reading torch weights as if they were f, i, g, o (seed 002's order) changes the result."""
    w = fixtures.lstm_weights(bias=True)
    x = fixtures.fixed_x()[:1]
    right = lstm_cell(x, None, **w)
    misread = {k: layouts.reorder_gates(v, "figo", "ifgo") for k, v in w.items()}
    wrong = lstm_cell(x, None, **misread)
    assert not torch.allclose(wrong[0], right[0], atol=1e-3)


def test_unknown_convention():
    with pytest.raises(ValueError, match="unknown convention 'pytorch'; expected one of torch, cs231n, keras, onnx, seed002"):
        layouts.to_convention(random_lstm(), "pytorch")
    with pytest.raises(KeyError, match=r"from_convention\('cs231n'\): missing Wh"):
        layouts.from_convention({"Wx": torch.zeros(3, 8), "b": torch.zeros(8)}, "cs231n")
