"""Notebook 14's exercises: the attention step, the decoder step and the masked loss. A right answer
passes; each mistake the notebook warns about, a library shortcut and a stub each get their sentence."""

import math

import pytest
import torch

from lstm_lab import seq2seq
from lstm_lab.checks import seq2seq as check


def attention(query, keys):  # written without einsum, as a student might
    scores = (keys * query).sum(-1).T  # (B, S)
    weights = torch.softmax(scores, dim=-1)
    return (weights.T.unsqueeze(-1) * keys).sum(0), weights


def attention_with(scores_of, softmax_dim=-1, average=False):
    def planted(query, keys):
        scores = scores_of((keys * query).sum(-1).T, query)
        weights = torch.softmax(scores, dim=softmax_dim) if softmax_dim is not None else scores
        mix = torch.full_like(weights, 1 / weights.shape[-1]) if average else weights
        return (mix.T.unsqueeze(-1) * keys).sum(0), weights
    return planted


ATTENTION_MISTAKES = {
    "the softmax ran over the batch axis": attention_with(lambda s, q: s, softmax_dim=0),
    "the weights are the raw scores": attention_with(lambda s, q: s, softmax_dim=None),
    "divided by √H": attention_with(lambda s, q: s / math.sqrt(q.shape[-1])),
    "the context is the plain average": attention_with(lambda s, q: s, average=True),
}


def test_a_right_attention_passes():
    feedback = check.check_attention(attention)
    assert feedback, str(feedback)


def test_the_librarys_attention_is_no_answer():
    feedback = check.check_attention(lambda query, keys: seq2seq.dot_attention(query, keys))
    assert not feedback and "`lstm_lab.seq2seq.dot_attention`" in str(feedback), str(feedback)


def decoder_step(decoder, token, state, memory, attend):
    h, c = decoder.cell(decoder.embedding(token), state)
    context, weights = attend(h, memory)
    return decoder.readout(torch.cat([h, context], dim=-1)), (h, c), weights


def stale_query(decoder, token, state, memory, attend):
    context, weights = attend(state[0], memory)  # Bahdanau's order with Luong's read-out
    h, c = decoder.cell(decoder.embedding(token), state)
    return decoder.readout(torch.cat([h, context], dim=-1)), (h, c), weights


def swapped_readout(decoder, token, state, memory, attend):
    h, c = decoder.cell(decoder.embedding(token), state)
    context, weights = attend(h, memory)
    return decoder.readout(torch.cat([context, h], dim=-1)), (h, c), weights


def old_state(decoder, token, state, memory, attend):
    h, c = decoder.cell(decoder.embedding(token), state)
    context, weights = attend(h, memory)
    return decoder.readout(torch.cat([h, context], dim=-1)), state, weights


def test_a_right_decoder_step_passes_with_the_cell_and_attend_it_is_handed():
    feedback = check.check_decoder_step(decoder_step)
    assert feedback, str(feedback)


@pytest.mark.parametrize("fn, says", [
    (stale_query, "the attention was asked with the state from before this step"),
    (swapped_readout, "the read-out got [context; h_t]"),
    (old_state, "the state returned is the one the step started from"),
], ids=["stale query", "swapped read-out", "old state"])
def test_each_decoder_mistake_is_named(fn, says):
    feedback = check.check_decoder_step(fn)
    assert not feedback and says in str(feedback), str(feedback)


def test_the_librarys_decoder_step_is_no_answer():
    feedback = check.check_decoder_step(lambda decoder, token, state, memory, attend: decoder.step(token, state, memory))
    assert not feedback and "`lstm_lab.seq2seq.Decoder.step`" in str(feedback), str(feedback)


@pytest.mark.parametrize("run", [lambda: check.check_attention(lambda q, k: None),
                                 lambda: check.check_decoder_step(lambda *args: (None, None, None))],
                         ids=["attention returns None", "decoder returns Nones"])
def test_a_wrong_return_type_gets_a_sentence(run):
    feedback = run()
    assert not feedback and "Traceback" not in str(feedback) and len(str(feedback).splitlines()) >= 2, str(feedback)


def test_the_checks_leave_the_callers_random_state_alone():
    torch.manual_seed(123)
    before = torch.get_rng_state()
    check.check_decoder_step(decoder_step)
    assert torch.equal(torch.get_rng_state(), before)


def masked_loss(logits, target, mask):  # with log_softmax and gather, as a student might
    logp = torch.log_softmax(logits, dim=-1)
    picked = logp.gather(-1, target.masked_fill(~mask, 0).unsqueeze(-1)).squeeze(-1)  # (T, B)
    return -(picked * mask).sum() / mask.sum()


def per_position(logits, target, mask):
    return torch.nn.functional.cross_entropy(logits.permute(0, 2, 1), target.masked_fill(~mask, 0), reduction="none")


MASKED_LOSS_MISTAKES = {
    "the mean ran over every position, padding included": lambda l, t, m: (per_position(l, t, m) * m).mean(),
    "the padded positions' losses were counted": lambda l, t, m: per_position(l, t, m).sum() / m.sum(),
    "each string's mean, then their mean": lambda l, t, m: ((per_position(l, t, m) * m).sum(0) / m.sum(0)).mean(),
    "the sum over the real positions, not their mean": lambda l, t, m: (per_position(l, t, m) * m).sum(),
}


def test_a_right_masked_loss_passes():
    feedback = check.check_masked_loss(masked_loss)
    assert feedback, str(feedback)


@pytest.mark.parametrize("run, mistake", [(check.check_attention, fn) for fn in ATTENTION_MISTAKES]
                         + [(check.check_masked_loss, fn) for fn in MASKED_LOSS_MISTAKES])
def test_each_catalogued_mistake_is_named(run, mistake):
    """The attention's and the masked loss's mistakes, each written as a student would: named by its check."""
    feedback = run({**ATTENTION_MISTAKES, **MASKED_LOSS_MISTAKES}[mistake])
    assert not feedback and mistake in str(feedback), str(feedback)


def test_a_loss_that_reads_the_padded_targets_is_told_to_replace_them():
    def reads_pad(logits, target, mask):
        return (torch.nn.functional.cross_entropy(logits.permute(0, 2, 1), target, reduction="none") * mask).sum() \
            / mask.sum()
    feedback = check.check_masked_loss(reads_pad)
    assert not feedback and "PAD (12), which is no class of the 11" in str(feedback), str(feedback)


def test_the_librarys_masked_loss_is_no_answer():
    feedback = check.check_masked_loss(lambda logits, target, mask: seq2seq.masked_loss(logits, target, mask))
    assert not feedback and "`lstm_lab.seq2seq.masked_loss`" in str(feedback), str(feedback)
