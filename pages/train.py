"""Train page (placeholder): train, watch and compare models."""

from __future__ import annotations

import streamlit as st

st.title("Train", anchor=False)
st.caption(
    "Choose a dataset, features and a model, start a training run, follow its loss curves live "
    "and compare runs; trained models appear in the Tag page's model list."
)
st.info("This page is coming soon.", icon=":material/construction:")
