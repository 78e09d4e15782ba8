"""The Train form's transfer settings: the head, what it trains on, and which musicnn outputs it reads (#13).

Drawn only for the ``transfer`` model. The choices and their wording come from
:mod:`musictag_core.training.form` (:data:`~musictag_core.training.form.TRANSFER_HEAD_LABELS` ...);
the combination is judged by :class:`~musictag_core.training.RunConfig` when the page builds it,
so a refused combination blocks Start with the reason.
"""

from __future__ import annotations

import streamlit as st

from musictag_core.training.form import (
    TRANSFER_FEATURE_LABELS,
    TRANSFER_HEAD_LABELS,
    TRANSFER_LEVEL_LABELS,
    transfer_help,
)

__all__ = ["render_transfer_settings"]


def render_transfer_settings(model: str) -> dict[str, str]:
    """Draw the transfer settings (for ``model == "transfer"``); return them as ``RunConfig`` fields.

    Returns
    -------
    dict
        ``{"head", "level", "embedding"}``; empty for any other model (their defaults apply).
    """
    if model != "transfer":
        return {}
    ss = st.session_state
    ss.setdefault("train_transfer_head", "dense")
    ss.setdefault("train_transfer_level", "segment")
    ss.setdefault("train_transfer_embedding", "both")
    with st.container(key="train_transfer"):
        c1, c2, c3 = st.columns(3)
        head = c1.selectbox("Head", list(TRANSFER_HEAD_LABELS), key="train_transfer_head",
                            format_func=TRANSFER_HEAD_LABELS.get, help=transfer_help("head"))
        dense = head == "dense"
        if dense:
            ss["train_transfer_level"] = "segment"
        level = c2.selectbox("Trains on", list(TRANSFER_LEVEL_LABELS), key="train_transfer_level",
                             format_func=TRANSFER_LEVEL_LABELS.get, disabled=dense, help=transfer_help("level"))
        embedding = c3.selectbox("musicnn outputs", list(TRANSFER_FEATURE_LABELS), key="train_transfer_embedding",
                                 format_func=TRANSFER_FEATURE_LABELS.get, help=transfer_help("embedding"))
    return {"head": head, "level": level, "embedding": embedding}
