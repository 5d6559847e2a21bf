"""The runner's building blocks on their own: per-sequence reversal, masks, one layer."""

import pytest
import torch

from lstm_lab import cells, fixtures, loop, runners
from lstm_lab.costs import CallCounter


def test_reverse_padded_reverses_each_sequence_within_its_length():
    seq = torch.arange(1.0, 6.0).unsqueeze(1).repeat(1, 3).unsqueeze(-1)  # (T=5, B=3, 1): values 1..5
    lengths = torch.tensor([5, 3, 1])
    out = runners.reverse_padded(seq, lengths)[..., 0].T.tolist()
    assert out == [[5, 4, 3, 2, 1], [3, 2, 1, 4, 5], [1, 2, 3, 4, 5]]  # padding stays where it was
    assert torch.equal(runners.reverse_padded(runners.reverse_padded(seq, lengths), lengths), seq)


def test_reverse_padded_without_lengths_is_a_flip():
    seq = torch.randn(4, 2, 3)
    assert torch.equal(runners.reverse_padded(seq, None), seq.flip(0))


def test_valid_steps_mask():
    mask = runners.valid_steps(torch.tensor([2, 0, 3]), 3, "cpu")[..., 0]
    assert mask.T.tolist() == [[True, True, False], [False, False, False], [True, True, True]]
    assert runners.valid_steps(None, 3, "cpu") is None


def test_padded_steps_write_zeros_and_keep_the_last_valid_state():
    w = fixtures.lstm_weights(bias=True)
    x = fixtures.fixed_x().unsqueeze(1).repeat(1, 2, 1)  # two copies of X, batch of 2
    state = (torch.zeros(2, 2, dtype=torch.float64), torch.zeros(2, 2, dtype=torch.float64))
    out, (h, c) = runners.run_layer("LSTM", x, state, w, lengths=torch.tensor([3, 2]))
    golden = fixtures.golden()["lstm_bias"]
    torch.testing.assert_close(out[:, 0], golden["h"], atol=1e-12, rtol=0)
    torch.testing.assert_close(out[:2, 1], golden["h"][:2], atol=1e-12, rtol=0)
    assert torch.equal(out[2, 1], torch.zeros(2, dtype=torch.float64))
    torch.testing.assert_close(h[1], golden["h"][1], atol=1e-12, rtol=0)  # state after step 2, not 3
    torch.testing.assert_close(c[1], golden["c"][1], atol=1e-12, rtol=0)


def test_reverse_layer_pairs_states_of_the_same_time_step():
    """output[t] of the reverse direction is the state after reading x_{T-1} .. x_t."""
    w = fixtures.rnn_weights()
    x = fixtures.fixed_x().unsqueeze(1)
    out, h_n = runners.run_layer("RNN", x, torch.zeros(1, 2, dtype=torch.float64), w, reverse=True)
    golden = fixtures.golden()["birnn"]
    torch.testing.assert_close(out[:, 0], golden["output"][:, 2:], atol=1e-12, rtol=0)
    torch.testing.assert_close(h_n[0], out[0, 0], atol=0, rtol=0)  # h_n is output[0], not output[-1]


@pytest.mark.parametrize("mode", ["RNN", "LSTM", "GRU"])
def test_reverse_with_lengths_is_the_forward_run_on_each_sequence_reversed_within_its_length(mode):
    """One reverse strategy (loop.step_loop): the steps last to first, under the mask. That is the layer run
    forward over reverse_padded's copy with its outputs reversed back, and the final state the same."""
    torch.manual_seed(0)
    weights = _layer_weights(mode, 3, 4, 0)
    x, lengths = torch.randn(5, 3, 3, dtype=torch.float64), torch.tensor([5, 2, 0])
    out, final = runners.run_layer(mode, x, None, weights, reverse=True, lengths=lengths)
    copy_out, copy_final = runners.run_layer(mode, runners.reverse_padded(x, lengths), None, weights, lengths=lengths)
    torch.testing.assert_close(out, runners.reverse_padded(copy_out, lengths), atol=1e-15, rtol=0)
    for got, expected in zip(final if mode == "LSTM" else [final], copy_final if mode == "LSTM" else [copy_final]):
        torch.testing.assert_close(got, expected, atol=1e-15, rtol=0)


def test_lstm_layer_keeps_one_gate_sized_buffer_for_its_backward():
    """The layer's largest tensors are (T, B, 4H): the input half of the gates and the gates. The
    Function computes the first straight into the buffer that becomes the second, so what it
    keeps for its backward holds one such buffer, shared by the four gates of the trace."""
    torch.manual_seed(0)
    steps, batch, size, hidden = 5, 3, 4, 6
    weights = {"weight_ih": torch.randn(4 * hidden, size, requires_grad=True),
               "weight_hh": torch.randn(4 * hidden, hidden, requires_grad=True),
               "bias_ih": torch.randn(4 * hidden, requires_grad=True),
               "bias_hh": torch.randn(4 * hidden, requires_grad=True)}
    state = (torch.zeros(batch, hidden), torch.zeros(batch, hidden))
    out, _ = runners.run_layer("LSTM", torch.randn(steps, batch, size), state, weights)
    assert type(out.grad_fn).__name__ == "LSTMLayerFunctionBackward"
    saved = [t for t in out.grad_fn.saved_tensors if t is not None]
    gate_sized = {t.untyped_storage().data_ptr() for t in saved
                  if t.untyped_storage().nbytes() == steps * batch * 4 * hidden * t.element_size()}
    assert len(gate_sized) == 1
    gates = [t for t in saved if t.untyped_storage().data_ptr() in gate_sized]
    assert [tuple(t.shape) for t in gates] == [(steps, batch, hidden)] * 4  # i, f, g, o: views of it


def _layer_weights(mode, size, hidden, proj_size=0):
    gates = {"RNN": 1, "LSTM": 4, "GRU": 3}[mode]
    out = proj_size or hidden
    weights = {"weight_ih": torch.randn(gates * hidden, size, dtype=torch.float64),
               "weight_hh": torch.randn(gates * hidden, out, dtype=torch.float64),
               "bias_ih": torch.randn(gates * hidden, dtype=torch.float64),
               "bias_hh": torch.randn(gates * hidden, dtype=torch.float64)}
    if proj_size:
        weights["weight_hr"] = torch.randn(proj_size, hidden, dtype=torch.float64)
    return weights


@pytest.mark.parametrize("grad", [False, True], ids=["no_grad", "grad"])
@pytest.mark.parametrize("steps", [3, 12], ids=["T3", "T12"])  # below and above BUFFERED_FROM_STEPS
@pytest.mark.parametrize("mode, proj_size, lengths, reverse", [
    ("RNN", 0, None, False), ("LSTM", 0, None, False), ("LSTM", 0, None, True), ("GRU", 0, None, False),
    ("LSTM", 3, None, False), ("LSTM", 0, "mixed", False), ("RNN", 0, "mixed", True), ("GRU", 0, "mixed", False),
], ids=str)
def test_state_none_is_zeros_on_every_path(mode, proj_size, lengths, reverse, steps, grad):
    """None stands for zeros: the same outputs, final state and gradients as explicit zeros, whichever
    path the layer takes (skipped first product, the Functions, the inference loops, masks)."""
    torch.manual_seed(0)
    batch, size, hidden = 3, 4, 5
    weights = _layer_weights(mode, size, hidden, proj_size)
    x = torch.randn(steps, batch, size, dtype=torch.float64)
    lengths = torch.tensor([steps, 1, 0]) if lengths == "mixed" else None
    zeros = loop.zero_state(mode, x, weights)
    assert [tuple(t.shape) for t in (zeros if mode == "LSTM" else [zeros])] == \
        [(batch, proj_size or hidden)] + ([(batch, hidden)] if mode == "LSTM" else [])
    assert all(bool((t == 0).all()) for t in (zeros if mode == "LSTM" else [zeros]))

    def run(state):
        w = {k: v.clone().requires_grad_(grad) for k, v in weights.items()}
        with torch.set_grad_enabled(grad):
            out, final = runners.run_layer(mode, x, state, w, reverse=reverse, lengths=lengths)
        finals = list(final) if mode == "LSTM" else [final]
        grads = torch.autograd.grad((out.sum() + sum(f.sum() for f in finals)), list(w.values())) if grad else []
        return [out, *finals, *grads]

    for given, from_none in zip(run(zeros), run(None)):
        torch.testing.assert_close(from_none, given, atol=1e-12, rtol=0)


def test_a_zero_start_skips_the_first_recurrent_product():
    """From h_0 = 0 (state None) the first step's W_hh h_0 is zero: three steps make one input
    product and two recurrent ones, and no zeros are made for the state."""
    weights = fixtures.lstm_weights(bias=True)
    x = fixtures.fixed_x().unsqueeze(1)
    with torch.no_grad():
        with CallCounter() as given:
            runners.run_layer("LSTM", x, loop.zero_state("LSTM", x, weights), weights)
        with CallCounter() as none:
            out, (h, c) = runners.run_layer("LSTM", x, None, weights)
    assert (given.matmuls, none.matmuls) == (4, 3)
    assert none.others < given.others
    golden = fixtures.golden()["lstm_bias"]
    torch.testing.assert_close(out[:, 0], golden["h"], atol=1e-12, rtol=0)
    torch.testing.assert_close(c[0], golden["c"][-1], atol=1e-12, rtol=0)


def test_run_stack_takes_none_for_zeros():
    torch.manual_seed(1)
    layers = [[_layer_weights("LSTM", 4, 5), _layer_weights("LSTM", 4, 5)],
              [_layer_weights("LSTM", 10, 5), _layer_weights("LSTM", 10, 5)]]
    x = torch.randn(6, 2, 4, dtype=torch.float64)
    zeros = (torch.zeros(4, 2, 5, dtype=torch.float64), torch.zeros(4, 2, 5, dtype=torch.float64))
    given, from_none = runners.run_stack("LSTM", x, zeros, layers), runners.run_stack("LSTM", x, None, layers)
    torch.testing.assert_close(from_none, given, atol=1e-12, rtol=0)


def test_lstm_update_without_a_previous_memory():
    """c_prev None is c_0 = 0: the same step as zeros, c_1 = i·g."""
    pre = torch.randn(3, 8, dtype=torch.float64)
    with_zeros, without = cells.lstm_update(pre, torch.zeros(3, 2, dtype=torch.float64)), cells.lstm_update(pre, None)
    for a, b in zip(with_zeros, without):
        torch.testing.assert_close(b, a, atol=1e-15, rtol=0)
    torch.testing.assert_close(without.c, without.i * without.g, atol=0, rtol=0)


def test_transposed_for_steps_copies_only_for_long_sequences():
    weight = torch.randn(8, 2)
    short, long = cells.transposed_for_steps(weight, cells.COPY_FROM_STEPS - 1), cells.transposed_for_steps(
        weight, cells.COPY_FROM_STEPS)
    assert torch.equal(short, weight.t()) and torch.equal(long, weight.t())
    assert short.data_ptr() == weight.data_ptr() and not short.is_contiguous()
    assert long.data_ptr() != weight.data_ptr() and long.is_contiguous()
