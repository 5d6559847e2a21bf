"""Backpropagation through time, written by hand in plain tensor operations.

The forward pass lives in ``cells`` (the equations) and ``runners`` (the loop). This module
walks the same computation backwards:

* one step of an RNN and of an LSTM, gate by gate (``rnn_step_backward``,
  ``lstm_step_backward``), for teaching and for the exercises;
* a whole sequence (``rnn_backward``, ``lstm_backward``), carrying ``dh`` (and ``dc``) from the
  last step to the first.

Each step's local derivative sits beside its forward in ``cells`` (``lstm_local``,
``backward_through_cell``); the LSTM layer's backward that training uses (``lstm_layer_backward``
and the ``torch.autograd.Function`` around it, ``lstm_layer``) in ``lstm_function``. This module
builds on both; import each name from where it lives.

Names: ``dX`` is ∂L/∂X for a scalar loss L. ``pre`` is a step's pre-activation
``W_ih x_t + b_ih + W_hh h_{t-1} + b_hh`` (LSTM: blocks i, f, g, o as in torch), and ``dpre`` its
gradient: once ``dpre`` is known, every weight gradient is a matmul against what the weight
multiplied in the forward pass, and needs no loop: ``dW_hh`` is one matmul of every ``dpre_t``
against every ``h_{t-1}`` (why the reverse loop is short: ``lstm_function``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import torch
from torch import Tensor

from .cells import SLOPES, LSTMStep, backward_through_cell, input_projection, lstm_local, previous_states, rnn_local
from .errors import ShapeError, WeightsKeyError, check_fused_weights, check_sequence, check_shape, check_tensor, shape_str
from .lstm_function import lstm_layer_backward, lstm_layer_forward
from .runners import run_layer


def _fused(where: str, weights) -> tuple[Tensor, Tensor]:
    """``weights["weight_ih"], weights["weight_hh"]``, or an error naming what the dict holds."""
    if not isinstance(weights, dict):
        raise TypeError(f"{where}: weights should be a dict with weight_ih, weight_hh (and optionally bias_ih, "
                        f"bias_hh), got {type(weights).__name__}")
    missing = [k for k in ("weight_ih", "weight_hh") if k not in weights]
    if missing:
        raise WeightsKeyError(f"{where}: weights should hold weight_ih and weight_hh, missing {', '.join(missing)} "
                              f"(given: {', '.join(map(str, weights)) or 'nothing'})")
    return weights["weight_ih"], weights["weight_hh"]


# ---------------------------------------------------------------- weight and bias gradients
def weight_grad(dpre: Tensor, inputs: Tensor) -> Tensor:
    """∂L/∂W for ``pre = inputs @ W.T``: dpreᵀ · inputs, summed over every leading axis.

    Works for one unbatched step (1-D), a batch (2-D) or a whole sequence (3-D): for a
    sequence it is the sum over time of each step's weight gradient, in one matmul.
    """
    return dpre.reshape(-1, dpre.shape[-1]).t() @ inputs.reshape(-1, inputs.shape[-1])


def bias_grad(dpre: Tensor) -> Tensor:
    """∂L/∂b for ``pre = ... + b``: dpre summed over every leading axis."""
    return dpre.reshape(-1, dpre.shape[-1]).sum(0)



# ================================================================ RNN
class RNNStepGrads(NamedTuple):
    dpre: Tensor  # ∂L/∂pre = dh · tanh'(pre): the one gradient every other one is made from
    dx: Tensor  # ∂L/∂x_t
    dh_prev: Tensor  # ∂L/∂h_{t-1} through this step (the recurrence)
    weight_ih: Tensor  # ∂L/∂W_ih from this step
    weight_hh: Tensor  # ∂L/∂W_hh from this step
    bias: Tensor  # ∂L/∂b_ih = ∂L/∂b_hh (both are added to pre unchanged)


def rnn_step_backward(dh, x, h_prev, h, weight_ih, weight_hh, nonlinearity: str = "tanh") -> RNNStepGrads:
    """One RNN step, h = tanh(W_ih x + b_ih + W_hh h_prev + b_hh), backwards.

    ``dh`` is the whole gradient arriving at h_t (from the output at t *and* from step t+1);
    ``h`` is the step's output, from which tanh' is read. Shapes: (H,) or (B, H) for dh, h_prev
    and h; (D,) or (B, D) for x.
    """
    where = "rnn_step_backward"
    if nonlinearity not in SLOPES:
        raise ValueError(f"{where}: Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'.")
    check_tensor("dh", dh, where)
    hidden = check_fused_weights(where, 1, weight_ih, weight_hh)
    state_shape = (*dh.shape[:-1], hidden)
    check_shape(where, "dh", dh, state_shape, weight_hh)
    check_shape(where, "h_prev", h_prev, state_shape, weight_hh)
    check_shape(where, "h", h, state_shape, weight_hh)
    check_shape(where, "x", x, (*dh.shape[:-1], weight_ih.shape[1]), weight_hh)
    dpre = dh * rnn_local(h, nonlinearity)  # back through the nonlinearity
    return RNNStepGrads(
        dpre=dpre,
        dx=dpre @ weight_ih,  # pre = x W_ihᵀ + ...: x receives dpre W_ih
        dh_prev=dpre @ weight_hh,
        weight_ih=weight_grad(dpre, x),
        weight_hh=weight_grad(dpre, h_prev),
        bias=bias_grad(dpre),
    )


class RNNGrads(NamedTuple):
    inputs: Tensor  # ∂L/∂x_t for every t, (T, B, D)
    h0: Tensor  # ∂L/∂h_0, (B, H)
    weight_ih: Tensor
    weight_hh: Tensor
    bias_ih: Tensor | None
    bias_hh: Tensor | None
    dh: Tensor  # ∂L/∂h_t for every t, all paths together, (T, B, H)
    dpre: Tensor  # ∂L/∂pre_t for every t, (T, B, H)


@torch.no_grad()  # a backward pass by hand: nothing here is itself differentiated
def rnn_backward(inputs, h0, weights, d_outputs, dh_n=None, nonlinearity: str = "tanh",
                 outputs: Tensor | None = None) -> RNNGrads:
    """Backpropagation through time for one RNN layer over a (T, B, D) sequence.

    ``d_outputs[t]`` is ∂L/∂h_t as the loss sees it directly (zeros where the loss does not
    read h_t), ``dh_n`` the gradient on the final state (or None). ``outputs`` are the forward
    pass's h_1..h_T; computed here when not given.
    """
    where = "rnn_backward"
    if nonlinearity not in SLOPES:
        raise ValueError(f"{where}: Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'.")
    weight_ih, weight_hh = _fused(where, weights)
    hidden = check_fused_weights(where, 1, weight_ih, weight_hh)
    check_sequence(where, "inputs", inputs, weight_ih.shape[1], weight_hh)
    steps, batch = inputs.shape[:2]
    check_shape(where, "h0", h0, (batch, hidden), weight_hh)
    check_shape(where, "d_outputs", d_outputs, (steps, batch, hidden), weight_hh)
    if dh_n is not None:
        check_shape(where, "dh_n", dh_n, (batch, hidden), weight_hh)
    if outputs is None:
        outputs = run_layer("RNN", inputs, h0, weights, nonlinearity=nonlinearity)[0]  # under no_grad
    slope = rnn_local(outputs, nonlinearity)  # every step's tanh', before the loop
    dpre = torch.empty_like(outputs)
    dh_all = torch.empty_like(outputs)
    dh = d_outputs[-1] if dh_n is None else d_outputs[-1] + dh_n
    for t in reversed(range(steps)):
        dh_all[t] = dh
        torch.mul(dh, slope[t], out=dpre[t])
        # what reaches h_{t-1}: through the recurrence, plus what the loss reads there directly
        dh = dpre[t] @ weight_hh if t == 0 else torch.addmm(d_outputs[t - 1], dpre[t], weight_hh)
    h_prev = torch.cat([h0.unsqueeze(0), outputs[:-1]])
    has_bias = weights.get("bias_ih") is not None
    return RNNGrads(
        inputs=dpre @ weight_ih,
        h0=dh,
        weight_ih=weight_grad(dpre, inputs),
        weight_hh=weight_grad(dpre, h_prev),
        bias_ih=bias_grad(dpre) if has_bias else None,
        bias_hh=bias_grad(dpre) if has_bias else None,
        dh=dh_all,
        dpre=dpre,
    )


# ================================================================ LSTM, one step
class LSTMStepGrads(NamedTuple):
    di: Tensor  # ∂L/∂i_t (the input gate's value, after its sigmoid)
    df: Tensor  # ∂L/∂f_t
    dg: Tensor  # ∂L/∂g_t (the candidate, after its tanh)
    do: Tensor  # ∂L/∂o_t
    dc: Tensor  # ∂L/∂c_t, all paths: directly from step t+1 and through h_t = o·tanh(c_t)
    dpre: Tensor  # ∂L/∂pre_t, blocks i, f, g, o
    dx: Tensor  # ∂L/∂x_t
    dh_prev: Tensor  # ∂L/∂h_{t-1} through this step
    dc_prev: Tensor  # ∂L/∂c_{t-1} through this step
    weight_ih: Tensor
    weight_hh: Tensor
    bias: Tensor  # ∂L/∂b_ih = ∂L/∂b_hh


def lstm_step_backward(dh, dc, x, h_prev, c_prev, step: LSTMStep, weight_ih, weight_hh) -> LSTMStepGrads:
    """One LSTM step backwards, gate by gate.

    ``step`` is the forward step's trace (``cells.lstm_cell_trace`` or ``lstm_update``): its
    gates and c_t. ``dh`` is the whole gradient arriving at h_t, ``dc`` the gradient arriving
    at c_t from step t+1 (zeros at the last step). Shapes: (H,) or (B, H) for dh, dc, h_prev,
    c_prev; (D,) or (B, D) for x.
    """
    where = "lstm_step_backward"
    check_tensor("dh", dh, where)
    hidden = check_fused_weights(where, 4, weight_ih, weight_hh)
    if not isinstance(step, LSTMStep):
        raise TypeError(f"{where}: step should be the LSTMStep of the forward pass, got {type(step).__name__}")
    if step.h.shape[-1] != hidden:
        raise ShapeError(f"{where}: step.h has hidden size {step.h.shape[-1]}, but weight_hh is {shape_str(weight_hh)}"
                         " (LSTMs with projections are not supported here)")
    state_shape = (*dh.shape[:-1], hidden)
    for name, t in (("dh", dh), ("dc", dc), ("h_prev", h_prev), ("c_prev", c_prev), ("step.c", step.c)):
        check_shape(where, name, t, state_shape, weight_hh)
    check_shape(where, "x", x, (*dh.shape[:-1], weight_ih.shape[1]), weight_hh)

    local = lstm_local(step.i, step.f, step.g, step.o, step.c, c_prev)
    d_gates, dc, dc_prev = backward_through_cell(dh, dc, local.h_to_c, local.partners, step.f)
    dpre = d_gates * local.slopes  # back through each gate's sigmoid / tanh
    di, df, dg, do = d_gates.chunk(4, dim=-1)
    return LSTMStepGrads(
        di=di, df=df, dg=dg, do=do, dc=dc, dpre=dpre,
        dx=dpre @ weight_ih,
        dh_prev=dpre @ weight_hh,
        dc_prev=dc_prev,
        weight_ih=weight_grad(dpre, x),
        weight_hh=weight_grad(dpre, h_prev),
        bias=bias_grad(dpre),
    )


class LSTMGrads(NamedTuple):
    inputs: Tensor  # (T, B, D)
    h0: Tensor
    c0: Tensor
    weight_ih: Tensor
    weight_hh: Tensor
    bias_ih: Tensor | None
    bias_hh: Tensor | None
    dh: Tensor  # ∂L/∂h_t for every t, all paths together, (T, B, H)
    dc: Tensor  # ∂L/∂c_t for every t, all paths together, (T, B, H)
    dpre: Tensor  # (T, B, 4H)


def lstm_backward(inputs, state, weights, d_outputs, dh_n=None, dc_n=None) -> LSTMGrads:
    """Backpropagation through time for one LSTM layer over a (T, B, D) sequence, from scratch.

    Runs the forward pass (keeping every gate), then ``lstm_layer_backward``, then the
    gradients of everything on the input side, each one matmul over the whole sequence.
    ``state`` is ``(h0, c0)``; ``d_outputs[t]`` is ∂L/∂h_t as the loss reads it directly.
    """
    where = "lstm_backward"
    weight_ih, weight_hh = _fused(where, weights)
    hidden = check_fused_weights(where, 4, weight_ih, weight_hh)
    check_sequence(where, "inputs", inputs, weight_ih.shape[1], weight_hh)
    if not isinstance(state, (tuple, list)) or len(state) != 2:
        raise TypeError(f"{where}: state should be a pair (h0, c0), got {type(state).__name__}")
    h0, c0 = state
    steps, batch = inputs.shape[:2]
    for name, t in (("h0", h0), ("c0", c0)):
        check_shape(where, name, t, (batch, hidden), weight_hh)
    check_shape(where, "d_outputs", d_outputs, (steps, batch, hidden), weight_hh)
    for name, t in (("dh_n", dh_n), ("dc_n", dc_n)):
        if t is not None:
            check_shape(where, name, t, (batch, hidden), weight_hh)
    with torch.no_grad():
        trace = lstm_layer_forward(input_projection("LSTM", inputs, weights), h0, c0, weight_hh)
        dpre, dh0, dc0, dh_all, dc_all = lstm_layer_backward(trace, h0, c0, weight_hh, d_outputs, dh_n, dc_n,
                                                             keep_states=True)
        has_bias = weights.get("bias_ih") is not None
        return LSTMGrads(
            inputs=dpre @ weight_ih,
            h0=dh0,
            c0=dc0,
            weight_ih=weight_grad(dpre, inputs),
            weight_hh=weight_grad(dpre, previous_states(h0, trace.h)),
            bias_ih=bias_grad(dpre) if has_bias else None,
            bias_hh=bias_grad(dpre) if has_bias else None,
            dh=dh_all,
            dc=dc_all,
            dpre=dpre,
        )


# ================================================================ checking gradients
def numerical_gradient(loss_fn: Callable[[], Tensor], tensor: Tensor, eps: float = 1e-6) -> Tensor:
    """Central differences: (L(w + ε) − L(w − ε)) / 2ε for each entry w of ``tensor``.

    ``loss_fn()`` recomputes the scalar loss from the current values of ``tensor``, which is
    changed in place entry by entry and restored. Use float64: in float32 the rounding of L
    swamps the difference for any useful ε.
    """
    check_tensor("tensor", tensor, "numerical_gradient")
    if tensor.dtype != torch.float64:
        raise TypeError(f"numerical_gradient: use a float64 tensor (got {tensor.dtype}); in float32 the rounding "
                        "error of the loss swamps a central difference")
    grad = torch.zeros_like(tensor)
    flat, flat_grad = tensor.detach().view(-1), grad.view(-1)
    with torch.no_grad():
        for k in range(flat.numel()):
            original = flat[k].item()
            flat[k] = original + eps
            above = float(loss_fn())
            flat[k] = original - eps
            below = float(loss_fn())
            flat[k] = original
            flat_grad[k] = (above - below) / (2 * eps)
    return grad


# ================================================================ vanishing and exploding
def spectral_radius(matrix: Tensor) -> float:
    """The largest |eigenvalue| of a square matrix."""
    check_tensor("matrix", matrix, "spectral_radius")
    if matrix.dim() != 2 or matrix.shape[0] != matrix.shape[1]:
        raise ShapeError(f"spectral_radius: expected a square matrix, got shape {shape_str(matrix)}")
    return torch.linalg.eigvals(matrix.detach().cpu()).abs().max().item()


def orthogonal_with_radius(size: int, radius: float, generator: torch.Generator | None = None,
                           dtype: torch.dtype = torch.float64) -> Tensor:
    """radius · Q for a random orthogonal Q: every eigenvalue and singular value has size ``radius``.

    Back through such a W_hh (with tanh' = 1) the gradient's norm changes by exactly
    ``radius`` per step, so the matrix isolates the effect the spectral radius has.
    """
    if not isinstance(size, int) or size <= 0:
        raise ValueError(f"orthogonal_with_radius: size should be a positive int, got {size!r}")
    if not radius > 0:
        raise ValueError(f"orthogonal_with_radius: radius should be positive, got {radius!r}")
    q, r = torch.linalg.qr(torch.randn(size, size, generator=generator, dtype=torch.float64))
    q = q * torch.sign(torch.diagonal(r))  # make the factorisation unique, hence reproducible
    return (radius * q).to(dtype)


def steps_to_vanish(radius: float, factor: float) -> int:
    """The fewest steps back after which ‖∂L/∂h‖ is below ``factor`` times its size at the end, in an RNN whose
    W_hh is ``radius`` times an orthogonal matrix and whose states stay near 0 (tanh' ≈ 1). Measured with
    ``rnn_backward`` on such an RNN, not from the formula (``radius ** steps < factor``, which it confirms)."""
    def randn(seed, *shape):
        return torch.randn(*shape, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
    size, steps = 8, int(math.ceil(math.log(factor) / math.log(radius))) + 5
    weights = {"weight_ih": randn(41, size, 1) * 1e-9,
               "weight_hh": orthogonal_with_radius(size, radius, torch.Generator().manual_seed(42))}
    d_out = torch.zeros(steps, 1, size, dtype=torch.float64)
    d_out[-1] = randn(44, 1, size)
    dh = rnn_backward(randn(43, steps, 1, 1), torch.zeros(1, size, dtype=torch.float64), weights, d_out).dh
    norms = dh.norm(dim=(1, 2))
    ratios = (norms / norms[-1]).flip(0)  # by distance from the end
    return int(torch.nonzero(ratios < factor)[0].item())
