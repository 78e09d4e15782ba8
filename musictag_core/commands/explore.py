"""``explore DATASET``: project a dataset's tracks and measure how well its genres separate.

Writes the projected coordinates (one row per track or segment) to a CSV and
prints one JSON line with the separability figures in the full standardised
space and in the projection: silhouette, leave-one-out k-NN accuracy, the most
confused pair of genres, and the genre centroid distance matrix.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..errors import ParameterError
from ..explore import (
    METHODS,
    METRICS,
    SPACES,
    ProjectionConfig,
    feature_matrix,
    neighbour_preservation,
    project,
    separability,
    separability_json,
)
from . import add_audio_options, add_column_options, add_output_options

__all__ = ["register", "run", "open_for_explore"]


def register(sub: argparse._SubParsersAction) -> None:
    """Add the subcommand's parser to ``sub``."""
    p = sub.add_parser(
        "explore",
        help="project a dataset (PCA/UMAP/t-SNE) and report how well its genres separate",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("dataset", metavar="DATASET", help="dataset folder or file (a feature-table CSV works too)")
    p.add_argument("--features", default="mfcc_stats", choices=SPACES, help="feature space (default mfcc_stats)")
    p.add_argument("--level", default="track", choices=("track", "segment"), help="one point per track or per segment")
    p.add_argument("--deltas", action="store_true", help="add delta-MFCC statistics (mfcc_stats)")
    p.add_argument("--method", default="pca", choices=METHODS)
    p.add_argument("--dims", type=int, default=2, choices=(2, 3))
    p.add_argument("--out", metavar="FILE.csv", help="write the coordinates here")
    p.add_argument("--genres", help="comma-separated genres to keep (default all)")
    p.add_argument("--k", type=int, default=5, help="neighbours of the leave-one-out k-NN (default 5)")
    p.add_argument("--no-standardize", action="store_true", help="do not standardise features")
    p.add_argument("--n-neighbors", type=int, default=15, help="UMAP n_neighbors")
    p.add_argument("--min-dist", type=float, default=0.1, help="UMAP min_dist")
    p.add_argument("--metric", default="euclidean", choices=METRICS, help="UMAP / t-SNE metric")
    p.add_argument("--perplexity", type=float, default=30.0, help="t-SNE perplexity")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--label-column", help="read DATASET as a feature table with labels in this column")
    add_column_options(p)
    add_audio_options(p, missing_choices=("error", "skip"))
    p.add_argument("--jobs", type=int, default=None, help="feature extraction processes (default: one per core)")
    p.add_argument("--no-cache", action="store_true", help="recompute features and projection")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    add_output_options(p)
    p.set_defaults(func=run)


def open_for_explore(spec: str, *, label_column: str | None = None, keep=(), drop=(), missing=None, audio_dir=None):  # noqa: ANN001
    """Open ``spec`` (folder, CSV or ``demo``) with :func:`~musictag_core.datasets.open_dataset`.

    With ``label_column`` the file is read as a feature table whose labels are in that column;
    ``keep``/``drop`` override the feature-table column rule (as Train's ``keep_columns``/``drop_columns``);
    ``missing``/``audio_dir`` are ``--missing``/``--audio-dir`` (None: the reader's default).
    """
    from ..datasets import open_dataset

    if label_column is not None:
        return open_dataset(spec, format="features", label_column=label_column, keep=keep, drop=drop)
    return open_dataset(spec, keep=keep, drop=drop, missing=missing, audio_dir=audio_dir)


def _progress(quiet: bool):
    if quiet:
        return None
    state = {"msg": None, "frac": -1.0}

    def report(frac: float, msg: str) -> None:
        if msg.split(" ")[0] != (state["msg"] or "").split(" ")[0] or frac - state["frac"] >= 0.1 or frac >= 1.0:
            print(f"[{frac:4.0%}] {msg}", file=sys.stderr, flush=True)
            state["msg"], state["frac"] = msg, frac

    return report


def run(args: argparse.Namespace) -> int:
    """Run the subcommand; return its exit code."""
    config = ProjectionConfig(
        method=args.method,
        n_components=args.dims,
        standardize=not args.no_standardize,
        n_neighbors=args.n_neighbors,
        min_dist=args.min_dist,
        metric=args.metric,
        perplexity=args.perplexity,
        seed=args.seed,
    )
    index = open_for_explore(args.dataset, label_column=args.label_column, keep=args.keep_columns, drop=args.drop_columns,
                             missing=args.missing, audio_dir=args.audio_dir)
    if args.genres:
        keep = [g.strip() for g in args.genres.split(",") if g.strip()]
        unknown = sorted(set(keep) - set(index.labels))
        if unknown:
            raise ParameterError(f"--genres {unknown} not in the dataset; it has {index.labels}")
        index = index.subset(index.genre.isin(keep).to_numpy())
    space = "table" if index.kind == "features" and args.features == "mfcc_stats" else args.features
    X, names, meta = feature_matrix(
        index, space=space, level=args.level, deltas=args.deltas, cache=not args.no_cache, n_jobs=args.jobs,
        progress=None if args.quiet else _progress(False),
    )
    labels = meta["genre"].astype(str).to_numpy()
    proj = project(X, config=config, feature_names=names, cache=not args.no_cache, progress=_progress(args.quiet))
    full = separability(X, labels, k=args.k, standardize=config.standardize)
    low = separability(proj.coords, labels, k=args.k, standardize=False)
    hoods = neighbour_preservation(X, proj.coords, k=10, standardize=config.standardize)
    if args.out:
        out = meta.drop(columns=["row", "path"], errors="ignore").copy()
        for i, axis in enumerate("xyz"[: proj.coords.shape[1]]):
            out[axis] = proj.coords[:, i]
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        out.to_csv(args.out, index=False)
    fj, lj = separability_json(full), separability_json(low)
    result = {
        "dataset": index.name,
        "features": space,
        "level": args.level,
        "method": config.method,
        "dims": config.n_components,
        "n_points": int(len(X)),
        "n_features": int(X.shape[1]),
        "k": args.k,
        "silhouette": {"full": fj["silhouette"], "projection": lj["silhouette"]},
        "knn_accuracy": {"full": fj["knn_accuracy"], "projection": lj["knn_accuracy"]},
        "most_confused": {"full": fj["most_confused"], "projection": lj["most_confused"]},
        "centroid_distances": fj["centroid_distances"],
        "neighbourhoods": hoods,
        "skipped": meta.attrs.get("skipped", {}),
        "fit_seconds": round(proj.fit_seconds, 3),
        "from_cache": proj.from_cache,
        "out": args.out,
        "feature_columns": index.meta.get("feature_columns") if index.kind == "features" else None,
        "excluded_columns": index.meta.get("excluded_columns") if index.kind == "features" else None,
    }
    if proj.explained_variance_ratio_ is not None:
        result["explained_variance_ratio"] = [round(float(v), 6) for v in proj.explained_variance_ratio_]
        result["top_features"] = {c: proj.top_features(i, n=5).index.tolist() for i, c in enumerate(proj.loadings.columns)}
    if args.json:
        print(json.dumps(result))
    else:
        print(_summary(result))
    return 0


def _summary(result: dict) -> str:
    """The few lines a person reads: what was projected and how well the genres separate."""
    sil, knn = result["silhouette"], result["knn_accuracy"]

    def num(v: float | None) -> str:
        return "n/a" if v is None else f"{v:.3f}"

    lines = [
        f"{result['dataset']}: {result['n_points']} points x {result['n_features']} {result['features']} features "
        f"({result['level']}), {result['method']} to {result['dims']}-D in {result['fit_seconds']:.2f} s"
        + (" (cached)" if result["from_cache"] else ""),
        f"silhouette: {num(sil['full'])} full space, {num(sil['projection'])} projection",
        f"{result['k']}-NN accuracy: {num(knn['full'])} full space, {num(knn['projection'])} projection",
    ]
    if result.get("excluded_columns") is not None:
        from ..datasets.features_table import excluded_columns_text

        lines.append(excluded_columns_text(result["excluded_columns"]))
    hoods = result.get("neighbourhoods")
    if hoods:
        lines.append(f"neighbourhoods: trustworthiness {hoods['trustworthiness']:.3f}, {hoods['knn_kept']:.0%} of the true "
                     f"{hoods['k']}-NN kept in the projection (chance {hoods['knn_kept_chance']:.0%})")
    pair = result["most_confused"]["full"]
    if pair:
        lines.append(f"most confused (full space): {pair}")
    if result.get("out"):
        lines.append(f"coordinates written to {result['out']}")
    lines.append("(--json for every figure)")
    return "\n".join(lines)
