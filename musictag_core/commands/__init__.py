"""Subcommands of ``python -m musictag_core``.

Each module here defines ``register(subparsers)``, which adds its subparser and
sets ``func`` to a handler ``(args) -> int`` returning the exit code.
:data:`COMMAND_MODULES` lists them in the order ``--help`` shows them.

One output convention for every command (:func:`add_output_options`): plain text
by default, ``--json`` for JSON (one object per line), and ``--csv`` where a
table fits. Exit codes: 0 ok, 1 some inputs failed, 2 bad arguments or configuration.
"""

from __future__ import annotations

import argparse

__all__ = ["COMMAND_MODULES", "add_output_options", "add_column_options", "add_audio_options", "column_names"]


def add_output_options(parser: argparse.ArgumentParser, *, csv: bool = False) -> argparse._MutuallyExclusiveGroup:
    """Add ``--json`` (and ``--csv``) to a subcommand, as one mutually exclusive group.

    Parameters
    ----------
    parser : argparse.ArgumentParser
    csv : bool
        Also offer ``--csv`` (commands whose output is a table).

    Returns
    -------
    argparse._MutuallyExclusiveGroup
        The group, so a command can add an alias (``tag --format``).
    """
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--json", action="store_true", help="JSON output, one object per line")
    if csv:
        group.add_argument("--csv", action="store_true", help="CSV output, one row per item")
    return group

COMMAND_MODULES: list[str] = [
    "info",
    "extract",
    "tag",
    "models",
    "pretrained",
    "demo",
    "train",
    "explore",
    "index",
    "similar",
    "search_text",
    "dataset",
    "robustness",
    "explain",
    "transfer_compare",
]


def add_column_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--keep-columns`` / ``--drop-columns`` (feature tables: override the column rule)."""
    parser.add_argument("--keep-columns", metavar="A,B", type=column_names, default=(),
                        help="feature table: keep these columns as features even where the column rule excludes them")
    parser.add_argument("--drop-columns", metavar="A,B", type=column_names, default=(),
                        help="feature table: leave these columns out")


def column_names(text: str) -> tuple[str, ...]:
    """``"a, b"`` -> ``("a", "b")`` (argparse ``type=`` of the column options)."""
    names = tuple(c.strip() for c in text.split(",") if c.strip())
    if not names:
        raise argparse.ArgumentTypeError(f"expected comma-separated column names, got {text!r}")
    return names


def add_audio_options(parser: argparse.ArgumentParser, *, missing_choices: tuple[str, ...] = ("error", "skip", "keep"),
                      missing_default: str | None = None) -> None:
    """Add ``--audio-dir`` / ``--missing`` (datasets whose metadata lists audio files: FMA, MTT, MTG-Jamendo, strengths).

    ``None`` (the default of both) leaves the reader's own default: the audio beside the
    metadata, and an error naming the missing files.
    """
    parser.add_argument("--audio-dir", metavar="DIR", default=None,
                        help="FMA / MagnaTagATune / MTG-Jamendo: the folder holding the audio files the metadata lists")
    parser.add_argument("--missing", choices=missing_choices, default=missing_default,
                        help="listed audio files that do not exist: " + ", ".join(
                            {"error": "error (stop, naming them)", "skip": "skip (leave those tracks out)",
                             "keep": "keep (list them anyway)"}[c] for c in missing_choices)
                        + (f" (default {missing_default})" if missing_default else " (default error)"))
