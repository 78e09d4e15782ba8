"""Tests of seeded, stratified, artist-grouped splits and cross-validation folds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from musictag_core.datasets import DatasetIndex, kfold_indices, read_feature_table, split_dataset
from musictag_core.errors import DatasetError, ParameterError


@pytest.fixture
def rng():
    return np.random.default_rng(7)


def make_index(
    rng: np.random.Generator,
    *,
    n: int = 300,
    n_labels: int = 4,
    multi: bool = False,
    n_artists: int | None = None,
    split=None,
) -> DatasetIndex:
    """Synthetic index: one-hot (single) or random multi-hot strengths, optional artists."""
    if multi:
        strengths = np.where(rng.random((n, n_labels)) < 0.3, 90.0, 10.0)
    else:
        strengths = np.zeros((n, n_labels))
        strengths[np.arange(n), rng.integers(0, n_labels, size=n)] = 100.0
    tracks = pd.DataFrame({"track_id": [f"t{i:04d}" for i in range(n)], "path": [f"/x/{i}.wav" for i in range(n)]})
    if n_artists is not None:
        tracks["artist"] = [f"artist{a}" for a in rng.integers(0, n_artists, size=n)]
    if split is not None:
        tracks["split"] = split
    return DatasetIndex(name="synthetic", kind="strengths", labels=[f"l{j}" for j in range(n_labels)],
                        tracks=tracks, strengths=strengths)


def split_of(index: DatasetIndex) -> np.ndarray:
    return index.tracks["split"].to_numpy(dtype=object)


def assert_no_artist_crosses(index: DatasetIndex) -> None:
    sides = index.tracks.dropna(subset=["artist"]).groupby("artist")["split"].nunique()
    assert (sides == 1).all(), sides[sides > 1]


def test_single_label_split_is_stratified_and_sized(rng):
    index = make_index(rng, n=400)
    out = split_dataset(index, seed=0)
    assert index.tracks["split"].isna().all()  # the input is left alone
    counts = out.tracks["split"].value_counts()
    assert set(counts.index) == {"train", "validation", "test"}
    assert abs(counts["test"] / 400 - 0.15) < 0.02 and abs(counts["validation"] / 400 - 0.15) < 0.02
    genre = out.genre
    for label in out.labels:
        in_label = (genre == label).to_numpy()
        share = np.mean(split_of(out)[in_label] == "test")
        assert abs(share - 0.15) < 0.06, (label, share)
    assert out.meta["split"]["method"] == "StratifiedShuffleSplit"
    assert out.meta["split"]["counts"]["test"] == counts["test"]


def test_same_seed_same_split_other_seed_differs(rng):
    index = make_index(rng, n=200)
    a = split_of(split_dataset(index, seed=3))
    b = split_of(split_dataset(index, seed=3))
    c = split_of(split_dataset(index, seed=4))
    np.testing.assert_array_equal(a, b)
    assert (a != c).any()


def test_grouped_single_label_keeps_artists_on_one_side(rng):
    index = make_index(rng, n=400, n_artists=60)
    out = split_dataset(index, seed=1)
    assert_no_artist_crosses(out)
    shares = out.tracks["split"].value_counts(normalize=True)
    assert abs(shares["test"] - 0.15) < 0.06 and abs(shares["validation"] - 0.15) < 0.06
    assert out.meta["split"]["grouped_by"] == "artist"
    assert out.meta["split"]["method"].startswith("StratifiedGroupKFold")
    ungrouped = split_dataset(index, seed=1, group_by_artist=False)
    assert ungrouped.meta["split"]["grouped_by"] is None


def test_multilabel_split_keeps_tag_proportions(rng):
    index = make_index(rng, n=500, n_labels=6, multi=True)
    assert index.task == "multi"
    out = split_dataset(index, seed=0, val_size=0.2, test_size=0.2)
    y, parts = out.y, split_of(out)
    for j in range(y.shape[1]):
        positives = y[:, j] == 1
        assert abs(np.mean(parts[positives] == "test") - 0.2) < 0.05
    assert out.meta["split"]["method"] == "MultilabelStratifiedShuffleSplit"


def test_multilabel_grouped_split(rng):
    index = make_index(rng, n=400, n_labels=5, multi=True, n_artists=80)
    out = split_dataset(index, seed=2)
    assert_no_artist_crosses(out)
    shares = out.tracks["split"].value_counts(normalize=True)
    assert 0.05 < shares["test"] < 0.3 and 0.05 < shares["validation"] < 0.3
    assert out.meta["split"]["method"] == "MultilabelStratifiedShuffleSplit over groups"


def test_tracks_without_artist_are_their_own_group(rng):
    index = make_index(rng, n=200, n_artists=30)
    tracks = index.tracks.copy()
    tracks.loc[:49, "artist"] = pd.NA
    index = DatasetIndex(name="x", kind="strengths", labels=index.labels, tracks=tracks, strengths=index.strengths)
    out = split_dataset(index, seed=0)
    assert_no_artist_crosses(out)
    assert out.tracks["split"].notna().all()


def test_unstratified_and_partial_sizes(rng):
    grouped = split_dataset(make_index(rng, n=200, n_artists=40), stratify=False, seed=0)
    assert grouped.meta["split"]["method"] == "GroupShuffleSplit"
    assert_no_artist_crosses(grouped)
    plain = split_dataset(make_index(rng, n=200), stratify=False, val_size=0.0, test_size=0.25)
    assert set(plain.tracks["split"]) == {"train", "test"}
    assert plain.meta["split"]["method"] == "ShuffleSplit"
    no_test = split_dataset(make_index(rng, n=200), val_size=0.1, test_size=0.0)
    assert set(no_test.tracks["split"]) == {"train", "validation"}


def test_feature_rows_from_one_recording_stay_together(tmp_path, rng):
    ids = [f"{g}.{t:05d}.{s}.wav" for g in ("blues", "rock") for t in range(12) for s in range(5)]
    frame = pd.DataFrame({"filename": ids, "f1": rng.random(len(ids)), "label": [i.split(".")[0] for i in ids]})
    frame.to_csv(tmp_path / "features_3_sec.csv", index=False)
    out = split_dataset(read_feature_table(tmp_path / "features_3_sec.csv"), seed=0)
    assert (out.tracks.groupby("source")["split"].nunique() == 1).all()
    assert out.meta["split"]["grouped_by"] == "source"


def test_predefined_split_is_kept_unless_asked(rng):
    split = np.array(["train", "validation", "test"], dtype=object)[rng.integers(0, 3, size=90)]
    index = make_index(rng, n=90, split=split)
    kept = split_dataset(index, seed=5)
    np.testing.assert_array_equal(split_of(kept), split)
    assert kept.meta["split"]["method"] == "predefined"
    redone = split_dataset(index, seed=5, respect_existing=False)
    assert redone.meta["split"]["method"] == "StratifiedShuffleSplit"

    partial = split.copy()
    partial[:10] = None
    with pytest.raises(DatasetError, match="10 of 90 tracks have a split|80 of 90 tracks have a split"):
        split_dataset(make_index(rng, n=90, split=partial))


def test_too_small_class_names_it(rng):
    index = make_index(rng, n=60, n_labels=3)
    strengths = index.strengths.copy()
    strengths[:, :] = 0
    strengths[:, 0] = 100
    strengths[:2, 0] = 0
    strengths[:2, 2] = 100  # class l2 has 2 tracks; l1 has none
    small = DatasetIndex(name="tiny", kind="strengths", labels=index.labels, tracks=index.tracks, strengths=strengths)
    with pytest.raises(DatasetError, match=r"'l1' has 0, 'l2' has 2; each class needs at least 3 tracks"):
        split_dataset(small)
    with pytest.raises(DatasetError, match=r"'l1' has 0; each class needs at least 2 tracks"):
        split_dataset(small, val_size=0.0, test_size=0.2)


def test_too_small_tag_and_too_few_artists(rng):
    index = make_index(rng, n=100, n_labels=3, multi=True)
    strengths = index.strengths.copy()
    strengths[:, 1] = 0
    strengths[0, 1] = 100
    rare = DatasetIndex(name="rare", kind="strengths", labels=index.labels, tracks=index.tracks, strengths=strengths)
    with pytest.raises(DatasetError, match=r"'l1' has 1; each tag needs at least 3 tracks"):
        split_dataset(rare)

    few = make_index(rng, n=100, n_labels=2, n_artists=2)
    with pytest.raises(DatasetError, match="needs at least 3 artists"):
        split_dataset(few)
    assert split_dataset(few, group_by_artist=False).tracks["split"].notna().all()


def test_split_parameter_errors(rng):
    index = make_index(rng, n=50)
    with pytest.raises(ParameterError, match="val_size"):
        split_dataset(index, val_size=1.5)
    with pytest.raises(ParameterError, match="below 1"):
        split_dataset(index, val_size=0.5, test_size=0.5)
    with pytest.raises(ParameterError, match="group_by_artist"):
        split_dataset(index, group_by_artist="yes")
    with pytest.raises(DatasetError, match="no track names an artist"):
        split_dataset(index, group_by_artist=True)


@settings(max_examples=25, deadline=None, derandomize=True)
@given(
    n=st.integers(min_value=60, max_value=200),
    n_labels=st.integers(min_value=2, max_value=4),
    n_artists=st.integers(min_value=25, max_value=60),
    multi=st.booleans(),
    seed=st.integers(min_value=0, max_value=10_000),
)
def test_property_no_artist_on_two_sides_and_reproducible(n, n_labels, n_artists, multi, seed):
    index = make_index(np.random.default_rng(seed), n=n, n_labels=n_labels, multi=multi, n_artists=n_artists)
    try:
        out = split_dataset(index, seed=seed)
    except DatasetError as exc:  # a random draw may leave a class with too few artists
        assert "needs at least" in str(exc) or "too few" in str(exc)
        return
    assert_no_artist_crosses(out)
    assert out.tracks["split"].notna().all()
    shares = out.tracks["split"].value_counts(normalize=True)
    assert shares.get("train", 0) > 0.4
    np.testing.assert_array_equal(split_of(out), split_of(split_dataset(index, seed=seed)))


# --------------------------------------------------------------------------- k-fold


@pytest.mark.parametrize(("multi", "n_artists"), [(False, None), (True, None), (False, 40), (True, 40)])
def test_kfold_covers_every_track_once(rng, multi, n_artists):
    index = make_index(rng, n=240, n_labels=3, multi=multi, n_artists=n_artists)
    folds = kfold_indices(index, k=4, seed=0)
    assert len(folds) == 4
    tested = np.concatenate([test for _, test in folds])
    np.testing.assert_array_equal(np.sort(tested), np.arange(240))
    for train, test in folds:
        assert not set(train) & set(test)
        assert len(train) + len(test) == 240
        if n_artists is not None:
            artists = index.tracks["artist"].to_numpy()
            assert not set(artists[train]) & set(artists[test])
    again = kfold_indices(index, k=4, seed=0)
    for (_, a), (_, b) in zip(folds, again):
        np.testing.assert_array_equal(a, b)


def test_kfold_single_label_is_stratified(rng):
    index = make_index(rng, n=300, n_labels=3)
    for _, test in kfold_indices(index, k=5, seed=1):
        share = np.bincount(index.label_index[test], minlength=3) / len(test)
        overall = np.bincount(index.label_index, minlength=3) / len(index)
        assert np.abs(share - overall).max() < 0.03


def test_kfold_errors(rng):
    index = make_index(rng, n=40, n_labels=2)
    with pytest.raises(ParameterError, match="k must be"):
        kfold_indices(index, k=1)
    with pytest.raises(DatasetError, match="cannot fill 50 folds"):
        kfold_indices(index, k=50)
    with pytest.raises(DatasetError, match="needs at least 30 tracks"):
        kfold_indices(index, k=30)
    few_artists = make_index(rng, n=40, n_labels=2, n_artists=3)
    with pytest.raises(DatasetError, match="at least 5 artists"):
        kfold_indices(few_artists, k=5)
