"""The project's classical models against plain scikit-learn pipelines, on the same folds.

Run: ``python bench/bench_sklearn_parity.py [--rows N]`` from the project folder. Writes
``bench/results/sklearn_parity.json``.

The data is a deterministic GTZAN-like feature table the bench makes
(``make_classification``: 6 genres, 70 features on very different scales, 40 of
them noise, some label noise), written as a CSV and trained on through the project's own path
(``RunConfig`` -> ``create_run`` -> ``execute_run``, 5-fold cross-validation).
Each project run saves its folds (``Run.read_folds``); the plain pipelines are
fitted on exactly those folds:

* logreg: ``make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))``
* svc: ``make_pipeline(StandardScaler(), SVC())``
* gboost: ``HistGradientBoostingClassifier()``
* voting: soft vote of the three (the SVC's probabilities from
  ``CalibratedClassifierCV(SVC(), ensemble=False)``, scikit-learn 1.9's replacement of
  ``probability=True``)

Targets: the untuned project models match the plain pipeline to within 0.01
accuracy (pooled over the out-of-fold predictions), and the ``tune`` runs beat it.
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
K = 5


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

    t0 = time.perf_counter()
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
        "tuning": None if not card.get("tuning") else {"space": card["tuning"]["space"], "per_fold": card["tuning"]["per_fold"]},
    }


def plain_run(table: Path, name: str, folds: list[list[str]]) -> dict:
    import pandas as pd
    from threadpoolctl import threadpool_limits

    df = pd.read_csv(table)
    ids = df["filename"].astype(str).to_numpy()
    X = df.drop(columns=["filename", "label"]).to_numpy(np.float64)
    y = df["label"].to_numpy()
    pos = {t: i for i, t in enumerate(ids)}
    correct, accs = 0, []
    t0 = time.perf_counter()
    for test_ids in folds:
        te = np.array([pos[t] for t in test_ids])
        tr = np.setdiff1d(np.arange(len(y)), te)
        with threadpool_limits(limits=1, user_api="openmp"):
            pred = plain(name).fit(X[tr], y[tr]).predict(X[te])
        hits = int((pred == y[te]).sum())
        correct += hits
        accs.append(hits / len(te))
    return {"accuracy": correct / len(y), "fold_accuracy": accs, "seconds": round(time.perf_counter() - t0, 2)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=600)
    ap.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-parity-"))
    os.environ.setdefault("MUSICTAG_CACHE", str(work / "cache"))
    table = make_table(work / "features.csv", rows=args.rows)
    out = {}
    for name in args.models:
        untuned = project_run(table, name, tune=False, runs=work / "runs")
        tuned = project_run(table, name, tune=True, runs=work / "runs")
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
            "tuning": tuned["tuning"],
        }
        out[name] = row
        print(f"{name}: plain {row['plain_sklearn']:.4f}  untuned {row['project_untuned']:.4f}  "
              f"tuned {row['project_tuned']:.4f}", flush=True)
    write_result("sklearn_parity", {
        "data": {"rows": args.rows, "features": 70, "informative": 20, "redundant": 10, "classes": 6, "maker": "make_classification(random_state=0), "
                 "feature scales 10^U(-2,3)"},
        "folds": f"{K}-fold StratifiedKFold(shuffle, seed 0): the project run's saved folds, reused by the plain pipelines",
        "metric": "accuracy of the pooled out-of-fold predictions",
        "models": out,
        "all_untuned_match": all(r["untuned_matches_plain"] for r in out.values()),
        "all_tuned_beat_plain": all(r["tuned_beats_plain"] for r in out.values()),
    })
    return 0


if __name__ == "__main__":
    sys.exit(main())
