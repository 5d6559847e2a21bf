"""How long one slider move takes in the kernel, in each explorer: compute + redraw + the new PNG.

    .venv/bin/python benchmarks/explorer_latency.py [--moves 40] [--strict]

Each explorer is driven from Python exactly as a slider drag drives it in JupyterLab (one
``slider.value = ...`` per step of the slider, sweeping back and forth), and every move is
timed: the handler recomputes with ``compute``, updates the figure's lines, renders the PNG and
sets the widgets' values. What this leaves out is the trip through the kernel's websocket and
the browser: ``benchmarks/browser_latency.py`` measures the whole way, key press to the new
figure in the page, against its goal of a median under 50 ms. The target here is the kernel's
share of that: a median under 25 ms on a 2-core CPU. Most moves blit (the frame is kept, only
the lines are drawn); a move that changes an axis limit draws that panel's frame again, which
is why the slowest move is shown too. The split at the end shows where an LSTM move's time goes.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time

import torch

from lstm_lab.explorers import compute, plots
from lstm_lab.explorers.widgets import ConnectivityExplorer, LSTMExplorer, RNNExplorer

TARGET_MS = 25.0


def sweep(low: float, high: float, step: float, moves: int) -> list[float]:
    """Slider positions of a drag from low to high and back, one slider step at a time."""
    n = int(round((high - low) / step))
    there = [low + k * step for k in range(n + 1)]
    path = there + there[-2:0:-1]
    return [path[k % len(path)] for k in range(moves)]


def time_moves(slider, values, warmup: int = 3) -> list[float]:
    for v in values[:warmup]:
        slider.value = v
    times = []
    for v in values:
        start = time.perf_counter()
        slider.value = v
        times.append((time.perf_counter() - start) * 1e3)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moves", type=int, default=40)
    parser.add_argument("--strict", action="store_true", help="exit 1 if a median is over the target")
    args = parser.parse_args()

    print(f"torch {torch.__version__}, {os.cpu_count()} CPUs, torch threads {torch.get_num_threads()}, "
          f"{platform.python_implementation()} {platform.python_version()}")
    print(f"{args.moves} slider moves per row; times in ms per move (compute + redraw + PNG)\n")

    lstm = LSTMExplorer()
    typed = LSTMExplorer(sequence="0.5, -0.3, 0.8, 0, 0.2, -0.6, 1, 0.1")
    rnn = RNNExplorer()
    connectivity = ConnectivityExplorer()
    cases = [
        ("LSTM, fixed X: forget bias of unit 0", lstm.slider("b_f"), sweep(-3, 3, 0.1, args.moves)),
        ("LSTM, fixed X: W_xg[0, 0]", lstm.slider("W_xg", 0), sweep(-1, 1, 0.1, args.moves)),
        ("LSTM, 8 typed steps: forget bias", typed.slider("b_f"), sweep(-3, 3, 0.1, args.moves)),
        ("LSTM: c0", lstm.c0_slider, sweep(-1, 1, 0.05, args.moves)),
        ("RNN: weight scale (T = 30)", rnn.scale, sweep(0.5, 1.5, 0.05, args.moves)),
        ("RNN: length T", rnn.length, sweep(10, 60, 1, args.moves)),
        ("connectivity: LSTM forget bias (T = 20)", connectivity.forget_bias, sweep(-2, 6, 0.25, args.moves)),
        ("connectivity: length T", connectivity.length, sweep(5, 40, 1, args.moves)),
    ]
    width = max(len(name) for name, *_ in cases)
    print(f"{'slider':<{width}}  median    p90    max")
    worst = 0.0
    for name, slider, values in cases:
        times = sorted(time_moves(slider, values))
        median = statistics.median(times)
        p90 = times[int(0.9 * (len(times) - 1))]
        worst = max(worst, median)
        print(f"{name:<{width}}  {median:6.1f} {p90:6.1f} {times[-1]:6.1f}")

    # Where the LSTM explorer's time goes, on the same move.
    params = compute.seed001_params()
    x = lstm.x
    figure = lstm.figure
    trace = compute.lstm_trace(x, params)
    figure.update(trace)
    figure.png(fast=True)
    stages = {
        "compute": lambda: compute.lstm_trace(x, params),
        "figure update": lambda: figure.update(trace),
        "lines + PNG": lambda: figure.png(fast=True),
        "PNG encode alone": lambda: plots._encode_png(figure.figure.canvas, 1),
        "numbers table": lambda: compute.trace_table(trace),
    }
    split = {name: statistics.median(_timed(fn) for _ in range(args.moves)) for name, fn in stages.items()}
    big_c = compute.lstm_trace(x, params, c0=3.0)  # c0 = 3 widens the memory panel's axis: one panel redrawn

    def one_panel():
        figure.update(big_c if figure.axes["c"].get_ylim()[1] < 3 else trace)
        figure.png(fast=True)

    def full():
        figure._key = None  # forget the frame
        figure.png(fast=True)

    split["one panel redrawn + PNG"] = statistics.median(_timed(one_panel) for _ in range(max(args.moves // 4, 5)))
    split["full redraw + PNG"] = statistics.median(_timed(full) for _ in range(max(args.moves // 4, 5)))
    print("\nLSTM explorer, where a move's time goes (median ms): "
          + ", ".join(f"{name} {ms:.1f}" for name, ms in split.items()))
    verdict = "within" if worst < TARGET_MS else "OVER"
    print(f"slowest median {worst:.1f} ms: {verdict} the {TARGET_MS:.0f} ms target")
    return 1 if args.strict and worst >= TARGET_MS else 0


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1e3


if __name__ == "__main__":
    sys.exit(main())
