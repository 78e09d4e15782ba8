"""Tests for musictag_core.project: every separability figure against scikit-learn."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_blobs
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, confusion_matrix, pairwise_distances, silhouette_samples, silhouette_score
from sklearn.model_selection import LeaveOneOut, StratifiedKFold, cross_val_predict, cross_val_score
from sklearn.neighbors import KNeighborsClassifier, NearestCentroid
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from musictag_core.config import AudioConfig, PipelineConfig, SegmentConfig
from musictag_core.datasets.base import DatasetIndex
from musictag_core.errors import DatasetError, ParameterError
from musictag_core.project import (
    ProjectionCache,
    ProjectionConfig,
    class_balance,
    cooccurrence,
    explained_variance,
    feature_matrix,
    labels_per_track,
    loo_knn_predict,
    pairwise_view,
    project,
    separability,
    separability_json,
    track_durations,
)

GENRES = ["blues", "classical", "country", "disco", "hiphop", "jazz", "metal", "pop", "reggae", "rock"]


def _clips_dir() -> Path:
    return Path(__file__).resolve().parents[1].parent / "shared" / "data" / "clips"


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MUSICTAG_CACHE", str(tmp_path / "cache"))
    import musictag_core.project as mp

    monkeypatch.setattr(mp, "_DEFAULT_CACHE", None)


@pytest.fixture
def rng():
    return np.random.default_rng(20240501)


@pytest.fixture(scope="module")
def blobs():
    X, y = make_blobs(n_samples=240, n_features=12, centers=4, cluster_std=5.0, random_state=3)
    X[:, 0] *= 50.0  # unequal scales, so standardising matters
    return X, np.array(["alpha", "beta", "gamma", "delta"], dtype=object)[y]


@pytest.fixture(scope="module")
def clip_mfcc_stats():
    """Mean and std of 13 MFCCs per 3 s piece of the ten GTZAN clips: 100 points, 10 genres."""
    clips = _clips_dir()
    if not clips.is_dir():
        pytest.skip(f"real clips not found at {clips}")
    import librosa

    rows, labels = [], []
    for g in GENRES:
        y, sr = librosa.load(clips / f"{g}.00000.wav", sr=22050, duration=30.0)
        for i in range(10):
            seg = y[i * 3 * sr : (i + 1) * 3 * sr]
            m = librosa.feature.mfcc(y=seg, sr=sr, n_mfcc=13)
            rows.append(np.concatenate([m.mean(axis=1), m.std(axis=1)]))
            labels.append(g)
    return np.array(rows, dtype=np.float64), np.array(labels, dtype=object)


@pytest.fixture(params=["blobs", "clips"])
def data(request, blobs):
    return blobs if request.param == "blobs" else request.getfixturevalue("clip_mfcc_stats")


# --- separability against scikit-learn ------------------------------------------------


@pytest.mark.parametrize("k", [1, 3, 5])
def test_loo_knn_equals_cross_val_predict(data, k):
    X, lab = data
    Z = StandardScaler().fit_transform(X)
    ref = cross_val_predict(KNeighborsClassifier(n_neighbors=k), Z, lab, cv=LeaveOneOut())
    np.testing.assert_array_equal(loo_knn_predict(Z, lab, k=k), ref)


def test_loo_knn_ties_go_to_first_label():
    # point 0 at the origin has two "b" and two "a" neighbours at equal vote
    X = np.array([[0.0], [1.0], [-1.1], [1.2], [-1.3], [10.0], [11.0]])
    lab = np.array(["z", "b", "b", "a", "a", "a", "z"], dtype=object)
    ref = cross_val_predict(KNeighborsClassifier(n_neighbors=4), X, lab, cv=LeaveOneOut())
    got = loo_knn_predict(X, lab, k=4)
    np.testing.assert_array_equal(got, ref)
    assert got[0] == "a"


@pytest.mark.parametrize("standardize", [True, False])
def test_separability_matches_sklearn(data, standardize):
    X, lab = data
    Z = StandardScaler().fit_transform(X) if standardize else X
    res = separability(X, lab, k=5, standardize=standardize)
    classes = np.unique(lab)

    assert res["silhouette"] == pytest.approx(silhouette_score(Z, lab), abs=1e-12)
    ref_pred = cross_val_predict(KNeighborsClassifier(n_neighbors=5), Z, lab, cv=LeaveOneOut())
    assert res["knn_accuracy"] == pytest.approx(accuracy_score(lab, ref_pred), abs=1e-12)
    np.testing.assert_array_equal(res["confusion"].to_numpy(), confusion_matrix(lab, ref_pred, labels=classes))
    assert list(res["confusion"].index) == classes.tolist()

    nc = NearestCentroid().fit(Z, lab)
    ref_dist = pairwise_distances(nc.centroids_)
    np.testing.assert_allclose(res["centroid_distances"].to_numpy(), ref_dist, atol=1e-10)
    assert list(res["centroid_distances"].columns) == nc.classes_.tolist()

    samples = silhouette_samples(Z, lab)
    for c in classes:
        assert res["per_label"].loc[c, "silhouette"] == pytest.approx(samples[lab == c].mean(), abs=1e-12)
        assert res["per_label"].loc[c, "knn_recall"] == pytest.approx(np.mean(ref_pred[lab == c] == c))
        assert res["per_label"].loc[c, "count"] == np.sum(lab == c)


def test_most_confused_pair_is_symmetrised_max(data):
    X, lab = data
    res = separability(X, lab)
    C = res["confusion"].to_numpy()
    best, pair = -1, None
    classes = res["labels"]
    for i in range(len(classes)):
        for j in range(i + 1, len(classes)):
            if C[i, j] + C[j, i] > best:
                best, pair = C[i, j] + C[j, i], (classes[i], classes[j])
    mc = res["most_confused"]
    assert (mc["a"], mc["b"]) == pair
    assert mc["count"] == best
    assert mc["rate"] == pytest.approx(best / (C[classes.index(pair[0])].sum() + C[classes.index(pair[1])].sum()))


def test_most_confused_none_when_perfect():
    X = np.array([[0.0, 0], [0.1, 0], [0, 0.1], [10, 10], [10.1, 10], [10, 10.1]])
    lab = ["a", "a", "a", "b", "b", "b"]
    res = separability(X, lab, k=2)
    assert res["knn_accuracy"] == 1.0
    assert res["most_confused"] == {"a": None, "b": None, "count": 0, "rate": 0.0}


def test_separability_json_roundtrips(blobs):
    import json

    res = separability(*blobs)
    out = json.loads(json.dumps(separability_json(res)))
    assert out["silhouette"] == pytest.approx(res["silhouette"], abs=1e-6)
    assert set(out["centroid_distances"]) == set(res["labels"])
    assert out["centroid_distances"]["alpha"]["beta"] == pytest.approx(
        res["centroid_distances"].loc["alpha", "beta"], abs=1e-6
    )


@pytest.mark.parametrize(
    "X, labels, match",
    [
        (np.ones((5, 2)), ["a"] * 5, "at least 2 different labels"),
        (np.array([[0.0, np.nan], [1, 1], [2, 2]]), ["a", "b", "a"], "NaN"),
        (np.ones((4, 2)), ["a", "b"], "one entry per point"),
        (np.ones(4), ["a", "b", "a", "b"], "2-D"),
    ],
)
def test_separability_rejects_bad_input(X, labels, match):
    with pytest.raises(ParameterError, match=match):
        separability(X, labels)


def test_loo_knn_rejects_k_too_large(blobs):
    X, lab = blobs
    with pytest.raises(ParameterError, match="k must be"):
        loo_knn_predict(X[:5], lab[:5], k=5)


# --- pairwise view ----------------------------------------------------------------------


def test_pairwise_view_matches_sklearn(data):
    X, lab = data
    a, b = sorted(set(lab))[:2]
    view = pairwise_view(X, lab, a, b, cv=5, seed=7)
    mask = (lab == a) | (lab == b)
    np.testing.assert_array_equal(view["rows"], np.flatnonzero(mask))
    ref_pca = Pipeline([("s", StandardScaler()), ("p", PCA(n_components=2))]).fit(X[mask])
    np.testing.assert_allclose(np.abs(view["coords"]), np.abs(ref_pca.transform(X[mask])), atol=1e-8)
    clf = Pipeline([("s", StandardScaler()), ("c", LogisticRegression(max_iter=2000))])
    ref = cross_val_score(clf, X[mask], lab[mask], cv=StratifiedKFold(5, shuffle=True, random_state=7))
    np.testing.assert_allclose(view["scores"], ref)
    assert view["accuracy_mean"] == pytest.approx(ref.mean())
    assert view["accuracy_std"] == pytest.approx(ref.std())
    assert view["counts"] == {a: int((lab == a).sum()), b: int((lab == b).sum())}


def test_pairwise_view_lowers_folds_and_validates():
    X = np.arange(20, dtype=float).reshape(10, 2) + np.repeat([[0, 0], [5, 5]], 5, axis=0)
    lab = np.array(["a"] * 3 + ["b"] * 5 + ["c"] * 2, dtype=object)
    assert pairwise_view(X, lab, "a", "b", cv=5)["cv"] == 3
    with pytest.raises(ParameterError, match="not in the data"):
        pairwise_view(X, lab, "a", "nope")
    with pytest.raises(ParameterError, match="two different"):
        pairwise_view(X, lab, "a", "a")
    lab2 = lab.copy()
    lab2[:2] = "c"
    with pytest.raises(ParameterError, match="at least 2 points"):
        pairwise_view(X, lab2, "a", "b")


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


def test_explained_variance_spectrum(blobs):
    X, _ = blobs
    r = explained_variance(X, max_components=5)
    ref = PCA(n_components=5).fit(StandardScaler().fit_transform(X)).explained_variance_ratio_
    np.testing.assert_allclose(r, ref)


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


# --- dataset insight --------------------------------------------------------------------


def _index(strengths, labels, splits=None, paths=None, features=None):
    n = len(strengths)
    tracks = pd.DataFrame({"track_id": [f"t{i}" for i in range(n)], "path": paths or [""] * n})
    if splits is not None:
        tracks["split"] = splits
    return DatasetIndex(name="toy", kind="test", labels=labels, tracks=tracks, strengths=np.asarray(strengths, float),
                        features=features)


def test_class_balance_and_by_split():
    idx = _index([[100, 0, 0], [100, 100, 0], [0, 0, 100], [0, 100, 0]], ["a", "b", "c"],
                 splits=["train", "test", "train", None])
    bal = class_balance(idx)
    assert bal.to_dict() == {"a": 2, "b": 2, "c": 1}
    by = class_balance(idx, by_split=True)
    assert list(by.columns) == ["train", "test", "none"]
    assert by.loc["b"].to_dict() == {"train": 0, "test": 1, "none": 1}
    assert by.to_numpy().sum() == idx.y.sum()


def test_cooccurrence_and_labels_per_track(rng):
    y = (rng.random((50, 4)) < 0.4).astype(np.int8)
    co = cooccurrence(y, list("abcd"))
    for i in range(4):
        for j in range(4):
            assert co.iloc[i, j] == np.sum((y[:, i] == 1) & (y[:, j] == 1))
    per = labels_per_track(y)
    assert per.sum() == 50
    for n_labels, count in per.items():
        assert count == np.sum(y.sum(axis=1) == n_labels)
    with pytest.raises(ParameterError):
        cooccurrence(y, list("abc"))


def test_track_durations_on_real_clips():
    clips = _clips_dir()
    if not clips.is_dir():
        pytest.skip("real clips absent")
    paths = [str(clips / "blues.00000.wav"), str(clips / "blues.00099.mp3"), "/nonexistent.wav"]
    idx = _index([[100, 0]] * 3, ["blues", "other"], paths=paths)
    d = track_durations(idx)
    assert d.iloc[0] == pytest.approx(30.0, abs=0.1)
    assert 25 < d.iloc[1] < 35
    assert np.isnan(d.iloc[2])


# --- feature spaces --------------------------------------------------------------------


def test_feature_matrix_table_space():
    feats = pd.DataFrame({"tempo": [100.0, 120, 90, 140], "energy": [0.1, 0.5, 0.2, 0.9], "name": list("wxyz")})
    idx = _index([[100, 0], [0, 100], [100, 0], [0, 100]], ["a", "b"], splits=["train"] * 4, features=feats)
    X, names, meta = feature_matrix(idx, space="table")
    assert names == ["tempo", "energy"]
    np.testing.assert_array_equal(X, feats[["tempo", "energy"]].to_numpy())
    assert meta["genre"].tolist() == ["a", "b", "a", "b"]
    X2, names2, _ = feature_matrix(idx, space="table", columns=["energy"])
    assert names2 == ["energy"] and X2.shape == (4, 1)
    with pytest.raises(ParameterError, match="not in the feature table"):
        feature_matrix(idx, space="table", columns=["nope"])
    with pytest.raises(DatasetError, match="feature-table"):
        feature_matrix(_index([[100, 0]], ["a", "b"]), space="table")


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"space": "chroma"}, "feature space"),
        ({"level": "frame"}, "level"),
        ({"space": "logmel_stats", "deltas": True}, "deltas"),
        ({"space": "embedding_pooled", "level": "segment"}, "one vector per track"),
    ],
)
def test_feature_matrix_validates(kwargs, match):
    with pytest.raises(ParameterError, match=match):
        feature_matrix(_index([[100, 0]], ["a", "b"]), **kwargs)


@pytest.fixture(scope="module")
def clip_index():
    clips = _clips_dir()
    if not clips.is_dir():
        pytest.skip("real clips absent")
    genres = ["blues", "classical", "metal"]
    tracks = pd.DataFrame(
        {
            "track_id": [f"{g}.00000" for g in genres] + ["missing"],
            "path": [str(clips / f"{g}.00000.wav") for g in genres] + [str(clips / "missing.wav")],
            "split": ["train", "train", "test", "test"],
        }
    )
    return DatasetIndex(name="clips", kind="test", labels=genres + ["other"], tracks=tracks,
                        strengths=np.array([[100, 0, 0, 0], [0, 100, 0, 0], [0, 0, 100, 0], [0, 0, 0, 100]]))


SHORT = PipelineConfig(audio=AudioConfig(duration=6.0), segments=SegmentConfig(length_s=2.0, n_segments=3))


def test_feature_matrix_mfcc_stats_track_and_segment(clip_index):
    Xt, names, meta_t = feature_matrix(clip_index, space="mfcc_stats", pipeline=SHORT, n_jobs=1)
    assert Xt.shape == (3, 26) and len(names) == 26
    assert names[0] == "mfcc01_mean" and names[13] == "mfcc01_std"
    assert meta_t["track_id"].tolist() == ["blues.00000", "classical.00000", "metal.00000"]
    assert meta_t["genre"].tolist() == ["blues", "classical", "metal"]
    assert "missing" in meta_t.attrs["skipped"]

    Xs, names_s, meta_s = feature_matrix(clip_index, space="mfcc_stats", level="segment", pipeline=SHORT, n_jobs=1)
    assert names_s == names
    assert Xs.shape == (9, 26)
    assert meta_s["segment"].tolist() == [0, 1, 2] * 3
    np.testing.assert_allclose(meta_s["start_s"].to_numpy()[:3], [0.0, 2.0, 4.0])
    # equal-length segments: the track mean is the mean of the segment means
    for i in range(3):
        np.testing.assert_allclose(Xt[i, :13], Xs[3 * i : 3 * i + 3, :13].mean(axis=0), rtol=1e-5, atol=1e-4)


def test_feature_matrix_deltas_through_the_store(clip_index, tmp_path):
    import librosa

    from musictag_core.store import extract_paths

    X, names, _ = feature_matrix(clip_index, space="mfcc_stats", deltas=True, pipeline=SHORT, n_jobs=1)
    assert X.shape == (3, 52)
    assert names[26] == "dmfcc01_mean" and names[39] == "dmfcc01_std"
    # the frames came from (and are now in) the feature store
    res = extract_paths(clip_index.tracks["path"].tolist()[:3], pipeline=SHORT, n_jobs=1)
    assert res.n_cached == 3 and res.n_computed == 0
    frames = res.features(0).astype(np.float64)  # (3 segments, t, 13)
    d = librosa.feature.delta(frames, width=9, axis=1)
    flat, dflat = frames.reshape(-1, 13), d.reshape(-1, 13)
    expected = np.concatenate([flat.mean(0), flat.std(0), dflat.mean(0), dflat.std(0)])
    np.testing.assert_allclose(X[0], expected, rtol=1e-6, atol=1e-6)
    X2, _, _ = feature_matrix(clip_index, space="mfcc_stats", deltas=True, pipeline=SHORT, n_jobs=1, cache=False)
    np.testing.assert_allclose(X, X2, rtol=1e-5, atol=1e-5)


def test_feature_matrix_logmel_stats(clip_index):
    X, names, _ = feature_matrix(clip_index, space="logmel_stats", pipeline=SHORT, n_jobs=1)
    assert X.shape == (3, 256) and names[0] == "mel001_mean" and names[128] == "mel001_std"


def test_feature_matrix_stats_track_and_segment(clip_index):
    from musictag_core.features import STAT_NAMES

    Xt, names, _ = feature_matrix(clip_index, space="stats", pipeline=SHORT, n_jobs=1)
    assert Xt.shape == (3, len(STAT_NAMES)) and names == list(STAT_NAMES)
    Xs, names_s, meta = feature_matrix(clip_index, space="stats", level="segment", pipeline=SHORT)
    assert Xs.shape == (9, len(STAT_NAMES)) and names_s == list(STAT_NAMES)
    assert meta["segment"].tolist() == [0, 1, 2] * 3
    assert len(list((Path(__import__("os").environ["MUSICTAG_CACHE"]) / "explore_features").rglob("*.npz"))) == 3
    again, _, _ = feature_matrix(clip_index, space="stats", level="segment", pipeline=SHORT)
    np.testing.assert_array_equal(Xs, again)


def test_feature_matrix_then_separability_on_clips(clip_index):
    X, names, meta = feature_matrix(clip_index, space="mfcc_stats", level="segment", pipeline=SHORT, n_jobs=1)
    res = separability(X, meta["genre"], k=2)
    Z = StandardScaler().fit_transform(X)
    assert res["silhouette"] == pytest.approx(silhouette_score(Z, meta["genre"]))
    proj = project(X, feature_names=names, cache=False)
    assert proj.coords.shape == (9, 2)


# --- command line ----------------------------------------------------------------------


def _table_csv(path: Path) -> Path:
    X, y = make_blobs(n_samples=90, n_features=5, centers=3, random_state=1)
    df = pd.DataFrame(X, columns=[f"feat{i}" for i in range(5)])
    df.insert(0, "track_id", [f"t{i:03d}" for i in range(90)])
    df["genre"] = np.array(["jazz", "pop", "rock"], dtype=object)[y]
    df.to_csv(path, index=False)
    return path


def test_cli_explore_writes_coords_and_json(tmp_path, capsys):
    import json

    from musictag_core.cli import main

    csv = _table_csv(tmp_path / "table.csv")
    out = tmp_path / "coords.csv"
    rc = main(["explore", str(csv), "--label-column", "genre", "--method", "pca", "--dims", "3",
               "--out", str(out), "--quiet", "--no-cache", "--json"])
    assert rc == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    res = json.loads(line)
    coords = pd.read_csv(out)
    assert list(coords.columns[-3:]) == ["x", "y", "z"] and len(coords) == 90
    df = pd.read_csv(csv)
    X, lab = df[[f"feat{i}" for i in range(5)]].to_numpy(), df["genre"].to_numpy(dtype=object)
    ref = Pipeline([("s", StandardScaler()), ("p", PCA(n_components=3, random_state=0))]).fit_transform(X)
    np.testing.assert_allclose(coords[["x", "y", "z"]].to_numpy(), ref, atol=1e-8)
    Z = StandardScaler().fit_transform(X)
    assert res["silhouette"]["full"] == pytest.approx(silhouette_score(Z, lab), abs=1e-6)
    assert res["silhouette"]["projection"] == pytest.approx(silhouette_score(ref, lab), abs=1e-6)
    knn = cross_val_predict(KNeighborsClassifier(5), ref, lab, cv=LeaveOneOut())
    assert res["knn_accuracy"]["projection"] == pytest.approx(accuracy_score(lab, knn), abs=1e-6)
    assert set(res["centroid_distances"]) == {"jazz", "pop", "rock"}
    assert len(res["explained_variance_ratio"]) == 3


def test_cli_explore_rejects_unknown_genre(tmp_path, capsys):
    from musictag_core.cli import main

    csv = _table_csv(tmp_path / "table.csv")
    assert main(["explore", str(csv), "--label-column", "genre", "--genres", "jazz,polka", "--quiet"]) == 2
    assert "polka" in capsys.readouterr().err
