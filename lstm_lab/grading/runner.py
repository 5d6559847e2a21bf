"""The program inside a grading sandbox (``python -m lstm_lab.grading.runner``).

It reads requests from its stdin and answers on its stdout, one JSON message a line (``wire``);
its own prints and the student's go to stderr. Nothing it says decides a grade: the grader asks it
to run the notebook's cells (never a test cell) and to call the student's functions on the
grader's arguments, and checks what comes back in its own process.

Requests: ``cell`` (run a cell's source; the answer says whether it raised, and what),
``resolve`` (what a name of the notebook is: a function, a value, or missing), ``call`` (call a
function on arguments, with the watch of ``lstm_lab.checks.shortcuts`` around it, the caller's
random state, and a time limit), ``backward`` (gradients through a call made with
``grad``), ``forget`` (drop the graphs kept for ``backward``), ``bye``.
"""

from __future__ import annotations

import base64
import contextlib
import linecache
import os
import re
import signal
import sys
import traceback

import torch

from ..checks import shortcuts
from ..checks.shortcuts import Watch, see_through
from .wire import WireError, decode, dumps, encode, loads

MAX_MESSAGE = 2_000  # characters of an error message sent back


class RanPastLimit(BaseException):
    """The time limit of a cell or call, raised in the student's code (a BaseException, as KeyboardInterrupt is,
    so that an ``except Exception`` in that code does not swallow it)."""


def _alarm(seconds: float):
    if not hasattr(signal, "setitimer"):  # Windows: the grader's time limit of the notebook still holds
        return
    @see_through  # the watch around a student's call does not take the alarm for a call of the student's
    def ring(signum, frame):
        raise RanPastLimit(f"ran past {seconds:g} s")
    signal.signal(signal.SIGALRM, ring)
    signal.setitimer(signal.ITIMER_REAL, max(seconds, 0.001))


def _no_alarm():
    if hasattr(signal, "setitimer"):
        signal.setitimer(signal.ITIMER_REAL, 0)


class _Tell:
    """Notes whether anything was written to stderr while a call ran (nbgrader scores a test cell
    with stderr output 0), and passes it on."""

    def __init__(self, stream):
        self.stream, self.written = stream, False

    @see_through  # the student's print, not a call into lstm_lab
    def write(self, text):
        if text:
            self.written = True
        return self.stream.write(text)

    @see_through
    def flush(self):
        return self.stream.flush()

    @see_through
    def __getattr__(self, name):
        return getattr(self.stream, name)


def _short(text: str) -> str:
    text = str(text)
    return text if len(text) <= MAX_MESSAGE else text[:MAX_MESSAGE] + " ..."


def _error(error: BaseException) -> dict:
    """An exception as data: its type's name, message, and the innermost line of the notebook's code."""
    try:
        message = str(error)
    except Exception:  # a __str__ that raises: the type says enough
        message = ""
    where = [f for f in traceback.extract_tb(error.__traceback__) if f.filename.startswith(("<cell", "<ipython"))]
    line = {"line": where[-1].lineno, "code": _short(where[-1].line or "")} if where else {}
    return {"type": type(error).__name__, "message": _short(message), **line}


_NEEDS_IPYTHON = re.compile(r"^\s*[%!]|get_ipython|\bdisplay\(|^\s*\w[\w.]*\?\s*$", re.M)


class Runner:
    def __init__(self):
        self.namespace = {"__name__": "__main__", "__builtins__": __builtins__}
        self.shell = None
        self.graphs: dict[int, tuple] = {}
        self.calls = self.cells = 0

    def _ipython(self):
        """IPython's shell over the same namespace, made the first time a cell needs it (a magic,
        ``get_ipython``, ``display``): importing it costs more than most notebooks' cells."""
        if self.shell is None:
            try:
                from IPython.core.interactiveshell import InteractiveShell
                self.shell = InteractiveShell.instance(user_ns=self.namespace)
                self.shell._lstm_lab_watch = True  # this runner watches the exercise cells itself (``cell``)
            except Exception:  # no IPython: its syntax is then a syntax error, as in plain Python
                self.shell = False
        return self.shell or None

    # ------------------------------------------------------------------ cells
    def cell(self, source: str, timeout: float, exercise: bool = False) -> dict:
        # an exercise cell (a solution cell, or one marked as such) runs under the watch, so that the grader can
        # refuse a value the library computed
        watch = Watch() if exercise or shortcuts.is_exercise_cell(source) else contextlib.nullcontext()
        try:
            _alarm(timeout)
            try:
                with watch:
                    error = self._run(source)
            finally:
                _no_alarm()
        except BaseException as raised:  # SystemExit, or the alarm outside IPython's own handling
            error = raised
        if isinstance(watch, Watch):
            shortcuts.note_cell(source, self.namespace, watch.calls)
        return {"ok": error is None} if error is None else {"ok": False, "error": _error(error)}

    @see_through  # what the cell calls is the cell's call
    def _run(self, source: str) -> BaseException | None:
        """Run a cell's source in the notebook's namespace: the error it raised, or None."""
        shell = self._ipython() if self.shell is not None or _NEEDS_IPYTHON.search(source) else None
        if shell is not None:
            result = shell.run_cell(source, store_history=False, silent=False)
            return result.error_before_exec or result.error_in_exec
        try:
            self.cells += 1
            name = f"<cell {self.cells}>"
            linecache.cache[name] = (len(source), None, source.splitlines(True), name)
            exec(compile(source, name, "exec"), self.namespace)
        except Exception as raised:
            return raised
        return None

    # ------------------------------------------------------------------ names
    def resolve(self, name: str) -> dict:
        if name not in self.namespace:
            return {"kind": "missing"}
        value = self.namespace[name]
        if callable(value) and not isinstance(value, torch.Tensor):
            return {"kind": "function", "name": str(getattr(value, "__name__", name))[:100]}
        try:
            return {"kind": "value", "value": encode(value), "calls": shortcuts.calls_of(value)}
        except Exception as error:
            return {"kind": "unsupported", "type": type(value).__name__[:100], "why": _short(error)}

    # ------------------------------------------------------------------ calls
    def call(self, request: dict) -> dict:
        fn = self.namespace.get(request["name"])
        args, kwargs = decode(request["args"]), decode(request.get("kwargs") or {})
        if not isinstance(args, tuple) or not isinstance(kwargs, dict):
            raise WireError("a call's arguments are a tuple and a dict")
        rng = request.get("rng")
        if rng is not None:
            torch.random.set_rng_state(torch.frombuffer(bytearray(base64.b64decode(rng)), dtype=torch.uint8))
        before = [(k, t.detach().clone()) for k, t in _tensors((args, kwargs))]
        watch = Watch()
        watch.allowed = {name: dict(arguments) for name, arguments in request.get("allowed", {}).items()}
        tell = _Tell(sys.stderr)
        previous_stderr, sys.stderr = sys.stderr, tell
        grad = bool(request.get("grad"))
        try:
            _alarm(request.get("timeout", 60))
            try:
                with torch.set_grad_enabled(grad), watch:
                    result = fn(*args, **kwargs)
            finally:
                _no_alarm()
        except BaseException as error:  # SystemExit included: it is the student's answer, not ours to obey
            sys.stderr = previous_stderr
            return {"error": _error(error), "calls": watch.calls[:20], "stderr": tell.written, **self._rng()}
        finally:
            sys.stderr = previous_stderr
        reply = {"result": encode(result), "calls": watch.calls[:20], "stderr": tell.written,
                 "helpers": self._helpers(watch), **self._rng()}
        changed = []
        for (k, old), (_, new) in zip(before, _tensors((args, kwargs))):
            if old.shape != new.shape or not torch.equal(old, new.detach()):
                changed.append([k, encode(new.detach())])
        reply["changed"] = changed
        if grad:
            self.calls += 1
            inputs = [t for _, t in _tensors((args, kwargs)) if t.requires_grad]
            outputs = [t for _, t in _tensors(result)]
            self.graphs[self.calls] = (inputs, outputs)
            reply["id"] = self.calls
        return reply

    def _helpers(self, watch) -> list:
        """The notebook's functions of other cells that the call used (``Watch.helpers``): each one's name, whether
        the notebook names it (the grader may then call it alone), and what its first call returned, where that
        is data the wire carries. The grader judges them as a notebook's check would."""
        found = []
        for helper in list(watch.helpers.values())[:10]:
            try:
                first = [encode(helper.results[0])] if helper.results else []
            except WireError:  # a result the wire does not carry: judged by name and by calling it alone
                first = []
            found.append({"name": str(helper.name)[:100], "named": helper.function is not None, "results": first})
        return found

    def _rng(self) -> dict:
        return {"rng": base64.b64encode(torch.random.get_rng_state().numpy().tobytes()).decode("ascii")}

    def backward(self, request: dict) -> dict:
        inputs, outputs = self.graphs[request["id"]]
        grads = [decode(g) for g in request["grads"]]
        pairs = [(o, g) for o, g in zip(outputs, grads) if o.requires_grad and g is not None]
        if not pairs or not inputs:
            return {"grads": [None] * len(inputs)}
        found = torch.autograd.grad([o for o, _ in pairs], inputs, [g for _, g in pairs], allow_unused=True)
        return {"grads": [None if g is None else encode(g) for g in found]}


def _tensors(value, path: str = "") -> list[tuple[str, torch.Tensor]]:
    """Every tensor inside tuples, lists and dicts, with its place (the order ``wire`` keeps)."""
    if isinstance(value, torch.Tensor):
        return [(path, value)]
    if isinstance(value, dict):
        return [x for k, v in value.items() for x in _tensors(v, f"{path}/{k}")]
    if isinstance(value, (tuple, list)):
        return [x for k, v in enumerate(value) for x in _tensors(v, f"{path}/{k}")]
    return []


def main() -> None:
    channel_in = os.fdopen(os.dup(0), "rb")
    channel_out = os.fdopen(os.dup(1), "wb")
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(2, 1)  # a print goes to stderr, never into the channel
    sys.stdout = os.fdopen(1, "w", buffering=1, encoding="utf-8", errors="replace", closefd=False)

    def send(message: dict) -> None:
        channel_out.write(dumps(message))
        channel_out.flush()

    runner = Runner()
    send({"ready": True, "torch": torch.__version__})
    handlers = {"cell": lambda r: runner.cell(r["source"], r.get("timeout", 60), r.get("exercise") is True),
                "resolve": lambda r: runner.resolve(r["name"]),
                "call": runner.call, "backward": runner.backward,
                "forget": lambda r: (runner.graphs.clear(), {"ok": True})[1]}
    for line in channel_in:
        try:
            request = loads(line)
            if request.get("op") == "bye":
                break
            reply = handlers[request["op"]](request)
        except (WireError, KeyError, TypeError, ValueError, RuntimeError) as error:
            reply = {"failed": _short(f"{type(error).__name__}: {error}")}
        send(reply)
    channel_out.flush()
    os._exit(0)  # nothing of the student's (atexit, threads) runs after the last answer


if __name__ == "__main__":
    main()
