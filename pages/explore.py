"""Explore page: do my genres separate, in which features, and which genres get confused?

Inputs (dataset source, feature space, projection, genres) →
``musictag_core.explore`` (open the source, feature matrix from the cached
feature store, ``project`` + ``separability``) → figures from
``musictag_core.viz.explore``. Matrices, datasets and results are kept in
bounded in-process caches, and fitted projections in the core's projection
cache, so a second visit is instant. UMAP's numba code is compiled once per
server process by the core's background warm-up (``start_umap_warmup``), started
when this page first opens a dataset; the page only shows its state.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from musictag_core.explore import (
    METRICS,
    SPACE_LABELS,
    DatasetSource,
    ExploreCache,
    ExploreResult,
    ProjectionConfig,
    UmapWarmup,
    class_balance,
    color_columns,
    cooccurrence,
    demo_ready,
    explained_variance,
    explore,
    figures_json,
    labels_per_track,
    levels_for,
    pairwise_view,
    path_source,
    save_table_upload,
    save_zip_upload,
    selected_rows,
    spaces_for,
    start_umap_warmup,
    track_durations,
    umap_is_warm,
)
from musictag_core.paths import data_roots, resolve_data_path
from musictag_core.viz import explore as vx
from pages._ui.columns import render_excluded_columns
from pages._ui.describe import render_description
from pages._ui.errors import app_limits, show_error
from pages._ui.session import session_workspace, startup
from pages._ui.similar import render_neighbourhoods, render_point_neighbours

SOURCES = ["Hard demo corpus", "Demo corpus", "Path", "Upload zip", "Upload feature table"]
DEMOS = {  # source -> (dataset spec, what it is)
    "Hard demo corpus": ("demo-hard", "The hard demo corpus (150 synthesised clips in six close styles that share "
                         "instruments and tempi, with varied production and many blends)"),
    "Demo corpus": ("demo", "The demo corpus (138 synthesised clips in six distinct styles)"),
}
METHODS = {"PCA": "pca", "UMAP": "umap", "t-SNE": "tsne"}
MAX_PLAYERS = 8  # audio players shown for a selection (the table lists all)

startup()
ss = st.session_state
ss.setdefault("explore_source", SOURCES[0])
ss.setdefault("explore_path", "")
ss.setdefault("explore_label_column", "label")
ss.setdefault("explore_space", "mfcc_stats")
ss.setdefault("explore_level", "track")
ss.setdefault("explore_deltas", False)
ss.setdefault("explore_standardize", True)
ss.setdefault("explore_method", "PCA")
ss.setdefault("explore_dims", 2)
ss.setdefault("explore_n_neighbors", 15)
ss.setdefault("explore_min_dist", 0.1)
ss.setdefault("explore_metric", "euclidean")
ss.setdefault("explore_perplexity", 30.0)
ss.setdefault("explore_seed", 0)
ss.setdefault("explore_color", "genre")
ss.setdefault("explore_sep_space", "full space")
ss.setdefault("explore_violin_kind", "violin")
# Streamlit forgets a widget's value after a run that did not draw it (a dataset still to be
# uploaded, UMAP sliders while PCA is shown) and the browser then shows the widget's default while
# the script reads the remembered value. Re-setting the values through the Session State API
# each run keeps both in step.
_KEEP = ("explore_genres_", "explore_pair_", "explore_violin_feature_")
for _k in [k for k in ss.keys() if isinstance(k, str) and k.startswith("explore_")]:
    if _k.startswith(_KEEP) or _k in (
        "explore_source", "explore_path", "explore_label_column", "explore_space", "explore_level",
        "explore_deltas", "explore_standardize", "explore_method", "explore_dims", "explore_n_neighbors",
        "explore_min_dist", "explore_metric", "explore_perplexity", "explore_seed", "explore_color",
        "explore_sep_space", "explore_violin_kind", "explore_tab",
    ):  # fmt: skip
        ss[_k] = ss[_k]


# ---------------------------------------------------------------- process-wide caches


@st.cache_resource(show_spinner=False)
def _memory() -> ExploreCache:
    """The core's bounded in-memory datasets, matrices and results, one for all sessions."""
    return ExploreCache()


@st.cache_data(max_entries=16, show_spinner=False)
def _scree(result_key: str, standardize: bool, _X: np.ndarray) -> np.ndarray:
    return explained_variance(_X, standardize=standardize, max_components=10)


@st.cache_data(max_entries=8, show_spinner="Reading track durations…")
def _durations(source_key: str, _index) -> pd.Series:
    return track_durations(_index)


@st.cache_data(max_entries=32, show_spinner=False)
def _pairwise(result_key: str, a: str, b: str, _X: np.ndarray, _labels: np.ndarray, standardize: bool) -> dict:
    return pairwise_view(_X, _labels, a, b, cv=5, seed=0, standardize=standardize)


def _bar(fraction: float, text: str, holder) -> None:
    holder.progress(min(max(float(fraction), 0.0), 1.0), text=text)


# ---------------------------------------------------------------- steps


def _source() -> DatasetSource | None:
    """The dataset source chosen above the page, or None (with a hint shown) while none is ready."""
    lim = app_limits()
    choice = st.radio("Dataset", SOURCES, key="explore_source", horizontal=True)
    if choice in DEMOS:
        spec, what = DEMOS[choice]
        go_key = f"explore_demo_go_{spec}"
        if not demo_ready(variant=spec) and not ss.get(go_key):
            prompt = st.empty()  # the prompt goes away as soon as it is answered
            with prompt.container():
                st.info(f"{what} is generated once, into the cache folder; that takes a minute or two.",
                        icon=":material/library_music:")
                go = st.button("Generate the demo corpus", key=f"explore_demo_button_{spec}", icon=":material/play_arrow:")
            if not go:
                return None
            prompt.empty()
            ss[go_key] = True
        return DatasetSource(kind="demo", path=spec)
    if choice == "Path":
        c1, c2 = st.columns([4, 1])
        text = c1.text_input(
            "Dataset path",
            key="explore_path",
            placeholder="/data/gtzan/genres_original  or  /data/gtzan/features_30_sec.csv",
            help="A folder per genre, FMA, MagnaTagATune, a strengths CSV or a feature table, under the data "
            "folders: " + ", ".join(str(r) for r in data_roots()),
        )
        label_col = c2.text_input("Label column (tables)", key="explore_label_column")
        if not text.strip():
            st.info("Type the path of a dataset folder or CSV.", icon=":material/folder_open:")
            return None
        return path_source(resolve_data_path(text), label_column=label_col)
    if choice == "Upload zip":
        up = st.file_uploader(
            "Zip of a folder per genre (blues/a.wav, jazz/b.mp3, …)", type=["zip"], key="explore_zip",
            help=f"At most {lim.max_upload_mb:g} MB; only audio files are extracted.",
        )
        if up is None:
            st.info("Upload a zip of a folder-per-genre tree.", icon=":material/upload:")
            return None
        source, notes = save_zip_upload(
            up.getvalue(), name=up.name, workspace=session_workspace(), limit=lim.max_upload_bytes
        )
        for note in notes:
            st.caption(f":material/info: {note}")
        return source
    c1, c2 = st.columns([4, 1])
    up = c1.file_uploader(
        "Feature table (CSV with a label column and numeric feature columns)", type=["csv"], key="explore_table",
        help="Like GTZAN's features_30_sec.csv: one row per track, a 'label' column, numeric features.",
    )
    label_col = c2.text_input("Label column", key="explore_label_column")
    if up is None:
        st.info("Upload a feature-table CSV (for example GTZAN's features_30_sec.csv).", icon=":material/upload:")
        return None
    return save_table_upload(
        up.getvalue(), name=up.name, workspace=session_workspace(), label_column=label_col.strip() or "label",
        limit=lim.max_upload_bytes,
    )


def _open(source: DatasetSource):
    memory = _memory()
    if memory.has_dataset(source):
        return memory.dataset(source)
    holder = st.empty()

    def report(done: int, total: int) -> None:
        _bar(done / max(total, 1), f"Generating the demo corpus (first use only): {done}/{total} clips", holder)

    with st.spinner(f"Opening {source.describe()}…"):
        index = memory.dataset(source, progress=report)
    holder.empty()
    return index


def _warm_status(warm: UmapWarmup) -> None:
    if umap_is_warm():
        st.caption(":material/check_circle: UMAP ready")
    elif warm.error:
        st.caption(f":material/warning: UMAP warm-up failed ({warm.error}); a UMAP fit compiles on demand")
    else:
        st.caption(f":material/hourglass_top: UMAP warming up ({warm.message}, {warm.fraction:.0%})")


@st.fragment(run_every=2)
def _warm_status_live(warm: UmapWarmup) -> None:
    _warm_status(warm)


# ---------------------------------------------------------------- page

st.title("Explore", anchor=False)
st.caption(
    "Do the genres separate, in which features, and which genres get confused? Every track (or 12 s segment) "
    "is a point; hover to see which, click or lasso points to hear them."
)

try:
    source = _source()
except Exception as exc:  # noqa: BLE001 - bad path, hostile zip, ...: named, the page stays usable
    show_error(exc, context="dataset")
    st.stop()
if source is None:
    st.stop()
try:
    index = _open(source)
except Exception as exc:  # noqa: BLE001
    show_error(exc, context=None if source.upload_name else source.describe())  # an upload's message names it
    st.stop()
source_key = source.key()
if index.kind == "features":
    render_excluded_columns(index.meta.get("excluded_columns"), override="Keep or drop columns with `musictag explore --keep-columns/--drop-columns`.")
warm = start_umap_warmup()  # once per process (a low-priority thread), from the first time a dataset is open here

controls, main = st.columns([1, 3], gap="medium")
with controls:
    st.subheader("Features", anchor=False)
    spaces = spaces_for(index)
    if ss["explore_space"] not in spaces:
        ss["explore_space"] = spaces[0]
    space = st.selectbox("Feature space", spaces, key="explore_space", format_func=lambda s: SPACE_LABELS.get(s, s))
    levels = levels_for(space)
    if ss["explore_level"] not in levels:
        ss["explore_level"] = levels[0]
    level = st.radio(
        "Points", levels, key="explore_level", horizontal=True,
        format_func=lambda v: {"track": "tracks", "segment": "12 s segments"}[v],
    )
    deltas = st.checkbox("With delta MFCCs", key="explore_deltas", disabled=space != "mfcc_stats")
    standardize = st.checkbox("Standardise features", key="explore_standardize")
    st.subheader("Projection", anchor=False)
    method_name = st.radio("Projection", list(METHODS), key="explore_method", horizontal=True)
    method = METHODS[method_name]
    dims = st.radio("Dimensions", [2, 3], key="explore_dims", horizontal=True, format_func=lambda d: f"{d}-D")
    if method == "umap":
        n_neighbors = st.slider("n_neighbors", 2, 100, key="explore_n_neighbors")
        min_dist = st.slider("min_dist", 0.0, 1.0, step=0.05, key="explore_min_dist")
        metric = st.selectbox("metric", list(METRICS), key="explore_metric")
        seed = st.number_input("seed", min_value=0, step=1, key="explore_seed")
    elif method == "tsne":
        perplexity = st.slider("perplexity", 2.0, 100.0, step=1.0, key="explore_perplexity")
        metric = st.selectbox("metric", list(METRICS), key="explore_metric")
        seed = st.number_input("seed", min_value=0, step=1, key="explore_seed")
    if umap_is_warm() or warm.error:
        _warm_status(warm)
    else:
        _warm_status_live(warm)

config = ProjectionConfig(
    method=method,
    n_components=int(dims),
    standardize=bool(standardize),
    n_neighbors=int(ss["explore_n_neighbors"]),
    min_dist=float(ss["explore_min_dist"]),
    metric=str(ss["explore_metric"]),
    perplexity=float(ss["explore_perplexity"]),
    seed=int(ss["explore_seed"]),
)

with main:
    holder = st.empty()
    try:
        X, names, meta = _memory().matrix(
            index, source_key=source_key, space=space, level=level, deltas=deltas,
            progress=lambda f, m: _bar(f, f"Features ({SPACE_LABELS.get(space, space)}): {m}", holder),
        )
    except Exception as exc:  # noqa: BLE001
        holder.empty()
        show_error(exc, context=f"{source.describe()}, {space}")
        st.stop()
    holder.empty()
    skipped = meta.attrs.get("skipped") or {}
    if skipped:
        first = next(iter(skipped.items()))
        st.warning(f"{len(skipped)} track(s) could not be read and are left out (first: {first[0]}: {first[1]})")

    all_genres = sorted(meta["genre"].astype(str).unique())
    gkey = "explore_genres_" + hashlib.blake2b(source_key.encode(), digest_size=6).hexdigest()
    ss.setdefault(gkey, all_genres)
    genres = st.multiselect("Genres to show", all_genres, key=gkey)
    feature_key = (source_key, space, level, bool(deltas) and space == "mfcc_stats")
    result_key = (feature_key, tuple(sorted(config.relevant().items())), tuple(sorted(genres)))
    data_key = repr((feature_key, tuple(sorted(genres))))  # the shown points' features (result.X)
    def _compute() -> ExploreResult:
        if method == "umap" and not warm.done:  # the background warm-up is compiling UMAP
            warm.wait(progress=lambda f, m: _bar(
                0.9 * f, f"UMAP warming up: {m} (the first UMAP in a server process compiles code, 20-60 s)",
                holder))
        return explore(
            X, names, meta, config=config, genres=genres, k=5,
            progress=lambda f, m: _bar(f, f"{config.label()}: {m}", holder),
        )

    try:
        result = _memory().result(result_key, _compute)
    except Exception as exc:  # noqa: BLE001
        holder.empty()
        show_error(exc, context=config.label())
        st.stop()
    holder.empty()
    for note in result.notes:
        st.caption(f":material/tune: {note}")

    full, low = result.full, result.projected
    mc = full["most_confused"]
    where = f"{method_name} {dims}-D"
    m1, m2, m3, m4 = st.columns(4)
    m1.metric("Silhouette", f"{full['silhouette']:.3f}", help="In the full (standardised) feature space. Near 1: "
              "tight genres far apart; near 0: overlapping genres; below 0: mixed up.")
    m2.metric(f"{result.k}-NN accuracy", f"{full['knn_accuracy']:.1%}", help="In the full feature space, leave-one-"
              "out: each point is classified by the genres of its k nearest other points.")
    m3.metric(f"Silhouette, {where}", f"{low['silhouette']:.3f}", help="The same, in the projection's coordinates.")
    m4.metric(f"{result.k}-NN, {where}", f"{low['knn_accuracy']:.1%}",
              help="The same, in the projection's coordinates.")
    if mc["a"]:
        st.markdown(
            f"**Most confused pair** (k-NN, full space): **{mc['a']} ↔ {mc['b']}**, {mc['count']} errors "
            f"({mc['rate']:.0%} of their points). See *Pair of genres* below."
        )
    else:
        st.markdown("**Most confused pair**: none, the k-NN makes no errors in the full space.")
    render_neighbourhoods(result.neighbourhoods)

    colors = color_columns(result.meta)
    if ss["explore_color"] not in colors:
        ss["explore_color"] = "genre"
    cc1, cc2 = st.columns([1, 3])
    color = cc1.selectbox("Colour by", colors, key="explore_color")
    n_tracks = result.meta["track_id"].nunique()
    what = f"{len(result.meta)} segments of {n_tracks} tracks" if level == "segment" else f"{n_tracks} tracks"
    cc2.caption(
        f"{source.describe()}: {what}, {len(names)} features ({SPACE_LABELS.get(space, space)}); "
        f"{'standardised; ' if standardize else ''}"
        + ("projection from cache" if result.projection.from_cache
           else f"fitted in {result.projection.fit_seconds:.2f} s")
        + ("; click, box or lasso points to list and hear them" if dims == 2 else "; selection works in 2-D")
    )
    scatter = vx.scatter_figure(
        result.projection.coords, result.meta, color=color, symbol="split",
        hover=("track_id", "genre", "labels", "split") + (("start_s",) if level == "segment" else ()),
        axis_titles=result.axis_titles(), title=f"{config.label()} of {SPACE_LABELS.get(space, space)}",
    )
    scatter.update_layout(height=560 if dims == 2 else 640)
    scatter_key = "explore_scatter_" + hashlib.blake2b(repr(result_key).encode(), digest_size=6).hexdigest()
    event = st.plotly_chart(
        scatter, key=scatter_key, on_select="rerun", selection_mode=("points", "box", "lasso"),
    )

    rows = selected_rows(event.selection if event else None, len(result.meta))
    if rows:
        picked = result.meta.iloc[rows]
        st.markdown(f"**{len(rows)} selected point(s)**")
        cols = [c for c in ("track_id", "genre", "labels", "split", "artist", "start_s") if c in picked.columns]
        st.dataframe(picked[cols], hide_index=True, key="explore_selection_table")
        with_audio = [(i, r) for i, r in picked.iterrows() if str(r.get("path", "")) and Path(str(r["path"])).is_file()]
        if not with_audio:
            st.caption("These points have no audio file (a feature table).")
        for _, r in with_audio[:MAX_PLAYERS]:
            start = float(r["start_s"]) if "start_s" in r and pd.notna(r.get("start_s")) else 0.0
            st.caption(f"{r['track_id']} · {r['genre']}" + (f" · from {start:.0f} s" if start else ""))
            st.audio(str(r["path"]), start_time=int(start))
        if len(with_audio) > MAX_PLAYERS:
            st.caption(f"Players for the first {MAX_PLAYERS}; the table lists all.")
        if len(rows) == 1:
            render_point_neighbours(result, rows[0])

# ---------------------------------------------------------------- figures below the scatter
# Only the open tab runs (tabs with on_change="rerun"); the figures download builds them all.

shown = index.subset(index.genre.astype(str).isin(genres).to_numpy()) if set(genres) != set(all_genres) else index
has_audio = bool((shown.tracks["path"].astype(str) != "").any())
genres_now = sorted(set(result.labels))
pkey = "explore_pair_" + hashlib.blake2b(repr(genres_now).encode(), digest_size=6).hexdigest()
ss.setdefault(pkey + "_a", mc["a"] or genres_now[0])
ss.setdefault(pkey + "_b", mc["b"] or genres_now[1])
top = list(result.projection.top_features(0, n=1).index) if result.projection.loadings is not None else []
fkey = "explore_violin_feature_" + hashlib.blake2b(repr(names[:3] + names[-3:]).encode(), digest_size=6).hexdigest()
ss.setdefault(fkey, top[0] if top else names[0])


def _sep_figures(which: str) -> dict:
    sep = full if which == "full space" else low
    return {
        "centroid_distances": vx.centroid_distance_figure(
            sep["centroid_distances"], title=f"Distance between genre centroids ({which})"
        ),
        "confusion": vx.confusion_figure(sep["confusion"], title=f"Leave-one-out {result.k}-NN confusion ({which})"),
        "per_label": vx.per_label_figure(sep["per_label"], title=f"Separability per genre ({which})"),
    }


def _axes_figures(scree: np.ndarray) -> dict:
    figs = {"explained_variance": vx.explained_variance_figure(
        scree, title="Explained variance per principal component (full space)")}
    if result.projection.loadings is not None:
        figs["loadings"] = vx.loadings_figure(result.projection.loadings, top=10)
    return figs


def _data_figures(durations: pd.Series | None) -> dict:
    figs = {"class_balance": vx.class_balance_figure(class_balance(shown, by_split=shown.has_splits))}
    if durations is not None:
        d = durations.reindex(shown.tracks["track_id"].astype(str).to_numpy())
        figs["durations"] = vx.duration_figure(d.to_numpy(), by=shown.genre.astype(str).to_numpy())
    if shown.task == "multi":
        figs["cooccurrence"] = vx.cooccurrence_figure(cooccurrence(shown.y, shown.labels))
        figs["labels_per_track"] = vx.labels_per_track_figure(labels_per_track(shown.y))
    return figs


def _feature_figure(feature: str, kind: str):
    return vx.feature_violin_figure(result.feature_frame(), feature, by="genre", kind=kind)


def _all_figures() -> dict:
    """Every figure of the current view, for the download (no st.* calls).

    The statistics come from the same cached calls as the tabs, so what a tab
    already computed is reused and nothing is computed twice.
    """
    figs = {"scatter": scatter}
    for which in ("full space", "projection"):
        figs.update({f"{name} ({which})": f for name, f in _sep_figures(which).items()})
    figs.update(_axes_figures(_scree(data_key, bool(standardize), result.X)))
    a, b = ss.get(pkey + "_a"), ss.get(pkey + "_b")
    if a != b and a in genres_now and b in genres_now:
        view = _pairwise(repr(result_key), a, b, result.X, result.labels.astype(str), bool(standardize))
        figs["pairwise"] = vx.pairwise_figure(view, meta=result.meta)
    figs.update(_data_figures(_durations(source_key, index) if has_audio else None))
    figs["feature"] = _feature_figure(ss.get(fkey, names[0]), ss.get("explore_violin_kind", "violin"))
    return figs


tab_sep, tab_axes, tab_pair, tab_data = st.tabs(
    ["Separability", "Axes & loadings", "Pair of genres", "Dataset"], key="explore_tab", on_change="rerun"
)

if tab_sep.open:
    with tab_sep:
        which = st.radio("Measured in", ["full space", "projection"], key="explore_sep_space", horizontal=True)
        figs = _sep_figures(which)
        s1, s2 = st.columns(2)
        s1.plotly_chart(figs["centroid_distances"], key="explore_fig_centroids")
        s2.plotly_chart(figs["confusion"], key="explore_fig_confusion")
        st.plotly_chart(figs["per_label"], key="explore_fig_per_label")

if tab_axes.open:
    with tab_axes:
        figs = _axes_figures(_scree(data_key, bool(standardize), result.X))
        a1, a2 = st.columns(2)
        a1.plotly_chart(figs["explained_variance"], key="explore_fig_scree")
        if "loadings" in figs:
            a2.plotly_chart(figs["loadings"], key="explore_fig_loadings")
        else:
            a2.info("Loadings exist for PCA only: switch the projection to PCA to see which features drive each axis.")

if tab_pair.open:
    with tab_pair:
        p1, p2, _ = st.columns([1, 1, 2])
        a = p1.selectbox("Genre A", genres_now, key=pkey + "_a")
        b = p2.selectbox("Genre B", genres_now, key=pkey + "_b")
        if a == b:
            st.info("Pick two different genres.")
        else:
            try:
                view = _pairwise(repr(result_key), a, b, result.X, result.labels.astype(str), bool(standardize))
            except Exception as exc:  # noqa: BLE001
                show_error(exc, context=f"{a} vs {b}")
            else:
                st.metric(
                    f"Linear classifier accuracy, {a} vs {b} ({view['cv']}-fold CV)",
                    f"{view['accuracy_mean']:.1%} ± {view['accuracy_std']:.1%}",
                    help="Standardise + logistic regression, stratified folds; ± is the standard deviation "
                    "over folds.",
                )
                st.plotly_chart(vx.pairwise_figure(view, meta=result.meta), key="explore_fig_pair")

if tab_data.open:
    with tab_data:
        render_description(index)
        figs = _data_figures(_durations(source_key, index) if has_audio else None)
        d1, d2 = st.columns(2)
        d1.plotly_chart(figs["class_balance"], key="explore_fig_balance")
        if "durations" in figs:
            d2.plotly_chart(figs["durations"], key="explore_fig_durations")
        else:
            d2.info("A feature table has no audio files, so no durations.")
        if "cooccurrence" in figs:
            d3, d4 = st.columns(2)
            d3.plotly_chart(figs["cooccurrence"], key="explore_fig_cooc")
            d4.plotly_chart(figs["labels_per_track"], key="explore_fig_lpt")
        v1, v2, _ = st.columns([2, 1, 2])
        feature = v1.selectbox("Feature", names, key=fkey)
        kind = v2.radio("Plot", ["violin", "box"], key="explore_violin_kind", horizontal=True)
        st.plotly_chart(_feature_figure(feature, kind), key="explore_fig_feature")

st.divider()
summary = {"dataset": index.name, "source": source.describe(), "space": space, "level": level, **result.summary()}
b1, b2, b3, _ = st.columns([1, 1, 1, 3])
b1.download_button(
    "Projection CSV", result.table().to_csv(index=False), file_name=f"musictag-projection-{method}.csv",
    mime="text/csv", icon=":material/download:", key="explore_dl_csv",
)
b2.download_button(
    "Separability JSON", json.dumps(summary, indent=2, default=str),
    file_name="musictag-separability.json", mime="application/json", icon=":material/download:", key="explore_dl_json",
)
b3.download_button(
    "Figures JSON", lambda: figures_json(_all_figures(), summary=summary), file_name="musictag-explore-figures.json",
    mime="application/json", icon=":material/download:", key="explore_dl_figs",
    help="Plotly JSON of every figure of this view (load with plotly.io.from_json), with the separability summary.",
)
