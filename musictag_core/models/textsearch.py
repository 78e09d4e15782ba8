"""Zero-shot text search over the taggers' tag vocabularies.

A free-text query is embedded with all-MiniLM-L6-v2 (:mod:`musictag_core.models.minilm`)
and compared by cosine similarity with the embedding of every tag name of the
shipped taggers (50 MSD / last.fm tags, 50 MagnaTagATune tags; a tag both carry,
such as ``rock``, is listed once per model). Tracks are then ranked by the
scores a tagger gave them on the best-matching tags: a track's score is the
similarity-weighted sum of its scores on the three best-matching tags.

This maps text onto the models' tags. It is not a joint audio-text model: a
query about something no tag names ("trumpet solo in a cave") can only land on
the nearest tags (for a trained joint model see the ``tagtext`` model).

The one entry point for the command line and the REST API is :func:`search_text`.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import ModelError, ParameterError

__all__ = [
    "SEARCH_MODELS",
    "N_MATCHED",
    "MAX_QUERY_CHARS",
    "TagScoreTable",
    "tag_vocabulary",
    "tag_text",
    "embed_tags",
    "rank_tags",
    "rank_tracks",
    "search_text",
]

#: The shipped taggers whose tag names are searched.
SEARCH_MODELS = ("MSD_musicnn", "MTT_musicnn")

#: How many best-matching tags score a track.
N_MATCHED = 3

#: Longest query accepted (the encoder reads at most 256 tokens anyway).
MAX_QUERY_CHARS = 1000

#: Tag names whose words the text model would misread, spelled out (the label itself is kept in results).
_TAG_TEXT = {
    "rnb": "r&b",
    "Hip-Hop": "hip hop",
    "hiphop": "hip hop",
    "00s": "2000s",
    "60s": "1960s",
    "70s": "1970s",
    "80s": "1980s",
    "90s": "1990s",
}


@dataclass(frozen=True)
class TagScoreTable:
    """Tracks and their scores on a list of tags (what a similarity index stores).

    Attributes
    ----------
    paths : list of str
        One per track.
    tag_scores : np.ndarray [shape=(n_tracks, n_tags)]
        A tagger's track-level scores (sigmoid outputs, 0..1).
    tag_labels : list of dict
        ``{"label", "model"}`` per column.
    """

    paths: list[str]
    tag_scores: np.ndarray
    tag_labels: list[dict]

    def __post_init__(self) -> None:
        scores = np.asarray(self.tag_scores, dtype=np.float32)
        if scores.ndim == 1 and scores.size == 0:
            scores = scores.reshape(0, len(self.tag_labels))
        if scores.ndim != 2:
            raise ParameterError(f"tag_scores must be a (n_tracks, n_tags) matrix, got shape {scores.shape}")
        if scores.shape != (len(self.paths), len(self.tag_labels)):
            raise ParameterError(
                f"tag_scores has shape {scores.shape} but there are {len(self.paths)} paths and {len(self.tag_labels)} tag labels"
            )
        for lab in self.tag_labels:
            if not isinstance(lab, dict) or not isinstance(lab.get("label"), str) or not isinstance(lab.get("model"), str):
                raise ParameterError(f"each tag label must be {{'label': str, 'model': str}}, got {lab!r}")
        object.__setattr__(self, "tag_scores", scores)
        object.__setattr__(self, "paths", [str(p) for p in self.paths])
        object.__setattr__(self, "tag_labels", [{"label": d["label"], "model": d["model"]} for d in self.tag_labels])

    @classmethod
    def from_index(cls, index) -> TagScoreTable:  # noqa: ANN001
        """Any object with ``paths``, ``tag_scores`` and ``tag_labels`` (a similarity index)."""
        if isinstance(index, cls):
            return index
        missing = [a for a in ("paths", "tag_scores", "tag_labels") if not hasattr(index, a)]
        if missing:
            raise ParameterError(f"the index has no {', '.join(missing)}: it was built without tag scores; rebuild it")
        return cls(list(index.paths), np.asarray(index.tag_scores), list(index.tag_labels))


def tag_vocabulary(models: Sequence[str] = SEARCH_MODELS) -> list[dict]:
    """``{"label", "model"}`` of every tag of the shipped ``models``, in card order.

    Raises
    ------
    ModelError
        If a model is not shipped.
    """
    from ..fileio import read_json_object
    from ..paths import assets_dir

    out = []
    for name in models:
        card = read_json_object(assets_dir() / "models" / name / "card.json")
        if card is None or not card.get("labels"):
            raise ModelError(f"shipped model {name!r} not found (no card with labels); reinstall musictag")
        out += [{"label": str(lab), "model": name} for lab in card["labels"]]
    return out


def tag_text(label: str) -> str:
    """The text embedded for a tag name (the name itself, a few abbreviations spelled out)."""
    return _TAG_TEXT.get(label, label)


_TAG_CACHE: dict[tuple[str, ...], np.ndarray] = {}
_TAG_LOCK = threading.Lock()


def embed_tags(labels: Sequence[str], *, encoder=None) -> np.ndarray:  # noqa: ANN001
    """Unit embeddings of tag names, cached per process.

    Parameters
    ----------
    labels : sequence of str
    encoder : TextEncoder, optional
        Default: the shipped all-MiniLM-L6-v2.

    Returns
    -------
    np.ndarray [shape=(n_labels, 384)]
    """
    from .minilm import load_text_encoder

    enc = encoder or load_text_encoder()
    texts = [tag_text(lab) for lab in labels]
    key = (str(enc.folder), *texts)
    with _TAG_LOCK:
        if key not in _TAG_CACHE:
            uniq = sorted(set(texts))
            emb = dict(zip(uniq, enc.embed(uniq)))
            _TAG_CACHE[key] = np.stack([emb[t] for t in texts]) if texts else np.zeros((0, enc.dim), np.float32)
        return _TAG_CACHE[key]


def _check_query(query: str) -> str:
    if not isinstance(query, str) or not query.strip():
        raise ParameterError("the query is empty: type a few words, e.g. 'dark slow guitar music'")
    if len(query) > MAX_QUERY_CHARS:
        raise ParameterError(f"the query is {len(query)} characters long; keep it under {MAX_QUERY_CHARS}")
    return query.strip()


def rank_tags(query: str, *, tag_labels: Sequence[dict] | None = None, encoder=None) -> list[dict]:  # noqa: ANN001
    """Rank tags by the cosine similarity of their names with ``query``.

    Parameters
    ----------
    query : str
    tag_labels : sequence of dict, optional
        ``{"label", "model"}``; default :func:`tag_vocabulary`.
    encoder : TextEncoder, optional

    Returns
    -------
    list of dict
        ``{"label", "model", "score"}``, best first (ties keep vocabulary order).
    """
    from .minilm import load_text_encoder

    query = _check_query(query)
    labels = list(tag_labels) if tag_labels is not None else tag_vocabulary()
    enc = encoder or load_text_encoder()
    q = enc.embed([query])[0]
    sims = embed_tags([d["label"] for d in labels], encoder=enc) @ q if labels else np.zeros(0)
    order = np.argsort(-sims, kind="stable")
    return [{"label": labels[i]["label"], "model": labels[i]["model"], "score": float(sims[i])} for i in order]


def rank_tracks(tag_ranking: Sequence[dict], table: TagScoreTable, *, n_matched: int = N_MATCHED, top: int | None = None) -> list[dict]:
    """Rank tracks by their scores on the best-matching tags.

    The ``n_matched`` best tags of ``tag_ranking`` that ``table`` has a column for
    are the matched tags; a track's score is ``sum_j similarity_j * tag_score[track, j]``
    over them (similarities below zero count as zero).

    Parameters
    ----------
    tag_ranking : sequence of dict
        From :func:`rank_tags` (best first).
    table : TagScoreTable
    n_matched : int
    top : int, optional
        Keep the ``top`` best tracks (default all).

    Returns
    -------
    list of dict
        ``{"path", "score", "matched": [{"label", "model"}]}``, best first.
    """
    if isinstance(n_matched, bool) or not isinstance(n_matched, int) or n_matched < 1:
        raise ParameterError(f"n_matched must be a positive integer, got {n_matched!r}")
    columns = {(d["label"], d["model"]): j for j, d in enumerate(table.tag_labels)}
    matched, cols, weights = [], [], []
    for hit in tag_ranking:
        j = columns.get((hit["label"], hit["model"]))
        if j is not None:
            matched.append({"label": hit["label"], "model": hit["model"]})
            cols.append(j)
            weights.append(max(float(hit["score"]), 0.0))
            if len(cols) == n_matched:
                break
    if not cols or not table.paths:
        return []
    scores = table.tag_scores[:, cols].astype(np.float64) @ np.asarray(weights)
    order = np.argsort(-scores, kind="stable")
    if top is not None:
        order = order[:top]
    return [{"path": table.paths[i], "score": float(scores[i]), "matched": matched} for i in order]


def search_text(query: str, *, index=None, k: int = 10, top: int = 10, n_matched: int = N_MATCHED, encoder=None) -> dict:  # noqa: ANN001
    """Zero-shot text search: rank the shipped tags and, with an index, the tracks.

    Parameters
    ----------
    query : str
        Free text, e.g. ``"dark slow guitar music"``.
    index : object, optional
        Anything with ``paths``, ``tag_scores`` ``(n_tracks, n_tags)`` and
        ``tag_labels`` (``{"label", "model"}`` per column), e.g. a similarity
        index or a :class:`TagScoreTable`. Without it ``tracks`` is empty.
    k : int
        How many tags to return (1..1000; all there are if fewer).
    top : int
        How many tracks to return.
    n_matched : int
        Best-matching tags that score a track.
    encoder : TextEncoder, optional

    Returns
    -------
    dict
        ``{"query", "tags": [{"label", "model", "score"}], "tracks": [{"path", "score",
        "matched": [{"label", "model"}]}]}``, each list best first.
    """
    for name, value in (("k", k), ("top", top)):
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 1000:
            raise ParameterError(f"{name} must be an integer between 1 and 1000, got {value!r}")
    query = _check_query(query)
    vocab = tag_vocabulary()
    table = TagScoreTable.from_index(index) if index is not None else None
    if table is not None:
        known = {(d["label"], d["model"]) for d in vocab}
        vocab += [d for d in table.tag_labels if (d["label"], d["model"]) not in known]
    ranking = rank_tags(query, tag_labels=vocab, encoder=encoder)
    tracks = rank_tracks(ranking, table, n_matched=n_matched, top=top) if table is not None else []
    tags = [{**d, "score": round(d["score"], 5)} for d in ranking[:k]]
    return {"query": query, "tags": tags, "tracks": [{**t, "score": round(t["score"], 5)} for t in tracks]}
