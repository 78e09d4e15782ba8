"""Upload limits (from the environment) and safe file names."""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, fields

from ..errors import ParameterError

__all__ = ["ARCHIVE_EXTENSIONS", "LIMIT_ENV", "MAX_NAME_BYTES", "MB", "Limits", "check_upload_size", "format_mb", "limits", "safe_filename"]

MB = 1024 * 1024

#: Members with these extensions are archives inside the archive: never extracted.
ARCHIVE_EXTENSIONS = (".zip", ".tar", ".tgz", ".gz", ".bz2", ".xz", ".7z", ".rar", ".zst", ".jar")

#: Environment variable -> :class:`Limits` field.
LIMIT_ENV = {
    "MUSICTAG_MAX_UPLOAD_MB": "max_upload_mb",
    "MUSICTAG_MAX_DURATION_S": "max_duration_s",
    "MUSICTAG_MAX_ZIP_MB": "max_zip_total_mb",
    "MUSICTAG_MAX_ZIP_FILES": "max_zip_files",
    "MUSICTAG_MAX_ZIP_RATIO": "max_zip_ratio",
    "MUSICTAG_SESSION_MAX_AGE_H": "session_max_age_h",
}

#: Longest file name (in UTF-8 bytes) most file systems accept.
MAX_NAME_BYTES = 255


@dataclass(frozen=True)
class Limits:
    """Limits on what one user can make the app read.

    Parameters
    ----------
    max_upload_mb : float
        Largest single uploaded file, in MiB (keep ``server.maxUploadSize`` in
        ``.streamlit/config.toml`` at least this large; Streamlit refuses bigger
        files before they reach the page).
    max_duration_s : float
        Seconds of each track that are decoded and tagged; the rest of a longer
        track is not read (the result says it was cut).
    max_zip_total_mb : float
        Largest total uncompressed size of an extracted zip, in MiB.
    max_zip_files : int
        Most members a zip may hold.
    max_zip_ratio : float
        Largest uncompressed/compressed ratio of a zip (audio barely compresses;
        a zip bomb compresses by 1000x or more).
    session_max_age_h : float
        Session folders untouched for longer than this are removed at start-up.
    """

    max_upload_mb: float = 200.0
    max_duration_s: float = 600.0
    max_zip_total_mb: float = 2048.0
    max_zip_files: int = 5000
    max_zip_ratio: float = 100.0
    session_max_age_h: float = 24.0

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.type == "int" or f.name == "max_zip_files":
                if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                    raise ParameterError(f"{f.name} must be a positive integer, got {value!r}")
            elif (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or not math.isfinite(value)
                or value <= 0
            ):
                raise ParameterError(f"{f.name} must be a positive finite number, got {value!r}")

    @property
    def max_upload_bytes(self) -> int:
        """``max_upload_mb`` in bytes."""
        return int(self.max_upload_mb * MB)

    @property
    def max_zip_total_bytes(self) -> int:
        """``max_zip_total_mb`` in bytes."""
        return int(self.max_zip_total_mb * MB)

    def to_dict(self) -> dict:
        """A JSON-ready dict of the limits."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


def limits(environ: dict | None = None) -> Limits:
    """The limits in force: :class:`Limits` defaults, overridden by environment variables.

    Parameters
    ----------
    environ : dict, optional
        Defaults to ``os.environ`` (read on every call).

    Raises
    ------
    ParameterError
        A variable is set to something that is not a positive number (the message
        names the variable).
    """
    env = os.environ if environ is None else environ
    values: dict = {}
    for var, name in LIMIT_ENV.items():
        text = env.get(var)
        if text is None or not str(text).strip():
            continue
        try:
            number = float(text)
        except ValueError:
            raise ParameterError(f"{var}={text!r} is not a number; unset it or give a positive number") from None
        if name == "max_zip_files":
            if not number.is_integer():
                raise ParameterError(f"{var}={text!r} must be a whole number")
            number = int(number)
        values[name] = number
    try:
        return Limits(**values)
    except ParameterError as exc:
        var = next((v for v, n in LIMIT_ENV.items() if str(exc).startswith(n)), None)
        raise ParameterError(f"{var}: {exc}" if var else str(exc)) from None


def format_mb(n_bytes: int) -> str:
    """``n_bytes`` as megabytes with one decimal (``"12.5 MB"``)."""
    return f"{n_bytes / MB:.1f} MB"


def check_upload_size(n_bytes: int, *, limit: int | None = None, name: str = "upload") -> None:
    """Raise unless ``n_bytes`` is within the upload limit.

    Parameters
    ----------
    n_bytes : int
        Size of the uploaded file.
    limit : int, optional
        Largest accepted size in bytes; default ``limits().max_upload_bytes``.
    name : str
        The file's name, quoted in the message.

    Raises
    ------
    ParameterError
        The file is larger than the limit (the message gives both sizes and the
        variable that raises the limit).
    """
    if isinstance(n_bytes, bool) or not isinstance(n_bytes, int) or n_bytes < 0:
        raise ParameterError(f"n_bytes must be a non-negative integer, got {n_bytes!r}")
    limit = limits().max_upload_bytes if limit is None else int(limit)
    if n_bytes > limit:
        raise ParameterError(
            f"{name}: {format_mb(n_bytes)} is over the upload limit of {format_mb(limit)}; "
            "cut the file shorter, or ask whoever runs the app to raise MUSICTAG_MAX_UPLOAD_MB "
            "(and server.maxUploadSize in .streamlit/config.toml)"
        )


# ---------------------------------------------------------------- names and paths

_UNSAFE_CHARS = re.compile(r"[\x00-\x1f\x7f/\\:*?\"<>|]")


def safe_filename(name: str, *, default: str = "upload") -> str:
    """A harmless file name for an uploaded file: no folders, no control characters, at most 255 bytes.

    Unicode is kept. The extension survives shortening.

    >>> safe_filename("../../etc/passwd")
    'passwd'
    >>> safe_filename("Café del Mar.mp3")
    'Café del Mar.mp3'
    """
    base = re.split(r"[/\\]", str(name))[-1]
    base = _UNSAFE_CHARS.sub("_", base).strip().lstrip(".")
    if not base:
        base = default
    if len(base.encode("utf-8")) > MAX_NAME_BYTES:
        stem, dot, ext = base.rpartition(".")
        ext = f".{ext}" if dot and 0 < len(ext) <= 10 else ""
        stem = base[: len(base) - len(ext)]
        budget = MAX_NAME_BYTES - len(ext.encode("utf-8"))
        stem = stem.encode("utf-8")[:budget].decode("utf-8", errors="ignore")
        base = stem + ext
    return base


