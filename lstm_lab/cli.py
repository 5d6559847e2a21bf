"""The ``lstm-lab`` command (also ``python -m lstm_lab.cli``).

    lstm-lab student notebooks/exercises --out release/
    lstm-lab student notebooks/exercises/01_rnn_step.ipynb --out release/ --force
    lstm-lab student notebooks --out student --force   the whole course's student edition
    lstm-lab answer rnn_step                           a reference answer, once you have tried
    lstm-lab grade submitted/ --out grades/            grades.csv and a feedback file per student

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
        description="Run every student's submitted exercise notebooks inside the instructor's solution "
                    "notebooks (its tests, hidden ones included) and write grades.csv (student x exercise: "
                    "points and the diagnosed mistake) and feedback/<student>.txt into --out.")
    grade.add_argument("submissions", metavar="SUBMISSIONS", help="a folder holding a folder per student")
    grade.add_argument("--out", required=True, metavar="DIR", help="folder for grades.csv and feedback/")
    grade.add_argument("--source", metavar="PATH",
                       help="the solution notebooks: a folder of them or one notebook (a course notebook such as "
                            "notebooks/07_variable_length.ipynb; default: notebooks/exercises of the course)")
    grade.add_argument("--course", metavar="DIR", help=COURSE_HELP)
    grade.add_argument("--force", action="store_true", help="overwrite an existing grades.csv")
    grade.add_argument("--timeout", type=int, default=120, help="seconds a cell may run (default 120)")
    return parser


def _grade(args) -> int:
    from .grade import GradingError, grade

    try:
        grades = grade(args.submissions, args.out, sources=args.source, course=args.course, force=args.force,
                       timeout=args.timeout)
    except GradingError as error:
        print("lstm-lab grade: nothing graded:", file=sys.stderr)
        for line in str(error).splitlines():
            print(f"  {line}", file=sys.stderr)
        return 1
    students = list(dict.fromkeys(g.student for g in grades))
    for student in students:
        mine = [g for g in grades if g.student == student]
        print(f"{student}: {sum(g.points for g in mine):g} of {sum(g.max_points for g in mine):g}")
    print(f"wrote {args.out}/grades.csv and {len(students)} feedback file(s) in {args.out}/feedback/")
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
