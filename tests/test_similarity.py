"""Similarity search: the faiss index against scikit-learn's exact oracle, and library indexes of real clips.

The real-clip tests share one tiny library (7 s cuts of five shared clips plus an unlabelled file)
and one feature cache, so the musicnn embeddings are computed once per module.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from musictag_core.cli import main
from musictag_core.errors import DatasetError, ParameterError
from musictag_core.similarity import (
    VectorIndex,
    build_index,
    check_index_name,
    collect_tracks,
    leave_one_out_agreement,
    list_indexes,
    neighbours_csv,
    neighbours_m3u,
    open_index,
    similar_to_file,
    similar_to_row,
)

from .helpers import CLIPS, needs_clips


def _mixture(n: int, d: int = 32, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(6, d))
    return (centres[rng.integers(0, 6, n)] + 0.4 * rng.normal(size=(n, d))).astype(np.float32)


@pytest.mark.parametrize("kind", ["exact", "hnsw"])
def test_vector_index_agrees_with_sklearn_oracle(kind, tmp_path):
    from sklearn.neighbors import NearestNeighbors

    X = _mixture(400)
    Q = _mixture(25, seed=1)
    oracle = NearestNeighbors(n_neighbors=10, metric="cosine", algorithm="brute").fit(X)
    d_true, i_true = oracle.kneighbors(Q)
    index = VectorIndex.build(X, kind=kind)
    index.save(tmp_path / "v.faiss")
    loaded = VectorIndex.load(tmp_path / "v.faiss")  # memory-mapped
    assert loaded.kind == kind and len(loaded) == 400
    from sklearn.metrics.pairwise import cosine_distances

    for idx in (index, loaded):
        ids, dist = idx.search(Q, k=10)
        # every returned distance is the exact cosine distance of that row
        np.testing.assert_allclose(dist, np.take_along_axis(cosine_distances(Q, X), ids, axis=1), atol=2e-6)
        if kind == "exact":
            np.testing.assert_allclose(dist, d_true, atol=2e-6)
            assert np.mean(ids == i_true) > 0.99  # ids agree wherever distances are not tied
        else:  # approximate: recall@10 against the oracle
            recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(ids.tolist(), i_true.tolist())])
            assert recall >= 0.95


def test_vector_index_validates_its_inputs():
    index = VectorIndex.build(_mixture(20))
    with pytest.raises(ParameterError, match="k must be"):
        index.search(_mixture(1), k=0)
    with pytest.raises(ParameterError, match="dimensions"):
        index.search(np.ones((1, 5), np.float32), k=3)
    with pytest.raises(ParameterError, match="search kind"):
        VectorIndex.build(_mixture(5), kind="ivf")
    ids, dist = index.search(_mixture(1), k=50)  # more than there are
    assert ids.shape == (1, 20) and np.all(np.diff(dist[0]) >= -1e-7)


@pytest.mark.parametrize("bad", ["", "a b", "../x", "x/y", "é", "a.b", "x" * 65, None, 3])
def test_index_names_are_validated(bad):
    with pytest.raises(ParameterError, match="index name"):
        check_index_name(bad)


@pytest.mark.parametrize("good", ["a", "my_library", "GTZAN-2024", "x" * 64])
def test_good_index_names(good):
    assert check_index_name(good) == good


def test_cli_refuses_a_bad_name_with_exit_2(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("MUSICTAG_INDEXES", str(tmp_path / "indexes"))
    assert main(["index", str(tmp_path), "--name", "bad name"]) == 2
    assert "index name 'bad name' is not allowed" in capsys.readouterr().err
    assert main(["similar", str(tmp_path / "x.wav"), "--index", "nothing_here"]) == 2
    assert "no index named 'nothing_here'" in capsys.readouterr().err


def test_multi_label_datasets_give_label_lists(tmp_path):
    import soundfile as sf

    for name in ("a.wav", "b.wav"):
        sf.write(tmp_path / name, np.zeros(1600, np.float32), 16000)
    (tmp_path / "tags.csv").write_text("path,rock,jazz\na.wav,100,80\nb.wav,0,90\n")
    tracks, info = collect_tracks(tmp_path / "tags.csv")
    assert info["form"] == "strengths"
    assert dict((Path(p).name, lab) for p, lab in tracks) == {"a.wav": ["rock", "jazz"], "b.wav": ["jazz"]}
    (tmp_path / "deep" / "er").mkdir(parents=True)
    shutil.copy(tmp_path / "a.wav", tmp_path / "deep" / "er" / "c.wav")
    tracks, info = collect_tracks(tmp_path / "deep", labels=False)  # any folder tree, recursively
    assert info["form"] == "files" and [(Path(p).name, lab) for p, lab in tracks] == [("c.wav", None)]
    with pytest.raises(DatasetError, match="does not exist"):
        collect_tracks(tmp_path / "not_there")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="no audio files"):
        collect_tracks(tmp_path / "empty")


# ---------------------------------------------------------------- real clips

CUTS = ["blues.00000.wav", "blues.00099.mp3", "classical.00000.wav", "metal.00000.wav", "rock.00000.wav"]


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    """A folder of 7 s cuts of five shared clips (GTZAN names) and one unlabelled file; its own cache and indexes."""
    if not CLIPS.is_dir():
        pytest.skip("../shared/data/clips is not present")
    import soundfile as sf

    from musictag_core.audio import load_audio

    tmp = tmp_path_factory.mktemp("similar")
    root = tmp / "lib"
    root.mkdir()
    for name in CUTS:
        y, sr = load_audio(CLIPS / name, sr=16000, offset=5.0, duration=7.0)
        sf.write(root / (Path(name).stem + ".wav"), y, sr)
    y, sr = load_audio(CLIPS / "jazz.00000.wav", sr=16000, offset=5.0, duration=7.0)
    sf.write(root / "untitled.wav", y, sr)  # not a GTZAN name: indexed without a label
    mp = pytest.MonkeyPatch()
    mp.setenv("MUSICTAG_CACHE", str(tmp / "cache"))
    mp.setenv("MUSICTAG_INDEXES", str(tmp / "indexes"))
    report = build_index(root, name="lib")
    yield {"root": root, "tmp": tmp, "report": report}
    mp.undo()


@needs_clips
@pytest.mark.slow
def test_index_holds_tracks_labels_segments_and_both_taggers_scores(library):
    rep = library["report"]
    assert (rep.added, rep.changed, rep.removed, rep.failed) == (6, 0, 0, {})
    idx = open_index("lib")
    assert idx.model == "MSD_musicnn" and idx.space == "penultimate" and len(idx) == 6
    labels = {Path(t["path"]).name: t["label"] for t in idx.tracks}
    assert labels["blues.00000.wav"] == "blues" and labels["untitled.wav"] is None  # labels only from the dataset form
    assert idx.track_vectors.shape == (6, 200) and isinstance(idx.track_vectors, np.memmap)
    np.testing.assert_allclose(np.linalg.norm(idx.track_vectors, axis=1), 1.0, atol=1e-5)
    assert idx.segment_vectors.shape[0] == sum(t["n_segments"] for t in idx.tracks) >= 12  # 2 patches of 3 s per 7 s clip
    assert idx.tag_scores.shape == (6, 100) and idx.tag_scores.dtype == np.float32
    assert [t["model"] for t in idx.tag_labels] == ["MSD_musicnn"] * 50 + ["MTT_musicnn"] * 50
    assert {"label", "model"} == set(idx.tag_labels[0])
    # the stored scores are the models' own track scores
    from musictag_core.predict import tag_file

    row = next(i for i, t in enumerate(idx.tracks) if t["path"].endswith("metal.00000.wav"))
    for model, cols in (("MSD_musicnn", slice(0, 50)), ("MTT_musicnn", slice(50, 100))):
        pred = tag_file(idx.tracks[row]["path"], model)
        assert [t["label"] for t in idx.tag_labels[cols]] == pred.labels
        np.testing.assert_allclose(idx.tag_scores[row, cols], pred.scores, atol=1e-5)
    assert [s["name"] for s in list_indexes()] == ["lib"]


@needs_clips
@pytest.mark.slow
def test_neighbours_agree_with_the_exact_oracle_on_independent_embeddings(library):
    """The index's distances equal scikit-learn's cosine NearestNeighbors on embeddings computed by predict.embed_file."""
    from sklearn.neighbors import NearestNeighbors

    from musictag_core.predict import embed_file

    idx = open_index("lib")
    E = np.stack([embed_file(p, model="MSD_musicnn")["penultimate"] for p in idx.paths])
    d_true, i_true = NearestNeighbors(n_neighbors=6, metric="cosine", algorithm="brute").fit(E).kneighbors(E)
    for row in range(len(idx)):
        res = similar_to_row(idx, row, k=5, exclude_self=True)
        np.testing.assert_allclose([n.distance for n in res.neighbours], d_true[row, 1:], atol=1e-4)
        assert [n.row for n in res.neighbours] == list(i_true[row, 1:])
    # a file that is not in the index is embedded with the index's model
    import soundfile as sf

    from musictag_core.audio import load_audio

    y, sr = load_audio(CLIPS / "country.00000.wav", sr=16000, offset=5.0, duration=7.0)
    new = library["tmp"] / "country_cut.wav"
    sf.write(new, y, sr)
    q = embed_file(new, model="MSD_musicnn")["penultimate"][None, :]
    d_new, i_new = NearestNeighbors(n_neighbors=6, metric="cosine", algorithm="brute").fit(E).kneighbors(q)
    res = similar_to_file(new, index=idx, k=6)
    np.testing.assert_allclose([n.distance for n in res.neighbours], d_new[0], atol=1e-4)
    assert [n.row for n in res.neighbours] == list(i_new[0]) and res.neighbours[0].distance > 0


@needs_clips
@pytest.mark.slow
def test_self_match_first_at_zero_and_exclude_self(library):
    query = str(library["root"] / "classical.00000.wav")
    res = similar_to_file(query, index="lib", k=3)
    first = res.neighbours[0]
    assert first.path == query and first.distance == 0.0 and first.label == "classical"
    assert [n.distance for n in res.neighbours] == sorted(n.distance for n in res.neighbours)
    res = similar_to_file(query, index="lib", k=3, exclude_self=True)
    assert query not in [n.path for n in res.neighbours] and len(res.neighbours) == 3
    assert all(n.distance > 0 for n in res.neighbours)
    # a copy of an indexed file elsewhere has the same content hash: it matches itself too
    copy = library["tmp"] / "copy_of_metal.wav"
    shutil.copy(library["root"] / "metal.00000.wav", copy)
    assert similar_to_file(copy, index="lib", k=1).neighbours[0].distance == 0.0


@needs_clips
@pytest.mark.slow
def test_best_segment_is_one_of_the_neighbours_segments(library):
    idx = open_index("lib")
    res = similar_to_file(str(library["root"] / "rock.00000.wav"), index=idx, k=6)
    for n in res.neighbours:
        _, starts = idx.segments_of(n.row)
        assert any(abs(n.segment_start_s - s) < 1e-3 for s in starts)


@needs_clips
@pytest.mark.slow
def test_cli_similar_json_shape_and_exports(library, capsys, tmp_path):
    q = str(library["root"] / "blues.00000.wav")
    m3u, csv_out = tmp_path / "n.m3u", tmp_path / "n.csv"
    assert main(["similar", q, str(tmp_path / "missing.wav"), "--index", "lib", "--k", "4", "--json",
                 "--m3u", str(m3u), "--csv-out", str(csv_out)]) == 1  # one query failed
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert set(lines[0]) == {"path", "index", "neighbours"} and lines[0]["index"] == "lib"
    assert len(lines[0]["neighbours"]) == 4
    for n in lines[0]["neighbours"]:
        assert set(n) == {"path", "distance", "label", "segment_start_s"}
    assert lines[0]["neighbours"][0] == {"path": q, "distance": 0.0, "label": "blues", "segment_start_s": lines[0]["neighbours"][0]["segment_start_s"]}
    assert "error" in lines[1]
    text = m3u.read_text()
    assert text.startswith("#EXTM3U") and text.count("#EXTVLCOPT:start-time=") == 4 and q in text
    rows = csv_out.read_text().splitlines()
    assert rows[0] == "query,index,rank,path,distance,label,segment_start_s" and len(rows) == 5
    assert main(["similar", q, "--index", "lib", "--exclude-self", "--json"]) == 0
    assert q not in [n["path"] for n in json.loads(capsys.readouterr().out)["neighbours"]]


@needs_clips
@pytest.mark.slow
def test_a_query_with_another_model_is_refused(library, capsys):
    q = str(library["root"] / "blues.00000.wav")
    assert main(["similar", q, "--index", "lib", "--model", "MTT_musicnn"]) == 2
    assert "built with model 'MSD_musicnn'" in capsys.readouterr().err
    with pytest.raises(ParameterError, match="refused"):
        similar_to_file(q, index="lib", model="MTT_musicnn")
    with pytest.raises(ParameterError, match="delete it first"):
        build_index(library["root"], name="lib", model="MTT_musicnn")


@needs_clips
@pytest.mark.slow
def test_incremental_update_by_content_hash(library, tmp_path):
    import soundfile as sf

    root = tmp_path / "lib2"
    shutil.copytree(library["root"], root)
    first = build_index(root, name="lib2")
    assert first.added == 6
    before = open_index("lib2")
    keep = {t["path"]: np.asarray(before.track_vectors[i]).copy() for i, t in enumerate(before.tracks)}
    # add one, remove one, change one (new content at the same path), leave three alone
    y, sr = sf.read(root / "metal.00000.wav")
    sf.write(root / "added.wav", y[::-1].copy(), sr)
    (root / "classical.00000.wav").unlink()
    sf.write(root / "rock.00000.wav", y[: len(y) // 2 * 2].reshape(-1, 2).mean(axis=1).repeat(2), sr)
    rep = build_index(root, name="lib2")
    assert (rep.added, rep.changed, rep.removed, rep.unchanged) == (1, 1, 1, 4)
    after = open_index("lib2")
    assert len(after) == 6 and not any(p.endswith("classical.00000.wav") for p in after.paths)
    for i, t in enumerate(after.tracks):
        if t["path"].endswith("rock.00000.wav"):
            assert not np.allclose(after.track_vectors[i], keep[t["path"]], atol=1e-4)  # re-embedded
        elif t["path"] in keep:
            np.testing.assert_array_equal(after.track_vectors[i], keep[t["path"]])
    again = build_index(root, name="lib2")
    assert (again.added, again.changed, again.removed, again.unchanged) == (0, 0, 0, 6)
    assert main(["index", "delete", "lib2"]) == 0
    assert "lib2" not in [s["name"] for s in list_indexes()]


@needs_clips
@pytest.mark.slow
def test_agreement_and_exports(library):
    idx = open_index("lib")
    q = leave_one_out_agreement(idx, k=3)
    assert q["n_tracks"] == 5 and q["k"] == 3  # the unlabelled track is not scored
    assert 0.0 <= q["top1"] <= q["ceiling_top1"] and 0.0 <= q["topk"] <= q["ceiling_topk"]
    assert q["ceiling_top1"] == pytest.approx(2 / 5)  # only the two blues cuts have a same-genre partner
    res = similar_to_row(idx, 0, k=2)
    assert neighbours_csv([res]).count("\n") == 3
    assert neighbours_m3u([res]).count("#EXTINF") == 2
