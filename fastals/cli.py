"""The ``fastals`` command (also ``python -m fastals``): implicit-feedback ALS on raw ids.

    fastals split INPUT ...      per-user train/test holdout of an interactions table
    fastals fit TRAIN ... -o M   fit ALS on raw ids; save a model file
    fastals recommend M ...      top-N items for users of the model
    fastals evaluate M TEST ...  ranking metrics, each with its definition
    fastals kuairec              the KuaiRec notebook's pipeline (`make demo`)
    fastals solvers ...          every ALS solver timed per epoch on one split
    fastals paper ...            Rendle et al. 2022's evaluation on MovieLens ratings.csv

A user mistake ends with one line on stderr, ``fastals <command>: <message>``, and exit
code 2; warnings print as one line ``fastals <command>: warning: <message>``.
"""

import argparse
import os
import sys
import warnings

from . import __version__
from .cli_demo import add_parsers as add_demo_parsers
from .cli_evaluate import add_parser as add_evaluate_parser
from .cli_fit_recommend import add_parsers as add_fit_recommend_parsers
from .cli_io import CommandError
from .cli_solvers import add_parsers as add_solver_parsers
from .cli_split import add_parser as add_split_parser

EPILOG = "Run `fastals COMMAND --help` for a command's options, each with its default."


class UsageError(Exception):
    """A mistake on the command line itself, raised by the parser (exit code 2)."""


class Parser(argparse.ArgumentParser):
    """argparse with its errors raised as one line (no usage block) instead of exiting."""

    def error(self, message):
        raise UsageError(f"{self.prog}: {message} (see `{self.prog} --help`)")


def build_parser():
    parser = Parser(
        prog="fastals",
        description="Implicit-feedback ALS on raw ids, from files as they come.\n\n"
        + __doc__.split("\n\n")[1],
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"fastals {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    add_split_parser(sub)
    add_fit_recommend_parsers(sub)
    add_evaluate_parser(sub)
    add_demo_parsers(sub)
    add_solver_parsers(sub)
    return parser


def main(argv=None):
    """Run the command in ``argv`` (default: ``sys.argv[1:]``); return its exit code."""
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv:
        parser.print_help(sys.stderr)
        return 2
    try:
        args = parser.parse_args(argv)
    except UsageError as exc:
        print(_one_line(str(exc)), file=sys.stderr)
        return 2
    except SystemExit as exc:  # --help, --version
        return exc.code or 0
    if args.command is None:  # only options such as --version were given
        parser.print_help(sys.stderr)
        return 2
    prefix = f"fastals {args.command}"
    with warnings.catch_warnings():
        warnings.simplefilter("default")
        warnings.showwarning = lambda message, *_, **__: print(
            f"{prefix}: warning: {_one_line(str(message))}", file=sys.stderr
        )
        try:
            return args.func(args)
        except CommandError as exc:
            print(f"{prefix}: {_one_line(str(exc))}", file=sys.stderr)
            return 2
        except BrokenPipeError:  # e.g. `fastals recommend ... | head`
            _silence_stdout()
            return 0
        except KeyboardInterrupt:
            print(f"{prefix}: interrupted", file=sys.stderr)
            return 130
        except Exception as exc:  # a bug, not a user mistake: still one line, exit 1
            if os.environ.get("FASTALS_TRACEBACK"):
                raise
            print(
                f"{prefix}: internal error: {type(exc).__name__}: {_one_line(str(exc))} "
                "(set FASTALS_TRACEBACK=1 for the traceback)",
                file=sys.stderr,
            )
            return 1


def _one_line(text):
    return " ".join(text.split())


def _silence_stdout():
    """Point stdout at devnull so that Python's flush at exit raises nothing more."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout is not a real file (captured in tests)
        pass
