"""Explore page (placeholder): feature-space projections of a dataset."""

from __future__ import annotations

import streamlit as st

st.title("Explore", anchor=False)
st.caption(
    "Pick a dataset and a feature set, project it to 2-D (PCA, UMAP, t-SNE) and look at how well "
    "genres separate; click a point to hear the track."
)
st.info("This page is coming soon.", icon=":material/construction:")
