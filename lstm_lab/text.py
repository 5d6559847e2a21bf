"""Text for a character-level language model: characters to ids, streams, chunks, one model.

The path from a novel to a training batch, one small function per step:

    load_text()              the shipped text (lstm_lab/data/README.md says where it is from)
    Vocabulary.from_text     every distinct character gets an id; encode / decode
    split                    train on the first part, measure on the held-out rest
    streams                  cut the ids into ``batch_size`` parallel streams, (T, batch)
    chunks                   cut the streams into consecutive pieces for truncated BPTT:
                             inputs x[t] and targets x[t + 1] (teacher forcing)

``CharLM`` is an embedding, a recurrent layer (``lstm_lab.LSTM`` unless told otherwise) and a
linear read-out to one logit per character. ``train_chunks`` is one pass of truncated BPTT:
the state is carried from chunk to chunk and detached between them. ``perplexity`` is
exp(mean cross-entropy per character) on held-out streams.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from .modules import LSTM
from .training import optimise, progress_bar

# Inside the package, so a wheel ships it: an installed lstm_lab has no repository around it.
DATA = Path(__file__).resolve().parent / "data"
TEXTS = {"pride_and_prejudice_vol1": "pride_and_prejudice_vol1.txt"}


def load_text(name: str = "pride_and_prejudice_vol1") -> str:
    """The text of a shipped file in ``lstm_lab/data/`` (its source and licence are in its README.md)."""
    if name not in TEXTS:
        raise ValueError(f"load_text: name should be one of {', '.join(TEXTS)}, got {name!r}")
    return (DATA / TEXTS[name]).read_text(encoding="utf-8")


# ---------------------------------------------------------------- characters and ids
@dataclass(frozen=True)
class Vocabulary:
    """The characters of a text, sorted, each with its position as its id."""

    chars: tuple[str, ...]

    @classmethod
    def from_text(cls, text: str) -> Vocabulary:
        if not isinstance(text, str) or not text:
            raise ValueError(f"Vocabulary.from_text: expected a non-empty str, got {text!r:.40}")
        return cls(tuple(sorted(set(text))))

    def __len__(self) -> int:
        return len(self.chars)

    @property
    def ids(self) -> dict[str, int]:
        return {ch: k for k, ch in enumerate(self.chars)}

    def encode(self, text: str) -> Tensor:
        """``text`` as a (len(text),) int64 tensor of ids."""
        ids = self.ids
        unknown = sorted(set(text) - set(ids))
        if unknown:
            raise ValueError(f"Vocabulary.encode: {len(unknown)} character(s) not in the vocabulary: "
                             f"{''.join(unknown)!r} (the vocabulary has {len(self)} characters)")
        return torch.tensor([ids[ch] for ch in text], dtype=torch.int64)

    def decode(self, ids) -> str:
        """Ids (a tensor or a list of ints) back to text."""
        values = ids.tolist() if isinstance(ids, Tensor) else list(ids)
        bad = [v for v in values if not 0 <= v < len(self)]
        if bad:
            raise ValueError(f"Vocabulary.decode: ids should lie in 0..{len(self) - 1}, got {bad[0]}")
        return "".join(self.chars[v] for v in values)


# ---------------------------------------------------------------- split, streams, chunks
def split(ids: Tensor, held_out: float = 0.1) -> tuple[Tensor, Tensor]:
    """``(train, held_out)``: the first ``1 - held_out`` of the ids and the rest, in order.

    The held-out part is text the model never trains on, so its loss measures what was learned
    about the language rather than what was memorised of the training text.
    """
    if not 0 < held_out < 1:
        raise ValueError(f"split: held_out should be a fraction between 0 and 1, got {held_out!r}")
    cut = len(ids) - max(1, round(len(ids) * held_out))
    if cut < 2:
        raise ValueError(f"split: {len(ids)} ids are too few to keep a training part of at least 2")
    return ids[:cut], ids[cut:]


def streams(ids: Tensor, batch_size: int) -> Tensor:
    """The ids cut into ``batch_size`` equal, consecutive streams side by side: (T, batch_size).

    Column b holds the b-th piece of the text, so that step t + 1 of a column continues step t:
    a state carried from one chunk to the next keeps reading the same passage. The few ids that
    do not fill a whole row are dropped.
    """
    if ids.dim() != 1:
        raise ValueError(f"streams: expected a 1-D tensor of ids, got shape {tuple(ids.shape)}")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"streams: batch_size should be a positive int, got {batch_size!r}")
    steps = len(ids) // batch_size
    if steps < 2:
        raise ValueError(f"streams: {len(ids)} ids make fewer than 2 steps in {batch_size} streams")
    return ids[:steps * batch_size].reshape(batch_size, steps).t().contiguous()


def chunks(stream: Tensor, length: int) -> list[tuple[Tensor, Tensor]]:
    """Consecutive ``(inputs, targets)`` pieces of ``stream`` (T, batch), each ``length`` steps
    (the last one may be shorter). ``targets`` is ``inputs`` moved one step on: at every step
    the model reads the true character and is scored on the next one (teacher forcing)."""
    if not isinstance(length, int) or length < 1:
        raise ValueError(f"chunks: length should be a positive int, got {length!r}")
    last = stream.shape[0] - 1  # the last step has no next character to be scored on
    return [(stream[t:min(t + length, last)], stream[t + 1:min(t + length, last) + 1])
            for t in range(0, last, length)]


# ---------------------------------------------------------------- the model
class CharLM(nn.Module):
    """Embedding -> recurrent layer -> linear read-out: logits for the next character.

    ``rnn`` is the recurrent class (``lstm_lab.LSTM``; ``torch.nn.LSTM`` takes the same
    arguments and parameter names, so the two load each other's ``state_dict``).
    """

    def __init__(self, vocab_size: int, embedding_size: int = 32, hidden_size: int = 128, num_layers: int = 1,
                 rnn: type[nn.Module] = LSTM):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding_size)
        self.rnn = rnn(embedding_size, hidden_size, num_layers)
        self.readout = nn.Linear(hidden_size, vocab_size)

    def forward(self, ids: Tensor, state=None):
        """``ids`` (T, batch) -> ``(logits (T, batch, vocab), state)``."""
        outputs, state = self.rnn(self.embedding(ids), state)
        return self.readout(outputs), state


def detach_state(state):
    """The same numbers cut from the graph that made them: backpropagation stops here."""
    if state is None:
        return None
    if isinstance(state, Tensor):
        return state.detach()
    return tuple(detach_state(s) for s in state)


def chunk_loss(logits: Tensor, targets: Tensor) -> Tensor:
    """The mean cross-entropy per character of a chunk, in nats."""
    return nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))


def train_chunks(model: nn.Module, pieces, optimizer: torch.optim.Optimizer, clip: float = 1.0, state=None,
                 progress: bool = False, desc: str = "chunks"):
    """One pass of truncated BPTT over ``pieces`` (from ``chunks``): ``(losses, state)``.

    The state leaves each chunk and enters the next, so the model reads the streams as one long
    text; it is detached in between, so each backward pass stops at the chunk's first step.
    """
    losses = []
    device = next(model.parameters()).device
    for inputs, targets in progress_bar(pieces, desc, progress):
        logits, state = model(inputs.to(device), detach_state(state))
        loss = chunk_loss(logits, targets.to(device))
        optimise(model, optimizer, loss, clip)
        losses.append(loss.item())
    return losses, state


@torch.no_grad()
def perplexity(model: nn.Module, stream: Tensor, length: int = 100) -> float:
    """exp(mean cross-entropy per character) over ``stream`` (T, batch), the state carried.

    A model that spreads its guess evenly over V characters has perplexity V; one that always
    knows the next character, 1.
    """
    device = next(model.parameters()).device
    total, count, state = 0.0, 0, None
    for inputs, targets in chunks(stream, length):
        logits, state = model(inputs.to(device), state)
        total += chunk_loss(logits, targets.to(device)).item() * targets.numel()
        count += targets.numel()
    return math.exp(total / count)
