"""lstm_lab's modules against torch.nn over a grid: outputs, final states and gradients.

Tolerances (lstm_lab.parity): float64 1e-10, float32 1e-5, absolute and relative.
"""

import itertools

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

import lstm_lab
import lstm_lab.loop
from lstm_lab.parity import assert_matches_torch, twins

T, B, D, H, P = 5, 3, 4, 6, 3


def make_pair(mode, dtype, **kwargs):
    """torch.nn's module and ours, from the same seed — and so, test_same_..._initialisation checks,
    the same weights; the other tests also load torch's weights into ours explicitly (twins)."""
    torch.manual_seed(123)
    ref = getattr(nn, mode)(D, H, dtype=dtype, **kwargs)
    torch.manual_seed(123)
    ours = getattr(lstm_lab, mode)(D, H, dtype=dtype, **kwargs)
    return ref, ours


def initial_state(mode, model, batch, dtype, batched=True):
    layers = model.num_layers * (2 if model.bidirectional else 1)
    shape = (layers, batch) if batched else (layers,)
    h = torch.randn(*shape, model.proj_size or model.hidden_size, dtype=dtype)
    if mode != "LSTM":
        return h
    return h, torch.randn(*shape, model.hidden_size, dtype=dtype)


def assert_same(ref_model, our_model, x, hx, dtype, make_input=None):
    assert_matches_torch(ref_model, our_model, x, hx, make_input=make_input)


MODES = ["RNN", "LSTM", "GRU"]
GRID = [
    dict(num_layers=layers, bidirectional=bidi, batch_first=bf, bias=bias)
    for layers, bidi, bf, bias in itertools.product([1, 2, 3], [False, True], [False, True], [True, False])
]


def grid_id(kw):
    return "L{num_layers}-{}-{}-{}".format(
        "bi" if kw["bidirectional"] else "uni", "bf" if kw["batch_first"] else "tf", "bias" if kw["bias"] else "nobias", **kw
    )


@pytest.mark.parametrize("with_h0", [False, True], ids=["h0=None", "h0"])
@pytest.mark.parametrize("kwargs", GRID, ids=grid_id)
@pytest.mark.parametrize("mode", MODES)
def test_parity_float64(mode, kwargs, with_h0):
    ref, ours = make_pair(mode, torch.float64, **kwargs)
    shape = (B, T, D) if kwargs["batch_first"] else (T, B, D)
    x = torch.randn(shape, dtype=torch.float64)
    hx = initial_state(mode, ref, B, torch.float64) if with_h0 else None
    assert_same(ref, ours, x, hx, torch.float64)


@pytest.mark.parametrize("with_h0", [False, True], ids=["h0=None", "h0"])
@pytest.mark.parametrize("kwargs", GRID[::3], ids=grid_id)
def test_parity_lstm_through_plain_autograd(kwargs, with_h0):
    """hand_written_backward=False: the step loop under autograd, the same numbers as torch.nn."""
    ref, ours = make_pair("LSTM", torch.float64, **kwargs)
    ours.hand_written_backward = False
    x = torch.randn((B, T, D) if kwargs["batch_first"] else (T, B, D), dtype=torch.float64)
    assert_same(ref, ours, x, initial_state("LSTM", ref, B, torch.float64) if with_h0 else None, torch.float64)


@pytest.mark.parametrize("kwargs", [dict(num_layers=1), dict(num_layers=2, bidirectional=True),
                                    dict(num_layers=3, bidirectional=True, batch_first=True)], ids=str)
@pytest.mark.parametrize("mode", MODES)
def test_parity_float32(mode, kwargs):
    ref, ours = make_pair(mode, torch.float32, **kwargs)
    x = torch.randn((B, T, D) if kwargs.get("batch_first") else (T, B, D))
    assert_same(ref, ours, x, initial_state(mode, ref, B, torch.float32), torch.float32)


@pytest.mark.parametrize("steps", [T, 2 * lstm_lab.loop.BUFFERED_FROM_STEPS], ids=["short", "long"])
@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-10), (torch.float32, 1e-5)], ids=["float64", "float32"])
@pytest.mark.parametrize("kwargs", GRID[::5], ids=grid_id)
@pytest.mark.parametrize("mode", MODES)
def test_parity_inference(mode, kwargs, dtype, tol, steps):
    """Under torch.no_grad a long sequence takes the LSTM's buffered loop, a short one the step loop (runners)."""
    ref, ours = make_pair(mode, dtype, **kwargs)
    x = torch.randn((B, steps, D) if kwargs["batch_first"] else (steps, B, D), dtype=dtype)
    hx = initial_state(mode, ref, B, dtype)
    with torch.no_grad():
        expected, got = ref(x, hx), ours(x, hx)
    torch.testing.assert_close(got[0], expected[0], atol=tol, rtol=tol)
    for ours_state, torch_state in zip(got[1] if mode == "LSTM" else [got[1]], expected[1] if mode == "LSTM" else [expected[1]]):
        torch.testing.assert_close(ours_state, torch_state, atol=tol, rtol=tol)


def test_inference_states_do_not_share_memory_with_the_output():
    """As with torch.nn: changing the output in place leaves h_n and c_n alone."""
    _, ours = make_pair("LSTM", torch.float64)
    with torch.no_grad():
        out, (h_n, c_n) = ours(torch.randn(2 * lstm_lab.loop.BUFFERED_FROM_STEPS, B, D, dtype=torch.float64))
        before = h_n.clone()
        out.zero_()
    torch.testing.assert_close(h_n, before, atol=0, rtol=0)


@pytest.mark.parametrize("with_h0", [False, True], ids=["h0=None", "h0"])
@pytest.mark.parametrize("kwargs", [dict(num_layers=1), dict(num_layers=2, bidirectional=True),
                                    dict(num_layers=2, bidirectional=True, bias=False, batch_first=True)], ids=str)
def test_parity_projections(kwargs, with_h0):
    ref, ours = make_pair("LSTM", torch.float64, proj_size=P, **kwargs)
    x = torch.randn((B, T, D) if kwargs.get("batch_first") else (T, B, D), dtype=torch.float64)
    hx = initial_state("LSTM", ref, B, torch.float64) if with_h0 else None
    assert_same(ref, ours, x, hx, torch.float64)


@pytest.mark.parametrize("with_h0", [False, True], ids=["h0=None", "h0"])
@pytest.mark.parametrize("kwargs", [dict(), dict(num_layers=2, bidirectional=True), dict(batch_first=True)], ids=str)
@pytest.mark.parametrize("mode", MODES)
def test_parity_unbatched(mode, kwargs, with_h0):
    ref, ours = make_pair(mode, torch.float64, **kwargs)
    x = torch.randn(T, D, dtype=torch.float64)
    hx = initial_state(mode, ref, None, torch.float64, batched=False) if with_h0 else None
    directions = 2 if kwargs.get("bidirectional") else 1
    assert ours(x, hx)[0].shape == (T, directions * H)
    assert_same(ref, ours, x, hx, torch.float64)


PACKED = [(mode, kw) for mode in MODES for kw in (dict(), dict(num_layers=2, bidirectional=True),
                                                   dict(batch_first=True, bidirectional=True))]
PACKED.append(("LSTM", dict(num_layers=2, bidirectional=True, proj_size=P)))


@pytest.mark.parametrize("with_h0", [False, True], ids=["h0=None", "h0"])
@pytest.mark.parametrize("mode,kwargs", PACKED, ids=[f"{m}-{k}" for m, k in PACKED])
def test_parity_packed_unsorted(mode, kwargs, with_h0):
    ref, ours = make_pair(mode, torch.float64, **kwargs)
    lengths = torch.tensor([3, 5, 1, 4])  # unsorted, with a length-1 sequence
    batch_first = kwargs.get("batch_first", False)
    x = torch.randn((4, T, D) if batch_first else (T, 4, D), dtype=torch.float64)
    hx = initial_state(mode, ref, 4, torch.float64) if with_h0 else None

    def pack(x):
        return pack_padded_sequence(x, lengths, batch_first=batch_first, enforce_sorted=False)

    assert isinstance(ours(pack(x), hx)[0], nn.utils.rnn.PackedSequence)
    assert_same(ref, ours, x, hx, torch.float64, make_input=pack)


def test_packed_sorted_input_keeps_no_indices():
    ref, ours = make_pair("LSTM", torch.float64, bidirectional=True)
    x = torch.randn(T, 3, D, dtype=torch.float64)
    packed = pack_padded_sequence(x, torch.tensor([5, 3, 2]))
    out = ours(packed)[0]
    assert out.sorted_indices is None and out.unsorted_indices is None
    torch.testing.assert_close(out.data, ref(packed)[0].data, atol=1e-10, rtol=1e-10)


# ---------------------------------------------------------------- module plumbing
@pytest.mark.parametrize("mode", MODES)
def test_same_names_shapes_and_initialisation(mode):
    kwargs = dict(num_layers=2, bidirectional=True, **({"proj_size": 2} if mode == "LSTM" else {}))
    ref, ours = make_pair(mode, torch.float32, **kwargs)
    assert list(ref.state_dict()) == list(ours.state_dict())
    for name, value in ref.state_dict().items():
        assert torch.equal(ours.state_dict()[name], value), f"{name} initialised differently for the same seed"
    assert "weight_hr_l1_reverse" in ours.state_dict() or mode != "LSTM"
    assert repr(ours) == repr(ref)


@pytest.mark.parametrize("mode", MODES)
def test_load_state_dict_both_ways(mode):
    torch.manual_seed(1)
    ref = getattr(nn, mode)(D, H, num_layers=2, bidirectional=True)
    ours = getattr(lstm_lab, mode)(D, H, num_layers=2, bidirectional=True)  # different random draw
    x = torch.randn(T, B, D)
    assert not torch.allclose(ours(x)[0], ref(x)[0])
    ours.load_state_dict(ref.state_dict())
    torch.testing.assert_close(ours(x)[0], ref(x)[0], atol=1e-5, rtol=1e-5)
    torch.manual_seed(2)
    other = getattr(lstm_lab, mode)(D, H, num_layers=2, bidirectional=True)
    ref.load_state_dict(other.state_dict())
    torch.testing.assert_close(ref(x)[0], other(x)[0], atol=1e-5, rtol=1e-5)


def test_rnn_relu_and_positional_nonlinearity():
    torch.manual_seed(0)
    ref = nn.RNN(D, H, 2, "relu", dtype=torch.float64)
    torch.manual_seed(0)
    ours = lstm_lab.RNN(D, H, 2, "relu", dtype=torch.float64)
    assert ours.nonlinearity == "relu"
    assert_same(ref, ours, torch.randn(T, B, D, dtype=torch.float64), None, torch.float64)


@pytest.mark.parametrize("mode", MODES)
def test_dropout_between_layers_matches_torch_in_training(mode):
    """Same seed, same dropout masks: torch draws them between layers exactly where we do."""
    ref, ours = twins(mode, D, H, num_layers=3, dropout=0.5, bidirectional=True)
    x = torch.randn(T, B, D, dtype=torch.float64)
    ref.train(), ours.train()

    def reseeded(t):  # called right before each model's forward
        torch.manual_seed(9)
        return t

    assert_matches_torch(ref, ours, x, make_input=reseeded)
    torch.manual_seed(9)
    assert not torch.allclose(ours(x)[0], ours.eval()(x)[0]), "training mode should drop units between layers"


def test_dropout_is_not_applied_after_the_last_layer():
    torch.manual_seed(0)
    ours = lstm_lab.LSTM(D, H, num_layers=1, dtype=torch.float64)
    with pytest.warns(UserWarning):
        dropped = lstm_lab.LSTM(D, H, num_layers=1, dropout=0.9, dtype=torch.float64)
    dropped.load_state_dict(ours.state_dict())
    dropped.train()
    x = torch.randn(T, B, D, dtype=torch.float64)
    torch.testing.assert_close(dropped(x)[0], ours(x)[0], atol=0, rtol=0)


# ---------------------------------------------------------------- the cells
CELL_CASES = [("RNNCell", {}), ("RNNCell", {"nonlinearity": "relu"}), ("LSTMCell", {}), ("GRUCell", {}),
              ("LSTMCell", {"bias": False}), ("GRUCell", {"bias": False})]


@pytest.mark.parametrize("name,kwargs", CELL_CASES, ids=[f"{n}-{k}" for n, k in CELL_CASES])
@pytest.mark.parametrize("batched", [True, False], ids=["batched", "unbatched"])
def test_cell_modules_match_torch(name, kwargs, batched):
    torch.manual_seed(3)
    ref = getattr(nn, name)(D, H, dtype=torch.float64, **kwargs)
    torch.manual_seed(3)
    ours = getattr(lstm_lab, name)(D, H, dtype=torch.float64, **kwargs)
    assert list(ref.state_dict()) == list(ours.state_dict())
    x = torch.randn((B, D) if batched else (D,), dtype=torch.float64)
    state_shape = (B, H) if batched else (H,)
    for hx in (None, torch.randn(state_shape, dtype=torch.float64)):
        if name == "LSTMCell" and hx is not None:
            hx = (hx, torch.randn(state_shape, dtype=torch.float64))
        a, b = ref(x, hx), ours(x, hx)
        for u, v in zip(a if isinstance(a, tuple) else (a,), b if isinstance(b, tuple) else (b,)):
            torch.testing.assert_close(v, u, atol=1e-10, rtol=1e-10)


def _cell_inputs(gates, with_bias=True, proj=None):
    g = torch.Generator().manual_seed(11)

    def r(*s):
        return torch.randn(*s, generator=g, dtype=torch.float64, requires_grad=True)

    out = proj or H
    weights = [r(gates * H, D), r(gates * H, out)]
    biases = [r(gates * H), r(gates * H)] if with_bias else [None, None]
    return r(B, D), r(B, out), r(B, H), weights, biases


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_gradcheck_rnn_cell(nonlinearity):
    x, h, _, (w_ih, w_hh), (b_ih, b_hh) = _cell_inputs(1)
    assert torch.autograd.gradcheck(
        lambda *a: lstm_lab.rnn_cell(*a, nonlinearity=nonlinearity), (x, h, w_ih, w_hh, b_ih, b_hh))


@pytest.mark.parametrize("with_bias", [True, False])
def test_gradcheck_lstm_cell(with_bias):
    x, h, c, (w_ih, w_hh), (b_ih, b_hh) = _cell_inputs(4, with_bias)
    assert torch.autograd.gradcheck(
        lambda x, h, c, w_ih, w_hh, *b: torch.cat(lstm_lab.lstm_cell(x, (h, c), w_ih, w_hh, *b), -1),
        (x, h, c, w_ih, w_hh, *(b for b in (b_ih, b_hh) if b is not None)))


def test_gradcheck_lstm_cell_with_projection():
    x, h, c, (w_ih, w_hh), (b_ih, b_hh) = _cell_inputs(4, proj=P)
    w_hr = torch.randn(P, H, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda x, h, c, *w: torch.cat(lstm_lab.lstm_cell(x, (h, c), *w[:4], weight_hr=w[4]), -1),
        (x, h, c, w_ih, w_hh, b_ih, b_hh, w_hr))


def test_gradcheck_gru_cell():
    x, h, _, (w_ih, w_hh), (b_ih, b_hh) = _cell_inputs(3)
    assert torch.autograd.gradcheck(lstm_lab.gru_cell, (x, h, w_ih, w_hh, b_ih, b_hh))


def test_lstm_trace_gates_recombine_to_the_state():
    x, h, c, (w_ih, w_hh), (b_ih, b_hh) = _cell_inputs(4)
    step = lstm_lab.lstm_cell_trace(x, (h, c), w_ih, w_hh, b_ih, b_hh)
    torch.testing.assert_close(step.c, step.f * c + step.i * step.g)
    torch.testing.assert_close(step.h, step.o * torch.tanh(step.c))
    ref = nn.LSTMCell(D, H, dtype=torch.float64)
    with torch.no_grad():
        for name, value in zip(["weight_ih", "weight_hh", "bias_ih", "bias_hh"], [w_ih, w_hh, b_ih, b_hh]):
            getattr(ref, name).copy_(value)
    h_ref, c_ref = ref(x, (h, c))
    torch.testing.assert_close(step.h, h_ref, atol=1e-10, rtol=1e-10)
    torch.testing.assert_close(step.c, c_ref, atol=1e-10, rtol=1e-10)


@pytest.mark.parametrize("hand_written", [True, False], ids=["hand-written backward", "autograd backward"])
def test_second_derivatives_match_torch(hand_written):
    """create_graph=True through the LSTM (a gradient penalty): the same second derivatives as torch.nn's,
    with the hand-written backward (it recomputes the layer for autograd) and without it."""
    torch.manual_seed(0)
    ref, ours = twins("LSTM", D, H, num_layers=2, bidirectional=True)
    ours.hand_written_backward = hand_written
    x = torch.randn(T, B, D, dtype=torch.float64)
    h0 = torch.randn(4, B, H, dtype=torch.float64)

    def penalty_grads(model):
        x_leaf, h_leaf = x.clone().requires_grad_(), h0.clone().requires_grad_()
        out, (h_n, c_n) = model(x_leaf, (h_leaf, torch.zeros_like(h_leaf)))
        gx, gh = torch.autograd.grad((out.sum() + c_n.sum()), (x_leaf, h_leaf), create_graph=True)
        (gx.pow(2).sum() + gh.pow(2).sum()).backward()
        return [x_leaf.grad, h_leaf.grad] + [p.grad for p in model.parameters()]

    for expected, got in zip(penalty_grads(ref), penalty_grads(ours), strict=True):
        torch.testing.assert_close(got, expected, atol=1e-10, rtol=1e-10)


def test_gradgradcheck_by_default():
    torch.manual_seed(0)
    model = lstm_lab.LSTM(2, 3, dtype=torch.float64)
    x = torch.randn(4, 2, 2, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradgradcheck(lambda x: model(x)[0], (x,))
    assert torch.autograd.gradcheck(lambda x: model(x)[1][1], (x,))


def test_vmap_over_grad_matches_torch():
    """torch.func: per-sample gradients (vmap of grad) and a Jacobian. torch.nn.LSTM has no batching rule
    for them on the CPU, so the expected values are torch.nn's gradients one sample at a time."""
    from torch.func import functional_call, grad, jacrev, vmap

    ref, ours = twins("LSTM", D, H)
    xs = torch.randn(B, T, D, dtype=torch.float64)
    params = {k: v.detach() for k, v in ours.named_parameters()}

    def loss(p, x):
        return functional_call(ours, p, (x,))[0].pow(2).sum()

    per_sample = vmap(grad(loss, argnums=(0, 1)), in_dims=(None, 0))(params, xs)
    for k, x in enumerate(xs):
        x = x.clone().requires_grad_()
        expected = torch.autograd.grad(ref(x)[0].pow(2).sum(), [x, *ref.parameters()])
        torch.testing.assert_close(per_sample[1][k], expected[0], atol=1e-10, rtol=1e-10)
        for (name, _), g in zip(ref.named_parameters(), expected[1:], strict=True):
            torch.testing.assert_close(per_sample[0][name][k], g, atol=1e-10, rtol=1e-10)
    torch.testing.assert_close(jacrev(lambda x: ours(x)[1][0])(xs[0]), jacrev(lambda x: ref(x)[1][0])(xs[0]),
                               atol=1e-10, rtol=1e-10)


def test_the_choice_of_backward_is_per_model():
    """Two models in one process, one with each backward: the same gradients, and the choice is each model's own."""
    torch.manual_seed(0)
    fast = lstm_lab.LSTM(D, H, dtype=torch.float64)
    plain = lstm_lab.LSTM(D, H, dtype=torch.float64, hand_written_backward=False)
    plain.load_state_dict(fast.state_dict())
    x = torch.randn(T, B, D, dtype=torch.float64)
    grads = []
    for model in (fast, plain):
        out, _ = model(x)
        names = {type(n).__name__ for n in _graph_nodes(out.grad_fn)}
        grads.append((torch.autograd.grad(out.sum(), model.weight_hh_l0)[0], names))
    torch.testing.assert_close(grads[0][0], grads[1][0], atol=1e-12, rtol=1e-12)
    assert any("LSTMLayerFunction" in n for n in grads[0][1])
    assert not any("LSTMLayerFunction" in n for n in grads[1][1])
    with pytest.raises(TypeError, match="hand_written_backward should be of type bool, got: str"):
        lstm_lab.LSTM(D, H, hand_written_backward="no")


def _graph_nodes(node, seen=None):
    seen = set() if seen is None else seen
    if node is not None and node not in seen:
        seen.add(node)
        for child, _ in node.next_functions:
            _graph_nodes(child, seen)
    return seen


# ---------------------------------------------------------------- the parity check itself can fail
def test_assert_matches_torch_names_a_value_that_differs():
    ref, ours = twins("GRU", D, H)
    with torch.no_grad():
        ours.bias_hh_l0[0] += 1e-6
    with pytest.raises(AssertionError, match="output differs from torch.nn"):
        assert_matches_torch(ref, ours, torch.randn(T, B, D, dtype=torch.float64))


def test_assert_matches_torch_names_a_gradient_that_differs():
    ref, ours = twins("LSTM", D, H, num_layers=2)

    def detached_between_layers(x, hx=None):  # right values, no gradient into layer 0
        out0, _ = lstm_lab.run_layer("LSTM", x, (x.new_zeros(B, H),) * 2, ours.layer_weights(0))
        out1, (h1, c1) = lstm_lab.run_layer("LSTM", out0.detach(), (x.new_zeros(B, H),) * 2, ours.layer_weights(1))
        return out1, (torch.stack([ref(x)[1][0][0].detach(), h1]), torch.stack([ref(x)[1][1][0].detach(), c1]))

    with pytest.raises(AssertionError, match="gradient of weight_ih_l0: torch.nn has it, lstm_lab gave None"):
        assert_matches_torch(ref, ours, torch.randn(T, B, D, dtype=torch.float64), run_ours=detached_between_layers)


def test_twins_hold_the_same_weights():
    ref, ours = twins("LSTM", D, H, num_layers=2, proj_size=2)
    for name, value in ref.state_dict().items():
        assert torch.equal(ours.state_dict()[name], value)


@pytest.mark.parametrize("mode", ["LSTM", "GRU"])
@pytest.mark.parametrize("reverse", [False, True], ids=["forward", "reverse"])
def test_fast_layer_is_held_to_the_teaching_form(mode, reverse):
    """Each cell's two forms: the fast layer (its Function, forward in buffers and backward by hand, and its
    inference loop) gives the numbers of the teaching form, the equations of ``cells`` step by step under
    autograd (``lstm_steps``, ``gru_steps``): outputs, final state and every gradient."""
    from lstm_lab import gru_function, lstm_function

    module = lstm_function if mode == "LSTM" else gru_function
    torch.manual_seed(0)
    gates, steps = (4 if mode == "LSTM" else 3), 2 * lstm_lab.loop.BUFFERED_FROM_STEPS
    weights = {"weight_ih": torch.randn(gates * H, D), "weight_hh": torch.randn(gates * H, H),
               "bias_ih": torch.randn(gates * H), "bias_hh": torch.randn(gates * H)}
    weights = {k: (0.5 * w).double().requires_grad_() for k, w in weights.items()}
    x = torch.randn(steps, B, D, dtype=torch.float64, requires_grad=True)
    state = tuple(torch.randn(B, H, dtype=torch.float64, requires_grad=True) for _ in range(2 if mode == "LSTM" else 1))
    state = state if mode == "LSTM" else state[0]

    def teaching():
        proj = lstm_lab.cells.input_projection(mode, x, weights)
        if mode == "LSTM":
            return lstm_function.lstm_steps(proj, state, weights["weight_hh"], reverse=reverse)
        return gru_function.gru_steps(proj, state, weights["weight_hh"], weights["bias_hh"], reverse=reverse)

    def flat(result):
        out, final = result
        return [out, *(final if isinstance(final, tuple) else [final])]

    leaves = [x, *(state if isinstance(state, tuple) else [state]), *weights.values()]
    expected = flat(teaching())
    got = flat(module.layer_forward(x, state, weights, reverse))
    assert type(got[0].grad_fn).__name__ == f"{mode}LayerFunctionBackward"
    with torch.no_grad():
        inferred = flat(module.layer_forward(x, state, weights, reverse))
    loss = [sum((k + 1) * t.sin().sum() for k, t in enumerate(ts)) for ts in (expected, got)]
    grads = [torch.autograd.grad(total, leaves) for total in loss]
    # the GRU's fast forward repeats the teaching form's operations, the same numbers; the LSTM's makes tanh
    # from a sigmoid, and the backwards sum in another order: a few units in the last place
    exact = 0 if mode == "GRU" else 1e-13
    for ours, theirs in zip([*got, *inferred], [*expected, *expected], strict=True):
        torch.testing.assert_close(ours, theirs.detach(), atol=exact, rtol=0)
    for ours, theirs in zip(grads[1], grads[0], strict=True):
        torch.testing.assert_close(ours, theirs, atol=1e-12, rtol=0)
