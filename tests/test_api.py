"""The REST API's contract, in process (``TestClient``): routes, JSON shapes, errors, limits, auth, queue, jobs.

The real-server tests (a loopback port, real clips, the hostile-file matrix, a killed and
restarted server) are in ``test_api_server.py``.
"""

from __future__ import annotations

import io
import json
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
from musictag_core.api.settings import ApiSettings, api_settings  # noqa: E402
from musictag_core.cli import main  # noqa: E402
from musictag_core.errors import ParameterError  # noqa: E402

from .helpers import tone, write_tone_dataset  # noqa: E402

TOKEN = "s3cret-token"


def _wav(y: np.ndarray, sr: int = 22050) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, y, sr, format="WAV")
    return buf.getvalue()


def _noise(seconds: float, sr: int = 22050, seed: int = 0) -> np.ndarray:
    return (0.1 * np.random.default_rng(seed).standard_normal(int(sr * seconds))).astype(np.float32)


@pytest.fixture(scope="module")
def data_root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("api-data")


@pytest.fixture(scope="module")
def tones(data_root) -> Path:
    return write_tone_dataset(data_root / "tones", n_per_genre=6, seconds=3.5)


@pytest.fixture(scope="module")
def client(data_root, tmp_path_factory):
    """One app per module, with a data root and runs folder of its own.

    No warm-up here (the fast tests need no model): the first tagging request loads MSD_musicnn,
    once. The warm-up itself is checked on the real server (``test_api_server.py``).
    """
    mp = pytest.MonkeyPatch()
    mp.setenv("MUSICTAG_DATA", str(data_root))
    runs = tmp_path_factory.mktemp("api-runs")
    mp.setenv("MUSICTAG_RUNS", str(runs))
    mp.delenv("MUSICTAG_API_TOKEN", raising=False)
    app = create_app(ApiSettings(runs_dir=str(runs), max_files=4, warm=()))
    with TestClient(app) as c:
        yield c
    mp.undo()


def _files(*items: tuple[str, bytes]) -> list:
    return [("files", (name, data, "audio/wav")) for name, data in items]


# ---------------------------------------------------------------- settings


def test_settings_from_environment_name_a_bad_variable():
    s = api_settings({"MUSICTAG_API_QUEUE": "8", "MUSICTAG_API_WARM": "", "MUSICTAG_API_TOKEN": "t"})
    assert s.max_queue == 8 and s.warm == () and s.token == "t"
    assert api_settings({}).max_queue == 64 and api_settings({}).token is None
    with pytest.raises(ParameterError, match="MUSICTAG_API_WORKERS"):
        api_settings({"MUSICTAG_API_WORKERS": "0"})
    with pytest.raises(ParameterError, match="MUSICTAG_API_QUEUE"):
        api_settings({"MUSICTAG_API_QUEUE": "lots"})


def test_serve_is_a_registered_command_and_checks_its_port(capsys):
    assert main(["serve", "--port", "70000", "--no-warm"]) == 2
    assert "--port must be between 0 and 65535" in capsys.readouterr().err


# ---------------------------------------------------------------- tag and embed


@pytest.mark.slow
def test_tag_result_is_exactly_the_cli_object(client, clips_dir, capsys):
    clip = clips_dir / "blues.00000.wav"
    r = client.post("/v1/tag", files=_files((clip.name, clip.read_bytes())), data={"top_k": "5", "overlap": "1.5"})
    assert r.status_code == 200, r.text
    (api,) = r.json()["results"]
    assert main(["tag", "--json", "--top-k", "5", "--overlap", "1.5", str(clip)]) == 0
    cli = json.loads(capsys.readouterr().out)
    assert api.pop("path") == clip.name and cli.pop("path") == str(clip)
    assert api == cli
    assert api["tags"][0] == {"label": "blues", "score": api["tags"][0]["score"]} and len(api["tags"]) == 5
    assert len(api["segments"]) > 10 and len(api["segments"][0]["scores"]) == len(api["labels"]) == 50


@pytest.mark.slow
def test_batch_with_a_bad_file_is_200_with_its_error_and_all_bad_is_422(client):
    good = _wav(_noise(4.0))
    r = client.post("/v1/tag", files=_files(("good.wav", good), ("notes.mp3", b"just text\n" * 50)))
    assert r.status_code == 200
    good_r, bad_r = r.json()["results"]
    assert "error" not in good_r and good_r["path"] == "good.wav" and good_r["tags"]
    assert bad_r == {"path": "notes.mp3", "model": "MSD_musicnn", "error": bad_r["error"]} and "not a readable" in bad_r["error"]

    r = client.post("/v1/tag", files=_files(("notes.mp3", b"just text\n" * 50)))
    assert r.status_code == 422
    assert set(r.json()) == {"error", "detail"} and "notes.mp3" in r.json()["detail"]

    r = client.post("/v1/tag", files=_files(("a.wav", b""), ("b.wav", _wav(np.zeros(22050, np.float32)))))
    body = r.json()
    assert r.status_code == 422 and "a.wav" in body["detail"] and "b.wav" in body["detail"]
    assert [x["path"] for x in body["results"]] == ["a.wav", "b.wav"]


@pytest.mark.slow
def test_embed_matches_the_core(client, clips_dir):
    from musictag_core.predict import embed_file

    clip = clips_dir / "jazz.00000.wav"
    r = client.post("/v1/embed", files=_files((clip.name, clip.read_bytes())))
    assert r.status_code == 200, r.text
    (res,) = r.json()["results"]
    ref = embed_file(clip)
    assert len(res["embeddings"]["pooled"]) == 1506 and len(res["embeddings"]["penultimate"]) == 200
    np.testing.assert_allclose(res["embeddings"]["penultimate"], ref["penultimate"], atol=1e-5)
    assert res["truncated"] is False and res["duration_s"] == pytest.approx(30.0, abs=0.1)


def test_unknown_model_is_404_and_a_path_is_not_a_model(client):
    for model in ("nope", "../assets/models/MSD_musicnn", "/etc"):
        r = client.post("/v1/tag", files=_files(("a.wav", _wav(tone(duration=1.0)))), data={"model": model})
        assert r.status_code == 404, model
        assert r.json()["error"] == "unknown model" and "MSD_musicnn" in r.json()["detail"]
    assert client.get("/v1/models/nope").status_code == 404


def test_models_and_card(client):
    models = client.get("/v1/models").json()["models"]
    names = [m["name"] for m in models]
    assert names[:2] == ["MSD_musicnn", "MTT_musicnn"]
    assert all("path" not in m for m in models)  # no server paths
    card = client.get("/v1/models/MTT_musicnn").json()
    assert "classical" in card["labels"] and card["sr"] == 16000


def test_bad_parameters_are_422_json(client):
    wav = _wav(tone(duration=1.0))
    for data in ({"overlap": "5"}, {"top_k": "0"}, {"overlap": "abc"}):
        r = client.post("/v1/tag", files=_files(("a.wav", wav)), data=data)
        assert r.status_code == 422 and set(r.json()) == {"error", "detail"}, data
    r = client.post("/v1/tag", data={"model": "MSD_musicnn"})
    assert r.status_code == 422 and "files" in r.json()["detail"]
    r = client.get("/v1/nothing")
    assert r.status_code == 404 and r.json()["error"] == "not found"
    r = client.delete("/v1/models")
    assert r.status_code == 405 and set(r.json()) == {"error", "detail"}


# ---------------------------------------------------------------- limits


def test_body_over_the_upload_limit_is_413_before_reading(client, monkeypatch):
    monkeypatch.setenv("MUSICTAG_MAX_UPLOAD_MB", "0.1")  # the app's own setting, read per request
    big = _wav(_noise(12.0))  # 530 kB: over the request limit (the upload limit + 64 KiB of framing)
    r = client.post("/v1/tag", files=_files(("big.wav", big)))
    assert r.status_code == 413 and r.json()["error"] == "request too large" and "MUSICTAG_MAX_UPLOAD_MB" in r.json()["detail"]
    r = client.post("/v1/tag", files=_files(("medium.wav", _wav(_noise(2.6)))))  # 115 kB: within the request, over the file limit
    assert r.status_code == 413 and r.json()["error"] == "file too large" and "medium.wav" in r.json()["detail"]

    def chunks():  # no Content-Length: counted as it streams
        for _ in range(40):
            yield b"x" * 8192

    r = client.post("/v1/tag", content=chunks(), headers={"content-type": "multipart/form-data; boundary=zzz"})
    assert r.status_code == 413 and r.json()["error"] == "request too large"


def test_too_many_files_is_413(client):
    wav = _wav(tone(duration=0.6))
    r = client.post("/v1/tag", files=_files(*[(f"{i}.wav", wav) for i in range(5)]))  # max_files=4 here
    assert r.status_code == 413 and "at most 4" in r.json()["detail"]


def test_a_real_fault_is_500_without_traceback_or_path(client, monkeypatch):
    svc = client.app.state.service

    def broken(*args, **kwargs):
        raise RuntimeError("boom in /home/secret/musictag_core/predict.py line 12")

    monkeypatch.setattr(svc, "tag_uploads", broken)
    plain = TestClient(client.app, raise_server_exceptions=False)  # as a real client sees it (no lifespan rerun)
    r = plain.post("/v1/tag", files=_files(("a.wav", _wav(tone(duration=1.0)))))
    assert r.status_code == 500
    assert r.json()["error"] == "internal error"
    assert "secret" not in r.text and "Traceback" not in r.text and ".py" not in r.text


def test_full_queue_is_503_with_retry_after(client):
    pool = client.app.state.service.pool
    release = threading.Event()
    held = [pool.submit(release.wait) for _ in range(pool.workers + pool.max_queue)]
    try:
        r = client.post("/v1/tag", files=_files(("a.wav", _wav(tone(duration=1.0)))))
        assert r.status_code == 503 and r.json()["error"] == "busy"
        assert int(r.headers["retry-after"]) >= 1
        assert client.get("/healthz").json()["queued"] == pool.max_queue
    finally:
        release.set()
        for f in held:
            f.result(timeout=10)
    assert pool.pending == 0


# ---------------------------------------------------------------- auth


def test_bearer_token_guards_every_route_but_healthz(monkeypatch):
    app = create_app(ApiSettings(token=TOKEN, warm=()))
    with TestClient(app) as c:
        assert c.get("/healthz").status_code == 200
        for method, path in (("get", "/v1/models"), ("get", "/openapi.json"), ("get", "/docs"), ("post", "/v1/tag"),
                             ("get", "/v1/runs"), ("get", "/v1/jobs/x")):
            r = getattr(c, method)(path)
            assert r.status_code == 401, path
            assert r.json()["error"] == "unauthorized" and r.headers["www-authenticate"] == "Bearer"
        assert c.get("/v1/models", headers={"Authorization": "Bearer wrong"}).status_code == 401
        ok = c.get("/v1/models", headers={"Authorization": f"Bearer {TOKEN}"})
        assert ok.status_code == 200 and ok.json()["models"]


# ---------------------------------------------------------------- OpenAPI


def test_openapi_is_generated_from_the_models(client):
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    for p in ("/v1/tag", "/v1/embed", "/v1/models", "/v1/models/{name}", "/v1/runs", "/v1/runs/{run_id}",
              "/v1/runs/{run_id}/events", "/v1/runs/{run_id}/stop", "/v1/datasets/describe", "/v1/jobs/{job_id}",
              "/v1/jobs/{job_id}/events", "/healthz"):
        assert p in paths, p
    tag = paths["/v1/tag"]["post"]
    assert "multipart/form-data" in tag["requestBody"]["content"]
    schemas = spec["components"]["schemas"]
    assert {"label", "score"} <= set(schemas["LabelScore"]["properties"])
    assert "segments" in schemas["TagFileResult"]["properties"] and "ErrorResponse" in schemas
    assert client.get("/docs").status_code == 200


# ---------------------------------------------------------------- datasets


def test_describe_a_dataset_under_the_data_roots(client, tones, data_root, capsys):
    r = client.get("/v1/datasets/describe", params={"path": str(tones)})
    assert r.status_code == 200, r.text
    d = r.json()
    assert main(["dataset", "describe", str(tones), "--json"]) == 0
    assert d == json.loads(capsys.readouterr().out)  # exactly `musictag dataset describe --json`
    assert d["form"] == "folder" and d["n_tracks"] == 12 and d["labels"] == {"high": 6, "low": 6}
    assert d["labels_per_track"] == {"mean": 1.0, "max": 1} and d["audio"] == {"present": 12, "missing": 0}
    demo = client.get("/v1/datasets/describe", params={"path": "demo-hard"}).json()
    assert main(["dataset", "describe", "demo-hard", "--json"]) == 0
    assert demo == json.loads(capsys.readouterr().out) and demo["form"] == "demo"
    r = client.get("/v1/datasets/describe", params={"path": str(tones), "threshold": "0"})
    assert r.status_code == 422 and "threshold" in r.json()["detail"]
    r = client.get("/v1/datasets/describe", params={"path": "/etc"})
    assert r.status_code == 403 and "outside the allowed data folders" in r.json()["detail"]
    r = client.get("/v1/datasets/describe", params={"path": str(data_root / "missing")})
    assert r.status_code == 404


# ---------------------------------------------------------------- jobs


def _wait_job(client, job_id: str, timeout_s: float = 60) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        st = client.get(f"/v1/jobs/{job_id}").json()
        if st["state"] in ("finished", "failed"):
            return st
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not end in {timeout_s} s")


def _sse(text: str) -> list[tuple[str, dict]]:
    out = []
    for block in text.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if not line.startswith(":"))
        if "data" in fields:
            out.append((fields.get("event", "message"), json.loads(fields["data"])))
    return out


@pytest.mark.slow
def test_tag_dataset_job_reports_progress_and_result(client, tones):
    r = client.post("/v1/tag-dataset", json={"path": str(tones), "top_k": 3, "limit": 5})
    assert r.status_code == 202, r.text
    job = r.json()
    assert job["state"] in ("queued", "running") and job["links"]["status"] == f"/v1/jobs/{job['job_id']}"
    st = _wait_job(client, job["job_id"])
    assert st["state"] == "finished" and st["error"] is None
    res = st["result"]
    assert res["n_files"] == 5 and res["n_failed"] == 0 and all(len(x["tags"]) == 3 for x in res["results"])
    assert st["progress"] == {"done": 5, "total": 5, "message": "done"}
    events = _sse(client.get(f"/v1/jobs/{job['job_id']}/events").text)
    kinds = [k for k, _ in events]
    assert kinds[0] == "state" and kinds[-1] == "end" and events[-1][1]["state"] == "finished"
    assert [d["done"] for k, d in events if k == "progress" and "done" in d] == [0, 1, 2, 3, 4, 5]
    third = events[2][1]["seq"]
    resumed = _sse(client.get(f"/v1/jobs/{job['job_id']}/events", headers={"Last-Event-ID": str(third)}).text)
    assert resumed[0][1]["seq"] == third + 1 and resumed[-1][0] == "end"  # Last-Event-ID resumes after it
    assert any(d["job_id"] == job["job_id"] for d in client.get("/v1/jobs").json()["jobs"])


def test_failed_job_keeps_the_error_and_unknown_job_is_404(client):
    r = client.post("/v1/tag-dataset", json={"path": "/etc", "model": "MSD_musicnn"})
    assert r.status_code == 202
    st = _wait_job(client, r.json()["job_id"])
    assert st["state"] == "failed" and st["error"]["status"] == 422 and "outside the allowed data folders" in st["error"]["detail"]
    r = client.get("/v1/jobs/0123456789abcdef")
    assert r.status_code == 404 and r.json()["error"] == "unknown job"
    assert client.post("/v1/tag-dataset", json={"path": "x", "bogus": 1}).status_code == 422


@pytest.mark.slow
def test_tag_batch_job_gives_what_tag_gives(client):
    files = _files(("a.wav", _wav(_noise(4.0, seed=1))), ("bad.wav", b"\x89PNG\r\n\x1a\n" + bytes(500)))
    direct = client.post("/v1/tag", files=files, data={"top_k": "2"}).json()
    r = client.post("/v1/tag-batch", files=files, data={"params": json.dumps({"top_k": 2})})
    assert r.status_code == 202, r.text
    st = _wait_job(client, r.json()["job_id"])
    assert st["state"] == "finished" and st["result"] == direct
    assert st["params"]["files"] == ["a.wav", "bad.wav"]


def test_job_store_forgets_finished_jobs_after_their_ttl():
    from musictag_core.api.errors import ApiError
    from musictag_core.api.jobs import JobStore
    from musictag_core.api.pool import WorkerPool

    pool = WorkerPool(workers=1, max_queue=4)
    store = JobStore(pool=pool, ttl_s=0.3, max_jobs=2)
    try:
        job = store.submit("sum", lambda progress: sum(range(10)))
        for _ in range(50):
            if job.final:
                break
            time.sleep(0.02)
        assert store.get(job.job_id).result == 45
        time.sleep(0.4)
        with pytest.raises(ApiError, match="expired"):
            store.get(job.job_id)
    finally:
        pool.shutdown()


# ---------------------------------------------------------------- runs


def _wait_run(client, run_id: str, timeout_s: float = 90) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        st = client.get(f"/v1/runs/{run_id}").json()
        if st["state"] in ("finished", "failed", "stopped"):
            return st
        time.sleep(0.5)
    raise AssertionError(f"run {run_id} did not end in {timeout_s} s")


@pytest.mark.slow
def test_start_follow_and_stop_runs(client, tones):
    r = client.post("/v1/runs", json={"dataset": str(tones), "model": "logreg", "preset": "fast", "seed": 0})
    assert r.status_code == 202, r.text
    run_id = r.json()["run_id"]
    st = _wait_run(client, run_id)
    assert st["state"] == "finished", st
    assert st["progress"]["fraction"] == 1.0 and "accuracy" in st["metrics"]
    events = _sse(client.get(f"/v1/runs/{run_id}/events").text)
    assert events[-1] == ("end", {"run_id": run_id, "state": "finished"})
    assert any(k == "log" and d.get("message") == "started" for k, d in events)
    assert all("traceback" not in d for _, d in events)
    rows = client.get("/v1/runs").json()["runs"]
    assert [x["run_id"] for x in rows] == [run_id] and "path" not in rows[0]
    assert run_id in [m["name"] for m in client.get("/v1/models").json()["models"]]  # a finished run tags
    r = client.post(f"/v1/runs/{run_id}/stop")
    assert r.status_code == 409 and "already finished" in r.json()["detail"]

    r = client.post("/v1/runs", json={"dataset": str(tones), "model": "logreg", "preset": "fast", "seed": 1})
    second = r.json()["run_id"]
    r = client.post(f"/v1/runs/{second}/stop")
    assert r.status_code == 202 and r.json()["stop_requested"] is True
    assert _wait_run(client, second)["state"] in ("stopped", "finished")


def test_run_errors(client, tones):
    assert client.get("/v1/runs/nope").status_code == 404
    assert client.get("/v1/runs/..").status_code == 404
    assert client.post("/v1/runs/nope/stop").status_code == 404
    r = client.post("/v1/runs", json={"dataset": str(tones), "model": "no-such-model"})
    assert r.status_code in (404, 422) and "no-such-model" in r.json()["detail"]
    r = client.post("/v1/runs", json={"dataset": "/etc", "model": "logreg"})
    assert r.status_code == 422 and "outside the allowed data folders" in r.json()["detail"]
    r = client.post("/v1/runs", json={"dataset": str(tones), "model": "logreg", "epochz": 3})
    assert r.status_code == 422 and "epochz" in r.json()["detail"]


def test_sync_route_helper_answers_from_the_pool_and_maps_core_errors():
    """The helper the analysis routes (similar, search-text) are written with, on a router of its own."""
    from fastapi import APIRouter
    from pydantic import BaseModel

    from musictag_core.api.routes_analysis import sync_route
    from musictag_core.errors import DatasetError

    class Query(BaseModel):
        x: int

    def double(svc, q: Query) -> dict:
        if q.x < 0:
            raise DatasetError(f"x must be >= 0, got {q.x}")
        return {"y": 2 * q.x, "thread": threading.current_thread().name}

    extra = APIRouter(prefix="/v1")
    sync_route("/double", Query, double, summary="double x", on=extra)
    app = create_app(ApiSettings(warm=()))
    app.include_router(extra)
    with TestClient(app) as c:
        r = c.post("/v1/double", json={"x": 21})
        assert r.status_code == 200 and r.json()["y"] == 42 and r.json()["thread"].startswith("musictag-api")
        r = c.post("/v1/double", json={"x": -1})
        assert r.status_code == 422 and r.json() == {"error": "bad dataset", "detail": "x must be >= 0, got -1"}
        assert c.post("/v1/double", json={"x": "many"}).status_code == 422
