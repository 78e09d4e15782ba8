"""Transfer heads on musicnn patch outputs (musictag_core.training.transfer_small)."""

from __future__ import annotations

import numpy as np
import pytest

from musictag_core.errors import ParameterError
from musictag_core.training.transfer_small import (
    TransferChoice,
    evaluate_transfer_choice,
    patch_outputs,
    track_folds,
)


def _outputs(y: np.ndarray, *, signal: float, rng: np.random.Generator, n_patches: int = 6) -> list[dict]:
    """Per-track patch outputs: a class direction (scaled by ``signal``), a per-track fingerprint, patch noise."""
    centres = rng.normal(size=(int(y.max()) + 1, 200))
    out = []
    for c in y:
        track = rng.normal(size=200) * 2.0  # the same in every patch of a track
        pen = signal * centres[c] + track + rng.normal(size=(n_patches, 200))
        out.append({
            "pooled": rng.normal(size=(n_patches, 1506)).astype(np.float32) * 0.1,
            "penultimate": pen.astype(np.float32),
            "tags": (signal * centres[c][:50] + rng.normal(size=(n_patches, 50))).astype(np.float32),
        })
    return out


def test_choices_learn_and_every_track_is_tested_once(rng):
    y = np.repeat(np.arange(3), 8)
    outs = _outputs(y, signal=1.0, rng=rng)
    folds = track_folds(y, k=4, seed=0)
    for choice in (TransferChoice(level="segment", features="penultimate", head="logreg"),
                   TransferChoice(level="track", features="taggram", head="svm"),
                   TransferChoice(level="segment", features="penultimate", head="svm", tune=True)):
        r = evaluate_transfer_choice(outs, y, choice=choice, folds=folds)
        assert sorted(r["tested"].tolist()) == list(range(len(y))), choice.name
        assert r["accuracy"] >= 0.8, (choice.name, r["accuracy"])
        assert len(r["best_params"]) == (4 if choice.tune else 0)
        if choice.tune:
            assert all(set(p) == {"model__C"} for p in r["best_params"])


def test_no_patch_of_a_test_track_leaks_into_training(rng):
    # labels carry no signal, but each track's patches share a strong fingerprint: a split by patch
    # (instead of by track) would recognise the fingerprint and score far above chance
    y = np.tile(np.arange(4), 10)
    rng.shuffle(y)
    outs = _outputs(y, signal=0.0, rng=rng, n_patches=8)
    folds = track_folds(y, k=5, seed=0)
    for choice in (TransferChoice(level="segment", features="penultimate", head="svm"),
                   TransferChoice(level="segment", features="penultimate", head="logreg", tune=True)):
        r = evaluate_transfer_choice(outs, y, choice=choice, folds=folds)
        assert r["accuracy"] < 0.5, (choice.name, r["accuracy"])


def test_tuning_with_a_single_training_track_keeps_the_fixed_c(rng):
    y = np.array([0, 0, 0, 1, 1, 1, 2, 2])
    outs = _outputs(y, signal=1.5, rng=rng)
    folds = track_folds(y, k="loo")
    r = evaluate_transfer_choice(outs, y, choice=TransferChoice(features="taggram", head="svm", tune=True),
                                 folds=folds, n_classes=3)
    assert r["n_tested"] == len(y)
    skipped = [p for p in r["best_params"] if "skipped" in p]
    assert len(skipped) == 2  # the folds that test a class-2 track leave it one training track


def test_bad_choices_and_folds_are_refused():
    with pytest.raises(ParameterError, match="level"):
        TransferChoice(level="patch")
    with pytest.raises(ParameterError, match="features"):
        TransferChoice(features="mfcc")
    with pytest.raises(ParameterError, match="head"):
        TransferChoice(head="forest")
    with pytest.raises(ParameterError, match="single track"):
        track_folds(np.array([0, 0, 1]), k=3)
    assert len(track_folds(np.array([0, 0, 0, 1, 1, 1, 1]), k=5)) == 3  # capped at the smallest class


@pytest.mark.slow
def test_patch_outputs_of_real_clips_are_cached(clips_dir, tmp_path):
    files = sorted(clips_dir.glob("*.wav"))[:2]
    first = patch_outputs(files, duration=6.0, cache_root=tmp_path)
    assert {k: v.shape[1] for k, v in first[0].items()} == {"pooled": 1506, "penultimate": 200, "tags": 50}
    assert len(first[0]["tags"]) == 2  # 6 s: two 3 s patches
    assert len(list(tmp_path.rglob("*.npy"))) == 6
    again = patch_outputs(files, duration=6.0, cache_root=tmp_path)
    for a, b in zip(first, again):
        for k in a:
            np.testing.assert_array_equal(a[k], b[k])


def test_cli_refuses_bad_choices_with_exit_2(capsys):
    from musictag_core.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["transfer-compare", "demo-hard", "--features", "mfcc"])
    assert exc.value.code == 2
    assert "expected a comma-separated list of pooled" in capsys.readouterr().err


@pytest.mark.slow
def test_cli_compares_heads_on_real_clips(clips_dir, tmp_path, capsys):
    import json

    from musictag_core.cli import main

    folder = tmp_path / "clips"
    folder.mkdir()
    for name in ("blues.00000.wav", "blues.00099.mp3", "classical.00000.wav", "country.00000.wav"):
        if not (clips_dir / name).exists():
            pytest.skip(f"{name} not among the shared clips")
        (folder / name).symlink_to(clips_dir / name)
    # two labels with one clip each: K-fold is refused by name, exit 2
    assert main(["transfer-compare", str(folder), "--cv", "3"]) == 2
    assert "'classical', 'country'" in capsys.readouterr().err
    assert main(["transfer-compare", str(folder), "--cv", "loo", "--features", "taggram,penultimate",
                 "--head", "logreg", "--json"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["n_tracks"] == 4 and out["folds"] == {"kind": "loo", "k": 4}
    assert {r["choice"] for r in out["results"]} == {"segment/taggram/logreg", "segment/penultimate/logreg"}
    # a single-clip genre is never in its own fold's training data: only the blues clips can be right
    assert all(r["accuracy"] <= 0.5 for r in out["results"])
