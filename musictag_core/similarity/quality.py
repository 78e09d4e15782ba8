"""How good the neighbours are: leave-one-out genre agreement of an index's labelled tracks."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import ParameterError
from .library import LibraryIndex

__all__ = ["leave_one_out_agreement"]


def _as_set(label: Any) -> set[str]:
    if label is None:
        return set()
    return set(label) if isinstance(label, list) else {label}


def leave_one_out_agreement(index: LibraryIndex, *, k: int = 5) -> dict[str, Any]:
    """Leave-one-out genre agreement of each labelled track's nearest neighbours.

    Each labelled track queries the index with itself (and any copy of its content) left out;
    only labelled tracks count as neighbours. Two tracks agree when they share a label.

    Parameters
    ----------
    index : LibraryIndex
    k : int
        Neighbours for the ``top_k`` figure (5).

    Returns
    -------
    dict
        ``top1``: fraction of tracks whose nearest neighbour agrees; ``topk``: mean fraction of
        the ``k`` nearest neighbours that agree; ``k``, ``n_tracks`` (labelled tracks scored),
        ``chance_top1`` (the agreement of a random other track, for comparison), ``ceiling_top1``
        (the fraction of scored tracks that share a label with at least one other track: the
        best ``top1`` possible), ``ceiling_topk`` (likewise for ``topk``), ``per_label``
        (``{label: top1}``) and ``index``, ``model``, ``space``.

    Raises
    ------
    ParameterError
        Fewer than two labelled tracks, or a bad ``k``.
    """
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ParameterError(f"k must be a positive integer, got {k!r}")
    labels = [_as_set(lab) for lab in index.labels]
    rows = [i for i, lab in enumerate(labels) if lab]
    if len(rows) < 2:
        raise ParameterError(f"index {index.name!r} has {len(rows)} labelled track(s); agreement needs at least two")
    X = np.asarray(index.track_vectors)[rows]
    digests = [index.tracks[i]["digest"] for i in rows]
    sims = X @ X.T
    same = np.array([[a == b for b in digests] for a in digests])
    sims[same] = -np.inf  # leave the track (and copies of it) out
    top1, topk = [], []
    per: dict[str, list[float]] = {}
    kk = min(k, len(rows) - 1)
    for a in range(len(rows)):
        order = np.argsort(-sims[a], kind="stable")
        order = [b for b in order[:kk + int(same[a].sum())] if np.isfinite(sims[a, b])][:kk]
        if not order:
            continue
        agree = [bool(labels[rows[a]] & labels[rows[b]]) for b in order]
        top1.append(float(agree[0]))
        topk.append(float(np.mean(agree)))
        for lab in labels[rows[a]]:
            per.setdefault(lab, []).append(float(agree[0]))
    pairs = [(a, b) for a in range(len(rows)) for b in range(len(rows)) if not same[a, b]]
    n_agreeing = [sum(bool(labels[rows[a]] & labels[rows[b]]) for b in range(len(rows)) if not same[a, b])
                  for a in range(len(rows))]
    ceiling = float(np.mean([m > 0 for m in n_agreeing]))
    ceiling_k = float(np.mean([min(m, kk) / kk for m in n_agreeing]))
    chance = float(np.mean([bool(labels[rows[a]] & labels[rows[b]]) for a, b in pairs])) if pairs else float("nan")
    return {
        "index": index.name, "model": index.model, "space": index.space, "n_tracks": len(top1), "k": kk,
        "top1": round(float(np.mean(top1)), 4), "topk": round(float(np.mean(topk)), 4), "chance_top1": round(chance, 4),
        "ceiling_top1": round(ceiling, 4), "ceiling_topk": round(ceiling_k, 4),
        "per_label": {lab: round(float(np.mean(v)), 4) for lab, v in sorted(per.items())},
    }
