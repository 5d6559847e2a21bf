"""Greedy, temperature and top-k sampling (lstm_lab.sampling)."""

import pytest
import torch

from lstm_lab import sampling, text

LOGITS = torch.tensor([[2.0, 1.0, 0.0, -1.0], [0.0, 3.0, 1.0, 1.0]], dtype=torch.float64)


def test_temperature_sharpens_below_one_and_flattens_above():
    p1 = sampling.temperature_probs(LOGITS, 1.0)
    torch.testing.assert_close(p1, torch.softmax(LOGITS, -1), rtol=0, atol=0)
    cold, hot = sampling.temperature_probs(LOGITS, 0.5), sampling.temperature_probs(LOGITS, 2.0)
    torch.testing.assert_close(cold, torch.softmax(2 * LOGITS, -1), rtol=0, atol=1e-15)
    assert bool((cold.max(-1).values > p1.max(-1).values).all()) and bool((hot.max(-1).values < p1.max(-1).values).all())
    with pytest.raises(ValueError, match="temperature should be > 0, got 0"):
        sampling.temperature_probs(LOGITS, 0)


def test_top_k_keeps_the_k_largest():
    kept = sampling.top_k_logits(LOGITS, 2)
    assert kept[0].tolist() == [2.0, 1.0, float("-inf"), float("-inf")]
    assert kept[1].tolist() == [float("-inf"), 3.0, 1.0, 1.0]  # a tie at the k-th largest keeps both
    with pytest.raises(ValueError, match="k should be an int in 1..4, got 5"):
        sampling.top_k_logits(LOGITS, 5)


def test_next_ids_greedy_draws_and_top_k():
    assert sampling.next_ids(LOGITS, greedy=True).tolist() == [0, 1]
    rows = LOGITS[0].expand(20_000, 4)
    drawn = sampling.next_ids(rows, temperature=2.0, generator=torch.Generator().manual_seed(0))
    freq = torch.bincount(drawn, minlength=4).double() / drawn.numel()
    torch.testing.assert_close(freq, sampling.temperature_probs(LOGITS[0], 2.0), rtol=0, atol=0.015)
    top2 = sampling.next_ids(rows, top_k=2, generator=torch.Generator().manual_seed(0))
    assert set(top2.tolist()) == {0, 1}
    again = sampling.next_ids(rows, temperature=2.0, generator=torch.Generator().manual_seed(0))
    assert torch.equal(drawn, again)


def test_generate_feeds_each_character_back_and_is_seeded():
    vocab = text.Vocabulary.from_text("ab")
    torch.manual_seed(0)
    model = text.CharLM(2, 3, 4)
    with torch.no_grad():  # a model that always says "b" after anything
        model.readout.weight.zero_()
        model.readout.bias.copy_(torch.tensor([-5.0, 5.0]))
    assert sampling.generate(model, vocab, "a", 5, greedy=True) == "abbbbb"
    torch.manual_seed(1)
    model = text.CharLM(2, 3, 4)
    one = sampling.generate(model, vocab, "ab", 30, generator=torch.Generator().manual_seed(3))
    two = sampling.generate(model, vocab, "ab", 30, generator=torch.Generator().manual_seed(3))
    assert one == two and len(one) == 32 and one.startswith("ab")
    with pytest.raises(ValueError, match="at least one character"):
        sampling.generate(model, vocab, "", 3)
