"""tagtext (seed 001, method 2): the contrastive loss, the zero-shot metrics, and runs on the demo corpus and MTT-format data."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from musictag_core.errors import TrainingError
from musictag_core.training.tagtext import choose_holdout, zero_shot_report, zero_shot_rows, zero_shot_scores


def test_info_nce_equals_the_formula_with_several_positives(rng):
    """Symmetric InfoNCE over in-batch negatives; a pair whose tag the row's track also carries is a positive."""
    from musictag_core.models.tagtext import info_nce

    a = rng.normal(size=(4, 3)).astype(np.float32)
    t = rng.normal(size=(4, 3)).astype(np.float32)
    a /= np.linalg.norm(a, axis=1, keepdims=True)
    t /= np.linalg.norm(t, axis=1, keepdims=True)
    pos = np.eye(4, dtype=np.float32)
    pos[0, 2] = 1.0  # track 0 also carries pair 2's tag
    logits = a @ t.T / 0.1

    def log_softmax(x, axis):
        x = x - x.max(axis=axis, keepdims=True)
        return x - np.log(np.exp(x).sum(axis=axis, keepdims=True))

    a2t = -(pos / pos.sum(1, keepdims=True) * log_softmax(logits, 1)).sum(1).mean()
    t2a = -(pos / pos.sum(0, keepdims=True) * log_softmax(logits, 0)).sum(0).mean()
    got = float(info_nce(a, t, pos, temperature=0.1))
    np.testing.assert_allclose(got, (a2t + t2a) / 2, rtol=1e-5)
    # a perfect alignment (each audio = its tag, tags orthogonal) gives a loss near 0
    eye = np.eye(4, dtype=np.float32)
    assert float(info_nce(eye, eye, np.eye(4), temperature=0.01)) < 1e-6


def test_zero_shot_scores_by_hand():
    """mAP over tags (ranking tracks) and P@k over tracks (ranking tags), k = 1 .. n_tags."""
    sim = np.array([[0.9, 0.1], [0.8, 0.7], [0.2, 0.6], [0.1, 0.3]])
    Y = np.array([[1, 0], [0, 1], [1, 1], [0, 0]])
    out = zero_shot_scores(sim, Y)
    # tag 0 ranks tracks 0, 1, 2, 3: hits at ranks 1 and 3 -> AP = (1 + 2/3) / 2
    # tag 1 ranks tracks 1, 2, 3, 0: hits at ranks 1 and 2 -> AP = 1
    np.testing.assert_allclose(out["ap"][0], (1 + 2 / 3) / 2)
    np.testing.assert_allclose(out["map"], ((1 + 2 / 3) / 2 + 1) / 2)
    # tracks 0..2 have a positive: top-1 tags 0, 0, 1 -> hits 1, 0, 1
    assert out["p_at_k"] == {"1": pytest.approx(2 / 3), "2": pytest.approx((1 / 2 + 1 / 2 + 1) / 3)}
    rep = zero_shot_report(sim, sim[:, ::-1], Y, tags=["x", "y"], nearest=["a", "b"], seed=0)
    assert rep["map"] == out["map"] and rep["nearest_trained_tag"] == {"x": "a", "y": "b"}
    assert 0 < rep["baselines"]["random"]["map"] < rep["map"]
    assert rep["baselines"]["random"]["p_at_k"]["2"] == pytest.approx(out["p_at_k"]["2"])  # all tags: any order


def test_zero_shot_rows_and_the_train_page_panel(tmp_path):
    sim = np.array([[0.9, 0.1], [0.8, 0.7], [0.2, 0.6], [0.1, 0.3]])
    Y = np.array([[1, 0], [0, 1], [1, 1], [0, 0]])
    rep = zero_shot_report(sim, sim[:, ::-1], Y, tags=["x", "y"], nearest=["a", "b"], seed=0)
    rows = zero_shot_rows(rep)
    assert [r["ranking"] for r in rows] == ["tagtext", "random", "nearest trained tag"]
    assert rows[0]["mAP"] == rep["map"] and rows[2]["mAP"] == rep["baselines"]["nearest_trained_tag"]["map"]
    assert rows[1]["P@2"] == pytest.approx(rep["baselines"]["random"]["p_at_k"]["2"])
    pytest.importorskip("streamlit")
    from pathlib import Path

    from streamlit.testing.v1 import AppTest

    script = tmp_path / "page.py"
    script.write_text(
        f"import sys, json\nsys.path.insert(0, {str(Path(__file__).resolve().parents[1])!r})\n"
        "from pages._ui.evaluation import render_zero_shot\n"
        f"render_zero_shot({{'zero_shot': json.loads({json.dumps(json.dumps(rep))})}})\n"
        "render_zero_shot({'metrics': {}})\n"  # a run of another model: nothing shown
    )
    at = AppTest.from_file(str(script), default_timeout=60).run()
    assert not at.exception
    assert len(at.dataframe) == 1 and list(at.dataframe[0].value["ranking"]) == ["tagtext", "random", "nearest trained tag"]
    assert "Held out of training: x, y" in at.caption[0].value


def test_choose_holdout():
    labels = ["a", "b", "c", "d", "e", "f"]
    held = choose_holdout(labels, (), seed=0)
    assert len(held) == 2 and set(held) <= set(labels) and held == choose_holdout(labels, (), seed=0)
    assert choose_holdout(labels, ("c",), seed=0) == ["c"]
    with pytest.raises(TrainingError, match="not labels"):
        choose_holdout(labels, ("zzz",), seed=0)
    with pytest.raises(TrainingError, match="at least 2"):
        choose_holdout(labels, ("a", "b", "c", "d", "e"), seed=0)
    from musictag_core.errors import ParameterError
    from musictag_core.training import RunConfig

    assert RunConfig(dataset="demo", model="tagtext", holdout=["jazz"]).holdout == ("jazz",)
    with pytest.raises(ParameterError, match="tagtext model only"):
        RunConfig(dataset="demo", model="cnn", holdout=("jazz",))


def test_towers_and_tagger_are_plain_keras(tmp_path, rng):
    """Both towers give unit vectors; the frozen tagger is a standard-layer .keras file that loads in safe mode."""
    from musictag_core.models.keras_io import load_keras_model
    from musictag_core.models.registry import ModelConfig, build_model
    from musictag_core.models.tagtext import build_tagtext_tagger

    model = build_model("tagtext", ModelConfig(input_shape=(20,), n_outputs=3, task="multi", units=8))
    x = rng.normal(size=(5, 20)).astype(np.float32)
    out = model({"embedding": x, "tag_text": rng.normal(size=(5, 384)).astype(np.float32)}, training=False)
    assert out["audio"].shape == (5, 8) and out["text"].shape == (5, 8)
    np.testing.assert_allclose(np.linalg.norm(np.asarray(out["audio"]), axis=1), 1.0, atol=1e-5)
    vec = np.asarray(out["text"])[:3]
    for task in ("multi", "single"):
        tagger = build_tagtext_tagger(model, vec, offset=0.2, task=task)
        got = np.asarray(tagger(x))
        cos = np.asarray(out["audio"]) @ vec.T
        want = 1 / (1 + np.exp(-(cos - 0.2) / 0.1)) if task == "multi" else np.exp(cos / 0.1) / np.exp(cos / 0.1).sum(1, keepdims=True)
        np.testing.assert_allclose(got, want, atol=1e-5)
        tagger.save(tmp_path / f"{task}.keras")
        np.testing.assert_allclose(np.asarray(load_keras_model(tmp_path / f"{task}.keras")(x)), got, atol=1e-6)


def _check_run(run_dir: Path, *, labels: list[str], held: list[str]) -> dict:
    from musictag_core.runs import Run

    assert Run(run_dir).status()["state"] == "finished", Run(run_dir).status()
    metrics = json.loads((run_dir / "metrics.json").read_text())
    zs = metrics["zero_shot"]
    assert zs["held_out_tags"] == held
    assert set(zs["nearest_trained_tag"]) == set(held) and not set(zs["nearest_trained_tag"].values()) & set(held)
    assert 0.0 <= zs["map"] <= 1.0 and set(zs["p_at_k"]) == {str(k) for k in range(1, len(held) + 1)}
    for base in ("random", "nearest_trained_tag"):
        assert 0.0 <= zs["baselines"][base]["map"] <= 1.0
    assert zs["trained_tags"]["tags"] == [t for t in labels if t not in held]
    events = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]
    split = next(e for e in events if e.get("message") == "zero-shot split")
    assert split["held_out"] == held and not set(split["trained"]) & set(held)
    card = json.loads((run_dir / "card.json").read_text())
    assert card["labels"] == labels and card["model"] == "tagtext" and card["model_config"]["held_out"] == held
    return metrics


@pytest.mark.slow
def test_tagtext_run_on_the_demo_blends(tmp_path):
    """A tiny tagtext run on the demo corpus (multi-label: the two-style blends carry two tags): two styles are
    held out entirely, retrieved zero-shot, and the run tags a blend clip on all six styles."""
    from musictag_core.datasets.demo import demo_corpus_dir
    from musictag_core.models.loading import load_tagger
    from musictag_core.predict import tag_file
    from musictag_core.training import RunConfig, create_run, execute_run

    cfg = RunConfig(dataset="demo", model="tagtext", preset="fast", task="multi", epochs=3, max_tracks=60,
                    holdout=("jazz", "ambient"), seed=0)
    run_dir = create_run(cfg, runs_dir=tmp_path)
    assert execute_run(run_dir) == "finished"
    labels = ["electronic", "jazz", "rock", "ambient", "hiphop", "classical"]
    metrics = _check_run(run_dir, labels=labels, held=["jazz", "ambient"])
    assert metrics["metrics"]["map_macro"] is not None
    blend = sorted(demo_corpus_dir().rglob("*+*.wav"))[0]
    pred = tag_file(blend, load_tagger(run_dir.name, runs_dir=tmp_path))
    assert pred.labels == labels and np.all((pred.scores >= 0) & (pred.scores <= 1))


def _mtt_from_demo(folder: Path, n: int = 48) -> Path:
    """An MTT-format dataset (tab-separated annotations_final.csv, 0/1 tag columns, mp3_path) over demo clips."""
    from musictag_core.datasets.demo import load_demo

    index = load_demo()
    rows = np.random.default_rng(0).choice(len(index), n, replace=False)
    tags = ["electronic", "jazz", "rock", "ambient", "hip hop", "classical"]
    lines = ["clip_id\t" + "\t".join(tags) + "\tmp3_path"]
    for k, r in enumerate(sorted(rows)):
        src = Path(index.tracks["path"].iloc[r])
        (folder / "audio").mkdir(exist_ok=True)
        os.symlink(src, folder / "audio" / src.name)
        lines.append(f"{k + 1}\t" + "\t".join(str(int(v)) for v in index.y[r]) + f"\taudio/{src.name}")
    path = folder / "annotations_final.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.slow
def test_tagtext_run_on_mtt_format_data(tmp_path):
    """On MTT-format data: the real MagnaTagATune when MUSICTAG_MTT_ANNOTATIONS points at its annotations (top 50
    tags, audio beside it), else an MTT-format file over demo clips (the embeddings are cached by content)."""
    from musictag_core.training import RunConfig, create_run, execute_run

    real = os.environ.get("MUSICTAG_MTT_ANNOTATIONS")
    ann = Path(real) if real else _mtt_from_demo(tmp_path)
    cfg = RunConfig(dataset=str(ann), model="tagtext", preset="fast", task="multi", epochs=2 if not real else 10, seed=1,
                    **({} if real else {"holdout": ("hip hop",)}))
    run_dir = create_run(cfg, runs_dir=tmp_path / "runs")
    assert execute_run(run_dir) == "finished"
    card = json.loads((run_dir / "card.json").read_text())
    assert card["dataset"]["name"] and len(card["labels"]) >= 6
    held = ["hip hop"] if not real else json.loads((run_dir / "metrics.json").read_text())["zero_shot"]["held_out_tags"]
    _check_run(run_dir, labels=card["labels"], held=held)
