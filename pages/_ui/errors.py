"""How the app shows problems: a user reads an actionable message, never a traceback or a server path."""

from __future__ import annotations

import streamlit as st

from musictag_core.errors import MusictagError
from musictag_core.uploads import Limits, limits

__all__ = ["app_limits", "show_error"]


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


def app_limits() -> Limits:
    """The limits in force (``MUSICTAG_MAX_UPLOAD_MB`` etc.); a bad variable stops the page with its message."""
    try:
        return limits()
    except MusictagError as exc:
        show_error(exc, context="configuration")
        st.stop()
