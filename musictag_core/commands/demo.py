"""``demo-data --out DIR``: write the synthesised demo corpus to a folder."""

from __future__ import annotations

import argparse
import json
import sys
import time

from ..datasets.demo import DEMO_STYLES, generate_demo_corpus
from . import add_output_options

__all__ = ["register"]


def register(sub: argparse._SubParsersAction) -> None:
    """Add the subcommand's parser to ``sub``."""
    p = sub.add_parser(
        "demo-data",
        help="generate the synthesised demo corpus (6 styles, WAV + strengths.csv)",
        description=f"Generate the demo corpus ({', '.join(DEMO_STYLES)}) into a folder: "
        "<style>/<style>.NNN.wav, strengths.csv and metadata.json. The same seed gives identical files.",
    )
    p.add_argument("--out", required=True, metavar="DIR", help="folder to write (created)")
    p.add_argument("--corpus", choices=("demo", "demo-hard"), default="demo",
                   help="demo (default; distinct styles) or demo-hard (closer styles, varied production, more blends)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--per-style", type=int, default=20, metavar="N", help="single-style clips per style (default 20)")
    p.add_argument("--blends", type=int, default=None, metavar="N",
                   help="blended two-style clips (default 15%% of the single-style clips; 30%% for demo-hard)")
    p.add_argument("--jobs", type=int, default=1, metavar="N", help="worker processes (-1: every core; default 1)")
    add_output_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the subcommand; return its exit code."""
    bar = None
    progress = None
    if sys.stderr.isatty():
        from tqdm import tqdm

        bar = tqdm(total=0, unit="clip", desc="demo-data", file=sys.stderr)

        def progress(done: int, total: int) -> None:
            if bar.total != total:
                bar.reset(total=total)
            bar.n = done
            bar.refresh()

    t0 = time.perf_counter()
    try:
        out = generate_demo_corpus(
            args.out, n_per_style=args.per_style, n_blends=args.blends, seed=args.seed, n_jobs=args.jobs,
            progress=progress, variant=args.corpus,
        )
    finally:
        if bar is not None:
            bar.close()
    n = sum(1 for _ in out.glob("*/*.wav"))
    seconds = time.perf_counter() - t0
    if args.json:
        print(json.dumps({"out": str(out), "n_clips": n, "seconds": round(seconds, 3)}))
    else:
        print(f"wrote {n} clips, strengths.csv and metadata.json to {out} in {seconds:.1f} s")
    return 0
