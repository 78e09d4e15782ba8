"""Tests for musictag_core.explore.separation: every separability figure against scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import make_blobs
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, confusion_matrix, pairwise_distances, silhouette_samples, silhouette_score
from sklearn.model_selection import LeaveOneOut, StratifiedKFold, cross_val_predict, cross_val_score
from sklearn.neighbors import KNeighborsClassifier, NearestCentroid
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from musictag_core.errors import ParameterError
from musictag_core.explore import (
    explained_variance,
    loo_knn_predict,
    pairwise_view,
    separability,
    separability_json,
)

from .helpers import CLIPS

GENRES = ["blues", "classical", "country", "disco", "hiphop", "jazz", "metal", "pop", "reggae", "rock"]


@pytest.fixture(scope="module")
def blobs():
    X, y = make_blobs(n_samples=240, n_features=12, centers=4, cluster_std=5.0, random_state=3)
    X[:, 0] *= 50.0  # unequal scales, so standardising matters
    return X, np.array(["alpha", "beta", "gamma", "delta"], dtype=object)[y]


@pytest.fixture(scope="module")
def clip_mfcc_stats():
    """Mean and std of 13 MFCCs per 3 s piece of the ten GTZAN clips: 100 points, 10 genres."""
    clips = CLIPS
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


def test_explained_variance_spectrum(blobs):
    X, _ = blobs
    r = explained_variance(X, max_components=5)
    ref = PCA(n_components=5).fit(StandardScaler().fit_transform(X)).explained_variance_ratio_
    np.testing.assert_allclose(r, ref)

