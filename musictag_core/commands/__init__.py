"""Subcommands of ``python -m musictag_core``.

Each module here defines ``register(subparsers)``, which adds its subparser and
sets ``func`` to a handler ``(args) -> int`` returning the exit code.
:data:`COMMAND_MODULES` lists them in the order ``--help`` shows them.
"""

from __future__ import annotations

__all__ = ["COMMAND_MODULES"]

COMMAND_MODULES: list[str] = [
    "info",
    "extract",
    "tag",
    "models",
    "pretrained",
    "demo",
    "train",
    "explore",
]
