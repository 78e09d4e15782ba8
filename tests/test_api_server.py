"""The REST API as a real server on a loopback port: real clips, the hostile-file matrix,
refusals before the body is read, concurrent clients, and a killed-then-restarted server.

One server per test session (``musictag serve --port 0 --json``), with a bearer token and its
own runs folder; the last test kills it with SIGKILL and starts it again.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

httpx = pytest.importorskip("httpx")
pytest.importorskip("fastapi")

from .test_bad_inputs import CASES, tag_reason  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
TOKEN = "loopback-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
START_TIMEOUT_S = 120

pytestmark = pytest.mark.slow


class ApiServer:
    """``python -m musictag_core serve`` in its own process group; :meth:`restart` after a kill."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.env = env
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None
        self.url = ""
        self.port = 0

    def start(self, port: int = 0) -> None:
        cmd = [sys.executable, "-m", "musictag_core", "serve", "--host", "127.0.0.1", "--port", str(port), "--json",
               "--log-level", "warning"]
        self.log = open(self.log_path, "a")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(cmd, cwd=REPO, env=self.env, stdout=subprocess.PIPE, stderr=self.log,
                                     text=True, start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT_S
        line = ""
        while time.monotonic() < deadline and not line:
            if self.proc.poll() is not None:
                pytest.fail(f"musictag serve exited with {self.proc.returncode}; see {self.log_path}")
            line = self.proc.stdout.readline().strip()  # the JSON line comes once the models are warm
        if not line:
            self.stop()
            pytest.fail(f"musictag serve did not start within {START_TIMEOUT_S} s; see {self.log_path}")
        self.url = json.loads(line)["url"]
        self.port = int(self.url.rsplit(":", 1)[1])

    def kill(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=15)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=15)
        self.log.close()


@pytest.fixture(scope="session")
def server(tmp_path_factory, artifacts_dir):
    tmp = tmp_path_factory.mktemp("api-server")
    env = dict(os.environ, PYTHONUNBUFFERED="1", TF_CPP_MIN_LOG_LEVEL="2", MUSICTAG_API_TOKEN=TOKEN,
               MUSICTAG_CACHE=str(tmp / "cache"), MUSICTAG_RUNS=str(tmp / "runs"), MUSICTAG_API_MAX_FILES="32")
    srv = ApiServer(env, artifacts_dir / "api-server.log")
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture
def http(server):
    with httpx.Client(base_url=server.url, headers=AUTH, timeout=120) as c:
        yield c


def _files(paths_or_items) -> list:
    out = []
    for item in paths_or_items:
        name, data = (item.name, item.read_bytes()) if isinstance(item, Path) else item
        out.append(("files", (name, data, "application/octet-stream")))
    return out


def test_health_is_open_and_the_rest_needs_the_token(server, http):
    with httpx.Client(base_url=server.url, timeout=10) as anon:
        h = anon.get("/healthz")
        assert h.status_code == 200 and h.json()["models_loaded"] == ["MSD_musicnn"]
        r = anon.get("/v1/models")
        assert r.status_code == 401 and r.json()["error"] == "unauthorized"
    assert http.get("/v1/models").status_code == 200


def test_real_clips_in_one_request(http, clips_dir):
    clips = sorted(p for p in clips_dir.iterdir() if p.suffix in (".wav", ".mp3"))
    r = http.post("/v1/tag", files=_files(clips), data={"top_k": "5"})
    assert r.status_code == 200, r.text
    results = {x["path"]: x for x in r.json()["results"]}
    assert sorted(results) == sorted(p.name for p in clips)
    for name, res in results.items():
        assert "error" not in res and len(res["tags"]) == 5 and res["summary"], name
    for genre in ("blues", "metal", "jazz"):  # MSD_musicnn ranks these first for their GTZAN clips (README)
        assert results[f"{genre}.00000.wav"]["genres"][0]["label"] == genre
    assert results["blues.00099.mp3"]["duration_s"] > 20


def test_hostile_files_batch_and_alone(http):
    items = [(name, make()) for _, name, make, _ in CASES]
    r = http.post("/v1/tag", files=_files(items), data={"top_k": "3"})
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert len(results) == len(CASES)
    for (case_id, name, make, reason), res in zip(CASES, results):
        reason = tag_reason(case_id, reason)
        assert res["path"] == name or res["path"].endswith(name[-20:]), (case_id, res["path"])
        if reason is None:
            assert "error" not in res and len(res["tags"]) == 3, (case_id, res)
        else:
            assert re.search(reason, res["error"]), (case_id, res["error"])
            alone = http.post("/v1/tag", files=_files([(name, make())]))
            assert alone.status_code == 422, case_id
            body = alone.json()
            assert set(body) == {"error", "detail"} and body["error"] == "bad audio file"
            assert "Traceback" not in alone.text


def test_declared_oversized_body_is_refused_without_being_sent(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        head = (f"POST /v1/tag HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\n"
                "Content-Type: multipart/form-data; boundary=x\r\nContent-Length: 10737418240\r\n\r\n")
        s.sendall(head.encode())  # 10 GB announced, not one byte of it sent
        t0 = time.monotonic()
        chunks = []
        while chunk := s.recv(65536):  # the server answers and closes the connection
            chunks.append(chunk)
        assert time.monotonic() - t0 < 5
    answer = b"".join(chunks).decode(errors="replace")
    assert answer.startswith("HTTP/1.1 413")
    assert json.loads(answer.split("\r\n\r\n", 1)[1])["error"] == "request too large"


def test_concurrent_clients_are_all_served_and_the_loop_stays_free(server, http, clips_dir):
    data = (clips_dir / "rock.00000.wav").read_bytes()

    def one(i: int) -> int:
        return http.post("/v1/tag", files=_files([(f"rock-{i}.wav", data)]), data={"top_k": "1"}).status_code

    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        futures = [ex.submit(one, i) for i in range(8)]
        health = []
        with httpx.Client(base_url=server.url, timeout=30) as probe:
            while not all(f.done() for f in futures):  # inference runs in the pool: the event loop answers meanwhile
                t0 = time.monotonic()
                assert probe.get("/healthz").status_code == 200
                health.append(time.monotonic() - t0)
                time.sleep(0.2)
        codes = [f.result() for f in futures]
    assert codes == [200] * 8
    assert health and sorted(health)[len(health) // 2] < 1.0, health  # median, on a busy shared machine


def test_killed_server_restarts_serving_the_same_files(server, http, clips_dir):
    job = http.post("/v1/tag-batch", files=_files([clips_dir / "pop.00000.wav"]), data={"params": "{}"}).json()
    before = http.post("/v1/tag", files=_files([clips_dir / "disco.00000.wav"])).json()
    port = server.port
    server.kill()
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{server.url}/healthz", timeout=5)
    server.start(port=port)  # the same address: clients need no change
    with httpx.Client(base_url=server.url, headers=AUTH, timeout=120) as c:
        assert c.get("/healthz").json()["status"] == "ok"
        after = c.post("/v1/tag", files=_files([clips_dir / "disco.00000.wav"])).json()
        assert after == before  # the state is only files: same model, same answer
        gone = c.get(f"/v1/jobs/{job['job_id']}")
        assert gone.status_code == 404 and "restarted" in gone.json()["detail"]  # jobs live in the process
