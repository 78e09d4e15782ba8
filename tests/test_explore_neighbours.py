"""Explore's neighbourhood figures: trustworthiness and true k-NN kept by a projection, one point's neighbours."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from musictag_core.errors import ParameterError
from musictag_core.explore import explore, neighbour_preservation, point_neighbours


def _clusters(n=120, d=12, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=4.0, size=(3, d))
    y = rng.integers(0, 3, n)
    return centres[y] + rng.normal(size=(n, d)), np.array(["a", "b", "c"])[y]


def test_a_projection_that_keeps_everything_scores_one():
    X, _ = _clusters()
    out = neighbour_preservation(X, X.copy(), k=10, standardize=False)
    assert out["trustworthiness"] == pytest.approx(1.0) and out["knn_kept"] == pytest.approx(1.0)


def test_a_random_picture_keeps_about_chance():
    from sklearn.manifold import trustworthiness

    X, _ = _clusters(n=200)
    coords = np.random.default_rng(5).normal(size=(200, 2))
    out = neighbour_preservation(X, coords, k=10, standardize=False)
    assert out["knn_kept"] < 3 * out["knn_kept_chance"]
    assert out["trustworthiness"] == pytest.approx(trustworthiness(X, coords, n_neighbors=10), abs=1e-4)
    assert out["trustworthiness"] < 0.65


def test_pca_is_between_and_sampling_is_reported(monkeypatch):
    from sklearn.decomposition import PCA

    from musictag_core.explore import neighbours

    X, _ = _clusters(n=300, d=20)
    Z = (X - X.mean(0)) / X.std(0)
    out = neighbour_preservation(X, PCA(2).fit_transform(Z), k=10)
    assert 0.7 < out["trustworthiness"] < 1.0 and out["knn_kept_chance"] < out["knn_kept"] < 1.0
    monkeypatch.setattr(neighbours, "MAX_POINTS", 100)
    small = neighbour_preservation(X, PCA(2).fit_transform(Z), k=10)
    assert small["sampled"] and small["n_points"] == 100


def test_point_neighbours_lists_both_spaces():
    X, _ = _clusters(n=50)
    coords = X[:, :2].copy()
    got = point_neighbours(X, coords, 7, k=4, standardize=False)
    d_full = np.linalg.norm(X - X[7], axis=1)
    d_full[7] = np.inf
    assert [n["row"] for n in got["full"]] == list(np.argsort(d_full)[:4])
    assert all(n["row"] != 7 for n in got["projection"])
    both = {n["row"] for n in got["full"]} & {n["row"] for n in got["projection"]}
    assert {n["row"] for n in got["full"] if n["in_both"]} == both
    with pytest.raises(ParameterError, match="row must be"):
        point_neighbours(X, coords, 50)
    with pytest.raises(ParameterError, match="one row per point"):
        neighbour_preservation(X, coords[:10])


def test_explore_result_reports_neighbourhoods():
    X, genre = _clusters(n=60)
    meta = pd.DataFrame({"track_id": [f"t{i}" for i in range(60)], "genre": genre})
    res = explore(X, [f"f{i}" for i in range(X.shape[1])], meta, cache=False)
    hoods = res.summary()["neighbourhoods"]
    assert set(hoods) >= {"trustworthiness", "knn_kept", "k"} and 0 <= hoods["knn_kept"] <= 1


def test_cli_explore_json_has_neighbourhoods(tmp_path, capsys, private_explore_cache):
    import json

    from sklearn.decomposition import PCA
    from sklearn.manifold import trustworthiness
    from sklearn.preprocessing import StandardScaler

    from musictag_core.cli import main

    X, genre = _clusters(n=80, d=6)
    df = pd.DataFrame(X, columns=[f"feat{i}" for i in range(6)])
    df["genre"] = genre
    df.to_csv(tmp_path / "t.csv", index=False)
    assert main(["explore", str(tmp_path / "t.csv"), "--label-column", "genre", "--method", "pca",
                 "--quiet", "--no-cache", "--json"]) == 0
    hoods = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["neighbourhoods"]
    Z = StandardScaler().fit_transform(X)
    assert hoods["k"] == 10 and hoods["trustworthiness"] == pytest.approx(
        trustworthiness(Z, PCA(2, random_state=0).fit_transform(Z), n_neighbors=10), abs=1e-4)
    assert main(["explore", str(tmp_path / "t.csv"), "--label-column", "genre", "--method", "pca", "--quiet", "--no-cache"]) == 0
    assert "trustworthiness" in capsys.readouterr().out
