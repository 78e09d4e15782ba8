"""Tests for musictag_core.explore: sources, uploads, cached matrices, explore() in one call, selections."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_blobs

from musictag_core.errors import DatasetError, ParameterError
from musictag_core.explore import (
    AUDIO_SPACES,
    DatasetSource,
    ExploreResult,
    ProjectionCache,
    ProjectionConfig,
    color_columns,
    dataset_root,
    explore,
    feature_matrix,
    figures_json,
    fit_config,
    levels_for,
    load_matrix,
    open_source,
    path_kind,
    path_source,
    save_table_upload,
    save_zip_upload,
    selected_rows,
    separability,
    spaces_for,
)
from musictag_core.lru import BoundedCache
from musictag_core.uploads import SessionWorkspace

from .helpers import CLIPS, write_tone


@pytest.fixture(autouse=True)
def _private_cache(private_explore_cache):
    """Every test here gets its own cache folder and projection cache (tests/conftest.py)."""


@pytest.fixture
def workspace(tmp_path):
    with SessionWorkspace("test-session", root=tmp_path / "sessions") as ws:
        yield ws


def _table_bytes(n: int = 90, d: int = 5, *, label: str = "label") -> bytes:
    X, y = make_blobs(n_samples=n, n_features=d, centers=3, random_state=1)
    df = pd.DataFrame(X, columns=[f"feat{i}" for i in range(d)])
    df.insert(0, "filename", [f"t{i:03d}.wav" for i in range(n)])
    df[label] = np.array(["jazz", "pop", "rock"], dtype=object)[y]
    return df.to_csv(index=False).encode()


def _zip_bytes(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _wav_bytes(tmp_path: Path, freq: float) -> bytes:
    return write_tone(tmp_path / f"tone{freq:g}.wav", freq=freq, duration=1.0).read_bytes()


# --- sources --------------------------------------------------------------------------


def test_source_validation_and_keys(tmp_path):
    assert DatasetSource().kind == "demo" and DatasetSource().key() == "demo"
    with pytest.raises(ParameterError, match="kind"):
        DatasetSource(kind="ftp")
    with pytest.raises(ParameterError, match="needs a path"):
        DatasetSource(kind="path")
    with pytest.raises(ParameterError, match="label column"):
        DatasetSource(kind="table", path="x.csv", label_column=" ")
    f = tmp_path / "t.csv"
    f.write_bytes(b"a")
    s = DatasetSource(kind="table", path=str(f))
    k1 = s.key()
    f.write_bytes(b"ab")  # new size: a new key
    assert s.key() != k1
    assert DatasetSource(kind="table", path=str(f), digest="x").key() != s.key()
    assert s.describe() == "feature table t.csv"


def test_path_kind_decides_typed_paths(tmp_path):
    table = tmp_path / "feats.csv"
    table.write_bytes(_table_bytes(label="genre"))
    labelled = tmp_path / "labelled.csv"
    labelled.write_bytes(_table_bytes())
    (tmp_path / "folder" / "blues").mkdir(parents=True)
    fma = tmp_path / "tracks.csv"
    fma.write_text("track,track\n,genre_top\n1,Rock\n")
    # the page's rule until now: a CSV typed with a label column other than "label" is a feature table
    assert path_kind(table, label_column="genre") == "table"
    assert path_kind(table, label_column="label") == "path" and path_kind(table, label_column=" ") == "path"
    assert path_kind(labelled, label_column="label") == "path"  # detected as features by open_dataset
    assert path_kind(tmp_path / "folder", label_column="genre") == "path"
    assert path_kind(fma, label_column="genre") == "path"  # detect_format: FMA metadata, its own reader
    src = path_source(table, label_column=" genre ")
    assert (src.kind, src.path, src.label_column) == ("table", str(table), "genre")
    assert open_source(src).labels == ["jazz", "pop", "rock"]
    assert path_source(labelled, label_column="").label_column == "label"


def test_table_upload_opens_projects_and_separates(workspace):
    source = save_table_upload(_table_bytes(label="genre"), name="feats.csv", workspace=workspace, label_column="genre")
    assert source.kind == "table" and Path(source.path).is_file()
    assert Path(source.path).is_relative_to(workspace.path)
    # the same bytes again: same file, same key
    again = save_table_upload(_table_bytes(label="genre"), name="other.csv", workspace=workspace, label_column="genre")
    assert again.path == source.path and again.key() == source.key()
    index = open_source(source)
    assert spaces_for(index) == ["table"] and levels_for("table") == ["track"]
    cache = BoundedCache(max_entries=2)
    X, names, meta = load_matrix(index, source_key=source.key(), space="table", cache=cache)
    assert X.shape == (90, 5) and names == [f"feat{i}" for i in range(5)]
    assert len(cache) == 1 and not X.flags.writeable
    X2, _, meta2 = load_matrix(index, source_key=source.key(), space="table", cache=cache)
    assert X2 is X  # from memory
    meta2["genre"] = "changed"  # callers get their own metadata
    assert load_matrix(index, source_key=source.key(), space="table", cache=cache)[2]["genre"].iloc[0] != "changed"

    res = explore(X, names, meta, config=ProjectionConfig(method="pca"), cache=False)
    assert isinstance(res, ExploreResult)
    assert res.projection.coords.shape == (90, 2)
    assert res.full["knn_accuracy"] > 0.9  # make_blobs: well separated
    np.testing.assert_allclose(res.full["silhouette"], separability(X, meta["genre"])["silhouette"])
    assert res.axis_titles()[0].startswith("PC1 (")
    table = res.table()
    assert {"track_id", "genre", "x", "y", "knn_prediction_full"} <= set(table.columns)
    assert "path" not in table.columns and len(table) == 90
    summary = res.summary()
    json.dumps(summary)  # serialisable
    assert summary["n_points"] == 90 and set(summary["top_features"]) == {"PC1", "PC2"}
    frame = res.feature_frame()
    assert list(frame.columns[-5:]) == names and len(frame) == 90


def test_table_upload_over_limit_is_refused(workspace):
    with pytest.raises(ParameterError, match="over the upload limit"):
        save_table_upload(_table_bytes(), name="big.csv", workspace=workspace, limit=100)


def test_explore_filters_genres_and_adjusts_parameters(workspace):
    index = open_source(save_table_upload(_table_bytes(), name="f.csv", workspace=workspace))
    X, names, meta = load_matrix(index, source_key="k", space="table")
    res = explore(X, names, meta, genres=["jazz", "rock"], cache=False)
    assert set(res.labels) == {"jazz", "rock"} and len(res.meta) == len(res.X) == 60
    assert res.meta.index.tolist() == list(range(60))
    with pytest.raises(ParameterError, match="not in the data"):
        explore(X, names, meta, genres=["jazz", "polka"], cache=False)
    with pytest.raises(ParameterError, match="at least two genres"):
        explore(X, names, meta, genres=["jazz"], cache=False)
    small_cfg, notes = fit_config(ProjectionConfig(method="tsne", perplexity=50.0), 20)
    assert small_cfg.perplexity < 20 and "perplexity lowered" in notes[0]
    cfg, notes = fit_config(ProjectionConfig(method="umap", n_neighbors=30), 10)
    assert cfg.n_neighbors == 9 and notes
    assert fit_config(ProjectionConfig(), 5) == (ProjectionConfig(), [])
    # t-SNE through explore on 12 points: the lowered perplexity is reported
    few = meta.groupby("genre").head(4).index.to_numpy()
    res = explore(X[few], names, meta.iloc[few], config=ProjectionConfig(method="tsne"), k=20, cache=False)
    assert any("perplexity" in n for n in res.notes) and any("k lowered" in n for n in res.notes)
    assert res.k == 11 and res.axis_titles() == ["t-SNE 1", "t-SNE 2"]


def test_explore_uses_the_projection_cache(workspace, tmp_path):
    index = open_source(save_table_upload(_table_bytes(), name="f.csv", workspace=workspace))
    X, names, meta = load_matrix(index, source_key="k", space="table")
    cache = ProjectionCache(directory=tmp_path / "proj")
    first = explore(X, names, meta, cache=cache)
    second = explore(X, names, meta, cache=cache)
    assert not first.projection.from_cache and second.projection.from_cache
    np.testing.assert_array_equal(first.projection.coords, second.projection.coords)


# --- zip uploads ------------------------------------------------------------------------


def test_zip_upload_with_wrapper_folder_opens_as_folder_dataset(workspace, tmp_path):
    a, b = _wav_bytes(tmp_path, 220), _wav_bytes(tmp_path, 880)
    data = _zip_bytes(
        {
            "mydata/low/a1.wav": a, "mydata/low/a2.wav": a,
            "mydata/high/b1.wav": b, "mydata/high/b2.wav": b,
            "mydata/readme.txt": b"not audio",
        }
    )  # fmt: skip
    source, notes = save_zip_upload(data, name="genres.zip", workspace=workspace)
    assert source.kind == "zip" and Path(source.path).name == "mydata"
    assert any("readme.txt" in n for n in notes)
    index = open_source(source)
    assert sorted(index.labels) == ["high", "low"] and len(index) == 4
    assert spaces_for(index) == list(AUDIO_SPACES)
    again, notes2 = save_zip_upload(data, name="genres.zip", workspace=workspace)
    assert again == source and notes2 == notes  # not extracted twice


def test_zip_upload_with_traversal_is_refused_and_leaves_nothing(workspace, tmp_path):
    data = _zip_bytes({"blues/a.wav": _wav_bytes(tmp_path, 220), "../evil.wav": b"x"})
    with pytest.raises(DatasetError, match=r"bad\.zip.*'\.\.'"):
        save_zip_upload(data, name="bad.zip", workspace=workspace)
    assert not any((workspace.path / "explore").rglob("*.wav"))
    assert not (tmp_path / "evil.wav").exists()


def test_zip_upload_without_audio_or_not_a_zip(workspace):
    with pytest.raises(DatasetError, match="no audio files"):
        save_zip_upload(_zip_bytes({"notes/a.txt": b"hello"}), name="text.zip", workspace=workspace)
    with pytest.raises(DatasetError, match="junk.zip"):
        save_zip_upload(b"this is not a zip", name="junk.zip", workspace=workspace)
    with pytest.raises(ParameterError, match="over the upload limit"):
        save_zip_upload(b"x" * 200, name="big.zip", workspace=workspace, limit=100)


def test_dataset_root(tmp_path):
    (tmp_path / "a" / "b" / "jazz").mkdir(parents=True)
    (tmp_path / "a" / "b" / "rock").mkdir()
    assert dataset_root(tmp_path) == tmp_path / "a" / "b"
    (tmp_path / "a" / "note.txt").write_text("x")
    assert dataset_root(tmp_path) == tmp_path / "a"


# --- small helpers -----------------------------------------------------------------------


def test_bounded_cache_evicts_least_recently_used():
    c = BoundedCache(max_entries=2)
    c.put("a", 1)
    c.put("b", 2)
    assert c.get("a") == 1  # a is now the most recent
    c.put("c", 3)
    assert "b" not in c and c.get("a") == 1 and c.get("c") == 3 and len(c) == 2
    assert c.get("b", "none") == "none"
    with pytest.raises(ParameterError):
        BoundedCache(max_entries=0)


def test_selected_rows_from_plotly_events():
    sel = {
        "points": [
            {"customdata": ["t1", 3, "jazz"]},
            {"customdata": ["t2", "5"]},
            {"customdata": ["t1", 3]},  # duplicate
            {"customdata": ["t9", 99]},  # outside the table
            {"customdata": ["t3"]},  # no row
            {"x": 1.0},  # no customdata
        ]
    }
    assert selected_rows(sel, 10) == [3, 5]
    assert selected_rows(None, 10) == [] and selected_rows({"points": []}, 10) == []


def test_color_columns():
    meta = pd.DataFrame(
        {"genre": ["a", "b"], "labels": ["a", "a|b"], "split": [None, None], "artist": ["x", "y"], "path": ["", ""]}
    )
    assert color_columns(meta) == ["genre", "labels", "artist"]


def test_figures_json_round_trip():
    import plotly.graph_objects as go
    import plotly.io as pio

    fig = go.Figure(go.Bar(x=["a", "b"], y=[1, 2]))
    doc = json.loads(figures_json({"bars": fig}, summary={"k": np.int64(5)}))
    assert doc["summary"] == {"k": 5}
    back = pio.from_json(json.dumps(doc["figures"]["bars"]))
    assert list(back.data[0].y) == [1, 2]


# --- pretrained embeddings as a feature space (real clips, the shipped MSD_musicnn) -------


@pytest.mark.slow
@pytest.mark.skipif(not CLIPS.is_dir(), reason="../shared/data/clips is not present")
def test_feature_matrix_embedding_penultimate_on_real_clips():
    from musictag_core.datasets import read_folder

    index = read_folder(CLIPS)
    stems = index.tracks["path"].map(lambda p: Path(p).name)
    index = index.subset(stems.isin(["blues.00000.wav", "classical.00000.wav", "metal.00000.wav"]).to_numpy())
    assert len(index) == 3
    X, names, meta = feature_matrix(index, space="embedding_penultimate")
    assert X.shape == (3, 200) and names[0] == "penultimate_0000"
    assert np.isfinite(X).all() and meta.attrs["skipped"] == {}
    assert np.linalg.norm(X[0] - X[1]) > 1e-3  # different music, different embeddings
    again, _, _ = feature_matrix(index, space="embedding_penultimate")  # from the per-track cache
    np.testing.assert_array_equal(X, again)


def test_umap_warmup_reports_state_and_starts_once(monkeypatch):
    import musictag_core.explore.warmup as mw

    calls = []

    def fake_warm_up(*, sizes, progress):
        calls.append(tuple(sizes))
        progress(0.5, "compiling UMAP on 300 points")
        return 1.25

    monkeypatch.setattr(mw, "warm_up_umap", fake_warm_up)
    monkeypatch.setattr(mw, "_WARMUP", None)
    warm = mw.start_umap_warmup(sizes=(300,))
    assert mw.start_umap_warmup() is warm  # once per process
    seen = []
    assert warm.wait(timeout=30, progress=lambda f, m: seen.append((f, m)))
    assert warm.done and warm.error is None and warm.seconds == 1.25 and calls == [(300,)]
    assert (warm.fraction, warm.message) == (0.5, "compiling UMAP on 300 points")

    def broken(*, sizes, progress):
        raise RuntimeError("no numba")

    monkeypatch.setattr(mw, "warm_up_umap", broken)
    failed = mw.UmapWarmup(sizes=(10,)).start()
    assert failed.wait(timeout=30) and failed.error == "RuntimeError: no numba"


@pytest.mark.slow
@pytest.mark.skipif(not CLIPS.is_dir(), reason="../shared/data/clips is not present")
def test_embedding_space_equals_the_taggers_embed():
    from musictag_core.datasets import read_folder
    from musictag_core.predict import embed_file

    index = read_folder(CLIPS)
    index = index.subset(index.tracks["path"].map(lambda p: Path(p).name).eq("blues.00000.wav").to_numpy())
    X, names, _ = feature_matrix(index, space="embedding_pooled", cache=False)
    ref = embed_file(index.tracks["path"].iloc[0])
    assert names[0] == "pooled_0000"
    np.testing.assert_array_equal(X[0], np.asarray(ref["pooled"], dtype=np.float64))


def test_demo_ready_follows_the_metadata_marker(tmp_path):
    from musictag_core.datasets.demo import DEMO_VERSION
    from musictag_core.explore import demo_ready

    assert not demo_ready()  # a private, empty cache
    folder = Path(__import__("os").environ["MUSICTAG_CACHE"]) / f"{DEMO_VERSION}-seed0"
    folder.mkdir(parents=True)
    assert not demo_ready()  # half-written: no marker yet
    (folder / "metadata.json").write_text("{}")
    assert demo_ready() and not demo_ready(seed=1)
