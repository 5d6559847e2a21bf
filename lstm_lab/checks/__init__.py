"""Exercise checks: compare a student's answer with lstm_lab's reference and say what is wrong.

``core`` holds the shared machinery (``Feedback``, ``compare``, ``call_student``, the one
``TOLERANCES`` table); ``shortcuts`` refuses an answer that calls the thing it is asked to write;
``diagnose`` is the exercise engine (a reference, its cases and its known mistakes, built on
``catalogue`` and ``lstm_lab.mistakes``); each topic has its own module of checks next to it.
"""

from .core import ExerciseFailed, Feedback, call_student, compare

__all__ = ["ExerciseFailed", "Feedback", "call_student", "compare"]
