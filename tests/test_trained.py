"""Finished training runs in the tagging API: listed, loaded, tagged like shipped models."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from musictag_core.datasets import open_dataset
from musictag_core.errors import ModelError
from musictag_core.evaluate import read_predictions
from musictag_core.models.loading import LOADERS, clear_tagger_cache, list_models, load_tagger
from musictag_core.predict import tag_file
from musictag_core.training import RunConfig, create_run, execute_run

from .helpers import write_tone_dataset

SR = 22050


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """A tones dataset, a private cache and a runs folder (MUSICTAG_RUNS) for the module."""
    base = tmp_path_factory.mktemp("trained")
    mp = pytest.MonkeyPatch()
    mp.setenv("MUSICTAG_CACHE", str(base / "cache"))
    runs = base / "runs"
    mp.setenv("MUSICTAG_RUNS", str(runs))
    data = write_tone_dataset(base / "tones")
    yield {"data": data, "runs": runs, "base": base}
    mp.undo()
    clear_tagger_cache()


def _finished(env, **kw) -> Path:
    run_dir = create_run(RunConfig(dataset=str(env["data"]), seed=0, **kw), runs_dir=env["runs"])
    assert execute_run(run_dir) == "finished", (run_dir / "status.json").read_text()
    return run_dir


@pytest.fixture(scope="module")
def cnn_run(env) -> Path:
    return _finished(
        env, model="cnn", preset="fast", epochs=2, batch_size=8, learning_rate=1e-3,
        segments={"length_s": 0.5, "n_segments": 4}, features={"n_mels": 32},
    )


@pytest.fixture(scope="module")
def logreg_run(env) -> Path:
    return _finished(env, model="logreg")


@pytest.fixture(scope="module")
def cnn7_run(env) -> Path:
    """Random 0.5 s crops of the whole clip while training; consecutive crops when tagging."""
    return _finished(
        env, model="cnn7", preset="fast", epochs=1, batch_size=8, segments={"length_s": 0.5}, features={"n_mels": 32},
    )


@pytest.fixture(scope="module")
def rawcnn_run(env) -> Path:
    return _finished(env, model="rawcnn", preset="fast", epochs=1, batch_size=16, segments={"length_s": 0.25, "hop_s": 0.25})


def _test_tracks(run_dir: Path, data: Path) -> tuple[list[str], np.ndarray]:
    """Paths of the run's test tracks and their saved track scores."""
    ids, _, scores, _ = read_predictions(run_dir / "predictions.csv")
    index = open_dataset(str(data))
    path_of = dict(zip(index.tracks["track_id"], index.tracks["path"]))
    return [path_of[str(i)] for i in ids], scores


def test_runs_are_listed_with_source_run(env, cnn_run, logreg_run):
    entries = {e.name: e for e in list_models(runs_dir=env["runs"])}
    for run in (cnn_run, logreg_run):
        assert entries[run.name].source == "run"
        assert entries[run.name].card["format"] in ("musictag-keras", "musictag-sklearn")
    # the default runs folder (MUSICTAG_RUNS) is found without runs_dir
    assert cnn_run.name in {e.name for e in list_models()}


@pytest.mark.parametrize("which", ["cnn_run", "logreg_run", "cnn7_run", "rawcnn_run"])
def test_tagger_reproduces_the_runs_test_predictions(env, which, request):
    """tag_file applies the training-time preprocessing: its track scores equal predictions.csv."""
    run_dir = request.getfixturevalue(which)
    paths, saved = _test_tracks(run_dir, env["data"])
    tagger = load_tagger(run_dir.name, runs_dir=env["runs"])
    assert tagger.labels == ["high", "low"] and tagger.sr == SR
    for path, expected in zip(paths, saved):
        pred = tag_file(path, tagger)
        assert pred.model == run_dir.name and pred.labels == ["high", "low"]
        np.testing.assert_allclose(pred.scores, expected, atol=2e-4)
        assert np.allclose(pred.segment_scores.sum(axis=1), 1.0, atol=1e-4)  # softmax
        if which == "logreg_run":
            assert pred.segment_scores.shape == (1, 2) and pred.segment_starts_s.tolist() == [0.0]
        elif which == "rawcnn_run":
            assert pred.segment_scores.shape == (8, 2)
        elif which == "cnn7_run":  # 87 frames hold three whole 22-frame crops
            assert pred.segment_scores.shape == (3, 2)
            np.testing.assert_allclose(pred.segment_starts_s, np.arange(3) * 22 * 512 / SR)
        else:
            assert pred.segment_scores.shape == (4, 2)
            np.testing.assert_allclose(pred.segment_starts_s, [0.0, 0.5, 1.0, 1.5], atol=0.02)
    # overlap gives a finer taggram over the same audio
    pred = tag_file(paths[0], tagger, overlap=0.2)
    if which in ("cnn_run", "cnn7_run"):
        assert len(pred.segment_scores) > 4


def test_logreg_run_tags_the_tones_right(env, logreg_run):
    paths, _ = _test_tracks(logreg_run, env["data"])
    for path in paths:
        pred = tag_file(path, logreg_run.name, runs_dir=env["runs"])
        truth = Path(path).parent.name
        assert pred.top(1)[0][0] == truth
        assert pred.summary().startswith(f"mostly {truth}")


def test_joblib_is_not_loaded_outside_the_runs_folder(env, logreg_run, tmp_path):
    copy = tmp_path / "uploaded" / "model"
    shutil.copytree(logreg_run, copy)
    with pytest.raises(ModelError, match="refusing to load model.joblib"):
        load_tagger(copy)
    # a card naming another file is refused too
    card = json.loads((logreg_run / "card.json").read_text())
    evil = tmp_path / "evil"
    shutil.copytree(logreg_run, evil)
    (evil / "card.json").write_text(json.dumps({**card, "model_file": "../x.joblib"}))
    with pytest.raises(ModelError, match="model file"):
        LOADERS["musictag-sklearn"](evil, {**card, "model_file": "../x.joblib"})


def test_unfinished_runs_are_not_listed(env, cnn_run, tmp_path):
    runs = tmp_path / "runs"
    shutil.copytree(cnn_run, runs / "r1")
    status = json.loads((runs / "r1" / "status.json").read_text())
    (runs / "r1" / "status.json").write_text(json.dumps({**status, "state": "running"}))
    assert [e.name for e in list_models(runs_dir=runs) if e.source == "run"] == []


def test_cli_tag_and_models_with_a_run(env, cnn_run, logreg_run, capsys):
    from musictag_core.cli import main

    paths, _ = _test_tracks(logreg_run, env["data"])
    assert main(["models", "--json", "--runs-dir", str(env["runs"])]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    runs = {r["name"]: r for r in rows if r["source"] == "run"}
    assert runs[cnn_run.name]["format"] == "musictag-keras" and runs[cnn_run.name]["architecture"] == "cnn"
    assert runs[logreg_run.name]["n_labels"] == 2
    assert main(["tag", paths[0], "--model", logreg_run.name, "--runs-dir", str(env["runs"])]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["model"] == logreg_run.name and out["tags"][0]["label"] == Path(paths[0]).parent.name
    assert main(["tag", paths[0], "--model", cnn_run.name]) == 0  # found through MUSICTAG_RUNS
    out = json.loads(capsys.readouterr().out)
    assert len(out["segments"]) == 4


def test_regression_run_scores_are_strengths_over_100(env, tmp_path):
    """A strengths dataset trained as regression tags in 0..1 (strength / 100)."""
    import pandas as pd

    index = open_dataset(str(env["data"]))
    rows = []
    for tid, path in zip(index.tracks["track_id"], index.tracks["path"]):
        high = 80.0 if "/high/" in path else 10.0
        rows.append({"track_id": tid, "path": path, "high": high, "low": 90.0 - high})
    csv = tmp_path / "strengths.csv"
    pd.DataFrame(rows).to_csv(csv, index=False)
    run_dir = create_run(RunConfig(dataset=str(csv), model="logreg", task="regression"), runs_dir=env["runs"])
    assert execute_run(run_dir) == "finished", (run_dir / "status.json").read_text()
    tagger = load_tagger(run_dir.name)
    pred = tag_file(rows[0]["path"], tagger)
    assert pred.scores.min() >= 0.0 and pred.scores.max() <= 1.0
    expected = np.array([rows[0]["high"], rows[0]["low"]]) / 100.0
    np.testing.assert_allclose(pred.scores, expected, atol=0.1)


@pytest.mark.slow
def test_transfer_fine_tune_trains_musicnn_end_to_end(env):
    """fine_tune=True: musicnn + head on mel patches; the saved model tags through the run loader."""
    run_dir = _finished(env, model="transfer", preset="fast", fine_tune=True, epochs=1, batch_size=8, embedding="penultimate")
    card = json.loads((run_dir / "card.json").read_text())
    assert card["inputs"]["kind"] == "musicnn_patches" and card["sr"] == 16000 and card["input_shape"] == [187, 96]
    tagger = load_tagger(run_dir)
    trainable = sum(int(np.prod(w.shape)) for w in tagger.model_.trainable_weights)
    assert trainable > 500_000  # the musicnn weights trained too, not only the head
    paths, saved = _test_tracks(run_dir, env["data"])
    pred = tag_file(paths[0], tagger)
    assert pred.sr == 16000 and pred.segment_scores.shape == (1, 2)  # a 2 s clip is one repeat-padded patch
    np.testing.assert_allclose(pred.scores, saved[0], atol=2e-4)


def test_feature_table_run_is_not_offered_for_audio(env, tmp_path):
    """A model fitted on a feature table's own columns cannot tag audio: not listed, and loading says why."""
    import pandas as pd

    rng = np.random.default_rng(3)
    rows = []
    for k, genre in enumerate(["low", "high"]):
        for i, x in enumerate(rng.normal(0, 1, (12, 5)) + 3 * np.eye(5)[k]):
            rows.append({"filename": f"{genre}.{i:05d}.wav", **{f"col{j}": v for j, v in enumerate(x)}, "label": genre})
    table = tmp_path / "features.csv"
    pd.DataFrame(rows).to_csv(table, index=False)
    run_dir = create_run(RunConfig(dataset=str(table), model="logreg", seed=0), runs_dir=env["runs"])
    assert execute_run(run_dir) == "finished"
    card = json.loads((run_dir / "card.json").read_text())
    assert card["feature_columns"] == [f"col{j}" for j in range(5)]
    assert run_dir.name not in [m.name for m in list_models(runs_dir=env["runs"])]
    with pytest.raises(ModelError, match=r"trained on the 5 columns of a feature table \(col0, col1, col2, col3, …\)"):
        load_tagger(run_dir)
    # a card written before feature_columns existed is recognised by its input width
    del card["feature_columns"]
    (run_dir / "card.json").write_text(json.dumps(card))
    with pytest.raises(ModelError, match="cannot tag audio"):
        load_tagger(run_dir)
    # its own evaluation still works from the saved predictions
    from musictag_core.training import evaluate_run

    assert evaluate_run(run_dir)["metrics"]["accuracy"] == json.loads((run_dir / "metrics.json").read_text())["metrics"]["accuracy"]
