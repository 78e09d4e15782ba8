"""Tests for musictag_core.explore.insight: class balance, co-occurrence, durations."""

from __future__ import annotations

import numpy as np
import pytest

from musictag_core.errors import ParameterError
from musictag_core.explore import (
    class_balance,
    cooccurrence,
    labels_per_track,
    track_durations,
)

from .helpers import CLIPS, toy_index


@pytest.fixture
def rng():
    return np.random.default_rng(20240501)


def test_class_balance_and_by_split():
    idx = toy_index([[100, 0, 0], [100, 100, 0], [0, 0, 100], [0, 100, 0]], ["a", "b", "c"],
                 splits=["train", "test", "train", None])
    bal = class_balance(idx)
    assert bal.to_dict() == {"a": 2, "b": 2, "c": 1}
    by = class_balance(idx, by_split=True)
    assert list(by.columns) == ["train", "test", "none"]
    assert by.loc["b"].to_dict() == {"train": 0, "test": 1, "none": 1}
    assert by.to_numpy().sum() == idx.y.sum()


def test_cooccurrence_and_labels_per_track(rng):
    y = (rng.random((50, 4)) < 0.4).astype(np.int8)
    co = cooccurrence(y, list("abcd"))
    for i in range(4):
        for j in range(4):
            assert co.iloc[i, j] == np.sum((y[:, i] == 1) & (y[:, j] == 1))
    per = labels_per_track(y)
    assert per.sum() == 50
    for n_labels, count in per.items():
        assert count == np.sum(y.sum(axis=1) == n_labels)
    with pytest.raises(ParameterError):
        cooccurrence(y, list("abc"))


def test_track_durations_on_real_clips():
    clips = CLIPS
    if not clips.is_dir():
        pytest.skip("real clips absent")
    paths = [str(clips / "blues.00000.wav"), str(clips / "blues.00099.mp3"), "/nonexistent.wav"]
    idx = toy_index([[100, 0]] * 3, ["blues", "other"], paths=paths)
    d = track_durations(idx)
    assert d.iloc[0] == pytest.approx(30.0, abs=0.1)
    assert 25 < d.iloc[1] < 35
    assert np.isnan(d.iloc[2])


