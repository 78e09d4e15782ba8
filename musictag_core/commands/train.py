"""``train``, ``evaluate`` and ``runs``: training runs from the command line.

``train --dataset D --model M [--config FILE.yaml] [--set key=value ...] [--run-dir DIR] [--cv K|loo]
[--cv-repeats N] [--no-test-split] [--tune]`` checks the dataset first (the pre-flight check:
a refusal creates no run folder) and trains in the foreground (``--detach``: in a background worker, prints the run id);
``train --run RUN_DIR`` runs a queued run's worker in the foreground (the app starts
``python -m musictag_core.training.worker RUN_DIR``).
``evaluate RUN`` recomputes the metrics from a run's saved predictions;
``evaluate RUN --dataset D`` tags dataset D with the run's model and scores it.
``runs`` lists the runs with their state and main metrics; ``runs compare A B`` pairs two runs' folds
(:mod:`musictag_core.commands.runs_compare`).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..errors import ParameterError, TrainingError
from . import add_audio_options, add_column_options, add_output_options

__all__ = ["register", "resolve_run"]


def register(sub: argparse._SubParsersAction) -> None:
    """Add the subcommand's parser to ``sub``."""
    p = sub.add_parser("train", help="train a model (a run folder under runs/)")
    p.add_argument("--dataset", help="dataset spec (folder of <label>/<audio> sub-folders, ...)")
    p.add_argument("--model", help="model name (see the models registry)")
    p.add_argument("--config", metavar="FILE.yaml", help="YAML file of run settings")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a setting (YAML value; dotted keys such as augment.pitch_shift=true)")
    p.add_argument("--run-dir", metavar="DIR", help="folder holding the runs (default: $MUSICTAG_RUNS or ./runs)")
    p.add_argument("--cv", type=_cv_value, metavar="K|loo",
                   help="stratified K-fold cross-validation (K lowered to the smallest class when needed; "
                        "grouped by artist when artists are known), or 'loo' for leave-one-out (up to 200 tracks)")
    p.add_argument("--cv-repeats", type=int, metavar="N", help="repeat the K folds N times with different seeds")
    p.add_argument("--no-test-split", action="store_true",
                   help="hold out no test split: train on every track and evaluate by cross-validation "
                        "(for datasets too small for a train/validation/test split)")
    p.add_argument("--tune", action="store_true",
                   help="search hyperparameters by inner cross-validation in each fold "
                        "(logreg, svc, gboost, voting, stacked; transfer with --set head=logreg or head=svm)")
    p.add_argument("--preset", choices=["fast", "full"], help="model preset")
    p.add_argument("--detach", action="store_true", help="start a background worker and print the run id")
    add_column_options(p)
    add_audio_options(p, missing_choices=("error", "skip"))
    p.add_argument("--run", metavar="RUN_DIR", help=argparse.SUPPRESS)  # a queued run's worker, in the foreground
    add_output_options(p)
    p.set_defaults(func=run_train)

    e = sub.add_parser("evaluate", help="recompute a run's metrics from its saved predictions")
    e.add_argument("run", metavar="RUN", help="run folder (or run id under --run-dir)")
    e.add_argument("--run-dir", metavar="DIR")
    e.add_argument("--dataset", help="tag this dataset with the run's model and score it (labels must match the run's)")
    add_output_options(e)
    e.set_defaults(func=run_evaluate)

    r = sub.add_parser("runs", help="list training runs")
    r.add_argument("--run-dir", metavar="DIR")
    add_output_options(r)
    r.set_defaults(func=run_runs)
    from .runs_compare import register_compare

    register_compare(r)


def _cv_value(text: str) -> int | str:
    """``--cv``: an int, or ``loo``."""
    t = text.strip().lower()
    if t in ("loo", "leave-one-out"):
        return "loo"
    try:
        return int(t)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of folds (2 or more) or 'loo', got {text!r}") from None


def _config_from_args(args: argparse.Namespace):  # noqa: ANN202
    from ..training import RunConfig, parse_set

    data: dict = {}
    if args.config:
        import yaml

        try:
            data = yaml.safe_load(Path(args.config).read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ParameterError(f"cannot read run settings {args.config!r}: {exc}") from None
        if not isinstance(data, dict):
            raise ParameterError(f"{args.config}: expected a mapping of settings at the top level")
    for key in ("dataset", "model", "cv", "cv_repeats", "preset"):
        if getattr(args, key, None) is not None:
            data[key] = getattr(args, key)
    if getattr(args, "no_test_split", False):
        data["test_split"] = False
    if getattr(args, "tune", False):
        data["tune"] = True
    for key in ("keep_columns", "drop_columns"):
        if getattr(args, key, ()):
            data[key] = list(getattr(args, key))
    for key in ("audio_dir", "missing"):
        if getattr(args, key, None) is not None:
            data[key] = getattr(args, key)
    data = parse_set(args.set, data)
    missing = [k for k in ("dataset", "model") if not data.get(k)]
    if missing:
        raise ParameterError(f"train needs {' and '.join('--' + m for m in missing)} (or them in --config)")
    return RunConfig.from_dict(data)


def run_train(args: argparse.Namespace) -> int:
    """Run ``train``; return its exit code."""
    from ..runs import Run
    from ..training import create_run, execute_run, start_run

    if args.run:
        from ..training.worker import run_worker_main

        return run_worker_main(args.run)
    config = _config_from_args(args)
    if args.detach:
        run_id = start_run(config, runs_dir=args.run_dir)
        print(json.dumps({"run_id": run_id, "state": "queued"}) if args.json else run_id)
        return 0
    run = Run(create_run(config, runs_dir=args.run_dir))
    if not args.json:
        print(f"run {run.path}")
    state = execute_run(run.path)
    status = run.status()
    metrics = run.read_metrics() or {}
    card = run.read_card() or {}
    if args.json:
        print(json.dumps({"run_id": run.run_id, "state": state, "error": status.get("error"),
                          "metrics": metrics.get("metrics") or {}, "cv": metrics.get("cv"),
                          "evaluation": card.get("evaluation"), "tuning": card.get("tuning"),
                          "notes": (card.get("evaluation") or {}).get("notes", []) + (card.get("fallbacks") or []),
                          "feature_columns": card.get("feature_columns"),
                          "excluded_columns": card.get("excluded_columns")}))
        return _exit_code(state, status)
    print(f"state: {state}" + (f" ({status.get('error')})" if status.get("error") else ""))
    if card.get("excluded_columns") is not None:
        from ..datasets.features_table import excluded_columns_text

        print(excluded_columns_text(card["excluded_columns"]))
    for note in (card.get("evaluation") or {}).get("notes", []) + (card.get("fallbacks") or []):
        print(f"note: {note}")
    if card.get("tuning"):
        print(f"tuned ({card['tuning']['method']}, {card['tuning']['inner_folds']} inner folds): "
              f"{card['tuning']['best_params']}")
    cv = metrics.get("cv")
    if cv:
        what = "leave-one-out" if cv.get("kind") == "loo" else f"{cv['k']}-fold cross-validation" + (
            f" x {cv['repeats']} repeats" if (cv.get("repeats") or 1) > 1 else "")
        print(f"metrics of the pooled out-of-fold predictions ({what}):")
    for k, v in (metrics.get("metrics") or {}).items():
        print(f"  {k}: {v:.4f}" if isinstance(v, float) else f"  {k}: {v}")
    if cv and cv.get("mean"):
        print("per-fold mean ± std:")
        for k, v in cv["mean"].items():
            sd = cv["std"].get(k)
            print(f"  cv {k}: {v:.4f} ± {sd:.4f}" if v is not None and sd is not None else f"  cv {k}: {v}")
    return _exit_code(state, status)


def _exit_code(state: str, status: dict) -> int:
    """0 finished or stopped; 2 failed on the data or settings (a MusictagError); 1 any other failure."""
    if state in ("finished", "stopped"):
        return 0
    return 2 if status.get("error_kind") == "config" else 1


def resolve_run(run: str, run_dir: str | None) -> Path:
    """The folder of a run given by id or path (ids are looked up in ``run_dir`` or the runs folder)."""
    from ..paths import runs_dir

    p = Path(run)
    if p.is_dir():
        return p
    q = Path(run_dir or runs_dir()) / run
    if q.is_dir():
        return q
    raise TrainingError(f"no run {run!r} (looked in {p} and {q}); list runs with `runs`")


def run_evaluate(args: argparse.Namespace) -> int:
    """Run ``evaluate``; return its exit code."""
    from ..training import evaluate_run

    result = evaluate_run(resolve_run(args.run, args.run_dir), dataset=args.dataset)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        if "dataset" in result:
            d = result["dataset"]
            print(f"dataset {d['name']}: {d['n_tagged']}/{d['n_tracks']} tracks tagged")
            for path, err in result["failures"].items():
                print(f"  skipped {path}: {err}")
        for k, v in result["metrics"].items():
            print(f"{k}: {v:.4f}" if isinstance(v, float) else f"{k}: {v}")
    return 0


def run_runs(args: argparse.Namespace) -> int:
    """Run ``runs``; return its exit code."""
    from ..evaluate import headline_metric
    from ..runs import list_runs

    runs = list_runs(args.run_dir)
    if args.json:
        print(json.dumps(runs, indent=2))
        return 0
    if not runs:
        print("no runs")
    for r in runs:
        name, value = headline_metric(r["metrics"] or {})
        main = f"{name}={value:.3f}" if name else ""
        print(f"{r['run_id']}  {r['state']:<8}  {r['model'] or '?':<9} {main}  {r['error'] or ''}".rstrip())
    return 0
