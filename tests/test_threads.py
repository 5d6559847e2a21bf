"""The course's numbers do not depend on torch's thread count.

The test command runs every notebook twice, each time on two parallel workers with one thread each (two
threads per notebook on two workers would make threads wait for each other: three to fifteen times slower).
A student's JupyterLab may use more (run.sh lab: half the cores, up to 4). What a thread count can change is
the order of a sum inside an operation big enough to be split, and the course's big operations are in its
trained notebooks. So this test runs the first steps of each, at the notebooks' own sizes, with 1 and with 2
threads in separate processes, and requires the same numbers to within float32 rounding."""

import json
import os
import subprocess
import sys

import pytest

PROBE = r"""
import json, sys
import torch
torch.set_num_threads(int(sys.argv[1]))
from lstm_lab import seq2seq, text, training

found = {"threads": torch.get_num_threads()}
# notebook 11: the memory task at lag 60, the three models (first training steps)
for kind in ("RNN", "LSTM", "GRU"):
    found[kind] = training.train(kind, 60, steps=4, seed=0, device="cpu", progress=False, test_size=64).loss
# notebook 13: the character model, batch 32, chunks of 64, hidden size 128 (first updates)
vocab = text.Vocabulary.from_text(text.load_text())
ids, _ = text.split(vocab.encode(text.load_text()), held_out=0.1)
pieces = text.chunks(text.streams(ids, 32), 64)[:3]
torch.manual_seed(0)
model = text.CharLM(len(vocab), embedding_size=32, hidden_size=128)
found["CharLM"], _ = text.train_chunks(model, pieces, torch.optim.Adam(model.parameters(), lr=1e-2), clip=1.0)
# notebook 14: the encoder-decoder with attention (first steps)
found["seq2seq"] = seq2seq.train_seq2seq(True, steps=4, seed=0, progress=False)[1].loss
print(json.dumps(found))
"""


def run_with(threads: int) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    result = subprocess.run([sys.executable, "-c", PROBE, str(threads)], capture_output=True, text=True, env=env,
                            timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.splitlines()[-1])


@pytest.mark.slow
def test_the_trained_notebooks_first_steps_are_the_same_with_1_and_2_threads():
    one, two = run_with(1), run_with(2)
    assert (one.pop("threads"), two.pop("threads")) == (1, 2)
    assert one.keys() == two.keys()
    for name in one:
        assert len(one[name]) == len(two[name]) > 0, name
        assert one[name] == pytest.approx(two[name], rel=1e-5, abs=1e-6), f"{name}: {one[name]} vs {two[name]}"
