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
from .data import input_spec, targets
from .fit import evaluate_split, pooled_result, summarise_folds, train_keras, train_sklearn

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
    from .preflight import load_dataset, preflight

    ctx: RunContext | None = None
    try:
        cfg = RunConfig.from_dict(config_data)
        ctx = RunContext(run, cfg)
        ctx.log("started", pid=os.getpid())
        index, task = load_dataset(cfg)
        if index.kind == "features":
            ctx.log("columns", feature_columns=index.meta.get("feature_columns"),
                    excluded_columns=index.meta.get("excluded_columns"))
        plan = preflight(cfg, index=index, task=task)
        for note in plan.notes:
            ctx.log(note)
        trainer = train_sklearn if cfg.family == "sklearn" else train_keras
        if cfg.model == "tagtext":  # two towers, a contrastive loss and a zero-shot evaluation of its own
            from .tagtext import train_tagtext as trainer
        if cfg.model == "transfer" and cfg.head != "dense":  # a scikit-learn head on musicnn patch outputs
            from .transfer_small import train_transfer_head as trainer
        splits = plan.splits
        cv = plan.evaluation != "split"
        fold_results = []
        for k, split in enumerate(splits):
            if cv:
                ctx.log(f"fold {k + 1}/{len(splits)}", fold=k)
            result = trainer(ctx, index, split, task, np.random.default_rng([cfg.seed, k]))
            metrics, thresholds = evaluate_split(result, index, task, cfg.threshold, per_fold=plan.evaluation != "loo")
            if "zero_shot" in result:
                metrics = {**metrics, "zero_shot": result["zero_shot"]}
            fold_results.append((split, result, metrics, thresholds))
            if cv:
                ctx.events.write("fold", fold=k, metrics=metrics["metrics"])
            if ctx.stopped:
                break
        split, result, metrics, thresholds = fold_results[0]
        fold_metrics = [m["metrics"] for _, _, m, _ in fold_results]
        if cv:
            result, metrics, thresholds = pooled_result(fold_results, index, task, cfg.threshold)
            out_metrics = dict(metrics)
            per_fold = plan.evaluation != "loo"
            out_metrics["cv"] = {
                "k": plan.k,
                "kind": plan.evaluation,
                "k_requested": plan.k_requested,
                "repeats": plan.repeats,
                "n_folds": len(splits),
                "completed": len(fold_results),
                "grouped_by": plan.grouped_by,
                "headline": "pooled out-of-fold predictions",
                "notes": plan.notes,
                "folds": fold_metrics if per_fold else None,
                **(summarise_folds(fold_metrics) if per_fold else {"mean": None, "std": None}),
            }
            if not cfg.test_split and cfg.family == "sklearn" and not ctx.stopped:
                ctx.log("final model: trained on every track")
                everything = np.arange(len(index))
                final = trainer(ctx, index, {"train": everything, "validation": everything[:0], "test": everything[:0]},
                                task, np.random.default_rng([cfg.seed, len(splits)]))
                result = {**result, "model": final["model"], "tuning": final.get("tuning")}
        else:
            out_metrics = dict(metrics)
        run.write_folds(
            folds=[index.tracks["track_id"].to_numpy()[s["test"]].tolist() for s, _, _, _ in fold_results],
            fold_metrics=fold_metrics if plan.evaluation != "loo" or task == "single" else None,
            evaluation=plan.evaluation,
            task=task,
        )
        save_outputs(ctx, index, task, split, result, out_metrics, thresholds, plan=plan,
                     fold_tuning=[r.get("tuning") for _, r, _, _ in fold_results])
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


def save_outputs(ctx: RunContext, index, task: str, split, result, metrics, thresholds, *, plan=None, fold_tuning=None) -> None:  # noqa: ANN001
    """Write the test (or pooled out-of-fold) and validation predictions, the model, ``metrics.json`` and ``card.json``."""
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
    if len(rows_v):  # classical models fit on train + validation: no held-out validation scores
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
        "architecture": cfg.model + (" (fine-tuned musicnn)" if cfg.fine_tune else "") + (
            f" ({cfg.head} head, {cfg.level} level, {cfg.embedding})" if cfg.family == "sklearn" and cfg.model == "transfer" else ""
        ),
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
        "evaluation": None if plan is None else plan.to_dict(),
        "fitted_on": result.get("fitted_on"),
        "tuning": _tuning_card(result.get("tuning"), fold_tuning),
        "transfer": _transfer_card(cfg, result, fold_tuning) if cfg.model == "transfer" else None,
        "fallbacks": result.get("fallbacks") or [],
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


def _tuning_card(final: dict | None, per_fold: list | None) -> dict | None:
    """``card["tuning"]``: the search space, the saved model's chosen values and each fold's."""
    folds = [t for t in (per_fold or []) if t]
    if not final and not folds:
        return None
    base = dict(final or folds[0])
    base["per_fold"] = [t.get("best_params") for t in folds]
    return base


def _transfer_card(cfg: RunConfig, result: dict, fold_tuning: list | None) -> dict:
    """``card["transfer"]``: the head, level and features of a transfer run, its search space and chosen C per fold."""
    from ..inputs import EMBEDDING_PARTS

    folds = [t for t in (fold_tuning or []) if t]
    final = result.get("tuning")
    return {
        "head": cfg.head,
        "level": "segment" if cfg.head == "dense" else cfg.level,
        "features": cfg.embedding,
        "parts": list(EMBEDDING_PARTS[cfg.embedding]),
        "n_features": (result.get("input_shape") or [None])[-1],
        "standardised": cfg.head != "dense" or None,
        "fine_tune": cfg.fine_tune,
        "tuned": cfg.tune,
        "search_space": (final or (folds[0] if folds else {})).get("space") if cfg.tune else None,
        "chosen_per_fold": [t.get("best_params") for t in folds] if cfg.tune else None,
        "chosen_final": (final or {}).get("best_params") if cfg.tune else None,
        "track_score": "mean of the patch scores",
    }


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
