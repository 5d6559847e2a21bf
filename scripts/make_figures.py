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


FIGURES = (rnn_cell, lstm_cell, birnn_unrolled, gate_orders)


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
