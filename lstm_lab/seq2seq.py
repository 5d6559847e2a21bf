"""A small encoder-decoder, with and without attention, on digit strings reversed.

    reversal_task      a batch of random digit strings and the same strings reversed
    Encoder            embedding -> lstm_lab.LSTM over the source: every output, and the final state
    Decoder            one lstm_lab.LSTMCell step per target position, started from that final
                       state; with ``attention=True`` each step also reads a weighted average of
                       the encoder's outputs (dot-product attention, Luong et al. 2015)
    Seq2Seq            both, trained with teacher forcing, decoded greedily at test time
    beam_search        decoding that keeps the ``width`` most probable prefixes instead of one
    sequence_log_prob  the log-probability the model gives a whole output sequence

Without attention the whole source has to pass through the encoder's final (h, c): a fixed
number of units for any length, the bottleneck. With attention the decoder can look back at
every source position, and the weights it gives them can be drawn. The attention is Luong et
al.'s simplest form: global, dot-product scores, the query the decoder's *current* h_t (after the
cell's step), the context read out beside h_t and not fed back into the next step's input (no
"input feeding"). Bahdanau et al.'s additive form scores with a small network on the *previous*
state instead and feeds the context into the cell.
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
        """Teacher forcing: at step t (counted from 1, as in the course) the decoder reads the true
        target t - 1, where target 0 is BOS. Returns logits (T, batch, 10), row t - 1 for step t."""
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


@torch.no_grad()
def sequence_log_prob(model: Seq2Seq, source: Tensor, output: Tensor) -> Tensor:
    """(batch,): the log-probability the model gives ``output`` (T, batch) for ``source``, the sum over
    its steps of log P(output_t | source, output_1 .. output_{t-1}) (teacher forcing on ``output``)."""
    logp = torch.log_softmax(model(source, output), dim=-1)
    return logp.gather(-1, output.unsqueeze(-1)).squeeze(-1).sum(0)


@torch.no_grad()
def beam_search(model: Seq2Seq, source: Tensor, width: int = 4, length: int | None = None) -> tuple[Tensor, Tensor]:
    """Beam search: ``(tokens (T, batch), log-probabilities (batch,))``.

    Greedy decoding keeps one prefix and extends it by its most likely next digit. Beam search keeps
    the ``width`` most probable prefixes (their log-probabilities summed over the steps), extends each by
    every digit, and keeps the ``width`` best of those; at the end, the best one. ``width=1`` is greedy.
    """
    if not isinstance(width, int) or not 1 <= width <= DIGITS:
        raise ValueError(f"beam_search: width should be an int in 1..{DIGITS}, got {width!r}")
    length = source.shape[0] if length is None else length
    batch = source.shape[1]
    memory, (h, c) = model.encoder(source)
    memory = memory.repeat_interleave(width, dim=1)  # each example once per hypothesis: batch * width
    h, c = h.repeat_interleave(width, dim=0), c.repeat_interleave(width, dim=0)
    scores = torch.full((batch, width), float("-inf"), dtype=memory.dtype, device=source.device)
    scores[:, 0] = 0.0  # one live hypothesis at the start: the empty prefix
    token = torch.full((batch * width,), BOS, dtype=source.dtype, device=source.device)
    prefixes = torch.zeros(0, batch, width, dtype=source.dtype, device=source.device)
    rows = torch.arange(batch, device=source.device).unsqueeze(1) * width
    for _ in range(length):
        logits, (h, c), _ = model.decoder.step(token, (h, c), memory)
        candidates = scores.unsqueeze(-1) + torch.log_softmax(logits, -1).view(batch, width, DIGITS)
        scores, best = candidates.view(batch, width * DIGITS).topk(width, dim=-1)  # (batch, width)
        parent, digit = best // DIGITS, best % DIGITS
        keep = (rows + parent).view(-1)  # which hypothesis each survivor extends
        h, c = h[keep], c[keep]
        prefixes = torch.cat([prefixes.gather(2, parent.unsqueeze(0).expand_as(prefixes)), digit.unsqueeze(0)])
        token = digit.view(-1)
    return prefixes[:, :, 0], scores[:, 0]


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
