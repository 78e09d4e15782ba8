"""The feature-table column rule, shown on the Explore and Train pages (#13)."""

from __future__ import annotations

import streamlit as st

__all__ = ["render_excluded_columns"]


def render_excluded_columns(excluded: list[dict] | None, *, override: str) -> None:
    """A caption naming the columns a feature table's column rule left out, with their reasons.

    ``excluded`` is ``index.meta["excluded_columns"]`` or a run card's ``excluded_columns``
    (``None``, as for audio datasets: nothing shown). ``override`` says how to keep or drop columns.
    """
    if excluded is None:
        return
    from musictag_core.datasets.features_table import excluded_columns_text

    text = excluded_columns_text(excluded)
    st.caption(f":material/filter_alt: Feature table: {text[0].lower() + text[1:]}. {override}")
