"""Draw the course's diagrams into img/ with matplotlib alone.

    .venv/bin/python scripts/make_figures.py            # rewrite img/*.png
    .venv/bin/python scripts/make_figures.py --out DIR  # write them somewhere else

Every run writes the same bytes: the Agg backend, matplotlib's default style with its bundled
DejaVu fonts, a fixed size and dpi, and no "Software" or date entry in the PNG metadata.
tests/test_figures.py regenerates the figures into a temporary folder and compares them with
the committed ones, so a figure cannot drift away from this script.

    rnn_cell.png        one step of the plain RNN
    lstm_cell.png       one step of the LSTM: its four gates and the cell-state line
    birnn_unrolled.png  a bidirectional RNN unrolled over 3 steps: what torch puts in output and h_n
    gate_orders.png     the four gate blocks of the fused weights in each library's order
    rnn_unrolled.png    seed 001's RNN over the fixed X, with every state's numbers (from golden.json)
    stacked_bidirectional.png  2 layers x 2 directions: the rows of h_n in torch's order, output's halves
    packing.png         a padded batch (lengths 5, 2, 3) and its packing: batch_sizes from torch itself
    bptt_graph.png      an RNN unrolled, with the gradient paths of backpropagation through time
    gru_cell.png        one step of the GRU: reset and update gates, the candidate
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # before pyplot: no display, and the same renderer everywhere

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch, Rectangle  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DPI = 100
PNG_METADATA = {"Software": None}  # matplotlib would write its version here

# One colour per gate, the same in every figure (and readable in grey).
GATE_COLOURS = {"i": "#4c9a2a", "f": "#c0392b", "g": "#e67e22", "o": "#2e6fb7"}
GATE_LABELS = {"i": "input", "f": "forget", "g": "candidate", "o": "output"}
INK = "#222222"
PAPER = "#f4f4f4"


# ---------------------------------------------------------------- small drawing helpers
def new_axes(width_in: float, height_in: float, xlim, ylim):
    fig = plt.figure(figsize=(width_in, height_in))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_aspect("equal")
    ax.axis("off")
    return fig, ax


def box(ax, centre, text, colour, width=0.9, height=0.6, text_colour="white", fontsize=13):
    x, y = centre
    ax.add_patch(FancyBboxPatch((x - width / 2, y - height / 2), width, height,
                                boxstyle="round,pad=0.02,rounding_size=0.12",
                                facecolor=colour, edgecolor=INK, linewidth=1.2, zorder=3))
    ax.text(x, y, text, ha="center", va="center", color=text_colour, fontsize=fontsize, zorder=4)


def operator(ax, centre, symbol, radius=0.24):
    """A pointwise operation: a circle with x (multiply) or + (add)."""
    ax.add_patch(Circle(centre, radius, facecolor="white", edgecolor=INK, linewidth=1.2, zorder=3))
    ax.text(*centre, symbol, ha="center", va="center", fontsize=14, color=INK, zorder=4)


def arrow(ax, start, end, colour=INK, width=1.4, style="-|>", dashed=False):
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle=style, mutation_scale=13, color=colour,
                                 linewidth=width, linestyle="--" if dashed else "-", zorder=2,
                                 shrinkA=0, shrinkB=0))


def line(ax, points, colour=INK, width=1.4):
    xs, ys = zip(*points)
    ax.plot(xs, ys, color=colour, linewidth=width, solid_capstyle="butt", zorder=2)


def save(fig, out_dir: Path, name: str) -> Path:
    path = out_dir / name
    fig.savefig(path, dpi=DPI, facecolor="white", metadata=PNG_METADATA)
    plt.close(fig)
    return path


# ---------------------------------------------------------------- the figures
def rnn_cell(out_dir: Path) -> Path:
    """h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh): one box, two inputs, one state out."""
    fig, ax = new_axes(7.6, 3.6, (0, 7.6), (0, 3.6))
    ax.add_patch(FancyBboxPatch((1.6, 0.9), 3.4, 1.9, boxstyle="round,pad=0.02,rounding_size=0.2",
                                facecolor=PAPER, edgecolor="#999999", linewidth=1.0, zorder=1))
    operator(ax, (2.7, 1.85), "+")
    box(ax, (3.9, 1.85), "tanh", "#555555", width=0.9)
    # x_t from below, through W_ih
    arrow(ax, (2.7, 0.15), (2.7, 1.61))
    ax.text(2.8, 0.35, r"$x_t$", fontsize=14, va="center")
    ax.text(2.8, 1.15, r"$W_{ih}\,x_t + b_{ih}$", fontsize=10, va="center", color="#444444")
    # h_{t-1} from the left, through W_hh
    arrow(ax, (0.2, 1.85), (2.46, 1.85))
    ax.text(0.2, 2.1, r"$h_{t-1}$", fontsize=14)
    ax.text(0.95, 1.55, r"$W_{hh}\,h_{t-1} + b_{hh}$", fontsize=10, color="#444444")
    arrow(ax, (2.94, 1.85), (3.45, 1.85))
    # h_t to the right (the next step) and up (the output)
    line(ax, [(4.35, 1.85), (5.6, 1.85)])
    arrow(ax, (5.6, 1.85), (6.8, 1.85))
    ax.text(6.15, 2.1, r"$h_t$", fontsize=14)
    arrow(ax, (5.6, 1.85), (5.6, 3.4))
    ax.text(5.7, 3.1, r"$h_t$: the output at step $t$", fontsize=10, va="center")
    ax.text(3.3, 3.25, r"$h_t = \tanh(W_{ih}x_t + b_{ih} + W_{hh}h_{t-1} + b_{hh})$",
            fontsize=11, ha="center", va="center")
    return save(fig, out_dir, "rnn_cell.png")


def lstm_cell(out_dir: Path) -> Path:
    """The LSTM step: four gates read [h_{t-1}, x_t]; the cell state runs along the top."""
    fig, ax = new_axes(9.0, 5.6, (0, 9.0), (-0.1, 5.5))
    ax.add_patch(FancyBboxPatch((1.2, 0.75), 6.5, 3.85, boxstyle="round,pad=0.02,rounding_size=0.25",
                                facecolor=PAPER, edgecolor="#999999", linewidth=1.0, zorder=1))
    y_cell, y_gate, y_bus = 4.15, 2.3, 1.15
    x_f, x_i, x_g, x_o = 2.2, 3.3, 4.4, 5.5
    x_write, x_show = 3.85, 6.7
    # the cell state: c_{t-1} -> (x f) -> (+ i*g) -> c_t
    arrow(ax, (0.1, y_cell), (x_f - 0.24, y_cell))
    ax.text(0.1, y_cell + 0.2, r"$c_{t-1}$", fontsize=14)
    arrow(ax, (x_f + 0.24, y_cell), (x_write - 0.24, y_cell))
    line(ax, [(x_write + 0.24, y_cell), (7.9, y_cell)])
    arrow(ax, (7.9, y_cell), (8.9, y_cell))
    ax.text(8.3, y_cell + 0.2, r"$c_t$", fontsize=14)
    operator(ax, (x_f, y_cell), "×")
    operator(ax, (x_write, y_cell), "+")
    ax.text((x_f + x_write) / 2, y_cell + 0.55, "cell state: the memory", fontsize=10, ha="center",
            color="#444444")
    # the input bus: h_{t-1} from the left, x_t from below
    arrow(ax, (0.1, y_bus), (1.55, y_bus))
    ax.text(0.1, y_bus + 0.2, r"$h_{t-1}$", fontsize=14)
    arrow(ax, (1.55, -0.05), (1.55, y_bus))
    ax.text(1.65, 0.1, r"$x_t$", fontsize=14)
    line(ax, [(1.55, y_bus), (x_o, y_bus)])
    gates = [("f", x_f, r"$\sigma$"), ("i", x_i, r"$\sigma$"), ("g", x_g, "tanh"), ("o", x_o, r"$\sigma$")]
    for name, x, fn in gates:
        arrow(ax, (x, y_bus), (x, y_gate - 0.3), colour=GATE_COLOURS[name])
        box(ax, (x, y_gate), fn, GATE_COLOURS[name], width=0.8, height=0.55, fontsize=12)
        ax.text(x, y_gate - 0.55, f"{name}: {GATE_LABELS[name]}", fontsize=9, ha="center", va="top",
                color=GATE_COLOURS[name], zorder=4,
                bbox={"facecolor": PAPER, "edgecolor": "none", "pad": 1})
    # forget gate scales the old memory
    arrow(ax, (x_f, y_gate + 0.28), (x_f, y_cell - 0.24), colour=GATE_COLOURS["f"])
    # input gate times candidate is what gets written
    y_mul = 3.3
    operator(ax, (x_write, y_mul), "×", radius=0.2)
    line(ax, [(x_i, y_gate + 0.28), (x_i, y_mul), (x_write - 0.2, y_mul)], colour=GATE_COLOURS["i"])
    line(ax, [(x_g, y_gate + 0.28), (x_g, y_mul), (x_write + 0.2, y_mul)], colour=GATE_COLOURS["g"])
    arrow(ax, (x_write, y_mul + 0.2), (x_write, y_cell - 0.24))
    # output gate times tanh(c_t) is the new hidden state
    box(ax, (x_show, 3.35), "tanh", "#555555", width=0.75, height=0.45, fontsize=11)
    arrow(ax, (x_show, y_cell), (x_show, 3.58))
    operator(ax, (x_show, y_gate), "×", radius=0.2)
    arrow(ax, (x_show, 3.12), (x_show, y_gate + 0.2))
    arrow(ax, (x_o, y_gate + 0.28), (x_o, y_gate + 0.45), colour=GATE_COLOURS["o"], style="-")
    line(ax, [(x_o, y_gate + 0.45), (6.15, y_gate + 0.45), (6.15, y_gate), (x_show - 0.2, y_gate)],
         colour=GATE_COLOURS["o"])
    line(ax, [(x_show, y_gate - 0.2), (x_show, y_bus)])
    arrow(ax, (x_show, y_bus), (8.9, y_bus))
    ax.text(8.3, y_bus + 0.2, r"$h_t$", fontsize=14)
    line(ax, [(7.9, y_bus), (7.9, 2.6)])
    arrow(ax, (7.9, 2.6), (7.9, 5.4))
    ax.text(8.0, 5.1, r"$h_t$", fontsize=14)
    ax.text(3.6, 5.05, r"$c_t = f_t \odot c_{t-1} + i_t \odot g_t \qquad h_t = o_t \odot \tanh(c_t)$",
            fontsize=12, ha="center")
    return save(fig, out_dir, "lstm_cell.png")


def birnn_unrolled(out_dir: Path) -> Path:
    """Three steps, a forward row and a backward row, and where torch puts each state."""
    fig, ax = new_axes(9.0, 5.4, (0, 9.0), (0, 5.4))
    xs = (2.3, 4.5, 6.7)
    y_x, y_fwd, y_bwd, y_out = 0.45, 1.75, 3.0, 4.45
    fwd, bwd = "#2e6fb7", "#c0392b"
    ax.text(0.15, y_fwd + 0.45, "forward", color=fwd, fontsize=11, va="center")
    ax.text(0.15, y_bwd + 0.45, "backward", color=bwd, fontsize=11, va="center")
    for t, x in enumerate(xs, start=1):
        ax.text(x, y_x, rf"$x_{t}$", fontsize=14, ha="center", va="center")
        arrow(ax, (x - 0.35, y_x + 0.25), (x - 0.35, y_fwd - 0.3), colour="#777777")
        line(ax, [(x + 0.35, y_x + 0.25), (x + 0.35, y_fwd - 0.45), (x + 0.6, y_fwd - 0.45),
                  (x + 0.6, y_bwd - 0.45), (x + 0.35, y_bwd - 0.45)], colour="#777777", width=1.1)
        arrow(ax, (x + 0.35, y_bwd - 0.45), (x + 0.35, y_bwd - 0.3), colour="#777777", width=1.1)
        box(ax, (x, y_fwd), rf"$\overrightarrow{{h}}_{t}$", fwd, width=0.9, height=0.6, fontsize=14)
        box(ax, (x, y_bwd), rf"$\overleftarrow{{h}}_{t}$", bwd, width=0.9, height=0.6, fontsize=14)
        # output[t] = [forward h_t, backward h_t]: both states of the same step
        ax.add_patch(Rectangle((x - 0.75, y_out - 0.3), 1.5, 0.6, facecolor="white", edgecolor=INK,
                               linewidth=1.1, zorder=3))
        ax.text(x, y_out, rf"$[\overrightarrow{{h}}_{t}, \overleftarrow{{h}}_{t}]$", fontsize=13, ha="center",
                va="center", zorder=4)
        ax.text(x, y_out + 0.5, f"output[{t - 1}]", fontsize=10, ha="center", family="monospace")
        line(ax, [(x - 0.25, y_fwd + 0.3), (x - 0.25, y_bwd - 0.42), (x - 0.9, y_bwd - 0.42),
                  (x - 0.9, y_out - 0.55), (x - 0.25, y_out - 0.55)], colour=fwd, width=1.1)
        arrow(ax, (x - 0.25, y_out - 0.55), (x - 0.25, y_out - 0.3), colour=fwd, width=1.1)
        arrow(ax, (x, y_bwd + 0.3), (x, y_out - 0.3), colour=bwd, width=1.1)
    for a, b in zip(xs, xs[1:]):
        arrow(ax, (a + 0.45, y_fwd), (b - 0.45, y_fwd), colour=fwd, width=1.8)
        arrow(ax, (b - 0.45, y_bwd), (a + 0.45, y_bwd), colour=bwd, width=1.8)
    # the final states: each direction's *last* step, which for the backward one is step 1
    arrow(ax, (xs[-1] + 0.45, y_fwd), (8.0, y_fwd), colour=fwd, width=1.8)
    ax.text(8.05, y_fwd, "h_n[0]", color=fwd, fontsize=10, va="center", family="monospace")
    arrow(ax, (xs[0] - 0.45, y_bwd), (1.05, y_bwd), colour=bwd, width=1.8)
    ax.text(0.15, y_bwd, "h_n[1]", color=bwd, fontsize=10, va="center", family="monospace")
    ax.text(4.5, 5.25, r"h_n[1] $=\overleftarrow{h}_1$ = output[0, H:]   (not output[-1, H:])",
            fontsize=11, ha="center", va="center")
    return save(fig, out_dir, "birnn_unrolled.png")


def gate_orders(out_dir: Path) -> Path:
    """The rows (or columns) of the fused weights, block by block, in each convention."""
    from lstm_lab.layouts import CONVENTIONS  # the orders the converters use: one source of truth

    names = {"torch": "torch", "cs231n": "CS231n / EECS 498", "keras": "Keras", "onnx": "ONNX",
             "seed002": "seed 002"}
    fig, ax = new_axes(7.2, 3.5, (0, 7.2), (0, 3.5))
    columns = [2.75 + k * 1.25 for k in range(4)]
    for k, x in enumerate(columns):
        ax.text(x, 3.3, f"block {k}", fontsize=9, ha="center", va="center", color="#444444")
    for row, (convention, order) in enumerate(CONVENTIONS.items()):
        y = 2.85 - row * 0.6
        ax.text(2.05, y, names[convention], fontsize=11, ha="right", va="center")
        for x, letter in zip(columns, order):
            gate = "g" if letter == "c" else letter
            box(ax, (x, y), f"{letter}: {GATE_LABELS[gate]}", GATE_COLOURS[gate], width=1.15,
                height=0.42, fontsize=9)
    return save(fig, out_dir, "gate_orders.png")


# ---------------------------------------------------------------- figures with the course's numbers
def _vector(values) -> str:
    """[0.9866, 0.9051]: four decimals, as the notebooks print the fixed example."""
    return "[" + ", ".join(f"{v:.4f}" if abs(v) >= 5e-5 else "0" for v in values) + "]"


def rnn_unrolled(out_dir: Path) -> Path:
    """Seed 001's RNN over the fixed X, three steps, with the numbers of every state."""
    from lstm_lab import fixtures  # the numbers come from the golden file, never typed in here

    x, h = fixtures.fixed_x().tolist(), fixtures.golden()["rnn"]["h"].tolist()
    fig, ax = new_axes(9.6, 4.4, (0, 9.6), (0, 4.4))
    xs = (2.4, 5.1, 7.8)
    y_x, y_cell, y_out = 0.45, 2.0, 3.55
    state = "#2e6fb7"
    box(ax, (0.75, y_cell), r"$h_0$", "#777777", width=0.8, height=0.6, fontsize=14)
    ax.text(0.75, y_cell - 0.55, "[0, 0]", fontsize=10, ha="center", va="center")
    previous = 0.75 + 0.4
    for t, cx in enumerate(xs, start=1):
        box(ax, (cx, y_cell), "tanh", state, width=1.0, height=0.6, fontsize=12)
        arrow(ax, (previous, y_cell), (cx - 0.5, y_cell), colour=state, width=1.8)
        label = rf"$h_{t - 1}$" if t > 1 else r"$h_0$"
        ax.text((previous + cx - 0.5) / 2, y_cell + 0.15, label, fontsize=11, ha="center", color=state)
        ax.text(cx, y_x, rf"$x_{t}$ = {_vector(x[t - 1]).replace('.0000', '')}", fontsize=11, ha="center",
                va="center")
        arrow(ax, (cx, y_x + 0.25), (cx, y_cell - 0.3), colour="#777777")
        arrow(ax, (cx, y_cell + 0.3), (cx, y_out - 0.25), colour=state)
        ax.text(cx, y_out, rf"$h_{t}$ = {_vector(h[t - 1])}", fontsize=11, ha="center", va="center",
                bbox={"facecolor": "white", "edgecolor": INK, "linewidth": 1.1, "pad": 4})
        ax.text(cx, y_out + 0.45, f"output[{t - 1}]", fontsize=10, ha="center", va="center",
                family="monospace")
        previous = cx + 0.5
    arrow(ax, (previous, y_cell), (9.5, y_cell), colour=state, width=1.8)
    ax.text(9.05, y_cell + 0.15, "h_n", fontsize=10, ha="center", color=state, family="monospace")
    ax.text(4.8, 4.3, r"$h_t = \tanh(W_{ih}x_t + b_{ih} + W_{hh}h_{t-1} + b_{hh})$, the same weights at every step",
            fontsize=11, ha="center", va="center")
    return save(fig, out_dir, "rnn_unrolled.png")


def stacked_bidirectional(out_dir: Path) -> Path:
    """Two layers x two directions over three steps: which box is which row of h_n, and output's halves."""
    import torch

    # torch's own order of the layers and directions: the suffixes of its weight names
    lstm = torch.nn.LSTM(1, 1, num_layers=2, bidirectional=True, device="meta")  # meta: shapes only
    names = [name for name, _ in lstm.named_parameters() if name.startswith("weight_hh")]
    rows = [n.removeprefix("weight_hh_") for n in names]  # l0, l0_reverse, l1, l1_reverse
    fig, ax = new_axes(10.8, 6.6, (0, 10.8), (0, 6.6))
    xs = (3.9, 6.0, 8.1)
    y_of = {"l0": 1.45, "l0_reverse": 2.45, "l1": 3.75, "l1_reverse": 4.75}
    fwd, bwd = "#2e6fb7", "#c0392b"
    for row_index, row in enumerate(rows):
        y, colour = y_of[row], bwd if row.endswith("reverse") else fwd
        ax.text(0.15, y, row, fontsize=11, va="center", color=colour, family="monospace")
        for t, x in enumerate(xs):
            box(ax, (x, y), f"{row}\nstep {t + 1}", colour, width=1.3, height=0.62, fontsize=9)
        for a, b in zip(xs, xs[1:]):
            if colour == fwd:
                arrow(ax, (a + 0.65, y), (b - 0.65, y), colour=colour, width=1.6)
            else:
                arrow(ax, (b - 0.65, y), (a + 0.65, y), colour=colour, width=1.6)
        # the final state of each row: the forward ones end at the last step, the reverse ones at step 1
        end = (xs[-1] + 0.65, 9.35) if colour == fwd else (xs[0] - 0.65, 2.3)
        arrow(ax, (end[0], y), (end[1], y), colour=colour, width=1.6)
        ax.text(end[1] + (0.08 if colour == fwd else -0.08), y, f"h_n[{row_index}]", fontsize=10,
                ha="left" if colour == fwd else "right", va="center", color=colour, family="monospace",
                bbox={"facecolor": "white", "edgecolor": "none", "pad": 1})
    for t, x in enumerate(xs):
        ax.text(x, 0.35, rf"$x_{t + 1}$ = X[{t}]", fontsize=12, ha="center", va="center")
        arrow(ax, (x - 0.2, 0.55), (x - 0.2, y_of["l0"] - 0.31), colour="#777777", width=1.1)
        line(ax, [(x + 0.2, 0.55), (x + 0.2, 0.9), (x + 0.8, 0.9), (x + 0.8, 1.95), (x + 0.2, 1.95)],
             colour="#777777", width=1.1)
        arrow(ax, (x + 0.2, 1.95), (x + 0.2, y_of["l0_reverse"] - 0.31), colour="#777777", width=1.1)
        # layer 1 reads [l0, l0_reverse] of the same step: both directions, concatenated
        ax.text(x + 0.1, 3.3, "[l0, l0_reverse]", fontsize=7, ha="left", va="center", color="#444444",
                family="monospace")
        arrow(ax, (x, y_of["l0_reverse"] + 0.31), (x, y_of["l1"] - 0.31), colour="#555555", width=1.2)
        line(ax, [(x - 0.45, y_of["l0"] + 0.31), (x - 0.45, 1.95), (x - 0.8, 1.95), (x - 0.8, 3.1),
                  (x, 3.1)], colour=fwd, width=1.1)
        line(ax, [(x + 0.45, y_of["l1"] + 0.31), (x + 0.45, 4.25), (x + 0.8, 4.25), (x + 0.8, 5.35)],
             colour=fwd, width=1.1)
        arrow(ax, (x + 0.8, 5.35), (x + 0.8, 5.55), colour=fwd, width=1.1)
        arrow(ax, (x, y_of["l1_reverse"] + 0.31), (x, 5.55), colour=bwd, width=1.1)
        ax.add_patch(Rectangle((x - 0.55, 5.55), 1.6, 0.5, facecolor="white", edgecolor=INK, linewidth=1.1,
                               zorder=3))
        ax.text(x + 0.25, 5.8, "[l1 | l1_reverse]", fontsize=8, ha="center", va="center", zorder=4,
                family="monospace")
        ax.text(x + 0.25, 6.3, f"output[{t}]", fontsize=10, ha="center", va="center", family="monospace")
    ax.text(0.15, 6.2, "steps count from 1: step t is at index t - 1\noutput[t - 1, :H] = l1 at step t\noutput[t - 1, H:] = l1_reverse at step t",
            fontsize=8, ha="left", va="center", family="monospace")
    return save(fig, out_dir, "stacked_bidirectional.png")


def packing(out_dir: Path) -> Path:
    """A padded batch (lengths 5, 2, 3), and what pack_padded_sequence keeps of it: batch_sizes."""
    import torch
    from torch.nn.utils.rnn import pack_padded_sequence

    lengths = torch.tensor([5, 2, 3])  # notebook 07's batch, deliberately not sorted
    steps, batch = int(lengths.max()), len(lengths)
    ids = torch.arange(1, batch + 1).repeat(steps, 1) * 10 + torch.arange(1, steps + 1).unsqueeze(1)  # 10*(b+1) + step
    packed = pack_padded_sequence(ids.unsqueeze(-1).double(), lengths, enforce_sorted=False)
    batch_sizes, order = packed.batch_sizes.tolist(), packed.sorted_indices.tolist()
    data = [int(v) for v in packed.data.squeeze(-1).tolist()]
    colours = ("#2e6fb7", "#4c9a2a", "#e67e22")  # one per sequence
    fig, ax = new_axes(10.4, 4.6, (0, 10.4), (0, 4.6))
    cell = 0.5
    left, top = 1.2, 3.6
    ax.text(left + batch * cell / 2, 4.35, "padded (T, B)", fontsize=11, ha="center", va="center")
    for b in range(batch):
        ax.text(left + (b + 0.5) * cell, top + 0.35, f"b={b}", fontsize=9, ha="center", va="center",
                family="monospace", color=colours[b])
        ax.text(left + (b + 0.5) * cell, top - steps * cell - 0.3, f"len {int(lengths[b])}", fontsize=9,
                ha="center", va="center", color=colours[b])
    for t in range(steps):
        ax.text(left - 0.15, top - (t + 0.5) * cell, f"t={t + 1}", fontsize=9, ha="right", va="center",
                family="monospace")
        for b in range(batch):
            real = t < lengths[b]
            ax.add_patch(Rectangle((left + b * cell, top - (t + 1) * cell), cell, cell, zorder=3,
                                   facecolor=colours[b] if real else "#dddddd", edgecolor="white", linewidth=1.5))
            ax.text(left + (b + 0.5) * cell, top - (t + 0.5) * cell, f"{t + 1}" if real else "pad", zorder=4,
                    fontsize=9 if real else 7, ha="center", va="center", color="white" if real else "#777777")
    arrow(ax, (left + batch * cell + 0.25, 2.35), (3.55, 2.35))
    ax.text(3.05, 2.65, "pack", fontsize=10, ha="center")
    # packed.data: time step by time step, the longest sequence first, padding dropped
    x0, y_data = 3.75, 2.35
    ax.text(x0, 4.35, f"packed.data (sorted_indices = {order})", fontsize=11, ha="left", va="center")
    k = 0
    for t, size in enumerate(batch_sizes):
        start = x0 + k * cell + t * 0.15
        for j in range(size):
            b = data[k + j] // 10 - 1
            ax.add_patch(Rectangle((start + j * cell, y_data - cell / 2), cell, cell, facecolor=colours[b],
                                   edgecolor="white", linewidth=1.5, zorder=3))
            ax.text(start + (j + 0.5) * cell, y_data, f"{t + 1}", fontsize=9, ha="center", va="center",
                    color="white", zorder=4)
        ax.text(start + size * cell / 2, y_data + 0.6, f"t={t + 1}", fontsize=9, ha="center", family="monospace")
        line(ax, [(start, y_data - 0.4), (start, y_data - 0.5), (start + size * cell, y_data - 0.5),
                  (start + size * cell, y_data - 0.4)], colour="#777777", width=1.0)
        ax.text(start + size * cell / 2, y_data - 0.8, f"{size}", fontsize=11, ha="center", va="center")
        k += size
    ax.text(x0, y_data - 1.35, f"batch_sizes = {batch_sizes}: how many sequences are still running at each step",
            fontsize=10, ha="left", va="center", family="monospace")
    ax.text(x0, y_data - 1.75, f"{sum(batch_sizes)} real steps are computed, not {steps} x {batch} = "
            f"{steps * batch}", fontsize=10, ha="left", va="center")
    return save(fig, out_dir, "packing.png")


def bptt_graph(out_dir: Path) -> Path:
    """An RNN unrolled over three steps; the gradient reaches h_t from its own loss and from h_{t+1}."""
    fig, ax = new_axes(9.6, 5.0, (0, 9.6), (0, 5.0))
    xs = (2.2, 4.8, 7.4)
    y_x, y_h, y_loss = 0.75, 2.2, 4.0
    forward, grad = "#2e6fb7", "#c0392b"
    box(ax, (0.6, y_h), r"$h_0$", "#777777", width=0.7, height=0.6, fontsize=13)
    previous = 0.95
    for t, cx in enumerate(xs, start=1):
        box(ax, (cx, y_h), rf"$h_{t}$", forward, width=0.9, height=0.6, fontsize=14)
        ax.text(cx, y_x, rf"$x_{t}$", fontsize=14, ha="center", va="center")
        arrow(ax, (cx - 0.15, y_x + 0.25), (cx - 0.15, y_h - 0.3), colour="#777777")
        ax.text(cx - 0.25, 1.4, r"$W_{ih}$", fontsize=10, ha="right", color="#444444")
        arrow(ax, (previous, y_h + 0.1), (cx - 0.45, y_h + 0.1), colour=forward, width=1.8)
        ax.text((previous + cx - 0.45) / 2, y_h + 0.25, r"$W_{hh}$", fontsize=10, ha="center", color="#444444")
        # backwards along the same edge: dh_{t-1} = W_hh^T da_t
        arrow(ax, (cx - 0.45, y_h - 0.12), (previous, y_h - 0.12), colour=grad, width=1.5, dashed=True)
        ax.text((previous + cx - 0.45) / 2, y_h - 0.45, rf"$W_{{hh}}^\top da_{t}$", fontsize=10, ha="center",
                color=grad)
        box(ax, (cx, y_loss), rf"$L_{t}$", "#555555", width=0.8, height=0.55, fontsize=13)
        arrow(ax, (cx - 0.15, y_h + 0.3), (cx - 0.15, y_loss - 0.28), colour=forward)
        arrow(ax, (cx + 0.15, y_loss - 0.28), (cx + 0.15, y_h + 0.3), colour=grad, dashed=True)
        ax.text(cx + 0.25, 3.1, rf"$\partial L_{t}/\partial h_{t}$", fontsize=10, color=grad)
        previous = cx + 0.45
    ax.text(4.8, 4.75, r"$L = L_1 + L_2 + L_3 \qquad dh_t = \partial L_t/\partial h_t + W_{hh}^\top da_{t+1}"
            r"\qquad da_t = dh_t \odot (1 - h_t^2)$", fontsize=11, ha="center", va="center")
    ax.text(4.8, 0.05, r"the weights are shared, so their gradients add up over the steps:  "
            r"$dW_{hh} = \sum_t da_t\, h_{t-1}^\top$,  $dW_{ih} = \sum_t da_t\, x_t^\top$",
            fontsize=10, ha="center", va="bottom", color="#444444")
    line(ax, [(8.2, 1.3), (8.55, 1.3)], colour=forward, width=1.8)
    ax.text(8.62, 1.3, "forward", fontsize=9, va="center", color=forward)
    arrow(ax, (8.55, 0.95), (8.2, 0.95), colour=grad, width=1.5, dashed=True)
    ax.text(8.62, 0.95, "gradient", fontsize=9, va="center", color=grad)
    return save(fig, out_dir, "bptt_graph.png")


def gru_cell(out_dir: Path) -> Path:
    """The GRU step in torch's form: update and reset gates, the candidate, and the state line."""
    colours = {"z": GATE_COLOURS["i"], "r": GATE_COLOURS["f"], "n": GATE_COLOURS["g"]}
    fig, ax = new_axes(9.0, 5.6, (0, 9.0), (-0.1, 5.5))
    ax.add_patch(FancyBboxPatch((1.2, 0.75), 6.5, 3.85, boxstyle="round,pad=0.02,rounding_size=0.25",
                                facecolor=PAPER, edgecolor="#999999", linewidth=1.0, zorder=1))
    y_state, y_gate, y_bus, y_mix = 4.15, 2.3, 1.15, 3.35
    x_z, x_r, x_n, x_reset, x_mix = 2.4, 3.7, 5.6, 4.75, 6.7
    # the state line along the top: h_{t-1} -> (x z) -> (+ (1-z) n) -> h_t
    arrow(ax, (0.1, y_state), (x_z - 0.24, y_state))
    ax.text(0.1, y_state + 0.2, r"$h_{t-1}$", fontsize=14)
    operator(ax, (x_z, y_state), "×")
    arrow(ax, (x_z + 0.24, y_state), (x_mix - 0.24, y_state))
    operator(ax, (x_mix, y_state), "+")
    line(ax, [(x_mix + 0.24, y_state), (7.9, y_state)])
    arrow(ax, (7.9, y_state), (8.9, y_state))
    ax.text(8.3, y_state + 0.2, r"$h_t$", fontsize=14)
    arrow(ax, (7.9, y_state), (7.9, 5.4))
    ax.text(8.0, 5.1, r"$h_t$", fontsize=14)
    ax.text((x_z + x_mix) / 2, y_state + 0.55, "no separate memory: the state itself is kept or replaced",
            fontsize=10, ha="center", color="#444444")
    # the gates read [h_{t-1}, x_t] from the bus below
    line(ax, [(0.8, y_state), (0.8, y_bus)])
    arrow(ax, (0.8, y_bus), (1.55, y_bus))
    arrow(ax, (1.55, -0.05), (1.55, y_bus))
    ax.text(1.65, 0.1, r"$x_t$", fontsize=14)
    line(ax, [(1.55, y_bus), (x_n, y_bus)])
    gates = [("z", x_z, r"$\sigma$", "z: update"), ("r", x_r, r"$\sigma$", "r: reset"),
             ("n", x_n, "tanh", "n: candidate")]
    for name, x, fn, label in gates:
        arrow(ax, (x, y_bus), (x, y_gate - 0.3), colour=colours[name] if name != "n" else INK)
        box(ax, (x, y_gate), fn, colours[name], width=0.8, height=0.55, fontsize=12)
        ax.text(x, y_gate - 0.55, label, fontsize=9, ha="center", va="top", color=colours[name], zorder=4,
                bbox={"facecolor": PAPER, "edgecolor": "none", "pad": 1})
    # z keeps the old state; 1 - z lets the candidate in
    arrow(ax, (x_z, y_gate + 0.28), (x_z, y_state - 0.24), colour=colours["z"])
    line(ax, [(x_z, y_mix), (5.7, y_mix)], colour=colours["z"])
    box(ax, (6.0, y_mix), "1 − z", colours["z"], width=0.6, height=0.36, fontsize=9)
    line(ax, [(6.3, y_mix), (x_mix - 0.2, y_mix)], colour=colours["z"])
    operator(ax, (x_mix, y_mix), "×", radius=0.2)
    line(ax, [(x_n, y_gate + 0.28), (x_n, 2.85), (x_mix, 2.85)], colour=colours["n"])
    arrow(ax, (x_mix, 2.85), (x_mix, y_mix - 0.2), colour=colours["n"])
    arrow(ax, (x_mix, y_mix + 0.2), (x_mix, y_state - 0.24))
    # the reset gate scales W_hn h_{t-1} + b_hn, after the matmul, inside the candidate
    line(ax, [(x_r, y_gate + 0.28), (x_r, 2.95), (x_reset, 2.95)], colour=colours["r"])
    arrow(ax, (x_reset, 2.95), (x_reset, 1.95), colour=colours["r"])
    operator(ax, (x_reset, 1.75), "×", radius=0.2)
    arrow(ax, (x_reset, y_bus), (x_reset, 1.55))
    arrow(ax, (x_reset + 0.2, 1.75), (x_n - 0.4, y_gate - 0.2))
    ax.text(x_reset, 0.95, r"$r_t \odot (W_{hn}h_{t-1} + b_{hn})$ goes into $n_t$", fontsize=9, ha="center",
            va="center", color=colours["r"])
    ax.text(4.2, 5.05, r"$h_t = (1 - z_t) \odot n_t + z_t \odot h_{t-1}$", fontsize=12, ha="center")
    return save(fig, out_dir, "gru_cell.png")


FIGURES = (rnn_cell, lstm_cell, birnn_unrolled, gate_orders, rnn_unrolled, stacked_bidirectional, packing,
           bptt_graph, gru_cell)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "img", help="folder to write into (default: img/)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    with plt.style.context("default"), matplotlib.rc_context({"font.family": "DejaVu Sans",
                                                               "mathtext.fontset": "dejavusans"}):
        for draw in FIGURES:
            print(draw(args.out).name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
