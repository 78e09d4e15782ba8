from __future__ import annotations

import pytest

from musictag_core.config import (
    SEGMENT_PRESETS,
    AudioConfig,
    FeatureConfig,
    PipelineConfig,
    SegmentConfig,
    segment_preset,
)
from musictag_core.errors import MusictagError, ParameterError


def test_defaults_reproduce_seed_system():
    p = PipelineConfig()
    assert p.audio.sr == 22050 and p.audio.duration == 120.0
    assert p.segments.length_s == 12.0 and p.segments.n_segments == 10
    assert p.features.n_mfcc == 13 and p.features.n_mels == 128 and p.features.hop_length == 512


@pytest.mark.parametrize(
    "factory, kwargs, fragment",
    [
        (AudioConfig, {"sr": 0}, "sr"),
        (AudioConfig, {"sr": 10_000_000}, "10000000"),
        (AudioConfig, {"offset": -1}, "offset"),
        (AudioConfig, {"duration": float("nan")}, "duration"),
        (AudioConfig, {"max_channels": 0}, "max_channels"),
        (SegmentConfig, {"kind": "slices"}, "'slices'"),
        (SegmentConfig, {"length_s": 0}, "length_s"),
        (SegmentConfig, {"n_segments": 2.5}, "n_segments"),
        (SegmentConfig, {"min_tail": 0}, "min_tail"),
        (FeatureConfig, {"kind": "chroma"}, "'chroma'"),
        (FeatureConfig, {"n_mfcc": 200}, "n_mfcc"),
        (FeatureConfig, {"hop_length": True}, "hop_length"),
        (FeatureConfig, {"fmax": 20000.0, "sr": 16000}, "fmax"),
    ],
)
def test_invalid_values_are_named(factory, kwargs, fragment):
    with pytest.raises(ParameterError, match=fragment) as info:
        factory(**kwargs)
    assert isinstance(info.value, MusictagError)


def test_configs_are_frozen_and_round_trip():
    c = FeatureConfig(kind="logmel")
    with pytest.raises(AttributeError):
        c.kind = "mfcc"  # type: ignore[misc]
    p = PipelineConfig(features=c)
    assert PipelineConfig.from_dict(p.to_dict()) == p


def test_unknown_keys_are_listed():
    with pytest.raises(ParameterError, match="n_mfccs"):
        FeatureConfig.from_dict({"n_mfccs": 20})


def test_pipeline_rates_must_match():
    with pytest.raises(ParameterError, match="must match"):
        PipelineConfig(audio=AudioConfig(sr=16000))


def test_presets():
    assert set(SEGMENT_PRESETS) == {"tracks10", "patches3", "windows1", "crop30"}
    assert segment_preset("windows1").hop == 0.25
    with pytest.raises(ParameterError, match="tracks10"):
        segment_preset("nope")
