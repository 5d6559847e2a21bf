"""Feedback that used to mislead, each planted as a student would write it; the message must name
the mistake (issue 12's list), and a right answer in a strange type is told what is strange."""

import pytest
import torch

from lstm_lab.checks import core
from lstm_lab.checks.exercises import (
    check_bidirectional_rnn,
    check_lstm_forward,
    check_lstm_step,
    check_lstm_step_backward,
    check_rnn_step,
)
from test_checks_diagnose import (
    bidirectional_rnn,
    failing,
    lstm_forward,
    lstm_gates,
    lstm_step,
    lstm_step_backward,
    rnn_step,
)


def test_backward_matmul_error_gets_backward_advice_not_forward_advice():
    def transposed(dh, dc, x, h_prev, c_prev, step, weight_ih, weight_hh):
        dx, *rest = lstm_step_backward(dh, dc, x, h_prev, c_prev, step, weight_ih, weight_hh)
        dpre = torch.zeros(x.shape[0], weight_ih.shape[0], dtype=x.dtype)
        return (dpre @ weight_ih.T, *rest)  # the forward habit: .T where the backward pass has none

    text = failing(check_lstm_step_backward(transposed))
    assert "dx = dpre @ weight_ih with no .T" in text
    assert "going forwards it is x @ W.T" not in text


def test_numbers_that_differ_never_print_as_equal():
    got, want = core.fmt_pair(-0.00012, -0.00010)
    assert got != want and got == "-0.00012" and want == "-0.00010"
    assert core.fmt_pair(0.5, 0.25) == ("0.5000", "0.2500")  # four decimals when four tell them apart
    text = failing(core.compare("x", torch.tensor([-0.000123]), torch.tensor([-0.000101]), atol=1e-6))
    assert "got -0.00012, expected -0.00010" in text


def test_a_missing_forget_bias_is_named_as_missing():
    def no_b_f(x, state, params):
        return lstm_forward(x, state, dict(params, b_f=torch.zeros_like(params["b_f"])))

    text = failing(check_lstm_forward(no_b_f))
    assert "b_f, the forget gate f's bias, is missing" in text
    assert "is another tensor used in its place" not in text


def test_a_bug_only_in_larger_batches_is_blamed_on_the_batch_not_the_recurrence():
    def mixes_the_batch(x, h_prev, weight_ih, weight_hh, bias_ih, bias_hh):
        h = rnn_step(x, h_prev, weight_ih, weight_hh, bias_ih, bias_hh)
        return h + 0.1 * h[:1] if x.shape[0] > 1 else h  # row 0 leaks into the others

    text = failing(check_rnn_step(mixes_the_batch))
    assert "on its own (a batch of 1) gives the right answer" in text
    assert "mixes the examples of a batch" in text
    assert "recurrent part" not in text


def test_a_bug_in_the_recurrence_is_found_by_zeroing_the_state():
    def doubled_recurrence(x, h_prev, weight_ih, weight_hh, bias_ih, bias_hh):
        return torch.tanh(x @ weight_ih.T + bias_ih + 2 * h_prev @ weight_hh.T + bias_hh)

    text = failing(check_rnn_step(doubled_recurrence))
    assert "with the state set to zero your answer is right: the mistake is in the recurrent part" in text
    assert "mixes the examples" not in text


def test_i_and_f_swapped_in_the_cell_update_is_named():
    def swapped(x, h_prev, c_prev, weight_ih, weight_hh, bias_ih, bias_hh):
        i, f, g, o = lstm_gates(x @ weight_ih.T + bias_ih + h_prev @ weight_hh.T + bias_hh)
        c = i * c_prev + f * g
        return o * torch.tanh(c), c

    text = failing(check_lstm_step(swapped))
    assert "i and f are swapped" in text and "c_t = i ⊙ c_{t-1} + f ⊙ g" in text


def test_output_halves_swapped_with_a_right_h_n_is_named():
    def halves_swapped(x, weights_fwd, weights_bwd):
        output, h_n = bidirectional_rnn(x, weights_fwd, weights_bwd)
        H = h_n.shape[-1]
        return torch.cat([output[..., H:], output[..., :H]], -1), h_n

    text = failing(check_bidirectional_rnn(halves_swapped))
    assert "the halves of output are swapped: torch puts [forward, backward], forward first" in text


def test_input_matrices_transposed_over_a_sequence_named_with_the_exception_first():
    def transposed_input(x, state, params):
        return lstm_forward(x, state, {k: v.T if k.startswith("W_x") else v for k, v in params.items()})

    text = failing(check_lstm_forward(transposed_input))
    lines = text.splitlines()
    assert "the input matrices are used transposed (x @ W_x?.T)" in lines[1]
    raised = next(k for k, line in enumerate(lines) if "your function raised RuntimeError" in line)
    numbers = next(k for k, line in enumerate(lines) if "numbers differ" in line)
    assert raised < numbers  # the real exception comes before any block of numbers


def test_one_assignment_counts_steps_from_1_everywhere():
    def restarts(x, h_prev, weight_ih, weight_hh, bias_ih, bias_hh):
        return torch.tanh(x @ weight_ih.T + bias_ih + bias_hh)  # h_prev ignored

    step_text = failing(check_rnn_step(restarts))
    assert "the fixed X, step 2 (x[1])" in step_text  # the first step with a state is x_2 = x[1]
    for check, step in ((check_rnn_step, rnn_step), (check_lstm_step, lstm_step)):
        right = str(check(step))
        assert "the fixed X, steps 1 to 3:" in right and "steps 0 to" not in right


def test_a_right_answer_as_a_complex_tensor_is_told_it_is_complex():
    def complex_answer(*args):
        return rnn_step(*args).to(torch.complex128)

    text = failing(check_rnn_step(complex_answer))
    assert "is a complex tensor" in text
    assert "cut off from autograd" not in text


@pytest.mark.parametrize("bad", [-3, 2.5, True])
def test_random_cases_must_be_a_count(bad):
    with pytest.raises(ValueError, match="random_cases should be a whole number of random batches, 0 or more"):
        check_rnn_step(rnn_step, random_cases=bad)
    assert "0 random batches" in str(check_rnn_step(rnn_step, random_cases=0))


_TOLERANCE_WORDS = {"atol", "rtol", "abs_tol", "rel_tol", "tol", "tolerance", "eps"}
_COMPARING = {"same", "isclose", "allclose", "assert_close", "compare", "check_value", "known_mistake"}


def own_tolerances(source: str) -> list[str]:
    """Every number in ``source`` that decides "close enough" without TOLERANCES: a literal given as a tolerance
    (``atol=1e-6``, ``rel_tol=0``, ``ATOL = ...``), a fraction in a comparison (``< 1e-6``, ``0.9 < std``,
    ``abs(x) > 0.01``), or a literal handed to a comparing function (``same(a, b, 1e-8)``, ``math.isclose``)."""
    import io
    import re
    import tokenize

    tokens = [t for t in tokenize.generate_tokens(io.StringIO(source).readline)
              if t.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT)]
    found, calls = [], []  # calls: for each open parenthesis, the function it calls
    for k, tok in enumerate(tokens):
        before = tokens[k - 1] if k else None
        after = tokens[k + 1] if k + 1 < len(tokens) else None
        if tok.type == tokenize.OP and tok.string == "(":
            calls.append(before.string if before is not None and before.type == tokenize.NAME else "")
        elif tok.type == tokenize.OP and tok.string == ")" and calls:
            calls.pop()
        if tok.type != tokenize.NUMBER:
            continue
        fraction = re.search(r"[.eE]", tok.string) and not tok.string.endswith((".0", ".")) or "e-" in tok.string
        named = (before is not None and before.string == "=" and k >= 2
                 and (tokens[k - 2].string.lower() in _TOLERANCE_WORDS or tokens[k - 2].string.isupper()
                      and "TOL" in tokens[k - 2].string))
        compared = fraction and any(t.start[0] == tok.start[0] and t.string in ("<", "<=", ">", ">=") for t in tokens)
        handed = fraction and calls and calls[-1] in _COMPARING
        if named or compared or handed:
            found.append(f"line {tok.start[0]}: {tok.line.strip()}")
    return found


@pytest.mark.parametrize("planted", ["atol=1e-6", "rtol=1e-3", "x < 1e-6", "0.9 < std", "abs(m) > 0.01",
                                     "math.isclose(a, b, rel_tol=0)", "same(a, b, 1e-8)", "MY_ATOL = 0.5",
                                     "compare(e, a, b, atol=ATOL * 2)  and d <= 2e-3", "(f - p).abs() <= 5 * sd + 2e-3"])
def test_the_tolerance_guard_finds_a_planted_number(planted):
    assert own_tolerances(f"y = {planted}\n")


def test_one_tolerance_table_and_no_check_with_a_number_of_its_own():
    from pathlib import Path

    for path in Path(core.__file__).parent.glob("*.py"):
        source = path.read_text()
        if path.name == "core.py":  # the table itself
            start = source.index("TOLERANCES = {")
            source = source[:start] + source[source.index("}", start) + 1:]
        own = own_tolerances(source)
        assert not own, f"{path.name} has tolerances of its own: {own}; use core.TOLERANCES"
    assert core.TOLERANCES["float64"] < core.TOLERANCES["float64, longer"] < core.TOLERANCES["rounded"] < core.TOLERANCES["by hand"]
