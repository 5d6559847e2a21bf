"""Exercise checks: compare a student's answer with lstm_lab's reference and say what is wrong.

Every check is an ``Exercise`` declaration (``diagnose``) run by ``diagnose.run_check``: its reference, its
cases, its catalogued mistakes, the library calls it allows and its judge. ``core`` holds what a check
says (``Feedback``, ``@verdict``), ``TOLERANCES``, the one comparison and the run of a student's function;
``shortcuts`` watches that run; ``catalogue`` makes mistakes by rearranging weights. The topic modules
(``by_hand``, ``sequences``, ``explorer``, ``bptt``, ``exercises``, ``text``) declare the exercises.
"""

from .core import ExerciseFailed, Feedback, call_student, compare

__all__ = ["ExerciseFailed", "Feedback", "call_student", "compare"]
