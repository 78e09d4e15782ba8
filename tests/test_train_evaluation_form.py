"""#13: the Train page's evaluation settings are the CLI's: K folds, leave-one-out, repeats, "Hold out a test
split" (off = ``--no-test-split``), "Keep each artist's tracks in one fold" (``group_by_artist``) and Tune.

The core judge (``musictag_core.training.form.evaluation_form``) against ``RunConfig`` and the pre-flight
check, then the real page through ``app.py`` with Streamlit's AppTest (no browser). Starting a run from the
page and comparing its ``config.json`` with the form is the browser test
``test_app_train_browser.test_evaluation_settings_from_the_page_reach_the_run``.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from musictag_core.errors import ParameterError
from musictag_core.training import RunConfig
from musictag_core.training.form import CV_CHOICES, MAX_FORM_REPEATS, evaluation_form
from musictag_core.training.preflight import MAX_LOO_TRACKS, preview

from .test_eval_cv import small_table

APP = Path(__file__).resolve().parents[1] / "app.py"


def _accepts(**settings) -> bool:
    try:
        RunConfig(dataset="demo", model="logreg", **settings)
    except ParameterError:
        return False
    return True


@pytest.mark.parametrize(("cv", "test_split"), list(itertools.product(CV_CHOICES, (True, False))))
def test_repeats_are_offered_exactly_where_run_config_accepts_them(cv, test_split):
    form = evaluation_form(cv=cv, repeats_text="3", test_split=test_split, n_tracks=100, has_artists=True)
    assert not form.errors
    assert form.repeats_enabled == _accepts(cv=cv, test_split=test_split, cv_repeats=3)
    assert form.settings["cv_repeats"] == (3 if form.repeats_enabled else 1)  # a disabled box runs one draw
    assert _accepts(**form.settings)  # whatever the form shows, RunConfig takes
    assert form.notes["repeats"] and form.notes["test_split"]
    if not form.repeats_enabled:
        assert ("leave-one-out" if cv == "loo" else "Only for K-fold") in form.notes["repeats"]


@pytest.mark.parametrize(
    ("text", "reason"),
    [("0", "0 is out of range"), ("11", f"from 1 to {MAX_FORM_REPEATS}"), ("two", "'two' is not a number"),
     ("1.5", "not a whole number"), ("", "enter a whole number")],
)
def test_repeats_out_of_bounds_are_refused_in_words(text, reason):
    form = evaluation_form(cv=5, repeats_text=text, test_split=True)
    assert reason in form.errors["repeats"] and form.errors["repeats"].startswith("Repeats: ")
    assert form.error_list == [form.errors["repeats"]]
    assert evaluation_form(cv=5, repeats_text=str(MAX_FORM_REPEATS), test_split=True).settings["cv_repeats"] == MAX_FORM_REPEATS


def test_leave_one_out_is_bounded_by_the_tracks_the_run_uses():
    assert not evaluation_form(cv="loo", repeats_text="1", test_split=True, n_tracks=MAX_LOO_TRACKS).errors
    err = evaluation_form(cv="loo", repeats_text="1", test_split=True, n_tracks=MAX_LOO_TRACKS + 1).errors["cv"]
    assert f"up to {MAX_LOO_TRACKS} tracks" in err and f"this run has {MAX_LOO_TRACKS + 1}" in err


def test_grouping_follows_the_data_and_the_choice():
    on = evaluation_form(cv=3, repeats_text="1", test_split=True, grouping="on", has_artists=True)
    off = evaluation_form(cv=3, repeats_text="1", test_split=True, grouping="off", has_artists=True)
    assert on.grouping_enabled and on.settings["group_by_artist"] is True and off.settings["group_by_artist"] is False
    # no artists: nothing to choose, "auto" (RunConfig refuses group_by_artist=True then), and the form says why
    none = evaluation_form(cv=3, repeats_text="1", test_split=True, grouping="on", has_artists=False)
    assert not none.grouping_enabled and none.settings["group_by_artist"] == "auto"
    assert "names no artists" in none.notes["grouping"]


def test_the_forms_settings_are_what_the_pre_flight_check_plans(tmp_path):
    """No test split without CV: K-fold with K capped at the smallest label, as the CLI's --no-test-split."""
    table = str(small_table(tmp_path / "t.csv", {"a": 6, "b": 6, "c": 3}, artists=3))
    form = evaluation_form(cv=0, repeats_text="2", test_split=False, grouping="off", tune=True, has_artists=True)
    plan = preview(RunConfig(dataset=table, model="logreg", **form.settings))
    assert (plan.evaluation, plan.k, plan.repeats, plan.grouped_by, len(plan.splits)) == ("kfold", 3, 2, None, 6)
    assert any("no test split" in n for n in plan.notes)
    grouped = preview(RunConfig(dataset=table, model="logreg", **evaluation_form(
        cv=3, repeats_text="1", test_split=True, grouping="auto", has_artists=True).settings))
    assert grouped.grouped_by == "artist" and grouped.k == 3


# ---------------------------------------------------------------------------
# the page (AppTest)
# ---------------------------------------------------------------------------


def _widget(at, key: str):  # noqa: ANN001, ANN202
    return next(w for w in [*at.selectbox, *at.checkbox, *at.toggle, *at.text_input, *at.button] if w.key == key)


def _keys(at, kind: str) -> set[str]:  # noqa: ANN001
    return {w.key for w in getattr(at, kind)}


def _text(at) -> str:  # noqa: ANN001
    return " ".join(m.value for m in [*at.markdown, *at.caption])


def test_the_page_offers_repeats_test_split_and_grouping_with_reasons(tmp_path, monkeypatch):
    testing = pytest.importorskip("streamlit.testing.v1")
    monkeypatch.setenv("MUSICTAG_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("MUSICTAG_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("MUSICTAG_DATA", str(tmp_path))
    with_artists = small_table(tmp_path / "artists.csv", {"a": 6, "b": 6, "c": 4}, artists=2)
    at = testing.AppTest.from_file(str(APP), default_timeout=120)
    at.switch_page("pages/train.py")
    at.session_state["train_source"] = "path"
    at.session_state["train_path"] = str(with_artists)
    at.run()
    assert not at.exception
    start = _widget(at, "train_start")
    # defaults: no CV, a test split: repeats do not apply (disabled, saying why); grouping is offered
    assert _widget(at, "train_cv_repeats").disabled and _widget(at, "train_cv_repeats").value == "1"
    assert _widget(at, "train_test_split").value is True
    assert _widget(at, "train_group_by_artist").value == "auto"
    assert "one train/validation/test split" in _text(at) and not start.disabled
    # test split off: K-fold by default K (lowered to the smallest label's artists), repeats now apply
    at.session_state["train_test_split"] = False
    at.session_state["train_cv_repeats"] = "2"
    at.run()
    assert not at.exception and not _widget(at, "train_cv_repeats").disabled
    text = _text(at)
    assert "No test split: trains on every track" in text
    assert "2-fold cross-validation x 2 repeats" in text and "folds grouped by artist" in text
    assert "no test split: the metrics come from 2-fold cross-validation" in text
    assert not _widget(at, "train_start").disabled
    # a refused repeat count stands next to its field and blocks Start
    at.session_state["train_cv_repeats"] = "0"
    at.run()
    reason = " ".join(m.value for m in at.markdown if "out of range" in m.value)
    assert "0 is out of range; enter a whole number from 1 to 10" in reason
    assert _widget(at, "train_start").disabled
    assert any("Repeats: 0 is out of range" in e.value for e in at.error)  # the summary above Start
    # leave-one-out: repeats disabled and reset to what runs (1); grouping off folds by track
    at.session_state["train_cv"] = "loo"
    at.session_state["train_group_by_artist"] = "off"
    at.run()
    assert not at.exception and _widget(at, "train_cv_repeats").disabled and _widget(at, "train_cv_repeats").value == "1"
    text = _text(at)
    assert "leave-one-out (16 folds)" in text and "grouped by" not in text
    assert not _widget(at, "train_start").disabled
    # a table without artists: no grouping choice, and the page says why
    at.session_state["train_path"] = str(small_table(tmp_path / "plain.csv", {"a": 4, "b": 4}))
    at.run()
    assert not at.exception and "train_group_by_artist" not in _keys(at, "selectbox")
    assert "this dataset names no artists" in _text(at)
    # leave-one-out above its bound: the reason under Cross-validation, Start disabled, nothing checked
    at.session_state["train_path"] = str(small_table(tmp_path / "big.csv", {"a": 110, "b": 101}))
    at.run()
    assert not at.exception
    assert any("offered up to 200 tracks; this run has 211" in m.value for m in at.markdown)
    assert _widget(at, "train_start").disabled and "Pre-flight check" not in _text(at)
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())
