"""The exercise is the work: an answer may not call the thing it is asked to write.

While a student's function runs, ``watching()`` installs a profiler (``sys.setprofile``) that
notes every call into a *forbidden* place:

* lstm_lab's own implementations: ``lstm_lab.cells``, ``runners``, ``bptt``, ``modules`` and
  ``mistakes`` (whose ``fixed=True`` is the answer to several exercises);
* ``torch.nn``'s recurrent modules and cells (``torch.nn.LSTM``, ``torch.nn.GRUCell``, ...);
* torch's fused kernels: ``torch.lstm_cell``, ``torch.rnn_tanh_cell``, ``torch.gru_cell``,
  ``torch._VF.lstm`` and the like.

A profiler sees the call however the student reached the function (``lstm_lab.lstm_cell``,
``from lstm_lab.cells import lstm_cell`` long before, ``torch._VF``), which replacing module
attributes would not. The building blocks a student is expected to use (``@``, ``torch.sigmoid``,
``torch.tanh``, ``torch.cat``, ``chunk``, ...) are not watched. An exercise that hands the student
a library piece on purpose names it in ``allowed``; one whose answer is a loop around a model the
student is given (notebook 13's truncated-BPTT pass) turns the watch off with ``active=False``,
since every call the model makes is then the student's legitimate use of it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

from .. import bptt, cells, mistakes, modules, runners


def _files(module, name: str) -> dict:
    """A module's file as Python names it in a frame, and resolved (a symlinked install differs)."""
    return {module.__file__: name, str(Path(module.__file__).resolve()): name}


# file -> the name a student knows the module by
_FORBIDDEN_FILES = {
    **{k: v for m in (bptt, cells, mistakes, modules, runners) for k, v in _files(m, m.__name__).items()},
    **_files(torch.nn.modules.rnn, "torch.nn"),
}
_FUSED = ("lstm", "gru", "rnn_tanh", "rnn_relu", "lstm_cell", "gru_cell", "rnn_tanh_cell", "rnn_relu_cell",
          "quantized_lstm_cell", "quantized_gru_cell", "quantized_rnn_tanh_cell", "quantized_rnn_relu_cell")
_FUSED_FUNCTIONS = {id(getattr(torch._C._VariableFunctions, name)): f"torch.{name}"
                    for name in _FUSED if hasattr(torch._C._VariableFunctions, name)}
_FUSED_FUNCTIONS.update({id(getattr(torch, name)): f"torch.{name}" for name in _FUSED if hasattr(torch, name)})
_DUNDER_OK = {"__init__", "forward", "__call__"}


def _python_name(code, module: str) -> str:
    qualname = getattr(code, "co_qualname", code.co_name)
    if module == "torch.nn":  # torch.nn.modules.rnn.LSTM.__init__ -> torch.nn.LSTM
        owner, _, method = qualname.rpartition(".")
        return f"torch.nn.{owner}" if owner and method in _DUNDER_OK else f"torch.nn.{qualname}"
    owner, _, method = qualname.rpartition(".")
    if owner and method in _DUNDER_OK:  # lstm_lab.modules.LSTM.forward -> lstm_lab.modules.LSTM
        return f"{module}.{owner}"
    return f"{module}.{qualname}"


class Watch:
    """What a student's function called that it may not; filled while ``watching`` is active."""

    def __init__(self, allowed: tuple[str, ...] = (), active: bool = True):
        self.allowed, self.active = set(allowed), active
        self.calls: list[str] = []
        self._inside: list = []  # the frames of forbidden (or allowed) functions running now

    def _note(self, name: str) -> None:
        if name not in self.allowed and name not in self.calls:
            self.calls.append(name)

    def profile(self, frame, event, arg):
        if event == "call":
            module = _FORBIDDEN_FILES.get(frame.f_code.co_filename)
            if module is None:
                return
            if not self._inside:  # the outermost call is the one to name; what it calls is its business
                self._note(_python_name(frame.f_code, module))
            self._inside.append(frame)
        elif event == "return":
            if self._inside and self._inside[-1] is frame:
                self._inside.pop()
        elif event == "c_call" and not self._inside:
            name = _FUSED_FUNCTIONS.get(id(arg))
            if name is not None:
                self._note(name)

    def sentence(self, exercise: str) -> str | None:
        if not self.calls:
            return None
        called = ", ".join(f"`{name}`" for name in self.calls)
        return (f"your function calls {called}, which is not allowed in this exercise: it computes what "
                f"{exercise} asks you to write. Write it from the building blocks (@, torch.sigmoid, torch.tanh, "
                f"torch.cat, chunk, ...)")


    def __enter__(self) -> Watch:
        self._previous = sys.getprofile()
        if self.active:
            sys.setprofile(self.profile)
        return self

    def __exit__(self, *exc) -> None:
        sys.setprofile(self._previous)


def watching(allowed: tuple[str, ...] = (), active: bool = True) -> Watch:
    """``with watching() as watch:`` notes every forbidden call made inside the block."""
    return Watch(allowed, active)
