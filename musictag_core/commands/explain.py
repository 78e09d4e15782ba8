"""``explain FILE --tag TAG``: which time-frequency regions drive a tag (occlusion saliency), as JSON and a PNG."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ..errors import AudioError
from . import add_output_options

__all__ = ["file_explanation", "register", "run"]


def register(sub: argparse._SubParsersAction) -> None:
    """Add the subcommand's parser to ``sub``."""
    p = sub.add_parser(
        "explain",
        help="occlusion saliency of a tag: which parts of the mel spectrogram the model listened to",
        description="Mask time-frequency cells of the model's own mel input (0.5 s x 8 mel bands by default, each set "
        "to its mean) and record the drop in the tag's track score. Also reports the faithfulness check: the drop "
        "after deleting the most salient 10%% of the area versus a random 10%% (mean of 5 seeds).",
    )
    p.add_argument("file", metavar="FILE")
    p.add_argument("--tag", required=True, help="the tag to explain (one of the model's labels, e.g. blues)")
    p.add_argument("--model", default="MSD_musicnn", help="model name or folder (see `models`)")
    p.add_argument("--png", default=None, metavar="OUT", help="also draw the mel spectrogram with the saliency on top (PNG)")
    p.add_argument("--time-s", type=float, default=0.5, metavar="S", help="seconds per occluded cell (default 0.5)")
    p.add_argument("--bands", type=int, default=8, metavar="N", help="mel bands per occluded cell (default 8)")
    p.add_argument("--max-duration", type=float, default=None, metavar="S",
                   help="seconds decoded (default: $MUSICTAG_MAX_DURATION_S or 600)")
    add_output_options(p)
    p.add_argument("--runs-dir", default=None, help="folder of training runs (default: $MUSICTAG_RUNS or ./runs)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the subcommand; return its exit code."""
    from ..explain import render_png
    from ..models.loading import load_tagger
    from ..uploads import limits

    max_duration = args.max_duration if args.max_duration is not None else limits().max_duration_s
    tagger = load_tagger(args.model, runs_dir=args.runs_dir)  # a bad model or tag: exit 2
    obj, ex = file_explanation(args.file, tagger, tag=args.tag, max_duration=max_duration, time_s=args.time_s, bands=args.bands)
    if ex is None:
        if args.json:
            print(json.dumps(obj))
        else:
            print(f"error: {args.file}: {obj['error']}", file=sys.stderr)
        return 1
    if args.png:
        render_png(ex, args.png)
    if args.json:
        print(json.dumps(obj))
        return 0
    d = ex.deletion
    print(f"{ex.path}  ({ex.model}): '{ex.tag}' track score {ex.score:.3f}; {ex.saliency.shape[0]} band groups x "
          f"{ex.saliency.shape[1]} time cells ({ex.method} occlusion, {ex.n_masked} masked copies, {ex.seconds:.1f} s)")
    print("  most salient regions (score lost when masked):")
    for r in ex.top_regions(5):
        print(f"    {r['start_s']:6.2f}-{r['end_s']:6.2f} s  {r['low_hz']:6.0f}-{r['high_hz']:6.0f} Hz  {r['drop']:+.4f}")
    print(f"  deleting the most salient {d['fraction']:.0%} of the area lowers the score by {d['salient_drop']:+.4f}; "
          f"a random {d['fraction']:.0%} by {d['random_drop']:+.4f} (mean of {d['seeds']} seeds)")
    if args.png:
        print(f"  picture: {args.png}")
    return 0


def file_explanation(
    source, tagger, *, tag: str, max_duration: float | None = None, time_s: float = 0.5, bands: int = 8,  # noqa: ANN001
) -> tuple[dict, Any]:
    """Explain one tag on one file and build its JSON object: ``explain --json``'s and ``POST /v1/explain``'s.

    Parameters
    ----------
    source : str, path, bytes or binary file-like (with a ``name``)
    tagger : Tagger
        A loaded model.
    tag : str
        One of the model's labels.
    max_duration : float or None
        Seconds decoded from the start.
    time_s, bands
        Seconds and mel bands per occluded cell.

    Returns
    -------
    obj : dict
        :meth:`Explanation.to_dict`, or ``{"path", "model", "tag", "error"}`` when the file cannot
        be decoded (an :class:`AudioError`; an unknown tag or any other error is raised).
    explanation : Explanation or None
        None when the file failed.
    """
    from ..audio import source_name
    from ..explain import explain_file

    try:
        ex = explain_file(source, tag=tag, model=tagger, max_duration=max_duration, time_s=time_s, bands=bands)
    except AudioError as exc:
        return {"path": source_name(source), "model": tagger.name, "tag": tag, "error": exc.reason}, None
    return ex.to_dict(), ex
