"""Tracks like this one: nearest neighbours of a file (or of an indexed track) in a library index.

Distances are cosine distances ``1 - cos`` of L2-normalised track vectors. A query whose
content hash is in the index is its own first neighbour at distance 0, unless
``exclude_self``. For every neighbour, the segment that matches the query best is the one
whose vector is closest to any of the query's segment vectors, so a player can start there.
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ParameterError
from .library import LibraryIndex, open_index
from .vectors import normalise

__all__ = ["Neighbour", "SimilarResult", "neighbours_csv", "neighbours_m3u", "similar_to_file", "similar_to_row", "similar_to_vectors"]


@dataclass(frozen=True)
class Neighbour:
    """One neighbour of a query.

    Attributes
    ----------
    path : str
    distance : float
        Cosine distance ``1 - cos`` (0: the same direction).
    label : None, str or list of str
        The track's label when the index knows it (a list for multi-label data).
    segment_start_s : float
        Start of the neighbour's segment that matches the query best.
    row : int
        The track's row in the index.
    """

    path: str
    distance: float
    label: Any
    segment_start_s: float
    row: int

    def to_dict(self, *, decimals: int = 6) -> dict[str, Any]:
        """``{"path", "distance", "label", "segment_start_s"}``."""
        return {"path": self.path, "distance": round(float(self.distance), decimals), "label": self.label,
                "segment_start_s": round(float(self.segment_start_s), 3)}


@dataclass(frozen=True)
class SimilarResult:
    """The neighbours of one query, nearest first."""

    path: str
    index: str
    neighbours: list[Neighbour] = field(default_factory=list)

    def to_dict(self, *, decimals: int = 6) -> dict[str, Any]:
        """``{"path", "index", "neighbours": [...]}`` (what ``musictag similar --json`` prints per query)."""
        return {"path": self.path, "index": self.index, "neighbours": [n.to_dict(decimals=decimals) for n in self.neighbours]}


def _check_k(k: Any) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ParameterError(f"k must be a positive integer, got {k!r}")
    return int(k)


def _best_segment(index: LibraryIndex, row: int, query_segments: np.ndarray) -> float:
    sv, st = index.segments_of(row)
    if len(sv) == 0:
        return 0.0
    if len(query_segments) == 0:
        return float(st[0])
    sims = np.asarray(query_segments, np.float32) @ sv.T  # (n_query_segments, n_segments)
    return float(st[int(np.argmax(sims.max(axis=0)))])


def similar_to_vectors(
    index: LibraryIndex, *, track_vector: np.ndarray, segment_vectors: np.ndarray, digest: str | None = None,
    k: int = 10, exclude_self: bool = False, path: str = "<query>",
) -> SimilarResult:
    """Neighbours of a query given by its vectors.

    Parameters
    ----------
    index : LibraryIndex
    track_vector : np.ndarray [shape=(d,)]
    segment_vectors : np.ndarray [shape=(n_segments, d)]
    digest : str, optional
        The query file's content hash: tracks with the same hash are the query itself
        (distance 0, first; left out with ``exclude_self``).
    k : int
    exclude_self : bool
    path : str
        Reported as the query's ``path``.

    Returns
    -------
    SimilarResult
    """
    k = _check_k(k)
    same = index.rows_with_digest(digest) if digest else []
    want = min(len(index), k + len(same))
    ids, dist = index.vectors.search(np.asarray(track_vector, np.float32), k=want)
    pairs = [(int(i), float(d)) for i, d in zip(ids[0], dist[0]) if i >= 0 and int(i) not in same]
    if not exclude_self:
        pairs = [(i, 0.0) for i in same] + pairs
    pairs = pairs[:k]
    q_segs = normalise(np.asarray(segment_vectors, np.float32)) if len(segment_vectors) else np.zeros((0, index.track_vectors.shape[1]), np.float32)
    tracks = index.tracks
    out = [
        Neighbour(path=tracks[i]["path"], distance=d, label=tracks[i]["label"], segment_start_s=_best_segment(index, i, q_segs), row=i)
        for i, d in pairs
    ]
    return SimilarResult(path=path, index=index.name, neighbours=out)


def similar_to_row(index: LibraryIndex, row: int, *, k: int = 10, exclude_self: bool = True) -> SimilarResult:
    """Neighbours of a track already in the index (by row); itself left out by default."""
    if isinstance(row, bool) or not isinstance(row, (int, np.integer)) or not 0 <= row < len(index):
        raise ParameterError(f"row must be an integer in 0..{len(index) - 1}, got {row!r}")
    sv, _ = index.segments_of(int(row))
    t = index.tracks[int(row)]
    return similar_to_vectors(index, track_vector=np.asarray(index.track_vectors[int(row)]), segment_vectors=sv,
                              digest=t["digest"], k=k, exclude_self=exclude_self, path=t["path"])


def _digest(source: Any) -> str:
    """Content hash of a file or its bytes (the same as :func:`musictag_core.store.file_digest` of the file)."""
    import hashlib

    from ..store import file_digest

    if isinstance(source, (bytes, bytearray, memoryview)):
        return hashlib.blake2b(bytes(source), digest_size=16).hexdigest()
    return file_digest(source)


def similar_to_file(
    source: str | os.PathLike | bytes,
    *,
    index: str | LibraryIndex,
    k: int = 10,
    exclude_self: bool = False,
    model: str | None = None,
    root: str | os.PathLike | None = None,
    runs_dir: str | os.PathLike | None = None,
    cache: bool = True,
) -> SimilarResult:
    """Tracks of a library index that sound like an audio file.

    Parameters
    ----------
    source : str, Path or bytes
        The query audio file (or its bytes). If its content is in the index, its stored vectors are used.
    index : str or LibraryIndex
        An index name (opened from ``root``) or an opened index.
    k : int
        How many neighbours.
    exclude_self : bool
        Leave out tracks with the query's content hash.
    model : str, optional
        Refused unless it is the index's model (the vectors of two models are not comparable).
    root, runs_dir : str or Path, optional
    cache : bool
        Use the feature cache for the query's embeddings.

    Returns
    -------
    SimilarResult

    Raises
    ------
    AudioError
        The query cannot be decoded.
    ParameterError
        Unknown index, another model, bad ``k``.
    """
    from ..errors import AudioError

    idx = open_index(index, root=root, model=model) if isinstance(index, str) else index
    if model is not None:
        idx.check_model(model)
    k = _check_k(k)
    is_bytes = isinstance(source, (bytes, bytearray, memoryview))
    path = "<bytes>" if is_bytes else os.fspath(source)
    if not is_bytes and not Path(path).is_file():
        raise AudioError(path, "file not found")
    digest = _digest(source)
    rows = idx.rows_with_digest(digest)
    if rows:
        sv, _ = idx.segments_of(rows[0])
        tv = np.asarray(idx.track_vectors[rows[0]])
    else:
        from .embed import ModelSet, file_vectors

        fv = file_vectors(bytes(source) if is_bytes else path, digest=digest, model=idx.model, space=idx.space,
                          models=ModelSet(runs_dir=runs_dir), cache=cache)
        sv, tv = fv.segment_vectors, fv.track_vector
    return similar_to_vectors(idx, track_vector=tv, segment_vectors=sv, digest=digest, k=k, exclude_self=exclude_self, path=path)


# ---------------------------------------------------------------- export


def neighbours_csv(results: list[SimilarResult]) -> str:
    """CSV text: ``query, index, rank, path, distance, label, segment_start_s`` (labels of multi-label data joined by ``|``)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["query", "index", "rank", "path", "distance", "label", "segment_start_s"])
    for r in results:
        for rank, n in enumerate(r.neighbours, start=1):
            label = "|".join(n.label) if isinstance(n.label, list) else ("" if n.label is None else n.label)
            w.writerow([r.path, r.index, rank, n.path, f"{n.distance:.6f}", label, f"{n.segment_start_s:.3f}"])
    return buf.getvalue()


def neighbours_m3u(results: list[SimilarResult]) -> str:
    """An extended M3U playlist of every neighbour, nearest first (each query's list in turn).

    Each entry carries ``#EXTINF`` (title and distance) and ``#EXTVLCOPT:start-time`` at the
    matching segment, so VLC starts where the neighbour is alike.
    """
    lines = ["#EXTM3U"]
    for r in results:
        lines.append(f"# tracks like {r.path} (index {r.index})")
        for n in r.neighbours:
            lines.append(f"#EXTINF:-1,{Path(n.path).stem} (distance {n.distance:.3f})")
            lines.append(f"#EXTVLCOPT:start-time={n.segment_start_s:.1f}")
            lines.append(n.path)
    return "\n".join(lines) + "\n"
