"""``tune`` (#13): the single-label search spaces start at each model's defaults, the chosen values are the
ones the refitted model uses, and ensembles search member by member (the sum of the members' budgets)."""

from __future__ import annotations

import numpy as np
import pytest

from musictag_core.models.classical import build_classical
from musictag_core.training.tuning import SEARCH_SPACES, search_budget, tune_classical


def _table(n_per_class: int = 20, *, informative: int = 4, noise: int = 8, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """3 classes, ``informative`` columns whose means depend on the class and ``noise`` pure-noise columns."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(3), n_per_class)
    centres = rng.standard_normal((3, informative)) * 1.5
    X = np.hstack([centres[y] + rng.standard_normal((len(y), informative)),
                   rng.standard_normal((len(y), noise)) * rng.uniform(0.1, 100, noise)])
    return X, y


@pytest.mark.parametrize("name", ["logreg", "svc", "gboost"])
def test_the_first_candidate_is_the_models_default(name):
    params = build_classical(name).get_params(deep=True)
    space = SEARCH_SPACES[name]["single"]
    first = (space[0] if isinstance(space, list) else space)
    for key, values in first.items():
        if key == "select__percentile":
            assert values[0] == 100  # all features, as the untuned pipeline
            continue
        real = params.get(key, params.get(key.replace("model__", "model__estimator__", 1)))
        assert values[0] == real, (key, values[0], real)


def test_svc_search_sets_the_chosen_values_on_the_calibrated_svc():
    X, y = _table()
    model, rec = tune_classical(build_classical("svc"), X, y, name="svc", task="single", seed=0)
    best = rec["best_params"]
    svc = model.named_steps["model"].estimator
    assert best["model__C"] == svc.C
    n_kept = X.shape[1] if best["select__percentile"] == 100 else int(model.named_steps["select"].get_support().sum())
    expected = {"scale": "scale", "scale/2": 0.5 / n_kept, "scale*2": 2.0 / n_kept}[best["model__gamma"]]
    if expected == "scale":
        assert svc.gamma == "scale"
    else:
        assert svc.gamma == pytest.approx(expected)
    assert ("select" in model.named_steps) == (best["select__percentile"] < 100)
    assert rec["n_fits"] == search_budget("svc", n_rows=len(y))["fits"] == 18 * 3 * 2 * 3  # 60 rows: small data
    # 8 of 12 columns are noise on very different scales: the default is not the best point here
    assert rec["best_score"] >= rec["default_score"]
    assert model.score(X, y) > 0.8


@pytest.mark.slow
def test_voting_searches_each_member_and_the_fitted_members_use_the_choice():
    X, y = _table(15)
    model, rec = tune_classical(build_classical("voting"), X, y, name="voting", task="single", seed=0)
    assert rec["method"] == "GridSearchCV per member" and set(rec["member_scores"]) == {"logreg", "svc", "gboost"}
    # the sum of the members' budgets, not the product (45 rows: 3 x the repeats)
    assert rec["n_fits"] == search_budget("voting", n_rows=len(y))["fits"] == 3 * (36 + 108 + 12)
    fitted = model.named_estimators_
    best = rec["best_params"]
    assert best["logreg__model__C"] == fitted["logreg"].named_steps["model"].C
    assert best["svc__model__C"] == fitted["svc"].named_steps["model"].estimator.C
    assert fitted["gboost"].named_steps["model"].max_leaf_nodes == best["gboost__model__max_leaf_nodes"]
    for member in ("logreg", "svc", "gboost"):
        assert ("select" in fitted[member].named_steps) == (best[f"{member}__select__percentile"] < 100)
        assert rec["member_scores"][member] >= rec["member_default_scores"][member]
    assert "gboost__configurations" in rec["space"] and len(rec["space"]["gboost__configurations"]) == 2
