"""The training worker: ``python -m musictag_core.training.worker RUN_DIR``.

:func:`execute_run` waits for the runs directory's lock (one run trains at a
time; queued runs start oldest first), trains, evaluates and saves the run's
outputs through its :class:`~musictag_core.runs.Run`. Every failure ends as a
``failed`` status with the error, never as a traceback on the user's screen
(``MUSICTAG_DEBUG=1``, set by ``musictag --debug``, prints it).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__
from ..errors import DEBUG_ENV, MusictagError, TrainingError
from ..evaluate import write_predictions
from ..fileio import atomic_save
from ..runs import Run, RunLock, now_iso
from .config import RunConfig
from .context import RunContext, StopRequested
from .data import fold_splits, input_spec, split_tracks, stratify_key, targets
from .fit import evaluate_split, summarise_folds, train_keras, train_sklearn

__all__ = ["code_version", "execute_run", "main", "run_worker_main", "save_outputs"]


def code_version() -> dict[str, Any]:
    """The package version and, in a git checkout, its commit (saved in the run's card)."""
    from ..paths import repo_root

    commit = None
    try:
        commit = subprocess.run(  # noqa: S603
            ["git", "rev-parse", "HEAD"], cwd=repo_root(), capture_output=True, text=True, timeout=5, check=False  # noqa: S607
        ).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        pass
    return {"musictag": __version__, "git_commit": commit}


def execute_run(run_dir: str | os.PathLike) -> str:
    """The worker: wait for the lock, train, evaluate, save; returns the final state.

    Never raises for training problems: they end as ``failed`` with the error in
    ``status.json`` and ``events.jsonl``.
    """
    run = Run(Path(run_dir).resolve())
    config_data = run.read_config()
    if not config_data:
        raise TrainingError(f"{run.path}: no readable config.json; is this a run folder?")
    run.record_worker()
    lock = RunLock(run.path.parent)
    try:
        # queue: wait for the lock, oldest queued run first; a stop while queued ends here
        while True:
            if run.stop_requested():
                run.update_status(state="stopped", ended=now_iso(), error=None)
                return "stopped"
            if not run.older_queued_alive() and lock.try_acquire():
                break
            time.sleep(0.25)
        run.update_status(state="running", started=now_iso())
        return _execute_locked(run, config_data)
    finally:
        lock.release()


def _execute_locked(run: Run, config_data: dict[str, Any]) -> str:
    from ..datasets import open_dataset

    ctx: RunContext | None = None
    try:
        cfg = RunConfig.from_dict(config_data)
        ctx = RunContext(run, cfg)
        ctx.log("started", pid=os.getpid())
        index = open_dataset(cfg.dataset, threshold=cfg.threshold, keep=cfg.keep_columns, drop=cfg.drop_columns,
                             missing=cfg.missing, audio_dir=cfg.audio_dir)
        if index.kind == "features":
            ctx.log("columns", feature_columns=index.meta.get("feature_columns"),
                    excluded_columns=index.meta.get("excluded_columns"))
        task = cfg.task or index.task
        if cfg.max_tracks is not None and cfg.max_tracks < len(index):
            from sklearn.model_selection import train_test_split

            keep, _ = train_test_split(
                np.arange(len(index)), train_size=cfg.max_tracks, random_state=cfg.seed,
                stratify=stratify_key(index, task) if task == "single" else None,
            )
            index = index.subset(np.sort(keep))
        trainer = train_sklearn if cfg.family == "sklearn" else train_keras
        splits = fold_splits(index, task, cfg) if cfg.cv else [
            split_tracks(index, task, seed=cfg.seed, val_fraction=cfg.val_fraction, test_fraction=cfg.test_fraction)
        ]
        fold_results = []
        for k, split in enumerate(splits):
            if cfg.cv:
                ctx.log(f"fold {k + 1}/{cfg.cv}", fold=k)
            result = trainer(ctx, index, split, task, np.random.default_rng([cfg.seed, k]))
            metrics, thresholds = evaluate_split(result, index, task, cfg.threshold)
            fold_results.append((split, result, metrics, thresholds))
            if cfg.cv:
                ctx.events.write("fold", fold=k, metrics=metrics["metrics"])
            if ctx.stopped:
                break
        split, result, metrics, thresholds = fold_results[0]
        out_metrics = dict(metrics)
        if cfg.cv:
            out_metrics["cv"] = {
                "k": cfg.cv,
                "completed": len(fold_results),
                "folds": [m["metrics"] for _, _, m, _ in fold_results],
                **summarise_folds([m["metrics"] for _, _, m, _ in fold_results]),
            }
        save_outputs(ctx, index, task, split, result, out_metrics, thresholds)
        state = "stopped" if ctx.stopped else "finished"
        ctx.log(state)
        run.update_status(state=state, ended=now_iso(), error=None)
        return state
    except StopRequested:
        if ctx is not None:
            ctx.log("stopped before training")
        run.update_status(state="stopped", ended=now_iso(), error="stopped before training finished")
        return "stopped"
    except Exception as exc:  # noqa: BLE001 - the worker reports every failure in its status
        msg = f"{type(exc).__name__}: {exc}"
        expected = isinstance(exc, MusictagError)
        if ctx is not None:
            ctx.events.write("error", message=msg, traceback=traceback.format_exc())
        if os.environ.get(DEBUG_ENV):
            print(traceback.format_exc(), file=sys.stderr, flush=True)
        elif not expected:
            # a bug, not a problem with the data or settings: say so, and where the details are
            print(
                f"unexpected error in the training worker: {msg}\n"
                f"the traceback is in {run.events_path} (or rerun with --debug)",
                file=sys.stderr,
                flush=True,
            )
        # a MusictagError is already one clear line: status.json carries it and the CLI prints it
        run.update_status(
            state="failed", ended=now_iso(), error=msg, error_kind="config" if expected else "unexpected"
        )
        return "failed"
    finally:
        if ctx is not None:
            ctx.events.close()


def save_outputs(ctx: RunContext, index, task: str, split, result, metrics, thresholds) -> None:  # noqa: ANN001
    """Write the test and validation predictions, the model, ``metrics.json`` and ``card.json``."""
    cfg = ctx.config
    run = ctx.run
    Y = targets(index, task)
    rows_t, sc_t = result["test"]
    ids = index.tracks["track_id"].to_numpy()
    y_true = np.argmax(Y[rows_t], axis=1) if task == "single" else Y[rows_t]
    write_predictions(
        run.predictions_path, track_ids=ids[rows_t], y_true=y_true, y_score=sc_t, labels=index.labels, task=task
    )
    rows_v, sc_v = result["val"]
    write_predictions(
        run.output_path("predictions_validation.csv"), track_ids=ids[rows_v],
        y_true=np.argmax(Y[rows_v], axis=1) if task == "single" else Y[rows_v], y_score=sc_v,
        labels=index.labels, task=task,
    )
    model = result["model"]
    if cfg.family == "keras":
        model_file = "model.keras"
        atomic_save(run.output_path(model_file), lambda p: model.save(p))
    else:
        import joblib

        model_file = "model.joblib"
        atomic_save(run.output_path(model_file), lambda p: joblib.dump(model, p))
    run.write_metrics(metrics)
    spec = input_spec(cfg)
    card = {
        "name": run.run_id,
        "format": f"musictag-{cfg.family}",
        "kind": "run",
        "model_file": model_file,
        "model": cfg.model,
        "architecture": cfg.model + (" (fine-tuned musicnn)" if cfg.fine_tune else ""),
        "title": cfg.card.title,
        "seed_system": cfg.card.seed_system,
        "input_kind": spec.kind,
        "input_shape": result["input_shape"],
        "model_config": result["model_config"],
        "task": task,
        "labels": list(index.labels),
        "genres": list(index.labels),
        "threshold": cfg.threshold,
        "thresholds": None if thresholds is None else [float(t) for t in thresholds],
        "sr": spec.sr,
        "inputs": spec.to_dict(),
        "segments": spec.segments.to_dict(),
        "features": None if spec.features is None else spec.features.to_dict(),
        "embedding": spec.embedding if spec.kind == "embedding" else None,
        "aggregate": "mean",
        "metrics": metrics["metrics"],
        "cv": metrics.get("cv"),
        "best_epoch": result["best_epoch"],
        "stopped_early_by_request": ctx.stopped,
        "dataset": {"spec": cfg.dataset, "name": index.name, "n_tracks": len(index)},
        # a model fitted on a feature table's own columns scores tables, not audio files
        "feature_columns": (
            [str(c) for c in index.features.columns] if spec.kind == "stats" and index.features is not None else None
        ),
        # the feature-table column rule: what it left out and why (None for audio datasets)
        "excluded_columns": index.meta.get("excluded_columns") if index.kind == "features" else None,
        "split": {k: ids[v].tolist() for k, v in split.items()},
        "config": cfg.to_dict(),
        "code_version": code_version(),
        "created": now_iso(),
    }
    run.write_card(card)


def run_worker_main(run_dir: str | os.PathLike) -> int:
    """Run the worker for ``run_dir``; exit status 0 unless the run failed (SIGTERM fails it)."""
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        state = execute_run(run_dir)
    except KeyboardInterrupt:
        Run(run_dir).update_status(state="failed", error="worker terminated (SIGTERM)", ended=now_iso())
        return 1
    return 0 if state in ("finished", "stopped") else 1


def main(argv: list[str] | None = None) -> int:
    """``python -m musictag_core.training.worker RUN_DIR`` (what :meth:`Run.launch` starts)."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m musictag_core.training.worker RUN_DIR", file=sys.stderr)
        return 2
    return run_worker_main(args[0])


if __name__ == "__main__":
    sys.exit(main())
