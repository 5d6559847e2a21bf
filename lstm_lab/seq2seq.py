"""A small encoder-decoder, with and without attention, on digit strings reversed.

    reversal_task      a batch of random digit strings and the same strings reversed
    Encoder            embedding -> lstm_lab.LSTM over the source: every output, and the final state
    Decoder            one lstm_lab.LSTMCell step per target position, started from that final
                       state; with ``attention=True`` each step also reads a weighted average of
                       the encoder's outputs (dot-product attention, Luong et al. 2015)
    Seq2Seq            both, trained with teacher forcing, decoded greedily at test time

Without attention the whole source has to pass through the encoder's final (h, c): a fixed
number of units for any length, the bottleneck. With attention the decoder can look back at
every source position, and the weights it gives them can be drawn.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from .modules import LSTM, LSTMCell
from .training import fixed_seed, optimise, progress_bar

DIGITS = 10
BOS = DIGITS  # the token the decoder reads before its first output


def reversal_task(batch_size: int, length: int, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
    """``(source, target)``, each (length, batch) of digits 0-9; target is source reversed in time."""
    for name, value in (("batch_size", batch_size), ("length", length)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"reversal_task: {name} should be a positive int, got {value!r}")
    source = torch.randint(DIGITS, (length, batch_size), generator=generator)
    return source, source.flip(0)


class Encoder(nn.Module):
    def __init__(self, embedding_size: int, hidden_size: int):
        super().__init__()
        self.embedding = nn.Embedding(DIGITS, embedding_size)
        self.rnn = LSTM(embedding_size, hidden_size)

    def forward(self, source: Tensor):
        """``source`` (S, batch) -> ``(outputs (S, batch, hidden), (h, c) each (batch, hidden))``."""
        outputs, (h, c) = self.rnn(self.embedding(source))
        return outputs, (h[0], c[0])


def dot_attention(query: Tensor, keys: Tensor) -> tuple[Tensor, Tensor]:
    """``(context (batch, hidden), weights (batch, S))`` for a query (batch, hidden) and keys
    (S, batch, hidden): weights = softmax over S of ⟨key_s, query⟩, context = Σ_s weight_s key_s."""
    scores = torch.einsum("sbh,bh->bs", keys, query)
    weights = torch.softmax(scores, dim=-1)
    return torch.einsum("bs,sbh->bh", weights, keys), weights


class Decoder(nn.Module):
    def __init__(self, embedding_size: int, hidden_size: int, attention: bool):
        super().__init__()
        self.attention = attention
        self.embedding = nn.Embedding(DIGITS + 1, embedding_size)  # the digits and BOS
        self.cell = LSTMCell(embedding_size, hidden_size)
        self.readout = nn.Linear(2 * hidden_size if attention else hidden_size, DIGITS)

    def step(self, token: Tensor, state, memory: Tensor):
        """One output position: ``(logits (batch, 10), state, attention weights (batch, S) or None)``."""
        h, c = self.cell(self.embedding(token), state)
        if not self.attention:
            return self.readout(h), (h, c), None
        context, weights = dot_attention(h, memory)
        return self.readout(torch.cat([h, context], dim=-1)), (h, c), weights


class Seq2Seq(nn.Module):
    def __init__(self, attention: bool, embedding_size: int = 16, hidden_size: int = 64):
        super().__init__()
        self.encoder = Encoder(embedding_size, hidden_size)
        self.decoder = Decoder(embedding_size, hidden_size, attention)

    def forward(self, source: Tensor, target: Tensor) -> Tensor:
        """Teacher forcing: at step t the decoder reads the true target t - 1 (BOS at t = 0).
        Returns logits (T, batch, 10)."""
        memory, state = self.encoder(source)
        inputs = torch.cat([torch.full_like(target[:1], BOS), target[:-1]])
        logits = []
        for token in inputs:
            out, state, _ = self.decoder.step(token, state, memory)
            logits.append(out)
        return torch.stack(logits)

    @torch.no_grad()
    def greedy(self, source: Tensor, length: int | None = None) -> tuple[Tensor, Tensor | None]:
        """Greedy decoding: each step reads the model's own previous answer.
        Returns ``(tokens (T, batch), attention weights (T, batch, S) or None)``."""
        length = source.shape[0] if length is None else length
        memory, state = self.encoder(source)
        token = torch.full_like(source[0], BOS)
        tokens, weights = [], []
        for _ in range(length):
            out, state, w = self.decoder.step(token, state, memory)
            token = out.argmax(-1)
            tokens.append(token)
            weights.append(w)
        return torch.stack(tokens), (torch.stack(weights) if self.decoder.attention else None)


@dataclass
class Seq2SeqHistory:
    attention: bool
    loss: list[float] = field(default_factory=list)


def train_seq2seq(attention: bool, *, steps: int = 600, batch_size: int = 64, min_length: int = 3,
                  max_length: int = 12, hidden_size: int = 64, lr: float = 1e-2, clip: float = 1.0, seed: int = 0,
                  device=None, progress: bool = True) -> tuple[Seq2Seq, Seq2SeqHistory]:
    """Train a fresh ``Seq2Seq`` on reversal, each batch of one length drawn from
    ``min_length..max_length``. Seeded: the same arguments give the same model and history."""
    device = torch.device("cpu") if device is None else torch.device(device)
    with fixed_seed(seed):
        model = Seq2Seq(attention, hidden_size=hidden_size)
    model = model.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    data = torch.Generator().manual_seed(seed)
    history = Seq2SeqHistory(attention)
    desc = "with attention" if attention else "without attention"
    for _ in progress_bar(range(steps), desc, progress):
        length = int(torch.randint(min_length, max_length + 1, (), generator=data))
        source, target = (t.to(device) for t in reversal_task(batch_size, length, data))
        logits = model(source, target)
        loss = nn.functional.cross_entropy(logits.reshape(-1, DIGITS), target.reshape(-1))
        optimise(model, optimizer, loss, clip)
        history.loss.append(loss.item())
    return model, history


def sequence_accuracy(model: Seq2Seq, length: int, batch_size: int = 500, seed: int = 1_000_003) -> float:
    """The fraction of held-out strings of this length reversed entirely right by greedy decoding."""
    device = next(model.parameters()).device
    source, target = reversal_task(batch_size, length, torch.Generator().manual_seed(seed + length))
    tokens, _ = model.greedy(source.to(device))
    return (tokens.cpu() == target).all(0).to(torch.float64).mean().item()
