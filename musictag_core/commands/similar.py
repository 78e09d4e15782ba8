"""``similar FILE... --index NAME``: the tracks of a library index nearest to each file."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from . import add_output_options

if TYPE_CHECKING:
    from ..similarity import SimilarResult

__all__ = ["query_result", "register", "run"]


def register(sub: argparse._SubParsersAction) -> None:
    """Add the subcommand's parser to ``sub``."""
    p = sub.add_parser(
        "similar",
        help="tracks of a library index that sound like each file (build one with `index`)",
        description="Nearest neighbours of each file in a named index, with cosine distances (1 - cos), labels when "
        "known, and the start of the neighbour's segment that matches best. A file already in the index is its own "
        "first neighbour at distance 0 unless --exclude-self. A file that fails gives an object with 'error'; the "
        "others still run and the exit code is 1.",
    )
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--index", required=True, metavar="NAME", help="the index to search (see `index list`)")
    p.add_argument("--k", type=int, default=10, help="neighbours per file (default 10)")
    p.add_argument("--exclude-self", action="store_true", help="leave out tracks with the query's own content")
    p.add_argument("--model", default=None, help="refused unless it is the model the index was built with")
    p.add_argument("--m3u", metavar="OUT", default=None, help="also write the neighbours as an M3U playlist")
    p.add_argument("--csv-out", metavar="OUT", default=None, help="also write the neighbours as CSV")
    p.add_argument("--runs-dir", default=None, help="folder of training runs (default: $MUSICTAG_RUNS or ./runs)")
    add_output_options(p, csv=True)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the subcommand; return its exit code."""
    from ..errors import ParameterError
    from ..fileio import atomic_write_text
    from ..similarity import neighbours_csv, neighbours_m3u, open_index

    if args.k < 1:
        raise ParameterError(f"--k must be a positive integer, got {args.k}")
    idx = open_index(args.index, model=args.model)  # unknown index or another model: exit 2
    results, failed = [], 0
    for path in args.files:
        obj, res = query_result(path, index=idx, k=args.k, exclude_self=args.exclude_self, runs_dir=args.runs_dir)
        if res is None:
            failed += 1
            if args.csv:
                print(f"warning: {path}: {obj['error']}", file=sys.stderr)
            else:
                print(json.dumps(obj))
            continue
        results.append(res)
        if args.json:
            print(json.dumps(obj))
        elif not args.csv:
            print(f"{path}: tracks like it in {idx.name!r}")
            for rank, n in enumerate(res.neighbours, start=1):
                label = "|".join(n.label) if isinstance(n.label, list) else (n.label or "-")
                print(f"  {rank:2d}. {n.distance:.4f}  {label:<14} from {n.segment_start_s:6.1f} s  {n.path}")
        sys.stdout.flush()
    if args.csv:
        sys.stdout.write(neighbours_csv(results))
    if args.csv_out:
        atomic_write_text(Path(args.csv_out), neighbours_csv(results))
    if args.m3u:
        atomic_write_text(Path(args.m3u), neighbours_m3u(results))
    return 1 if failed else 0


def query_result(
    source, *, index, k: int = 10, exclude_self: bool = False, runs_dir=None, name: str | None = None,  # noqa: ANN001
) -> tuple[dict, SimilarResult | None]:
    """Neighbours of one query and its JSON object: the per-query line of ``similar --json`` and of ``POST /v1/similar``.

    Parameters
    ----------
    source : str, Path or bytes
        The query audio file (or its bytes, an upload).
    index : LibraryIndex
        An opened index (:func:`~musictag_core.similarity.open_index`).
    k : int
    exclude_self : bool
        Leave out tracks with the query's own content.
    runs_dir : str or Path, optional
    name : str, optional
        Reported as the query's ``path`` (default: the path given; an upload's file name).

    Returns
    -------
    obj : dict
        ``{"path", "index", "neighbours": [{"path", "distance", "label", "segment_start_s"}]}``,
        nearest first, or ``{"path", "index", "error"}`` when the query cannot be decoded (an
        :class:`~musictag_core.errors.AudioError`; any other error is raised).
    res : SimilarResult or None
        None when the query failed.
    """
    import dataclasses
    import os

    from ..errors import AudioError
    from ..similarity import similar_to_file

    shown = name if name is not None else ("<bytes>" if isinstance(source, (bytes, bytearray, memoryview)) else os.fspath(source))
    try:
        res = similar_to_file(source, index=index, k=k, exclude_self=exclude_self, runs_dir=runs_dir)
    except AudioError as exc:
        return {"path": shown, "index": index.name, "error": exc.reason}, None
    if res.path != shown:
        res = dataclasses.replace(res, path=shown)
    return res.to_dict(), res
