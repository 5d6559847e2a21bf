"""Start the runner for one notebook in a sandbox, talk to it, and end its whole process tree.

On Linux with bubblewrap (Debian's ``bubblewrap`` package: ``bwrap``, no daemon, user namespaces)
the runner sees:

* read-only: the system's ``/usr`` (and its ``/lib``, ``/bin`` links), the Python installation and
  environment the grader runs in, and a copy-free read-only view of the ``lstm_lab`` package at
  ``/opt/lstm_lab/lstm_lab`` (the package only: not the course folder around it);
* read-write: ``/submission`` (its working folder, holding a read-only copy of this one notebook) and
  ``/tmp``, both private memory-backed folders of at most 256 MB;
* a pid namespace of its own (``/proc`` shows only its processes), no network (a namespace with
  only its own loopback), an unprivileged user (65534), a new session, and
  ``--die-with-parent``: when the grader ends it (or dies), every process in it ends.

Not visible: the solution notebooks and hidden tests, the other submissions, the output folder,
the instructor's home and files, the grader's own process. Limits: address space
(``RLIMIT_AS``), CPU seconds, file size, no core files, a time limit per cell and per call (inside)
and per notebook (enforced here: past it the tree is killed).

Without bwrap (macOS, Windows, or not installed) ``Sandbox(sandboxed=False)`` runs the same runner
as a bare process in its own session and temporary folder with the same rlimits: it can then read
and write whatever the grader's user can, and reach the network. ``lstm-lab grade`` only does that
when told ``--unsandboxed``.
"""

from __future__ import annotations

import collections
import os
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from .wire import WireError, dumps, loads

MAX_MESSAGE = 64 * 2**20  # bytes of one answer from the runner
PACKAGE = Path(__file__).resolve().parents[1]  # lstm_lab/
INSIDE_PACKAGE = "/opt/lstm_lab"
INSIDE_SUBMISSION = "/submission"
NOBODY = "65534"
FOLDER_SIZE = 256 * 2**20  # bytes the sandbox may write into /submission, and into /tmp
NOTEBOOK_COPY = "submission.ipynb"


class SandboxGone(BaseException):
    """The runner is gone or broke the protocol: the notebook cannot be graded further.

    A BaseException, so that no check's ``except Exception`` takes it for the student's error."""


class NoSandbox(RuntimeError):
    """No sandbox can be made here; the message says why and what to do."""


def bwrap() -> str | None:
    return shutil.which("bwrap") if sys.platform.startswith("linux") else None


def why_no_sandbox() -> str | None:
    """None when bubblewrap can make a sandbox here, else why not."""
    if not sys.platform.startswith("linux"):
        return f"a grading sandbox needs Linux (bubblewrap); this is {sys.platform}"
    found = bwrap()
    if found is None:
        return "bubblewrap (bwrap) is not installed: `sudo apt-get install -y bubblewrap` (Debian/Ubuntu)"
    probe = subprocess.run([found, "--unshare-all", "--unshare-user", "--die-with-parent", "--ro-bind", "/", "/",
                            "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        return f"bubblewrap cannot make a sandbox here (user namespaces off?): {probe.stderr.strip()[:300]}"
    return None


def _python_roots(private: tuple = ()) -> list[str]:
    """The folders Python and its packages live in (bound read-only inside; /usr is bound already): the
    installation and environment, and the library folders on ``sys.path`` (a ``.pth`` file may add one; never a
    folder of the instructor's such as the current one, which ``python -m`` puts first). A folder that
    holds one of ``private`` (the solution notebooks, the submissions, the output) or the course's notebooks is
    left out when it is only on ``sys.path`` (the course folder on PYTHONPATH: lstm_lab is bound on its own), and
    refused when Python itself lives there (NoSandbox says so)."""
    course = Path(os.path.realpath(PACKAGE.parent), "notebooks")  # in a clone, the instructor edition beside the package
    hidden = [Path(os.path.realpath(p)) for p in private] + ([course] if course.exists() else [])

    def holds_hidden(folder: str) -> bool:
        real = Path(os.path.realpath(folder))
        return str(real) == "/" or any(h.is_relative_to(real) or real.is_relative_to(h) for h in hidden)

    def system(folder: str) -> bool:
        return folder == "/usr" or folder.startswith("/usr/")

    needed = {os.path.abspath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
                                           os.path.dirname(os.path.realpath(sys.executable)))}
    for folder in sorted(needed):
        if not system(os.path.realpath(folder)) and holds_hidden(folder):
            raise NoSandbox(f"the Python environment at {folder} holds the course, submissions or output folder: the "
                            "sandbox cannot show the one without the other. Grade from an environment outside them "
                            "(or install lstm_lab there: pip install .)")
    def library(folder: str) -> bool:  # not the folder the grader was started from (sys.path[0] under python -m)
        parts = Path(folder).parts
        return "site-packages" in parts or "dist-packages" in parts or any(
            folder.startswith(n.rstrip("/") + "/") for n in needed)

    found = needed | {os.path.abspath(p) for p in sys.path
                      if p and os.path.isdir(p) and library(os.path.abspath(p)) and not holds_hidden(p)}
    found = {f for f in found if not system(f) and not system(os.path.realpath(f))}
    return sorted(f for f in found if not any(f != o and f.startswith(o.rstrip("/") + "/") for o in found))


def _environment(cwd: str, package_parent: str, timeout: float) -> dict[str, str]:
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": cwd, "LANG": "C.UTF-8", "PYTHONPATH": package_parent,
           "PYTHONNOUSERSITE": "1", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0", "OMP_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1", "MALLOC_ARENA_MAX": "2", "MPLBACKEND": "Agg", "MPLCONFIGDIR": f"{cwd}/.matplotlib",
           "NBGRADER_EXECUTION": "autograde", "LSTM_LAB_CELL_TIMEOUT": f"{timeout:g}"}
    return env


def _limits(memory: int, cpu: int):
    def apply():
        import resource
        for kind, value in ((resource.RLIMIT_AS, memory), (resource.RLIMIT_CPU, cpu),
                            (resource.RLIMIT_FSIZE, 256 * 2**20), (resource.RLIMIT_CORE, 0)):
            resource.setrlimit(kind, (value, value))
    return apply


def bwrap_command(private: str, environment: dict[str, str], hidden: tuple = ()) -> list[str]:
    # the private folders first: a Python environment under /tmp is then bound on top of the empty /tmp
    command = [bwrap(), "--unshare-all", "--unshare-user", "--uid", NOBODY, "--gid", NOBODY, "--die-with-parent",
               "--new-session", "--size", str(FOLDER_SIZE), "--tmpfs", "/tmp",
               "--size", str(FOLDER_SIZE), "--perms", "0700", "--tmpfs", INSIDE_SUBMISSION, "--ro-bind", "/usr", "/usr"]
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        path = Path("/") / name
        if path.is_symlink():
            command += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            command += ["--ro-bind", str(path), str(path)]
    for path in ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime", "/etc/alternatives"):
        command += ["--ro-bind-try", path, path]
    for root in _python_roots(hidden):
        command += ["--ro-bind", root, root]
    command += ["--ro-bind", str(PACKAGE), f"{INSIDE_PACKAGE}/lstm_lab",
                "--proc", "/proc", "--dev", "/dev"]
    if Path(private, NOTEBOOK_COPY).exists():
        command += ["--ro-bind", str(Path(private, NOTEBOOK_COPY)), f"{INSIDE_SUBMISSION}/{NOTEBOOK_COPY}"]
    command += ["--chdir", INSIDE_SUBMISSION, "--clearenv"]
    for key, value in environment.items():
        command += ["--setenv", key, value]
    return command + [sys.executable, "-m", "lstm_lab.grading.runner"]


class Sandbox:
    """One runner for one notebook. ``request`` sends a message and waits for the answer until
    ``deadline`` (time.monotonic()); ``close`` ends every process of it and removes its folder."""

    def __init__(self, notebook: Path | None, *, sandboxed: bool = True, cell_timeout: float = 120,
                 notebook_timeout: float = 600, memory: int = 4 * 2**30, hidden: tuple = ()):
        self.cell_timeout, self.notebook_timeout = cell_timeout, notebook_timeout
        self.deadline = time.monotonic() + notebook_timeout
        self.private = tempfile.mkdtemp(prefix="lstm-lab-grade-")
        try:
            if notebook is not None:
                shutil.copyfile(notebook, Path(self.private) / NOTEBOOK_COPY)
            cpu = int(max(self.deadline - time.monotonic(), 1)) + 10
            if sandboxed:
                if bwrap() is None:
                    raise NoSandbox(why_no_sandbox() or "no bwrap")
                environment = _environment(INSIDE_SUBMISSION, INSIDE_PACKAGE, cell_timeout)
                command, cwd = bwrap_command(self.private, environment, hidden), self.private
                environment = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
            else:
                environment = _environment(self.private, str(PACKAGE.parent), cell_timeout)
                command, cwd = [sys.executable, "-m", "lstm_lab.grading.runner"], self.private
            self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                            stderr=subprocess.PIPE, cwd=cwd, env=environment,
                                            start_new_session=os.name == "posix",
                                            preexec_fn=_limits(memory, cpu) if os.name == "posix" else None)
            self._buffer, self.gone = b"", None
            self._stderr = collections.deque(maxlen=64)
            self._drain = threading.Thread(target=self._read_stderr, daemon=True)
            self._drain.start()
            self.hello = self.receive(self.deadline, f"did not start within {notebook_timeout:g} s")
        except BaseException:  # no sandbox made: nothing of it is left behind
            if hasattr(self, "process"):
                self.close()
            shutil.rmtree(self.private, ignore_errors=True)
            raise

    def _read_stderr(self):
        for line in iter(lambda: self.process.stderr.readline(4096), b""):
            self._stderr.append(line.decode("utf-8", "replace"))

    def stderr_tail(self, lines: int = 5) -> str:
        return "".join(list(self._stderr)[-lines:]).strip()

    def _gone(self, why: str) -> SandboxGone:
        """End the sandbox; the first reason it ended is the reason from then on."""
        self.close()
        self.gone = self.gone or why
        return SandboxGone(self.gone)

    def _ended(self) -> SandboxGone:
        try:
            code = self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            code = None
        # a process killed by a signal: Popen says -N; bwrap passes on its child's death as exit status 128 + N
        number = -code if code is not None and code < 0 else code - 128 if code is not None and code > 128 else None
        try:
            how = f"killed by signal {number} ({signal.Signals(number).name})" if number else f"exit code {code}"
        except ValueError:
            how = f"exit code {code}"
        if number == signal.SIGKILL:
            how += ": out of memory, or killed"
        self._drain.join(timeout=2)
        said = self.stderr_tail(3)[-500:]
        return self._gone(f"the notebook's process ended ({how})" + (f"; its last words: {said}" if said else ""))

    def receive(self, deadline: float, late: str) -> dict:
        with selectors.DefaultSelector() as selector:
            selector.register(self.process.stdout, selectors.EVENT_READ)
            while b"\n" not in self._buffer:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise self._gone(late)
                if not selector.select(timeout=min(left, 1.0)):
                    continue
                chunk = os.read(self.process.stdout.fileno(), 1 << 20)
                if not chunk:
                    raise self._ended()
                self._buffer += chunk
                if len(self._buffer) > MAX_MESSAGE:
                    raise self._gone(f"an answer of more than {MAX_MESSAGE >> 20} MB")
        line, _, self._buffer = self._buffer.partition(b"\n")
        try:
            return loads(line)
        except WireError as error:
            raise self._gone(f"it broke the grading protocol ({error})") from None

    def request(self, message: dict, timeout: float | None = None) -> dict:
        if self.gone:
            raise SandboxGone(self.gone)
        if self.process.poll() is not None:
            raise self._ended()
        try:
            self.process.stdin.write(dumps(message))
            self.process.stdin.flush()
        except (BrokenPipeError, OSError):
            raise self._ended() from None
        late = f"ran past {self.notebook_timeout:g} s (the time limit of a notebook)"
        deadline = self.deadline
        if timeout is not None and time.monotonic() + timeout < self.deadline:
            deadline = time.monotonic() + timeout
            late = f"a cell ran past {self.cell_timeout:g} s and did not stop when interrupted"
        reply = self.receive(deadline, late)
        if "failed" in reply:
            raise self._gone(f"the runner could not do what it was asked: {str(reply['failed'])[:300]}")
        return reply

    def close(self) -> None:
        if self.process.poll() is None and hasattr(os, "killpg"):
            try:
                os.killpg(self.process.pid, signal.SIGKILL)  # its session: bwrap, or the bare runner and children
            except (ProcessLookupError, PermissionError):
                pass
        if self.process.poll() is None:
            self.process.kill()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        for stream in (self.process.stdin, self.process.stdout):
            try:
                stream.close()
            except OSError:
                pass
        shutil.rmtree(self.private, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
