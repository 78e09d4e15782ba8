"""``dataset describe DATASET [--json]``: what a dataset holds, from its metadata alone.

Prints the form detected, tracks, labels and per-label counts (at the strength
threshold, default 50), labels per track, the splits, artists (when known) and how
many audio files are present or missing. No audio is needed: listed files that do
not exist are counted, not refused (``--missing skip|error`` to change that).
"""

from __future__ import annotations

import argparse
import json

from . import add_audio_options, add_output_options

__all__ = ["register"]


def register(sub: argparse._SubParsersAction) -> None:
    """Add the subcommand's parser to ``sub``."""
    p = sub.add_parser("dataset", help="look at a dataset (dataset describe DATASET)", description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    d = actions.add_parser("describe", help="form, tracks, labels, splits, artists and audio of a dataset",
                           description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    d.add_argument("dataset", metavar="DATASET", help="folder, CSV/TSV file, 'demo' or 'demo-hard'")
    d.add_argument("--threshold", type=float, default=50.0, help="strength (0-100) at which a label counts (default 50)")
    d.add_argument("--format", dest="dataset_format", default=None,
                   choices=("folder", "fma", "mtt", "jamendo", "strengths", "features", "demo"),
                   help="force the form instead of detecting it")
    d.add_argument("--subset", default=None, choices=("small", "medium", "large"),
                   help="FMA only: describe this subset (the one you downloaded; they nest: medium holds small's tracks, "
                   "large every track); default small")
    add_audio_options(d, missing_default="keep")
    add_output_options(d)
    d.set_defaults(func=run_describe)


def run_describe(args: argparse.Namespace) -> int:
    """Run ``dataset describe``; return its exit code."""
    from ..datasets.describe import describe_dataset, describe_text

    result = describe_dataset(
        args.dataset, threshold=args.threshold, audio_dir=args.audio_dir, missing=args.missing,
        format=args.dataset_format, subset=args.subset,
    )
    if args.json:
        print(json.dumps(result))
    else:
        print(describe_text(result, name=str(args.dataset)))
    return 0
