"""Evaluation that adapts (#13): the pre-flight check, capped / leave-one-out / repeated / grouped
cross-validation with pooled out-of-fold metrics, training without a test split, classical models on
train + validation, ``tune``, and paired run comparisons. Small feature tables keep it fast."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from musictag_core.cli import main
from musictag_core.errors import TrainingError
from musictag_core.evaluate import evaluate_predictions, read_predictions
from musictag_core.runs import Run
from musictag_core.training import RunConfig, compare_runs, create_run, evaluate_run, execute_run
from musictag_core.training.preflight import preflight

#: 38 tracks across 9 genres, three of them with 2 tracks (the shape of the issue's real folder)
COUNTS = {"blues": 2, "country": 2, "disco": 2, "hiphop": 3, "jazz": 4, "metal": 5, "pop": 6, "reggae": 7, "rock": 7}


def small_table(path: Path, counts: dict[str, int] = COUNTS, *, artists: int = 0, seed: int = 0) -> Path:
    """A deterministic feature table: one row per track, 8 features whose means depend on the genre.

    ``artists``: that many artists per genre (tracks dealt round-robin), in an ``artist`` column.
    """
    rng = np.random.default_rng(seed)
    lines = ["filename,artist,label," + ",".join(f"f{j}" for j in range(8)) if artists else
             "filename,label," + ",".join(f"f{j}" for j in range(8))]
    for g, (label, n) in enumerate(counts.items()):
        centre = 2.5 * np.eye(8)[g % 8] + (0.8 if g >= 8 else 0.0)
        for i in range(n):
            x = centre + rng.standard_normal(8)
            who = f"{label}-artist{i % artists}," if artists else ""
            lines.append(f"{label}.{i:05d}.wav,{who}{label}," + ",".join(f"{v:.5f}" for v in x))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def runs(tmp_path, monkeypatch):
    monkeypatch.setenv("MUSICTAG_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("MUSICTAG_RUNS", str(tmp_path / "runs"))
    return tmp_path / "runs"


def _run(cfg: RunConfig, runs: Path) -> Run:
    run = Run(create_run(cfg, runs_dir=runs))
    assert execute_run(run.path) == "finished", run.status().get("error")
    return run


def _no_run_folders(runs: Path) -> bool:
    return not runs.exists() or not [p for p in runs.iterdir() if p.is_dir()]


# -- the pre-flight check ------------------------------------------------------------------------------------------


def test_one_class_table_is_refused_before_any_run_folder(tmp_path, runs, capsys):
    table = small_table(tmp_path / "one.csv", {"blues": 6})
    with pytest.raises(TrainingError, match="one-class data.*'blues'"):
        create_run(RunConfig(dataset=str(table), model="logreg"), runs_dir=runs)
    assert _no_run_folders(runs)
    assert main(["train", "--dataset", str(table), "--model", "logreg"]) == 2
    err = capsys.readouterr().err
    assert "one-class data" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert _no_run_folders(runs)


def test_split_falls_back_to_tracks_when_artists_are_too_few_and_says_so(tmp_path):
    # 6 tracks per genre by 2 artists each: enough tracks for three parts, too few artists
    table = small_table(tmp_path / "two_artists.csv", {"blues": 6, "jazz": 6, "rock": 6}, artists=2)
    plan = preflight(RunConfig(dataset=str(table), model="logreg"))
    assert plan.evaluation == "split" and plan.unit == "tracks" and plan.grouped_by is None
    assert any("split by track, not by artist" in n and "'blues' (2)" in n for n in plan.notes)
    (split,) = plan.splits
    assert all(len(split[part]) for part in ("train", "validation", "test"))
    # asking for artist grouping outright refuses, naming the labels and the way out
    with pytest.raises(TrainingError, match="too few artists.*'blues' \\(2\\).*--cv 2"):
        preflight(RunConfig(dataset=str(table), model="logreg", group_by_artist=True))


def test_preflight_caps_k_and_names_the_short_labels(tmp_path):
    table = small_table(tmp_path / "small.csv")
    plan = preflight(RunConfig(dataset=str(table), model="logreg", cv=5))
    assert plan.n_tracks == 38 and plan.counts["blues"] == 2 and plan.max_k == 2
    assert (plan.evaluation, plan.k, plan.k_requested, len(plan.splits)) == ("kfold", 2, 5, 2)
    assert any("2 folds, not 5" in n and "'blues' (2)" in n for n in plan.notes)
    tested = np.sort(np.concatenate([s["test"] for s in plan.splits]))
    assert tested.tolist() == list(range(38))  # every track tested exactly once
    for s in plan.splits:
        assert not set(s["test"]) & (set(s["train"]) | set(s["validation"]))


def test_a_single_track_label_is_refused_by_name_and_the_split_names_its_options(tmp_path, runs, capsys):
    table = small_table(tmp_path / "lonely.csv", {**COUNTS, "classical": 1})
    with pytest.raises(TrainingError, match=r"'classical' \(1\) have a single track.*needs at least 2"):
        create_run(RunConfig(dataset=str(table), model="logreg", cv=3), runs_dir=runs)
    assert _no_run_folders(runs)
    # no CV: too small for a test split; the message names the options that exist
    small = small_table(tmp_path / "small.csv")
    assert main(["train", "--dataset", str(small), "--model", "logreg"]) == 2
    err = capsys.readouterr().err
    assert "'blues' (2)" in err and "--cv 2" in err and "--no-test-split" in err and "fewer parts" not in err
    assert _no_run_folders(runs)


# -- CV that adapts, pooled out-of-fold metrics --------------------------------------------------------------------


def test_cv5_on_the_small_folder_runs_with_k_capped_and_pooled_metrics(tmp_path, runs, capsys):
    table = small_table(tmp_path / "small.csv")
    assert main(["train", "--dataset", str(table), "--model", "logreg", "--cv", "5"]) == 0
    out = capsys.readouterr().out
    assert "note: cross-validation uses 2 folds, not 5" in out and "pooled out-of-fold predictions" in out
    run = Run(next(p for p in runs.iterdir() if p.is_dir()))
    metrics, card = run.read_metrics(), run.read_card()
    cv = metrics["cv"]
    assert (cv["k"], cv["k_requested"], cv["kind"], cv["completed"]) == (2, 5, "kfold", 2)
    assert card["evaluation"]["k"] == 2 and "2 folds, not 5" in card["evaluation"]["notes"][0]
    # the headline is the pooled out-of-fold predictions: every track once, and evaluate reproduces it
    ids, y_true, y_score, labels = read_predictions(run.predictions_path)
    assert len(ids) == 38
    pooled = evaluate_predictions(y_true, y_score, task="single", labels=labels)["metrics"]
    assert metrics["metrics"]["accuracy"] == pytest.approx(pooled["accuracy"])
    assert evaluate_run(run.path)["metrics"]["accuracy"] == pytest.approx(pooled["accuracy"])
    # per-fold mean ± std beside it
    accs = [f["accuracy"] for f in cv["folds"]]
    assert cv["mean"]["accuracy"] == pytest.approx(np.mean(accs)) and cv["std"]["accuracy"] == pytest.approx(np.std(accs, ddof=1))
    assert metrics["metrics"]["accuracy"] > 0.5  # 9 separable genres: well above chance (0.18)
    # classical models fit on train + validation; fold ids saved through the run
    assert card["fitted_on"] == "train+validation"
    folds = run.read_folds()
    assert folds["evaluation"] == "kfold" and sorted(sum(folds["folds"], [])) == sorted(ids.tolist())


def test_leave_one_out_and_repeats(tmp_path, runs, capsys):
    table = small_table(tmp_path / "t.csv", {"a": 4, "b": 4, "c": 3})
    assert main(["train", "--dataset", str(table), "--model", "logreg", "--cv", "loo", "--json"]) == 0
    loo = Run(runs / json.loads(capsys.readouterr().out)["run_id"])
    cv = loo.read_metrics()["cv"]
    assert (cv["kind"], cv["k"], cv["n_folds"], cv["mean"], cv["folds"]) == ("loo", 11, 11, None, None)
    assert 0.0 <= loo.read_metrics()["metrics"]["accuracy"] <= 1.0
    rep = _run(RunConfig(dataset=str(table), model="logreg", cv=3, cv_repeats=2), runs)
    cv = rep.read_metrics()["cv"]
    assert (cv["k"], cv["repeats"], cv["n_folds"], len(cv["folds"])) == (3, 2, 6, 6)
    ids, *_ = read_predictions(rep.predictions_path)
    assert len(ids) == 11  # one pooled prediction per track (mean over repeats)
    assert len(rep.read_folds()["folds"]) == 6
    with pytest.raises(SystemExit):
        main(["train", "--dataset", str(table), "--model", "logreg", "--cv", "many"])
    assert "expected a number of folds (2 or more) or 'loo'" in capsys.readouterr().err
    big = small_table(tmp_path / "big.csv", {"a": 110, "b": 110})
    with pytest.raises(TrainingError, match="up to 200 tracks.*220"):
        preflight(RunConfig(dataset=str(big), model="logreg", cv="loo"))


def test_folds_are_grouped_by_artist_when_artists_are_known(tmp_path):
    table = small_table(tmp_path / "art.csv", {"a": 8, "b": 8, "c": 8}, artists=3)
    plan = preflight(RunConfig(dataset=str(table), model="logreg", cv=5))
    assert plan.grouped_by == "artist" and plan.unit == "artists" and plan.k == 3  # 3 artists per genre
    from musictag_core.datasets import open_dataset

    artist = open_dataset(str(table)).tracks["artist"].to_numpy()
    for s in plan.splits:
        assert not set(artist[s["test"]]) & set(artist[np.concatenate([s["train"], s["validation"]])])
    flat = preflight(RunConfig(dataset=str(table), model="logreg", cv=5, group_by_artist=False))
    assert flat.grouped_by is None and flat.k == 5


def test_no_test_split_trains_on_every_track_and_is_evaluated_by_cv(tmp_path, runs, capsys):
    table = small_table(tmp_path / "small.csv")
    assert main(["train", "--dataset", str(table), "--model", "svc", "--no-test-split", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["state"] == "finished" and out["cv"]["k"] == 2 and out["cv"]["k_requested"] is None
    assert any("no test split" in n for n in out["notes"])
    # svc with 1 training track of a label in a fold: the softmax fallback, said in the notes
    assert any("softmax" in n for n in out["notes"])
    run = Run(runs / out["run_id"])
    assert any(e.get("message") == "final model: trained on every track" for e in run.events()[0])


# -- tune ----------------------------------------------------------------------------------------------------------


def test_tune_searches_by_inner_cv_and_records_space_and_choice(tmp_path, runs):
    table = small_table(tmp_path / "t.csv", {"a": 6, "b": 6, "c": 6})
    run = _run(RunConfig(dataset=str(table), model="svc", cv=2, tune=True), runs)
    tuning = run.read_card()["tuning"]
    assert tuning["method"] == "GridSearchCV" and tuning["inner_folds"] == 3 and tuning["scoring"] == "accuracy"
    # C and gamma jointly (gamma around "scale"), and keeping all features or the better half
    assert set(tuning["space"]) == {"select__percentile", "model__C", "model__gamma"}
    assert tuning["space"]["model__gamma"] == ["scale", "scale/2", "scale*2"]
    # 9 training tracks per fold: small data repeats the inner folds 3 x as often
    assert tuning["inner_repeats"] == 6 and tuning["n_fits"] == 18 * 3 * 6
    for key, value in tuning["best_params"].items():
        assert value in tuning["space"][key]
    # the default is candidate 0; another is chosen only when it beats the default by more than a standard error
    assert tuning["best_score"] >= tuning["default_score"]
    assert tuning["best_score"] == tuning["default_score"] or tuning["top_gain"] > tuning["margin"]
    assert len(tuning["per_fold"]) == 2 and all(p for p in tuning["per_fold"])
    with pytest.raises(Exception, match="tune applies to"):
        RunConfig(dataset=str(table), model="cnn", tune=True)
    with pytest.raises(Exception, match="also set cv"):
        RunConfig(dataset=str(table), model="logreg", cv_repeats=3)


# -- comparing runs ------------------------------------------------------------------------------------------------


def test_runs_compare_pairs_the_folds_and_refuses_different_ones(tmp_path, runs, capsys):
    table = small_table(tmp_path / "t.csv", {"a": 8, "b": 8, "c": 8})
    a = _run(RunConfig(dataset=str(table), model="logreg", cv=4), runs)
    b = _run(RunConfig(dataset=str(table), model="gboost", cv=4), runs)
    res = compare_runs(a.path, b.path)
    fa, fb = a.read_metrics()["cv"]["folds"], b.read_metrics()["cv"]["folds"]
    assert res["metric"] == "accuracy" and res["n_folds"] == 4
    assert [f["diff"] for f in res["folds"]] == pytest.approx([x["accuracy"] - y["accuracy"] for x, y in zip(fa, fb)])
    lo, hi = res["ci95"]
    assert lo <= res["mean_diff"] <= hi
    assert main(["runs", "compare", a.run_id, b.run_id, "--run-dir", str(runs), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["mean_diff"] == pytest.approx(res["mean_diff"])
    assert main(["runs", "compare", a.run_id, b.run_id, "--run-dir", str(runs)]) == 0
    assert "95% bootstrap interval" in capsys.readouterr().out
    other = _run(RunConfig(dataset=str(table), model="logreg", cv=4, seed=7), runs)
    assert main(["runs", "compare", a.run_id, other.run_id, "--run-dir", str(runs)]) == 2
    assert "not evaluated on the same folds" in capsys.readouterr().err


def test_runs_page_shows_the_paired_comparison_of_two_selected_runs(tmp_path, runs):
    """The Runs page (run headless with Streamlit's AppTest) pairs two selected runs' folds, as the CLI does."""
    from streamlit.testing.v1 import AppTest

    table = small_table(tmp_path / "t.csv", {"a": 6, "b": 6, "c": 6})
    a = _run(RunConfig(dataset=str(table), model="logreg", cv=3), runs)
    b = _run(RunConfig(dataset=str(table), model="gboost", cv=3), runs)
    res = compare_runs(a.path, b.path)
    root = Path(__file__).resolve().parents[1]
    at = AppTest.from_file(str(root / "pages" / "runs.py"), default_timeout=60)
    at.session_state["runs_compare"] = [a.run_id, b.run_id]
    at.run()
    assert not at.exception
    text = " ".join(m.value for m in at.markdown)
    assert "Paired comparison" in text and f"{res['mean_diff']:+.3f}" in text and "bootstrap interval" in text
    # runs on different folds: the page says why instead of pairing them
    other = _run(RunConfig(dataset=str(table), model="logreg", cv=3, seed=5), runs)
    at.session_state["runs_compare"] = [a.run_id, other.run_id]
    at.run()
    assert not at.exception
    assert any("not evaluated on the same folds" in i.value for i in at.info)


@pytest.mark.slow
def test_multi_label_thresholds_come_from_inner_cv_on_train_plus_validation(tmp_path, runs):
    """Multi-label classical folds fit on train + validation; per-label thresholds from inner-CV predictions."""
    from .helpers import write_tone_dataset

    root = write_tone_dataset(tmp_path / "tones", n_per_genre=8, seconds=1.0)
    rows = ["path,low,high,odd"]
    for i, wav in enumerate(sorted(root.rglob("*.wav"))):
        low = 100 if wav.parent.name == "low" else 0
        rows.append(f"{wav},{low},{100 - low},{100 if i % 2 else 0}")
    table = tmp_path / "tags.csv"
    table.write_text("\n".join(rows) + "\n", encoding="utf-8")
    run = _run(RunConfig(dataset=str(table), model="logreg", cv=2, preset="fast"), runs)
    card, metrics = run.read_card(), run.read_metrics()
    assert card["task"] == "multi" and card["fitted_on"] == "train+validation"
    assert card["thresholds"] is not None and len(card["thresholds"]) == 3
    assert metrics["cv"]["k"] == 2 and metrics["metrics"]["map_macro"] > 0.5
    # the validation predictions are the inner out-of-fold ones on every non-test track of fold 1
    ids, *_ = read_predictions(run.output_path("predictions_validation.csv"))
    assert len(ids) == 8  # 16 tracks, 2 folds: 8 non-test tracks
