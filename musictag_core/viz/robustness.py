"""Figures of the robustness report and of occlusion saliency (pure plotly; data in, ``go.Figure`` out).

* :func:`stability_figure`: a track's top-genre scores under each perturbation.
* :func:`robustness_curve_figure`: a run's test metric under each perturbation.
* :func:`saliency_figure`: the model's mel input with the saliency of a tag on top.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from ..errors import ParameterError
from ._checks import as_finite_array, pool_columns

__all__ = ["robustness_curve_figure", "saliency_figure", "stability_figure"]

_KIND_NAMES = {"pitch_shift": "pitch (semitones)", "time_stretch": "tempo (rate)", "gain": "gain (dB)", "noise": "noise (dB SNR)"}


def _label(kind: str, value: float) -> str:
    if kind == "pitch_shift":
        return f"{value:+g} st"
    if kind == "time_stretch":
        return f"{value:g}x"
    if kind == "gain":
        return f"{value:+g} dB"
    return f"{value:g} dB SNR"


def stability_figure(report: dict, *, genres: Sequence[str], top_k: int = 3, height: int = 320) -> go.Figure:
    """Scores of the unperturbed top genres under each perturbation.

    Parameters
    ----------
    report : dict
        ``RobustnessReport.to_dict()``: ``base`` and ``perturbations`` with ``[{label, score}]``.
    genres : sequence of str
        The model's genre labels (the lines drawn are the ``top_k`` best of them unperturbed).
    top_k : int
    height : int

    Returns
    -------
    go.Figure
        One line per genre over the perturbations (x: perturbation), the unperturbed
        score as a dotted line of the same colour.
    """
    if not isinstance(report, dict) or "base" not in report or "perturbations" not in report:
        raise ParameterError("report must be a robustness report dict with 'base' and 'perturbations'")
    keep = set(genres) or {d["label"] for d in report["base"]}
    base = [d for d in report["base"] if d["label"] in keep][:top_k]
    x = [_label(p["kind"], p["value"]) for p in report["perturbations"]]
    fig = go.Figure()
    palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd"]
    for i, d in enumerate(base):
        colour = palette[i % len(palette)]
        ys = [next(s["score"] for s in p["scores"] if s["label"] == d["label"]) for p in report["perturbations"]]
        fig.add_trace(go.Scatter(x=x, y=ys, mode="lines+markers", name=d["label"], line=dict(color=colour)))
        fig.add_hline(y=d["score"], line=dict(color=colour, dash="dot", width=1))
    changed = [xi for xi, p in zip(x, report["perturbations"]) if p["top_changed"]]
    for xi in changed:
        fig.add_vline(x=x.index(xi), line=dict(color="red", width=1, dash="dash"))
    fig.update_layout(
        height=height, margin=dict(l=50, r=20, t=30, b=60), yaxis_title="track score",
        xaxis_title="perturbation (dotted: unperturbed score; red dashes: the top genre changed)",
        legend=dict(orientation="h", y=1.1),
    )
    return fig


def robustness_curve_figure(result: dict, *, height: int = 320) -> go.Figure:
    """A run's test metric under each perturbation (``robustness_run``'s result), one panel per kind.

    Returns
    -------
    go.Figure
        Lines over the perturbation values of each kind, with the unperturbed value
        (at pitch 0, rate 1, gain 0) and a dotted line at the unperturbed metric.
    """
    if not isinstance(result, dict) or "curve" not in result:
        raise ParameterError("result must be a robustness_run() result with a 'curve'")
    from plotly.subplots import make_subplots

    kinds = [k for k in _KIND_NAMES if any(c["kind"] == k for c in result["curve"])]
    fig = make_subplots(rows=1, cols=len(kinds), subplot_titles=[_KIND_NAMES[k] for k in kinds], shared_yaxes=True)
    base = result.get("base")
    neutral = {"pitch_shift": 0.0, "time_stretch": 1.0, "gain": 0.0}
    for col, kind in enumerate(kinds, start=1):
        pts = sorted((c["value"], c["metric"]) for c in result["curve"] if c["kind"] == kind and c["metric"] is not None)
        if kind in neutral and base is not None:
            pts = sorted([*pts, (neutral[kind], base)])
        fig.add_trace(
            go.Scatter(x=[p[0] for p in pts], y=[p[1] for p in pts], mode="lines+markers", name=_KIND_NAMES[kind],
                       showlegend=False),
            row=1, col=col,
        )
        if base is not None:
            fig.add_hline(y=base, line=dict(dash="dot", color="grey"), row=1, col=col)
    fig.update_yaxes(title_text=str(result.get("metric") or "metric"), row=1, col=1)
    fig.update_layout(height=height, margin=dict(l=50, r=20, t=40, b=40))
    return fig


def saliency_figure(
    mel: np.ndarray,
    *,
    mel_times_s: np.ndarray,
    saliency: np.ndarray,
    times_s: np.ndarray,
    cell_s: float,
    band_bins: np.ndarray,
    bands_hz: np.ndarray,
    title: str | None = None,
    max_frames: int = 1500,
    height: int = 340,
) -> go.Figure:
    """The model's mel input (grey) with the occlusion saliency of a tag (red, positive drops) on top.

    Parameters
    ----------
    mel : np.ndarray [shape=(n_mels, n_frames)]
    mel_times_s : np.ndarray [shape=(n_frames,)]
    saliency : np.ndarray [shape=(n_groups, n_cells)]
    times_s : np.ndarray [shape=(n_cells,)]
        Start of every time cell.
    cell_s : float
    band_bins : np.ndarray [shape=(n_groups + 1,)]
        Band-group edges in rows of ``mel``.
    bands_hz : np.ndarray [shape=(n_groups + 1,)]
        The same edges in Hz (tick labels).

    Returns
    -------
    go.Figure
        Two heatmaps on one axis (time in seconds, mel band index with Hz labels at the group edges).
    """
    M = as_finite_array("mel", mel, ndim=2)
    S = as_finite_array("saliency", saliency, ndim=2)
    t = np.asarray(mel_times_s, dtype=np.float64)
    cells = np.asarray(times_s, dtype=np.float64)
    bins = np.asarray(band_bins, dtype=np.float64)
    if len(t) != M.shape[1] or len(cells) != S.shape[1] or len(bins) != S.shape[0] + 1:
        raise ParameterError(
            f"shapes do not line up: mel {M.shape}, mel_times_s {t.shape}, saliency {S.shape}, times_s {cells.shape}, band_bins {bins.shape}"
        )
    pooled, centres = pool_columns(M, max_frames)
    x_mel = np.interp(centres, np.arange(M.shape[1]), t) if len(t) > 1 else t
    fig = go.Figure()
    fig.add_trace(go.Heatmap(z=pooled, x=x_mel, y=np.arange(M.shape[0]), colorscale="Greys", reversescale=True,
                             showscale=False, hoverinfo="skip", name="mel"))
    peak = float(S.max()) if S.size and S.max() > 0 else 1.0
    x_edges = np.append(cells, cells[-1] + float(cell_s))
    fig.add_trace(go.Heatmap(
        z=np.clip(S, 0, None), x=x_edges, y=bins - 0.5, zmin=0, zmax=peak, name="saliency",
        colorscale=[[0, "rgba(220,30,30,0)"], [1, "rgba(220,30,30,0.85)"]],
        colorbar=dict(title="score lost"), xgap=0, ygap=0,
        customdata=np.repeat(S[:, :, None], 1, axis=2),
        hovertemplate="%{x:.2f} s<br>score lost when masked: %{customdata[0]:.4f}<extra></extra>",
    ))
    fig.update_layout(
        title=title, height=height, margin=dict(l=60, r=20, t=40 if title else 20, b=45),
        xaxis_title="time (s)", yaxis_title="Hz",
        yaxis=dict(tickvals=list(bins - 0.5), ticktext=[f"{hz:.0f}" for hz in bands_hz]),
    )
    return fig
