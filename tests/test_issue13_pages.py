"""#13's refusals on the Train page's pre-flight panel (``pages/_ui/preflight.py``) that other page tests do
not reach: one-class data, a split too small (naming Cross-validation / "Hold out a test split"), leave-one-out on too many
tracks, and a dataset path that is not a regular file. Streamlit's AppTest, no browser; Start stays disabled.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from .test_eval_cv import COUNTS, small_table


def _panel(dataset: str, settings: dict) -> None:
    import streamlit as st

    from musictag_core.training import RunConfig
    from pages._ui.preflight import render_preflight

    ok = render_preflight(RunConfig(dataset=dataset, model="logreg", **settings))
    st.write(f"start allowed: {ok}")


def _show(dataset: Path, **settings):  # noqa: ANN202 - AppTest
    testing = pytest.importorskip("streamlit.testing.v1")
    at = testing.AppTest.from_function(_panel, args=(str(dataset), settings), default_timeout=60)
    at.run()
    assert not at.exception
    return at


def _refusal(at) -> str:  # noqa: ANN001
    messages = [e.value for e in at.error if "Pre-flight check" in e.value]
    assert messages, [e.value for e in at.error]
    assert "start allowed: False" in " ".join(m.value for m in at.markdown)
    return messages[0]


@pytest.mark.parametrize(
    ("counts", "settings", "expected"),
    [
        ({"blues": 6}, {}, ["one-class data", "'blues'"]),
        (COUNTS, {}, ["'blues' (2)", "choose Cross-validation: 3 folds (lowered to 2: K is at most 2 here)",
                      'or turn off "Hold out a test split" to train on every track']),
        ({"a": 110, "b": 110}, {"cv": "loo"}, ["up to 200 tracks", "Choose Cross-validation with at most 110 folds"]),
    ],
    ids=["one-class", "split-too-small", "loo-too-many"],
)
def test_the_train_panel_refuses_before_start_naming_what_works(tmp_path, counts, settings, expected):
    message = _refusal(_show(small_table(tmp_path / "t.csv", counts), **settings))
    for text in expected:
        assert text in message, (text, message)
    assert "--" not in message and "setting " not in message  # the form's words, not the command line's


def test_the_panel_says_the_fix_in_the_forms_words(tmp_path):
    """The command line's options become the form's choices: Cross-validation, "Hold out a test split" and
    "Keep each artist's tracks in one fold" (``pages/_ui/evaluation.py`` draws all three)."""
    from musictag_core.errors import TrainingError
    from musictag_core.training import RunConfig
    from musictag_core.training.preflight import preflight
    from pages._ui.preflight import page_words

    assert page_words("Fix: --cv 7 (setting cv: 7; K is at most 7 here), or --no-test-split (setting test_split: false) "
                      "to train on every track and evaluate by cross-validation") == (
        'Fix: choose Cross-validation: 5 folds (K is at most 7 here), or turn off "Hold out a test split" to train '
        "on every track and evaluate by cross-validation")
    assert page_words("the smallest has 2 (or use --cv loo on up to 200 tracks)") == (
        "the smallest has 2 (or choose Cross-validation: leave-one-out, up to 200 tracks)")
    assert page_words("try a smaller --cv K or --set group_by_artist=false") == (
        "try fewer Cross-validation folds or set \"Keep each artist's tracks in one fold\" to off")
    assert page_words("Fold by track instead of by artist (setting group_by_artist: false), or add tracks") == (
        "Set \"Keep each artist's tracks in one fold\" to off (fold by track), or add tracks")
    assert page_words("no training or no test tracks; use --cv K or --no-test-split") == (
        'no training or no test tracks; choose Cross-validation folds or turn off "Hold out a test split"')
    assert page_words("no such file 'x.csv'") == "no such file 'x.csv'"
    # the core's real messages (CLI words), then the page's
    with pytest.raises(TrainingError) as info:
        preflight(RunConfig(dataset=str(small_table(tmp_path / "small.csv")), model="logreg"))
    cli = str(info.value)
    assert "--cv 2" in cli and "--no-test-split" in cli
    page = page_words(cli)
    assert "'blues' (2)" in page and "Cross-validation: 3 folds" in page and "--" not in page
    assert 'turn off "Hold out a test split"' in page
    # one artist per label: grouped folds are impossible, folding by track works; the page offers its switch
    grouped = small_table(tmp_path / "grouped.csv", {"a": 4, "b": 4}, artists=1)
    with pytest.raises(TrainingError) as info:
        preflight(RunConfig(dataset=str(grouped), model="logreg", cv=3))
    page = page_words(str(info.value))
    assert "single artist" in page and "Set \"Keep each artist's tracks in one fold\" to off" in page
    assert "--" not in page and "setting " not in page


def test_the_train_panel_names_a_fifo_as_not_a_regular_file(tmp_path):
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    assert "not a regular file" in _refusal(_show(fifo))
