"""Exercise checks: compare a student's answer with lstm_lab's reference and say what is wrong.

``core`` holds the shared machinery (``Feedback``, ``compare``, ``call_student``); each topic
has its own module of checks next to it.
"""

from .core import ExerciseFailed, Feedback, call_student, compare

__all__ = ["ExerciseFailed", "Feedback", "call_student", "compare"]
