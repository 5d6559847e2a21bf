"""A layer step by step under autograd, and when a fast layer may run instead of it.

``step_loop`` is the teaching form of a layer over a sequence: a Python loop over the time steps
that calls a cell's equations (``cells``), which autograd records operation by operation. Every cell
type runs it for what its fast layer does not cover (variable lengths, projections, autocast's mixed
dtypes, ``torch.func`` transforms, a few steps of inference); the RNN, which has no fast layer, always
(``rnn_layer_forward``, the RNN's one path).

Masks and direction, one way for every path: ``mask[t]`` (B, 1) is False past a sequence's end,
where the state is kept and the output is zero, exactly what torch's packed path gives; ``reverse``
visits the steps from the last to the first and writes each output at its own step, so that
``output[t]`` pairs the forward and the backward state of the same time step. With a mask that
reverses every sequence within its own length, without a copy: a sequence's padding comes first
and keeps the initial state, so its own last step is the first it computes.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .cells import COPY_FROM_STEPS, input_projection, rnn_update, transposed_for_steps

# Inference through the buffered fast loops from this many steps on. Measured: at 3 steps (the teaching
# size) the step loop is faster, at 100 the buffered one; 8 lies between, not tuned further (the length
# from which the loops copy W_hhᵀ, too).
BUFFERED_FROM_STEPS = COPY_FROM_STEPS


def step_loop(proj: Tensor, state, step, mask: Tensor | None = None, reverse: bool = False):
    """``state = step(proj[t], state)`` for every t: ``(outputs (T, B, H), final state)``.

    ``proj[t]`` is the input half of step t's gates, ``W_ih x_t + b_ih`` (T, B, gates*H). The state is
    h, or the pair (h, c), whose h is the output; None stands for zeros, which ``step`` may use to skip
    what a zero state contributes to the first step (at the teaching size an eighth of the forward).
    """
    masks = None if mask is None else mask.unbind(0)
    outputs = [None] * proj.shape[0]
    # unbind once: indexing proj[t] under autograd would build a full-size gradient per step
    steps = proj.unbind(0)
    for t in range(len(steps) - 1, -1, -1) if reverse else range(len(steps)):
        new = step(steps[t], state)
        state = new if masks is None else _kept(masks[t], new, state)
        h = state[0] if isinstance(state, tuple) else state
        outputs[t] = h if masks is None else h * masks[t]
    return torch.stack(outputs), state


def rnn_layer_forward(inputs, state, weights, reverse=False, mask=None, nonlinearity="tanh"):
    """One RNN layer: ``cells.rnn_update`` step by step under autograd, its only path (no hand-written backward)."""
    w_hh = transposed_for_steps(weights["weight_hh"], inputs.shape[0])

    def step(proj_t, h):  # None: h_0 = 0, whose W_hh h_0 the first step skips
        return rnn_update(proj_t if h is None else torch.addmm(proj_t, h, w_hh), nonlinearity).h

    return step_loop(input_projection("RNN", inputs, weights), state, step, mask, reverse)


def zero_state(mode: str, inputs: Tensor, weights: dict):
    """The state ``None`` stands for: zeros of h's size (and of c's, for the LSTM) for the batch of ``inputs``."""
    # weight_hh is (gates * hidden, size of h): with projections, h is smaller than c
    gates_times_hidden, out = weights["weight_hh"].shape
    h = inputs.new_zeros(inputs.shape[1], out)
    return (h, inputs.new_zeros(inputs.shape[1], gates_times_hidden // 4)) if mode == "LSTM" else h


def _kept(mask_t: Tensor, new, old):
    """The new state where the sequence runs, the old one past its end (None: zeros)."""
    if isinstance(new, tuple):
        return tuple(_kept(mask_t, n, None if old is None else o) for n, o in zip(new, old or new))
    return torch.where(mask_t, new, 0.0 if old is None else old)


# ---------------------------------------------------------------- may a fast layer run?
def autocast_enabled(device_type: str) -> bool:
    """``torch.is_autocast_enabled(device_type)``, and False on a device autocast does not know: there
    asking raises, and torch.nn's modules run anyway (the meta device, which computes shapes only)."""
    return torch.amp.is_autocast_available(device_type) and torch.is_autocast_enabled(device_type)


def use_hand_written_backward() -> bool:
    """Whether a layer run now may use a hand-written backward (``LSTMLayerFunction``,
    ``GRULayerFunction``): gradients are being recorded (without them there is nothing to save for)
    and no ``torch.func`` transform or forward-mode AD is active (a hand-written backward has no
    batching or forward-mode rule)."""
    if not torch.is_grad_enabled():
        return False
    if torch.compiler.is_compiling():  # torch.compile traces the Function itself
        return True
    return not transforms_active()


def inference_buffers(inputs: Tensor, state, weights: dict) -> bool:
    """Whether a fast layer's buffered loop may run this layer for inference: nothing would be recorded
    (gradients off, or nothing in the layer requires one), no transform is active, and the sequence
    is long enough to win back the loop's set-up (``BUFFERED_FROM_STEPS``)."""
    if inputs.shape[0] < BUFFERED_FROM_STEPS or transforms_active():
        return False
    if not torch.is_grad_enabled():
        return True
    states = () if state is None else state if isinstance(state, (tuple, list)) else (state,)
    return not (inputs.requires_grad or any(t.requires_grad for t in [*states, *weights.values()]))


def transforms_active() -> bool:
    """A ``torch.func`` transform or forward-mode AD is running: only plain tensor operations will do."""
    return _functorch_active() or torch.autograd.forward_ad._current_level >= 0


# torch's own test for "inside vmap/grad/jacrev"; a torch without it has no functorch transforms to detect
_functorch_active = getattr(torch._C, "_are_functorch_transforms_active", lambda: False)
