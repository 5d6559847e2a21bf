"""Try, then see: no exercise's code is on the screen before the student tries it.

For every exercise of every notebook (the course and ``exercises/``), no cell above it, in its source or
in what it prints when run (the instructor edition's stored outputs are what the student's run shows,
``show_source`` listings included), holds a line of the exercise's solution: the same line, or the same
line with other names (``out[lengths - 1, torch.arange(B)]`` for ``output[lengths - 1,
torch.arange(output.shape[1])]`` is the same line with other names only where its shape is the same).
Planted leaks of each kind prove the test finds them.
"""

from __future__ import annotations

import difflib
import io
import keyword
import re
import tokenize
from pathlib import Path

import nbformat
import pytest

from lstm_lab import student
from regions import solution_lines

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")) + sorted((ROOT / "notebooks" / "exercises").glob("*.ipynb"))
MIN_CHARS = 16  # a line shorter than this ("return h, c") says too little to be an answer
MIN_TOKENS = 10  # a line's shape (names replaced) counts only when it is this long: short shapes are everywhere
SIMILAR = 0.75  # two shapes this alike (difflib's ratio) are one expression written with other names


_SKIP = (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER)
_HEADERS = {"def", "class", "for", "while", "if", "elif", "with", "import", "from"}


def _expression(line: str) -> list[tokenize.TokenInfo]:
    """The tokens of what a line computes: without its comment, a leading ``return`` or the names it
    assigns to (``last = ...``); nothing for a header (``def f(x):``, ``for ...:``) or what does not parse."""
    try:
        tokens = [t for t in tokenize.generate_tokens(io.StringIO(line.strip() + "\n").readline) if t.type not in _SKIP]
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return []
    if not tokens or tokens[0].string in _HEADERS:
        return []
    if tokens[0].string == "return":
        return tokens[1:]
    depth = 0
    for k, t in enumerate(tokens):  # an assignment at the top level: what comes after its "="
        if t.string in "([{":
            depth += 1
        elif t.string in ")]}":
            depth -= 1
        elif t.string == "=" and depth == 0:
            return tokens[k + 1:]
    return tokens


_MODULES = {"torch", "nn", "F", "math", "np", "lstm_lab"}


def _says_something(tokens) -> bool:
    """A line worth matching: it reads a variable (not only modules and constants: ``torch.zeros(2)`` is
    set-up, not an answer) and computes (a call or an operator: ``weight_ih, weight_hh`` computes nothing)."""
    names = [t.string for k, t in enumerate(tokens) if t.type == tokenize.NAME and not keyword.iskeyword(t.string)
             and (k == 0 or tokens[k - 1].string != ".") and (k + 1 == len(tokens) or tokens[k + 1].string != "=")]
    operators = [t.string for t in tokens if t.type == tokenize.OP and t.string not in (",", ".", "=", ":")]
    return bool(set(names) - _MODULES) and bool(operators)


def _code(line: str) -> str:
    """What the line computes, without spaces ("" when it says nothing worth matching)."""
    tokens = _expression(line)
    return "".join(t.string for t in tokens) if _says_something(tokens) else ""


_SETUP = {"zeros", "ones", "new_zeros", "new_ones", "zeros_like", "ones_like", "full", "empty", "tensor"}


def _calls(line: str) -> frozenset:
    """The functions and methods a line calls (``torch.tanh(x)`` -> tanh): two lines that call different ones
    compute different things, however alike their shapes."""
    tokens = _expression(line)
    return frozenset(t.string for k, t in enumerate(tokens[:-1]) if t.type == tokenize.NAME and tokens[k + 1].string == "(")


def _shape(line: str) -> tuple[tuple, int]:
    """What the line computes with every name replaced by N (attributes, keywords and numbers kept), and its
    length in tokens."""
    out, previous, tokens = [], None, _expression(line)
    if not _says_something(tokens):
        return (), 0
    for t in tokens:
        out.append("N" if t.type == tokenize.NAME and not keyword.iskeyword(t.string) and previous != "." else t.string)
        previous = t.string
    return tuple(out), len(out)


def _shown(cell) -> list[str]:
    """The code lines a cell puts on the screen: its source (an earlier exercise's without its solution, which
    the student writes), and the text of its outputs. Markdown is the exercises' statement, not their code."""
    if cell.cell_type != "code":
        return []
    solution = set(solution_lines(cell.source)) if student.is_solution(cell) else set()
    lines = [line for line in cell.source.split("\n") if line not in solution]
    for output in cell.get("outputs", []):  # printed text, and every text form of a result (show_source: markdown)
        texts = [output.get("text", "")] + [v for k, v in output.get("data", {}).items() if k.startswith("text/")]
        for text in texts:
            lines += ("".join(text) if isinstance(text, list) else text).split("\n")
    return lines


def leaks(cells, index: int) -> list[str]:
    """What the cells above ``cells[index]`` show of its solution, one sentence each."""
    answer = [line for line in solution_lines(cells[index].source) if len(_code(line)) >= MIN_CHARS]
    if not answer:
        return []
    exact = {_code(line): line.strip() for line in answer}
    # lines worth comparing by shape: long enough, and more than set-up (a state of zeros is no answer)
    shaped = {s: (line.strip(), _calls(line)) for line in answer for s, n in [_shape(line)]
              if n >= MIN_TOKENS and not (_calls(line) and _calls(line) <= _SETUP)}
    found = []
    for k, cell in enumerate(cells[:index]):
        for shown in _shown(cell):
            code, (shape, n) = _code(shown), _shape(shown)
            hit = next((line for c, line in exact.items() if c in code), None) if len(code) >= MIN_CHARS else None
            if hit is not None:
                found.append(f"cell {k} shows `{hit}`")
            elif n >= MIN_TOKENS:
                calls = _calls(shown)
                like = next((line for other, (line, its_calls) in shaped.items() if its_calls == calls
                             and difflib.SequenceMatcher(None, shape, other, autojunk=False).ratio() >= SIMILAR), None)
                if like is not None:
                    found.append(f"cell {k} shows `{shown.strip()}`, the line `{like}` with other names")
    return found


def _exercises():
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        for index, cell in enumerate(nb.cells):
            if student.is_solution(cell):
                yield pytest.param(path, index, id=f"{path.relative_to(ROOT / 'notebooks')}:{student._meta(cell)['grade_id']}")


@pytest.mark.parametrize("path, index", list(_exercises()))
def test_no_line_of_an_answer_is_on_the_screen_before_its_exercise(path, index):
    cells = nbformat.read(path, as_version=4).cells
    assert leaks(cells, index) == [], f"{student._meta(cells[index])['grade_id']}: " + "; ".join(leaks(cells, index))


# ---------------------------------------------------------------- planted leaks: the test finds each kind
EXERCISE = nbformat.v4.new_code_cell(
    "def last_valid_output(output, lengths):\n"
    "    ### BEGIN SOLUTION\n"
    "    return output[lengths - 1, torch.arange(output.shape[1])]  # index length - 1 is step length\n"
    "    ### END SOLUTION",
    metadata={"nbgrader": {"grade": False, "grade_id": "last_valid_output", "locked": False, "schema_version": 3,
                           "solution": True}})


def _with(cell):
    return [nbformat.v4.new_markdown_cell("# planted"), cell, EXERCISE]


def test_a_planted_line_of_the_answer_in_a_cell_above_is_found():
    above = nbformat.v4.new_code_cell("last = output[lengths - 1, torch.arange(output.shape[1])]")
    assert leaks(_with(above), 2) == ["cell 1 shows `return output[lengths - 1, torch.arange(output.shape[1])]  "
                                      "# index length - 1 is step length`"]


@pytest.mark.parametrize("line", ["picked = out_masked[ends - 1, torch.arange(out_masked.shape[1])]",
                                  "last_valid = out_masked[lengths - 1, torch.arange(B)]  # the old notebook 07 [16]"])
def test_a_planted_line_with_other_names_is_found(line):
    found = leaks(_with(nbformat.v4.new_code_cell(line)), 2)
    assert len(found) == 1 and "with other names" in found[0], found


@pytest.mark.parametrize("line", ["stacked = torch.stack([h_1, h_2, h_3])", "state = (x.new_zeros(b, h), x.new_zeros(b, h))",
                                  "losses.append(loss.item())"])
def test_lines_that_compute_something_else_are_no_leak(line):
    assert leaks(_with(nbformat.v4.new_code_cell(line)), 2) == []


@pytest.mark.parametrize("how", ["printed", "shown as markdown"])
def test_printed_source_that_holds_the_answer_is_found(how):
    source = "def last_output(y, n):\n    return y[n - 1, torch.arange(y.shape[1])]\n"
    above = nbformat.v4.new_code_cell("show_source(library.last_output)")
    above.outputs = [nbformat.v4.new_output("stream", name="stdout", text=source) if how == "printed" else
                     nbformat.v4.new_output("display_data", data={"text/markdown": f"```python\n{source}```",
                                                                  "text/plain": "source of library.last_output"})]
    assert len(leaks(_with(above), 2)) == 1


def test_a_cell_below_the_exercise_and_unrelated_cells_above_are_no_leak():
    unrelated = nbformat.v4.new_code_cell("mask = torch.arange(max_len).unsqueeze(1) < lengths.unsqueeze(0)\n"
                                          "h = torch.zeros(2, dtype=torch.float64)")
    below = nbformat.v4.new_code_cell("last = output[lengths - 1, torch.arange(output.shape[1])]")
    assert leaks([unrelated, EXERCISE, below], 1) == []


def test_markdown_that_states_the_exercise_is_no_leak():
    statement = nbformat.v4.new_markdown_cell("Return `output[lengths - 1, torch.arange(output.shape[1])]`? Try it.")
    assert leaks([statement, EXERCISE], 1) == []
