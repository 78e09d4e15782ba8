"""Transfer on small data: scikit-learn heads on cached musicnn patch outputs, compared on the same folds.

The ``transfer`` model's choices that matter most on a few dozen tracks are
evaluated here with pooled out-of-fold metrics:

- ``level``: ``"segment"`` trains on every 3 s patch (each a sample, labelled
  with its track's label) and averages the patch scores per track;
  ``"track"`` trains on one mean vector per track. Folds are always by track
  (every patch of a test track is out of the training data), and the inner
  folds of a tuned head are grouped by track too, so no patch of a track is
  on both sides of any split.
- ``features``: the pooled (1506-d) or penultimate (200-d) embedding, both,
  the taggram (musicnn's 50 tag scores), or both embeddings plus the taggram;
  every head standardises its input (:class:`~sklearn.preprocessing.StandardScaler`).
- ``head``: logistic regression or an RBF SVM, with ``C`` fixed (1.0) or
  ``tune=True``: searched by inner grouped cross-validation
  (:data:`HEAD_SPACES`) on each outer fold's training tracks only.

musicnn's outputs per patch are computed once per file and cached in the
feature store's :class:`~musictag_core.store.ArrayCache` (keyed by file digest),
so repeated comparisons read them from disk.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import ParameterError

__all__ = [
    "FEATURE_CHOICES",
    "HEAD_SPACES",
    "TransferChoice",
    "compare_transfer_choices",
    "evaluate_transfer_choice",
    "patch_outputs",
    "track_folds",
]

#: ``features`` values and the musicnn outputs each concatenates.
FEATURE_CHOICES: dict[str, tuple[str, ...]] = {
    "pooled": ("pooled",),
    "penultimate": ("penultimate",),
    "both": ("pooled", "penultimate"),
    "taggram": ("tags",),
    "both+taggram": ("pooled", "penultimate", "tags"),
}

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

    def __post_init__(self) -> None:
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
) -> list[dict[str, np.ndarray]]:
    """musicnn's per-patch outputs of each file, through the embedding cache.

    Parameters
    ----------
    paths : sequence of path
        Audio files.
    backbone : str
        Shipped musicnn model.
    duration : float or None
        Read at most this many seconds of each file (None: all).
    cache_root : path, optional
        Root of the :class:`~musictag_core.store.ArrayCache` (default: the cache's ``embeddings``).
    progress : callable(done, total), optional

    Returns
    -------
    list of dict
        Per file: ``pooled`` [shape=(n_patches, 1506)], ``penultimate``
        [shape=(n_patches, 200)] and ``tags`` [shape=(n_patches, 50)].
    """
    from ..audio import load_audio
    from ..config import AudioConfig, SegmentConfig
    from ..inputs import InputSpec
    from ..models.loading import load_tagger
    from ..store import ArrayCache, file_digest

    spec = InputSpec(kind="embedding", audio=AudioConfig(sr=16000, duration=duration, allow_silence=True),
                     segments=SegmentConfig(), features=None, embedding="both", backbone=backbone)
    cache = ArrayCache(spec=spec, root=cache_root)
    model = None
    out = []
    for i, path in enumerate(paths):
        digest = file_digest(path)
        arrays = {k: cache.load(digest, f"patch-{k}", mmap_mode=None) for k in _OUTPUTS}
        if any(a is None for a in arrays.values()):
            if model is None:
                model = load_tagger(backbone)
            y, _ = load_audio(path, config=spec.audio)
            patches, _ = model.patches(y)
            res = model.forward(patches)
            for k in _OUTPUTS:
                cache.save(digest, res[k], f"patch-{k}")
                arrays[k] = np.asarray(res[k], dtype=np.float32)
        out.append(arrays)
        if progress is not None:
            progress(i + 1, len(paths))
    return out


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


def _head(choice: TransferChoice, seed: int):  # noqa: ANN202
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    model = (
        LogisticRegression(C=1.0, max_iter=300, tol=1e-3, random_state=seed)
        if choice.head == "logreg" else SVC(C=1.0, kernel="rbf", gamma="scale", random_state=seed)
    )
    return Pipeline([("scale", StandardScaler()), ("model", model)])


def _rows(feats: list[np.ndarray], tracks: np.ndarray, level: str) -> tuple[np.ndarray, np.ndarray]:
    """Matrix of ``tracks`` (patches or track means) and the track each row belongs to."""
    if level == "track":
        return np.vstack([feats[t].mean(axis=0) for t in tracks]), np.asarray(tracks)
    return np.vstack([feats[t] for t in tracks]), np.concatenate([np.full(len(feats[t]), t) for t in tracks])


def _scores(model: Any, X: np.ndarray) -> np.ndarray:
    if hasattr(model, "predict_proba"):
        try:
            return model.predict_proba(X)
        except AttributeError:  # SVC without probability
            pass
    d = model.decision_function(X)
    return d[:, None] * np.array([-1.0, 1.0]) if d.ndim == 1 else d


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
    from sklearn.base import clone
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.metrics import accuracy_score, f1_score
    from sklearn.model_selection import GridSearchCV, StratifiedGroupKFold

    y = np.asarray(y, dtype=int)
    if len(outputs) != len(y):
        raise ParameterError(f"outputs has {len(outputs)} tracks but y has {len(y)}")
    n_classes = int(n_classes or y.max() + 1)
    feats = [np.hstack([np.asarray(o[k], dtype=np.float64) for k in FEATURE_CHOICES[choice.features]]) for o in outputs]
    tested, preds, chosen = [], [], []

    def fit_fold(tr: np.ndarray, te: np.ndarray) -> None:
        X, owner = _rows(feats, tr, choice.level)
        yy = y[owner]
        model = _head(choice, seed)
        counts = np.unique(y[tr], return_counts=True)[1]
        if choice.tune and counts.min() < 2:  # no inner fold can train every class: keep the fixed C
            chosen.append({"skipped": "a class has a single training track"})
            model.fit(X, yy)
        elif choice.tune:
            k = int(max(2, min(3, counts.min())))
            inner = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
            search = GridSearchCV(model, HEAD_SPACES[choice.head], cv=inner, scoring="accuracy", error_score=np.nan)
            search.fit(X, yy, groups=owner)
            model = search.best_estimator_
            chosen.append({k2: float(v) for k2, v in search.best_params_.items()})
        else:
            model = clone(model).fit(X, yy)
        Xt, owner_t = _rows(feats, te, choice.level)
        sc = _scores(model, Xt)
        full = np.full((len(Xt), n_classes), -np.inf if choice.head == "svm" else 0.0)
        full[:, np.asarray(model.classes_, dtype=int)] = sc
        for t in te:
            preds.append(int(np.argmax(full[owner_t == t].mean(axis=0))))
            tested.append(int(t))

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
