"""Backpropagation through time by hand (lstm_lab.bptt) against autograd, torch.nn and finite differences.

Every expected gradient here comes from torch's autograd (through torch.nn's modules or through
plain tensor arithmetic written in this file), or from central differences, never from bptt.
"""

import pytest
import torch

from lstm_lab import ShapeError, bptt, cells, fixtures, lstm_function
from lstm_lab.cells import lstm_cell_trace, lstm_update
from lstm_lab.checks import bptt as checks
from lstm_lab.cells import input_projection

F64 = torch.float64
ATOL = 1e-10


def randn(*shape, dtype=F64):
    return torch.randn(*shape, dtype=dtype)


def module_weights(module, suffix="_l0"):
    return {name: getattr(module, name + suffix).detach().clone() for name in
            ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}


def close(a, b, atol=ATOL):
    assert a.shape == b.shape, (a.shape, b.shape)
    assert torch.allclose(a, b, atol=atol, rtol=0), (a - b).abs().max().item()


# ---------------------------------------------------------------- one RNN step
@pytest.mark.parametrize("batch", [None, 4])
@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_rnn_step_backward_matches_autograd(batch, nonlinearity):
    lead = () if batch is None else (batch,)
    w_ih, w_hh = randn(5, 3).requires_grad_(), randn(5, 5).requires_grad_()
    b_ih, b_hh = randn(5).requires_grad_(), randn(5).requires_grad_()
    x, h_prev = randn(*lead, 3).requires_grad_(), randn(*lead, 5).requires_grad_()
    act = torch.tanh if nonlinearity == "tanh" else torch.relu
    h = act(x @ w_ih.T + b_ih + h_prev @ w_hh.T + b_hh)  # torch's own autograd, not lstm_lab's cells
    dh = randn(*lead, 5)
    (h * dh).sum().backward()
    got = bptt.rnn_step_backward(dh, x.detach(), h_prev.detach(), h.detach(), w_ih.detach(), w_hh.detach(),
                                 nonlinearity)
    close(got.dx, x.grad)
    close(got.dh_prev, h_prev.grad)
    close(got.weight_ih, w_ih.grad)
    close(got.weight_hh, w_hh.grad)
    close(got.bias, b_ih.grad)
    close(got.bias, b_hh.grad)


def test_rnn_step_on_the_fixed_x_by_hand():
    """Step 0 of the fixed X with L = h_1[0] + h_1[1]: dpre = 1 - h², then dW_ih = dpre ⊗ x_1."""
    w = fixtures.rnn_weights()
    x = fixtures.fixed_x()[0]
    h = fixtures.golden()["rnn"]["h"][0]  # 0.9866, 0.9051 from torch.nn
    got = bptt.rnn_step_backward(torch.ones(2, dtype=F64), x, torch.zeros(2, dtype=F64), h, w["weight_ih"],
                                 w["weight_hh"])
    dpre = [1 - h[0].item() ** 2, 1 - h[1].item() ** 2]
    for unit in range(2):
        assert got.bias[unit].item() == pytest.approx(dpre[unit], abs=1e-12)
        for k, x_k in enumerate((1.0, 2.0, 3.0)):
            assert got.weight_ih[unit, k].item() == pytest.approx(dpre[unit] * x_k, abs=1e-12)
    # W_ih = [[-1, 0, .5], [1, 0, -.5]]: dx_k = sum over units of dpre_u * W_ih[u, k]
    assert got.dx.tolist() == pytest.approx([-dpre[0] + dpre[1], 0.0, 0.5 * dpre[0] - 0.5 * dpre[1]], abs=1e-12)
    assert torch.equal(got.weight_hh, torch.zeros(2, 2, dtype=F64))  # h_0 = 0: nothing to learn from it


def test_rnn_step_backward_rejects_bad_shapes_and_nonlinearity():
    w = fixtures.rnn_weights()
    x, h = fixtures.fixed_x()[0], torch.zeros(2, dtype=F64)
    with pytest.raises(ShapeError, match=r"dh should have shape \(2,\), got \(3,\)"):
        bptt.rnn_step_backward(torch.ones(3, dtype=F64), x, h, h, w["weight_ih"], w["weight_hh"])
    with pytest.raises(ShapeError, match=r"x should have shape \(3,\), got \(2,\)"):
        bptt.rnn_step_backward(h, h, h, h, w["weight_ih"], w["weight_hh"])
    with pytest.raises(ValueError, match="Unknown nonlinearity 'sigmoid'"):
        bptt.rnn_step_backward(h, x, h, h, w["weight_ih"], w["weight_hh"], "sigmoid")
    with pytest.raises(TypeError, match="dtype torch.float32"):
        bptt.rnn_step_backward(h.float(), x, h, h, w["weight_ih"], w["weight_hh"])


# ---------------------------------------------------------------- one LSTM step
def autograd_lstm_step(x, h_prev, c_prev, w_ih, w_hh, b_ih, b_hh):
    """The LSTM equations typed out once more, so autograd has an independent graph to differentiate."""
    pre = x @ w_ih.T + b_ih + h_prev @ w_hh.T + b_hh
    a_i, a_f, a_g, a_o = pre.chunk(4, -1)
    i, f, g, o = torch.sigmoid(a_i), torch.sigmoid(a_f), torch.tanh(a_g), torch.sigmoid(a_o)
    for t in (i, f, g, o):
        t.retain_grad()
    c = f * c_prev + i * g
    c.retain_grad()
    return (i, f, g, o), c, o * torch.tanh(c)


@pytest.mark.parametrize("batch", [None, 3])
def test_lstm_step_backward_matches_autograd_gate_by_gate(batch):
    lead = () if batch is None else (batch,)
    H, D = 4, 3
    w_ih, w_hh = randn(4 * H, D).requires_grad_(), randn(4 * H, H).requires_grad_()
    b_ih, b_hh = randn(4 * H).requires_grad_(), randn(4 * H).requires_grad_()
    x, h_prev, c_prev = (randn(*lead, n).requires_grad_() for n in (D, H, H))
    gates, c, h = autograd_lstm_step(x, h_prev, c_prev, w_ih, w_hh, b_ih, b_hh)
    dh, dc = randn(*lead, H), randn(*lead, H)  # dc: what step t+1 sends back to c_t
    ((h * dh).sum() + (c * dc).sum()).backward()

    step = lstm_cell_trace(x.detach(), (h_prev.detach(), c_prev.detach()), w_ih.detach(), w_hh.detach(),
                           b_ih.detach(), b_hh.detach())
    got = bptt.lstm_step_backward(dh, dc, x.detach(), h_prev.detach(), c_prev.detach(), step, w_ih.detach(),
                                  w_hh.detach())
    for name, gate in zip(("di", "df", "dg", "do"), gates):
        close(getattr(got, name), gate.grad)
    close(got.dc, c.grad)
    close(got.dx, x.grad)
    close(got.dh_prev, h_prev.grad)
    close(got.dc_prev, c_prev.grad)
    close(got.weight_ih, w_ih.grad)
    close(got.weight_hh, w_hh.grad)
    close(got.bias, b_ih.grad)
    close(got.bias, b_hh.grad)


def test_lstm_step_backward_rejects_bad_input():
    w = fixtures.lstm_weights()
    x, z = fixtures.fixed_x()[0], torch.zeros(2, dtype=F64)
    step = lstm_cell_trace(x, (z, z), **w)
    with pytest.raises(ShapeError, match=r"dc should have shape \(2,\), got \(1, 2\)"):
        bptt.lstm_step_backward(z, z.unsqueeze(0), x, z, z, step, w["weight_ih"], w["weight_hh"])
    with pytest.raises(TypeError, match="step should be the LSTMStep"):
        bptt.lstm_step_backward(z, z, x, z, z, (step.h, step.c), w["weight_ih"], w["weight_hh"])
    with pytest.raises(ShapeError, match=r"weight_hh should have shape \(4\*hidden_size, hidden_size\)"):
        bptt.lstm_step_backward(z, z, x, z, z, step, w["weight_ih"], w["weight_hh"][:5])


# ---------------------------------------------------------------- whole sequences vs torch.nn
def torch_rnn_grads(module, x, h0, d_outputs, dh_n):
    x, h0 = x.clone().requires_grad_(), h0.clone().requires_grad_()
    module.zero_grad()
    out, h_n = module(x, h0.unsqueeze(0))
    ((out * d_outputs).sum() + (h_n[0] * dh_n).sum()).backward()
    return x.grad, h0.grad


def test_rnn_backward_matches_torch_nn_rnn():
    T, B, D, H = 7, 3, 4, 5
    module = torch.nn.RNN(D, H, dtype=F64)
    x, h0, d_out, dh_n = randn(T, B, D), randn(B, H), randn(T, B, H), randn(B, H)
    dx, dh0 = torch_rnn_grads(module, x, h0, d_out, dh_n)
    got = bptt.rnn_backward(x, h0, module_weights(module), d_out, dh_n)
    close(got.inputs, dx)
    close(got.h0, dh0)
    for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
        close(getattr(got, name), getattr(module, name + "_l0").grad)


def test_rnn_backward_dh_is_the_gradient_of_every_hidden_state():
    """dh[t] = ∂L/∂h_t: restart torch.nn.RNN at h_t on the remaining inputs and ask autograd for ∂L/∂h_t."""
    T, B, D, H = 6, 2, 3, 4
    module = torch.nn.RNN(D, H, dtype=F64)
    x, h0, v = randn(T, B, D), randn(B, H), randn(B, H)
    d_out = torch.zeros(T, B, H, dtype=F64)
    d_out[-1] = v  # L = v · h_T
    got = bptt.rnn_backward(x, h0, module_weights(module), d_out)
    with torch.no_grad():
        states, _ = module(x, h0.unsqueeze(0))
    for t in range(T - 1):
        h_t = states[t].clone().requires_grad_()
        _, h_n = module(x[t + 1:], h_t.unsqueeze(0))
        (h_n[0] * v).sum().backward()
        close(got.dh[t], h_t.grad)
    close(got.dh[-1], v)


def test_lstm_backward_matches_torch_nn_lstm():
    T, B, D, H = 6, 3, 4, 5
    module = torch.nn.LSTM(D, H, dtype=F64)
    x, h0, c0 = randn(T, B, D), randn(B, H), randn(B, H)
    d_out, dh_n, dc_n = randn(T, B, H), randn(B, H), randn(B, H)
    xr, h0r, c0r = (t.clone().requires_grad_() for t in (x, h0, c0))
    out, (h_n, c_n) = module(xr, (h0r.unsqueeze(0), c0r.unsqueeze(0)))
    ((out * d_out).sum() + (h_n[0] * dh_n).sum() + (c_n[0] * dc_n).sum()).backward()
    got = bptt.lstm_backward(x, (h0, c0), module_weights(module), d_out, dh_n, dc_n)
    close(got.inputs, xr.grad)
    close(got.h0, h0r.grad)
    close(got.c0, c0r.grad)
    for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
        close(getattr(got, name), getattr(module, name + "_l0").grad)


def test_lstm_backward_dh_and_dc_are_the_gradients_of_every_state():
    """dh[t], dc[t] = ∂L/∂h_t, ∂L/∂c_t along every path: autograd through torch.nn.LSTMCell, step by step."""
    T, B, D, H = 5, 2, 3, 4
    cell = torch.nn.LSTMCell(D, H, dtype=F64)
    weights = {name: getattr(cell, name).detach().clone() for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
    x, v = randn(T, B, D), randn(B, H)
    zeros = torch.zeros(B, H, dtype=F64)
    d_out = torch.zeros(T, B, H, dtype=F64)
    d_out[-1] = v
    got = bptt.lstm_backward(x, (zeros, zeros), weights, d_out)
    h, c, states = zeros, zeros, []
    for t in range(T):
        h, c = cell(x[t], (h, c))
        h.retain_grad()
        c.retain_grad()
        states.append((h, c))
    (h * v).sum().backward()
    for t, (h_t, c_t) in enumerate(states):
        close(got.dh[t], h_t.grad)
        close(got.dc[t], c_t.grad)


def test_sequence_backward_rejects_bad_input():
    w = fixtures.lstm_weights()
    z = torch.zeros(1, 2, dtype=F64)
    with pytest.raises(ShapeError, match=r"inputs should have shape \(seq_len, batch, 3\)"):
        bptt.lstm_backward(fixtures.fixed_x(), (z, z), w, torch.zeros(3, 1, 2, dtype=F64))
    with pytest.raises(TypeError, match="state should be a pair"):
        bptt.lstm_backward(fixtures.fixed_x().unsqueeze(1), z, w, torch.zeros(3, 1, 2, dtype=F64))
    with pytest.raises(ShapeError, match=r"d_outputs should have shape \(3, 1, 2\), got \(3, 2\)"):
        bptt.rnn_backward(fixtures.fixed_x().unsqueeze(1), z, fixtures.rnn_weights(), torch.zeros(3, 2, dtype=F64))


# ---------------------------------------------------------------- the autograd.Function
def layer_inputs(T=5, B=3, H=4, dtype=F64):
    proj = randn(T, B, 4 * H, dtype=dtype).requires_grad_()
    h0, c0 = randn(B, H, dtype=dtype).requires_grad_(), randn(B, H, dtype=dtype).requires_grad_()
    weight_hh = (randn(4 * H, H, dtype=dtype) / 2).requires_grad_()
    return proj, h0, c0, weight_hh


@pytest.mark.parametrize("used", ["all", "outputs", "h_n", "c_n", "h_n and c_n"])
def test_lstm_layer_passes_gradcheck(used):
    picks = {"all": (0, 1, 2), "outputs": (0,), "h_n": (1,), "c_n": (2,), "h_n and c_n": (1, 2)}[used]

    def fn(*args):
        results = lstm_function.lstm_layer(*args)
        return tuple(results[k] for k in picks)

    assert torch.autograd.gradcheck(fn, layer_inputs(), atol=1e-8)


@pytest.mark.parametrize("used", ["all", "h_n", "c_n"])
def test_lstm_layer_passes_gradgradcheck(used):
    """Under create_graph=True the backward recomputes the layer for autograd: its second derivative is
    right, not a constant (what a plain hand-written backward would silently give)."""
    picks = {"all": (0, 1, 2), "h_n": (1,), "c_n": (2,)}[used]

    def fn(*args):
        results = lstm_function.lstm_layer(*args)
        return tuple(results[k] for k in picks)

    assert torch.autograd.gradgradcheck(fn, layer_inputs(T=3, B=2, H=2), atol=1e-7)


def torch_vs_layer(dtype, bidirectional=True):
    """A 2-layer LSTM run through lstm_layer (proj outside) against torch.nn.LSTM: outputs and grads."""
    T, B, D, H = 6, 3, 4, 5
    torch.manual_seed(1)
    ref = torch.nn.LSTM(D, H, num_layers=2, bidirectional=bidirectional, dtype=dtype)
    x = randn(T, B, D, dtype=dtype)
    out_ref, (h_ref, c_ref) = ref(x)
    loss_ref = out_ref.pow(2).sum() + h_ref.sum() + (c_ref * 0.5).sum()
    grads_ref = torch.autograd.grad(loss_ref, list(ref.parameters()))

    layer_input, finals_h, finals_c = x, [], []
    for layer in range(2):
        outs = []
        for direction in range(2 if bidirectional else 1):
            w = {name: getattr(ref, f"{name}_l{layer}" + ("_reverse" if direction else ""))
                 for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
            seq = layer_input.flip(0) if direction else layer_input
            zeros = torch.zeros(B, H, dtype=dtype)
            out, h_n, c_n = lstm_function.lstm_layer(input_projection("LSTM", seq, w), zeros, zeros, w["weight_hh"])
            outs.append(out.flip(0) if direction else out)
            finals_h.append(h_n)
            finals_c.append(c_n)
        layer_input = torch.cat(outs, -1)
    h_ours, c_ours = torch.stack(finals_h), torch.stack(finals_c)
    loss = layer_input.pow(2).sum() + h_ours.sum() + (c_ours * 0.5).sum()
    grads = torch.autograd.grad(loss, list(ref.parameters()))
    return (out_ref, h_ref, c_ref, grads_ref), (layer_input, h_ours, c_ours, grads)


@pytest.mark.parametrize("dtype, atol", [(torch.float64, 1e-10), (torch.float32, 1e-5)])
def test_lstm_layer_matches_torch_nn_stacked_bidirectional(dtype, atol):
    (out_r, h_r, c_r, g_r), (out, h, c, g) = torch_vs_layer(dtype)
    close(out, out_r, atol)
    close(h, h_r, atol)
    close(c, c_r, atol)
    for mine, theirs in zip(g, g_r):
        close(mine, theirs, atol)


def test_lstm_layer_without_weight_grad_and_with_one_step():
    proj, h0, c0, w = layer_inputs(T=1)
    w.requires_grad_(False)
    out, h_n, c_n = lstm_function.lstm_layer(proj, h0, c0, w)
    assert torch.equal(out[0], h_n)
    (out.sum() + c_n.sum()).backward()
    assert w.grad is None and proj.grad is not None and h0.grad is not None


def test_lstm_layer_rejects_bad_input():
    proj, h0, c0, w = (t.detach() for t in layer_inputs())
    with pytest.raises(ShapeError, match=r"proj should have shape \(seq_len, batch, 16\) with seq_len >= 1, got \(0, 3, 16\)"):
        lstm_function.lstm_layer(proj[:0], h0, c0, w)
    with pytest.raises(ShapeError, match=r"c0 should have shape \(3, 4\), got \(2, 4\)"):
        lstm_function.lstm_layer(proj, h0, c0[:2], w)
    with pytest.raises(TypeError, match="dtype"):
        lstm_function.lstm_layer(proj.float(), h0, c0, w)


# ---------------------------------------------------------------- numerical gradient
def test_numerical_gradient_of_a_known_function():
    w = randn(3, 2)
    got = bptt.numerical_gradient(lambda: (w ** 3).sum(), w)
    close(got, 3 * w ** 2, atol=1e-8)


def test_lstm_backward_matches_central_differences():
    """Central differences of torch.nn.LSTM's loss, weight by weight, against the hand-written backward."""
    T, B, D, H = 4, 2, 3, 3
    module = torch.nn.LSTM(D, H, dtype=F64)
    weights = module_weights(module)
    x, zeros, d_out = randn(T, B, D), torch.zeros(B, H, dtype=F64), randn(T, B, H)

    def loss():  # reads the current values of `weights`, which numerical_gradient nudges in place
        out, _ = torch.func.functional_call(module, {k + "_l0": v for k, v in weights.items()}, (x,))
        return (out * d_out).sum()

    got = bptt.lstm_backward(x, (zeros, zeros), weights, d_out)
    for name in ("weight_ih", "weight_hh", "bias_ih"):
        close(getattr(got, name), bptt.numerical_gradient(loss, weights[name]), atol=1e-7)


def test_numerical_gradient_refuses_float32():
    with pytest.raises(TypeError, match="float64"):
        bptt.numerical_gradient(lambda: torch.zeros(()), torch.zeros(2))


# ---------------------------------------------------------------- spectral radius
@pytest.mark.parametrize("radius", [0.5, 1.0, 1.7])
def test_orthogonal_with_radius(radius):
    w = bptt.orthogonal_with_radius(6, radius, torch.Generator().manual_seed(0))
    eig = torch.linalg.eigvals(w).abs()
    assert torch.allclose(eig, torch.full_like(eig, radius), atol=1e-12)
    close(w @ w.T, radius ** 2 * torch.eye(6, dtype=F64), atol=1e-12)
    assert bptt.spectral_radius(w) == pytest.approx(radius, abs=1e-12)
    assert torch.equal(w, bptt.orthogonal_with_radius(6, radius, torch.Generator().manual_seed(0)))


def test_spectral_radius_of_a_known_matrix_and_bad_input():
    assert bptt.spectral_radius(torch.tensor([[0.0, -2.0], [2.0, 0.0]])) == pytest.approx(2.0)
    with pytest.raises(ShapeError, match="square matrix"):
        bptt.spectral_radius(torch.zeros(2, 3))
    with pytest.raises(ValueError, match="radius should be positive"):
        bptt.orthogonal_with_radius(3, 0.0)


def test_gradient_shrinks_by_the_radius_per_step_in_the_linear_regime():
    H, T = 6, 30
    for radius in (0.8, 1.0, 1.25):
        w = {"weight_ih": randn(H, 2) * 1e-9,
             "weight_hh": bptt.orthogonal_with_radius(H, radius, torch.Generator().manual_seed(1))}
        d_out = torch.zeros(T, 1, H, dtype=F64)
        d_out[-1] = randn(1, H)
        norms = bptt.rnn_backward(randn(T, 1, 2), torch.zeros(1, H, dtype=F64), w, d_out).dh.norm(dim=(1, 2))
        ratios = norms[:-1] / norms[1:]
        assert torch.allclose(ratios, torch.full_like(ratios, radius), rtol=1e-6)


# ---------------------------------------------------------------- exercise checks
# (written out by hand: an answer that calls lstm_lab.bptt or lstm_lab.cells is refused as a shortcut)
def right_rnn(dh, x, h_prev, h, w_ih, w_hh):
    dpre = dh * (1 - h ** 2)
    rows, x_rows, h_rows = dpre.reshape(-1, dpre.shape[-1]), x.reshape(-1, x.shape[-1]), h_prev.reshape(-1, h_prev.shape[-1])
    return dpre @ w_ih, dpre @ w_hh, rows.T @ x_rows, rows.T @ h_rows, rows.sum(0)


def test_check_rnn_step_backward_accepts_a_right_answer_and_names_mistakes():
    assert checks.check_rnn_step_backward(right_rnn)

    def no_slope(dh, x, h_prev, h, w_ih, w_hh):
        return right_rnn(dh / (1 - h ** 2), x, h_prev, h, w_ih, w_hh)

    fb = checks.check_rnn_step_backward(no_slope)
    assert not fb and "pass through tanh" in str(fb)

    def transposed(dh, x, h_prev, h, w_ih, w_hh):
        dx, dh_prev, g_ih, g_hh, b = right_rnn(dh, x, h_prev, h, w_ih, w_hh)
        return dx, dh_prev, g_ih.T, g_hh, b

    fb = checks.check_rnn_step_backward(transposed)
    assert not fb and "weight_ih has shape (3, 2), expected (2, 3): it looks transposed" in str(fb)
    fb = checks.check_rnn_step_backward(lambda *a: None)
    assert not fb and "returned None" in str(fb)


def right_lstm(dh, dc, x, h_prev, c_prev, step, w_ih, w_hh):
    i, f, g, o = step.i, step.f, step.g, step.o
    tanh_c = torch.tanh(step.c)
    dc = dc + dh * o * (1 - tanh_c ** 2)
    dpre = torch.cat([dc * g * i * (1 - i), dc * c_prev * f * (1 - f), dc * i * (1 - g ** 2),
                      dh * tanh_c * o * (1 - o)], dim=-1)
    rows = dpre.reshape(-1, dpre.shape[-1])
    return (dpre @ w_ih, dpre @ w_hh, dc * f, rows.T @ x.reshape(len(rows), -1),
            rows.T @ h_prev.reshape(len(rows), -1), rows.sum(0))


def test_check_lstm_step_backward_names_the_missing_path_and_the_gate():
    assert checks.check_lstm_step_backward(right_lstm)

    def only_direct(dh, dc, x, h_prev, c_prev, s, w_ih, w_hh):
        tanh_c = torch.tanh(s.c)
        dpre = torch.cat([dc * s.g * s.i * (1 - s.i), dc * c_prev * s.f * (1 - s.f), dc * s.i * (1 - s.g ** 2),
                          dh * tanh_c * s.o * (1 - s.o)], -1)
        rows = dpre.reshape(-1, dpre.shape[-1])
        return (dpre @ w_ih, dpre @ w_hh, dc * s.f, rows.T @ x.reshape(len(rows), -1),
                rows.T @ h_prev.reshape(len(rows), -1), rows.sum(0))

    fb = checks.check_lstm_step_backward(only_direct)
    assert not fb and "the path through h_t = o ⊙ tanh(c_t) is missing" in str(fb)
    assert "the gate blocks that differ: input gate i, forget gate f, candidate g" in str(fb)

    def raises(*args):
        raise NotImplementedError

    fb = checks.check_lstm_step_backward(raises)
    assert not fb and "not implemented" in str(fb)


def test_check_clip_and_steps_to_vanish():
    def clip(grads, max_norm):
        total = torch.sqrt(sum((g * g).sum() for g in grads)).item()
        return [g * min(1.0, max_norm / total) for g in grads]

    assert checks.check_clip_grad_norm(clip)
    fb = checks.check_clip_grad_norm(lambda grads, m: [g * min(1.0, m / g.norm().item()) for g in grads])
    assert not fb and "norm of ALL gradients together" in str(fb)
    fb = checks.check_clip_grad_norm(lambda grads, m: [g * m / torch.sqrt(sum((t * t).sum() for t in grads))
                                                       for g in grads])
    assert not fb and "must be left unchanged" in str(fb)
    # 0.9**131 = 1.0e-6 (just above), 0.9**132 = 9.0e-7: the first step below 1e-6 is 132
    assert bptt.steps_to_vanish(0.9, 1e-6) == 132
    assert checks.check_steps_to_vanish(132)
    fb = checks.check_steps_to_vanish(131)
    assert not fb and "says 132" in str(fb)
    assert not checks.check_steps_to_vanish(132.0)


def gru_cell_trace(x, h, w_ih, w_hh, b_ih, b_hh):
    """One GRU step by hand, every gate kept (torch's r, z, n layout)."""
    x_r, x_z, x_n = (x @ w_ih.T + b_ih).chunk(3, -1)
    h_r, h_z, h_n = (h @ w_hh.T + b_hh).chunk(3, -1)
    r, z = torch.sigmoid(x_r + h_r), torch.sigmoid(x_z + h_z)
    n = torch.tanh(x_n + r * h_n)

    class Step:
        pass

    step = Step()
    step.r, step.z, step.n, step.h = r, z, n, (1 - z) * n + z * h
    return step


def test_check_gru_step_names_known_mistakes():
    assert checks.check_gru_step(lambda x, h, *w: gru_cell_trace(x, h, *w).h)

    def z_swapped(x, h, *w):
        s = gru_cell_trace(x, h, *w)
        return s.z * s.n + (1 - s.z) * h

    fb = checks.check_gru_step(z_swapped)
    assert not fb and "z weighs the OLD state" in str(fb)

    def reset_before_matmul(x, h, w_ih, w_hh, b_ih, b_hh):  # the GRU of Cho et al., not torch's
        s = gru_cell_trace(x, h, w_ih, w_hh, b_ih, b_hh)
        w_hn, b_hn = w_hh.chunk(3)[2], b_hh.chunk(3)[2]
        n = torch.tanh((x @ w_ih.T + b_ih).chunk(3, -1)[2] + (s.r * h) @ w_hn.T + b_hn)
        return (1 - s.z) * n + s.z * h

    fb = checks.check_gru_step(reset_before_matmul)
    assert not fb and "after the matmul" in str(fb)
    golden = fixtures.golden()["gru"]
    assert checks.check_gate_by_hand(round(golden["z"][0, 0].item(), 4), "z", 1, 0)  # steps count from 1
    assert checks.check_gate_by_hand(round(golden["n"][2, 1].item(), 4), "n", 3, 1)
    assert not checks.check_gate_by_hand(0.5, "z", 1, 0)
    assert "step should be 1, 2 or 3" in str(checks.check_gate_by_hand(0.5, "z", 0, 0))
    for step in (1.0, True):  # an index that is no int is told so, not used (1.0 - 1 is no index)
        assert "step should be 1, 2 or 3" in str(checks.check_gate_by_hand(0.5, "z", step, 0))


def test_check_parameter_count_and_targets():
    def count(kind, d, h):
        k = {"RNN": 1, "LSTM": 4, "GRU": 3}[kind]
        return k * h * (d + h) + 2 * k * h

    assert checks.check_parameter_count(count)
    fb = checks.check_parameter_count(lambda kind, d, h: count(kind, d, h) - {"RNN": 1, "LSTM": 4, "GRU": 3}[kind] * h)
    assert not fb and "two biases" in str(fb)
    assert checks.check_memory_targets(lambda inputs, n: inputs[0].argmax(-1))
    fb = checks.check_memory_targets(lambda inputs, n: inputs[-1].argmax(-1))
    assert not fb and "the symbol is at step 1 (index 0)" in str(fb)


def test_gate_factors_are_lstm_locals_product_for_a_whole_layer():
    """The layer backward's fast form (lstm_function.gate_factors) gives the numbers of the teaching form,
    lstm_local's h_to_c and partners · slopes, and both are the chain rule's factors written out here."""
    from lstm_lab.lstm_function import gate_factors

    T, B, H = 5, 3, 4
    trace = lstm_function.lstm_layer_forward(randn(T, B, 4 * H), randn(B, H), c0 := randn(B, H), randn(4 * H, H))
    h_to_c, factors = gate_factors(trace, c0)
    local = cells.lstm_local(trace.i, trace.f, trace.g, trace.o, trace.c, cells.previous_states(c0, trace.c))
    close(h_to_c, local.h_to_c, 1e-15)
    close(factors, local.partners * local.slopes, 1e-15)
    i, f, g, o, c = trace.i, trace.f, trace.g, trace.o, trace.c
    c_prev = torch.cat([c0.unsqueeze(0), c[:-1]])
    by_hand = torch.cat([i * (1 - i) * g, f * (1 - f) * c_prev, (1 - g ** 2) * i, o * (1 - o) * torch.tanh(c)], -1)
    close(factors, by_hand, 1e-15)
    close(h_to_c, o * (1 - torch.tanh(c) ** 2), 1e-15)


def test_gate_factors_in_reverse_read_the_next_steps_memory():
    """A layer that ran last step first (reverse=True) started from c_0 at step T; step t read c_{t+1}."""
    from lstm_lab.lstm_function import gate_factors, trace_steps

    T, B, H = 5, 3, 4
    proj, h0, c0, weight_hh = randn(T, B, 4 * H), randn(B, H), randn(B, H), randn(4 * H, H)
    with torch.no_grad():
        trace = trace_steps(proj.clone(), h0, c0, weight_hh, reverse=True)
        flipped = trace_steps(proj.flip(0), h0, c0, weight_hh)  # the same layer, run forward on a reversed copy
    for ours, forward_on_copy in zip(trace[:6], flipped[:6]):  # i, f, g, o, c, h (a fast layer keeps no pre)
        close(ours, forward_on_copy.flip(0), 1e-15)
    h_to_c, factors = gate_factors(trace, c0, reverse=True)
    h_to_c_copy, factors_copy = gate_factors(flipped, c0)
    close(h_to_c, h_to_c_copy.flip(0), 1e-15)
    close(factors, factors_copy.flip(0), 1e-15)


@pytest.mark.parametrize("with_input_weights", [True, False], ids=["inputs", "proj"])
def test_the_layer_function_in_reverse_is_the_forward_layer_on_a_reversed_copy(with_input_weights):
    """LSTMLayerFunction(reverse=True) against the teaching form: run forward over the reversed sequence
    and reverse the outputs back. Values, every gradient, and second derivatives (gradgradcheck)."""
    from lstm_lab.lstm_function import LSTMLayerFunction

    T, B, D, H = 4, 2, 3, 2
    tensors = [randn(T, B, D if with_input_weights else 4 * H), randn(B, H), randn(B, H), randn(4 * H, H)]
    if with_input_weights:
        tensors += [randn(4 * H, D), randn(4 * H)]
    tensors = [t.requires_grad_() for t in tensors]

    def reverse_by_function(*args):
        return LSTMLayerFunction.apply(*args, *([None, None] if len(args) == 4 else []), True)

    def reverse_by_copy(x, h0, c0, weight_hh, weight_ih=None, bias=None):
        proj = x if weight_ih is None else torch.nn.functional.linear(x, weight_ih, bias)
        h, c, hs = h0, c0, []
        for proj_t in proj.flip(0).unbind(0):
            step = lstm_update(proj_t + h @ weight_hh.T, c)
            h, c = step.h, step.c
            hs.append(h)
        return torch.stack(hs).flip(0), h, c

    weights = [randn(T, B, H), randn(B, H), randn(B, H)]
    got, expected = reverse_by_function(*tensors), reverse_by_copy(*tensors)
    for a, b in zip(got, expected):
        close(a, b, 1e-12)
    loss = lambda outs: sum((o * w).sum() for o, w in zip(outs, weights))  # noqa: E731
    for a, b in zip(torch.autograd.grad(loss(got), tensors), torch.autograd.grad(loss(expected), tensors)):
        close(a, b, 1e-12)
    assert torch.autograd.gradgradcheck(lambda *args: loss(reverse_by_function(*args)), tensors)


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_rnn_local_is_the_derivative_of_rnn_update(nonlinearity):
    """The RNN's equation and its derivative sit side by side in cells: the one read off h_t is autograd's."""
    from lstm_lab.cells import rnn_local, rnn_update

    pre = torch.randn(4, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(5)).requires_grad_()
    h = rnn_update(pre, nonlinearity).h
    (autograd,) = torch.autograd.grad(h.sum(), pre)
    assert torch.allclose(rnn_local(h.detach(), nonlinearity), autograd, atol=1e-12, rtol=0)
