"""Occlusion saliency: shapes, locality, the faithfulness (deletion) test on real clips, run models, the CLI (#14)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from musictag_core.audio import load_audio
from musictag_core.cli import main
from musictag_core.explain import explain_array, explain_file

from .helpers import write_tone_dataset

SHORT_S = 6.0  # two musicnn patches per clip keeps the suite fast
CLIPS = [("blues.00000.wav", "blues"), ("metal.00000.wav", "metal")]


@pytest.fixture(scope="module")
def tagger():
    from musictag_core.models.loading import load_tagger

    return load_tagger("MSD_musicnn")


@pytest.fixture(scope="module")
def explained(tagger, clips_dir):
    out = {}
    for name, tag in CLIPS:
        y, sr = load_audio(clips_dir / name, sr=tagger.sr, duration=SHORT_S)
        out[name] = (y, explain_array(y, sr=sr, tag=tag, model=tagger, name=name, deletion_fractions=(0.05, 0.1, 0.2, 0.3)))
    return out


@pytest.mark.slow
@pytest.mark.parametrize("name", [c[0] for c in CLIPS])
def test_deleting_the_salient_tenth_hurts_more_than_a_random_tenth(explained, name):
    _, ex = explained[name]
    d = ex.deletion
    print(f"\n{name} '{ex.tag}': score {ex.score:.3f}; deletion curve (fraction, salient drop, random drop): "
          + "; ".join(f"{c['fraction']:.2f} {c['salient_drop']:+.3f} {c['random_drop']:+.3f}" for c in d["curve"]))
    assert d["fraction"] == 0.1 and d["seeds"] == 5 and len(d["random_drops"]) == 5
    assert d["n_cells"] == round(0.1 * ex.saliency.size)
    assert d["salient_drop"] > d["random_drop"] + 0.02
    assert d["curve"][1]["salient_drop"] == pytest.approx(d["salient_drop"])
    assert all(c["salient_drop"] > c["random_drop"] for c in d["curve"])


@pytest.mark.slow
def test_saliency_is_aligned_with_the_models_mel_and_its_track_score(tagger, explained):
    from musictag_core.predict import tag_array

    y, ex = explained["blues.00000.wav"]
    assert ex.method == "spectrogram"
    assert ex.saliency.shape == (96 // 8, 2 * 6)  # 12 band groups x (2 patches x 6 half-second cells)
    assert ex.bands_hz[0] == 0 and ex.bands_hz[-1] == tagger.sr / 2 and (np.diff(ex.bands_hz) > 0).all()
    assert np.all(np.diff(ex.times_s) > 0) and ex.times_s[0] == 0
    assert ex.cell_s == pytest.approx(31 * 256 / 16000)
    assert ex.mel.shape == (96, 2 * 187) and len(ex.mel_times_s) == 2 * 187
    plain = tag_array(y, sr=tagger.sr, model=tagger)
    assert ex.score == pytest.approx(float(plain.scores[plain.labels.index("blues")]), abs=1e-5)
    # the most salient cell, masked by hand on the full input, loses what the heatmap says
    g, c = np.unravel_index(np.argmax(ex.saliency), ex.saliency.shape)
    patches, _ = tagger.patches(y)
    seg, t_cell = divmod(int(c), 6)
    t0, t1 = t_cell * 31, (t_cell + 1) * 31 if t_cell < 5 else 187
    b0, b1 = g * 8, g * 8 + 8
    masked = patches.copy()
    masked[seg, t0:t1, b0:b1] = patches[seg, t0:t1, b0:b1].mean()
    j = tagger.labels.index("blues")
    drop = tagger.forward(patches)["tags"][:, j].mean() - tagger.forward(masked)["tags"][:, j].mean()
    assert ex.saliency[g, c] == pytest.approx(drop, abs=1e-5)


@pytest.mark.slow
def test_incremental_occlusion_equals_full_forward_passes(tagger, clips_dir):
    y, sr = load_audio(clips_dir / "metal.00000.wav", sr=tagger.sr, duration=3.2)
    fast = explain_array(y, sr=sr, tag="metal", model=tagger)
    full = explain_array(y, sr=sr, tag="metal", model=tagger, incremental=False)
    assert fast.saliency.shape == full.saliency.shape == (12, 6)
    np.testing.assert_allclose(fast.saliency, full.saliency, rtol=0, atol=1e-6)
    assert np.abs(full.saliency).max() > 1e-3


@pytest.mark.slow
def test_json_has_the_issue_shape(explained):
    _, ex = explained["metal.00000.wav"]
    d = json.loads(json.dumps(ex.to_dict()))
    assert list(d) == ["path", "model", "tag", "score", "saliency", "bands_hz", "times_s", "deletion"]
    assert set(d["deletion"]) == {"salient_drop", "random_drop"}
    assert len(d["saliency"]) == len(d["bands_hz"]) - 1 and all(len(r) == len(d["times_s"]) for r in d["saliency"])
    assert d["tag"] == "metal" and d["model"] == "MSD_musicnn"


@pytest.fixture(scope="module")
def tone_runs(tmp_path_factory):
    """Finished runs on a tiny tones dataset: a log-mel CNN and a statistics logistic regression."""
    from musictag_core.models.loading import clear_tagger_cache
    from musictag_core.training import RunConfig, create_run, execute_run

    base = tmp_path_factory.mktemp("explain_runs")
    mp = pytest.MonkeyPatch()
    mp.setenv("MUSICTAG_CACHE", str(base / "cache"))
    mp.setenv("MUSICTAG_RUNS", str(base / "runs"))
    data = write_tone_dataset(base / "tones", n_per_genre=6, seconds=1.5)
    runs = {}
    for key, kw in {
        "cnn": dict(model="cnn", preset="fast", epochs=1, batch_size=8, segments={"length_s": 0.5, "n_segments": 3},
                    features={"n_mels": 32}),
        "logreg": dict(model="logreg"),
    }.items():
        run_dir = create_run(RunConfig(dataset=str(data), seed=0, **kw), runs_dir=base / "runs")
        assert execute_run(run_dir) == "finished", (run_dir / "status.json").read_text()
        runs[key] = run_dir
    yield runs, data
    mp.undo()
    clear_tagger_cache()


@pytest.mark.slow
def test_trained_models_are_explained_on_their_own_input(tone_runs):
    from musictag_core.predict import tag_file

    runs, data = tone_runs
    clip = next((data / "high").glob("*.wav"))
    cnn = explain_file(clip, tag="high", model=runs["cnn"], time_s=0.25, bands=8)
    assert cnn.method == "spectrogram" and cnn.saliency.shape[0] == 32 // 8
    plain = tag_file(clip, runs["cnn"])
    assert cnn.score == pytest.approx(float(plain.scores[plain.labels.index("high")]), abs=1e-5)
    stats = explain_file(clip, tag="high", model=runs["logreg"], time_s=0.5)
    assert stats.method == "segments" and stats.saliency.shape == (1, 3)
    plain = tag_file(clip, runs["logreg"])
    assert stats.score == pytest.approx(float(plain.scores[plain.labels.index("high")]), abs=1e-5)
    assert stats.mel.ndim == 2 and list(stats.bands_hz) == [0.0, plain.sr / 2]


@pytest.mark.slow
def test_cli_explain_json_png_and_exit_codes(clips_dir, tmp_path, capsys):
    from PIL import Image

    clip = str(clips_dir / "blues.00000.wav")
    png = tmp_path / "blues.png"
    assert main(["explain", clip, "--tag", "blues", "--json", "--png", str(png), "--max-duration", "3.5"]) == 0
    d = json.loads(capsys.readouterr().out.strip())
    assert d["tag"] == "blues" and np.asarray(d["saliency"]).shape == (12, 6)
    with Image.open(png) as im:
        assert im.format == "PNG" and im.size[0] == 1200 and im.size[1] > 420
    assert main(["explain", clip, "--tag", "blues", "--max-duration", "3.5"]) == 0
    assert "most salient" in capsys.readouterr().out
    assert main(["explain", clip, "--tag", "polka", "--max-duration", "3.5"]) == 2
    err = capsys.readouterr().err
    assert "unknown tag 'polka'" in err and "blues" in err and "Traceback" not in err
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"not audio")
    assert main(["explain", str(bad), "--tag", "blues"]) == 1
