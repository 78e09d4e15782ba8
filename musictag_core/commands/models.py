"""``models``: list the models ``tag`` can use (shipped and finished runs)."""

from __future__ import annotations

import argparse
import json

from . import add_output_options

__all__ = ["model_info", "register", "run"]


def register(sub: argparse._SubParsersAction) -> None:
    """Add the subcommand's parser to ``sub``."""
    p = sub.add_parser("models", help="list the models available for tagging")
    add_output_options(p)
    p.add_argument("--runs-dir", default=None, help="folder of training runs (default: $MUSICTAG_RUNS or ./runs)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the subcommand; return its exit code."""
    from ..models.loading import list_models

    entries = list_models(runs_dir=args.runs_dir)
    for e in entries:
        info = model_info(e)
        if args.json:
            print(json.dumps(info))
        else:
            print(
                f"{e.name:<24} {e.source:<8} {info['format'] or '?':<14} "
                f"{info['n_labels']} labels, {info['n_genres']} genres, {info['sr']} Hz"
            )
    if not entries and not args.json:
        print("no models found (assets/models is empty and no finished runs)")
    return 0


def model_info(entry) -> dict:  # noqa: ANN001 - a models.loading.ModelEntry
    """One model's listing row (``musictag models --json`` and ``GET /v1/models``).

    Keys: ``name``, ``source`` (shipped or run), ``path``, ``format``, ``architecture``,
    ``n_labels``, ``n_genres``, ``sr``, ``licence``.
    """
    card = entry.card
    return {
        "name": entry.name,
        "source": entry.source,
        "path": entry.path,
        "format": card.get("format"),
        "architecture": card.get("architecture"),
        "n_labels": len(card.get("labels") or []),
        "n_genres": len(card.get("genres") or []),
        "sr": card.get("sr"),
        "licence": card.get("licence"),
    }
