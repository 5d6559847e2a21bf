"""Each re-created seed bug really is a bug, and its one-line fix really is the fix.

For every function in lstm_lab.mistakes: the mistaken version differs from torch.nn.LSTM (or
cuts the gradient, or fails with a clear error), and ``fixed=True`` matches torch.nn.LSTM in
values and gradients to 1e-10 in float64. The reference is always torch.nn, never lstm_lab.
"""

import copy

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from lstm_lab import ShapeError, fixtures, mistakes

F64 = torch.float64
TOL = 1e-10
WRONG = 1e-3  # a mistake must move some number by at least this much
T, B, D, H = 5, 3, 4, 3


def torch_pair(num_layers=1, bidirectional=False, seed=0):
    """torch.nn.LSTM, and a copy of it whose parameters the mistaken code runs on."""
    torch.manual_seed(seed)
    ref = nn.LSTM(D, H, num_layers=num_layers, bidirectional=bidirectional, dtype=F64)
    return ref, copy.deepcopy(ref)


def layer_weights(model):
    """``layer_weights[layer][direction]`` with cell names, pointing at model's parameters."""
    dirs = 2 if model.bidirectional else 1
    groups = [{name.split("_l")[0]: getattr(model, name) for name in names} for names in model._all_weights]
    return [groups[layer * dirs:(layer + 1) * dirs] for layer in range(model.num_layers)]


def inputs(seed=1):
    return torch.randn(T, B, D, dtype=F64, generator=torch.Generator().manual_seed(seed))


def weighted_loss(tensors, seed=7):
    gen = torch.Generator().manual_seed(seed)
    return sum((t * torch.randn(t.shape, dtype=F64, generator=gen)).sum() for t in tensors)


def grads(model):
    return {name: p.grad for name, p in model.named_parameters()}


def max_diff(a, b):
    return (a - b).abs().max().item()


def assert_matches_torch(ref, ours, ref_result, our_result):
    """Values and gradients (of one fixed random weighting of every result) agree to 1e-10."""
    for a, b in zip(ref_result, our_result):
        torch.testing.assert_close(b, a, atol=TOL, rtol=TOL)
    weighted_loss(ref_result).backward()
    weighted_loss(our_result).backward()
    for name, g in grads(ref).items():
        assert grads(ours)[name] is not None, f"{name}: no gradient"
        torch.testing.assert_close(grads(ours)[name], g, atol=TOL, rtol=TOL, msg=lambda m: f"{name}: {m}")


def flat(result):
    output, (h_n, c_n) = result
    return [output, h_n, c_n]


# ---------------------------------------------------------------- seed 003: W_hf in the input gate
def test_input_gate_typo_is_right_at_step_1_and_wrong_after():
    ref, ours = torch_pair()
    x = inputs()
    want, _ = ref(x)
    got, _ = mistakes.input_gate_uses_W_hf(x, layer_weights(ours)[0][0])
    assert max_diff(got[0], want[0]) < TOL, "with h_0 = 0 the typo cannot show at step 1"
    for t in range(1, T):
        assert max_diff(got[t], want[t]) > WRONG, f"step {t + 1} should be wrong"


def test_input_gate_typo_shows_at_step_1_with_a_nonzero_initial_state():
    ref, ours = torch_pair()
    x = inputs()
    gen = torch.Generator().manual_seed(3)
    h0, c0 = (torch.randn(1, B, H, dtype=F64, generator=gen) for _ in range(2))
    want, _ = ref(x, (h0, c0))
    got, _ = mistakes.input_gate_uses_W_hf(x, layer_weights(ours)[0][0], (h0[0], c0[0]))
    assert max_diff(got[0], want[0]) > WRONG


def test_input_gate_typo_is_invisible_with_seed_001_weights():
    """Seed 001's W_hi equals its W_hf: a test on those weights alone cannot catch the typo."""
    gates = fixtures.lstm_gate_weights()
    assert torch.equal(gates["W_hi"], gates["W_hf"])
    weights = fixtures.lstm_weights()
    x = fixtures.fixed_x().unsqueeze(1)
    got, _ = mistakes.input_gate_uses_W_hf(x, weights)
    torch.testing.assert_close(got[:, 0], fixtures.golden()["lstm"]["h"], atol=TOL, rtol=0)


def test_input_gate_fixed_matches_torch():
    ref, ours = torch_pair()
    x = inputs()
    out, (h, c) = ref(x)
    got, (gh, gc) = mistakes.input_gate_uses_W_hf(x, layer_weights(ours)[0][0], fixed=True)
    assert_matches_torch(ref, ours, [out, h[0], c[0]], [got, gh, gc])


# ---------------------------------------------------------------- seed 002: each direction reads its own
@pytest.mark.parametrize("num_layers", [2, 3])
def test_own_direction_stack_differs_from_torch_above_layer_0(num_layers):
    ref, ours = torch_pair(num_layers, bidirectional=True)
    x = inputs()
    out, (h_n, c_n) = ref(x)
    got, (g_h, g_c) = mistakes.stack_each_direction_reads_its_own(x, layer_weights(ours))
    assert max_diff(got, out) > WRONG
    torch.testing.assert_close(g_h[:2], h_n[:2], atol=TOL, rtol=0)  # layer 0 is still right
    for row in range(2, 2 * num_layers):
        assert max_diff(g_h[row], h_n[row]) > WRONG, f"h_n row {row} should be wrong"


def test_own_direction_stack_is_torch_with_the_cross_halves_cut():
    """The docstring's claim: the seed's model is torch's with half of each upper W_ih zeroed."""
    ref, ours = torch_pair(3, bidirectional=True)
    with torch.no_grad():
        for layer in (1, 2):
            getattr(ref, f"weight_ih_l{layer}")[:, H:] = 0  # the forward cell ignores the backward half
            getattr(ref, f"weight_ih_l{layer}_reverse")[:, :H] = 0  # and vice versa
    x = inputs()
    got = mistakes.stack_each_direction_reads_its_own(x, layer_weights(ours))
    for a, b in zip(flat(ref(x)), flat(got)):
        torch.testing.assert_close(b, a, atol=TOL, rtol=0)


@pytest.mark.parametrize("num_layers", [2, 3])
def test_own_direction_stack_fixed_matches_torch(num_layers):
    ref, ours = torch_pair(num_layers, bidirectional=True)
    x = inputs()
    assert_matches_torch(ref, ours, flat(ref(x)),
                         flat(mistakes.stack_each_direction_reads_its_own(x, layer_weights(ours), fixed=True)))


def test_own_direction_stack_needs_two_directions():
    _, ours = torch_pair(2, bidirectional=False)
    with pytest.raises(ValueError, match=r"two weight dicts \[forward, reverse\], got \[1, 1\]"):
        mistakes.stack_each_direction_reads_its_own(inputs(), layer_weights(ours))


# ---------------------------------------------------------------- seed 002: h_n[layer + 1]
def test_h_n_overwrite_puts_forward_states_where_reverse_ones_belong():
    ref, ours = torch_pair(2, bidirectional=True)
    x = inputs()
    out, (h_n, c_n) = ref(x)
    got, (g_h, g_c) = mistakes.h_n_overwritten(x, layer_weights(ours))
    torch.testing.assert_close(got, out, atol=TOL, rtol=0)  # output is right
    torch.testing.assert_close(g_h[0], h_n[0], atol=TOL, rtol=0)  # l0 forward: right
    torch.testing.assert_close(g_h[1], h_n[2], atol=TOL, rtol=0)  # row 1 holds l1 forward, l0 reverse is lost
    torch.testing.assert_close(g_h[2], h_n[3], atol=TOL, rtol=0)  # row 2 holds l1 reverse
    assert torch.count_nonzero(g_h[3]) == 0 and torch.count_nonzero(g_c[3]) == 0  # never written
    assert max_diff(g_h, h_n) > WRONG and max_diff(g_c, c_n) > WRONG


def test_h_n_overwrite_three_layers_loses_every_reverse_state_but_the_last():
    ref, ours = torch_pair(3, bidirectional=True)
    x = inputs()
    _, (h_n, _) = ref(x)
    _, (g_h, _) = mistakes.h_n_overwritten(x, layer_weights(ours))
    torch.testing.assert_close(g_h[:4], h_n[[0, 2, 4, 5]], atol=TOL, rtol=0)
    assert torch.count_nonzero(g_h[4:]) == 0


@pytest.mark.parametrize("num_layers", [1, 2, 3])
def test_h_n_overwrite_fixed_matches_torch(num_layers):
    ref, ours = torch_pair(num_layers, bidirectional=True)
    x = inputs()
    assert_matches_torch(ref, ours, flat(ref(x)), flat(mistakes.h_n_overwritten(x, layer_weights(ours), fixed=True)))


# ---------------------------------------------------------------- seed 002: .detach() between layers
@pytest.mark.parametrize("bidirectional", [False, True])
def test_detach_keeps_the_values_but_cuts_the_gradient_below_the_top(bidirectional):
    ref, ours = torch_pair(3, bidirectional)
    x = inputs()
    out, _ = ref(x)
    got, _ = mistakes.stack_detached_between_layers(x, layer_weights(ours))
    torch.testing.assert_close(got, out, atol=TOL, rtol=0)  # no value check can catch it
    weighted_loss([out]).backward()
    weighted_loss([got]).backward()
    for name, g in grads(ref).items():
        mine = grads(ours)[name]
        if "_l2" in name:  # the top layer still learns
            torch.testing.assert_close(mine, g, atol=TOL, rtol=TOL)
        else:
            assert g.abs().max() > WRONG, f"torch gives {name} a gradient"
            assert mine is None, f"{name} should get no gradient through the detached input"


def test_detach_gives_wrong_gradients_when_the_loss_also_reads_h_n():
    ref, ours = torch_pair(2)
    x = inputs()
    ref_result = flat(ref(x))
    our_result = flat(mistakes.stack_detached_between_layers(x, layer_weights(ours)))
    weighted_loss(ref_result).backward()
    weighted_loss(our_result).backward()
    mine, theirs = grads(ours)["weight_ih_l0"], grads(ref)["weight_ih_l0"]
    assert mine is not None and max_diff(mine, theirs) > WRONG  # only the path through h_n[0] is left


@pytest.mark.parametrize("bidirectional", [False, True])
def test_detach_fixed_matches_torch(bidirectional):
    ref, ours = torch_pair(3, bidirectional)
    x = inputs()
    assert_matches_torch(ref, ours, flat(ref(x)),
                         flat(mistakes.stack_detached_between_layers(x, layer_weights(ours), fixed=True)))


# ---------------------------------------------------------------- seed 004: the missing // 4
def test_missing_div4_fails_at_the_first_step_and_says_which_shape():
    _, ours = torch_pair(2)
    with pytest.raises(ShapeError, match=rf"h should have shape \({B}, {H}\).*got \({B}, {4 * H}\)"):
        mistakes.hidden_size_missing_div4(inputs(), layer_weights(ours))


def test_missing_div4_fixed_matches_torch():
    ref, ours = torch_pair(2)
    x = inputs()
    fixed = mistakes.hidden_size_missing_div4(x, layer_weights(ours), fixed=True)
    assert_matches_torch(ref, ours, flat(ref(x)), flat(fixed))


# ---------------------------------------------------------------- seed 003: the off-by-one
def packed_run(lengths):
    """torch.nn.LSTM over a padded batch of the given lengths: padded output and h_n."""
    ref, _ = torch_pair()
    x = inputs()
    packed = pack_padded_sequence(x, lengths, enforce_sorted=False)
    out, (h_n, _) = ref(packed)
    output, _ = pad_packed_sequence(out, total_length=T)
    return output, h_n[0]


def test_off_by_one_fails_on_a_full_length_sequence():
    lengths = torch.tensor([2, T, 3])
    output, _ = packed_run(lengths)
    with pytest.raises(IndexError, match=f"index {T} is out of bounds"):
        mistakes.last_output_off_by_one(output, lengths)


def test_off_by_one_reads_a_padding_step_for_short_sequences():
    lengths = torch.tensor([2, 4, 3])  # all shorter than T, so no IndexError to warn
    output, h_n = packed_run(lengths)
    got = mistakes.last_output_off_by_one(output, lengths)
    assert torch.count_nonzero(got) == 0  # torch pads with zeros after the end
    for b in range(B):
        assert max_diff(got[b], h_n[b]) > WRONG


def test_off_by_one_fixed_is_torch_h_n():
    lengths = torch.tensor([2, T, 3])
    output, h_n = packed_run(lengths)
    torch.testing.assert_close(mistakes.last_output_off_by_one(output, lengths, fixed=True), h_n, atol=TOL, rtol=0)
