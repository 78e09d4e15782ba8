"""Figures of the signal: waveform envelope, log-mel spectrogram, MFCC.

Every time axis is in seconds. Long inputs are reduced before plotting (a
min/max envelope for the waveform, column averaging for the spectrograms), so
a ten-minute track costs the browser no more than a short clip.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from ..errors import ParameterError
from ._checks import as_finite_array, check_positive_int, check_rate, pool_columns, safe_colorscale

__all__ = ["mel_figure", "mfcc_figure", "waveform_figure"]

_MARGIN = dict(l=60, r=20, t=40, b=45)
_HZ_TICKS = (0, 500, 1000, 2000, 4000, 8000, 16000, 32000)


def _layout(fig: go.Figure, *, title: str | None, height: int, yaxis_title: str) -> go.Figure:
    fig.update_layout(
        title=title,
        height=height,
        margin=_MARGIN,
        xaxis_title="time (s)",
        yaxis_title=yaxis_title,
    )
    return fig


def waveform_figure(
    y: np.ndarray,
    *,
    sr: float,
    max_points: int = 4000,
    title: str | None = "Waveform",
    height: int = 220,
) -> go.Figure:
    """Plot a waveform against time, as a min/max envelope when it is long.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]
        Mono audio samples.
    sr : number > 0
        Sample rate of ``y`` in Hz.
    max_points : int >= 2
        Most points drawn in all. If ``n`` is larger, the signal is cut into
        ``max_points // 2`` equal bins and the minimum and maximum of each bin
        are drawn as two lines with the area between them filled.
    title : str or None
    height : int
        Figure height in pixels.

    Returns
    -------
    go.Figure
        One ``Scatter`` trace ("waveform") for short signals, or two
        (``"max"`` then ``"min"``, filled between) for the envelope. The x axis
        spans ``[0, n / sr]`` seconds.
    """
    y = as_finite_array("y", y, ndim=1)
    sr = check_rate("sr", sr)
    max_points = check_positive_int("max_points", max_points)
    if max_points < 2:
        raise ParameterError(f"max_points must be at least 2, got {max_points}")
    n = y.shape[0]
    duration = n / sr
    fig = go.Figure()
    if n <= max_points:
        t = np.arange(n) / sr
        fig.add_trace(go.Scatter(x=t, y=y, mode="lines", name="waveform", line=dict(width=1)))
    else:
        n_bins = max_points // 2
        edges = np.linspace(0, n, n_bins + 1).astype(np.int64)
        lo = np.minimum.reduceat(y, edges[:-1])
        hi = np.maximum.reduceat(y, edges[:-1])
        t = (edges[:-1] + edges[1:]) / 2.0 / sr
        color = "#1f77b4"
        fig.add_trace(
            go.Scatter(x=t, y=hi, mode="lines", name="max", line=dict(width=0.8, color=color))
        )
        fig.add_trace(
            go.Scatter(
                x=t,
                y=lo,
                mode="lines",
                name="min",
                fill="tonexty",
                line=dict(width=0.8, color=color),
                fillcolor="rgba(31,119,180,0.5)",
            )
        )
    peak = float(np.max(np.abs(y))) or 1.0
    fig.update_xaxes(range=[0.0, duration])
    fig.update_yaxes(range=[-1.05 * peak, 1.05 * peak])
    fig.update_layout(showlegend=False, hovermode="x")
    return _layout(fig, title=title, height=height, yaxis_title="amplitude")


def _frame_times(n_frames: int, *, sr: float, hop_length: int, max_frames: int, S: np.ndarray):
    pooled, centers = pool_columns(S, max_frames)
    return pooled, centers * hop_length / sr, n_frames * hop_length / sr


def mel_figure(
    S_db: np.ndarray,
    *,
    sr: float,
    hop_length: int,
    fmin: float = 0.0,
    fmax: float | None = None,
    max_frames: int = 2000,
    title: str | None = "Log-mel spectrogram",
    colorbar_title: str = "dB",
    height: int = 320,
) -> go.Figure:
    """Plot a log-mel spectrogram as a heatmap over time (s) and mel bands.

    Parameters
    ----------
    S_db : np.ndarray [shape=(n_mels, n_frames)]
        Log-scaled mel spectrogram (e.g. ``librosa.power_to_db`` of a mel power spectrogram).
    sr : number > 0
        Sample rate of the audio it came from, in Hz.
    hop_length : int > 0
        Samples between frames.
    fmin, fmax : float
        Frequency range the mel filters cover (``fmax`` defaults to ``sr / 2``),
        used to label the vertical axis in Hz.
    max_frames : int
        Adjacent frames are averaged so at most this many columns are drawn.
    title, colorbar_title : str
    height : int

    Returns
    -------
    go.Figure
        One ``Heatmap``; x are frame times in seconds (axis ``[0, n_frames * hop_length / sr]``),
        y are mel band indices whose tick labels give the band frequency in Hz.
    """
    S = as_finite_array("S_db", S_db, ndim=2)
    sr = check_rate("sr", sr)
    hop_length = check_positive_int("hop_length", hop_length)
    max_frames = check_positive_int("max_frames", max_frames)
    fmax = sr / 2 if fmax is None else check_rate("fmax", fmax)
    if not 0 <= fmin < fmax:
        raise ParameterError(f"need 0 <= fmin < fmax, got fmin={fmin!r}, fmax={fmax!r}")
    import librosa

    n_mels, n_frames = S.shape
    pooled, t, duration = _frame_times(n_frames, sr=sr, hop_length=hop_length, max_frames=max_frames, S=S)
    freqs = librosa.mel_frequencies(n_mels=n_mels, fmin=fmin, fmax=fmax)
    bands = np.arange(n_mels)
    tick_hz = [hz for hz in _HZ_TICKS if freqs[0] <= hz <= freqs[-1]]
    tickvals = np.interp(tick_hz, freqs, bands)
    ticktext = [f"{hz // 1000}k" if hz >= 1000 else str(hz) for hz in tick_hz]
    hz_grid = np.repeat(freqs[:, None], pooled.shape[1], axis=1)
    fig = go.Figure(
        go.Heatmap(
            z=pooled,
            x=t,
            y=bands,
            customdata=hz_grid,
            colorscale=safe_colorscale("Magma"),
            colorbar=dict(title=dict(text=colorbar_title)),
            hovertemplate="%{x:.2f} s<br>%{customdata:.0f} Hz<br>%{z:.1f}<extra></extra>",
            name="mel",
        )
    )
    fig.update_xaxes(range=[0.0, duration])
    fig.update_yaxes(tickvals=tickvals, ticktext=ticktext, range=[-0.5, n_mels - 0.5])
    return _layout(fig, title=title, height=height, yaxis_title="frequency (Hz, mel scale)")


def mfcc_figure(
    M: np.ndarray,
    *,
    sr: float,
    hop_length: int,
    max_frames: int = 2000,
    title: str | None = "MFCC",
    height: int = 260,
) -> go.Figure:
    """Plot MFCCs as a heatmap over time (s) and coefficient index.

    Parameters
    ----------
    M : np.ndarray [shape=(n_mfcc, n_frames)]
    sr : number > 0
    hop_length : int > 0
    max_frames : int
        Adjacent frames are averaged so at most this many columns are drawn.
    title : str or None
    height : int

    Returns
    -------
    go.Figure
        One ``Heatmap`` with a diverging colour scale centred on 0; x are frame
        times in seconds (axis ``[0, n_frames * hop_length / sr]``), y the
        coefficient index ``0 .. n_mfcc - 1``.
    """
    M = as_finite_array("M", M, ndim=2)
    sr = check_rate("sr", sr)
    hop_length = check_positive_int("hop_length", hop_length)
    max_frames = check_positive_int("max_frames", max_frames)
    n_mfcc, n_frames = M.shape
    pooled, t, duration = _frame_times(n_frames, sr=sr, hop_length=hop_length, max_frames=max_frames, S=M)
    # Coefficient 0 (loudness) dwarfs the others: scale colours on the 99th
    # percentile of |coefficients 1..| so their structure stays visible.
    body = pooled[1:] if n_mfcc > 1 else pooled
    lim = float(np.percentile(np.abs(body), 99)) or 1.0
    fig = go.Figure(
        go.Heatmap(
            z=pooled,
            x=t,
            y=np.arange(n_mfcc),
            colorscale="RdBu_r",
            zmin=-lim,
            zmax=lim,
            hovertemplate="%{x:.2f} s<br>MFCC %{y}<br>%{z:.1f}<extra></extra>",
            name="mfcc",
        )
    )
    fig.update_xaxes(range=[0.0, duration])
    fig.update_yaxes(range=[-0.5, n_mfcc - 0.5])
    return _layout(fig, title=title, height=height, yaxis_title="coefficient")
