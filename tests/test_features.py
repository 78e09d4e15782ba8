from __future__ import annotations

import librosa
import numpy as np
import pytest

from musictag_core.audio import load_audio
from musictag_core.config import FeatureConfig
from musictag_core.errors import ParameterError
from musictag_core.features import (
    STAT_NAMES,
    extract_frames,
    log_mel,
    mfcc,
    power_spectrogram,
    track_statistics,
)
from musictag_core.segments import cut_segments

from .helpers import CLIPS, needs_clips


@pytest.fixture(scope="module")
def segments():
    rng = np.random.default_rng(0)
    t = np.arange(22050 * 12) / 22050
    tone = 0.3 * np.sin(2 * np.pi * 220 * t) + 0.05 * rng.standard_normal(t.size)
    loud = 0.9 * np.sign(np.sin(2 * np.pi * 55 * t))
    return np.stack([tone, loud, 1e-3 * rng.standard_normal(t.size)]).astype(np.float32)


def test_shapes_of_a_12s_segment(segments):
    out = extract_frames(segments, kinds=("mfcc", "logmel"))
    assert out["mfcc"].shape == (3, 517, 13)
    assert out["logmel"].shape == (3, 517, 128)
    assert extract_frames(segments[0], config=FeatureConfig(kind="logmel")).shape == (517, 128)


def test_equal_to_librosa_per_segment(segments):
    out = extract_frames(segments, kinds=("mfcc", "logmel"))
    for i, y in enumerate(segments):
        ref_mfcc = librosa.feature.mfcc(y=y, sr=22050, n_mfcc=13).T
        ref_mel = librosa.power_to_db(librosa.feature.melspectrogram(y=y, sr=22050), top_db=80.0).T
        np.testing.assert_allclose(out["mfcc"][i], ref_mfcc, atol=1e-4, rtol=1e-5)
        np.testing.assert_allclose(out["logmel"][i], ref_mel, atol=1e-4, rtol=1e-5)


def test_shared_spectrogram_gives_same_values(segments):
    y = segments[0]
    S = power_spectrogram(y)
    L = log_mel(S=S)
    np.testing.assert_array_equal(L, log_mel(y=y))
    np.testing.assert_array_equal(mfcc(log_S=L), mfcc(y=y))


def test_other_parameters_match_librosa(segments):
    cfg = FeatureConfig(kind="mfcc", sr=22050, n_fft=1024, hop_length=256, n_mels=64, n_mfcc=20, fmin=30.0, fmax=8000.0)
    out = extract_frames(segments[:1], config=cfg)
    ref = librosa.feature.mfcc(y=segments[0], sr=22050, n_mfcc=20, n_fft=1024, hop_length=256, n_mels=64, fmin=30.0, fmax=8000.0).T
    np.testing.assert_allclose(out[0], ref, atol=1e-4, rtol=1e-5)


def test_errors():
    with pytest.raises(ParameterError, match="either y"):
        log_mel()
    with pytest.raises(ParameterError, match="'stats'"):
        extract_frames(np.zeros((1, 1000), np.float32), kinds=("stats",))
    with pytest.raises(ParameterError, match="frequency bins"):
        log_mel(S=np.ones((10, 5), np.float32), n_fft=2048)


def test_statistics(segments):
    stats = track_statistics(segments[0], sr=22050)
    assert tuple(stats) == STAT_NAMES and len(STAT_NAMES) == 77
    ref = librosa.feature.mfcc(y=segments[0], sr=22050, n_mfcc=13)
    assert stats["mfcc1_mean"] == pytest.approx(float(ref[0].mean()), abs=1e-3)
    assert stats["mfcc3_var"] == pytest.approx(float(ref[2].var()), rel=1e-3)
    zcr = librosa.feature.zero_crossing_rate(segments[0])
    assert stats["zero_crossing_rate_mean"] == pytest.approx(float(zcr.mean()), rel=1e-6)
    cent = librosa.feature.spectral_centroid(y=segments[0], sr=22050)
    assert stats["spectral_centroid_mean"] == pytest.approx(float(cent.mean()), rel=1e-4)
    # a 220 Hz tone: chroma peaks at A
    assert max((k for k in stats if k.startswith("chroma_") and len(k) <= 14), key=stats.get) == "chroma_A_mean"
    assert all(np.isfinite(v) for v in stats.values())


@needs_clips
def test_real_clip_segments_equal_librosa():
    y, sr = load_audio(CLIPS / "jazz.00000.wav", sr=22050)
    seg = cut_segments(y, sr=sr, config="tracks10")
    out = extract_frames(seg.data)
    assert out.shape == (2, 517, 13)
    ref = librosa.feature.mfcc(y=seg.data[1], sr=sr, n_mfcc=13).T
    np.testing.assert_allclose(out[1], ref, atol=1e-4, rtol=1e-5)
