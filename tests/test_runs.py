"""Run summaries for the Train page and the Runs view, on real runs of a tiny tone dataset."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pytest

from musictag_core.errors import ParameterError, TrainingError
from musictag_core.evaluate import headline_metric
from musictag_core.runs import Run, RunWatcher, batch_table, check_runs_writable, epoch_table, format_duration, run_duration_s
from musictag_core.training import RunConfig, compare_metrics, create_run, default_run, execute_run, runs_table, start_run
from musictag_core.viz.train import curves_figure, evaluation_confusion_figure, metrics_table

from .helpers import write_tone_dataset

SR = 22050


@pytest.fixture(scope="module")
def tones(tmp_path_factory) -> Path:
    """low/ (220 Hz) and high/ (1760 Hz): 8 noisy 2 s clips each."""
    return write_tone_dataset(tmp_path_factory.mktemp("tones"), sr=SR)


@pytest.fixture(scope="module")
def finished_runs(tones, tmp_path_factory) -> Path:
    """Two finished classical runs (logreg, gboost) in one runs folder."""
    runs = tmp_path_factory.mktemp("runs")
    for model in ("logreg", "gboost"):
        d = create_run(RunConfig(dataset=str(tones), model=model, seed=0, name=f"tones {model}"), runs_dir=runs)
        assert execute_run(d) == "finished"
    return runs


def test_watcher_follows_a_classical_run(finished_runs):
    d = sorted(p for p in finished_runs.iterdir() if p.is_dir())[0]
    w = RunWatcher(d)
    assert w.phase == "waiting" and w.fraction() is None
    n = w.poll()
    assert n == len(Run(d).events()[0]) and w.offset == (d / "events.jsonl").stat().st_size
    assert w.poll() == 0  # nothing new
    assert w.phase == "done" and w.fraction() == 1.0
    ep = w.epoch_frame()
    assert len(ep) == 1 and "validation_accuracy" in ep.columns
    assert ep.equals(epoch_table(Run(d).events()[0]))


def test_watcher_reads_incrementally_and_skips_partial_lines(tmp_path):
    d = tmp_path / "run"
    d.mkdir()
    lines = [
        {"type": "log", "message": "started"},
        {"type": "log", "message": "preparing inputs", "tracks": 50},
        {"type": "log", "message": "features: 25/50 tracks", "done": 25, "total": 50},
    ]
    (d / "events.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines) + '{"type": "log", "mess')
    w = RunWatcher(d)
    assert w.poll() == 3
    assert w.phase == "preparing" and (w.tracks_done, w.tracks_total) == (25, 50)
    assert "preparing inputs: 25/50 tracks" in w.describe()
    with open(d / "events.jsonl", "a") as fh:
        fh.write('age": "training", "epochs": 2, "batches_per_epoch": 2, "time": 100.0}\n')
        for step, t in ((1, 101.0), (2, 102.0)):
            fh.write(json.dumps({"type": "batch", "epoch": 0, "step": step, "loss": 0.5 / step, "time": t}) + "\n")
    assert w.poll() == 3
    assert w.phase == "training" and w.total_steps() == 4 and w.step == 2
    assert w.fraction() == pytest.approx(0.5)
    assert w.eta_s(now=104.0) == pytest.approx(2 * 3.0)  # 3 s for the 1 batch after the first; 2 to go
    assert "epoch 1/2" in w.describe(now=104.0) and "loss 0.2500" in w.describe(now=104.0)
    with open(d / "events.jsonl", "a") as fh:
        fh.write(json.dumps({"type": "error", "message": "DatasetError: boom"}) + "\n")
    w.poll()
    assert w.phase == "failed" and w.error == "DatasetError: boom"


def test_runs_table_and_headline_metrics(finished_runs, tmp_path):
    df = runs_table(finished_runs)
    assert len(df) == 2 and set(df["model"]) == {"logreg", "gboost"}
    assert set(df["state"]) == {"finished"} and set(df["metric"]) == {"accuracy"}
    assert df["score"].between(0, 1).all() and (df["duration_s"] >= 0).all()
    assert set(df["name"]) == {"tones logreg", "tones gboost"}
    for _, row in df.iterrows():
        ev = Run(finished_runs / row["run_id"]).read_metrics()
        assert row["score"] == ev["metrics"]["accuracy"]
    assert runs_table(tmp_path / "none").empty


def test_headline_metric_per_task():
    m = {"accuracy": 0.7, "map_macro": 0.6, "mae": 12.0, "f1_macro": None}
    assert headline_metric(m, "single") == ("accuracy", 0.7)
    assert headline_metric(m, "multi") == ("map_macro", 0.6)
    assert headline_metric(m, "regression") == ("mae", 12.0)
    assert headline_metric({"f1_macro": None, "roc_auc_macro": 0.9}) == ("roc_auc_macro", 0.9)
    assert headline_metric({}) == (None, None)


def test_durations():
    t0 = "2024-01-01T10:00:00+00:00"
    assert run_duration_s({"started": t0, "ended": "2024-01-01T10:02:05+00:00"}) == 125
    now = dt.datetime(2024, 1, 1, 10, 0, 30, tzinfo=dt.UTC)
    assert run_duration_s({"started": t0, "state": "running"}, now=now) == 30
    assert run_duration_s({"state": "queued"}) is None
    assert [format_duration(s) for s in (None, 42, 185, 3725)] == ["", "42 s", "3 m 05 s", "1 h 02 m"]


def test_compare_and_evaluation_figures_from_saved_metrics(finished_runs):
    dirs = sorted(p for p in finished_runs.iterdir() if p.is_dir())
    table = compare_metrics(dirs)
    assert list(table.columns) == [d.name for d in dirs] and "accuracy" in table.index
    ev = Run(dirs[0]).read_metrics()
    assert metrics_table(ev)["key"].iloc[0] == "accuracy"
    assert np.asarray(evaluation_confusion_figure(ev["confusion"]).data[0].text).sum() == ev["n_tracks"]


def test_default_run_prefers_requested_then_active(tones, tmp_path):
    a = create_run(RunConfig(dataset=str(tones), model="logreg"), runs_dir=tmp_path)  # queued, no worker
    execute_run(create_run(RunConfig(dataset=str(tones), model="logreg"), runs_dir=tmp_path))
    df = runs_table(tmp_path)
    assert default_run(df) == a.name
    done = df.loc[df["state"] == "finished", "run_id"].iloc[0]
    assert default_run(df, requested=done) == done
    assert default_run(df, requested="missing") == a.name
    assert default_run(df[df["state"] == "finished"]) is None


def test_delete_run_refuses_active_runs_and_bad_names(tones, tmp_path):
    queued = create_run(RunConfig(dataset=str(tones), model="logreg"), runs_dir=tmp_path)
    assert Run(queued).status()["state"] == "queued"
    with pytest.raises(TrainingError, match="queued"):
        Run.open(queued.name, runs_dir=tmp_path).delete()
    assert queued.exists()
    for bad in ("", "..", "a/b", None):
        with pytest.raises(ParameterError):
            Run.open(bad, runs_dir=tmp_path).delete()
    (tmp_path / "notarun").mkdir()
    with pytest.raises(TrainingError, match="not a run"):
        Run.open("notarun", runs_dir=tmp_path).delete()
    execute_run(queued)
    assert Run.open(queued.name, runs_dir=tmp_path).delete() == queued and not queued.exists()


def _launch_checked(config, **kw):
    """What the Train page does: check the runs folder, then create the run and start its worker."""
    return start_run(config, check=True, **kw)


def test_unwritable_runs_folder_is_refused_before_anything_is_written(tones, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    cfg = RunConfig(dataset=str(tones), model="logreg")
    for bad in (blocker, blocker / "runs"):
        with pytest.raises(TrainingError, match="runs folder .* cannot be created"):
            check_runs_writable(bad)
        with pytest.raises(TrainingError, match="MUSICTAG_RUNS"):
            _launch_checked(cfg, runs_dir=bad)
    assert blocker.read_text() == "not a folder"
    with pytest.raises(TrainingError, match="MB free"):
        check_runs_writable(tmp_path / "ok", min_free_bytes=2**62)
    assert check_runs_writable(tmp_path / "ok") == tmp_path / "ok" and list((tmp_path / "ok").iterdir()) == []


def test_launch_run_leaves_no_half_written_run(tones, tmp_path):
    # a python that does not exist: the folder is made, the worker cannot start -> removed again
    with pytest.raises(TrainingError, match="nothing was kept"):
        _launch_checked(RunConfig(dataset=str(tones), model="logreg"), runs_dir=tmp_path, python=str(tmp_path / "no-python"))
    assert [p for p in tmp_path.iterdir() if p.is_dir()] == []


@pytest.mark.slow
def test_watcher_and_curves_on_a_real_neural_run(tones, tmp_path):
    cfg = RunConfig(
        dataset=str(tones), model="cnn", preset="fast", epochs=2, batch_size=8, patience=0,
        segments={"length_s": 0.5, "n_segments": 4}, features={"n_mels": 32}, learning_rate=1e-3, seed=1,
    )  # fmt: skip
    d = create_run(cfg, runs_dir=tmp_path)
    assert execute_run(d) == "finished"
    w = RunWatcher(d)
    w.poll()
    assert w.phase == "done" and w.epochs_total == 2 and w.batches_per_epoch >= 1
    assert w.step == 2 * w.batches_per_epoch
    ep = w.epoch_frame()
    assert list(ep["epoch"]) == [1, 2] and {"train_loss", "validation_loss", "validation_accuracy"} <= set(ep.columns)
    assert len(w.batch_frame()) == w.step
    fig = curves_figure(ep, metric="loss", batches=w.batch_frame(), batches_per_epoch=w.batches_per_epoch)
    assert [t.name for t in fig.data] == ["batch loss", "train", "validation"]
    assert fig.data[0].x[-1] == pytest.approx(2.0)
    assert batch_table(Run(d).events()[0])["loss"].tolist() == w.batch_frame()["loss"].tolist()


def test_worker_starts_as_a_module_of_the_installed_package_from_any_folder(tones, tmp_path, monkeypatch):
    """Run.launch starts `sys.executable -m musictag_core.training.worker RUN_DIR` with no PYTHONPATH and
    no cwd of its own: from a folder outside the checkout the installed package is found, and the run
    trains, finishes and is listed with its metrics."""
    import time

    from musictag_core.runs import WORKER_MODULE, list_runs

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    monkeypatch.delenv("PYTHONPATH", raising=False)
    run = Run.open(start_run(RunConfig(dataset=str(tones), model="logreg"), runs_dir=tmp_path / "runs"),
                   runs_dir=tmp_path / "runs")
    assert WORKER_MODULE == "musictag_core.training.worker"
    t0 = time.time()
    while run.status()["state"] in ("queued", "running") and time.time() - t0 < 120:
        time.sleep(0.2)
    assert run.status()["state"] == "finished", (run.status(), run.log_tail())
    # the launcher reaps its finished worker: no zombie child is left behind
    pid = json.loads((run.path / "worker.pid").read_text())["pid"]
    t0 = time.time()
    while Path(f"/proc/{pid}").exists() and time.time() - t0 < 30:
        time.sleep(0.1)
    assert not Path(f"/proc/{pid}").exists(), Path(f"/proc/{pid}/status").read_text()[:200]
    (row,) = list_runs(tmp_path / "runs")
    assert row["run_id"] == run.run_id and row["metrics"]["accuracy"] >= 0.5
    assert not any(elsewhere.iterdir())  # the worker wrote nothing into the caller's folder


def test_run_owns_its_files(tmp_path):
    """Run: create -> queued status, events written and read back from an offset, stop request, the
    worker log's tail, output names confined to the folder, and a folder that is not a run refused."""
    from musictag_core.runs import EventWriter

    run = Run.create({"dataset": "d", "model": "logreg"}, model="logreg", runs_dir=tmp_path)
    assert run.exists() and run.path.parent == tmp_path and "-logreg-" in run.run_id
    st = run.stored_status()
    assert st["state"] == "queued" and st["run_id"] == run.run_id and run.read_config()["dataset"] == "d"
    w = run.open_events()
    assert isinstance(w, EventWriter)
    w.write("log", message="started")
    w.write("batch", epoch=0, step=1, loss=0.5)
    w.close()
    events, offset = run.events()
    assert [e["type"] for e in events] == ["log", "batch"] and run.events(since=offset) == ([], offset)
    assert run.last_message() == "started"
    assert not run.stop_requested()
    run.request_stop()
    assert run.stop_requested()
    (run.path / "worker.log").write_text("one\ntwo\nthree\n")
    assert run.log_tail(max_lines=2) == ["two", "three"]
    for bad in ("../x", "a/b", "", ".."):
        with pytest.raises(ParameterError):
            run.output_path(bad)
    assert run.output_path("model.keras") == run.path / "model.keras" and run.model_file() is None
    watcher = run.watch()
    assert isinstance(watcher, RunWatcher) and watcher.poll() == 2
    with pytest.raises(TrainingError, match="not a run folder"):
        Run(tmp_path / "nothing").status()
    with pytest.raises(TrainingError, match="not a run folder"):
        Run(tmp_path / "nothing").request_stop()


def test_an_uploaded_table_is_kept_with_its_run(tmp_path):
    """start_run(keep_dataset_file=True) trains on a copy inside the run folder: the upload's session
    folder can be gone before the queued run starts, and the run still finishes on the same data."""
    import time

    import pandas as pd

    rng = np.random.default_rng(3)
    rows = []
    for k, genre in enumerate(["low", "high"]):
        for i, x in enumerate(rng.normal(0, 1, (12, 5)) + 3 * np.eye(5)[k]):
            rows.append({"filename": f"{genre}.{i:05d}.wav", **{f"col{j}": v for j, v in enumerate(x)}, "label": genre})
    upload = tmp_path / "session" / "uploads" / "features.csv"
    upload.parent.mkdir(parents=True)
    pd.DataFrame(rows).to_csv(upload, index=False)
    original = upload.read_bytes()
    run = Run.open(start_run(RunConfig(dataset=str(upload), model="logreg"), runs_dir=tmp_path / "runs",
                             keep_dataset_file=True), runs_dir=tmp_path / "runs")
    kept = Path(run.read_config()["dataset"])
    assert kept.parent == run.path / "inputs" and kept.read_bytes() == original
    upload.unlink()  # the session ended
    t0 = time.time()
    while run.status()["state"] in ("queued", "running") and time.time() - t0 < 120:
        time.sleep(0.2)
    assert run.status()["state"] == "finished", (run.status(), run.log_tail())
    assert run.read_card()["dataset"]["spec"] == str(kept)
