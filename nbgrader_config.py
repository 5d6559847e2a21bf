"""nbgrader's configuration for this course: grading stops with an error when the kernel cannot
import lstm_lab or torch, instead of giving every student 0 and exiting 0.

nbgrader reads ``nbgrader_config.py`` from the folder it is started in: run it from the repository
root (as the README shows), or copy this file into your course folder if you start it there.

nbgrader runs every notebook with errors allowed (a student's wrong answer is an error in a test
cell, and scores 0 there). A kernel without lstm_lab fails the first cell, ``from lstm_lab ...``, and
then every test cell: all zeros, and nothing says why. The check below runs after nbgrader has
executed a submission and before it saves any grade; it needs nothing from lstm_lab itself, so it
works in exactly the environment it is there to catch.
"""

from nbconvert.preprocessors import Preprocessor
from nbgrader.converters import Autograde
from nbgrader.preprocessors import Execute

REQUIRED = ("lstm_lab", "torch")


class RequireLstmLab(Preprocessor):
    """Refuse to grade a notebook whose kernel could not import lstm_lab or torch, or in which one of
    the course's own cells (not a student's solution cell, which nbgrader leaves to the student) fails
    to import: either way the environment is broken, not the student's answer."""

    enabled = True  # nbconvert skips a preprocessor that is not enabled

    def preprocess(self, nb, resources):
        for number, cell in enumerate(nb.cells, 1):
            students = cell.get("metadata", {}).get("nbgrader", {}).get("solution", False)
            for output in cell.get("outputs", []):
                if output.get("output_type") != "error" or output.get("ename") not in ("ModuleNotFoundError",
                                                                                         "ImportError"):
                    continue
                missing = [name for name in REQUIRED if f"No module named '{name}'" in output.get("evalue", "")]
                if missing or not students:
                    what = missing[0] if missing else "what the course's own cells import"
                    raise RuntimeError(
                        f"the kernel nbgrader started cannot import {what} (cell {number}: {output['ename']}: "
                        f"{output['evalue']}), so every test would score 0. Nothing was graded. Install lstm_lab "
                        "and torch in nbgrader's environment and put that environment first on PATH (README, "
                        "'Grading with nbgrader').")
        return nb, resources


c = get_config()  # noqa: F821 (nbgrader defines it when it reads this file)
_steps = list(Autograde.class_traits()["autograde_preprocessors"].default())
_after = _steps.index(Execute) + 1  # right after nbgrader executes the notebook, before SaveAutoGrades
c.Autograde.autograde_preprocessors = [*_steps[:_after], RequireLstmLab, *_steps[_after:]]
