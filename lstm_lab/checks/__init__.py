"""Exercise checks: compare a student's answer with lstm_lab's reference and say what is wrong.

Every check is an ``Exercise`` declaration run by ``diagnose.run_check``. ``core`` holds what a check says, the
tolerances, the one comparison and the run of a student's function, which ``shortcuts`` watches; ``catalogue``
makes mistakes by rearranging weights; the topic modules declare the exercises.
"""

import sys

from .core import ExerciseFailed, Feedback, call_student, compare
from .shortcuts import watch_exercise_cells

_IPYTHON = sys.modules.get("IPython")  # imported already wherever a notebook runs (not imported here: it is slow)
if _IPYTHON is not None and _IPYTHON.get_ipython() is not None:  # a value the library computed is no answer
    watch_exercise_cells(_IPYTHON.get_ipython())

__all__ = ["ExerciseFailed", "Feedback", "call_student", "compare"]
