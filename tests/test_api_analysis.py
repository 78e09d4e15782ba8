"""The analysis routes wired to the core, in process (``TestClient``): indexes, similar, search-text.

Each answer is compared with what the command line prints for the same query, on excerpts of
the shared real clips indexed into a tiny library under the app's data root.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import soundfile as sf

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

from fastapi.testclient import TestClient  # noqa: E402

from musictag_core.api import create_app  # noqa: E402
from musictag_core.api.settings import ApiSettings  # noqa: E402
from musictag_core.cli import main  # noqa: E402

from .test_api import _files, _wait_job  # noqa: E402

#: Clips excerpted into the library (6 s each: two musicnn segments), and one kept out of it.
LIBRARY = ("blues.00000.wav", "classical.00000.wav", "metal.00000.wav")
OUTSIDE = "jazz.00000.wav"
SECONDS = 6.0


def _excerpt(src: Path, dst: Path, *, offset_s: float = 5.0) -> Path:
    info = sf.info(src)
    y, sr = sf.read(src, start=int(offset_s * info.samplerate), frames=int(SECONDS * info.samplerate), dtype="float32")
    dst.parent.mkdir(parents=True, exist_ok=True)
    sf.write(dst, y, sr)
    return dst


@pytest.fixture(scope="module")
def lib(tmp_path_factory, clips_dir):
    """A data root with a library folder of three excerpts, one excerpt outside it, and an app over them."""
    root = tmp_path_factory.mktemp("api-analysis-data")
    folder = root / "lib"
    for name in LIBRARY:
        _excerpt(clips_dir / name, folder / name)
    outside = _excerpt(clips_dir / OUTSIDE, root / "queries" / OUTSIDE)
    mp = pytest.MonkeyPatch()
    mp.setenv("MUSICTAG_DATA", str(root))
    runs = tmp_path_factory.mktemp("api-analysis-runs")
    mp.setenv("MUSICTAG_RUNS", str(runs))
    mp.setenv("MUSICTAG_INDEXES", str(tmp_path_factory.mktemp("api-analysis-indexes")))
    mp.delenv("MUSICTAG_API_TOKEN", raising=False)
    app = create_app(ApiSettings(runs_dir=str(runs), max_files=4, warm=()))
    with TestClient(app) as c:
        yield {"client": c, "root": root, "folder": folder, "outside": outside}
    mp.undo()


def _cli_json_lines(capsys, argv: list[str]) -> list[dict]:
    capsys.readouterr()
    code = main(argv)
    out = capsys.readouterr().out
    assert code == 0, out
    return [json.loads(line) for line in out.splitlines() if line.strip()]


@pytest.mark.slow
def test_index_job_then_similar_and_search_text_answer_what_the_cli_prints(lib, capsys):
    c, folder, outside = lib["client"], lib["folder"], lib["outside"]

    # -- POST /v1/indexes: a job whose result is the update report
    r = c.post("/v1/indexes", json={"name": "lib", "path": str(folder)})
    assert r.status_code == 202, r.text
    st = _wait_job(c, r.json()["job_id"], timeout_s=180)
    assert st["state"] == "finished", st
    report = st["result"]
    assert (report["added"], report["changed"], report["removed"], report["unchanged"]) == (3, 0, 0, 0)
    assert report["n_tracks"] == 3 and report["n_segments"] == 6 and report["failed"] == {}
    assert "fraction" in st["progress"]

    listed = c.get("/v1/indexes").json()["indexes"]
    assert [(s["name"], s["n_tracks"], s["model"]) for s in listed] == [("lib", 3, "MSD_musicnn")]
    assert "folder" not in listed[0]  # the server's indexes folder is not shown

    # -- POST /v1/similar: an upload and a track of the index, each exactly the CLI's line
    blues = str((folder / LIBRARY[0]).resolve())
    (cli_path,) = _cli_json_lines(capsys, ["similar", blues, "--index", "lib", "--k", "2", "--json"])
    (cli_outside,) = _cli_json_lines(capsys, ["similar", str(outside), "--index", "lib", "--k", "3", "--json"])
    r = c.post("/v1/similar", data={"index": "lib", "k": "2", "paths": [blues]},
               files=_files((LIBRARY[0], (folder / LIBRARY[0]).read_bytes())))
    assert r.status_code == 200, r.text
    up, by_path = r.json()["results"]
    assert by_path == cli_path
    assert up == {**cli_path, "path": LIBRARY[0]}  # same content: the same neighbours, named after the upload
    assert up["neighbours"][0] == {"path": blues, "distance": 0.0, "label": "blues", "segment_start_s": up["neighbours"][0]["segment_start_s"]}

    r = c.post("/v1/similar", data={"index": "lib", "k": "3"}, files=_files((OUTSIDE, outside.read_bytes())))
    assert r.status_code == 200, r.text
    assert r.json()["results"] == [{**cli_outside, "path": OUTSIDE}]  # embedded on the fly, as the CLI does

    r = c.post("/v1/similar", data={"index": "lib", "k": "5", "exclude_self": "true", "paths": [blues]})
    (res,) = r.json()["results"]
    assert len(res["neighbours"]) == 2 and blues not in [n["path"] for n in res["neighbours"]]

    # -- errors: unknown index, another model, a bad upload, nothing to query, a path outside the data roots
    r = c.post("/v1/similar", data={"index": "nope", "paths": [blues]})
    assert r.status_code == 404 and r.json()["error"] == "unknown index" and "lib" in r.json()["detail"]
    assert str(lib["root"]) not in r.text
    r = c.post("/v1/similar", data={"index": "lib", "model": "MTT_musicnn", "paths": [blues]})
    assert r.status_code == 422 and "was built with model 'MSD_musicnn'" in r.json()["detail"]
    r = c.post("/v1/similar", data={"index": "lib"}, files=_files(("notes.mp3", b"just text\n" * 50)))
    assert r.status_code == 422 and set(r.json()) == {"error", "detail"} and "notes.mp3" in r.json()["detail"]
    r = c.post("/v1/similar", data={"index": "lib"})
    assert r.status_code == 422 and "'paths'" in r.json()["detail"]
    r = c.post("/v1/similar", data={"index": "lib", "paths": ["/etc/passwd"]})
    assert r.status_code == 403 and "outside the allowed data folders" in r.json()["detail"]
    r = c.post("/v1/similar", data={"index": "../x", "paths": [blues]})
    assert r.status_code == 422 and "index name" in r.json()["detail"]

    # -- POST /v1/search-text: exactly search-text --json, with and without the index
    (cli_text,) = _cli_json_lines(capsys, ["search-text", "heavy distorted guitars", "--index", "lib", "--top", "3", "--json"])
    r = c.post("/v1/search-text", json={"query": "heavy distorted guitars", "index": "lib", "top": 3})
    assert r.status_code == 200, r.text
    assert r.json() == cli_text
    assert len(cli_text["tracks"]) == 3 and cli_text["tracks"][0]["path"].endswith("metal.00000.wav")
    r = c.post("/v1/search-text", json={"query": "heavy distorted guitars", "top": 2})
    assert r.json() == {**cli_text, "tags": cli_text["tags"][:2], "tracks": []}
    assert c.post("/v1/search-text", json={"query": "rock", "index": "nope"}).status_code == 404
    r = c.post("/v1/search-text", json={"query": "   "})
    assert r.status_code == 422 and "query is empty" in r.json()["detail"]
    from musictag_core.similarity import open_index

    idx = open_index("lib")  # the same scores as a tag-score table under the data root: the same answer
    table = lib["root"] / "table.json"
    table.write_text(json.dumps({"paths": idx.paths, "tag_scores": idx.tag_scores.tolist(), "tag_labels": idx.tag_labels}))
    r = c.post("/v1/search-text", json={"query": "heavy distorted guitars", "index": str(table), "top": 3})
    assert r.status_code == 200 and r.json() == cli_text
    r = c.post("/v1/search-text", json={"query": "rock", "index": "/etc/table.json"})
    assert r.status_code == 403 and "outside the allowed data folders" in r.json()["detail"]

    # -- an update: one file gone, one new; then DELETE
    (folder / LIBRARY[2]).unlink()
    _excerpt(outside, folder / OUTSIDE, offset_s=0.0)
    st = _wait_job(c, c.post("/v1/indexes", json={"name": "lib", "path": str(folder)}).json()["job_id"], timeout_s=120)
    report = st["result"]
    assert (report["added"], report["changed"], report["removed"], report["unchanged"], report["n_tracks"]) == (1, 0, 1, 2, 3)
    (cli_report,) = _cli_json_lines(capsys, ["index", str(folder), "--name", "lib", "--json"])
    assert cli_report == {**report, "added": 0, "removed": 0, "unchanged": 3}  # the CLI's report, field for field

    assert c.delete("/v1/indexes/lib").json() == {"deleted": "lib"}
    assert c.delete("/v1/indexes/lib").status_code == 404
    assert c.get("/v1/indexes").json() == {"indexes": []}


def test_index_job_refuses_bad_names_and_paths(lib):
    c = lib["client"]
    r = c.post("/v1/indexes", json={"name": "a/b", "path": str(lib["folder"])})
    assert r.status_code == 422 and set(r.json()) == {"error", "detail"} and "name" in r.json()["detail"]
    r = c.post("/v1/indexes", json={"name": "x", "path": "/etc"})
    assert r.status_code == 202
    st = _wait_job(c, r.json()["job_id"])
    assert st["state"] == "failed" and st["error"]["status"] == 422 and "outside the allowed data folders" in st["error"]["detail"]
    assert c.delete("/v1/indexes/never-built").status_code == 404
    spec = c.get("/openapi.json").json()["paths"]
    for p in ("/v1/indexes", "/v1/indexes/{name}", "/v1/similar", "/v1/search-text"):
        assert p in spec, p


# ---------------------------------------------------------------- robustness and explanation (upload jobs)


@pytest.mark.slow
def test_robustness_and_explain_jobs_give_what_the_cli_prints(lib, capsys):
    c, root = lib["client"], lib["root"]
    clip = root / "queries" / OUTSIDE  # 6 s of a real jazz clip
    files = _files((clip.name, clip.read_bytes()))

    (cli,) = _cli_json_lines(capsys, ["robustness", str(clip), "--json"])
    r = c.post("/v1/robustness", files=files, data={"params": json.dumps({"seed": 0})})
    assert r.status_code == 202, r.text
    st = _wait_job(c, r.json()["job_id"], timeout_s=180)
    assert st["state"] == "finished", st
    (api,) = st["result"]["results"]
    assert api.pop("path") == clip.name and cli.pop("path") == str(clip)
    assert api == cli
    assert [p["kind"] for p in api["perturbations"]].count("pitch_shift") == 4 and api["summary"]
    assert st["progress"] == {"done": 1, "total": 1, "message": "done"}

    (cli,) = _cli_json_lines(capsys, ["explain", str(clip), "--tag", "jazz", "--json"])
    r = c.post("/v1/explain", files=files, data={"params": json.dumps({"tag": "jazz"})})
    assert r.status_code == 202, r.text
    st = _wait_job(c, r.json()["job_id"], timeout_s=180)
    assert st["state"] == "finished", st
    api = st["result"]
    assert api.pop("path") == clip.name and cli.pop("path") == str(clip)
    assert api == cli
    assert len(api["saliency"]) == len(api["bands_hz"]) - 1 and len(api["saliency"][0]) == len(api["times_s"])

    # errors: an unknown tag or model fails the job with the core's message; a bad file names it; one file only
    st = _wait_job(c, c.post("/v1/explain", files=files, data={"params": json.dumps({"tag": "kazoo"})}).json()["job_id"])
    assert st["state"] == "failed" and st["error"]["status"] == 422 and "kazoo" in st["error"]["detail"]
    st = _wait_job(c, c.post("/v1/robustness", files=files, data={"params": json.dumps({"model": "nope"})}).json()["job_id"])
    assert st["state"] == "failed" and st["error"]["status"] == 404
    bad = _files(("notes.mp3", b"just text\n" * 50))
    st = _wait_job(c, c.post("/v1/explain", files=bad, data={"params": json.dumps({"tag": "jazz"})}).json()["job_id"])
    assert st["state"] == "failed" and st["error"]["status"] == 422 and "notes.mp3" in st["error"]["detail"]
    r = c.post("/v1/explain", files=files + bad, data={"params": json.dumps({"tag": "jazz"})})
    assert r.status_code == 422 and "one file" in r.json()["detail"]
    r = c.post("/v1/robustness", files=files, data={"params": json.dumps({"seeed": 1})})
    assert r.status_code == 422 and "seeed" in r.json()["detail"]
