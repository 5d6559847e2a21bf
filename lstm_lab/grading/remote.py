"""The grader's side of a sandbox: the student's names as proxies, the test cells run here.

A test cell (``check_rnn_step(rnn_step, seed=1, random_cases=6).assert_ok()``) runs in this
process, in a namespace of its own: the names the instructor's cells import (the checks, torch)
are this process's own, and every other name the cell reads is the student's, fetched from the
sandbox: a value as plain data, a function as a ``StudentFunction`` that sends its arguments to the
sandbox and rebuilds the result from bytes. Whatever the student's cells did to ``lstm_lab.checks``,
torch or IPython happened in the sandbox's process, not in this one.

What the sandbox's watch (``lstm_lab.checks.shortcuts``) saw a call do comes back with its answer
and is noted in the watch of the check that made the call, so a shortcut is named as it is in a
notebook. Gradients go through the sandbox too: a call made while autograd records is an
``autograd.Function`` whose backward asks the sandbox for the gradients of its own graph. The
torch random state travels with each call both ways, so a seeded check of an initialisation sees
the numbers the student's code draws.
"""

from __future__ import annotations

import ast
import base64
import builtins
import contextlib
import io
import linecache
import sys

import torch

from ..checks.shortcuts import Helper, Watch, note_value, see_through
from .sandbox import Sandbox, SandboxGone
from .wire import WireError, _name, decode, encode, opaque

STUDENT_FILE = "<the student's cell>"


class NotCarried(BaseException):
    """A check hands the student's function something the channel does not carry (a model, an optimizer, a
    function): this exercise cannot be graded here. A BaseException, so that no check words it as the student's."""


def _uncarried(data) -> str | None:
    """The type of the first value in encoded ``data`` that the channel only names (``{"$object": ...}``)."""
    if isinstance(data, dict):
        if "$object" in data:
            return str(data["$object"])
        data = list(data.values())
    if isinstance(data, list):
        for item in data:
            found = _uncarried(item)
            if found is not None:
                return found
    return None


class StudentCodeError(Exception):
    """Base of the exceptions rebuilt from the sandbox whose type is not one of Python's own."""


_rebuilt: dict[str, type] = {}


def _exception_type(name: str) -> type:
    """Python's own exception of that name (an Exception), else a stand-in class with the name."""
    found = getattr(builtins, name, None)
    if isinstance(found, type) and issubclass(found, Exception):
        return found
    safe = _name(name, "Error")
    if safe not in _rebuilt:
        _rebuilt[safe] = type(safe, (StudentCodeError,), {})
    return _rebuilt[safe]


def _raise_as_student(error: dict):
    """Raise the student's exception here, with a traceback whose last frame is the student's line
    (``checks.core.describe_error`` names it as it does in a notebook)."""
    kind, message = _exception_type(str(error.get("type", "Error"))), str(error.get("message", ""))
    try:
        exception = kind(message)
    except Exception:
        exception = _exception_type("_" + kind.__name__)(message)
    line, code = error.get("line"), error.get("code")
    if isinstance(line, int) and 0 < line < 100_000 and isinstance(code, str):
        lines = ["\n"] * (line - 1) + [code.rstrip("\n") + "\n"]
        linecache.cache[STUDENT_FILE] = (sum(map(len, lines)), None, lines, STUDENT_FILE)
        source = "\n" * (line - 1) + "raise __student_error__"
        exec(compile(source, STUDENT_FILE, "exec"), {"__student_error__": exception})
    raise exception


def _flat(value) -> list[torch.Tensor]:
    """The tensors inside ``value`` in ``wire``'s order (tuples, lists, dict values)."""
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, dict):
        return [t for v in value.values() for t in _flat(v)]
    if isinstance(value, (tuple, list)):
        return [t for v in value for t in _flat(v)]
    return []


def _rebuild(value, tensors: list):
    """``value`` with its tensors replaced, in order, by ``tensors`` (consumed)."""
    if isinstance(value, torch.Tensor):
        return tensors.pop(0)
    if isinstance(value, dict):
        return {k: _rebuild(v, tensors) for k, v in value.items()}
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return type(value)(*(_rebuild(v, tensors) for v in value))
    if isinstance(value, (tuple, list)):
        return type(value)(_rebuild(v, tensors) for v in value)
    return value


class _Through(torch.autograd.Function):
    """One call of the student's function inside autograd's graph: forward and backward in the sandbox."""

    @staticmethod
    def forward(ctx, call, *inputs):
        ctx.call = call
        outputs = call.outputs
        differentiable = call.differentiable
        for out, keep in zip(outputs, differentiable):
            if not keep:
                ctx.mark_non_differentiable(out)
        return tuple(outputs)

    @staticmethod
    def backward(ctx, *grads):
        call = ctx.call
        reply = call.function.sandbox.request({"op": "backward", "id": call.id,
                                               "grads": [None if g is None else encode(g) for g in grads]},
                                              timeout=call.function.sandbox.cell_timeout + 5)
        found = [decode(g) for g in reply.get("grads", [])]
        wanted = [t for t in call.inputs if t.requires_grad]
        if len(found) != len(wanted):
            raise SandboxGone("the sandbox's gradients do not match the call's inputs")
        by_input = iter(found)
        out = []
        for t in call.inputs:
            g = next(by_input) if t.requires_grad else None
            if isinstance(g, torch.Tensor) and (g.shape != t.shape):
                g = None
            out.append(None if g is None else g.to(t.dtype))
        return (None, *out)


class _Call:
    def __init__(self, function, inputs, reply):
        self.function, self.inputs, self.id = function, inputs, reply.get("id")
        result = decode(reply["result"])
        self.structure = result
        self.outputs = _flat(result)
        flags = [bool(t.requires_grad) for t in self.outputs]
        self.outputs = [t.detach() for t in self.outputs]
        self.differentiable = [flag and (t.is_floating_point() or t.is_complex()) for flag, t in
                               zip(flags, self.outputs)]


class StudentFunction:
    """A function of the student's notebook, called in its sandbox."""

    def __init__(self, sandbox: Sandbox, name: str, shown_name: str, report: dict):
        self.sandbox, self._name, self.__name__, self.__qualname__ = sandbox, name, shown_name, shown_name
        self._report = report  # what the test cell learns about the calls: stderr written

    def __repr__(self):
        return f"<the student's function {self.__name__}>"

    @see_through
    def __call__(self, *args, **kwargs):
        # the check's watch (if one is on) is set aside while this talks to the sandbox: what counts is what the
        # sandbox's watch saw the student's code call
        profiler = sys.getprofile()
        sys.setprofile(None)
        try:
            return self._call(args, kwargs, getattr(profiler, "__self__", None))
        finally:
            sys.setprofile(profiler)

    def _call(self, args, kwargs, watch):
        allowed = watch.allowed if isinstance(watch, Watch) else {}
        inputs = _flat((args, kwargs))
        grad = torch.is_grad_enabled() and any(t.requires_grad for t in inputs)
        encoded = {"args": encode(args), "kwargs": encode(kwargs)}
        missing = _uncarried(encoded)
        if missing is not None:
            raise NotCarried(f"this exercise hands {self.__name__} a {missing}, which the grading channel does not carry "
                             "(it carries numbers, text and tensors): lstm-lab grade cannot grade it; grade this "
                             "exercise with nbgrader, which runs the check beside the student's code")
        request = {"op": "call", "name": self._name, **encoded, "grad": grad,
                   "allowed": allowed,
                   "timeout": self.sandbox.cell_timeout,
                   "rng": base64.b64encode(torch.random.get_rng_state().numpy().tobytes()).decode("ascii")}
        reply = self.sandbox.request(request, timeout=self.sandbox.cell_timeout + 5)
        try:
            if "rng" in reply:
                state = torch.frombuffer(bytearray(base64.b64decode(reply["rng"])), dtype=torch.uint8)
                torch.random.set_rng_state(state.clone())
        except (ValueError, RuntimeError):
            raise SandboxGone("the sandbox sent back a random state torch does not take") from None
        if reply.get("stderr") is True:
            self._report["stderr"] = True
        if isinstance(watch, Watch):
            for name in reply.get("calls", [])[:20]:
                if isinstance(name, str) and name[:200] not in watch.calls:
                    watch.calls.append(name[:200])
            self._note_helpers(watch, reply.get("helpers", []))
        if "error" in reply:
            _raise_as_student(reply["error"] if isinstance(reply["error"], dict) else {})
        try:
            if not grad:
                result = decode(reply["result"])
                self._copy_back((args, kwargs), reply.get("changed", []))
                return result
            call = _Call(self, inputs, reply)
        except (WireError, KeyError, TypeError, ValueError) as error:
            raise SandboxGone(f"the sandbox's answer is not in the format ({error})") from None
        if not any(call.differentiable):
            return call.structure
        outputs = _Through.apply(call, *inputs)
        return _rebuild(call.structure, list(outputs))

    def _note_helpers(self, watch: Watch, helpers) -> None:
        """The notebook functions of other cells that the sandbox's watch saw, noted in the check's watch as its own
        watch notes them: by name, with their first result, and (when the notebook names one) a proxy that calls it
        alone, so the engine refuses one that computes the answer as it would in the notebook."""
        for found in helpers[:10] if isinstance(helpers, list) else []:
            name = found.get("name") if isinstance(found, dict) else None
            if not isinstance(name, str) or not name.isidentifier():
                continue
            function = StudentFunction(self.sandbox, name, name, self._report) if found.get("named") else None
            helper = watch.helpers.setdefault(f"the sandbox's {name}", Helper(name, function))
            try:
                helper.results += [decode(r) for r in found.get("results", [])[:1]]
            except (WireError, KeyError, TypeError, ValueError):
                pass  # no first result: the helper is still judged by name and by calling it alone

    @staticmethod
    def _copy_back(args, changed):
        """The student's function changed an argument in place: so it does here (the check says so)."""
        tensors = {}

        def walk(value, path):
            if isinstance(value, torch.Tensor):
                tensors[path] = value
            elif isinstance(value, dict):
                for k, v in value.items():
                    walk(v, f"{path}/{k}")
            elif isinstance(value, (tuple, list)):
                for k, v in enumerate(value):
                    walk(v, f"{path}/{k}")

        walk(args, "")
        for path, new in changed if isinstance(changed, list) else []:
            old = tensors.get(path)
            new = decode(new)
            if isinstance(old, torch.Tensor) and isinstance(new, torch.Tensor):
                with torch.no_grad():
                    if old.shape == new.shape:
                        old.copy_(new.to(old.dtype))
                    else:
                        old.add_(float("nan")) if old.is_floating_point() else old.fill_(-1)


def trusted_namespace(cells) -> dict:
    """What the instructor's (non-solution, non-test) cells import, imported here."""
    namespace = {"__name__": "__grading__", "__builtins__": builtins}
    for source in cells:
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        for node in tree.body:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                try:
                    exec(compile(ast.Module([node], []), "<the instructor's imports>", "exec"), namespace)
                except Exception:  # an import that fails here fails the cell that needs it, with its error
                    pass
    return namespace


def free_names(source: str) -> list[str]:
    """Names a cell reads (in order) that it does not bind itself."""
    tree = ast.parse(source)
    bound = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, (ast.Store, ast.Del))}
    read = [n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)]
    return [n for n in dict.fromkeys(read) if n not in bound]


class _Missing:
    pass


def run_test_cell(sandbox: Sandbox, source: str, trusted: dict) -> tuple[bool, str]:
    """Run an instructor's test cell here; (passed, the error's message). The student's names come from
    the sandbox; a test that made the student's code write to stderr fails, as nbgrader scores it."""
    report = {"stderr": False}
    namespace = dict(trusted)
    try:
        names = free_names(source)
    except SyntaxError as error:
        return False, f"SyntaxError: {error}"
    for name in names:
        if name in trusted or hasattr(builtins, name):
            continue
        found = sandbox.request({"op": "resolve", "name": name})
        kind = found.get("kind")
        if kind == "function":
            namespace[name] = StudentFunction(sandbox, name, str(found.get("name", name))[:100], report)
        elif kind == "value":
            try:
                namespace[name] = decode(found.get("value"))
            except WireError as error:
                raise SandboxGone(f"the sandbox's value of {name} is not in the format ({error})") from None
            calls = found.get("calls")  # what its exercise cell called: a value check refuses a library call
            if isinstance(calls, list) and all(isinstance(c, str) for c in calls):
                note_value(name, namespace[name], [c[:200] for c in calls[:20]])
        elif kind == "unsupported":
            namespace[name] = opaque(str(found.get("type", "object")))
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            exec(compile(source, "<test cell>", "exec"), namespace)
    except SandboxGone:
        raise
    except NotCarried as error:  # no verdict on the student: the exercise is not gradable through the channel
        sandbox.request({"op": "forget"})
        return False, f"NotGradedHere: {error}"
    except Exception as error:
        sandbox.request({"op": "forget"})
        return False, f"{type(error).__name__}: {error}"
    sandbox.request({"op": "forget"})
    if report["stderr"]:
        return False, ("StudentWroteToStderr: the right answer, but the student's code wrote to stderr while its test "
                       "ran (a print(..., file=sys.stderr), a warning): nbgrader scores such a test cell 0, and so "
                       "does lstm-lab grade, so that the two agree")
    return True, ""
