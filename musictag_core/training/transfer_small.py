"""Transfer on small data: scikit-learn heads on cached musicnn patch outputs, compared on the same folds.

The ``transfer`` model's choices that matter most on a few dozen tracks are
evaluated here with pooled out-of-fold metrics:

- ``level``: ``"segment"`` trains on every 3 s patch (each a sample, labelled
  with its track's label); ``"track"`` trains on one mean vector per track.
  Either way a test track's score is the mean of its patches' scores (the rule the
  saved head follows when it tags a file). Folds are always by track
  (every patch of a test track is out of the training data), and the inner
  folds of a tuned head are grouped by track too, so no patch of a track is
  on both sides of any split.
- ``features``: the pooled (1506-d) or penultimate (200-d) embedding, both,
  the taggram (musicnn's 50 tag scores), or both embeddings plus the taggram;
  every head standardises its input (:class:`~sklearn.preprocessing.StandardScaler`).
- ``head``: logistic regression or an RBF SVM, with ``C`` fixed (1.0) or
  ``tune=True``: searched by inner grouped cross-validation
  (:data:`HEAD_SPACES`) on each outer fold's training tracks only.

musicnn's outputs per patch are computed once per file (through
:func:`~musictag_core.inputs.compute_inputs`, the path the taggers use) and cached
in the feature store's :class:`~musictag_core.store.ArrayCache` (keyed by file
digest), so repeated comparisons and runs read them from disk.

The same heads train as runs: ``RunConfig(model="transfer", head="logreg"|"svm",
level=..., embedding=..., tune=...)`` fits :func:`build_head` through
:func:`train_transfer_head` (the worker's trainer for those heads) and saves it as
the run's ``model.joblib``; the run tagger then scores each patch of a file with
it and averages, exactly as the run's evaluation does.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import ParameterError, TrainingError
from ..inputs import EMBEDDING_PARTS, InputSpec, embedding_columns

__all__ = [
    "FEATURE_CHOICES",
    "HEAD_SPACES",
    "TransferChoice",
    "build_head",
    "compare_transfer_choices",
    "evaluate_transfer_choice",
    "patch_outputs",
    "search_head",
    "track_folds",
    "train_transfer_head",
]

#: ``features`` values and the musicnn outputs each concatenates (the run setting ``embedding``).
FEATURE_CHOICES: dict[str, tuple[str, ...]] = EMBEDDING_PARTS

#: Grids of a tuned head (inner cross-validation grouped by track).
HEAD_SPACES: dict[str, dict[str, list[float]]] = {
    "logreg": {"model__C": [0.001, 0.01, 0.1, 1.0]},
    "svm": {"model__C": [0.1, 1.0, 10.0, 100.0]},
}

_OUTPUTS = ("pooled", "penultimate", "tags")


@dataclass(frozen=True)
class TransferChoice:
    """One way to fit a head on musicnn patch outputs.

    Parameters
    ----------
    level : {"segment", "track"}
    features : str
        A key of :data:`FEATURE_CHOICES`.
    head : {"logreg", "svm"}
    tune : bool
        Search ``C`` (:data:`HEAD_SPACES`) by inner cross-validation grouped by track.
    """

    level: str = "segment"
    features: str = "both"
    head: str = "logreg"
    tune: bool = False

    def __post_init__(self) -> None:  # noqa: D105
        if self.level not in ("segment", "track"):
            raise ParameterError(f"level must be 'segment' or 'track', got {self.level!r}")
        if self.features not in FEATURE_CHOICES:
            raise ParameterError(f"features must be one of {sorted(FEATURE_CHOICES)}, got {self.features!r}")
        if self.head not in HEAD_SPACES:
            raise ParameterError(f"head must be one of {sorted(HEAD_SPACES)}, got {self.head!r}")
        if not isinstance(self.tune, bool):
            raise ParameterError(f"tune must be true or false, got {self.tune!r}")

    @property
    def name(self) -> str:
        """Short name, e.g. ``segment/both/logreg+tune``."""
        return f"{self.level}/{self.features}/{self.head}" + ("+tune" if self.tune else "")


def patch_outputs(
    paths: Sequence[str | os.PathLike], *, backbone: str = "MSD_musicnn", duration: float | None = None,
    cache_root: str | os.PathLike | None = None, progress: Callable[[int, int], None] | None = None,
    spec: InputSpec | None = None,
) -> list[dict[str, np.ndarray]]:
    """musicnn's per-patch outputs of each file, through the embedding cache.

    Computed with :func:`~musictag_core.inputs.compute_inputs` (the taggers' path) on the
    ``both+taggram`` spec, so every ``embedding`` choice reads the same cache entry.

    Parameters
    ----------
    paths : sequence of path
        Audio files.
    backbone : str
        Shipped musicnn model (ignored when ``spec`` is given).
    duration : float or None
        Read at most this many seconds of each file (None: all; ignored when ``spec`` is given).
    cache_root : path, optional
        Root of the :class:`~musictag_core.store.ArrayCache` (default: the cache's ``embeddings``).
    progress : callable(done, total), optional
    spec : InputSpec, optional
        A run's ``embedding`` spec (:func:`~musictag_core.training.data.input_spec`): its decode
        settings, cut and backbone are used.

    Returns
    -------
    list of dict
        Per file: ``pooled`` [shape=(n_patches, 1506)], ``penultimate``
        [shape=(n_patches, 200)] and ``tags`` [shape=(n_patches, 50)].
    """
    from ..audio import load_audio
    from ..config import AudioConfig, SegmentConfig
    from ..inputs import compute_inputs
    from ..models.loading import load_tagger
    from ..store import ArrayCache, file_digest

    if spec is None:
        spec = InputSpec(kind="embedding", audio=AudioConfig(sr=16000, duration=duration, allow_silence=True),
                         segments=SegmentConfig(), features=None, embedding="both+taggram", backbone=backbone)
    if spec.kind != "embedding":
        raise ParameterError(f"patch_outputs needs an 'embedding' input spec, got kind {spec.kind!r}")
    spec = spec.replace(embedding="both+taggram")
    cache = ArrayCache(spec=spec, root=cache_root)
    model = None
    out = []
    for i, path in enumerate(paths):
        digest = file_digest(path)
        arrays = {k: cache.load(digest, f"patch-{k}", mmap_mode=None) for k in _OUTPUTS}
        if any(a is None for a in arrays.values()):
            if model is None:
                model = load_tagger(spec.backbone)
            y, _ = load_audio(path, config=spec.audio)
            _, x = compute_inputs(y, spec=spec, backbone=model)
            ends = np.cumsum([0] + [_width(model, k) for k in _OUTPUTS])
            for j, k in enumerate(_OUTPUTS):
                arrays[k] = np.ascontiguousarray(x[:, ends[j]:ends[j + 1]], dtype=np.float32)
                cache.save(digest, arrays[k], f"patch-{k}")
        out.append(arrays)
        if progress is not None:
            progress(i + 1, len(paths))
    return out


def _width(model: Any, output: str) -> int:
    """Columns of one musicnn output (the tag count from the model's labels)."""
    from ..models.registry import EMBEDDING_DIMS

    return len(model.labels) if output == "tags" else EMBEDDING_DIMS[output]


def track_folds(y: np.ndarray, *, k: int | str = 5, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """Outer folds over tracks: stratified K-fold (K capped at the smallest class, at least 2) or ``"loo"``.

    Returns
    -------
    list of (train_rows, test_rows)
    """
    from sklearn.model_selection import LeaveOneOut, StratifiedKFold

    y = np.asarray(y)
    if k == "loo":
        return [(tr, te) for tr, te in LeaveOneOut().split(y)]
    smallest = int(np.unique(y, return_counts=True)[1].min())
    if smallest < 2:
        raise ParameterError("a class has a single track: use k='loo' or add tracks")
    k = max(2, min(int(k), smallest))
    return list(StratifiedKFold(n_splits=k, shuffle=True, random_state=seed).split(np.zeros(len(y)), y))


def build_head(head: str, *, task: str = "single", seed: int = 0) -> Any:
    """An unfitted transfer head: :class:`~sklearn.preprocessing.StandardScaler` then the model.

    Parameters
    ----------
    head : {"logreg", "svm"}
        Logistic regression (``C=1``), or an RBF SVM (``C=1``) whose scores are the softmax of its
        one-vs-rest decision values (:class:`~musictag_core.models.classical.SoftmaxSVC`: no internal
        calibration folds, which two tracks of a genre cannot feed).
    task : {"single", "multi"}
        ``multi``: one head per label (:class:`~sklearn.multiclass.OneVsRestClassifier`).
    seed : int

    Returns
    -------
    sklearn.pipeline.Pipeline or OneVsRestClassifier
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    from ..models.classical import SoftmaxSVC

    if head not in HEAD_SPACES:
        raise ParameterError(f"head must be one of {sorted(HEAD_SPACES)}, got {head!r}")
    if task not in ("single", "multi"):
        raise ParameterError(f"a {head} transfer head classifies (single or multi), got task {task!r}")
    model = (
        LogisticRegression(C=1.0, max_iter=300, tol=1e-3, random_state=seed)
        if head == "logreg" else SoftmaxSVC(C=1.0, gamma="scale", random_state=seed)
    )
    pipe = Pipeline([("scale", StandardScaler()), ("model", model)])
    return OneVsRestClassifier(pipe) if task == "multi" else pipe


def search_head(
    model: Any, X: np.ndarray, y: np.ndarray, groups: np.ndarray, *, head: str, task: str = "single", seed: int = 0,
) -> tuple[Any, dict[str, Any]]:
    """Choose ``C`` (:data:`HEAD_SPACES`) by inner cross-validation grouped by track; refit on all rows.

    Parameters
    ----------
    model : estimator
        Unfitted :func:`build_head`.
    X : np.ndarray [shape=(n_rows, dim)]
        Patch rows (or track means).
    y : np.ndarray [shape=(n_rows,)] or [shape=(n_rows, n_labels)]
        Class per row (single) or 0/1 labels (multi).
    groups : np.ndarray [shape=(n_rows,)]
        Track of each row: no track has rows on both sides of an inner split.
    head : {"logreg", "svm"}
    task : {"single", "multi"}
    seed : int
        Seeds the inner folds.

    Returns
    -------
    best : estimator
        Fitted on every row, with the chosen ``C`` (the fixed ``C=1`` when a class has a single
        track, so no inner fold could train it; ``record["skipped"]`` says so).
    record : dict
        ``method``, ``inner_folds``, ``grouped_by``, ``scoring``, ``space``, ``n_candidates``,
        ``best_params``, ``best_score``.
    """
    from sklearn.base import clone
    from sklearn.model_selection import GridSearchCV, GroupKFold, StratifiedGroupKFold

    prefix = "estimator__" if task == "multi" else ""
    space = {prefix + k: list(v) for k, v in HEAD_SPACES[head].items()}
    record: dict[str, Any] = {
        "method": "GridSearchCV", "inner_folds": None, "grouped_by": "track", "scoring": None, "space": space,
        "n_candidates": int(np.prod([len(v) for v in space.values()])), "best_params": None, "best_score": None,
    }
    tracks, first = np.unique(groups, return_index=True)
    if task == "single":
        per_class = np.unique(np.asarray(y)[first], return_counts=True)[1]
        smallest = int(per_class.min())
        record["scoring"] = "accuracy"
        if smallest < 2:  # no inner fold can train every class: keep the fixed C
            record["skipped"] = "a class has a single training track; C stays 1.0"
            record["best_params"] = {k: 1.0 for k in space}
            return clone(model).fit(X, y), record
        k = int(max(2, min(3, smallest)))
        inner = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    else:
        k = int(max(2, min(3, len(tracks))))
        inner = GroupKFold(n_splits=k)
        record["scoring"] = "average_precision"
    search = GridSearchCV(model, space, cv=inner, scoring=record["scoring"], refit=True, error_score=np.nan)
    search.fit(X, y, groups=groups)
    record.update(
        inner_folds=k, best_params={p: float(v) for p, v in search.best_params_.items()},
        best_score=None if not np.isfinite(search.best_score_) else float(search.best_score_),
    )
    return search.best_estimator_, record


def _rows(feats: Any, tracks: np.ndarray, level: str) -> tuple[np.ndarray, np.ndarray]:
    """Matrix of ``tracks`` (patches or track means) and the track each row belongs to."""
    if level == "track":
        return np.vstack([np.asarray(feats[t], dtype=np.float64).mean(axis=0) for t in tracks]), np.asarray(tracks)
    return (np.vstack([np.asarray(feats[t], dtype=np.float64) for t in tracks]),
            np.concatenate([np.full(len(feats[t]), t) for t in tracks]))


def _track_scores(model: Any, feats: Any, tracks: np.ndarray, *, task: str, n_labels: int) -> np.ndarray:
    """Each track's score [shape=(len(tracks), n_labels)]: the mean of its patches' scores (the tagger's rule).

    Single-label columns follow ``model.classes_``; a class the model never saw scores 0.
    """
    from ..models.classical import predict_scores

    out = np.zeros((len(tracks), n_labels), dtype=np.float64)
    if not len(tracks):
        return out
    X, owner = _rows(feats, np.asarray(tracks), "segment")
    sc = predict_scores(model, X, task=task)
    cols = np.asarray(model.classes_, dtype=int) if task == "single" else np.arange(n_labels)
    for j, t in enumerate(tracks):
        out[j, cols] = sc[owner == t].mean(axis=0)
    return out


def evaluate_transfer_choice(
    outputs: list[dict[str, np.ndarray]], y: np.ndarray, *, choice: TransferChoice,
    folds: list[tuple[np.ndarray, np.ndarray]], n_classes: int | None = None, seed: int = 0,
) -> dict[str, Any]:
    """Pooled out-of-fold track predictions of one choice on the given folds.

    Parameters
    ----------
    outputs : list of dict
        :func:`patch_outputs` of each track.
    y : np.ndarray [shape=(n_tracks,)]
        Integer class of each track.
    choice : TransferChoice
    folds : list of (train_rows, test_rows)
        Track rows (e.g. from :func:`track_folds`); every test track is scored once.
    n_classes : int, optional
        Default ``y.max() + 1``.
    seed : int

    Returns
    -------
    dict
        ``choice``, ``accuracy``, ``macro_f1`` (pooled out-of-fold, over the
        tracks the folds test), ``n_tested``, ``predictions`` [shape=(n_tested,)]
        in test order, ``tested`` (track rows) and ``best_params`` per fold (tuned heads).
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.metrics import accuracy_score, f1_score

    y = np.asarray(y, dtype=int)
    if len(outputs) != len(y):
        raise ParameterError(f"outputs has {len(outputs)} tracks but y has {len(y)}")
    n_classes = int(n_classes or y.max() + 1)
    feats = [embedding_columns(o, embedding=choice.features).astype(np.float64) for o in outputs]
    tested, preds, chosen = [], [], []

    def fit_fold(tr: np.ndarray, te: np.ndarray) -> None:
        X, owner = _rows(feats, tr, choice.level)
        model = build_head(choice.head, seed=seed)
        if choice.tune:
            model, record = search_head(model, X, y[owner], owner, head=choice.head, seed=seed)
            chosen.append({"skipped": record["skipped"]} if "skipped" in record else record["best_params"])
        else:
            model.fit(X, y[owner])
        sc = _track_scores(model, feats, te, task="single", n_labels=n_classes)
        preds.extend(int(i) for i in np.argmax(sc, axis=1))
        tested.extend(int(t) for t in te)

    with warnings.catch_warnings():  # lbfgs may stop at max_iter on wide embeddings; the folds judge the fit
        warnings.simplefilter("ignore", ConvergenceWarning)
        for tr, te in folds:
            fit_fold(np.asarray(tr), np.asarray(te))
    tested_a, preds_a = np.asarray(tested), np.asarray(preds)
    y_true = y[tested_a]
    return {
        "choice": choice.name,
        "accuracy": float(accuracy_score(y_true, preds_a)),
        "macro_f1": float(f1_score(y_true, preds_a, average="macro", labels=np.unique(y_true), zero_division=0)),
        "n_tested": len(tested_a),
        "tested": tested_a,
        "predictions": preds_a,
        "best_params": chosen,
    }


def compare_transfer_choices(
    dataset: str, *, choices: Sequence[TransferChoice], cv: int | str = 5, seed: int = 0,
    threshold: float = 50.0, progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Compare transfer heads on a single-label audio dataset with the same track folds.

    Parameters
    ----------
    dataset : str
        A dataset spec (folder, listing, ``demo-hard``...); tracks with exactly one label are used.
    choices : sequence of TransferChoice
    cv : int or "loo"
        Stratified K-fold by track (K capped at the smallest class) or leave-one-out.
    seed : int
    threshold : float
        Strength at or above which a label is present.
    progress : callable(done, total), optional
        Called per file while musicnn outputs are computed (or read from the cache).

    Returns
    -------
    dict
        ``dataset``, ``n_tracks``, ``labels``, ``folds`` (``{"kind", "k"}``) and ``results``: per
        choice ``{"choice", "accuracy", "macro_f1", "best_params"}``, best first.

    Raises
    ------
    ParameterError
        No choice, fewer than 2 labels, a class with a single track under K-fold, a
        feature table (no audio).
    """
    from ..datasets import open_dataset

    if not choices:
        raise ParameterError("give at least one choice to compare")
    if cv != "loo" and (isinstance(cv, bool) or not isinstance(cv, int) or cv < 2):
        raise ParameterError(f"cv must be an int >= 2 or 'loo', got {cv!r}")
    index = open_dataset(dataset, threshold=threshold)
    if index.kind == "features":
        raise ParameterError(f"{index.name}: a feature table has no audio; transfer heads need audio files")
    present = index.strengths >= index.threshold
    single = np.flatnonzero(present.sum(axis=1) == 1)
    y = np.argmax(present[single], axis=1)
    used = sorted(set(y.tolist()))
    if len(used) < 2:
        raise ParameterError(f"{index.name}: fewer than 2 labels among its single-label tracks; nothing to compare")
    remap = {c: i for i, c in enumerate(used)}
    y = np.array([remap[c] for c in y])
    labels = [str(index.labels[c]) for c in used]
    try:
        folds = track_folds(y, k=cv, seed=seed)
    except ParameterError:
        counts = np.bincount(y)
        lonely = [labels[i] for i in np.flatnonzero(counts < 2)]
        raise ParameterError(
            f"{index.name}: label(s) {lonely} have a single track; use cv='loo' (--cv loo) or add tracks"
        ) from None
    outs = patch_outputs(list(index.tracks["path"].iloc[single]), progress=progress)
    results = []
    for c in choices:
        r = evaluate_transfer_choice(outs, y, choice=c, folds=folds, n_classes=len(labels), seed=seed)
        results.append({"choice": r["choice"], "accuracy": r["accuracy"], "macro_f1": r["macro_f1"],
                        "best_params": r["best_params"]})
    results.sort(key=lambda r: (-r["accuracy"], -r["macro_f1"]))
    return {
        "dataset": index.name, "n_tracks": len(y), "labels": labels,
        "folds": {"kind": "loo" if cv == "loo" else "stratified-kfold-by-track", "k": len(folds)},
        "results": results,
    }


def train_transfer_head(ctx: Any, index: Any, split: dict[str, np.ndarray], task: str, rng: np.random.Generator) -> dict[str, Any]:
    """The worker's trainer of a transfer run with ``head`` ``"logreg"`` or ``"svm"`` (one split or fold).

    musicnn's patch outputs come from :func:`patch_outputs` (cached per file, computed through
    :func:`~musictag_core.inputs.compute_inputs` with the run's input spec); the run's
    ``embedding`` columns (:func:`~musictag_core.inputs.embedding_columns`) feed :func:`build_head`,
    fitted on train + validation (it neither early-stops nor tunes thresholds there) at the run's
    ``level``, with ``C`` searched by :func:`search_head` when ``tune`` is on. A test track's
    score is the mean of its patches' scores, the rule the run tagger applies when it tags a file.
    Multi-label validation scores (which tune per-label thresholds) are inner 3-fold out-of-fold
    track scores (folds by track).

    Returns
    -------
    dict
        As :func:`~musictag_core.training.fit.train_sklearn`: ``model``, ``model_config``,
        ``val``, ``test``, ``best_epoch``, ``input_shape``, ``fit_seconds``, ``fitted_on``,
        ``tuning`` and ``fallbacks``.
    """
    import time

    from sklearn.base import clone
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import GroupKFold

    from .context import StopRequested
    from .data import input_spec, targets
    from .fit import fit_targets, track_metrics

    cfg = ctx.config
    if task not in ("single", "multi"):
        raise TrainingError(
            f"the {cfg.head} transfer head classifies (single- or multi-label), and this run's task is {task!r}; "
            "use head 'dense' for strength regression"
        )
    Y = targets(index, task)
    labels = list(index.labels)
    fit_rows = np.concatenate([split["train"], split["validation"]]).astype(int)
    all_rows = np.concatenate([fit_rows, split["test"]]).astype(int)
    spec = input_spec(cfg)
    ctx.log("preparing inputs", tracks=len(all_rows))

    def progress(done: int, total: int) -> None:
        if done % 25 == 0 or done == total:
            ctx.log(f"musicnn outputs: {done}/{total} files", done=done, total=total)
        if ctx.stop_requested():
            raise StopRequested

    outs = patch_outputs([str(index.tracks["path"].iloc[r]) for r in all_rows], spec=spec, progress=progress)
    feats = {int(r): embedding_columns(o, embedding=cfg.embedding) for r, o in zip(all_rows, outs)}
    X, owner = _rows(feats, fit_rows, cfg.level)
    yfit = fit_targets(Y[owner], task=task, labels=labels)
    ctx.log("training", rows=len(yfit), features=int(X.shape[1]), head=cfg.head, level=cfg.level,
            embedding=cfg.embedding, fitted_on="train+validation")
    if ctx.stop_requested():
        raise StopRequested
    model = build_head(cfg.head, task=task, seed=cfg.seed)
    tuning = None
    t0 = time.perf_counter()
    with warnings.catch_warnings():  # lbfgs may stop at max_iter on wide embeddings; the folds judge the fit
        warnings.simplefilter("ignore", ConvergenceWarning)
        if cfg.tune:
            model, tuning = search_head(model, X, yfit, owner, head=cfg.head, task=task, seed=cfg.seed)
            ctx.log("tuned", best_params=tuning["best_params"], inner_score=tuning["best_score"])
        else:
            model.fit(X, yfit)
        fit_s = time.perf_counter() - t0
        val_rows, sc_v = fit_rows[:0], np.empty((0, Y.shape[1]))
        if task == "multi" and len(fit_rows) >= 6:  # thresholds tuned on out-of-fold track scores
            sc_v = np.zeros((len(fit_rows), Y.shape[1]))
            for tr, te in GroupKFold(n_splits=3).split(fit_rows, groups=fit_rows):
                Xi, oi = _rows(feats, fit_rows[tr], cfg.level)
                m = clone(model).fit(Xi, Y[oi].astype(int))
                sc_v[te] = _track_scores(m, feats, fit_rows[te], task=task, n_labels=Y.shape[1])
            val_rows = fit_rows
        sc_t = _track_scores(model, feats, split["test"], task=task, n_labels=Y.shape[1])
    ctx.events.write("epoch", epoch=0, step=1, train={}, seconds=round(fit_s, 3), validation=(
        track_metrics(val_rows, sc_v, Y, task, labels, cfg.threshold)["metrics"] if len(val_rows) else {}
    ))
    return {
        "model": model,
        "model_config": {"name": "transfer", "head": cfg.head, "level": cfg.level, "embedding": cfg.embedding,
                         "n_features": int(X.shape[1])},
        "val": (val_rows, sc_v),
        "test": (split["test"], sc_t),
        "best_epoch": 1,
        "input_shape": [int(X.shape[1])],
        "fit_seconds": fit_s,
        "fitted_on": "train+validation",
        "tuning": tuning,
        "fallbacks": [tuning["skipped"]] if tuning and tuning.get("skipped") else [],
    }
