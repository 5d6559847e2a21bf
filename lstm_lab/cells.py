"""One time step of an RNN, an LSTM and a GRU, in PyTorch's layout: each step's forward beside its derivative.

Weights are fused the way ``torch.nn`` stores them: ``weight_ih`` has shape
``(gates * hidden_size, input_size)``, ``weight_hh`` ``(gates * hidden_size, hidden_size)``, with
the gate blocks stacked in torch's order (LSTM: i, f, g, o; GRU: r, z, n) and two biases.

Each cell is split in two: the matmuls that make the pre-activations, and an ``*_update``
function with the gate equations. Beside each update sits its local derivative, the way
micrograd keeps an operation's backward beside its forward: ``lstm_local`` and
``backward_through_cell`` for the LSTM, ``gru_local`` and ``gru_backward_through_cell`` for the GRU.

These are the teaching forms, the ones the notebooks show and the step-by-step autograd loop runs.
The fast layers (``lstm_function``, ``gru_function``) write the same equations a second time, in
place in buffers made once per sequence; so every equation exists in two forms, and the tests hold
the fast one to this one (and both to torch.nn).

The ``*_trace`` variants return every intermediate of the step (gates, cell state, hidden
state, pre-activations) for tables, plots and widgets; a layer's trace is the same record with
every field stacked over time.

Also here, because they belong with the equations: ``input_projection`` (the input half of
every gate for all time steps, one matmul) and the slopes of the nonlinearities that the
backward passes read off the forward's outputs.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from .errors import ShapeError, check_cell_input, check_cell_state, check_cell_weights

NONLINEARITIES = {"tanh": torch.tanh, "relu": torch.relu}


class RNNStep(NamedTuple):
    pre: Tensor  # W_ih x + b_ih + W_hh h + b_hh
    h: Tensor


class LSTMStep(NamedTuple):
    """One step's record, or a layer's with every field stacked over time (T, B, H)."""

    i: Tensor  # input gate: how much of the candidate to write
    f: Tensor  # forget gate: how much of the old memory to keep
    g: Tensor  # candidate ("cell gate", c-tilde): what could be written
    o: Tensor  # output gate: how much of the memory to show
    c: Tensor  # cell state (the memory)
    h: Tensor  # hidden state (what the next layer and the next step see)
    pre: Tensor | None = None  # pre-activations of the four gates, blocks i, f, g, o (a fast layer keeps none)


class GRUStep(NamedTuple):
    """One step's record, or a layer's with every field stacked over time (T, B, H)."""

    r: Tensor  # reset gate: how much of h_{t-1} the candidate may read
    z: Tensor  # update gate: how much of h_{t-1} to keep
    n: Tensor  # candidate ("new gate")
    h: Tensor
    pre_ih: Tensor | None  # W_ih x + b_ih, blocks r, z, n (a fast layer keeps none: it can remake it)
    pre_hh: Tensor  # W_hh h + b_hh, blocks r, z, n: its n block is what the reset gate multiplied


# ---------------------------------------------------------------- slopes of the nonlinearities
# Each is written in terms of the function's *output*, which the forward pass already holds.
def sigmoid_slope(s: Tensor) -> Tensor:
    """σ'(a) from s = σ(a): σ'(a) = σ(a)·(1 − σ(a))."""
    return s * (1 - s)


def tanh_slope(t: Tensor) -> Tensor:
    """tanh'(a) from t = tanh(a): tanh'(a) = 1 − tanh²(a)."""
    return 1 - t * t


def relu_slope(r: Tensor) -> Tensor:
    """relu'(a) from r = relu(a): 1 where a > 0, else 0."""
    return (r > 0).to(r.dtype)


SLOPES = {"tanh": tanh_slope, "relu": relu_slope}


def check_nonlinearity(nonlinearity: str) -> None:
    if nonlinearity not in NONLINEARITIES:
        raise ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'.")


# ---------------------------------------------------------------- the equations, each beside its derivative
def rnn_update(pre: Tensor, nonlinearity: str = "tanh") -> RNNStep:
    return RNNStep(pre, NONLINEARITIES[nonlinearity](pre))


def rnn_local(h: Tensor, nonlinearity: str = "tanh") -> Tensor:
    """``rnn_update``'s derivative, ∂h_t/∂pre_t, read off its output h_t: tanh' = 1 − h², relu' = [h > 0].
    Elementwise, so the same function serves one step or a whole (T, B, H) sequence."""
    return SLOPES[nonlinearity](h)


def lstm_update(pre: Tensor, c_prev: Tensor | None, weight_hr: Tensor | None = None) -> LSTMStep:
    """The LSTM equations after the matmuls: ``pre`` holds the four gate blocks i, f, g, o.

    ``c_prev=None`` stands for c_0 = 0, an empty memory: there is nothing to forget yet.
    """
    i, f, g, o = pre.chunk(4, dim=-1)
    input_gate = torch.sigmoid(i)
    forget_gate = torch.sigmoid(f)
    candidate = torch.tanh(g)
    output_gate = torch.sigmoid(o)
    if c_prev is None:
        cell_state = input_gate * candidate
    else:
        cell_state = forget_gate * c_prev + input_gate * candidate
    hidden_state = output_gate * torch.tanh(cell_state)
    if weight_hr is not None:  # LSTM with projections: h is projected down to proj_size
        hidden_state = hidden_state @ weight_hr.t()
    return LSTMStep(input_gate, forget_gate, candidate, output_gate, cell_state, hidden_state, pre)


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


def gru_update(pre_ih: Tensor, pre_hh: Tensor, h_prev: Tensor) -> GRUStep:
    """The GRU equations; torch applies the reset gate to ``W_hn h + b_hn`` as a whole.

    Written with as few calls as the equations allow, because a sequence runs them once per
    step (and autograd records each call): r and z are adjacent blocks, so one add and one
    sigmoid make both; ``addcmul`` fuses x_n + r·h_n; and (1 − z)·n + z·h_{t-1} is rearranged
    as n + z·(h_{t-1} − n), one multiply fewer and the order torch's own kernel uses. The
    teaching form, one line per gate, is in notebook 12; the parity tests hold the two equal.
    """
    blocks = [2 * h_prev.shape[-1], h_prev.shape[-1]]  # (r, z) together, then n
    # split, not two slices: under autograd one split passes its gradient back in one piece
    (x_rz, x_n), (h_rz, h_n) = pre_ih.split(blocks, dim=-1), pre_hh.split(blocks, dim=-1)
    # the activations run in place on the fresh sums (autograd allows it: neither sum is needed again)
    reset_gate, update_gate = (x_rz + h_rz).sigmoid_().chunk(2, dim=-1)
    candidate = torch.addcmul(x_n, reset_gate, h_n).tanh_()
    hidden_state = torch.addcmul(candidate, update_gate, h_prev - candidate)  # (1 − z)·n + z·h_{t-1}
    return GRUStep(reset_gate, update_gate, candidate, hidden_state, pre_ih, pre_hh)


class GRULocal(NamedTuple):
    """The parts of a GRU step's backward that come from the forward pass alone (elementwise, as ``LSTMLocal``)."""

    to_n: Tensor  # ∂h_t/∂(n's pre-activation) = (1 − z)·tanh'(n)
    to_z: Tensor  # ∂h_t/∂(z's pre-activation) = (h_{t-1} − n)·σ'(z)
    to_r: Tensor  # ∂(n's pre-activation)/∂(r's pre-activation) = hn·σ'(r), hn = W_hn h_{t-1} + b_hn


def gru_local(r: Tensor, z: Tensor, n: Tensor, hn: Tensor, h_prev: Tensor) -> GRULocal:
    """Read the backward's factors off the forward pass (one step, or every step at once)."""
    return GRULocal((1 - z) * tanh_slope(n), (h_prev - n) * sigmoid_slope(z), hn * sigmoid_slope(r))


def gru_backward_through_cell(dh: Tensor, local: GRULocal, r: Tensor, z: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """One step back through h_t = n + z·(h_{t-1} − n), n = tanh(x_n + r·hn), r and z sigmoids.

    ``dh``: the whole gradient arriving at h_t. The chain rule, gate by gate::

        dn_pre = dh · (1 − z)·tanh'(n)     dz_pre = dh · (h_{t-1} − n)·σ'(z)     dr_pre = dn_pre · hn·σ'(r)

    Returns ``(d_ih, d_hh, dh_direct)``: the gradients of ``W_ih x_t + b_ih`` and of
    ``W_hh h_{t-1} + b_hh`` (blocks r, z, n; the same for r and z, and for n scaled by the reset
    gate, which multiplied W_hn h + b_hn), and dh·z, what reaches h_{t-1} without W_hh. The whole
    gradient at h_{t-1} is ``dh_direct + d_hh @ W_hh``.
    """
    dn = dh * local.to_n
    dr, dz = dn * local.to_r, dh * local.to_z
    return torch.cat([dr, dz, dn], dim=-1), torch.cat([dr, dz, dn * r], dim=-1), dh * z


def input_projection(mode: str, inputs: Tensor, weights: dict) -> Tensor:
    """W_ih x_t + b_ih for every t in one matmul: (T, B, D) -> (T, B, gates*H).

    For the RNN and the LSTM, b_hh only ever gets added to it, so it is folded in here too.
    The GRU keeps b_hh apart: its reset gate multiplies (W_hn h + b_hn).
    """
    return F.linear(inputs, weights["weight_ih"], projection_bias(mode, weights))


def projection_bias(mode: str, weights: dict) -> Tensor | None:
    """The bias of ``input_projection``: b_ih, plus b_hh for the RNN and the LSTM; None without biases."""
    bias = weights.get("bias_ih")
    return bias + weights["bias_hh"] if bias is not None and mode != "GRU" else bias


# From this many steps on, the sequence runners copy W_hhᵀ once (below). Measured: at 3 steps (the
# teaching size) the copy is 5 % of a forward and wins nothing back; at 100 it pays for itself many
# times. 8 lies between, not tuned further; the inference loops switch at the same length.
COPY_FROM_STEPS = 8


def transposed_for_steps(weight_hh: Tensor, steps: int) -> Tensor:
    """W_hhᵀ for the per-step ``h @ W_hhᵀ`` of a ``steps``-long sequence, copied once into its own memory.

    A sequence runner multiplies by W_hhᵀ at every step. Through the view ``weight_hh.t()`` the
    matmul reads the weight across its rows; laid out as ``(H, gates*H)`` it reads it in order,
    about a quarter faster per step at the realistic size (benchmarks/speed.py), for one small
    copy per sequence (autograd passes the gradient back through the copy unchanged). A short
    sequence gets the view: its few steps do not win the copy back.
    """
    return weight_hh.t() if steps < COPY_FROM_STEPS else weight_hh.t().contiguous()


def linear(x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
    """``x Wᵀ + b`` — torch's convention: a weight row per output unit."""
    out = x @ weight.t()
    return out if bias is None else out + bias


def previous_states(first: Tensor, sequence: Tensor, reverse: bool = False) -> Tensor:
    """The state each step of a layer started from: [first, sequence[0], ..., sequence[T-2]], or for a layer
    that ran from the last step to the first, [sequence[1], ..., sequence[T-1], first]."""
    if reverse:
        return torch.cat([sequence[1:], first.unsqueeze(0)])
    return torch.cat([first.unsqueeze(0), sequence[:-1]])


# ---------------------------------------------------------------- checked, traced steps
def _zeros_like_state(x: Tensor, size: int) -> Tensor:
    shape = (size,) if x.dim() == 1 else (x.shape[0], size)
    return torch.zeros(shape, dtype=x.dtype, device=x.device)


def rnn_cell_trace(x, state, weight_ih, weight_hh, bias_ih=None, bias_hh=None, nonlinearity="tanh") -> RNNStep:
    check_nonlinearity(nonlinearity)
    input_size, hidden, _ = check_cell_weights("RNN", weight_ih, weight_hh, bias_ih, bias_hh)
    check_cell_input("RNN", x, input_size, weight_ih)
    h = _zeros_like_state(x, hidden) if state is None else state
    check_cell_state("RNN", "hx", h, x, hidden)
    pre = linear(x, weight_ih, bias_ih) + linear(h, weight_hh, bias_hh)
    return rnn_update(pre, nonlinearity)


def lstm_cell_trace(x, state, weight_ih, weight_hh, bias_ih=None, bias_hh=None, weight_hr=None) -> LSTMStep:
    input_size, hidden, out = check_cell_weights("LSTM", weight_ih, weight_hh, bias_ih, bias_hh, weight_hr)
    check_cell_input("LSTM", x, input_size, weight_ih)
    if state is None:
        h, c = _zeros_like_state(x, out), _zeros_like_state(x, hidden)
    else:
        if not isinstance(state, (tuple, list)) or len(state) != 2:
            raise ShapeError(f"LSTMCell: state should be a pair (h, c), got {type(state).__name__}")
        h, c = state
    check_cell_state("LSTM", "h", h, x, out)
    check_cell_state("LSTM", "c", c, x, hidden)
    pre = linear(x, weight_ih, bias_ih) + linear(h, weight_hh, bias_hh)
    return lstm_update(pre, c, weight_hr)


def gru_cell_trace(x, state, weight_ih, weight_hh, bias_ih=None, bias_hh=None) -> GRUStep:
    input_size, hidden, _ = check_cell_weights("GRU", weight_ih, weight_hh, bias_ih, bias_hh)
    check_cell_input("GRU", x, input_size, weight_ih)
    h = _zeros_like_state(x, hidden) if state is None else state
    check_cell_state("GRU", "hx", h, x, hidden)
    return gru_update(linear(x, weight_ih, bias_ih), linear(h, weight_hh, bias_hh), h)


# ---------------------------------------------------------------- the cells
def rnn_cell(x, state, weight_ih, weight_hh, bias_ih=None, bias_hh=None, nonlinearity="tanh") -> Tensor:
    """h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh). Returns h_t."""
    return rnn_cell_trace(x, state, weight_ih, weight_hh, bias_ih, bias_hh, nonlinearity).h


def lstm_cell(x, state, weight_ih, weight_hh, bias_ih=None, bias_hh=None, weight_hr=None) -> tuple[Tensor, Tensor]:
    """One LSTM step. ``state`` is ``(h, c)`` or None for zeros. Returns ``(h_t, c_t)``."""
    step = lstm_cell_trace(x, state, weight_ih, weight_hh, bias_ih, bias_hh, weight_hr)
    return step.h, step.c


def gru_cell(x, state, weight_ih, weight_hh, bias_ih=None, bias_hh=None) -> Tensor:
    """One GRU step. Returns h_t."""
    return gru_cell_trace(x, state, weight_ih, weight_hh, bias_ih, bias_hh).h
