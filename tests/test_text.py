"""The text pipeline (lstm_lab.text): ids, split, streams, chunks, the model, truncated BPTT, perplexity."""

import hashlib
import math

import pytest
import torch
from torch import nn

from lstm_lab import LSTM, text
from lstm_lab.training import optimise

TINY = "abcab cab\nba"  # 12 characters, 5 distinct, made here


def test_vocabulary_sorted_ids_round_trip():
    vocab = text.Vocabulary.from_text(TINY)
    assert vocab.chars == ("\n", " ", "a", "b", "c") and len(vocab) == 5
    ids = vocab.encode("cab\n")
    assert ids.dtype == torch.int64 and ids.tolist() == [4, 2, 3, 0]
    assert vocab.decode(ids) == "cab\n" and vocab.decode([1, 2]) == " a"


@pytest.mark.parametrize("call, message", [
    (lambda v: v.encode("abz!"), "2 character(s) not in the vocabulary: '!z' (the vocabulary has 5 characters)"),
    (lambda v: v.decode([0, 5]), "ids should lie in 0..4, got 5"),
    (lambda v: text.Vocabulary.from_text(""), "expected a non-empty str"),
])
def test_vocabulary_bad_input(call, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        call(text.Vocabulary.from_text(TINY))


def test_split_keeps_order_and_the_held_out_tail():
    ids = torch.arange(20)
    train, held = text.split(ids, 0.25)
    assert train.tolist() == list(range(15)) and held.tolist() == list(range(15, 20))
    with pytest.raises(ValueError, match="held_out should be a fraction between 0 and 1, got 1.5"):
        text.split(ids, 1.5)
    with pytest.raises(ValueError, match="too few"):
        text.split(torch.arange(2), 0.9)


def test_streams_are_consecutive_pieces_side_by_side():
    s = text.streams(torch.arange(11), 3)  # 3 streams of 3 steps; the 2 ids left over are dropped
    assert s.tolist() == [[0, 3, 6], [1, 4, 7], [2, 5, 8]]
    with pytest.raises(ValueError, match="expected a 1-D tensor of ids, got shape"):
        text.streams(torch.zeros(2, 3, dtype=torch.long), 2)
    with pytest.raises(ValueError, match="fewer than 2 steps"):
        text.streams(torch.arange(5), 3)


def test_chunks_targets_are_the_next_character_and_cover_the_stream():
    stream = torch.arange(10).reshape(10, 1)
    pieces = text.chunks(stream, 4)
    assert [(x.flatten().tolist(), y.flatten().tolist()) for x, y in pieces] == [
        ([0, 1, 2, 3], [1, 2, 3, 4]), ([4, 5, 6, 7], [5, 6, 7, 8]), ([8], [9])]
    with pytest.raises(ValueError, match="length should be a positive int, got 0"):
        text.chunks(stream, 0)


def test_shipped_text_is_the_documented_file():
    raw = text.load_text()
    assert len(raw) == 231_267 and len(set(raw)) == 74
    assert raw.startswith("PRIDE AND PREJUDICE\n\nBy Jane Austen")
    assert "Chapter 23" in raw and "Chapter 24" not in raw
    digest = hashlib.sha256(raw.encode("utf-8")).hexdigest()
    assert digest == "801176734df97a0bae43c7b75a4a1e250bbd2f935ec8fc0f8cd06a286831b99c"
    with pytest.raises(ValueError, match="name should be one of pride_and_prejudice_vol1, got 'moby'"):
        text.load_text("moby")


def test_embedding_is_one_hot_times_its_matrix():
    model = text.CharLM(5, embedding_size=3, hidden_size=4)
    ids = torch.tensor([[4, 0], [2, 2]])
    one_hot = nn.functional.one_hot(ids, 5).to(torch.float32)
    torch.testing.assert_close(model.embedding(ids), one_hot @ model.embedding.weight, rtol=0, atol=0)


def test_charlm_matches_the_same_model_built_on_torch_nn_lstm():
    torch.manual_seed(0)
    ours = text.CharLM(5, 3, 4, num_layers=2).double()
    theirs = text.CharLM(5, 3, 4, num_layers=2, rnn=nn.LSTM).double()
    theirs.load_state_dict(ours.state_dict())
    assert isinstance(ours.rnn, LSTM)
    ids = torch.randint(5, (6, 2), generator=torch.Generator().manual_seed(1))
    (a, (ha, ca)), (b, (hb, cb)) = ours(ids), theirs(ids)
    assert a.shape == (6, 2, 5)
    for x, y in ((a, b), (ha, hb), (ca, cb)):
        torch.testing.assert_close(x, y, rtol=0, atol=1e-12)


def test_train_chunks_carries_the_state_detached_and_equals_the_loop_written_out():
    torch.manual_seed(0)
    model = text.CharLM(5, 3, 4).double()
    twin = text.CharLM(5, 3, 4).double()
    twin.load_state_dict(model.state_dict())
    stream = torch.randint(5, (13, 2), generator=torch.Generator().manual_seed(2))
    pieces = text.chunks(stream, 4)
    losses, state = text.train_chunks(model, pieces, torch.optim.SGD(model.parameters(), lr=0.5), clip=0.1)
    assert len(losses) == 3 and state[0].grad_fn is not None  # the last chunk's state, for the next pass
    # the same loop written out by hand
    optimizer, carried, expected = torch.optim.SGD(twin.parameters(), lr=0.5), None, []
    for inputs, targets in pieces:
        if carried is not None:
            carried = (carried[0].detach(), carried[1].detach())
        logits, carried = twin(inputs, carried)
        loss = nn.functional.cross_entropy(logits.reshape(-1, 5), targets.reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(twin.parameters(), 0.1)
        optimizer.step()
        expected.append(loss.item())
    assert losses == pytest.approx(expected, abs=1e-12)
    for p, q in zip(model.parameters(), twin.parameters()):
        torch.testing.assert_close(p, q, rtol=0, atol=1e-12)


def test_detach_state_cuts_the_graph_and_keeps_the_numbers():
    h = torch.ones(2, requires_grad=True) * 2
    out = text.detach_state((h, (h * 3,)))
    assert out[0].grad_fn is None and out[1][0].grad_fn is None and out[1][0].tolist() == [6.0, 6.0]
    assert text.detach_state(None) is None


def test_perplexity_of_a_uniform_model_is_the_vocabulary_size_and_uses_the_carried_state():
    model = text.CharLM(7, 3, 4)
    with torch.no_grad():
        model.readout.weight.zero_()
        model.readout.bias.zero_()  # every logit 0: each of the 7 characters gets 1/7
    stream = torch.randint(7, (21, 3), generator=torch.Generator().manual_seed(0))
    assert text.perplexity(model, stream, length=5) == pytest.approx(7.0, rel=1e-6)
    # a real model: the mean over chunks of 5 with the state carried equals one pass over the whole stream
    torch.manual_seed(1)
    model = text.CharLM(7, 3, 4).double()
    with torch.no_grad():
        logits, _ = model(stream[:-1])
        whole = math.exp(text.chunk_loss(logits, stream[1:]).item())
    assert text.perplexity(model, stream, length=5) == pytest.approx(whole, rel=1e-12)


def test_optimise_is_the_step_the_memory_task_loop_takes():
    torch.manual_seed(0)
    layer = nn.Linear(3, 1)
    optimizer = torch.optim.SGD(layer.parameters(), lr=1.0)
    before = layer.weight.detach().clone()
    loss = (layer(torch.ones(1, 3)) * 100).sum()
    optimise(layer, optimizer, loss, clip=1.0)
    step = (layer.weight.detach() - before).norm().item()
    assert step == pytest.approx(1.0 * 100 * 3 ** 0.5 / (100 * 4 ** 0.5), rel=1e-5)  # clipped to norm 1 overall
