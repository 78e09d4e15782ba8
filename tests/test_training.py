"""Training runs end to end on a tiny synthetic two-genre dataset (sine tones)."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import numpy as np
import pytest

from musictag_core.errors import DatasetError, ModelError, ParameterError
from musictag_core.evaluate import evaluate_predictions, read_predictions
from musictag_core.runs import Run, list_runs
from musictag_core.training import RunConfig, create_run, evaluate_run, execute_run, parse_set, start_run

from .helpers import write_tone_dataset

SR = 22050


@pytest.fixture(scope="module")
def tones(tmp_path_factory) -> Path:
    """A folder dataset: low/ (220 Hz) and high/ (1760 Hz), 8 noisy 2 s clips each."""
    return write_tone_dataset(tmp_path_factory.mktemp("tones"), sr=SR)


def _cnn_config(dataset: Path, **kw) -> RunConfig:
    base = dict(
        dataset=str(dataset), model="cnn", preset="fast", epochs=1, batch_size=8,
        segments={"length_s": 0.5, "n_segments": 4}, features={"n_mels": 32}, learning_rate=1e-3, seed=1,
    )
    base.update(kw)
    return RunConfig(**base)


def _check_metrics_match_predictions(run_dir: Path) -> None:
    metrics = json.loads((run_dir / "metrics.json").read_text())
    card = json.loads((run_dir / "card.json").read_text())
    _, y_true, y_score, labels = read_predictions(run_dir / "predictions.csv")
    again = evaluate_predictions(
        y_true, y_score, task=card["task"], labels=labels, thresholds=card["thresholds"], threshold=card["threshold"]
    )
    assert again["metrics"] == metrics["metrics"]
    assert evaluate_run(run_dir)["metrics"] == metrics["metrics"]
    assert card["labels"] == labels == ["high", "low"]
    assert sorted(card["split"]) == ["test", "train", "validation"]


def test_run_config_validation_and_set():
    with pytest.raises(ModelError, match="unknown model"):
        RunConfig(dataset="x", model="resnet")
    with pytest.raises(ParameterError, match="optimizer"):
        RunConfig(dataset="x", model="cnn", optimizer="rmsprop")
    with pytest.raises(ParameterError, match="cv"):
        RunConfig(dataset="x", model="cnn", cv=1)
    with pytest.raises(ParameterError, match="unknown run setting"):
        RunConfig.from_dict({"dataset": "x", "model": "cnn", "epoch": 3})
    with pytest.raises(ParameterError):
        RunConfig(dataset="x", model="cnn", segments={"length_s": -1})
    d = parse_set(["epochs=3", "augment.pitch_shift=true", "learning_rate=1e-3"], {"dataset": "x", "model": "cnn"})
    cfg = RunConfig.from_dict(d)
    assert cfg.epochs == 3 and cfg.augment.pitch_shift is True and cfg.learning_rate == 1e-3
    assert RunConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg


def test_one_epoch_cnn_run_end_to_end(tones, tmp_path):
    run_dir = create_run(_cnn_config(tones), runs_dir=tmp_path)
    assert Run(run_dir).status()["state"] == "queued"
    assert execute_run(run_dir) == "finished"
    st = Run(run_dir).status()
    assert st["state"] == "finished" and st["error"] is None
    events, offset = Run(run_dir).events()
    kinds = [e["type"] for e in events]
    assert "batch" in kinds and kinds.count("epoch") == 1
    batch = next(e for e in events if e["type"] == "batch")
    assert batch["step"] == 1 and np.isfinite(batch["loss"])
    epoch = next(e for e in events if e["type"] == "epoch")
    assert {"accuracy", "roc_auc_macro", "loss"} <= set(epoch["validation"]) and "loss" in epoch["train"]
    assert Run(run_dir).events(since=offset) == ([], offset)
    for f in ("config.json", "status.json", "model.keras", "card.json", "metrics.json", "predictions.csv"):
        assert (run_dir / f).exists(), f
    assert not list(run_dir.glob(".*tmp*"))  # no temporary files left behind
    _check_metrics_match_predictions(run_dir)
    card = json.loads((run_dir / "card.json").read_text())
    assert card["format"] == "musictag-keras" and card["features"]["n_mels"] == 32
    # the saved model loads and has the normalisation adapted inside it
    import keras

    model = keras.models.load_model(run_dir / "model.keras")
    assert model.output_shape == (None, 2)
    runs = list_runs(tmp_path)
    assert runs[0]["run_id"] == run_dir.name and runs[0]["model_file"].endswith("model.keras")


@pytest.mark.parametrize("model", ["logreg", "voting"])
def test_classical_run_learns_the_tones(tones, tmp_path, model):
    cfg = RunConfig(dataset=str(tones), model=model, seed=0)
    run_dir = create_run(cfg, runs_dir=tmp_path)
    assert execute_run(run_dir) == "finished", Run(run_dir).status()
    _check_metrics_match_predictions(run_dir)
    metrics = json.loads((run_dir / "metrics.json").read_text())["metrics"]
    assert metrics["accuracy"] == 1.0  # a 220 Hz vs 1760 Hz tone is trivially separable
    assert (run_dir / "model.joblib").exists()
    assert json.loads((run_dir / "card.json").read_text())["format"] == "musictag-sklearn"


def test_cross_validation_reports_mean_and_spread(tones, tmp_path):
    run_dir = create_run(RunConfig(dataset=str(tones), model="logreg", cv=3), runs_dir=tmp_path)
    assert execute_run(run_dir) == "finished"
    cv = json.loads((run_dir / "metrics.json").read_text())["cv"]
    assert cv["k"] == 3 and len(cv["folds"]) == 3
    accs = [f["accuracy"] for f in cv["folds"]]
    assert cv["mean"]["accuracy"] == pytest.approx(np.mean(accs))
    assert cv["std"]["accuracy"] == pytest.approx(np.std(accs, ddof=1))


def test_stop_while_queued_and_failure_is_reported(tones, tmp_path):
    run_dir = create_run(_cnn_config(tones), runs_dir=tmp_path)
    Run(run_dir).request_stop()
    assert execute_run(run_dir) == "stopped"
    assert Run(run_dir).status()["state"] == "stopped"
    # a dataset that is gone when the worker starts fails the run with the reason
    gone = tmp_path / "gone"
    import shutil

    shutil.copytree(tones, gone)
    bad = create_run(_cnn_config(gone), runs_dir=tmp_path)
    shutil.rmtree(gone)
    assert execute_run(bad) == "failed"
    st = Run(bad).status()
    assert st["state"] == "failed" and "gone" in st["error"]
    # one that is missing from the start is refused by the pre-flight check: no run folder
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(DatasetError, match="missing"):
        create_run(_cnn_config(tmp_path / "missing"), runs_dir=tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def _wait(pred, timeout: float, what: str):
    t0 = time.time()
    while time.time() - t0 < timeout:
        value = pred()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _has_batches(run_dir: Path) -> bool:
    return any(e["type"] == "batch" for e in Run(run_dir).events()[0])


@pytest.mark.slow
def test_worker_processes_queue_stop_and_kill(tones, tmp_path):
    """Two detached workers: the second waits queued; stop ends the first with an
    evaluation; SIGKILL of the second is reported as failed."""
    many = dict(epochs=500, patience=0)
    a = tmp_path / start_run(_cnn_config(tones, **many), runs_dir=tmp_path)
    time.sleep(0.05)
    b = tmp_path / start_run(_cnn_config(tones, **many), runs_dir=tmp_path)
    _wait(lambda: _has_batches(a), 120, "run A to train")
    assert Run(a).status()["state"] == "running"
    assert Run(b).status()["state"] == "queued"
    Run(a).request_stop()
    _wait(lambda: Run(a).status()["state"] not in ("queued", "running"), 120, "run A to stop")
    st = Run(a).status()
    assert st["state"] == "stopped", st
    assert (a / "metrics.json").exists() and (a / "model.keras").exists()
    _check_metrics_match_predictions(a)
    assert json.loads((a / "card.json").read_text())["stopped_early_by_request"] is True
    # B now runs; kill it hard
    _wait(lambda: _has_batches(b), 120, "run B to train")
    pid = Run(b).status()["pid"]
    os.kill(pid, signal.SIGKILL)
    _wait(lambda: Run(b).status()["state"] == "failed", 30, "run B to be reported failed")
    st = Run(b).status()
    assert "killed or crashed" in st["error"] and str(pid) in st["error"]
    assert [r["state"] for r in list_runs(tmp_path)] and {r["run_id"] for r in list_runs(tmp_path)} == {a.name, b.name}


def test_cli_runs_and_evaluate(tones, tmp_path, capsys):
    from musictag_core.cli import main

    rc = main(["train", "--dataset", str(tones), "--model", "logreg", "--run-dir", str(tmp_path), "--set", "seed=3"])
    assert rc == 0
    out = capsys.readouterr().out
    assert "state: finished" in out and "accuracy" in out
    assert main(["runs", "--run-dir", str(tmp_path), "--json"]) == 0
    runs = json.loads(capsys.readouterr().out)
    assert len(runs) == 1 and runs[0]["state"] == "finished"
    assert main(["evaluate", runs[0]["run_id"], "--run-dir", str(tmp_path), "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["metrics"] == runs[0]["metrics"]
    assert main(["train", "--model", "logreg"]) == 2  # no dataset


def _log(run_dir: Path, message: str) -> dict:
    return next(e for e in Run(run_dir).events()[0] if e["type"] == "log" and e["message"] == message)


def test_second_run_reads_features_from_the_cache(tones, tmp_path, monkeypatch):
    monkeypatch.setenv("MUSICTAG_CACHE", str(tmp_path / "cache"))
    first = create_run(RunConfig(dataset=str(tones), model="logreg"), runs_dir=tmp_path / "runs")
    assert execute_run(first) == "finished"
    assert _log(first, "features: done")["computed"] == 16
    second = create_run(RunConfig(dataset=str(tones), model="gboost", seed=5), runs_dir=tmp_path / "runs")
    assert execute_run(second) == "finished"
    done = _log(second, "features: done")
    assert done["cached"] == 16 and done["computed"] == 0


def test_augmented_variants_are_computed_once_and_sampled(tones, tmp_path, monkeypatch):
    monkeypatch.setenv("MUSICTAG_CACHE", str(tmp_path / "cache"))
    aug = {"gain": True, "gain_p": 1.0, "noise": True, "noise_p": 1.0}
    cfg = _cnn_config(tones, augment=aug, n_variants=2, epochs=2)
    first = create_run(cfg, runs_dir=tmp_path / "runs")
    assert execute_run(first) == "finished", Run(first).status()
    n_train = len(json.loads((first / "card.json").read_text())["split"]["train"])
    assert _log(first, "augmentation: 2 variants per training track")["jobs"] == n_train
    variants = list((tmp_path / "cache" / "inputs").rglob("*-aug*.npy"))
    assert len(variants) == 2 * n_train
    # the variants differ from the original features and from each other
    store = list((tmp_path / "cache" / "features").rglob("*.npy"))
    digest = variants[0].name.split("-")[0]
    orig = np.load(next(p for p in store if p.stem == digest))
    mine = sorted(p for p in variants if p.name.startswith(digest))
    a, b = (np.load(p) for p in mine)
    assert a.shape == orig.shape and not np.allclose(a, orig) and not np.allclose(a, b)
    second = create_run(cfg, runs_dir=tmp_path / "runs")
    assert execute_run(second) == "finished"
    assert _log(second, "augmentation: 2 variants per training track")["jobs"] == 0


def test_stacked_run_with_neural_out_of_fold_probabilities(tones, tmp_path):
    run_dir = create_run(RunConfig(dataset=str(tones), model="stacked"), runs_dir=tmp_path)
    assert execute_run(run_dir) == "finished", Run(run_dir).status()
    import joblib

    from musictag_core.models.classical import KerasMLPClassifier, OOFStackingClassifier

    model = joblib.load(run_dir / "model.joblib")
    assert isinstance(model, OOFStackingClassifier) and isinstance(model.proba_estimator_, KerasMLPClassifier)
    assert model.estimator_.n_features_in_ == model.n_features_in_ + 2  # features + 2 OOF probabilities
    assert json.loads((run_dir / "metrics.json").read_text())["metrics"]["accuracy"] == 1.0


def test_evaluate_on_another_dataset(tones, tmp_path, capsys):
    import shutil

    from musictag_core.cli import main
    from musictag_core.errors import DatasetError

    run_dir = create_run(RunConfig(dataset=str(tones), model="logreg"), runs_dir=tmp_path / "runs")
    assert execute_run(run_dir) == "finished"
    res = evaluate_run(run_dir, dataset=str(tones))
    assert res["dataset"]["n_tagged"] == 16 and res["metrics"]["accuracy"] == 1.0
    # a dataset with only one of the run's labels is scored on that label
    only_low = tmp_path / "only_low"
    shutil.copytree(tones / "low", only_low / "low")
    shutil.copytree(tones / "high", only_low / "high")
    (only_low / "low" / "low.00000.wav").write_bytes(b"not audio")
    res = evaluate_run(run_dir, dataset=str(only_low))
    assert res["dataset"]["n_tagged"] == 15 and list(res["failures"]) == [str(only_low / "low" / "low.00000.wav")]
    # unmatched labels are named
    other = tmp_path / "other"
    shutil.copytree(tones / "low", other / "low")
    shutil.copytree(tones / "high", other / "mid")
    with pytest.raises(DatasetError, match=r"\['mid'\].*its labels are \['high', 'low'\]"):
        evaluate_run(run_dir, dataset=str(other))
    assert main(["evaluate", str(run_dir), "--dataset", str(tones)]) == 0
    out = capsys.readouterr().out
    assert "16/16 tracks tagged" in out and "accuracy: 1.0000" in out
    assert main(["evaluate", str(run_dir), "--dataset", str(other)]) == 2


@pytest.mark.slow
@pytest.mark.parametrize("model", ["logreg", "cnn", "transfer"])
def test_fast_preset_beats_chance_on_the_demo_corpus(model, tmp_path):
    """Each fast preset learns the demo styles (6 classes, chance 1/6) well above chance.

    Times are measured by bench/bench_train.py (demo section), never asserted here.
    """
    cfg = RunConfig(dataset="demo", model=model, preset="fast", task="single", seed=0)
    run_dir = create_run(cfg, runs_dir=tmp_path)
    assert execute_run(run_dir) == "finished", Run(run_dir).status()
    metrics = json.loads((run_dir / "metrics.json").read_text())["metrics"]
    assert metrics["accuracy"] >= 0.6, metrics  # chance is 0.17


@pytest.mark.slow
@pytest.mark.parametrize("model", sorted(__import__("musictag_core.models.registry", fromlist=["x"]).MODEL_CARDS))
def test_every_model_trains_on_the_demo_corpus_from_the_command_line(model, tmp_path, capsys):
    """Each registered model: ``train --dataset demo --preset fast`` on 36 clips, 2 epochs, then evaluated,
    listed by ``models`` and able to tag a demo clip."""
    from musictag_core.cli import main
    from musictag_core.datasets.demo import demo_corpus_dir
    from musictag_core.models.loading import list_models, load_tagger
    from musictag_core.predict import tag_file

    args = ["train", "--dataset", "demo", "--model", model, "--preset", "fast", "--run-dir", str(tmp_path),
            "--set", "max_tracks=36", "--set", "epochs=2", "--set", "task=single"]  # fmt: skip
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "state: finished" in out, out[-2000:]
    (run_dir,) = [p for p in tmp_path.iterdir() if (p / "status.json").exists()]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    m = metrics["metrics"]
    for key in ("accuracy", "hamming_loss", "f1_micro", "f1_macro", "map_macro", "roc_auc_macro", "log_loss"):
        assert key in m and m[key] is not None, (key, m)
    # single-label: precision@k would say nothing, so it is not reported, and the result says why
    assert not any(k.startswith("precision_at_") for k in m), m
    assert metrics["k"] is None and "precision_at_k" in metrics["skipped_metrics"]
    assert metrics["confusion"] and metrics["per_label"]
    card = json.loads((run_dir / "card.json").read_text())
    assert card["labels"] and card["split"]
    assert (run_dir / "model.keras").exists() or (run_dir / "model.joblib").exists()
    assert run_dir.name in [t.name for t in list_models(runs_dir=tmp_path)]
    clip = sorted(demo_corpus_dir().rglob("*.wav"))[0]
    pred = tag_file(clip, load_tagger(run_dir.name, runs_dir=tmp_path))
    assert pred.scores.shape[-1] == len(card["labels"]) and np.isfinite(pred.scores).all()
