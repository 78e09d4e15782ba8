"""Per-session temporary folders, removed when the session ends (and stale ones at start-up)."""

from __future__ import annotations

import math
import os
import re
import shutil
import time
import uuid
from pathlib import Path

from ..errors import ParameterError
from .limits import check_upload_size, limits, safe_filename
from .zips import ExtractedFiles, ZipSource, safe_extract_zip

__all__ = ["SessionWorkspace", "cleanup_stale_sessions", "sessions_dir"]


_SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_MARKER = ".musictag-session"


def sessions_dir() -> Path:
    """``<cache>/sessions``: where session workspaces live (created)."""
    from ..paths import cache_dir

    path = cache_dir() / "sessions"
    path.mkdir(parents=True, exist_ok=True)
    return path


class SessionWorkspace:
    """A private temporary folder for one browser session's uploads and extracted zips.

    Use as a context manager, or call :meth:`create` and :meth:`cleanup`.

    Parameters
    ----------
    session_id : str, optional
        Letters, digits, ``-`` and ``_`` (at most 64); a random id by default.
    root : str or Path, optional
        Parent folder; default :func:`sessions_dir`.

    Examples
    --------
    >>> with SessionWorkspace() as ws:  # doctest: +SKIP
    ...     path = ws.save_upload("song.wav", data)
    """

    def __init__(self, session_id: str | None = None, *, root: str | os.PathLike | None = None) -> None:
        self.session_id = session_id
        self.root = root
        self.path: Path | None = None

    def create(self) -> Path:
        """Create the folder (idempotent) and return it."""
        sid = self.session_id if self.session_id is not None else uuid.uuid4().hex
        if not isinstance(sid, str) or not _SESSION_ID.match(sid):
            raise ParameterError(f"session_id must be 1-64 letters, digits, '-' or '_', got {sid!r}")
        self.session_id = sid
        parent = Path(self.root).expanduser().resolve() if self.root is not None else sessions_dir()
        self.path = parent / sid
        self.path.mkdir(parents=True, exist_ok=True)
        (self.path / _MARKER).touch()
        return self.path

    def _require(self) -> Path:
        if self.path is None or not self.path.is_dir():
            return self.create()
        return self.path

    def touch(self) -> None:
        """Mark the session as alive (stale clean-up goes by this time stamp)."""
        (self._require() / _MARKER).touch()

    def save_upload(self, name: str, data: bytes, *, limit: int | None = None) -> Path:
        """Write an uploaded file under ``uploads/`` with a safe name; return its path.

        Raises
        ------
        ParameterError
            The data is over the upload limit (:func:`check_upload_size`).
        """
        check_upload_size(len(data), limit=limit, name=str(name))
        folder = self._require() / "uploads"
        folder.mkdir(exist_ok=True)
        base = safe_filename(name)
        target = folder / base
        n = 1
        while target.exists():
            stem, suffix = os.path.splitext(base)
            target = folder / safe_filename(f"{stem} ({n}){suffix}")
            n += 1
        target.write_bytes(bytes(data))
        self.touch()
        return target

    def extract_zip(self, source: ZipSource, **kwargs) -> ExtractedFiles:
        """:func:`safe_extract_zip` into a fresh ``zips/<n>/`` folder of this session."""
        folder = self._require() / "zips"
        folder.mkdir(exist_ok=True)
        dest = folder / f"{len(list(folder.iterdir())) + 1:03d}"
        self.touch()
        return safe_extract_zip(source, dest, **kwargs)

    def cleanup(self) -> None:
        """Remove the folder and everything in it."""
        if self.path is not None:
            shutil.rmtree(self.path, ignore_errors=True)

    def __enter__(self) -> SessionWorkspace:
        self.create()
        return self

    def __exit__(self, *exc) -> None:
        self.cleanup()

    def __repr__(self) -> str:
        return f"SessionWorkspace(session_id={self.session_id!r}, path={str(self.path) if self.path else None!r})"


def cleanup_stale_sessions(
    *, root: str | os.PathLike | None = None, max_age_h: float | None = None, now: float | None = None
) -> list[Path]:
    """Remove session folders untouched for more than ``max_age_h`` hours.

    Only folders holding the session marker file are removed, so pointing
    ``root`` at the wrong place deletes nothing else.

    Parameters
    ----------
    root : str or Path, optional
        Default :func:`sessions_dir`.
    max_age_h : float, optional
        Default ``limits().session_max_age_h`` (``MUSICTAG_SESSION_MAX_AGE_H``).
    now : float, optional
        Current time (seconds since the epoch), for tests.

    Returns
    -------
    list of Path
        The folders removed.
    """
    parent = Path(root).expanduser() if root is not None else sessions_dir()
    age_h = limits().session_max_age_h if max_age_h is None else float(max_age_h)
    if not (math.isfinite(age_h) and age_h >= 0):
        raise ParameterError(f"max_age_h must be a non-negative number of hours, got {max_age_h!r}")
    if not parent.is_dir():
        return []
    t = time.time() if now is None else now
    removed = []
    for folder in parent.iterdir():
        marker = folder / _MARKER
        if folder.is_symlink() or not folder.is_dir() or not marker.is_file():
            continue
        if t - marker.stat().st_mtime > age_h * 3600:
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed
