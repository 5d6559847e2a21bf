"""The same LSTM weights written the ways different courses and libraries write them.

torch (and this package) fuses the four gates into one matrix per input, gate blocks in the
order i, f, g, o, a row per output unit, applied as ``x @ W.T``. The source notebooks and other
courses use other layouts; everything here converts exactly (no arithmetic, only slicing,
stacking and transposing), so ``from_X(to_X(w)) == w`` bit for bit.

===========  ===========  ========================================  =========================
convention   gate order   tensors                                   applied as
===========  ===========  ========================================  =========================
torch        i f g o      weight_ih (4H, D), weight_hh (4H, H),     x @ W_ih.T + h @ W_hh.T
                          bias_ih (4H,), bias_hh (4H,)              + b_ih + b_hh
per-gate     one each     W_xi (H, D), W_hi (H, H), b_i (H,), ...   x @ W_xi.T + h @ W_hi.T
  transposed one each     W_xi (D, H), W_hi (H, H), b_i (H,), ...   x @ W_xi + h @ W_hi
cs231n       i f o g      Wx (D, 4H), Wh (H, 4H), b (4H,)           x @ Wx + h @ Wh + b
keras        i f c o      kernel (D, 4H), recurrent_kernel (H, 4H), x @ kernel + h @ rk + bias
                          bias (4H,)
onnx         i o f c      W (1, 4H, D), R (1, 4H, H), B (1, 8H)     x @ W[0].T + h @ R[0].T
                                                                    + B[0, :4H] + B[0, 4H:]
seed002      f i g o      W_x (4H, D), W_h (4H, H), b_x, b_h        like torch, other order
===========  ===========  ========================================  =========================

Keras's "c" and ONNX's "c" are torch's candidate "g". Conventions with one bias receive
``bias_ih + bias_hh``; going back, the whole bias goes to ``bias_ih`` and ``bias_hh`` is zero
(the same function, not the same tensors).
"""

from __future__ import annotations

import torch
from torch import Tensor

from .errors import ShapeError, WeightsKeyError, check_tensor, shape_str
from .gates import GATES, TORCH_ORDER

CONVENTIONS = {
    "torch": TORCH_ORDER,
    "cs231n": "ifog",
    "keras": "ifco",  # c is the candidate, torch's g
    "onnx": "iofc",
    "seed002": "figo",
}
# The table at the top as data, for the checks: each convention's tensors, their sizes in D (input
# size) and H (hidden size), so that a message can name what was given in the convention's own terms.
# The first tensor is the input matrix, the second the recurrent one.
SHAPES = {
    "torch": {"weight_ih": "4H D", "weight_hh": "4H H", "bias_ih": "4H", "bias_hh": "4H"},
    "cs231n": {"Wx": "D 4H", "Wh": "H 4H", "b": "4H"},
    "keras": {"kernel": "D 4H", "recurrent_kernel": "H 4H", "bias": "4H"},
    "onnx": {"W": "1 4H D", "R": "1 4H H", "B": "1 8H"},
    "seed002": {"W_x": "4H D", "W_h": "4H H", "b_x": "4H", "b_h": "4H"},
}


def _normalise_order(order: str) -> str:
    """Accept 'c' for the candidate (Keras, ONNX, the seeds) and return torch's letters."""
    if not isinstance(order, str):
        raise TypeError(f"a gate order should be a string such as 'ifgo', got {type(order).__name__}")
    normal = order.lower().replace("c", "g")
    if sorted(normal) != sorted(TORCH_ORDER):
        raise ValueError(
            f"a gate order should name each of the gates i, f, g (or c), o exactly once, got {order!r}"
        )
    return normal


def reorder_gates(t: Tensor, from_order: str, to_order: str, dim: int = 0) -> Tensor:
    """Permute the four gate blocks of ``t`` along ``dim`` from one order to another."""
    src, dst = _normalise_order(from_order), _normalise_order(to_order)
    if t.shape[dim] % 4:
        raise ShapeError(
            f"reorder_gates: dim {dim} of a tensor with shape {shape_str(t)} should hold 4 gate blocks, "
            f"but {t.shape[dim]} is not a multiple of 4"
        )
    blocks = dict(zip(src, t.chunk(4, dim=dim)))
    return torch.cat([blocks[gate] for gate in dst], dim=dim)


# ---------------------------------------------------------------- per-gate <-> fused
def split_gates(weight_ih, weight_hh, bias_ih=None, bias_hh=None, *, transposed=False, two_biases=False) -> dict:
    """Fused torch weights -> one tensor per gate: ``W_xi, W_hi, b_i, W_xf, ...``.

    ``transposed=True`` gives seed 003's ``x @ W`` convention (``W_xi`` of shape (D, H)).
    ``two_biases=True`` keeps torch's two biases as ``b_xi`` and ``b_hi``; otherwise they are
    summed into ``b_i``.
    """
    _check_shapes("split_gates", SHAPES["torch"], dict(weight_ih=weight_ih, weight_hh=weight_hh, bias_ih=bias_ih,
                                                       bias_hh=bias_hh))
    out = {}
    parts = {
        "W_x": weight_ih.chunk(4, 0),
        "W_h": weight_hh.chunk(4, 0),
        "b_x": bias_ih.chunk(4, 0) if bias_ih is not None else None,
        "b_h": bias_hh.chunk(4, 0) if bias_hh is not None else None,
    }
    for k, gate in enumerate(TORCH_ORDER):
        for prefix in ("W_x", "W_h"):
            w = parts[prefix][k]
            out[prefix + gate] = (w.t() if transposed else w).clone()
        bx = parts["b_x"][k] if parts["b_x"] is not None else None
        bh = parts["b_h"][k] if parts["b_h"] is not None else None
        if two_biases:
            if bx is not None:
                out["b_x" + gate] = bx.clone()
            if bh is not None:
                out["b_h" + gate] = bh.clone()
        elif bx is not None or bh is not None:
            out["b_" + gate] = (bx if bh is None else bh if bx is None else bx + bh).clone()
    return out


def fuse_gates(per_gate: dict, *, transposed: bool = False) -> dict:
    """One tensor per gate -> torch's fused ``weight_ih, weight_hh, bias_ih, bias_hh``.

    Accepts the names ``split_gates`` writes, with ``c`` allowed for the candidate
    (``W_xc`` as in seeds 001 and 003). Missing biases give a dict without bias entries.
    """
    gates = {}
    for name, value in per_gate.items():
        if not isinstance(value, Tensor):
            raise TypeError(f"fuse_gates: {name} should be a tensor, got {type(value).__name__}")
        prefix, gate = name[:-1], name[-1]
        if gate == "c":
            gate = "g"
        if prefix not in ("W_x", "W_h", "b_", "b_x", "b_h") or gate not in TORCH_ORDER:
            raise WeightsKeyError(
                f"fuse_gates: unexpected name {name!r}; expected W_x?, W_h?, b_? (or b_x?, b_h?) "
                f"with ? one of i, f, g (or c), o"
            )
        gates[(prefix, gate)] = value
    for prefix in ("W_x", "W_h"):
        missing = [g for g in TORCH_ORDER if (prefix, g) not in gates]
        if missing:
            raise WeightsKeyError(f"fuse_gates: missing {', '.join(prefix + g for g in missing)}")

    def stack(prefix, is_weight):
        blocks = [gates[(prefix, g)] for g in TORCH_ORDER]
        if is_weight and transposed:
            blocks = [b.t() for b in blocks]
        shapes = {tuple(b.shape) for b in blocks}
        if len(shapes) != 1:
            raise ShapeError(
                f"fuse_gates: the four {prefix}? tensors should share one shape, got "
                + ", ".join(f"{prefix}{g} {shape_str(b)}" for g, b in zip(TORCH_ORDER, blocks))
            )
        return torch.cat(blocks, 0)

    has = {p: all((p, g) in gates for g in TORCH_ORDER) for p in ("b_", "b_x", "b_h")}
    groups = ["W_x", "W_h", *(["b_"] if has["b_"] else [p for p in ("b_x", "b_h") if has[p]])]
    fused = {p: stack(p, p.startswith("W_")) for p in groups}
    # the groups against each other, in the names given: one tensor stands for its group of four
    shapes = {"W_x?": "D H" if transposed else "H D", "W_h?": "H H", **{f"{p}?": "H" for p in groups[2:]}}
    _check_shapes("fuse_gates", shapes, {f"{p}?": gates[(p, "i")] for p in groups})
    out = {"weight_ih": fused["W_x"], "weight_hh": fused["W_h"]}
    if "b_" in fused:
        out["bias_ih"], out["bias_hh"] = fused["b_"], torch.zeros_like(fused["b_"])
    elif len(groups) > 2:
        bx, bh = fused.get("b_x"), fused.get("b_h")
        out["bias_ih"] = bx if bx is not None else torch.zeros_like(bh)
        out["bias_hh"] = bh if bh is not None else torch.zeros_like(bx)
    return out


def _check_shapes(where: str, shapes: dict, tensors: dict) -> None:
    """``tensors`` (name -> tensor; None for a bias left out) against ``shapes`` (name -> sizes in D and H).

    H is read off the recurrent matrix (the second name), D off the input matrix (the first), and
    every message names the tensors and shapes the caller gave, not those of the tensors made of them.
    """
    given = {name: tensors[name] for name in shapes if tensors.get(name) is not None}
    for name, t in given.items():
        check_tensor(name, t, where)
    for name, t in given.items():
        if t.dim() != len(shapes[name].split()):
            raise ShapeError(f"{where}: {name} should be {len(shapes[name].split())}-D ({_sizes(shapes[name])}), "
                             f"got shape {shape_str(t)}")
    input_name, recurrent_name = list(shapes)[:2]
    recurrent, pattern = given[recurrent_name], shapes[recurrent_name].split()
    hidden = _hidden_read(pattern, recurrent.shape)
    if hidden == 0:
        raise ShapeError(f"{where}: {recurrent_name} should have shape ({_sizes(pattern)}) with H ≥ 1, "
                         f"got {shape_str(recurrent)}")
    expected = _expected(pattern, hidden, 0)
    if tuple(recurrent.shape) != expected:
        raise ShapeError(f"{where}: {recurrent_name} should have shape ({_sizes(pattern)}) = ({_sizes(expected)}) "
                         f"for the hidden size H = {hidden} it reads, got {shape_str(recurrent)}"
                         + _hint(pattern, recurrent.shape, hidden))
    features = given[input_name].shape[shapes[input_name].split().index("D")]
    for name, t in given.items():
        expected = _expected(shapes[name].split(), hidden, features)
        if tuple(t.shape) != expected:
            raise ShapeError(f"{where}: {name} should have shape ({_sizes(shapes[name])}) = ({_sizes(expected)}) for "
                             f"the hidden size H = {hidden} of {recurrent_name} {shape_str(recurrent)}, "
                             f"got {shape_str(t)}" + _hint(shapes[name].split(), t.shape, hidden))
    first = given[input_name]
    for name, t in given.items():
        if t.dtype != first.dtype or t.device != first.device:
            raise (TypeError if t.dtype != first.dtype else RuntimeError)(
                f"{where}: {name} is {t.dtype} on {t.device}, but {input_name} is {first.dtype} on {first.device}; "
                f"one LSTM's tensors share one dtype and one device")


def _hidden_read(pattern, shape) -> int:
    """The size of the h a recurrent matrix multiplies: its size where ``pattern`` says H last."""
    return shape[len(pattern) - 1 - pattern[::-1].index("H")]


def _expected(pattern, hidden: int, features: int) -> tuple:
    """Sizes such as ("4H", "D") as numbers: "4H" is 4 * hidden, "D" is features, "1" is 1."""
    return tuple(features if d == "D" else int(d[:-1] or 1) * hidden if d.endswith("H") else int(d) for d in pattern)


def _sizes(sizes) -> str:
    """("4H", "D") or "4H D" or (8, 3) written as a shape: "4H, D", "8, 3"; one size keeps its comma."""
    sizes = sizes.split() if isinstance(sizes, str) else sizes
    return ", ".join(map(str, sizes)) + ("," if len(sizes) == 1 else "")


def _hint(pattern, shape, hidden: int) -> str:
    """What a tensor that does not fit ``pattern`` may be instead: two directions' weights (ONNX's
    leading 1 counts directions), a GRU's or an RNN's weights, or the other convention's transpose."""
    if "1" in pattern and shape[pattern.index("1")] != 1:
        return f"; the leading 1 is the number of directions, {shape[pattern.index('1')]} here, and one is converted at a time"
    if "4H" in pattern:
        blocks = shape[pattern.index("4H")]
        for mode, gates in GATES.items():
            if mode != "LSTM" and blocks == len(gates) * hidden:
                return (f": it holds {len(gates)} gate block{'s' * (len(gates) > 1)} of hidden size {hidden}, these "
                        f"look like a{'n' * (mode == 'RNN')} {mode}'s weights ({', '.join(gates)}), but the layouts "
                        f"convert an LSTM's four blocks i, f, g, o (4H = {4 * hidden} for hidden size {hidden})")
    if "H" in pattern and len(shape) >= 2:  # a recurrent matrix, given in x @ W's layout for W @ x's or back
        flipped = (*shape[:-2], shape[-1], shape[-2])
        h = _hidden_read(pattern, flipped)
        if h and flipped == _expected(pattern, h, 0):
            return f"; transposed, ({_sizes(flipped)}), it would fit"
    return ""


# ---------------------------------------------------------------- other conventions
def to_convention(weights: dict, convention: str) -> dict:
    """torch's fused LSTM weights (a dict with ``weight_ih``, ``weight_hh`` and optional
    biases) -> the tensors another convention would hold for the same LSTM."""
    if not isinstance(weights, dict):
        raise TypeError(f"to_convention: weights should be a dict of torch's fused tensors, got {type(weights).__name__}")
    missing = [k for k in ("weight_ih", "weight_hh") if k not in weights]
    if missing:
        per_gate = any(str(k).startswith(("W_x", "W_h")) for k in weights)
        hint = ("; these are per-gate tensors: fuse them first, to_convention(fuse_gates(weights), ...)"
                if per_gate else "")
        raise WeightsKeyError(f"to_convention: weights should hold torch's fused weight_ih, weight_hh (and optionally "
                              f"bias_ih, bias_hh), missing {', '.join(missing)}; given: {', '.join(map(str, weights))}"
                              + hint)
    w_ih, w_hh = weights["weight_ih"], weights["weight_hh"]
    b_ih, b_hh = weights.get("bias_ih"), weights.get("bias_hh")
    _check_shapes("to_convention", SHAPES["torch"], dict(weight_ih=w_ih, weight_hh=w_hh, bias_ih=b_ih, bias_hh=b_hh))
    zeros = torch.zeros(w_ih.shape[0], dtype=w_ih.dtype, device=w_ih.device)
    b_ih = zeros if b_ih is None else b_ih
    b_hh = zeros if b_hh is None else b_hh
    order = _order_of(convention)

    def r(t, dim=0):
        return reorder_gates(t, TORCH_ORDER, order, dim)

    if convention == "torch":
        return {"weight_ih": w_ih.clone(), "weight_hh": w_hh.clone(), "bias_ih": b_ih.clone(), "bias_hh": b_hh.clone()}
    if convention == "cs231n":
        return {"Wx": r(w_ih).t().contiguous(), "Wh": r(w_hh).t().contiguous(), "b": r(b_ih + b_hh)}
    if convention == "keras":
        return {"kernel": r(w_ih).t().contiguous(), "recurrent_kernel": r(w_hh).t().contiguous(), "bias": r(b_ih + b_hh)}
    if convention == "onnx":
        return {"W": r(w_ih).unsqueeze(0), "R": r(w_hh).unsqueeze(0), "B": torch.cat([r(b_ih), r(b_hh)]).unsqueeze(0)}
    if convention == "seed002":
        return {"W_x": r(w_ih), "W_h": r(w_hh), "b_x": r(b_ih), "b_h": r(b_hh)}
    raise AssertionError("unreachable")  # _order_of has rejected unknown names


def from_convention(params: dict, convention: str) -> dict:
    """The inverse of ``to_convention``: back to torch's fused layout."""
    order = _order_of(convention)
    where, names = f"from_convention({convention!r})", list(SHAPES[convention])
    missing = [n for n in names if n not in params]
    if missing:
        raise WeightsKeyError(f"{where}: missing {', '.join(missing)}; expected {', '.join(names)}")
    # checked as given, so that a message quotes the convention's own tensors, not torch's made of them
    _check_shapes(where, SHAPES[convention], params)
    given = [params[n] for n in names]

    def r(t, dim=0):
        return reorder_gates(t, order, TORCH_ORDER, dim)

    if convention == "torch":
        return {name: t.clone() for name, t in zip(names, given)}
    if convention in ("cs231n", "keras"):
        wx, wh, b = given
        out = {"weight_ih": r(wx, 1).t().contiguous(), "weight_hh": r(wh, 1).t().contiguous(), "bias_ih": r(b)}
        return {**out, "bias_hh": torch.zeros_like(out["bias_ih"])}
    if convention == "onnx":
        W, R, B = given
        b_w, b_r = B[0].chunk(2)
        return {"weight_ih": r(W[0]), "weight_hh": r(R[0]), "bias_ih": r(b_w), "bias_hh": r(b_r)}
    W_x, W_h, b_x, b_h = given  # seed002
    return {"weight_ih": r(W_x), "weight_hh": r(W_h), "bias_ih": r(b_x), "bias_hh": r(b_h)}


def _order_of(convention: str) -> str:
    if convention not in CONVENTIONS:
        raise ValueError(f"unknown convention {convention!r}; expected one of {', '.join(CONVENTIONS)}")
    return CONVENTIONS[convention]
