"""Tests for musictag_core.explore.spaces: feature matrices from the store and from compute_inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import silhouette_score
from sklearn.preprocessing import StandardScaler

from musictag_core.config import AudioConfig, PipelineConfig, SegmentConfig
from musictag_core.datasets.base import DatasetIndex
from musictag_core.errors import DatasetError, ParameterError
from musictag_core.explore import (
    feature_matrix,
    project,
    separability,
)

from .helpers import CLIPS, toy_index

GENRES = ["blues", "classical", "country", "disco", "hiphop", "jazz", "metal", "pop", "reggae", "rock"]


@pytest.fixture(autouse=True)
def _private_cache(private_explore_cache):
    """Every test here gets its own cache folder and projection cache (tests/conftest.py)."""


# --- feature spaces --------------------------------------------------------------------


def test_feature_matrix_table_space():
    feats = pd.DataFrame({"tempo": [100.0, 120, 90, 140], "energy": [0.1, 0.5, 0.2, 0.9], "name": list("wxyz")})
    idx = toy_index([[100, 0], [0, 100], [100, 0], [0, 100]], ["a", "b"], splits=["train"] * 4, features=feats)
    X, names, meta = feature_matrix(idx, space="table")
    assert names == ["tempo", "energy"]
    np.testing.assert_array_equal(X, feats[["tempo", "energy"]].to_numpy())
    assert meta["genre"].tolist() == ["a", "b", "a", "b"]
    X2, names2, _ = feature_matrix(idx, space="table", columns=["energy"])
    assert names2 == ["energy"] and X2.shape == (4, 1)
    with pytest.raises(ParameterError, match="not in the feature table"):
        feature_matrix(idx, space="table", columns=["nope"])
    with pytest.raises(DatasetError, match="feature-table"):
        feature_matrix(toy_index([[100, 0]], ["a", "b"]), space="table")


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"space": "chroma"}, "feature space"),
        ({"level": "frame"}, "level"),
        ({"space": "logmel_stats", "deltas": True}, "deltas"),
        ({"space": "embedding_pooled", "level": "segment"}, "one vector per track"),
    ],
)

def test_feature_matrix_validates(kwargs, match):
    with pytest.raises(ParameterError, match=match):
        feature_matrix(toy_index([[100, 0]], ["a", "b"]), **kwargs)


@pytest.fixture(scope="module")
def clip_index():
    clips = CLIPS
    if not clips.is_dir():
        pytest.skip("real clips absent")
    genres = ["blues", "classical", "metal"]
    tracks = pd.DataFrame(
        {
            "track_id": [f"{g}.00000" for g in genres] + ["missing"],
            "path": [str(clips / f"{g}.00000.wav") for g in genres] + [str(clips / "missing.wav")],
            "split": ["train", "train", "test", "test"],
        }
    )
    return DatasetIndex(name="clips", kind="test", labels=genres + ["other"], tracks=tracks,
                        strengths=np.array([[100, 0, 0, 0], [0, 100, 0, 0], [0, 0, 100, 0], [0, 0, 0, 100]]))


SHORT = PipelineConfig(audio=AudioConfig(duration=6.0), segments=SegmentConfig(length_s=2.0, n_segments=3))


def test_feature_matrix_mfcc_stats_track_and_segment(clip_index):
    Xt, names, meta_t = feature_matrix(clip_index, space="mfcc_stats", pipeline=SHORT, n_jobs=1)
    assert Xt.shape == (3, 26) and len(names) == 26
    assert names[0] == "mfcc01_mean" and names[13] == "mfcc01_std"
    assert meta_t["track_id"].tolist() == ["blues.00000", "classical.00000", "metal.00000"]
    assert meta_t["genre"].tolist() == ["blues", "classical", "metal"]
    assert "missing" in meta_t.attrs["skipped"]

    Xs, names_s, meta_s = feature_matrix(clip_index, space="mfcc_stats", level="segment", pipeline=SHORT, n_jobs=1)
    assert names_s == names
    assert Xs.shape == (9, 26)
    assert meta_s["segment"].tolist() == [0, 1, 2] * 3
    np.testing.assert_allclose(meta_s["start_s"].to_numpy()[:3], [0.0, 2.0, 4.0])
    # equal-length segments: the track mean is the mean of the segment means
    for i in range(3):
        np.testing.assert_allclose(Xt[i, :13], Xs[3 * i : 3 * i + 3, :13].mean(axis=0), rtol=1e-5, atol=1e-4)


def test_feature_matrix_deltas_through_the_store(clip_index, tmp_path):
    import librosa

    from musictag_core.store import extract_paths

    X, names, _ = feature_matrix(clip_index, space="mfcc_stats", deltas=True, pipeline=SHORT, n_jobs=1)
    assert X.shape == (3, 52)
    assert names[26] == "dmfcc01_mean" and names[39] == "dmfcc01_std"
    # the frames came from (and are now in) the feature store
    res = extract_paths(clip_index.tracks["path"].tolist()[:3], pipeline=SHORT, n_jobs=1)
    assert res.n_cached == 3 and res.n_computed == 0
    frames = res.features(0).astype(np.float64)  # (3 segments, t, 13)
    d = librosa.feature.delta(frames, width=9, axis=1)
    flat, dflat = frames.reshape(-1, 13), d.reshape(-1, 13)
    expected = np.concatenate([flat.mean(0), flat.std(0), dflat.mean(0), dflat.std(0)])
    np.testing.assert_allclose(X[0], expected, rtol=1e-6, atol=1e-6)
    X2, _, _ = feature_matrix(clip_index, space="mfcc_stats", deltas=True, pipeline=SHORT, n_jobs=1, cache=False)
    np.testing.assert_allclose(X, X2, rtol=1e-5, atol=1e-5)


def test_feature_matrix_logmel_stats(clip_index):
    X, names, _ = feature_matrix(clip_index, space="logmel_stats", pipeline=SHORT, n_jobs=1)
    assert X.shape == (3, 256) and names[0] == "mel001_mean" and names[128] == "mel001_std"


def test_feature_matrix_stats_track_and_segment(clip_index):
    from musictag_core.features import STAT_NAMES

    Xt, names, _ = feature_matrix(clip_index, space="stats", pipeline=SHORT, n_jobs=1)
    assert Xt.shape == (3, len(STAT_NAMES)) and names == list(STAT_NAMES)
    Xs, names_s, meta = feature_matrix(clip_index, space="stats", level="segment", pipeline=SHORT)
    assert Xs.shape == (9, len(STAT_NAMES)) and names_s == list(STAT_NAMES)
    assert meta["segment"].tolist() == [0, 1, 2] * 3
    # cached once per track in the one feature cache (rows and segment starts), nowhere else
    cache = Path(__import__("os").environ["MUSICTAG_CACHE"])
    stored = sorted(p.name for p in (cache / "inputs").rglob("*.npy"))
    assert len([n for n in stored if not n.endswith("-starts.npy")]) == 3 and len(stored) == 6
    assert not (cache / "explore_features").exists()
    again, _, _ = feature_matrix(clip_index, space="stats", level="segment", pipeline=SHORT)
    np.testing.assert_array_equal(Xs, again)
    fresh, _, _ = feature_matrix(clip_index, space="stats", level="segment", pipeline=SHORT, cache=False)
    np.testing.assert_array_equal(Xs, fresh)  # float64 kept exactly


def test_feature_matrix_then_separability_on_clips(clip_index):
    X, names, meta = feature_matrix(clip_index, space="mfcc_stats", level="segment", pipeline=SHORT, n_jobs=1)
    res = separability(X, meta["genre"], k=2)
    Z = StandardScaler().fit_transform(X)
    assert res["silhouette"] == pytest.approx(silhouette_score(Z, meta["genre"]))
    proj = project(X, feature_names=names, cache=False)
    assert proj.coords.shape == (9, 2)


def test_segment_stats_inputs_are_each_segments_statistics():
    from musictag_core.config import FeatureConfig
    from musictag_core.features import stat_names, track_statistics
    from musictag_core.inputs import INPUT_KINDS, InputSpec, compute_inputs
    from musictag_core.segments import cut_segments

    assert "segment_stats" not in INPUT_KINDS  # an analysis kind, not a model's input
    rng = np.random.default_rng(0)
    y = (0.1 * rng.standard_normal(6 * 22050)).astype(np.float32)
    spec = InputSpec(kind="segment_stats", audio=SHORT.audio, segments=SHORT.segments, features=FeatureConfig(kind="stats"))
    starts, rows = compute_inputs(y, spec=spec)
    segs = cut_segments(y, sr=22050, config=SHORT.segments)
    expected = np.array([list(track_statistics(s, sr=22050).values()) for s in segs.data], dtype=np.float64)
    assert rows.dtype == np.float64 and rows.shape == (3, len(stat_names()))
    np.testing.assert_array_equal(rows, expected)
    np.testing.assert_allclose(starts, [0.0, 2.0, 4.0])
    with pytest.raises(ParameterError, match="kind 'stats'"):
        InputSpec(kind="segment_stats", audio=SHORT.audio, segments=SHORT.segments, features=FeatureConfig(kind="mfcc"))
