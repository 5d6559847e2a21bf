"""Turning a language model's logits into text: greedy, temperature, top-k.

    temperature_probs(logits, T)   softmax(logits / T): T < 1 sharpens, T > 1 flattens
    top_k_logits(logits, k)        keep the k largest logits, the rest can never be drawn
    next_ids(logits, ...)          one id per row: the argmax (greedy) or a draw
    generate(model, vocab, ...)    a prompt, then one character at a time, each fed back in

The temperature divides the *logits*, before the softmax. Dividing the probabilities after it
changes nothing once they are renormalised: that is the mistake the exercise's check names.
"""

from __future__ import annotations

import torch
from torch import Tensor


def temperature_probs(logits: Tensor, temperature: float) -> Tensor:
    """softmax(logits / temperature) over the last axis."""
    if not temperature > 0:
        raise ValueError(f"temperature_probs: temperature should be > 0, got {temperature!r} "
                         "(for the most likely character use greedy decoding)")
    return torch.softmax(logits / temperature, dim=-1)


def top_k_logits(logits: Tensor, k: int) -> Tensor:
    """The logits with all but the ``k`` largest of each row set to -inf."""
    if not isinstance(k, int) or not 1 <= k <= logits.shape[-1]:
        raise ValueError(f"top_k_logits: k should be an int in 1..{logits.shape[-1]}, got {k!r}")
    kth = logits.topk(k, dim=-1).values[..., -1:]
    return logits.masked_fill(logits < kth, float("-inf"))


def next_ids(logits: Tensor, temperature: float = 1.0, top_k: int | None = None, greedy: bool = False,
             generator: torch.Generator | None = None) -> Tensor:
    """One id per row of ``logits`` (..., vocab): the most likely (``greedy``) or a draw from
    ``temperature_probs`` of the (top-k) logits, with ``generator`` for reproducible draws."""
    if greedy:
        return logits.argmax(-1)
    if top_k is not None:
        logits = top_k_logits(logits, top_k)
    probs = temperature_probs(logits, temperature)
    flat = probs.reshape(-1, probs.shape[-1])
    if generator is not None and generator.device != flat.device:
        flat = flat.to(generator.device)  # draw where the generator lives: the same ids on every device
    drawn = torch.multinomial(flat, 1, generator=generator).reshape(probs.shape[:-1])
    return drawn.to(logits.device)


@torch.no_grad()
def generate(model, vocab, prompt: str, length: int, temperature: float = 1.0, top_k: int | None = None,
             greedy: bool = False, generator: torch.Generator | None = None) -> str:
    """``prompt`` followed by ``length`` characters from ``model`` (a ``text.CharLM``).

    The prompt is read in one call (its last logits give the first new character); after that
    each new character is fed back as the next input, the state carried along.
    """
    if not prompt:
        raise ValueError("generate: the prompt should hold at least one character")
    device = next(model.parameters()).device
    ids = vocab.encode(prompt).to(device).unsqueeze(1)  # (T, batch 1)
    logits, state = model(ids)
    out = []
    for _ in range(length):
        nxt = next_ids(logits[-1], temperature, top_k, greedy, generator)  # (1,)
        out.append(int(nxt))
        logits, state = model(nxt.view(1, 1), state)
    return prompt + vocab.decode(out)
