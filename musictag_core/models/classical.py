"""Classical models: real scikit-learn Pipelines on per-track feature tables.

Every builder returns an unfitted estimator: ``SimpleImputer(median) ->
StandardScaler -> estimator`` for the single models, so scaling is learned
inside each cross-validation fold and nothing leaks. For a multi-label task the
classifier is wrapped in :class:`~sklearn.multiclass.OneVsRestClassifier` (one
binary model per label; ``predict_proba`` gives ``(n, n_labels)``); for a
regression task on 0–100 strengths the regressor counterpart is used
(Ridge, HistGradientBoostingRegressor, SVR, VotingRegressor) inside
:class:`~sklearn.multioutput.MultiOutputRegressor`.

Why ``HistGradientBoostingClassifier`` for ``gboost`` and not
``GradientBoostingClassifier``: it bins features into 255 histogram bins, so
each split costs O(n_bins) instead of O(n log n), which keeps training on
1,000+ tracks well under the 30 s target; it supports ``class_weight`` and
native early stopping, and handles NaN features; the classic estimator has
neither ``class_weight`` nor NaN support and is an order of magnitude slower.

``stacked`` is :class:`OOFStackingClassifier`: the soft-voting ensemble fitted
on the features plus a neural model's out-of-fold probabilities. The neural
model is :class:`KerasMLPClassifier`, a small Keras MLP with the scikit-learn
estimator interface (so ``clone`` and ``cross_val_predict`` work); it pickles
as its weights, not as a Keras object.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    VotingClassifier,
    VotingRegressor,
)
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import KFold, StratifiedKFold, cross_val_predict
from sklearn.multiclass import OneVsRestClassifier
from sklearn.multioutput import MultiOutputRegressor
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC, SVR
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_is_fitted, validate_data

from ..errors import ModelError

__all__ = [
    "CLASSICAL_BUILDERS",
    "build_classical",
    "build_logreg",
    "build_gboost",
    "build_svc",
    "build_voting",
    "build_stacked",
    "OOFStackingClassifier",
    "KerasMLPClassifier",
    "SoftmaxSVC",
    "fit_classical",
    "fit_internal_folds",
    "predict_scores",
]


def _pipe(est: Any) -> Pipeline:
    return Pipeline(
        [("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler()), ("model", est)]
    )


def _base(name: str, *, task: str, random_state: int | None, class_weight: str | None) -> Any:
    """The bare (unwrapped, unscaled) estimator for one of logreg / gboost / svc."""
    if task == "regression":
        return {
            "logreg": lambda: Ridge(alpha=1.0),
            "gboost": lambda: HistGradientBoostingRegressor(random_state=random_state),
            "svc": lambda: SVR(C=10.0),
        }[name]()
    return {
        "logreg": lambda: LogisticRegression(max_iter=2000, C=1.0, class_weight=class_weight),
        "gboost": lambda: HistGradientBoostingClassifier(
            # 100 rounds: ~6 s on 1000 tracks x 60 stats x 10 genres on one thread; early stopping
            # ("auto": only above 10,000 rows) would hold out a split too small for small datasets
            max_iter=100, learning_rate=0.1, early_stopping="auto",
            class_weight=class_weight, random_state=random_state,
        ),
        # SVC(probability=True) is deprecated in scikit-learn 1.9; this is its documented replacement
        # (Platt scaling fitted by internal 5-fold CV, one final SVC).
        "svc": lambda: CalibratedClassifierCV(
            SVC(C=1.0, class_weight=class_weight, random_state=random_state), method="sigmoid", ensemble=False
        ),
    }[name]()


def _check_task(task: str) -> None:
    if task not in ("single", "multi", "regression"):
        raise ModelError(f"task must be single, multi or regression, got {task!r}")


def _wrap(est: Any, task: str) -> Any:
    if task == "multi":
        return OneVsRestClassifier(est)
    if task == "regression":
        return MultiOutputRegressor(est)
    return est


def _single(name: str):  # noqa: ANN202
    def build(*, task: str = "single", random_state: int | None = 0, class_weight: str | None = None) -> Any:
        _check_task(task)
        return _wrap(_pipe(_base(name, task=task, random_state=random_state, class_weight=class_weight)), task)

    build.__name__ = f"build_{name}"
    return build


build_logreg = _single("logreg")
build_logreg.__doc__ = """Scaler + LogisticRegression (Ridge for regression). Keyword-only: task, random_state, class_weight."""
build_gboost = _single("gboost")
build_gboost.__doc__ = """Scaler + HistGradientBoostingClassifier (…Regressor for regression)."""
build_svc = _single("svc")
build_svc.__doc__ = """Scaler + RBF SVC with Platt-scaled probabilities (SVR for regression).

``SVC(probability=True)`` is deprecated in scikit-learn 1.9; its replacement
``CalibratedClassifierCV(SVC(), method="sigmoid", ensemble=False)`` is used.
"""


def _voting(*, task: str, random_state: int | None, class_weight: str | None) -> Any:
    members = [
        (n, _pipe(_base(n, task=task, random_state=random_state, class_weight=class_weight)))
        for n in ("logreg", "gboost", "svc")
    ]
    if task == "regression":
        return VotingRegressor(members)
    return VotingClassifier(members, voting="soft")


def build_voting(*, task: str = "single", random_state: int | None = 0, class_weight: str | None = None) -> Any:
    """Soft voting (mean probability) of the logreg, gboost and svc pipelines.

    Multi-label: one voting ensemble per label (OneVsRest). Regression:
    VotingRegressor of Ridge, HistGradientBoostingRegressor and SVR per label.
    """
    _check_task(task)
    return _wrap(_voting(task=task, random_state=random_state, class_weight=class_weight), task)


class KerasMLPClassifier(ClassifierMixin, BaseEstimator):
    """A small Keras MLP (Normalization, dense ReLU, dropout, output) as a scikit-learn classifier.

    Softmax over classes for a class vector ``y``, one sigmoid per label for a
    0/1 label matrix. Keras is imported only in ``fit`` / ``predict_proba``.
    Pickling keeps the layer sizes and weights as numpy arrays (no Keras
    objects), and the network is rebuilt on first use after loading.

    Parameters
    ----------
    hidden_units : int
    dropout : float
    epochs : int
        Passes over the data (more for tiny tables: at least 300 batches are run).
    batch_size : int
    learning_rate : float
    random_state : int or None
        Seeds Keras (weights, dropout, shuffling).

    Attributes
    ----------
    classes_ : np.ndarray
    multilabel_ : bool
    n_features_in_ : int
    weights_ : list of np.ndarray
    """

    def __init__(
        self, hidden_units: int = 64, dropout: float = 0.3, epochs: int = 40, batch_size: int = 128,
        learning_rate: float = 3e-3, random_state: int | None = 0,
    ):
        self.hidden_units = hidden_units
        self.dropout = dropout
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.random_state = random_state

    def _build(self, n_out: int):  # noqa: ANN202
        import keras
        from keras import layers

        inp = keras.Input((self.n_features_in_,), name="features")
        x = layers.Normalization(name="normalize")(inp)
        x = layers.Dense(self.hidden_units, activation="relu", name="dense")(x)
        x = layers.Dropout(self.dropout, name="dropout")(x)
        out = layers.Dense(n_out, activation="sigmoid" if self.multilabel_ else "softmax", name="tags")(x)
        return keras.Model(inp, out, name="mlp")

    def fit(self, X, y):  # noqa: ANN001, ANN201
        """Fit on ``X`` [shape=(n, n_features)] and ``y`` [shape=(n,) or (n, n_labels)]."""
        import keras

        X, y = validate_data(self, X, y, multi_output=True, ensure_all_finite="allow-nan")
        X = np.nan_to_num(np.asarray(X, dtype=np.float32))
        target = type_of_target(y)
        self.multilabel_ = target == "multilabel-indicator"
        if target not in ("binary", "multiclass", "multilabel-indicator"):
            raise ModelError(f"KerasMLPClassifier needs class labels, got a {target!r} target")
        if self.multilabel_:
            self.classes_ = np.arange(y.shape[1])
            Y = np.asarray(y, dtype=np.float32)
        else:
            self.classes_, codes = np.unique(y, return_inverse=True)
            Y = np.eye(len(self.classes_), dtype=np.float32)[codes]
        if self.random_state is not None:
            keras.utils.set_random_seed(int(self.random_state))
        model = self._build(Y.shape[1])
        model.get_layer("normalize").adapt(X)
        model.compile(
            optimizer=keras.optimizers.Adam(self.learning_rate),
            loss="binary_crossentropy" if self.multilabel_ else "categorical_crossentropy",
        )
        # one pass over `epochs` shuffled copies: Keras's per-epoch overhead (iterators,
        # callbacks) costs more than the epoch itself on a few thousand rows
        # (and at least 300 steps, so that tiny tables still converge)
        order_rng = np.random.default_rng(self.random_state)
        copies = max(int(self.epochs), -(-300 * int(self.batch_size) // len(X)))
        idx = np.concatenate([order_rng.permutation(len(X)) for _ in range(copies)])
        model.fit(X[idx], Y[idx], epochs=1, batch_size=self.batch_size, verbose=0, shuffle=False)
        self.weights_ = [np.asarray(w) for w in model.get_weights()]
        self._model = model
        return self

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state.pop("_model", None)
        return state

    def _network(self):  # noqa: ANN202
        model = getattr(self, "_model", None)
        if model is None:
            model = self._build(len(self.classes_))
            model.set_weights(self.weights_)
            model.get_layer("normalize").finalize_state()  # mean / variance from the restored statistics
            self._model = model
        return model

    def predict_proba(self, X) -> np.ndarray:  # noqa: ANN001
        """Probabilities [shape=(n, n_classes or n_labels)]."""
        check_is_fitted(self, "weights_")
        X = validate_data(self, X, reset=False, ensure_all_finite="allow-nan")
        X = np.nan_to_num(np.asarray(X, dtype=np.float32))
        return np.asarray(self._network().predict(X, batch_size=1024, verbose=0), dtype=np.float64)

    def predict(self, X) -> np.ndarray:  # noqa: ANN001
        """The most probable class of each row."""
        p = self.predict_proba(X)
        if self.multilabel_:
            return (p >= 0.5).astype(int)
        return self.classes_[np.argmax(p, axis=1)]


class OOFStackingClassifier(ClassifierMixin, BaseEstimator):
    """An ensemble fitted on the features plus another model's out-of-fold probabilities.

    ``fit`` computes ``proba_estimator``'s out-of-fold ``predict_proba`` on the
    training rows with ``cv`` folds, appends those columns to ``X`` and fits
    ``estimator`` on the result; then it refits ``proba_estimator`` on all
    rows, so that at prediction time the appended columns come from a model
    that has seen every training row (as in :class:`~sklearn.ensemble.StackingClassifier`
    with ``passthrough=True``).

    Parameters
    ----------
    estimator : estimator or None
        Final model (default: :func:`build_voting` for the target type).
    proba_estimator : estimator or None
        The "neural" model whose probabilities are stacked (default: a small
        :class:`~sklearn.neural_network.MLPClassifier` inside a scaler pipeline).
    cv : int
        Number of folds for the out-of-fold probabilities (stratified for
        single-label targets).
    random_state : int or None
        Seeds the fold shuffling and the default estimators.

    Attributes
    ----------
    estimator_ : estimator
        Fitted final model.
    proba_estimator_ : estimator
        ``proba_estimator`` refitted on all training rows.
    classes_ : np.ndarray
        Class labels (single-label) or ``arange(n_labels)`` (multi-label).
    multilabel_ : bool
        Whether ``y`` was a 0/1 label matrix.
    n_features_in_ : int
    """

    def __init__(self, estimator=None, proba_estimator=None, cv: int = 5, random_state: int | None = 0):  # noqa: ANN001
        self.estimator = estimator
        self.proba_estimator = proba_estimator
        self.cv = cv
        self.random_state = random_state

    def _defaults(self, multilabel: bool) -> tuple[Any, Any]:
        task = "multi" if multilabel else "single"
        est = (
            clone(self.estimator)
            if self.estimator is not None
            else build_voting(task=task, random_state=self.random_state)
        )
        proba = (
            clone(self.proba_estimator)
            if self.proba_estimator is not None
            else _pipe(
                MLPClassifier(
                    hidden_layer_sizes=(64,), alpha=1e-3, max_iter=300, early_stopping=True,
                    random_state=self.random_state,
                )
            )
        )
        return est, proba

    @staticmethod
    def _proba_matrix(p: Any) -> np.ndarray:
        # OneVsRest / MLP give (n, L); MultiOutput-style lists give [(n, 2)] * L
        if isinstance(p, list):
            return np.column_stack([q[:, 1] for q in p])
        return np.asarray(p)

    def fit(self, X, y):  # noqa: ANN001, ANN201
        """Fit on ``X`` [shape=(n, n_features)] and ``y`` [shape=(n,) or (n, n_labels)]."""
        X, y = validate_data(self, X, y, multi_output=True, ensure_all_finite="allow-nan")
        target = type_of_target(y)
        multilabel = target == "multilabel-indicator"
        if target not in ("binary", "multiclass", "multilabel-indicator"):
            raise ModelError(f"OOFStackingClassifier needs class labels, got a {target!r} target")
        if isinstance(self.cv, bool) or not isinstance(self.cv, int) or self.cv < 2:
            raise ModelError(f"cv must be an int >= 2, got {self.cv!r}")
        est, proba = self._defaults(multilabel)
        # stratified folds need every class in every fold; a class smaller than cv gets plain folds
        stratified = not multilabel and int(np.unique(y, return_counts=True)[1].min()) >= self.cv
        splitter = (StratifiedKFold if stratified else KFold)(
            n_splits=self.cv, shuffle=True, random_state=self.random_state
        )
        oof = self._proba_matrix(cross_val_predict(proba, X, y, cv=splitter, method="predict_proba"))
        self.estimator_ = est.fit(np.hstack([X, oof]), y)
        self.proba_estimator_ = proba.fit(X, y)
        self.multilabel_ = multilabel
        self.classes_ = np.arange(y.shape[1]) if multilabel else np.unique(y)
        return self

    def _stack(self, X) -> np.ndarray:  # noqa: ANN001
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, ensure_all_finite="allow-nan")
        return np.hstack([X, self._proba_matrix(self.proba_estimator_.predict_proba(X))])

    def predict_proba(self, X) -> np.ndarray:  # noqa: ANN001
        """Probabilities [shape=(n, n_classes or n_labels)]."""
        return self._proba_matrix(self.estimator_.predict_proba(self._stack(X)))

    def predict(self, X) -> np.ndarray:  # noqa: ANN001
        """Predicted class (single-label) or 0/1 matrix (multi-label, threshold 0.5)."""
        p = self.predict_proba(X)
        if self.multilabel_:
            return (p >= 0.5).astype(int)
        return self.classes_[np.argmax(p, axis=1)]


class SoftmaxSVC(ClassifierMixin, BaseEstimator):
    """An RBF SVC whose probabilities are the softmax of its one-vs-rest decision values.

    The fallback of ``svc`` (:func:`fit_internal_folds`) when a label has a single
    training track, so that Platt scaling by internal cross-validation cannot
    hold it: the scores rank like the SVC's decisions but are not calibrated.

    Parameters
    ----------
    C, gamma, class_weight, random_state
        As :class:`~sklearn.svm.SVC`.
    """

    def __init__(self, C: float = 1.0, gamma: str | float = "scale", class_weight=None, random_state: int | None = 0):  # noqa: ANN001, N803
        self.C = C
        self.gamma = gamma
        self.class_weight = class_weight
        self.random_state = random_state

    def fit(self, X, y):  # noqa: ANN001, ANN201
        """Fit on ``X`` [shape=(n, n_features)] and class labels ``y`` [shape=(n,)]."""
        X, y = validate_data(self, X, y)
        self.svc_ = SVC(
            C=self.C, gamma=self.gamma, class_weight=self.class_weight, random_state=self.random_state,
            decision_function_shape="ovr",
        ).fit(X, y)
        self.classes_ = self.svc_.classes_
        return self

    def predict_proba(self, X) -> np.ndarray:  # noqa: ANN001
        """Softmax of the decision values [shape=(n, n_classes)]."""
        check_is_fitted(self, "svc_")
        X = validate_data(self, X, reset=False)
        d = np.asarray(self.svc_.decision_function(X), dtype=np.float64)
        if d.ndim == 1:
            d = np.column_stack([-d, d])
        e = np.exp(d - d.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    def predict(self, X) -> np.ndarray:  # noqa: ANN001
        """The class with the largest decision value."""
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


def build_stacked(*, task: str = "single", random_state: int | None = 0, class_weight: str | None = None) -> Any:
    """The soft-voting ensemble with a Keras MLP's 5-fold out-of-fold probabilities appended (classification only).

    The MLP (:class:`KerasMLPClassifier`) reads the same per-track features.
    """
    _check_task(task)
    if task == "regression":
        raise ModelError("stacked supports single- and multi-label tasks, not regression; use voting")
    est = build_voting(task=task, random_state=random_state, class_weight=class_weight)
    return OOFStackingClassifier(
        estimator=est, proba_estimator=KerasMLPClassifier(random_state=random_state), cv=5, random_state=random_state
    )


#: Classical model name -> ``build_<name>(*, task, random_state, class_weight) -> estimator``.
CLASSICAL_BUILDERS: dict[str, Callable[..., Any]] = {
    "logreg": build_logreg,
    "gboost": build_gboost,
    "svc": build_svc,
    "voting": build_voting,
    "stacked": build_stacked,
}


def build_classical(
    name: str, *, task: str = "single", random_state: int | None = 0, class_weight: str | None = None
) -> Any:
    """Build classical model ``name`` (unfitted)."""
    if name not in CLASSICAL_BUILDERS:
        raise ModelError(f"unknown classical model {name!r}; choose one of {sorted(CLASSICAL_BUILDERS)}")
    return CLASSICAL_BUILDERS[name](task=task, random_state=random_state, class_weight=class_weight)


def fit_internal_folds(
    model: Any, y: np.ndarray, *, labels: Sequence[str] | None = None, smallest: int | None = None,
    notes: list[str] | None = None,
) -> Any:
    """Lower the internal cross-validation folds of ``model`` to what ``y`` allows; returns ``model``.

    ``svc`` calibrates its probabilities with 5-fold cross-validation, and
    ``voting`` and ``stacked`` contain it (``stacked`` also draws 5-fold
    out-of-fold probabilities). Stratified folds need every class in every fold,
    so every ``cv`` parameter (at any depth) larger than the smallest class is set
    to that class's size. When a class has a single training track no internal
    fold can hold it, so instead of refusing: each calibrated SVC becomes a
    :class:`SoftmaxSVC` (uncalibrated softmax of its decision values) and the
    stacking folds become 2 unstratified ones; each change is appended to ``notes``.

    Parameters
    ----------
    model : estimator
        Unfitted; changed in place (``set_params``).
    y : np.ndarray [shape=(n,)] or [shape=(n, n_labels)]
        Training targets; multi-label and regression targets are left alone.
    labels : sequence of str, optional
        Class names, for the notes (``y`` holds indices into them).
    smallest : int, optional
        The smallest class size to plan for (default: from ``y``); an inner search
        passes the size its training folds will have.
    notes : list of str, optional
        Receives a sentence per fallback.
    """
    y = np.asarray(y)
    if y.ndim != 1 or y.dtype.kind == "f":
        return model
    classes, counts = np.unique(y, return_counts=True)
    smallest = int(counts.min()) if smallest is None else int(smallest)
    params = model.get_params(deep=True)

    def folds(v: Any) -> int | None:  # scikit-learn reads cv=None as 5 folds
        if v is None:
            return 5
        return int(v) if isinstance(v, (int, np.integer)) and not isinstance(v, bool) else None

    keys = [k for k, v in params.items() if (k == "cv" or k.endswith("__cv")) and (folds(v) or 0) > smallest]
    if not keys:
        return model
    if smallest >= 2:
        model.set_params(**{k: smallest for k in keys})
        return model
    lonely = [classes[i] for i in np.flatnonzero(counts < 2)]
    names = [labels[int(c)] if labels is not None and 0 <= int(c) < len(labels) else str(c) for c in lonely]
    changes: dict[str, Any] = {}
    for k in keys:
        owner = k[: -len("__cv")] if k.endswith("__cv") else ""
        est = params[owner] if owner else model
        if isinstance(est, CalibratedClassifierCV):
            inner = est.estimator
            changes[owner] = SoftmaxSVC(
                C=inner.C, gamma=inner.gamma, class_weight=inner.class_weight, random_state=inner.random_state
            )
        else:
            changes[k] = 2
    # set the deepest first, so that replacing an owner does not undo a change inside it
    for k in sorted(changes, key=lambda k: -k.count("__")):
        if k:
            model.set_params(**{k: changes[k]})
        else:
            model = changes[k]
    if notes is not None:
        notes.append(
            f"label(s) {names} have a single training track: the SVC scores are a softmax of its decision values "
            "(not calibrated by internal cross-validation)"
            + ("; the stacked probabilities use 2 unstratified folds" if any(v == 2 for v in changes.values()) else "")
        )
    return model


def fit_classical(
    model: Any, X: np.ndarray, y: np.ndarray, *, n_threads: int = 1, labels: Sequence[str] | None = None,
    notes: list[str] | None = None,
) -> Any:
    """Fit ``model`` with OpenMP limited to ``n_threads`` threads; returns the fitted model.

    HistGradientBoosting parallelises with OpenMP, whose busy-waiting threads
    slow it down 20x or more when other processes share the cores (measured:
    5.5 s with 2 threads vs 0.24 s with 1 on a loaded 2-core machine).
    Internal cross-validation folds are first fitted to the smallest class
    (:func:`fit_internal_folds`; ``labels`` names classes in ``notes``).
    """
    from threadpoolctl import threadpool_limits

    model = fit_internal_folds(model, y, labels=labels, notes=notes)
    with threadpool_limits(limits=n_threads, user_api="openmp"):
        return model.fit(X, y)


def predict_scores(model: Any, X: np.ndarray, *, task: str) -> np.ndarray:
    """Scores [shape=(n, n_labels)] of a fitted classical model for ``task``.

    ``single``: ``predict_proba`` (columns in ``classes_`` order), ``multi``:
    per-label probability of presence, ``regression``: predictions clipped to 0–100.
    """
    X = np.asarray(X, dtype=np.float64)
    if task == "regression":
        return np.clip(np.asarray(model.predict(X), dtype=np.float64).reshape(len(X), -1), 0.0, 100.0)
    p = model.predict_proba(X)
    if isinstance(p, list):
        p = np.column_stack([q[:, 1] for q in p])
    return np.asarray(p, dtype=np.float64)
