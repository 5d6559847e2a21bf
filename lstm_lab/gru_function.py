"""One GRU layer, fast: its forward in place in buffers, its backward by hand, as ``lstm_function`` for the LSTM.

Held equal to the teaching form (``cells.gru_update``, ``cells.gru_local``, ``cells.gru_backward_through_cell``)
by tests/test_parity.py::test_fast_layer_is_held_to_the_teaching_form, and to torch.nn by the parity grid.

``layer_forward`` picks the path of one GRU layer, as the LSTM's does: ``GRULayerFunction`` while
gradients are recorded, its buffered loop alone for inference, or the teaching form step by step
under autograd (``gru_steps``). The backward is backpropagation through time by hand: every factor
of a step's backward that multiplies the arriving gradient comes from the forward pass alone
(``cells.gru_local``), so all of them are computed for the whole sequence before the reverse loop,
which is left with a few elementwise operations and one matmul per step (the arithmetic of
``cells.gru_backward_through_cell``, into buffers); the weight gradients are one matmul each after
it. Why it pays: under autograd each of a GRU step's dozen operations records a node, and the
backward visits them one by one; here the loop does seven calls a step. A second derivative
recomputes the layer in the teaching form and lets autograd differentiate that.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .cells import GRUStep, gru_local, gru_update, input_projection, previous_states, transposed_for_steps
from .loop import autocast_enabled, inference_buffers, step_loop, use_hand_written_backward, zero_state


def layer_forward(inputs: Tensor, state, weights: dict, reverse: bool = False, mask: Tensor | None = None,
                  hand_written_backward: bool = True):
    """One GRU layer in one direction over (T, B, D) ``inputs``: ``(outputs (T, B, H), h_n)``.

    Arguments as for ``lstm_function.layer_forward``; every path runs ``reverse=True`` last step first.
    """
    # the update reads h_{t-1} itself, so every path starts from real zeros
    h0 = zero_state("GRU", inputs, weights) if state is None else state
    proj = input_projection("GRU", inputs, weights)
    weight_hh, bias_hh = weights["weight_hh"], weights.get("bias_hh")
    fast = mask is None and not autocast_enabled(inputs.device.type)
    if fast and hand_written_backward and use_hand_written_backward():
        # proj need not be kept for a second derivative: the Function can remake it (see there)
        remake_proj = lambda: input_projection("GRU", inputs, weights)  # noqa: E731
        return GRULayerFunction.apply(proj, h0, weight_hh, bias_hh, remake_proj, reverse)
    if fast and inference_buffers(inputs, state, weights):
        outputs = gru_layer_forward(proj, h0, weight_hh, bias_hh, reverse).h
        return outputs, outputs[0 if reverse else -1].clone()
    return gru_steps(proj, h0, weight_hh, bias_hh, mask, reverse)


def gru_steps(proj: Tensor, h0: Tensor, weight_hh: Tensor, bias_hh: Tensor | None, mask: Tensor | None = None,
              reverse: bool = False):
    """The teaching form of the layer: ``cells.gru_update`` step by step under autograd (``loop.step_loop``).

    ``proj[t] = W_ih x_t + b_ih`` for every t, (T, B, 3H).
    """
    w_hh = transposed_for_steps(weight_hh, proj.shape[0])

    def step(proj_t, h):
        return gru_update(proj_t, h @ w_hh if bias_hh is None else torch.addmm(bias_hh, h, w_hh), h).h

    return step_loop(proj, h0, step, mask, reverse)


def gru_layer_forward(proj: Tensor, h0: Tensor, weight_hh: Tensor, bias_hh: Tensor | None,
                      reverse: bool = False) -> GRUStep:
    """One GRU layer in one direction, keeping every gate for the backward pass: its trace (T, B, H each).

    The equations of ``cells.gru_update``, the same operations in the same order (so the same
    numbers), written for speed as ``lstm_function.run_steps`` is: every result goes
    into a buffer made once for the whole sequence, in place, which only works where autograd
    does not record (the Function's forward, inference). Seven calls a step.
    """
    if torch.is_grad_enabled():  # its callers run it where autograd does not record; anyone else gets that too
        with torch.no_grad():
            return gru_layer_forward(proj, h0, weight_hh, bias_hh, reverse)
    steps, batch, three_hidden = proj.shape
    hidden = three_hidden // 3
    rz = proj.new_empty(steps, batch, 2 * hidden)  # σ(r), σ(z) of every step
    # W_hh h_{t-1} + b_hh of every step: its n block is what the backward needs (kept whole,
    # so the r and z blocks stay alive with it; copying it out would cost the same at the peak)
    pre_hh = proj.new_empty(steps, batch, three_hidden)
    n, h = proj.new_empty(steps, batch, hidden), proj.new_empty(steps, batch, hidden)
    # one view per block per step, made once: slicing inside the loop would cost a call each time
    x_rz, x_n = (block.unbind(0) for block in proj.split([2 * hidden, hidden], dim=-1))
    hh_rz, hn = pre_hh.split([2 * hidden, hidden], dim=-1)
    r, z = rz[..., :hidden], rz[..., hidden:]
    rz_t, pre_hh_t, n_t, h_t, hh_rz_t, hn_t, r_t, z_t = (x.unbind(0) for x in (rz, pre_hh, n, h, hh_rz, hn, r, z))
    w_hh, h_prev = transposed_for_steps(weight_hh, steps), h0
    for t in range(steps - 1, -1, -1) if reverse else range(steps):
        if bias_hh is None:
            torch.mm(h_prev, w_hh, out=pre_hh_t[t])
        else:
            torch.addmm(bias_hh, h_prev, w_hh, out=pre_hh_t[t])
        torch.add(x_rz[t], hh_rz_t[t], out=rz_t[t]).sigmoid_()  # r and z, one sigmoid
        torch.addcmul(x_n[t], r_t[t], hn_t[t], out=n_t[t]).tanh_()  # n = tanh(x_n + r·hn)
        torch.addcmul(n_t[t], z_t[t], h_prev - n_t[t], out=h_t[t])  # h = n + z·(h_{t-1} − n)
        h_prev = h_t[t]
    return GRUStep(r, z, n, h, None, pre_hh)


@torch.no_grad()
def gru_layer_backward(trace: GRUStep, h0: Tensor, weight_hh: Tensor, d_outputs: Tensor, dh_n: Tensor | None,
                       reverse: bool = False):
    """Backpropagation through time for one GRU layer: returns ``(d_ih, d_hh, dh0)``.

    ``d_ih`` (T, B, 3H) is the gradient of ``W_ih x_t + b_ih``, ``d_hh`` (T, B, 3H) that of
    ``W_hh h_{t-1} + b_hh``: the same for r and z, and for n scaled by the reset gate.
    ``reverse``: the layer ran from the last step to the first, so the gradient flows from step 1 to T.
    """
    steps, _, hidden = trace.h.shape
    # Everything that does not depend on the arriving gradient, for all steps at once.
    local = gru_local(trace.r, trace.z, trace.n, trace.pre_hh[..., 2 * hidden:], previous_states(h0, trace.h, reverse))
    d_ih, d_hh = (trace.h.new_empty(*trace.h.shape[:-1], 3 * hidden) for _ in range(2))
    # one view per block per step, made once: slicing inside the loop would cost a call each time
    ih_r, ih_z, ih_n = (d_ih[..., k * hidden:(k + 1) * hidden].unbind(0) for k in range(3))
    hh_rz, ih_rz = d_hh[..., :2 * hidden].unbind(0), d_ih[..., :2 * hidden].unbind(0)
    hh_n = d_hh[..., 2 * hidden:].unbind(0)
    to_n, to_z, to_r, r, z = (x.unbind(0) for x in (*local, trace.r, trace.z))
    d_hh_steps, d_out = d_hh.unbind(0), d_outputs.unbind(0)
    # back through the recurrence: from the step it ended at to the one it started at
    order, move = (range(steps), 1) if reverse else (range(steps - 1, -1, -1), -1)
    first = order[-1]
    dh = d_out[order[0]] if dh_n is None else d_out[order[0]] + dh_n
    for t in order:  # cells.gru_backward_through_cell, into the buffers
        dn = torch.mul(dh, to_n[t], out=ih_n[t])
        torch.mul(dh, to_z[t], out=ih_z[t])
        torch.mul(dn, to_r[t], out=ih_r[t])
        hh_rz[t].copy_(ih_rz[t])  # r and z: W_hh h and W_ih x enter their sums alike
        torch.mul(dn, r[t], out=hh_n[t])  # n: W_hn h + b_hn went through the reset gate
        # the only matmul in the loop: what reaches the state step t read through W_hh, plus through z directly
        direct = dh * z[t] if t == first else torch.addcmul(d_out[t + move], dh, z[t])
        dh = torch.addmm(direct, d_hh_steps[t], weight_hh)
    return d_ih, d_hh, dh


class GRULayerFunction(torch.autograd.Function):
    """One GRU layer in one direction whose backward is ``gru_layer_backward``.

    ``forward(ctx, proj, h0, weight_hh, bias_hh, remake_proj=None, reverse=False) -> (outputs (T, B, H), h_n (B, H))``
    where ``proj = W_ih x_t + b_ih`` for all t is computed outside (autograd differentiates it).
    ``bias_hh`` may be None (``bias=False``). No masks: ``layer_forward`` takes the teaching form for those.
    ``remake_proj``: a way to recompute proj (differentiably, from the inputs and weights that
    autograd keeps anyway) for a double backward, so that the forward need not keep proj, the
    layer's largest tensor, until the backward. (The LSTM's Function goes further and computes
    its input half itself; see ``lstm_function.LSTMLayerFunction``.) ``reverse=True`` runs the layer
    from the last step to the first on the sequence as it is.
    """

    @staticmethod
    def forward(ctx, proj, h0, weight_hh, bias_hh, remake_proj=None, reverse=False):
        trace = gru_layer_forward(proj, h0, weight_hh, bias_hh, reverse)
        ctx.remake_proj, ctx.reverse = remake_proj, reverse
        kept_proj = proj if remake_proj is None else proj.new_empty(0)  # a placeholder, no memory
        ctx.save_for_backward(kept_proj, h0, weight_hh, bias_hh, *trace)
        return trace.h, trace.h[0 if reverse else -1].clone()

    @staticmethod
    def backward(ctx, d_outputs, dh_n):
        proj, h0, weight_hh, bias_hh, *saved = ctx.saved_tensors
        if torch.is_grad_enabled():  # create_graph=True: let autograd differentiate a recomputation
            if ctx.remake_proj is not None:
                proj = ctx.remake_proj()  # the same values, its graph back to the inputs and weights
            return _differentiable_backward(ctx.needs_input_grad[:4], (proj, h0, weight_hh, bias_hh),
                                            (d_outputs, dh_n), ctx.reverse) + (None, None)
        trace = GRUStep(*saved)
        d_ih, d_hh, dh0 = gru_layer_backward(trace, h0, weight_hh, d_outputs, dh_n, ctx.reverse)
        d_weight_hh = d_bias_hh = None
        flat = d_hh.reshape(-1, d_hh.shape[-1])
        if ctx.needs_input_grad[2]:  # sum over t of d_hh_tᵀ h_{t-1}, in one matmul
            d_weight_hh = flat.t() @ previous_states(h0, trace.h, ctx.reverse).reshape(-1, h0.shape[-1])
        if bias_hh is not None and ctx.needs_input_grad[3]:
            d_bias_hh = flat.sum(0)
        return d_ih, dh0, d_weight_hh, d_bias_hh, None, None


def _differentiable_backward(needs_grad, inputs, grad_outputs, reverse):
    """The layer's vector-Jacobian product built by autograd, so that it can be differentiated again."""
    wanted = [t for t, needed in zip(inputs, needs_grad) if needed]
    with torch.enable_grad():
        outputs, h_n = gru_steps(*inputs, reverse=reverse)
        grads = iter(torch.autograd.grad((outputs, h_n), wanted, grad_outputs, create_graph=True, allow_unused=True))
    return tuple(next(grads) if needed else None for needed in needs_grad)
