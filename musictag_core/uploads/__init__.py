"""Untrusted input at the app's edge: upload limits (:mod:`.limits`), safe zip extraction (:mod:`.zips`), session folders (:mod:`.sessions`).

musictag is often served on a lab network, so everything a browser sends is
treated as hostile until checked:

* :class:`Limits` holds the upload size, the decoded duration and the zip limits
  (frozen, validated; :func:`limits` reads them from the environment:
  ``MUSICTAG_MAX_UPLOAD_MB``, ``MUSICTAG_MAX_DURATION_S``, ``MUSICTAG_MAX_ZIP_MB``,
  ``MUSICTAG_MAX_ZIP_FILES``, ``MUSICTAG_MAX_ZIP_RATIO``, ``MUSICTAG_SESSION_MAX_AGE_H``).
* :func:`safe_extract_zip` extracts only audio (and CSV) members, refuses path
  traversal, absolute paths, symlinks, encrypted members and zip bombs (declared
  sizes, actual streamed bytes and the compression ratio are all checked), and
  skips nested archives with a note.
* :class:`SessionWorkspace` is a per-session temporary folder (under
  ``<cache>/sessions/<id>``) that is removed when the session ends;
  :func:`cleanup_stale_sessions` removes the ones a killed process left behind.

Every refusal is a :class:`~musictag_core.errors.MusictagError` whose message names
the file and the reason. Typed dataset paths are checked by
:func:`musictag_core.paths.resolve_data_path`.
"""

from __future__ import annotations

from .limits import ARCHIVE_EXTENSIONS, LIMIT_ENV, Limits, check_upload_size, limits, safe_filename
from .sessions import SessionWorkspace, cleanup_stale_sessions, sessions_dir
from .zips import ExtractedFiles, safe_extract_zip

__all__ = [
    "ARCHIVE_EXTENSIONS",
    "ExtractedFiles",
    "LIMIT_ENV",
    "Limits",
    "SessionWorkspace",
    "check_upload_size",
    "cleanup_stale_sessions",
    "limits",
    "safe_extract_zip",
    "safe_filename",
    "sessions_dir",
]
