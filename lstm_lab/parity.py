"""Is it the same as torch.nn? One answer, used by the tests and the notebooks.

``twins`` builds a torch.nn module and its lstm_lab twin holding the same weights.
``assert_matches_torch`` runs both on the same input and compares everything a learner could
observe: the output (a ``PackedSequence``'s data and batch layout too), the final states, and the
gradients of every parameter, of the input and of the initial states, for one fixed random
weighting of all outputs. Tolerance: 1e-10 in float64, 1e-5 in float32 (absolute and relative).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence

from . import modules

TOLERANCE = {torch.float64: 1e-10, torch.float32: 1e-5}


def twins(mode: str, input_size: int, hidden_size: int, dtype=torch.float64, **kwargs):
    """``(torch.nn.<mode>(...), lstm_lab.<mode>(...))`` with the same weights."""
    reference = getattr(nn, mode)(input_size, hidden_size, dtype=dtype, **kwargs)
    ours = getattr(modules, mode)(input_size, hidden_size, dtype=dtype, **kwargs)
    ours.load_state_dict(reference.state_dict())
    return reference, ours


def _observed(result) -> dict[str, Tensor]:
    output, hidden = result
    seen = {}
    if isinstance(output, PackedSequence):
        seen["output batch_sizes"] = output.batch_sizes
        if output.sorted_indices is not None:
            seen["output sorted_indices"] = output.sorted_indices
        output = output.data
    seen["output"] = output
    if isinstance(hidden, tuple):
        seen["h_n"], seen["c_n"] = hidden
    else:
        seen["h_n"] = hidden
    return seen


def _run(model, x: Tensor, hx, make_input):
    """Forward, then backward of a fixed random weighting of every output."""
    x_leaf = x.detach().clone().requires_grad_()
    states = [] if hx is None else [h.detach().clone().requires_grad_() for h in (hx if isinstance(hx, tuple) else (hx,))]
    hx_arg = None if hx is None else (tuple(states) if isinstance(hx, tuple) else states[0])
    inputs = make_input(x_leaf)
    seen = _observed(model(inputs) if hx_arg is None else model(inputs, hx_arg))
    generator = torch.Generator().manual_seed(7)
    values = [t for t in seen.values() if t.is_floating_point()]
    sum((t * torch.randn(t.shape, generator=generator, dtype=t.dtype)).sum() for t in values).backward()
    grads = {"input": x_leaf.grad, **{f"initial state {k}": s.grad for k, s in enumerate(states)}}
    return seen, grads


def assert_matches_torch(reference: nn.Module, ours: nn.Module, x: Tensor, hx=None, *,
                         run_ours: Callable | None = None, make_input: Callable | None = None) -> int:
    """Compare ``ours`` (or ``run_ours``, a function built on ``ours``'s parameters) with ``reference``.

    ``make_input`` turns the input tensor into what the models take (e.g. a packed sequence).
    Raises AssertionError naming the first thing that differs; returns how many parameters'
    gradients were compared.
    """
    tol = TOLERANCE.get(x.dtype, 1e-5)
    make_input = make_input or (lambda t: t)
    reference.zero_grad(set_to_none=True)
    ours.zero_grad(set_to_none=True)
    ref_seen, ref_grads = _run(reference, x, hx, make_input)
    our_seen, our_grads = _run(run_ours or ours, x, hx, make_input)
    params = dict(reference.named_parameters())
    pairs = [(name, ref_seen[name], our_seen.get(name)) for name in ref_seen]
    pairs += [(f"gradient of {name}", p.grad, ours.get_parameter(name).grad) for name, p in params.items()]
    pairs += [(f"gradient of the {name}", g, our_grads[name]) for name, g in ref_grads.items()]
    for name, expected, got in pairs:
        if got is None:
            raise AssertionError(f"{name}: torch.nn has it, lstm_lab gave None")
        if got.shape != expected.shape:
            raise AssertionError(f"{name}: shape {tuple(got.shape)}, torch.nn's is {tuple(expected.shape)}")
        if expected.is_floating_point():
            if not torch.allclose(got, expected, atol=tol, rtol=tol):
                worst = (got - expected).abs().max().item()
                raise AssertionError(f"{name} differs from torch.nn by up to {worst:.3g} (tolerance {tol:g})")
        elif not torch.equal(got, expected):
            raise AssertionError(f"{name} differs from torch.nn: {got.tolist()} vs {expected.tolist()}")
    return len(params)
