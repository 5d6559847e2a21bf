"""The explorers as ipywidgets 8: sliders wired to ``compute``, figures from ``plots``.

Nothing here computes an LSTM, an RNN or a gradient: every handler reads the controls, calls
one function of ``compute``, and shows its result twice — as a table of numbers (an
``HTML`` widget) and as a figure (one ``Image`` widget whose PNG is re-rendered from the same
matplotlib figure on every change: no new figure, no flicker). What a move costs, from the key
press to the new figure in the page, is measured by ``benchmarks/browser_latency.py``.

Every explorer can be driven from Python exactly as a learner drives it with the mouse
(``explorer.slider("b_f").value = 6``, ``explorer.press("silent output")``), which is how the
tests check it without a browser. Displayed in a notebook, an explorer shows its widgets, and a
one-line text description where widgets cannot be shown.
"""

from __future__ import annotations

import base64
import html
from contextlib import contextmanager

import ipywidgets as w
import torch

from .. import display, fixtures
from . import compute, plots

WEIGHT_RANGE = (-4.0, 4.0)
BIAS_RANGE = (-8.0, 8.0)  # wide enough for ±SATURATE
STEP = 0.1


def _pre(text: str) -> str:
    # white-space: pre keeps each step on one line; a narrow window scrolls instead of wrapping
    return ("<pre style='font-size: 12px; line-height: 1.25; margin: 0; white-space: pre; overflow-x: auto'>"
            f"{html.escape(text)}</pre>")


class _Explorer:
    """What every explorer shares: a root widget, a figure shown as PNG, numbers, a status line."""

    css_class = "lstm-lab-explorer"
    title = "explorer"

    def __init__(self) -> None:
        self._quiet = False
        # The PNG goes to the page as a data: URL (format "url"), not as raw bytes: for raw bytes
        # the page makes a blob: URL, whose fetch goes through the browser's other process and
        # took 5-7 ms longer to show in Chromium than decoding the data: URL in place, for a
        # third more bytes on the (local) websocket. Shown at its own pixel size (set with the
        # first picture): crisp, and never resampled on a move; a narrower window still shrinks it.
        self.image = w.Image(format="url", layout=w.Layout(max_width="100%", height="auto"))
        self.png = b""  # the PNG bytes the image shows
        self.image.add_class("lstm-lab-figure")
        self.numbers = w.HTML()
        self.numbers.add_class("lstm-lab-numbers")
        self.status = w.HTML()
        self.status.add_class("lstm-lab-status")
        self.numbers_text = ""
        self._rendered = False

    @contextmanager
    def _quietly(self):
        """Set controls from code without each change triggering a recomputation."""
        before, self._quiet = self._quiet, True
        try:
            yield
        finally:
            self._quiet = before

    def _show(self, figure: plots._Plot, numbers: str) -> None:
        # The figure goes first: each widget change is its own message to the page, and the
        # figure is what a learner watches while moving a slider.
        # The first picture is the one a saved notebook keeps: compress it well; then favour speed.
        if not self._rendered:
            self.image.layout.width = f"{figure.pixel_size[0]}px"
        self.png = figure.png(fast=self._rendered)
        self.image.value = b"data:image/png;base64," + base64.b64encode(self.png)
        self._rendered = True
        self.numbers_text = numbers
        self.numbers.value = _pre(numbers)

    def _say(self, message: str = "") -> None:
        self.status.value = f"<span style='color: #b00020'>{html.escape(message)}</span>" if message else ""

    def describe(self) -> str:
        return self.title

    def _repr_mimebundle_(self, include=None, exclude=None):
        # Our own text/plain (the widgets' default repr would hold the PNG bytes and model ids).
        return {
            "text/plain": self.describe(),
            "application/vnd.jupyter.widget-view+json": {
                "version_major": 2, "version_minor": 0, "model_id": self.widget.model_id,
            },
        }


# ---------------------------------------------------------------- the LSTM gate explorer
class LSTMExplorer(_Explorer):
    """Sliders for every weight of one hidden unit, for each gate; the trace of every step.

    ``params`` are per-gate tensors (``W_xf, W_hf, b_f, ...``, see ``compute``); by default
    seed 001's LSTM on the fixed X. The sliders edit the row of the unit chosen with "edit
    unit"; ``c0`` is the initial memory of every unit.
    """

    css_class = "lstm-lab-lstm-explorer"
    title = "LSTM gate explorer"
    DEFAULT_TYPED = "1, 0, 0, 0, 0, 0, 0, 0"

    def __init__(self, params: dict | None = None, sequence=None, c0: float = 0.0):
        super().__init__()
        typed = sequence is not None
        x = compute.as_sequence(sequence) if typed else fixtures.fixed_x()
        if params is None:  # seed 001's weights, cut or padded to the input's number of features
            params = compute.resize_params(compute.seed001_params(), 2, x.shape[1])
        compute.check_params(params)
        if compute.sizes_of(params)[1] != x.shape[1]:
            raise ValueError(f"the weights read {compute.sizes_of(params)[1]} feature(s) per step "
                             f"but the sequence has {x.shape[1]}")
        params = {k: v.detach().to(compute.DTYPE).clone() for k, v in params.items()}
        self.params, self.x, self.c0 = params, x, float(c0)
        self.mode = "typed" if typed else "fixed X"
        self.slider_box = w.HBox()
        self.sliders: dict[tuple[str, int], w.FloatSlider] = {}

        self.input_mode = w.ToggleButtons(options=["fixed X", "typed"], value="typed" if typed else "fixed X",
                                          description="input")
        self.sequence_text = w.Text(value=compute.format_sequence(x) if typed else self.DEFAULT_TYPED,
                                    description="sequence", continuous_update=False,
                                    placeholder="1, 0, 0  or  1 2 3; 4 5 6", layout=w.Layout(width="420px"))
        self.hidden = w.ToggleButtons(options=list(compute.HIDDEN_SIZES), description="hidden size")
        self.unit = w.ToggleButtons(options=self._unit_options(2), description="edit unit")
        self.c0_slider = w.FloatSlider(value=self.c0, min=-2.0, max=2.0, step=0.05, description="c0",
                                       continuous_update=True, readout_format=".2f")
        self.preset_buttons = {name: w.Button(description=name, tooltip=compute.PRESET_DOCS[name],
                                              layout=w.Layout(width="auto")) for name in compute.PRESETS}
        for name, button in self.preset_buttons.items():
            button.on_click(lambda _button, name=name: self._on_preset(name))
        for control, handler in ((self.input_mode, self._on_input_mode), (self.sequence_text, self._on_text),
                                 (self.hidden, self._on_hidden), (self.unit, self._on_unit),
                                 (self.c0_slider, self._on_c0)):
            control.observe(handler, names="value")

        self.figure = plots.LSTMTraceFigure()
        self.widget = w.VBox([
            w.HBox([self.input_mode, self.sequence_text]),
            w.HBox([self.hidden, self.unit]),
            w.HBox([w.Label("presets:"), *self.preset_buttons.values()]),
            self.slider_box,
            self.c0_slider,
            self.status,
            self.image,
            self.numbers,
        ])
        self.widget.add_class(self.css_class)
        self._apply(self.params, self.c0, self.x, "typed" if typed else "fixed X")

    @staticmethod
    def _unit_options(hidden_size: int) -> list[tuple[str, int]]:
        return [(str(unit), unit) for unit in range(hidden_size)]  # units count from 0, as h[0] does

    # ------------------------------------------------------------ reading the state
    @property
    def hidden_size(self) -> int:
        return compute.sizes_of(self.params)[0]

    @property
    def input_size(self) -> int:
        return self.x.shape[1]

    def slider(self, key: str, column: int = 0) -> w.FloatSlider:
        """The slider for ``params[key][unit, column]`` of the unit being edited (``b_?``: column 0).

        ``column`` indexes the tensor from 0: ``slider("W_xf", 0)`` is the slider labelled w_x1 (feature 1),
        ``slider("W_hf", 0)`` the one labelled w_h0 (unit 0, as hidden units count from 0).
        """
        if (key, column) not in self.sliders:
            keys = ", ".join(sorted({k for k, _ in self.sliders}))
            raise KeyError(f"no slider {key!r} column {column}; there are {keys} "
                           f"with columns 0..{max(c for _, c in self.sliders)}")
        return self.sliders[(key, column)]

    def describe(self) -> str:
        source = "the fixed X" if self.mode == "fixed X" else f"the sequence {compute.format_sequence(self.x)}"
        return (f"{self.title}: hidden size {self.hidden_size}, {self.x.shape[0]} steps of {source} "
                "(move the sliders in JupyterLab)")

    # ------------------------------------------------------------ driving it from code
    def press(self, preset: str) -> None:
        """Press a preset button (what a click does)."""
        if preset not in self.preset_buttons:
            raise ValueError(f"unknown preset {preset!r}; choose one of {', '.join(repr(p) for p in compute.PRESETS)}")
        self.preset_buttons[preset].click()

    def set_params(self, params: dict, c0: float | None = None) -> None:
        """Replace every weight at once (the input must have as many features as ``W_x?`` reads)."""
        compute.check_params(params)
        hidden_size, input_size = compute.sizes_of(params)
        if input_size != self.input_size:
            raise ValueError(f"the weights read {input_size} feature(s) but the input has {self.input_size}")
        self._apply({k: v.detach().to(compute.DTYPE).clone() for k, v in params.items()},
                    self.c0 if c0 is None else float(c0), self.x)

    def set_sequence(self, text: str) -> None:
        """Type a sequence into the text box and switch to it."""
        self.sequence_text.value = text
        if self.input_mode.value != "typed":
            self.input_mode.value = "typed"

    # ------------------------------------------------------------ handlers
    def _on_slider(self, change, key: str, column: int) -> None:
        if self._quiet:
            return
        row = self.params[key][self.unit.value]  # a view: writing into it changes params
        row.reshape(-1)[column] = float(change["new"])  # a bias row is a single number: column 0
        self._refresh()

    def _on_c0(self, change) -> None:
        if not self._quiet:
            self.c0 = float(change["new"])
            self._refresh()

    def _on_unit(self, change) -> None:
        if not self._quiet:
            self._sync_sliders()

    def _on_hidden(self, change) -> None:
        if not self._quiet:
            self._apply(compute.resize_params(self.params, change["new"], self.input_size), self.c0, self.x)

    def _on_input_mode(self, change) -> None:
        if self._quiet:
            return
        if change["new"] == "fixed X":
            self._switch_input(fixtures.fixed_x(), "fixed X")
        else:
            self._switch_input_from_text()

    def _on_text(self, change) -> None:
        if self._quiet:
            return
        if self.input_mode.value == "typed":
            self._switch_input_from_text()
        else:
            self.input_mode.value = "typed"  # typing a sequence means: use it (this calls _on_input_mode)

    def _on_preset(self, name: str) -> None:
        params, c0 = compute.apply_preset(name, self.params, self.c0)
        if compute.sizes_of(params)[1] == self.input_size:
            self._apply(params, c0, self.x)
        else:  # seed 001's weights read three features: the fixed X
            self._apply(params, c0, fixtures.fixed_x(), "fixed X")

    def _switch_input_from_text(self) -> None:
        try:
            x = compute.parse_sequence(self.sequence_text.value)
        except (ValueError, TypeError) as error:
            with self._quietly():  # keep showing the input that is in use
                self.input_mode.value = self.mode
            self._say(f"The sequence was not used: {error}")
            return
        self._switch_input(x, "typed")

    def _switch_input(self, x: torch.Tensor, mode: str) -> None:
        self._apply(compute.resize_params(self.params, self.hidden_size, x.shape[1]), self.c0, x, mode)

    # ------------------------------------------------------------ state -> widgets
    def _apply(self, params: dict, c0: float, x: torch.Tensor, mode: str | None = None) -> None:
        """Take a new state, bring every control in line with it, recompute once.

        ``mode`` is the input the state uses ("fixed X" or "typed"); None keeps the current one.
        """
        old_sizes = (self.hidden_size, self.input_size) if self.sliders else None
        self.params, self.c0, self.x = params, c0, x
        self.mode = mode or self.mode  # the input in use: "fixed X" or "typed"
        with self._quietly():
            self.input_mode.value = self.mode
            self.hidden.value = self.hidden_size
            self.unit.options = self._unit_options(self.hidden_size)
            self.unit.disabled = self.hidden_size == 1
            self.c0_slider.value = c0
        if old_sizes != (self.hidden_size, self.input_size):
            self._build_sliders()
        self._say()
        # The new figure before the sliders: a preset moves up to 24 sliders, one message each,
        # and the page would draw every one of them before it shows the figure.
        self._refresh()
        self._sync_sliders()

    def _build_sliders(self) -> None:
        """One column per gate: the unit's input weights, recurrent weights and bias."""
        hidden_size, input_size = self.hidden_size, self.input_size
        self.sliders = {}
        columns = []
        for gate in compute.GATES:
            wx, wh, b = compute.gate_keys(gate)
            # w_x1 weighs feature 1 of x_t (features count from 1, as in x_t = [1, 2, 3]); w_h0 weighs
            # unit 0 of h_{t-1} (units count from 0, as h[0] and the "edit unit" buttons do)
            entries = [(wx, k, f"w_x{k + 1}", WEIGHT_RANGE) for k in range(input_size)]
            entries += [(wh, k, f"w_h{k}", WEIGHT_RANGE) for k in range(hidden_size)]
            entries += [(b, 0, "bias", BIAS_RANGE)]
            sliders = []
            for key, column, label, (low, high) in entries:
                slider = w.FloatSlider(value=0.0, min=low, max=high, step=STEP, description=label,
                                       continuous_update=True, readout_format=".2f",
                                       layout=w.Layout(width="230px"), style={"description_width": "40px"})
                slider.observe(lambda change, key=key, column=column: self._on_slider(change, key, column),
                               names="value")
                self.sliders[(key, column)] = slider
                sliders.append(slider)
            title = w.HTML(f"<b>{html.escape(compute.GATE_TITLES[gate])}</b>")
            columns.append(w.VBox([title, *sliders]))
        self.slider_box.children = columns

    def _sync_sliders(self) -> None:
        """Show the edited unit's weights on the sliders, widening a range if a value lies outside it."""
        unit = self.unit.value if self.unit.value in range(self.hidden_size) else 0
        with self._quietly():
            for (key, column), slider in self.sliders.items():
                value = self.params[key][unit].reshape(-1)[column].item()
                with slider.hold_sync():  # min, max and value in one message (if any changed)
                    slider.min, slider.max = min(slider.min, value), max(slider.max, value)
                    slider.value = value

    def _refresh(self) -> None:
        self.trace = compute.lstm_trace(self.x, self.params, self.c0)
        self.figure.update(self.trace)
        self._show(self.figure, compute.trace_table(self.trace))


# ---------------------------------------------------------------- the RNN explorer
class RNNExplorer(_Explorer):
    """Recurrent weight scale, nonlinearity and length -> h_t and ‖∂h_T/∂x_t‖."""

    css_class = "lstm-lab-rnn-explorer"
    title = "RNN explorer"

    def __init__(self, scale: float = 1.0, nonlinearity: str = "tanh", length: int = 30):
        super().__init__()
        self.scale = w.FloatSlider(value=scale, min=0.1, max=2.0, step=0.05, description="scale",
                                   readout_format=".2f", continuous_update=True)
        self.nonlinearity = w.ToggleButtons(options=["tanh", "relu"], value=nonlinearity, description="nonlinearity")
        self.length = w.IntSlider(value=length, min=2, max=60, description="length T", continuous_update=True)
        for control in (self.scale, self.nonlinearity, self.length):
            control.observe(lambda _change: self._refresh(), names="value")
        self.figure = plots.RNNProfileFigure(hidden_size=compute.RNN_HIDDEN)
        self.widget = w.VBox([w.HBox([self.scale, self.length]), self.nonlinearity, self.status, self.image,
                              self.numbers])
        self.widget.add_class(self.css_class)
        self._refresh()

    def describe(self) -> str:
        return (f"{self.title}: scale {self.scale.value:.2f}, {self.nonlinearity.value}, T = {self.length.value}"
                " (move the sliders in JupyterLab)")

    def _refresh(self) -> None:
        self.profile = compute.rnn_profile(self.scale.value, self.nonlinearity.value, self.length.value)
        self.figure.update(self.profile, self.scale.value)
        self._show(self.figure, rnn_summary(self.profile))


def rnn_summary(profile: compute.RNNProfile) -> str:
    """The RNN explorer's numbers: the gradient from the first and from the last input, and their ratio."""
    norms = profile.grad_norm
    rows = [
        ["‖∂h_T/∂x_1‖ (the first input)", f"{norms[0].item():.3e}"],
        [f"‖∂h_T/∂x_{len(norms)}‖ (the last input)", f"{norms[-1].item():.3e}"],
        ["reach = first / last", f"{compute.reach(norms):.3e}"],
        ["largest |h_t|", f"{profile.h.abs().max().item():.4f}"],
    ]
    return display.table(rows, [f"T = {len(norms)}", "value"])


# ---------------------------------------------------------------- the connectivity view
class ConnectivityExplorer(_Explorer):
    """‖∂h_T/∂x_t‖ per step for an RNN, an LSTM and a GRU reading the same random sequence."""

    css_class = "lstm-lab-connectivity-explorer"
    title = "connectivity view"

    def __init__(self, length: int = 20, sequence_seed: int = 0, forget_bias: float = 0.0):
        super().__init__()
        self.length = w.IntSlider(value=length, min=2, max=compute.MAX_STEPS, description="length T")
        self.sequence_seed = w.IntSlider(value=sequence_seed, min=0, max=9, description="sequence")
        self.forget_bias = w.FloatSlider(value=forget_bias, min=-2.0, max=6.0, step=0.25, description="LSTM b_f +",
                                         readout_format=".2f", style={"description_width": "80px"})
        for control in (self.length, self.sequence_seed, self.forget_bias):
            control.observe(lambda _change: self._refresh(), names="value")
        self.figure = plots.ConnectivityFigure()
        self.widget = w.VBox([w.HBox([self.length, self.sequence_seed, self.forget_bias]), self.status,
                              self.image, self.numbers])
        self.widget.add_class(self.css_class)
        self._refresh()

    def describe(self) -> str:
        return (f"{self.title}: T = {self.length.value}, sequence {self.sequence_seed.value}, "
                f"LSTM forget bias +{self.forget_bias.value:.2f} (move the sliders in JupyterLab)")

    def _refresh(self) -> None:
        x = compute.random_sequence(self.length.value, compute.CONNECTIVITY_INPUT, self.sequence_seed.value)
        self.norms = compute.connectivity(x, forget_bias=self.forget_bias.value)
        self.figure.update(self.norms)
        self._show(self.figure, connectivity_summary(self.norms))


def connectivity_summary(norms: dict) -> str:
    rows = [[mode, f"{n[0].item():.3e}", f"{n[-1].item():.3e}", f"{compute.reach(n):.3e}"] for mode, n in norms.items()]
    last = len(next(iter(norms.values())))
    return display.table(rows, ["model", "‖∂h_T/∂x_1‖", f"‖∂h_T/∂x_{last}‖", "reach"])
