"""``extract DATASET --features mfcc|logmel|stats --out FILE``: features for a whole dataset.

Frame features (``mfcc``, ``logmel``) are written as ``.npz`` with the arrays

* ``X`` [shape=(n_segments_total, t, n_features)], float32,
* ``track_index`` [shape=(n_segments_total,)]: row of each segment's track in ``track_ids``,
* ``segment_starts_s``, ``track_ids``, ``paths``, ``labels``, ``strengths`` [shape=(n_tracks, n_labels)],
* ``failed``: paths that could not be decoded, and ``config``: the settings as JSON.

Summary statistics (``stats``) are written as ``.csv`` with ``track_id``, ``path``,
``label`` (strongest tag) and one column per statistic, which the feature-table
adapter reads back. Files that fail are skipped and named; the exit code is then 1.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from ..config import SEGMENT_PRESETS, AudioConfig, FeatureConfig, PipelineConfig, segment_preset
from ..errors import ParameterError
from ..fileio import atomic_save
from . import add_audio_options, add_output_options

__all__ = ["register", "write_features"]


def register(sub: argparse._SubParsersAction) -> None:
    """Add the subcommand's parser to ``sub``."""
    p = sub.add_parser(
        "extract",
        help="extract MFCC, log-mel or summary statistics for a dataset",
        description="Extract features for every track of DATASET (a folder per genre, FMA tracks.csv, "
        "MagnaTagATune annotations_final.csv, a strengths CSV, or 'demo'), through the on-disk cache.",
    )
    p.add_argument("dataset", metavar="DATASET")
    p.add_argument("--features", required=True, choices=["mfcc", "logmel", "stats"])
    p.add_argument("--out", required=True, metavar="FILE", help=".npz for mfcc/logmel, .csv for stats")
    p.add_argument(
        "--dataset-format", "--format", dest="dataset_format", default=None,
        help="force the dataset form instead of detecting it (--format is its old name)",
    )
    p.add_argument("--segments", default="tracks10", choices=sorted(k for k, v in SEGMENT_PRESETS.items() if v.kind != "random_crop"))
    p.add_argument("--sr", type=int, default=22050, help="sample rate in Hz (default 22050)")
    p.add_argument("--duration", type=float, default=120.0, help="seconds decoded per track (default 120)")
    p.add_argument("--threshold", type=float, default=50.0, help="strength at which a tag counts as present")
    p.add_argument("--jobs", type=int, default=None, help="worker processes (default: all cores)")
    p.add_argument("--scheduler", default=None, help="Dask scheduler address, e.g. tcp://host:8786")
    p.add_argument("--cache-dir", default=None, help="feature cache folder (default: the musictag cache)")
    p.add_argument("--no-cache", action="store_true", help="recompute every track")
    add_audio_options(p, missing_choices=("error", "skip"))
    add_output_options(p)
    p.set_defaults(func=run)


def write_features(result, index, out: Path) -> Path:
    """Write an :class:`~musictag_core.store.ExtractionResult` for ``index`` to ``out`` atomically."""
    import pandas as pd

    from ..features import STAT_NAMES

    kind = result.store.pipeline.features.kind
    ok = result.ok
    if kind == "stats":
        if out.suffix.lower() != ".csv":
            raise ParameterError(f"stats are written as .csv, got --out {out}")
        rows = np.stack([result.features(i) for i in ok]) if ok else np.zeros((0, len(STAT_NAMES)))
        table = pd.DataFrame(rows, columns=list(STAT_NAMES))
        meta = pd.DataFrame(
            {
                "track_id": index.tracks["track_id"].iloc[ok].to_numpy(),
                "path": index.tracks["path"].iloc[ok].to_numpy(),
                "label": index.genre.iloc[ok].to_numpy(),
            }
        )
        frame = pd.concat([meta, table], axis=1)
        atomic_save(out, lambda tmp: frame.to_csv(tmp, index=False))
    else:
        if out.suffix.lower() != ".npz":
            raise ParameterError(f"{kind} frames are written as .npz, got --out {out}")
        X, pos, starts = result.stacked()
        remap = {p: j for j, p in enumerate(ok)}
        arrays = dict(
            X=X,
            track_index=np.array([remap[p] for p in pos], dtype=np.int64),
            segment_starts_s=starts,
            track_ids=index.tracks["track_id"].iloc[ok].to_numpy().astype(str),
            paths=index.tracks["path"].iloc[ok].to_numpy().astype(str),
            labels=np.array(index.labels, dtype=str),
            strengths=index.strengths[ok],
            failed=np.array(sorted(result.failures), dtype=str),
            config=np.array(json.dumps(result.store.pipeline.to_dict())),
        )
        atomic_save(out, lambda tmp: np.savez(tmp, **arrays))
    return out


def run(args: argparse.Namespace) -> int:
    """Run the subcommand; return its exit code."""
    from tqdm import tqdm

    from ..datasets import open_dataset
    from ..store import extract_paths

    out = Path(args.out)
    wanted = ".csv" if args.features == "stats" else ".npz"
    if out.suffix.lower() != wanted:
        raise ParameterError(f"--features {args.features} writes a {wanted} file; got --out {out}")
    pipeline = PipelineConfig(
        audio=AudioConfig(sr=args.sr, duration=args.duration),
        segments=segment_preset(args.segments),
        features=FeatureConfig(kind=args.features, sr=args.sr),
    )
    index = open_dataset(args.dataset, format=args.dataset_format, threshold=args.threshold,
                         missing=args.missing, audio_dir=args.audio_dir)
    if index.kind == "features":
        raise ParameterError(f"{args.dataset} is already a feature table; there is no audio to extract")
    paths = index.tracks["path"].tolist()
    with tqdm(total=len(paths), unit="track", desc=f"extract {args.features}", file=sys.stderr, disable=None) as bar:
        result = extract_paths(
            paths,
            pipeline=pipeline,
            root=args.cache_dir,
            n_jobs=args.jobs,
            use_cache=not args.no_cache,
            scheduler=args.scheduler,
            progress=lambda done, total: bar.update(1),
        )
    if result.ok:
        write_features(result, index, out)
        if not args.json:
            print(
                f"wrote {out}: {len(result.ok)} of {len(paths)} tracks "
                f"({result.n_cached} from cache, {result.n_computed} computed) in {result.seconds:.1f} s",
                file=sys.stderr,
            )
    if args.json:
        print(json.dumps({
            "out": str(out) if result.ok else None,
            "features": args.features,
            "n_tracks": len(paths),
            "n_ok": len(result.ok),
            "n_cached": int(result.n_cached),
            "n_computed": int(result.n_computed),
            "seconds": round(float(result.seconds), 3),
            "failed": [{"path": path, "error": message} for path, message in sorted(result.failures.items())],
        }))
    else:
        for path, message in sorted(result.failures.items()):
            print(f"failed: {message}", file=sys.stderr)
    if result.failures:
        print(f"{len(result.failures)} file(s) failed", file=sys.stderr)
        return 1
    return 0
