"""One LSTM layer whose backward pass is written by hand: the fast path ``lstm_lab.LSTM`` trains with.

``LSTMLayerFunction`` is a ``torch.autograd.Function``. Its forward runs the layer keeping every
gate (``lstm_layer_forward``: the equations of ``cells.lstm_update``, in a form written for
speed, buffers filled in place, which the runner also uses for inference); its backward is
backpropagation through time by hand (``lstm_layer_backward``), the derivation notebook 09 and
``lstm_lab.bptt`` teach. Speed comes from one observation: every factor of an LSTM step's
backward that multiplies the arriving gradient (the gates, σ' and tanh' of them, tanh'(c_t),
c_{t-1}) comes from the forward pass alone, so all of them are computed for the whole sequence
before the reverse loop (``lstm_local``), which is left with a few elementwise operations and
one matmul per step (``backward_through_cell``).

What a hand-written backward cannot do by itself, it hands to autograd:

* a second derivative (``create_graph=True``, ``gradgradcheck``): the backward then recomputes
  the layer with differentiable operations (the teaching form, ``cells.lstm_update`` step by
  step) and lets autograd differentiate that;
* ``torch.func`` transforms (``vmap``, ``grad``, ``jacrev``) and forward-mode AD:
  ``use_hand_written_backward`` says no, and the runner takes the plain autograd loop.

Imports only ``cells`` and ``errors``: ``runners`` (the loop) and ``bptt`` (the teaching
functions) import this module, never the other way round.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from .cells import lstm_update, sigmoid_slope, tanh_slope, transposed_for_steps
from .errors import check_fused_weights, check_sequence, check_shape


# ================================================================ one step back, all four gates
class LSTMLocal(NamedTuple):
    """The parts of an LSTM step's backward that come from the forward pass alone.

    Elementwise, so the same function serves one step or a whole (T, B, H) sequence.
    """

    h_to_c: Tensor  # ∂h_t/∂c_t = o_t · tanh'(c_t)
    partners: Tensor  # what each gate multiplies, blocks i, f, g, o: g_t, c_{t-1}, i_t, tanh(c_t)
    slopes: Tensor  # each gate's slope at its pre-activation, blocks i, f, g, o: σ', σ', tanh', σ'


def lstm_local(i: Tensor, f: Tensor, g: Tensor, o: Tensor, c: Tensor, c_prev: Tensor) -> LSTMLocal:
    """Read the backward's factors off the forward pass (one step, or every step at once)."""
    tanh_c = torch.tanh(c)
    return LSTMLocal(
        h_to_c=o * tanh_slope(tanh_c),
        # c_t = f·c_{t-1} + i·g  and  h_t = o·tanh(c_t): each gate is multiplied by its partner
        partners=torch.cat([g, c_prev, i, tanh_c], dim=-1),
        slopes=torch.cat([sigmoid_slope(i), sigmoid_slope(f), tanh_slope(g), sigmoid_slope(o)], dim=-1),
    )


def backward_through_cell(dh: Tensor, dc: Tensor, h_to_c: Tensor, gate_factors: Tensor, forget_gate: Tensor,
                          out: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor]:
    """One step back through c_t = f·c_{t-1} + i·g and h_t = o·tanh(c_t), all four gates at once.

    ``dh``: the gradient arriving at h_t; ``dc``: the gradient arriving at c_t from step t+1.
    Gate by gate, the chain rule says::

        dc  = dc + dh · o · tanh'(c_t)      c_t reaches the loss directly and through h_t
        di  = dc · g       df = dc · c_{t-1}       dg = dc · i       do = dh · tanh(c_t)
        dc_prev = dc · f

    i, f and g act on c and o acts on h, so all four are ``[dc, dc, dc, dh] · partners``. With
    ``gate_factors = partners`` this returns the gradients of the gates (di, df, dg, do); with
    ``gate_factors = partners · slopes`` (multiplied in advance: neither depends on the
    gradient) it returns ``dpre`` directly. Returns ``(d_gates, dc, dc_prev)``.
    """
    dc = torch.addcmul(dc, dh, h_to_c)
    arriving = torch.cat([dc, dc, dc, dh], dim=-1)
    d_gates = torch.mul(arriving, gate_factors, out=out)
    return d_gates, dc, dc * forget_gate


# ================================================================ a whole layer
class LSTMTrace(NamedTuple):
    """A layer's forward pass, every step kept, stacked over time: each field is (T, B, H)."""

    i: Tensor
    f: Tensor
    g: Tensor
    o: Tensor
    c: Tensor
    h: Tensor


def lstm_layer_forward(proj: Tensor, h0: Tensor, c0: Tensor, weight_hh: Tensor) -> LSTMTrace:
    """One LSTM layer in one direction, keeping every gate for the backward pass.

    ``proj[t] = W_ih x_t + b_ih + b_hh`` for every t, (T, B, 4H). The equations are
    ``cells.lstm_update``'s, written here for speed rather than for reading; the parity tests
    hold the two to the same numbers. What differs from the teaching form, and why:

    * every result goes into a buffer made once for the whole sequence (no ``torch.stack`` of
      a list at the end, no fresh tensor per operation), which only works because autograd is
      not recording here: the backward is ``lstm_layer_backward``;
    * the recurrent ``addmm`` writes the pre-activations straight into the gate buffer, and the
      activations then run in place on its blocks: one sigmoid over i and f together (adjacent
      blocks), one tanh over g, one sigmoid over o, where the teaching form calls four
      activations on four chunks;
    * c_t = f·c_{t-1} + i·g is one multiply and one fused ``addcmul_``.

    A Python loop pays a fixed cost per call, so eight calls a step instead of a dozen is
    most of the difference at the realistic size (benchmarks/speed.py).
    """
    if torch.is_grad_enabled():  # its callers run it where autograd does not record; anyone else gets that too
        with torch.no_grad():
            return lstm_layer_forward(proj, h0, c0, weight_hh)
    steps, batch, four_hidden = proj.shape
    hidden = four_hidden // 4
    # σ(i), σ(f), tanh(g), σ(o) of every step, seen as (T, B, 4, H) so that one unbind gives the blocks
    gates = torch.empty_like(proj).view(steps, batch, 4, hidden)
    blocks = gates.unbind(2)
    c, h = proj.new_empty(steps, batch, hidden), proj.new_empty(steps, batch, hidden)
    tanh_c = proj.new_empty(batch, hidden)  # scratch, one step's tanh(c_t)
    # one view per block per step, made once: slicing inside the loop would cost a call each time
    i, f, g, o = (block.unbind(0) for block in blocks)
    i_and_f = gates[:, :, :2].unbind(0)
    w_hh = transposed_for_steps(weight_hh)
    h_prev, c_prev = h0, c0
    steps_of = zip(proj.unbind(0), gates.view(steps, batch, four_hidden).unbind(0), c.unbind(0), h.unbind(0))
    for t, (proj_t, gates_t, c_t, h_t) in enumerate(steps_of):
        torch.addmm(proj_t, h_prev, w_hh, out=gates_t)  # pre-activations, in the place of the gates
        i_and_f[t].sigmoid_()
        g[t].tanh_()
        o[t].sigmoid_()
        torch.mul(i[t], g[t], out=c_t)  # c_t = i·g + f·c_{t-1}
        c_t.addcmul_(f[t], c_prev)
        torch.mul(o[t], torch.tanh(c_t, out=tanh_c), out=h_t)  # h_t = o·tanh(c_t)
        h_prev, c_prev = h_t, c_t
    return LSTMTrace(*blocks, c, h)


def previous_states(first: Tensor, sequence: Tensor) -> Tensor:
    """[first, sequence[0], ..., sequence[T-2]]: the value each step started from."""
    return torch.cat([first.unsqueeze(0), sequence[:-1]])


@torch.no_grad()
def lstm_layer_backward(trace: LSTMTrace, h0: Tensor, c0: Tensor, weight_hh: Tensor, d_outputs: Tensor,
                        dh_n: Tensor | None = None, dc_n: Tensor | None = None, keep_states: bool = False):
    """Backpropagation through time for one LSTM layer, given its forward ``trace``.

    Returns ``(dpre (T, B, 4H), dh0, dc0)``, and with ``keep_states=True`` also the gradients
    arriving at every h_t and c_t, ``(dh (T, B, H), dc (T, B, H))``. The weight gradients are
    one matmul each from ``dpre`` (see ``lstm_backward``).
    """
    steps = trace.h.shape[0]
    # Everything that does not depend on the arriving gradient, for all steps at once.
    local = lstm_local(trace.i, trace.f, trace.g, trace.o, trace.c, previous_states(c0, trace.c))
    # partners · slopes, multiplied in place (partners is a fresh buffer): one (T, B, 4H) tensor
    # fewer. The loop then overwrites each step's factors with that step's dpre (same place,
    # elementwise), so dpre needs no buffer of its own either: memory a torch.nn-sized model feels.
    dpre = local.partners.mul_(local.slopes)
    # one view per step, made once: indexing dpre[t] inside the loop would cost a call each time
    dpre_steps, h_to_c, forget, d_out = (x.unbind(0) for x in (dpre, local.h_to_c, trace.f, d_outputs))
    dh = d_out[-1] if dh_n is None else d_out[-1] + dh_n
    dc = torch.zeros_like(c0) if dc_n is None else dc_n
    if keep_states:
        dh_all, dc_all = torch.empty_like(trace.h), torch.empty_like(trace.c)
    for t in reversed(range(steps)):
        # dpre_steps[t] goes in holding the factors and comes out holding dpre_t
        _, dc_t, dc = backward_through_cell(dh, dc, h_to_c[t], dpre_steps[t], forget[t], out=dpre_steps[t])
        if keep_states:
            dh_all[t], dc_all[t] = dh, dc_t
        # the only matmul in the loop: what reaches h_{t-1} through W_hh, plus the loss's own share
        dh = dpre_steps[t] @ weight_hh if t == 0 else torch.addmm(d_out[t - 1], dpre_steps[t], weight_hh)
    if keep_states:
        return dpre, dh, dc, dh_all, dc_all
    return dpre, dh, dc


# ================================================================ the autograd.Function
def use_hand_written_backward() -> bool:
    """Whether a layer run now may use ``LSTMLayerFunction``: gradients are being recorded (without
    them there is nothing to save for) and no ``torch.func`` transform or forward-mode AD is
    active (a hand-written backward has no batching or forward-mode rule)."""
    if not torch.is_grad_enabled():
        return False
    if torch.compiler.is_compiling():  # torch.compile traces the Function itself
        return True
    return not transforms_active()


def transforms_active() -> bool:
    """A ``torch.func`` transform or forward-mode AD is running: only plain tensor operations will do."""
    return _functorch_active() or torch.autograd.forward_ad._current_level >= 0


# torch's own test for "inside vmap/grad/jacrev"; a torch without it has no functorch transforms to detect
_functorch_active = getattr(torch._C, "_are_functorch_transforms_active", lambda: False)


class LSTMLayerFunction(torch.autograd.Function):
    """One LSTM layer in one direction whose backward is ``lstm_layer_backward`` (BPTT by hand).

    ``forward(ctx, proj, h0, c0, weight_hh, remake_proj=None) -> (outputs (T, B, H), h_n (B, H), c_n (B, H))``
    where ``proj = W_ih x_t + b_ih + b_hh`` for all t, (T, B, 4H), is computed outside, so
    autograd differentiates it (and W_ih, the biases and the inputs) as usual. No masks and no
    projections: the runner keeps the autograd path for those.

    The hand-written backward never reads ``proj``; only a double backward does, to recompute
    the layer. Keeping it would make ``proj`` (4H wide, the largest tensor of the layer) live
    until the backward, for a case training never meets: the runner passes ``remake_proj``
    instead, a function that recomputes it (differentiably, from the inputs and weights that
    autograd keeps anyway), and ``proj`` is freed after the forward (benchmarks/speed.py, memory row).
    """

    @staticmethod
    def forward(ctx, proj, h0, c0, weight_hh, remake_proj=None):
        trace = lstm_layer_forward(proj, h0, c0, weight_hh)
        ctx.remake_proj = remake_proj
        kept_proj = proj if remake_proj is None else proj.new_empty(0)  # a placeholder, no memory
        ctx.save_for_backward(kept_proj, h0, c0, weight_hh, *trace)
        return trace.h, trace.h[-1].clone(), trace.c[-1].clone()

    @staticmethod
    def backward(ctx, d_outputs, dh_n, dc_n):
        proj, h0, c0, weight_hh, *saved = ctx.saved_tensors
        if torch.is_grad_enabled():
            # create_graph=True: the gradient must itself be differentiable. The hand-written
            # arithmetic is not, so recompute the layer with autograd and differentiate that.
            if ctx.remake_proj is not None:
                # the same values as proj, its graph back to the inputs and weights: what a
                # second derivative differentiates through
                proj = ctx.remake_proj()
            return _differentiable_backward(ctx.needs_input_grad[:4], (proj, h0, c0, weight_hh),
                                            (d_outputs, dh_n, dc_n)) + (None,)
        trace = LSTMTrace(*saved)
        dpre, dh0, dc0 = lstm_layer_backward(trace, h0, c0, weight_hh, d_outputs, dh_n, dc_n)
        d_weight_hh = None
        if ctx.needs_input_grad[3]:
            # sum over t of dpre_tᵀ h_{t-1}, in one matmul (and one addmm for h_0)
            hidden = weight_hh.shape[1]
            d_weight_hh = torch.addmm(dpre[0].t() @ h0, dpre[1:].reshape(-1, 4 * hidden).t(),
                                      trace.h[:-1].reshape(-1, hidden))
        return dpre, dh0, dc0, d_weight_hh, None


def _differentiable_backward(needs_grad, inputs, grad_outputs):
    """The layer's vector-Jacobian product built by autograd, so that it can be differentiated again."""
    wanted = [t for t, needed in zip(inputs, needs_grad) if needed]
    proj, h0, c0, weight_hh = inputs
    with torch.enable_grad():
        # the teaching form of the loop (lstm_layer_forward writes into buffers, which autograd cannot record)
        w_hh, h, c, hs = transposed_for_steps(weight_hh), h0, c0, []
        for proj_t in proj.unbind(0):
            step = lstm_update(torch.addmm(proj_t, h, w_hh), c)
            h, c = step.h, step.c
            hs.append(h)
        grads = iter(torch.autograd.grad((torch.stack(hs), h, c), wanted, grad_outputs,
                                         create_graph=True, allow_unused=True))
    return tuple(next(grads) if needed else None for needed in needs_grad)


def lstm_layer(proj: Tensor, h0: Tensor, c0: Tensor, weight_hh: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """``LSTMLayerFunction.apply`` after checking its arguments: (outputs, h_n, c_n)."""
    where = "lstm_layer"
    hidden = check_fused_weights(where, 4, None, weight_hh)
    check_sequence(where, "proj", proj, 4 * hidden, weight_hh)
    batch = proj.shape[1]
    check_shape(where, "h0", h0, (batch, hidden), weight_hh)
    check_shape(where, "c0", c0, (batch, hidden), weight_hh)
    return LSTMLayerFunction.apply(proj, h0, c0, weight_hh)
