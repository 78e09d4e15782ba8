"""Evaluation pieces of the Train and Runs pages: the form's evaluation settings, the cross-validation caption and
the paired comparison.

:func:`render_evaluation_settings` draws Cross-validation, Repeats, "Hold out a test split", "Keep each artist's
tracks in one fold" and Tune; :func:`musictag_core.training.form.evaluation_form` judges them (the same semantics
as ``RunConfig``), so a refused value blocks Start with its reason next to the field.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from musictag_core.errors import MusictagError

__all__ = ["TUNE_HELP", "cv_caption", "render_evaluation_settings", "render_paired_comparison", "render_zero_shot"]

TUNE_HELP = (
    "logreg, svc, gboost, voting, stacked and the transfer model's logreg / svm heads: search a small grid of "
    "hyperparameters (for the classical models also whether to keep only the better half of the features) by inner "
    "cross-validation on each fold's training tracks (the scaler is refitted inside; the test fold is never seen). "
    "The defaults stay unless a candidate clearly beats them. The search space and the chosen values are saved in "
    "the run card."
)


@st.cache_data(max_entries=8, show_spinner=False)
def _artists_known(spec: str) -> bool | None:
    from musictag_core.training.form import artists_known

    return artists_known(spec)


def render_evaluation_settings(
    *, dataset: str | None, n_tracks: int | None, max_tracks: int | None, tunable: bool
):  # noqa: ANN201 - EvaluationForm
    """Draw the form's evaluation settings; return :class:`~musictag_core.training.form.EvaluationForm`.

    Its ``settings`` are the ``RunConfig`` fields (``cv``, ``cv_repeats``, ``test_split``,
    ``group_by_artist``, ``tune``); its ``error_list`` blocks Start (each reason also stands under
    its field); ``size_cv`` is the folds the batch-size bound assumes.
    """
    from musictag_core.training.form import (
        CV_CHOICES,
        GROUPING_LABEL,
        GROUPING_LABELS,
        TEST_SPLIT_LABEL,
        cv_label,
        evaluation_form,
        repeats_rule,
    )

    from .form import number_field

    ss = st.session_state
    ss.setdefault("train_cv_repeats", "1")
    ss.setdefault("train_test_split", True)
    ss.setdefault("train_group_by_artist", "auto")
    has_artists = _artists_known(dataset) if dataset else None
    n_run = min(n_tracks, max_tracks) if n_tracks and max_tracks else n_tracks
    st.markdown("**Evaluation**")
    with st.container(key="train_evaluation_settings"):
        c1, c2, c3, c4 = st.columns([1, 0.8, 1.2, 2], vertical_alignment="top")
        cv = c1.selectbox("Cross-validation", list(CV_CHOICES), key="train_cv", format_func=cv_label,
                          help="off: one train/validation/test split (the dataset's own when it has one). K folds are "
                               "lowered to the smallest label's track count; leave-one-out: up to 200 tracks.")
        test_split = c3.toggle(TEST_SPLIT_LABEL, key="train_test_split",
                               help="Off: no test split; the model trains on every track (train + validation) and the "
                                    "metrics come from cross-validation (the chosen K, or 5 folds lowered to the "
                                    "smallest label when Cross-validation is off). For datasets too small to split.")
        # judged once before drawing Repeats (whether it applies), once after (its value)
        judged = evaluation_form(cv=cv, repeats_text=ss.get("train_cv_repeats"), test_split=test_split,
                                 n_tracks=n_run, has_artists=has_artists)
        if not judged.repeats_enabled:
            ss["train_cv_repeats"] = "1"  # a disabled box shows what runs: one draw of the folds
        number_field(repeats_rule(), key="train_cv_repeats", container=c2, disabled=not judged.repeats_enabled,
                     help=judged.notes["repeats"])
        if "cv" in judged.errors:
            with c1.container(key="train_cv_error"):
                st.markdown(f":red[:material/error: {judged.errors['cv'].split(': ', 1)[1]}]")
        c3.caption(judged.notes["test_split"])
        grouping = "auto"
        if judged.grouping_enabled:
            grouping = c4.selectbox(GROUPING_LABEL, list(GROUPING_LABELS), key="train_group_by_artist",
                                    format_func=GROUPING_LABELS.get, help=judged.notes["grouping"])
        else:
            c4.caption(f":material/person_off: {judged.notes['grouping']}")
        tune = st.checkbox("Tune hyperparameters (inner cross-validation)", key="train_tune",
                           disabled=not tunable, help=TUNE_HELP)
    return evaluation_form(cv=cv, repeats_text=ss.get("train_cv_repeats"), test_split=test_split, grouping=grouping,
                           tune=tune, tunable=tunable, n_tracks=n_run, has_artists=has_artists)


def cv_caption(cv: dict[str, Any]) -> str:
    """One line saying how a cross-validated run was evaluated (``metrics.json``'s ``cv``)."""
    done, n = cv.get("completed", cv.get("n_folds")), cv.get("n_folds", cv.get("k"))
    if cv.get("kind") == "loo":
        what = f"leave-one-out ({done} of {n} folds completed): *value* and the figures are the pooled predictions"
    else:
        reps = cv.get("repeats") or 1
        what = (
            f"{cv['k']}-fold cross-validation" + (f" x {reps} repeats" if reps > 1 else "")
            + f" ({done} of {n} folds completed): *value* and the figures are the pooled out-of-fold predictions; "
            "*cv mean* and *cv std* summarise the folds"
        )
    notes = " ".join(f"Note: {x}." for x in cv.get("notes") or [])
    return f":material/repeat: {what}. {notes}".strip()


def render_paired_comparison(run_a: str, run_b: str) -> None:
    """Two runs' per-fold difference with a 95 % bootstrap interval, or why they cannot be paired."""
    from musictag_core.evaluate import metric_label
    from musictag_core.runs import Run
    from musictag_core.training import compare_runs

    with st.container(key="runs_paired"):
        st.markdown(f"**Paired comparison** of `{run_a}` (A) and `{run_b}` (B) on their shared folds")
        try:
            res = compare_runs(Run.open(run_a).path, Run.open(run_b).path)
        except MusictagError as exc:
            st.info(f"No paired comparison: {exc}", icon=":material/info:")
            return
        label = metric_label(res["metric"])
        if res["ci95"] is None:
            ci = "no interval with one fold (cross-validate both runs to get one)"
        else:
            lo, hi = res["ci95"]
            ci = f"95 % bootstrap interval [{lo:+.3f}, {hi:+.3f}]" + (
                ": excludes 0" if lo > 0 or hi < 0 else ": includes 0, no clear difference"
            )
        st.markdown(f"{label}, A − B = **{res['mean_diff']:+.3f}** over {res['n_folds']} fold(s); {ci}.")
        st.dataframe(
            [{"fold": f["fold"], "A": f["a"], "B": f["b"], "A − B": f["diff"]} for f in res["folds"]],
            hide_index=True, key="runs_paired_table",
            column_config={c: st.column_config.NumberColumn(format="%.4f") for c in ("A", "B", "A − B")},
        )


def render_zero_shot(evaluation: dict[str, Any]) -> None:
    """A ``tagtext`` run's zero-shot retrieval of its held-out tags, beside the random and nearest-trained-tag baselines."""
    report = (evaluation or {}).get("zero_shot")
    if not report:
        return
    import pandas as pd

    from musictag_core.training.tagtext import zero_shot_rows

    st.subheader("Zero-shot retrieval of held-out tags", anchor=False)
    st.caption(
        f"Held out of training: {', '.join(report['held_out_tags'])}. Each held-out tag's text ranks the "
        f"{report['n_test_tracks']} test tracks by similarity; mAP and precision at k against a random ranking "
        "and against the trained tag nearest to each held-out tag."
    )
    st.dataframe(pd.DataFrame(zero_shot_rows(report)), hide_index=True, key="train_zero_shot_table",
                 column_config={"mAP": st.column_config.NumberColumn(format="%.3f")})
