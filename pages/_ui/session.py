"""The app's process and session plumbing: routing through ``app.py``, start-up clean-up, the
session workspace, and the garbage-collector freeze after imports."""

from __future__ import annotations

import gc
import shutil
import sys
import weakref

import streamlit as st

from musictag_core import __version__
from musictag_core.errors import MusictagError
from musictag_core.uploads import SessionWorkspace, cleanup_stale_sessions

__all__ = ["APP_NAME", "DEFAULT_MODEL", "freeze_new_imports", "log", "session_workspace", "startup", "version_text"]

APP_NAME = "musictag"
DEFAULT_MODEL = "MSD_musicnn"


def version_text() -> str:
    """``"musictag 0.1.0"``."""
    return f"{APP_NAME} {__version__}"


def log(message: str) -> None:
    """One line on the server's stderr (the server log), for operators and the load test."""
    print(f"[musictag] {message}", file=sys.stderr, flush=True)


def _leave_legacy_pages_mode() -> None:
    """Run this page through ``app.py`` when Streamlit ran it on its own.

    Streamlit 1.67 still treats an app with a ``pages/`` folder as a legacy (v1)
    multipage app until some session has called ``st.navigation``
    (``PagesManager.uses_pages_directory`` starts as ``pages/`` exists, and
    ``ScriptRunner`` then runs ``_mpa_v1``). So when the first request to a fresh
    server is ``/explore`` or ``/train`` (a bookmark, a reload after a restart),
    Streamlit runs ``pages/explore.py`` directly: no router, no shared sidebar, and
    a navigation listing every ``pages/*.py`` file. Moving the helpers to
    ``pages/_ui/`` keeps them out of that list, but not the bypass. This switches
    the process to ``st.navigation`` mode (what ``st.navigation`` itself sets) and
    reruns, so ``app.py`` routes the same URL to the same page. Nothing is drawn
    before the rerun.
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
        log(f"could not clean stale session folders: {exc}")
        return []
    if removed:
        log(f"removed {len(removed)} stale session folder(s)")
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
