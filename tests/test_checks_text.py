"""Notebook 13's checks (lstm_lab.checks.text) on right answers and on the usual mistakes, planted."""

import pytest
import torch
from torch import nn

from lstm_lab import mistakes, text
from lstm_lab.checks import text as check


# ---------------------------------------------------------------- batchify
def right_batchify(ids, batch_size):
    steps = len(ids) // batch_size
    return ids[:steps * batch_size].reshape(batch_size, steps).t()


BATCHIFY_MISTAKES = {  # each written as a student would, not with lstm_lab.mistakes (the catalogue)
    "batch-major": (lambda ids, b: ids[:len(ids) // b * b].reshape(b, -1), "the streams lie along the rows"),
    "interleaved": (lambda ids, b: ids[:len(ids) // b * b].reshape(-1, b), "the streams are interleaved"),
    "head dropped": (lambda ids, b: ids[len(ids) % b:].reshape(b, -1).t(), "dropped from the start of the text"),
    "tail kept": (lambda ids, b: ids.reshape(b, -1).t(), "the ids do not divide evenly into batch_size streams"),
    "a stream too many": (lambda ids, b: ids[:len(ids) // (b + 1) * (b + 1)].reshape(b + 1, -1).t(),
                          "streams has shape"),
    "nothing returned": (lambda ids, b: None, "forget to `return` its result"),
}


# ---------------------------------------------------------------- chunk_pairs
def right_chunk_pairs(stream, length):
    pairs = []
    for start in range(0, len(stream) - 1, length):
        end = min(start + length, len(stream) - 1)  # the last step has no next character
        pairs.append((stream[start:end], stream[start + 1:end + 1]))
    return pairs


CHUNK_MISTAKES = {
    "targets not shifted": (lambda s, n: [(x, x) for x, _ in right_chunk_pairs(s, n)], "the targets are the inputs"),
    "targets behind": (lambda s, n: [(y, x) for x, y in right_chunk_pairs(s, n)], "the targets are one step behind"),
    "inputs to the end": (lambda s, n: [(s[t:t + n], s[t + 1:t + n + 1]) for t in range(0, len(s) - 1, n)],
                          "the last chunk's inputs run to the last step"),
    "a chunk past the end": (lambda s, n: [(s[t:t + n], s[t + 1:t + n + 1]) for t in range(0, len(s), n)],
                             "inputs 3 has shape (2, 2), expected (1, 2)"),
    "time and streams swapped": (lambda s, n: [(s[:, t:t + n], s[:, t + 1:t + n + 1]) for t in range(0, len(s) - 1, n)],
                                 "has shape"),
    "nothing returned": (lambda s, n: None, "did the function forget to `return`"),
}


# ---------------------------------------------------------------- the character model
class CharModel(nn.Module):
    """The notebook's class: the three layers given, forward the exercise."""

    def __init__(self, vocab_size, embedding_size=32, hidden_size=128, num_layers=1, rnn=nn.LSTM):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding_size)
        self.rnn = rnn(embedding_size, hidden_size, num_layers)
        self.readout = nn.Linear(hidden_size, vocab_size)

    def forward(self, ids, state=None):
        outputs, state = self.rnn(self.embedding(ids), state)
        return self.readout(outputs), state


def right_forward(model, ids, state):
    return CharModel.forward(model, ids, state)


def with_forward(forward):
    """A CharModel whose forward is ``forward(self, ids, state)``: a student's class with that mistake."""
    return type("CharModel", (CharModel,), {"forward": lambda self, ids, state=None: forward(self, ids, state)})


def softmaxed(self, ids, state):
    outputs, state = self.rnn(self.embedding(ids), state)
    return torch.softmax(self.readout(outputs), dim=-1), state


def log_softmaxed(self, ids, state):
    outputs, state = self.rnn(self.embedding(ids), state)
    return nn.functional.log_softmax(self.readout(outputs), dim=-1), state


def state_ignored(self, ids, state):
    outputs, state = self.rnn(self.embedding(ids))
    return self.readout(outputs), state


def state_handed_back(self, ids, state):
    outputs, _ = self.rnn(self.embedding(ids), state)
    return self.readout(outputs), state


def no_readout(self, ids, state):
    return self.rnn(self.embedding(ids), state)


def batch_first(self, ids, state):  # the streams read as if they were (batch, T): time runs across the batch
    outputs, state = self.rnn(self.embedding(ids.t()), state)
    return self.readout(outputs).transpose(0, 1), state


MODEL_MISTAKES = {
    "softmax": (with_forward(softmaxed), "the logits went through a softmax"),
    "log-softmax": (with_forward(log_softmaxed), "the logits went through a log-softmax"),
    "state ignored": (with_forward(state_ignored), "the state handed in never reaches the LSTM"),
    "state handed back": (with_forward(state_handed_back), "the state returned is the one handed in"),
    "no read-out": (with_forward(no_readout), "these are the LSTM's outputs"),
    "batch-first": (with_forward(batch_first), "your function raised RuntimeError"),
    "lstm_lab's model": (with_forward(lambda self, ids, state: text.CharLM.forward(self, ids, state)),
                         "your function calls `lstm_lab.text.CharLM`, which is not allowed"),
    "the stub": (with_forward(lambda self, ids, state: (_ for _ in ()).throw(
        NotImplementedError("char_model: not implemented yet"))), "is not implemented yet"),
    "an instance": (CharModel(5), "takes the class, CharModel, not a model made from it"),
    "not a module": (type("CharModel", (), {"forward": right_forward}), "should be a torch.nn.Module"),
    "no forward": (type("CharModel", (nn.Module,), {}), "has no forward method"),
}


# ---------------------------------------------------------------- temperature_probs
def right_probs(logits, temperature):
    return torch.softmax(logits / temperature, dim=-1)


def divided_after_softmax_renormalised(logits, temperature):
    p = torch.softmax(logits, -1) / temperature
    return p / p.sum(-1, keepdim=True)


PROB_MISTAKES = {
    "divided after the softmax, renormalised": (divided_after_softmax_renormalised, "the temperature changes nothing"),
    "divided after the softmax": (lambda l, t: torch.softmax(l, -1) / t,
                                  "the probabilities were divided by the temperature after the softmax"),
    "multiplied": (lambda l, t: torch.softmax(l * t, -1), "the logits were multiplied by the temperature"),
    "argmax": (lambda l, t: nn.functional.one_hot(l.argmax(-1), l.shape[-1]).to(l.dtype),
               "one-hot of the argmax, greedy decoding's choice"),
    "wrong axis": (lambda l, t: torch.softmax(l / t, 0), "the softmax runs over the rows (dim=0)"),
}


def test_temperature_probs_not_implemented_is_a_sentence():
    def stub(logits, temperature):
        raise NotImplementedError("temperature_probs: not implemented yet")
    feedback = check.check_temperature_probs(stub)
    assert not feedback and "is not implemented yet" in str(feedback) and "replace the line `raise NotImplementedError(...)`" in str(feedback)


# ---------------------------------------------------------------- sample_next
def right_sample(logits, temperature, generator):
    return torch.multinomial(torch.softmax(logits / temperature, -1), 1, generator=generator).squeeze(-1)


SAMPLE_MISTAKES = {
    "argmax": (lambda l, t, g: l.argmax(-1), "that is the argmax, greedy decoding, not a draw"),
    "divided after the softmax": (
        lambda l, t, g: torch.multinomial(torch.softmax(l, -1) / t, 1, generator=g).squeeze(-1),
        "the temperature changes nothing"),
    "multiplied": (lambda l, t, g: torch.multinomial(torch.softmax(l * t, -1), 1, generator=g).squeeze(-1),
                   "softmax(logits * T)"),
    "no generator": (lambda l, t, g: torch.multinomial(torch.softmax(l / t, -1), 1).squeeze(-1),
                     "the same generator gave different ids"),
    "sample axis kept": (lambda l, t, g: torch.multinomial(torch.softmax(l / t, -1), 1, generator=g),
                         "keeps a sample axis; squeeze it"),
    "probabilities returned": (lambda l, t, g: torch.softmax(l / t, -1), "it returned the probabilities"),
    "None": (lambda l, t, g: None, "forget to `return` the ids"),
    "uniform": (lambda l, t, g: torch.randint(l.shape[-1], l.shape[:1], generator=g),
                "the ids do not follow softmax(logits / T)"),
}


# ---------------------------------------------------------------- tbptt_pass
def tbptt(detach=True, carry=True, zero_grad=True, clip=True, loss_of=None):
    def tbptt_pass(model, pieces, optimizer, max_norm):
        state, losses = None, []
        for inputs, targets in pieces:
            if state is not None and detach:
                state = tuple(s.detach() for s in state)
            logits, new_state = model(inputs, state if carry else None)
            state = new_state
            loss = (loss_of or text.chunk_loss)(logits, inputs, targets)
            if zero_grad:
                optimizer.zero_grad()
            loss.backward()
            if clip:
                nn.utils.clip_grad_norm_(model.parameters(), max_norm)
            optimizer.step()
            losses.append(loss.item())
        return losses
    if loss_of is None:
        loss_of = lambda logits, inputs, targets: text.chunk_loss(logits, targets)  # noqa: E731
    return tbptt_pass


def summed(logits, inputs, targets):
    return nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), reduction="sum")


TBPTT_MISTAKES = {
    "not detached": (tbptt(detach=False), "the state carried into this chunk was not detached"),
    "state reset every chunk": (tbptt(carry=False), "the state starts from zero at every chunk"),
    "gradients never zeroed": (tbptt(zero_grad=False), "the gradients are never cleared"),
    "no clipping": (tbptt(clip=False), "the gradients are not clipped"),
    "summed loss": (tbptt(loss_of=summed), "the loss is summed over the characters"),
    "scored against the inputs": (tbptt(loss_of=lambda lg, x, y: text.chunk_loss(lg, x)),
                                  "the loss compares the predictions with the inputs"),
    "nothing returned": (lambda m, p, o, c: None, "forget to `return` (loss 1, loss 2, loss 3)"),
}


# ---------------------------------------------------------------- every check: the right answer, each mistake named
CHECKS = {  # check: (a right answer, what its success line says, the mistakes planted)
    "batchify": (check.check_batchify, right_batchify, "every id where lstm_lab.text.streams puts it",
                 BATCHIFY_MISTAKES),
    "chunk_pairs": (check.check_chunk_pairs, right_chunk_pairs, "every chunk as lstm_lab.text.chunks cuts it",
                    CHUNK_MISTAKES),
    "char_model": (check.check_char_model, CharModel, "match lstm_lab.text.CharLM", MODEL_MISTAKES),
    "char_model as a function": (check.check_char_model, right_forward, "match lstm_lab.text.CharLM", {}),
    "temperature_probs": (check.check_temperature_probs, right_probs, "softmax(logits / T)", PROB_MISTAKES),
    "sample_next": (check.check_sample_next, right_sample, "the same generator seed gives the same ids",
                    SAMPLE_MISTAKES),
    "tbptt_pass": (check.check_tbptt_pass, tbptt(), "match lstm_lab.text.train_chunks", TBPTT_MISTAKES),
}


@pytest.mark.parametrize("name", CHECKS)
def test_a_right_answer_passes(name):
    run, right, success, _ = CHECKS[name]
    feedback = run(right)
    assert feedback and success in str(feedback)


@pytest.mark.parametrize("name, mistake", [(name, m) for name, table in CHECKS.items() for m in table[3]])
def test_each_planted_mistake_is_named(name, mistake):
    run, _, _, planted = CHECKS[name]
    fn, message = planted[mistake]
    feedback = run(fn)
    assert not feedback
    assert message in str(feedback)


def test_tbptt_pass_not_detached_with_retain_graph_is_named_too():
    def retained(model, pieces, optimizer, max_norm):
        state, losses = None, []
        for inputs, targets in pieces:
            logits, state = model(inputs, state)
            loss = text.chunk_loss(logits, targets)
            optimizer.zero_grad()
            loss.backward(retain_graph=True)  # silences the first error; the graph still grows
            nn.utils.clip_grad_norm_(model.parameters(), max_norm)
            optimizer.step()
            losses.append(loss.item())
        return losses
    feedback = check.check_tbptt_pass(retained)
    assert not feedback and "was not detached" in str(feedback)


def test_checks_leave_the_global_random_state_alone():
    state = torch.get_rng_state()
    check.check_tbptt_pass(tbptt())
    assert torch.equal(torch.get_rng_state(), state)


def test_batchify_refuses_lstm_lab_streams():
    feedback = check.check_batchify(lambda ids, b: text.streams(ids, b))
    assert not feedback and "calls `lstm_lab.text.streams`, which is not allowed" in str(feedback)


def test_the_model_check_leaves_the_global_random_state_alone():
    state = torch.get_rng_state()
    assert check.check_char_model(CharModel)
    assert torch.equal(torch.get_rng_state(), state)


def test_the_model_check_compares_the_state_carried_between_chunks():
    """A forward that is right from the zero state but starts every chunk afresh fails on the carried case."""
    case = check._char_model_cases()[1]
    assert "the state the first 5 left" in case.label and case.args[2] is not None
    model, ids, carried = case.args
    with torch.no_grad():
        fresh, _ = model(ids)
        carried_on, _ = model(ids, carried)
    assert (fresh - carried_on).abs().max() > 1e-3  # the carried state changes the logits: the case can tell


def test_the_model_exercise_is_not_gradable_through_the_channel_and_says_so():
    """lstm-lab grade hands a check the student's class as a proxy of its sandbox: the check hands that proxy a
    model, which the channel does not carry: NotCarried (NotGradedHere), never a verdict on the student."""
    from lstm_lab.grading.remote import NotCarried, StudentFunction

    class Sandbox:  # the sandbox is never reached: the model cannot be sent
        def request(self, *args, **kwargs):
            raise AssertionError("the check sent a model through the channel")

    with pytest.raises(NotCarried, match="hands CharModel a CharLM"):
        check.check_char_model(StudentFunction(Sandbox(), "CharModel", "CharModel", {}))


# ---------------------------------------------------------------- notebook 13's catalogued mistakes (lstm_lab.mistakes)
def test_chunk_pairs_refuses_lstm_lab_chunks():
    feedback = check.check_chunk_pairs(lambda stream, length: text.chunks(stream, length))
    assert not feedback and "calls `lstm_lab.text.chunks`, which is not allowed" in str(feedback)


@pytest.mark.parametrize("mistake", [mistakes.chunk_targets_not_shifted, mistakes.chunk_targets_shifted_back,
                                     mistakes.chunk_inputs_run_to_the_end])
def test_each_chunk_mistake_differs_and_its_fixed_line_is_lstm_lab_chunks(mistake):
    stream = torch.arange(20).reshape(10, 2)  # 9 steps to score: the last chunk of 4 is 1 step long

    def flat(pairs):
        return [t.tolist() for pair in pairs for t in pair]
    assert flat(mistake(stream, 4)) != flat(text.chunks(stream, 4))
    assert flat(mistake(stream, 4, fixed=True)) == flat(text.chunks(stream, 4))


@pytest.mark.parametrize("mistake", [mistakes.streams_batch_major, mistakes.streams_interleaved,
                                     mistakes.streams_head_dropped])
def test_each_streams_mistake_differs_and_its_fixed_line_is_lstm_lab_streams(mistake):
    ids = torch.arange(23)
    assert not torch.equal(mistake(ids, 4).reshape(-1), text.streams(ids, 4).reshape(-1))
    assert torch.equal(mistake(ids, 4, fixed=True), text.streams(ids, 4))


@pytest.mark.parametrize("mistake", [mistakes.char_lm_softmax, mistakes.char_lm_log_softmax,
                                     mistakes.char_lm_state_ignored, mistakes.char_lm_state_handed_back,
                                     mistakes.char_lm_no_readout])
def test_each_model_mistake_differs_and_its_fixed_line_is_charlm(mistake):
    torch.manual_seed(0)
    model = text.CharLM(6, 3, 4, rnn=nn.LSTM).double()
    ids = torch.randint(6, (5, 2))
    state = tuple(torch.randn(1, 2, 4, dtype=torch.float64) for _ in range(2))
    with torch.no_grad():
        want = model(ids, state)
        wrong, fixed = mistake(model, ids, state), mistake(model, ids, state, fixed=True)
    flat = lambda out: torch.cat([out[0].reshape(-1), *(s.reshape(-1) for s in out[1])])  # noqa: E731
    assert torch.equal(flat(fixed), flat(want))
    assert flat(wrong).shape != flat(want).shape or (flat(wrong) - flat(want)).abs().max() > 1e-3
