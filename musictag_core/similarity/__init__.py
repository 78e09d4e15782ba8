"""Similarity search over a music library: named, persistent, incremental indexes of musicnn embeddings.

* :func:`build_index` / :func:`open_index` / :func:`list_indexes` / :func:`delete_index`
  (:mod:`.library`): the index of a dataset or folder tree, kept under ``$MUSICTAG_INDEXES``;
* :func:`similar_to_file` / :func:`similar_to_row` (:mod:`.search`): tracks like this one, with
  the segment that matches best, exported with :func:`neighbours_csv` / :func:`neighbours_m3u`;
* :class:`VectorIndex` (:mod:`.vectors`): faiss, exact or HNSW, cosine distance ``1 - cos``;
* :func:`leave_one_out_agreement` (:mod:`.quality`): how often neighbours share a genre.

>>> idx = open_index("my_library")  # doctest: +SKIP
>>> [n.path for n in similar_to_file("song.mp3", index=idx, k=5).neighbours]  # doctest: +SKIP
"""

from __future__ import annotations

from .embed import SHIPPED_TAGGERS, SPACES
from .library import (
    LibraryIndex,
    UpdateReport,
    build_index,
    check_index_name,
    collect_tracks,
    delete_index,
    list_indexes,
    open_index,
)
from .quality import leave_one_out_agreement
from .search import Neighbour, SimilarResult, neighbours_csv, neighbours_m3u, similar_to_file, similar_to_row, similar_to_vectors
from .vectors import EXACT_MAX, VectorIndex, normalise

__all__ = [
    "EXACT_MAX",
    "SHIPPED_TAGGERS",
    "SPACES",
    "LibraryIndex",
    "Neighbour",
    "SimilarResult",
    "UpdateReport",
    "VectorIndex",
    "build_index",
    "check_index_name",
    "collect_tracks",
    "delete_index",
    "leave_one_out_agreement",
    "list_indexes",
    "neighbours_csv",
    "neighbours_m3u",
    "normalise",
    "open_index",
    "similar_to_file",
    "similar_to_row",
    "similar_to_vectors",
]
