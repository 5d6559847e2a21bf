"""Drop-in twins of torch.nn.RNN / LSTM / GRU and their *Cell versions.

Same constructor arguments, same parameter names and shapes (``weight_ih_l0``,
``bias_hh_l1_reverse``, ``weight_hr_l0``), same initialisation (for the same seed, the same
numbers), same forward signature and return structure. So
``ours.load_state_dict(theirs.state_dict())`` works both ways, and a learner can swap one for
the other. The forward pass is ``runners.run_stack`` over ``cells``.

The habits torch code relies on work too: ``flatten_parameters()`` (a no-op, as on torch's CPU),
``_flat_weights_names`` / ``_flat_weights``, CPU autocast (the RNN and the LSTM run in its
lower precision, the GRU in float32, as torch's do), double backward and ``torch.func``
transforms, ``torch.compile``, an empty batch, the meta device. TorchScript is refused with a
message that says why.
"""

from __future__ import annotations

import math
import numbers
import warnings

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from . import cells
from .errors import EmptyPackError, ShapeError, check_same_dtype_device, check_tensor, shape_str
from .gates import GATES
from .loop import autocast_enabled
from .runners import run_stack_unchecked


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
                 dropout=0.0, bidirectional=False, proj_size=0, nonlinearity="tanh", device=None, dtype=None,
                 hand_written_backward=True):
        super().__init__()
        if not isinstance(hand_written_backward, bool):
            raise TypeError(f"hand_written_backward should be of type bool, got: {type(hand_written_backward).__name__}")
        # True trains the LSTM and the GRU with BPTT by hand (lstm_function, gru_function), False with
        # autograd; both constructors take it, and it may be changed later as an attribute. The RNN has
        # no hand-written backward: it keeps the default, which changes nothing there.
        self.hand_written_backward = hand_written_backward
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
        self._flat_weights_names = [name for names in self._all_weights for name in names]
        # each layer and direction's parameters as (cell name, parameter name), [layer][direction], worked out once
        cell_names = [[(name.split("_l")[0], name) for name in names] for names in self._all_weights]
        self._cell_names = [cell_names[k:k + self.num_directions] for k in range(0, len(cell_names), self.num_directions)]
        self.reset_parameters()

    @property
    def num_directions(self) -> int:
        return 2 if self.bidirectional else 1

    @property
    def all_weights(self) -> list[list[nn.Parameter]]:
        return [[getattr(self, name) for name in names] for names in self._all_weights]

    @property
    def _flat_weights(self) -> list[nn.Parameter]:
        """The parameters in torch's flat order (``_flat_weights_names``), as torch.nn.RNNBase has them."""
        return [getattr(self, name) for name in self._flat_weights_names]

    def flatten_parameters(self) -> None:
        """torch packs the weights into one buffer for cuDNN here; on the CPU (and here) there is nothing to do.

        Many published models call ``self.lstm.flatten_parameters()`` in ``forward``; it works.
        """

    def __prepare_scriptable__(self):
        raise _not_scriptable(type(self).__name__)

    def reset_parameters(self) -> None:
        """uniform(-1/sqrt(H), 1/sqrt(H)) for every parameter, as torch does."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for weight in self.parameters():
            nn.init.uniform_(weight, -bound, bound)

    def layer_weights(self, layer: int, direction: int = 0) -> dict[str, Tensor]:
        """The parameters of one layer and direction under their cell names (weight_ih, ...)."""
        # From _parameters when they are there: nn.Module finds a parameter by getattr only after
        # ordinary lookup has failed, which costs about as much as a tensor operation, four per layer
        # in every forward. A weight that is not there (torch.nn.utils.parametrize moves it, a user
        # may replace it by a plain tensor) is found by getattr.
        params = self._parameters
        return {cell_name: params[name] if name in params else getattr(self, name)
                for cell_name, name in self._cell_names[layer][direction]}

    def _all_layer_weights(self) -> list[list[dict[str, Tensor]]]:
        """``layer_weights`` of every layer and direction, ``[layer][direction]``, as ``run_stack`` takes them."""
        return [[self.layer_weights(layer, direction) for direction in range(self.num_directions)]
                for layer in range(self.num_layers)]

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        defaults = {"proj_size": 0, "num_layers": 1, "bias": True, "batch_first": False,
                    "dropout": 0.0, "bidirectional": False}
        if self.mode == "RNN" and self.nonlinearity != "tanh":
            s += f", nonlinearity={self.nonlinearity}"
        for key, default in defaults.items():
            if getattr(self, key) != default:
                s += f", {key}={getattr(self, key)}"
        if self.mode != "RNN" and not self.hand_written_backward:  # torch.nn has no such argument: shown only when set
            s += ", hand_written_backward=False"
        return s

    # ------------------------------------------------------------ forward
    def forward(self, input, hx=None):
        name = self.mode
        if torch.jit.is_tracing():
            raise _not_scriptable(name, traced=True)
        lengths = None
        weights = self._all_layer_weights()
        if isinstance(input, PackedSequence):
            _check_packed(name, input)
            self._check_input(input.data, 2, weights[0][0]["weight_ih"])
            pack, sorted_indices = input, input.sorted_indices
            if sorted_indices is not None and sorted_indices.device.type == "meta":
                # Meta tensors have shapes and no values, so the batch order cannot be read (torch's
                # pad_packed_sequence tries, and fails); nor does it change a shape: keep the sorted one.
                pack, sorted_indices = PackedSequence(input.data, input.batch_sizes), None
            padded, lengths = pad_packed_sequence(pack)  # (T, B, D), in the batch's original order
            x, batched = padded, True
        else:
            check_tensor("input", input, name)
            if input.dim() not in (2, 3):
                kind = " tensor" if name == "RNN" else ""
                raise ShapeError(f"{name}: Expected input to be 2D or 3D, got {input.dim()}D{kind} instead")
            batched = input.dim() == 3
            x = input if batched else input.unsqueeze(1)
            if batched and self.batch_first:
                x = x.transpose(0, 1)
            self._check_input(x, 3, weights[0][0]["weight_ih"])
        if x.shape[0] == 0:
            raise ShapeError("Expected sequence length to be larger than 0 in RNN")
        hx = self._prepare_hidden(hx, x, batched)
        output, hidden = self._run(x, hx, weights, lengths)
        if lengths is not None:
            output = _repack(output, lengths, sorted_indices, input)
        elif not batched:
            output = output.squeeze(1)
        elif self.batch_first:
            output = output.transpose(0, 1)
        if not batched:
            hidden = tuple(h.squeeze(1) for h in hidden) if name == "LSTM" else hidden.squeeze(1)
        return output, hidden

    def _run(self, x, hx, weights, lengths):
        def run(x, hx, weights):
            return run_stack_unchecked(self.mode, x, hx, weights, self.dropout, self.training, lengths,
                                       self.nonlinearity, self.hand_written_backward)

        device = x.device.type
        if not autocast_enabled(device) or x.dtype != torch.float32 or (device == "cpu" and self.mode == "GRU"):
            return run(x, hx, weights)
        # Autocast, as torch does it: its LSTM and RNN kernels are on autocast's list and run wholly in
        # the autocast dtype (every input, state and weight cast). Its CPU GRU is not: autocast reaches
        # only the GRU's matmuls, exactly as it reaches ours, and the states stay float32.
        with torch.autocast(device, enabled=False):
            low = torch.get_autocast_dtype(device)
            if isinstance(hx, tuple):
                hx = tuple(h.to(low) for h in hx)
            elif hx is not None:  # None: zeros, made in the low dtype by the runner
                hx = hx.to(low)
            weights = [[{k: w.to(low) for k, w in d.items()} for d in layer] for layer in weights]
            return run(x.to(low), hx, weights)

    def _check_input(self, x: Tensor, expected_dim: int, weight: Tensor) -> None:
        """dtype, device, dimensions and size of the input, against the first layer's ``weight_ih``."""
        check_same_dtype_device(None, x, weight=weight)
        if x.dim() != expected_dim:
            raise ShapeError(f"input must have {expected_dim} dimensions, got {x.dim()}")
        if x.size(-1) != self.input_size:
            raise ShapeError(
                f"input.size(-1) must be equal to input_size. Expected {self.input_size}, got {x.size(-1)}"
            )

    def _prepare_hidden(self, hx, x: Tensor, batched: bool):
        """Check hx's dimensions and size like torch and return it 3-D; None stays None (zeros, see runners)."""
        if hx is None:
            return None
        layers = self.num_layers * self.num_directions
        batch = x.shape[1]
        out_size = self.proj_size or self.hidden_size
        expected = {"h": (layers, batch, out_size), "c": (layers, batch, self.hidden_size)}
        want = 3 if batched else 2
        shape_of = "batched 3-D" if batched else "unbatched 2-D"
        if self.mode == "LSTM":
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                given = f"a {type(hx).__name__} of {len(hx)}" if isinstance(hx, (tuple, list)) else (
                    f"a single tensor of shape {shape_str(hx)}" if isinstance(hx, Tensor) else type(hx).__name__)
                raise ShapeError(f"LSTM: hx should be a tuple (h_0, c_0), got {given}")
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
        check_same_dtype_device(None, x, hidden=t)


def _not_scriptable(name: str, traced: bool = False) -> RuntimeError:
    why = ("torch.jit.trace would record the loop unrolled for the traced sequence length only" if traced
           else "torch.jit.script cannot compile it")
    loop = "" if name.endswith("Cell") else " (a loop over time steps; the LSTM's also a hand-written autograd.Function)"
    return RuntimeError(
        f"lstm_lab.{name} is not TorchScript-able: its forward is plain Python{loop}, and {why}. Use torch.compile(model), which works, or "
        f"script torch.nn.{name} holding the same weights (load_state_dict(model.state_dict()))."
    )


def _check_packed(name: str, packed: PackedSequence) -> None:
    """A hand-made PackedSequence must be one pack_padded_sequence could have made; torch reads it unchecked."""
    data, batch_sizes = packed.data, packed.batch_sizes
    check_tensor("input.data", data, name)
    if not isinstance(batch_sizes, Tensor) or batch_sizes.dim() != 1 or batch_sizes.dtype != torch.int64 \
            or batch_sizes.device.type != "cpu":
        given = (f"a {batch_sizes.dtype} tensor of shape {tuple(batch_sizes.shape)} on {batch_sizes.device}"
                 if isinstance(batch_sizes, Tensor) else type(batch_sizes).__name__)
        raise ValueError(f"{name}: a PackedSequence's batch_sizes should be a 1-D int64 tensor on the CPU, got {given}")
    sizes = batch_sizes.tolist()
    if not sizes:
        raise EmptyPackError(f"{name}: a PackedSequence should hold at least one step, got batch_sizes [] and data of "
                             f"shape {shape_str(data)}; pack_padded_sequence and pack_sequence refuse to make an empty pack")
    if sizes[0] < 1 or any(b < 1 for b in sizes) or any(a < b for a, b in zip(sizes, sizes[1:])):
        raise ValueError(
            f"{name}: a PackedSequence's batch_sizes (how many sequences are still running at each step) should "
            f"be positive and never increase, got {sizes}; build packs with pack_padded_sequence or pack_sequence"
        )
    if data.dim() < 1 or data.shape[0] != sum(sizes):
        raise ShapeError(
            f"{name}: a PackedSequence's data should have sum(batch_sizes) = {sum(sizes)} rows (one per valid "
            f"step of every sequence), got data of shape {shape_str(data)}"
        )
    batch = sizes[0]
    # the indices given, but those on the meta device: they have no values to check
    given = {label: indices for label, indices in (("sorted_indices", packed.sorted_indices),
                                                   ("unsorted_indices", packed.unsorted_indices))
             if indices is not None and not (isinstance(indices, Tensor) and indices.device.type == "meta")}
    for label, indices in given.items():
        if not isinstance(indices, Tensor) or indices.dim() != 1 or indices.dtype != torch.int64 or \
                sorted(indices.tolist()) != list(range(batch)):
            raise ValueError(f"{name}: a PackedSequence's {label} should be a permutation of 0..{batch - 1} "
                             f"(int64), got {indices.tolist() if isinstance(indices, Tensor) else indices!r}")
    if len(given) == 2 and \
            not torch.equal(packed.sorted_indices[packed.unsorted_indices].cpu(), torch.arange(batch)):
        raise ValueError(f"{name}: a PackedSequence's unsorted_indices should undo its sorted_indices")


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
    """LSTM with gate blocks i, f, g, o, optional projections, like torch.nn.LSTM.

    One argument torch.nn.LSTM does not have: ``hand_written_backward`` (default True) trains with
    the backward pass written by hand (``lstm_lab.lstm_function``); False uses plain autograd
    through the step loop. Both give torch's gradients, double backward and ``torch.func`` included.
    """

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, proj_size=0, device=None, dtype=None, *, hand_written_backward=True):
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         proj_size, "tanh", device, dtype, hand_written_backward)


class GRU(RNNBase):
    """GRU with gate blocks r, z, n, like torch.nn.GRU.

    ``hand_written_backward`` as for ``LSTM``: True (default) trains with the backward pass written by
    hand (``lstm_lab.gru_function``), False with plain autograd through the step loop.
    """

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, device=None, dtype=None, proj_size=0, *, hand_written_backward=True):
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         proj_size, "tanh", device, dtype, hand_written_backward)


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

    reset_parameters = RNNBase.reset_parameters  # torch's initialisation, the same for a cell

    def __prepare_scriptable__(self):
        raise _not_scriptable(f"{self.mode}Cell")

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
