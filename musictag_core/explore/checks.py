"""Input checks and the progress callback type shared by the Explore modules."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ParameterError

__all__ = ["ProgressCallback", "check_labels", "check_matrix"]

#: ``progress(fraction, message)``: fraction in [0, 1], message in words.
ProgressCallback = Callable[[float, str], None]


def check_matrix(X: Any, *, name: str = "X", min_rows: int = 2) -> np.ndarray:
    """Return ``X`` as a finite 2-D float64 array.

    Parameters
    ----------
    X : array-like [shape=(n_points, n_features)]
    name : str
        Quoted in errors.
    min_rows : int
        Fewest points accepted.

    Returns
    -------
    np.ndarray [shape=(n_points, n_features)], float64

    Raises
    ------
    ParameterError
        Not numeric, not 2-D, too small, or holding NaN / infinite values.
    """
    try:
        arr = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"{name} must be a numeric matrix: {exc}") from None
    if arr.ndim != 2:
        raise ParameterError(f"{name} must be 2-D (points x features), got shape {arr.shape}")
    if arr.shape[0] < min_rows or arr.shape[1] < 1:
        raise ParameterError(
            f"{name} has shape {arr.shape}; need at least {min_rows} points and 1 feature"
        )
    bad = ~np.isfinite(arr)
    if bad.any():
        rows = np.flatnonzero(bad.any(axis=1))
        cols = np.flatnonzero(bad.any(axis=0))
        raise ParameterError(
            f"{name} contains NaN or infinite values in {len(rows)} row(s) (first {rows[:5].tolist()}) "
            f"and column(s) {cols[:10].tolist()}; drop or impute them first"
        )
    return arr


def check_labels(labels: Any, n: int, *, min_classes: int = 2) -> np.ndarray:
    """Return ``labels`` as a 1-D array of strings, one per point.

    Parameters
    ----------
    labels : array-like [shape=(n,)]
    n : int
        Number of points.
    min_classes : int
        Fewest different labels accepted.

    Returns
    -------
    np.ndarray [shape=(n,)], str

    Raises
    ------
    ParameterError
        Wrong shape, missing values, or too few different labels.
    """
    lab = np.asarray(labels, dtype=object)
    if lab.ndim != 1 or len(lab) != n:
        raise ParameterError(f"labels must be 1-D with one entry per point ({n}), got shape {lab.shape}")
    if pd.isna(lab).any():
        raise ParameterError(f"labels contain {int(pd.isna(lab).sum())} missing value(s); drop those points")
    lab = lab.astype(str)
    n_classes = len(np.unique(lab))
    if n_classes < min_classes:
        raise ParameterError(
            f"need at least {min_classes} different labels, got {n_classes} ({np.unique(lab).tolist()})"
        )
    return lab
