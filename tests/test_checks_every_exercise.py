"""Every exercise of the course, right and wrong: a right answer passes, and the usual wrong answers (None,
text, a tuple or a list where a tensor belongs, a numpy array, another dtype, a transposed, squeezed or
flattened tensor, an extra axis, an exception) each get a Feedback with a sentence, never a traceback of
lstm_lab's. The catalogued mistakes of each function exercise are planted too (``test_checks_*`` plant them
by name with the words they must get; here every entry of every catalogue, on every case)."""

import importlib
import math
import pkgutil

import pytest
import torch
from torch import nn

import lstm_lab.checks
from lstm_lab import fixtures, text
from lstm_lab.checks import by_hand, diagnose, explorer, exercises, sequences
from lstm_lab.checks import bptt as notebook_checks
from lstm_lab.checks import seq2seq as notebook14
from lstm_lab.checks import text as notebook13
from lstm_lab.checks import core
from lstm_lab.checks.core import Feedback
from lstm_lab.explorers import compute
from lstm_lab.layouts import to_convention
from test_checks_shortcuts import _Blind  # a watch that sees nothing
from test_checks_diagnose import (bidirectional_rnn, init_lstm_params, last_valid_output, lstm_forward, lstm_step,
                                  lstm_step_backward, rnn_step)
from test_checks_sequences import bidirectional_layer, fuse, layer_input_size
from test_checks_sequences import fused_step as fused_step_pair
from test_checks_sequences import lstm_step as per_gate_step
from test_checks_seq2seq import attention, decoder_step, masked_loss
from test_checks_text import right_batchify, right_chunk_pairs, right_forward, right_probs, right_sample, tbptt

GOLDEN = fixtures.golden()


def gru_step(x, h_prev, weight_ih, weight_hh, bias_ih, bias_hh):
    x_r, x_z, x_n = (x @ weight_ih.T + bias_ih).chunk(3, dim=-1)
    h_r, h_z, h_n = (h_prev @ weight_hh.T + bias_hh).chunk(3, dim=-1)
    r, z = torch.sigmoid(x_r + h_r), torch.sigmoid(x_z + h_z)
    return (1 - z) * torch.tanh(x_n + r * h_n) + z * h_prev


def rnn_step_backward(dh, x, h_prev, h, weight_ih, weight_hh):
    dpre = dh * (1 - h ** 2)
    if dpre.dim() == 1:
        return dpre @ weight_ih, dpre @ weight_hh, torch.outer(dpre, x), torch.outer(dpre, h_prev), dpre
    return dpre @ weight_ih, dpre @ weight_hh, dpre.T @ x, dpre.T @ h_prev, dpre.sum(0)


def clip(grads, max_norm):
    total = torch.sqrt(sum((g * g).sum() for g in grads)).item()
    return [g * min(1.0, max_norm / total) for g in grads]


def parameter_count(kind, input_size, hidden_size):
    return {"RNN": 1, "LSTM": 4, "GRU": 3}[kind] * (hidden_size * (input_size + hidden_size) + 2 * hidden_size)


def keep_params():
    params = compute.zero_params(1, 1)
    params["b_f"][0], params["b_i"][0], params["W_xg"][0, 0] = 8.0, 6.0, 2.0
    return params


# function exercises: the check and a right answer
FUNCTIONS = {
    "rnn_step": (exercises.check_rnn_step, rnn_step),
    "lstm_step": (exercises.check_lstm_step, lstm_step),
    "lstm_step_backward": (exercises.check_lstm_step_backward, lstm_step_backward),
    "init_lstm_params": (exercises.check_init_lstm_params, init_lstm_params),
    "lstm_forward": (exercises.check_lstm_forward, lstm_forward),
    "last_valid_output": (exercises.check_last_valid_output, last_valid_output),
    "bidirectional_rnn": (exercises.check_bidirectional_rnn, bidirectional_rnn),
    "rnn_step_backward": (exercises.check_rnn_step_backward, rnn_step_backward),
    "gru_step": (exercises.check_gru_step, gru_step),
    "bidirectional_layer": (exercises.check_bidirectional_layer, bidirectional_layer),
    "parameter_count": (sequences.check_parameter_count, parameter_count),
    "lstm_step_per_gate": (sequences.check_lstm_step_per_gate, per_gate_step),
    "fuse": (sequences.check_fuse, fuse),
    "input_projection": (sequences.check_input_projection, lambda X, W, b_ih, b_hh: X @ W.T + b_ih + b_hh),
    "fused_step": (sequences.check_fused_step, fused_step_pair),
    "h_n_index": (sequences.check_h_n_index, lambda layer, direction, layers, dirs: layer * dirs + direction),
    "layer_input_size": (sequences.check_layer_input_size, layer_input_size),
    "length_mask": (sequences.check_length_mask, lambda lengths, T: torch.arange(T).unsqueeze(1) < lengths),
    "reverse_final": (sequences.check_reverse_final, lambda out, lengths, H: out[0, :, H:]),
    "cell_after": (explorer.check_cell_after,
                   lambda steps, f, i, g, c0: f ** steps * c0 + i * g * (1 - f ** steps) / (1 - f)),
    "clip_grad_norm": (notebook_checks.check_clip_grad_norm, clip),
    "memory_targets": (notebook_checks.check_memory_targets, lambda inputs, n: inputs[0].argmax(-1)),
    "batchify": (notebook13.check_batchify, right_batchify),
    "chunk_pairs": (notebook13.check_chunk_pairs, right_chunk_pairs),
    "char_model": (notebook13.check_char_model, right_forward),  # the class's forward, as a function of the model
    "temperature_probs": (notebook13.check_temperature_probs, right_probs),
    "sample_next": (notebook13.check_sample_next, right_sample),
    "tbptt_pass": (notebook13.check_tbptt_pass, tbptt()),
    "attention": (notebook14.check_attention, attention),
    "decoder_step": (notebook14.check_decoder_step, decoder_step),
    "masked_loss": (notebook14.check_masked_loss, masked_loss),
}

# value exercises: the check with its arguments bound, and a right answer
VALUES = {
    "rnn_hidden": (lambda a: by_hand.check_rnn_hidden(2, a), GOLDEN["rnn"]["h"][1]),
    "labelling_probs": (lambda a: by_hand.check_labelling_probs(3, a), GOLDEN["rnn"]["labelling_probs"][2]),
    "birnn_output": (lambda a: by_hand.check_birnn_output(1, a), GOLDEN["birnn"]["output"][0]),
    "gate": (lambda a: by_hand.check_gate("i", 2, a), GOLDEN["lstm"]["i"][1]),
    "forget_gate": (lambda a: by_hand.check_forget_gate(2, a), GOLDEN["lstm"]["f"][1]),
    "cell_state": (lambda a: by_hand.check_cell_state(3, a), GOLDEN["lstm"]["c"][2]),
    "hidden_state": (lambda a: by_hand.check_hidden_state(1, a, bias=True), GOLDEN["lstm_bias"]["h"][0]),
    "input_weights": (lambda a: by_hand.check_input_weights("cs231n", a),
                      to_convention(fixtures.lstm_weights(bias=False), "cs231n")["Wx"]),
    "bias": (lambda a: by_hand.check_bias("onnx", a), to_convention(fixtures.lstm_weights(bias=True), "onnx")["B"]),
    "forget_bias_for_0_9": (sequences.check_forget_bias_for_0_9, math.log(9)),
    "steps_to_vanish": (lambda a: notebook_checks.check_steps_to_vanish(a, radius=0.9, factor=1e-6), 132),
    "gate_by_hand": (lambda a: notebook_checks.check_gate_by_hand(a, "n", step=2, unit=0),
                     round(GOLDEN["gru"]["n"][1, 0].item(), 4)),
    "keep_first_input": (explorer.check_keep_first_input, keep_params()),
    "forget_bias": (explorer.check_forget_bias, 3.0),
}


def test_every_check_of_the_course_is_here():
    """Every check of lstm_lab.checks, each under one name: nothing new goes untested."""
    public = {name for info in pkgutil.iter_modules(lstm_lab.checks.__path__)
              for name, value in vars(importlib.import_module(f"lstm_lab.checks.{info.name}")).items()
              if name.startswith("check_") and callable(value) and name != "check_value"}
    named = {getattr(check, "__name__", "") for check, _ in FUNCTIONS.values()} | {
        "check_rnn_hidden", "check_labelling_probs", "check_birnn_output", "check_gate", "check_forget_gate",
        "check_cell_state", "check_hidden_state", "check_input_weights", "check_bias", "check_forget_bias_for_0_9",
        "check_steps_to_vanish", "check_gate_by_hand", "check_keep_first_input", "check_forget_bias"}
    assert public == named and len(FUNCTIONS) + len(VALUES) == 45


def said(feedback) -> str:
    """The text of a Feedback: a sentence for a wrong answer, never a traceback through lstm_lab."""
    assert isinstance(feedback, Feedback), f"a check returned {type(feedback).__name__}, not a Feedback"
    text_ = str(feedback)
    assert "Traceback" not in text_ and "/lstm_lab/" not in text_ and 'File "' not in text_, text_
    assert feedback or feedback.lines, f"a failing check with nothing to say: {text_}"
    return text_


def first_tensor(value, change):
    """``value`` with ``change`` applied to its first tensor (the result itself, or the first in a tuple/list)."""
    if isinstance(value, torch.Tensor):
        return change(value)
    if isinstance(value, (tuple, list)) and value:
        return type(value)([first_tensor(value[0], change), *value[1:]])
    if isinstance(value, dict) and value:
        key = next(iter(value))
        return {**value, key: first_tensor(value[key], change)}
    return change(value)


def transposed(t):
    return t.mT if isinstance(t, torch.Tensor) and t.dim() >= 2 else t


WRONG = {  # what a wrong answer does to the right one (its result, or the value itself)
    "None": lambda r: None,
    "text": lambda r: "my answer",
    "a tuple": lambda r: tuple(r) if isinstance(r, torch.Tensor) and r.dim() else (r,),
    "a list": lambda r: first_tensor(r, lambda t: t.tolist() if isinstance(t, torch.Tensor) else [t]),
    "numpy": lambda r: first_tensor(r, lambda t: t.detach().numpy() if isinstance(t, torch.Tensor) else t),
    "float32": lambda r: first_tensor(r, lambda t: t.float() if isinstance(t, torch.Tensor) else t),
    "int64": lambda r: first_tensor(r, lambda t: t.long() if isinstance(t, torch.Tensor) else t),
    "transposed": lambda r: first_tensor(r, transposed),
    "an extra axis": lambda r: first_tensor(r, lambda t: t.unsqueeze(-1) if isinstance(t, torch.Tensor) else [[t]]),
    "flattened": lambda r: first_tensor(r, lambda t: t.reshape(-1) if isinstance(t, torch.Tensor) else t),
    "first axis dropped": lambda r: first_tensor(r, lambda t: t[0] if isinstance(t, torch.Tensor) and t.dim() else t),
    "a dict": lambda r: {"answer": r},
    "complex": lambda r: first_tensor(r, lambda t: t.to(torch.complex128) if isinstance(t, torch.Tensor)
                                      and t.is_floating_point() else complex(t) if isinstance(t, float) else t),
}
REFUSED = {"None", "text", "a dict"}  # never a right answer, whatever the exercise


@pytest.mark.parametrize("name", FUNCTIONS)
def test_a_right_answer_passes(name):
    check, right = FUNCTIONS[name]
    assert check(right), str(check(right))


@pytest.mark.parametrize("name", VALUES)
def test_a_right_value_passes(name):
    check, right = VALUES[name]
    assert check(right), str(check(right))


@pytest.mark.parametrize("wrong", WRONG)
@pytest.mark.parametrize("name", FUNCTIONS)
def test_a_wrong_return_gets_a_sentence(name, wrong):
    check, right = FUNCTIONS[name]

    def answer(*args):
        return WRONG[wrong](right(*args))

    answer.__name__ = name
    text_ = said(check(answer))
    if wrong in REFUSED:
        assert text_.startswith("✗"), text_


@pytest.mark.parametrize("wrong", WRONG)
@pytest.mark.parametrize("name", VALUES)
def test_a_wrong_value_gets_a_sentence(name, wrong):
    check, right = VALUES[name]
    text_ = said(check(WRONG[wrong](right)))
    if wrong in REFUSED:
        assert text_.startswith("✗"), text_


@pytest.mark.parametrize("name", FUNCTIONS)
def test_an_exception_names_the_students_line(name):
    check, _ = FUNCTIONS[name]

    def answer(*args):
        raise ValueError("my own bug")

    text_ = said(check(answer))
    assert "raised ValueError: my own bug" in text_ and "raise ValueError" in text_


@pytest.mark.parametrize("name", FUNCTIONS)
def test_a_stub_is_named_as_not_done(name):
    check, _ = FUNCTIONS[name]

    def answer(*args):
        raise NotImplementedError

    assert "not implemented yet" in said(check(answer))


# ---------------------------------------------------------------- every catalogued mistake of every declaration
DECLARED = {f"{info.name}.{name}": value  # every module of lstm_lab.checks, found as Python finds them
            for info in pkgutil.iter_modules(lstm_lab.checks.__path__)
            for name, value in vars(importlib.import_module(f"lstm_lab.checks.{info.name}")).items()
            if isinstance(value, diagnose.Exercise)}
CATALOGUED = [(key, message) for key, ex in DECLARED.items() if ex.mistakes is not None
              for message in dict.fromkeys(m for case in ex.cases() for m in ex.mistakes(case))]


def test_every_function_exercise_is_a_declaration_with_its_cases():
    """A declared exercise is found here without a list: a new one is planted below as soon as it exists."""
    assert len(DECLARED) >= 23 and all(ex.cases is not None for ex in DECLARED.values())


OWN_REFERENCES = {key: ex for key, ex in DECLARED.items() if ex.answer == "function"}


@pytest.mark.parametrize("key", OWN_REFERENCES)
def test_every_function_exercise_declares_a_reference_that_passes_it(monkeypatch, key):
    """The reference a notebook falls back on (``use.yours_or_reference``) is the declaration's, and it is right."""
    monkeypatch.setattr(core, "Watch", lambda allowed=(): _Blind())  # the reference is lstm_lab's own code
    ex = OWN_REFERENCES[key]
    assert ex.reference is not None, f"{key} declares no reference"
    assert diagnose.run_check(ex, ex.reference), str(diagnose.run_check(ex, ex.reference))


def _same(a, b) -> bool:
    ta, tb = diagnose.named_tensors(a), diagnose.named_tensors(b)
    plain = (int, float, str)  # not a generator (a copy of the case's), a model, an optimizer (the case's own)
    return len(ta) == len(tb) and all(x.shape == y.shape and torch.equal(x, y) for (_, x), (_, y) in zip(ta, tb)) and (
        [v for v in a if isinstance(v, plain)] == [v for v in b if isinstance(v, plain)])


def _filled(variant, right):
    """A catalogued answer with its None parts (not part of the mistake) taken from the right answer."""
    if variant is None:
        return right
    if isinstance(variant, (tuple, list)) and isinstance(right, (tuple, list)) and len(variant) == len(right):
        return type(variant)(_filled(v, r) for v, r in zip(variant, right))
    return variant


def plant(ex, message):
    """A student's function that makes the catalogued mistake ``message`` on every case of ``ex``."""
    cases = ex.cases()

    def answer(*args):
        case = next(c for c in cases if _same(c.args, args))
        right = case.expected if case.expected is not None else ex.reference(*diagnose.clone(case.args))
        variant = ex.mistakes(case).get(message)
        variant = _filled(variant() if callable(variant) else variant, right)  # a mistake that raises, raises
        if ex.judge == "statistic":  # the catalogue gives the distribution a mistake draws from: draw from it
            logits, _, generator = args
            return torch.multinomial(variant.expand(len(logits), -1), 1, generator=generator).squeeze(-1)
        if ex.judge == "trajectory":  # the catalogue gives (what it returns, the state it leaves): leave that state
            returned, parameters = variant
            torch.nn.utils.vector_to_parameters(parameters, args[0].parameters())
            return list(returned)
        return variant

    return answer


@pytest.mark.parametrize("key, message", CATALOGUED, ids=[f"{k}-{n}" for n, (k, _) in enumerate(CATALOGUED)])
def test_each_catalogued_mistake_gets_its_sentence(monkeypatch, key, message):
    """The planted function computes its mistake with lstm_lab (the catalogue), which the watch would refuse."""
    monkeypatch.setattr(core, "Watch", lambda allowed=(): _Blind())
    ex = DECLARED[key]
    feedback = diagnose.run_check(ex, plant(ex, message))
    text_ = said(feedback)
    if feedback:  # the mistake gives the right numbers on every case of this exercise: nothing to name
        return
    named = [m for k, m in CATALOGUED if k == key and m in text_]
    assert named, f"no catalogued sentence in:\n{text_}"
