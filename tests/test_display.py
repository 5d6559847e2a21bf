import inspect
import re
from pathlib import Path

import pytest
import torch

from lstm_lab.display import SOURCE_MARK, fmt, show_error, show_source, table


def test_fmt_fixed_precision_and_no_negative_zero():
    assert fmt(torch.tensor([[0.98661, -0.00001], [1.0, 2.5]])) == "[[0.9866, 0.0000], [1.0000, 2.5000]]"
    assert fmt(3) == "3"


def test_table_aligns_columns():
    text = table([["step 1", torch.tensor([0.5, -2.5])]], ["step", "i"])
    assert text.splitlines() == ["step    i", "------  -----------------", "step 1  [0.5000, -2.5000]"]


def test_show_error_prints_type_and_message_and_insists_on_failing(capsys):
    def boom():
        raise ValueError("bad shape")

    err = show_error(boom, expect=ValueError)
    assert isinstance(err, ValueError)
    assert capsys.readouterr().out == "ValueError: bad shape\n"
    with pytest.raises(AssertionError, match="was expected to raise ValueError"):
        show_error(lambda: None, expect=ValueError)


# ---------------------------------------------------------------- show_source
def sanitize_patterns():
    text = (Path(__file__).parent / "sanitize.cfg").read_text()
    return re.findall(r"^regex: (.*)$\n^replace: (.*)$", text, flags=re.MULTILINE)  # as nbval reads the file


def nbval_sanitize(s: str) -> str:
    for regex, replace in sanitize_patterns():
        s = re.sub(regex, replace, s)
    return s


def test_show_source_shows_the_live_source():
    from lstm_lab import bptt, cells

    view = show_source(cells.lstm_update, bptt.lstm_local)  # bptt imports lstm_local from cells, and uses it
    markdown = view._repr_markdown_()
    for fn in (cells.lstm_update, bptt.lstm_local):
        assert f"```python\n{inspect.getsource(fn).rstrip()}\n```" in markdown
    assert str(view) == inspect.getsource(cells.lstm_update) + "\n" + inspect.getsource(bptt.lstm_local)
    # where the function lives, not where it was imported from
    assert repr(view) == "source of lstm_lab.cells.lstm_update, lstm_lab.cells.lstm_local"


def test_nbval_compares_the_label_but_not_the_code():
    """A library edit changes the markdown; after tests/sanitize.cfg both versions read the same, and the
    text/plain label (compared as it is) does not change at all."""
    from lstm_lab import cells

    before = show_source(cells.lstm_update)._repr_markdown_()
    after = before.replace("hidden_state = ", "hidden_state  =  ")
    assert before != after and nbval_sanitize(before) == nbval_sanitize(after) == SOURCE_MARK
    assert nbval_sanitize("h_1 = [0.1234, 0.5678]") == "h_1 = [0.1234, 0.5678]"  # other outputs stay compared


def test_show_source_needs_something_to_show():
    with pytest.raises(TypeError, match="show_source: name at least one function or class"):
        show_source()
