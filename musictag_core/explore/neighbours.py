"""How far the 2-D (or 3-D) picture distorts neighbourhoods, and the neighbours of one point in both spaces.

A projection can put points side by side that are far apart in the full feature space, and split
true neighbours. :func:`neighbour_preservation` measures it two ways: scikit-learn's
``trustworthiness`` (1: no point in the projection has a neighbour that was not near it) and the
fraction of each point's true k nearest neighbours (full space) that are also among its k nearest
in the projection. :func:`point_neighbours` lists one point's nearest neighbours in each space, so
the page can show them side by side.

The full space is standardised like the separability figures (Euclidean distances).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import ParameterError

__all__ = ["MAX_POINTS", "neighbour_preservation", "point_neighbours"]

#: Above this many points, :func:`neighbour_preservation` measures a seeded random sample of them.
MAX_POINTS = 2000


def _standardise(X: np.ndarray, standardize: bool) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    if not standardize:
        return X
    sd = X.std(axis=0)
    return (X - X.mean(axis=0)) / np.where(sd > 0, sd, 1.0)


def _knn(Z: np.ndarray, k: int) -> np.ndarray:
    from sklearn.neighbors import NearestNeighbors

    return NearestNeighbors(n_neighbors=k + 1).fit(Z).kneighbors(Z, return_distance=False)[:, 1:]


def neighbour_preservation(
    X: np.ndarray, coords: np.ndarray, *, k: int = 10, standardize: bool = True, seed: int = 0,
) -> dict[str, Any]:
    """Trustworthiness and the fraction of true k-NN kept by a projection.

    Parameters
    ----------
    X : np.ndarray [shape=(n_points, n_features)]
        The full feature space.
    coords : np.ndarray [shape=(n_points, n_dims)]
        The projection of the same points.
    k : int
        Neighbours (lowered so that ``k < n_points / 2``, as trustworthiness needs).
    standardize : bool
        Standardise ``X`` first (as the separability figures do).
    seed : int
        Draws the sample when there are more than :data:`MAX_POINTS` points.

    Returns
    -------
    dict
        ``k`` (used), ``n_points`` (measured), ``sampled`` (bool), ``trustworthiness``
        (``sklearn.manifold.trustworthiness``, 0..1), ``knn_kept`` (mean fraction of each
        point's k nearest neighbours in the full space that are among its k nearest in the
        projection, 0..1) and ``knn_kept_chance`` (``k / (n_points - 1)``, what a random
        projection keeps).
    """
    from sklearn.manifold import trustworthiness

    X = np.asarray(X, dtype=np.float64)
    coords = np.asarray(coords, dtype=np.float64)
    if X.ndim != 2 or coords.ndim != 2 or len(X) != len(coords):
        raise ParameterError(f"X {X.shape} and coords {coords.shape} must be 2-D with one row per point each")
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ParameterError(f"k must be a positive integer, got {k!r}")
    n = len(X)
    if n < 5:
        raise ParameterError(f"need at least 5 points to measure neighbourhoods, got {n}")
    sampled = n > MAX_POINTS
    if sampled:
        keep = np.sort(np.random.default_rng(seed).choice(n, size=MAX_POINTS, replace=False))
        X, coords, n = X[keep], coords[keep], MAX_POINTS
    k = int(min(k, (n - 1) // 2))
    Z = _standardise(X, standardize)
    full, proj = _knn(Z, k), _knn(coords, k)
    kept = float(np.mean([len(set(a) & set(b)) / k for a, b in zip(full.tolist(), proj.tolist())]))
    return {
        "k": k, "n_points": int(n), "sampled": bool(sampled),
        "trustworthiness": round(float(trustworthiness(Z, coords, n_neighbors=k)), 4),
        "knn_kept": round(kept, 4), "knn_kept_chance": round(k / (n - 1), 4),
    }


def point_neighbours(
    X: np.ndarray, coords: np.ndarray, row: int, *, k: int = 5, standardize: bool = True,
) -> dict[str, list[dict[str, Any]]]:
    """One point's nearest neighbours in the full feature space and in the projection.

    Parameters
    ----------
    X : np.ndarray [shape=(n_points, n_features)]
    coords : np.ndarray [shape=(n_points, n_dims)]
    row : int
        The point.
    k : int
    standardize : bool

    Returns
    -------
    dict
        ``full`` and ``projection``: lists of ``{"row", "distance", "in_both"}``, nearest first
        (Euclidean distances in each space; ``in_both``: the row is a neighbour in both lists).
    """
    X = np.asarray(X, dtype=np.float64)
    coords = np.asarray(coords, dtype=np.float64)
    n = len(X)
    if isinstance(row, bool) or not isinstance(row, (int, np.integer)) or not 0 <= row < n:
        raise ParameterError(f"row must be an integer in 0..{n - 1}, got {row!r}")
    k = int(min(max(1, k), n - 1))
    Z = _standardise(X, standardize)
    out: dict[str, list[dict[str, Any]]] = {}
    lists = {}
    for name, S in (("full", Z), ("projection", coords)):
        d = np.sqrt(((S - S[row]) ** 2).sum(axis=1))
        d[row] = np.inf
        order = np.argsort(d, kind="stable")[:k]
        lists[name] = [(int(i), float(d[i])) for i in order]
    both = {i for i, _ in lists["full"]} & {i for i, _ in lists["projection"]}
    for name, items in lists.items():
        out[name] = [{"row": i, "distance": round(dist, 6), "in_both": i in both} for i, dist in items]
    return out
