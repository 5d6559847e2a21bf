"""Notebook 13's checks (lstm_lab.checks.text) on right answers and on the usual mistakes, planted."""

import pytest
import torch
from torch import nn

from lstm_lab import text
from lstm_lab.checks import text as check


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
    run, _, _, mistakes = CHECKS[name]
    fn, message = mistakes[mistake]
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
