"""``lstm-lab grade``'s machinery: each submission in a sandbox, every verdict in the grader's process.

* ``wire``: the one format between the two (JSON: numbers, strings, lists, dicts, and tensors as
  dtype, shape and base64 bytes); it cannot carry code, and what comes back is rebuilt as plain
  ``torch.Tensor``.
* ``runner``: the program inside the sandbox. It runs the notebook's cells (the instructor's and
  the student's, never a test cell) and answers calls of the student's functions.
* ``sandbox``: starts the runner under bubblewrap (or, with ``--unsandboxed``, as a bare process),
  with rlimits and time limits, and ends its whole process tree.
* ``remote``: the grader's side: the student's names as proxies, and the instructor's test cells
  run with the real checks in this process.
"""
