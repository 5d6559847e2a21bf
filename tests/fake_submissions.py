"""Fake submissions of exercise 01 (rnn_step), one per kind of student, for the grading tests
(``lstm-lab grade`` and nbgrader must give each the same points)."""

from pathlib import Path

import nbformat

from lstm_lab import student

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "exercises" / "01_rnn_step.ipynb"
STUB = 'raise NotImplementedError("rnn_step: not implemented yet")'

BODIES = {
    "correct": "return torch.tanh(x @ weight_ih.T + bias_ih + h_prev @ weight_hh.T + bias_hh)",
    "wrong": "return torch.tanh(x @ weight_ih.T + bias_ih + h_prev @ weight_hh + bias_hh)",  # W_hh without .T
    "raising": "raise RuntimeError('I ran out of time')",
    "shortcut": "return torch.rnn_tanh_cell(x, h_prev, weight_ih, weight_hh, bias_ih, bias_hh)",
    # right on the cases a student sees (batches of 1, 4 and 2), wrong on a hidden one (batch 3, hidden size 2)
    "hidden_only": "h = torch.tanh(x @ weight_ih.T + bias_ih + h_prev @ weight_hh.T + bias_hh)\n"
                   "    return h + 0.5 * h[:1] if x.shape[0] == 3 and h.shape[1] == 2 else h",
    # right, but it writes to stderr: nbgrader scores a test cell with stderr output 0, and so does lstm-lab grade
    "stderr": "print('checking my shapes', file=__import__('sys').stderr)\n"
              "    return torch.tanh(x @ weight_ih.T + bias_ih + h_prev @ weight_hh.T + bias_hh)",
}
POINTS = {"correct": "all", "wrong": 0, "raising": 0, "shortcut": 0, "hidden_only": 0, "stderr": 0}


def submission(kind: str, stub: str = "named") -> nbformat.NotebookNode:
    """The student version of exercise 01 with this kind of student's answer in it."""
    nb = student.student_version(nbformat.read(NOTEBOOK, as_version=4), stub=stub)
    stub_line = STUB if stub == "named" else "raise NotImplementedError()"
    for cell in nb.cells:
        if student.is_solution(cell):
            assert stub_line in cell.source
            cell.source = cell.source.replace(stub_line, BODIES[kind])
    return nb


def max_points(source=NOTEBOOK) -> float:
    nb = nbformat.read(source, as_version=4)
    return sum(float(c.metadata["nbgrader"]["points"]) for c in nb.cells if student.is_grade(c))


def nbgrader_layout(kind: str) -> Path:
    """nbgrader's submitted/<student>/<assignment>/ layout (the assignment is called "exercises")."""
    return Path(kind) / "exercises"


def write_submissions(folder: Path, layout=lambda kind: Path(kind), stub: str = "named", kinds=None) -> None:
    """One notebook per kind of student. tests/test_grade.py grades with ``lstm-lab grade`` and
    tests/test_nbgrader_peer.py with nbgrader the very same submissions (nbgrader's layout and stub), and
    both require POINTS."""
    for kind in kinds or BODIES:
        target = folder / layout(kind) / NOTEBOOK.name
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(submission(kind, stub), target)


def write_class(folder: Path, size: int = 30) -> None:
    """A class of ``size`` students, each submitting all five assignments: the reference answers (a student
    who got everything right), the student edition's stubs (nothing done), or exercise 01 as one of the
    kinds above (the rest right); for measuring how long a class takes to grade."""
    exercises = sorted(NOTEBOOK.parent.glob("*.ipynb"))
    kinds = list(BODIES)
    for k in range(size):
        target = folder / f"student{k + 1:03d}"
        target.mkdir(parents=True, exist_ok=True)
        for path in exercises:
            source = nbformat.read(path, as_version=4)
            if k % 3 == 1:
                nb = student.student_version(source)
            elif path == NOTEBOOK and k % 3 == 2:
                nb = submission(kinds[k % len(kinds)])
            else:
                nb = student.student_version(source)
                answers = {c.metadata["nbgrader"]["grade_id"]: c.source for c in source.cells if student.is_solution(c)}
                for cell in nb.cells:
                    if student.is_solution(cell):
                        cell.source = answers[cell.metadata["nbgrader"]["grade_id"]]
            nbformat.write(nb, target / path.name)


# ---------------------------------------------------------------- planted submissions: students who try to cheat or harm
# Each is the source of exercise 01's solution cell (it replaces the whole cell). @NOTEBOOK@, @PACKAGE@, @PORT@
# are filled in by the test (plant). RIGHT defines a correct rnn_step; NOT_DONE one that is not done.
RIGHT = f"def rnn_step(x, h_prev, weight_ih, weight_hh, bias_ih, bias_hh):\n    {BODIES['correct']}\n"
NOT_DONE = "def rnn_step(x, h_prev, weight_ih, weight_hh, bias_ih, bias_hh):\n    raise NotImplementedError()\n"
PLANTED = {  # name: (cell source, the points its honest work earns)
    "rebound_check": (NOT_DONE + "class Passed:\n    def assert_ok(self):\n        pass\n"
                      "def check_rnn_step(*args, **kwargs):\n    return Passed()\n"
                      "globals()['check_rnn_step'] = check_rnn_step\n", 0),
    "patched_assert_ok": (NOT_DONE + "import lstm_lab.checks.core as core\ncore.Feedback.assert_ok = lambda self: None\n"
                          "core.verdict.__globals__['grading'] = lambda: False\n", 0),
    "patched_compare": (NOT_DONE + "import lstm_lab.checks.core as core, lstm_lab.checks.diagnose as diagnose\n"
                        "ok = lambda *a, **k: core.Feedback('rnn_step', True, [])\n"
                        "core.compare = diagnose.compare = ok\n"
                        "diagnose.run_check = lambda *a, **k: core.Feedback('rnn_step', True, [])\n", 0),
    "input_transformer": (NOT_DONE + "get_ipython().input_transformers_post.append(\n"
                          "    lambda lines: [line for line in lines if 'assert_ok' not in line])\n", 0),
    "tensor_subclass": ("import torch\n"
                        "class Agreeable(torch.Tensor):\n"
                        "    @classmethod\n"
                        "    def __torch_function__(cls, func, types, args=(), kwargs=None):\n"
                        "        if func.__name__ in ('__sub__', 'sub', 'abs', '__gt__', 'gt', 'le', '__le__'):\n"
                        "            return torch.zeros(()).as_subclass(torch.Tensor) if 'sub' in func.__name__ "
                        "else torch.tensor(False if 'gt' in func.__name__ else True)\n"
                        "        return super().__torch_function__(func, types, args, kwargs or {})\n"
                        "def rnn_step(x, h_prev, weight_ih, weight_hh, bias_ih, bias_hh):\n"
                        "    return torch.zeros(x.shape[0], weight_hh.shape[0], dtype=x.dtype).as_subclass(Agreeable)\n",
                        0),
    "silenced_tracebacks": (NOT_DONE + "ip = get_ipython()\nip.showtraceback = lambda *a, **k: None\n"
                            "ip.set_custom_exc((BaseException,), lambda *a, **k: None)\n", 0),
    "exec_from_disk": ("import json, os\n"
                       "def rnn_step(x, h_prev, weight_ih, weight_hh, bias_ih, bias_hh):\n"
                       "    for path in ['01_rnn_step.ipynb', '../01_rnn_step.ipynb', @NOTEBOOK@]:\n"
                       "        if os.path.exists(path):\n"
                       "            for cell in json.load(open(path))['cells']:\n"
                       "                if 'BEGIN SOLUTION' in ''.join(cell['source']):\n"
                       "                    scope = {'torch': __import__('torch')}\n"
                       "                    exec(''.join(cell['source']), scope)\n"
                       "                    return scope['rnn_step'](x, h_prev, weight_ih, weight_hh, bias_ih, bias_hh)\n"
                       "    raise RuntimeError('no solution on disk')\n", 0),
    "hidden_tests_leaked": ("import os\n"
                            "def rnn_step(*args):\n"
                            "    found = []\n"
                            "    for root, dirs, files in os.walk('/'):\n"
                            "        dirs[:] = [d for d in dirs if d not in ('proc', 'sys', 'dev', 'usr', 'site-packages', 'lib')]\n"
                            "        for name in files:\n"
                            "            if name.endswith('.ipynb'):\n"
                            "                try:\n"
                            "                    found.append(open(os.path.join(root, name)).read())\n"
                            "                except OSError:\n"
                            "                    pass\n"
                            "    raise RuntimeError('LEAK ' + ' '.join(found))\n", 0),
    "classmate": ("import os, json\n"
                  "def rnn_step(x, h_prev, weight_ih, weight_hh, bias_ih, bias_hh):\n"
                  "    seen = []\n"
                  "    for pid in os.listdir('/proc'):\n"
                  "        try:\n"
                  "            seen.append(open(f'/proc/{pid}/cmdline').read().replace(chr(0), ' '))\n"
                  "        except OSError:\n"
                  "            pass\n"
                  "    for root, dirs, files in os.walk('/'):\n"
                  "        dirs[:] = [d for d in dirs if d not in ('proc', 'sys', 'dev', 'usr', 'site-packages', 'lib')]\n"
                  "        for name in files:\n"
                  "            path = os.path.join(root, name)\n"
                  "            if name.endswith('.ipynb') and not path.startswith('/submission/'):  # not its own\n"
                  "                try:\n"
                  "                    for cell in json.load(open(path))['cells']:\n"
                  "                        if 'def rnn_step' in ''.join(cell['source']):\n"
                  "                            scope = {'torch': __import__('torch')}\n"
                  "                            exec(''.join(cell['source']), scope)\n"
                  "                            return scope['rnn_step'](x, h_prev, weight_ih, weight_hh, bias_ih, "
                  "bias_hh)\n"
                  "                except Exception:\n"
                  "                    pass\n"
                  "    raise RuntimeError('no classmate found; processes seen: ' + ' | '.join(seen))\n", 0),
    "rewrites_instructor_files": (RIGHT + "import os\n"
                                  "for path, text in [(@NOTEBOOK@, '{}'), (@PACKAGE@ + '/checks/planted.py', 'x'),\n"
                                  "                   (@PACKAGE@ + '/checks/core.py', 'broken'),\n"
                                  "                   ('/opt/lstm_lab/lstm_lab/checks/planted.py', 'x')]:\n"
                                  "    try:\n"
                                  "        open(path, 'w').write(text)\n"
                                  "    except OSError:\n"
                                  "        pass\n", 1),
    "lingering_process": (RIGHT + "import subprocess, sys\n"
                          "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(4242.25)'], "
                          "start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n", 1),
    "network": (RIGHT + "import socket\n"
                "try:\n"
                "    socket.create_connection(('127.0.0.1', @PORT@), timeout=2).sendall(b'the solutions, please')\n"
                "except OSError:\n"
                "    pass\n", 1),
    "infinite_loop": ("while True:\n    pass\n" + RIGHT, 0),
    "ignores_interrupt": (RIGHT + "import signal\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\nwhile True:\n    pass\n",
                          0),
    "memory_bomb": (RIGHT + "import torch\nhog = torch.ones(2**30, dtype=torch.float64)\n", 1),
    "os_exit": (RIGHT + "import os\nos._exit(3)\n", 0),
    "sigkill": (RIGHT + "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n", 0),
    "system_exit": ("import sys\ndef rnn_step(*args):\n    sys.exit(0)\n", 0),
    "formula_exception": ("def rnn_step(*args):\n"
                          "    raise type('=HYPERLINK(\"http://evil\",\"x\")', (Exception,), {})('=1+1')\n", 0),
    "huge_message": ("def rnn_step(*args):\n    raise RuntimeError('x' * 50_000_000)\n", 0),
}


def plant(source: str, notebook: Path, package: Path, port: int) -> str:
    """A planted cell's source with the paths it goes for and the port it calls filled in."""
    return source.replace("@NOTEBOOK@", repr(str(notebook))).replace("@PACKAGE@", repr(str(package))) \
        .replace("@PORT@", str(port))


def planted_submission(source: str) -> nbformat.NotebookNode:
    """The student version of exercise 01 with ``source`` as its solution cell."""
    nb = student.student_version(nbformat.read(NOTEBOOK, as_version=4))
    for cell in nb.cells:
        if student.is_solution(cell):
            cell.source = source
    return nb
