"""What torch code does with an nn.LSTM, lstm_lab's modules let it do (or refuse clearly, where they say so).

Second derivatives and torch.func are in test_parity.py; bad input in test_bad_input.py.
"""

import copy
import warnings

import pytest
import torch
from torch import nn

import lstm_lab
from lstm_lab.parity import assert_matches_torch, twins

# torch 2.13 deprecates TorchScript, and torch.compile and torch.func call torch.jit.script internally
pytestmark = [pytest.mark.filterwarnings(f"ignore:`torch.jit.{name}` is deprecated:DeprecationWarning")
              for name in ("script", "trace", "trace_method")]

CONFIGS = [
    ("LSTM", {}),
    ("LSTM", {"num_layers": 2, "bidirectional": True, "proj_size": 2}),
    ("GRU", {"num_layers": 2, "bias": False}),
    ("RNN", {"bidirectional": True, "nonlinearity": "relu"}),
]


@pytest.mark.parametrize("mode, kwargs", CONFIGS, ids=[f"{m} {k}" for m, k in CONFIGS])
def test_flat_weights_names_and_flatten_parameters_as_torch(mode, kwargs):
    ref, ours = twins(mode, 3, 4, **kwargs)
    assert ours._flat_weights_names == ref._flat_weights_names
    assert all(a is b for a, b in zip(ours._flat_weights, ours.parameters(), strict=True))
    assert ours.flatten_parameters() is None and ref.flatten_parameters() is None


def test_a_published_model_that_flattens_in_forward_runs():
    class Tagger(nn.Module):  # the habit of many published models (cuDNN wants one weight buffer)
        def __init__(self, rnn):
            super().__init__()
            self.lstm, self.head = rnn, nn.Linear(8, 2, dtype=torch.float64)

        def forward(self, x):
            self.lstm.flatten_parameters()
            return self.head(self.lstm(x)[0])

    ref, ours = twins("LSTM", 3, 4, bidirectional=True)
    a, b = Tagger(ref), Tagger(ours)
    b.head.load_state_dict(a.head.state_dict())
    x = torch.randn(5, 2, 3, dtype=torch.float64)
    torch.testing.assert_close(b(x), a(x), atol=1e-10, rtol=1e-10)


def test_a_replaced_or_parametrized_weight_is_the_one_the_forward_uses():
    """The modules read their weights each forward: a parameter assigned anew, a plain tensor in
    its place, or a parametrization (torch.nn.utils.parametrize, as weight norm uses) all count."""
    from torch.nn.utils import parametrize

    class Halved(nn.Module):
        def forward(self, weight):
            return weight / 2

    ref, ours = twins("LSTM", 3, 4, num_layers=2)
    x = torch.randn(5, 2, 3, dtype=torch.float64)
    replaced = torch.randn_like(ref.weight_hh_l1)
    for model in (ref, ours):
        model.weight_hh_l1 = nn.Parameter(replaced.clone())
        parametrize.register_parametrization(model, "weight_ih_l0", Halved())
    torch.testing.assert_close(ours(x), ref(x), atol=1e-10, rtol=1e-10)
    assert not torch.allclose(ours(x)[0], twins("LSTM", 3, 4, num_layers=2)[1](x)[0])  # the changes did act
    del ours.weight_hh_l0
    ours.weight_hh_l0 = ref.weight_hh_l0.detach().clone()  # a plain tensor, not a Parameter
    torch.testing.assert_close(ours(x), ref(x), atol=1e-10, rtol=1e-10)


def _under_bfloat16_autocast(model, x, grad):
    """(output, h_n[, input grad, weight_hh_l0 grad]) of a copy of ``model`` on ``x`` under CPU bfloat16
    autocast."""
    model = copy.deepcopy(model)
    x_in = x.clone().requires_grad_(grad)
    with torch.set_grad_enabled(grad), torch.autocast("cpu", dtype=torch.bfloat16):
        out, hidden = model(x_in)
    results = [out, hidden[0] if isinstance(hidden, tuple) else hidden]
    if grad:
        out.float().pow(2).sum().backward()
        results += [x_in.grad, model.weight_hh_l0.grad]
    return results


def _cast_by_hand(model, x, grad):
    """What autocast does to torch's LSTM and RNN, written out: every weight and the input cast to bfloat16
    (the casts are differentiable, so gradients reach the float32 leaves in float32), autocast off."""
    model = copy.deepcopy(model)
    x_in = x.clone().requires_grad_(grad)
    with torch.set_grad_enabled(grad):
        low = {name: p.to(torch.bfloat16) for name, p in model.named_parameters()}
        out, hidden = torch.func.functional_call(model, low, (x_in.to(torch.bfloat16),))
    results = [out, hidden[0] if isinstance(hidden, tuple) else hidden]
    if grad:
        out.float().pow(2).sum().backward()
        results += [x_in.grad, model.weight_hh_l0.grad]
    return results


@pytest.mark.parametrize("mode, low", [("LSTM", True), ("RNN", True), ("GRU", False)])
@pytest.mark.parametrize("grad", [False, True], ids=["no grad", "grad"])
def test_cpu_bfloat16_autocast_as_torch(mode, low, grad):
    """torch runs its CPU LSTM and RNN wholly in bfloat16 under autocast (GRU: only its matmuls, output float32).
    Same dtypes here; values agree to bfloat16 rounding (its epsilon is 2^-8 = 0.0039).

    torch's autocast LSTM is a oneDNN kernel that exists only on CPUs with AVX-512 (on an AVX2 CPU torch.nn
    raises "could not create a primitive descriptor"). There lstm_lab still runs, and is compared with what
    autocast does written out by hand (torch.nn's own bfloat16 LSTM on bfloat16 casts of its weights), and
    the test says so in a warning."""
    torch.manual_seed(0)
    ref, ours = twins(mode, 5, 8, dtype=torch.float32, num_layers=2, bidirectional=True)
    x = torch.randn(12, 4, 5)
    try:
        want = _under_bfloat16_autocast(ref, x, grad)
    except RuntimeError as error:
        # only torch.nn's LSTM kernel may be missing (its wording is the kernel library's: not asserted, it may
        # differ on another CPU or library)
        assert mode == "LSTM", error
        warnings.warn(f"torch.nn.LSTM has no bfloat16 autocast kernel on this CPU ({str(error)[:60]}...): "
                      "lstm_lab's result is compared with autocast's casts made by hand", UserWarning)
        want = _cast_by_hand(ref, x, grad)
    got = _under_bfloat16_autocast(ours, x, grad)
    expected_dtype = torch.bfloat16 if low else torch.float32
    assert len(got) == len(want)
    for name, w, g in zip(("output", "h_n", "input grad", "weight_hh_l0 grad"), want, got):
        assert g.dtype == w.dtype, f"{name}: {g.dtype}, torch.nn gives {w.dtype}"
        scale = w.float().abs().max().item()
        assert (g.float() - w.float()).abs().max().item() <= 0.05 * scale, name
    assert got[0].dtype == expected_dtype
    if grad:
        assert got[2].dtype == torch.float32  # gradients reach the float32 leaves in float32


def test_the_autocast_lstm_written_out_is_what_autocast_gives():
    """_cast_by_hand stands in for torch.nn's autocast LSTM where that kernel is missing. lstm_lab's autocast
    LSTM agrees with it on every CPU, and so does torch.nn's where this CPU has the kernel."""
    torch.manual_seed(0)
    ref, ours = twins("LSTM", 5, 8, dtype=torch.float32, num_layers=2, bidirectional=True)
    x = torch.randn(12, 4, 5)
    by_hand = _cast_by_hand(ref, x, grad=True)
    compared = []
    for model in (ours, ref):
        try:
            under = _under_bfloat16_autocast(model, x, grad=True)
        except RuntimeError as error:  # only torch.nn's kernel may be missing (on a CPU without AVX-512)
            assert model is ref, error
            continue
        for name, a, b in zip(("output", "h_n", "input grad", "weight_hh_l0 grad"), under, by_hand, strict=True):
            assert a.dtype == b.dtype, name
            scale = b.float().abs().max().item()
            assert (a.float() - b.float()).abs().max().item() <= 0.05 * scale, name
        compared.append(model)
    assert compared[0] is ours


@pytest.mark.parametrize("mode", ["LSTM", "GRU", "RNN"])
def test_torchscript_is_refused_with_the_reason_and_the_alternative(mode):
    model = getattr(lstm_lab, mode)(3, 4)
    with pytest.raises(RuntimeError, match=rf"lstm_lab.{mode} is not TorchScript-able: .*torch.jit.script cannot "
                                           r"compile it. Use torch.compile\(model\), which works"):
        torch.jit.script(model)
    with pytest.raises(RuntimeError, match=r"torch.jit.trace would record the loop unrolled for the traced sequence "
                                           r"length only"):
        torch.jit.trace(model, torch.randn(5, 2, 3))


def test_torch_compile_traces_the_lstm_and_its_hand_written_backward():
    """torch.compile's graph capture (dynamo, AOT autograd; the eager backend keeps the test fast)."""
    ref, ours = twins("LSTM", 3, 4, num_layers=2)
    compiled = torch.compile(ours, backend="aot_eager", fullgraph=True)
    x = torch.randn(6, 2, 3, dtype=torch.float64)
    out, (h, c) = compiled(x)
    out_ref, (h_ref, c_ref) = ref(x)
    torch.testing.assert_close(out, out_ref, atol=1e-10, rtol=1e-10)
    (out.sum() + c.sum()).backward()
    (out_ref.sum() + c_ref.sum()).backward()
    for (name, p), q in zip(ref.named_parameters(), ours.parameters()):
        torch.testing.assert_close(q.grad, p.grad, atol=1e-10, rtol=1e-10, msg=name)


@pytest.mark.parametrize("mode", ["LSTM", "GRU"])
def test_the_backward_choice_shows_in_the_repr_and_stays_out_of_the_state_dict(mode):
    plain = getattr(lstm_lab, mode)(3, 4, num_layers=2, hand_written_backward=False)
    assert repr(plain) == f"{mode}(3, 4, num_layers=2, hand_written_backward=False)"
    assert repr(getattr(lstm_lab, mode)(3, 4, num_layers=2)) == repr(getattr(nn, mode)(3, 4, num_layers=2))
    assert list(plain.state_dict()) == list(getattr(nn, mode)(3, 4, num_layers=2).state_dict())
    plain.hand_written_backward = True  # an attribute too, and the repr follows it
    assert repr(plain) == repr(getattr(nn, mode)(3, 4, num_layers=2))


def test_the_gru_takes_the_backward_choice_as_the_lstm_does():
    """The constructor argument decides the GRU's backward (its Function in the graph or not), keyword-only."""
    x = torch.randn(5, 2, 3)
    for hand_written in (True, False):
        out, _ = lstm_lab.GRU(3, 4, hand_written_backward=hand_written)(x)
        assert (type(out.grad_fn).__name__ == "GRULayerFunctionBackward") == hand_written
    with pytest.raises(TypeError, match="hand_written_backward should be of type bool, got: str"):
        lstm_lab.GRU(3, 4, hand_written_backward="no")
    with pytest.raises(TypeError):  # after torch's arguments, by name only, as the LSTM's
        lstm_lab.GRU(3, 4, 1, True, False, 0.0, False, None, None, 0, False)


# ---------------------------------------------------------------- empty batches and the meta device
def _described(result):
    """What a result is, without its values: (shape, dtype, device) of the output and each final state,
    and a PackedSequence's batch_sizes and indices."""
    output, hidden = result
    seen = []
    if isinstance(output, nn.utils.rnn.PackedSequence):
        seen += [output.batch_sizes.tolist(), *(None if i is None else (tuple(i.shape), i.device.type)
                                                 for i in (output.sorted_indices, output.unsorted_indices))]
        output = output.data
    return seen + [(tuple(t.shape), t.dtype, t.device.type) for t in (output, *(hidden if isinstance(hidden, tuple)
                                                                                else (hidden,)))]


EMPTY = [
    ("LSTM", {}, True),
    ("LSTM", {"batch_first": True}, True),
    ("LSTM", {"num_layers": 2}, True),
    ("LSTM", {"num_layers": 2}, False),
    ("LSTM", {"bidirectional": True, "proj_size": 2}, True),
    ("LSTM", {"num_layers": 2, "bidirectional": True, "batch_first": True}, True),
    ("GRU", {"num_layers": 2, "bidirectional": True, "batch_first": True}, True),
    ("GRU", {"num_layers": 2}, False),
    ("RNN", {"num_layers": 2, "bidirectional": True, "batch_first": True}, True),
]


@pytest.mark.parametrize("mode, kwargs, hand_written", EMPTY, ids=[f"{m} {k} {h}" for m, k, h in EMPTY])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=str)
def test_an_empty_batch_gives_empty_outputs_as_torch(mode, kwargs, hand_written, dtype):
    """A batch of 0 sequences: outputs and states of torch's shapes and dtype, and a backward pass that
    gives zero-size gradients for the input and the states, and zeros for the weights, as torch.nn's."""
    ref, ours = twins(mode, 3, 4, dtype=dtype, **kwargs)
    ours.hand_written_backward = hand_written
    x = torch.randn((0, 5, 3) if kwargs.get("batch_first") else (5, 0, 3), dtype=dtype)
    assert _described(ours(x)) == _described(ref(x))
    assert_matches_torch(ref, ours, x)  # output, states and every gradient: shapes and values
    states = ours.num_layers * ours.num_directions
    h0 = torch.zeros(states, 0, kwargs.get("proj_size") or 4, dtype=dtype)
    hx = (h0, torch.zeros(states, 0, 4, dtype=dtype)) if mode == "LSTM" else h0
    assert_matches_torch(ref, ours, x, hx)  # given states of batch 0 get their zero-size gradients too
    with torch.no_grad():  # inference, long enough for the buffered loops
        x_long = torch.randn((0, 12, 3) if kwargs.get("batch_first") else (12, 0, 3), dtype=dtype)
        assert _described(ours(x_long)) == _described(ref(x_long))


def test_an_empty_pack_is_refused_as_torch_refuses_it():
    """torch.nn fails on a hand-made pack with no steps with an IndexError; lstm_lab raises one too, with a
    message (a ValueError as well, like its other bad packs). pack_padded_sequence refuses an empty batch."""
    empty = nn.utils.rnn.PackedSequence(torch.zeros(0, 3), torch.zeros(0, dtype=torch.int64))
    for mode in ("LSTM", "GRU", "RNN"):
        with pytest.raises(IndexError):
            getattr(nn, mode)(3, 4)(empty)
        with pytest.raises(IndexError, match=f"^{mode}: a PackedSequence should hold at least one step") as raised:
            getattr(lstm_lab, mode)(3, 4)(empty)
        assert isinstance(raised.value, ValueError)
    with pytest.raises(RuntimeError, match="Cannot pack empty tensors"):
        nn.utils.rnn.pack_padded_sequence(torch.zeros(5, 0, 3), torch.zeros(0, dtype=torch.int64))


META = [
    ("LSTM", {}),
    ("LSTM", {"num_layers": 2, "bidirectional": True, "proj_size": 2, "batch_first": True}),
    ("GRU", {"num_layers": 2, "bidirectional": True}),
    ("RNN", {"nonlinearity": "relu", "batch_first": True}),
]


@pytest.mark.parametrize("mode, kwargs", META, ids=[f"{m} {k}" for m, k in META])
def test_on_the_meta_device_as_torch(mode, kwargs):
    """Moved to the meta device (shapes without values, how large models are planned), the modules run as
    torch.nn's: every result and gradient on meta, of torch's shapes and dtypes."""
    ref, ours = (getattr(lib, mode)(3, 4, **kwargs).to("meta") for lib in (nn, lstm_lab))

    def sequence(steps=5, batch=3):
        return torch.randn((batch, steps, 3) if ours.batch_first else (steps, batch, 3), device="meta")

    lengths = torch.tensor([2, 5, 3])  # unsorted: the pack's indices live on meta, without values
    cases = {
        "batched": lambda model: model(sequence()),
        "unbatched": lambda model: model(sequence(batch=1).flatten(0, 1)),
        "packed": lambda model: model(nn.utils.rnn.pack_padded_sequence(
            sequence(), lengths, batch_first=model.batch_first, enforce_sorted=False)),
        "empty batch": lambda model: model(sequence(batch=0)),
    }
    for name, run in cases.items():
        assert _described(run(ours)) == _described(run(ref)), name

    def gradients(model, hand_written=True):
        model.hand_written_backward = hand_written
        x = sequence().requires_grad_()
        model(x)[0].sum().backward()
        return [(tuple(g.shape), g.device.type) for g in (x.grad, *(p.grad for p in model.parameters()))]

    expected = gradients(ref)
    assert gradients(ours) == expected
    assert gradients(ours, hand_written=False) == expected  # the autograd loop, too
    with torch.no_grad():  # inference, long enough for the buffered loops
        long = sequence(steps=12)
        assert _described(ours(long)) == _described(ref(long))


def test_forward_mode_ad_takes_the_autograd_path():
    """Forward-mode AD (dual numbers, torch.func.jvp) through the LSTM: the tangent is the directional
    derivative, checked against central differences in float64."""
    import torch.autograd.forward_ad as fwAD
    from torch.func import jvp

    torch.manual_seed(0)
    model = lstm_lab.LSTM(3, 4, num_layers=2, dtype=torch.float64)
    x, v = torch.randn(5, 2, 3, dtype=torch.float64), torch.randn(5, 2, 3, dtype=torch.float64)
    eps = 1e-6
    with torch.no_grad():
        numeric = (model(x + eps * v)[0] - model(x - eps * v)[0]) / (2 * eps)
    with fwAD.dual_level():
        tangent = fwAD.unpack_dual(model(fwAD.make_dual(x, v))[0]).tangent
    torch.testing.assert_close(tangent, numeric, atol=1e-8, rtol=1e-6)
    torch.testing.assert_close(jvp(lambda x: model(x)[0], (x,), (v,))[1], numeric, atol=1e-8, rtol=1e-6)
