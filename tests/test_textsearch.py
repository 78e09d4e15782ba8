"""Zero-shot text search: tags ranked by a query, tracks ranked by their scores on the matching tags."""

from __future__ import annotations

import json

import numpy as np
import pytest

from musictag_core.cli import main
from musictag_core.errors import ParameterError
from musictag_core.models.textsearch import TagScoreTable, rank_tags, rank_tracks, search_text, tag_vocabulary


def test_vocabulary_is_the_shipped_taggers_hundred_tags():
    """50 MSD + 50 MTT tags; a tag both carry (rock) appears once per model."""
    vocab = tag_vocabulary()
    assert len(vocab) == 100
    assert {d["model"] for d in vocab} == {"MSD_musicnn", "MTT_musicnn"}
    assert [d["model"] for d in vocab if d["label"] == "rock"] == ["MSD_musicnn", "MTT_musicnn"]


def test_rank_tags_puts_the_named_tag_first():
    """A query that names a tag finds it; related words beat unrelated ones; scores are cosines, best first."""
    ranking = rank_tags("a choir singing in a church")
    assert len(ranking) == 100
    scores = [d["score"] for d in ranking]
    assert scores == sorted(scores, reverse=True) and scores[-1] >= -1.0 and scores[0] <= 1.0 + 1e-6
    assert ranking[0]["label"] == "choir"
    top5 = {d["label"] for d in ranking[:5]}
    assert "choral" in top5
    assert ranking[0]["score"] > 0.6 > next(d["score"] for d in ranking if d["label"] == "heavy metal")
    # a tag both models carry has the same similarity in both, listed once per model
    hits = [d for d in rank_tags("rock music") if d["label"] == "rock"]
    assert [d["model"] for d in hits] == ["MSD_musicnn", "MTT_musicnn"] and hits[0]["score"] == hits[1]["score"]
    assert rank_tags("80s")[0]["label"] == "80s"  # abbreviations are spelled out for the text model


def test_rank_tracks_is_the_similarity_weighted_sum_on_the_three_best_tags():
    """score = sum of similarity x tag score over the three best-matching tags the table has columns for."""
    labels = [{"label": n, "model": "m"} for n in ("a", "b", "c", "d", "e")]
    table = TagScoreTable(["t0", "t1", "t2"], np.array([[1, 0, 0, 0, 1], [0, 1, 1, 0, 0], [0.5, 0.5, 0.5, 1, 0]]), labels)
    ranking = [  # "x" is not in the table and is skipped; "e" comes fourth and does not count
        {"label": "x", "model": "m", "score": 0.99},
        {"label": "a", "model": "m", "score": 0.9},
        {"label": "b", "model": "m", "score": 0.6},
        {"label": "c", "model": "m", "score": 0.5},
        {"label": "e", "model": "m", "score": 0.4},
        {"label": "d", "model": "m", "score": -0.2},
    ]
    tracks = rank_tracks(ranking, table)
    assert [t["path"] for t in tracks] == ["t1", "t2", "t0"]
    np.testing.assert_allclose([t["score"] for t in tracks], [0.6 + 0.5, 0.5 * (0.9 + 0.6 + 0.5), 0.9])
    assert tracks[0]["matched"] == [{"label": "a", "model": "m"}, {"label": "b", "model": "m"}, {"label": "c", "model": "m"}]
    assert len(rank_tracks(ranking, table, top=1)) == 1
    with pytest.raises(ParameterError, match="shape"):
        TagScoreTable(["t0"], np.zeros((2, 5)), labels)


def test_search_text_shape_and_validation():
    """The JSON shape of the issue; an empty or oversized query is a ParameterError."""
    out = search_text("dark slow guitar music", k=5)
    assert list(out) == ["query", "tags", "tracks"] and out["tracks"] == []
    assert len(out["tags"]) == 5 and set(out["tags"][0]) == {"label", "model", "score"}
    assert out["tags"][0]["label"] == "guitar"
    for bad in ("", "   ", "x" * 1001):
        with pytest.raises(ParameterError):
            search_text(bad)
    with pytest.raises(ParameterError, match="k must be"):
        search_text("rock", k=0)


@pytest.fixture(scope="module")
def clip_table(clips_dir, tmp_path_factory):
    """Tag scores of 6 s of six real clips with both shipped taggers: a tag-score table as an index stores it."""
    from musictag_core.predict import tag_file

    names = ["classical.00000.wav", "metal.00000.wav", "hiphop.00000.wav", "jazz.00000.wav", "country.00000.wav", "disco.00000.wav"]
    paths = [str(clips_dir / n) for n in names]
    blocks, labels = [], []
    for model in ("MSD_musicnn", "MTT_musicnn"):
        preds = [tag_file(p, model, max_duration=6.0) for p in paths]
        blocks.append(np.stack([p.scores for p in preds]))
        labels += [{"label": lab, "model": model} for lab in preds[0].labels]
    table = {"paths": paths, "tag_scores": np.concatenate(blocks, axis=1).round(5).tolist(), "tag_labels": labels}
    path = tmp_path_factory.mktemp("text") / "table.json"
    path.write_text(json.dumps(table))
    return path


@pytest.mark.slow
def test_search_text_ranks_real_clips(clip_table, monkeypatch, capsys):
    """On real clips tagged by the shipped models, queries find the matching clip first, through the CLI."""
    monkeypatch.setenv("MUSICTAG_DATA", str(clip_table.parent))
    # the ranking is only as good as the taggers' scores on the matched tags: "rap and hip hop beats"
    # matches Hip-Hop, beats and funk, on which the disco clip scores higher than the hip-hop clip
    expect = {"classical music": "classical", "heavy metal with distorted guitars": "metal"}
    for query, genre in expect.items():
        assert main(["search-text", query, "--index", str(clip_table), "--json"]) == 0
        out = json.loads(capsys.readouterr().out)
        assert out["query"] == query and len(out["tracks"]) == 6
        best = out["tracks"][0]
        assert best["path"].endswith(f"{genre}.00000.wav"), (query, [t["path"] for t in out["tracks"]])
        assert len(best["matched"]) == 3 and all(set(m) == {"label", "model"} for m in best["matched"])
        assert [t["score"] for t in out["tracks"]] == sorted((t["score"] for t in out["tracks"]), reverse=True)
    assert main(["search-text", "sad piano", "--index", str(clip_table), "--top", "3"]) == 0
    text = capsys.readouterr().out
    assert "tracks (similarity-weighted scores on:" in text and text.count(".wav") == 3


def test_search_text_cli_errors(tmp_path, monkeypatch, capsys):
    """Bad arguments exit 2 with a one-line message: empty query, unknown index, malformed table."""
    assert main(["search-text", " "]) == 2
    assert "query is empty" in capsys.readouterr().err
    assert main(["search-text", "rock", "--index", "no-such-index"]) == 2
    assert "no-such-index" in capsys.readouterr().err
    monkeypatch.setenv("MUSICTAG_DATA", str(tmp_path))
    (tmp_path / "t.json").write_text(json.dumps({"paths": ["a"], "tag_scores": [[1, 2]], "tag_labels": [{"label": "rock", "model": "m"}]}))
    assert main(["search-text", "rock", "--index", str(tmp_path / "t.json")]) == 2
    err = capsys.readouterr().err
    assert "shape" in err and str(tmp_path) not in err
    assert main(["search-text", "rock", "--json", "--top", "3"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert len(out["tags"]) == 3 and out["tags"][0]["label"] == "rock" and out["tracks"] == []
