"""After an exercise the notebook goes on with the student's code once its check passes, with the check's
reference until then, and says which ran (``yours_or_reference``): Run All reaches the end either way. A
notebook's example of a mistake is shown without failing under grading (``as_an_example``)."""

from __future__ import annotations

import sys

from .core import not_graded


def _library_name(fn) -> str:
    """Where the student can look the reference up: ``lstm_lab.gru_cell`` where the package names it so, else its
    module's name, ``lstm_lab.seq2seq.masked_loss``."""
    module = getattr(fn, "__module__", None) or ""
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)
    top = module.split(".")[0]
    if module in ("", "__main__", "builtins"):
        return name
    return f"{top}.{name}" if getattr(sys.modules.get(top), name, None) is fn else f"{module}.{name}"


def yours_or_reference(yours, check, reference=None, *, name=None, say=print):
    """``yours`` when ``check(yours)`` passes, else ``reference``; ``say`` is told which, in a sentence.
    ``reference`` defaults to the one the check's declaration holds (``check.exercise.reference``: the
    answer is not written in the notebook); ``name``: what to call it (default: where it lives,
    ``lstm_lab.gru_cell``, or the check's reference answer)."""
    if reference is None and getattr(getattr(check, "exercise", None), "reference", None) is not None:
        reference, name = check.exercise.reference, name or f"answer of {check.__name__}"
    if not callable(reference):
        raise TypeError(f"reference should be the function to use until yours passes, got {type(reference).__name__}")
    mine = getattr(yours, "__name__", "function")  # the student's: by the name they gave it
    with not_graded():  # a cell that only chooses a function must not fail for a wrong answer (the graded one does)
        passed = check(yours)
    if passed:
        say(f"using your {mine} (its check passes)")
        return yours
    say(f"using the reference {name or _library_name(reference)}: your {mine} does not pass its check yet")
    return reference


def as_an_example(check, *args, **kwargs):
    """What ``check`` says to an answer the notebook hands in as an example of a mistake: its Feedback,
    shown, and never raised, under grading too (where a failing check raises to fail its graded cell)."""
    with not_graded():
        return check(*args, **kwargs)
