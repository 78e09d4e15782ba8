"""#13: the transfer model's scikit-learn heads as run settings, trained by the run path and used by ``tag``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from musictag_core.datasets import open_dataset
from musictag_core.errors import ParameterError
from musictag_core.evaluate import read_predictions
from musictag_core.models.loading import clear_tagger_cache, list_models
from musictag_core.training import RunConfig, create_run, execute_run
from musictag_core.training.transfer_small import HEAD_SPACES

from .helpers import write_tone_dataset

APP = Path(__file__).resolve().parents[1] / "app.py"


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """7 s tones (two 3 s patches each), 6 per label, a private cache and runs folder."""
    base = tmp_path_factory.mktemp("transfer_runs")
    mp = pytest.MonkeyPatch()
    mp.setenv("MUSICTAG_CACHE", str(base / "cache"))
    mp.setenv("MUSICTAG_RUNS", str(base / "runs"))
    data = write_tone_dataset(base / "tones", n_per_genre=6, seconds=7.0)
    yield {"data": data, "runs": base / "runs"}
    mp.undo()
    clear_tagger_cache()


def _fold0_test_scores(run_dir: Path, data: Path) -> tuple[list[str], np.ndarray]:
    """Paths of fold 1's test tracks (the saved model's fold) and their in-run scores (predictions.csv)."""
    card = json.loads((run_dir / "card.json").read_text())
    ids, _, scores, _ = read_predictions(run_dir / "predictions.csv")
    row = {str(i): k for k, i in enumerate(ids)}
    index = open_dataset(str(data))
    path_of = dict(zip(index.tracks["track_id"], index.tracks["path"]))
    test = card["split"]["test"]
    return [path_of[t] for t in test], np.vstack([scores[row[t]] for t in test])


@pytest.mark.slow
@pytest.mark.parametrize(
    ("head", "level", "embedding", "tune"),
    [("logreg", "segment", "both+taggram", True), ("svm", "track", "taggram", False)],
)
def test_sklearn_head_trains_with_cv_records_its_choice_and_tags_like_the_run(env, capsys, head, level, embedding, tune):
    from musictag_core.cli import main

    cfg = RunConfig(dataset=str(env["data"]), model="transfer", head=head, level=level, embedding=embedding,
                    tune=tune, cv=3, seed=0)
    assert cfg.family == "sklearn"
    run_dir = create_run(cfg, runs_dir=env["runs"])
    assert execute_run(run_dir) == "finished", (run_dir / "status.json").read_text()
    card = json.loads((run_dir / "card.json").read_text())
    assert card["format"] == "musictag-sklearn" and (run_dir / "model.joblib").is_file()
    assert card["cv"]["k"] == 3 and card["cv"]["headline"] == "pooled out-of-fold predictions"
    assert len(card["cv"]["folds"]) == 3 and (run_dir / "folds.json").is_file()
    assert card["metrics"]["accuracy"] >= 0.8  # two tones an octave apart: far above chance (0.5)
    t = card["transfer"]
    assert (t["head"], t["level"], t["features"], t["tuned"]) == (head, level, embedding, tune)
    assert t["n_features"] == {"both+taggram": 1756, "taggram": 50}[embedding] == card["input_shape"][0]
    assert card["inputs"]["embedding"] == embedding and card["config"]["head"] == head
    assert card["architecture"] == f"transfer ({head} head, {level} level, {embedding})"
    if tune:
        assert t["search_space"] == HEAD_SPACES[head]
        assert len(t["chosen_per_fold"]) == 3
        assert all(c["model__C"] in HEAD_SPACES[head]["model__C"] for c in t["chosen_per_fold"])
        assert card["tuning"]["per_fold"] == t["chosen_per_fold"] and card["tuning"]["grouped_by"] == "track"
    else:
        assert t["search_space"] is None and t["chosen_per_fold"] is None and card["tuning"] is None
    # the Tag page's model picker lists it; `tag --model RUN` scores fold 1's test files as the run did
    assert run_dir.name in {e.name for e in list_models(runs_dir=env["runs"])}
    paths, saved = _fold0_test_scores(run_dir, env["data"])
    capsys.readouterr()
    assert main(["tag", *paths, "--model", str(run_dir), "--json"]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.strip().splitlines()]
    assert len(lines) == len(paths)
    for obj, expected in zip(lines, saved):
        got = {d["label"]: d["score"] for d in obj["tags"]}
        np.testing.assert_allclose([got[lab] for lab in card["labels"]], expected, atol=1e-4)


@pytest.mark.slow
def test_cli_trains_a_tuned_head_from_set_options(env, capsys):
    from musictag_core.cli import main

    capsys.readouterr()
    code = main(["train", "--dataset", str(env["data"]), "--model", "transfer", "--cv", "2", "--tune",
                 "--set", "head=svm", "--set", "embedding=penultimate", "--run-dir", str(env["runs"]), "--json"])
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 0 and out["state"] == "finished", out
    assert out["cv"]["k"] == 2 and len(out["tuning"]["per_fold"]) == 2
    card = json.loads((env["runs"] / out["run_id"] / "card.json").read_text())
    assert (card["transfer"]["head"], card["transfer"]["features"], card["input_shape"]) == ("svm", "penultimate", [200])
    assert card["transfer"]["chosen_per_fold"] == out["tuning"]["per_fold"]


@pytest.mark.slow
def test_dense_head_reads_the_taggram(env):
    """embedding='taggram' reaches the Keras head too: 50 inputs per patch, tagged through the run loader."""
    from musictag_core.models.loading import load_tagger
    from musictag_core.predict import tag_file

    run_dir = create_run(RunConfig(dataset=str(env["data"]), model="transfer", preset="fast", embedding="taggram",
                                   epochs=2, seed=0), runs_dir=env["runs"])
    assert execute_run(run_dir) == "finished", (run_dir / "status.json").read_text()
    card = json.loads((run_dir / "card.json").read_text())
    assert card["format"] == "musictag-keras" and card["input_shape"] == [50]
    assert card["transfer"]["head"] == "dense" and card["transfer"]["parts"] == ["tags"]
    ids, _, saved, _ = read_predictions(run_dir / "predictions.csv")
    index = open_dataset(str(env["data"]))
    path = dict(zip(index.tracks["track_id"], index.tracks["path"]))[str(ids[0])]
    np.testing.assert_allclose(tag_file(path, load_tagger(run_dir)).scores, saved[0], atol=2e-4)


@pytest.mark.parametrize(
    ("settings", "match"),
    [
        ({"head": "forest"}, "head must be one of dense, logreg, svm, got 'forest'"),
        ({"level": "patch", "head": "logreg"}, "level must be one of segment, track, got 'patch'"),
        ({"embedding": "mfcc"}, "embedding must be one of .*got 'mfcc'"),
        ({"tune": True}, "the dense head has no search space"),
        ({"level": "track"}, "level='track' applies to the logreg and svm heads"),
        ({"head": "svm", "fine_tune": True}, "fine_tune trains musicnn with the dense head, not with head='svm'"),
        ({"fine_tune": True, "embedding": "taggram"}, "not embedding='taggram'"),
        ({"head": "logreg", "task": "regression"}, "for strength regression use head 'dense'"),
        ({"model": "cnn", "head": "logreg"}, "head applies to the transfer model only, not 'cnn'"),
        ({"model": "logreg", "level": "track"}, "level applies to the transfer model only"),
    ],
)
def test_bad_transfer_settings_are_refused_at_creation(settings, match):
    with pytest.raises(ParameterError, match=match):
        RunConfig(dataset="demo", **{"model": "transfer", **settings})


def test_transfer_settings_round_trip_and_reach_the_cli(tmp_path, capsys):
    from musictag_core.cli import main

    cfg = RunConfig(dataset="demo", model="transfer", head="svm", level="track", embedding="both+taggram", tune=True)
    assert RunConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    old = {k: v for k, v in cfg.to_dict().items() if k not in ("head", "level")}  # a run saved before the heads
    assert RunConfig.from_dict({**old, "tune": False}).head == "dense"
    code = main(["train", "--dataset", "demo", "--model", "transfer", "--set", "head=forest", "--run-dir", str(tmp_path)])
    assert code == 2 and "'forest'" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_the_train_page_offers_the_transfer_settings(tmp_path, monkeypatch):
    """AppTest (no browser): the head, level and musicnn outputs appear for transfer; Tune follows the head."""
    testing = pytest.importorskip("streamlit.testing.v1")
    monkeypatch.setenv("MUSICTAG_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("MUSICTAG_CACHE", str(tmp_path / "cache"))
    at = testing.AppTest.from_file(str(APP), default_timeout=120)
    at.switch_page("pages/train.py")
    at.session_state["train_source"] = "demo-hard"
    at.session_state["train_model"] = "transfer"
    at.run()
    assert not at.exception

    def widget(key):  # noqa: ANN001, ANN202
        return next(w for w in [*at.selectbox, *at.checkbox, *at.text_input] if w.key == key)

    assert widget("train_transfer_head").value == "dense"
    assert widget("train_transfer_level").disabled and widget("train_tune").disabled
    assert not widget("train_epochs").disabled
    widget("train_transfer_head").set_value("logreg").run()
    widget("train_transfer_level").set_value("track").run()
    widget("train_transfer_embedding").set_value("taggram").run()
    assert not at.exception
    assert not widget("train_transfer_level").disabled and not widget("train_tune").disabled
    assert widget("train_epochs").disabled  # the scikit-learn head fits in one go
    widget("train_tune").check().run()
    assert not at.exception and not [e for e in at.error if "Settings" in e.value]
    assert not next(b for b in at.button if b.key == "train_start").disabled
