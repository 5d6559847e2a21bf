"""lstm_lab.costs.CallCounter counts matrix products however they are written, and every other call."""

import torch

from lstm_lab.costs import CallCounter


def test_counts_each_way_of_writing_a_product_and_the_other_calls():
    a, b = torch.randn(2, 3), torch.randn(3, 4)
    with CallCounter() as calls:
        a @ b
        torch.mm(a, b)
        torch.nn.functional.linear(a, b.t())  # b.t() is a call too (an "other")
        torch.einsum("ij,jk->ik", a, b)
        torch.sigmoid(a)
        a + a
    assert (calls.matmuls, calls.others) == (4, 3)  # t, sigmoid, +


def test_counts_only_while_active():
    a = torch.randn(2, 2)
    with CallCounter() as calls:
        a @ a
    a @ a
    torch.tanh(a)
    assert (calls.matmuls, calls.others) == (1, 0)


def test_interleaved_times_runs_the_jobs_in_turn_and_gives_a_sample_per_repeat():
    from lstm_lab.costs import interleaved_times

    order = []
    jobs = {"a": lambda: order.append("a"), "b": lambda: order.append("b")}
    times = interleaved_times(jobs, 3, inner=2, warmup=1)
    assert order == ["a", "b"] + ["a", "a", "b", "b"] * 3  # one untimed round, then A A B B per repeat
    assert {name: len(ts) for name, ts in times.items()} == {"a": 3, "b": 3}
    assert all(t >= 0 for ts in times.values() for t in ts)
