"""What a piece of code costs: the calls it makes into torch, and its time next to another's.

Each call into torch costs a fixed few microseconds before any arithmetic, so at the sizes of a
step-by-step RNN the number of calls is what decides the time (notebook 05 counts them), and a
check can tell whether an answer made its products in one matmul or in a loop. Times on a shared
machine move from one run to the next, so they are taken interleaved (A B A B ...) and only times
taken in the same run are compared (notebook 05, ``benchmarks/speed.py``).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from torch.overrides import TorchFunctionMode

# every way of writing a matrix product that torch offers as a function or operator
MATMULS = frozenset({"matmul", "__matmul__", "__rmatmul__", "mm", "bmm", "addmm", "baddbmm", "linear", "einsum",
                     "tensordot", "mv", "addmv", "inner", "dot"})


class CallCounter(TorchFunctionMode):
    """``with CallCounter() as calls: ...`` then ``calls.matmuls`` and ``calls.others``."""

    def __init__(self):
        super().__init__()
        self.matmuls = self.others = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if getattr(func, "__name__", "") in MATMULS:
            self.matmuls += 1
        else:
            self.others += 1
        return func(*args, **(kwargs or {}))


def interleaved_times(jobs: dict[str, Callable[[], object]], repeats: int, *, inner: int = 1,
                      warmup: int = 1) -> dict[str, list[float]]:
    """Seconds per call of each job, ``repeats`` samples each, the jobs run in turn (A B C A B C ...)
    so that whatever else the machine does falls on all of them alike; each sample is the mean of
    ``inner`` calls, after ``warmup`` rounds that are not timed."""
    for _ in range(warmup):
        for job in jobs.values():
            job()
    times = {name: [] for name in jobs}
    for _ in range(repeats):
        for name, job in jobs.items():
            start = time.perf_counter()
            for _ in range(inner):
                job()
            times[name].append((time.perf_counter() - start) / inner)
    return times
