"""Tests for musictag_core.explore.projection: projections against scikit-learn, the projection cache."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_blobs
from sklearn.decomposition import PCA
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from musictag_core.errors import ParameterError
from musictag_core.explore import (
    ProjectionCache,
    ProjectionConfig,
    project,
    separability,
)


@pytest.fixture(autouse=True)
def _private_cache(private_explore_cache):
    """Every test here gets its own cache folder and projection cache (tests/conftest.py)."""


@pytest.fixture(scope="module")
def blobs():
    X, y = make_blobs(n_samples=240, n_features=12, centers=4, cluster_std=5.0, random_state=3)
    X[:, 0] *= 50.0  # unequal scales, so standardising matters
    return X, np.array(["alpha", "beta", "gamma", "delta"], dtype=object)[y]


# --- projections ----------------------------------------------------------------------


@pytest.mark.parametrize("n_components", [2, 3])
@pytest.mark.parametrize("standardize", [True, False])
def test_pca_matches_sklearn(blobs, n_components, standardize):
    X, _ = blobs
    cfg = ProjectionConfig(method="pca", n_components=n_components, standardize=standardize)
    proj = project(X, config=cfg, feature_names=[f"feat{i}" for i in range(X.shape[1])], cache=False)
    steps = ([("s", StandardScaler())] if standardize else []) + [("p", PCA(n_components=n_components, random_state=0))]
    ref = Pipeline(steps).fit(X)
    pca = ref.named_steps["p"]
    assert proj.coords.shape == (len(X), n_components)
    np.testing.assert_allclose(proj.coords, ref.transform(X), atol=1e-8)
    np.testing.assert_allclose(proj.explained_variance_ratio_, pca.explained_variance_ratio_)
    np.testing.assert_allclose(proj.loadings.to_numpy(), pca.components_.T)
    assert list(proj.loadings.index) == [f"feat{i}" for i in range(X.shape[1])]
    assert list(proj.loadings.columns) == [f"PC{i + 1}" for i in range(n_components)]
    top = proj.top_features(0, n=3)
    assert top.abs().tolist() == sorted(np.abs(pca.components_[0]), reverse=True)[:3]
    # the pipeline is a real, fitted sklearn Pipeline
    np.testing.assert_allclose(proj.pipeline.transform(X[:5]), proj.coords[:5], atol=1e-8)


def test_tsne_small_fit(blobs):
    X, _ = blobs
    proj = project(X[:30], config=ProjectionConfig(method="tsne", perplexity=5), cache=False)
    assert proj.coords.shape == (30, 2) and np.all(np.isfinite(proj.coords))
    assert isinstance(proj.pipeline.named_steps["tsne"].kl_divergence_, float)


@pytest.mark.slow
def test_tsne_reproducible_and_shapes(blobs):
    X, _ = blobs
    X = X[:80]
    cfg = ProjectionConfig(method="tsne", perplexity=10, seed=1)
    a = project(X, config=cfg, cache=False)
    b = project(X, config=cfg, cache=False)
    c = project(X, config=cfg.replace(perplexity=20), cache=False)
    assert a.coords.shape == (80, 2)
    np.testing.assert_array_equal(a.coords, b.coords)
    assert not np.allclose(a.coords, c.coords)
    assert project(X, config=cfg.replace(n_components=3), cache=False).coords.shape == (80, 3)
    assert a.loadings is None and a.explained_variance_ratio_ is None
    with pytest.raises(ParameterError, match="only PCA"):
        a.top_features(0)


@pytest.mark.slow
def test_umap_seeded_reproducible_with_progress(blobs):
    X, lab = blobs
    calls = []
    cfg = ProjectionConfig(method="umap", n_components=3, n_neighbors=10, seed=0, n_epochs=50)
    a = project(X, config=cfg, cache=False, progress=lambda f, m: calls.append((f, m)))
    b = project(X, config=cfg, cache=False)
    assert a.coords.shape == (len(X), 3)
    np.testing.assert_allclose(a.coords, b.coords)
    fracs = [f for f, _ in calls]
    assert fracs[0] == 0.0 and fracs[-1] == 1.0 and fracs == sorted(fracs)
    assert any("epoch" in m for _, m in calls)
    # well separated blobs stay separated after UMAP
    assert separability(a.coords, lab, standardize=False)["knn_accuracy"] > 0.9


def test_cache_hit_returns_identical_coords(blobs, tmp_path):
    X, _ = blobs
    cache = ProjectionCache(directory=tmp_path / "proj", max_memory=4, max_disk=4)
    cfg = ProjectionConfig(method="pca", seed=0)
    first = project(X[:60], config=cfg, cache=cache)
    again = project(X[:60], config=cfg, cache=cache)
    assert not first.from_cache and again.from_cache
    np.testing.assert_array_equal(first.coords, again.coords)
    # a fresh cache object reads the same entry from disk
    disk = ProjectionCache(directory=tmp_path / "proj")
    from_disk = project(X[:60], config=cfg, cache=disk)
    assert from_disk.from_cache
    np.testing.assert_array_equal(first.coords, from_disk.coords)
    assert from_disk.pipeline is not None  # loaded lazily
    # irrelevant parameters (UMAP's and t-SNE's for PCA) still hit, relevant ones miss
    assert project(X[:60], config=cfg.replace(n_neighbors=40, perplexity=5), cache=cache).from_cache
    assert not project(X[:60], config=cfg.replace(n_components=3), cache=cache).from_cache
    assert not project(X[:60], config=cfg.replace(standardize=False), cache=cache).from_cache
    assert not project(X[:60], config=cfg.replace(method="tsne", perplexity=10), cache=cache).from_cache
    # different data misses
    assert not project(X[1:61], config=cfg, cache=cache).from_cache


def test_cache_disk_entry_keeps_pca_loadings(blobs, tmp_path):
    X, _ = blobs
    names = [f"n{i}" for i in range(X.shape[1])]
    first = project(X, config=ProjectionConfig(), feature_names=names, cache=ProjectionCache(directory=tmp_path))
    hit = project(X, config=ProjectionConfig(), feature_names=names, cache=ProjectionCache(directory=tmp_path))
    assert hit.from_cache
    pd.testing.assert_frame_equal(hit.loadings, first.loadings)
    np.testing.assert_array_equal(hit.explained_variance_ratio_, first.explained_variance_ratio_)


def test_cache_is_bounded(blobs, tmp_path):
    X, _ = blobs
    cache = ProjectionCache(directory=tmp_path, max_memory=2, max_disk=3)
    for i in range(5):
        project(X[i : i + 50], config=ProjectionConfig(), cache=cache)
    assert len(cache) == 2
    assert len(list(tmp_path.glob("*.npz"))) == 3
    assert len(list(tmp_path.glob("*.joblib"))) == 3


def test_default_cache_lives_under_cache_dir(blobs, tmp_path):
    X, _ = blobs
    project(X, config=ProjectionConfig())
    assert list((tmp_path / "cache" / "projections").glob("*.npz"))
    assert project(X, config=ProjectionConfig()).from_cache


@pytest.mark.parametrize(
    "changes, match",
    [
        ({"method": "lda"}, "method"),
        ({"n_components": 4}, "n_components"),
        ({"n_neighbors": 1}, "n_neighbors"),
        ({"min_dist": -0.1}, "min_dist"),
        ({"metric": "hamming"}, "metric"),
        ({"perplexity": 0}, "perplexity"),
        ({"seed": -1}, "seed"),
        ({"standardize": "yes"}, "standardize"),
        ({"n_epochs": 0}, "n_epochs"),
    ],
)
def test_projection_config_validates(changes, match):
    with pytest.raises(ParameterError, match=match):
        ProjectionConfig(**changes)


def test_project_rejects_bad_data(blobs):
    X, _ = blobs
    with pytest.raises(ParameterError, match="perplexity"):
        project(X[:20], config=ProjectionConfig(method="tsne", perplexity=30), cache=False)
    bad = X[:10].copy()
    bad[3, 2] = np.inf
    with pytest.raises(ParameterError, match="NaN or infinite"):
        project(bad, cache=False)
    with pytest.raises(ParameterError, match="feature_names"):
        project(X, feature_names=["a"], cache=False)


