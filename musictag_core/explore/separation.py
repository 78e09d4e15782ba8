"""Separability: how well labelled points separate in a feature space.

:func:`separability` computes the silhouette score, leave-one-out k-NN
accuracy (:func:`loo_knn_predict`, one neighbour query), the per-genre
centroid distance matrix, the k-NN confusion counts and the most-confused pair
of genres; :func:`separability_json` is its JSON summary. :func:`pairwise_view`
separates two genres with a cross-validated linear classifier, and
:func:`explained_variance` is a scree plot's data. scikit-learn is imported
inside the functions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ParameterError
from .checks import check_labels, check_matrix

__all__ = ["explained_variance", "loo_knn_predict", "pairwise_view", "separability", "separability_json"]


def explained_variance(X: np.ndarray, *, standardize: bool = True, max_components: int = 20) -> np.ndarray:
    """Fraction of variance explained by each principal component (a scree plot's data).

    Parameters
    ----------
    X : np.ndarray [shape=(n_points, n_features)]
    standardize : bool
        Standardise features first.
    max_components : int
        Keep at most this many components.

    Returns
    -------
    np.ndarray [shape=(min(max_components, n_points, n_features),)]
    """
    from sklearn.decomposition import PCA
    from sklearn.preprocessing import StandardScaler

    X = check_matrix(X)
    Z = StandardScaler().fit_transform(X) if standardize else X
    k = int(min(max_components, *X.shape))
    return PCA(n_components=k).fit(Z).explained_variance_ratio_




def loo_knn_predict(X: np.ndarray, labels: Sequence[str], *, k: int = 5) -> np.ndarray:
    """Leave-one-out k-NN predictions from one neighbour query.

    Equivalent to ``cross_val_predict(KNeighborsClassifier(k), X, labels,
    cv=LeaveOneOut())`` but needs one neighbour search instead of ``n`` fits:
    each point's ``k`` nearest *other* points vote, ties going to the label
    that sorts first (as in scikit-learn). Only exact distance ties between
    neighbours may be ordered differently.

    Parameters
    ----------
    X : np.ndarray [shape=(n_points, n_features)]
    labels : sequence of str [shape=(n_points,)]
    k : int
        Number of neighbours (1 <= k < n_points).

    Returns
    -------
    np.ndarray [shape=(n_points,)], dtype object
        Predicted label per point.
    """
    from sklearn.neighbors import NearestNeighbors

    X = check_matrix(X)
    lab = check_labels(labels, len(X), min_classes=1)
    n = len(X)
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k < n:
        raise ParameterError(f"k must be an integer in [1, {n - 1}] for {n} points, got {k!r}")
    classes, y = np.unique(lab, return_inverse=True)
    _, ind = NearestNeighbors(n_neighbors=k + 1).fit(X).kneighbors(X)
    is_self = ind == np.arange(n)[:, None]
    # Move each point's own index to the end (stable, so neighbour order is kept);
    # when the point is not among its k+1 neighbours (duplicates), the farthest is dropped.
    order = np.argsort(is_self, axis=1, kind="stable")
    neigh = np.take_along_axis(ind, order, axis=1)[:, :k]
    votes = np.zeros((n, len(classes)), dtype=np.int64)
    np.add.at(votes, (np.repeat(np.arange(n), k), y[neigh].ravel()), 1)
    return classes[np.argmax(votes, axis=1)].astype(object)


def separability(
    X: np.ndarray,
    labels: Sequence[str],
    *,
    k: int = 5,
    standardize: bool = True,
) -> dict[str, Any]:
    """How well labelled points separate in a feature space.

    Parameters
    ----------
    X : np.ndarray [shape=(n_points, n_features)]
        Features (the full space, or projected coordinates).
    labels : sequence of str [shape=(n_points,)]
        One label (genre) per point; at least two different ones.
    k : int
        Neighbours of the leave-one-out k-NN classifier.
    standardize : bool
        Standardise features first (use False for projected coordinates).

    Returns
    -------
    dict
        ``n_points``, ``n_features``, ``k``, ``labels`` (sorted label names);
        ``silhouette`` (``sklearn.metrics.silhouette_score``, Euclidean);
        ``knn_accuracy`` (leave-one-out k-NN accuracy) and ``knn_predictions``;
        ``per_label`` (DataFrame: ``count``, ``silhouette``, ``knn_recall`` per label);
        ``centroid_distances`` (DataFrame labels x labels, Euclidean distance
        between label means); ``confusion`` (DataFrame true x predicted counts
        of the LOO k-NN); ``most_confused`` (dict ``a``, ``b``, ``count``,
        ``rate``: the pair with the most k-NN errors in either direction,
        ``rate`` = errors / points of the two labels).
    """
    from sklearn.metrics import confusion_matrix, silhouette_samples
    from sklearn.preprocessing import StandardScaler

    X = check_matrix(X, min_rows=3)
    lab = check_labels(labels, len(X))
    classes = np.unique(lab)
    if len(classes) >= len(X):
        raise ParameterError(f"need fewer labels ({len(classes)}) than points ({len(X)}) for a silhouette")
    Z = StandardScaler().fit_transform(X) if standardize else X
    sil = silhouette_samples(Z, lab)
    pred = loo_knn_predict(Z, lab, k=k)
    correct = pred == lab
    centroids = np.stack([Z[lab == c].mean(axis=0) for c in classes])
    dist = np.sqrt(((centroids[:, None, :] - centroids[None, :, :]) ** 2).sum(axis=-1))
    conf = confusion_matrix(lab, pred.astype(str), labels=classes)
    per_label = pd.DataFrame(
        {
            "count": [int((lab == c).sum()) for c in classes],
            "silhouette": [float(sil[lab == c].mean()) for c in classes],
            "knn_recall": [float(correct[lab == c].mean()) for c in classes],
        },
        index=pd.Index(classes, name="label"),
    )
    return {
        "n_points": int(len(X)),
        "n_features": int(X.shape[1]),
        "k": int(k),
        "standardize": bool(standardize),
        "labels": classes.tolist(),
        "silhouette": float(np.mean(sil)),
        "knn_accuracy": float(correct.mean()),
        "knn_predictions": pred,
        "per_label": per_label,
        "centroid_distances": pd.DataFrame(dist, index=classes, columns=classes),
        "confusion": pd.DataFrame(conf, index=pd.Index(classes, name="true"), columns=pd.Index(classes, name="predicted")),
        "most_confused": _most_confused(conf, classes),
    }


def _most_confused(conf: np.ndarray, classes: np.ndarray) -> dict[str, Any]:
    sym = conf + conf.T
    np.fill_diagonal(sym, -1)
    i, j = np.unravel_index(np.argmax(sym), sym.shape)
    count = int(max(sym[i, j], 0))
    if count == 0:
        return {"a": None, "b": None, "count": 0, "rate": 0.0}
    a, b = sorted((int(i), int(j)))
    support = int(conf[a].sum() + conf[b].sum())
    return {"a": str(classes[a]), "b": str(classes[b]), "count": count, "rate": count / support}


def separability_json(result: dict[str, Any]) -> dict[str, Any]:
    """The JSON-serialisable summary of a :func:`separability` result (no per-point arrays)."""
    cd = result["centroid_distances"]
    return {
        "n_points": result["n_points"],
        "n_features": result["n_features"],
        "k": result["k"],
        "silhouette": round(result["silhouette"], 6),
        "knn_accuracy": round(result["knn_accuracy"], 6),
        "most_confused": result["most_confused"],
        "per_label": {
            str(lbl): {k: (round(v, 6) if isinstance(v, float) else int(v)) for k, v in row.items()}
            for lbl, row in result["per_label"].to_dict(orient="index").items()
        },
        "centroid_distances": {
            str(a): {str(b): round(float(cd.loc[a, b]), 6) for b in cd.columns} for a in cd.index
        },
        "confusion": {str(a): {str(b): int(v) for b, v in row.items()} for a, row in result["confusion"].to_dict(orient="index").items()},
    }


def pairwise_view(
    X: np.ndarray,
    labels: Sequence[str],
    a: str,
    b: str,
    *,
    cv: int = 5,
    seed: int = 0,
    standardize: bool = True,
) -> dict[str, Any]:
    """Two genres alone: their PCA and a cross-validated linear classifier.

    Parameters
    ----------
    X : np.ndarray [shape=(n_points, n_features)]
    labels : sequence of str [shape=(n_points,)]
    a, b : str
        The two labels to compare.
    cv : int
        Folds of the stratified cross-validation (lowered to the smaller
        class size when that is smaller; at least 2 points per label needed).
    seed : int
        Seed of the fold shuffling.
    standardize : bool
        Standardise inside both pipelines.

    Returns
    -------
    dict
        ``rows`` (indices into ``X`` of the two genres' points), ``labels``
        (their labels), ``coords`` (PCA 2-D coordinates [shape=(m, 2)]),
        ``explained_variance_ratio`` (2,), ``scores`` (accuracy per fold of
        ``StandardScaler`` + ``LogisticRegression``), ``accuracy_mean``,
        ``accuracy_std``, ``cv`` (folds used), ``counts`` ({label: points}).
    """
    from sklearn.decomposition import PCA
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    X = check_matrix(X)
    lab = check_labels(labels, len(X), min_classes=1)
    a, b = str(a), str(b)
    if a == b:
        raise ParameterError(f"pick two different labels, got {a!r} twice")
    present = set(lab.tolist())
    missing = [g for g in (a, b) if g not in present]
    if missing:
        raise ParameterError(f"label(s) {missing} not in the data; choose from {sorted(present)}")
    rows = np.flatnonzero((lab == a) | (lab == b))
    Xab, lab_ab = X[rows], lab[rows]
    counts = {a: int((lab_ab == a).sum()), b: int((lab_ab == b).sum())}
    smallest = min(counts.values())
    if smallest < 2:
        raise ParameterError(f"need at least 2 points of each label to cross-validate, got {counts}")
    if isinstance(cv, bool) or not isinstance(cv, int) or cv < 2:
        raise ParameterError(f"cv must be an integer >= 2, got {cv!r}")
    folds = min(cv, smallest)
    scale = StandardScaler() if standardize else "passthrough"
    n_comp = min(2, Xab.shape[1], len(Xab))
    pca = Pipeline([("scale", scale), ("pca", PCA(n_components=n_comp))])
    coords = pca.fit_transform(Xab)
    clf = Pipeline([("scale", StandardScaler() if standardize else "passthrough"), ("clf", LogisticRegression(max_iter=2000))])
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    scores = cross_val_score(clf, Xab, lab_ab, cv=splitter, scoring="accuracy")
    return {
        "a": a,
        "b": b,
        "rows": rows,
        "labels": lab_ab.astype(object),
        "coords": coords,
        "explained_variance_ratio": pca.named_steps["pca"].explained_variance_ratio_,
        "scores": scores,
        "accuracy_mean": float(scores.mean()),
        "accuracy_std": float(scores.std()),
        "cv": int(folds),
        "counts": counts,
    }


