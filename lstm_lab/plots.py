"""Plots a notebook shows beside its tables: hidden states over time, and gates as heatmaps.

    hidden_trajectories(h)   one line per hidden unit, h_t against t          h: (T, H)
    state_path(h)            the path of h_t through the plane of units 0, 1  h: (T, 2)
    gate_heatmap(gates)      one heatmap row per gate and unit, one column per step, values written in
                             gates: {"i": (T, H), "f": ..., ...} (LSTM i, f, g, o; GRU r, z, n)
    moving_average(v, w)     the mean of every window of w values: the curve to draw of a noisy
                             per-step training record (loss, batch accuracy)

Each returns a ``matplotlib.figure.Figure`` (not a pyplot one: nothing is shown twice, and it
renders the same under any backend); a notebook cell that ends with it shows it as a PNG, with or
without pyplot imported (``_repr_png_``: matplotlib's inline backend, which would otherwise draw it,
is loaded only once pyplot draws its first figure). What is drawn is
exactly the tensor given, so a test (or a notebook cell) can read it back: ``line.get_ydata()``,
``image.get_array()``.

Conventions, the same as the figures in img/: time steps are counted from ``FIRST_STEP`` (x_1 is
the first input), units from 0 (unit k is column k of the tensor).
"""

from __future__ import annotations

from collections.abc import Mapping
from io import BytesIO

import torch
from matplotlib.figure import Figure
from torch import Tensor

from .gates import GATE_WORDS

FIRST_STEP = 1  # the first time step is step 1, as x_1 in the equations and figures
# what each can take: sigmoid gates in (0, 1), tanh candidates and states in (-1, 1) (c is unbounded,
# its colour scale clips at +-1 and the written numbers stay exact)
VALUE_RANGE = {"i": (0.0, 1.0), "f": (0.0, 1.0), "o": (0.0, 1.0), "r": (0.0, 1.0), "z": (0.0, 1.0),
               "g": (-1.0, 1.0), "n": (-1.0, 1.0), "c": (-1.0, 1.0), "h": (-1.0, 1.0)}
UNIT_STYLES = ({"color": "tab:blue", "linestyle": "-"}, {"color": "tab:orange", "linestyle": "--"},
               {"color": "tab:green", "linestyle": "-."}, {"color": "tab:red", "linestyle": ":"})


class ShownFigure(Figure):
    """A Figure that displays itself as a PNG when a notebook cell ends with it."""

    def _repr_png_(self) -> bytes:
        buffer = BytesIO()
        self.savefig(buffer, format="png")
        return buffer.getvalue()


def _as_steps_by_units(name: str, values, *, units: int | None = None) -> Tensor:
    """A (T, H) float tensor, or a ValueError that says what was expected and what was given."""
    if not isinstance(values, Tensor):
        values = torch.as_tensor(values)
    if values.dim() != 2:
        raise ValueError(f"{name} should be 2-D (time steps, hidden units), one row per step, "
                         f"got shape {tuple(values.shape)}; for a batch, pick one sample: h[:, b]")
    if units is not None and values.shape[1] != units:
        raise ValueError(f"{name} should have {units} hidden units (columns), got shape {tuple(values.shape)}")
    if values.shape[0] == 0:
        raise ValueError(f"{name} has no time steps: shape {tuple(values.shape)}")
    return values.detach().to("cpu", torch.float64)


def _steps(count: int) -> list[int]:
    return list(range(FIRST_STEP, FIRST_STEP + count))


def hidden_trajectories(h, *, title: str = "hidden state over time", ylabel: str = "h_t") -> Figure:
    """One line per hidden unit: ``h[:, k]`` against the time step. ``h`` is ``(T, H)``."""
    h = _as_steps_by_units("h", h)
    fig = ShownFigure(figsize=(5.0, 3.0), dpi=100, layout="constrained")
    ax = fig.add_subplot()
    steps = _steps(h.shape[0])
    for k in range(h.shape[1]):
        ax.plot(steps, h[:, k].tolist(), marker="o", label=f"unit {k}", **UNIT_STYLES[k % len(UNIT_STYLES)])
    ax.set_xticks(steps)
    ax.set_xlabel("time step t")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.axhline(0.0, color="#bbbbbb", linewidth=0.8, zorder=0)
    ax.legend(loc="best", fontsize=8)
    return fig


def state_path(h, *, title: str = "the path of h_t") -> Figure:
    """The hidden state as a point moving through the plane (unit 0, unit 1), one dot per step.

    ``h`` is ``(T, 2)``; the path starts at h_0 = 0 and each dot is labelled with its step.
    """
    h = _as_steps_by_units("h", h, units=2)
    path = torch.cat([h.new_zeros(1, 2), h])  # from h_0 = 0
    fig = ShownFigure(figsize=(4.0, 4.0), dpi=100, layout="constrained")
    ax = fig.add_subplot()
    ax.plot(path[:, 0].tolist(), path[:, 1].tolist(), color="tab:blue", marker="o")
    for t, (u0, u1) in zip(range(FIRST_STEP - 1, FIRST_STEP + len(h)), path.tolist()):
        ax.annotate(f"$h_{{{t}}}$", (u0, u1), textcoords="offset points", xytext=(6, 6), fontsize=10)
    ax.set_xlim(-1.1, 1.1)  # tanh keeps every unit of an RNN in (-1, 1)
    ax.set_ylim(-1.1, 1.1)
    ax.set_aspect("equal")
    ax.axhline(0.0, color="#bbbbbb", linewidth=0.8, zorder=0)
    ax.axvline(0.0, color="#bbbbbb", linewidth=0.8, zorder=0)
    ax.set_xlabel("unit 0")
    ax.set_ylabel("unit 1")
    ax.set_title(title)
    return fig


def gate_heatmap(gates: Mapping[str, Tensor], *, order: tuple[str, ...] | None = None, decimals: int = 2,
                 title: str | None = None) -> Figure:
    """One heatmap per gate: rows are hidden units, columns time steps, each cell's value written in.

    ``gates`` maps names to ``(T, H)`` tensors: ``{"i": ..., "f": ..., "g": ..., "o": ...}`` for an
    LSTM (e.g. ``fixtures.golden()["lstm"]``, or the fields of ``lstm_cell_trace`` stacked over the
    steps), ``{"r": ..., "z": ..., "n": ...}`` for a GRU; ``c`` and ``h`` may be added. ``order``
    picks which to draw, top to bottom (default: every known name given, in the order of
    ``GATE_WORDS``). The colour scale is each gate's range: (0, 1) for a sigmoid gate, (-1, 1)
    for tanh values.
    """
    if not isinstance(gates, Mapping) or not gates:
        raise ValueError(f"gates should be a dict of (T, H) tensors such as {{'i': ..., 'f': ...}}, "
                         f"got {type(gates).__name__}")
    if order is None:
        order = tuple(name for name in GATE_WORDS if name in gates)
    unknown = [name for name in order if name not in VALUE_RANGE]
    if unknown or not order:
        raise ValueError(f"unknown gate name(s) {unknown or list(gates)}; expected some of {', '.join(GATE_WORDS)}")
    missing = [name for name in order if name not in gates]
    if missing:
        raise ValueError(f"order asks for {missing}, which gates does not have (it has {list(gates)})")
    first = _as_steps_by_units(order[0], gates[order[0]])
    values = {name: _as_steps_by_units(name, gates[name], units=first.shape[1]) for name in order}
    lengths = {name: v.shape[0] for name, v in values.items()}
    if len(set(lengths.values())) != 1:
        raise ValueError(f"every gate should have the same number of time steps, got {lengths}")
    steps, units = first.shape
    fig = ShownFigure(figsize=(1.0 + 0.9 * steps, 0.6 + (0.45 * units + 0.45) * len(order)), dpi=100,
                 layout="constrained")
    axes = fig.subplots(len(order), 1, squeeze=False, sharex=True)[:, 0]
    for ax, name in zip(axes, order):
        low, high = VALUE_RANGE[name]
        grid = values[name].T  # rows: units, columns: steps
        image = ax.imshow(grid.numpy(), cmap="RdBu_r" if low < 0 else "viridis", vmin=low, vmax=high,
                          aspect="auto")
        for (k, t), value in zip(((k, t) for k in range(units) for t in range(steps)), grid.flatten().tolist()):
            shade = (min(max(value, low), high) - low) / (high - low)
            dark = shade < 0.55 if low == 0.0 else abs(2 * shade - 1) > 0.6
            text = f"{value:.{decimals}f}"
            if float(text) == 0.0:
                text = text.lstrip("-")  # -0.00 says nothing a reader can use
            ax.text(t, k, text, ha="center", va="center", fontsize=8,
                    color="white" if dark else "black")
        ax.set_yticks(range(units), [f"unit {k}" for k in range(units)], fontsize=8)
        ax.set_title(GATE_WORDS[name], fontsize=9, loc="left")
        fig.colorbar(image, ax=ax, ticks=[low, (low + high) / 2, high], fraction=0.05, pad=0.02)
    axes[-1].set_xticks(range(steps), [str(t) for t in _steps(steps)])
    axes[-1].set_xlabel("time step t")
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def moving_average(values, width: int) -> Tensor:
    """The mean of every window of ``width`` consecutive values (``len(values) - width + 1`` of them).

    Per-batch losses and accuracies jump from step to step; their moving average is the curve worth
    reading. Entry k averages steps k .. k + width - 1.
    """
    values = torch.as_tensor(values, dtype=torch.float64).flatten()
    if not 1 <= width <= len(values):
        raise ValueError(f"moving_average: width should be between 1 and the {len(values)} values given, got {width}")
    return values.unfold(0, width, 1).mean(1)
