"""Fitting: a Keras model on batches of per-track inputs, or a scikit-learn pipeline on a matrix.

Both return the fitted model with validation and test scores per track; the
worker (:mod:`musictag_core.training.worker`) evaluates and saves them.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from ..errors import TrainingError
from ..evaluate import evaluate_predictions, tune_thresholds
from ..models.registry import ModelConfig
from .config import RunConfig
from .context import RunContext, StopRequested
from .data import input_spec, prepare_inputs, sample_weights, targets

__all__ = ["build_keras_model", "evaluate_split", "pooled_result", "summarise_folds", "track_metrics", "train_keras", "train_sklearn"]



def fit_targets(Y: np.ndarray, *, task: str, labels: list[str]) -> np.ndarray:
    """The targets a scikit-learn model is fitted on, from the label matrix of its training rows.

    Parameters
    ----------
    Y : np.ndarray [shape=(n, n_labels)]
        0/1 label matrix (strengths for regression).
    task : {"single", "multi", "regression"}
    labels : list of str

    Returns
    -------
    np.ndarray
        ``single``: class indices [shape=(n,)]; ``multi``: int 0/1 [shape=(n, n_labels)];
        ``regression``: ``Y`` unchanged.

    Raises
    ------
    TrainingError
        Single-label data where some label has no training row.
    """
    if task == "single":
        y = np.argmax(Y, axis=1)
        missing = sorted(set(range(len(labels))) - set(y.tolist()))
        if missing:
            raise TrainingError(
                f"labels {[labels[i] for i in missing]} have no training track; add tracks or drop the labels"
            )
        return y
    if task == "multi":
        return Y.astype(int)
    return Y

def track_metrics(y_rows: np.ndarray, scores: np.ndarray, Yfull: np.ndarray, task: str, labels, threshold, thresholds=None) -> dict:  # noqa: ANN001
    """Metrics of track scores ``[shape=(len(y_rows), n_labels)]`` against the targets of rows ``y_rows``."""
    y_true = Yfull[y_rows]
    if task == "single":
        y_true = np.argmax(y_true, axis=1)
    return evaluate_predictions(y_true, scores, task=task, labels=labels, thresholds=thresholds, threshold=threshold)


def build_keras_model(cfg: RunConfig, mcfg: ModelConfig):  # noqa: ANN202
    """The run's Keras model: the registry's ``build_*`` function, or musicnn with a head when fine-tuning."""
    from ..models.registry import build_model

    if cfg.card.input_kind == "embedding" and cfg.fine_tune:
        from ..models.loading import load_keras_network
        from ..models.neural import build_musicnn_finetune

        backbone = load_keras_network(input_spec(cfg).backbone)
        return build_musicnn_finetune(mcfg, backbone=backbone, embedding=cfg.embedding)
    return build_model(cfg.model, mcfg)


def train_keras(ctx: RunContext, index, split: dict[str, np.ndarray], task: str, rng: np.random.Generator) -> dict[str, Any]:  # noqa: ANN001
    """Fit a Keras model on one split (batch and epoch events, early stopping); return the model and its val/test scores."""
    import keras

    from ..models.neural import NORMALIZE_NAME, loss_for_task
    from .sampler import SegmentSampler, as_pydataset, predict_tracks

    cfg = ctx.config
    keras.utils.set_random_seed(cfg.seed)
    Y = targets(index, task)
    spec = input_spec(cfg)
    ctx.log("preparing inputs", tracks=int(sum(len(v) for v in split.values())))
    data = prepare_inputs(ctx, index, split["train"], augment=True, rng=rng)
    data.update(prepare_inputs(ctx, index, np.concatenate([split["validation"], split["test"]]), augment=False, rng=rng))
    crop = spec.crop
    first = data[int(split["train"][0])].variants[0]
    input_shape = (crop, *first.shape[2:]) if crop is not None else tuple(first.shape[1:])
    pre = cfg.preset_obj()
    mcfg = ModelConfig(
        input_shape=tuple(int(d) for d in input_shape), n_outputs=len(index.labels), task=task,
        dropout=cfg.resolved_dropout(), width=pre.width, units=pre.units, name=cfg.model,
    )
    model = build_keras_model(cfg, mcfg)
    bs = cfg.resolved_batch_size()

    def evaluation(rows: np.ndarray) -> SegmentSampler:
        return SegmentSampler([data[int(r)].variants for r in rows], Y[rows], batch_size=max(bs, 32), crop=crop, evaluation=True)

    ev_val, ev_test = evaluation(split["validation"]), evaluation(split["test"])
    # train metrics each epoch on a fixed random sample of training tracks (cheap, unbiased by label order)
    tr_rows = np.sort(np.random.default_rng(cfg.seed).choice(split["train"], min(48, len(split["train"])), replace=False))
    ev_train = evaluation(tr_rows)
    try:
        norm = model.get_layer(NORMALIZE_NAME)
    except ValueError:
        norm = None
    if norm is not None:  # per-band statistics of up to 512 training inputs
        xs, n = [], 0
        for k in range(len(ev_train)):
            xs.append(ev_train.batch(k)[0])
            n += len(xs[-1])
            if n >= 512:
                break
        norm.adapt(np.concatenate(xs)[:512])
    opt = (
        keras.optimizers.Adam(learning_rate=cfg.resolved_learning_rate())
        if cfg.optimizer == "adam"
        else keras.optimizers.SGD(learning_rate=cfg.resolved_learning_rate(), momentum=cfg.momentum)
    )
    kmetrics = {"single": ["accuracy"], "multi": [keras.metrics.BinaryAccuracy(name="binary_accuracy")], "regression": ["mae"]}[task]
    model.compile(optimizer=opt, loss=loss_for_task(task), metrics=kmetrics)
    weights = sample_weights(Y[split["train"]], task) if cfg.class_weights else None
    sampler = SegmentSampler(
        [data[int(r)].variants for r in split["train"]], Y[split["train"]], batch_size=bs, rng=rng, crop=crop, weights=weights
    )
    labels = list(index.labels)

    class EventsCallback(keras.callbacks.Callback):
        """Batch and epoch events; validation loss and track metrics (keras's ``val_loss``)."""

        def __init__(self) -> None:
            super().__init__()
            self.step = 0
            self.epoch = 0
            self.t0 = time.perf_counter()
            self.samples = 0

        def on_epoch_begin(self, epoch, logs=None):  # noqa: ANN001
            self.epoch = epoch
            self.t0 = time.perf_counter()
            self.samples = 0

        def on_train_batch_end(self, batch, logs=None):  # noqa: ANN001
            self.step += 1
            self.samples += len(sampler.owners(batch))
            loss = float((logs or {}).get("loss", float("nan")))
            ctx.events.write("batch", epoch=self.epoch, step=self.step, loss=loss)
            if ctx.stop_requested():
                self.model.stop_training = True

        def on_epoch_end(self, epoch, logs=None):  # noqa: ANN001
            seconds = time.perf_counter() - self.t0
            sc, val_loss = predict_tracks(self.model, ev_val, task=task)
            val = track_metrics(split["validation"], sc, Y, task, labels, cfg.threshold)["metrics"]
            sc, _ = predict_tracks(self.model, ev_train)
            tr = track_metrics(tr_rows, sc, Y, task, labels, cfg.threshold)["metrics"]
            if logs is not None:
                logs["val_loss"] = val_loss  # read by EarlyStopping (called after this callback)
            logs = dict(logs or {})
            train = {"loss": logs.get("loss"), **{k: v for k, v in logs.items() if not k.startswith("val_") and k != "loss"}, **tr}
            ctx.events.write(
                "epoch", epoch=epoch, step=self.step, train=train, validation={"loss": val_loss, **val},
                seconds=round(seconds, 3), samples_per_s=round(self.samples / max(seconds, 1e-9), 2),
            )
            ctx.run.update_status(epoch=epoch + 1)

    es = keras.callbacks.EarlyStopping(
        monitor="val_loss", patience=cfg.patience if cfg.patience > 0 else 10**9, restore_best_weights=True
    )
    ctx.log("training", epochs=cfg.resolved_epochs(), batches_per_epoch=len(sampler), input_shape=list(input_shape))
    model.fit(as_pydataset(sampler), epochs=cfg.resolved_epochs(), callbacks=[EventsCallback(), es], verbose=0)
    # evaluation with the restored best weights
    sc_v, _ = predict_tracks(model, ev_val)
    sc_t, _ = predict_tracks(model, ev_test)
    return {
        "model": model,
        "model_config": mcfg.to_dict(),
        "val": (split["validation"], sc_v),
        "test": (split["test"], sc_t),
        "best_epoch": int(getattr(es, "best_epoch", 0)) + 1,
        "input_shape": list(input_shape),
    }


def train_sklearn(ctx: RunContext, index, split: dict[str, np.ndarray], task: str, rng: np.random.Generator) -> dict[str, Any]:  # noqa: ANN001
    """Fit a scikit-learn pipeline on one split's per-track matrix; return the model and its scores.

    Classical models neither early-stop nor tune anything on the validation split,
    so they fit on train + validation (every non-test track). The validation
    scores (``result["val"]``: the epoch event's validation metrics, and the
    multi-label thresholds a validation split would tune) are inner 3-fold
    out-of-fold predictions on those tracks instead.
    With ``tune`` the hyperparameters are searched by inner cross-validation on
    the same tracks (:func:`~musictag_core.training.tuning.tune_classical`).
    """
    from ..models.classical import build_classical, fit_classical, predict_scores

    cfg = ctx.config
    Y = targets(index, task)
    fit_rows = np.concatenate([split["train"], split["validation"]])
    all_rows = np.concatenate([fit_rows, split["test"]])
    ctx.log("preparing inputs", tracks=len(all_rows))
    data = prepare_inputs(ctx, index, all_rows, augment=False, rng=rng)

    def matrix(rows: np.ndarray) -> np.ndarray:
        if not len(rows):
            return np.empty((0, np.asarray(data[int(all_rows[0])].variants[0]).reshape(1, -1).shape[1]))
        return np.vstack([np.asarray(data[int(r)].variants[0], dtype=np.float64) for r in rows])

    X_fit, X_test = matrix(fit_rows), matrix(split["test"])
    model = build_classical(
        cfg.model, task=task, random_state=cfg.seed, class_weight="balanced" if cfg.class_weights else None
    )
    labels = list(index.labels)
    yfit = fit_targets(Y[fit_rows], task=task, labels=labels)
    ctx.log("training", rows=len(yfit), features=int(X_fit.shape[1]), fitted_on="train+validation")
    if ctx.stop_requested():
        raise StopRequested
    notes: list[str] = []
    tuning = None
    t0 = time.perf_counter()
    if cfg.tune:
        from .tuning import tune_classical

        model, tuning = tune_classical(
            model, X_fit, yfit, name=cfg.model, task=task, seed=cfg.seed, labels=labels, notes=notes
        )
        ctx.log("tuned", best_params=tuning["best_params"], inner_score=tuning["best_score"])
    else:
        model = fit_classical(model, X_fit, yfit, labels=labels, notes=notes)
    fit_s = time.perf_counter() - t0
    for note in notes:
        ctx.log(note)
    # validation scores of a model fitted on train + validation: inner 3-fold out-of-fold predictions
    # (they tune multi-label thresholds; stacked, which already cross-validates a neural net, skips them
    # unless thresholds need them)
    val_rows, sc_v = fit_rows[:0], np.empty((0, Y.shape[1]))
    if len(fit_rows) >= 6 and (task == "multi" or cfg.model != "stacked"):
        sc_v = _inner_cv_scores(model, X_fit, yfit, task=task, n_labels=Y.shape[1], seed=cfg.seed)
        val_rows = fit_rows
    ctx.events.write("epoch", epoch=0, step=1, train={}, seconds=round(fit_s, 3), validation=(
        track_metrics(val_rows, sc_v, Y, task, labels, cfg.threshold)["metrics"] if len(val_rows) else {}
    ))
    return {
        "model": model,
        "model_config": {"name": cfg.model, "n_features": int(X_fit.shape[1])},
        "val": (val_rows, sc_v),
        "test": (split["test"], predict_scores(model, X_test, task=task) if len(X_test) else np.empty((0, Y.shape[1]))),
        "best_epoch": 1,
        "input_shape": [int(X_fit.shape[1])],
        "fit_seconds": fit_s,
        "fitted_on": "train+validation",
        "tuning": tuning,
        "fallbacks": notes,
    }


def _inner_cv_scores(model: Any, X: np.ndarray, y: np.ndarray, *, task: str, n_labels: int, seed: int) -> np.ndarray:
    """Out-of-fold scores [shape=(n, n_labels)] of ``model``'s settings on its own training rows (3 inner folds).

    Single-label folds are stratified when every class has 3 tracks, else plain; a
    class missing from an inner training fold scores 0 there.
    """
    from iterstrat.ml_stratifiers import MultilabelStratifiedKFold
    from sklearn.base import clone
    from sklearn.model_selection import KFold, StratifiedKFold

    from ..models.classical import fit_classical, predict_scores

    k = min(3, len(X))
    if task == "multi":
        folds = MultilabelStratifiedKFold(n_splits=k, shuffle=True, random_state=seed).split(X, y)
    elif task == "single" and np.unique(y, return_counts=True)[1].min() >= k:
        folds = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed).split(X, y)
    else:
        folds = KFold(n_splits=k, shuffle=True, random_state=seed).split(X)
    out = np.zeros((len(X), n_labels), dtype=np.float64)
    for tr, te in folds:
        m = fit_classical(clone(model), X[tr], y[tr])
        sc = predict_scores(m, X[te], task=task)
        if task == "single":
            out[np.ix_(te, np.asarray(m.classes_, dtype=int))] = sc
        else:
            out[te] = sc
    return out


def evaluate_split(result: dict, index, task: str, threshold: float, *, per_fold: bool = True) -> tuple[dict, np.ndarray | None]:  # noqa: ANN001
    """Test-split metrics of a fitted split, with per-label thresholds tuned on validation (multi-label).

    ``per_fold=False`` (a leave-one-out fold of one track or artist): only
    accuracy (single-label), since the other metrics need more than a few tracks.
    """
    Y = targets(index, task)
    labels = list(index.labels)
    rows_v, sc_v = result["val"]
    thresholds = None
    if task == "multi" and len(rows_v):
        thresholds = tune_thresholds(Y[rows_v], sc_v)
    rows_t, sc_t = result["test"]
    if not per_fold:
        acc = float(np.mean(np.argmax(sc_t, axis=1) == np.argmax(Y[rows_t], axis=1))) if task == "single" else None
        return {"metrics": {} if acc is None else {"accuracy": acc}}, thresholds
    return track_metrics(rows_t, sc_t, Y, task, labels, threshold, thresholds), thresholds


def pooled_result(fold_results: list, index, task: str, threshold: float) -> tuple[dict, dict, np.ndarray | None]:  # noqa: ANN001
    """Pool the folds' out-of-fold test scores into one prediction per track and score them.

    Each track's score is the mean over the folds that tested it (once per
    repeat). Multi-label thresholds are the mean of the folds' thresholds.

    Returns
    -------
    result : dict
        Fold 0's result with ``test`` replaced by ``(rows, pooled scores)``.
    metrics : dict
        :func:`~musictag_core.evaluate.evaluate_predictions` of the pooled scores.
    thresholds : np.ndarray or None
    """
    Y = targets(index, task)
    sums = np.zeros(Y.shape, dtype=np.float64)
    seen = np.zeros(len(Y), dtype=int)
    fold_thresholds = []
    for _, result, _, thr in fold_results:
        rows, sc = result["test"]
        np.add.at(sums, rows, np.asarray(sc, dtype=np.float64))
        np.add.at(seen, rows, 1)
        if thr is not None:
            fold_thresholds.append(np.asarray(thr, dtype=np.float64))
    rows = np.flatnonzero(seen)
    pooled = sums[rows] / seen[rows, None]
    thresholds = np.nanmean(np.vstack(fold_thresholds), axis=0) if fold_thresholds else None
    metrics = track_metrics(rows, pooled, Y, task, list(index.labels), threshold, thresholds)
    return {**fold_results[0][1], "test": (rows, pooled)}, metrics, thresholds


def summarise_folds(fold_metrics: list[dict[str, Any]]) -> dict[str, dict[str, float | None]]:
    """Mean and sample standard deviation of every metric over cross-validation folds."""
    keys = sorted({k for m in fold_metrics for k in m})
    mean, std = {}, {}
    for k in keys:
        vals = [m.get(k) for m in fold_metrics if m.get(k) is not None]
        mean[k] = float(np.mean(vals)) if vals else None
        std[k] = float(np.std(vals, ddof=1)) if len(vals) > 1 else None
    return {"mean": mean, "std": std}
