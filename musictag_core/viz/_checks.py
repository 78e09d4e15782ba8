"""Input checks and small array helpers shared by the figure builders."""

from __future__ import annotations

import math

import numpy as np

from ..errors import ParameterError

__all__ = ["as_finite_array", "check_positive_int", "check_rate", "pool_columns", "safe_colorscale"]


def safe_colorscale(name: str) -> list[list]:
    """A plotly named colour scale as explicit stops, with near-black ``#0000xx`` colours nudged.

    Streamlit's plotly theme uses ``#000001`` ... ``#0000ff``-style colours as
    placeholders that its front end swaps for theme colours, so a scale that
    starts at Magma's ``#000004`` would be drawn with a wrong first colour in the
    app. Those colours become ``#0100xx``, which looks the same.
    """
    from plotly.colors import get_colorscale

    stops = []
    for pos, color in get_colorscale(name):
        if isinstance(color, str) and color.lower().startswith("#0000") and len(color) == 7:
            color = "#01" + color[3:]
        stops.append([pos, color])
    return stops


def as_finite_array(name: str, x, *, ndim: int) -> np.ndarray:
    """Return ``x`` as a float array of ``ndim`` dimensions with only finite values.

    Raises
    ------
    ParameterError
        If ``x`` has another number of dimensions, is empty or holds NaN/inf.
    """
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        raise ParameterError(f"{name} must be a numeric array, got {type(x).__name__}") from None
    if arr.ndim != ndim:
        raise ParameterError(f"{name} must have {ndim} dimension(s), got shape {arr.shape}")
    if arr.size == 0:
        raise ParameterError(f"{name} is empty (shape {arr.shape}); nothing to plot")
    if not np.all(np.isfinite(arr)):
        bad = int(np.count_nonzero(~np.isfinite(arr)))
        raise ParameterError(f"{name} contains {bad} NaN or infinite value(s)")
    return arr


def check_positive_int(name: str, value) -> int:
    """Raise :class:`ParameterError` unless ``value`` is an int >= 1."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ParameterError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def check_rate(name: str, value) -> float:
    """Raise :class:`ParameterError` unless ``value`` is a positive finite number."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ParameterError(f"{name} must be a number, got {value!r}")
    if not math.isfinite(value) or value <= 0:
        raise ParameterError(f"{name} must be a positive finite number, got {value!r}")
    return float(value)


def pool_columns(S: np.ndarray, max_columns: int) -> tuple[np.ndarray, np.ndarray]:
    """Average groups of adjacent columns so that at most ``max_columns`` remain.

    Parameters
    ----------
    S : np.ndarray [shape=(n_rows, n_cols)]
    max_columns : int

    Returns
    -------
    pooled : np.ndarray [shape=(n_rows, m)], ``m <= max_columns``
    centers : np.ndarray [shape=(m,)]
        Fractional index of each pooled column's centre in the original columns.
    """
    n = S.shape[1]
    step = max(1, math.ceil(n / max_columns))
    if step == 1:
        return S, np.arange(n, dtype=np.float64)
    m = math.ceil(n / step)
    pad = m * step - n
    if pad:  # repeat the last column; it only affects the final group's mean
        S = np.concatenate([S, np.repeat(S[:, -1:], pad, axis=1)], axis=1)
    pooled = S.reshape(S.shape[0], m, step).mean(axis=2)
    starts = np.arange(m, dtype=np.float64) * step
    ends = np.minimum(starts + step, n)
    return pooled, (starts + ends - 1) / 2.0
