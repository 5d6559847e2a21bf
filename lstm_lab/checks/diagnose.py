"""The exercise engine: every check is an ``Exercise`` declaration run by ``run_check``.

A declaration names its reference, its cases (the fixed X with golden numbers, seeded random batches), its
catalogue of mistakes (built on ``lstm_lab.mistakes`` and ``catalogue``), the library calls it allows and its
judge (``JUDGES``). ``run_check`` runs the answer on copies of every case, refuses a shortcut, judges each returned
value and, when something is off, says which case, number and step, which catalogued mistake reproduces it and
which inputs the answer ignores (from autograd); right numbers must give the reference's gradients too.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import Tensor

from ..gates import GATE_WORDS
from ..training import fixed_seed
from .core import (FORWARD_MATMUL, TOLERANCES, Feedback, as_tensor, call_student, compare, describe_error,
                   error_hints, same, shape_message, verdict)
from .shortcuts import calls_behind, see_through

ATOL = TOLERANCES["float64"]  # a mistake is off by far more than this


@dataclass
class Case:
    """One call of the student's function and the answer it should give."""

    label: str  # how the message names this case: "the fixed X, step 2"
    args: tuple  # positional arguments (tensors, tuples or dicts of tensors, ints)
    expected: object = None  # the right answer; None: the exercise's reference computes it
    names: tuple = ()  # a name per argument (a tuple of names for a tuple argument; dicts use their keys)
    zero_state: bool = False  # the recurrent state is zero here, so mistakes in the recurrence cannot show
    returns: object = None  # the shape of the result where this case's differs from the exercise's (a list of N)
    atol: object = None  # this case's tolerance where it is its own (a statistic's sampling error, one per number)
    about: dict = field(default_factory=dict)  # what the case was made from (a seed), for its catalogue of mistakes


# How a returned value is judged: a closed set. "close": numbers within the exercise's tolerance (gradients too);
# "exact": whole numbers (a count, an index, a mask, ids): an int where the answer is one, every number equal;
# "statistic": a random draw, its statistic (the frequencies of the ids drawn) within the case's tolerance (its
# sampling error), and drawn again from the same generator state it must repeat itself; "trajectory": an answer
# that trains, "close" on what it returns (the losses) and on the state it leaves behind (the parameters);
# "property": no one right answer (weights drawn at random, a bias large enough): ``_judge_property``.
JUDGES = ("close", "exact", "statistic", "trajectory", "property")


@dataclass
class Exercise:
    """One exercise, declared: what ``run_check`` needs to judge an answer and explain a wrong one."""

    name: str  # the function's name, as the notebook and the student version use it
    reference: Callable | None  # lstm_lab's answer, same signature as the student's function (None: cases say)
    returns: object  # the shape of the result: "h", or ("h", "c"), or ("outputs", ("h_n", "c_n"))
    cases: Callable | None = None  # (**options) -> the Case list: the fixed X with golden numbers, random batches
    judge: str = "close"  # one of JUDGES
    hint: tuple = ()  # lines under a wrong answer that no catalogued mistake explains
    statistic: Callable | None = None  # judges "statistic", "property": (result, case) -> what is judged, or why none
    properties: tuple = ()  # judge "property": each (measured, case, again) -> None where it holds, else its lines
    unrepeatable: str = ""  # judge "statistic": the sentence for a draw that the same generator state does not repeat
    after: Callable | None = None  # judge "trajectory": (the arguments, after the call) -> the state left behind
    answer: str = "function"  # "value": the answer is the value itself (a number worked by hand), one case
    lenient: bool = False  # accept what a by-hand answer may look like (a batch of one)
    reshape: tuple | None = None  # view the flat numbers answered in a shape whose axes have names
    advice: Callable | None = None  # an answer of another shape -> what the exercise says of its layout
    axis_names: dict = field(default_factory=dict)  # per returned name: names of its axes
    mistakes: Callable | None = None  # case -> {message: the answer that mistake gives (None leaves: any)}
    locate: Callable | None = None  # (fn, case, result) -> lines that narrow the mistake down (a value's: instead)
    time_axis: dict = field(default_factory=dict)  # per returned name: the axis that is time
    gate_blocks: dict = field(default_factory=dict)  # per argument / returned name: gate letters stacked on dim 0
    error_hints: dict = field(default_factory=dict)  # an exception type or words of its message -> a hint
    gradients: bool = True  # compare gradients once the numbers are right
    atol: float = ATOL
    success: tuple = ()  # lines that say what "correct" was checked against (none: what compare says of it)
    state_args: tuple = ()  # positions of the arguments that are the recurrent state (zeroed by a probe)
    batch_args: tuple = ()  # positions of the arguments with a batch axis first (split by a probe)
    allowed: tuple = ()  # library functions the exercise hands the student, "name" or "name(arg=value)" (``shortcuts``)
    notebook_answers: tuple = ()  # functions a notebook defines above the exercise that compute most of its answer
    matmul_advice: str | None = FORWARD_MATMUL  # which way round this exercise's products go

    def __post_init__(self):
        if self.judge not in JUDGES:
            raise ValueError(f"{self.name}: judge {self.judge!r} is none of {JUDGES}")
        if self.judge == "exact":
            self.atol, self.gradients = TOLERANCES["exact"], False


# ---------------------------------------------------------------- structure of arguments and results
def tree_map(value, fn, name=""):
    """The one walk over an argument or a result: ``fn(name, tensor)`` for every tensor inside tuples, named
    tuples, lists and dicts (named as a student would: ``weights['weight_ih']``, ``step.c``), the structure
    rebuilt around what it returns. ``name`` may be a tuple: a name per item of a tuple."""
    if isinstance(value, Tensor):
        return fn(name, value)
    if isinstance(value, dict):  # params dicts: named by key, or by argument and key
        return {k: tree_map(v, fn, f"{name}[{k!r}]" if name else k) for k, v in value.items()}
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return type(value)(*(tree_map(v, fn, f"{name}.{k}") for k, v in zip(value._fields, value)))
    if isinstance(value, (tuple, list)):
        return type(value)(tree_map(v, fn, name[k] if isinstance(name, tuple) else f"{name}[{k}]")
                           for k, v in enumerate(value))
    return value if not isinstance(value, torch.Generator) else clone(value)  # a generator's copy goes with it


def clone(value, requires_grad: bool = False):
    """A deep copy of the tensors inside ``value`` (and of a generator: a copy of its state)."""
    if isinstance(value, torch.Generator):
        return torch.Generator().set_state(value.get_state())

    def copy(_, t):
        t = t.detach().clone()
        return t.requires_grad_() if requires_grad and t.is_floating_point() else t
    return tree_map(value, copy)


def named_tensors(args: tuple, names: tuple = ()) -> list[tuple[str, Tensor]]:
    """Every tensor inside the arguments, with a name a student recognises."""
    out = []
    for k, value in enumerate(args):
        tree_map(value, lambda name, t: out.append((name, t)), names[k] if k < len(names) else f"argument {k}")
    return out


def flat_names(spec) -> list[str]:
    return [spec] if isinstance(spec, str) else [name for part in spec for name in flat_names(part)]


def spec_text(spec) -> str:
    return spec if isinstance(spec, str) else "(" + ", ".join(spec_text(p) for p in spec) + ")"


def _kind(value) -> str:
    if value is None:
        return "None"
    if isinstance(value, Tensor):
        return f"a tensor of shape {tuple(value.shape)}"
    if isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} of {len(value)} item(s)"
    return f"a {type(value).__name__}"


def split(result, spec, partial: bool = False) -> list | str:
    """The returned values as a flat list in ``spec``'s order, or a sentence saying why not. ``partial``: a
    catalogued answer, whose None parts stand for any value (None leaves), and whose misfit is just None."""
    if isinstance(spec, str):
        return [result]
    if partial and result is None:
        return [None] * len(flat_names(spec))
    if isinstance(result, dict) and all(isinstance(part, str) and part in result for part in spec):
        result = tuple(result[part] for part in spec)  # the values by name: {"weight_ih": ..., "weight_hh": ...}
    if not isinstance(result, (tuple, list)) or len(result) != len(spec):
        if partial:
            return None
        if result is None:
            return f"it returned None: did the function forget to `return` {spec_text(spec)}?"
        return f"it should return {spec_text(spec)}, got {_kind(result)}"
    leaves = []
    for part, value in zip(spec, result):
        inner = split(value, part, partial)
        if inner is None or isinstance(inner, str):
            return inner
        leaves += inner
    return leaves


# ---------------------------------------------------------------- one run over the cases
@dataclass
class _Run:
    case: Case
    expected: list
    result: object = None
    leaves: list | None = None
    error: Feedback | None = None
    structure: str | None = None  # why the result could not be split
    verdicts: list = field(default_factory=list)  # a Feedback per returned value
    changed: list = field(default_factory=list)  # arguments the student changed in place
    returns: object = None  # the shape of the result (the case's, else the exercise's)
    helpers: dict = field(default_factory=dict)  # functions of other notebook cells it called (shortcuts.Helper)

    @property
    def right(self) -> bool:  # the right numbers (changing an argument in place is a mistake of its own)
        return self.leaves is not None and all(self.verdicts)


def _run_case(ex: Exercise, fn, case: Case) -> _Run:
    expected = case.expected
    if expected is None:
        with torch.no_grad():
            expected = ex.reference(*clone(case.args))
    returns = case.returns or ex.returns
    run = _Run(case, split(expected, returns), returns=returns)
    args = clone(case.args)
    result, failure = call_student(ex.name, fn, *args, allowed=ex.allowed, matmul_advice=ex.matmul_advice,
                                   helpers=run.helpers)
    if failure is not None:
        lines = list(failure.lines)
        for type_name, hint in ex.error_hints.items():  # by the exception's type, or words of its message
            if type_name in lines[0]:
                lines = [lines[0], hint]  # this exercise knows better than the general hint
        if failure.cause == "raised":  # which case made it raise
            lines.insert(0, f"on {case.label}:")
        run.error = Feedback(ex.name, False, lines)
        return run
    run.result = result
    value = ex.statistic(result, case) if ex.statistic else (result, ex.after(args)) if ex.after else result
    leaves = value if isinstance(value, str) and ex.statistic else split(value, returns)
    if isinstance(leaves, str):
        run.structure = leaves
        return run
    run.leaves = [_lenient(got, want) for got, want in zip(leaves, run.expected)] if ex.lenient else leaves
    run.verdicts = [_judge(ex, name, got, want, case.atol) for name, got, want in
                    zip(flat_names(returns), run.leaves, run.expected)]
    run.changed = [name for (name, before), (_, after) in zip(named_tensors(case.args, case.names),
                                                               named_tensors(args, case.names))
                   if before.shape != after.shape or not torch.equal(before, after)]
    return run


def _judge(ex: Exercise, name: str, got, want, atol=None) -> Feedback:
    """One returned value against the right one, as the exercise's judge decides."""
    if ex.judge == "exact" and isinstance(want, int):  # a count or an index is an int
        if isinstance(got, Tensor) and got.numel() == 1 and not got.is_floating_point() and not got.is_complex():
            got = int(got.item())
        if isinstance(got, bool) or not isinstance(got, int):
            return Feedback(ex.name, False, [f"{name} should be a whole number (int), got {_kind(got)}"])
    integers = isinstance(want, Tensor) and want.dtype != torch.bool and not want.is_floating_point()
    if ex.judge == "exact" and integers and isinstance(got, Tensor) and got.is_floating_point():  # ids index things
        return Feedback(ex.name, False, [f"{name} should hold integers, dtype {want.dtype}, got {got.dtype}"])
    if got is None and ex.answer == "value":  # not worked out yet; compare's sentence would ask for a `return`
        return Feedback(ex.name, False, [f"{name} is None: assign your numbers to the variable"])
    given, wanted = (as_tensor(got), as_tensor(want)) if ex.advice or ex.reshape else (None, None)
    if ex.advice and given is not None and given.shape != wanted.shape:  # the exercise says more of its layout
        return Feedback(ex.name, False, [shape_message(given.shape, wanted.shape, name, advice=ex.advice(given))])
    if ex.reshape:  # the numbers seen in a shape whose axes have names, where they fit it
        got = given.reshape(ex.reshape) if given is not None and given.numel() == wanted.numel() else got
        want = wanted.reshape(ex.reshape)
    atol = ex.atol if atol is None else atol
    return compare(ex.name, got, want, atol=atol, axis_names=ex.axis_names.get(name), what=name)


def run_check(ex: Exercise, fn, cases: list[Case] | None = None, **options) -> Feedback:
    """The one route of a check: ``fn`` on ``cases`` (by default the exercise's, made with ``options``); a
    Feedback that says what is wrong, or what was checked."""
    count = options.get("random_cases", 0)
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise ValueError(f"random_cases should be a whole number of random batches, 0 or more, got {count!r}")
    if cases is None:
        cases = ex.cases(**options)
    if not cases:  # nothing run is nothing shown right: a sentence, not an IndexError further down
        return Feedback(ex.name, False, [f"there is no case to check {ex.name} on: the check was given none"])
    computed = calls_behind(fn, ex.allowed) if ex.answer == "value" else []
    if computed:  # the cell that made the answer called the library for it (a notebook's exercise cells are watched)
        called = ", ".join(f"`{c}`" for c in computed)
        return Feedback(ex.name, False, [f"the cell that made your answer calls {called}, which computes it for you: "
                                         "work it out yourself from the numbers given (@, +, torch.sigmoid, ...)"])
    if ex.answer == "value":  # the value is what a function of no arguments returns: one route for both
        fn = see_through((lambda value: lambda: value)(fn))  # not watched: it calls nothing
    if ex.judge == "property":
        return _judge_property(ex, fn, cases)
    runs = [_run_case(ex, fn, case) for case in cases]
    helper = _safely(_helper_answering, None, ex, runs)
    if helper is not None:
        return Feedback(ex.name, False, [helper.sentence(ex.name)])
    if all(run.right and not run.changed for run in runs):
        if ex.judge == "statistic":  # the same arguments (the same generator state) must give the same draw again
            first, again = runs[0].result, _run_case(ex, fn, cases[0]).result
            if not (isinstance(again, Tensor) and isinstance(first, Tensor) and torch.equal(again, first)):
                return Feedback(ex.name, False, [ex.unrepeatable])
        if ex.gradients:
            failure = _gradient_failure(ex, fn, next((c for c in cases if not c.zero_state), cases[0]))
            if failure is not None:
                return failure
        # success lines may name the case count and the options, given or default: "{random_cases} random batches"
        told = {k: p.default for k, p in (inspect.signature(ex.cases).parameters.items() if ex.cases else ())
                if p.default is not p.empty}
        said = [line.format(cases=len(cases), **{**told, **options}) for line in ex.success]
        return Feedback(ex.name, True, said or [line for verdict in runs[0].verdicts for line in verdict.lines])
    return Feedback(ex.name, False, _explain(ex, fn, runs))


def checker(ex: Exercise, doc: str = "", name: str = "") -> Callable:
    """A notebook's ``check_<name>(fn, **options)`` of a declaration: ``run_check`` as a ``@verdict``. It carries
    its declaration, ``check.exercise``: ``use.yours_or_reference`` takes the reference from there."""
    options_of = inspect.signature(ex.cases) if ex.cases else inspect.Signature()  # seed=, random_cases=, ...
    def check(fn, **options):
        try:
            options_of.bind(**options)
        except TypeError:  # a sentence, not a TypeError from inside lstm_lab
            raise TypeError(f"{check.__name__} takes the options {', '.join(options_of.parameters) or '(none)'}, "
                            f"got {', '.join(f'{k}={v!r}' for k, v in options.items())}") from None
        return run_check(ex, fn, **options)
    check.__name__ = check.__qualname__ = name or f"check_{ex.name}"
    check.__doc__, check.exercise = doc, ex
    check.__signature__ = inspect.Signature([inspect.Parameter("fn", inspect.Parameter.POSITIONAL_OR_KEYWORD), *(
        p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in options_of.parameters.values())])  # for help()
    return verdict(check)


def _judge_property(ex: Exercise, answer, cases: list[Case]) -> Feedback:
    """Judge "property": the answer (the value, or what the function returns, called under the case's seed,
    ``about["seed"]``, the caller's random stream left alone) measured on every case, then ``ex.properties`` on
    the last (the largest: a statistic needs many numbers), in order: the first that fails names the mistake.
    ``again(seed)`` calls it anew: what it measures, or why it could not (a sentence, or the call's Feedback)."""
    for case in cases:
        def again(seed=case.about.get("seed", 0), case=case):
            with fixed_seed(seed):
                result, failure = call_student(ex.name, answer, *clone(case.args), allowed=ex.allowed)
            return failure if failure is not None else ex.statistic(result, case)

        measured = again()
        if isinstance(measured, (str, list, Feedback)):  # not measured: why (a stub is the same on every case)
            lines = [measured] if isinstance(measured, str) else list(getattr(measured, "lines", measured))
            where = [] if not case.label or getattr(measured, "cause", "") == "stub" else [f"for {case.label}:"]
            return Feedback(ex.name, False, [*where, *lines])
    for holds in ex.properties:
        lines = holds(measured, case, again)
        if lines:
            return Feedback(ex.name, False, list(lines))
    return Feedback(ex.name, True, [line.format(**measured) for line in ex.success])


# ---------------------------------------------------------------- a value
def _lenient(answer, expected):
    """A number worked by hand in a batch of one, (1, H) as seed 001 prints it, seen as the expected (H,)."""
    got, want = as_tensor(answer), as_tensor(expected)
    return got[0] if got is not None and want is not None and got.shape == (1, *want.shape) else answer


def check_value(exercise: str, answer, expected, mistakes=(), *, atol: float, axis_names=None, what: str = "your answer",
                lenient: bool = False, reshape=None, note: str | None = None, judge: str = "close",
                success: tuple = (), advice=None, locate=None) -> Feedback:
    """A value exercise declared and judged in one call (the options as ``Exercise``'s): ``mistakes`` pairs of
    explanation and the numbers that mistake gives; ``note`` is added under a wrong answer's numbers."""
    ex = Exercise(exercise, None, what, answer="value", atol=atol, axis_names={what: axis_names}, lenient=lenient,
                  reshape=reshape, hint=(note,) if note else (), mistakes=lambda case: dict(mistakes), judge=judge,
                  success=success, advice=advice, locate=locate, gradients=False)
    return run_check(ex, answer, [Case("", (), expected)])


# ---------------------------------------------------------------- explaining a failure
def _explain(ex: Exercise, fn, runs: list[_Run]) -> list[str]:
    answered = [r for r in runs if r.leaves is not None]
    wrong = [r for r in answered if not r.right]
    failed = next((r for r in runs if r.leaves is None), None)  # it raised, or returned something that is no answer
    if not answered:
        return _no_answer(failed, labelled=False) or ["your function gave no answer to check"]
    if not wrong:
        changed = next((r for r in runs if r.changed), None)
        if changed is not None:  # right numbers, but the inputs were changed in place
            return [f"the numbers are right, but your function changed its argument {', '.join(changed.changed)} in "
                    "place: the caller's tensor is modified. Write new tensors (h = h + ...) instead of +=, [...] = "
                    "or .add_()"]
        # right wherever it answered: the case it failed on is the whole story (e.g. right on one sample, raising
        # on a batch, as a .chunk(3) without dim=-1 does: it splits the batch axis)
        right = "; ".join(r.case.label for r in answered)
        return [f"your answer is right on {right}, but not on every case:", *_no_answer(failed, labelled=True)]
    first = wrong[0]
    precision = _precision_hint(first)
    if precision:  # right up to float32 rounding: that is the whole story
        return [*precision, f"on {first.case.label}:",
                *("  " + line for v in first.verdicts if not v for line in v.lines[:3])]
    mistake = _safely(_known_mistake, None, ex, answered)
    lines = [mistake] if mistake else []
    raised = next((r for r in runs if r.error is not None), None)
    if raised is not None:  # the exception is the clearest evidence: it comes first, in full
        lines += [*raised.error.lines, "where it runs, it gives wrong numbers:"]
    lines += [f"on {first.case.label}:"] if first.case.label else []  # a value answer's one case has no label
    indent = "  " if first.case.label else ""
    wrong_values = [(name, v) for name, v in zip(flat_names(first.returns), first.verdicts) if not v]
    for k, (name, verdict) in enumerate(wrong_values):  # the first two in detail, then their headings
        lines += [indent + line for line in (verdict.lines if k < 2 else verdict.lines[:1])]
        lines += [indent + line for line in _safely(_located, [], ex, name, first)]
    # a locator narrows down numbers: an answer of another shape is told so by compare, and no more
    fits = ex.locate and not mistake and _fitting(first)
    located = _safely(ex.locate, [], fn, first.case, first.result) if fits else []
    if located and ex.answer == "value":  # where a value's mistake is located, that says more than its numbers
        return located
    lines += [] if mistake else [*located, *ex.hint]
    lines += _safely(_probe_state, [], ex, fn, first) or _safely(_probe_batch, [], ex, fn, first)
    if not mistake:
        lines += _safely(_unused_inputs, [], ex, fn, first.case)
    return lines


def _no_answer(run: _Run | None, labelled: bool) -> list[str]:
    """Why ``run`` gave nothing to compare: the exception it raised, or what it returned instead."""
    if run is None:
        return []
    if run.error is not None:
        return list(run.error.lines)  # they name the case already
    return [f"on {run.case.label}: {run.structure}" if labelled else run.structure]


def _helper_answering(ex: Exercise, runs: list[_Run]):
    """A function of another notebook cell that the student's function called and that computes the answer
    itself: the exercise names it (``notebook_answers``), or what its first call in a case returns holds every
    one of the exercise's returned values (not an input handed through; the first call: a step of the student's
    own, called step after step, ends on the final state but does not start there; one value of several, the
    student's attention in a decoder step, is their own work), or, called alone on the cases, it passes them."""
    seen = {code: helper for run in runs for code, helper in run.helpers.items()}
    for code, helper in seen.items():
        if helper.name in ex.notebook_answers:
            return helper
        for run in runs:
            inputs = [t for _, t in named_tensors(run.case.args)]
            answers = [w for w in run.expected if isinstance(w, Tensor) and w.abs().sum() > 0
                       and not any(same(w, t, ex.atol) for t in inputs)]
            first = [t for _, t in named_tensors(getattr(run.helpers.get(code), "results", [])[:1])]
            if answers and all(any(same(t, w, ex.atol) for t in first) for w in answers):
                return helper
        if helper.function is not None and all(_right_with(ex, helper.function, run.case) for run in runs):
            return helper
    return None


def _right_with(ex: Exercise, fn, case: Case, positions: tuple = (), change=None) -> bool:
    """Is ``fn`` right on ``case``, with the arguments at ``positions`` changed (every tensor inside: ``change``;
    the reference answers the changed case)? A probe: False on any failure."""
    if positions:
        case = Case(case.label, tuple(tree_map(arg, lambda _, t: change(t)) if k in positions else arg
                                      for k, arg in enumerate(case.args)))
    return _run_case(ex, fn, case).right


def _probe_batch(ex: Exercise, fn, run: _Run) -> list[str]:
    """Each example of a wrong batch on its own: right one by one but wrong together means the
    code mixes the examples of a batch (and says nothing about the recurrence)."""
    first = run.case.args[ex.batch_args[0]] if ex.batch_args and ex.reference is not None else None
    size = first.shape[0] if isinstance(first, Tensor) and first.dim() > 1 else 0
    one_by_one = (_right_with(ex, fn, run.case, ex.batch_args, lambda t, b=b: t[b:b + 1]) for b in range(size))
    if size < 2 or not all(one_by_one):
        return []
    return [f"each example of {run.case.label} on its own (a batch of 1) gives the right answer; the batch of "
            f"{size} together does not: your code mixes the examples of a batch (an index or a sum over axis 0, a "
            "reshape, a bias that broadcasts along the batch). Each row must be computed on its own"]


def _probe_state(ex: Exercise, fn, run: _Run) -> list[str]:
    """The same wrong case with a zero state: right there means the mistake is in the recurrence."""
    if (not ex.state_args or ex.reference is None or run.case.zero_state
            or not _right_with(ex, fn, run.case, ex.state_args, torch.zeros_like)):
        return []
    return [f"on {run.case.label} with the state set to zero your answer is right: the mistake is in the "
            "recurrent part, how h_{t-1} (or c_{t-1}) enters the step"]


def _safely(hint, default, *args):
    """A hint is extra help: if making it fails on a strange answer, leave it out rather than show the student a
    traceback from lstm_lab."""
    try:
        return hint(*args)
    except Exception:
        return default


def _known_mistake(ex: Exercise, answered: list[_Run]) -> str | None:
    """The first catalogued mistake that reproduces every answer the student gave (to 1e-8)."""
    if ex.mistakes is None:
        return None
    # a catalogue that cannot even be computed on a case matches nothing there
    catalogues = [_safely(ex.mistakes, {}, run.case) for run in answered]
    names = list(dict.fromkeys(name for catalogue in catalogues for name in catalogue))  # some fit only some cases
    for message in names:
        matched_any_wrong = False
        for run, catalogue in zip(answered, catalogues):
            variant = catalogue.get(message)  # a thunk, run here; None: the mistake cannot happen (or run) here
            leaves = None if variant is None else _safely(
                lambda: split(variant() if callable(variant) else variant, run.returns, partial=True), None)
            if leaves is None and run.right:
                continue  # the mistake cannot happen here (it would raise), and the answer is right: no evidence
            atol = TOLERANCES["float64, longer"] if run.case.atol is None else run.case.atol
            if leaves is None or not all(v is None or same(got, v, atol)
                                         for got, v in zip(run.leaves, leaves)):
                break
            matched_any_wrong |= not run.right
        else:
            if matched_any_wrong:
                return message
    return None


def _located(ex: Exercise, name: str, run: _Run) -> list[str]:
    """Where a returned value of the right shape goes wrong: the first step that differs ('steps 1 to 2 are right;
    the first difference is at step 3 (index 2)': steps count from 1 in every message, as in the notebooks' maths,
    x_1 is x[0]), and for a result stacked by gate (a gradient of weight_ih) the gate blocks that differ."""
    k = flat_names(run.returns).index(name)
    got, want = as_tensor(run.leaves[k]), as_tensor(run.expected[k])
    axis, gates, lines = ex.time_axis.get(name), ex.gate_blocks.get(name), []
    if got is None or got.shape != want.shape:
        return []
    if axis is not None and want.shape[axis] >= 2:
        bad = [t for t in range(want.shape[axis]) if not same(got.select(axis, t), want.select(axis, t), ex.atol)]
        right = "step 1 is" if bad[:1] == [1] else f"steps 1 to {bad[0]} are" if bad else ""
        lines += (["it is wrong from the first step on"] if bad[:1] == [0] else
                  [f"{right} right; the first difference is at step {bad[0] + 1} (index {bad[0]})"] if bad else [])
    if gates and want.shape[0] % len(gates) == 0:
        bad = [g for g, a, b in zip(gates, got.chunk(len(gates)), want.chunk(len(gates))) if not same(a, b, ex.atol)]
        lines += [f"the gate blocks that differ: {', '.join(GATE_WORDS.get(g, g) for g in bad)}"] if bad else []
    return lines


def _fitting(run: _Run) -> list | None:
    """Each returned value and the right one as tensors, where every one has the right one's shape, else None."""
    pairs = [(as_tensor(got), as_tensor(want)) for got, want in zip(run.leaves, run.expected)]
    return pairs if all(g is not None and w is not None and g.shape == w.shape for g, w in pairs) else None


def _precision_hint(run: _Run) -> list[str]:
    worst = max(((g - w).abs().max().item() if g.numel() else 0.0 for g, w in _fitting(run) or ()), default=0.0)
    if 0 < worst < TOLERANCES["clipping"]:  # float32 rounding of float64 numbers is below this
        return [f"the largest difference is only {worst:.1e}: that is float32 rounding. Is a tensor you made "
                "float32? The checks use float64 (dtype=x.dtype, torch.zeros_like)"]
    return []


# ---------------------------------------------------------------- gradients
def _loss(leaves: list, seed: int = 2024) -> Tensor | None:
    """A random weighted sum of every returned value, so that each number gets its own gradient."""
    gen = torch.Generator().manual_seed(seed)
    terms = [(leaf * torch.randn(leaf.shape, dtype=torch.float64, generator=gen).to(leaf.dtype)).sum()
             for leaf in leaves if isinstance(leaf, Tensor) and leaf.is_floating_point()]
    return sum(terms[1:], terms[0]) if terms else None


def _gradients(ex: Exercise, fn, case: Case, student: bool = True):
    """(named inputs, their gradients or None, error sentence or None) for one call: the student's (watched) or
    the reference's."""
    args = clone(case.args, requires_grad=True)
    named = [(n, t) for n, t in named_tensors(args, case.names) if t.requires_grad]
    result, failure = call_student("gradient", fn, *args, allowed=ex.allowed) if student else (fn(*args), None)
    leaves = failure.lines[0] if failure is not None else split(result, ex.returns)
    if isinstance(leaves, str):
        return named, None, leaves
    loss = _loss(leaves)
    if loss is None or not loss.requires_grad:
        return named, None, ("your result is cut off from autograd: no gradient reaches any input (.detach(), "
                             ".item(), .numpy() or torch.tensor(...) on a result breaks the graph)")
    try:
        grads = torch.autograd.grad(loss, [t for _, t in named], allow_unused=True)
    except RuntimeError as error:
        return named, None, " ".join([describe_error(error), *error_hints(error)])
    return named, grads, None


def _gradient_failure(ex: Exercise, fn, case: Case) -> Feedback | None:
    """None when the student's gradients match the reference's on ``case``, else why not."""
    named, mine, problem = _gradients(ex, fn, case)
    if problem:
        return Feedback(ex.name, False, [f"the numbers are right, but on {case.label} the gradient fails: {problem}"])
    _, theirs, _ = _gradients(ex, ex.reference, case, student=False)
    if theirs is None:  # the reference's answer carries no gradient (whole numbers, say): nothing to compare
        return None
    for (name, tensor), g_mine, g_ref in zip(named, mine, theirs):
        g_ref = torch.zeros_like(tensor) if g_ref is None else g_ref
        if g_mine is None:
            if g_ref.abs().max() > 0:
                return Feedback(ex.name, False, [
                    f"the numbers are right, but no gradient reaches {name}: somewhere it was cut from the graph "
                    "(.detach(), .data, .item() or a new torch.tensor(...) built from it)"])
            continue
        verdict = compare(ex.name, g_mine, g_ref, atol=TOLERANCES["float64, longer"], what=f"the gradient with respect to {name}")
        if not verdict:
            return Feedback(ex.name, False, [
                f"the numbers are right, but the gradient with respect to {name} is not: part of the computation "
                "is hidden from autograd (.detach(), .data, an in-place change)", *verdict.lines])
    return None


def _unused_inputs(ex: Exercise, fn, case: Case) -> list[str]:
    """Inputs (or gate blocks of them) the reference depends on and the student's answer does not."""
    if not ex.gradients:
        return []
    named, mine, problem = _gradients(ex, fn, case)  # _explain runs this hint _safely
    if problem or mine is None:
        return []
    _, theirs, _ = _gradients(ex, ex.reference, case, student=False)
    unused = []
    for (name, _), g_mine, g_ref in zip(named, mine, theirs):
        if g_ref is None or g_ref.abs().max() == 0:
            continue
        if g_mine is None or g_mine.abs().max() == 0:
            unused.append(name)
            continue
        gates = ex.gate_blocks.get(name)
        if gates and g_ref.shape[0] % len(gates) == 0 and g_mine.shape == g_ref.shape:
            for gate, a, b in zip(gates, g_mine.chunk(len(gates)), g_ref.chunk(len(gates))):
                if a.abs().max() == 0 and b.abs().max() > 0:
                    unused.append(f"the {GATE_WORDS.get(gate, gate)} rows of {name}")
    return [f"your answer does not depend on {', '.join(unused)} at all (autograd finds no gradient there): "
            "is it missing from your computation, or is another tensor used in its place?"] if unused else []
