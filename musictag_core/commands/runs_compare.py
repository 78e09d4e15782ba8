"""``runs compare A B``: two runs on the same folds, paired per fold, with a bootstrap interval."""

from __future__ import annotations

import argparse
import json

__all__ = ["register_compare"]


def register_compare(runs_parser: argparse.ArgumentParser) -> None:
    """Add ``compare`` under the ``runs`` parser (``runs`` alone still lists the runs)."""
    from . import add_output_options

    sub = runs_parser.add_subparsers(dest="runs_command", metavar="{compare}")
    c = sub.add_parser("compare", help="paired per-fold difference of two runs with a bootstrap confidence interval")
    c.add_argument("a", metavar="A", help="run folder or run id")
    c.add_argument("b", metavar="B", help="run folder or run id")
    c.add_argument("--run-dir", metavar="DIR", help="folder holding the runs")
    c.add_argument("--metric", help="metric to compare (default: the task's headline: accuracy, map_macro or mae)")
    add_output_options(c)
    c.set_defaults(func=run_compare)


def run_compare(args: argparse.Namespace) -> int:
    """Run ``runs compare``; return its exit code."""
    from ..training import compare_runs
    from .train import resolve_run

    result = compare_runs(resolve_run(args.a, args.run_dir), resolve_run(args.b, args.run_dir), metric=args.metric)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    m = result["metric"]
    print(f"{result['a']} (A) vs {result['b']} (B): {m} on {result['n_folds']} shared fold(s)")
    for f in result["folds"]:
        print(f"  fold {f['fold']:>3}: A {f['a']:.4f}  B {f['b']:.4f}  A-B {f['diff']:+.4f}")
    print(f"mean: A {result['mean_a']:.4f}  B {result['mean_b']:.4f}  A-B {result['mean_diff']:+.4f}")
    if result["ci95"] is None:
        print("95% bootstrap interval: none (one fold; cross-validate both runs with --cv K to get one)")
    else:
        lo, hi = result["ci95"]
        verdict = (
            "the interval excludes 0" if lo > 0 or hi < 0 else "the interval includes 0: no clear difference"
        )
        print(f"95% bootstrap interval of A-B over folds: [{lo:+.4f}, {hi:+.4f}] ({verdict})")
    w = result["wins"]
    print(f"better per fold: A {w['a']}, B {w['b']}, tied {w['tied']}")
    return 0
