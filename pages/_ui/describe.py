"""The dataset's description on the Explore page's Dataset tab: what ``musictag dataset describe`` prints (#13)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

__all__ = ["render_description"]


def render_description(index, *, form: str | None = None) -> dict:  # noqa: ANN001 - a DatasetIndex
    """Show :func:`musictag_core.datasets.describe.describe_index` of ``index``; return the description."""
    from musictag_core.datasets.describe import describe_index

    d = describe_index(index, form=form)
    with st.container(key="explore_description"):
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
