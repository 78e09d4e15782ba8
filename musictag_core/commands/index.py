"""``index DATASET_OR_FOLDER --name NAME``, ``index list``, ``index delete NAME``: named similarity indexes."""

from __future__ import annotations

import argparse
import json
import sys

from . import add_output_options

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> None:
    """Add the subcommand's parser to ``sub``."""
    p = sub.add_parser(
        "index",
        help="build or update a named similarity index of a dataset or folder (also: index list, index delete NAME)",
        description="Build a named, persistent similarity index of every audio file under a folder (recursively) or "
        "of a dataset, or bring an existing one up to date: new files are added, removed files dropped and changed "
        "files re-embedded, by content hash. `index list` lists the indexes, `index delete NAME` deletes one. "
        "Indexes live in $MUSICTAG_INDEXES (default: 'indexes' beside the runs folder).",
    )
    p.add_argument("target", metavar="DATASET_OR_FOLDER", help="a folder, a dataset path, 'demo'; or 'list', or 'delete'")
    p.add_argument("extra", nargs="?", metavar="NAME", help="with 'delete': the index to delete")
    p.add_argument("--name", default=None, help="index name: letters, digits, '_' and '-'")
    p.add_argument("--model", default="MSD_musicnn", help="musicnn model whose embeddings and tag scores are indexed")
    p.add_argument("--space", choices=("penultimate", "pooled", "mfcc"), default="penultimate",
                   help="vectors: musicnn penultimate 200-d (default), pooled 1506-d, or MFCC statistics")
    p.add_argument("--search", choices=("auto", "exact", "hnsw"), default="auto",
                   help="exact search (auto: up to 50,000 tracks) or the approximate HNSW graph")
    p.add_argument("--no-labels", action="store_true", help="do not attach the dataset form's labels")
    p.add_argument("--no-cache", action="store_true", help="do not read or write the feature cache")
    p.add_argument("--runs-dir", default=None, help="folder of training runs (default: $MUSICTAG_RUNS or ./runs)")
    add_output_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the subcommand; return its exit code."""
    from ..errors import ParameterError
    from ..similarity import build_index, delete_index, list_indexes

    if args.target == "list" and args.name is None:
        found = list_indexes()
        if args.json:
            for s in found:
                print(json.dumps(s))
        elif not found:
            print("no indexes yet; build one with `musictag index FOLDER --name NAME`")
        else:
            for s in found:
                print(f"{s['name']}: {s['n_tracks']} tracks, {s['model']} {s['space']} ({s['search']} search), "
                      f"from {s['source']}, updated {s['updated']}")
        return 0
    if args.target == "delete" and args.name is None:
        if not args.extra:
            raise ParameterError("`index delete` needs the NAME of the index to delete")
        folder = delete_index(args.extra)
        print(json.dumps({"deleted": args.extra, "folder": str(folder)}) if args.json else f"deleted index {args.extra!r}")
        return 0
    if args.extra:
        raise ParameterError(f"unexpected argument {args.extra!r}; build with `musictag index FOLDER --name NAME`")
    if not args.name:
        raise ParameterError("--name is needed: `musictag index FOLDER --name NAME`")

    progress = None
    if not args.json and sys.stderr.isatty():
        def progress(fraction: float, message: str) -> None:
            print(f"\r{fraction:4.0%} {message[:70]:<70}", end="", file=sys.stderr, flush=True)

    report = build_index(args.target, name=args.name, model=args.model, space=args.space, search=args.search,
                         labels=not args.no_labels, runs_dir=args.runs_dir, cache=not args.no_cache, progress=progress)
    if progress is not None:
        print(file=sys.stderr)
    for path, reason in report.failed.items():
        print(f"warning: {path}: {reason}", file=sys.stderr)
    if args.json:
        print(json.dumps(report.to_dict()))
    else:
        print(f"index {report.name!r}: {report.n_tracks} tracks, {report.n_segments} segments "
              f"(added {report.added}, changed {report.changed}, removed {report.removed}, unchanged {report.unchanged}, "
              f"failed {len(report.failed)})")
        for note in report.notes:
            print(f"note: {note}")
    return 1 if report.failed else 0
