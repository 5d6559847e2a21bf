"""The one format between the grader and a sandbox: JSON that cannot carry code.

A value is ``None``, a bool, an int, a float, a string, a list, a dict with string keys, or one of
these tagged objects (a dict whose only key starts with ``$``):

* ``{"$tensor": [dtype, shape, base64 of the raw bytes, requires_grad]}``: a dense CPU tensor;
* ``{"$tuple": [...]}``, ``{"$named": [type name, [field, ...], [value, ...]]}``: tuples, named tuples;
* ``{"$generator": base64 of its state}``: a CPU ``torch.Generator`` (a draw on the other side is the
  draw this side would make);
* ``{"$object": type name}``: anything else, by its type's name only (a check can say "got a Foo").

``decode`` rebuilds tensors as plain ``torch.Tensor`` from their bytes (a subclass, its
``__torch_function__`` and its methods stay on the side that made it) and refuses anything that
does not fit: an unknown dtype, a shape that does not match the bytes, a value nested too deep.
Messages are framed as one JSON document per line.
"""

from __future__ import annotations

import base64
import collections
import json
import keyword
import math
import re

import torch

DTYPES = {str(d).removeprefix("torch."): d for d in (
    torch.float64, torch.float32, torch.float16, torch.bfloat16, torch.complex64, torch.complex128,
    torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8, torch.bool)}
MAX_DEPTH = 32
MAX_STRING = 20_000
MAX_DIMS = 16


class WireError(ValueError):
    """A message that is not in the format: the side that sent it broke the protocol."""


def _name(text, fallback: str = "object") -> str:
    """A type or field name from the other side, made a plain identifier of at most 60 characters."""
    text = re.sub(r"\W", "_", str(text))[:60].lstrip("0123456789")
    return text if text and not keyword.iskeyword(text) else fallback


def plain(tensor: torch.Tensor) -> torch.Tensor:
    """The tensor's numbers as a plain, detached, contiguous CPU tensor (a subclass's overrides bypassed)."""
    with torch._C.DisableTorchFunctionSubclass():
        base = torch.Tensor.detach(tensor)
        if type(base) is not torch.Tensor:
            base = base.as_subclass(torch.Tensor)
        return base.to("cpu").contiguous()


def _tensor_bytes(tensor: torch.Tensor) -> bytes:
    flat = tensor.reshape(-1)
    if flat.numel() == 0:
        return b""
    return flat.view(torch.uint8).numpy().tobytes() if flat.dtype != torch.bool else \
        flat.to(torch.uint8).numpy().tobytes()


def encode(value, depth: int = 0):
    """``value`` as JSON-ready data (see the module's doc)."""
    if depth > MAX_DEPTH:
        raise WireError(f"a value nested more than {MAX_DEPTH} levels deep")
    if value is None or isinstance(value, (bool, str)):
        return value[:MAX_STRING] if isinstance(value, str) else value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, torch.Tensor):
        if value.layout != torch.strided or value.is_quantized or value.device.type == "meta":
            return {"$object": f"Tensor ({value.layout}, {value.device.type})"}
        requires_grad = bool(torch.Tensor.requires_grad.__get__(value))
        tensor = plain(value)
        dtype = str(tensor.dtype).removeprefix("torch.")
        if dtype not in DTYPES:
            return {"$object": f"Tensor of {dtype}"}
        return {"$tensor": [dtype, list(tensor.shape), base64.b64encode(_tensor_bytes(tensor)).decode("ascii"),
                            requires_grad]}
    if isinstance(value, torch.Generator):  # its state: the same draws on the other side
        if value.device.type != "cpu":
            return {"$object": f"Generator ({value.device.type})"}
        return {"$generator": base64.b64encode(value.get_state().numpy().tobytes()).decode("ascii")}
    if isinstance(value, torch.Size):
        return {"$tuple": [int(v) for v in value]}
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return {"$named": [type(value).__name__, [str(f) for f in value._fields],
                           [encode(v, depth + 1) for v in value]]}
    if isinstance(value, tuple):
        return {"$tuple": [encode(v, depth + 1) for v in value]}
    if isinstance(value, list):
        return [encode(v, depth + 1) for v in value]
    if isinstance(value, dict):
        return {str(k): encode(v, depth + 1) for k, v in value.items()}
    return {"$object": type(value).__name__}


_opaque_types: dict[str, type] = {}


def opaque(name: str) -> object:
    """A stand-in for an object the other side returned: it has that type's name and nothing else."""
    name = _name(name)
    if name not in _opaque_types:
        _opaque_types[name] = type(name, (), {"__repr__": lambda self: f"<a {type(self).__name__} from the "
                                                                       "student's code>"})
    return _opaque_types[name]()


def _decode_tensor(fields) -> torch.Tensor:
    if not (isinstance(fields, list) and len(fields) == 4):
        raise WireError("a tensor is [dtype, shape, data, requires_grad]")
    dtype, shape, data, requires_grad = fields
    if dtype not in DTYPES:
        raise WireError(f"unknown dtype {str(dtype)[:40]!r}")
    if not (isinstance(shape, list) and len(shape) <= MAX_DIMS
            and all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape)):
        raise WireError("a tensor's shape is a list of at most 16 sizes")
    if not isinstance(data, str):
        raise WireError("a tensor's data is base64 text")
    try:
        raw = base64.b64decode(data.encode("ascii"), validate=True)
    except (ValueError, UnicodeEncodeError):  # binascii.Error is a ValueError
        raise WireError("a tensor's data is not base64") from None
    dt = DTYPES[dtype]
    numel = math.prod(shape)
    if numel * dt.itemsize != len(raw):
        raise WireError(f"a tensor of shape {shape} and dtype {dtype} needs {numel * dt.itemsize} bytes, "
                        f"got {len(raw)}")
    if numel == 0:
        tensor = torch.empty(shape, dtype=dt)
    elif dt == torch.bool:
        tensor = torch.frombuffer(bytearray(raw), dtype=torch.uint8).to(torch.bool).reshape(shape)
    else:
        tensor = torch.frombuffer(bytearray(raw), dtype=dt).reshape(shape).clone()
    if requires_grad is True and (tensor.is_floating_point() or tensor.is_complex()):
        tensor.requires_grad_()
    return tensor


def _decode_generator(data) -> torch.Generator:
    generator = torch.Generator()
    size = generator.get_state().numel()  # a CPU generator's state: a fixed number of bytes
    try:
        raw = base64.b64decode(str(data).encode("ascii"), validate=True)
    except (ValueError, UnicodeEncodeError):
        raise WireError("a generator's state is not base64") from None
    if len(raw) != size:
        raise WireError(f"a generator's state is {size} bytes, got {len(raw)}")
    generator.set_state(torch.frombuffer(bytearray(raw), dtype=torch.uint8).clone())
    return generator


def decode(data, depth: int = 0):
    """The value ``encode`` made (tensors always plain ``torch.Tensor``); WireError if it is not one."""
    if depth > MAX_DEPTH:
        raise WireError(f"a value nested more than {MAX_DEPTH} levels deep")
    if data is None or isinstance(data, (bool, int, float)):
        return data
    if isinstance(data, str):
        return data[:MAX_STRING]
    if isinstance(data, list):
        return [decode(v, depth + 1) for v in data]
    if not isinstance(data, dict):
        raise WireError(f"not a value of the format: {type(data).__name__}")
    tags = [k for k in data if k.startswith("$")]
    if not tags:
        return {k: decode(v, depth + 1) for k, v in data.items()}
    if len(data) != 1:
        raise WireError("a tagged value has one key")
    tag, fields = next(iter(data.items()))
    if tag == "$tensor":
        return _decode_tensor(fields)
    if tag == "$tuple" and isinstance(fields, list):
        return tuple(decode(v, depth + 1) for v in fields)
    if tag == "$named" and isinstance(fields, list) and len(fields) == 3:
        name, names, values = fields
        if not (isinstance(names, list) and isinstance(values, list) and len(names) == len(values)):
            raise WireError("a named tuple is [name, fields, values]")
        values = tuple(decode(v, depth + 1) for v in values)
        try:
            kind = collections.namedtuple(_name(name, "Record"), [_name(n, f"field{k}") for k, n in enumerate(names)])
        except ValueError:  # repeated field names: the values, as a tuple
            return values
        return kind(*values)
    if tag == "$object":
        return opaque(fields)
    if tag == "$generator":
        return _decode_generator(fields)
    raise WireError(f"unknown tag {tag[:40]!r}")


def dumps(message: dict) -> bytes:
    return json.dumps(message, separators=(",", ":")).encode("utf-8") + b"\n"


def loads(line: bytes) -> dict:
    try:
        message = json.loads(line)
    except (ValueError, RecursionError) as error:
        raise WireError(f"not JSON: {str(error)[:200]}") from None
    if not isinstance(message, dict):
        raise WireError("a message is a JSON object")
    return message
