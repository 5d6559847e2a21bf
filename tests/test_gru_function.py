"""The GRU layer whose backward is written by hand (lstm_lab.gru_function): its gradients against
central differences and torch.nn, its second derivatives, and that the modules really train through it."""

import pytest
import torch
from torch import nn

import lstm_lab
from lstm_lab.cells import GRULocal
from lstm_lab.gru_function import GRULayerFunction
from lstm_lab.parity import assert_matches_torch, twins

T, B, D, H = 5, 3, 4, 6


def layer_inputs(with_bias=True, T=T, B=B, H=H):
    torch.manual_seed(0)
    proj = torch.randn(T, B, 3 * H, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(B, H, dtype=torch.float64, requires_grad=True)
    weight_hh = (0.5 * torch.randn(3 * H, H, dtype=torch.float64)).requires_grad_()
    bias_hh = torch.randn(3 * H, dtype=torch.float64, requires_grad=True) if with_bias else None
    return proj, h0, weight_hh, bias_hh


@pytest.mark.parametrize("with_bias", [True, False], ids=["bias", "no bias"])
@pytest.mark.parametrize("used", ["both", "outputs", "h_n"])
def test_gru_layer_passes_gradcheck(with_bias, used):
    picks = {"both": (0, 1), "outputs": (0,), "h_n": (1,)}[used]

    def fn(*args):
        results = GRULayerFunction.apply(*args)
        return tuple(results[k] for k in picks)

    assert torch.autograd.gradcheck(fn, layer_inputs(with_bias), atol=1e-8)


def test_gru_layer_passes_gradgradcheck():
    """create_graph=True: the backward recomputes the layer for autograd, so second derivatives are right."""
    assert torch.autograd.gradgradcheck(lambda *a: GRULayerFunction.apply(*a), layer_inputs(T=3, B=2, H=2), atol=1e-7)


def gru_nodes(model, x):
    seen, stack = set(), [model(x)[0].grad_fn]
    while stack:
        node = stack.pop()
        if node is not None and node not in seen:
            seen.add(node)
            stack.extend(child for child, _ in node.next_functions)
    return {type(node).__name__ for node in seen}


@pytest.mark.parametrize("hand_written", [True, False], ids=["hand-written backward", "autograd backward"])
@pytest.mark.parametrize("kwargs", [dict(), dict(num_layers=2, bidirectional=True), dict(bias=False)], ids=str)
def test_gru_trains_like_torch_either_way(kwargs, hand_written):
    ref, ours = twins("GRU", D, H, **kwargs)
    ours.hand_written_backward = hand_written
    x = torch.randn(T, B, D, dtype=torch.float64)
    assert ("GRULayerFunctionBackward" in gru_nodes(ours, x)) == hand_written
    assert_matches_torch(ref, ours, x, torch.randn(ours.num_layers * ours.num_directions, B, H, dtype=torch.float64))


def test_gru_second_derivatives_match_torch():
    """A gradient penalty through a 2-layer bidirectional GRU: torch.nn's second derivatives."""
    ref, ours = twins("GRU", D, H, num_layers=2, bidirectional=True)
    x = torch.randn(T, B, D, dtype=torch.float64)

    def penalty_grads(model):
        x_leaf = x.clone().requires_grad_()
        out, h_n = model(x_leaf)
        (gx,) = torch.autograd.grad(out.sum() + h_n.sum(), (x_leaf,), create_graph=True)
        gx.pow(2).sum().backward()
        return [x_leaf.grad] + [p.grad for p in model.parameters()]

    for expected, got in zip(penalty_grads(ref), penalty_grads(ours), strict=True):
        torch.testing.assert_close(got, expected, atol=1e-10, rtol=1e-10)


def test_gru_float32_matches_torch():
    torch.manual_seed(3)
    ref = nn.GRU(D, H, num_layers=2, bidirectional=True)
    ours = lstm_lab.GRU(D, H, num_layers=2, bidirectional=True)
    ours.load_state_dict(ref.state_dict())
    assert_matches_torch(ref, ours, torch.randn(T, B, D))


def test_gru_layer_keeps_no_input_projection_for_its_backward():
    """As the LSTM's: the runner hands the Function a way to remake proj, so proj (T, B, 3H) is not kept."""
    torch.manual_seed(0)
    weights = {"weight_ih": torch.randn(3 * H, D, requires_grad=True),
               "weight_hh": torch.randn(3 * H, H, requires_grad=True),
               "bias_ih": torch.randn(3 * H, requires_grad=True), "bias_hh": torch.randn(3 * H, requires_grad=True)}
    out, _ = lstm_lab.run_layer("GRU", torch.randn(T, B, D), torch.zeros(B, H), weights)
    assert type(out.grad_fn).__name__ == "GRULayerFunctionBackward"
    kept = [tuple(t.shape) for t in out.grad_fn.saved_tensors if t is not None]
    # one (T, B, 3H) tensor, W_hh h_{t-1} + b_hh, whose n block the backward reads; proj is a placeholder
    assert kept[0] == (0,) and (T, B, H) in kept and kept.count((T, B, 3 * H)) == 1


def test_the_step_derivative_beside_gru_update_is_autograds():
    """cells.gru_local and gru_backward_through_cell (the teaching derivative) against autograd through
    cells.gru_update, and the fast layer backward (gru_layer_backward) against the step derivative in a loop."""
    from lstm_lab.cells import gru_backward_through_cell, gru_local, gru_update, previous_states
    from lstm_lab.gru_function import gru_layer_backward, gru_layer_forward

    torch.manual_seed(0)
    pre_ih, pre_hh = torch.randn(B, 3 * H, dtype=torch.float64), torch.randn(B, 3 * H, dtype=torch.float64)
    h_prev, dh = torch.randn(B, H, dtype=torch.float64), torch.randn(B, H, dtype=torch.float64)
    leaves = [t.clone().requires_grad_() for t in (pre_ih, pre_hh, h_prev)]
    step = gru_update(*leaves)
    auto_ih, auto_hh, auto_h = torch.autograd.grad(step.h, leaves, dh)
    d_ih, d_hh, direct = gru_backward_through_cell(dh, gru_local(step.r, step.z, step.n, pre_hh[:, 2 * H:], h_prev),
                                                   step.r, step.z)
    for ours, theirs in ((d_ih, auto_ih), (d_hh, auto_hh), (direct, auto_h)):
        torch.testing.assert_close(ours, theirs, atol=1e-15, rtol=0)

    proj, h0, weight_hh, bias_hh = (t.detach() for t in layer_inputs())
    d_out = torch.randn(T, B, H, dtype=torch.float64)
    for reverse in (False, True):
        trace = gru_layer_forward(proj, h0, weight_hh, bias_hh, reverse)
        fast_ih, fast_hh, fast_h0 = gru_layer_backward(trace, h0, weight_hh, d_out, None, reverse)
        local = gru_local(trace.r, trace.z, trace.n, trace.pre_hh[..., 2 * H:], previous_states(h0, trace.h, reverse))
        dh = torch.zeros(B, H, dtype=torch.float64)
        for t in range(T) if reverse else reversed(range(T)):
            d_ih, d_hh, direct = gru_backward_through_cell(dh + d_out[t], GRULocal(*(f[t] for f in local)),
                                                           trace.r[t], trace.z[t])
            torch.testing.assert_close(fast_ih[t], d_ih, atol=1e-15, rtol=0)
            torch.testing.assert_close(fast_hh[t], d_hh, atol=1e-15, rtol=0)
            dh = direct + d_hh @ weight_hh
        torch.testing.assert_close(fast_h0, dh, atol=1e-14, rtol=0)
