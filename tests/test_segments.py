from __future__ import annotations

import numpy as np
import pytest

from musictag_core.config import SegmentConfig
from musictag_core.errors import ParameterError
from musictag_core.segments import cut_segments, frame_patches, random_crop

SR = 22050


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def ramp(seconds: float, sr: int = SR) -> np.ndarray:
    return np.arange(int(round(seconds * sr)), dtype=np.float32)


@pytest.mark.parametrize(
    "seconds, expected",
    [(130.0, 10), (120.0, 10), (30.0, 2), (12.0, 1), (5.0, 1), (0.01, 1)],
)
def test_tracks10_counts_and_padding(seconds, expected):
    y = ramp(seconds)
    seg = cut_segments(y, sr=SR, config="tracks10")
    assert seg.data.shape == (expected, 12 * SR)
    np.testing.assert_allclose(seg.starts_s, np.arange(expected) * 12.0)
    # contiguous, in order, and zero-padded when short
    np.testing.assert_array_equal(seg.data[0][: min(len(y), 12 * SR)], y[: 12 * SR])
    if len(y) < 12 * SR:
        assert np.all(seg.data[0][len(y):] == 0)


def test_tracks10_ignores_audio_after_120_s():
    seg = cut_segments(ramp(150.0), sr=SR, config="tracks10")
    assert seg.data.max() < 120 * SR


def test_patches_and_windows_hops():
    y = ramp(10.0)
    p = cut_segments(y, sr=SR, config="patches3")
    assert p.data.shape == (3, 3 * SR)  # the 1 s tail is dropped
    w = cut_segments(y, sr=SR, config="windows1")
    assert w.data.shape == (37, SR)  # (10 - 1) / 0.25 + 1
    np.testing.assert_allclose(np.diff(w.starts_s), 0.25, atol=1e-4)  # 5512 samples
    assert w.data[1][0] == int(0.25 * SR)


def test_min_tail_keeps_partial_tail():
    cfg = SegmentConfig(kind="patches", length_s=3.0, n_segments=None, max_duration_s=None, min_tail=0.3)
    seg = cut_segments(ramp(10.0), sr=SR, config=cfg)
    assert len(seg) == 4 and np.all(seg.data[3][SR:] == 0)


def test_random_crop_is_seeded_and_padded(rng):
    y = ramp(60.0)
    a = cut_segments(y, sr=SR, config="crop30", rng=np.random.default_rng(1))
    b = cut_segments(y, sr=SR, config="crop30", rng=np.random.default_rng(1))
    np.testing.assert_array_equal(a.data, b.data)
    start = int(a.data[0][0])
    np.testing.assert_array_equal(a.data[0], y[start : start + 30 * SR])
    short, s = random_crop(ramp(2.0), sr=SR, length_s=30.0, rng=rng)
    assert s == 0 and short.shape == (30 * SR,) and np.all(short[2 * SR :] == 0)
    with pytest.raises(ParameterError, match="rng"):
        cut_segments(y, sr=SR, config="crop30")


def test_mono_required():
    with pytest.raises(ParameterError, match="mono"):
        cut_segments(np.zeros((2, 100), np.float32), sr=SR)


def test_frame_patches_match_manual_slicing():
    S = np.random.default_rng(0).standard_normal((400, 96)).astype(np.float32)
    patches, starts = frame_patches(S, patch_frames=187)
    assert patches.shape == (2, 187, 96)
    np.testing.assert_array_equal(patches[1], S[187:374])
    overl, starts = frame_patches(S, patch_frames=187, hop_frames=50)
    np.testing.assert_array_equal(starts, [0, 50, 100, 150, 200])
    np.testing.assert_array_equal(overl[3], S[150:337])
    short, _ = frame_patches(S[:20], patch_frames=187)
    assert short.shape == (1, 187, 96) and np.all(short[0, 20:] == 0)
