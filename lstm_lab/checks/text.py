"""Notebook 13's exercises, in the order it teaches them: ``batchify``, ``chunk_pairs``, the character model's
``forward``, ``temperature_probs``, ``sample_next`` (judge "statistic") and ``tbptt_pass`` (judge "trajectory")."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .. import mistakes, sampling, text
from ..training import fixed_seed
from .core import TOLERANCES, Feedback, randn, seeded, verdict
from .diagnose import Case, Exercise, checker, run_check

F64 = torch.float64


# ================================================================ batchify
def _batchify_cases(seed: int = 0) -> list[Case]:
    # ids 0, 1, 2, ... make every mistake visible: each number says where in the text it came from
    counting = [Case(f"the ids 0..{n - 1} in {b} streams" + (f" ({n % b} left over)" if n % b else ""),
                     (torch.arange(n), b), names=("ids", "batch_size")) for n, b in ((24, 4), (23, 4), (17, 3))]
    return [*counting, Case("50 random ids of a 74-character vocabulary in 3 streams",
                            (torch.randint(74, (50,), generator=seeded(seed)), 3), names=("ids", "batch_size"))]


BATCHIFY = Exercise(
    "batchify", text.streams, "streams", cases=_batchify_cases, judge="exact",
    mistakes=lambda case: {
        "the streams lie along the rows, (batch_size, T): the LSTM reads time along the first axis, so each "
        "stream must be a column, (T, batch_size). Transpose the (batch_size, T) pieces, .t()":
            mistakes.streams_batch_major(*case.args),
        "the streams are interleaved: stream b holds ids b, b + batch_size, b + 2 * batch_size, ..., every "
        "batch_size-th character of the whole text. Stream b should be the b-th consecutive piece: "
        "reshape(batch_size, T) first, then transpose": mistakes.streams_interleaved(*case.args),
        "the ids that do not fill a whole row were dropped from the start of the text: drop them from the end, "
        "ids[:T * batch_size], so that stream 0 starts where the text does": mistakes.streams_head_dropped(*case.args)},
    axis_names={"streams": ("step", "stream")},
    error_hints={"is invalid for input of size": "the ids do not divide evenly into batch_size streams: first drop "
                                                 "the ids that do not fill a whole row, ids[:T * batch_size] with "
                                                 "T = len(ids) // batch_size"},
    hint=("column b should be the b-th consecutive piece of the text, len(ids) // batch_size ids long, read top to "
          "bottom",),
    success=("4 cases, the ids 0, 1, 2, ... (so each number says where it came from) and random ids: every id "
             "where lstm_lab.text.streams puts it",))
check_batchify = checker(BATCHIFY, """``fn(ids (N,), batch_size) -> streams (N // batch_size, batch_size)``: column
    b is the b-th consecutive piece of the ids, the ids that do not fill a whole row dropped from the end.""")


# ================================================================ chunk_pairs
def _numbered(steps: int, streams: int) -> Tensor:
    """Streams whose every id says where it is: step t of stream b holds 100 * b + t."""
    return torch.arange(steps).unsqueeze(1) + 100 * torch.arange(streams)


def _chunk_names(count: int) -> tuple:
    return tuple((f"inputs {k}", f"targets {k}") for k in range(1, count + 1))


def _chunk_cases(seed: int = 0) -> list[Case]:
    return [Case(label, (stream, length), names=("stream", "length"),
                 returns=_chunk_names(len(text.chunks(stream, length))))
            for stream, length, label in (
                (_numbered(9, 2), 4,
                 "9 steps of 2 numbered streams (step t of stream b holds 100 * b + t), chunks of 4"),
                (_numbered(10, 2), 4, "10 steps of 2 numbered streams, chunks of 4 (the last chunk is 1 step long)"),
                (torch.randint(74, (8, 3), generator=seeded(seed)), 3,
                 "8 steps of 3 streams of random ids, chunks of 3"))]


CHUNK_PAIRS = Exercise(
    "chunk_pairs", text.chunks, _chunk_names(1), cases=_chunk_cases, judge="exact",
    mistakes=lambda case: {
        "the targets are the inputs themselves: the model would be scored on the character it has just read. The "
        "target of step t is the next character, the chunk one step on: stream[start + 1:end + 1]":
            mistakes.chunk_targets_not_shifted(*case.args),
        "the targets are one step behind the inputs: the target of step t is the character after it, so the "
        "inputs are stream[start:end] and the targets stream[start + 1:end + 1]":
            mistakes.chunk_targets_shifted_back(*case.args),
        "the last chunk's inputs run to the last step of the stream, which has no next character to be its target: "
        "stop every chunk's inputs one step before the end, end = min(start + length, T - 1)":
            mistakes.chunk_inputs_run_to_the_end(*case.args)},
    axis_names={name: ("step", "stream") for case in _chunk_cases() for pair in case.returns for name in pair},
    hint=("the chunks start at steps 0, length, 2 * length, ... and stop one step before the end of the stream: "
          "the last step has no next character to be scored on",),
    success=("3 cases, numbered streams (each id says where it came from) and random ids: every chunk as "
             "lstm_lab.text.chunks cuts it, the short last one included",))
check_chunk_pairs = checker(CHUNK_PAIRS, """``fn(stream (T, batch), length) -> [(inputs, targets), ...]``: the steps
    0 .. T - 2 cut into consecutive chunks of ``length`` (the last may be shorter), each with the targets one step
    on.""")


# ================================================================ the character model's forward pass
_LM_VOCAB, _LM_EMBEDDING, _LM_HIDDEN = 7, 3, 4  # a vocabulary wider than the hidden state: a missing read-out shows


def _tiny_lm(seed: int, vocab: int = _LM_VOCAB, **options) -> nn.Module:
    """A tiny float64 ``text.CharLM`` from ``seed``: the ``self`` a student's forward is run on (with
    ``rnn=torch.nn.LSTM``, which that exercise hands out), or the model a truncated-BPTT pass trains."""
    with fixed_seed(seed):  # the student's global random state is left alone
        return text.CharLM(vocab, _LM_EMBEDDING, _LM_HIDDEN, **options).double()


def _char_model_cases(seed: int = 0) -> list[Case]:
    model, gen = _tiny_lm(seed, rnn=nn.LSTM), seeded(seed + 1)
    first, second = torch.randint(_LM_VOCAB, (2, 5, 2), generator=gen)
    with torch.no_grad():
        _, carried = model(first)  # the state the first chunk leaves: what truncated BPTT hands the next
    random_state = (randn(gen, 1, 3, _LM_HIDDEN), randn(gen, 1, 3, _LM_HIDDEN))
    return [Case(label, (model, ids, state), names=("model", "ids", ("h", "c")), zero_state=state is None)
            for label, ids, state in (
                ("5 characters in 2 streams, from the zero state (state=None)", first, None),
                ("the next 5 characters of the same 2 streams, from the state the first 5 left", second, carried),
                ("4 characters in 3 streams, from a random state", torch.randint(_LM_VOCAB, (4, 3), generator=gen),
                 random_state))]


CHAR_MODEL = Exercise(
    "CharModel.forward", text.CharLM.forward, ("logits", ("h", "c")), cases=_char_model_cases,
    mistakes=lambda case: {
        "the logits went through a softmax: return the read-out's raw scores. cross_entropy applies the "
        "(log-)softmax itself, and sampling divides the logits by the temperature before one":
            lambda: mistakes.char_lm_softmax(*case.args),
        "the logits went through a log-softmax: the loss would be the same, but the model returns the read-out's "
        "raw scores (no softmax of any kind in forward)": lambda: mistakes.char_lm_log_softmax(*case.args),
        "the state handed in never reaches the LSTM, so every chunk starts from zeros: pass it on, "
        "self.rnn(vectors, state)": lambda: mistakes.char_lm_state_ignored(*case.args),
        "the state returned is the one handed in: return the state the LSTM leaves after the chunk, so that the "
        "next chunk starts where this one ended": lambda: (None, mistakes.char_lm_state_handed_back(*case.args)[1]),
        "these are the LSTM's outputs, one vector of hidden_size per step: the read-out turns each into one score "
        "per character, self.readout(outputs)": lambda: (mistakes.char_lm_no_readout(*case.args)[0], None)},
    allowed=("torch.nn.LSTM",), time_axis={"logits": 0},
    axis_names={"logits": ("step", "stream", "character"), **dict.fromkeys("hc", ("layer", "stream", "unit"))},
    hint=("the logits at step t are the read-out of the LSTM's output at step t: embedding, then LSTM, then "
          "read-out, in that order",),
    success=("3 chunks of a tiny model (from the zero state, from the state the chunk before left, from a random "
             "state): the logits and the state match lstm_lab.text.CharLM to within 1e-10",
             "gradients with respect to the state handed in: autograd through the same"))


@verdict
def check_char_model(model_class, seed: int = 0) -> Feedback:
    """``model_class``: the class whose ``forward(self, ids (T, B), state) -> (logits (T, B, V), state)`` is the
    exercise (its ``__init__`` gives ``self.embedding``, ``self.rnn``, ``self.readout`` as ``text.CharLM`` does),
    or that forward as a function of (model, ids, state). It is run on a tiny model's three layers, and its
    logits and state compared with ``text.CharLM``'s."""
    name = getattr(model_class, "__name__", "")
    if isinstance(model_class, nn.Module):
        refusal = f"check_char_model takes the class, {type(model_class).__name__}, not a model made from it"
    elif isinstance(model_class, type) and not issubclass(model_class, nn.Module):
        refusal = f"{name} should be a torch.nn.Module (class {name}(torch.nn.Module))"
    elif isinstance(model_class, type) and model_class.forward is nn.Module.forward:
        refusal = f"{name} has no forward method: write one"
    else:  # the class's forward, or that forward as a function
        return run_check(CHAR_MODEL, model_class.forward if isinstance(model_class, type) else model_class, seed=seed)
    return Feedback(CHAR_MODEL.name, False, [refusal])


# ================================================================ temperature_probs
def _probs_mistakes(case: Case) -> dict:
    logits, temperature = case.args
    plain = torch.softmax(logits, -1)
    return {
        "the temperature changes nothing: it has to divide the logits *before* the softmax. Dividing the "
        "probabilities after it and renormalising gives back softmax(logits)": plain,
        "the probabilities were divided by the temperature after the softmax (they no longer sum to 1): divide "
        "the logits instead, softmax(logits / temperature)": plain / temperature,
        "the logits were multiplied by the temperature: it divides them, so that T > 1 flattens the "
        "distribution and T < 1 sharpens it": torch.softmax(logits * temperature, -1),
        "this is a one-hot of the argmax, greedy decoding's choice, not a distribution to sample from":
            torch.nn.functional.one_hot(logits.argmax(-1), logits.shape[-1]).to(logits.dtype),
        "the softmax runs over the rows (dim=0): each row's probabilities over the characters must sum to 1, "
        "softmax(..., dim=-1)": torch.softmax(logits / temperature, 0),
    }


TEMPERATURE_PROBS = Exercise(
    "temperature_probs", sampling.temperature_probs, "probs", axis_names={"probs": ("row", "character")},
    mistakes=_probs_mistakes, success=("3 batches of logits at temperatures 0.5, 1 and 2: lstm_lab.sampling."
                                       "temperature_probs (softmax(logits / T)), to within 1e-10",
                                       "gradients with respect to the logits: autograd through the same"),
    cases=lambda seed=0: [Case(f"logits of shape (3, 6) at temperature {t:g}", (randn(gen, 3, 6, scale=2), t),
                               names=("logits", "temperature")) for gen in [seeded(seed)] for t in (0.5, 2.0, 1.0)])
check_temperature_probs = checker(TEMPERATURE_PROBS, """``fn(logits (batch, vocab), temperature) -> probs (batch,
    vocab)``.""")


# ================================================================ sample_next
_ROW = (2.0, 1.0, 0.5, 0.0, -1.0)  # one row of logits, repeated: the draws' frequencies estimate its probabilities
_DRAWS = 20_000


def _sample_cases(seed: int = 0) -> list[Case]:
    logits = torch.tensor(_ROW, dtype=F64).expand(_DRAWS, -1).contiguous()
    probs = {t: sampling.temperature_probs(logits[0], t) for t in (0.5, 1.0, 2.0)}
    # 5 standard deviations of a frequency from 20,000 draws (at most 0.0035) and a little more
    sampling_error = {t: 5 * (p * (1 - p) / _DRAWS).sqrt() + TOLERANCES["frequency"] for t, p in probs.items()}
    return [Case(f"temperature {t:g}, over {_DRAWS} rows of logits {list(_ROW)}", (logits, t, seeded(seed)), p,
                 ("logits", "temperature", "generator"), atol=sampling_error[t]) for t, p in probs.items()]


def _frequencies(ids, case: Case):
    """How often each id was drawn, or the sentence that says why ``ids`` are no draw of ids."""
    rows, vocab = case.args[0].shape
    if ids is None:
        return "it returned None: did the function forget to `return` the ids?"
    if not isinstance(ids, Tensor):
        return f"it should return a tensor of ids, got a {type(ids).__name__}"
    if ids.is_floating_point() or ids.is_complex():
        if ids.shape == (rows, vocab):
            return ("it returned the probabilities (one row of numbers per input row): draw one id from each row, "
                    "torch.multinomial(probs, 1, generator=generator)")
        return f"it should return integer ids, got a {ids.dtype} tensor of shape {tuple(ids.shape)}"
    if ids.shape != (rows,):
        why = ("torch.multinomial(probs, 1) keeps a sample axis; squeeze it, .squeeze(-1)" if ids.shape == (rows, 1)
               else "one id per row of logits")
        return f"the ids have shape {tuple(ids.shape)}, expected ({rows},): {why}"
    if ids.numel() and not (0 <= int(ids.min()) and int(ids.max()) < vocab):
        return f"the ids should lie in 0..{vocab - 1}, got {int(ids.min())}..{int(ids.max())}"
    return torch.bincount(ids.reshape(-1), minlength=vocab).to(F64) / ids.numel()


def _sample_mistakes(case: Case) -> dict:
    logits, t, _ = case.args
    return {
        "every id is the most likely one (id 0), at every temperature: that is the argmax, greedy decoding, not a "
        "draw. Sample from the probabilities: torch.multinomial(probs, 1, generator=generator)":
            torch.nn.functional.one_hot(logits[0].argmax(), logits.shape[-1]).to(F64),
        "the ids are drawn from softmax(logits) at every temperature: the temperature changes nothing. Divide the "
        "logits by it before the softmax; dividing the probabilities after it is undone when they are renormalised "
        "(torch.multinomial renormalises them itself)": torch.softmax(logits[0], -1),
        "the ids follow softmax(logits * T): the temperature divides the logits, it does not multiply them":
            torch.softmax(logits[0] * t, -1)}


SAMPLE_NEXT = Exercise(
    "sample_next", lambda logits, temperature, generator: sampling.next_ids(logits, temperature, generator=generator),
    "frequencies", cases=_sample_cases, judge="statistic", statistic=_frequencies,
    mistakes=_sample_mistakes, axis_names={"frequencies": ("id",)}, gradients=False,
    hint=("the ids do not follow softmax(logits / T)",),
    unrepeatable=("the frequencies are right, but the same generator gave different ids: pass it on, "
                  "torch.multinomial(probs, 1, generator=generator), so that a seed reproduces the text"),
    success=(f"{_DRAWS} draws at temperatures 0.5, 1 and 2 follow softmax(logits / T) (each frequency within 5 "
             "standard deviations)", "the same generator seed gives the same ids"))
check_sample_next = checker(SAMPLE_NEXT, """``fn(logits (batch, vocab), temperature, generator) -> ids (batch,)``,
    drawn from softmax(logits / T) with ``generator``. Checked on 20,000 identical rows at T = 0.5, 1, 2: the
    frequencies of the ids must match the probabilities, and the same seed the same ids.""")


# ================================================================ tbptt_pass
def _tiny_setup(seed: int):
    """A tiny CharLM of 5 characters and 3 chunks of 4 steps of 2 random streams, both from ``seed``."""
    return _tiny_lm(seed, 5), text.chunks(torch.randint(5, (3 * 4 + 1, 2), generator=seeded(seed + 1)), 4)


def _trajectory(seed: int, clip: float, lr: float, mistake: str | None = None):
    """The losses of each chunk and the parameters after the pass: lstm_lab's, or with a mistake."""
    model, pieces = _tiny_setup(seed)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    if mistake == "no zero_grad":  # the gradients pile up
        optimizer.zero_grad = lambda set_to_none=True: None
    if mistake == "reset":  # a fresh zero state for every chunk
        losses = [text.train_chunks(model, [piece], optimizer, clip)[0][0] for piece in pieces]
    else:
        losses, _ = text.train_chunks(model, pieces, optimizer, 0.0 if mistake == "no clip" else clip)
    return tuple(losses), nn.utils.parameters_to_vector(model.parameters()).detach()


_NOT_DETACHED = ("the state carried into this chunk was not detached, so loss.backward() ran on into the previous "
                 "chunk's graph, which the previous backward pass had already freed (and whose weights the "
                 "optimizer has since changed). Detach it before the forward pass: "
                 "state = tuple(s.detach() for s in state), or lstm_lab.text.detach_state(state)")


def _tbptt_cases(seed: int = 0, clip: float = 0.05, lr: float = 0.5) -> list[Case]:
    model, pieces = _tiny_setup(seed)
    optimizer, losses = torch.optim.SGD(model.parameters(), lr), tuple(f"loss {k + 1}" for k in range(len(pieces)))
    return [Case(f"{len(pieces)} chunks of a tiny CharLM", (model, pieces, optimizer, clip),
                 _trajectory(seed, clip, lr), ("model", "pieces", "optimizer", "clip"),
                 returns=(losses, "the parameters after the pass"), about={"seed": seed, "lr": lr})]


def _tbptt_mistakes(case: Case) -> dict:
    seed, clip, lr = case.about["seed"], case.args[3], case.about["lr"]
    model, pieces = _tiny_setup(seed)
    (inputs, targets), rest = pieces[0], (None,) * (len(pieces) - 1)
    logits, _ = model(inputs)  # the first chunk's loss comes before any update: how a wrong one was computed
    return {
        "the state starts from zero at every chunk: carry the state returned by one chunk into the next (detached), "
        "so the model reads the stream as one long text": lambda: _trajectory(seed, clip, lr, "reset"),
        "the gradients are never cleared, so each update adds up the gradients of all chunks so far: call "
        "optimizer.zero_grad() before loss.backward()": lambda: _trajectory(seed, clip, lr, "no zero_grad"),
        "the gradients are not clipped: call torch.nn.utils.clip_grad_norm_(model.parameters(), clip) between "
        "loss.backward() and optimizer.step()": lambda: _trajectory(seed, clip, lr, "no clip"),
        "the loss is summed over the characters of the chunk: take their mean (cross_entropy's default)":
            ((case.expected[0][0] * targets.numel(), *rest), None),  # the right first loss, not divided
        "the loss compares the predictions with the inputs: the target of step t is the next character, the "
        "chunk's targets": ((text.chunk_loss(logits, inputs).item(), *rest), None)}


# What a truncated-BPTT pass legitimately calls of the library: the model it is handed (its forward, and the
# backward of its LSTM layer, which loss.backward() runs), and the two helpers notebook 13 uses before the
# exercise for the state and the loss. Not text.train_chunks (the answer) nor training.optimise (the update,
# which the exercise asks for step by step).
TBPTT_PASS = Exercise(
    "tbptt_pass", lambda model, pieces, optimizer, clip: text.train_chunks(model, pieces, optimizer, clip)[0], (),
    cases=_tbptt_cases, judge="trajectory", mistakes=_tbptt_mistakes, gradients=False,
    allowed=("lstm_lab.text.CharLM", "lstm_lab.lstm_function.LSTMLayerFunction.backward",
             "lstm_lab.text.detach_state", "lstm_lab.text.chunk_loss"),
    after=lambda args: nn.utils.parameters_to_vector(args[0].parameters()).detach(),  # the state a pass leaves behind
    error_hints={"backward through the graph a second time": _NOT_DETACHED, "modified by an inplace": _NOT_DETACHED},
    hint=("the losses and the parameters after the pass are compared with lstm_lab.text.train_chunks's: is "
          "optimizer.step() called after every chunk, the last one included?",),
    success=("3 chunks of a tiny CharLM: every loss and every parameter after the pass match "
             "lstm_lab.text.train_chunks to within 1e-10",))
check_tbptt_pass = checker(TBPTT_PASS, """``fn(model, pieces, optimizer, clip) -> losses``: one pass of truncated
    BPTT over the chunks ``pieces`` (a list of ``(inputs, targets)``, each (steps, batch)), one update per chunk, the
    state carried and detached, the gradient norm clipped to ``clip``; a list of the chunk losses. The check's options:
    ``seed``, ``clip`` (0.05) and ``lr`` (0.5).""")
