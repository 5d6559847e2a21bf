"""The exercise is the work: an answer that calls the thing it is asked to write fails, with a
sentence naming the call, however it reached it; the building blocks stay allowed. Each planted
shortcut below returns the right numbers: with the watch blinded, its check passes."""

import pkgutil
import textwrap
from pathlib import Path

import pytest
import torch
from torch import _VF, nn

import lstm_lab
from lstm_lab import bptt, cells, display, mistakes, runners, sampling, text, training
from lstm_lab.cells import lstm_cell, rnn_cell
from lstm_lab.checks import bptt as notebook_checks
from lstm_lab.checks import core, sequences, shortcuts
from lstm_lab.checks import text as notebook13
from lstm_lab.checks.exercises import (
    check_bidirectional_rnn,
    check_last_valid_output,
    check_lstm_forward,
    check_lstm_step,
    check_lstm_step_backward,
    check_rnn_step,
)
from lstm_lab.layouts import fuse_gates
from test_checks_diagnose import bidirectional_rnn, failing


def rnn_via_lstm_lab(x, h_prev, weight_ih, weight_hh, bias_ih, bias_hh):
    return lstm_lab.rnn_cell(x, h_prev, weight_ih, weight_hh, bias_ih, bias_hh)


def rnn_via_imported_cell(x, h_prev, weight_ih, weight_hh, bias_ih, bias_hh):
    return rnn_cell(x, h_prev, weight_ih, weight_hh, bias_ih, bias_hh)  # imported before the check ran


def rnn_via_torch(x, h_prev, weight_ih, weight_hh, bias_ih, bias_hh):
    return torch.rnn_tanh_cell(x, h_prev, weight_ih, weight_hh, bias_ih, bias_hh)


def rnn_via_nn_cell(x, h_prev, weight_ih, weight_hh, bias_ih, bias_hh):
    cell = nn.RNNCell(x.shape[1], h_prev.shape[1], dtype=x.dtype)
    weights = dict(zip(("weight_ih", "weight_hh", "bias_ih", "bias_hh"), (weight_ih, weight_hh, bias_ih, bias_hh)))
    return torch.func.functional_call(cell, weights, (x, h_prev))  # the arguments as its weights: gradients flow


def lstm_via_lstm_lab(x, h_prev, c_prev, weight_ih, weight_hh, bias_ih, bias_hh):
    return lstm_lab.lstm_cell(x, (h_prev, c_prev), weight_ih, weight_hh, bias_ih, bias_hh)


def lstm_via_torch(x, h_prev, c_prev, weight_ih, weight_hh, bias_ih, bias_hh):
    return torch.lstm_cell(x, (h_prev, c_prev), weight_ih, weight_hh, bias_ih, bias_hh)


def lstm_via_vf(x, h_prev, c_prev, weight_ih, weight_hh, bias_ih, bias_hh):
    return _VF.lstm_cell(x, (h_prev, c_prev), weight_ih, weight_hh, bias_ih, bias_hh)


def forward_via_cell(x, state, params):
    weights, outputs = fuse_gates(params, transposed=True), []
    for t in range(x.shape[1]):
        state = lstm_cell(x[:, t], state, **weights)
        outputs.append(state[0])
    return torch.stack(outputs, 1), state


def forward_via_module(x, state, params):
    model = lstm_lab.LSTM(x.shape[-1], state[0].shape[-1], batch_first=True, dtype=x.dtype)
    weights = {f"{name}_l0": value for name, value in fuse_gates(params, transposed=True).items()}
    output, (h, c) = torch.func.functional_call(model, weights, (x, (state[0][None], state[1][None])))
    return output, (h[0], c[0])


def last_via_fixed_mistake(outputs, lengths):
    return mistakes.last_output_off_by_one(outputs.transpose(0, 1), lengths, fixed=True)


def bidirectional_via_stack(x, weights_fwd, weights_bwd):
    h0 = x.new_zeros(2, x.shape[1], weights_fwd["weight_hh"].shape[1])
    return runners.run_stack("RNN", x, h0, [[weights_fwd, weights_bwd]])


def backward_via_bptt(dh, dc, x, h_prev, c_prev, step, weight_ih, weight_hh):
    g = bptt.lstm_step_backward(dh, dc, x, h_prev, c_prev, step, weight_ih, weight_hh)
    return g.dx, g.dh_prev, g.dc_prev, g.weight_ih, g.weight_hh, g.bias


def rnn_backward_via_bptt(dh, x, h_prev, h, weight_ih, weight_hh):
    g = bptt.rnn_step_backward(dh, x, h_prev, h, weight_ih, weight_hh)
    return g.dx, g.dh_prev, g.weight_ih, g.weight_hh, g.bias


def fused_step_via_update(x, state, weight_ih, weight_hh, bias_ih, bias_hh):
    from lstm_lab.cells import lstm_update

    pre = x @ weight_ih.T + bias_ih + state[0] @ weight_hh.T + bias_hh
    step = lstm_update(pre, state[1])  # the gate equations themselves: what notebook 05 asks for
    return step.h, step.c


def gru_via_torch(x, h_prev, weight_ih, weight_hh, bias_ih, bias_hh):
    if x.dim() == 1:  # the check's fixed X is one sample; torch's kernel takes a batch
        return gru_via_torch(x[None], h_prev[None], weight_ih, weight_hh, bias_ih, bias_hh)[0]
    return torch.gru_cell(x, h_prev, weight_ih, weight_hh, bias_ih, bias_hh)


# ---------------------------------------------------------------- the shortcuts issue 22 measured as graded ✓
def lstm_via_layer_function(x, h_prev, c_prev, weight_ih, weight_hh, bias_ih, bias_hh):
    from lstm_lab.lstm_function import LSTMLayerFunction  # the fast LSTM layer, run for one step

    _, h, c = LSTMLayerFunction.apply(x[None], h_prev, c_prev, weight_hh, weight_ih, bias_ih + bias_hh)
    return h, c


def forward_via_layer_function(x, state, params):
    from lstm_lab.lstm_function import LSTMLayerFunction

    weight_ih = torch.cat([params[f"W_x{g}"].T for g in "ifgo"])  # fused by hand: only the layer is a shortcut
    weight_hh = torch.cat([params[f"W_h{g}"].T for g in "ifgo"])
    bias = torch.cat([params[f"b_{g}"] for g in "ifgo"])
    outputs, h, c = LSTMLayerFunction.apply(x.transpose(0, 1), state[0], state[1], weight_hh, weight_ih, bias)
    return outputs.transpose(0, 1), (h, c)


def fuse_via_layouts(per_gate):
    return fuse_gates(per_gate)


def probs_via_sampling(logits, temperature):
    return sampling.temperature_probs(logits, temperature)


def sample_via_temperature_probs(logits, temperature, generator):
    return torch.multinomial(sampling.temperature_probs(logits, temperature), 1, generator=generator).squeeze(-1)


def sample_via_next_ids(logits, temperature, generator):
    return sampling.next_ids(logits, temperature, generator=generator)


def tbptt_via_train_chunks(model, pieces, optimizer, clip):
    return text.train_chunks(model, pieces, optimizer, clip)[0]


def tbptt_via_optimise(model, pieces, optimizer, clip):
    state, losses = None, []
    for inputs, targets in pieces:
        logits, state = model(inputs, text.detach_state(state))
        loss = text.chunk_loss(logits, targets)
        training.optimise(model, optimizer, loss, clip)  # the update the exercise asks to write
        losses.append(loss.item())
    return losses


def bidirectional_via_reverse(x, weights_fwd, weights_bwd):
    h0 = x.new_zeros(x.shape[1], weights_fwd["weight_hh"].shape[1])
    out_f, h_f = lstm_lab.run_layer("RNN", x, h0, weights_fwd)
    out_b, h_b = lstm_lab.run_layer("RNN", x, h0, weights_bwd, reverse=True)  # the pairing, done by the library
    return torch.cat([out_f, out_b], -1), torch.stack([h_f, h_b])


def bidirectional_layer_via_reverse(inputs, forward_weights, backward_weights):
    zeros = inputs.new_zeros(inputs.shape[1], forward_weights["weight_hh"].shape[1])
    forward, _ = lstm_lab.run_layer("LSTM", inputs, (zeros, zeros), forward_weights)
    backward, _ = lstm_lab.run_layer("LSTM", inputs, (zeros, zeros), backward_weights, reverse=True)
    return torch.cat([forward, backward], dim=-1)


# ---------------------------------------------------------------- routes the old deny-list did not see
def lstm_via_aten_overload(x, h_prev, c_prev, weight_ih, weight_hh, bias_ih, bias_hh):
    return torch.ops.aten.lstm_cell.default(x, [h_prev, c_prev], weight_ih, weight_hh, bias_ih, bias_hh)


def lstm_via_check_reference(x, h_prev, c_prev, weight_ih, weight_hh, bias_ih, bias_hh):
    from lstm_lab.checks import exercises  # the check's own reference is an answer too

    return exercises._lstm_reference(x, h_prev, c_prev, weight_ih, weight_hh, bias_ih, bias_hh)


def gru_via_gru_function(x, h_prev, weight_ih, weight_hh, bias_ih, bias_hh):
    from lstm_lab.gru_function import GRULayerFunction

    batched = x.dim() == 2
    x, h = (x, h_prev) if batched else (x[None], h_prev[None])
    outputs, _ = GRULayerFunction.apply((x @ weight_ih.T + bias_ih)[None], h, weight_hh, bias_hh)  # one step
    return outputs[0] if batched else outputs[0, 0]


SHORTCUTS = [
    (check_rnn_step, rnn_via_lstm_lab, "lstm_lab.cells.rnn_cell"),
    (check_rnn_step, rnn_via_imported_cell, "lstm_lab.cells.rnn_cell"),
    (check_rnn_step, rnn_via_torch, "torch.rnn_tanh_cell"),
    (check_rnn_step, rnn_via_nn_cell, "torch.nn.RNNCell"),
    (check_lstm_step, lstm_via_lstm_lab, "lstm_lab.cells.lstm_cell"),
    (check_lstm_step, lstm_via_torch, "torch.lstm_cell"),
    (check_lstm_step, lstm_via_vf, "torch.lstm_cell"),
    (check_lstm_forward, forward_via_cell, "lstm_lab.cells.lstm_cell"),
    (check_lstm_forward, forward_via_module, "lstm_lab.modules.LSTM"),
    (check_last_valid_output, last_via_fixed_mistake, "lstm_lab.mistakes.last_output_off_by_one"),
    (check_bidirectional_rnn, bidirectional_via_stack, "lstm_lab.runners.run_stack"),
    (check_lstm_step_backward, backward_via_bptt, "lstm_lab.bptt.lstm_step_backward"),
    (notebook_checks.check_lstm_step_backward, backward_via_bptt, "lstm_lab.bptt.lstm_step_backward"),
    (notebook_checks.check_rnn_step_backward, rnn_backward_via_bptt, "lstm_lab.bptt.rnn_step_backward"),
    (notebook_checks.check_gru_step, gru_via_torch, "torch.gru_cell"),
    (sequences.check_fused_step, fused_step_via_update, "lstm_lab.cells.lstm_update"),
    # issue 22's list
    (check_lstm_step, lstm_via_layer_function, "lstm_lab.lstm_function.LSTMLayerFunction"),
    (check_lstm_forward, forward_via_layer_function, "lstm_lab.lstm_function.LSTMLayerFunction"),
    (sequences.check_fuse, fuse_via_layouts, "lstm_lab.layouts.fuse_gates"),
    (notebook13.check_temperature_probs, probs_via_sampling, "lstm_lab.sampling.temperature_probs"),
    (notebook13.check_sample_next, sample_via_temperature_probs, "lstm_lab.sampling.temperature_probs"),
    (notebook13.check_sample_next, sample_via_next_ids, "lstm_lab.sampling.next_ids"),
    (notebook13.check_tbptt_pass, tbptt_via_train_chunks, "lstm_lab.text.train_chunks"),
    (notebook13.check_tbptt_pass, tbptt_via_optimise, "lstm_lab.training.optimise"),
    (check_bidirectional_rnn, bidirectional_via_reverse, "lstm_lab.runners.run_layer(reverse=True)"),
    (sequences.check_bidirectional_layer, bidirectional_layer_via_reverse, "lstm_lab.runners.run_layer(reverse=True)"),
    # a module nobody listed, the checks' own references, and torch's operator objects
    (notebook_checks.check_gru_step, gru_via_gru_function, "lstm_lab.gru_function.GRULayerFunction"),
    (check_lstm_step, lstm_via_check_reference, "lstm_lab.checks.exercises._lstm_reference"),
    (check_lstm_step, lstm_via_aten_overload, "torch.ops.aten.lstm_cell"),
]
IDS = [f"{c.__name__}-{s.__name__}" for c, s, _ in SHORTCUTS]


class _Blind:
    """A watch that sees nothing: what each shortcut would have earned without it."""

    helpers = {}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass

    def sentence(self, exercise):
        return None


@pytest.mark.parametrize("check, shortcut, call", SHORTCUTS, ids=IDS)
def test_each_planted_shortcut_gives_the_right_answer(monkeypatch, check, shortcut, call):
    monkeypatch.setattr(core, "Watch", lambda allowed=(): _Blind())
    assert check(shortcut), f"{shortcut.__name__} is not a right answer, so it proves nothing about the watch"


@pytest.mark.parametrize("check, shortcut, call", SHORTCUTS, ids=IDS)
def test_a_shortcut_fails_with_a_sentence_naming_the_call(check, shortcut, call):
    text = failing(check(shortcut))
    assert "your function calls `" in text and f"`{call}`" in text
    assert "which is not allowed in this exercise" in text


def test_the_layer_an_exercise_hands_out_stays_allowed():
    assert check_bidirectional_rnn(bidirectional_rnn)  # it uses the exercise's rnn_layer (run_layer)

    def bidirectional_layer(inputs, forward_weights, backward_weights):
        batch, hidden = inputs.shape[1], forward_weights["weight_hh"].shape[1]
        state = (inputs.new_zeros(batch, hidden), inputs.new_zeros(batch, hidden))
        forward, _ = lstm_lab.run_layer("LSTM", inputs, state, forward_weights)
        backward, _ = lstm_lab.run_layer("LSTM", inputs.flip(0), state, backward_weights)
        return torch.cat([forward, backward.flip(0)], dim=-1)

    assert sequences.check_bidirectional_layer(bidirectional_layer)


def test_the_watch_is_off_after_the_check():
    import sys

    before = sys.getprofile()
    check_lstm_step(lstm_via_torch)
    assert sys.getprofile() is before


def test_every_module_of_the_package_is_watched_but_the_few_that_never_compute_an_answer():
    """Found as Python finds them (not as the watch does): a module added later is watched unlisted."""
    found = {"lstm_lab"} | {m.name for m in pkgutil.walk_packages(lstm_lab.__path__, "lstm_lab.")}
    watched = set(shortcuts._WATCHED_FILES.values())
    assert shortcuts._NEVER_AN_ANSWER <= found  # no stale entry
    assert found - shortcuts._NEVER_AN_ANSWER == {m for m in watched if m.startswith("lstm_lab")}


def test_a_shortcut_is_seen_through_the_call_counter_of_a_check():
    """check_input_projection counts the answer's torch calls (lstm_lab.costs); what runs inside is still seen."""
    def project_via_runners(inputs, weight_ih, bias_ih, bias_hh):
        weights = {"weight_ih": weight_ih, "bias_ih": bias_ih, "bias_hh": bias_hh}
        return cells.input_projection("LSTM", inputs, weights)

    text = failing(sequences.check_input_projection(project_via_runners))
    assert "your function calls `lstm_lab.cells.input_projection`" in text


def test_printing_with_the_display_helpers_is_not_a_shortcut(capsys):
    def rnn_step_that_prints(x, h_prev, weight_ih, weight_hh, bias_ih, bias_hh):
        h = torch.tanh(x @ weight_ih.T + bias_ih + h_prev @ weight_hh.T + bias_hh)
        print(display.fmt(h))  # lstm_lab.display never computes an answer
        return h

    assert check_rnn_step(rnn_step_that_prints)
    assert capsys.readouterr().out


def test_the_sentence_names_what_the_exercise_allows():
    text = failing(check_bidirectional_rnn(bidirectional_via_reverse))
    assert "of the library this exercise allows only `lstm_lab.runners.run_layer` with reverse=False" in text


def test_an_exercise_names_exactly_what_it_allows():
    with shortcuts.Watch(("lstm_lab.text.chunk_loss",)) as watch:
        text.chunk_loss(torch.zeros(2, 1, 3), torch.zeros(2, 1, dtype=torch.long))  # allowed
        text.detach_state(None)  # its neighbour is not
    assert watch.calls == ["lstm_lab.text.detach_state"]


def test_a_malformed_allowance_is_refused_when_the_check_is_written():
    with pytest.raises(ValueError, match="cannot read"):
        shortcuts.Watch(("lstm_lab.runners.run_layer(reverse=True",))


# ---------------------------------------------------------------- the notebook's own functions
def notebook(*cells):
    """Run ``cells`` as ipykernel does: one namespace named ``__main__``, each cell compiled under a file name of
    its own (ipykernel's ``/tmp/ipykernel_<pid>/<hash of the cell>.py``). Returns the namespace."""
    namespace = {"__name__": "__main__", "torch": torch}
    for k, source in enumerate(cells):
        exec(compile(textwrap.dedent(source), f"/tmp/ipykernel_4242/{2718281 + k}.py", "exec"), namespace)
    return namespace


NOTEBOOK_12_GRU_STEP = '''
def gru_step(x, h, w):  # notebook 12 defines it above the exercise (one sample: .chunk(3))
    x_r, x_z, x_n = (x @ w["weight_ih"].T + w["bias_ih"]).chunk(3)
    h_r, h_z, h_n = (h @ w["weight_hh"].T + w["bias_hh"]).chunk(3)
    r, z = torch.sigmoid(x_r + h_r), torch.sigmoid(x_z + h_z)
    n = torch.tanh(x_n + r * h_n)
    return r, z, n, (1 - z) * n + z * h
'''

NOTEBOOK_09_GATES_BACKWARD = '''
def lstm_gates_backward(dh, dc, c_prev, s):  # notebook 09 defines it above the exercise
    tanh_c = torch.tanh(s.c)
    d_output_gate = dh * tanh_c
    dc = dc + dh * s.o * (1 - tanh_c ** 2)
    dpre = torch.cat([dc * s.g * s.i * (1 - s.i), dc * c_prev * s.f * (1 - s.f), dc * s.i * (1 - s.g ** 2),
                      d_output_gate * s.o * (1 - s.o)], dim=-1)
    return {"dc": dc, "dpre": dpre, "dc_prev": dc * s.f}
'''


def test_a_function_the_notebook_defined_above_that_computes_the_answer_is_refused():
    ns = notebook(NOTEBOOK_12_GRU_STEP, '''
        def my_gru_step(x, h_prev, weight_ih, weight_hh, bias_ih, bias_hh):
            w = {"weight_ih": weight_ih, "weight_hh": weight_hh, "bias_ih": bias_ih, "bias_hh": bias_hh}
            if x.dim() == 1:
                return gru_step(x, h_prev, w)[-1]
            return torch.stack([gru_step(x[b], h_prev[b], w)[-1] for b in range(len(x))])
        ''')
    text = failing(notebook_checks.check_gru_step(ns["my_gru_step"]))
    assert "your function calls `gru_step`, defined in another cell of the notebook" in text
    assert "write it yourself" in text


def test_notebook_09s_gates_backward_is_refused_in_the_step_backward():
    ns = notebook(NOTEBOOK_09_GATES_BACKWARD, '''
        def my_lstm_step_backward(dh, dc, x, h_prev, c_prev, step, weight_ih, weight_hh):
            g = lstm_gates_backward(dh, dc, c_prev, step)
            dpre = g["dpre"]
            return dpre @ weight_ih, dpre @ weight_hh, g["dc_prev"], dpre.T @ x, dpre.T @ h_prev, dpre.sum(0)
        ''')
    text = failing(check_lstm_step_backward(ns["my_lstm_step_backward"]))
    assert "`lstm_gates_backward`, defined in another cell of the notebook" in text


def test_a_notebook_function_that_passes_the_exercise_alone_is_refused_however_it_is_called():
    ns = notebook('''
        def rnn_answer(x, h_prev, weight_ih, weight_hh, bias_ih, bias_hh):
            return torch.tanh(x @ weight_ih.T + bias_ih + h_prev @ weight_hh.T + bias_hh)
        ''', '''
        def rnn_step(x, h_prev, weight_ih, weight_hh, bias_ih, bias_hh):  # row by row: no result is the answer
            return torch.cat([rnn_answer(x[b:b + 1], h_prev[b:b + 1], weight_ih, weight_hh, bias_ih, bias_hh) + 0
                              for b in range(len(x))])
        ''')
    text = failing(check_rnn_step(ns["rnn_step"]))
    assert "`rnn_answer`, defined in another cell of the notebook" in text


def test_a_students_own_helper_that_does_not_compute_the_answer_passes():
    ns = notebook('''
        def sigmoid(t):
            return 1 / (1 + torch.exp(-t))
        ''', '''
        def my_gru_step(x, h_prev, weight_ih, weight_hh, bias_ih, bias_hh):
            x_r, x_z, x_n = (x @ weight_ih.T + bias_ih).chunk(3, dim=-1)
            h_r, h_z, h_n = (h_prev @ weight_hh.T + bias_hh).chunk(3, dim=-1)
            r, z = sigmoid(x_r + h_r), sigmoid(x_z + h_z)
            n = torch.tanh(x_n + r * h_n)
            return (1 - z) * n + z * h_prev
        ''')
    assert notebook_checks.check_gru_step(ns["my_gru_step"])


def test_a_helper_in_the_students_own_cell_is_their_work():
    ns = notebook(NOTEBOOK_12_GRU_STEP, '''
        def step_of_my_own(x, h_prev, weight_ih, weight_hh, bias_ih, bias_hh):
            x_r, x_z, x_n = (x @ weight_ih.T + bias_ih).chunk(3, dim=-1)
            h_r, h_z, h_n = (h_prev @ weight_hh.T + bias_hh).chunk(3, dim=-1)
            r, z = torch.sigmoid(x_r + h_r), torch.sigmoid(x_z + h_z)
            return (1 - z) * torch.tanh(x_n + r * h_n) + z * h_prev

        def my_gru_step(x, h_prev, weight_ih, weight_hh, bias_ih, bias_hh):
            return step_of_my_own(x, h_prev, weight_ih, weight_hh, bias_ih, bias_hh)
        ''')
    assert notebook_checks.check_gru_step(ns["my_gru_step"])


def test_a_helper_the_exercise_hands_out_stays_allowed():
    """exercises/04 defines rnn_layer (lstm_lab's run_layer) above the exercise for the student to use."""
    ns = notebook('''
        from lstm_lab.runners import run_layer

        def rnn_layer(x, weights):
            return run_layer("RNN", x, x.new_zeros(x.shape[1], weights["weight_hh"].shape[1]), weights)
        ''', '''
        def bidirectional_rnn(x, weights_fwd, weights_bwd):
            out_fwd, h_fwd = rnn_layer(x, weights_fwd)
            out_bwd, h_bwd = rnn_layer(x.flip(0), weights_bwd)
            return torch.cat([out_fwd, out_bwd.flip(0)], dim=-1), torch.stack([h_fwd, h_bwd])
        ''')
    assert check_bidirectional_rnn(ns["bidirectional_rnn"])


def test_a_step_of_the_students_own_in_another_cell_may_build_the_sequence():
    """Called step after step, the student's own step ends on the final state (h_n) but is not the answer."""
    ns = notebook('''
        def my_step(x_t, h, c, params):
            gates = {g: x_t @ params[f"W_x{g}"] + h @ params[f"W_h{g}"] + params[f"b_{g}"] for g in "ifgo"}
            i, f, o = (torch.sigmoid(gates[g]) for g in "ifo")
            c = f * c + i * torch.tanh(gates["g"])
            return o * torch.tanh(c), c
        ''', '''
        def lstm_forward(x, state, params):
            h, c = state
            outputs = []
            for t in range(x.shape[1]):
                h, c = my_step(x[:, t], h, c, params)
                outputs.append(h)
            return torch.stack(outputs, dim=1), (h, c)
        ''')
    assert check_lstm_forward(ns["lstm_forward"])


def test_in_ipykernel_itself_a_function_of_an_earlier_cell_is_refused_and_a_helper_of_ones_own_is_not():
    """The planted notebooks above, in a real kernel: the file names ipykernel gives its cells are what the
    watch reads, so a change there shows here."""
    nbformat, nbclient = pytest.importorskip("nbformat"), pytest.importorskip("nbclient")
    root = str(Path(__file__).resolve().parents[1])
    cells = [f"import sys; sys.path.insert(0, {root!r})\nimport torch\nfrom lstm_lab.checks import bptt as check",
             textwrap.dedent(NOTEBOOK_12_GRU_STEP),
             "def sigmoid(t):\n    return 1 / (1 + torch.exp(-t))",
             textwrap.dedent('''
                 def my_gru_step(x, h_prev, weight_ih, weight_hh, bias_ih, bias_hh):
                     w = dict(weight_ih=weight_ih, weight_hh=weight_hh, bias_ih=bias_ih, bias_hh=bias_hh)
                     if x.dim() == 1:
                         return gru_step(x, h_prev, w)[-1]
                     return torch.stack([gru_step(x[b], h_prev[b], w)[-1] for b in range(len(x))])
                 print(check.check_gru_step(my_gru_step))'''),
             textwrap.dedent('''
                 def my_gru_step(x, h_prev, weight_ih, weight_hh, bias_ih, bias_hh):
                     x_r, x_z, x_n = (x @ weight_ih.T + bias_ih).chunk(3, dim=-1)
                     h_r, h_z, h_n = (h_prev @ weight_hh.T + bias_hh).chunk(3, dim=-1)
                     r, z = sigmoid(x_r + h_r), sigmoid(x_z + h_z)
                     return (1 - z) * torch.tanh(x_n + r * h_n) + z * h_prev
                 print(check.check_gru_step(my_gru_step))''')]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nbclient.NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    refused, passed = ("".join(o.get("text", "") for o in nb.cells[k].outputs) for k in (3, 4))
    assert "your function calls `gru_step`, defined in another cell of the notebook" in refused, refused
    assert passed.startswith("✓ gru_step: correct"), passed


def test_ones_own_function_of_an_earlier_exercise_that_gives_part_of_the_answer_is_ones_own_work():
    """Notebook 14: the decoder step may use the student's attention from the exercise before (it returns the
    weights, one of the step's three values); only a function that returns them all is refused."""
    from lstm_lab.checks import seq2seq

    ns = notebook('''
        def attention(query, keys):
            weights = torch.softmax((keys * query).sum(-1).T, dim=-1)
            return (weights.T.unsqueeze(-1) * keys).sum(0), weights
        ''', '''
        def decoder_step(decoder, token, state, memory, attend):
            h, c = decoder.cell(decoder.embedding(token), state)
            context, weights = attention(h, memory)
            return decoder.readout(torch.cat([h, context], dim=-1)), (h, c), weights
        ''')
    assert seq2seq.check_decoder_step(ns["decoder_step"])
