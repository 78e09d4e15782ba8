"""Tag page: a text box that ranks the uploaded tracks by a free-text query (zero-shot, through the tags).

The query is embedded with all-MiniLM-L6-v2 and compared with the tag names;
each uploaded track is scored on the three best-matching tags of the model it
was tagged with (``musictag_core.models.textsearch.search_text``, the same rule
as ``musictag search-text --index``), using the scores already on its card.
"""

from __future__ import annotations

import streamlit as st

from pages._ui.errors import show_error

__all__ = ["render_text_search", "records_table"]

ss = st.session_state
ss.setdefault("tag_text_query", "")


def records_table(records: list[dict]):  # noqa: ANN201
    """The tag scores of the tagged tracks (``TrackPrediction.to_dict`` records) as a ``TagScoreTable``.

    Columns are ``(label, model)`` pairs; a track tagged by another model scores 0 on its columns.
    """
    import numpy as np

    from musictag_core.models.textsearch import TagScoreTable

    labels: list[dict] = []
    column: dict[tuple[str, str], int] = {}
    for rec in records:
        for lab in rec.get("labels", []):
            key = (str(lab), str(rec.get("model", "")))
            if key not in column:
                column[key] = len(labels)
                labels.append({"label": key[0], "model": key[1]})
    scores = np.zeros((len(records), len(labels)), dtype=np.float32)
    for i, rec in enumerate(records):
        for tag in rec.get("tags", []):
            j = column.get((str(tag["label"]), str(rec.get("model", ""))))
            if j is not None:
                scores[i, j] = float(tag["score"])
    return TagScoreTable([str(r.get("file") or r.get("path")) for r in records], scores, labels)


def render_text_search(records: list[dict]) -> None:
    """Draw the search box and, for a query, the uploaded tracks ranked by it."""
    if not records:
        return
    with st.container(border=True, key="tag_text_search"):
        st.subheader("Search these tracks by text", anchor=False)
        st.caption(
            "Zero-shot, through the tags: your words are compared with the model's tag names "
            "(all-MiniLM-L6-v2 sentence embeddings), and each track is scored on the three best-matching "
            "tags, weighted by their similarity. This is text mapped onto the model's tags, not a joint "
            "audio-text model: words no tag names (an instrument or mood the model does not know) "
            "can only land on the nearest tags."
        )
        query = st.text_input(
            "Query", key="tag_text_query", placeholder="dark slow guitar music", max_chars=200,
            help="Press Enter to search.",
        )
        if not query.strip():
            return
        from musictag_core.models.textsearch import search_text

        try:
            with st.spinner("Embedding the query (the first time loads the text model)…"):
                result = search_text(query, index=records_table(records), k=5, top=len(records))
        except Exception as exc:  # noqa: BLE001 - shown on the page, the rest of it goes on
            show_error(exc, context="text search")
            return
        tracks = result["tracks"]
        if not tracks:
            st.info("None of the best-matching tags belong to the model these tracks were tagged with.")
            return
        matched = ", ".join(f"{m['label']} ({m['model']})" for m in tracks[0]["matched"])
        st.markdown(f"**Matched tags:** {matched}")
        lines = [f"{i + 1}. **{t['path']}**: {t['score']:.3f}" for i, t in enumerate(tracks)]
        st.container(key="tag_text_results").markdown("\n".join(lines))
