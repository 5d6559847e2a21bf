"""Exercise checks: compare a student's answer with lstm_lab's reference and say what is wrong.

One engine serves every check:

* ``core``: ``Feedback``, ``call_student`` (the student's function run in words, shortcuts refused by
  ``shortcuts``), ``compare`` and the one value check ``check_value`` (a number, a count, a tensor:
  right, a known mistake, or which numbers are off), the one equality test ``same``, seeded random
  numbers (``seeded``, ``randn``) and the one ``TOLERANCES`` table;
* ``diagnose``: a function exercise as an ``Exercise`` (a reference, its ``Case`` list and its known
  mistakes) run by ``run_check``;
* ``catalogue``: mistakes made by rearranging weights; every seed bug itself is written once, in
  ``lstm_lab.mistakes``; gate names come from ``lstm_lab.layouts.GATE_WORDS``.

Each topic has its own module of checks next to them (``by_hand``, ``sequences``, ``explorer``, ``bptt``,
``exercises``, ``text``), one name per exercise.
"""

from .core import ExerciseFailed, Feedback, call_student, compare

__all__ = ["ExerciseFailed", "Feedback", "call_student", "compare"]
