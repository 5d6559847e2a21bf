"""The encoder-decoder with and without attention (lstm_lab.seq2seq)."""

import pytest
import torch

from lstm_lab import seq2seq


def test_reversal_task():
    source, target = seq2seq.reversal_task(4, 6, torch.Generator().manual_seed(0))
    assert source.shape == (6, 4) and torch.equal(target, source.flip(0))
    assert int(source.min()) >= 0 and int(source.max()) <= 9
    with pytest.raises(ValueError, match="length should be a positive int, got 0"):
        seq2seq.reversal_task(4, 0)


def test_dot_attention_is_a_softmax_weighted_average_of_the_keys():
    gen = torch.Generator().manual_seed(0)
    keys = torch.randn(5, 2, 3, dtype=torch.float64, generator=gen)
    query = torch.randn(2, 3, dtype=torch.float64, generator=gen)
    context, weights = seq2seq.dot_attention(query, keys)
    for b in range(2):
        scores = torch.stack([keys[s, b] @ query[b] for s in range(5)])
        w = torch.softmax(scores, 0)
        torch.testing.assert_close(weights[b], w, rtol=0, atol=1e-14)
        torch.testing.assert_close(context[b], (w[:, None] * keys[:, b]).sum(0), rtol=0, atol=1e-14)


@pytest.mark.parametrize("attention", [False, True])
def test_teacher_forcing_reads_the_true_previous_token_and_greedy_its_own(attention):
    torch.manual_seed(0)
    model = seq2seq.Seq2Seq(attention, hidden_size=8).double()
    source, target = seq2seq.reversal_task(3, 5, torch.Generator().manual_seed(1))
    logits = model(source, target)
    assert logits.shape == (5, 3, 10)
    # greedy decoding fed its own answers equals teacher forcing fed those same answers
    tokens, weights = model.greedy(source)
    with torch.no_grad():
        forced = model(source, tokens)
    assert torch.equal(forced.argmax(-1), tokens)
    if attention:
        assert weights.shape == (5, 3, 5)
        torch.testing.assert_close(weights.sum(-1), torch.ones(5, 3, dtype=torch.float64), rtol=0, atol=1e-12)
    else:
        assert weights is None


def test_without_attention_the_readout_sees_only_the_decoder_state():
    plain, attending = seq2seq.Seq2Seq(False, hidden_size=8), seq2seq.Seq2Seq(True, hidden_size=8)
    assert plain.decoder.readout.in_features == 8 and attending.decoder.readout.in_features == 16


def test_training_is_seeded_and_learns_short_reversals():
    a_model, a = seq2seq.train_seq2seq(True, steps=150, max_length=4, hidden_size=32, progress=False)
    _, b = seq2seq.train_seq2seq(True, steps=3, max_length=4, hidden_size=32, progress=False)
    assert a.loss[:3] == b.loss  # the same seed, the same first steps
    assert sum(a.loss[-10:]) / 10 < 0.5 * a.loss[0]
    assert 0.0 <= seq2seq.sequence_accuracy(a_model, 3, batch_size=50) <= 1.0


def test_training_leaves_the_callers_random_state_alone():
    """train_seq2seq seeds its model without moving the global random state, and its run is the same
    whatever was drawn before it."""
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    model, history = seq2seq.train_seq2seq(False, steps=2, max_length=4, hidden_size=8, progress=False)
    assert torch.equal(torch.random.get_rng_state(), before)
    torch.rand(10)  # the global state elsewhere
    again, history_again = seq2seq.train_seq2seq(False, steps=2, max_length=4, hidden_size=8, progress=False)
    assert history_again.loss == history.loss
    assert all(torch.equal(p, q) for p, q in zip(model.parameters(), again.parameters(), strict=True))


@pytest.mark.parametrize("attention", [False, True])
def test_beam_search_of_width_1_is_greedy_and_its_scores_are_the_outputs_log_probabilities(attention):
    torch.manual_seed(0)
    model = seq2seq.Seq2Seq(attention, hidden_size=8).double()
    source, _ = seq2seq.reversal_task(6, 5, torch.Generator().manual_seed(1))
    greedy, _ = model.greedy(source)
    one, _ = seq2seq.beam_search(model, source, width=1)
    assert torch.equal(one, greedy)
    tokens, log_prob = seq2seq.beam_search(model, source, width=3)
    assert tokens.shape == (5, 6) and log_prob.shape == (6,)
    torch.testing.assert_close(log_prob, seq2seq.sequence_log_prob(model, source, tokens), rtol=0, atol=1e-12)


def test_beam_search_as_wide_as_the_digits_finds_the_most_probable_output_of_length_2():
    # width 10 keeps every prefix of length 1, so over 2 steps it searches all 100 outputs
    torch.manual_seed(0)
    model = seq2seq.Seq2Seq(True, hidden_size=8).double()
    source, _ = seq2seq.reversal_task(4, 2, torch.Generator().manual_seed(2))
    every = torch.cartesian_prod(torch.arange(10), torch.arange(10)).T  # (2, 100)
    for b in range(4):
        column = source[:, b:b + 1].expand(2, 100)
        best = seq2seq.sequence_log_prob(model, column, every).max()
        tokens, log_prob = seq2seq.beam_search(model, source[:, b:b + 1], width=10)
        torch.testing.assert_close(log_prob[0], best, rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="width should be an int in 1..10, got 0"):
        seq2seq.beam_search(model, source, width=0)
