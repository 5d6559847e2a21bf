"""What a check says, and how a student's answer is run and compared: a ``Feedback`` (truthy when right), never a
traceback from lstm_lab. A ``@verdict`` check prints "not yet" in a notebook and raises under grading
(``NBGRADER_EXECUTION`` set); ``compare`` names the number that is off; ``call_student`` runs the answer, watched."""

from __future__ import annotations

import contextlib
import functools
import os
import re
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import torch

from .shortcuts import Watch

# The one tolerance table of the checks: how far an answer may be from the reference and still be
# right, by the kind of answer (every check names its entry; none has a number of its own).
TOLERANCES = {
    "float64": 1e-10,  # float64 code against a float64 reference: a right answer agrees to ~1e-15
    "float64, longer": 1e-8,  # the same through more operations (backward passes, gradients, a known mistake)
    "sequence": 1e-6,  # student code over a sequence may sum in another order; a real mistake is far larger
    "closed form": 1e-6,  # a formula against the step-by-step loop it replaces
    "clipping": 1e-5,  # torch's clip_grad_norm_ divides by (norm + 1e-6); the exact scale is right too
    "rounded": 5e-5,  # one number rounded to four decimals: half its last digit
    "by hand": 1e-4,  # answers worked on paper carry four decimals (and errors carried from step to step)
    "typed": 1e-3,  # one number typed with three decimals (2.197 for log 9)
    "exact": 0.0,  # whole numbers: counts, ids, masks, targets
    "memory kept": 0.01,  # notebook 08: a cell state that keeps its first input drifts no further than this
    # statistics of random draws, judged on thousands of numbers
    "spread": 0.005,  # weights drawn as randn * 0.1: their standard deviation within 0.1 ± this
    "mean": 0.01,  # ... and their mean within this of 0
    "unscaled": 0.1,  # a standard deviation within 1 ± this: randn not scaled
    "normal mass": 0.63,  # at least this share within one standard deviation: a normal has 68%, a uniform 58%
    "frequency": 2e-3,  # a sampled frequency may be off by 5 standard deviations of 20,000 draws and this
}

_LIBRARY_DIRS = (Path(__file__).resolve().parents[1], Path(torch.__file__).resolve().parent)


class ExerciseFailed(AssertionError):
    """Raised by ``Feedback.assert_ok`` (for grading) when an answer is not right yet. A notebook shows its message
    alone (IPython calls ``_render_traceback_``: a traceback through lstm_lab would only distract); an autograder
    still sees an error in the cell, so the test counts as failed."""

    def _render_traceback_(self) -> list[str]:
        first, *rest = str(self).splitlines() or [""]
        return [f"{type(self).__name__}: {first}", *rest]


@dataclass
class Feedback:
    exercise: str
    ok: bool
    lines: list[str] = field(default_factory=list)
    cause: str = ""  # why a call gave no answer (call_student): "stub", "raised", "shortcut", "no function"

    def __bool__(self) -> bool:
        return self.ok

    def __str__(self) -> str:
        head = f"{'✓' if self.ok else '✗'} {self.exercise}: {'correct' if self.ok else 'not yet'}"
        return "\n".join([head, *("   " + line for line in self.lines)])

    __repr__ = __str__

    def assert_ok(self) -> None:
        """Raise ``ExerciseFailed`` unless the answer is right. Returns None, so that a grading cell
        ending in ``check(...).assert_ok()`` shows no output (nbgrader warns of partial credit
        when a graded cell's last expression gives a value)."""
        if not self.ok:
            raise ExerciseFailed(str(self))


GRADING = "NBGRADER_EXECUTION"  # nbgrader sets it while it autogrades or validates; lstm-lab grade does too


def grading() -> bool:
    """Is this kernel run by a grader?"""
    return bool(os.environ.get(GRADING))


_depth = 0  # checks call checks (check_forget_gate is check_gate): only the outermost verdict is the cell's


@contextlib.contextmanager
def not_graded():
    """Checks run inside never raise under grading: for a cell that shows what a check says to a mistake
    (the notebook's example, not the student's answer), which must not fail when a grader runs the notebook."""
    global _depth
    _depth += 1
    try:
        yield
    finally:
        _depth -= 1


def verdict(check):
    """A check, as a notebook cell uses it: returns its ``Feedback``, and under grading raises
    ``ExerciseFailed`` on a failing one (the message ``assert_ok`` gives), so that a graded cell
    fails while the answer is unfinished or wrong."""
    @functools.wraps(check)
    def run(*args, **kwargs):
        with not_graded():  # the checks it calls are not the cell's
            result = check(*args, **kwargs)
        if _depth == 0 and grading():
            result.assert_ok()
        return result
    return run


def fmt_pair(got: float, want: float, whole: bool = False) -> tuple[str, str]:
    """Two numbers that differ, printed with as many decimals as it takes to see that they do
    (four when four suffice: -0.0001 and -0.0001 would read as equal); ``whole``: as whole numbers where both are."""
    if whole and float(got).is_integer() and float(want).is_integer():
        return str(int(got)), str(int(want))
    for decimals in range(4, 17):
        a, b = f"{got:.{decimals}f}", f"{want:.{decimals}f}"
        if a != b:
            return a, b
    return repr(got), repr(want)


def _position(index: tuple[int, ...], axis_names, what: str = "the value") -> str:
    if not index:  # one number: named as the answer is
        return what
    if axis_names and len(axis_names) == len(index):
        # time steps count from 1 in the course (x_1 is X[0]); every other axis from 0, as indices do
        return ", ".join(f"step {i + 1} (index {i})" if name == "step" else f"{name} {i}"
                         for name, i in zip(axis_names, index))
    return "entry [" + ", ".join(str(i) for i in index) + "]"


def as_tensor(value):
    """A student's answer as a float64 tensor, or None if it is not numbers at all."""
    if isinstance(value, torch.Tensor):
        if value.is_complex():
            return None  # its imaginary part would be dropped silently: compare says so
        return value.detach().to("cpu", torch.float64)
    try:
        return torch.as_tensor(value, dtype=torch.float64)
    except (TypeError, ValueError, RuntimeError):
        return None


def same(given, expected, atol: float) -> bool:
    """The one equality test of the checks: numbers of one shape, equal to within ``atol`` everywhere."""
    got, want = as_tensor(given), as_tensor(expected)
    return (got is not None and want is not None and got.shape == want.shape
            and bool(((got - want).abs() <= atol).all()))


def seeded(seed: int) -> torch.Generator:
    """A generator of its own, so that a check never moves the notebook's random stream."""
    return torch.Generator().manual_seed(seed)


def randn(gen: torch.Generator | int, *shape, scale: float = 1.0) -> torch.Tensor:
    """Seeded float64 normal numbers (``gen``: a generator, or a seed for a fresh one)."""
    gen = seeded(gen) if isinstance(gen, int) else gen
    return torch.randn(*shape, dtype=torch.float64, generator=gen) * scale


def compare(exercise: str, given, expected, *, atol: float = TOLERANCES["by hand"], axis_names=None, what: str = "your answer",
            max_listed: int = 4) -> Feedback:
    """Compare a student's numbers with the expected ones and say precisely what differs."""
    if given is None:
        return Feedback(exercise, False, [f"{what} is None: did the function forget to `return` its result?"])
    got, want = as_tensor(given), as_tensor(expected)
    if isinstance(given, torch.Tensor) and given.is_complex():
        return Feedback(exercise, False, [f"{what} is a complex tensor (dtype {given.dtype}): the answer is real "
                                          f"numbers, float64 like the inputs. Where did a complex number come "
                                          f"in (torch.complex, a square root of a negative, torch.fft)?"])
    if got is None:
        return Feedback(exercise, False, [f"{what} should be a tensor of numbers, got a {type(given).__name__}"])
    if got.shape != want.shape:
        return Feedback(exercise, False, [shape_message(got.shape, want.shape, what, axis_names)])
    if not torch.isfinite(got).all():
        bad = tuple(torch.nonzero(~torch.isfinite(got))[0].tolist())
        return Feedback(exercise, False, [f"{what} holds {got[bad].item()}" + (f" at {_position(bad, axis_names)}"
                                                                              if bad else "")])
    wrong = torch.nonzero((got - want).abs() > atol)
    # the tolerance as a message shows it: a number, or (one per number, a statistic's) the largest
    tolerance = f"{atol:g}" if not isinstance(atol, torch.Tensor) else f"up to {atol.max().item():.3g}"
    if len(wrong) == 0:
        return Feedback(exercise, True, [f"matches to within {tolerance}"])
    lines = []
    for idx in map(tuple, wrong[:max_listed].tolist()):
        shown_got, shown_want = fmt_pair(got[idx].item(), want[idx].item(), whole=tolerance == "0")
        lines.append(f"{_position(idx, axis_names, what)}: got {shown_got}, expected {shown_want}")
    if want.numel() > 1:  # under a heading that names the value, the first few numbers that differ
        more = [f"... and {len(wrong) - max_listed} more"] if len(wrong) > max_listed else []
        lines = [f"{what}: {len(wrong)} of {want.numel()} numbers differ (tolerance {tolerance}):",
                 *("  " + line for line in lines + more)]
    return Feedback(exercise, False, lines)


def _axis(axis: int, axis_names) -> str:
    name = f" ({axis_names[axis]})" if axis_names and axis < len(axis_names) else ""
    return f"axis {axis}{name}"


def shape_message(got, want, what, axis_names=None, advice: str = "") -> str:
    """The one shape message: how a shape differs from the expected one (which axis, swapped axes, a missing
    axis), and ``advice``, what the exercise says about its layout."""
    got, want, advice = tuple(got), tuple(want), f"; {advice}" if advice else ""
    return f"{what} has shape {got}, expected {want}: {_shape_difference(got, want, axis_names)}{advice}"


def _shape_difference(got: tuple, want: tuple, axis_names) -> str:
    if len(got) == len(want):
        differing = [k for k, (g, w) in enumerate(zip(got, want)) if g != w]
        if len(differing) == 2 and got[differing[0]] == want[differing[1]] and got[differing[1]] == want[differing[0]]:
            a, b = differing
            if len(got) == 2:
                return "it looks transposed (the axes are swapped)"
            return f"{_axis(a, axis_names)} and {_axis(b, axis_names)} look swapped"
        if sorted(got) == sorted(want):
            return "the same sizes in another order (are the axes permuted?)"
        return "; ".join(f"{_axis(k, axis_names)} has size {got[k]} instead of {want[k]}" for k in differing)
    if len(got) + 1 == len(want):
        for k in range(len(want)):
            if want[:k] + want[k + 1:] == got:
                hint = " (squeezed away?)" if want[k] == 1 else ""
                batch = " (a batch dimension is missing?)" if k == 0 and not axis_names else ""
                return f"{_axis(k, axis_names)} of size {want[k]} is missing{hint or batch}"
    if len(got) == len(want) + 1:
        for k in range(len(got)):
            if got[:k] + got[k + 1:] == want:
                hint = (" (forgot to sum or pick along it?)" if got[k] != 1 else
                        ": a column where a vector belongs" if len(want) == 1 and got == (*want, 1) else
                        " (an unsqueeze too many, or an axis not summed away?)")
                return f"it has an extra axis {k} of size {got[k]}{hint}"
    return f"{len(got)} dimension(s) instead of {len(want)}"


_MATMUL = re.compile(r"shapes cannot be multiplied \((\d+)x(\d+) and (\d+)x(\d+)\)")
_BROADCAST = re.compile(r"size of tensor a \((\d+)\) must match the size of tensor b \((\d+)\)")


FORWARD_MATMUL = "torch keeps a weight row per output unit, so going forwards it is x @ W.T"


def error_hints(error: BaseException, matmul_advice: str | None = FORWARD_MATMUL) -> list[str]:
    """What a common torch error usually means in an exercise, in a student's words; ``matmul_advice`` (which way
    round this exercise's products go: a backward pass differs) is added to the shape arithmetic of a failed ``@``."""
    text, matmul = str(error), _MATMUL.search(str(error))
    if matmul:
        rows_a, cols_a, rows_b, cols_b = map(int, matmul.groups())
        if cols_a != cols_b:
            return [f"in A @ B the columns of A ({cols_a}) must equal the rows of B ({rows_b}): check which tensor "
                    f"goes where, and its shape"]
        return [f"a ({rows_a}x{cols_a}) @ ({rows_b}x{cols_b}) product would fit with the second matrix transposed "
                f"(a .T missing, or one too many)" + (f": {matmul_advice}" if matmul_advice else "")]
    if _BROADCAST.search(text):
        return ["two tensors could not be broadcast together: is a bias or a state of the wrong shape "
                "(e.g. a column (H, 1) where (H,) belongs)?"]
    if "dtype" in text and ("Double" in text or "double" in text):
        return ["the checks pass float64 tensors; a tensor you made is float32: create new tensors with "
                "dtype=x.dtype, or with torch.zeros_like(...)"]
    if isinstance(error, IndexError) and "out of bounds" in text:
        return ["an index is past the end of an axis: indices run from 0 to size - 1"]
    if "in-place operation" in text:
        return ["an in-place update (+=, [...] =, .add_) changed a tensor autograd needs: write h = h + ... "
                "or collect the steps in a list and torch.stack them"]
    return []


def call_student(exercise: str, fn, *args, allowed: tuple[str, ...] = (),
                 matmul_advice: str | None = FORWARD_MATMUL, helpers: dict | None = None):
    """Run a student's function: ``(result, None)``, or ``(None, Feedback)`` naming the exception and the line of
    *the student's* code that raised it (never a frame of lstm_lab), or the call of lstm_lab's or torch's own
    implementation it made that ``allowed`` does not hand out (``shortcuts``), whatever it returned. ``helpers``
    receives the functions of other notebook cells it called (``shortcuts.Helper``), for the engine to judge."""
    if not callable(fn):
        return None, Feedback(exercise, False, [f"expected a function, got a {type(fn).__name__}"], "no function")
    watch, error = Watch(allowed), None
    try:
        with watch:
            result = fn(*args)
    except NotImplementedError as stub:
        name = getattr(fn, "__name__", "the function")
        said = f" ({stub})" if str(stub) else ""  # the student edition's stub names the exercise
        return None, Feedback(exercise, False, [f"{name} is not implemented yet{said}: replace the line "
                                                "`raise NotImplementedError(...)` with your code"], "stub")
    except Exception as raised:  # the student's bug, reported in words
        error = raised
    shortcut = watch.sentence(exercise)  # a call it may not make is the whole story, whether it raised or not
    if shortcut or error is not None:
        return None, (Feedback(exercise, False, [shortcut], "shortcut") if shortcut else
                      Feedback(exercise, False, [describe_error(error), *error_hints(error, matmul_advice)], "raised"))
    if helpers is not None:
        helpers.update(watch.helpers)
    return result, None


def describe_error(error: BaseException) -> str:
    """``your function raised Type: message (line N: `code`)``, naming the student's line, not ours."""
    frames = [f for f in traceback.extract_tb(error.__traceback__)
              if not any(Path(f.filename).resolve().is_relative_to(d) for d in _LIBRARY_DIRS)]  # the student's
    where = f" (line {frames[-1].lineno}: `{frames[-1].line}`)" if frames and frames[-1].line else ""
    return f"your function raised {type(error).__name__}: {error}{where}"
