"""Augmentation: drawn parameters are reproducible and applying them is deterministic and correct."""

from __future__ import annotations

import json

import numpy as np
import pytest

from musictag_core.augment import (
    IDENTITY,
    AugmentConfig,
    apply_augmentation,
    draw_params,
    precompute_variants,
    precompute_variants_batch,
)
from musictag_core.errors import ParameterError

SR = 22050


def _sine(freq=440.0, seconds=2.0, sr=SR):
    t = np.arange(int(seconds * sr)) / sr
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def _dominant_hz(y, sr=SR):
    seg = y[len(y) // 4 : len(y) // 4 + sr]  # 1 s from the middle: 1 Hz bins
    spec = np.abs(np.fft.rfft(seg * np.hanning(len(seg))))
    return np.argmax(spec) * sr / len(seg)


ALL_ON = AugmentConfig(
    pitch_shift=True, pitch_p=1.0, time_stretch=True, time_p=1.0, gain=True, gain_p=1.0, noise=True, noise_p=1.0
)


def test_same_seed_same_params_and_json_serialisable():
    a = [draw_params(ALL_ON, rng=np.random.default_rng(3)) for _ in range(2)]
    assert a[0] == a[1]
    assert json.loads(json.dumps(a[0])) == a[0]
    b = draw_params(ALL_ON, rng=np.random.default_rng(4))
    assert b != a[0]
    lo, hi = ALL_ON.semitones
    assert lo <= a[0]["pitch_shift"]["semitones"] <= hi


def test_same_params_identical_output():
    y = _sine(seconds=1.5)
    p = draw_params(ALL_ON, rng=np.random.default_rng(0))
    out1 = apply_augmentation(y, sr=SR, params=p)
    out2 = apply_augmentation(y, sr=SR, params=json.loads(json.dumps(p)))
    np.testing.assert_array_equal(out1, out2)
    assert out1.dtype == np.float32 and len(out1) == len(y)  # keep_length
    assert not np.allclose(out1, y)


@pytest.mark.parametrize("method", ["signalsmith_stretch", "librosa_phase_vocoder"])
@pytest.mark.parametrize("semitones", [-2.0, 3.0])
def test_pitch_shift_moves_dominant_frequency(method, semitones):
    y = _sine(440.0)
    out = apply_augmentation(y, sr=SR, params={"pitch_shift": {"semitones": semitones, "method": method}})
    assert _dominant_hz(out) == pytest.approx(440.0 * 2 ** (semitones / 12), rel=0.01)
    assert len(out) == len(y)


@pytest.mark.parametrize("rate", [0.8, 1.25])
def test_time_stretch_duration(rate):
    y = _sine(seconds=2.0)
    free = apply_augmentation(y, sr=SR, params={"time_stretch": {"rate": rate, "keep_length": False}})
    assert len(free) == pytest.approx(len(y) / rate, rel=0.01)
    assert _dominant_hz(free) == pytest.approx(440.0, rel=0.01)  # pitch preserved
    kept = apply_augmentation(y, sr=SR, params={"time_stretch": {"rate": rate, "keep_length": True}})
    assert len(kept) == len(y)


def test_gain_and_noise():
    y = _sine(seconds=0.5)
    out = apply_augmentation(y, sr=SR, params={"gain": {"gain_db": -6.0}})
    np.testing.assert_allclose(out, y * 10 ** (-6 / 20), rtol=1e-5, atol=1e-7)
    noisy = apply_augmentation(y, sr=SR, params={"noise": {"amplitude": 0.01, "seed": 5}})
    assert np.std(noisy - y) == pytest.approx(0.01, rel=0.05)


def test_probability_zero_is_identity():
    cfg = AugmentConfig(pitch_shift=True, pitch_p=0.0, time_stretch=True, time_p=0.0, gain=True, gain_p=0.0, noise=True, noise_p=0.0)
    assert not cfg.enabled
    y = _sine(seconds=0.5)
    rng = np.random.default_rng(1)
    for _ in range(5):
        p = draw_params(cfg, rng=rng)
        assert p == IDENTITY
        np.testing.assert_array_equal(apply_augmentation(y, sr=SR, params=p), y)
    # disabled toggles also give identity
    assert draw_params(AugmentConfig(), rng=rng) == IDENTITY


def test_precompute_variants_reproducible_and_parallel_equal_serial():
    clips = [_sine(300.0, 0.5), _sine(500.0, 0.6), _sine(700.0, 0.4)]
    cfg = AugmentConfig(pitch_shift=True, pitch_p=1.0, gain=True, gain_p=0.5)
    one = precompute_variants(clips[0], sr=SR, config=cfg, k=3, rng=np.random.default_rng(9))
    assert len(one) == 3 and all(isinstance(p, dict) for p, _ in one)
    serial = precompute_variants_batch(clips, sr=SR, config=cfg, k=2, rng=np.random.default_rng(9), n_jobs=1)
    parallel = precompute_variants_batch(clips, sr=SR, config=cfg, k=2, rng=np.random.default_rng(9), n_jobs=2)
    assert [len(v) for v in serial] == [2, 2, 2]
    for vs, vp in zip(serial, parallel):
        for (ps, ys), (pp, yp) in zip(vs, vp):
            assert ps == pp
            np.testing.assert_array_equal(ys, yp)


def test_config_validation():
    with pytest.raises(ParameterError, match="semitones"):
        AugmentConfig(semitones=(3, -3))
    with pytest.raises(ParameterError, match="rate"):
        AugmentConfig(rate=(0.0, 1.0))
    with pytest.raises(ParameterError, match="pitch_p"):
        AugmentConfig(pitch_p=1.5)
    with pytest.raises(ParameterError, match="k must"):
        precompute_variants(_sine(seconds=0.1), sr=SR, config=AugmentConfig(), k=0, rng=np.random.default_rng())
    assert AugmentConfig.from_dict(ALL_ON.to_dict()) == ALL_ON
