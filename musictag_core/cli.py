"""The command line: ``musictag <command> ...`` (or ``python -m musictag_core <command> ...``).

Exit codes: 0 success, 1 some inputs failed (the rest were processed), 2 bad
arguments or a configuration error. Errors are one line on stderr; ``--debug``
(anywhere on the command line) prints the traceback as well.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback

from . import __version__
from .commands import COMMAND_MODULES
from .errors import DEBUG_ENV, MusictagError

__all__ = ["build_parser", "main"]


def build_parser(*, only: str | None = None) -> argparse.ArgumentParser:
    """Build the argument parser with every registered subcommand (or only the one named ``only``).

    ``main`` registers only the command on the command line when it names one, so
    ``musictag tag`` does not import the modules of every other command.
    """
    parser = argparse.ArgumentParser(
        prog="musictag",
        description="musictag: music genre tagging from the command line.",
    )
    parser.add_argument("--version", action="version", version=f"musictag {__version__}")
    parser.add_argument(
        "--debug", action="store_true", help="print tracebacks (accepted anywhere on the command line)"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in [only] if only in COMMAND_MODULES else COMMAND_MODULES:
        importlib.import_module(f"{__package__}.commands.{name}").register(sub)
    if only not in COMMAND_MODULES:
        importlib.import_module(f"{__package__}.api.command").register(sub)  # `serve`: the REST API
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line and return its exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    previous = os.environ.get(DEBUG_ENV)
    debug = "--debug" in argv or bool(previous)
    argv = [a for a in argv if a != "--debug"]
    if debug:
        os.environ[DEBUG_ENV] = "1"  # the training worker (a child process too) inherits it
    else:
        # TensorFlow's C++ start-up lines (CPU features, oneDNN) are not for users; --debug keeps them
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    first = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(only=first if first in COMMAND_MODULES and "-h" not in argv[:1] else None)
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except MusictagError as exc:
        if debug:
            traceback.print_exc()
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - a bug: one line for the user, the traceback on request
        if debug:
            traceback.print_exc()
        print(
            f"unexpected error (a bug in musictag, not in your input): {type(exc).__name__}: {exc}"
            + ("" if debug else "; rerun with --debug to see the traceback"),
            file=sys.stderr,
        )
        return 1
    finally:
        if debug and previous is None:
            os.environ.pop(DEBUG_ENV, None)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
