"""The lines inside a notebook cell's marked regions, read by the tests with a regular expression of their own: not
with ``lstm_lab.student``'s scanner, so that a bug in how the student edition finds its regions cannot also hide a
leak from the tests that look for one."""

import re


def solution_lines(source: str, begin: str = "BEGIN SOLUTION", end: str = "END SOLUTION") -> list[str]:
    """The lines strictly between a line holding ``begin`` and the next line holding ``end``, for every region."""
    pattern = rf"(?ms)^[^\n]*{re.escape(begin)}[^\n]*\n(.*?)^[^\n]*{re.escape(end)}"
    return [line for region in re.findall(pattern, source) for line in region.split("\n")[:-1]]
