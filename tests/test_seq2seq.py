"""The encoder-decoder with and without attention (lstm_lab.seq2seq): the end token, padded batches with
their masks, the bidirectional encoder and its bridge, greedy decoding and beam search."""

import pytest
import torch

from lstm_lab import runners, seq2seq
from lstm_lab.seq2seq import EOS, PAD


def test_reversal_task():
    source, target = seq2seq.reversal_task(4, 6, torch.Generator().manual_seed(0))
    assert source.shape == (6, 4) and torch.equal(target, source.flip(0))
    assert int(source.min()) >= 0 and int(source.max()) <= 9
    with pytest.raises(ValueError, match="length should be a positive int, got 0"):
        seq2seq.reversal_task(4, 0)


def test_the_token_ids():
    assert (seq2seq.DIGITS, EOS, seq2seq.BOS, PAD, seq2seq.OUTPUTS, seq2seq.VOCAB) == (10, 10, 11, 12, 11, 13)


def test_a_padded_batch_pads_the_sources_and_ends_each_target_with_eos():
    source, target, lengths = seq2seq.padded_batch([2, 4, 1], torch.Generator().manual_seed(0))
    assert source.shape == (4, 3) and target.shape == (5, 3) and lengths.tolist() == [2, 4, 1]
    for b, n in enumerate([2, 4, 1]):
        digits = source[:n, b]
        assert int(digits.max()) <= 9 and (source[n:, b] == PAD).all()
        assert target[:n, b].tolist() == digits.flip(0).tolist() and int(target[n, b]) == EOS
        assert (target[n + 1:, b] == PAD).all()
    for bad in ([], [2, 0], [[2, 3]], [1.5]):
        with pytest.raises(ValueError, match="lengths should be a non-empty 1-D sequence of positive ints"):
            seq2seq.padded_batch(bad)


def test_the_masks_are_notebook_07s_for_the_lengths_read_off_the_padding():
    source, target, lengths = seq2seq.padded_batch([3, 1, 5], torch.Generator().manual_seed(0))
    assert torch.equal(seq2seq.source_mask(source), runners.valid_steps(lengths, 5, "cpu")[..., 0])
    assert seq2seq.source_mask(source).tolist() == [[True, True, True], [True, False, True], [True, False, True],
                                                    [False, False, True], [False, False, True]]
    assert torch.equal(seq2seq.target_mask(target), runners.valid_steps(lengths + 1, 6, "cpu")[..., 0])


def test_bucketed_lengths_are_the_drawn_lengths_in_batches_of_neighbours():
    batches = seq2seq.bucketed_lengths(4, 5, 3, 12, torch.Generator().manual_seed(0))
    assert len(batches) == 4 and all(b.shape == (5,) for b in batches)
    ordered = sorted(batches, key=lambda b: int(b[0]))
    assert all(int(a.max()) <= int(b.min()) for a, b in zip(ordered, ordered[1:]))  # no batch overlaps another
    everything = torch.cat(batches)
    assert int(everything.min()) >= 3 and int(everything.max()) <= 12


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


def test_masked_attention_gives_padding_weight_zero_and_reads_as_if_it_were_not_there():
    gen = torch.Generator().manual_seed(1)
    keys = torch.randn(5, 2, 3, dtype=torch.float64, generator=gen)
    query = torch.randn(2, 3, dtype=torch.float64, generator=gen)
    mask = runners.valid_steps(torch.tensor([2, 5]), 5, "cpu")[..., 0]
    context, weights = seq2seq.dot_attention(query, keys, mask)
    assert torch.count_nonzero(weights[0, 2:]) == 0 and bool((weights[0, :2] > 0).all())
    alone, alone_weights = seq2seq.dot_attention(query[:1], keys[:2, :1])  # example 0 without its padding
    torch.testing.assert_close(weights[0, :2], alone_weights[0], rtol=0, atol=1e-14)
    torch.testing.assert_close(context[0], alone[0], rtol=0, atol=1e-14)
    unmasked, _ = seq2seq.dot_attention(query, keys)
    torch.testing.assert_close(context[1], unmasked[1], rtol=0, atol=1e-14)  # nothing masked, nothing changed


def test_the_masked_loss_is_the_mean_over_real_positions_whatever_the_padded_targets():
    gen = torch.Generator().manual_seed(2)
    logits = torch.randn(4, 3, 11, dtype=torch.float64, generator=gen)
    target = torch.tensor([[1, 2, 3], [EOS, 4, 5], [PAD, EOS, 6], [PAD, PAD, EOS]])
    mask = seq2seq.target_mask(target)
    assert mask.sum() == 2 + 3 + 4
    terms = [-torch.log_softmax(logits[t, b], -1)[target[t, b]] for b in range(3) for t in range(4) if mask[t, b]]
    torch.testing.assert_close(seq2seq.masked_loss(logits, target, mask), torch.stack(terms).mean(), rtol=0, atol=1e-14)
    other = target.masked_fill(~mask, 7)
    assert seq2seq.masked_loss(logits, other, mask) == seq2seq.masked_loss(logits, target, mask)


def double_model(attention, seed=0):
    torch.manual_seed(seed)
    return seq2seq.Seq2Seq(attention, hidden_size=8, encoder_size=6).double()


def sometimes_stopping(attention):
    """A random model with a sharpened read-out (and EOS favoured with attention): on the batches below it
    writes EOS at different steps for different strings, and never for some."""
    model = double_model(attention)
    scale, eos_bias = (30.0, 2.0) if attention else (10.0, 0.0)
    with torch.no_grad():
        model.decoder.readout.weight.mul_(scale)
        model.decoder.readout.bias[EOS] += eos_bias
    return model


@pytest.mark.parametrize("attention", [False, True])
def test_a_padded_string_is_encoded_as_if_alone(attention):
    model = double_model(attention)
    source, _, lengths = seq2seq.padded_batch([3, 6], torch.Generator().manual_seed(3))
    memory, (h, c) = model.encoder(source)
    assert memory.shape == (6, 2, 8) and h.shape == c.shape == (2, 8)
    alone_memory, (alone_h, alone_c) = model.encoder(source[:3, :1])
    torch.testing.assert_close(memory[:3, :1], alone_memory, rtol=0, atol=1e-12)
    torch.testing.assert_close(h[:1], alone_h, rtol=0, atol=1e-12)
    torch.testing.assert_close(c[:1], alone_c, rtol=0, atol=1e-12)
    assert torch.count_nonzero(memory[3:, 0]) == 0  # the projection has no bias: padding's outputs stay 0


def test_the_decoders_initial_state_is_a_linear_map_of_both_directions_final_states():
    model = double_model(True)
    encoder = model.encoder
    source, _ = seq2seq.reversal_task(2, 5, torch.Generator().manual_seed(4))
    outputs, _ = encoder.rnn(encoder.embedding(source))  # (5, 2, 12): [forward; backward] at every step
    forward_last, backward_first = outputs[-1, :, :6], outputs[0, :, 6:]
    _, (h, _) = encoder(source)
    bridge = encoder.bridge_h
    torch.testing.assert_close(h, torch.cat([forward_last, backward_first], -1) @ bridge.weight.T + bridge.bias,
                               rtol=0, atol=1e-12)
    assert encoder.rnn.bidirectional and bridge.in_features == 12 and bridge.out_features == 8


@pytest.mark.parametrize("attention", [False, True])
def test_a_padded_batchs_loss_is_its_strings_losses_each_computed_alone(attention):
    """Packing (the encoder), the attention mask and the loss mask together: padding changes nothing."""
    model = double_model(attention)
    source, target, lengths = seq2seq.padded_batch([2, 5, 3], torch.Generator().manual_seed(5))
    batch_loss = seq2seq.masked_loss(model(source, target), target, seq2seq.target_mask(target))
    total = 0
    for b, n in enumerate(lengths.tolist()):
        one_source, one_target = source[:n, b:b + 1], target[:n + 1, b:b + 1]
        total = total + (n + 1) * seq2seq.masked_loss(model(one_source, one_target), one_target,
                                                      torch.ones(n + 1, 1, dtype=torch.bool))
    torch.testing.assert_close(batch_loss, total / int((lengths + 1).sum()), rtol=0, atol=1e-12)


def test_without_attention_the_readout_sees_only_the_decoder_state():
    plain, attending = seq2seq.Seq2Seq(False, hidden_size=8), seq2seq.Seq2Seq(True, hidden_size=8)
    assert plain.decoder.readout.in_features == 8 and attending.decoder.readout.in_features == 16
    assert attending.decoder.readout.out_features == 11  # the digits and EOS


@pytest.mark.parametrize("attention", [False, True])
def test_greedy_decoding_reads_its_own_answers_and_writes_pad_after_eos(attention):
    model = sometimes_stopping(attention)
    source, _, _ = seq2seq.padded_batch([3, 5, 2, 4], torch.Generator().manual_seed(6))
    tokens, weights = model.greedy(source, max_length=7)
    assert tokens.shape[1] == 4 and tokens.shape[0] <= 7
    ended = (tokens == EOS).long().cumsum(0) - (tokens == EOS).long() > 0  # strictly after a string's EOS
    assert bool(ended.any()) and not bool(ended[-1].all())  # some strings stopped, not all
    assert bool((tokens[ended] == PAD).all()) and not bool((tokens[~ended] == PAD).any())
    with torch.no_grad():  # teacher forcing fed greedy's own answers makes the same choices before each EOS
        forced = model(source, tokens).argmax(-1)
    assert torch.equal(forced[~ended], tokens[~ended])
    if attention:
        assert weights.shape == (tokens.shape[0], 4, 5)
        assert torch.count_nonzero(weights[:, 2, 2:]) == 0  # string 2 has 2 digits: no weight on its padding
        torch.testing.assert_close(weights.sum(-1), torch.ones(tokens.shape[0], 4, dtype=torch.float64),
                                   rtol=0, atol=1e-12)
    else:
        assert weights is None
    with pytest.raises(ValueError, match="max_length should be a positive int, got 0"):
        model.greedy(source, max_length=0)


def test_greedy_stops_once_every_string_has_written_eos():
    model = double_model(True)
    with torch.no_grad():
        model.decoder.readout.bias[EOS] = 100.0  # EOS first, whatever the input
    tokens, _ = model.greedy(seq2seq.reversal_task(3, 5)[0])
    assert tokens.tolist() == [[EOS] * 3]


def test_sequence_log_prob_sums_up_to_the_eos_and_ignores_what_follows():
    model = double_model(True)
    source, _ = seq2seq.reversal_task(1, 3, torch.Generator().manual_seed(7))
    output = torch.tensor([[4], [EOS], [PAD]])
    with torch.no_grad():
        logp = torch.log_softmax(model(source, output), -1)
    expected = logp[0, 0, 4] + logp[1, 0, EOS]
    torch.testing.assert_close(seq2seq.sequence_log_prob(model, source, output)[0], expected, rtol=0, atol=1e-12)
    other = torch.tensor([[4], [EOS], [3]])
    torch.testing.assert_close(seq2seq.sequence_log_prob(model, source, other)[0], expected, rtol=0, atol=1e-12)


def test_training_is_seeded_and_learns_short_reversals_and_where_to_stop():
    a_model, a = seq2seq.train_seq2seq(True, steps=160, max_length=4, hidden_size=32, progress=False)
    _, b = seq2seq.train_seq2seq(True, steps=3, max_length=4, hidden_size=32, progress=False)
    assert a.loss[:3] == b.loss  # the same seed, the same first steps
    assert sum(a.loss[-10:]) / 10 < 0.5 * a.loss[0]
    exact, stopped = seq2seq.reversal_accuracy(a_model, 3, batch_size=100)
    assert 0.5 < exact <= stopped <= 1.0


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


class Writes(torch.nn.Module):
    """A stand-in model whose greedy decoding writes given tokens, to test the scoring alone."""

    def __init__(self, tokens):
        super().__init__()
        self.tokens, self.unused = tokens, torch.nn.Parameter(torch.zeros(1))

    def greedy(self, source):
        return self.tokens, None


def test_reversal_accuracy_counts_the_digits_and_the_stop():
    source, target = seq2seq.reversal_task(4, 2, torch.Generator().manual_seed(1_000_003 + 2))
    right = torch.cat([target, torch.full((1, 4), EOS)])
    tokens = right.clone()
    tokens[2, 1] = 5                     # string 1: the right digits, no stop
    tokens[0, 2] = (tokens[0, 2] + 1) % 10  # string 2: a wrong digit, stopped right
    tokens[1, 3], tokens[2, 3] = EOS, PAD   # string 3: stopped one early
    assert seq2seq.reversal_accuracy(Writes(tokens), 2, batch_size=4) == (0.25, 0.5)
    assert seq2seq.reversal_accuracy(Writes(right[:1]), 2, batch_size=4) == (0.0, 0.0)  # stopped before writing


@pytest.mark.parametrize("attention", [False, True])
def test_beam_search_of_width_1_is_greedy_and_its_scores_are_the_outputs_log_probabilities(attention):
    model = sometimes_stopping(attention)
    source, _, _ = seq2seq.padded_batch([5, 3, 4, 5, 2, 1], torch.Generator().manual_seed(1))
    greedy, _ = model.greedy(source, max_length=6)
    one, _ = seq2seq.beam_search(model, source, width=1, max_length=6)
    assert torch.equal(one, greedy)
    tokens, log_prob = seq2seq.beam_search(model, source, width=3, max_length=6)
    assert tokens.shape[1] == 6 and log_prob.shape == (6,)
    torch.testing.assert_close(log_prob, seq2seq.sequence_log_prob(model, source, tokens), rtol=0, atol=1e-12)


def test_beam_search_as_wide_as_the_outputs_finds_the_most_probable_output_of_two_steps():
    # width 11 keeps every prefix of one token, so the second step scores all 1 + 10 * 11 outputs
    model = sometimes_stopping(True)
    source, _ = seq2seq.reversal_task(6, 2, torch.Generator().manual_seed(2))
    every = torch.cat([torch.tensor([[EOS], [PAD]]), torch.cartesian_prod(torch.arange(10), torch.arange(11)).T], 1)
    assert every.shape == (2, 111)
    found = []
    for b in range(6):
        column = source[:, b:b + 1].expand(2, 111)
        all_log_probs = seq2seq.sequence_log_prob(model, column, every)
        tokens, log_prob = seq2seq.beam_search(model, source[:, b:b + 1], width=11, max_length=2)
        torch.testing.assert_close(log_prob[0], all_log_probs.max(), rtol=0, atol=1e-12)
        best = every[:, int(all_log_probs.argmax())].tolist()
        assert tokens.shape[0] <= 2 and tokens[:, 0].tolist() == best[:tokens.shape[0]]
        assert set(best[tokens.shape[0]:]) <= {PAD}
        found.append(tokens[:, 0].tolist())
    assert [EOS] in found and any(EOS not in f for f in found)  # a search stopped at once, one wrote two digits
    with pytest.raises(ValueError, match="width should be an int in 1..11, got 0"):
        seq2seq.beam_search(model, source, width=0)
