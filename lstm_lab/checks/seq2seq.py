"""Notebook 14's exercises: the attention step, the decoder step that uses it, and the masked loss; references
from ``lstm_lab.seq2seq``, seeded float64 cases, and the mistakes the notebook warns about."""

from __future__ import annotations

import math

import torch

from .. import seq2seq
from ..training import fixed_seed
from .core import randn, seeded
from .diagnose import Case, Exercise, checker

_SIZES = ((5, 2, 3), (7, 3, 4), (4, 1, 2))  # (source length S, batch B, hidden H) of the random cases


def _attention_mistakes(case: Case) -> dict:
    query, keys = case.args
    scores = torch.einsum("sbh,bh->bs", keys, query)  # (B, S): ⟨k_s, h⟩ for every example and position
    wrong_weights = {  # the weights each mistake gives; its context is the keys weighted by them
        "the softmax ran over the batch axis: each example's weights must sum to 1 over the source positions "
        "(the last axis of the scores, (B, S))": torch.softmax(scores, dim=0),
        "the weights are the raw scores: a softmax over the source positions makes them positive and sum to 1":
            scores,
        "the scores were divided by √H (the transformer's scaled dot product): this exercise asks for "
        "Luong's plain dot product": torch.softmax(scores / math.sqrt(query.shape[-1]), dim=-1)}
    return {**{message: (torch.einsum("bs,sbh->bh", w, keys), w) for message, w in wrong_weights.items()},
            "the context is the plain average of the keys: weight each k_s by its attention weight":
                (keys.mean(0), torch.softmax(scores, dim=-1))}


ATTENTION = Exercise(
    "attention", seq2seq.dot_attention, ("context", "weights"),
    axis_names={"context": ("example", "unit"), "weights": ("example", "source position")},
    mistakes=_attention_mistakes, batch_args=(0,),
    cases=lambda seed=0: [Case(f"a random case (source length {S}, batch {B}, hidden size {H})",
                               (randn(gen, B, H), randn(gen, S, B, H)), names=("query", "keys"))
                          for gen in [seeded(1400 + seed)] for S, B, H in _SIZES],
    success=(f"{len(_SIZES)} random cases: lstm_lab.seq2seq.dot_attention (softmax over the source positions of "
             "⟨k_s, h_t⟩, then the weighted sum)", "gradients with respect to the query and the keys"))
check_attention = checker(ATTENTION, """``attention(query (B, H), keys (S, B, H)) -> (context (B, H), weights (B,
    S))``: dot-product attention as notebook 14 defines it (Luong et al. 2015).""")


# ---------------------------------------------------------------- the decoder step
def _decoder_mistakes(case: Case) -> dict:
    decoder, token, state, memory, _ = case.args
    with torch.no_grad():
        logits, (h, c), weights = decoder.step(token, state, memory)
        context, _ = seq2seq.dot_attention(h, memory)
        stale_context, stale_weights = seq2seq.dot_attention(state[0], memory)
        return {
            "the attention was asked with the state from before this step (h_{t-1}): this decoder (Luong's) "
            "runs its cell first and attends with the new h_t":
                (decoder.readout(torch.cat([h, stale_context], -1)), (h, c), stale_weights),
            "the read-out got [context; h_t]: it was built to read [h_t; context], h_t first":
                (decoder.readout(torch.cat([context, h], -1)), (h, c), weights),
            "the state returned is the one the step started from: return the cell's new (h_t, c_t), which the "
            "next step reads": (logits, state, weights)}


def _decoder_cases(seed: int = 0) -> list[Case]:
    gen, cases = seeded(1450 + seed), []
    for k, (S, B, H) in enumerate(_SIZES):
        with fixed_seed(1460 + seed + k):  # the decoder's own weights; the caller's random state is left alone
            decoder = seq2seq.Decoder(embedding_size=3, hidden_size=H, attention=True).double()
        cases.append(Case(f"a random decoder (source length {S}, batch {B}, hidden size {H})",
                          (decoder, torch.randint(seq2seq.VOCAB, (B,), generator=gen),  # token, (h, c), memory:
                           (torch.tanh(randn(gen, B, H)), randn(gen, B, H)), randn(gen, S, B, H),  # drawn in this order
                           seq2seq.dot_attention), names=("decoder", "token", ("h", "c"), "memory", "attend")))
    return cases


DECODER_STEP = Exercise(
    "decoder_step", lambda decoder, token, state, memory, attend: decoder.step(token, state, memory),
    ("logits", ("h", "c"), "weights"),
    axis_names={"logits": ("example", "output token"), "h": ("example", "unit"), "c": ("example", "unit"),
                "weights": ("example", "source position")},
    mistakes=_decoder_mistakes, batch_args=(), cases=_decoder_cases,
    allowed=("lstm_lab.modules.LSTMCell", "lstm_lab.seq2seq.dot_attention"),  # the cell and `attend`
    success=(f"{len(_SIZES)} random decoders: lstm_lab.seq2seq.Decoder.step (the cell, then attention with the "
             "new h_t, then the read-out of [h_t; context])", "gradients with respect to the state and the memory"))
check_decoder_step = checker(DECODER_STEP, """``decoder_step(decoder, token (B,), (h, c), memory (S, B, H), attend)
    -> (logits (B, 11), (h, c), weights (B, S))``: one step of notebook 14's attention decoder, with ``attend`` for
    the attention.""")


# ---------------------------------------------------------------- the masked loss
def _masked_loss_mistakes(case: Case) -> dict:
    logits, target, mask = case.args
    real = target.masked_fill(~mask, 0)  # a class the loss accepts where the target is PAD
    every = torch.nn.functional.cross_entropy(logits.permute(0, 2, 1), real, reduction="none")  # (T, B)
    kept = every * mask
    return {
        "the mean ran over every position, padding included: divide the masked sum by the number of real "
        "positions (mask.sum()), not by T × B": kept.sum() / mask.numel(),
        "the padded positions' losses were counted: multiply each position's loss by the mask before summing":
            every.sum() / mask.sum(),
        "each string's mean, then their mean: notebook 07's mean gives every real position the same weight, "
        "whatever the length of its string": (kept.sum(0) / mask.sum(0)).mean(),
        "the sum over the real positions, not their mean: divide it by their number, mask.sum()": kept.sum(),
    }


def _masked_loss_cases(seed: int = 0) -> list[Case]:
    gen, cases = seeded(1480 + seed), []
    for lengths in ([2, 5, 3], [4, 1], [3, 3, 6, 2]):
        source, _, n = seq2seq.padded_batch(lengths, gen)  # each string's random digits, then PAD
        target = torch.cat([source, torch.full_like(source[:1], seq2seq.PAD)])
        target[n, torch.arange(len(n))] = seq2seq.EOS  # n digits, then EOS, then PAD
        cases.append(Case(f"a random padded batch (strings of {', '.join(map(str, lengths))} digits)",
                          (randn(gen, *target.shape, seq2seq.OUTPUTS), target, seq2seq.target_mask(target)),
                          names=("logits", "target", "mask")))
    return cases


MASKED_LOSS = Exercise(
    "masked_loss", seq2seq.masked_loss, "loss", axis_names={"loss": ()},
    mistakes=_masked_loss_mistakes, cases=_masked_loss_cases,
    error_hints={"out of bounds": "a padded position's target is PAD (12), which is no class of the 11 the logits "
                                  "score: give the padded positions any class (target.masked_fill(~mask, 0)) before "
                                  "the loss reads them; the mask then zeroes their terms"},
    success=(f"3 random padded batches: lstm_lab.seq2seq.masked_loss (the mean cross-entropy over the real "
             "positions)", "gradients with respect to the logits"))
check_masked_loss = checker(MASKED_LOSS, """``masked_loss(logits (T, B, 11), target (T, B), mask (T, B)) -> loss
    ()``: the mean cross-entropy over the positions where the mask is True (notebook 07's masked mean), whatever the
    padded targets hold.""")
