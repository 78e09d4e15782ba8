"""``tag FILE...``: tag audio files with a model; one JSON object (or CSV rows) per file."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from typing import TYPE_CHECKING

from ..errors import AudioError, MusictagError, ParameterError
from . import add_output_options

if TYPE_CHECKING:
    from ..predict import TrackPrediction

__all__ = ["file_result", "register", "result_object", "run"]


def register(sub: argparse._SubParsersAction) -> None:
    """Add the subcommand's parser to ``sub``."""
    p = sub.add_parser(
        "tag",
        help="tag audio files with a model (JSON lines, the default, or --csv)",
        description="Tag audio files. A file that fails gives an object with 'error'; "
        "the others still run and the exit code is 1.",
    )
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--model", default="MSD_musicnn", help="model name or folder (see `models`)")
    p.add_argument("--top-k", type=int, default=None, metavar="K", help="keep the K best tags (default: all)")
    p.add_argument("--overlap", type=float, default=0.0, metavar="S", help="seconds of segment overlap (< 3)")
    p.add_argument(
        "--max-duration",
        type=float,
        default=None,
        metavar="S",
        help="seconds decoded per file (default: $MUSICTAG_MAX_DURATION_S or 600); longer files are cut and marked truncated",
    )
    p.add_argument("--decimals", type=int, default=5, metavar="N",
                   help="decimal places of every score and time in the output (default 5, at most 12)")
    out = add_output_options(p, csv=True)
    out.add_argument("--format", choices=("json", "csv"), default=None, help="alias: --format json is --json, --format csv is --csv")
    p.add_argument("--runs-dir", default=None, help="folder of training runs (default: $MUSICTAG_RUNS or ./runs)")
    p.set_defaults(func=run)


def _open_model(model: str, runs_dir: str | None):  # noqa: ANN202
    """The tagger of ``model`` and the thread importing TensorFlow (or None): for a musicnn, TensorFlow loads while the first files decode.

    A musicnn's folded graph needs no Keras: TensorFlow is imported without it
    (:func:`~musictag_core.models.tfimport.import_tensorflow_lean`, ~1 s less), in a
    background thread, and the tagger is returned cold (no TensorFlow yet: its graph is
    built at the first forward pass, after the import), so :func:`tag_files` decodes the
    first files on the other core meanwhile. Other models load as usual (a bad one fails here).
    """
    import threading

    from ..fileio import read_json_object
    from ..models.loading import load_tagger, model_folder
    from ..models.musicnn import MusicnnTagger
    from ..models.tfimport import import_tensorflow_lean

    try:
        folder = model_folder(model, runs_dir=runs_dir)
    except MusictagError:
        folder = None  # load_tagger reports it
    card = (read_json_object(folder / "card.json") or {}) if folder is not None else {}
    if card.get("format") == "musicnn-keras" and card.get("architecture", "musicnn") == "musicnn":
        try:
            tagger = MusicnnTagger(folder, card, warmup=False)
        except (KeyError, TypeError, ValueError):
            pass  # a malformed card: load_tagger reports it
        else:
            thread = threading.Thread(target=import_tensorflow_lean, name="musictag-import-tf", daemon=True)
            thread.start()
            return tagger, thread
    return load_tagger(model, runs_dir=runs_dir), None


def run(args: argparse.Namespace) -> int:
    """Run the subcommand; return its exit code."""
    from ..uploads import limits

    max_duration = args.max_duration if args.max_duration is not None else limits().max_duration_s

    if args.top_k is not None and args.top_k < 1:
        raise ParameterError(f"--top-k must be a positive integer, got {args.top_k}")
    if not 0 <= args.decimals <= 12:
        raise ParameterError(f"--decimals must be between 0 and 12, got {args.decimals}")
    tagger, importing = _open_model(args.model, args.runs_dir)  # a bad model fails everything: exit 2
    try:
        return _tag(args, tagger, max_duration=max_duration)
    finally:
        if importing is not None:
            importing.join()  # never exit while TensorFlow is half imported (every file failed to decode)


def _tag(args: argparse.Namespace, tagger, *, max_duration: float) -> int:  # noqa: ANN001
    from ..batchtag import tag_files

    as_csv = args.csv or args.format == "csv"
    writer = csv.writer(sys.stdout) if as_csv else None
    if writer is not None:
        writer.writerow(["path", "model", "rank", "label", "score", "is_genre", "error"])
    failed = 0
    # the next files are decoded while the model runs; patches of ready files are batched together
    # (8 ahead: the first ones decode while TensorFlow loads; a file ahead holds only its patches)
    for path, pred in tag_files(args.files, tagger, overlap=args.overlap, max_duration=max_duration, prefetch=8):
        obj = result_object(path, tagger, pred, top_k=args.top_k, decimals=args.decimals)
        if isinstance(pred, AudioError):
            failed += 1
            if writer is not None:
                writer.writerow([path, tagger.name, "", "", "", "", obj["error"]])
            else:
                print(json.dumps(obj))
            continue
        for warning in pred.warnings:
            print(f"warning: {path}: {warning}", file=sys.stderr)
        if writer is not None:
            genres = set(pred.genres)
            for rank, (label, score) in enumerate(pred.top(args.top_k), start=1):
                writer.writerow([path, pred.model, rank, label, f"{score:.{args.decimals}f}", int(label in genres), ""])
        else:
            print(json.dumps(obj))
        sys.stdout.flush()
    return 1 if failed else 0


def file_result(
    source, tagger, *, overlap: float = 0.0, max_duration: float | None = None, top_k: int | None = None, decimals: int = 5,
) -> tuple[dict, TrackPrediction | None]:
    """Tag one file and build its JSON object: the one per-file result of ``musictag tag`` and ``POST /v1/tag``.

    Parameters
    ----------
    source : str, path, bytes or binary file-like (with a ``name``)
    tagger : Tagger
        A loaded model (:func:`~musictag_core.models.loading.load_tagger`).
    overlap, max_duration
        As for :func:`~musictag_core.predict.tag_file`.
    top_k : int or None
        Keep the ``top_k`` best tags and genres.
    decimals : int
        Decimal places of every score and time.

    Returns
    -------
    obj : dict
        :meth:`TrackPrediction.to_dict`, or ``{"path", "model", "error"}`` when the file cannot be
        tagged (an :class:`AudioError`; any other :class:`MusictagError` is raised).
    pred : TrackPrediction or None
        None when the file failed.
    """
    from ..predict import tag_file

    try:
        pred = tag_file(source, tagger, overlap=overlap, max_duration=max_duration)
    except AudioError as exc:
        return result_object(source, tagger, exc), None
    return result_object(source, tagger, pred, top_k=top_k, decimals=decimals), pred


def result_object(source, tagger, outcome: TrackPrediction | AudioError, *, top_k: int | None = None, decimals: int = 5) -> dict:
    """The JSON object of one file's outcome: :meth:`TrackPrediction.to_dict`, or ``{"path", "model", "error"}``.

    Parameters
    ----------
    source : str, path, bytes or binary file-like (with a ``name``)
    tagger : Tagger
    outcome : TrackPrediction or AudioError
        The file's prediction, or the error it failed with.
    top_k, decimals
        As for :func:`file_result`.
    """
    from ..audio import source_name

    if isinstance(outcome, AudioError):
        return {"path": source_name(source), "model": tagger.name, "error": outcome.reason}
    return outcome.to_dict(top_k=top_k, decimals=decimals)
