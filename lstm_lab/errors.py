"""Input checks with messages that say what was expected and what was given.

The wording follows ``torch.nn`` where torch has a message for the same mistake, so a
learner who moves on to ``torch.nn.LSTM`` meets the errors they already know. Where torch
would silently broadcast (a ``(1,)`` bias, a ``(1, H)`` recurrent matrix), we refuse: that
silent broadcast is a real bug in one of the source notebooks.
"""

from __future__ import annotations

import torch

from .gates import GATES


class ShapeError(RuntimeError, ValueError):
    """A tensor has the wrong number of dimensions or the wrong size.

    It is both a ``RuntimeError`` (what ``torch.nn`` raises for shapes) and a
    ``ValueError``, so code written against either keeps working.
    """


class WeightsKeyError(KeyError, ValueError):
    """A weights dict lacks a tensor it needs (or holds one it should not).

    A ``KeyError`` like a plain dict lookup would raise, but printed as the message itself
    (a plain ``KeyError`` prints its message in quotes).
    """

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class EmptyPackError(ValueError, IndexError):
    """A ``PackedSequence`` with no steps at all.

    torch.nn's modules fail on one with an ``IndexError`` (they read its first batch size); this is
    that ``IndexError``, with a message, and a ``ValueError`` like the package's other bad packs.
    """


def shape_str(t: torch.Tensor) -> str:
    return "(" + ", ".join(str(s) for s in t.shape) + ("," if t.dim() == 1 else "") + ")"


def check_tensor(name: str, value, where: str) -> None:
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{where}: {name} should be a torch.Tensor, got {type(value).__name__}")


def check_same_dtype_device(where: str | None, reference: torch.Tensor, **tensors) -> None:
    """Every tensor must share the dtype and device of ``reference`` (the input): the package's one such check.

    ``where`` names the caller in the message; None is a torch.nn twin (``lstm_lab.LSTM``, ...), which
    answers in torch.nn's words for its ``weight`` and, where torch has none, in its own for ``hidden``.
    """
    for name, t in tensors.items():
        if t is not None and (t.dtype != reference.dtype or t.device != reference.device):
            raise _mismatch(where, name, t, reference)


def _mismatch(where: str | None, name: str, t: torch.Tensor, x: torch.Tensor) -> Exception:
    same_device = t.device == x.device
    if where is None and name == "weight":  # torch.nn's words and order: dtype first
        if t.dtype != x.dtype:
            return ValueError(f"RNN input dtype ({x.dtype}) does not match weight dtype ({t.dtype}). "
                              f"Convert input: input.to({t.dtype}), or convert model: model.to({x.dtype})")
        return RuntimeError(f"Input and parameter tensors are not at the same device, found input tensor at {x.device} "
                            f"and parameter tensor at {t.device}")
    if where is None:  # the initial state: torch.nn's words for the device, first; torch has none for the dtype
        if not same_device:
            return RuntimeError(f"Input and hidden tensors are not at the same device, found input tensor at "
                                f"{x.device} and hidden tensor at {t.device}")
        return TypeError(f"the initial state should have the input's dtype {x.dtype} on {x.device}, "
                         f"got {t.dtype} on {t.device}")
    if t.dtype != x.dtype:
        return TypeError(f"{where}: {name} has dtype {t.dtype} but the input has dtype {x.dtype}. "
                         f"Convert one of them, e.g. input.to({t.dtype}) or the weights .to({x.dtype})")
    return RuntimeError(f"{where}: Input and parameter tensors are not at the same device, found input "
                        f"tensor at {x.device} and {name} at {t.device}")


def check_shape(where: str, name: str, t, shape: tuple, reference: torch.Tensor) -> None:
    """``t`` must be a tensor of exactly ``shape``, with the dtype and device of ``reference``."""
    check_tensor(name, t, where)
    if tuple(t.shape) != tuple(shape):
        expected = "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"
        raise ShapeError(f"{where}: {name} should have shape {expected}, got {shape_str(t)}")
    check_same_dtype_device(where, reference, **{name: t})


def check_fused_weights(where: str, gates: int, weight_ih, weight_hh) -> int:
    """``weight_hh`` (gates*H, H) and, unless None, ``weight_ih`` (gates*H, D); returns H."""
    check_tensor("weight_hh", weight_hh, where)
    if weight_hh.dim() != 2 or weight_hh.shape[0] != gates * weight_hh.shape[1]:
        raise ShapeError(
            f"{where}: weight_hh should have shape ({gates}*hidden_size, hidden_size), got {shape_str(weight_hh)}"
        )
    hidden = weight_hh.shape[1]
    if weight_ih is not None:
        check_tensor("weight_ih", weight_ih, where)
        if weight_ih.dim() != 2 or weight_ih.shape[0] != gates * hidden:
            raise ShapeError(
                f"{where}: weight_ih should have shape ({gates * hidden}, input_size) to match weight_hh "
                f"{shape_str(weight_hh)}, got {shape_str(weight_ih)}"
            )
    return hidden


def check_sequence(where: str, name: str, t, size: int, reference: torch.Tensor) -> None:
    """A (seq_len, batch, size) tensor with seq_len >= 1, like ``reference`` in dtype and device."""
    check_tensor(name, t, where)
    if t.dim() != 3 or t.shape[-1] != size or t.shape[0] == 0:
        raise ShapeError(
            f"{where}: {name} should have shape (seq_len, batch, {size}) with seq_len >= 1, got {shape_str(t)}"
        )
    check_same_dtype_device(where, reference, **{name: t})


def check_cell_weights(
    mode: str,
    weight_ih: torch.Tensor,
    weight_hh: torch.Tensor,
    bias_ih: torch.Tensor | None,
    bias_hh: torch.Tensor | None,
    weight_hr: torch.Tensor | None = None,
    *,
    where: str | None = None,
) -> tuple[int, int, int]:
    """Check a cell's fused weights; return (input_size, hidden_size, output_size).

    ``output_size`` is the size of h: ``hidden_size``, or ``proj_size`` with a projection.
    ``where`` names the caller in messages (default: the cell, e.g. ``LSTMCell``).
    """
    where = where or f"{mode}Cell"
    gates = GATES[mode]
    n = len(gates)
    order = ", ".join(gates)
    for name, t in (("weight_ih", weight_ih), ("weight_hh", weight_hh)):
        check_tensor(name, t, where)
        if t.dim() != 2:
            raise ShapeError(f"{where}: {name} should be 2-D ({n}*hidden_size, ...), got shape {shape_str(t)}")
    rows = weight_ih.shape[0]
    if rows % n or rows == 0:
        raise ShapeError(
            f"{where}: weight_ih should have {n}*hidden_size rows (gate blocks {order} stacked), "
            f"got shape {shape_str(weight_ih)}"
        )
    hidden = rows // n
    out = hidden
    if weight_hr is not None:
        check_tensor("weight_hr", weight_hr, where)
        if weight_hr.dim() != 2 or weight_hr.shape[1] != hidden or weight_hr.shape[0] >= hidden:
            raise ShapeError(
                f"{where}: weight_hr should have shape (proj_size, {hidden}) with proj_size < {hidden}, "
                f"got {shape_str(weight_hr)}"
            )
        out = weight_hr.shape[0]
    if tuple(weight_hh.shape) != (rows, out):
        raise ShapeError(
            f"{where}: weight_hh should have shape ({rows}, {out}) to match weight_ih {shape_str(weight_ih)}, "
            f"got {shape_str(weight_hh)}"
        )
    for name, b in (("bias_ih", bias_ih), ("bias_hh", bias_hh)):
        if b is None:
            continue
        check_tensor(name, b, where)
        if tuple(b.shape) != (rows,):
            raise ShapeError(
                f"{where}: {name} should have shape ({rows},), one entry per gate unit, got {shape_str(b)}; "
                f"a bias of another shape would be broadcast silently"
            )
    check_same_dtype_device(where, weight_ih, weight_hh=weight_hh, bias_ih=bias_ih, bias_hh=bias_hh, weight_hr=weight_hr)
    return weight_ih.shape[1], hidden, out


def check_cell_input(mode: str, x: torch.Tensor, input_size: int, weight: torch.Tensor) -> None:
    where = f"{mode}Cell"
    check_tensor("input", x, where)
    if x.dim() not in (1, 2):
        raise ShapeError(f"{where}: Expected input to be 1D or 2D, got {x.dim()}D instead")
    if x.shape[-1] != input_size:
        raise ShapeError(f"{where}: input has inconsistent input_size: got {x.shape[-1]} expected {input_size}")
    check_same_dtype_device(where, x, weight_ih=weight)


def check_cell_state(mode: str, name: str, state: torch.Tensor, x: torch.Tensor, size: int) -> None:
    """A state of a functional cell must have shape (batch, size), or (size,) for 1-D input."""
    where = f"{mode}Cell"
    check_tensor(name, state, where)
    expected = (size,) if x.dim() == 1 else (x.shape[0], size)
    if tuple(state.shape) != expected:
        raise ShapeError(
            f"{where}: {name} should have shape {expected} (batch, hidden) to match the input "
            f"{shape_str(x)}, got {shape_str(state)}"
        )
    check_same_dtype_device(where, x, **{name: state})
