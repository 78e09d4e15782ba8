"""``search-text QUERY [--index NAME] [--top N]``: zero-shot text search over the taggers' tags."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..errors import ParameterError
from . import add_output_options

__all__ = ["register", "run_search_text", "open_text_index", "search_result"]

def register(sub: argparse._SubParsersAction) -> None:
    """Add the subcommand's parser to ``sub``."""
    p = sub.add_parser(
        "search-text",
        help="zero-shot text search: rank the taggers' tags (and an index's tracks) by a free-text query",
        description="Embeds the query with all-MiniLM-L6-v2 and ranks the 100 tag names of the shipped "
        "MSD and MTT taggers by cosine similarity. With --index, tracks are ranked by their scores on "
        "the three best-matching tags, weighted by similarity. This maps text onto the models' tags; "
        "it is not a joint audio-text model.",
    )
    p.add_argument("query", help='free text, e.g. "dark slow guitar music"')
    p.add_argument(
        "--index", default=None, metavar="NAME",
        help="a similarity index (its name), or a tag-score table JSON file "
        '{"paths", "tag_scores", "tag_labels"}: rank its tracks too',
    )
    p.add_argument("--top", type=int, default=10, metavar="N", help="how many tags and tracks to show (default 10)")
    add_output_options(p)
    p.set_defaults(func=run_search_text)


def open_text_index(name: str):  # noqa: ANN201
    """Adapter: open what ``--index NAME`` names as an object with ``paths``, ``tag_scores``, ``tag_labels``.

    A ``.json`` file is read as a tag-score table; any other name is opened with
    ``musictag_core.similarity.open_index(name)``.

    Raises
    ------
    ParameterError
        If the table is malformed or no similarity index is available.
    """
    from ..models.textsearch import TagScoreTable

    if name.endswith(".json"):
        from ..paths import resolve_data_path

        path = resolve_data_path(name)
        try:
            raw = json.loads(Path(path).read_text(encoding="utf-8"))
            return TagScoreTable(raw["paths"], raw["tag_scores"], raw["tag_labels"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ParameterError(
                f"{Path(name).name}: not a tag-score table ({type(exc).__name__}: {exc}); "
                'expected JSON {"paths": [...], "tag_scores": [[...]], "tag_labels": [{"label", "model"}]}'
            ) from None
    from ..similarity import open_index

    return TagScoreTable.from_index(open_index(name))


def search_result(query: str, *, index: str | None = None, top: int = 10) -> dict:
    """The JSON object of ``search-text --json`` and of ``POST /v1/search-text``.

    Parameters
    ----------
    query : str
        Free text.
    index : str, optional
        What ``--index`` names (:func:`open_text_index`): its tracks are ranked too.
    top : int
        How many tags and tracks (1..1000).

    Returns
    -------
    dict
        :func:`~musictag_core.models.textsearch.search_text`'s ``{"query", "tags", "tracks"}``.
    """
    from ..models.textsearch import search_text

    table = open_text_index(index) if index else None
    return search_text(query, index=table, k=top, top=top)


def run_search_text(args: argparse.Namespace) -> int:
    """Run ``search-text``; return its exit code."""
    if not 1 <= args.top <= 1000:
        raise ParameterError(f"--top must be between 1 and 1000, got {args.top}")
    result = search_result(args.query, index=args.index, top=args.top)
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"query: {result['query']}")
    print("tags (cosine similarity of the tag name with the query):")
    for d in result["tags"]:
        print(f"  {d['score']:.3f}  {d['label']}  ({d['model']})")
    if args.index:
        tracks = result["tracks"]
        if tracks:
            matched = ", ".join(f"{m['label']} ({m['model']})" for m in tracks[0]["matched"])
            print(f"tracks (similarity-weighted scores on: {matched}):")
            for t in tracks:
                print(f"  {t['score']:.3f}  {t['path']}")
        else:
            print("tracks: none (the index holds no tracks or no scores on the matching tags)")
    return 0
