"""The seeds' remaining bugs (the second block of lstm_lab.mistakes): each really is wrong, the
way its docstring says, and its ``fixed=True`` line matches torch.nn.

"Wrong" means some number moves by more than WRONG from torch.nn's, or a shape or a
behaviour (an empty parameter list, a failing backward) differs. "Matches" is
``lstm_lab.parity.assert_matches_torch``: outputs, final states and every gradient (parameters,
input, initial states) to 1e-10 in float64. The reference is always torch.nn.
"""

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from lstm_lab import ShapeError, fixtures, lstm_cell, mistakes, parity

F64 = torch.float64
TOL = parity.TOLERANCE[F64]
WRONG = 1e-3  # a mistake must move some number by at least this much
T, B, D, H = 5, 3, 4, 3


def pair(num_layers=1, bidirectional=False):
    """torch.nn.LSTM and its lstm_lab twin, and the twin's weights as ``layer_weights[layer][direction]``."""
    torch.manual_seed(0)
    ref, ours = parity.twins("LSTM", D, H, num_layers=num_layers, bidirectional=bidirectional)
    dirs = 2 if bidirectional else 1
    return ref, ours, [[ours.layer_weights(layer, d) for d in range(dirs)] for layer in range(num_layers)]


def inputs(seed=1, shape=(T, B, D)):
    return torch.randn(shape, dtype=F64, generator=torch.Generator().manual_seed(seed))


def max_diff(a, b):
    return (a - b).abs().max().item()


def as_stack(result):
    """A single layer's ``(outputs, (h_T, c_T))`` in torch.nn.LSTM's form ``(output, (h_n, c_n))``."""
    outputs, (h, c) = result
    return outputs, (h.unsqueeze(0), c.unsqueeze(0))


# ---------------------------------------------------------------- seed 003: the state never carried
def test_state_never_carried_is_T_one_step_cells():
    ref, _, weights = pair()
    x = inputs()
    want, _ = ref(x)
    got, _ = mistakes.state_never_carried(x, weights[0][0])
    assert max_diff(got[0], want[0]) < TOL, "step 1 starts from the initial state, as it should"
    for t in range(1, T):
        assert max_diff(got[t], want[t]) > WRONG, f"step {t + 1} should be wrong"
        alone, _ = ref(x[t:t + 1])  # torch on the sequence x_t alone
        torch.testing.assert_close(got[t], alone[0], atol=TOL, rtol=0)


def test_state_never_carried_on_the_fixed_x_against_the_golden_numbers():
    h_golden = fixtures.golden()["lstm"]["h"]
    got, _ = mistakes.state_never_carried(fixtures.fixed_x().unsqueeze(1), fixtures.lstm_weights())
    torch.testing.assert_close(got[0, 0], h_golden[0], atol=TOL, rtol=0)
    assert max_diff(got[1:, 0], h_golden[1:]) > WRONG
    fixed, _ = mistakes.state_never_carried(fixtures.fixed_x().unsqueeze(1), fixtures.lstm_weights(), fixed=True)
    torch.testing.assert_close(fixed[:, 0], h_golden, atol=TOL, rtol=0)


def test_state_never_carried_fixed_matches_torch():
    ref, ours, weights = pair()
    parity.assert_matches_torch(ref, ours, inputs(),
                                run_ours=lambda x: as_stack(mistakes.state_never_carried(x, weights[0][0], fixed=True)))


# ---------------------------------------------------------------- seed 003: plain tensors
def test_plain_tensor_weights_are_no_parameters():
    seed = mistakes.parameters_as_plain_tensors(D, H)
    assert list(seed.parameters()) == []
    assert seed.state_dict() == {}
    with pytest.raises(ValueError, match="empty parameter list"):
        torch.optim.SGD(seed.parameters(), lr=0.1)
    seed.double()
    assert seed.weight_ih_l0.dtype == torch.float32, ".double() (like .to(device)) does not reach plain tensors"


def test_plain_tensor_weights_are_never_trained_by_an_optimizer_over_the_model():
    """With one real parameter beside them, the optimizer runs and the LSTM's weights stay put."""
    seed = mistakes.parameters_as_plain_tensors(D, H, generator=torch.Generator().manual_seed(0))
    readout = nn.Linear(H, 1)
    model = nn.ModuleDict({"lstm": seed, "readout": readout})
    before = seed.weight_ih_l0.clone()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    outputs, _ = seed(inputs().float())
    readout(outputs[-1]).pow(2).sum().backward()
    optimizer.step()
    assert torch.equal(seed.weight_ih_l0, before)
    assert seed.weight_ih_l0.grad is None, "a plain tensor that does not require grad gets no gradient"


def test_parameters_fixed_are_torchs_and_load_its_state_dict():
    fixed = mistakes.parameters_as_plain_tensors(D, H, fixed=True).double()
    ref = nn.LSTM(D, H, dtype=F64)
    assert {name for name, _ in fixed.named_parameters()} == {name for name, _ in ref.named_parameters()}
    fixed.load_state_dict(ref.state_dict())
    assert fixed.weight_ih_l0.dtype == F64
    parity.assert_matches_torch(ref, fixed, inputs(), run_ours=lambda x: as_stack(fixed(x)))


# ---------------------------------------------------------------- seed 003: the state after the padding
LENGTHS = torch.tensor([T, 3, 1])


def torch_final_state(ref, x, lengths):
    _, (h, c) = ref(pack_padded_sequence(x, lengths, enforce_sorted=False))
    return h[0], c[0]


def test_state_after_padding_is_wrong_for_every_short_sequence():
    ref, _, weights = pair()
    x = inputs()
    want_h, want_c = torch_final_state(ref, x, LENGTHS)
    got_h, got_c = mistakes.state_after_padding(x, LENGTHS, weights[0][0])
    assert max_diff(got_h[0], want_h[0]) < TOL and max_diff(got_c[0], want_c[0]) < TOL, "full length: right"
    for b in (1, 2):
        assert max_diff(got_h[b], want_h[b]) > WRONG, f"sequence {b} (length {LENGTHS[b]}) should be wrong"
        assert max_diff(got_c[b], want_c[b]) > WRONG


def test_state_after_padding_fixed_matches_torchs_packed_h_n_and_c_n():
    """Values and the gradients of input and parameters (there is no output to compare here)."""
    ref, ours, weights = pair()
    x = inputs().requires_grad_()
    x_ref = x.detach().clone().requires_grad_()
    h, c = mistakes.state_after_padding(x, LENGTHS, weights[0][0], fixed=True)
    want_h, want_c = torch_final_state(ref, x_ref, LENGTHS)
    torch.testing.assert_close(h, want_h, atol=TOL, rtol=TOL)
    torch.testing.assert_close(c, want_c, atol=TOL, rtol=TOL)
    (h.sum() + 2 * c.sum()).backward()
    (want_h.sum() + 2 * want_c.sum()).backward()
    torch.testing.assert_close(x.grad, x_ref.grad, atol=TOL, rtol=TOL)
    for name, p in ref.named_parameters():
        torch.testing.assert_close(ours.get_parameter(name).grad, p.grad, atol=TOL, rtol=TOL, msg=name)


# ---------------------------------------------------------------- seed 004: the in-place state write
@pytest.mark.parametrize("bidirectional", [False, True])
def test_in_place_state_write_has_torchs_values_and_fails_backward(bidirectional):
    ref, _, weights = pair(2, bidirectional)
    x = inputs()
    out, (h_n, c_n) = ref(x)
    got, (g_h, g_c) = mistakes.state_written_in_place(x, weights)
    for want, have in ((out, got), (h_n, g_h), (c_n, g_c)):
        torch.testing.assert_close(have, want, atol=TOL, rtol=0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        got.sum().backward()


@pytest.mark.parametrize("bidirectional", [False, True])
def test_in_place_state_write_fixed_matches_torch(bidirectional):
    ref, ours, weights = pair(2, bidirectional)
    parity.assert_matches_torch(ref, ours, inputs(),
                                run_ours=lambda x: mistakes.state_written_in_place(x, weights, fixed=True))


# ---------------------------------------------------------------- seed 004: X_{t-1}
def test_previous_input_is_torch_one_step_late_and_never_reads_the_last_input():
    ref, _, weights = pair()
    x = inputs().requires_grad_()
    want, _ = ref(x)
    got, _ = mistakes.input_from_previous_step(x, weights[0][0])
    assert max_diff(got, want) > WRONG
    late, _ = ref(torch.cat([torch.zeros_like(x[:1]), x[:-1]]))
    torch.testing.assert_close(got, late, atol=TOL, rtol=0)
    got.sum().backward()
    assert torch.equal(x.grad[-1], torch.zeros_like(x.grad[-1])), "x_T is never read"
    assert x.grad[:-1].abs().min() > 0


def test_previous_input_fixed_matches_torch():
    ref, ours, weights = pair()
    parity.assert_matches_torch(ref, ours, inputs(),
                                run_ours=lambda x: as_stack(mistakes.input_from_previous_step(x, weights[0][0],
                                                                                              fixed=True)))


# ---------------------------------------------------------------- seed 002: h_n forward layers first
def test_h_n_forward_layers_first_puts_the_right_states_in_the_wrong_rows():
    ref, _, weights = pair(2, bidirectional=True)
    x = inputs()
    out, (h_n, c_n) = ref(x)
    got, (g_h, g_c) = mistakes.h_n_forward_layers_first(x, weights)
    torch.testing.assert_close(got, out, atol=TOL, rtol=0)  # zero initial states: output is right
    seed_rows = [0, 2, 1, 3]  # rows l0, l1, l0_reverse, l1_reverse, in torch's numbering
    torch.testing.assert_close(g_h, h_n[seed_rows], atol=TOL, rtol=0)
    torch.testing.assert_close(g_c, c_n[seed_rows], atol=TOL, rtol=0)
    for row in (1, 2):
        assert max_diff(g_h[row], h_n[row]) > WRONG


def test_h_n_forward_layers_first_starts_from_the_wrong_rows_of_a_given_state():
    ref, _, weights = pair(2, bidirectional=True)
    x = inputs()
    gen = torch.Generator().manual_seed(3)
    h0, c0 = (torch.randn(4, B, H, dtype=F64, generator=gen) for _ in range(2))
    out, _ = ref(x, (h0, c0))
    got, _ = mistakes.h_n_forward_layers_first(x, weights, (h0, c0))
    assert max_diff(got, out) > WRONG


def test_h_n_forward_layers_first_fixed_matches_torch():
    ref, ours, weights = pair(2, bidirectional=True)
    gen = torch.Generator().manual_seed(3)
    hx = tuple(torch.randn(4, B, H, dtype=F64, generator=gen) for _ in range(2))
    parity.assert_matches_torch(ref, ours, inputs(), hx,
                                run_ours=lambda x, s: mistakes.h_n_forward_layers_first(x, weights, s, fixed=True))


# ---------------------------------------------------------------- seed 002: LSTM_v1's backward outputs
def test_backward_outputs_not_flipped_pair_step_t_with_step_T_minus_1_minus_t():
    ref, _, weights = pair(1, bidirectional=True)
    x = inputs()
    out, (h_n, _) = ref(x)
    got, (g_h, _) = mistakes.backward_outputs_not_flipped(x, weights)
    torch.testing.assert_close(got[..., :H], out[..., :H], atol=TOL, rtol=0)
    torch.testing.assert_close(got[..., H:], out[..., H:].flip(0), atol=TOL, rtol=0)
    torch.testing.assert_close(g_h, h_n, atol=TOL, rtol=0)
    middle = T // 2
    torch.testing.assert_close(got[middle], out[middle], atol=TOL, rtol=0)  # odd T: the middle step is right
    for t in set(range(T)) - {middle}:
        assert max_diff(got[t, :, H:], out[t, :, H:]) > WRONG


def test_backward_outputs_fixed_matches_torch():
    ref, ours, weights = pair(2, bidirectional=True)
    parity.assert_matches_torch(ref, ours, inputs(),
                                run_ours=lambda x: mistakes.backward_outputs_not_flipped(x, weights, fixed=True))


# ---------------------------------------------------------------- seed 002: LSTM_v1's c_n
def test_backward_c_n_missing_keeps_only_forward_memories():
    ref, _, weights = pair(2, bidirectional=True)
    x = inputs()
    _, (_, c_n) = ref(x)
    _, (_, g_c) = mistakes.backward_c_n_missing(x, weights)
    assert g_c.shape == (2, B, H) and c_n.shape == (4, B, H)
    torch.testing.assert_close(g_c, c_n[0::2], atol=TOL, rtol=0)
    assert max_diff(g_c[1], c_n[1]) > WRONG, "row 1 should be layer 0's reverse memory"


def test_backward_c_n_fixed_matches_torch():
    ref, ours, weights = pair(2, bidirectional=True)
    parity.assert_matches_torch(ref, ours, inputs(),
                                run_ours=lambda x: mistakes.backward_c_n_missing(x, weights, fixed=True))


# ---------------------------------------------------------------- seed 002: ht[:, -1]
def test_last_step_takes_last_unit():
    torch.manual_seed(0)
    ref = nn.LSTM(D, H, batch_first=True, dtype=F64)
    ours = parity.twins("LSTM", D, H)[1]
    ours.load_state_dict(ref.state_dict())
    x = inputs(shape=(B, T, D))
    out, (h_n, _) = ref(x)
    got = mistakes.last_step_takes_last_unit(x, ours.layer_weights(0))
    assert got.shape == (B,)
    torch.testing.assert_close(got, out[:, -1, -1], atol=TOL, rtol=0)  # the last unit of the last step
    fixed = mistakes.last_step_takes_last_unit(x, ours.layer_weights(0), fixed=True)
    torch.testing.assert_close(fixed, out[:, -1], atol=TOL, rtol=0)
    torch.testing.assert_close(fixed, h_n[0], atol=TOL, rtol=0)


# ---------------------------------------------------------------- seed 002: h0 = torch.zeros(H)
def test_unbatched_zero_state_runs_only_by_broadcasting():
    torch.manual_seed(0)
    cell = nn.LSTMCell(D, H, dtype=F64)
    weights = {name: getattr(cell, name) for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
    x = inputs(shape=(B, D))
    want_h, want_c = cell(x)
    seed_h0, got_h, got_c = mistakes.unbatched_zero_state(x, weights)
    assert seed_h0.shape == (H,), "the seed's state has no batch axis"
    torch.testing.assert_close(got_h, want_h, atol=TOL, rtol=0)  # zeros hide it
    torch.testing.assert_close(got_c, want_c, atol=TOL, rtol=0)
    unbatched = (torch.zeros(H, dtype=F64), torch.zeros(H, dtype=F64))
    with pytest.raises(IndexError):
        cell(x, unbatched)  # torch.nn refuses a 1-D state for a 2-D input
    with pytest.raises(ShapeError, match=rf"h should have shape \({B}, {H}\)"):
        lstm_cell(x, unbatched, **weights)  # lstm_lab says which shape it expected
    fixed_h0, fixed_h, fixed_c = mistakes.unbatched_zero_state(x, weights, fixed=True)
    assert fixed_h0.shape == (B, H)
    torch.testing.assert_close(fixed_h, want_h, atol=TOL, rtol=0)
    torch.testing.assert_close(fixed_c, want_c, atol=TOL, rtol=0)


# ---------------------------------------------------------------- seed 001: the labelling head's bias
def golden_hidden():
    return fixtures.golden()["rnn"]["h"]


def test_labelling_bias_of_shape_1_gives_seed_001s_probabilities():
    probs, bias = mistakes.labelling_head_bias_broadcast(golden_hidden())
    assert bias.shape == (1,)
    torch.testing.assert_close(probs, fixtures.golden()["rnn"]["labelling_probs"], atol=TOL, rtol=0)


def test_labelling_bias_of_shape_1_cannot_change_a_probability_nor_learn():
    h = golden_hidden()
    labels = fixtures.golden()["rnn"]["labelling_labels"]
    base, _ = mistakes.labelling_head_bias_broadcast(h)
    shifted, bias = mistakes.labelling_head_bias_broadcast(h, bias_value=5.0)
    torch.testing.assert_close(shifted, base, atol=1e-12, rtol=0)
    nn.functional.nll_loss(shifted.log(), 1 - labels).backward()  # any labels: the gradient is 0
    assert abs(bias.grad.item()) < 1e-12
    with pytest.raises(RuntimeError, match="size mismatch for bias"):
        nn.Linear(2, 2).load_state_dict({"weight": torch.zeros(2, 2), "bias": bias.detach().float()})


def test_labelling_bias_fixed_learns_like_torchs_linear():
    h = golden_hidden()
    targets = torch.tensor([0, 0, 1])
    probs, bias = mistakes.labelling_head_bias_broadcast(h, bias_value=0.25, fixed=True)
    head = nn.Linear(2, 2, dtype=F64)
    weight, _ = fixtures.head("labelling")
    with torch.no_grad():
        head.weight.copy_(weight)
        head.bias.fill_(0.25)
    want = torch.softmax(head(h), dim=-1)
    torch.testing.assert_close(probs, want, atol=TOL, rtol=0)
    nn.functional.nll_loss(probs.log(), targets).backward()
    nn.functional.nll_loss(want.log(), targets).backward()
    torch.testing.assert_close(bias.grad, head.bias.grad, atol=TOL, rtol=TOL)
    assert bias.grad.abs().min() > WRONG


# ---------------------------------------------------------------- seed 001: the gates read c for h
def test_gates_reading_c_are_right_at_step_1_and_wrong_after_on_the_fixed_x():
    golden = fixtures.golden()["lstm"]
    steps = mistakes.gates_read_cell_state(fixtures.fixed_x(), fixtures.lstm_weights())
    torch.testing.assert_close(steps[0].h, golden["h"][0], atol=TOL, rtol=0)  # h_0 = c_0 = 0
    assert max_diff(torch.stack([s.h for s in steps[1:]]), golden["h"][1:]) > WRONG
    fixed = mistakes.gates_read_cell_state(fixtures.fixed_x(), fixtures.lstm_weights(), fixed=True)
    for name in ("i", "f", "g", "o", "c", "h"):
        torch.testing.assert_close(torch.stack([getattr(s, name) for s in fixed]), golden[name], atol=TOL, rtol=0)


def test_gates_reading_c_fixed_matches_torch_on_a_batch():
    ref, _, weights = pair()
    x = inputs()
    want, _ = ref(x)
    fixed = mistakes.gates_read_cell_state(x, weights[0][0], fixed=True)
    torch.testing.assert_close(torch.stack([s.h for s in fixed]), want.detach(), atol=TOL, rtol=0)
    wrong = mistakes.gates_read_cell_state(x, weights[0][0])
    assert max_diff(torch.stack([s.h for s in wrong[1:]]), want[1:].detach()) > WRONG
