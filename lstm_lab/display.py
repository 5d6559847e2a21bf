"""Printing for notebooks: fixed precision, small tables, errors without tracebacks, library source.

Stored notebook outputs are compared by nbval, so everything printed here is deterministic:
fixed decimals, no addresses, no paths.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence

import torch

DECIMALS = 4


def fmt(value, decimals: int = DECIMALS) -> str:
    """A number, or a 1-D/2-D tensor as nested brackets, at fixed precision."""
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().tolist()
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(fmt(v, decimals) for v in value) + "]"
    if isinstance(value, bool) or isinstance(value, int):
        return str(value)
    text = f"{value:.{decimals}f}"
    return "0." + "0" * decimals if text.lstrip("-") == "0." + "0" * decimals else text  # no "-0.0000"


def table(rows: Sequence[Sequence], header: Sequence[str], decimals: int = DECIMALS) -> str:
    """A plain-text table; tensors and floats in cells are formatted with ``fmt``."""
    cells = [[c if isinstance(c, str) else fmt(c, decimals) for c in row] for row in rows]
    widths = [max(len(str(h)), *(len(r[k]) for r in cells)) for k, h in enumerate(header)]
    line = "  ".join(str(h).ljust(w) for h, w in zip(header, widths)).rstrip()
    rule = "  ".join("-" * w for w in widths)
    body = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in cells]
    return "\n".join([line, rule, *body])


def show_table(rows, header, decimals: int = DECIMALS) -> None:
    print(table(rows, header, decimals))


def show_error(fn: Callable, *args, expect: type[BaseException] = Exception, **kwargs) -> BaseException:
    """Call ``fn`` expecting it to fail; print ``ErrorType: message`` (no traceback, no paths).

    Raises AssertionError if ``fn`` does not fail, so a notebook that claims "this raises"
    is checked when it runs.
    """
    try:
        fn(*args, **kwargs)
    except expect as error:
        print(f"{type(error).__name__}: {error}")
        return error
    raise AssertionError(f"{getattr(fn, '__name__', fn)} was expected to raise {expect.__name__}, but it returned")


SOURCE_MARK = "<!-- lstm_lab.display.show_source -->"


class SourceView:
    """The source of library functions, shown in a notebook as highlighted Python.

    A notebook stores what it showed, and nbval compares it on every test run. The code itself goes
    out as markdown that starts with ``SOURCE_MARK``, which ``tests/sanitize.cfg`` tells nbval to
    skip, so an edit to the library (a docstring, a line) does not fail the notebook; the plain-text
    form nbval does compare is a stable label, ``source of <module>.<name>``.
    ``str()`` is the source itself, so ``print(show_source(fn))`` prints it.
    """

    def __init__(self, *objects):
        if not objects:
            raise TypeError("show_source: name at least one function or class")
        self.objects = objects
        self.names = [f"{obj.__module__}.{obj.__qualname__}" for obj in objects]

    @property
    def sources(self) -> list[str]:
        return [inspect.getsource(obj) for obj in self.objects]  # read now, so always the live code

    def __repr__(self) -> str:
        return "source of " + ", ".join(self.names)

    def __str__(self) -> str:
        return "\n".join(self.sources)

    def _repr_markdown_(self) -> str:
        blocks = []
        for source in self.sources:
            fence = "````" if "```" in source else "```"
            blocks.append(f"{fence}python\n{source.rstrip()}\n{fence}")
        return SOURCE_MARK + "\n\n" + "\n\n".join(blocks)


def show_source(*objects) -> SourceView:
    """The live source of one or more library functions or classes, for a notebook cell to show."""
    return SourceView(*objects)
