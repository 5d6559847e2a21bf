"""The runner's building blocks on their own: per-sequence reversal, masks, one layer."""

import torch

from lstm_lab import fixtures, runners


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
