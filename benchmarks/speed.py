"""How fast is lstm_lab next to torch.nn? Ratios measured in one process, interleaved.

    .venv/bin/python benchmarks/speed.py                # full run (several minutes on 2 cores)
    .venv/bin/python benchmarks/speed.py --threads 1    # what a loaded machine can still compare
    .venv/bin/python benchmarks/speed.py --quick        # fewer repetitions, for a smoke test

For every case, the two implementations are timed alternately (A B A B ...), after warm-up,
with the same weights and inputs; each repetition gives one ratio lstm_lab / torch.nn, and we
print the median ratio with its min–max, and the goal of the issue "Speed a learner feels"
beside it. Absolute times on a shared machine move a lot from one run to the next; ratios
taken in the same run are what can be compared.

Besides forward and forward + backward at two sizes (the notebooks' teaching size and a
realistic one), it measures:

* a loop written the way the seed notebooks wrote it (a Linear per input, the output grown
  with torch.cat at every step), timed against lstm_lab;
* training throughput: steps per second of a small training loop (the LSTM, a Linear head,
  a mean-squared loss, SGD), lstm_lab against torch.nn;
* peak memory: how far the resident set grows during one forward + backward, each
  implementation in a fresh process of its own (``--memory-child`` is that process).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

import torch
import torch.nn.functional as F
from torch import nn

import lstm_lab
from lstm_lab.costs import interleaved_times

TEACHING = dict(batch=1, seq=3, input=3, hidden=2, layers=1, bidirectional=False)
REALISTIC = dict(batch=32, seq=100, input=64, hidden=128, layers=2, bidirectional=True)

# The goals of the issue, as (comparison, bound): "≤ 2.0" means lstm_lab / torch.nn at most 2.0.
GOALS = {
    "LSTM teaching  forward": ("≤", 1.0),
    "LSTM realistic forward": ("≤", 2.0),
    "LSTM realistic fwd+bwd": ("≤", 1.2),
    "GRU  realistic forward": ("≤", 1.2),
    "GRU  realistic fwd+bwd": ("≤", 1.0),
    "RNN  realistic forward": ("≤", 1.1),  # "keep" (it was 1.0×): met within 10 %
    "RNN  realistic fwd+bwd": ("≤", 1.1),
    "training step, LSTM realistic": ("≤", 1.2),
    "seed-style loop ÷ lstm_lab, fwd+bwd": ("≥", 2.5),
    "peak memory growth, fwd+bwd": ("≤", 1.2),
}


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


def make_model(library, mode, size, dtype=torch.float32):
    torch.manual_seed(0)
    kwargs = dict(num_layers=size["layers"], bidirectional=size["bidirectional"], dtype=dtype)
    return getattr(library, mode)(size["input"], size["hidden"], **kwargs)


def build(mode, size, dtype=torch.float32):
    ref = make_model(nn, mode, size, dtype)
    ours = make_model(lstm_lab, mode, size, dtype)
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


class Trainer:
    """A small training loop: the recurrent model, a Linear head on every output, MSE, plain SGD."""

    def __init__(self, model, x):
        torch.manual_seed(1)
        width = model.hidden_size * (2 if model.bidirectional else 1)
        self.model, self.head, self.x = model, nn.Linear(width, 1), x
        self.target = torch.randn(x.shape[0], x.shape[1], 1)
        self.optimizer = torch.optim.SGD([*model.parameters(), *self.head.parameters()], lr=1e-3)

    def __call__(self):
        self.optimizer.zero_grad()
        loss = F.mse_loss(self.head(self.model(self.x)[0]), self.target)
        loss.backward()
        self.optimizer.step()


def compare(a, b, reps, inner, warmup=2):
    """Interleaved timing of b against a; returns (median a, median b, ratios b / a, one per repetition)."""
    times = interleaved_times({"a": a, "b": b}, reps, inner=inner, warmup=warmup)
    ratios = [tb / ta for ta, tb in zip(times["a"], times["b"])]
    return statistics.median(times["a"]), statistics.median(times["b"]), ratios


# ---------------------------------------------------------------- peak memory, one process per measurement
def resident_kib(field):
    """VmRSS (now) or VmHWM (the peak so far) of this process, in KiB, from /proc/self/status."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field} (peak memory is measured on Linux only)")


def memory_child(library_name, threads):
    """In a fresh process: how far the resident set grows in the first forward + backward."""
    torch.set_num_threads(threads)
    model = make_model(nn if library_name == "torch.nn" else lstm_lab, "LSTM", REALISTIC)
    x = torch.randn(REALISTIC["seq"], REALISTIC["batch"], REALISTIC["input"])
    before = resident_kib("VmRSS")
    step(model, x, backward=True)
    print(json.dumps({"growth_kib": resident_kib("VmHWM") - before}))


def memory_growth(library_name, threads):
    result = subprocess.run([sys.executable, __file__, "--memory-child", library_name, "--threads", str(threads)],
                            capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])["growth_kib"] / 1024  # MiB


# ---------------------------------------------------------------- printing
def fmt_time(seconds):
    return f"{seconds * 1e3:8.2f} ms" if seconds >= 1e-3 else f"{seconds * 1e6:8.1f} µs"


def verdict(label, ratio):
    if label not in GOALS:
        return ""
    sign, bound = GOALS[label]
    met = ratio <= bound if sign == "≤" else ratio >= bound
    return f"{sign} {bound:.1f}×  {'met' if met else 'NOT met'}"


def print_row(label, a, b, ratios):
    median = statistics.median(ratios)
    spread = f"({min(ratios):.2f}–{max(ratios):.2f})"
    print(f"{label:38s} {a} {b}  {median:5.2f}× {spread:13s} {verdict(label, median)}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 repetitions, for a smoke test")
    # 15: the realistic rows move with torch.nn's own time from one repetition to the next; 9 left
    # their medians at the mercy of two or three slow ones
    parser.add_argument("--reps", type=int, default=15, help="interleaved repetitions (default 15)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2, as on CI)")
    parser.add_argument("--memory-child", choices=["torch.nn", "lstm_lab"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        return memory_child(args.memory_child, args.threads)
    reps = 3 if args.quick else max(args.reps, 7)
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), float32, {reps} interleaved repetitions\n")
    header = f"{'case':38s} {'torch.nn':>11s} {'lstm_lab':>11s}  {'ratio (median, min–max)':27s} goal"
    print(header)
    print("-" * (len(header) + 16))
    for size_name, size in (("teaching", TEACHING), ("realistic", REALISTIC)):
        for mode in ("LSTM", "GRU", "RNN"):
            ref, ours, x = build(mode, size)
            for backward in (False, True):
                inner = 200 if size is TEACHING else 1
                ta, tb, ratios = compare(lambda: step(ref, x, backward), lambda: step(ours, x, backward), reps, inner)
                print_row(f"{mode:4s} {size_name:9s} {'fwd+bwd' if backward else 'forward'}", fmt_time(ta),
                          fmt_time(tb), ratios)

    ref, ours, x = build("LSTM", REALISTIC)
    ta, tb, ratios = compare(Trainer(ref, x), Trainer(ours, x), reps, 1)
    print_row("training step, LSTM realistic", f"{1 / ta:6.1f} st/s", f"{1 / tb:6.1f} st/s", ratios)

    seed = SeedStyleStack(REALISTIC["input"], REALISTIC["hidden"], REALISTIC["layers"])
    print(f"{'':38s} {'lstm_lab':>11s} {'seed loop':>11s}")
    for backward in (False, True):
        # here the reference is lstm_lab and the ratio seed / lstm_lab: how much slower the seeds' way is
        ta, tb, ratios = compare(lambda: step(ours, x, backward), lambda: step(seed, x, backward), reps, 1)
        label = f"seed-style loop ÷ lstm_lab, {'fwd+bwd' if backward else 'forward'}"
        print_row(label, fmt_time(ta), fmt_time(tb), ratios)

    memory_reps = 2 if args.quick else 5
    print(f"{'':38s} {'torch.nn':>11s} {'lstm_lab':>11s}")
    grown = {"torch.nn": [], "lstm_lab": []}
    for _ in range(memory_reps):  # interleaved too: the machine's state drifts
        for name in grown:
            grown[name].append(memory_growth(name, args.threads))
    ratios = [ours / ref for ref, ours in zip(grown["torch.nn"], grown["lstm_lab"])]
    print_row("peak memory growth, fwd+bwd", f"{statistics.median(grown['torch.nn']):7.1f} MiB",
              f"{statistics.median(grown['lstm_lab']):7.1f} MiB", ratios)

    print("\nratio = time (memory) of lstm_lab / time (memory) of torch.nn, measured alternately in this process;")
    print("seed-style rows: time of the seeds' loop / time of lstm_lab, in columns of their own.")
    print("training step: torch.nn and lstm_lab columns in steps per second, the ratio in time per step.")
    print(f"peak memory: resident-set growth during the first forward + backward, LSTM realistic, each in a fresh "
          f"process, {memory_reps} of each, medians.")


if __name__ == "__main__":
    main()
