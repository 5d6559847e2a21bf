"""One LSTM layer, fast: its forward in place in buffers, its backward by hand; the path ``lstm_lab.LSTM`` takes.

Held equal to the teaching form (``cells.lstm_update``, ``cells.lstm_local``) by
tests/test_parity.py::test_fast_layer_is_held_to_the_teaching_form, and to torch.nn by the parity grid.

``layer_forward`` picks the path of one LSTM layer: ``LSTMLayerFunction`` while gradients are
recorded, its buffered loop alone for inference (``infer_steps``), or the teaching form step by step
under autograd (``lstm_steps``) for what neither covers. ``LSTMLayerFunction``'s forward keeps every
gate (``run_steps``: the equations of ``cells.lstm_update`` written for speed); its backward is
backpropagation through time by hand (``lstm_layer_backward``), the derivation notebook 09 and
``lstm_lab.bptt`` teach. Speed comes from one observation: every factor of an LSTM step's backward
that multiplies the arriving gradient (the gates, σ' and tanh' of them, tanh'(c_t), c_{t-1}) comes from
the forward pass alone, so all of them are computed for the whole sequence before the reverse loop
(``gate_factors``, the fast form of ``cells.lstm_local``), which is left with a few elementwise
operations and one matmul per step (``cells.backward_through_cell``).

What a hand-written backward cannot do by itself, it hands to autograd: a second derivative
(``create_graph=True``) recomputes the layer in the teaching form and lets autograd differentiate
that; under ``torch.func`` transforms and forward-mode AD ``layer_forward`` takes the teaching form.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .cells import (LSTMStep, backward_through_cell, input_projection, lstm_update, projection_bias,
                    transposed_for_steps)
from .errors import check_fused_weights, check_sequence, check_shape
from .loop import autocast_enabled, inference_buffers, step_loop, use_hand_written_backward, zero_state


# ================================================================ the path of one layer
def layer_forward(inputs: Tensor, state, weights: dict, reverse: bool = False, mask: Tensor | None = None,
                  hand_written_backward: bool = True):
    """One LSTM layer in one direction over (T, B, D) ``inputs``: ``(outputs (T, B, H_out), (h_n, c_n))``.

    ``state`` is ``(h0, c0)`` or None for zeros; ``weights`` a dict as ``runners.run_layer`` takes it;
    ``mask`` (T, B, 1) False past each sequence's end. The fastest path open now: the Function while
    gradients are recorded (unless ``hand_written_backward=False``), its loop alone for inference, else
    the teaching form. Every path runs ``reverse=True`` last step first, on the sequence as it is.
    """
    # the fast loops hold one dtype throughout and no masks or projections; autocast's mixed dtypes
    # are for the step loop (the modules run the LSTM with autocast off, in the low dtype throughout)
    fast = mask is None and weights.get("weight_hr") is None and not autocast_enabled(inputs.device.type)
    if fast and hand_written_backward and use_hand_written_backward():
        h0, c0 = zero_state("LSTM", inputs, weights) if state is None else state
        # the Function makes the input half of the gates itself, into the buffer its steps fill (see there)
        outputs, h, c = LSTMLayerFunction.apply(inputs, h0, c0, weights["weight_hh"], weights["weight_ih"],
                                                projection_bias("LSTM", weights), reverse)
        return outputs, (h, c)
    if fast and inference_buffers(inputs, state, weights):
        h0, c0 = zero_state("LSTM", inputs, weights) if state is None else state
        outputs, c = infer_steps(input_projection("LSTM", inputs, weights), h0, c0, weights["weight_hh"], reverse)
        return outputs, (outputs[0 if reverse else -1].clone(), c)  # h_n in memory of its own, as torch's
    return lstm_steps(input_projection("LSTM", inputs, weights), state, weights["weight_hh"],
                      weights.get("weight_hr"), mask, reverse)


def lstm_steps(proj: Tensor, state, weight_hh: Tensor, weight_hr: Tensor | None = None, mask: Tensor | None = None,
               reverse: bool = False):
    """The teaching form of the layer: ``cells.lstm_update`` step by step under autograd (``loop.step_loop``)."""
    w_hh = transposed_for_steps(weight_hh, proj.shape[0])

    def step(proj_t, state):  # None: h_0 = c_0 = 0, whose W_hh h_0 and f·c_0 the first step skips
        h, c = (None, None) if state is None else state
        new = lstm_update(proj_t if h is None else torch.addmm(proj_t, h, w_hh), c, weight_hr)
        return new.h, new.c

    return step_loop(proj, state, step, mask, reverse)


# ================================================================ the forward of a whole layer
def lstm_layer_forward(proj: Tensor, h0: Tensor, c0: Tensor, weight_hh: Tensor) -> LSTMStep:
    """One LSTM layer in one direction, keeping every gate for the backward pass.

    ``proj[t] = W_ih x_t + b_ih + b_hh`` for every t, (T, B, 4H); it is left as it was (the
    steps run on a copy). Returns the trace: σ(i), σ(f), tanh(g), σ(o), c and h of every step.
    """
    if torch.is_grad_enabled():  # its callers run it where autograd does not record; anyone else gets that too
        with torch.no_grad():
            return lstm_layer_forward(proj, h0, c0, weight_hh)
    return trace_steps(proj.clone(), h0, c0, weight_hh)


def trace_steps(gates: Tensor, h0: Tensor, c0: Tensor, weight_hh: Tensor, reverse: bool = False) -> LSTMStep:
    """``run_steps`` into buffers for the whole sequence: ``gates`` (T, B, 4H, holding the input
    half of every step, overwritten) becomes the trace's gates, beside fresh c and h."""
    steps, batch, four_hidden = gates.shape
    c, h = gates.new_empty(steps, batch, four_hidden // 4), gates.new_empty(steps, batch, four_hidden // 4)
    run_steps(gates, h0, c0, weight_hh, c.unbind(0), h.unbind(0), reverse)
    return LSTMStep(*gates.view(steps, batch, 4, four_hidden // 4).unbind(2), c, h)


def infer_steps(proj: Tensor, h0: Tensor, c0: Tensor, weight_hh: Tensor, reverse: bool = False) -> tuple[Tensor, Tensor]:
    """The layer when nothing is differentiated (inference): ``(outputs (T, B, H), c_n)``.

    ``proj`` is the caller's own temporary and is overwritten. Nothing is kept for a backward
    pass, so c_t needs no buffer per step: two, used in turn (c_t is computed from c_{t-1}, or from
    c_{t+1} in reverse: neighbours in time never share a buffer).
    """
    steps, batch, four_hidden = proj.shape
    h = proj.new_empty(steps, batch, four_hidden // 4)
    c_steps = proj.new_empty(2, batch, four_hidden // 4).unbind(0) * ((steps + 1) // 2)
    run_steps(proj, h0, c0, weight_hh, c_steps, h.unbind(0), reverse)
    return h, c_steps[0 if reverse else steps - 1]


def run_steps(gates: Tensor, h0: Tensor, c0: Tensor, weight_hh: Tensor, c_steps, h_steps, reverse: bool = False) -> None:
    """The step loop, written for speed: the equations of ``cells.lstm_update``, in place.

    ``gates`` (T, B, 4H) comes in holding ``W_ih x_t + b_ih + b_hh`` of every step and leaves
    holding σ(i), σ(f), tanh(g), σ(o); c_t and h_t are written into ``c_steps[t]`` and
    ``h_steps[t]``. The parity tests hold it to the teaching form and to torch.nn. What differs
    from the teaching form, and why (a Python loop pays a fixed cost per call, and at training
    sizes a dozen calls a step instead of eight is most of the difference, benchmarks/speed.py):

    * nothing is allocated inside the loop: the recurrent ``addmm_`` adds W_hh h_{t-1} to the
      input half already in place, and every other result goes into a given buffer;
    * one sigmoid for all four blocks, where the teaching form calls four activations on four
      chunks: tanh(a) = 2σ(2a) − 1, so once g's pre-activation is doubled (its input half for
      all steps in one call, its columns of W_hhᵀ once) the sigmoid serves g too, and
      ``mul_(2).sub_(1)`` turns σ(2a) into tanh(a). Doubling is exact in floating point; the
      result differs from ``torch.tanh`` by rounding only (a few units in the last place);
    * c_t = i·g + f·c_{t-1} is one multiply and one fused ``addcmul_``;
    * ``reverse=True`` (the backward direction of a bidirectional layer) visits the steps from the
      last to the first, and writes each state at its own time step, as the teaching form does
      (``loop.step_loop``): no reversed copy of the sequence is made.
    """
    steps, batch, four_hidden = gates.shape
    hidden = four_hidden // 4
    i, f, g, o = gates.view(steps, batch, 4, hidden).unbind(2)
    g.mul_(2)
    # W_hhᵀ laid out (H, 4H) for the per-step matmul (see cells.transposed_for_steps), in memory of
    # its own (clone, not contiguous(), which may return the caller's weight), g's columns doubled
    w_hh = weight_hh.t().clone(memory_format=torch.contiguous_format)
    w_hh[:, 2 * hidden:3 * hidden].mul_(2)
    # one view per block per step, made once: slicing inside the loop would cost a call each time
    i, f, g, o = i.unbind(0), f.unbind(0), g.unbind(0), o.unbind(0)
    tanh_c = gates.new_empty(batch, hidden)  # scratch, one step's tanh(c_t)
    # 2 and 1 as tensors of the gates' dtype: a Python number in an operation is first made into a
    # tensor and converted, one more call at every step
    two, one = gates.new_full((), 2.0), gates.new_full((), 1.0)
    gates_steps = gates.unbind(0)
    h_prev, c_prev = h0, c0
    for t in range(steps - 1, -1, -1) if reverse else range(steps):
        gates_t, c_t, h_t = gates_steps[t], c_steps[t], h_steps[t]
        gates_t.addmm_(h_prev, w_hh)  # the pre-activations: + W_hh h_{t-1}
        gates_t.sigmoid_()  # σ(i), σ(f), σ(2·g's), σ(o)
        g[t].mul_(two).sub_(one)  # 2σ(2a) − 1 = tanh(a)
        torch.mul(i[t], g[t], out=c_t)  # c_t = i·g + f·c_{t-1}
        c_t.addcmul_(f[t], c_prev)
        torch.mul(o[t], torch.tanh(c_t, out=tanh_c), out=h_t)  # h_t = o·tanh(c_t)
        h_prev, c_prev = h_t, c_t


# ================================================================ the backward, for a whole layer
def steps_and_predecessors(reverse: bool) -> tuple[int, slice, slice]:
    """Where a layer's recurrence starts, and which step comes before which: ``(first, rest, before)``
    such that step ``first`` reads the initial state and the steps ``[rest]`` read the states ``[before]``.
    Forward: step 0 reads h_0, steps 1.. read 0..T-2. In reverse the layer runs from the last step to
    the first: step T-1 reads h_0, steps ..T-2 read 1..T-1."""
    return (-1, slice(None, -1), slice(1, None)) if reverse else (0, slice(1, None), slice(None, -1))


def gate_factors(trace: LSTMStep, c0: Tensor, reverse: bool = False) -> tuple[Tensor, Tensor]:
    """``lstm_local`` for a whole layer, written for speed: ``(h_to_c, partners · slopes)``.

    The same numbers as ``lstm_local(...).h_to_c`` and ``partners * slopes`` (a test holds them
    equal), for every step at once, and what ``lstm_layer_backward`` needs. Where ``lstm_local``
    concatenates four partners, four slopes and c_{t-1} (each a fresh sequence-sized tensor) and
    then multiplies, this fills each block of one (T, B, 4H) buffer in place: the gate, minus its
    square (σ' = s − s·s; tanh' = 1 − t·t from a block of ones), times its partner; c_{t-1} is read
    as c_0 and c[:-1] rather than concatenated. Fresh memory costs a sequence-sized backward more
    than its arithmetic. (In place rather than with ``out=``: torch.compile traces in-place
    operations on the blocks, not ``out=`` into a strided view.) ``reverse``: the trace of a layer
    that ran from the last step to the first, whose c_{t-1} is c[t+1] (see ``run_steps``).
    """
    steps, batch, hidden = trace.c.shape
    factors = trace.c.new_empty(steps, batch, 4, hidden)
    d_i, d_f, d_g, d_o = factors.unbind(2)
    tanh_c = torch.tanh(trace.c)
    d_i.copy_(trace.i).addcmul_(trace.i, trace.i, value=-1).mul_(trace.g)  # σ'(i) · g
    d_f.copy_(trace.f).addcmul_(trace.f, trace.f, value=-1)  # σ'(f) · c_{t-1}
    first, rest, before = steps_and_predecessors(reverse)
    d_f[first].mul_(c0)  # the step the recurrence starts at reads c_0
    d_f[rest].mul_(trace.c[before])
    d_g.fill_(1).addcmul_(trace.g, trace.g, value=-1).mul_(trace.i)  # tanh'(g) · i
    d_o.copy_(trace.o).addcmul_(trace.o, trace.o, value=-1).mul_(tanh_c)  # σ'(o) · tanh(c)
    h_to_c = torch.ones_like(tanh_c).addcmul_(tanh_c, tanh_c, value=-1).mul_(trace.o)  # o · tanh'(c)
    return h_to_c, factors.view(steps, batch, 4 * hidden)


@torch.no_grad()
def lstm_layer_backward(trace: LSTMStep, h0: Tensor, c0: Tensor, weight_hh: Tensor, d_outputs: Tensor,
                        dh_n: Tensor | None = None, dc_n: Tensor | None = None, keep_states: bool = False,
                        reverse: bool = False):
    """Backpropagation through time for one LSTM layer, given its forward ``trace``.

    Returns ``(dpre (T, B, 4H), dh0, dc0)``, and with ``keep_states=True`` also the gradients
    arriving at every h_t and c_t, ``(dh (T, B, H), dc (T, B, H))``. The weight gradients are
    one matmul each from ``dpre`` (see ``lstm_backward``). ``reverse``: the layer ran from the last
    step to the first (``run_steps``), so the gradient flows from step 1 to step T.
    """
    steps = trace.h.shape[0]
    # Everything that does not depend on the arriving gradient, for all steps at once: lstm_local's
    # h_to_c and partners · slopes. The loop then overwrites each step's factors with that step's
    # dpre (same place, elementwise), so dpre needs no buffer of its own: memory a torch.nn-sized
    # model feels.
    h_to_c, dpre = gate_factors(trace, c0, reverse)
    # one view per step, made once: indexing dpre[t] inside the loop would cost a call each time
    dpre_steps, h_to_c, forget, d_out = (x.unbind(0) for x in (dpre, h_to_c, trace.f, d_outputs))
    # back through the recurrence: from the step it ended at to the one it started at
    order, move = (range(steps), 1) if reverse else (range(steps - 1, -1, -1), -1)
    first = order[-1]
    dh = d_out[order[0]] if dh_n is None else d_out[order[0]] + dh_n
    dc = torch.zeros_like(c0) if dc_n is None else dc_n
    if keep_states:
        dh_all, dc_all = torch.empty_like(trace.h), torch.empty_like(trace.c)
    for t in order:
        # dpre_steps[t] goes in holding the factors and comes out holding dpre_t
        _, dc_t, dc = backward_through_cell(dh, dc, h_to_c[t], dpre_steps[t], forget[t], out=dpre_steps[t])
        if keep_states:
            dh_all[t], dc_all[t] = dh, dc_t
        # the only matmul in the loop: what reaches the state step t read (h_{t-1}; h_{t+1} in reverse)
        # through W_hh, plus the loss's own share
        dh = dpre_steps[t] @ weight_hh if t == first else torch.addmm(d_out[t + move], dpre_steps[t], weight_hh)
    if keep_states:
        return dpre, dh, dc, dh_all, dc_all
    return dpre, dh, dc


# ================================================================ the autograd.Function
class LSTMLayerFunction(torch.autograd.Function):
    """One LSTM layer in one direction whose backward is ``lstm_layer_backward`` (BPTT by hand).

    ``forward(ctx, inputs, h0, c0, weight_hh, weight_ih=None, bias=None, reverse=False)
    -> (outputs (T, B, H), h_n (B, H), c_n (B, H))``

    With ``weight_ih``, ``inputs`` is the layer's input sequence (T, B, D) and ``bias`` is
    ``b_ih + b_hh`` (or None): the Function computes the input half of every step itself,
    ``W_ih x_t + bias`` in one matmul, straight into the buffer the steps then turn into the
    gates, so the layer's largest tensor exists once, not twice. Its backward is as short as
    the forward: every ``dpre_t`` is known after the reverse loop, so ``dx = dpre W_ih``,
    ``dW_ih = Σ_t dpre_tᵀ x_t`` and ``d bias = Σ_t dpre_t`` are one matmul or sum each.

    Without ``weight_ih`` (``lstm_layer``, the form notebook 09 checks), ``inputs`` is that input
    half already, ``proj`` (T, B, 4H), and its gradient is ``dpre`` itself.

    ``reverse=True`` runs the layer from the last step to the first (the backward direction of a
    bidirectional layer) on the sequence as it is, ``outputs[t]`` at time step t and the final
    state that of step 1 (see ``run_steps``).

    No masks and no projections (``weight_hr``): ``layer_forward`` takes the teaching form for those.
    """

    @staticmethod
    def forward(ctx, inputs, h0, c0, weight_hh, weight_ih=None, bias=None, reverse=False):
        if weight_ih is None:
            trace = trace_steps(inputs.clone(), h0, c0, weight_hh, reverse)
        else:
            # sizes written out, not -1: a batch of 0 sequences (torch.nn accepts one) leaves -1 undefined
            steps, batch, features = inputs.shape
            x = inputs.reshape(steps * batch, features)
            proj = x @ weight_ih.t() if bias is None else torch.addmm(bias, x, weight_ih.t())
            trace = trace_steps(proj.view(steps, batch, weight_ih.shape[0]), h0, c0, weight_hh, reverse)
        ctx.save_for_backward(inputs, h0, c0, weight_hh, weight_ih, bias, *trace)
        ctx.reverse = reverse
        last = 0 if reverse else -1  # the step the recurrence ends at
        return trace.h, trace.h[last].clone(), trace.c[last].clone()

    @staticmethod
    def backward(ctx, d_outputs, dh_n, dc_n):
        inputs, h0, c0, weight_hh, weight_ih, bias, *saved = ctx.saved_tensors
        if torch.is_grad_enabled():
            # create_graph=True: the gradient must itself be differentiable. The hand-written
            # arithmetic is not, so recompute the layer with autograd and differentiate that.
            return _differentiable_backward(ctx.needs_input_grad[:6], (inputs, h0, c0, weight_hh, weight_ih, bias),
                                            (d_outputs, dh_n, dc_n), ctx.reverse) + (None,)
        trace = LSTMStep(*saved)
        dpre, dh0, dc0 = lstm_layer_backward(trace, h0, c0, weight_hh, d_outputs, dh_n, dc_n, reverse=ctx.reverse)
        four_hidden, hidden = weight_hh.shape
        rows = dpre.reshape(-1, four_hidden)  # every step's dpre_t, one row per (t, b)
        wants = ctx.needs_input_grad
        d_weight_hh = d_inputs = d_weight_ih = d_bias = None
        if wants[3]:
            # Σ_t dpre_tᵀ h_{t-1}, in one matmul (and one for h_0, which the first step read)
            first, rest, before = steps_and_predecessors(ctx.reverse)
            d_weight_hh = torch.addmm(dpre[first].t() @ h0, dpre[rest].reshape(-1, four_hidden).t(),
                                      trace.h[before].reshape(-1, hidden))
        if weight_ih is None:
            d_inputs = dpre
        else:
            if wants[0]:
                d_inputs = (rows @ weight_ih).view(inputs.shape)
            if wants[4]:
                d_weight_ih = rows.t() @ inputs.reshape(rows.shape[0], inputs.shape[-1])
            if wants[5]:
                d_bias = rows.sum(0)
        return d_inputs, dh0, dc0, d_weight_hh, d_weight_ih, d_bias, None


def _differentiable_backward(needs_grad, inputs, grad_outputs, reverse=False):
    """The layer's vector-Jacobian product built by autograd, so that it can be differentiated again."""
    x, h0, c0, weight_hh, weight_ih, bias = inputs
    wanted = [t for t, needed in zip(inputs, needs_grad) if needed]
    with torch.enable_grad():
        proj = x if weight_ih is None else torch.nn.functional.linear(x, weight_ih, bias)
        outputs, (h, c) = lstm_steps(proj, (h0, c0), weight_hh, reverse=reverse)
        grads = iter(torch.autograd.grad((outputs, h, c), wanted, grad_outputs,
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
