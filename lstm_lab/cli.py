"""The ``lstm-lab`` command (also ``python -m lstm_lab.cli``).

    lstm-lab student notebooks/exercises --out release/
    lstm-lab student notebooks/exercises/01_rnn_step.ipynb --out release/ --force
    lstm-lab student notebooks --out student --force   the whole course's student edition
    lstm-lab answer rnn_step                           a reference answer, once you have tried
    lstm-lab grade submitted/ --out grades/            grades.csv and a feedback file per student
    lstm-lab grade submitted/ --out g1/ --shard 1/2    one half of the class (merge-grades g1 g2 --out grades/)

``answer`` and ``grade`` read the instructor edition (notebooks/), which a wheel does not hold:
they find the course from the current folder (or one above it), from --course DIR, or, in a
clone, around the package.

``student`` writes the student version of each solution notebook: solutions replaced by a
stub that names the exercise, hidden tests removed, outputs cleared, nbgrader's metadata and
checksums in place. Everything is checked before anything is written: on any problem it
writes nothing and says what is wrong with every file.
"""

from __future__ import annotations

import argparse
import sys

# The tools import torch and nbformat only inside the command that needs them: `lstm-lab --help`
# must answer at once.
STUBS = ("named", "nbgrader")  # student.STUBS (a test keeps the two the same)
COURSE_HELP = ("the course folder, holding notebooks/exercises/ (default: the current folder or the nearest "
               "one above it that holds it)")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lstm-lab", description="lstm_lab's tools for instructors.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    student = commands.add_parser(
        "student", help="write student versions of solution notebooks",
        description="Write the student version of each solution notebook (nbgrader syntax) into --out.")
    student.add_argument("sources", nargs="+", metavar="SRC", help="solution notebooks, or folders of them")
    student.add_argument("--out", required=True, metavar="DIR", help="folder for the student notebooks")
    student.add_argument("--force", action="store_true", help="overwrite student notebooks that exist already")
    student.add_argument("--stub", choices=STUBS, default="named",
                         help="'named' (default): the stub's NotImplementedError names the exercise; "
                              "'nbgrader': nbgrader's own stub, byte for byte what nbgrader writes")
    answer = commands.add_parser(
        "answer", help="show an exercise's reference answer, after you have tried it",
        description="Print the reference answer of an exercise from the instructor edition (notebooks/). "
                    "It refuses while your copy in student/ still holds the stub: try first.")
    answer.add_argument("name", nargs="?", help="the exercise (the name its stub raises); none: list them")
    answer.add_argument("--anyway", action="store_true", help="show it even if you have not tried yet")
    answer.add_argument("--course", metavar="DIR", help=COURSE_HELP)
    grade = commands.add_parser(
        "grade", help="grade submitted notebooks with their hidden tests (no nbgrader needed)",
        description="Run every student's submitted exercise notebooks, each in a sandbox of its own, with the "
                    "instructor's tests (hidden ones included) run in this process, and write grades.csv (student x "
                    "exercise: points and the diagnosed mistake), feedback/<student>.txt and grades.json into --out.")
    grade.add_argument("submissions", metavar="SUBMISSIONS", help="a folder holding a folder per student")
    grade.add_argument("--out", required=True, metavar="DIR", help="folder for grades.csv and feedback/")
    grade.add_argument("--source", metavar="PATH",
                       help="the solution notebooks: a folder of them or one notebook (a course notebook such as "
                            "notebooks/07_variable_length.ipynb; default: notebooks/exercises of the course)")
    grade.add_argument("--course", metavar="DIR", help=COURSE_HELP)
    grade.add_argument("--force", action="store_true", help="overwrite an existing grades.csv")
    grade.add_argument("--timeout", type=_seconds, default=120, metavar="S",
                       help="seconds a cell, or one call of a student's function, may run (default 120)")
    grade.add_argument("--notebook-timeout", type=_seconds, default=600, metavar="S",
                       help="seconds a whole notebook may run; past it the notebook scores 0 (default 600)")
    grade.add_argument("--memory", type=_gigabytes, default=4.0, metavar="GB",
                       help="memory (address space) of a notebook's process, in GB (default 4)")
    grade.add_argument("--jobs", type=_count, default=None, metavar="N",
                       help="notebooks graded at once (default: the number of cores)")
    grade.add_argument("--shard", metavar="K/N", help="grade only shard K of N of the students (split by a hash of "
                                                      "their folder names); merge the shards with merge-grades")
    grade.add_argument("--unsandboxed", action="store_true",
                       help="grade without a sandbox where none can be made (macOS, Windows, no bubblewrap): the "
                            "students' code can then read and change your files and reach the network")
    merge = commands.add_parser(
        "merge-grades", help="one grades table from the outputs of grade --shard K/N",
        description="Merge the --out folders of `lstm-lab grade --shard K/N` (every K of one N) into the table, "
                    "feedback files and grades.json that one run over the whole class writes.")
    merge.add_argument("shards", nargs="+", metavar="SHARD_OUT", help="the --out folder of each shard")
    merge.add_argument("--out", required=True, metavar="DIR", help="folder for the merged grades.csv and feedback/")
    merge.add_argument("--force", action="store_true", help="overwrite an existing grades.csv")
    return parser


def _positive(kind, text: str, what: str) -> float:
    try:
        value = kind(text)
    except ValueError:
        value = None
    if value is None or value <= 0:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
    return value


def _seconds(text: str) -> float:
    return _positive(float, text, "a number of seconds above 0")


def _gigabytes(text: str) -> float:
    return _positive(float, text, "a number of gigabytes above 0 (4, 0.5)")


def _count(text: str) -> int:
    return int(_positive(int, text, "a whole number above 0"))


def _refused(command: str, error) -> int:
    print(f"lstm-lab {command}: nothing graded:", file=sys.stderr)
    for line in str(error).splitlines():
        print(f"  {line}", file=sys.stderr)
    return 1


def _grade(args) -> int:
    from .grade import GradingError, could_not_grade, grade

    if args.unsandboxed:
        print("lstm-lab grade: --unsandboxed: each notebook runs as a bare process of yours; a submission can read "
              "and change your files, see the others' and reach the network", file=sys.stderr)
    try:
        grades = grade(args.submissions, args.out, sources=args.source, course=args.course, force=args.force,
                       timeout=args.timeout, notebook_timeout=args.notebook_timeout,
                       memory=int(args.memory * 2**30), jobs=args.jobs, shard=args.shard,
                       unsandboxed=args.unsandboxed, progress=lambda line: print(line, file=sys.stderr, flush=True))
    except GradingError as error:
        return _refused("grade", error)
    students = list(dict.fromkeys(g.student for g in grades))
    for student in students:
        mine = [g for g in grades if g.student == student]
        print(f"{student}: {sum(g.points for g in mine):g} of {sum(g.max_points for g in mine):g}")
    failed = could_not_grade(grades)
    if failed:
        print(f"could not grade {len(failed)} notebook(s) (each scored 0, the reason in grades.csv):")
        for line in failed:
            print(f"  {line}")
    print(f"wrote {args.out}/grades.csv and {len(students)} feedback file(s) in {args.out}/feedback/")
    return 0


def _merge(args) -> int:
    from .grade import GradingError, merge

    try:
        rows = merge(args.shards, args.out, force=args.force)
    except GradingError as error:
        return _refused("merge-grades", error)
    print(f"wrote {args.out}/grades.csv: {len(rows)} rows from {len(args.shards)} shards")
    return 0


def _answer(args) -> int:
    from .student import CourseNotFound, NotTriedYet, all_exercises, find_course, reference_answer

    try:
        course = find_course(args.course)
    except CourseNotFound as error:
        print(f"lstm-lab answer: {error}", file=sys.stderr)
        return 1
    if args.name is None:
        for name, path in all_exercises(course / "notebooks"):
            print(f"{name:32s} {path.relative_to(course)}")
        return 0
    try:
        found = reference_answer(args.name, instructor=course / "notebooks", student=course / "student",
                                 anyway=args.anyway)
    except NotTriedYet as error:
        print(f"lstm-lab answer: {error}", file=sys.stderr)
        return 1
    except LookupError as error:
        print(f"lstm-lab answer: {error.args[0]}", file=sys.stderr)
        return 2
    for path, source in found:
        print(f"# {args.name}: the reference answer in {path.relative_to(course)}\n{source}\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "answer":
        return _answer(args)
    if args.command == "grade":
        return _grade(args)
    if args.command == "merge-grades":
        return _merge(args)
    if args.command != "student":
        parser.print_help(sys.stderr)
        return 2
    from .student import StudentVersionError, make_student_versions

    try:
        written = make_student_versions(args.sources, args.out, force=args.force, stub=args.stub)
    except StudentVersionError as error:
        print("lstm-lab student: nothing written:", file=sys.stderr)
        for line in str(error).splitlines():
            print(f"  {line}", file=sys.stderr)
        return 1
    for item in written:
        if not item.exercises:
            print(f"{item.target}  (a page without exercises: outputs cleared)")
            continue
        print(f"{item.target}  ({len(item.exercises)} exercise{'s' * (len(item.exercises) != 1)}: "
              f"{', '.join(item.exercises)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
