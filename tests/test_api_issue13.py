"""Issue #13's cases through the REST API (``TestClient``, one app per module).

What the command line and the Train page already show, the API must answer too:

* a run the pre-flight check refuses (no test split possible, one-class data, a single-track label
  for svc under CV or leave-one-out, leave-one-out on too many tracks) is a 4xx JSON ``{error, detail}``
  naming the labels and the setting that would work, and leaves no run folder;
* the evaluation settings (``cv`` capped at the smallest class, ``cv: "loo"``, ``cv_repeats``,
  ``test_split: false``, ``tune``) are validated (422 naming the setting) and run, with pooled
  metrics, the notes and the metrics that fit the task in ``GET /v1/runs/{id}``;
* a feature table's column rule (``filename``, ``length``, constant columns left out; ``keep_columns``)
  in the run's status (``GET /v1/runs/{id}``: what ``train --json`` prints from the card) and in ``/v1/datasets/describe``;
* FMA's ``subset`` on ``/v1/datasets/describe`` (the real metadata sample), refused for other forms;
* a FIFO under the data root refused at once as "not a regular file" (describe, runs, tag-dataset);
* a clip shorter than a segment tagged with ``warnings``; one under 0.5 s refused with a 422.

Real computations on tiny data: feature tables of 11 to 40 rows, the shared real metadata sample.
"""

from __future__ import annotations

import io
import json
import os
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

from fastapi.testclient import TestClient  # noqa: E402

from musictag_core.api import create_app  # noqa: E402
from musictag_core.api.settings import ApiSettings  # noqa: E402
from musictag_core.cli import main  # noqa: E402

from .helpers import write_tone_dataset  # noqa: E402
from .test_eval_cv import COUNTS, small_table  # noqa: E402

META = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "meta"
FINAL = ("finished", "failed", "stopped")


@pytest.fixture(scope="module")
def data_root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("api13-data")


@pytest.fixture(scope="module")
def runs_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("api13-runs")


@pytest.fixture(scope="module")
def client(data_root, runs_dir, tmp_path_factory):
    """One app for the module: its own data root, runs folder and cache; no model warm-up."""
    mp = pytest.MonkeyPatch()
    mp.setenv("MUSICTAG_DATA", str(data_root))
    mp.setenv("MUSICTAG_RUNS", str(runs_dir))
    mp.setenv("MUSICTAG_CACHE", str(tmp_path_factory.mktemp("api13-cache")))
    mp.delenv("MUSICTAG_API_TOKEN", raising=False)
    app = create_app(ApiSettings(runs_dir=str(runs_dir), warm=()))
    with TestClient(app) as c:
        yield c
    mp.undo()


@pytest.fixture(scope="module")
def tables(data_root) -> dict[str, Path]:
    """The issue's shapes as feature tables under the data root."""
    return {
        "small": small_table(data_root / "small.csv"),  # 38 tracks, 9 genres, three with 2 tracks
        "one": small_table(data_root / "one.csv", {"blues": 6}),
        "lonely": small_table(data_root / "lonely.csv", {**COUNTS, "classical": 1}),
        "tiny": small_table(data_root / "tiny.csv", {"a": 4, "b": 4, "c": 3}),
        "big": small_table(data_root / "big.csv", {"a": 110, "b": 110}),
        "artists": small_table(data_root / "artists.csv", {"blues": 6, "jazz": 6, "rock": 6}, artists=2),
        "leak": leak_table(data_root / "leak.csv"),
    }


def leak_table(path: Path) -> Path:
    """18 rows of 3 labels: 3 real features, a ``filename``, a ``length`` that gives the label away, a constant."""
    rng = np.random.default_rng(1)
    rows = ["filename,length,const,label,f0,f1,f2"]
    for g, label in enumerate(("a", "b", "c")):
        for i in range(6):
            x = rng.standard_normal(3) + 2.0 * np.eye(3)[g]
            rows.append(f"{label}.{i}.wav,{660000 + 1000 * g + i},7,{label}," + ",".join(f"{v:.4f}" for v in x))
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def _run_folders(runs_dir: Path) -> list[str]:
    return sorted(p.name for p in runs_dir.iterdir() if p.is_dir()) if runs_dir.exists() else []


def _refused(client, runs_dir: Path, body: dict, status: int) -> str:
    before = _run_folders(runs_dir)
    r = client.post("/v1/runs", json=body)
    assert r.status_code == status, (body, r.status_code, r.text)
    assert set(r.json()) == {"error", "detail"} and "Traceback" not in r.text
    assert _run_folders(runs_dir) == before  # refused before any run folder exists
    return r.json()["detail"]


# ---------------------------------------------------------------- the pre-flight check


def test_a_run_preflight_refuses_is_a_4xx_naming_the_labels_and_the_setting_that_works(client, runs_dir, tables, data_root):
    # k-fold's small folder without CV: too small for a test split; the detail names the short labels,
    # the largest K, and the settings (cv, test_split) an API client sets
    detail = _refused(client, runs_dir, {"dataset": str(tables["small"]), "model": "logreg"}, 409)
    assert "'blues' (2), 'country' (2), 'disco' (2)" in detail
    assert "setting cv: 2" in detail and "test_split: false" in detail and "fewer parts" not in detail
    # one-class feature table
    detail = _refused(client, runs_dir, {"dataset": str(tables["one"]), "model": "logreg"}, 409)
    assert "one-class data" in detail and "'blues'" in detail
    # a single-track label for svc: under K-fold and under leave-one-out
    for cv in (3, "loo"):
        detail = _refused(client, runs_dir, {"dataset": str(tables["lonely"]), "model": "svc", "cv": cv}, 409)
        assert "'classical' (1) have a single track" in detail and "at least 2 tracks per label" in detail, cv
    # leave-one-out is offered up to 200 tracks; the detail names the K that works
    detail = _refused(client, runs_dir, {"dataset": str(tables["big"]), "model": "logreg", "cv": "loo"}, 409)
    assert "up to 200 tracks" in detail and "220" in detail and "--cv K (K up to 110)" in detail
    # the same with audio folders (the case): 2 clips per genre, 1 clip per genre, no clips at all
    two = write_tone_dataset(data_root / "two-per-genre", n_per_genre=2, seconds=0.6)
    detail = _refused(client, runs_dir, {"dataset": str(two), "model": "transfer"}, 409)
    assert "'low' (2)" in detail and "'high' (2)" in detail and "setting cv: 2" in detail
    one = write_tone_dataset(data_root / "one-per-genre", n_per_genre=1, seconds=0.6)
    detail = _refused(client, runs_dir, {"dataset": str(one), "model": "cnn", "cv": 5}, 409)
    assert "have a single track" in detail and "'low' (1)" in detail
    (data_root / "empty").mkdir(exist_ok=True)
    detail = _refused(client, runs_dir, {"dataset": str(data_root / "empty"), "model": "logreg"}, 422)
    assert "no clips found" in detail and "one subfolder per genre" in detail
    # artist grouping asked outright on two artists per label: refused naming the way out
    detail = _refused(client, runs_dir, {"dataset": str(tables["artists"]), "model": "logreg", "group_by_artist": True}, 409)
    assert "too few artists" in detail and "'blues' (2)" in detail and "--cv 2" in detail


def test_the_preflight_route_shows_the_plan_without_starting_anything(client, runs_dir, tables):
    from musictag_core.training import RunConfig
    from musictag_core.training.preflight import preview

    before = _run_folders(runs_dir)
    body = {"dataset": str(tables["small"]), "model": "logreg", "cv": 5}
    r = client.post("/v1/runs/preflight", json=body)
    assert r.status_code == 200, r.text
    plan = r.json()
    assert plan == preview(RunConfig(**body)).to_dict()  # the check the Train page shows before Start
    assert (plan["evaluation"], plan["k"], plan["k_requested"], plan["max_k"], plan["n_folds"]) == ("kfold", 2, 5, 2, 2)
    assert plan["counts"]["blues"] == 2 and any("2 folds, not 5" in n for n in plan["notes"])
    # a refusal is the one starting the run would get
    refused = client.post("/v1/runs/preflight", json={"dataset": str(tables["small"]), "model": "logreg"})
    started = client.post("/v1/runs", json={"dataset": str(tables["small"]), "model": "logreg"})
    assert refused.status_code == started.status_code == 409 and refused.json() == started.json()
    # folds grouped by artist whenever artists are known (StratifiedGroupKFold); off on request
    grouped = client.post("/v1/runs/preflight", json={"dataset": str(tables["artists"]), "model": "logreg", "cv": 2}).json()
    assert (grouped["grouped_by"], grouped["unit"], grouped["k"]) == ("artist", "artists", 2)
    flat = client.post("/v1/runs/preflight", json={"dataset": str(tables["artists"]), "model": "logreg", "cv": 5,
                                                   "group_by_artist": False}).json()
    assert (flat["grouped_by"], flat["unit"], flat["k"]) == (None, "tracks", 5)
    # both demo corpora are datasets the API takes (from their plan: nothing is generated)
    for demo in ("demo", "demo-hard"):
        r = client.post("/v1/runs/preflight", json={"dataset": demo, "model": "logreg", "cv": 3})
        assert r.status_code == 200 and r.json()["k"] == 3 and r.json()["n_tracks"] > 100, (demo, r.text)
    assert _run_folders(runs_dir) == before


def test_evaluation_settings_are_validated_naming_the_setting(client, runs_dir, tables):
    small = str(tables["small"])
    cases = [
        ({"cv": 1}, "cv must be 0 (off), an int >= 2 or 'loo'"),
        ({"cv": "many"}, "cv must be 0 (off), an int >= 2 or 'loo'"),
        ({"cv": -3}, "cv must be"),
        ({"cv_repeats": 0, "cv": 3}, "cv_repeats must be an int in 1-100"),
        ({"cv_repeats": 2}, "cv_repeats repeats cross-validation folds: also set cv"),
        ({"cv": "loo", "cv_repeats": 2}, "cv_repeats does not apply to leave-one-out"),
        ({"test_split": "no"}, "test_split must be true or false"),
        ({"tune": 1}, "tune must be true or false"),
        ({"group_by_artist": "yes"}, "group_by_artist must be 'auto', true or false"),
        ({"keep_columns": "length"}, "keep_columns must be a list of column names"),
    ]
    for extra, reason in cases:
        detail = _refused(client, runs_dir, {"dataset": small, "model": "logreg", **extra}, 422)
        assert reason in detail, (extra, detail)
    detail = _refused(client, runs_dir, {"dataset": small, "model": "cnn", "tune": True}, 422)
    assert "tune applies to logreg, svc" in detail
    # what the Train form blocks, the API refuses too, naming the setting (nothing falls back to another value)
    for extra, reason in (({"epochs": 0}, "epochs must be a positive int"), ({"learning_rate": 1e9}, "learning_rate must be in (0, 10)"),
                          ({"batch_size": 0}, "batch_size must be a positive int"), ({"dropout": 5}, "dropout must be in [0, 1)")):
        detail = _refused(client, runs_dir, {"dataset": small, "model": "cnn", **extra}, 422)
        assert reason in detail, (extra, detail)
    # column overrides belong to feature tables: refused for an audio folder, naming it
    folder = tables["small"].parent / "songs"
    (folder / "rock").mkdir(parents=True, exist_ok=True)
    detail = _refused(client, runs_dir, {"dataset": str(folder), "model": "logreg", "drop_columns": ["f0"]}, 422)
    assert "feature tables only" in detail


# ---------------------------------------------------------------- runs with the CV options


def _wait_run(client, run_id: str, timeout_s: float = 240) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        st = client.get(f"/v1/runs/{run_id}").json()
        if st["state"] in FINAL:
            return st
        time.sleep(0.5)
    raise AssertionError(f"run {run_id} did not end in {timeout_s} s")


@pytest.fixture(scope="module")
def api_runs(client, tables) -> dict[str, tuple[dict, dict]]:
    """Six small runs started through the API (queued, trained one at a time): name -> status."""
    bodies = {
        "capped": {"dataset": str(tables["small"]), "model": "logreg", "cv": 5},
        "loo": {"dataset": str(tables["tiny"]), "model": "logreg", "cv": "loo"},
        "repeats_tuned": {"dataset": str(tables["tiny"]), "model": "svc", "cv": 2, "cv_repeats": 2, "tune": True},
        "no_test_split": {"dataset": str(tables["small"]), "model": "svc", "test_split": False},
        "leak": {"dataset": str(tables["leak"]), "model": "logreg", "cv": 3},
        "leak_kept": {"dataset": str(tables["leak"]), "model": "logreg", "cv": 3, "keep_columns": ["length"],
                      "drop_columns": ["f2"]},
    }
    ids = {}
    for name, body in bodies.items():
        r = client.post("/v1/runs", json={**body, "preset": "fast", "seed": 0})
        assert r.status_code == 202, (name, r.text)
        ids[name] = r.json()["run_id"]
    out = {}
    for name, run_id in ids.items():
        st = _wait_run(client, run_id)
        assert st["state"] == "finished", (name, st["error"])
        out[name] = st
    return out


@pytest.mark.slow
def test_cv_capped_at_the_smallest_class_reports_pooled_metrics_that_fit_the_task(api_runs):
    st = api_runs["capped"]
    cv = st["cv"]
    assert (cv["kind"], cv["k"], cv["k_requested"], cv["n_folds"], cv["completed"]) == ("kfold", 2, 5, 2, 2)
    assert cv["headline"] == "pooled out-of-fold predictions"
    assert any("2 folds, not 5" in n and "'blues' (2)" in n for n in cv["notes"])
    # the run card's plan, as `train --json` prints it
    assert (st["evaluation"]["evaluation"], st["evaluation"]["k"], st["evaluation"]["k_requested"]) == ("kfold", 2, 5)
    assert any("2 folds, not 5" in n for n in st["notes"])
    # per-fold mean ± std beside the pooled headline
    accs = [f["accuracy"] for f in cv["folds"]]
    assert cv["mean"]["accuracy"] == pytest.approx(np.mean(accs))
    # metrics that fit a single-label task: accuracy, macro-F1, log loss; no precision@k
    m = st["metrics"]
    assert {"accuracy", "f1_macro", "log_loss"} <= set(m) and not any("precision_at" in k for k in m)
    assert m["accuracy"] > 0.4  # 9 separable genres: well above chance (0.18)
    assert st["fitted_on"] == "train+validation"
    assert st["feature_columns"] == [f"f{j}" for j in range(8)]
    assert st["excluded_columns"] == [{"column": "filename", "reason": st["excluded_columns"][0]["reason"]}]


@pytest.mark.slow
def test_leave_one_out_repeats_tune_and_no_test_split_through_the_api(api_runs):
    st = api_runs["loo"]
    assert (st["cv"]["kind"], st["cv"]["k"], st["cv"]["mean"], st["cv"]["folds"]) == ("loo", 11, None, None)
    assert any("leave-one-out: 11 folds" in n for n in st["cv"]["notes"])

    st = api_runs["repeats_tuned"]
    assert (st["cv"]["k"], st["cv"]["repeats"], st["cv"]["n_folds"], len(st["cv"]["folds"])) == (2, 2, 4, 4)
    tuning = st["tuning"]
    assert tuning["space"] and len(tuning["per_fold"]) == 4  # the search space and each fold's choice
    assert tuning["best_params"] and all(v in tuning["space"][k] for k, v in tuning["best_params"].items())

    st = api_runs["no_test_split"]
    assert st["cv"]["k"] == 2 and st["cv"]["k_requested"] is None
    assert any("no test split" in n for n in st["cv"]["notes"])
    assert any("softmax" in n for n in st["notes"])  # svc with a single training track of a label in a fold


@pytest.mark.slow
def test_feature_table_column_rule_is_reported_through_the_api(client, api_runs, tables):
    st = api_runs["leak"]
    assert st["feature_columns"] == ["f0", "f1", "f2"]
    excluded = {e["column"]: e["reason"] for e in st["excluded_columns"]}
    assert set(excluded) == {"filename", "length", "const"} and "constant" in excluded["const"]
    kept = api_runs["leak_kept"]
    assert kept["feature_columns"] == ["length", "f0", "f1"]  # kept and dropped explicitly, in file order
    # the run's events say it too, and describe reports the same rule
    events = client.get(f"/v1/runs/{st['run_id']}/events", params={"follow": "false"}).text
    datas = [json.loads(line[6:]) for line in events.splitlines() if line.startswith("data: ")]
    (columns,) = [d for d in datas if d.get("message") == "columns"]
    assert columns["feature_columns"] == ["f0", "f1", "f2"] and len(columns["excluded_columns"]) == 3
    d = client.get("/v1/datasets/describe", params={"path": str(tables["leak"])}).json()
    assert d["audio"] is None and any("length" in w and "3 feature columns" in w and "keep_columns" in w for w in d["warnings"])


@pytest.mark.slow
def test_two_runs_on_the_same_folds_compare_as_runs_compare_does(client, api_runs, runs_dir, capsys):
    a, b = api_runs["leak_kept"]["run_id"], api_runs["leak"]["run_id"]
    r = client.get(f"/v1/runs/{a}/compare/{b}")
    assert r.status_code == 200, r.text
    res = r.json()
    assert main(["runs", "compare", a, b, "--run-dir", str(runs_dir), "--json"]) == 0
    assert res == json.loads(capsys.readouterr().out)  # exactly `musictag runs compare --json`
    assert res["n_folds"] == 3 and len(res["folds"]) == 3 and res["metric"] == "accuracy"
    assert res["mean_diff"] == pytest.approx(np.mean([f["diff"] for f in res["folds"]]))
    assert str(runs_dir) not in r.text  # run ids, no server paths
    r = client.get(f"/v1/runs/{a}/compare/{api_runs['capped']['run_id']}")  # another dataset: other folds
    assert r.status_code == 409 and set(r.json()) == {"error", "detail"}, r.text
    assert client.get(f"/v1/runs/{a}/compare/nope").status_code == 404


def test_duplicate_column_names_are_refused_in_words_any_client_can_act_on(client, runs_dir, data_root, capsys):
    table = data_root / "dup.csv"
    table.write_text("filename,a,b,a,label\nx1,1,2,3,rock\nx2,2,3,1,jazz\nx3,3,1,2,rock\nx4,1,1,1,jazz\n")
    r = client.get("/v1/datasets/describe", params={"path": str(table)})
    assert r.status_code == 422 and "names a column more than once: 'a' (columns 2, 4)" in r.json()["detail"]
    assert "drop=[" not in r.json()["detail"] and "id_column=" not in r.json()["detail"]  # no Python-only options
    detail = _refused(client, runs_dir, {"dataset": str(table), "model": "logreg", "cv": 2}, 422)
    assert "more than once" in detail
    assert main(["dataset", "describe", str(table)]) == 2
    err = capsys.readouterr().err
    assert "more than once" in err and "Traceback" not in err


# ---------------------------------------------------------------- describe: FMA subsets


def test_describe_takes_the_fma_subset_as_the_cli_does(client, capsys, tmp_path_factory, monkeypatch):
    tracks = META / "fma" / "tracks.csv"
    if not tracks.is_file():
        pytest.skip("the real FMA metadata sample is absent")
    root = tmp_path_factory.mktemp("fma-root")
    monkeypatch.setenv("MUSICTAG_DATA", f"{root}{os.pathsep}{tracks.parent.resolve()}")
    sizes = {}
    for subset in ("small", "medium", "large"):
        r = client.get("/v1/datasets/describe", params={"path": str(tracks), "subset": subset})
        assert r.status_code == 200, r.text
        assert main(["dataset", "describe", str(tracks), "--subset", subset, "--json"]) == 0
        assert r.json() == json.loads(capsys.readouterr().out)  # exactly the CLI's object
        sizes[subset] = r.json()["n_tracks"]
    assert sizes["small"] < sizes["medium"] < sizes["large"]  # the subsets nest
    default = client.get("/v1/datasets/describe", params={"path": str(tracks)}).json()
    assert default["n_tracks"] == sizes["small"] and any("--subset" in w for w in default["warnings"])
    folder = root / "songs"
    (folder / "rock").mkdir(parents=True)
    for params, reason in (({"path": str(folder), "subset": "small"}, "applies to FMA metadata only"),
                           ({"path": str(tracks), "subset": "tiny"}, "subset")):
        r = client.get("/v1/datasets/describe", params=params)
        assert r.status_code == 422 and reason in r.json()["detail"], r.text


# ---------------------------------------------------------------- not a regular file


def _answers_within(fn, seconds: float):
    """``fn()``'s result, failing (instead of hanging the suite) when it takes longer than ``seconds``."""
    box: list = []
    worker = threading.Thread(target=lambda: box.append(fn()), daemon=True)
    worker.start()
    worker.join(seconds)
    assert not worker.is_alive(), f"no answer within {seconds} s (blocked reading a FIFO?)"
    return box[0]


def test_a_fifo_under_the_data_root_is_refused_at_once_as_not_a_regular_file(client, data_root, runs_dir):
    fifo = data_root / "pipe.csv"
    if not fifo.exists():
        os.mkfifo(fifo)
    r = _answers_within(lambda: client.get("/v1/datasets/describe", params={"path": str(fifo)}), 10)
    assert r.status_code == 422 and "not a regular file" in r.json()["detail"], r.text
    before = _run_folders(runs_dir)
    r = _answers_within(lambda: client.post("/v1/runs", json={"dataset": str(fifo), "model": "logreg"}), 10)
    assert r.status_code == 422 and "not a regular file" in r.json()["detail"], r.text
    assert _run_folders(runs_dir) == before
    job = client.post("/v1/tag-dataset", json={"path": str(fifo)}).json()["job_id"]

    def final():
        while (st := client.get(f"/v1/jobs/{job}").json())["state"] not in ("finished", "failed"):
            time.sleep(0.1)
        return st

    st = _answers_within(final, 10)  # the dataset is opened before the model loads
    assert st["state"] == "failed" and st["error"]["status"] == 422 and "not a regular file" in st["error"]["detail"]


# ---------------------------------------------------------------- too short to judge, refused uploads


def _wav(seconds: float, sr: int = 16000) -> bytes:
    t = np.arange(int(sr * seconds)) / sr
    y = (0.3 * np.sin(2 * np.pi * 440 * t) + 0.05 * np.random.default_rng(0).standard_normal(t.size)).astype(np.float32)
    buf = io.BytesIO()
    sf.write(buf, y, sr, format="WAV")
    return buf.getvalue()


def _files(*items: tuple[str, bytes]) -> list:
    return [("files", (name, data, "audio/wav")) for name, data in items]


@pytest.mark.slow
def test_a_clip_shorter_than_a_segment_has_warnings_and_one_under_half_a_second_is_refused(client, tmp_path, capsys):
    short, tiny = _wav(1.2), _wav(0.3)
    r = client.post("/v1/tag", files=_files(("short.wav", short)), data={"top_k": "3"})
    assert r.status_code == 200, r.text
    (res,) = r.json()["results"]
    assert res["warnings"] and "shorter than one" in res["warnings"][0] and len(res["tags"]) == 3
    (tmp_path / "short.wav").write_bytes(short)
    assert main(["tag", "--json", "--top-k", "3", str(tmp_path / "short.wav")]) == 0
    cli = json.loads(capsys.readouterr().out)
    assert cli["warnings"] == res["warnings"]  # the same list as `musictag tag --json`
    full = client.post("/v1/tag", files=_files(("full.wav", _wav(4.0)))).json()["results"][0]
    assert full["warnings"] == []
    # under 0.5 s: refused alone (422 naming the file and the minimum), named in a batch
    r = client.post("/v1/tag", files=_files(("tiny.wav", tiny)))
    assert r.status_code == 422 and set(r.json()) == {"error", "detail"}
    assert "tiny.wav" in r.json()["detail"] and "at least 0.5 s" in r.json()["detail"]
    r = client.post("/v1/tag", files=_files(("short.wav", short), ("tiny.wav", tiny)))
    assert r.status_code == 200
    ok, bad = r.json()["results"]
    assert ok["warnings"] and bad["path"] == "tiny.wav" and "at least 0.5 s" in bad["error"]
    # other bad uploads: a clear 422 naming the file, never a traceback
    for name, data, reason in (("empty.wav", b"", "empty"), ("notes.wav", b"just text\n" * 40, "not a readable")):
        r = client.post("/v1/tag", files=_files((name, data)))
        assert r.status_code == 422 and name in r.json()["detail"] and reason in r.json()["detail"], r.text
        assert "Traceback" not in r.text


def test_a_refused_upload_names_the_file_and_the_limit(client, monkeypatch):
    monkeypatch.setenv("MUSICTAG_MAX_UPLOAD_MB", "0.1")
    r = client.post("/v1/tag", files=_files(("medium.wav", _wav(4.0))))  # 128 kB: over 0.1 MB, within the request limit
    assert r.status_code == 413 and r.json()["error"] == "file too large"
    assert "medium.wav" in r.json()["detail"] and "limit of 0.1 MB" in r.json()["detail"]


# ---------------------------------------------------------------- failures and workers


def _zombie_children() -> list[int]:
    """Children of this process that have exited but were not reaped (Linux /proc)."""
    me, out = os.getpid(), []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] == "Z" and int(fields[1]) == me:
            out.append(int(stat.parent.name))
    return out


@pytest.mark.slow
def test_a_failing_run_says_why_without_a_traceback_and_no_worker_is_left_a_zombie(client, api_runs, data_root):
    if not Path("/proc/self/stat").exists():
        pytest.skip("needs Linux /proc")
    for genre in ("a", "b"):  # passes the pre-flight check (metadata), fails decoding: after the folder exists
        (data_root / "unreadable" / genre).mkdir(parents=True, exist_ok=True)
        for i in range(2):
            (data_root / "unreadable" / genre / f"{genre}{i}.wav").write_bytes(b"not audio\n" * 30)
    r = client.post("/v1/runs", json={"dataset": str(data_root / "unreadable"), "model": "logreg", "preset": "fast", "cv": 2})
    assert r.status_code == 202, r.text
    st = _wait_run(client, r.json()["run_id"])
    assert st["state"] == "failed" and "not a readable audio file" in st["error"] and "Traceback" not in st["error"]
    events = client.get(f"/v1/runs/{st['run_id']}/events", params={"follow": "false"}).text
    assert "event: error" in events and "Traceback" not in events and '"traceback"' not in events
    # every worker the server started (six finished runs and this failed one) has been reaped
    deadline = time.monotonic() + 10
    while _zombie_children() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _zombie_children() == []


def test_an_unexpected_error_says_it_is_unexpected_on_the_cli(monkeypatch, capsys):
    """The CLI counterpart of the API's 500 body: one line saying it is a bug, the traceback only with --debug."""

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(json, "dumps", broken)  # the standard library fails, not our core
    assert main(["dataset", "describe", "demo", "--json"]) == 1
    err = capsys.readouterr().err
    assert err.strip() == ("unexpected error (a bug in musictag, not in your input): RuntimeError: boom; "
                           "rerun with --debug to see the traceback")
    assert main(["dataset", "describe", "demo", "--json", "--debug"]) == 1
    assert "Traceback" in capsys.readouterr().err
