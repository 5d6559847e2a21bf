"""The memory task and the seeded training loop (lstm_lab.training)."""

import pytest
import torch

from lstm_lab import GRU, LSTM, RNN
from lstm_lab.training import History, SequenceClassifier, make_model, memory_task, pick_device, train


def test_pick_device_is_cuda_exactly_when_a_gpu_is_present():
    assert pick_device().type == ("cuda" if torch.cuda.is_available() else "cpu")


def test_memory_task_layout():
    gen = torch.Generator().manual_seed(0)
    inputs, targets = memory_task(16, lag=5, num_symbols=3, num_distractors=2, generator=gen)
    assert inputs.shape == (6, 16, 5) and targets.shape == (16,)
    assert inputs.dtype == torch.float32 and targets.dtype == torch.long
    assert torch.equal(inputs.sum(-1), torch.ones(6, 16))  # one-hot at every step
    channel = inputs.argmax(-1)
    assert torch.equal(channel[0], targets)  # the answer is the symbol of step 0 ...
    assert bool((channel[0] < 3).all())  # ... drawn from the symbol channels
    assert bool((channel[1:] >= 3).all())  # every later step is a distractor
    assert set(targets.tolist()) == {0, 1, 2}


def test_memory_task_is_seeded_and_lag_zero_is_allowed():
    a = memory_task(8, 4, generator=torch.Generator().manual_seed(1))
    b = memory_task(8, 4, generator=torch.Generator().manual_seed(1))
    c = memory_task(8, 4, generator=torch.Generator().manual_seed(2))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[0], c[0])
    inputs, targets = memory_task(4, 0, generator=torch.Generator().manual_seed(0))
    assert inputs.shape == (1, 4, 8) and torch.equal(inputs[0].argmax(-1), targets)


@pytest.mark.parametrize("kwargs, message", [
    (dict(batch_size=0, lag=3), "batch_size should be an int >= 1, got 0"),
    (dict(batch_size=4, lag=-1), "lag should be an int >= 0, got -1"),
    (dict(batch_size=4, lag=2.5), "lag should be an int >= 0, got 2.5"),
    (dict(batch_size=4, lag=3, num_symbols=1), "num_symbols should be an int >= 2, got 1"),
])
def test_memory_task_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        memory_task(**kwargs)


def test_models_are_lstm_lab_modules_with_the_keep_gate_opened():
    rnn, lstm, gru = (make_model(kind, hidden_size=6, seed=0) for kind in ("RNN", "LSTM", "GRU"))
    assert isinstance(rnn.rnn, RNN) and isinstance(lstm.rnn, LSTM) and isinstance(gru.rnn, GRU)
    for model in (lstm, gru):  # block 1 is the LSTM's forget gate and the GRU's update gate
        keep = model.rnn.bias_ih_l0[6:12] + model.rnn.bias_hh_l0[6:12]
        assert torch.allclose(keep, torch.full((6,), 3.0))
    assert not torch.allclose(lstm.rnn.bias_ih_l0[:6] + lstm.rnn.bias_hh_l0[:6], torch.ones(6))
    same = make_model("LSTM", hidden_size=6, seed=0)
    assert all(torch.equal(p, q) for p, q in zip(lstm.parameters(), same.parameters()))
    with pytest.raises(ValueError, match="kind should be one of RNN, LSTM, GRU, got 'Transformer'"):
        make_model("Transformer")


def test_train_is_seeded_and_records_every_step(capsys):
    a = train("GRU", lag=3, steps=5, batch_size=8, hidden_size=8, seed=3, device="cpu", progress=False)
    b = train("GRU", lag=3, steps=5, batch_size=8, hidden_size=8, seed=3, device="cpu", progress=False)
    assert isinstance(a, History) and a.kind == "GRU" and a.lag == 3
    assert len(a.loss) == len(a.accuracy) == 5
    assert a.loss == b.loss and a.accuracy == b.accuracy and a.test_accuracy == b.test_accuracy
    assert all(0.0 <= acc <= 1.0 for acc in a.accuracy)
    assert capsys.readouterr().err == ""  # progress=False: no bar


def test_train_shows_a_progress_bar_when_asked(capsys):
    train("RNN", lag=2, steps=3, batch_size=4, hidden_size=4, device="cpu", progress=True)
    assert "RNN lag 2" in capsys.readouterr().err


def test_an_lstm_learns_a_short_lag():
    """Behaviour, not just bookkeeping: the loss falls and the held-out batch is answered."""
    history = train("LSTM", lag=5, steps=120, hidden_size=16, seed=0, device="cpu", progress=False)
    first, last = sum(history.loss[:10]) / 10, sum(history.loss[-10:]) / 10
    assert last < 0.2 * first
    assert history.test_accuracy > 0.95
    assert history.final_accuracy() > 0.95


def test_train_rejects_bad_arguments():
    with pytest.raises(ValueError, match="kind should be one of"):
        train("lstm", lag=3)
    with pytest.raises(ValueError, match="steps should be a positive int, got 0"):
        train("LSTM", lag=3, steps=0)


def test_seeding_leaves_the_callers_random_state_alone():
    """make_model (and train, through it) seed the model's weights without moving the global random
    state: a learner's cells draw after the call what they would have drawn without it. The weights
    are those torch.manual_seed(seed) gives, whatever was drawn before."""
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    model = make_model("LSTM", hidden_size=6, seed=4)
    assert torch.equal(torch.random.get_rng_state(), before)
    train("GRU", lag=2, steps=2, batch_size=4, hidden_size=4, seed=4, device="cpu", progress=False)
    assert torch.equal(torch.random.get_rng_state(), before)
    torch.manual_seed(4)
    seeded_globally = SequenceClassifier("LSTM", 8, 6, 4)
    assert all(torch.equal(p, q) for p, q in zip(model.parameters(), seeded_globally.parameters(), strict=True))
