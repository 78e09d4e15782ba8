"""``tune``: a budgeted hyperparameter search by inner cross-validation on one fold's training tracks.

The classical models are scikit-learn Pipelines (imputer, scaler, model), so
:class:`~sklearn.model_selection.GridSearchCV` refits the scaler inside every
inner fold and nothing of the outer test fold is seen: the search runs only on
the rows the outer fold trains on (the ``(X, y)`` passed in).

Single-label data (the ``"single"`` spaces of :data:`SEARCH_SPACES`):

* every grid lists each model's default first, so the default is always a
  candidate (candidate 0);
* the choice is the best mean inner accuracy, but only when it beats the
  default by more than one standard error of the paired per-split differences;
  otherwise the default is kept (:func:`_choose`). With 80-row inner folds the
  best of 18 candidates is often best by chance;
* every model may keep all its features or the better half by a univariate
  F-test (``select__percentile`` ∈ {100, 50}: a ``SelectPercentile`` step after
  the scaler, fitted inside each inner fold; added to the saved pipeline only
  when 50 wins);
* ``logreg`` searches ``C`` ∈ {1, 0.1, 0.01};
* ``svc`` searches ``C`` ∈ {1, 3, 10} and ``gamma`` jointly, ``gamma``
  log-spaced around scikit-learn's ``"scale"`` (``1 / n_features`` on
  standardised columns, so ``scale/2`` and ``scale*2`` are resolved for the
  number of features kept). The search fits the bare SVC (scored by accuracy,
  which needs no probabilities); the chosen values are then set on the
  calibrated SVC, whose Platt scaling is fitted once, on the final refit;
* ``gboost`` searches whole configurations rather than a product, because each
  fit is costly: the default (100 rounds of 31-leaf trees) or 200 rounds of
  7-leaf trees with at least 10 tracks per leaf. A third configuration
  (learning rate 0.05, 15 leaves, 200 rounds, L2 1.0) was never chosen on the
  bench's synthetic table and cost 50 % more fits; early stopping on an inner
  validation split lost 0.04 accuracy there (480 rows);
* ``voting`` searches each member on its own (logreg, svc, gboost: the sum of
  their budgets, not the product), and ``stacked`` does the same for the
  members of its voting estimator (the MLP's out-of-fold columns are not
  searched);
* the inner folds are stratified 3-fold, repeated twice with different seeds
  for the cheap models (logreg, svc), and three times as often again below
  :data:`SMALL_ROWS` rows, where the fits are cheap and the scores noisiest.

Budget: ``candidates x inner folds x repeats`` fits per outer fold
(:func:`search_budget`), each plus one refit of the chosen model. From 300
rows: logreg 6 x 3 x 2 = 36, svc 18 x 3 x 2 = 108 (bare SVC fits), gboost
4 x 3 x 1 = 12, voting and stacked 156; below 300 rows three times that.
Multi-label and regression data keep a small grid on the wrapped model
(``"classify"`` / ``"regression"`` spaces, at most 4 candidates x 3 inner
folds). The search space and the chosen values are returned for the run card.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = [
    "SEARCH_SPACES", "INNER_FOLDS", "INNER_REPEATS", "SMALL_ROWS", "SMALL_REPEATS", "search_space", "search_budget",
    "tune_classical",
]

#: Inner cross-validation folds of the search (fewer when the smallest class is smaller).
INNER_FOLDS = 3

#: Repeats of the inner folds per model (single-label): cheap fits are repeated to lower selection noise.
INNER_REPEATS = {"logreg": 2, "svc": 2, "gboost": 1}

#: Below this many rows the inner folds are repeated ``SMALL_REPEATS`` times as often (fits are cheap there,
#: and the inner scores noisiest).
SMALL_ROWS = 300
SMALL_REPEATS = 3

_PERCENTILES = [100, 50]

#: Per model and task family: parameter grid on the bare pipeline. ``"single"``: single-label
#: (a grid, or a list of grids; each grid's first values are the model's defaults);
#: ``"classify"``: multi-label; ``"regression"``. ``voting`` / ``stacked`` search their members'
#: ``"single"`` spaces one by one. ``model__gamma`` values are multiples of ``"scale"``.
SEARCH_SPACES: dict[str, dict[str, Any]] = {
    "logreg": {
        "single": {"select__percentile": _PERCENTILES, "model__C": [1.0, 0.1, 0.01]},
        "classify": {"model__C": [0.01, 0.1, 1.0, 10.0]},
        "regression": {"model__alpha": [0.1, 1.0, 10.0, 100.0]},
    },
    "svc": {
        "single": {
            "select__percentile": _PERCENTILES, "model__C": [1.0, 3.0, 10.0], "model__gamma": ["scale", "scale/2", "scale*2"],
        },
        "classify": {"model__estimator__C": [1.0, 3.0, 10.0, 30.0]},
        "regression": {"model__C": [1.0, 10.0, 100.0]},
    },
    "gboost": {
        "single": [
            # the default configuration (models.classical)
            {"select__percentile": _PERCENTILES, "model__learning_rate": [0.1], "model__max_leaf_nodes": [31],
             "model__max_iter": [100]},
            # small trees (7 leaves of at least 10 tracks), twice the rounds
            {"select__percentile": _PERCENTILES, "model__max_leaf_nodes": [7], "model__min_samples_leaf": [10],
             "model__max_iter": [200]},
        ],
        "classify": {"model__learning_rate": [0.05, 0.1], "model__max_leaf_nodes": [15, 31]},
        "regression": {"model__learning_rate": [0.05, 0.1], "model__max_leaf_nodes": [15, 31]},
    },
    "voting": {
        "single": "members",
        "classify": {"logreg__model__C": [0.1, 1.0], "svc__model__estimator__C": [1.0, 10.0]},
        "regression": {"logreg__model__alpha": [1.0, 10.0], "svc__model__C": [1.0, 10.0]},
    },
    "stacked": {
        "single": "members",
        "classify": {"estimator__logreg__model__C": [0.1, 1.0], "estimator__svc__model__estimator__C": [1.0, 10.0]},
    },
}

_MEMBERS = ("logreg", "svc", "gboost")


def _grids(grid: Any) -> list[dict[str, list]]:
    return [dict(g) for g in (grid if isinstance(grid, list) else [grid])]


def _n_candidates(grid: Any) -> int:
    return int(sum(np.prod([len(v) for v in g.values()]) if g else 1 for g in _grids(grid)))


def _repeats(name: str, n_rows: int | None) -> int:
    base = INNER_REPEATS.get(name, 1)
    return base * SMALL_REPEATS if n_rows is not None and n_rows < SMALL_ROWS else base


def search_budget(name: str, n_rows: int | None = None) -> dict[str, int]:
    """Single-label search budget of model ``name`` on ``n_rows`` training rows (default: large data).

    Returns ``candidates``, ``inner_folds`` (the most: fewer when a class is smaller),
    ``repeats`` (the most over an ensemble's members) and ``fits`` per outer fold,
    excluding the final refit.
    """
    names = _MEMBERS if SEARCH_SPACES[name].get("single") == "members" else (name,)
    cands = {n: _n_candidates(SEARCH_SPACES[n]["single"]) for n in names}
    fits = sum(c * INNER_FOLDS * _repeats(n, n_rows) for n, c in cands.items())
    return {"candidates": sum(cands.values()), "inner_folds": INNER_FOLDS,
            "repeats": max(_repeats(n, n_rows) for n in names), "fits": int(fits)}


def search_space(name: str, task: str, params: dict[str, Any]) -> dict[str, list]:
    """The multi-label or regression grid of model ``name`` for ``task``, with the names its estimator (``params``) uses.

    A multi-label or regression wrapper prefixes ``estimator__``; an SVC that fell
    back to :class:`~musictag_core.models.classical.SoftmaxSVC` takes ``C`` and
    ``gamma`` directly (no ``estimator__``). Single-label data searches the
    ``"single"`` spaces instead (:func:`tune_classical`).
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


def _inner_folds(y: np.ndarray, *, repeats: int, seed: int) -> tuple[Any, int]:
    from sklearn.model_selection import KFold, RepeatedKFold, RepeatedStratifiedKFold, StratifiedKFold

    smallest = int(np.unique(y, return_counts=True)[1].min())
    k = max(2, min(INNER_FOLDS, smallest))
    if repeats > 1:
        cls = RepeatedStratifiedKFold if smallest >= k else RepeatedKFold
        return cls(n_splits=k, n_repeats=repeats, random_state=seed), k
    cls = StratifiedKFold if smallest >= k else KFold
    return cls(n_splits=k, shuffle=True, random_state=seed), k


def _searchable(pipe: Any) -> tuple[Any, bool]:
    """``pipe`` (imputer, scaler, model) with a ``select`` step, and a calibrated SVC replaced by the bare SVC.

    Returns the new pipeline and whether the SVC parameters live one level down
    (``model__estimator__C`` in the real pipeline) in the original.
    """
    from sklearn.base import clone
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.feature_selection import SelectPercentile, f_classif
    from sklearn.pipeline import Pipeline

    steps = [(n, clone(s)) for n, s in pipe.steps]
    nested = False
    if isinstance(steps[-1][1], CalibratedClassifierCV):
        steps[-1] = (steps[-1][0], clone(steps[-1][1].estimator))
        nested = True
    at = [n for n, _ in steps].index("scale") + 1
    steps.insert(at, ("select", SelectPercentile(f_classif, percentile=100)))
    return Pipeline(steps), nested


def _resolve_grid(grid: Any, X: np.ndarray, y: np.ndarray) -> list[dict[str, list]]:
    """Concrete grids: ``gamma`` multiples of ``"scale"`` become numbers for each kept feature count."""
    from sklearn.feature_selection import SelectPercentile, f_classif

    out = []
    for g in _grids(grid):
        if "model__gamma" not in g:
            out.append({k: list(v) for k, v in g.items()})
            continue
        for p in g.get("select__percentile", [100]):
            with np.errstate(all="ignore"):
                n_kept = int(SelectPercentile(f_classif, percentile=p).fit(X, y).get_support().sum()) if p < 100 else X.shape[1]
            gammas = [_gamma(v, n_kept) for v in g["model__gamma"]]
            out.append({**{k: list(v) for k, v in g.items()}, "select__percentile": [p], "model__gamma": gammas})
    return out


def _gamma(label: str, n_features: int) -> str | float:
    """``"scale"`` stays as is; ``"scale/2"`` / ``"scale*2"`` become ``0.5 / n`` / ``2 / n`` (standardised columns)."""
    if label == "scale":
        return "scale"
    _, op, factor = label.partition("/") if "/" in label else label.partition("*")
    f = float(factor)
    return float((1.0 / f if op == "/" else f) / max(1, n_features))


def _gamma_label(value: Any, grid: list[dict[str, list]], space: dict[str, list]) -> Any:
    for g in grid:
        if value in g.get("model__gamma", []):
            return space["model__gamma"][g["model__gamma"].index(value)]
    return value


def _search_member(name: str, pipe: Any, X: np.ndarray, y: np.ndarray, *, seed: int) -> tuple[dict, dict]:
    """Search one single model's ``"single"`` space; returns (params for the real pipeline, record)."""
    from sklearn.model_selection import GridSearchCV
    from threadpoolctl import threadpool_limits

    space = SEARCH_SPACES[name]["single"]
    search_pipe, nested = _searchable(pipe)
    # the scaler's output decides the kept features' count; it is the same on every fold
    Xs = search_pipe[:2].fit_transform(X)
    grid = _resolve_grid(space, Xs, y)
    inner, k = _inner_folds(y, repeats=_repeats(name, len(y)), seed=seed)
    search = GridSearchCV(search_pipe, grid, cv=inner, scoring="accuracy", refit=False, error_score=np.nan)
    with threadpool_limits(limits=1, user_api="openmp"), np.errstate(all="ignore"):
        search.fit(X, y)
    res = search.cv_results_
    n_splits = inner.get_n_splits()
    split_scores = np.array([res[f"split{i}_test_score"] for i in range(n_splits)]).T  # (candidates, splits)
    choice, gain, margin = _choose(split_scores)
    best = dict(res["params"][choice])
    scores = res["mean_test_score"]
    if "model__gamma" in best:
        best_label = _gamma_label(best["model__gamma"], grid, SEARCH_SPACES[name]["single"])
    # parameters for the real pipeline: the SVC sits inside the calibration wrapper there
    params = {}
    for key, value in best.items():
        if key == "select__percentile":
            continue
        params[key.replace("model__", "model__estimator__", 1) if nested else key] = value
    record = {
        "space": space,
        "inner_folds": k,
        "repeats": _repeats(name, len(y)),
        "n_candidates": len(scores),
        "n_fits": int(len(scores) * inner.get_n_splits()),
        "best_params": {**best, **({"model__gamma": best_label} if "model__gamma" in best else {})},
        "best_score": float(scores[choice]) if np.isfinite(scores[choice]) else None,
        "default_score": float(scores[0]) if np.isfinite(scores[0]) else None,
        "top_gain": gain,
        "margin": margin,
        "_percentile": int(best.get("select__percentile", 100)),
        "_params": params,
    }
    return params, record


def _choose(split_scores: np.ndarray) -> tuple[int, float | None, float | None]:
    """The chosen candidate of a search: the best mean inner score, if it beats the default (candidate 0) clearly.

    Parameters
    ----------
    split_scores : np.ndarray [shape=(n_candidates, n_splits)]
        Each candidate's score on each inner split (NaN where a fit failed).

    Returns
    -------
    choice : int
        The best candidate when its mean gain over the default exceeds one standard
        error of the paired per-split differences, else 0 (the default): with
        80-row inner folds the best of 18 candidates is often best by chance.
    gain, margin : float or None
        The best candidate's mean gain over the default, and the standard error it had to beat.
    """
    mean = np.nanmean(np.where(np.isfinite(split_scores), split_scores, np.nan), axis=1)
    if not np.isfinite(mean).any() or not np.isfinite(mean[0]):
        return (int(np.nanargmax(mean)) if np.isfinite(mean).any() else 0), None, None
    best = int(np.nanargmax(mean))
    diff = split_scores[best] - split_scores[0]
    diff = diff[np.isfinite(diff)]
    gain = float(mean[best] - mean[0])
    margin = float(diff.std(ddof=1) / np.sqrt(len(diff))) if len(diff) > 1 else 0.0
    return (best if gain > margin else 0), round(gain, 4), round(margin, 4)


def _apply(pipe: Any, params: dict, percentile: int) -> None:
    """Set the chosen values on the real pipeline ``pipe`` (in place), adding the selection step when it won."""
    from sklearn.feature_selection import SelectPercentile, f_classif

    pipe.set_params(**params)
    if percentile < 100:
        at = [n for n, _ in pipe.steps].index("scale") + 1
        pipe.steps.insert(at, ("select", SelectPercentile(f_classif, percentile=percentile)))


def _tune_single(model: Any, X: np.ndarray, y: np.ndarray, *, name: str, seed: int) -> dict[str, Any]:
    """Search ``model`` (changed in place) on single-label ``(X, y)``; returns the card record."""
    if SEARCH_SPACES[name]["single"] == "members":
        voting = model.estimator if name == "stacked" else model
        prefix = "estimator__" if name == "stacked" else ""
        members = [(n, p) for n, p in voting.estimators if n in _MEMBERS]
    else:
        members, prefix = [(name, model)], ""
    space, best, scores, defaults, gains = {}, {}, {}, {}, {}
    folds, repeats, n_fits, n_cand = 0, 1, 0, 0
    for i, (member, pipe) in enumerate(members):
        params, rec = _search_member(member, pipe, X, y, seed=seed + i)
        _apply(pipe, params, rec["_percentile"])
        pre = prefix + (f"{member}__" if len(members) > 1 or prefix else "")
        if not isinstance(rec["space"], list):
            space.update({pre + key: list(v) for key, v in rec["space"].items()})
        else:
            space[pre + "configurations"] = [{pre + key: list(v) for key, v in g.items()} for g in rec["space"]]
        best.update({pre + key: v for key, v in rec["best_params"].items()})
        scores[member], defaults[member] = rec["best_score"], rec["default_score"]
        gains[member] = {"top_gain": rec["top_gain"], "margin": rec["margin"]}
        folds, repeats = rec["inner_folds"], max(repeats, rec["repeats"])
        n_fits += rec["n_fits"]
        n_cand += rec["n_candidates"]
    single = len(members) == 1
    return {
        "method": "GridSearchCV" + ("" if single else " per member"),
        "inner_folds": folds,
        "inner_repeats": repeats,
        "scoring": "accuracy",
        "space": space,
        "n_candidates": n_cand,
        "n_fits": n_fits,
        "best_params": best,
        "best_score": scores[members[0][0]] if single else None,
        "default_score": defaults[members[0][0]] if single else None,
        "choice_rule": "best mean inner accuracy if it beats the default by more than one standard error, else the default",
        **(gains[members[0][0]] if single else {
            "member_scores": scores, "member_default_scores": defaults, "member_gains": gains,
        }),
    }


def tune_classical(
    model: Any, X: np.ndarray, y: np.ndarray, *, name: str, task: str, seed: int,
    labels: list[str] | None = None, notes: list[str] | None = None,
) -> tuple[Any, dict[str, Any]]:
    """Search ``model``'s space by inner cross-validation on ``(X, y)``; returns the refitted best and a record.

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
        ``n_fits`` (the budget spent), ``best_params`` and ``best_score`` (the
        inner-CV score of the choice); single-label adds ``inner_repeats`` and
        ``default_score`` (the default's inner-CV score; ``member_scores`` /
        ``member_default_scores`` for an ensemble).
    """
    from sklearn.model_selection import GridSearchCV, KFold, StratifiedKFold
    from threadpoolctl import threadpool_limits

    from ..models.classical import fit_classical, fit_internal_folds

    y = np.asarray(y)
    if task == "single" and isinstance(SEARCH_SPACES.get(name, {}).get("single"), (dict, list, str)):
        record = _tune_single(model, X, y, name=name, seed=seed)
        return fit_classical(model, X, y, labels=labels, notes=notes), record
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
        "n_fits": n_candidates * k,
        "best_params": dict(search.best_params_),
        "best_score": None if not np.isfinite(search.best_score_) else float(search.best_score_),
    }
    return search.best_estimator_, record
