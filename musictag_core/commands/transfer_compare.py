"""``transfer-compare DATASET``: which transfer head (level, embedding, head, tuning) wins on a dataset."""

from __future__ import annotations

import argparse
import itertools
import json
import sys

__all__ = ["register"]


def _list(allowed: tuple[str, ...]):  # noqa: ANN202
    def parse(text: str) -> tuple[str, ...]:
        items = tuple(t.strip() for t in text.split(",") if t.strip())
        bad = [t for t in items if t not in allowed]
        if not items or bad:
            raise argparse.ArgumentTypeError(f"expected a comma-separated list of {', '.join(allowed)}; got {text!r}")
        return items

    return parse


def _cv(text: str) -> int | str:
    if text.strip().lower() == "loo":
        return "loo"
    try:
        k = int(text)
    except ValueError:
        k = 0
    if k < 2:
        raise argparse.ArgumentTypeError(f"--cv must be an integer >= 2 or 'loo', got {text!r}")
    return k


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``transfer-compare`` subcommand."""
    from ..training.transfer_small import FEATURE_CHOICES, HEAD_SPACES
    from . import add_output_options

    p = sub.add_parser(
        "transfer-compare",
        help="compare transfer heads on musicnn outputs (segment/track level, embeddings, taggram, tuned C) "
        "by pooled out-of-fold accuracy on the same folds",
    )
    p.add_argument("dataset", metavar="DATASET", help="audio dataset spec (folder, listing, demo-hard, ...)")
    p.add_argument("--level", type=_list(("segment", "track")), default=("segment",),
                   help="segment (each 3 s patch a sample, scores averaged per track), track (mean vector); "
                   "comma-separated to compare (default: segment)")
    p.add_argument("--features", type=_list(tuple(FEATURE_CHOICES)), default=("both",),
                   help=f"{', '.join(FEATURE_CHOICES)}; comma-separated (default: both)")
    p.add_argument("--head", type=_list(tuple(HEAD_SPACES)), default=("logreg", "svm"),
                   help="logreg, svm; comma-separated (default: both heads)")
    p.add_argument("--tune", choices=("off", "on", "both"), default="off",
                   help="search C by inner CV grouped by track (default: off)")
    p.add_argument("--all", action="store_true", help="every level x features x head, untuned and tuned")
    p.add_argument("--cv", type=_cv, default=5, help="K folds by track (capped at the smallest label) or loo (default 5)")
    p.add_argument("--seed", type=int, default=0)
    add_output_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run ``transfer-compare``; return its exit code."""
    from ..training.transfer_small import FEATURE_CHOICES, HEAD_SPACES, TransferChoice, compare_transfer_choices

    if args.all:
        levels, feats, heads, tunes = ("segment", "track"), tuple(FEATURE_CHOICES), tuple(HEAD_SPACES), (False, True)
    else:
        levels, feats, heads = args.level, args.features, args.head
        tunes = {"off": (False,), "on": (True,), "both": (False, True)}[args.tune]
    choices = [TransferChoice(level=lv, features=f, head=h, tune=t) for lv, f, h, t in itertools.product(levels, feats, heads, tunes)]

    def progress(done: int, total: int) -> None:
        if not args.json and (done % 25 == 0 or done == total):
            print(f"musicnn outputs: {done}/{total} files", file=sys.stderr)

    result = compare_transfer_choices(args.dataset, choices=choices, cv=args.cv, seed=args.seed, progress=progress)
    if args.json:
        print(json.dumps(result))
        return 0
    f = result["folds"]
    print(f"{result['dataset']}: {result['n_tracks']} single-label tracks, {len(result['labels'])} labels; "
          f"{f['k']} folds by track ({f['kind']}), pooled out-of-fold")
    for r in result["results"]:
        print(f"  {r['choice']:<32} accuracy {r['accuracy']:.3f}  macro-F1 {r['macro_f1']:.3f}")
    print(f"best: {result['results'][0]['choice']}")
    return 0
