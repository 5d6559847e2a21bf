"""One GRU layer whose backward pass is written by hand, as ``lstm_function`` does for the LSTM.

The forward keeps every gate: the equations of ``cells.gru_update`` in a buffered form written
for speed (``gru_layer_forward``), which the runner also uses for inference. The backward is backpropagation through time by hand. Per step, with the arriving
gradient ``dh`` and the equations of ``gru_update``::

    h_t = n + z·(h_{t-1} − n)          n = tanh(x_n + r·hn)       hn = W_hn h_{t-1} + b_hn
    r = σ(x_r + W_hr h_{t-1} + b_hr)   z = σ(x_z + W_hz h_{t-1} + b_hz)

    dn_pre = dh · (1 − z)·tanh'(n)     the candidate's pre-activation
    dz_pre = dh · (h_{t-1} − n)·σ'(z)
    dr_pre = dn_pre · hn·σ'(r)
    dh_{t-1} = dh · z + [dr_pre, dz_pre, dn_pre · r] @ W_hh

Every factor right of ``dh`` and ``dn_pre`` comes from the forward pass alone, so they are
computed for the whole sequence before the reverse loop, which is left with a few
elementwise operations and one matmul per step; the weight gradients are one matmul each after
it. Why it pays: under autograd each of a GRU step's dozen operations records a node, and
the backward visits them one by one; here the loop does seven calls a step.

What it cannot do it hands to autograd, as the LSTM's does: a second derivative recomputes
the layer with autograd; ``torch.func`` transforms take the plain autograd loop (the runner
asks ``lstm_function.use_hand_written_backward``).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from .cells import gru_update, sigmoid_slope, tanh_slope, transposed_for_steps
from .lstm_function import previous_states


class GRUTrace(NamedTuple):
    """A GRU layer's forward pass, every step kept, stacked over time: each field is (T, B, H)."""

    r: Tensor
    z: Tensor
    n: Tensor
    hn: Tensor  # W_hn h_{t-1} + b_hn: what the reset gate multiplied
    h: Tensor


def gru_steps(proj: Tensor, h0: Tensor, weight_hh: Tensor, bias_hh: Tensor | None):
    """The GRU step loop over ``cells.gru_update``; yields every step's ``GRUStep``.

    ``proj[t] = W_ih x_t + b_ih`` for every t, (T, B, 3H). Differentiable where autograd records.
    """
    w_hh, h = transposed_for_steps(weight_hh, proj.shape[0]), h0
    for proj_t in proj.unbind(0):
        proj_h = h @ w_hh if bias_hh is None else torch.addmm(bias_hh, h, w_hh)
        step = gru_update(proj_t, proj_h, h)
        h = step.h
        yield step


def gru_layer_forward(proj: Tensor, h0: Tensor, weight_hh: Tensor, bias_hh: Tensor | None) -> GRUTrace:
    """One GRU layer in one direction, keeping every gate for the backward pass.

    The equations of ``cells.gru_update``, the same operations in the same order (so the same
    numbers), written for speed as ``lstm_function.run_steps`` is: every result goes
    into a buffer made once for the whole sequence, in place, which only works where autograd
    does not record (the Function's forward, inference). Seven calls a step.
    """
    if torch.is_grad_enabled():  # its callers run it where autograd does not record; anyone else gets that too
        with torch.no_grad():
            return gru_layer_forward(proj, h0, weight_hh, bias_hh)
    steps, batch, three_hidden = proj.shape
    hidden = three_hidden // 3
    rz = proj.new_empty(steps, batch, 2 * hidden)  # σ(r), σ(z) of every step
    # W_hh h_{t-1} + b_hh of every step: its n block is what the backward needs (kept as a view,
    # so the r and z blocks stay alive with it; copying it out would cost the same at the peak)
    pre_hh = proj.new_empty(steps, batch, three_hidden)
    n, h = proj.new_empty(steps, batch, hidden), proj.new_empty(steps, batch, hidden)
    # one view per block per step, made once: slicing inside the loop would cost a call each time
    x_rz, x_n = (block.unbind(0) for block in proj.split([2 * hidden, hidden], dim=-1))
    hh_rz, hn = pre_hh.split([2 * hidden, hidden], dim=-1)
    r, z = rz[..., :hidden], rz[..., hidden:]
    hh_rz_t, hn_t, r_t, z_t = (x.unbind(0) for x in (hh_rz, hn, r, z))
    w_hh, h_prev = transposed_for_steps(weight_hh, steps), h0
    for t, (rz_now, pre_hh_now, n_now, h_now) in enumerate(zip(rz.unbind(0), pre_hh.unbind(0), n.unbind(0),
                                                                 h.unbind(0))):
        if bias_hh is None:
            torch.mm(h_prev, w_hh, out=pre_hh_now)
        else:
            torch.addmm(bias_hh, h_prev, w_hh, out=pre_hh_now)
        torch.add(x_rz[t], hh_rz_t[t], out=rz_now).sigmoid_()  # r and z, one sigmoid
        torch.addcmul(x_n[t], r_t[t], hn_t[t], out=n_now).tanh_()  # n = tanh(x_n + r·hn)
        torch.addcmul(n_now, z_t[t], h_prev - n_now, out=h_now)  # h = n + z·(h_{t-1} − n)
        h_prev = h_now
    return GRUTrace(r, z, n, hn, h)


@torch.no_grad()
def gru_layer_backward(trace: GRUTrace, h0: Tensor, weight_hh: Tensor, d_outputs: Tensor, dh_n: Tensor | None):
    """Backpropagation through time for one GRU layer: returns ``(d_ih, d_hh, dh0)``.

    ``d_ih`` (T, B, 3H) is the gradient of ``W_ih x_t + b_ih``, ``d_hh`` (T, B, 3H) that of
    ``W_hh h_{t-1} + b_hh``: the same for r and z, and for n scaled by the reset gate.
    """
    steps, _, hidden = trace.h.shape
    # Everything that does not depend on the arriving gradient, for all steps at once.
    to_n = (1 - trace.z) * tanh_slope(trace.n)
    to_z = (previous_states(h0, trace.h) - trace.n) * sigmoid_slope(trace.z)
    to_r = trace.hn * sigmoid_slope(trace.r)
    d_ih, d_hh = trace.h.new_empty(steps, *trace.h.shape[1:-1], 3 * hidden), trace.h.new_empty(
        steps, *trace.h.shape[1:-1], 3 * hidden)
    # one view per block per step, made once: slicing inside the loop would cost a call each time
    ih_r, ih_z, ih_n = (d_ih[..., k * hidden:(k + 1) * hidden].unbind(0) for k in range(3))
    hh_rz, ih_rz = d_hh[..., :2 * hidden].unbind(0), d_ih[..., :2 * hidden].unbind(0)
    hh_n = d_hh[..., 2 * hidden:].unbind(0)
    to_n, to_z, to_r, r, z = (x.unbind(0) for x in (to_n, to_z, to_r, trace.r, trace.z))
    d_hh_steps, d_out = d_hh.unbind(0), d_outputs.unbind(0)
    dh = d_out[-1] if dh_n is None else d_out[-1] + dh_n
    for t in reversed(range(steps)):
        dn = torch.mul(dh, to_n[t], out=ih_n[t])
        torch.mul(dh, to_z[t], out=ih_z[t])
        torch.mul(dn, to_r[t], out=ih_r[t])
        hh_rz[t].copy_(ih_rz[t])  # r and z: W_hh h and W_ih x enter their sums alike
        torch.mul(dn, r[t], out=hh_n[t])  # n: W_hn h + b_hn went through the reset gate
        # the only matmul in the loop: what reaches h_{t-1} through W_hh, plus through z directly
        direct = dh * z[t] if t == 0 else torch.addcmul(d_out[t - 1], dh, z[t])
        dh = torch.addmm(direct, d_hh_steps[t], weight_hh)
    return d_ih, d_hh, dh


class GRULayerFunction(torch.autograd.Function):
    """One GRU layer in one direction whose backward is ``gru_layer_backward``.

    ``forward(ctx, proj, h0, weight_hh, bias_hh, remake_proj=None) -> (outputs (T, B, H), h_n (B, H))``
    where ``proj = W_ih x_t + b_ih`` for all t is computed outside (autograd differentiates it).
    ``bias_hh`` may be None (``bias=False``). No masks: the runner keeps autograd for those.
    ``remake_proj``: a way to recompute proj (differentiably, from the inputs and weights that
    autograd keeps anyway) for a double backward, so that the forward need not keep proj, the
    layer's largest tensor, until the backward. (The LSTM's Function goes further and computes
    its input half itself; see ``lstm_function.LSTMLayerFunction``.)
    """

    @staticmethod
    def forward(ctx, proj, h0, weight_hh, bias_hh, remake_proj=None):
        trace = gru_layer_forward(proj, h0, weight_hh, bias_hh)
        ctx.remake_proj = remake_proj
        kept_proj = proj if remake_proj is None else proj.new_empty(0)  # a placeholder, no memory
        ctx.save_for_backward(kept_proj, h0, weight_hh, bias_hh, *trace)
        return trace.h, trace.h[-1].clone()

    @staticmethod
    def backward(ctx, d_outputs, dh_n):
        proj, h0, weight_hh, bias_hh, *saved = ctx.saved_tensors
        if torch.is_grad_enabled():  # create_graph=True: let autograd differentiate a recomputation
            if ctx.remake_proj is not None:
                proj = ctx.remake_proj()  # the same values, its graph back to the inputs and weights
            return _differentiable_backward(ctx.needs_input_grad[:4], (proj, h0, weight_hh, bias_hh),
                                            (d_outputs, dh_n)) + (None,)
        trace = GRUTrace(*saved)
        d_ih, d_hh, dh0 = gru_layer_backward(trace, h0, weight_hh, d_outputs, dh_n)
        d_weight_hh = d_bias_hh = None
        flat = d_hh.reshape(-1, d_hh.shape[-1])
        if ctx.needs_input_grad[2]:  # sum over t of d_hh_tᵀ h_{t-1}, in one matmul
            d_weight_hh = flat.t() @ previous_states(h0, trace.h).reshape(-1, h0.shape[-1])
        if bias_hh is not None and ctx.needs_input_grad[3]:
            d_bias_hh = flat.sum(0)
        return d_ih, dh0, d_weight_hh, d_bias_hh, None


def _differentiable_backward(needs_grad, inputs, grad_outputs):
    """The layer's vector-Jacobian product built by autograd, so that it can be differentiated again."""
    wanted = [t for t, needed in zip(inputs, needs_grad) if needed]
    with torch.enable_grad():
        hs = [step.h for step in gru_steps(*inputs)]
        grads = iter(torch.autograd.grad((torch.stack(hs), hs[-1]), wanted, grad_outputs,
                                         create_graph=True, allow_unused=True))
    return tuple(next(grads) if needed else None for needed in needs_grad)
