"""Drop-in twins of torch.nn.RNN / LSTM / GRU and their *Cell versions.

Same constructor arguments, same parameter names and shapes (``weight_ih_l0``,
``bias_hh_l1_reverse``, ``weight_hr_l0``), same initialisation (for the same seed, the same
numbers), same forward signature and return structure. So
``ours.load_state_dict(theirs.state_dict())`` works both ways, and a learner can swap one for
the other. The forward pass is ``runners.run_stack`` over ``cells``.
"""

from __future__ import annotations

import math
import numbers
import warnings

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from . import cells
from .errors import GATES, ShapeError, check_tensor
from .runners import run_stack


def _check_constructor(mode, input_size, hidden_size, num_layers, bias, batch_first, dropout, proj_size):
    """torch.nn.RNNBase's argument checks, with its wording."""
    if not isinstance(dropout, numbers.Number) or isinstance(dropout, bool) or not 0 <= dropout <= 1:
        raise ValueError(
            "dropout should be a number in range [0, 1] representing the probability of an element being zeroed"
        )
    if dropout > 0 and num_layers == 1:
        warnings.warn(
            "dropout option adds dropout after all but last recurrent layer, so non-zero dropout expects "
            f"num_layers greater than 1, but got dropout={dropout} and num_layers={num_layers}",
            stacklevel=4,
        )
    for name, value in (("bias", bias), ("batch_first", batch_first)):
        if not isinstance(value, bool):
            raise TypeError(f"{name} should be of type bool, got: {type(value).__name__}")
    for name, value in (("input_size", input_size), ("hidden_size", hidden_size), ("num_layers", num_layers)):
        if not isinstance(value, int) or isinstance(value, bool):
            raise TypeError(f"{name} should be of type int, got: {type(value).__name__}")
        if value <= 0:
            raise ValueError(f"{name} must be greater than zero")
    if proj_size and mode != "LSTM":
        raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
    if not isinstance(proj_size, int) or proj_size < 0:
        raise ValueError("proj_size should be a positive integer or zero to disable projections")
    if proj_size >= hidden_size:
        raise ValueError(
            f"proj_size has to be smaller than hidden_size, got proj_size={proj_size} and hidden_size={hidden_size}"
        )


class RNNBase(nn.Module):
    """The machinery shared by RNN, LSTM and GRU: parameters, checks, packing."""

    def __init__(self, mode, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, proj_size=0, nonlinearity="tanh", device=None, dtype=None):
        super().__init__()
        _check_constructor(mode, input_size, hidden_size, num_layers, bias, batch_first, dropout, proj_size)
        cells.check_nonlinearity(nonlinearity)
        self.mode = mode
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout = bias, batch_first, float(dropout)
        self.bidirectional, self.proj_size, self.nonlinearity = bidirectional, proj_size, nonlinearity
        factory = {"device": device, "dtype": dtype}
        gate_size = len(GATES[mode]) * hidden_size
        out_size = proj_size or hidden_size
        self._all_weights = []
        # Registration order matters: reset_parameters draws in parameters() order, like torch.
        for layer in range(num_layers):
            for direction in range(self.num_directions):
                suffix = f"_l{layer}" + ("_reverse" if direction else "")
                layer_input = input_size if layer == 0 else out_size * self.num_directions
                shapes = {"weight_ih": (gate_size, layer_input), "weight_hh": (gate_size, out_size)}
                if bias:
                    shapes.update(bias_ih=(gate_size,), bias_hh=(gate_size,))
                if proj_size:
                    shapes["weight_hr"] = (proj_size, hidden_size)
                for name, shape in shapes.items():
                    setattr(self, name + suffix, nn.Parameter(torch.empty(shape, **factory)))
                self._all_weights.append([name + suffix for name in shapes])
        self.reset_parameters()

    @property
    def num_directions(self) -> int:
        return 2 if self.bidirectional else 1

    @property
    def all_weights(self) -> list[list[nn.Parameter]]:
        return [[getattr(self, name) for name in names] for names in self._all_weights]

    def reset_parameters(self) -> None:
        """uniform(-1/sqrt(H), 1/sqrt(H)) for every parameter, as torch does."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for weight in self.parameters():
            nn.init.uniform_(weight, -bound, bound)

    def layer_weights(self, layer: int, direction: int = 0) -> dict[str, Tensor]:
        """The parameters of one layer and direction under their cell names (weight_ih, ...)."""
        names = self._all_weights[layer * self.num_directions + direction]
        return {name.split("_l")[0]: getattr(self, name) for name in names}

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        defaults = {"proj_size": 0, "num_layers": 1, "bias": True, "batch_first": False,
                    "dropout": 0.0, "bidirectional": False}
        if self.mode == "RNN" and self.nonlinearity != "tanh":
            s += f", nonlinearity={self.nonlinearity}"
        for key, default in defaults.items():
            if getattr(self, key) != default:
                s += f", {key}={getattr(self, key)}"
        return s

    # ------------------------------------------------------------ forward
    def forward(self, input, hx=None):
        name = self.mode
        lengths = None
        if isinstance(input, PackedSequence):
            sorted_indices = input.sorted_indices
            padded, lengths = pad_packed_sequence(input)  # (T, B, D), original batch order
            x, batched = padded, True
            self._check_input(input.data, expected_dim=2)
        else:
            check_tensor("input", input, name)
            if input.dim() not in (2, 3):
                kind = " tensor" if name == "RNN" else ""
                raise ShapeError(f"{name}: Expected input to be 2D or 3D, got {input.dim()}D{kind} instead")
            batched = input.dim() == 3
            x = input if batched else input.unsqueeze(1)
            if batched and self.batch_first:
                x = x.transpose(0, 1)
            self._check_input(x, expected_dim=3)
        hx = self._prepare_hidden(hx, x, batched)
        output, hidden = run_stack(
            name, x, hx, [[self.layer_weights(l, d) for d in range(self.num_directions)] for l in range(self.num_layers)],
            dropout=self.dropout, training=self.training, lengths=lengths, nonlinearity=self.nonlinearity,
        )
        if lengths is not None:
            output = _repack(output, lengths, sorted_indices, input)
        elif not batched:
            output = output.squeeze(1)
        elif self.batch_first:
            output = output.transpose(0, 1)
        if not batched:
            hidden = tuple(h.squeeze(1) for h in hidden) if name == "LSTM" else hidden.squeeze(1)
        return output, hidden

    def _check_input(self, x: Tensor, expected_dim: int) -> None:
        weight = self.weight_ih_l0
        if x.dtype != weight.dtype:
            raise ValueError(
                f"RNN input dtype ({x.dtype}) does not match weight dtype ({weight.dtype}). "
                f"Convert input: input.to({weight.dtype}), or convert model: model.to({x.dtype})"
            )
        if x.device != weight.device:
            raise RuntimeError(
                f"Input and parameter tensors are not at the same device, found input tensor at {x.device} "
                f"and parameter tensor at {weight.device}"
            )
        if x.dim() != expected_dim:
            raise ShapeError(f"input must have {expected_dim} dimensions, got {x.dim()}")
        if x.size(-1) != self.input_size:
            raise ShapeError(
                f"input.size(-1) must be equal to input_size. Expected {self.input_size}, got {x.size(-1)}"
            )

    def _prepare_hidden(self, hx, x: Tensor, batched: bool):
        """Zeros if hx is None; else check its dimensions and size like torch, return 3-D."""
        layers = self.num_layers * self.num_directions
        batch = x.shape[1]
        out_size = self.proj_size or self.hidden_size
        expected = {"h": (layers, batch, out_size), "c": (layers, batch, self.hidden_size)}
        if hx is None:
            zeros = {k: torch.zeros(v, dtype=x.dtype, device=x.device) for k, v in expected.items()}
            return (zeros["h"], zeros["c"]) if self.mode == "LSTM" else zeros["h"]
        want = 3 if batched else 2
        shape_of = "batched 3-D" if batched else "unbatched 2-D"
        if self.mode == "LSTM":
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                raise ShapeError(f"LSTM: hx should be a tuple (h_0, c_0), got {type(hx).__name__}")
            for t in hx:
                check_tensor("hx", t, "LSTM")
            if hx[0].dim() != want or hx[1].dim() != want:
                raise ShapeError(
                    f"For {shape_of} input, hx and cx should also be {want}-D but got "
                    f"({hx[0].dim()}-D, {hx[1].dim()}-D) tensors"
                )
            h, c = (hx if batched else (hx[0].unsqueeze(1), hx[1].unsqueeze(1)))
            for label, t, key in (("hidden[0]", h, "h"), ("hidden[1]", c, "c")):
                self._check_hidden(t, expected[key], x, f"Expected {label} size {{}}, got {{}}")
            return h, c
        check_tensor("hx", hx, self.mode)
        if hx.dim() != want:
            raise ShapeError(f"For {shape_of} input, hx should also be {want}-D but got {hx.dim()}-D tensor")
        h = hx if batched else hx.unsqueeze(1)
        self._check_hidden(h, expected["h"], x, "Expected hidden size {}, got {}")
        return h

    @staticmethod
    def _check_hidden(t: Tensor, expected, x: Tensor, msg: str) -> None:
        if tuple(t.shape) != expected:
            raise ShapeError(msg.format(expected, list(t.shape)))
        if t.dtype != x.dtype or t.device != x.device:
            raise TypeError(
                f"the initial state should have the input's dtype {x.dtype} on {x.device}, "
                f"got {t.dtype} on {t.device}"
            )


def _repack(output: Tensor, lengths: Tensor, sorted_indices, packed_in: PackedSequence) -> PackedSequence:
    """Pack the padded output with exactly the input's batch order and batch_sizes."""
    if sorted_indices is not None:
        output, lengths = output.index_select(1, sorted_indices), lengths[sorted_indices.cpu()]
    data = pack_padded_sequence(output, lengths, enforce_sorted=True).data
    return PackedSequence(data, packed_in.batch_sizes, packed_in.sorted_indices, packed_in.unsorted_indices)


class RNN(RNNBase):
    """Elman RNN, h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh), like torch.nn.RNN."""

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, device=None, dtype=None, proj_size=0):
        super().__init__("RNN", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         proj_size, nonlinearity, device, dtype)


class LSTM(RNNBase):
    """LSTM with gate blocks i, f, g, o, optional projections, like torch.nn.LSTM."""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, proj_size=0, device=None, dtype=None):
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         proj_size, "tanh", device, dtype)


class GRU(RNNBase):
    """GRU with gate blocks r, z, n, like torch.nn.GRU."""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, device=None, dtype=None, proj_size=0):
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         proj_size, "tanh", device, dtype)


# ---------------------------------------------------------------- single cells
class RNNCellBase(nn.Module):
    def __init__(self, mode, input_size, hidden_size, bias=True, nonlinearity="tanh", device=None, dtype=None):
        super().__init__()
        _check_constructor(mode, input_size, hidden_size, 1, bias, False, 0.0, 0)
        cells.check_nonlinearity(nonlinearity)
        self.mode, self.input_size, self.hidden_size, self.bias = mode, input_size, hidden_size, bias
        self.nonlinearity = nonlinearity
        factory = {"device": device, "dtype": dtype}
        gate_size = len(GATES[mode]) * hidden_size
        self.weight_ih = nn.Parameter(torch.empty(gate_size, input_size, **factory))
        self.weight_hh = nn.Parameter(torch.empty(gate_size, hidden_size, **factory))
        if bias:
            self.bias_ih = nn.Parameter(torch.empty(gate_size, **factory))
            self.bias_hh = nn.Parameter(torch.empty(gate_size, **factory))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1.0 / math.sqrt(self.hidden_size)
        for weight in self.parameters():
            nn.init.uniform_(weight, -bound, bound)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            s += ", bias=False"
        if self.mode == "RNN" and self.nonlinearity != "tanh":
            s += f", nonlinearity={self.nonlinearity}"
        return s

    def _check_dims(self, input, states):
        check_tensor("input", input, f"{self.mode}Cell")
        if input.dim() not in (1, 2):
            raise ShapeError(f"{self.mode}Cell: Expected input to be 1D or 2D, got {input.dim()}D instead")
        for label, t in states:
            if t is not None and t.dim() not in (1, 2):
                raise ShapeError(f"{self.mode}Cell: Expected {label} to be 1D or 2D, got {t.dim()}D instead")

    def _weights(self):
        return self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh


class RNNCell(RNNCellBase):
    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", device=None, dtype=None):
        super().__init__("RNN", input_size, hidden_size, bias, nonlinearity, device, dtype)

    def forward(self, input, hx=None):
        self._check_dims(input, [("hidden", hx)])
        return cells.rnn_cell(input, hx, *self._weights(), nonlinearity=self.nonlinearity)


class LSTMCell(RNNCellBase):
    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__("LSTM", input_size, hidden_size, bias, "tanh", device, dtype)

    def forward(self, input, hx=None):
        states = [] if hx is None else [(f"hx[{k}]", t) for k, t in enumerate(hx)]
        self._check_dims(input, states)
        return cells.lstm_cell(input, hx, *self._weights())


class GRUCell(RNNCellBase):
    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__("GRU", input_size, hidden_size, bias, "tanh", device, dtype)

    def forward(self, input, hx=None):
        self._check_dims(input, [("hidden", hx)])
        return cells.gru_cell(input, hx, *self._weights())
