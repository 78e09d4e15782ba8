"""Similarity sections of the pages: "Tracks like this" on a Tag card, and a point's neighbours on Explore.

Each is one render function a page calls with one line; the work is one core call
(:func:`musictag_core.similarity.similar_to_file`, :func:`musictag_core.explore.point_neighbours`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import streamlit as st

from .errors import show_error

__all__ = ["render_neighbourhoods", "render_point_neighbours", "render_tracks_like_this"]

#: Neighbours listed (each with a player).
K = 5


@st.cache_data(ttl=30, show_spinner=False, max_entries=4)
def _indexes() -> list[dict[str, Any]]:
    from musictag_core.similarity import list_indexes

    return list_indexes()


@st.cache_data(show_spinner=False, max_entries=64)
def _neighbours(digest: str, _data: bytes, *, index: str, updated: str, k: int) -> list[dict[str, Any]]:
    """Neighbours of an upload (keyed by its hash and the index version; the bytes are not hashed again)."""
    from musictag_core.similarity import similar_to_file

    res = similar_to_file(_data, index=index, k=k)
    return [n.to_dict() for n in res.neighbours]


def _label_text(label: Any) -> str:
    if label is None:
        return "no label"
    return ", ".join(label) if isinstance(label, list) else str(label)


def _player(path: str, start: float, *, caption: str) -> None:
    st.caption(caption)
    if Path(path).is_file():
        st.audio(path, start_time=int(start))
    else:
        st.caption(":material/warning: the file is no longer there; update the index with `musictag index`.")


def render_tracks_like_this(data: bytes, *, digest: str, key: str) -> None:
    """The "Tracks like this" section of a Tag card: the nearest tracks of a chosen index, with players.

    Parameters
    ----------
    data : bytes
        The track's file.
    digest : str
        Its content hash (the card's cache key).
    key : str
        The card's widget-key suffix.
    """
    with st.expander("Tracks like this", icon=":material/library_music:", key=f"tag_similar_{key}",
                     on_change="rerun") as box:
        if not box.open:
            return
        indexes = _indexes()
        if not indexes:
            st.caption("No similarity index yet. Build one of your music with "
                       "`musictag index FOLDER --name NAME`; it appears here.")
            return
        names = [s["name"] for s in indexes]
        name = st.selectbox("Index", names, key=f"tag_similar_index_{key}",
                            format_func=lambda n: f"{n} ({next(s for s in indexes if s['name'] == n)['n_tracks']} tracks)")
        info = next(s for s in indexes if s["name"] == name)
        try:
            with st.spinner("Searching…"):
                found = _neighbours(digest, data, index=name, updated=str(info["updated"]), k=K)
        except Exception as exc:  # noqa: BLE001 - the card stays usable
            show_error(exc, context=f"searching index {name}")
            return
        st.caption(f"Nearest by cosine distance of {info['model']} {info['space']} embeddings; "
                   "each player starts at the neighbour's segment that matches best.")
        for rank, n in enumerate(found, start=1):
            same = " · this track" if n["distance"] == 0.0 else ""
            _player(n["path"], n["segment_start_s"],
                    caption=f"**{rank}** · {Path(n['path']).name} · {_label_text(n['label'])} · distance {n['distance']:.3f} "
                    f"· from {n['segment_start_s']:.0f} s{same}")


def render_neighbourhoods(hoods: dict[str, Any]) -> None:
    """One line: how far the projection distorts neighbourhoods (trustworthiness, true k-NN kept)."""
    if not hoods:
        return
    st.caption(
        f":material/hub: **Neighbourhoods in the picture:** trustworthiness {hoods['trustworthiness']:.3f}; "
        f"{hoods['knn_kept']:.0%} of each point's true {hoods['k']} nearest neighbours are also its nearest in the "
        f"projection (a random picture keeps {hoods['knn_kept_chance']:.0%})"
        + (f"; measured on {hoods['n_points']} sampled points" if hoods.get("sampled") else "")
        + ". Click a point to compare its neighbours in both spaces."
    )


def render_point_neighbours(result, row: int, *, k: int = K) -> None:  # noqa: ANN001 - an ExploreResult
    """A clicked point's nearest neighbours in the full feature space beside the projection's own, with players."""
    from musictag_core.explore import point_neighbours

    found = point_neighbours(result.X, result.projection.coords, int(row), k=k, standardize=result.config.standardize)
    meta = result.meta
    me = meta.iloc[int(row)]
    st.markdown(f"**Neighbours of {me['track_id']}** ({me['genre']}); :material/check: marks a neighbour in both lists.")
    cols = st.columns(2)
    for col, (name, title) in zip(cols, (("full", "In the full feature space"), ("projection", "In the projection"))):
        with col:
            st.markdown(f"*{title}*")
            for n in found[name]:
                r = meta.iloc[n["row"]]
                start = float(r["start_s"]) if "start_s" in meta.columns and r.get("start_s") == r.get("start_s") else 0.0
                text = (f"{r['track_id']} · {r['genre']} · distance {n['distance']:.3f}"
                        + (" · :material/check:" if n["in_both"] else ""))
                path = str(r.get("path", "") or "")
                if path:
                    _player(path, start, caption=text)
                else:
                    st.caption(text)
