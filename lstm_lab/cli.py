"""The ``lstm-lab`` command (also ``python -m lstm_lab.cli``).

    lstm-lab student notebooks/exercises --out release/
    lstm-lab student notebooks/exercises/01_rnn_step.ipynb --out release/ --force
    lstm-lab student notebooks --out student --force   the whole course's student edition
    lstm-lab answer rnn_step                           a reference answer, once you have tried

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
    return parser


def _answer(args) -> int:
    from .student import REPOSITORY, NotTriedYet, all_exercises, reference_answer

    if args.name is None:
        for name, path in all_exercises():
            print(f"{name:32s} {path.relative_to(REPOSITORY)}")
        return 0
    try:
        found = reference_answer(args.name, anyway=args.anyway)
    except NotTriedYet as error:
        print(f"lstm-lab answer: {error}", file=sys.stderr)
        return 1
    except LookupError as error:
        print(f"lstm-lab answer: {error.args[0]}", file=sys.stderr)
        return 2
    for path, source in found:
        print(f"# {args.name}: the reference answer in {path.relative_to(REPOSITORY)}\n{source}\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "answer":
        return _answer(args)
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
