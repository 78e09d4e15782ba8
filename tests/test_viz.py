"""Tests for musictag_core.viz: figure contents on real computed arrays."""

from __future__ import annotations

import re

import librosa
import numpy as np
import plotly.graph_objects as go
import pytest

from musictag_core.audio import load_audio
from musictag_core.errors import ParameterError
from musictag_core.viz import (
    genre_bar_figure,
    mel_figure,
    mfcc_figure,
    taggram_figure,
    waveform_figure,
)
from musictag_core.viz.tags import ABOVE_COLOR, BELOW_COLOR

SR = 22050
HOP = 512


@pytest.fixture(scope="module")
def clip(clips_dir):
    """First 5 s of a real GTZAN clip at 22050 Hz."""
    y, sr = load_audio(clips_dir / "blues.00000.wav", sr=SR, duration=5.0)
    return y, sr


@pytest.fixture(scope="module")
def mel_db(clip):
    y, sr = clip
    S = librosa.feature.melspectrogram(y=y, sr=sr, n_fft=2048, hop_length=HOP, n_mels=128)
    return librosa.power_to_db(S, ref=np.max)


def _x_range(fig: go.Figure) -> tuple[float, float]:
    lo, hi = fig.layout.xaxis.range
    return float(lo), float(hi)


# -- waveform ---------------------------------------------------------------


def test_waveform_long_signal_is_min_max_envelope(clip):
    y, sr = clip
    fig = waveform_figure(y, sr=sr, max_points=4000)
    assert [t.name for t in fig.data] == ["max", "min"]
    hi, lo = (np.asarray(t.y) for t in fig.data)
    assert len(hi) + len(lo) <= 4000
    assert np.all(hi >= lo)
    # The envelope keeps the true extremes of the signal.
    assert hi.max() == pytest.approx(float(y.max()))
    assert lo.min() == pytest.approx(float(y.min()))
    assert fig.data[1].fill == "tonexty"
    assert _x_range(fig) == pytest.approx((0.0, y.size / sr))
    assert _x_range(fig)[1] == pytest.approx(5.0, abs=1e-3)
    x = np.asarray(fig.data[0].x)
    assert x.min() >= 0 and x.max() <= y.size / sr
    assert fig.layout.xaxis.title.text == "time (s)"


@pytest.mark.parametrize("max_points", [10, 500, 4000])
def test_waveform_respects_max_points(clip, max_points):
    y, sr = clip
    fig = waveform_figure(y, sr=sr, max_points=max_points)
    assert sum(len(t.y) for t in fig.data) <= max_points


def test_waveform_short_signal_is_drawn_sample_by_sample(clip):
    y, sr = clip
    short = y[:1000]
    fig = waveform_figure(short, sr=sr, max_points=4000)
    assert len(fig.data) == 1
    np.testing.assert_allclose(fig.data[0].y, short, rtol=1e-6)
    assert fig.data[0].x[-1] == pytest.approx(999 / sr)
    assert _x_range(fig) == pytest.approx((0.0, 1000 / sr))


@pytest.mark.parametrize(
    "bad, kwargs",
    [
        (np.zeros((2, 10), np.float32), {"sr": SR}),
        (np.array([0.0, np.nan, 0.1]), {"sr": SR}),
        (np.zeros(0), {"sr": SR}),
        (np.zeros(10), {"sr": 0}),
        (np.zeros(10), {"sr": SR, "max_points": 1}),
    ],
)
def test_waveform_rejects_bad_input(bad, kwargs):
    with pytest.raises(ParameterError):
        waveform_figure(bad, **kwargs)


# -- mel / mfcc -------------------------------------------------------------


def test_mel_figure_time_axis_in_seconds_and_hz_ticks(mel_db, clip):
    y, sr = clip
    fig = mel_figure(mel_db, sr=sr, hop_length=HOP)
    (hm,) = fig.data
    assert hm.type == "heatmap"
    assert np.asarray(hm.z).shape == mel_db.shape
    lo, hi = _x_range(fig)
    assert lo == 0.0
    assert hi == pytest.approx(mel_db.shape[1] * HOP / sr)
    assert abs(hi - y.size / sr) <= HOP / sr  # the axis spans the clip to within one hop
    assert np.asarray(hm.x)[-1] <= hi
    ticks = list(fig.layout.yaxis.ticktext)
    assert ticks[0] == "0" and "1k" in ticks and "8k" in ticks
    vals = np.asarray(fig.layout.yaxis.tickvals)
    assert np.all(np.diff(vals) > 0) and vals[-1] <= mel_db.shape[0] - 1
    # 1 kHz sits around band 40 of 128 on the mel scale (linear would put it near 12).
    assert 30 < vals[ticks.index("1k")] < 50


def test_mel_figure_pools_long_spectrograms(mel_db, clip):
    _, sr = clip
    fig = mel_figure(mel_db, sr=sr, hop_length=HOP, max_frames=50)
    z = np.asarray(fig.data[0].z)
    assert z.shape[0] == mel_db.shape[0] and z.shape[1] <= 50
    # Column means are preserved by average pooling (up to the padded last group).
    assert z.mean() == pytest.approx(mel_db.mean(), abs=1.0)
    assert _x_range(fig)[1] == pytest.approx(mel_db.shape[1] * HOP / sr)
    assert np.asarray(fig.data[0].x).max() < _x_range(fig)[1]


def _colors(colorscale) -> list[str]:
    return [str(c).lower() for _, c in colorscale]


def test_heatmap_colours_avoid_streamlit_placeholder_colours(mel_db, clip, segment_scores):
    # Streamlit's front end swaps #0000xx colours for theme colours; Magma starts at #000004.
    _, sr = clip
    starts, S, labels = segment_scores
    figs = [
        mel_figure(mel_db, sr=sr, hop_length=HOP),
        mfcc_figure(mel_db[:13], sr=sr, hop_length=HOP),
        taggram_figure(starts, S, labels),
    ]
    for fig in figs:
        colors = _colors(fig.data[0].colorscale)
        assert len(colors) >= 2
        assert not any(re.fullmatch(r"#0000[0-9a-f]{2}", c) for c in colors), colors
    assert _colors(figs[0].data[0].colorscale)[0] == "#010004"  # Magma's black, nudged


def test_mfcc_figure(clip):
    y, sr = clip
    M = librosa.feature.mfcc(y=y, sr=sr, n_mfcc=13, hop_length=HOP)
    fig = mfcc_figure(M, sr=sr, hop_length=HOP)
    (hm,) = fig.data
    assert hm.type == "heatmap"
    assert np.asarray(hm.z).shape == (13, M.shape[1])
    assert list(hm.y) == list(range(13))
    assert hm.zmin == pytest.approx(-hm.zmax)
    assert _x_range(fig)[1] == pytest.approx(M.shape[1] * HOP / sr)


def test_spectrogram_figures_reject_bad_input(mel_db):
    with pytest.raises(ParameterError, match="2 dimension"):
        mel_figure(mel_db[0], sr=SR, hop_length=HOP)
    with pytest.raises(ParameterError, match="hop_length"):
        mel_figure(mel_db, sr=SR, hop_length=0)
    with pytest.raises(ParameterError, match="fmin"):
        mel_figure(mel_db, sr=SR, hop_length=HOP, fmin=20000.0)
    with pytest.raises(ParameterError):
        mfcc_figure(np.full((13, 4), np.inf), sr=SR, hop_length=HOP)


# -- tag scores -------------------------------------------------------------


@pytest.fixture(scope="module")
def band_scores(mel_db):
    """Real per-'tag' scores in [0, 1]: normalised mean energy of 16 mel-band groups."""
    groups = mel_db.reshape(16, 8, -1).mean(axis=(1, 2))
    s = (groups - groups.min()) / (groups.max() - groups.min())
    return {f"band{i:02d}": float(v) for i, v in enumerate(s)}


@pytest.mark.parametrize("top_k", [1, 5, 10, None])
def test_genre_bar_figure_top_k_and_order(band_scores, top_k):
    fig = genre_bar_figure(band_scores, threshold=0.5, top_k=top_k)
    (bar,) = fig.data
    assert bar.type == "bar" and bar.orientation == "h"
    n = len(band_scores) if top_k is None else top_k
    assert len(bar.x) == len(bar.y) == n
    expected = sorted(band_scores.items(), key=lambda kv: -kv[1])[:n]
    assert list(bar.y) == [k for k, _ in expected]
    np.testing.assert_allclose(bar.x, [v for _, v in expected])
    assert fig.layout.yaxis.autorange == "reversed"  # highest on top
    assert tuple(fig.layout.xaxis.range) == (0.0, 1.0)


@pytest.mark.parametrize("threshold", [0.0, 0.3, 0.5, 0.9, 1.0])
def test_genre_bar_figure_threshold_line_and_highlight(band_scores, threshold):
    fig = genre_bar_figure(band_scores, threshold=threshold, top_k=None)
    (line,) = fig.layout.shapes
    assert line.type == "line"
    assert line.x0 == pytest.approx(threshold) and line.x1 == pytest.approx(threshold)
    (bar,) = fig.data
    colors = list(bar.marker.color)
    above = [c == ABOVE_COLOR for c in colors]
    assert above == [v >= threshold for v in bar.x]
    assert all(c in (ABOVE_COLOR, BELOW_COLOR) for c in colors)
    assert any(f"{threshold:.2f}" in a.text for a in fig.layout.annotations)


@pytest.mark.parametrize(
    "scores, kwargs",
    [
        ({}, {}),
        ({"rock": 0.5}, {"threshold": 1.5}),
        ({"rock": 0.5}, {"threshold": -0.1}),
        ({"rock": 0.5}, {"top_k": 0}),
        ({"rock": float("nan")}, {}),
    ],
)
def test_genre_bar_figure_rejects_bad_input(scores, kwargs):
    with pytest.raises(ParameterError):
        genre_bar_figure(scores, **kwargs)


# -- taggram ----------------------------------------------------------------


@pytest.fixture(scope="module")
def segment_scores(clip):
    """Real taggram-like input: 10 segments of 0.5 s, scores = normalised band energies."""
    y, sr = clip
    seg = int(0.5 * sr)
    starts = np.arange(10) * 0.5
    S = np.stack(
        [
            librosa.power_to_db(
                librosa.feature.melspectrogram(y=y[i * seg : (i + 1) * seg], sr=sr, n_mels=12)
            ).mean(axis=1)
            for i in range(10)
        ]
    )  # (10, 12)
    S = (S - S.min()) / (S.max() - S.min())
    labels = [f"tag{i}" for i in range(12)]
    return starts, S, labels


def test_taggram_figure_contents(segment_scores):
    starts, S, labels = segment_scores
    fig = taggram_figure(starts, S, labels)
    (hm,) = fig.data
    assert hm.type == "heatmap"
    z = np.asarray(hm.z)
    assert z.shape == (12, 10)
    # Rows ordered by mean score, highest first; values are the input columns.
    order = np.argsort(-S.mean(axis=0), kind="stable")
    assert list(hm.y) == [labels[i] for i in order]
    np.testing.assert_allclose(z, S[:, order].T)
    assert (hm.zmin, hm.zmax) == (0.0, 1.0)
    # Columns centred on their segments; the axis spans [0, 5] s.
    np.testing.assert_allclose(hm.x, starts + 0.25)
    assert _x_range(fig) == pytest.approx((0.0, 5.0))
    # Hover shows the segment's start and end.
    custom = np.asarray(hm.customdata)
    assert custom.shape == (12, 10, 2)
    np.testing.assert_allclose(custom[0, 3], [1.5, 2.0])
    assert "%{customdata[0]" in hm.hovertemplate and "%{z" in hm.hovertemplate


def test_taggram_figure_top_k_and_overlap(segment_scores):
    starts, S, labels = segment_scores
    fig = taggram_figure(starts, S, labels, top_k=3, segment_duration_s=1.0)
    (hm,) = fig.data
    assert np.asarray(hm.z).shape == (3, 10)
    np.testing.assert_allclose(hm.x, starts + 0.5)
    np.testing.assert_allclose(np.asarray(hm.customdata)[0, 0], [0.0, 1.0])


def test_taggram_single_segment(segment_scores):
    _, S, labels = segment_scores
    fig = taggram_figure([0.0], S[:1], labels, segment_duration_s=3.0)
    assert np.asarray(fig.data[0].z).shape == (12, 1)
    assert _x_range(fig) == pytest.approx((0.0, 3.0))


def test_taggram_rejects_bad_input(segment_scores):
    starts, S, labels = segment_scores
    with pytest.raises(ParameterError, match="shape"):
        taggram_figure(starts, S, labels[:-1])
    with pytest.raises(ParameterError, match="increasing"):
        taggram_figure(starts[::-1], S, labels)
    with pytest.raises(ParameterError, match="top_k"):
        taggram_figure(starts, S, labels, top_k=0)
