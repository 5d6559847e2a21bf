import pytest
import torch

from lstm_lab.display import fmt, show_error, table


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
