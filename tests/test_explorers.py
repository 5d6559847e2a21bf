"""The explorers without Jupyter: compute against torch.nn, widgets against compute, exercise checks.

compute.py is checked against independent references (torch.nn, the golden numbers, closed
forms); the widgets are then checked to show exactly what compute.py says, after moving their
sliders from Python as a learner would with the mouse.
"""

import base64
import io
import math

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from PIL import Image

from lstm_lab import display, fixtures
from lstm_lab.checks import explorer as checks
from lstm_lab.explorers import compute, plots
from lstm_lab.explorers.widgets import ConnectivityExplorer, LSTMExplorer, RNNExplorer

ATOL = 1e-10  # float64
F64 = torch.float64


def random_params(hidden_size, input_size, seed):
    g = torch.Generator().manual_seed(seed)
    params = {}
    for gate in compute.GATES:
        wx, wh, b = compute.gate_keys(gate)
        params[wx] = torch.randn(hidden_size, input_size, generator=g, dtype=F64)
        params[wh] = torch.randn(hidden_size, hidden_size, generator=g, dtype=F64)
        params[b] = torch.randn(hidden_size, generator=g, dtype=F64)
    return params


def torch_lstm_cell(params):
    """torch.nn.LSTMCell holding ``params``, fused by hand in torch's gate order i, f, g, o."""
    hidden_size, input_size = params["W_xf"].shape
    cell = torch.nn.LSTMCell(input_size, hidden_size, dtype=F64)
    with torch.no_grad():
        cell.weight_ih.copy_(torch.cat([params[f"W_x{k}"] for k in "ifgo"]))
        cell.weight_hh.copy_(torch.cat([params[f"W_h{k}"] for k in "ifgo"]))
        cell.bias_ih.copy_(torch.cat([params[f"b_{k}"] for k in "ifgo"]))
        cell.bias_hh.zero_()
    return cell


def reference_trace(x, params, c0):
    """h_t, c_t from torch.nn.LSTMCell and the gates recomputed from torch's own h_{t-1}."""
    cell = torch_lstm_cell(params)
    hidden_size = params["W_xf"].shape[0]
    h, c = torch.zeros(1, hidden_size, dtype=F64), torch.full((1, hidden_size), c0, dtype=F64)
    out = {k: [] for k in "ifgoch"}
    with torch.no_grad():
        for x_t in x:
            for k, act in (("i", torch.sigmoid), ("f", torch.sigmoid), ("g", torch.tanh), ("o", torch.sigmoid)):
                out[k].append(act(x_t @ params[f"W_x{k}"].T + h[0] @ params[f"W_h{k}"].T + params[f"b_{k}"]))
            h, c = cell(x_t.unsqueeze(0), (h, c))
            out["h"].append(h[0])
            out["c"].append(c[0])
    return {k: torch.stack(v) for k, v in out.items()}


def assert_trace_matches(trace, reference):
    for k in "ifgoch":
        assert torch.allclose(getattr(trace, k), reference[k], atol=ATOL, rtol=0), k


def png_pixels(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGBA"))


# ================================================================ compute: the LSTM trace
def test_seed001_trace_is_the_golden_lstm():
    trace = compute.lstm_trace(fixtures.fixed_x(), compute.seed001_params())
    golden = fixtures.golden()["lstm"]
    for k in "ifgoch":
        assert torch.allclose(getattr(trace, k), golden[k], atol=ATOL, rtol=0), k
    # the pre-activations come in torch's fused block order i, f, g, o
    assert torch.allclose(trace.pre, golden["pre"], atol=ATOL, rtol=0)


@pytest.mark.parametrize("hidden_size,input_size", [(1, 1), (2, 1), (1, 3), (2, 3)])
@pytest.mark.parametrize("c0", [0.0, 0.7])
def test_trace_matches_torch_lstmcell(hidden_size, input_size, c0):
    params = random_params(hidden_size, input_size, seed=hidden_size * 10 + input_size)
    x = torch.randn(6, input_size, dtype=F64)
    trace = compute.lstm_trace(x, params, c0)
    assert trace.c.shape == (6, hidden_size)
    assert_trace_matches(trace, reference_trace(x, params, c0))


def test_trace_rows_are_the_table_the_explorer_prints():
    trace = compute.lstm_trace(fixtures.fixed_x(), compute.seed001_params())
    header, rows = compute.trace_rows(trace)
    assert header == ["t", "x_t", "f", "i", "g", "o", "c", "h"]
    text = display.table(rows, header)
    golden = fixtures.golden()["lstm"]
    assert f"{golden['c'][2, 1].item():.4f}" in text.splitlines()[-1]
    assert text.splitlines()[2].startswith("1  [1.0000, 2.0000, 3.0000]")  # steps count from 1


def test_trace_refuses_mismatched_input():
    with pytest.raises(ValueError, match="3 feature.* but the weights W_x. read 1"):
        compute.lstm_trace(fixtures.fixed_x(), compute.zero_params(1, 1))
    with pytest.raises(ValueError, match="miss W_hg"):
        compute.lstm_trace([1.0], {k: v for k, v in compute.zero_params(1, 1).items() if k != "W_hg"})
    bad = compute.zero_params(2, 1)
    bad["b_o"] = torch.zeros(3, dtype=F64)
    with pytest.raises(ValueError, match=r"b_o should have shape \(2,\)"):
        compute.lstm_trace([1.0], bad)


# ================================================================ compute: presets
def test_saturation_constants_are_the_sigmoid_of_plus_minus_six():
    assert compute.OPEN == pytest.approx(torch.sigmoid(torch.tensor(6.0, dtype=F64)).item(), abs=1e-15)
    assert compute.SHUT == pytest.approx(torch.sigmoid(torch.tensor(-6.0, dtype=F64)).item(), abs=1e-15)
    assert 0.997 < compute.OPEN < 0.998


SEQUENCES = {"fixed X": fixtures.fixed_x(), "typed": torch.tensor([[0.5], [-0.3], [0.8], [0.0], [0.2]], dtype=F64)}


@pytest.fixture(params=[("fixed X", 2), ("fixed X", 1), ("typed", 1), ("typed", 2)], ids=lambda p: f"{p[0]}-H{p[1]}")
def start(request):
    """A starting point that is not all zeros: random weights of the right shape."""
    name, hidden_size = request.param
    x = SEQUENCES[name]
    return x, random_params(hidden_size, x.shape[1], seed=7)


def test_preset_remember_everything(start):
    x, params = start
    new, c0 = compute.apply_preset("remember everything", params, 0.0)
    trace = compute.lstm_trace(x, new, c0)
    assert c0 == 1.0
    assert torch.allclose(trace.f, torch.full_like(trace.f, compute.OPEN), atol=1e-12)
    assert torch.allclose(trace.i, torch.full_like(trace.i, compute.SHUT), atol=1e-12)
    # the memory keeps c0 = 1 (a loss of 0.25% a step, a tiny write of at most 0.25%)
    assert (trace.c - 1).abs().max() < 0.005 * len(x) + 1e-12
    for key in compute.gate_keys("g") + compute.gate_keys("o"):  # the other gates are untouched
        assert torch.equal(new[key], params[key])


def test_preset_forget_every_step(start):
    x, params = start
    new, c0 = compute.apply_preset("forget every step", params, 0.0)
    trace = compute.lstm_trace(x, new, c0)
    assert torch.allclose(trace.f, torch.full_like(trace.f, compute.SHUT), atol=1e-12)
    assert c0 == 1.0
    # c_t = f c_{t-1} + i g with f = 0.0025: of c0 = 1, only 0.0025 is left after step 0;
    # what the memory holds is this step's write i·g
    previous = torch.cat([torch.full_like(trace.c[:1], c0), trace.c[:-1]])
    assert torch.allclose(trace.c, compute.SHUT * previous + trace.i * trace.g, atol=1e-12)
    assert (trace.c - trace.i * trace.g).abs().max() < compute.SHUT * 2.5


def test_preset_copy_the_input(start):
    x, params = start
    new, c0 = compute.apply_preset("copy the input", params, 0.3)
    trace = compute.lstm_trace(x, new, c0)
    hidden_size = new["W_xf"].shape[0]
    read = [min(u, x.shape[1] - 1) for u in range(hidden_size)]  # unit u reads feature u
    assert torch.allclose(trace.g, torch.tanh(x[:, read]), atol=1e-12)
    for gate, value in (("f", compute.SHUT), ("i", compute.OPEN), ("o", compute.OPEN)):
        assert torch.allclose(getattr(trace, gate), torch.full_like(trace.f, value), atol=1e-12), gate
    assert (trace.c - torch.tanh(x[:, read])).abs().max() < 0.01  # c_t ≈ tanh(x_t)
    assert c0 == 0.3


def test_preset_silent_output(start):
    x, params = start
    new, c0 = compute.apply_preset("silent output", params, 0.5)
    trace = compute.lstm_trace(x, new, c0)
    assert torch.allclose(trace.o, torch.full_like(trace.o, compute.SHUT), atol=1e-12)
    assert trace.h.abs().max() <= compute.SHUT + 1e-15  # |h| = o |tanh c| <= o
    before = compute.lstm_trace(x, params, c0)
    assert not torch.allclose(trace.c, torch.zeros_like(trace.c))
    assert before.h.abs().max() > 10 * compute.SHUT  # it was not silent before


def test_preset_seed001_and_all_zero():
    params, c0 = compute.apply_preset("seed 001", compute.zero_params(1, 1), 0.9)
    assert c0 == 0.0
    for key, value in fixtures.lstm_gate_weights().items():
        assert torch.equal(params[key], value)
    zero, c0 = compute.apply_preset("all zero", params, 0.4)
    trace = compute.lstm_trace(fixtures.fixed_x(), zero, c0)
    assert torch.equal(trace.f, torch.full_like(trace.f, 0.5)) and torch.equal(trace.c, torch.zeros_like(trace.c))
    with pytest.raises(ValueError, match="unknown preset 'remember'"):
        compute.apply_preset("remember", params, 0.0)
    with pytest.raises(ValueError, match="unknown gate 'c'; the gates are f, i, g, o"):
        compute.hold_gate(params, "c", "open")


def test_resize_keeps_the_shared_weights():
    params = random_params(2, 3, seed=1)
    small = compute.resize_params(params, 1, 1)
    assert compute.sizes_of(small) == (1, 1)
    assert small["W_xf"][0, 0] == params["W_xf"][0, 0] and small["W_hi"][0, 0] == params["W_hi"][0, 0]
    back = compute.resize_params(small, 2, 3)
    assert back["W_xf"][0, 0] == params["W_xf"][0, 0] and back["W_xf"][1].abs().sum() == 0
    with pytest.raises(ValueError, match="hidden size 1 or 2"):
        compute.resize_params(params, 3, 3)


# ================================================================ compute: typed sequences
@pytest.mark.parametrize("text,expected", [
    ("1, 0, 0", [[1.0], [0.0], [0.0]]),
    ("1 -2.5 3e-1", [[1.0], [-2.5], [0.3]]),
    ("1 2 3; 4 5 6", [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]),
    ("1,2; 3,4;", [[1.0, 2.0], [3.0, 4.0]]),
])
def test_parse_sequence(text, expected):
    x = compute.parse_sequence(text)
    assert torch.equal(x, torch.tensor(expected, dtype=F64))
    assert torch.equal(compute.parse_sequence(compute.format_sequence(x)), x)


@pytest.mark.parametrize("text,message", [
    ("", "the sequence is empty"),
    ("1, two, 3", "'two' \\(step 2\\) is not a number"),
    ("1 2; 3", "same number of features: step 2 has 1, step 1 has 2"),
    ("1 2 3 4; 5 6 7 8", "at most 3 features"),
    (", ".join(["1"] * 41), "at most 40 steps, got 41"),
    ("1;;2", "step 2 is empty"),
    ("nan", "'nan' \\(step 1\\) is not a number"),
])
def test_parse_sequence_errors_say_what_is_wrong(text, message):
    with pytest.raises(ValueError, match=message):
        compute.parse_sequence(text)


# ================================================================ compute: RNN gradients
def test_rnn_weights_have_every_singular_value_equal_to_the_scale():
    for scale in (0.5, 1.0, 1.7):
        w = compute.rnn_explorer_weights(scale)
        assert torch.allclose(torch.linalg.svdvals(w["weight_hh"]), torch.full((8,), scale, dtype=F64), atol=1e-12)


def torch_rnn(weights, nonlinearity):
    hidden_size, input_size = weights["weight_ih"].shape
    rnn = torch.nn.RNN(input_size, hidden_size, nonlinearity=nonlinearity, dtype=F64)
    with torch.no_grad():
        for name, value in weights.items():
            getattr(rnn, f"{name}_l0").copy_(value)
    return rnn


def jacobian_norms_by_torch(model, x):
    """‖∂h_T/∂x_t‖ with torch.autograd.functional.jacobian: the whole (H, T, D) Jacobian."""
    jac = torch.autograd.functional.jacobian(lambda inp: model(inp)[0][-1], x)  # (H, T, D)
    return jac.pow(2).sum(dim=(0, 2)).sqrt()


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
@pytest.mark.parametrize("scale", [0.6, 1.0, 1.4])
def test_rnn_profile_matches_torch_nn_rnn(scale, nonlinearity):
    profile = compute.rnn_profile(scale, nonlinearity, 12)
    rnn = torch_rnn(profile.weights, nonlinearity)
    with torch.no_grad():
        h, _ = rnn(profile.x)
    assert torch.allclose(profile.h, h, atol=ATOL, rtol=0)
    assert torch.allclose(profile.grad_norm, jacobian_norms_by_torch(rnn, profile.x), atol=ATOL, rtol=1e-10)


def test_rnn_gradient_is_the_product_of_step_jacobians():
    """For tanh: ∂h_T/∂x_t = D_T W D_{T-1} W ... D_t W_ih, with D_k = diag(1 - h_k²) (rows are steps 1..T)."""
    profile = compute.rnn_profile(0.9, "tanh", 10)
    w_hh, w_ih = profile.weights["weight_hh"], profile.weights["weight_ih"]
    last = len(profile.h) - 1
    for t in range(last + 1):
        jac = torch.diag(1 - profile.h[t] ** 2) @ w_ih
        for k in range(t + 1, last + 1):
            jac = torch.diag(1 - profile.h[k] ** 2) @ w_hh @ jac
        assert math.isclose(jac.norm().item(), profile.grad_norm[t].item(), rel_tol=1e-10)


def test_rnn_gradient_vanishes_below_scale_one_and_explodes_with_relu_above():
    reach = {(s, n): compute.reach(compute.rnn_profile(s, n, 30).grad_norm)
             for s in (0.5, 1.0, 2.0) for n in ("tanh", "relu")}
    assert reach[(0.5, "tanh")] < 1e-6 and reach[(0.5, "relu")] < 1e-6  # 0.5^(T-1) = 0.5^29 ≈ 2e-9
    assert reach[(1.0, "tanh")] > 1e-2
    assert reach[(2.0, "relu")] > 1e2  # relu does not saturate: it explodes
    assert compute.rnn_profile(2.0, "tanh", 30).h.abs().max() < 1  # tanh keeps h bounded


@pytest.mark.parametrize("mode", compute.MODES)
def test_input_jacobian_norms_equal_torch_func_jacobians(mode):
    """The batched-copies trick against torch.func.jacrev (which works on lstm_lab's models too)."""
    from torch.func import jacrev

    model = compute.connectivity_models(input_size=2, seed=3)[mode]
    x = compute.random_sequence(12, 2, 3)
    outputs, norms = compute.input_jacobian_norms(model, x)
    jacobian = jacrev(lambda x: model(x)[0][-1])(x)  # (H, T, D): ∂h_T/∂x_t
    torch.testing.assert_close(norms, jacobian.pow(2).sum(dim=(0, 2)).sqrt(), atol=1e-12, rtol=1e-10)
    torch.testing.assert_close(outputs, model(x)[0].detach(), atol=1e-12, rtol=0)


# ================================================================ compute: connectivity
def test_connectivity_matches_torch_nn_models_built_from_the_same_seed():
    x = compute.random_sequence(9, compute.CONNECTIVITY_INPUT, 3)
    state = torch.get_rng_state()
    norms = compute.connectivity(x, seed=5, forget_bias=1.5)
    assert torch.equal(torch.get_rng_state(), state), "connectivity must not move the global RNG"
    for mode in compute.MODES:
        torch.manual_seed(5)
        model = getattr(torch.nn, mode)(compute.CONNECTIVITY_INPUT, compute.CONNECTIVITY_HIDDEN, dtype=F64)
        if mode == "LSTM":
            with torch.no_grad():
                model.bias_ih_l0[compute.CONNECTIVITY_HIDDEN:2 * compute.CONNECTIVITY_HIDDEN] += 1.5
        expected = jacobian_norms_by_torch(model, x)
        assert torch.allclose(norms[mode], expected, atol=ATOL, rtol=1e-10), mode


def test_a_larger_forget_bias_lets_the_first_input_reach_further():
    x = compute.random_sequence(20, compute.CONNECTIVITY_INPUT, 0)
    reach = [compute.reach(compute.connectivity(x, forget_bias=b)["LSTM"]) for b in (0.0, 1.0, 3.0)]
    assert reach[0] < reach[1] < reach[2]
    assert reach[2] > 1000 * compute.reach(compute.connectivity(x)["RNN"])


def test_single_threaded_restores_the_thread_count():
    before = torch.get_num_threads()
    compute.connectivity(compute.random_sequence(3, 2, 0))
    assert torch.get_num_threads() == before


# ================================================================ plots
def test_figures_redraw_in_place():
    trace = compute.lstm_trace(fixtures.fixed_x(), compute.seed001_params())
    fig = plots.LSTMTraceFigure(trace)
    lines_before = [id(line) for ax in fig.figure.axes for line in ax.lines]
    other = compute.lstm_trace(torch.tensor([[0.5], [0.1]], dtype=F64), compute.zero_params(1, 1))
    fig.update(other)
    assert [id(line) for ax in fig.figure.axes for line in ax.lines] == lines_before
    assert list(fig.lines["c"][0].get_ydata()) == other.c[:, 0].tolist()
    assert not fig.lines["c"][1].get_visible()  # hidden size 1: the second unit's line is hidden
    assert plt.get_fignums() == []  # no pyplot figure was ever made


@pytest.mark.parametrize("make", ["lstm", "rnn", "connectivity"])
def test_blitted_png_equals_a_full_redraw(make):
    """png() pastes the frame and draws only the lines; it must look exactly like drawing everything."""
    if make == "lstm":
        fig = plots.LSTMTraceFigure(compute.lstm_trace(fixtures.fixed_x(), compute.seed001_params()))
        fig.png()
        params = compute.seed001_params()
        params["b_f"][0] = 1.5  # moves lines, not the axis limits
        fig.update(compute.lstm_trace(fixtures.fixed_x(), params))
    elif make == "rnn":
        fig = plots.RNNProfileFigure(compute.rnn_profile(1.0), 1.0)
        fig.png()
        fig.update(compute.rnn_profile(0.98), 0.98)
    else:
        x = compute.random_sequence(20, 2, 0)
        fig = plots.ConnectivityFigure(compute.connectivity(x))
        fig.png()
        fig.update(compute.connectivity(x, forget_bias=0.25))
    assert fig._frame_key() == fig._key, "the limits changed, so this test would not exercise the blit path"
    blitted = png_pixels(fig.png())
    fig._key = None
    full = png_pixels(fig.png())
    assert np.abs(blitted.astype(int) - full.astype(int)).max() <= 1


@pytest.mark.parametrize("make", ["lstm", "rnn", "connectivity"])
def test_a_panels_region_holds_all_it_draws(make):
    """What a partial redraw wipes covers matplotlib's own tight box of the panel (ticks, labels, title)."""
    fig = {"lstm": lambda: plots.LSTMTraceFigure(compute.lstm_trace(fixtures.fixed_x(), compute.seed001_params())),
           "rnn": lambda: plots.RNNProfileFigure(compute.rnn_profile(1.0), 1.0),
           "connectivity": lambda: plots.ConnectivityFigure(compute.connectivity(compute.random_sequence(20, 2, 0)))}[make]()
    fig.png()
    renderer = fig.figure.canvas.get_renderer()
    for ax in fig.figure.axes:
        region, tight = plots._region(ax, renderer), ax.get_tightbbox(renderer)
        assert region.x0 <= tight.x0 and region.y0 <= tight.y0 and region.x1 >= tight.x1 and region.y1 >= tight.y1


def test_a_changed_axis_limit_redraws_only_that_panel(monkeypatch):
    """c0 = 3 widens the memory panel's y axis: only that panel is drawn again, and the picture
    is exactly the one a full redraw gives (old tick labels wiped, new ones drawn)."""
    x = fixtures.fixed_x()
    fig = plots.LSTMTraceFigure(compute.lstm_trace(x, compute.seed001_params()))
    fig.png()
    limits = {name: ax.get_ylim() for name, ax in fig.axes.items()}
    fig.update(compute.lstm_trace(x, compute.seed001_params(), c0=3.0))
    assert [name for name, ax in fig.axes.items() if ax.get_ylim() != limits[name]] == ["c"]
    drawn = []
    draw_axes = type(fig.axes["c"]).draw
    monkeypatch.setattr(type(fig.axes["c"]), "draw",
                        lambda ax, renderer: (drawn.append(ax), draw_axes(ax, renderer))[1])
    partly_redrawn = png_pixels(fig.png())
    assert drawn == [fig.axes["c"]]
    fig._key = None
    assert np.array_equal(partly_redrawn, png_pixels(fig.png()))
    assert len(drawn) == 1 + len(fig.axes)  # the full redraw drew every panel
    # and back: the tick labels shrink (-5 to -2), so the old, wider ones must be wiped
    fig.update(compute.lstm_trace(x, compute.seed001_params()))
    drawn.clear()
    partly_redrawn = png_pixels(fig.png())
    assert drawn == [fig.axes["c"]]
    fig._key = None
    assert np.array_equal(partly_redrawn, png_pixels(fig.png()))


def test_png_holds_exactly_the_drawn_pixels():
    """The hand-written PNG encoder: Pillow reads back the canvas's pixels, at either compression."""
    fig = plots.LSTMTraceFigure(compute.lstm_trace(fixtures.fixed_x(), compute.seed001_params()))
    stored = fig.png()
    drawn = np.asarray(fig.figure.canvas.buffer_rgba())
    assert (drawn[:, :, 3] == 255).all()  # opaque, so RGB loses nothing
    for data in (stored, fig.png(fast=True)):
        assert np.array_equal(png_pixels(data), drawn)
    assert len(stored) < len(fig.png(fast=True))  # the stored picture is the better compressed one


def test_legends_list_what_is_drawn_and_follow_a_size_change():
    """The legends belong to the blitted frame: a new hidden or input size must draw a new frame."""
    fig = plots.LSTMTraceFigure(compute.lstm_trace(fixtures.fixed_x(), compute.seed001_params()))
    fig.png()
    labels = {name: [t.get_text() for t in fig.axes[name].get_legend().get_texts()] for name in "hx"}
    assert labels == {"h": ["unit 0", "unit 1"], "x": ["feature 1", "feature 2", "feature 3"]}
    before = fig._key
    limits = [(ax.get_xlim(), ax.get_ylim()) for ax in fig.figure.axes]
    # one unit reading one feature, with the same axis limits: only the legends tell the frames apart
    fig.update(compute.lstm_trace(torch.full((3, 1), 5.0, dtype=F64), compute.zero_params(1, 1)))
    assert [(ax.get_xlim(), ax.get_ylim()) for ax in fig.figure.axes] == limits
    assert [t.get_text() for t in fig.axes["h"].get_legend().get_texts()] == ["unit 0"]
    assert [t.get_text() for t in fig.axes["x"].get_legend().get_texts()] == ["feature 1"]
    assert fig._frame_key() != before  # so png() draws the frame again, with the new legends
    blitted_after_change = png_pixels(fig.png())
    fig._key = None
    assert np.array_equal(blitted_after_change, png_pixels(fig.png()))


# ================================================================ widgets: the LSTM explorer
def expected_table(x, params, c0=0.0):
    header, rows = compute.trace_rows(compute.lstm_trace(x, params, c0))
    return display.table(rows, header)


def test_lstm_explorer_starts_on_seed001():
    ex = LSTMExplorer()
    assert ex.numbers_text == expected_table(fixtures.fixed_x(), compute.seed001_params())
    assert "0.9241" in ex.numbers.value  # the table is in the HTML widget the learner sees
    assert ex.png[:8] == b"\x89PNG\r\n\x1a\n"
    assert ex.image.format == "url" and ex.image.value == b"data:image/png;base64," + base64.b64encode(ex.png)
    assert ex.hidden.value == 2 and ex.input_mode.value == "fixed X"
    assert ex.slider("W_xf", 2).value == 0.5 and ex.slider("b_f").value == 0.0  # unit 0's row of W_xf
    assert [ex.slider("W_xf", k).description for k in range(3)] == ["w_x1", "w_x2", "w_x3"]  # counted from 1
    assert ex.unit.options == (("0", 0), ("1", 1))  # units count from 0
    assert plt.get_fignums() == []


@pytest.mark.parametrize("make", [LSTMExplorer, RNNExplorer, ConnectivityExplorer])
def test_figure_is_shown_at_its_own_pixel_width(make):
    """Not resampled by the page (a blurred figure, and work on every move); a narrow window may shrink it."""
    ex = make()
    width = png_pixels(ex.png).shape[1]
    assert (ex.image.layout.width, ex.image.layout.max_width) == (f"{width}px", "100%")


def test_moving_a_slider_changes_numbers_and_figure_as_compute_says():
    ex = LSTMExplorer()
    png, table, figure = ex.image.value, ex.numbers_text, ex.figure.figure
    ex.slider("b_f").value = 3.0  # unit 0's forget bias
    expected = compute.seed001_params()
    expected["b_f"][0] = 3.0
    trace = compute.lstm_trace(fixtures.fixed_x(), expected)
    assert torch.equal(ex.params["b_f"], expected["b_f"])
    assert ex.numbers_text == expected_table(fixtures.fixed_x(), expected) != table
    assert ex.image.value != png
    assert ex.figure.figure is figure  # redrawn in place
    assert list(ex.figure.lines["f"][0].get_ydata()) == trace.f[:, 0].tolist()
    assert list(ex.figure.lines["c"][1].get_ydata()) == trace.c[:, 1].tolist()
    assert ex.trace.f[0, 0].item() == pytest.approx(torch.sigmoid(torch.tensor(3.0 + 2.5, dtype=F64)).item(), abs=1e-12)


def test_edit_unit_selects_which_row_the_sliders_hold():
    ex = LSTMExplorer()
    ex.unit.value = 1
    assert ex.slider("W_xo", 1).value == -1.0  # seed 001: W_xo = [[1, 1, 0.5], [1, -1, -0.5]]
    ex.slider("W_xo", 1).value = 2.0
    assert ex.params["W_xo"][1, 1] == 2.0 and ex.params["W_xo"][0, 1] == 1.0
    ex.unit.value = 0
    assert ex.slider("W_xo", 1).value == 1.0


def test_c0_slider_starts_the_memory():
    ex = LSTMExplorer()
    ex.c0_slider.value = 1.0
    assert ex.numbers_text == expected_table(fixtures.fixed_x(), compute.seed001_params(), 1.0)


def test_presets_from_the_buttons():
    ex = LSTMExplorer()
    ex.press("remember everything")
    assert ex.c0_slider.value == 1.0 and ex.slider("b_f").value == compute.SATURATE
    assert torch.allclose(ex.trace.f, torch.full_like(ex.trace.f, compute.OPEN), atol=1e-12)
    assert ex.numbers_text == expected_table(fixtures.fixed_x(), ex.params, 1.0)
    ex.press("silent output")
    assert ex.trace.h.abs().max() <= compute.SHUT
    assert list(ex.figure.lines["o"][0].get_ydata()) == pytest.approx([compute.SHUT] * 3, abs=1e-12)
    ex.press("seed 001")
    assert ex.numbers_text == expected_table(fixtures.fixed_x(), compute.seed001_params())


def test_typed_sequence_hidden_size_and_back_to_seed001():
    ex = LSTMExplorer()
    ex.set_sequence("0.5, -0.5, 1")
    assert ex.input_mode.value == "typed" and ex.x.shape == (3, 1)
    assert sorted(k for k, _ in ex.sliders if k.startswith("W_x")) == ["W_xf", "W_xg", "W_xi", "W_xo"]
    assert ("W_xf", 1) not in ex.sliders  # one feature: one input weight per gate
    ex.hidden.value = 1
    assert ex.unit.disabled and ex.params["W_hf"].shape == (1, 1)
    ex.press("copy the input")
    assert torch.allclose(ex.trace.c[:, 0], torch.tanh(torch.tensor([0.5, -0.5, 1.0], dtype=F64)), atol=0.01)
    assert ex.numbers_text == expected_table(ex.x, ex.params, ex.c0)
    assert not ex.figure.lines["h"][1].get_visible()
    ex.press("seed 001")  # seed 001 reads three features: back to the fixed X with hidden size 2
    assert ex.input_mode.value == "fixed X" and ex.hidden.value == 2
    assert ex.numbers_text == expected_table(fixtures.fixed_x(), compute.seed001_params())
    ex.input_mode.value = "typed"  # the text box still holds the typed sequence
    assert ex.x.shape == (3, 1)


def test_a_bad_sequence_is_explained_and_changes_nothing():
    ex = LSTMExplorer()
    table = ex.numbers_text
    ex.set_sequence("1, x")
    assert "&#x27;x&#x27; (step 2) is not a number" in ex.status.value
    assert ex.numbers_text == table and ex.input_mode.value == "fixed X"
    ex.set_sequence("1, 2")
    assert ex.status.value == "" and ex.x.shape == (2, 1)


def test_set_params_widens_a_slider_range_rather_than_clipping():
    params = compute.zero_params(2, 3)
    params["b_f"][0] = 12.0
    ex = LSTMExplorer(params=params)
    assert ex.slider("b_f").value == 12.0 and ex.slider("b_f").max >= 12.0
    assert ex.trace.f[0, 0].item() == pytest.approx(torch.sigmoid(torch.tensor(12.0, dtype=F64)).item(), abs=1e-12)
    with pytest.raises(ValueError, match="read 1 feature"):
        ex.set_params(compute.zero_params(1, 1))


def test_explorer_shows_a_short_text_where_widgets_cannot_render():
    bundle = LSTMExplorer()._repr_mimebundle_()
    assert bundle["text/plain"] == ("LSTM gate explorer: hidden size 2, 3 steps of the fixed X "
                                    "(move the sliders in JupyterLab)")
    assert "model_id" in bundle["application/vnd.jupyter.widget-view+json"]
    assert RNNExplorer()._repr_mimebundle_()["text/plain"].startswith("RNN explorer: scale 1.00, tanh, T = 30")


# ================================================================ widgets: RNN and connectivity
def test_rnn_explorer_follows_its_sliders():
    ex = RNNExplorer()
    png = ex.image.value
    ex.scale.value = 0.5
    ex.length.value = 12
    ex.nonlinearity.value = "relu"
    profile = compute.rnn_profile(0.5, "relu", 12)
    assert torch.equal(ex.profile.grad_norm, profile.grad_norm)
    assert list(ex.figure.grad_line.get_ydata()) == profile.grad_norm.clamp_min(plots.GRADIENT_FLOOR).tolist()
    reach_row = [line for line in ex.numbers_text.splitlines() if line.startswith("reach = first / last")]
    assert reach_row[0].endswith(f"{compute.reach(profile.grad_norm):.3e}")
    assert "‖∂h_T/∂x_12‖ (the last input)" in ex.numbers_text
    assert ex.image.value != png


def test_connectivity_explorer_follows_its_sliders():
    ex = ConnectivityExplorer()
    table = ex.numbers_text
    ex.forget_bias.value = 3.0
    ex.length.value = 15
    norms = compute.connectivity(compute.random_sequence(15, 2, 0), forget_bias=3.0)
    for mode in compute.MODES:
        assert torch.equal(ex.norms[mode], norms[mode])
        assert list(ex.figure.lines[mode].get_ydata()) == norms[mode].tolist()
    assert ex.numbers_text != table and f"{compute.reach(norms['LSTM']):.3e}" in ex.numbers_text


# ================================================================ exercise checks
def keep_answer():
    params = compute.zero_params(1, 1)
    params["b_f"][0], params["b_i"][0], params["W_xg"][0, 0] = 8.0, 6.0, 2.0
    return params


def test_check_keep_first_input():
    assert checks.check_keep_first_input(keep_answer())
    leaky = keep_answer()
    leaky["b_f"][0] = 6.0  # f = 0.9975 still loses 2% over eight steps
    feedback = checks.check_keep_first_input(leaky)
    assert not feedback and "3 of 8 steps drift more than 0.01 from c_1 = 0.9616" in str(feedback)
    assert "step 6: c_6 = 0.9498" in str(feedback) and "f = 0.9975" in str(feedback)
    assert "was not written in" in str(checks.check_keep_first_input(compute.zero_params(1, 1)))
    assert "read 3 features per step" in str(checks.check_keep_first_input(compute.seed001_params()))
    assert "should be a dict" in str(checks.check_keep_first_input(42))


def test_check_keep_first_input_reads_an_explorer():
    ex = LSTMExplorer(params=keep_answer(), sequence=checks.KEEP_SEQUENCE)
    assert checks.check_keep_first_input(ex)
    ex.slider("b_f").value = 2.0
    assert not checks.check_keep_first_input(ex)


def test_check_cell_after():
    def closed_form(steps, f, i, g, c0):
        return f ** steps * c0 + i * g * (1 - f ** steps) / (1 - f)

    assert checks.check_cell_after(closed_form)
    feedback = checks.check_cell_after(lambda steps, f, i, g, c0: i * g * (1 - f ** steps) / (1 - f))
    assert not feedback and "case 1: got 0.5420, expected 1.2710" in str(feedback)
    assert "case 1 is steps=3, f=0.9000" in str(feedback)
    assert "forget to `return`" in str(checks.check_cell_after(lambda *a: None))

    def todo(steps, f, i, g, c0):
        raise NotImplementedError

    assert "not implemented yet" in str(checks.check_cell_after(todo))


def test_reference_cell_after_is_the_recurrence():
    for steps, f, i, g, c0 in checks.CELL_CASES:
        c = c0
        for _ in range(steps):
            c = f * c + i * g
        assert checks.reference_cell_after(steps, f, i, g, c0) == pytest.approx(c, abs=1e-12)


def test_check_forget_bias():
    assert checks.check_forget_bias(3.0)
    feedback = checks.check_forget_bias(0.0)
    assert not feedback and "reach is 1.945e-04" in str(feedback)
    assert "finite number" in str(checks.check_forget_bias("3"))
    assert "finite number" in str(checks.check_forget_bias(float("nan")))
