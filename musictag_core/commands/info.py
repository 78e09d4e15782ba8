"""``info FILE...``: duration, sample rate and channels of audio files, or the error."""

from __future__ import annotations

import argparse
import json

from ..audio import audio_info
from ..errors import MusictagError
from . import add_output_options

__all__ = ["register"]


def register(sub: argparse._SubParsersAction) -> None:
    """Add the subcommand's parser to ``sub``."""
    p = sub.add_parser("info", help="show duration, sample rate and channels of audio files")
    p.add_argument("files", nargs="+", metavar="FILE")
    add_output_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the subcommand; return its exit code."""
    failed = 0
    for path in args.files:
        try:
            info = audio_info(path)
        except MusictagError as exc:
            failed += 1
            if args.json:
                print(json.dumps({"path": path, "error": str(exc)}))
            else:
                print(f"{path}: ERROR {getattr(exc, 'reason', exc)}")
            continue
        if args.json:
            print(json.dumps(info.to_dict()))
        else:
            print(
                f"{path}: {info.duration_s:.2f} s, {info.sr} Hz, {info.channels} channel(s), {info.format}"
            )
    return 1 if failed else 0
