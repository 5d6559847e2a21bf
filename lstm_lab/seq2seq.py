"""A small encoder-decoder, with and without attention, on digit strings reversed.

    reversal_task      a batch of random digit strings of one length and the same strings reversed
    padded_batch       strings of mixed lengths as one batch: sources padded, targets reversed, ended
                       by ``EOS`` and padded
    source_mask, target_mask   notebook 07's mask (``runners.valid_steps``) for the lengths read off the padding
    masked_loss        the mean cross-entropy over the real positions (notebook 07's masked mean)
    bucketed_lengths   the lengths of the next few batches, sorted into batches of neighbours (bucketing)
    Encoder            embedding -> a bidirectional lstm_lab.LSTM over the (packed) source; its outputs
                       and its two final states, each projected by a Linear to the decoder's size
    Decoder            one lstm_lab.LSTMCell step per target position, started from that projected
                       state; with ``attention=True`` each step also reads a weighted average of the
                       encoder's projected outputs (dot-product attention, Luong et al. 2015), padding
                       masked out
    Seq2Seq            both, trained with teacher forcing and a masked loss, decoded greedily until
                       ``EOS`` at test time
    beam_search        decoding that keeps the ``width`` most probable prefixes instead of one
    sequence_log_prob  the log-probability the model gives a whole output sequence, up to its ``EOS``
    train_seq2seq, reversal_accuracy   training on bucketed padded batches; exact matches and right stops

Without attention the whole source has to pass through the decoder's initial (h, c): a fixed
number of units for any length, the bottleneck. With attention the decoder can look back at
every source position, and the weights it gives them can be drawn. The attention is Luong et
al.'s simplest form: global, dot-product scores, the query the decoder's *current* h_t (after the
cell's step), the context read out beside h_t and not fed back into the next step's input (no
"input feeding"). Its keys are the encoder's outputs mapped by a Linear to the decoder's size
(which makes the score Luong's "general" ⟨h_t, W o_s⟩). Bahdanau et al.'s additive form scores with
a small network on the *previous* state instead and feeds the context into the cell.

Tokens: the digits 0-9, ``EOS`` (the end of an output: the decoder writes it to stop), ``BOS`` (what
the decoder reads before its first output) and ``PAD`` (fills a string out to its batch's longest).
The decoder's read-out scores the 11 it may write: the digits and ``EOS``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from .modules import LSTM, LSTMCell
from .runners import valid_steps
from .training import fixed_seed, optimise, progress_bar

DIGITS = 10
EOS = DIGITS       # the end of an output string: the decoder learns to write it
BOS = DIGITS + 1   # the token the decoder reads before its first output
PAD = DIGITS + 2   # fills the positions past a string's end
OUTPUTS = DIGITS + 1  # what the read-out scores: the digits and EOS
VOCAB = DIGITS + 3    # what the embeddings read: the digits, EOS, BOS and PAD


def _check_positive(where: str, name: str, value) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{where}: {name} should be a positive int, got {value!r}")


def reversal_task(batch_size: int, length: int, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
    """``(source, target)``, each (length, batch) of digits 0-9; target is source reversed in time."""
    for name, value in (("batch_size", batch_size), ("length", length)):
        _check_positive("reversal_task", name, value)
    source = torch.randint(DIGITS, (length, batch_size), generator=generator)
    return source, source.flip(0)


def padded_batch(lengths, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor, Tensor]:
    """Random strings of the given lengths as one batch: ``(source (S, B), target (S + 1, B), lengths (B,))``.

    S is the longest length. Column b of ``source`` is string b's digits, then ``PAD``; of ``target``, the
    same digits reversed, then ``EOS``, then ``PAD``: a string of n digits has n + 1 targets."""
    lengths = torch.as_tensor(lengths)
    if lengths.dim() != 1 or lengths.numel() == 0 or lengths.is_floating_point() or bool((lengths < 1).any()):
        raise ValueError(f"padded_batch: lengths should be a non-empty 1-D sequence of positive ints, got "
                         f"{lengths.tolist()!r}")
    longest = int(lengths.max())
    source = torch.full((longest, len(lengths)), PAD)
    target = torch.full((longest + 1, len(lengths)), PAD)
    for b, n in enumerate(lengths.tolist()):
        digits, reversed_digits = reversal_task(1, n, generator)
        source[:n, b], target[:n, b], target[n, b] = digits[:, 0], reversed_digits[:, 0], EOS
    return source, target, lengths


def source_lengths(source: Tensor) -> Tensor:
    """(B,): how many positions of each column are not ``PAD`` (padding comes after a string's digits)."""
    return (source != PAD).sum(0)


def source_mask(source: Tensor) -> Tensor:
    """(S, B) bool, True at a real digit: notebook 07's mask (``runners.valid_steps``) for these lengths."""
    return valid_steps(source_lengths(source), source.shape[0], source.device)[..., 0]


class Encoder(nn.Module):
    """Reads the source both ways; hands the decoder a state and the attention its keys, both at its size.

    The decoder runs one way, with ``decoder_size`` units, while the encoder has two final states of
    ``hidden_size`` each (one per direction, having read the string left to right and right to left):
    ``bridge`` maps the two, side by side, to the decoder's initial (h, c), and ``keys`` maps each output
    [forward; backward] (2 * hidden_size) to the decoder's size, so that the dot product with h_t exists."""

    def __init__(self, embedding_size: int, hidden_size: int, decoder_size: int):
        super().__init__()
        self.embedding = nn.Embedding(VOCAB, embedding_size)
        self.rnn = LSTM(embedding_size, hidden_size, bidirectional=True)
        self.bridge_h = nn.Linear(2 * hidden_size, decoder_size)
        self.bridge_c = nn.Linear(2 * hidden_size, decoder_size)
        self.keys = nn.Linear(2 * hidden_size, decoder_size, bias=False)

    def forward(self, source: Tensor):
        """``source`` (S, batch), padded with PAD -> ``(memory (S, batch, decoder_size), (h, c) each
        (batch, decoder_size))``. The LSTM reads the packed batch, so no direction reads padding."""
        lengths = source_lengths(source)
        packed = pack_padded_sequence(self.embedding(source), lengths.cpu(), enforce_sorted=False)
        outputs, (h, c) = self.rnn(packed)
        outputs, _ = pad_packed_sequence(outputs, total_length=source.shape[0])  # zeros past each end
        # h[0], h[1]: the forward direction's state after the last digit, the backward one's after the first
        state = (self.bridge_h(torch.cat([h[0], h[1]], -1)), self.bridge_c(torch.cat([c[0], c[1]], -1)))
        return self.keys(outputs), state


def dot_attention(query: Tensor, keys: Tensor, mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """``(context (batch, hidden), weights (batch, S))`` for a query (batch, hidden) and keys
    (S, batch, hidden): weights = softmax over S of ⟨key_s, query⟩, context = Σ_s weight_s key_s.
    ``mask`` (S, batch), True at real positions: a padded position's score is -inf, so its weight is 0."""
    scores = torch.einsum("sbh,bh->bs", keys, query)
    if mask is not None:
        scores = scores.masked_fill(~mask.T, float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    return torch.einsum("bs,sbh->bh", weights, keys), weights


class Decoder(nn.Module):
    def __init__(self, embedding_size: int, hidden_size: int, attention: bool):
        super().__init__()
        self.attention = attention
        self.embedding = nn.Embedding(VOCAB, embedding_size)
        self.cell = LSTMCell(embedding_size, hidden_size)
        self.readout = nn.Linear(2 * hidden_size if attention else hidden_size, OUTPUTS)

    def step(self, token: Tensor, state, memory: Tensor, mask: Tensor | None = None):
        """One output position: ``(logits (batch, 11), state, attention weights (batch, S) or None)``."""
        h, c = self.cell(self.embedding(token), state)
        if not self.attention:
            return self.readout(h), (h, c), None
        context, weights = dot_attention(h, memory, mask)
        return self.readout(torch.cat([h, context], dim=-1)), (h, c), weights


class Seq2Seq(nn.Module):
    def __init__(self, attention: bool, embedding_size: int = 16, hidden_size: int = 64, encoder_size: int = 32):
        super().__init__()
        self.encoder = Encoder(embedding_size, encoder_size, hidden_size)
        self.decoder = Decoder(embedding_size, hidden_size, attention)

    def forward(self, source: Tensor, target: Tensor) -> Tensor:
        """Teacher forcing: at step t (counted from 1, as in the course) the decoder reads the true
        target t - 1, where target 0 is BOS. Returns logits (T, batch, 11), row t - 1 for step t.
        Padded positions of ``target`` are read too, after EOS: nothing before them depends on them."""
        memory, state = self.encoder(source)
        mask = source_mask(source)
        inputs = torch.cat([torch.full_like(target[:1], BOS), target[:-1]])
        logits = []
        for token in inputs:
            out, state, _ = self.decoder.step(token, state, memory, mask)
            logits.append(out)
        return torch.stack(logits)

    @torch.no_grad()
    def greedy(self, source: Tensor, max_length: int | None = None) -> tuple[Tensor, Tensor | None]:
        """Greedy decoding: each step reads the model's own previous answer, until every string has
        written EOS or ``max_length`` steps (by default twice the source's length) have run.
        Returns ``(tokens (T, batch), attention weights (T, batch, S) or None)``; after its EOS a
        string's tokens are PAD."""
        max_length = 2 * source.shape[0] if max_length is None else max_length
        _check_positive("greedy", "max_length", max_length)
        memory, state = self.encoder(source)
        mask = source_mask(source)
        token = torch.full_like(source[0], BOS)
        done = torch.zeros_like(token, dtype=torch.bool)
        tokens, weights = [], []
        for _ in range(max_length):
            out, state, w = self.decoder.step(token, state, memory, mask)
            token = out.argmax(-1)
            tokens.append(token.masked_fill(done, PAD))
            weights.append(w)
            done = done | (token == EOS)
            if bool(done.all()):
                break
        return torch.stack(tokens), (torch.stack(weights) if self.decoder.attention else None)


def target_mask(target: Tensor) -> Tensor:
    """(T, B) bool, True at the positions the loss counts: a string's digits and its EOS, everything before the
    padding, as ``source_mask`` reads it off a source (notebook 07's mask for lengths n + 1)."""
    return source_mask(target)


def masked_loss(logits: Tensor, target: Tensor, mask: Tensor) -> Tensor:
    """The mean cross-entropy over the positions where ``mask`` (T, B) is True: the padded ones count
    for nothing, whatever their target (any value there, even PAD, is replaced before the loss reads it)."""
    real = target.masked_fill(~mask, 0)  # a class index the loss accepts; its term is multiplied by 0
    per_position = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), real.reshape(-1),
                                               reduction="none").view_as(real)
    return (per_position * mask).sum() / mask.sum()


@torch.no_grad()
def sequence_log_prob(model: Seq2Seq, source: Tensor, output: Tensor) -> Tensor:
    """(batch,): the log-probability the model gives ``output`` (T, batch) for ``source``, the sum over
    its steps up to its first EOS (or all T) of log P(output_t | source, output_1 .. output_{t-1})
    (teacher forcing on ``output``). Positions after an EOS count for nothing."""
    after_eos = (output == EOS).long().cumsum(0) - (output == EOS).long() > 0
    output = output.masked_fill(after_eos, PAD)
    logp = torch.log_softmax(model(source, output), dim=-1)
    picked = logp.gather(-1, output.masked_fill(after_eos, 0).unsqueeze(-1)).squeeze(-1)
    return (picked * ~after_eos).sum(0)


@torch.no_grad()
def beam_search(model: Seq2Seq, source: Tensor, width: int = 4,
                max_length: int | None = None) -> tuple[Tensor, Tensor]:
    """Beam search: ``(tokens (T, batch), log-probabilities (batch,))``; after its EOS a string's tokens are PAD.

    Greedy decoding keeps one prefix and extends it by its most likely next token. Beam search keeps
    the ``width`` most probable prefixes (their log-probabilities summed over the steps), extends each by
    every token, and keeps the ``width`` best of those. A prefix that has written EOS is finished: it stays
    in the running with its score, extended by nothing. The search stops when every example's best prefix
    is finished (no other can overtake it: a score only falls as a prefix grows) or after ``max_length``
    steps (by default twice the source's length); it returns each example's best. ``width=1`` is greedy.
    """
    if not isinstance(width, int) or isinstance(width, bool) or not 1 <= width <= OUTPUTS:
        raise ValueError(f"beam_search: width should be an int in 1..{OUTPUTS}, got {width!r}")
    max_length = 2 * source.shape[0] if max_length is None else max_length
    _check_positive("beam_search", "max_length", max_length)
    batch = source.shape[1]
    memory, (h, c) = model.encoder(source)
    mask = source_mask(source).repeat_interleave(width, dim=1)
    memory = memory.repeat_interleave(width, dim=1)  # each example once per hypothesis: batch * width
    h, c = h.repeat_interleave(width, dim=0), c.repeat_interleave(width, dim=0)
    scores = torch.full((batch, width), float("-inf"), dtype=memory.dtype, device=source.device)
    scores[:, 0] = 0.0  # one live hypothesis at the start: the empty prefix
    done = torch.zeros(batch, width, dtype=torch.bool, device=source.device)
    only_eos = torch.full((OUTPUTS,), float("-inf"), dtype=memory.dtype, device=source.device)
    only_eos[EOS] = 0.0  # a finished prefix's one continuation, which costs nothing and writes PAD
    token = torch.full((batch * width,), BOS, dtype=source.dtype, device=source.device)
    prefixes = torch.zeros(0, batch, width, dtype=source.dtype, device=source.device)
    rows = torch.arange(batch, device=source.device).unsqueeze(1) * width
    for _ in range(max_length):
        logits, (h, c), _ = model.decoder.step(token, (h, c), memory, mask)
        step_logp = torch.log_softmax(logits, -1).view(batch, width, OUTPUTS)
        step_logp = torch.where(done.unsqueeze(-1), only_eos, step_logp)
        candidates = scores.unsqueeze(-1) + step_logp
        scores, best = candidates.view(batch, width * OUTPUTS).topk(width, dim=-1)  # (batch, width)
        parent, written = best // OUTPUTS, best % OUTPUTS
        was_done = done.gather(1, parent)
        keep = (rows + parent).view(-1)  # which hypothesis each survivor extends
        h, c = h[keep], c[keep]
        prefixes = torch.cat([prefixes.gather(2, parent.unsqueeze(0).expand_as(prefixes)),
                              written.masked_fill(was_done, PAD).unsqueeze(0)])
        done = was_done | (written == EOS)
        token = written.view(-1)
        if bool(done[:, 0].all()):  # topk sorts: column 0 is each example's best
            break
    return prefixes[:, :, 0], scores[:, 0]


@dataclass
class Seq2SeqHistory:
    attention: bool
    loss: list[float] = field(default_factory=list)


def bucketed_lengths(buckets: int, batch_size: int, min_length: int, max_length: int,
                     generator: torch.Generator) -> list[Tensor]:
    """The lengths of the next ``buckets`` batches: ``buckets * batch_size`` lengths drawn uniformly from
    ``min_length..max_length``, sorted, and cut into batches of neighbours, in a random order (bucketing:
    a batch pads its strings to its longest, so strings of like lengths together waste few steps)."""
    lengths = torch.randint(min_length, max_length + 1, (buckets * batch_size,), generator=generator).sort().values
    batches = list(lengths.split(batch_size))
    return [batches[k] for k in torch.randperm(buckets, generator=generator).tolist()]


def train_seq2seq(attention: bool, *, steps: int = 450, batch_size: int = 64, buckets: int = 8, min_length: int = 3,
                  max_length: int = 12, hidden_size: int = 64, lr: float = 1e-2, clip: float = 1.0, seed: int = 0,
                  device=None, progress: bool = True) -> tuple[Seq2Seq, Seq2SeqHistory]:
    """Train a fresh ``Seq2Seq`` on reversal, each batch strings of lengths drawn from
    ``min_length..max_length``, padded, with the masked loss. Seeded: the same arguments give the same
    model and history."""
    device = torch.device("cpu") if device is None else torch.device(device)
    with fixed_seed(seed):
        model = Seq2Seq(attention, hidden_size=hidden_size)
    model = model.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    data = torch.Generator().manual_seed(seed)
    history = Seq2SeqHistory(attention)
    desc = "with attention" if attention else "without attention"
    batches: list[Tensor] = []
    for _ in progress_bar(range(steps), desc, progress):
        if not batches:
            batches = bucketed_lengths(buckets, batch_size, min_length, max_length, data)
        source, target, _ = padded_batch(batches.pop(), data)
        source, target = source.to(device), target.to(device)
        loss = masked_loss(model(source, target), target, target_mask(target))
        optimise(model, optimizer, loss, clip)
        history.loss.append(loss.item())
    return model, history


def reversal_accuracy(model: Seq2Seq, length: int, batch_size: int = 500,
                      seed: int = 1_000_003) -> tuple[float, float]:
    """Greedy decoding of held-out strings of this length: ``(the share reversed entirely right and
    stopped right after, the share that stopped at the right length)``; the first counts the digits and
    the EOS, the second only where the EOS is."""
    device = next(model.parameters()).device
    source, target = reversal_task(batch_size, length, torch.Generator().manual_seed(seed + length))
    tokens, _ = model.greedy(source.to(device))
    exact, stopped_right = judge_outputs(tokens, target)
    return exact.to(torch.float64).mean().item(), stopped_right.to(torch.float64).mean().item()


def judge_outputs(tokens: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
    """Decoded ``tokens`` (T', B) against ``target`` (T, B), string by string: ``(exact, stopped_right)``, bool
    (B,): the T digits right and then <eos>; <eos> at position T and not before."""
    length, batch = target.shape
    tokens = torch.cat([tokens.to(target.device), torch.full((length + 1, batch), PAD, device=target.device)])
    stopped_right = (tokens[length] == EOS) & (tokens[:length] != EOS).all(0)
    return stopped_right & (tokens[:length] == target).all(0), stopped_right
