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


def test_one_serialisation_scheme_round_trips_every_config():
    """config_to_dict / config_from_dict serve every config: nested configs, tuples, optional fields."""
    import json

    from musictag_core.augment import AugmentConfig
    from musictag_core.config import AudioConfig, FeatureConfig, PipelineConfig, SegmentConfig, config_from_dict
    from musictag_core.inputs import InputSpec
    from musictag_core.models.registry import MODEL_CARDS, ModelConfig

    spec = InputSpec(kind="mfcc", audio=AudioConfig(sr=16000), segments=SegmentConfig(),
                     features=FeatureConfig(kind="mfcc", sr=16000))
    configs = [
        spec,
        InputSpec(kind="waveform", audio=AudioConfig(sr=8000), segments=SegmentConfig()),
        AugmentConfig(semitones=(-1.0, 3.0)),
        ModelConfig(input_shape=(10, 20), n_outputs=3),
        PipelineConfig(),
    ]
    for config in configs:
        d = json.loads(json.dumps(config.to_dict()))  # JSON-ready: tuples are lists
        assert type(config).from_dict(d) == config
    assert spec.to_dict()["features"]["kind"] == "mfcc" and spec.to_dict()["features"] == spec.features.to_dict()
    assert ModelConfig(input_shape=(10, 20), n_outputs=3).to_dict()["input_shape"] == [10, 20]
    assert json.loads(json.dumps(MODEL_CARDS["cnn"].to_dict()))["presets"]["fast"]["segments"]["kind"]
    # missing keys take defaults, nested ones too
    assert PipelineConfig.from_dict({}) == PipelineConfig()
    with pytest.raises(ParameterError, match=r"InputSpec is missing required key\(s\) \['audio', 'segments'\]"):
        InputSpec.from_dict({"kind": "mfcc"})
    with pytest.raises(ParameterError, match=r"unknown InputSpec.features key\(s\) \['nope'\]"):
        config_from_dict(InputSpec, {**spec.to_dict(), "features": {"nope": 1}})
    with pytest.raises(ParameterError, match="must be a JSON object"):
        AugmentConfig.from_dict([1, 2])
