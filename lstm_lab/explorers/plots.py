"""The explorers' figures: built once, then updated in place.

Each figure class makes its axes and lines in ``__init__`` and only changes line data in
``update`` (``set_data``), so a slider move never creates a figure. ``png()`` renders the
figure with Agg, independent of the notebook's matplotlib backend; the widgets show those bytes
in one ``ipywidgets.Image``. Figures are ``matplotlib.figure.Figure`` objects, not pyplot ones,
so the inline backend never displays a stray copy at the end of a cell.

Speed (from a slider key press to the new figure in the browser: a median under 50 ms, see
``benchmarks/browser_latency.py``): most of a full draw is ticks and text, which do not change
while a slider moves. So ``png()`` blits: it keeps the drawn figure without its data lines, and
as long as no axis limit changed it only pastes that back and draws the lines on top (see
``_Plot.png``); when a limit did change, only the panels it belongs to are drawn again. The
legends belong to that kept frame, beneath the lines: drawn on top, each cost 7-10 ms per move
(text and box layout), more than every line together. The PNG is written directly
(``_encode_png``): half the time of Pillow's encoder, which tries five row filters on every row.

The tests read the plotted data back with ``line.get_ydata()``.
"""

from __future__ import annotations

import math
import struct
import zlib

import numpy as np
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, FuncFormatter, LogLocator, MaxNLocator, NullLocator
from matplotlib.transforms import Bbox

from .compute import GATE_TITLES, GATES, LSTMTrace, MODES, RNNProfile

DPI = 72
UNIT_STYLES = ({"color": "tab:blue", "linestyle": "-"}, {"color": "tab:orange", "linestyle": "--"})
FEATURE_COLORS = ("tab:gray", "tab:olive", "tab:purple")
GRADIENT_FLOOR = 1e-30  # log axes cannot show 0: a gradient that is exactly 0 is drawn here


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _encode_png(canvas: FigureCanvasAgg, compress_level: int) -> bytes:
    """The canvas as an 8-bit RGB PNG: rows with no filter, deflated at ``compress_level``.

    Written by hand because it is short and twice as fast as Pillow's encoder, which tries every
    row filter on every row (the figures are flat colours, where filters gain little). The
    figures are opaque, so the alpha channel is dropped: a quarter fewer bytes to deflate.
    """
    rgba = np.asarray(canvas.buffer_rgba())
    height, width = rgba.shape[:2]
    rows = np.zeros((height, 1 + 3 * width), dtype=np.uint8)  # each row: filter type 0 ("none"), R G B ...
    rows[:, 1:].reshape(height, width, 3)[...] = rgba[:, :, :3]  # a view of the pixel bytes: one copy
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8 bits per channel, colour type 2: RGB
    return b"".join([PNG_SIGNATURE, _png_chunk(b"IHDR", header),
                     _png_chunk(b"IDAT", zlib.compress(rows.tobytes(), compress_level)), _png_chunk(b"IEND", b"")])


class _Plot:
    """A figure whose data lines (``self.dynamic``) change and whose frame (axes, ticks, titles) rarely does."""

    figure: Figure
    dynamic: list  # artists redrawn on every update: the data lines

    def _frame_key(self) -> tuple:
        """What the frame depends on: (the whole figure's part, one part per panel).

        When the first part changes, the whole figure is drawn again; when only some panels'
        parts change (an axis limit, a legend), only those panels are.
        """
        def panel(ax):
            # a legend is part of the frame: its labels too (not its id, which a new legend may reuse)
            legend = tuple(t.get_text() for t in ax.get_legend().get_texts()) if ax.get_legend() else ()
            return ax.get_xlim(), ax.get_ylim(), legend

        return tuple(id(a) for a in self.dynamic), tuple(panel(ax) for ax in self.figure.axes)

    def png(self, fast: bool = False) -> bytes:
        """The figure as PNG bytes, drawn with Agg whatever the notebook's backend.

        ``fast`` compresses less (zlib level 1 instead of 6): about 2 ms less per frame for a
        third more bytes. Slider moves use it; a PNG that gets stored in a notebook does not.
        """
        if not isinstance(self.figure.canvas, FigureCanvasAgg):
            FigureCanvasAgg(self.figure)
        canvas = self.figure.canvas
        key, before = self._frame_key(), getattr(self, "_key", None)
        if before is None or key[0] != before[0] or not self._redraw_panels(key[1], before[1]):
            for artist in self.dynamic:
                artist.set_animated(True)  # a full draw skips animated artists: the frame alone
            canvas.draw()
            renderer = canvas.get_renderer()
            self._regions = [_region(ax, renderer) for ax in self.figure.axes]
            self._background = canvas.copy_from_bbox(self.figure.bbox)
        else:
            canvas.restore_region(self._background)
        self._key = key
        for artist in self.dynamic:
            if artist.get_visible():
                self.figure.draw_artist(artist)
        return _encode_png(canvas, 1 if fast else 6)

    def _redraw_panels(self, panels: tuple, panels_before: tuple) -> bool:
        """Draw again the frame of only the panels whose limits or legend changed; False if unsafe.

        A full draw of the LSTM figure took 50-130 ms on a busy 2-core machine, most of it the
        ticks and titles of panels that did not change; one panel takes a seventh of that. A panel is wiped (old and new extent: tick labels
        may have grown or shrunk) and drawn on its own, which gives the same pixels as a full
        draw as long as nothing else is drawn where it lies: if anything is, draw everything.
        """
        changed = [k for k, (now, then) in enumerate(zip(panels, panels_before)) if now != then]
        if not changed:
            return True
        canvas, axes = self.figure.canvas, self.figure.axes
        renderer = canvas.get_renderer()
        regions = {k: Bbox.union([self._regions[k], _region(axes[k], renderer)]) for k in changed}
        others = [self._regions[k] for k in range(len(axes)) if k not in regions]
        others += [artist.get_window_extent(renderer) for artist in (*self.figure.texts, *self.figure.legends)]
        wiped = list(regions.values())
        if any(a.overlaps(b) for a in wiped for b in others) or \
                any(a.overlaps(b) for i, a in enumerate(wiped) for b in wiped[i + 1:]):
            return False
        canvas.restore_region(self._background)
        pixels = np.asarray(canvas.buffer_rgba())  # a writable view of the canvas
        height = pixels.shape[0]
        paper = (np.array(to_rgba(self.figure.get_facecolor())) * 255).round().astype(np.uint8)  # the figure's colour
        for k, region in regions.items():
            x0, y0 = (max(math.floor(v), 0) for v in region.p0)
            x1, y1 = (math.ceil(v) for v in region.p1)
            pixels[max(height - y1, 0):height - y0, x0:x1] = paper  # display y counts up, rows count down
            self.figure.draw_artist(axes[k])  # its frame: the data lines are animated, so skipped
            self._regions[k] = _region(axes[k], renderer)
        self._background = canvas.copy_from_bbox(self.figure.bbox)
        return True

    @property
    def pixel_size(self) -> tuple[int, int]:
        """(width, height) of the PNG in pixels."""
        width, height = self.figure.get_size_inches() * self.figure.dpi
        return round(width), round(height)

    def _repr_png_(self) -> bytes:  # a figure object shown in a notebook cell displays itself once
        return self.png()

    def __repr__(self) -> str:  # the text shown beside the PNG: no memory address
        return f"{type(self).__name__} with {len(self.figure.axes)} panels"


def _style(ax, title: str, log: bool = False) -> None:
    """Few ticks and a fixed title position: most of a redraw's time goes into placing ticks and titles."""
    ax.set_title(title, fontsize=11, y=1.0, pad=4)  # an explicit y skips matplotlib's title-collision search
    ax.xaxis.set_major_locator(MaxNLocator(nbins=6, integer=True))
    if log:
        ax.set_yscale("log")
        ax.yaxis.set_major_locator(LogLocator(numticks=5))
        ax.yaxis.set_minor_locator(NullLocator())
        ax.yaxis.set_major_formatter(FuncFormatter(_decade_label))  # plain text: mathtext labels cost 20 ms
    else:
        ax.yaxis.set_major_locator(MaxNLocator(nbins=4))
    ax.tick_params(labelsize=9)
    ax.grid(alpha=0.3)


def _region(ax, renderer) -> Bbox:
    """Every pixel a panel's frame touched in the last draw, plus a margin for antialiasing.

    The union of what an axes draws outside its box: tick labels in view, tick marks, the
    title, axis labels, the offset text, the legend. ``ax.get_tightbbox`` says the same but
    locates every tick again: 5 ms a panel, a quarter of a full draw. This reads the extents of
    the texts the draw just laid out.
    """
    ticks = [tick.tick1line for axis in (ax.xaxis, ax.yaxis) for tick in axis.majorTicks]
    reach = max((t.get_markersize() + t.get_markeredgewidth() for t in ticks), default=0) * ax.figure.dpi / 72
    boxes = [ax.bbox.padded(reach), ax.title.get_window_extent(renderer)]  # tick marks stick out of the box
    for axis in (ax.xaxis, ax.yaxis):
        low, high = sorted(axis.get_view_interval())
        for tick in axis.majorTicks:
            if low <= tick.get_loc() <= high:  # ticks out of view were not drawn
                boxes += [label.get_window_extent(renderer) for label in (tick.label1, tick.label2)
                          if label.get_visible() and label.get_text()]
        boxes += [text.get_window_extent(renderer) for text in (axis.label, axis.offsetText)
                  if text.get_visible() and text.get_text()]
    if ax.get_legend() is not None:
        boxes.append(ax.get_legend().get_window_extent(renderer))
    return Bbox.union(boxes).padded(2)


def _frame_legend(ax, **kwargs) -> None:
    """A legend that is part of the frame: drawn once with the axes, beneath the data lines.

    On top of the lines it would have to be redrawn on every move, at 7-10 ms each; beneath them
    a line may cross its (translucent) box, which is how ``savefig`` draws it too (zorder 1.9,
    below the lines' 2).
    """
    ax.legend(fontsize=8, **kwargs).set_zorder(1.9)


def _decade_label(value: float, _position=None) -> str:
    return f"1e{round(math.log10(value))}" if value > 0 else ""


def _nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 5, 10, 20, ... (times a power of ten) that is >= value.

    Axis limits snap to these, so they change rarely and most redraws can blit.
    """
    if value <= 0:
        return 1.0
    decade = 10.0 ** math.floor(math.log10(value))
    return next(m * decade for m in (1, 2, 5, 10) if m * decade >= value * (1 - 1e-12))


def _set_log_ylim(ax, low: float, high: float, snap: int = 3) -> None:
    """From 10^a to 10^b around [low, high], a and b multiples of ``snap`` (rarely changing limits)."""
    a = math.floor(math.log10(low / 2) / snap) * snap
    b = math.ceil(math.log10(high * 2) / snap) * snap
    ax.set_ylim(10.0 ** a, 10.0 ** b)


STEP_LIMITS = (3, 5, 10, 15, 20, 30, 40, 50, 60, 80, 100, 150, 200)


def _set_steps_xlim(ax, steps: int) -> None:
    """Room for ``steps`` steps, rounded up to one of STEP_LIMITS so a length slider rarely moves the axis."""
    room = next((m for m in STEP_LIMITS if m >= steps), steps)
    ax.set_xlim(0.5, room + 0.5)


def _steps(n: int) -> list[int]:
    return list(range(1, n + 1))  # steps are numbered from 1, as in the course


def _set_symmetric_ylim(ax, values: torch.Tensor, at_least: float) -> None:
    """y from -m to m, m covering every value with a margin (and at least ``at_least``)."""
    peak = _nice_ceiling(max(at_least, 1.05 * values.abs().max().item()))
    ax.set_ylim(-peak, peak)


class LSTMTraceFigure(_Plot):
    """Top: the four gates per step. Bottom: the inputs x_t, the memory c_t, the output h_t.

    One line per hidden unit (unit 0 solid, unit 1 dashed); with hidden size 1 the second
    line is hidden.
    """

    PANELS = (*GATES, "x", "c", "h")
    TITLES = {**GATE_TITLES, "x": "input x_t", "c": "cell state c_t", "h": "hidden state h_t"}

    def __init__(self, trace: LSTMTrace | None = None):
        # A fixed layout (no layout engine): it would be recomputed on every redraw.
        self.figure = Figure(figsize=(10, 5.0), dpi=DPI)
        grid = self.figure.add_gridspec(2, 12, left=0.05, right=0.99, bottom=0.09, top=0.94, wspace=2.2, hspace=0.35)
        spans = [grid[0, 3 * k:3 * k + 3] for k in range(4)] + [grid[1, 4 * k:4 * k + 4] for k in range(3)]
        self.axes = {name: self.figure.add_subplot(span) for name, span in zip(self.PANELS, spans)}
        self.lines: dict[str, list] = {}
        for name, ax in self.axes.items():
            _style(ax, self.TITLES[name])
            if name == "x":
                self.lines[name] = [ax.plot([], [], marker="o", color=c, label=f"feature {k + 1}")[0]
                                    for k, c in enumerate(FEATURE_COLORS)]
            else:
                self.lines[name] = [ax.plot([], [], marker="o", label=f"unit {k}", **style)[0]
                                    for k, style in enumerate(UNIT_STYLES)]
            if name in ("f", "i", "o"):  # sigmoid: between 0 and 1
                ax.set_ylim(-0.05, 1.05)
                ax.yaxis.set_major_locator(FixedLocator([0, 0.5, 1]))
            elif name in ("g", "h"):  # tanh: between -1 and 1
                ax.set_ylim(-1.05, 1.05)
                ax.yaxis.set_major_locator(FixedLocator([-1, 0, 1]))
        self.figure.text(0.5, 0.01, "step t", ha="center", fontsize=10)
        self._legend_sizes = None
        self.dynamic = [line for lines in self.lines.values() for line in lines]
        if trace is not None:
            self.update(trace)

    def update(self, trace: LSTMTrace) -> None:
        steps = _steps(trace.x.shape[0])
        for name in self.PANELS:
            values = trace.x if name == "x" else getattr(trace, name)
            for k, line in enumerate(self.lines[name]):
                visible = k < values.shape[1]
                line.set_visible(visible)
                line.set_data(steps, values[:, k].tolist() if visible else [])
            _set_steps_xlim(self.axes[name], len(steps))
        _set_symmetric_ylim(self.axes["c"], trace.c, 1.05)  # |c| can grow past 1: the memory is unbounded
        _set_symmetric_ylim(self.axes["x"], trace.x, 1.05)
        sizes = (trace.h.shape[1], trace.x.shape[1])
        if sizes != self._legend_sizes:  # a legend lists the units and features in use
            for name, n in zip("hx", sizes):
                _frame_legend(self.axes[name], handles=self.lines[name][:n], loc="lower right")
            self._legend_sizes = sizes


class RNNProfileFigure(_Plot):
    """Left: every unit of h_t. Right: ‖∂h_T/∂x_t‖ on a log scale, with scale^(T-t) for reference."""

    def __init__(self, profile: RNNProfile | None = None, scale: float = 1.0, hidden_size: int = 8):
        self.figure = Figure(figsize=(10, 3.6), dpi=DPI)
        self.ax_h, self.ax_grad = self.figure.subplots(
            1, 2, gridspec_kw={"left": 0.06, "right": 0.99, "bottom": 0.13, "top": 0.91, "wspace": 0.18})
        _style(self.ax_h, "hidden state h_t (one line per unit)")
        _style(self.ax_grad, "‖∂h_T/∂x_t‖: how much x_t still moves the last state", log=True)
        self.h_lines = [self.ax_h.plot([], [], linewidth=1)[0] for _ in range(hidden_size)]
        (self.grad_line,) = self.ax_grad.plot([], [], marker="o", color="tab:red", label="‖∂h_T/∂x_t‖")
        (self.reference_line,) = self.ax_grad.plot([], [], color="gray", linestyle=":",
                                                   label="scale^(T-t) × the last value")
        _frame_legend(self.ax_grad, loc="upper left")
        self.figure.text(0.5, 0.01, "step t", ha="center", fontsize=10)
        self.dynamic = [*self.h_lines, self.grad_line, self.reference_line]
        if profile is not None:
            self.update(profile, scale)

    def update(self, profile: RNNProfile, scale: float) -> None:
        steps = _steps(profile.h.shape[0])
        for k, line in enumerate(self.h_lines):
            line.set_data(steps, profile.h[:, k].tolist())
        last = len(steps)
        norms = profile.grad_norm.clamp_min(GRADIENT_FLOOR)
        powers = torch.tensor([float(last - t) for t in steps], dtype=norms.dtype)
        reference = (profile.grad_norm[-1] * float(scale) ** powers).clamp_min(GRADIENT_FLOOR)
        self.grad_line.set_data(steps, norms.tolist())
        self.reference_line.set_data(steps, reference.tolist())
        for ax in (self.ax_h, self.ax_grad):
            _set_steps_xlim(ax, len(steps))
        _set_symmetric_ylim(self.ax_h, profile.h, 0.5)
        both = torch.cat([norms, reference])
        _set_log_ylim(self.ax_grad, both.min().item(), both.max().item())


class ConnectivityFigure(_Plot):
    """‖∂h_T/∂x_t‖ per step for the RNN, the LSTM and the GRU, side by side on one log scale."""

    COLORS = {"RNN": "tab:red", "LSTM": "tab:blue", "GRU": "tab:green"}

    def __init__(self, norms: dict | None = None):
        self.figure = Figure(figsize=(10, 3.2), dpi=DPI)
        axes = self.figure.subplots(
            1, 3, sharey=True, gridspec_kw={"left": 0.08, "right": 0.99, "bottom": 0.15, "top": 0.9, "wspace": 0.08})
        self.axes = dict(zip(MODES, axes))
        self.lines = {}
        for mode, ax in self.axes.items():
            _style(ax, mode, log=True)
            (self.lines[mode],) = ax.plot([], [], marker="o", color=self.COLORS[mode])
        axes[0].set_ylabel("‖∂h_T/∂x_t‖", fontsize=10)
        self.figure.text(0.5, 0.01, "step t", ha="center", fontsize=10)
        self.dynamic = list(self.lines.values())
        if norms is not None:
            self.update(norms)

    def update(self, norms: dict) -> None:
        low, high = float("inf"), 0.0
        for mode, line in self.lines.items():
            values = norms[mode].clamp_min(GRADIENT_FLOOR)
            line.set_data(_steps(len(values)), values.tolist())
            _set_steps_xlim(self.axes[mode], len(values))
            low, high = min(low, values.min().item()), max(high, values.max().item())
        _set_log_ylim(self.axes["RNN"], low, high)  # shared y: one scale for all three
