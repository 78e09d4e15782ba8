"""The robustness report: seeded perturbations, the identity row, the JSON, the CLI and a run's curve (#14)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from musictag_core.augment import apply_augmentation
from musictag_core.cli import main
from musictag_core.robustness import (
    PERTURBATIONS,
    PerturbationResult,
    draw_perturbations,
    robustness_file,
    robustness_run,
    stability_summary,
)

from .helpers import write_tone_dataset

SHORT_S = 6.0  # two musicnn patches: enough for the report, quick to compute


@pytest.fixture(scope="module")
def tagger():
    from musictag_core.models.loading import load_tagger

    return load_tagger("MSD_musicnn")


@pytest.fixture(scope="module")
def blues(clips_dir):
    return str(clips_dir / "blues.00000.wav")


@pytest.fixture(scope="module")
def report(tagger, blues):
    return robustness_file(blues, tagger, max_duration=SHORT_S, seed=0)


def test_identity_row_equals_plain_tagging(tagger, blues, report):
    from musictag_core.predict import tag_file

    plain = tag_file(blues, tagger, max_duration=SHORT_S)
    assert report.base.labels == plain.labels
    np.testing.assert_allclose(report.base.scores, plain.scores, rtol=0, atol=1e-6)
    np.testing.assert_allclose(report.base.segment_scores, plain.segment_scores, rtol=0, atol=1e-6)


def test_report_json_has_the_issue_shape(tagger, report):
    d = json.loads(json.dumps(report.to_dict()))
    assert list(d) == ["path", "model", "base", "perturbations", "summary"]
    assert d["model"] == "MSD_musicnn" and d["path"].endswith("blues.00000.wav")
    assert [set(x) for x in d["base"]] == [{"label", "score"}] * len(tagger.labels)
    assert [x["score"] for x in d["base"]] == sorted((x["score"] for x in d["base"]), reverse=True)
    assert [(p["kind"], p["value"]) for p in d["perturbations"]] == list(PERTURBATIONS)
    for p in d["perturbations"]:
        assert set(p) == {"kind", "value", "scores", "top_genre", "top_changed"}
        assert p["top_genre"] in tagger.genres
        assert {x["label"] for x in p["scores"]} == set(tagger.labels)
        best_genre = next(x["label"] for x in p["scores"] if x["label"] in tagger.genres)
        assert p["top_genre"] == best_genre
        assert p["top_changed"] is (p["top_genre"] != report.top_genre)
    assert report.top_genre == "blues"
    assert isinstance(d["summary"], str) and "blues" in d["summary"]
    # the perturbations change the scores (they are really applied), but not wildly
    deltas = report.deltas()
    assert deltas.shape == (len(PERTURBATIONS), len(tagger.labels))
    assert (np.abs(deltas).max(axis=1) > 1e-4).all() and np.abs(deltas).max() < 0.6


def test_drawing_is_seeded_and_separate_from_applying(rng):
    y = (0.1 * rng.standard_normal(16000)).astype(np.float32)
    a = draw_perturbations(y, rng=np.random.default_rng(1))
    b = draw_perturbations(y, rng=np.random.default_rng(1))
    c = draw_perturbations(y, rng=np.random.default_rng(2))
    assert a == b and json.loads(json.dumps(a)) == a
    assert a[-1]["params"]["noise"]["seed"] != c[-1]["params"]["noise"]["seed"]
    assert [(d["kind"], d["value"]) for d in a] == list(PERTURBATIONS)


def test_stretch_keeps_its_length_and_noise_has_the_snr(rng):
    sr = 16000
    t = np.arange(2 * sr) / sr
    y = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    drawn = {(d["kind"], d["value"]): d["params"] for d in draw_perturbations(y, rng=rng)}
    for rate in (0.9, 1.1):
        out = apply_augmentation(y, sr=sr, params=drawn[("time_stretch", rate)])
        assert abs(len(out) - len(y) / rate) < 0.02 * len(y)
    noisy = apply_augmentation(y, sr=sr, params=drawn[("noise", 30.0)])
    snr = 10 * np.log10(np.mean(y.astype(np.float64) ** 2) / np.mean((noisy - y).astype(np.float64) ** 2))
    assert abs(snr - 30.0) < 0.5
    louder = apply_augmentation(y, sr=sr, params=drawn[("gain", 6.0)])
    assert np.max(np.abs(louder)) / np.max(np.abs(y)) == pytest.approx(10 ** (6 / 20), rel=1e-3)


def test_stability_summary_words():
    rows = [PerturbationResult(k, v, np.zeros(2), "blues", False) for k, v in PERTURBATIONS]
    rows[7] = PerturbationResult("time_stretch", 1.1, np.zeros(2), "rock", True)
    s = stability_summary("blues", rows)
    assert s.startswith("blues stays first under every pitch shift")
    assert "rock overtakes it at 1.1x tempo" in s
    calm = stability_summary("blues", [r for r in rows if not r.top_changed])
    assert calm == ("blues stays first under every pitch shift, under every tempo change, under every gain change "
                    "and with noise at 30 dB SNR")


@pytest.mark.slow
def test_cli_robustness_json_text_and_exit_codes(blues, capsys, tmp_path):
    assert main(["robustness", blues, "--json", "--max-duration", "3.5"]) == 0
    d = json.loads(capsys.readouterr().out.strip())
    assert list(d) == ["path", "model", "base", "perturbations", "summary"] and len(d["perturbations"]) == 11
    assert main(["robustness", blues, "--max-duration", "3.5"]) == 0
    out = capsys.readouterr().out
    assert "summary:" in out and "1.1x tempo" in out and "noise at 30 dB SNR" in out
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"not audio at all")
    assert main(["robustness", str(bad), "--json"]) == 1
    assert "error" in json.loads(capsys.readouterr().out.strip())
    assert main(["robustness"]) == 2
    assert main(["robustness", blues, "--model", "no_such_model"]) == 2
    assert "unknown model" in capsys.readouterr().err


@pytest.fixture(scope="module")
def tone_run(tmp_path_factory):
    """A finished logistic-regression run on a tiny tones dataset (statistics input)."""
    from musictag_core.models.loading import clear_tagger_cache
    from musictag_core.training import RunConfig, create_run, execute_run

    base = tmp_path_factory.mktemp("robust_run")
    mp = pytest.MonkeyPatch()
    mp.setenv("MUSICTAG_CACHE", str(base / "cache"))
    mp.setenv("MUSICTAG_RUNS", str(base / "runs"))
    data = write_tone_dataset(base / "tones", n_per_genre=6, seconds=1.5)
    run_dir = create_run(RunConfig(dataset=str(data), model="logreg", seed=0), runs_dir=base / "runs")
    assert execute_run(run_dir) == "finished", (run_dir / "status.json").read_text()
    yield run_dir
    mp.undo()
    clear_tagger_cache()


@pytest.mark.slow
def test_run_curve_starts_at_the_runs_own_test_metric(tone_run, capsys):
    result = robustness_run(tone_run.name, runs_dir=tone_run.parent)
    metrics = json.loads((tone_run / "metrics.json").read_text())
    flat = metrics.get("metrics", metrics)
    assert result["metric"] == "accuracy" and result["task"] == "single"
    assert result["base"] == pytest.approx(flat["accuracy"], abs=1e-9)
    assert [(c["kind"], c["value"]) for c in result["curve"]] == list(PERTURBATIONS)
    assert all(0.0 <= c["metric"] <= 1.0 for c in result["curve"])
    assert result["n_tracks"] >= 2 and not result["failures"]
    assert main(["robustness", "--run", tone_run.name, "--runs-dir", str(tone_run.parent), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["curve"][0]["kind"] == "pitch_shift"
    assert main(["robustness", "--run", "no-such-run", "--runs-dir", str(tone_run.parent)]) == 2
    assert "not a finished run" in capsys.readouterr().err


@pytest.mark.slow
def test_train_page_shows_the_saved_curve(tone_run, tmp_path):
    """`robustness --run` saved robustness.json above; the Train page helper draws it without recomputing."""
    pytest.importorskip("streamlit")
    from pathlib import Path

    from streamlit.testing.v1 import AppTest

    if not (tone_run / "robustness.json").exists():
        robustness_run(tone_run, save=True)
    repo = str(Path(__file__).resolve().parents[1])
    script = tmp_path / "page.py"
    script.write_text(
        f"import sys\nsys.path.insert(0, {repo!r})\nfrom pages._ui.robustness import render_run_robustness\n"
        f"render_run_robustness({tone_run.name!r})\n"
    )
    at = AppTest.from_file(str(script), default_timeout=60).run()
    assert not at.exception
    assert len(at.get("plotly_chart")) == 1 and not at.button
    assert any("accuracy on" in c.value and "test tracks" in c.value for c in at.caption)
