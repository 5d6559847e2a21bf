"""Exercise checks: compare a student's answer with lstm_lab's reference and say what is wrong.

Every check is an ``Exercise`` declaration run by ``diagnose.run_check``. ``core`` holds what a check says, the
tolerances, the one comparison and the run of a student's function, which ``shortcuts`` watches; ``catalogue``
makes mistakes by rearranging weights; the topic modules declare the exercises.
"""

from .core import ExerciseFailed, Feedback, call_student, compare

__all__ = ["ExerciseFailed", "Feedback", "call_student", "compare"]
