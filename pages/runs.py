"""Runs view: every training run in a sortable table; compare runs; delete finished ones.

Reads run folders through ``musictag_core.runs.Run`` and
``musictag_core.training`` (table, metrics) and draws with
``musictag_core.viz.train``. A queued or running run cannot be deleted
(``Run.delete`` refuses it); deleting asks for confirmation.
"""

from __future__ import annotations

import streamlit as st

from musictag_core.errors import MusictagError
from musictag_core.evaluate import metric_label
from musictag_core.paths import runs_dir
from musictag_core.runs import ACTIVE_STATES, Run, epoch_table
from musictag_core.training import compare_metrics, runs_table
from musictag_core.viz.train import compare_metrics_figure, curve_metrics, overlay_curves_figure
from pages._ui.cache import cached_models
from pages._ui.errors import show_error
from pages._ui.evaluation import render_paired_comparison
from pages._ui.session import startup

TABLE_COLUMNS = ["run_id", "name", "model", "preset", "dataset", "state", "metric", "score", "duration_s", "epochs", "created"]

startup()
ss = st.session_state


@st.dialog("Delete run")
def confirm_delete(run_id: str) -> None:
    st.write(f"Delete run **{run_id}**? Its model, predictions and curves are removed for good.")
    c1, c2 = st.columns(2)
    if c1.button("Delete", type="primary", icon=":material/delete:", key="runs_delete_confirm"):
        try:
            Run.open(run_id).delete()
        except (MusictagError, OSError) as exc:
            show_error(exc, context="Delete")
            return
        cached_models.clear()
        ss["runs_deleted"] = run_id
        st.rerun()
    if c2.button("Cancel", key="runs_delete_cancel"):
        st.rerun()


st.title("Runs", anchor=False)
st.caption(
    f"Training runs in `{runs_dir()}` (MUSICTAG_RUNS). Click a column header to sort; pick runs below to "
    "overlay their curves and compare their test metrics."
)
if ss.get("runs_deleted"):
    st.success(f"Deleted run {ss.pop('runs_deleted')}.", icon=":material/delete:")

try:
    runs = runs_table()
except (MusictagError, OSError) as exc:
    show_error(exc, context="listing runs")
    st.stop()
if runs.empty:
    st.info("No runs yet: start one on the Train page.", icon=":material/info:")
    st.page_link("pages/train.py", label="Train a model", icon=":material/model_training:")
    st.stop()

shown_runs = runs[TABLE_COLUMNS].assign(metric=runs["metric"].map(lambda m: metric_label(m) if isinstance(m, str) else None))
st.dataframe(
    shown_runs,
    hide_index=True,
    key="runs_table",
    column_config={
        "run_id": st.column_config.TextColumn("run"),
        "metric": st.column_config.TextColumn("metric", help="Headline test metric: accuracy (single-label), "
                                              "mAP (multi-label), MAE (regression)."),
        "score": st.column_config.NumberColumn("score", format="%.3f"),
        "duration_s": st.column_config.NumberColumn("duration (s)", format="%.0f"),
        "epochs": st.column_config.NumberColumn("epochs", format="%d"),
    },
)
failed = runs[runs["state"] == "failed"]
if not failed.empty:
    with st.expander(f"{len(failed)} failed run(s): reasons", icon=":material/error:"):
        for r in failed.itertuples():
            st.markdown(f"- `{r.run_id}`: {r.error or 'no reason recorded'}")

# -- compare ----------------------------------------------------------------
st.subheader("Compare", anchor=False)
ids = runs["run_id"].tolist()
with_metrics = runs.loc[runs["score"].notna(), "run_id"].tolist()
ss.setdefault("runs_compare", with_metrics[:2])
ss["runs_compare"] = [r for r in ss["runs_compare"] if r in ids]
selected = st.multiselect("Runs to compare", ids, key="runs_compare", placeholder="pick two or more runs")
if selected:
    histories = {r: epoch_table(Run.open(r).events()[0]) for r in selected}
    metrics = []
    for h in histories.values():
        if len(h):
            metrics += [m for m in curve_metrics(h) if m not in metrics]
    c_curve, c_bars = st.columns(2, gap="medium")
    with c_curve:
        if metrics:
            metric = st.selectbox("Curve", metrics, format_func=metric_label, key="runs_curve_metric")
            st.plotly_chart(overlay_curves_figure(histories, metric=metric), key="runs_fig_curves")
        else:
            st.caption("The selected runs have no epochs yet.")
    table = compare_metrics([Run.open(r).path for r in selected])
    with c_bars:
        if table.notna().any().any():
            st.plotly_chart(compare_metrics_figure(table), key="runs_fig_metrics")
        else:
            st.caption("None of the selected runs has test metrics yet.")
    if not table.empty:
        shown = table.rename(index=metric_label)
        st.dataframe(shown, key="runs_metrics_table", column_config={c: st.column_config.NumberColumn(format="%.4f")
                                                                     for c in shown.columns})
    if len(selected) == 2:
        render_paired_comparison(*selected)

# -- delete -----------------------------------------------------------------
st.subheader("Delete", anchor=False)
deletable = runs.loc[~runs["state"].isin(ACTIVE_STATES), "run_id"].tolist()
active = runs.loc[runs["state"].isin(ACTIVE_STATES), "run_id"].tolist()
c_pick, c_button = st.columns([3, 1], vertical_alignment="bottom")
victim = c_pick.selectbox(
    "Run to delete", deletable, index=None, key="runs_delete_pick", placeholder="pick a run",
    help="Queued and running runs are not listed: stop them on the Train page first.",
)  # fmt: skip
if c_button.button("Delete…", icon=":material/delete:", key="runs_delete", disabled=victim is None):
    confirm_delete(victim)
if active:
    st.caption(f"Not deletable while active: {', '.join(active)}.")
