"""The app's shared cache wrappers: models, the model list, content hashes of uploads.

Models live in the core's one bounded, process-wide cache (``get_tagger``); the model list
in ``st.cache_data``. The Tag page's results are cached by content hash in
:mod:`pages._ui.tagging`. Cached functions never create widgets.
"""

from __future__ import annotations

import hashlib
import io
import os

import streamlit as st

from .session import log

__all__ = ["cached_models", "file_hash", "get_tagger", "named_buffer"]


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
