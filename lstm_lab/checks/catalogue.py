"""Known mistakes, made by altering the *weights* the reference runs on (a gate reading another gate's
matrix, weights used transposed, gate blocks in another order): no equation is written twice. Each builder
returns ``{message: thunk}``; a thunk that cannot run on a case matches nothing there."""

from __future__ import annotations

from collections.abc import Callable
from itertools import permutations

import torch
from torch import Tensor

from ..gates import GATE_WORDS, TORCH_ORDER as GATES
from ..layouts import CONVENTIONS, reorder_gates
from ..mistakes import with_W_hf_for_W_hi
# the gate orders of other courses and libraries, by name (layouts.CONVENTIONS), e.g. figo: "seed 002's order"
KNOWN_ORDERS = {CONVENTIONS[k].replace("c", "g"): f"{name}'s order" for k, name in
                (("cs231n", "CS231n"), ("seed002", "seed 002"), ("onnx", "ONNX"))}
SEED_003 = " (seed 003's typo: its input gate reads `h @ W_hf`)"  # the typo itself: mistakes.with_W_hf_for_W_hi
# every (gate, the gate whose weights it reads instead, seed 003's note where that is its typo)
_SWAPS = [(t, s, SEED_003 if (t, s) == ("i", "f") else "") for t in GATES for s in GATES if s != t]


def with_block(t: Tensor, target: str, source: str) -> Tensor:
    """``t`` with gate ``target``'s block replaced by gate ``source``'s (blocks stacked i, f, g, o on dim 0)."""
    blocks = list(t.chunk(4))
    blocks[GATES.index(target)] = blocks[GATES.index(source)]
    return torch.cat(blocks)


def transposed_blocks(t: Tensor) -> Tensor:
    """Each square gate block transposed: what ``h @ W_h`` gives where ``h @ W_h.T`` belongs."""
    blocks = t.chunk(4, 0)
    if blocks[0].shape[0] != blocks[0].shape[1]:
        raise ValueError("only square blocks can be used transposed without an error")
    return torch.cat([b.t() for b in blocks])


def _changed(run: Callable[[dict], object], weights: dict, keys, change: Callable) -> Callable:
    """A mistake's thunk: ``run`` on ``weights`` with ``change`` applied to each of ``keys``."""
    return lambda: run({**weights, **{k: change(weights[k]) for k in keys}})


# ---------------------------------------------------------------- fused weights (torch's layout)
def fused_mistakes(weights: dict, run: Callable[[dict], object]) -> dict:
    """Mistakes in reading torch's fused ``weight_ih, weight_hh, bias_ih, bias_hh``; ``run(weights)`` is the
    reference on (altered) weights."""
    out = {}
    for order in ("".join(p) for p in permutations(GATES) if "".join(p) != GATES):
        known = f" ({KNOWN_ORDERS[order]})" if order in KNOWN_ORDERS else ""
        out[f"you split the gate blocks in the order {', '.join(order)}{known}: torch stacks them i, f, g, o "
            f"(input, forget, candidate, output)"] = (
            _changed(run, weights, weights, lambda w, order=order: reorder_gates(w, order, GATES)))
    for kind, name, v in (("recurrent", "weight_hh", "h"), ("input", "weight_ih", "x")):
        out[f"the {kind} blocks of {name} are used transposed ({v} @ W without .T): torch keeps a row per gate unit, "
            f"so each block is applied as {v} @ W.T"] = _changed(run, weights, [name], transposed_blocks)
    for target, source, seed in _SWAPS:
        for keys, block in ((("weight_hh",), "block of weight_hh"), (("weight_ih",), "block of weight_ih"),
                            (("bias_ih", "bias_hh"), "bias block")):
            typo = seed if keys == ("weight_hh",) else ""
            out[f"the {GATE_WORDS[target]} uses the {GATE_WORDS[source]}'s {block} instead of its own{typo}"] = (
                (lambda: run(with_W_hf_for_W_hi(weights))) if typo else
                _changed(run, weights, keys, lambda w, t=target, s=source: with_block(w, t, s)))
    for keys in (("bias_hh",), ("bias_ih",), ("bias_hh", "bias_ih")):
        out[f"{keys[0]} is missing: torch adds both biases, bias_ih and bias_hh" if len(keys) == 1 else
            "both biases are missing"] = _changed(run, weights, keys, torch.zeros_like)
    return out


# ---------------------------------------------------------------- per-gate weights (seed 003's x @ W)
def per_gate_mistakes(params: dict, run: Callable[[dict], object], input_size: int, hidden_size: int,
                      transposed: bool = True) -> dict:
    """Mistakes in using per-gate ``W_x?, W_h?, b_?`` applied as ``x @ W`` (seed 003's convention,
    ``transposed``) or as ``x @ W.T`` (torch's rows, notebook 04)."""
    out = {}
    for target, source, seed in _SWAPS:
        for prefix, kind in (("W_h", "recurrent matrix"), ("W_x", "input matrix"), ("b_", "bias")):
            typo = seed if prefix == "W_h" else ""
            out[f"the {GATE_WORDS[target]} uses {prefix}{source}, the {GATE_WORDS[source]}'s {kind}, instead "
                f"of {prefix}{target}{typo}"] = (
                (lambda: run(with_W_hf_for_W_hi(params))) if typo else
                lambda t=target, s=source, p=prefix: run(dict(params, **{p + t: params[p + s]})))
    wrong, right = (".T", "") if transposed else ("", ".T")
    x_shape = ("shape (input_size, hidden_size)" if transposed else
               "torch keeps a row per unit, shape (hidden_size, input_size)")
    for v, kind, shape in (("h", "recurrent", "shape (hidden_size, hidden_size), a row per unit of h"),
                           ("x", "input", x_shape)):
        if v == "h" or input_size == hidden_size:  # input matrices used transposed fail unless they are square
            out[f"the {kind} matrices are used transposed ({v} @ W_{v}?{wrong}): in this exercise they are applied as "
                f"{v} @ W_{v}?{right}, {shape}"] = _changed(run, params, [f"W_{v}{g}" for g in GATES], torch.t)
    for gate in GATES:
        out[f"b_{gate}, the {GATE_WORDS[gate]}'s bias, is missing: every gate adds its own bias"] = (
            _changed(run, params, [f"b_{gate}"], torch.zeros_like))
    out["the biases are missing"] = _changed(run, params, [f"b_{g}" for g in GATES], torch.zeros_like)
    return out
