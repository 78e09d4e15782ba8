"""The project's classical models against plain scikit-learn pipelines, on the same folds.

Run: ``python bench/bench_sklearn_parity.py [--rows N] [--tables synthetic demo_hard] [--models ...]``
from the project folder. Writes ``bench/results/sklearn_parity.json``.

Two tables, each written as a CSV and trained on through the project's own path
(``RunConfig`` -> ``create_run`` -> ``execute_run``, 5-fold cross-validation):

* ``synthetic``: a deterministic GTZAN-like feature table the bench makes
  (``make_classification``: 600 rows, 6 genres, 70 features on very different scales,
  40 of them noise, some label noise);
* ``demo_hard``: the GTZAN-style summary statistics (``space="stats"``: chroma, RMS,
  spectral centroid / bandwidth / roll-off, zero crossings, tempo, MFCC means and variances;
  77 columns) of the ``demo-hard`` corpus's 150 clips, labelled by their strongest style
  (generated on first use: about a minute, then cached in ``MUSICTAG_CACHE``).
Each project run saves its folds (``Run.read_folds``); the plain pipelines are
fitted on exactly those folds:

* logreg: ``make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))``
* svc: ``make_pipeline(StandardScaler(), SVC())``
* gboost: ``HistGradientBoostingClassifier()``
* voting: soft vote of the three (the SVC's probabilities from
  ``CalibratedClassifierCV(SVC(), ensemble=False)``, scikit-learn 1.9's replacement of
  ``probability=True``)

Targets: the untuned project models match the plain pipeline to within 0.01
accuracy (pooled over the out-of-fold predictions), and the ``tune`` runs beat it. Each
table has a ``summary`` block per model (``untuned_matches_plain``, ``tuned_beats_plain``).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import write_result  # noqa: E402

MODELS = ("logreg", "svc", "gboost", "voting")
TABLES = ("synthetic", "demo_hard")
K = 5


def _cpu() -> float:
    """User + system CPU seconds of this process and its finished children."""
    import resource

    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def make_table(path: Path, *, rows: int, seed: int = 0) -> Path:
    """A GTZAN-like table: ``rows`` tracks, 6 genres, 70 features (40 of them noise) of very different scales."""
    from sklearn.datasets import make_classification

    X, y = make_classification(
        n_samples=rows, n_features=70, n_informative=20, n_redundant=10, n_classes=6, n_clusters_per_class=2,
        class_sep=1.5, flip_y=0.02, random_state=seed,
    )
    rng = np.random.default_rng(seed)
    X = X * 10.0 ** rng.uniform(-2, 3, size=X.shape[1]) + rng.uniform(-50, 50, size=X.shape[1])
    header = "filename,label," + ",".join(f"f{j:02d}" for j in range(X.shape[1]))
    lines = [header] + [
        f"t{i:05d}.wav,genre{y[i]}," + ",".join(f"{v:.6g}" for v in X[i]) for i in range(rows)
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def make_demo_hard_table(path: Path) -> tuple[Path, dict]:
    """The ``demo-hard`` corpus's GTZAN-style summary statistics, one row per clip, labelled by its strongest style."""
    from musictag_core.datasets.demo import load_demo
    from musictag_core.explore import feature_matrix

    t0 = time.perf_counter()
    index = load_demo(variant="demo-hard")
    X, names, meta = feature_matrix(index, space="stats", n_jobs=1)
    genre = index.genre.to_numpy().astype(str)
    ids = meta["track_id"].astype(str).to_numpy()
    header = "filename,label," + ",".join(names)
    lines = [header] + [f"{ids[i]},{genre[i]}," + ",".join(f"{v:.8g}" for v in X[i]) for i in range(len(X))]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    labels, counts = np.unique(genre, return_counts=True)
    return path, {"rows": int(len(X)), "features": int(X.shape[1]), "classes": dict(zip(labels.tolist(), counts.tolist())),
                  "maker": "demo-hard corpus (seed 0, 20 clips per style + blends), feature_matrix(space='stats'), "
                           "label = strongest style", "seconds_to_make": round(time.perf_counter() - t0, 1)}


def plain(name: str):  # noqa: ANN201
    """The plain scikit-learn pipeline for a project model."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.ensemble import HistGradientBoostingClassifier, VotingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    lr = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    hgb = HistGradientBoostingClassifier(random_state=0)
    if name == "logreg":
        return lr
    if name == "svc":
        return make_pipeline(StandardScaler(), SVC())
    if name == "gboost":
        return hgb
    svc_p = make_pipeline(StandardScaler(), CalibratedClassifierCV(SVC(), method="sigmoid", ensemble=False))
    return VotingClassifier([("lr", lr), ("hgb", hgb), ("svc", svc_p)], voting="soft")


def project_run(table: Path, model: str, *, tune: bool, runs: Path) -> dict:
    from musictag_core.runs import Run
    from musictag_core.training import RunConfig, create_run, execute_run

    t0, c0 = time.perf_counter(), _cpu()
    run = Run(create_run(RunConfig(dataset=str(table), model=model, cv=K, tune=tune, seed=0), runs_dir=runs))
    state = execute_run(run.path)
    if state != "finished":
        raise SystemExit(f"{model} tune={tune}: {state}: {run.status().get('error')}")
    m = run.read_metrics()
    card = run.read_card()
    return {
        "accuracy": m["metrics"]["accuracy"],
        "fold_accuracy": [f["accuracy"] for f in m["cv"]["folds"]],
        "folds": run.read_folds()["folds"],
        "seconds": round(time.perf_counter() - t0, 2),
        "cpu_seconds": round(_cpu() - c0, 2),
        "tuning": None if not card.get("tuning") else {"space": card["tuning"]["space"], "per_fold": card["tuning"]["per_fold"]},
    }


def plain_run(table: Path, name: str, folds: list[list[str]]) -> dict:  # noqa: D103
    import pandas as pd
    from threadpoolctl import threadpool_limits

    df = pd.read_csv(table)
    ids = df["filename"].astype(str).to_numpy()
    X = df.drop(columns=["filename", "label"]).to_numpy(np.float64)
    y = df["label"].to_numpy()
    pos = {t: i for i, t in enumerate(ids)}
    correct, accs = 0, []
    t0, c0 = time.perf_counter(), _cpu()
    for test_ids in folds:
        te = np.array([pos[t] for t in test_ids])
        tr = np.setdiff1d(np.arange(len(y)), te)
        with threadpool_limits(limits=1, user_api="openmp"):
            pred = plain(name).fit(X[tr], y[tr]).predict(X[te])
        hits = int((pred == y[te]).sum())
        correct += hits
        accs.append(hits / len(te))
    return {"accuracy": correct / len(y), "fold_accuracy": accs, "seconds": round(time.perf_counter() - t0, 2),
            "cpu_seconds": round(_cpu() - c0, 2)}


def score_table(table: Path, models: list[str], *, runs: Path) -> dict:
    """Plain, untuned and tuned accuracy of each model on ``table``, on the same saved folds."""
    out = {}
    for name in models:
        untuned = project_run(table, name, tune=False, runs=runs)
        tuned = project_run(table, name, tune=True, runs=runs)
        assert tuned["folds"] == untuned["folds"]
        ref = plain_run(table, name, untuned["folds"])
        row = {
            "plain_sklearn": round(ref["accuracy"], 4),
            "project_untuned": round(untuned["accuracy"], 4),
            "project_tuned": round(tuned["accuracy"], 4),
            "untuned_minus_plain": round(untuned["accuracy"] - ref["accuracy"], 4),
            "tuned_minus_plain": round(tuned["accuracy"] - ref["accuracy"], 4),
            "untuned_matches_plain": abs(untuned["accuracy"] - ref["accuracy"]) <= 0.01,
            "tuned_beats_plain": tuned["accuracy"] > ref["accuracy"],
            "fold_accuracy": {
                "plain_sklearn": [round(a, 4) for a in ref["fold_accuracy"]],
                "project_untuned": [round(a, 4) for a in untuned["fold_accuracy"]],
                "project_tuned": [round(a, 4) for a in tuned["fold_accuracy"]],
            },
            "seconds": {"plain_sklearn": ref["seconds"], "project_untuned": untuned["seconds"],
                        "project_tuned": tuned["seconds"]},
            "cpu_seconds": {"plain_sklearn": ref["cpu_seconds"], "project_untuned": untuned["cpu_seconds"],
                            "project_tuned": tuned["cpu_seconds"]},
            "tuning": tuned["tuning"],
        }
        out[name] = row
        print(f"{table.stem} {name}: plain {row['plain_sklearn']:.4f}  untuned {row['project_untuned']:.4f}  "
              f"tuned {row['project_tuned']:.4f}  ({tuned['seconds']:.0f} s tuned)", flush=True)
    return out


def main() -> int:  # noqa: D103
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=600, help="rows of the synthetic table")
    ap.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    ap.add_argument("--tables", nargs="+", default=list(TABLES), choices=TABLES)
    args = ap.parse_args()
    t_start, c_start = time.perf_counter(), _cpu()
    work = Path(tempfile.mkdtemp(prefix="bench-parity-"))
    os.environ.setdefault("MUSICTAG_CACHE", str(work / "cache"))
    from musictag_core.training.tuning import search_budget

    tables = {}
    for which in args.tables:
        if which == "synthetic":
            path = make_table(work / "synthetic.csv", rows=args.rows)
            data = {"rows": args.rows, "features": 70, "informative": 20, "redundant": 10, "classes": 6,
                    "maker": "make_classification(random_state=0), feature scales 10^U(-2,3)"}
        else:
            path, data = make_demo_hard_table(work / "demo_hard.csv")
        models = score_table(path, args.models, runs=work / "runs")
        tables[which] = {
            "data": data,
            "models": models,
            "summary": {n: {"untuned_matches_plain": r["untuned_matches_plain"], "tuned_beats_plain": r["tuned_beats_plain"]}
                        for n, r in models.items()},
            "all_untuned_match": all(r["untuned_matches_plain"] for r in models.values()),
            "all_tuned_beat_plain": all(r["tuned_beats_plain"] for r in models.values()),
        }
    write_result("sklearn_parity", {
        "folds": f"{K}-fold StratifiedKFold(shuffle, seed 0): the project run's saved folds, reused by the plain pipelines",
        "metric": "accuracy of the pooled out-of-fold predictions",
        "tuning_budget_fits_per_outer_fold": {n: search_budget(n) for n in args.models},
        "tables": tables,
        "all_untuned_match": all(t["all_untuned_match"] for t in tables.values()),
        "all_tuned_beat_plain": all(t["all_tuned_beat_plain"] for t in tables.values()),
        "total_seconds": round(time.perf_counter() - t_start, 1),
        "total_cpu_seconds": round(_cpu() - c_start, 1),
        "timing_note": "seconds are wall time on a machine shared with other jobs (load average at the end: "
                       f"{os.getloadavg()[0]:.1f}); cpu_seconds (this process and its children, user + system) "
                       "estimate the wall time on an idle machine, since every fit runs on one thread",
    })
    return 0


if __name__ == "__main__":
    sys.exit(main())
