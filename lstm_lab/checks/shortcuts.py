"""The exercise is the work: an answer may not call the thing it is asked to write.

While a student's function runs, a ``Watch`` installs a profiler (``sys.setprofile``: it sees a call
however the function was reached) that notes every call into every module of lstm_lab (found by walking the
package's files, so a new module is watched unlisted) but ``_NEVER_AN_ANSWER``, into torch's recurrent modules
and cells, and into its fused recurrent kernels; not the building blocks (``@``, ``torch.sigmoid``, ``chunk``,
...). An exercise's ``allowed`` names the pieces it hands out (``"lstm_lab.runners.run_layer(reverse=False)"``:
that function, with that argument only; ``"rnn_layer"``: a helper the notebook defines). A call into a function
of ``__main__`` defined in another cell (ipykernel compiles each cell under a file name of its own) lands in
``Watch.helpers`` with what it returned; the engine refuses one that computes the answer (``diagnose``).
"""

from __future__ import annotations

import ast
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import torch

_PACKAGE = Path(__file__).parents[1]  # lstm_lab/, as Python names its files (not resolved)

# lstm_lab's modules that never compute an answer: calls into them are not watched, and what they
# call is seen as if the student had called it.
_NEVER_AN_ANSWER = {
    "lstm_lab",  # its __getattr__ only finds a name (lstm_lab.lstm_cell); the function it returns is watched
    "lstm_lab.explorers",  # the same lazy lookup, for the explorers' widgets
    "lstm_lab.display",  # formats numbers as text (fmt, show_table): printing from an answer is fine
    "lstm_lab.costs",  # CallCounter counts the student's torch calls for a check (notebook 05) and passes each on
    "lstm_lab.checks.shortcuts",  # the watch itself: its __exit__ runs while it watches
}

# torch's recurrent modules and cells, every .../modules/rnn.py it has (nn, ao.nn.quantized.dynamic, ...) -> the name
# a student knows them by (nn/modules/rnn.py -> torch.nn)
_TORCH_RECURRENT = {path: ".".join(("torch", *path.relative_to(Path(torch.__file__).parent).parts[:-2]))
                    for path in Path(torch.__file__).parent.rglob("modules/rnn.py")}


def _module_name(path: Path) -> str:
    """lstm_lab/checks/core.py -> lstm_lab.checks.core; lstm_lab/__init__.py -> lstm_lab."""
    parts = path.relative_to(_PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _as_python_names_it(files: dict[Path, str]) -> dict[str, str]:
    """Each file as a frame's co_filename may spell it: as imported, and resolved (a symlinked install)."""
    return {str(spelling): name for path, name in files.items() for spelling in (path, path.resolve())}


_WATCHED_FILES = _as_python_names_it({
    **{path: _module_name(path) for path in sorted(_PACKAGE.rglob("*.py"))
       if _module_name(path) not in _NEVER_AN_ANSWER},
    **_TORCH_RECURRENT,
})

# torch's fused recurrent kernels, by name: every one torch has, found the same way in each version
_RECURRENT_OP = re.compile(r"lstm|gru|rnn")
_FUSED_NAMES = frozenset(name for name in {*dir(torch._C._VariableFunctions), *dir(torch.ops.aten)}
                         if _RECURRENT_OP.search(name) and "flatten_weight" not in name)  # a memory layout only
_FUSED_MODULES = {"torch": "torch", "torch._ops.aten": "torch.ops.aten"}  # torch.lstm_cell is torch._VF.lstm_cell
# torch.ops.aten.lstm_cell.default(...) calls an operator object (torch/_ops.py) whose kernel has no name
_TORCH_OPS_FILES = _as_python_names_it({Path(torch._ops.__file__): "torch.ops"})

_BUILDING_BLOCKS = "the building blocks (@, torch.sigmoid, torch.tanh, torch.cat, chunk, ...)"  # a refusal's advice
_DUNDER_OK = {"__init__", "forward", "__call__"}  # lstm_lab.modules.LSTM.forward is named lstm_lab.modules.LSTM

# functions the checks put between the call and the student's function (an adapter of the arguments):
# the watch looks through them
_SEE_THROUGH: set = set()


def see_through(adapter):
    """Mark a check's adapter around the student's function: what it calls is the student's call."""
    _SEE_THROUGH.add(adapter.__code__)
    return adapter


def _python_name(code, module: str) -> str:
    owner, _, method = code.co_qualname.rpartition(".")
    if owner and method in _DUNDER_OK:  # torch.nn.modules.rnn.LSTM.__init__ -> torch.nn.LSTM
        return f"{module}.{owner}"
    return f"{module}.{code.co_qualname}"


def _fused_name(function) -> str | None:
    """``torch.lstm_cell`` (or ``torch.ops.aten.lstm_cell``) for a fused recurrent kernel, else None."""
    name = str(getattr(function, "__name__", "")).partition(".")[0]  # an operator's "lstm_cell.default" too
    module = _FUSED_MODULES.get(getattr(function, "__module__", None)) if name in _FUSED_NAMES else None
    return f"{module}.{name}" if module else None


def _allowance(entry: str) -> tuple[str, dict]:
    """``"lstm_lab.runners.run_layer(reverse=False)"`` -> (the name, {argument: the only value allowed})."""
    match = re.fullmatch(r"([\w.]+)(?:\((.*)\))?", entry.strip())
    if match is None:
        raise ValueError(f"allowed: cannot read {entry!r}; write a dotted name, optionally with name=value arguments")
    name, arguments = match.groups()
    call = ast.parse(f"f({arguments or ''})", mode="eval").body
    return name, {k.arg: ast.literal_eval(k.value) for k in call.keywords}


@dataclass
class Helper:
    """A function the notebook defined in another cell than the student's, as the student's function called it."""

    name: str
    function: object  # the function itself where the notebook's namespace names it, else None
    results: list = field(default_factory=list)  # what each call returned

    def sentence(self, exercise: str) -> str:
        return (f"your function calls `{self.name}`, defined in another cell of the notebook, which already computes "
                f"what {exercise} asks for: write it yourself from {_BUILDING_BLOCKS}")


class Watch:
    """What a student's function called that it may not; filled while it is active (``with Watch(allowed):``)."""

    def __init__(self, allowed: tuple[str, ...] = ()):
        self.allowed = dict(_allowance(entry) for entry in allowed)
        self.calls: list[str] = []
        self._inside: list = []  # the frames of watched functions running now (the outermost was noted)
        self.helpers: dict = {}  # code of a notebook function of another cell -> Helper
        self._own: str | None = None  # the cell (file name) of the student's function: the first __main__ call
        self._helper = None  # the frame of the outermost notebook helper running now

    def _judge(self, frame, name: str | None) -> None:
        """Note ``name`` (once; None: nothing) unless the exercise allows it, with the arguments it is called with."""
        wrong = {k: frame.f_locals.get(k) for k, v in self.allowed.get(name, {}).items() if frame.f_locals.get(k) != v}
        if wrong:  # the call names the argument that made it a shortcut: run_layer(reverse=True)
            name = f"{name}({', '.join(f'{k}={v!r}' for k, v in wrong.items())})"
        if name is not None and name not in self.allowed and name not in self.calls:  # allowed names have no arguments
            self.calls.append(name)

    def profile(self, frame, event, arg):
        if event == "call":
            if frame.f_code.co_filename in _TORCH_OPS_FILES:
                if frame.f_code.co_name == "__call__" and not self._inside:
                    self._judge(frame, _fused_name(frame.f_locals.get("self")))
                return
            module = _WATCHED_FILES.get(frame.f_code.co_filename)
            if module is None and not self._inside and frame.f_globals.get("__name__") == "__main__":
                self._notebook_call(frame)
            if module is None or frame.f_code in _SEE_THROUGH:
                return
            # the outermost call is the one to name; what it calls is its business. (A module's body runs
            # when an answer imports it: that is not a call of anything.)
            if not self._inside and frame.f_code.co_name != "<module>":
                self._judge(frame, _python_name(frame.f_code, module))
            self._inside.append(frame)
        elif event == "return":
            if self._inside and self._inside[-1] is frame:
                self._inside.pop()
            elif self._helper is frame:
                self._helper = None
                self.helpers[frame.f_code].results.append(arg)
        elif event == "c_call" and not self._inside:
            self._judge(frame, _fused_name(arg))

    def _notebook_call(self, frame) -> None:
        """A function of the notebook: the student's own cell, or a helper defined in another cell."""
        code = frame.f_code
        if code.co_name == "<module>" or self._helper is not None:
            return
        if self._own is None:
            self._own = code.co_filename
        elif code.co_filename != self._own and code.co_name not in self.allowed:  # allowed: a helper handed out
            function = frame.f_globals.get(code.co_name)
            function = function if getattr(function, "__code__", None) is code else None
            self.helpers.setdefault(code, Helper(code.co_qualname, function))
            self._helper = frame

    def sentence(self, exercise: str) -> str | None:
        if not self.calls:
            return None
        called = ", ".join(f"`{name}`" for name in self.calls)
        allows = ", ".join(f"`{name}`" + (" with " + ", ".join(f"{k}={v!r}" for k, v in arguments.items())
                                          if arguments else "") for name, arguments in self.allowed.items() if "." in name)
        return (f"your function calls {called}, which is not allowed in this exercise: it computes what "
                f"{exercise} asks you to write. Write it from {_BUILDING_BLOCKS}"
                + (f"; of the library this exercise allows only {allows}" if allows else ""))

    def __enter__(self) -> Watch:
        self._previous = sys.getprofile()
        sys.setprofile(self.profile)
        return self

    def __exit__(self, *exc) -> None:
        sys.setprofile(self._previous)


# ---------------------------------------------------------------- a value exercise's answer cell
_EXERCISE_CELL = ("BEGIN SOLUTION", "YOUR CODE HERE")  # an exercise cell carries one of these in either edition
_answered: dict = {}  # a name an exercise cell assigned -> (its value, the watched calls of that cell); the latest last


def is_exercise_cell(source: str) -> bool:
    return any(mark in (source or "") for mark in _EXERCISE_CELL)


def note_cell(source: str, namespace: dict, calls: list[str]) -> None:
    """Note the values an exercise cell assigned at its top level (``a = ``, ``a, b = ``, ``a: T = ``, ``a += ``, a
    loop's or a ``with``'s target; not a function's own variables) as made with ``calls``."""
    try:
        names = [n.id for node in ast.parse(source).body if not isinstance(node, (ast.FunctionDef, ast.ClassDef))
                 for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)]
    except SyntaxError:
        names = []
    for name in names:
        if name in namespace:
            note_value(name, namespace[name], calls)


# a check called in the answer's cell (its @verdict wrapper, the Feedback it shows) or handed to use's helpers is no
# answer; what else of lstm_lab.checks computes (a reference) is watched as any module of the library is
_CHECK_CALLS = ("lstm_lab.checks.core.", "lstm_lab.checks.use.")


def note_value(name: str, value, calls: list[str]) -> None:
    _answered.pop(name, None)  # one entry a name, moved to the end: the latest assignment is looked up first
    if value is not None:  # what every stub makes is no one's answer
        _answered[name] = value, [c for c in calls if not c.startswith(_CHECK_CALLS)]


def watch_exercise_cells(shell) -> None:
    """Run every exercise cell of an IPython ``shell`` under the watch and note which watched calls made the values
    it assigns: a value exercise's check then refuses an answer the library computed (``calls_behind``)."""
    if getattr(shell, "_lstm_lab_watch", False):
        return
    shell._lstm_lab_watch, running = True, []

    def before(info) -> None:
        if is_exercise_cell(info.raw_cell):
            running.append((info.raw_cell, Watch().__enter__()))

    def after(result) -> None:
        if running:
            source, watch = running.pop()
            watch.__exit__()
            note_cell(source, shell.user_ns, watch.calls)

    shell.events.register("pre_run_cell", before)
    shell.events.register("post_run_cell", after)


def calls_of(answer) -> list[str]:
    """The watched calls of the exercise cell that made ``answer`` (this very object; None is never noted)."""
    return next((calls for value, calls in reversed(_answered.values()) if value is answer), [])


def calls_behind(answer, allowed=()) -> list[str]:
    """``calls_of(answer)`` but those ``allowed`` and the fixtures that give an exercise its inputs (not
    ``fixtures.golden``, which holds answers)."""
    return [c for c in calls_of(answer) if c not in allowed and not (c.startswith("lstm_lab.fixtures.")
                                                                     and "golden" not in c)]
