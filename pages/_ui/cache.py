"""Every Streamlit cache wrapper of the app, in one place.

Models live in ``st.cache_resource`` (shared, one per process, bounded); results
live in ``st.cache_data`` keyed by the file's content hash, so the same upload is
tagged once whatever its name. Cached functions never create widgets.
"""

from __future__ import annotations

import hashlib
import io
import os
import time

import streamlit as st

from musictag_core.uploads import limits

from .session import log

__all__ = ["cached_analysis", "cached_models", "file_hash", "get_tagger", "named_buffer"]


def file_hash(data: bytes) -> str:
    """SHA-256 hex digest of a file's bytes (the cache key of its results)."""
    return hashlib.sha256(data).hexdigest()


def named_buffer(data: bytes, name: str) -> io.BytesIO:
    """A BytesIO whose ``.name`` is ``name``, so core error messages name the upload."""
    buf = io.BytesIO(data)
    buf.name = name
    return buf


def get_tagger(name: str):
    """The tagger ``name`` from the core's one bounded, process-wide cache (``models.loading.load_tagger``).

    The page keeps no second copy. Each real load writes ``[musictag] loaded model <name>``
    to the server log.
    """
    from musictag_core.models.loading import load_tagger

    return load_tagger(name, on_load=lambda n, s: log(f"loaded model {n} in {s:.1f} s (pid {os.getpid()})"))


@st.cache_data(ttl=30, max_entries=1, show_spinner=False)
def cached_models() -> list:
    """``musictag_core.models.loading.list_models()``, refreshed every 30 s (new training runs appear)."""
    from musictag_core.models.loading import list_models

    return list(list_models())


@st.cache_data(max_entries=32, show_spinner=False)
def cached_analysis(digest: str, _data: bytes, *, _name: str, model: str, overlap: float, max_duration: float | None = None):
    """Decode one upload once, tag it and compute its spectrogram view (``predict.analyse_file``).

    Cached by content ``digest`` + ``model`` + ``overlap`` + ``max_duration``.
    ``_data`` (the bytes) and ``_name`` (used in error messages) are not part of
    the cache key: the same content uploaded under another name is not tagged
    again, so the result's ``path`` is the name it was first seen under. At most
    ``max_duration`` seconds are decoded (default ``MUSICTAG_MAX_DURATION_S``).

    Returns
    -------
    (TrackPrediction, TrackView)
        The view is the model's own input: its rate and mel bands (16 kHz, 96 for musicnn).
    """
    from musictag_core.predict import analyse_file

    if max_duration is None:
        max_duration = limits().max_duration_s
    t0 = time.perf_counter()
    result = analyse_file(named_buffer(_data, _name), get_tagger(model), overlap=overlap, max_duration=max_duration)
    log(f"tagged {digest[:12]} with {model} in {time.perf_counter() - t0:.2f} s")
    return result
