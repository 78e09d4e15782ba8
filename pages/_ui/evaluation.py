"""Evaluation pieces shared by the Train and Runs pages: the cross-validation caption and the paired comparison."""

from __future__ import annotations

from typing import Any

import streamlit as st

from musictag_core.errors import MusictagError

__all__ = ["TUNE_HELP", "cv_caption", "render_paired_comparison", "render_zero_shot"]

TUNE_HELP = (
    "logreg, svc, gboost, voting and stacked: search a small grid of hyperparameters, and whether to keep only "
    "the better half of the features, by inner cross-validation on each fold's training tracks (the scaler is "
    "refitted inside; the test fold is never seen). The defaults stay unless a candidate clearly beats them. "
    "The search space and the chosen values are saved in the run card."
)


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
