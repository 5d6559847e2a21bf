"""Exercise checks: compare a student's answer with lstm_lab's reference and say what is wrong.

Every check is an ``Exercise`` declaration run by ``diagnose.run_check``. ``core`` holds what a check says, the
tolerances, the one comparison and the run of a student's function, which ``shortcuts`` watches; ``catalogue``
makes mistakes by rearranging weights; the topic modules declare the exercises.
"""

from IPython import get_ipython

from .core import ExerciseFailed, Feedback, call_student, compare
from .shortcuts import watch_exercise_cells

if get_ipython() is not None:  # in a notebook: a value the library computed in an exercise cell is no answer
    watch_exercise_cells(get_ipython())

__all__ = ["ExerciseFailed", "Feedback", "call_student", "compare"]
