"""The small app-helper module: cached model loading, cached results, errors.

Pages import from here (``from pages.common import ...``); this is the only
place that wraps core calls in Streamlit caches. Cached functions never create
widgets. Models live in ``st.cache_resource`` (shared, one per process);
results live in ``st.cache_data`` keyed by the file's content hash, so the same
upload is tagged once whatever its name.
"""

from __future__ import annotations

import gc
import hashlib
import io
import os
import shutil
import sys
import time
import weakref

import streamlit as st

from musictag_core import __version__
from musictag_core.errors import MusictagError
from musictag_core.uploads import Limits, SessionWorkspace, cleanup_stale_sessions, limits

__all__ = [
    "APP_NAME",
    "DEFAULT_MODEL",
    "cached_analysis",
    "cached_models",
    "file_hash",
    "freeze_new_imports",
    "get_tagger",
    "named_buffer",
    "app_limits",
    "session_workspace",
    "show_error",
    "startup",
    "version_text",
]

APP_NAME = "musictag"
DEFAULT_MODEL = "MSD_musicnn"


def version_text() -> str:
    """``"musictag 0.1.0"``."""
    return f"{APP_NAME} {__version__}"


def file_hash(data: bytes) -> str:
    """SHA-256 hex digest of a file's bytes (the cache key of its results)."""
    return hashlib.sha256(data).hexdigest()


def named_buffer(data: bytes, name: str) -> io.BytesIO:
    """A BytesIO whose ``.name`` is ``name``, so core error messages name the upload."""
    buf = io.BytesIO(data)
    buf.name = name
    return buf


def _log(message: str) -> None:
    """One line on the server's stderr (the server log), for operators and the load test."""
    print(f"[musictag] {message}", file=sys.stderr, flush=True)


@st.cache_resource(max_entries=4, show_spinner="Loading the model (the first time takes a while)…")
def get_tagger(name: str):
    """Load a tagger once per process (``musictag_core.models.loading.load_tagger``).

    Each real load writes ``[musictag] loaded model <name>`` to the server log.
    """
    from musictag_core.models.loading import load_tagger

    t0 = time.perf_counter()
    tagger = load_tagger(name)
    _log(f"loaded model {name} in {time.perf_counter() - t0:.1f} s (pid {os.getpid()})")
    return tagger


def _leave_legacy_pages_mode() -> None:
    """Run this page through ``app.py`` when Streamlit ran it on its own.

    Streamlit treats an app with a ``pages/`` folder as a legacy (v1) multipage
    app until ``app.py`` has called ``st.navigation`` once in the process. So when
    the first request to a fresh server is ``/explore`` or ``/train`` (a bookmark,
    a reload after a restart), Streamlit runs ``pages/explore.py`` directly: no
    router, no shared sidebar, and a navigation that lists every file in
    ``pages/``, ``common.py`` included. This switches the process to
    ``st.navigation`` mode and reruns, so ``app.py`` routes the same URL to the
    same page. Nothing is drawn before the rerun.
    """
    try:
        from streamlit.runtime.pages_manager import PagesManager
    except ImportError:  # a Streamlit without the legacy mode
        return
    if getattr(PagesManager, "uses_pages_directory", None):
        PagesManager.uses_pages_directory = False
        st.rerun()


def startup() -> list[str]:
    """Call first on every page: route through ``app.py``, and clean up once per process.

    Returns the stale session folders removed at this process's first run (see
    :func:`_startup_once`).
    """
    _leave_legacy_pages_mode()
    return _startup_once()


@st.cache_resource(show_spinner=False)
def _startup_once() -> list[str]:
    """Once per server process: remove session folders left by a killed server; return them."""
    try:
        removed = cleanup_stale_sessions()
    except (MusictagError, OSError) as exc:
        _log(f"could not clean stale session folders: {exc}")
        return []
    if removed:
        _log(f"removed {len(removed)} stale session folder(s)")
    return [str(p) for p in removed]


_frozen_at_modules = 0


def freeze_new_imports() -> bool:
    """After a script run that imported modules, move every live object out of the GC's reach.

    Streamlit runs a full garbage collection after every script run (and, once Keras
    is imported, ``keras.backend.clear_session()``, which runs another). With
    TensorFlow, UMAP and plotly imported the heap holds about half a million
    objects and each full collection costs about 0.2 s of server CPU while holding
    the GIL: 0.4 s added to every rerun and every live-panel refresh, for every
    session. Modules, and what they create on import, live as long as the process,
    so after a run that imported new modules they are collected once and frozen
    (:func:`gc.freeze`); later collections only walk objects created since.

    Anything else alive at that moment is frozen too; the cost is that cyclic
    garbage among those objects is never reclaimed. That happens once per newly
    imported module set (a handful of runs per process), so the loss is bounded.

    Returns
    -------
    bool
        True when this call froze the heap.
    """
    global _frozen_at_modules
    n = len(sys.modules)
    if n <= _frozen_at_modules:
        return False
    gc.collect()
    gc.freeze()
    _frozen_at_modules = len(sys.modules)
    return True


def app_limits() -> Limits:
    """The limits in force (``MUSICTAG_MAX_UPLOAD_MB`` etc.); a bad variable stops the page with its message."""
    try:
        return limits()
    except MusictagError as exc:
        show_error(exc, context="configuration")
        st.stop()


def session_workspace() -> SessionWorkspace:
    """This browser session's private temporary folder (created on first use).

    It is removed when Streamlit drops the session (once its state is garbage
    collected), when the server exits normally, and otherwise (a killed server) by
    the stale clean-up at the next start (:func:`startup`).
    """
    ws = st.session_state.get("_musictag_workspace")
    if ws is None:
        ws = SessionWorkspace()
        ws.create()
        weakref.finalize(ws, shutil.rmtree, str(ws.path), True)  # finalizers also run at exit
        st.session_state["_musictag_workspace"] = ws
    return ws


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
    _log(f"tagged {digest[:12]} with {model} in {time.perf_counter() - t0:.2f} s")
    return result


def show_error(exc: BaseException, *, context: str | None = None) -> None:
    """Show an exception as ``st.error`` (never a traceback box).

    A :class:`MusictagError` message already says what is wrong and what to do;
    anything else is reported as unexpected, with its type.
    """
    message = str(exc)
    prefix = f"{context}: " if context and not message.startswith(context) else ""
    if isinstance(exc, MusictagError):
        st.error(f"{prefix}{message}", icon=":material/error:")
    else:
        st.error(
            f"{prefix}unexpected error ({type(exc).__name__}: {message}). "
            "Other files are not affected; please report this if it persists.",
            icon=":material/bug_report:",
        )
