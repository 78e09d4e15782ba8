"""Figures of the signal: waveform envelope, log-mel spectrogram, MFCC.

Every time axis is in seconds. Long inputs are reduced before plotting (a
min/max envelope of about 2,000 points for the waveform, column averaging to
about 1,000 time columns for the spectrograms), so a ten-minute track costs the
browser no more than a short clip. With ``image=True`` a spectrogram is sent as
one colour-mapped PNG (tens of kB) instead of a heatmap of numbers (megabytes
of plotly JSON); arrays go out as float32.
"""

from __future__ import annotations

import io

import numpy as np
import plotly.graph_objects as go

from ..errors import ParameterError
from ._checks import as_finite_array, check_positive_int, check_rate, pool_columns, safe_colorscale

__all__ = ["mel_figure", "mfcc_figure", "spectrogram_png", "waveform_figure"]

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
    max_points: int = 2000,
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
        t = t.astype(np.float32)
        fig.add_trace(go.Scatter(x=t, y=y.astype(np.float32), mode="lines", name="waveform", line=dict(width=1)))
    else:
        n_bins = max_points // 2
        edges = np.linspace(0, n, n_bins + 1).astype(np.int64)
        lo = np.minimum.reduceat(y, edges[:-1])
        hi = np.maximum.reduceat(y, edges[:-1])
        t = ((edges[:-1] + edges[1:]) / 2.0 / sr).astype(np.float32)
        lo, hi = lo.astype(np.float32), hi.astype(np.float32)
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


def _palette(colorscale: list[list], levels: int) -> bytes:
    """``levels`` RGB triplets sampled evenly along a plotly colour scale (a PNG palette)."""
    from plotly.colors import sample_colorscale, unlabel_rgb

    colors = sample_colorscale(colorscale, list(np.linspace(0.0, 1.0, levels)), colortype="rgb")
    return bytes(int(round(c)) for color in colors for c in unlabel_rgb(color))


def spectrogram_png(
    Z: np.ndarray, *, colorscale: str | list = "Magma", zmin: float, zmax: float, levels: int = 64
) -> bytes:
    """Colour-map a matrix into an 8-bit palette PNG, its first row at the bottom.

    Parameters
    ----------
    Z : np.ndarray [shape=(n_rows, n_cols)]
        Values (e.g. a pooled log-mel spectrogram); row 0 is drawn at the bottom.
    colorscale : str or list
        A plotly colour scale name or explicit stops.
    zmin, zmax : float
        Values mapped to the ends of the colour scale (clipped outside), ``zmin < zmax``.
    levels : int in 2..256
        Colours used. 64 steps over a spectrogram's 80 dB are 1.3 dB each, finer
        than the eye separates, and compress to about 60 kB for 96 x 1000 (256: 80 kB).

    Returns
    -------
    bytes
        A palette PNG of ``n_cols`` x ``n_rows`` pixels.
    """
    from PIL import Image

    Z = as_finite_array("Z", Z, ndim=2)
    if not zmin < zmax:
        raise ParameterError(f"need zmin < zmax, got zmin={zmin!r}, zmax={zmax!r}")
    scale = safe_colorscale(colorscale) if isinstance(colorscale, str) else colorscale
    if isinstance(levels, bool) or not isinstance(levels, (int, np.integer)) or not 2 <= levels <= 256:
        raise ParameterError(f"levels must be an integer from 2 to 256, got {levels!r}")
    top = int(levels) - 1
    idx = np.clip(np.rint((Z - zmin) * (top / (zmax - zmin))), 0, top).astype(np.uint8)
    img = Image.fromarray(np.ascontiguousarray(idx[::-1]), mode="P")
    img.putpalette(_palette(scale, int(levels)))
    buf = io.BytesIO()
    img.save(buf, format="PNG", compress_level=9)
    return buf.getvalue()


def _image_figure(
    Z: np.ndarray,
    *,
    duration: float,
    colorscale: list,
    zmin: float,
    zmax: float,
    colorbar_title: str | None,
    hover_y: str,
) -> go.Figure:
    """A spectrogram as one PNG layer over ``[0, duration]`` x ``[-0.5, n_rows - 0.5]``, with a colour bar.

    The layer carries no numbers; an invisible trace spans the axes, holds the colour
    bar and gives a time read-out on hover.
    """
    import base64

    n_rows = Z.shape[0]
    png = spectrogram_png(Z, colorscale=colorscale, zmin=zmin, zmax=zmax)
    source = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
    n_hover = 200
    fig = go.Figure(
        go.Scatter(
            x=np.linspace(0.0, duration, n_hover, dtype=np.float32),
            y=np.full(n_hover, (n_rows - 1) / 2.0, dtype=np.float32),
            mode="markers",
            marker=dict(
                size=1,
                opacity=0,
                color=np.linspace(zmin, zmax, n_hover, dtype=np.float32),
                colorscale=colorscale,
                cmin=zmin,
                cmax=zmax,
                showscale=colorbar_title is not None,
                colorbar=dict(title=dict(text=colorbar_title or "")),
            ),
            hovertemplate="%{x:.2f} s<extra></extra>",
            name=hover_y,
            showlegend=False,
        )
    )
    fig.add_layout_image(
        source=source,
        xref="x",
        yref="y",
        x=0.0,
        y=n_rows - 0.5,
        sizex=duration,
        sizey=float(n_rows),
        xanchor="left",
        yanchor="top",
        sizing="stretch",
        layer="below",
    )
    fig.update_layout(plot_bgcolor="rgba(0,0,0,0)")
    fig.update_xaxes(showgrid=False, zeroline=False)
    fig.update_yaxes(showgrid=False, zeroline=False)
    return fig


def mel_figure(
    S_db: np.ndarray,
    *,
    sr: float,
    hop_length: int,
    fmin: float = 0.0,
    fmax: float | None = None,
    max_frames: int = 1000,
    title: str | None = "Log-mel spectrogram",
    colorbar_title: str = "dB",
    height: int = 320,
    image: bool = False,
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
    image : bool
        Draw the spectrogram as one colour-mapped PNG (tens of kB, no per-cell hover
        values) instead of a ``Heatmap`` of numbers (megabytes of JSON for a long track).

    Returns
    -------
    go.Figure
        One ``Heatmap`` (or, with ``image=True``, a PNG layout image and an invisible
        ``Scatter`` holding the colour bar); x are frame times in seconds (axis
        ``[0, n_frames * hop_length / sr]``), y are mel band indices whose tick labels
        give the band frequency in Hz.
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
    if image:
        fig = _image_figure(
            pooled, duration=duration, colorscale=safe_colorscale("Magma"),
            zmin=float(pooled.min()), zmax=float(max(pooled.max(), pooled.min() + 1e-6)),
            colorbar_title=colorbar_title, hover_y="mel",
        )
        fig.update_xaxes(range=[0.0, duration])
        fig.update_yaxes(tickvals=tickvals, ticktext=ticktext, range=[-0.5, n_mels - 0.5])
        return _layout(fig, title=title, height=height, yaxis_title="frequency (Hz, mel scale)")
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
    max_frames: int = 1000,
    title: str | None = "MFCC",
    height: int = 260,
    image: bool = False,
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
    image : bool
        Draw the coefficients as one colour-mapped PNG instead of a ``Heatmap`` (see
        :func:`mel_figure`).

    Returns
    -------
    go.Figure
        One ``Heatmap`` (or a PNG layout image, see :func:`mel_figure`) with a diverging colour scale centred on 0; x are frame
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
    if image:
        from plotly.colors import get_colorscale

        fig = _image_figure(
            pooled, duration=duration, colorscale=[list(c) for c in get_colorscale("RdBu_r")],
            zmin=-lim, zmax=lim, colorbar_title=None, hover_y="mfcc",
        )
        fig.update_xaxes(range=[0.0, duration])
        fig.update_yaxes(range=[-0.5, n_mfcc - 0.5])
        return _layout(fig, title=title, height=height, yaxis_title="coefficient")
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
