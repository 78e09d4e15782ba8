"""The dataset's description on the Explore page's Dataset tab: what ``musictag dataset describe`` prints (#13)."""

from __future__ import annotations

import os

import pandas as pd
import streamlit as st

__all__ = ["render_description"]


def render_description(index, *, form: str | None = None) -> dict:  # noqa: ANN001 - a DatasetIndex
    """Show :func:`musictag_core.datasets.describe.describe_index` of ``index``; return the description."""
    from musictag_core.datasets.describe import describe_index

    d = describe_index(index, form=form)
    with st.container(key="explore_description"):
        if d["form"] == "fma" and index.meta.get("subset"):
            d = _fma_subset(index, d)
        lpt = d["labels_per_track"]
        audio = d["audio"]
        c = st.columns(5)
        c[0].metric("Form", d["form"])
        c[1].metric("Tracks", d["n_tracks"])
        c[2].metric("Labels", len(d["labels"]), help=f"labels per track: mean {lpt['mean']:g}, max {lpt['max']}")
        c[3].metric("Artists", "unknown" if d["n_artists"] is None else d["n_artists"])
        c[4].metric("Audio files", "none (a table)" if audio is None else f"{audio['present']} present",
                    help=None if audio is None else f"{audio['missing']} missing")
        splits = d["splits"]
        st.caption(
            f"Labels per track: mean {lpt['mean']:g}, max {lpt['max']} (strength threshold {index.threshold:g}). "
            + ("Splits: " + ", ".join(f"{k} {v}" for k, v in splits.items()) if splits else "No splits of its own: "
               "training makes them.")
            + ("" if audio is None else f" Audio: {audio['present']} present, {audio['missing']} missing.")
        )
        counts = pd.DataFrame({"label": list(d["labels"]), "tracks": list(d["labels"].values())})
        st.dataframe(counts.sort_values("tracks", ascending=False), hide_index=True, key="explore_label_counts",
                     height=min(36 * (len(counts) + 1) + 2, 320))
        for warning in d["warnings"]:
            st.caption(f":material/warning: {warning}")
    return d


def _fma_subset(index, opened: dict) -> dict:  # noqa: ANN001 - a DatasetIndex
    """An "FMA subset" choice (small, medium, large: the one downloaded) and the description of that subset.

    The other views keep the subset the dataset was opened with; another subset is described from
    the metadata alone (``dataset describe --subset``), once per file version and subset in this session.
    """
    from musictag_core.datasets.describe import describe_dataset
    from musictag_core.datasets.fma import FMA_SUBSETS

    subset = index.meta["subset"]
    chosen = st.segmented_control(
        "FMA subset", FMA_SUBSETS, default=subset, key="explore_fma_subset",
        help="Describe the subset you downloaded (they nest: medium holds small's tracks, large every track), "
        "as `musictag dataset describe --subset`. The other views use the dataset as opened.",
    )
    if not chosen or chosen == subset:
        return opened
    try:
        stamp = os.stat(index.root).st_mtime_ns
    except OSError:
        stamp = 0
    cache = st.session_state.setdefault("explore_fma_subsets", {})
    key = (str(index.root), stamp, chosen, float(index.threshold))
    if key not in cache:
        with st.spinner(f"Reading FMA's {chosen!r} subset…"):
            cache.clear()  # one description kept: a full tracks.csv is large
            cache[key] = describe_dataset(index.root, format="fma", subset=chosen, threshold=index.threshold, missing="keep")
    st.caption(f"Described: FMA's {chosen!r} subset. The other views use the {subset!r} subset the dataset was opened with.")
    return cache[key]
