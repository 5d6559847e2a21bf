"""Planted submissions: students who try to cheat or to harm the class, graded with `lstm-lab grade` in one
sandboxed class run (one module fixture). Each gets only what its own honest work earns, with a diagnosis
that says what happened; every other student's row, the instructor's files and the package stay as they were."""

import csv
import hashlib
import os
import socket
import threading
from pathlib import Path

import nbformat
import pytest

from fake_submissions import NOTEBOOK, PLANTED, RIGHT, plant, planted_submission
from lstm_lab import grade
from test_student import run_cli

PACKAGE = Path(grade.__file__).resolve().parent
ODD_NAMES = ["with space", "ünïcödé", "...", ".hidden", "=1+1", "-2+3", "@SUM(A1)"]
pytestmark = pytest.mark.skipif(grade.why_no_sandbox() is not None, reason=f"no sandbox: {grade.why_no_sandbox()}")


def fingerprint(folder: Path) -> dict:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and "__pycache__" not in p.parts}


class Listener:
    """A local TCP port that notes every connection (the network probe must not reach it)."""

    def __init__(self):
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen()
        self.socket.settimeout(0.5)
        self.port, self.connections, self.running = self.socket.getsockname()[1], [], True
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while self.running:
            try:
                connection, _ = self.socket.accept()
                self.connections.append(connection.recv(100))
            except OSError:
                pass

    def close(self):
        self.running = False
        self.thread.join()
        self.socket.close()


def lingering() -> list[str]:
    found = []
    for pid in os.listdir("/proc"):
        try:
            if b"4242.25" in Path(f"/proc/{pid}/cmdline").read_bytes():
                found.append(pid)
        except OSError:
            pass
    return found


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    root = tmp_path_factory.mktemp("planted")
    submitted = root / "submitted"
    listener = Listener()
    for name, (source, _) in PLANTED.items():
        (submitted / name).mkdir(parents=True)
        nbformat.write(planted_submission(plant(source, NOTEBOOK, PACKAGE, listener.port)),
                       submitted / name / NOTEBOOK.name)
    for name in ["correct", *ODD_NAMES]:
        (submitted / name).mkdir(parents=True)
        nbformat.write(planted_submission(RIGHT), submitted / name / NOTEBOOK.name)
    (submitted / "invalid_json").mkdir()
    (submitted / "invalid_json" / NOTEBOOK.name).write_text('{"cells": [ this is not JSON')
    many = planted_submission(RIGHT)
    many.cells += [nbformat.v4.new_code_cell("pass") for _ in range(10_000)]
    (submitted / "ten_thousand_cells").mkdir()
    nbformat.write(many, submitted / "ten_thousand_cells" / NOTEBOOK.name)
    (submitted / "linked").mkdir()
    (submitted / "linked" / NOTEBOOK.name).symlink_to(NOTEBOOK)  # the instructor's own notebook, by a link
    (submitted / "deleted").mkdir()
    (submitted / "deleted" / NOTEBOOK.name).symlink_to(root / "gone.ipynb")
    (submitted / "notes.txt").write_text("not a student")
    before = {"sources": fingerprint(NOTEBOOK.parent), "package": fingerprint(PACKAGE)}
    result = run_cli("grade", submitted, "--out", root / "grades", "--source", NOTEBOOK.parent, "--timeout", "10",
                     "--notebook-timeout", "120", "--memory", "3", "--jobs", "2")
    listener.close()
    assert result.returncode == 0, result.stderr
    with open(root / "grades" / "grades.csv", newline="", encoding="utf-8") as f:
        table = list(csv.DictReader(f))
    rows = {r["student"]: r for r in table if r["notebook"] == NOTEBOOK.name}
    return root, result, rows, table, before, listener


def feedback(root, student):
    return (root / "grades" / "feedback" / f"{student}.txt").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", PLANTED)
def test_a_planted_submission_gets_only_what_its_honest_work_earns(planted, name):
    _, _, rows, _, _, _ = planted
    assert float(rows[name]["points"]) == PLANTED[name][1], rows[name]


def test_an_honest_student_beside_them_gets_every_point(planted):
    _, _, rows, _, _, _ = planted
    for name in ["correct", *ODD_NAMES]:
        expected = "'" + name if name[0] in "=+-@" else name
        assert rows[expected]["points"] == "1" and rows[expected]["diagnosis"] == "", rows[expected]


def test_the_diagnosis_says_what_happened(planted):
    _, result, rows, _, _, _ = planted
    says = {
        "rebound_check": "rnn_step is not implemented yet",
        "patched_assert_ok": "rnn_step is not implemented yet",
        "patched_compare": "rnn_step is not implemented yet",
        "input_transformer": "rnn_step is not implemented yet",
        "silenced_tracebacks": "rnn_step is not implemented yet",
        "tensor_subclass": "numbers differ",
        "exec_from_disk": "your function raised RuntimeError: no solution on disk",
        "classmate": "your function raised RuntimeError: no classmate found",
        "infinite_loop": "RanPastLimit: ran past 10 s",
        "ignores_interrupt": "could not be graded: a cell ran past 10 s and did not stop",
        "os_exit": "could not be graded: the notebook's process ended (exit code 3)",
        "sigkill": "could not be graded: the notebook's process ended (killed by signal 9 (SIGKILL): out of memory",
        "system_exit": "your function raised SystemExit",
        "invalid_json": "could not be graded: 01_rnn_step.ipynb is not a notebook (NotJSONError",
        "ten_thousand_cells": "cells: a submitted notebook may hold at most 2000",
        "linked": "01_rnn_step.ipynb is a symbolic link",
        "deleted": "01_rnn_step.ipynb is a symbolic link",
    }
    for name, text in says.items():
        assert text in rows[name]["diagnosis"], (name, rows[name]["diagnosis"])
    assert rows["linked"]["points"] == rows["deleted"]["points"] == "0"
    for name in ("ignores_interrupt", "os_exit", "sigkill", "invalid_json", "ten_thousand_cells", "linked"):
        assert f"{name} / {NOTEBOOK.name}: could not be graded" in result.stdout, name  # the run names each


def test_no_reference_answer_or_hidden_test_reaches_any_feedback(planted):
    root, _, _, _, _, _ = planted
    for path in (root / "grades" / "feedback").iterdir():
        text = path.read_text(encoding="utf-8")
        assert "BEGIN HIDDEN TESTS" not in text and "random_cases=6" not in text, path.name
        assert "BEGIN SOLUTION" not in text, path.name
    leaked = feedback(root, "hidden_tests_leaked")
    assert "LEAK" in leaked and "4242" not in feedback(root, "classmate")


def test_the_instructors_files_and_the_package_are_unchanged(planted):
    _, _, _, _, before, _ = planted
    assert fingerprint(NOTEBOOK.parent) == before["sources"]
    assert fingerprint(PACKAGE) == before["package"]


def test_nothing_is_left_running_and_nothing_reached_the_network(planted):
    _, _, _, _, _, listener = planted
    assert lingering() == []
    assert listener.connections == []


def test_the_table_is_safe_in_a_spreadsheet_and_bounded(planted):
    root, _, _, table, _, _ = planted
    for row in table:
        for column, value in row.items():
            assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), (column, value)
            assert len(value) <= grade.MAX_DIAGNOSIS, (column, len(value))
    assert (root / "grades" / "grades.csv").stat().st_size < 100_000
    assert len(feedback(root, "huge_message")) < 3 * grade.MAX_MESSAGE
    rows = {r["student"] for r in table}
    assert {"'=1+1", "'-2+3", "'@SUM(A1)", ".hidden", "...", "ünïcödé", "with space"} <= rows


def test_files_that_are_not_student_folders_are_named(planted):
    root, _, _, table, _, _ = planted
    assert "notes.txt" not in {r["student"] for r in table}
    assert "'notes.txt': a file, not a student's folder" in (root / "grades" / "grades.json").read_text()
