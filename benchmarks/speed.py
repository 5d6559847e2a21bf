"""How fast is lstm_lab next to torch.nn? Ratios measured in one process, interleaved.

    .venv/bin/python benchmarks/speed.py            # full run (a few minutes on 2 cores)
    .venv/bin/python benchmarks/speed.py --quick    # fewer repetitions, for a smoke test

For every case, the two implementations are timed alternately (A B A B ...), after warm-up,
with the same weights and inputs; each repetition gives one ratio lstm_lab / torch.nn, and we
print the median ratio with its min–max. Absolute times on a shared machine move a lot from one
run to the next; ratios taken in the same run are what can be compared.

A reference row times a loop written the way the seed notebooks wrote it (a Linear per input,
the output grown with torch.cat at every step) at the realistic size.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch import nn

import lstm_lab

TEACHING = dict(batch=1, seq=3, input=3, hidden=2, layers=1, bidirectional=False)
REALISTIC = dict(batch=32, seq=100, input=64, hidden=128, layers=2, bidirectional=True)


class SeedStyleLSTM(nn.Module):
    """One direction of one LSTM layer as seed 002 wrote it: Linear per input, outputs concatenated."""

    def __init__(self, input_size, hidden_size):
        super().__init__()
        self.W_x = nn.Linear(input_size, 4 * hidden_size)
        self.W_h = nn.Linear(hidden_size, 4 * hidden_size)

    def forward(self, x):  # x: (T, B, D)
        h = x.new_zeros(x.shape[1], self.W_h.in_features)
        c = torch.zeros_like(h)
        outputs = x.new_zeros(x.shape[1], 0, h.shape[1])
        for t in range(x.shape[0]):
            i, f, g, o = (self.W_x(x[t]) + self.W_h(h)).chunk(4, -1)
            c = f.sigmoid() * c + i.sigmoid() * g.tanh()
            h = o.sigmoid() * c.tanh()
            outputs = torch.cat([outputs, h.unsqueeze(1)], dim=1)
        return outputs, h


class SeedStyleStack(nn.Module):
    """Seed-style layers stacked, both directions, the way seed 002's LSTM class does it."""

    def __init__(self, input_size, hidden_size, layers):
        super().__init__()
        sizes = [input_size] + [2 * hidden_size] * (layers - 1)
        self.fwd = nn.ModuleList(SeedStyleLSTM(s, hidden_size) for s in sizes)
        self.bwd = nn.ModuleList(SeedStyleLSTM(s, hidden_size) for s in sizes)

    def forward(self, x):
        for fwd, bwd in zip(self.fwd, self.bwd):
            out_f, _ = fwd(x)
            out_b, _ = bwd(x.flip(0))
            x = torch.cat([out_f, out_b.flip(1)], -1).transpose(0, 1)
        return x, None


def build(mode, size, dtype=torch.float32):
    kwargs = dict(num_layers=size["layers"], bidirectional=size["bidirectional"], dtype=dtype)
    torch.manual_seed(0)
    ref = getattr(nn, mode)(size["input"], size["hidden"], **kwargs)
    ours = getattr(lstm_lab, mode)(size["input"], size["hidden"], **kwargs)
    ours.load_state_dict(ref.state_dict())
    x = torch.randn(size["seq"], size["batch"], size["input"], dtype=dtype)
    return ref, ours, x


def step(model, x, backward):
    """One forward (and backward) pass."""
    if backward:
        out = model(x)[0]
        out.sum().backward()
    else:
        with torch.no_grad():
            model(x)


def time_once(fn, inner):
    start = time.perf_counter()
    for _ in range(inner):
        fn()
    return (time.perf_counter() - start) / inner


def compare(a, b, reps, inner, warmup=2):
    """Interleaved timing of b against a; returns (median a, median b, ratios)."""
    for _ in range(warmup):
        a(), b()
    times_a, times_b, ratios = [], [], []
    for _ in range(reps):
        ta, tb = time_once(a, inner), time_once(b, inner)
        times_a.append(ta), times_b.append(tb), ratios.append(tb / ta)
    return statistics.median(times_a), statistics.median(times_b), ratios


def fmt_time(seconds):
    return f"{seconds * 1e3:8.2f} ms" if seconds >= 1e-3 else f"{seconds * 1e6:8.1f} µs"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 repetitions, for a smoke test")
    parser.add_argument("--reps", type=int, default=9, help="interleaved repetitions (default 9)")
    args = parser.parse_args()
    reps = 3 if args.quick else max(args.reps, 7)
    torch.set_num_threads(2)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, float32, {reps} interleaved repetitions\n")
    header = f"{'case':44s} {'torch.nn':>11s} {'lstm_lab':>11s}  {'ratio (median, min–max)':s}"
    print(header)
    print("-" * len(header))
    for size_name, size in (("teaching", TEACHING), ("realistic", REALISTIC)):
        for mode in ("LSTM", "GRU", "RNN"):
            ref, ours, x = build(mode, size)
            for backward in (False, True):
                inner = 200 if size is TEACHING else 1
                if size is REALISTIC and args.quick:
                    inner = 1
                ta, tb, ratios = compare(lambda: step(ref, x, backward), lambda: step(ours, x, backward), reps, inner)
                label = f"{mode:4s} {size_name:9s} {'fwd+bwd' if backward else 'forward'}"
                print(f"{label:44s} {fmt_time(ta)} {fmt_time(tb)}  {statistics.median(ratios):5.2f}× "
                      f"({min(ratios):.2f}–{max(ratios):.2f})")
    ref, _, x = build("LSTM", REALISTIC)
    seed = SeedStyleStack(REALISTIC["input"], REALISTIC["hidden"], REALISTIC["layers"])
    for backward in (False, True):
        ta, tb, ratios = compare(lambda: step(ref, x, backward), lambda: step(seed, x, backward), reps, 1)
        label = f"seed-style LSTM loop, realistic {'fwd+bwd' if backward else 'forward'}"
        print(f"{label:44s} {fmt_time(ta)} {fmt_time(tb)}  {statistics.median(ratios):5.2f}× "
              f"({min(ratios):.2f}–{max(ratios):.2f})")
    print("\nratio = time of the implementation / time of torch.nn, measured alternately in this process")


if __name__ == "__main__":
    main()
