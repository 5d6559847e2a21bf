"""Training a small recurrent model on a task that needs a long memory.

The task (``memory_task``): the first step of a sequence shows one of a few symbols, then
``lag`` steps of distracting symbols follow, and at the end the model must say which symbol
it saw first. Guessing gives 1/num_symbols; answering needs the symbol carried, unchanged, for
``lag`` steps, and the gradient carried back just as far. Generated in code, so the learner
can change the lag and see where each kind of network stops learning.

``train`` fits one of lstm_lab's ``RNN``, ``LSTM``, ``GRU`` (with a linear read-out) with Adam and
gradient clipping, on fresh batches drawn from a seeded generator, and returns the loss and
accuracy after every step. Everything runs on one device, picked once (``pick_device``).
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from .modules import GRU, LSTM, RNN

MODELS = {"RNN": RNN, "LSTM": LSTM, "GRU": GRU}


def pick_device() -> torch.device:
    """CUDA when a GPU is present, otherwise the CPU: decide once, pass it everywhere."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


# ---------------------------------------------------------------- the task
def memory_task(batch_size: int, lag: int, num_symbols: int = 4, num_distractors: int = 4,
                generator: torch.Generator | None = None, device=None,
                dtype: torch.dtype = torch.float32) -> tuple[Tensor, Tensor]:
    """A batch of the memory task: ``(inputs (lag + 1, batch, num_symbols + num_distractors), targets (batch,))``.

    Step 0 holds a one-hot symbol in ``0..num_symbols-1``; each of the ``lag`` steps after it a
    one-hot distractor from the other ``num_distractors`` channels. The target is the symbol of
    step 0. The numbers are drawn on the CPU from ``generator`` and then moved to ``device``,
    so a seed gives the same batches on every device.
    """
    for name, value, least in (("batch_size", batch_size, 1), ("lag", lag, 0), ("num_symbols", num_symbols, 2),
                               ("num_distractors", num_distractors, 1)):
        if not isinstance(value, int) or isinstance(value, bool) or value < least:
            raise ValueError(f"memory_task: {name} should be an int >= {least}, got {value!r}")
    symbols = torch.randint(num_symbols, (batch_size,), generator=generator)
    distractors = num_symbols + torch.randint(num_distractors, (lag, batch_size), generator=generator)
    channels = torch.cat([symbols.unsqueeze(0), distractors])  # (lag + 1, batch): which channel is on
    inputs = nn.functional.one_hot(channels, num_symbols + num_distractors).to(dtype)
    return inputs.to(device), symbols.to(device)


@contextmanager
def fixed_seed(seed: int):
    """Inside, the CPU's global random stream starts from ``seed``; after, it is the caller's again.

    How ``make_model``, ``seq2seq.train_seq2seq`` and the checks that build a model seed a model's initial weights: a call gives the
    same numbers whatever was drawn before it, and leaves a learner's own seeded stream where it
    was, so the cells after it draw what they would have drawn without it.
    """
    with torch.random.fork_rng(devices=[]):  # saves and restores the CPU's state (no other device is drawn from)
        torch.default_generator.manual_seed(seed)  # what torch.manual_seed does for the CPU
        yield


# ---------------------------------------------------------------- the model
class SequenceClassifier(nn.Module):
    """A recurrent layer from lstm_lab, read out by a linear layer at the last step."""

    def __init__(self, kind: str, input_size: int, hidden_size: int, num_classes: int, keep_bias: float = 3.0):
        super().__init__()
        if kind not in MODELS:
            raise ValueError(f"SequenceClassifier: kind should be one of {', '.join(MODELS)}, got {kind!r}")
        self.kind = kind
        self.rnn = MODELS[kind](input_size, hidden_size)
        self.readout = nn.Linear(hidden_size, num_classes)
        if kind != "RNN":
            # The gate that keeps the old state is block 1 in both: the LSTM's forget gate f, the
            # GRU's update gate z. Starting it open (σ(keep_bias) near 1 instead of σ(0) = 0.5)
            # lets the memory, and its gradient, survive many steps before training has taught
            # the gate anything. The two biases are added, so each gets half.
            with torch.no_grad():
                for name in ("bias_ih_l0", "bias_hh_l0"):
                    getattr(self.rnn, name)[hidden_size:2 * hidden_size] = keep_bias / 2

    def forward(self, inputs: Tensor) -> Tensor:
        outputs, _ = self.rnn(inputs)
        return self.readout(outputs[-1])  # logits (batch, num_classes)


def make_model(kind: str, hidden_size: int = 32, num_symbols: int = 4, num_distractors: int = 4, seed: int = 0,
               device=None, keep_bias: float = 3.0) -> SequenceClassifier:
    """A ``SequenceClassifier`` for the memory task, initialised from ``seed`` (on the CPU, then moved)."""
    with fixed_seed(seed):
        model = SequenceClassifier(kind, num_symbols + num_distractors, hidden_size, num_symbols, keep_bias)
    return model.to(device)


# ---------------------------------------------------------------- the loop
@dataclass
class History:
    kind: str
    lag: int
    loss: list[float] = field(default_factory=list)  # cross-entropy of each training batch
    accuracy: list[float] = field(default_factory=list)  # fraction right on each (fresh) training batch
    test_accuracy: float = float("nan")  # on a held-out batch after training

    def verdict(self, num_symbols: int = 4) -> str:
        """The held-out accuracy in words, coarse on purpose: it reads the same on any machine."""
        chance = 1 / num_symbols
        if self.test_accuracy >= 0.95:
            return "learned it (held-out accuracy >= 0.95)"
        if self.test_accuracy < chance + 0.1:
            return f"no better than guessing (chance is {chance:.2f})"
        return f"partly (held-out accuracy between {chance + 0.1:.2f} and 0.95)"

    def final_accuracy(self, last: int = 20) -> float:
        """The mean batch accuracy over the last ``last`` steps (less noisy than one batch)."""
        tail = self.accuracy[-last:]
        return sum(tail) / len(tail)


def accuracy(logits: Tensor, targets: Tensor) -> float:
    return (logits.argmax(-1) == targets).to(torch.float64).mean().item()


def optimise(model: nn.Module, optimizer: torch.optim.Optimizer, loss: Tensor, clip: float | None) -> None:
    """One update: clear the old gradients, backpropagate ``loss``, clip their global norm to
    ``clip`` (skipped when falsy), step. Shared by every training loop of the course."""
    optimizer.zero_grad()
    loss.backward()
    if clip:
        nn.utils.clip_grad_norm_(model.parameters(), clip)
    optimizer.step()


# Steps done and steps to do, but no elapsed time or speed: a notebook stores what its cells showed,
# and a time differs from machine to machine and run to run (so nbval could not compare it either).
PROGRESS_FORMAT = "{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt}"


def progress_bar(iterable, desc: str, enabled: bool = True):
    """``iterable`` wrapped in a ``tqdm.auto`` bar (a widget in Jupyter) that counts steps, not time."""
    return tqdm(iterable, desc=desc, disable=not enabled, leave=True, bar_format=PROGRESS_FORMAT)


def train(kind: str, lag: int, *, steps: int = 200, batch_size: int = 64, hidden_size: int = 32, lr: float = 3e-3,
          clip: float = 1.0, num_symbols: int = 4, num_distractors: int = 4, seed: int = 0, device=None,
          progress: bool = True, test_size: int = 512, keep_bias: float = 3.0) -> History:
    """Train a fresh ``kind`` model ("RNN", "LSTM" or "GRU") on the memory task with this ``lag``.

    Seeded: the same arguments give the same model, the same batches and the same history.
    ``device`` defaults to ``pick_device()``. ``progress`` shows a bar (``progress_bar``).
    """
    if kind not in MODELS:
        raise ValueError(f"train: kind should be one of {', '.join(MODELS)}, got {kind!r}")
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"train: steps should be a positive int, got {steps!r}")
    device = pick_device() if device is None else torch.device(device)
    model = make_model(kind, hidden_size, num_symbols, num_distractors, seed, device, keep_bias)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    data = torch.Generator().manual_seed(seed)
    task = dict(lag=lag, num_symbols=num_symbols, num_distractors=num_distractors, device=device)
    history = History(kind, lag)
    for _ in progress_bar(range(steps), f"{kind} lag {lag}", progress):
        inputs, targets = memory_task(batch_size, generator=data, **task)
        logits = model(inputs)
        loss = nn.functional.cross_entropy(logits, targets)
        optimise(model, optimizer, loss, clip)
        history.loss.append(loss.item())
        history.accuracy.append(accuracy(logits, targets))
    with torch.no_grad():
        test = torch.Generator().manual_seed(seed + 1_000_003)  # never the training stream
        inputs, targets = memory_task(test_size, generator=test, **task)
        history.test_accuracy = accuracy(model(inputs), targets)
    return history
