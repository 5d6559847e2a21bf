"""Training throughput of notebook 13's language model: lstm_lab.LSTM against torch.nn.LSTM.

    .venv/bin/python benchmarks/language_model.py            # 9 repetitions
    .venv/bin/python benchmarks/language_model.py --quick    # 3, for a smoke test

The model and data are notebook 13's: ``text.CharLM`` (embedding 32, hidden 128) on the shipped
text, chunks of 64 characters from 32 streams, Adam and clipping through ``text.train_chunks``.
Both models start from the same weights. One repetition trains each for the same chunks, in
turn (A B A B ...), and gives one ratio of their throughputs (characters per second, lstm_lab /
torch.nn). We print the median ratio with its min–max: on a shared machine absolute times move a
lot between runs, ratios taken in the same run are what can be compared.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch import nn

from lstm_lab import LSTM, text
from lstm_lab.training import pick_device


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 repetitions instead of 9")
    parser.add_argument("--chunks", type=int, default=10, help="chunks trained per repetition and model")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: leave it)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = pick_device()
    raw = text.load_text()
    vocab = text.Vocabulary.from_text(raw)
    train_ids, _ = text.split(vocab.encode(raw))
    pieces = text.chunks(text.streams(train_ids, 32), 64)[:args.chunks]
    characters = sum(targets.numel() for _, targets in pieces)

    torch.manual_seed(0)
    models = {"lstm_lab.LSTM": text.CharLM(len(vocab), 32, 128, rnn=LSTM).to(device),
              "torch.nn.LSTM": text.CharLM(len(vocab), 32, 128, rnn=nn.LSTM).to(device)}
    models["torch.nn.LSTM"].load_state_dict(models["lstm_lab.LSTM"].state_dict())
    optimizers = {name: torch.optim.Adam(m.parameters(), lr=1e-2) for name, m in models.items()}

    def one_pass(name: str) -> float:
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        text.train_chunks(models[name], pieces, optimizers[name], clip=1.0)  # .item() per chunk syncs
        return characters / (time.perf_counter() - start)

    for name in models:  # warm-up
        one_pass(name)
    repetitions = 3 if args.quick else 9
    rates = {name: [] for name in models}
    for _ in range(repetitions):
        for name in models:  # interleaved: A B A B ...
            rates[name].append(one_pass(name))
    ratios = [a / b for a, b in zip(rates["lstm_lab.LSTM"], rates["torch.nn.LSTM"])]
    print(f"device {device.type}, {torch.get_num_threads()} thread(s), {len(pieces)} chunks of 64 x 32 characters, "
          f"{repetitions} interleaved repetitions")
    for name, values in rates.items():
        print(f"  {name:14s} median {statistics.median(values):9,.0f} characters/s")
    print(f"  throughput lstm_lab / torch.nn: median {statistics.median(ratios):.2f} "
          f"(min {min(ratios):.2f}, max {max(ratios):.2f})")


if __name__ == "__main__":
    main()
