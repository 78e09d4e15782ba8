"""The tagging API: tag_file / tag_array / embed_file, model listing and loading, the tag CLI."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from musictag_core.errors import AudioError, ModelError, ParameterError
from musictag_core.models.loading import LOADERS, ModelEntry, Tagger, list_models, load_tagger, register_loader
from musictag_core.paths import assets_dir
from musictag_core.predict import TrackPrediction, embed_array, embed_file, tag_array, tag_file

CLIPS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "clips"
needs_clips = pytest.mark.skipif(not CLIPS.is_dir(), reason="../shared/data/clips is not present")
GOLDEN = Path(__file__).with_name("fixtures") / "musicnn_golden.npz"


@pytest.fixture(scope="session")
def msd():
    return load_tagger("MSD_musicnn")


@pytest.fixture(scope="session")
def mtt():
    return load_tagger("MTT_musicnn")


def _noise(seconds: float, *, sr: int = 16000, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (0.1 * rng.standard_normal(int(sr * seconds))).astype(np.float32)


def _wav_bytes(y: np.ndarray, sr: int) -> bytes:
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, y, sr, format="WAV", subtype="FLOAT")
    return buf.getvalue()


# ------------------------------------------------------------------ sanity


@needs_clips
@pytest.mark.parametrize(
    "clip, model, genre",
    [("blues.00000.wav", "msd", "blues"), ("metal.00000.wav", "msd", "metal"), ("jazz.00000.wav", "msd", "jazz"),
     ("pop.00000.wav", "msd", "pop"), ("rock.00000.wav", "msd", "rock"), ("classical.00000.wav", "mtt", "classical")],
)  # fmt: skip
def test_clip_top_genre(request, clip, model, genre):
    pred = tag_file(CLIPS / clip, request.getfixturevalue(model))
    assert pred.top(1, genres_only=True)[0][0] == genre
    if genre == "classical":
        assert pred.genre_scores()["classical"] > 0.7


@needs_clips
@pytest.mark.parametrize("model", ["msd", "mtt"])
def test_tag_file_matches_original_graph_golden(request, model):
    """Per-patch scores of the whole tag_file path equal the original TF1 graph's (stored)."""
    tagger = request.getfixturevalue(model)
    with np.load(GOLDEN) as golden:
        keys = [k for k in golden.files if k.startswith(f"clip/{tagger.name}/")]
        assert len(keys) >= 10
        for key in keys:
            path = CLIPS / key.rsplit("/", 1)[1]
            if not path.exists():
                continue
            pred = tag_file(path, tagger)
            np.testing.assert_allclose(pred.segment_scores[:3], golden[key], atol=1e-4, err_msg=key)


# ------------------------------------------------------------------ the API


def test_tag_array_shapes_and_mean(msd):
    y = _noise(10.0)
    pred = tag_array(y, sr=16000, model=msd)
    assert isinstance(pred, TrackPrediction)
    assert pred.model == "MSD_musicnn" and pred.path == "<array>" and pred.sr == 16000
    assert pred.segment_scores.shape == (3, 50)  # 626 frames -> 3 patches of 187, tail dropped
    np.testing.assert_allclose(pred.segment_starts_s, [0.0, 2.992, 5.984])
    np.testing.assert_allclose(pred.scores, pred.segment_scores.mean(axis=0), rtol=1e-6)
    assert np.all((pred.scores >= 0) & (pred.scores <= 1))
    assert pred.duration_s == pytest.approx(10.0)
    assert pred.labels == msd.labels and set(pred.genres) <= set(pred.labels)


def test_short_clip_is_padded(msd):
    pred = tag_array(_noise(1.0), sr=16000, model=msd)
    assert pred.segment_scores.shape == (1, 50)
    assert np.all(np.isfinite(pred.scores))
    assert pred.duration_s == pytest.approx(1.0)
    # shorter than one 3 s segment: tagged, with a warning that travels into the JSON
    assert len(pred.warnings) == 1 and "shorter than one 2.992 s segment" in pred.warnings[0]
    assert pred.to_dict()["warnings"] == list(pred.warnings)


def test_a_full_segment_has_no_warning(msd):
    pred = tag_array(_noise(3.0), sr=16000, model=msd)
    assert pred.warnings == () and pred.to_dict()["warnings"] == []


@pytest.mark.parametrize("n", [20, 7999])
def test_clip_under_half_a_second_is_refused(msd, n):
    with pytest.raises(AudioError, match=r"only 0\.\d+ s long; at least 0\.5 s"):
        tag_array(_noise(1.0)[:n], sr=16000, model=msd)


def test_overlap_gives_more_segments(msd):
    y = _noise(10.0)
    plain = tag_array(y, sr=16000, model=msd)
    fine = tag_array(y, sr=16000, model=msd, overlap=1.5)
    assert len(fine.segment_starts_s) == 5 > len(plain.segment_starts_s)
    np.testing.assert_allclose(np.diff(fine.segment_starts_s), 93 * 256 / 16000)
    np.testing.assert_allclose(fine.segment_scores[0], plain.segment_scores[0], atol=1e-5)


@pytest.mark.parametrize("overlap", [-1.0, 3.0, 10])
def test_bad_overlap(msd, overlap):
    with pytest.raises(ParameterError, match="overlap"):
        tag_array(_noise(4.0), sr=16000, model=msd, overlap=overlap)


def test_stereo_and_other_rate_are_converted(msd):
    y = _noise(4.0, sr=22050)
    stereo = np.stack([y, y])
    a = tag_array(stereo, sr=22050, model=msd)
    b = tag_array(y, sr=22050, model=msd)
    np.testing.assert_allclose(a.scores, b.scores, atol=1e-6)
    assert a.sr == 16000 and a.duration_s == pytest.approx(4.0, abs=1e-3)


def test_tag_file_bytes_and_file_like(msd):
    y = _noise(4.0, sr=22050, seed=3)
    data = _wav_bytes(y, 22050)
    a = tag_file(data, msd)
    b = tag_file(io.BytesIO(data), msd)
    c = tag_array(y, sr=22050, model=msd)
    assert a.path == "<bytes>"
    np.testing.assert_allclose(a.scores, b.scores)
    np.testing.assert_allclose(a.scores, c.scores, atol=1e-4)


@pytest.mark.parametrize("source", [b"RIFF....WAVEnot audio", b"", "missing-file.wav"])
def test_bad_source_raises_audio_error(msd, source, tmp_path):
    if isinstance(source, str):
        source = tmp_path / source
    with pytest.raises(AudioError):
        tag_file(source, msd)


def test_silent_array_raises_audio_error(msd):
    with pytest.raises(AudioError, match="silent"):
        tag_array(np.zeros(16000, np.float32), sr=16000, model=msd)


def test_unknown_model_lists_available():
    with pytest.raises(ModelError, match="unknown model 'nope'.*MSD_musicnn.*MTT_musicnn"):
        load_tagger("nope")
    with pytest.raises(ModelError, match="available models"):
        tag_file(b"whatever", "nope")


def test_load_tagger_caches(msd):
    assert load_tagger("MSD_musicnn") is msd
    assert load_tagger(assets_dir() / "models" / "MSD_musicnn") is msd
    assert isinstance(msd, Tagger)


def test_to_dict_is_json_ready(msd):
    pred = tag_array(_noise(7.0), sr=16000, model=msd, name="x.wav")
    d = json.loads(json.dumps(pred.to_dict()))
    assert d["path"] == "x.wav" and d["model"] == "MSD_musicnn"
    assert len(d["tags"]) == 50
    scores = [t["score"] for t in d["tags"]]
    assert scores == sorted(scores, reverse=True)
    assert {t["label"] for t in d["genres"]} == set(pred.genres)
    assert len(d["segments"]) == 2 and len(d["segments"][1]["scores"]) == 50
    assert d["segments"][1]["start_s"] == pytest.approx(2.992)
    assert len(pred.to_dict(top_k=3)["tags"]) == 3


def _prediction(genre_scores: dict[str, float]) -> TrackPrediction:
    labels = [*genre_scores, "guitar"]
    scores = np.array([*genre_scores.values(), 0.9], np.float32)
    return TrackPrediction(
        path="p", model="m", labels=labels, genres=list(genre_scores), scores=scores,
        segment_starts_s=np.zeros(1), segment_scores=scores[None], duration_s=3.0, sr=16000,
    )  # fmt: skip


@pytest.mark.parametrize(
    "scores, text",
    [({"blues": 0.6, "country": 0.3, "rock": 0.05}, "mostly blues, some country"),
     ({"blues": 0.6, "country": 0.5, "rock": 0.05}, "a mix of blues and country"),
     ({"blues": 0.6, "country": 0.1}, "mostly blues"),
     ({"blues": 0.05, "country": 0.01}, "no clear genre (closest: blues, 0.05)")],
)  # fmt: skip
def test_summary(scores, text):
    assert _prediction(scores).summary() == text


def test_top_and_genre_scores():
    pred = _prediction({"blues": 0.2, "country": 0.6})
    assert pred.top(2) == [("guitar", pytest.approx(0.9)), ("country", pytest.approx(0.6))]
    assert list(pred.genre_scores()) == ["country", "blues"]
    with pytest.raises(ParameterError):
        pred.top(-1)


def test_embed(msd):
    y = _noise(7.0, seed=5)
    emb = embed_array(y, sr=16000, model=msd)
    assert emb["pooled"].shape == (1506,) and emb["penultimate"].shape == (200,)
    again = embed_file(_wav_bytes(y, 16000), model=msd)
    np.testing.assert_allclose(again["penultimate"], emb["penultimate"], atol=1e-4)


# ---------------------------------------------------------- models and loaders


def test_list_models_shipped_and_finished_runs(tmp_path):
    runs = tmp_path / "runs"
    for run_id, state in [("run-a", "finished"), ("run-b", "running")]:
        (runs / run_id).mkdir(parents=True)
        (runs / run_id / "card.json").write_text(json.dumps({"name": run_id, "format": "toy", "labels": ["a"]}))
        (runs / run_id / "status.json").write_text(json.dumps({"state": state}))
    (runs / "no-card").mkdir()
    entries = list_models(runs_dir=runs)
    names = [(e.name, e.source) for e in entries]
    assert ("MSD_musicnn", "shipped") in names and ("MTT_musicnn", "shipped") in names
    assert ("run-a", "run") in names
    assert all(n != "run-b" and n != "no-card" for n, _ in names)
    assert all(isinstance(e, ModelEntry) for e in entries)


class _ToyTagger:
    """A loader result of another format: one score per 1 s block, 'loud' and 'quiet'."""

    def __init__(self, path: Path, card: dict) -> None:
        self.name, self.card, self.sr = card["name"], card, 8000
        self.labels, self.genres = ["loud", "quiet"], ["loud", "quiet"]

    def predict(self, y, *, overlap=0.0):
        n = max(1, len(y) // self.sr)
        rms = np.array([np.sqrt(np.mean(y[i * self.sr : (i + 1) * self.sr] ** 2)) for i in range(n)])
        loud = np.clip(rms * 5, 0, 1)
        return np.arange(n, dtype=float), np.stack([loud, 1 - loud], axis=1)

    def embed(self, y):
        return {"rms": np.array([np.sqrt(np.mean(y**2))])}


def test_registered_loader_serves_runs(tmp_path):
    runs = tmp_path / "runs"
    (runs / "toy-1").mkdir(parents=True)
    (runs / "toy-1" / "card.json").write_text(json.dumps({"name": "toy-1", "format": "toy-format"}))
    (runs / "toy-1" / "status.json").write_text(json.dumps({"state": "finished"}))
    with pytest.raises(ModelError, match="no loader"):
        load_tagger("toy-1", runs_dir=runs)
    register_loader("toy-format", _ToyTagger)
    try:
        pred = tag_array(_noise(3.0, sr=16000), sr=16000, model="toy-1", runs_dir=runs)
        assert pred.model == "toy-1" and pred.sr == 8000
        assert pred.segment_scores.shape == (3, 2)
        assert pred.summary().startswith("mostly")
    finally:
        LOADERS.pop("toy-format", None)


def test_run_with_musicnn_card_loads(tmp_path, msd):
    runs = tmp_path / "runs"
    shutil.copytree(assets_dir() / "models" / "MTT_musicnn", runs / "mtt-copy")
    (runs / "mtt-copy" / "status.json").write_text(json.dumps({"state": "finished"}))
    tagger = load_tagger("mtt-copy", runs_dir=runs)
    assert tagger.labels[1] == "classical"


# ------------------------------------------------------------------ the CLI


def test_cli_tag_one_bad_file_exit_1(tmp_path, capsys, msd):
    from musictag_core.cli import main

    good = tmp_path / "good.wav"
    good.write_bytes(_wav_bytes(_noise(4.0), 16000))
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF....WAVEnot audio")
    rc = main(["tag", str(good), str(bad), str(good), "--top-k", "3"])
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert rc == 1
    assert [("error" in d) for d in lines] == [False, True, False]
    assert lines[1]["path"] == str(bad)
    assert len(lines[0]["tags"]) == 3 and lines[0]["model"] == "MSD_musicnn"
    assert len(lines[0]["segments"]) == 1


def test_cli_tag_csv_and_models(tmp_path, capsys, msd):
    from musictag_core.cli import main

    good = tmp_path / "good.wav"
    good.write_bytes(_wav_bytes(_noise(4.0), 16000))
    assert main(["tag", str(good), "--format", "csv", "--top-k", "2"]) == 0
    rows = capsys.readouterr().out.strip().splitlines()
    assert rows[0].startswith("path,model,rank,label,score") and len(rows) == 3
    assert main(["models", "--json"]) == 0
    names = [json.loads(line)["name"] for line in capsys.readouterr().out.splitlines()]
    assert {"MSD_musicnn", "MTT_musicnn"} <= set(names)
    assert main(["tag", str(good), "--model", "nope"]) == 2
    assert "available models" in capsys.readouterr().err


def test_bfloat16_tagger_close_to_float32(msd):
    from musictag_core.models.musicnn import MusicnnTagger

    fast = MusicnnTagger(msd.path, msd.card, precision="bfloat16", batch_size=2)
    y = _noise(7.0, seed=9)
    a = tag_array(y, sr=16000, model=msd)
    b = tag_array(y, sr=16000, model=fast)
    assert b.segment_scores.dtype == np.float32
    assert np.abs(a.scores - b.scores).max() < 0.03
    with pytest.raises(ParameterError, match="precision"):
        MusicnnTagger(msd.path, msd.card, precision="float16")


@needs_clips
def test_analyse_file_decodes_once_and_shows_the_models_own_input(msd):
    """The Tag page's one call: the prediction equals tag_file's, and the view is the model's input."""
    from musictag_core.audio import load_audio
    from musictag_core.features import log_mel
    from musictag_core.predict import analyse_file, display_params

    clip = CLIPS / "blues.00000.wav"
    pred, view = analyse_file(clip, msd, overlap=1.5, max_duration=10.0)
    ref = tag_file(clip, msd, overlap=1.5, max_duration=10.0)
    assert pred.labels == ref.labels
    np.testing.assert_allclose(pred.scores, ref.scores, atol=1e-6)
    np.testing.assert_allclose(pred.segment_scores, ref.segment_scores, atol=1e-6)
    # the view is the waveform the model tagged (16 kHz), with its 96 mel bands and 256-sample hop
    assert display_params(msd) == {"n_fft": 512, "hop_length": 256, "n_mels": 96}
    assert view.sr == 16000 and view.n_mels == 96 and view.hop_length == 256
    # (decoded a little past the limit, to tell a longer file, then cut: the same samples tag_file uses)
    y = load_audio(clip, sr=16000, duration=10.25)[0][:160000]
    np.testing.assert_allclose(view.y, y, atol=1e-6)
    np.testing.assert_allclose(view.S_db, log_mel(y=y, sr=16000, n_fft=512, hop_length=256, n_mels=96), atol=1e-4)
    assert view.mfcc.shape == (20, view.S_db.shape[1])
    # the cards the page shows come from the prediction itself
    scores, seg, labels = pred.subset(genres_only=True)
    assert set(labels) == set(pred.genres) and seg.shape == (len(pred.segment_scores), len(labels))
    assert scores == {g: pytest.approx(s) for g, s in pred.genre_scores().items()}
    row = pred.result_row(n_tags=3)
    top_genre, top_score = pred.top(1, genres_only=True)[0]
    assert row["top genre"] == top_genre and row["score"] == round(top_score, 3)
    assert row["summary"] == pred.summary() and row["top tags"].count("(") == 3
