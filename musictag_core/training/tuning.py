"""``tune``: a budgeted hyperparameter search by inner cross-validation on one fold's training tracks.

The classical models are scikit-learn Pipelines (imputer, scaler, model), so
:class:`~sklearn.model_selection.GridSearchCV` refits the scaler inside every
inner fold and nothing of the outer test fold is seen: the search runs only on
the rows the outer fold trains on. The grids are small (at most 4 candidates)
and the inner folds at most 3 (at most 4 candidates x 3 folds = 12 fits
per outer fold), so the budget is ``candidates x inner folds``
fits per outer fold. The search space and the chosen values are returned for
the run card.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["SEARCH_SPACES", "INNER_FOLDS", "search_space", "tune_classical"]

#: Inner cross-validation folds of the search (fewer when the smallest class is smaller).
INNER_FOLDS = 3

#: Per model and task family: parameter grid on the bare pipeline (single-label names).
SEARCH_SPACES: dict[str, dict[str, dict[str, list]]] = {
    "logreg": {
        "classify": {"model__C": [0.01, 0.1, 1.0, 10.0]},
        "regression": {"model__alpha": [0.1, 1.0, 10.0, 100.0]},
    },
    "svc": {
        "classify": {"model__estimator__C": [1.0, 3.0, 10.0, 30.0]},
        "regression": {"model__C": [1.0, 10.0, 100.0]},
    },
    "gboost": {
        "classify": {"model__learning_rate": [0.05, 0.1], "model__max_leaf_nodes": [15, 31]},
        "regression": {"model__learning_rate": [0.05, 0.1], "model__max_leaf_nodes": [15, 31]},
    },
    "voting": {
        "classify": {"logreg__model__C": [0.1, 1.0], "svc__model__estimator__C": [1.0, 10.0]},
        "regression": {"logreg__model__alpha": [1.0, 10.0], "svc__model__C": [1.0, 10.0]},
    },
    "stacked": {
        "classify": {"estimator__logreg__model__C": [0.1, 1.0], "estimator__svc__model__estimator__C": [1.0, 10.0]},
    },
}


def search_space(name: str, task: str, params: dict[str, Any]) -> dict[str, list]:
    """The grid of model ``name`` for ``task``, with the names its estimator (``params``) uses.

    A multi-label or regression wrapper prefixes ``estimator__``; an SVC that fell
    back to :class:`~musictag_core.models.classical.SoftmaxSVC` takes ``C`` and
    ``gamma`` directly (no ``estimator__``).
    """
    spaces = SEARCH_SPACES.get(name, {})
    grid = spaces.get("regression" if task == "regression" else "classify")
    if not grid:
        return {}
    prefix = "estimator__" if task in ("multi", "regression") else ""
    out = {}
    for key, values in grid.items():
        full = prefix + key
        if full not in params:
            full = full.replace("__estimator__C", "__C").replace("__estimator__gamma", "__gamma")
        if full in params:
            out[full] = list(values)
    return out


def tune_classical(
    model: Any, X: np.ndarray, y: np.ndarray, *, name: str, task: str, seed: int,
    labels: list[str] | None = None, notes: list[str] | None = None,
) -> tuple[Any, dict[str, Any]]:
    """Search ``model``'s grid by inner cross-validation on ``(X, y)``; returns the refitted best and a record.

    Parameters
    ----------
    model : estimator
        Unfitted pipeline from :func:`~musictag_core.models.classical.build_classical`.
    X : np.ndarray [shape=(n, n_features)]
    y : np.ndarray [shape=(n,)] or [shape=(n, n_labels)]
    name, task : str
    seed : int
        Seeds the inner folds.
    labels, notes
        Passed to :func:`~musictag_core.models.classical.fit_internal_folds`.

    Returns
    -------
    best : estimator
        Refitted on all of ``(X, y)`` with the chosen values.
    record : dict
        ``method``, ``inner_folds``, ``scoring``, ``space``, ``n_candidates``,
        ``best_params`` and ``best_score`` (the inner-CV score of the choice).
    """
    from sklearn.model_selection import GridSearchCV, KFold, StratifiedKFold
    from threadpoolctl import threadpool_limits

    from ..models.classical import fit_internal_folds

    y = np.asarray(y)
    if task == "single":
        smallest = int(np.unique(y, return_counts=True)[1].min())
        k = max(2, min(INNER_FOLDS, smallest))
        inner = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed) if smallest >= k else KFold(
            n_splits=k, shuffle=True, random_state=seed
        )
        # the inner training folds hold fewer tracks per class than (X, y) itself
        model = fit_internal_folds(model, y, labels=labels, smallest=smallest - -(-smallest // k), notes=notes)
        scoring = "accuracy"
    else:
        k = max(2, min(INNER_FOLDS, len(y)))
        inner = KFold(n_splits=k, shuffle=True, random_state=seed)
        scoring = "average_precision" if task == "multi" else "neg_mean_absolute_error"
    space = search_space(name, task, model.get_params(deep=True))
    search = GridSearchCV(model, space, cv=inner, scoring=scoring, refit=True, error_score=np.nan)
    with threadpool_limits(limits=1, user_api="openmp"):
        search.fit(X, y)
    n_candidates = int(np.prod([len(v) for v in space.values()])) if space else 1
    record = {
        "method": "GridSearchCV",
        "inner_folds": k,
        "scoring": scoring,
        "space": space,
        "n_candidates": n_candidates,
        "best_params": dict(search.best_params_),
        "best_score": None if not np.isfinite(search.best_score_) else float(search.best_score_),
    }
    return search.best_estimator_, record
