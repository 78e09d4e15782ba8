"""Untrusted input at the app's edge: upload limits, safe zip extraction, session folders, typed paths.

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
the file and the reason.
"""

from __future__ import annotations

import io
import lzma
import math
import os
import re
import shutil
import stat
import struct
import time
import uuid
import zipfile
import zlib
from dataclasses import dataclass, fields
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Union

from .audio import AUDIO_EXTENSIONS
from .errors import DatasetError, ParameterError

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


def _mb(n_bytes: int) -> str:
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
            f"{name}: {_mb(n_bytes)} is over the upload limit of {_mb(limit)}; "
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


# ---------------------------------------------------------------- zip extraction

ZipSource = Union[str, os.PathLike, bytes, bytearray, memoryview, BinaryIO]

#: What zipfile and its decompressors raise on corrupt or hostile archives.
_ZIP_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    NotImplementedError,
    RuntimeError,
    ValueError,
    EOFError,
    OverflowError,
    struct.error,
    zlib.error,
    lzma.LZMAError,
    UnicodeDecodeError,
    IndexError,
    KeyError,
    TypeError,
    OSError,
)


class ExtractedFiles(list):
    """The extracted files (a ``list[Path]``) plus what was left out and why.

    Attributes
    ----------
    skipped : list of (str, str)
        ``(member name, reason)`` for every member not extracted.
    """

    def __init__(self, paths=(), skipped=()) -> None:
        super().__init__(paths)
        self.skipped: list[tuple[str, str]] = list(skipped)

    def notes(self) -> list[str]:
        """Human-readable notes about skipped members (nested archives, other files)."""
        by_reason: dict[str, list[str]] = {}
        for name, reason in self.skipped:
            by_reason.setdefault(reason, []).append(name)
        out = []
        for reason, names in by_reason.items():
            shown = ", ".join(repr(n) for n in names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
            out.append(f"{len(names)} skipped ({reason}): {shown}")
        return out


def _zip_name(source) -> str:
    if isinstance(source, (str, os.PathLike)):
        return os.fspath(source)
    name = getattr(source, "name", None)
    return str(name) if isinstance(name, str) else "<zip>"


def _member_problem(info: zipfile.ZipInfo) -> str | None:
    """Why a member must never be extracted (traversal, absolute path, link, device), or None."""
    name = info.filename
    if "\x00" in name:
        return "a NUL character in its name"
    norm = name.replace("\\", "/")
    if norm.startswith("/") or re.match(r"^[A-Za-z]:", norm):
        return "an absolute path"
    if ".." in PurePosixPath(norm).parts:
        return "a '..' path that points outside the archive folder"
    mode = (info.external_attr >> 16) & 0xFFFF
    if info.create_system == 3 and mode:  # made on Unix: the high bits are st_mode
        kind = stat.S_IFMT(mode)
        if kind == stat.S_IFLNK:
            return "a symbolic link"
        if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
            return "a device, pipe or socket entry"
    return None


def _skip_reason(parts: tuple[str, ...], keep: tuple[str, ...]) -> str | None:
    if any(p.startswith(".") or p == "__MACOSX" for p in parts):
        return "hidden or system file"
    suffix = PurePosixPath(parts[-1]).suffix.lower()
    if suffix in ARCHIVE_EXTENSIONS:
        return "nested archive, not extracted: extract it first and upload its contents"
    if suffix not in keep:
        return f"not {'/'.join(e.lstrip('.') for e in keep[:4])}... (only audio and CSV files are kept)"
    if any(len(p.encode("utf-8")) > MAX_NAME_BYTES for p in parts):
        return f"a file or folder name longer than {MAX_NAME_BYTES} bytes"
    return None


def safe_extract_zip(
    source: ZipSource,
    dest: str | os.PathLike,
    *,
    max_total_bytes: int | None = None,
    max_files: int | None = None,
    max_ratio: float | None = None,
    keep_extensions: tuple[str, ...] = AUDIO_EXTENSIONS + (".csv",),
) -> ExtractedFiles:
    """Extract the audio (and CSV) files of an untrusted zip archive into ``dest``.

    Folders inside the archive are kept (a folder per genre stays a folder per
    genre). The whole archive is refused, and nothing is left in ``dest``, when any
    member has an absolute or ``..`` path, is a symbolic link or device, is
    encrypted, or when the archive is a zip bomb: more than ``max_files`` members,
    more than ``max_total_bytes`` declared or actually decompressed, or a ratio of
    uncompressed to compressed size above ``max_ratio``. Nested archives, hidden
    files and other file types are skipped and listed in ``.skipped``.

    Parameters
    ----------
    source : str, Path, bytes or binary file-like
        The zip archive.
    dest : str or Path
        Folder to extract into (created; should be a fresh session folder).
    max_total_bytes, max_files, max_ratio : optional
        Default to :func:`limits` (``MUSICTAG_MAX_ZIP_MB``, ``..._FILES``, ``..._RATIO``).
    keep_extensions : tuple of str
        Lower-case extensions to extract.

    Returns
    -------
    ExtractedFiles
        The paths written (a list of Path, in archive order), with ``.skipped``.

    Raises
    ------
    DatasetError
        Not a zip archive, a corrupt member (CRC), or a refusal above; the message
        names the archive, the member and the reason.
    """
    lim = limits()
    max_total_bytes = lim.max_zip_total_bytes if max_total_bytes is None else int(max_total_bytes)
    max_files = lim.max_zip_files if max_files is None else int(max_files)
    max_ratio = lim.max_zip_ratio if max_ratio is None else float(max_ratio)
    keep = tuple(e.lower() for e in keep_extensions)
    name = _zip_name(source)
    if isinstance(source, (bytes, bytearray, memoryview)):
        if len(source) == 0:
            raise DatasetError(f"{name}: the archive is empty (0 bytes)")
        archive_size = len(source)
        opened: object = io.BytesIO(bytes(source))
    elif isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise DatasetError(f"{name}: no such file")
        archive_size = path.stat().st_size
        if archive_size == 0:
            raise DatasetError(f"{name}: the archive is empty (0 bytes)")
        opened = path
    elif hasattr(source, "read"):
        data = source.read()
        if not data:
            raise DatasetError(f"{name}: the archive is empty (0 bytes)")
        archive_size = len(data)
        opened = io.BytesIO(data)
    else:
        raise ParameterError(f"cannot read a zip archive from an object of type {type(source).__name__}")

    root = Path(dest)
    root.mkdir(parents=True, exist_ok=True)
    root = root.resolve()
    written: list[Path] = []
    try:
        with zipfile.ZipFile(opened) as zf:
            return _extract(zf, root, name, written, archive_size, max_total_bytes, max_files, max_ratio, keep)
    except DatasetError:
        _remove(written, root)
        raise
    except _ZIP_ERRORS as exc:
        _remove(written, root)
        if isinstance(exc, OSError) and exc.errno is not None and not isinstance(exc, zipfile.BadZipFile):
            raise DatasetError(f"{name}: cannot extract the archive ({exc.strerror or exc})") from None
        text = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise DatasetError(f"{name}: not a readable zip archive ({text})") from None
    except MemoryError:
        _remove(written, root)
        raise DatasetError(f"{name}: too large to read in memory") from None


def _remove(written: list[Path], root: Path) -> None:
    for p in written:
        p.unlink(missing_ok=True)
    # empty folders the extraction created
    for d in sorted({p.parent for p in written}, key=lambda p: len(p.parts), reverse=True):
        while d != root and d.is_relative_to(root):
            try:
                d.rmdir()
            except OSError:
                break
            d = d.parent


def _extract(zf, root, name, written, archive_size, max_total, max_files, max_ratio, keep) -> ExtractedFiles:
    infos = zf.infolist()
    if len(infos) > max_files:
        raise DatasetError(
            f"{name}: holds {len(infos)} entries, more than the limit of {max_files} (MUSICTAG_MAX_ZIP_FILES)"
        )
    bad = [(i.filename, p) for i in infos if (p := _member_problem(i))]
    if bad:
        listed = "; ".join(f"{n!r} is {p}" for n, p in bad[:5])
        raise DatasetError(f"{name}: refused, the archive contains unsafe entries: {listed}")
    encrypted = [i.filename for i in infos if i.flag_bits & 0x1]
    if encrypted:
        raise DatasetError(f"{name}: refused, encrypted entries cannot be read: {encrypted[:5]}")
    declared = sum(i.file_size for i in infos)
    if declared > max_total:
        raise DatasetError(
            f"{name}: would unpack to {_mb(declared)}, over the limit of {_mb(max_total)} (MUSICTAG_MAX_ZIP_MB)"
        )
    if declared > MB and declared / max(archive_size, 1) > max_ratio:
        raise DatasetError(
            f"{name}: refused as a likely zip bomb: {_mb(archive_size)} would unpack to {_mb(declared)} "
            f"(ratio {declared / max(archive_size, 1):.0f}, limit {max_ratio:g}, MUSICTAG_MAX_ZIP_RATIO)"
        )

    out = ExtractedFiles()
    seen: set[str] = set()
    total = 0
    for info in infos:
        norm = info.filename.replace("\\", "/")
        parts = tuple(p for p in PurePosixPath(norm).parts if p not in ("", "."))
        if info.is_dir() or not parts:
            continue
        reason = _skip_reason(parts, keep)
        if reason is None and "/".join(parts).casefold() in seen:
            reason = "a second entry with the same name"
        if reason is not None:
            out.skipped.append((info.filename, reason))
            continue
        seen.add("/".join(parts).casefold())
        target = root.joinpath(*parts)
        if not target.resolve().is_relative_to(root):  # belt and braces after _member_problem
            raise DatasetError(f"{name}: refused, {info.filename!r} would be written outside the folder")
        if info.file_size > MB and info.compress_size and info.file_size / info.compress_size > max_ratio:
            raise DatasetError(
                f"{name}: refused as a likely zip bomb: {info.filename!r} compresses {info.file_size / info.compress_size:.0f}:1 "
                f"(limit {max_ratio:g}, MUSICTAG_MAX_ZIP_RATIO)"
            )
        target.parent.mkdir(parents=True, exist_ok=True)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
        try:
            fd = os.open(target, flags, 0o600)
        except OSError as exc:
            out.skipped.append((info.filename, f"cannot be written here ({exc.strerror})"))
            continue
        written.append(target)
        member_bytes = 0
        with os.fdopen(fd, "wb") as fh, zf.open(info) as src:
            while chunk := src.read(1 << 20):
                member_bytes += len(chunk)
                total += len(chunk)
                if member_bytes > info.file_size:
                    raise DatasetError(
                        f"{name}: refused, {info.filename!r} unpacks to more than the {info.file_size} bytes "
                        "its header declares (a forged archive)"
                    )
                if total > max_total:
                    raise DatasetError(
                        f"{name}: unpacks to more than the limit of {_mb(max_total)} (MUSICTAG_MAX_ZIP_MB)"
                    )
                fh.write(chunk)
        out.append(target)
    return out


# ---------------------------------------------------------------- session folders

_SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_MARKER = ".musictag-session"


def sessions_dir() -> Path:
    """``<cache>/sessions``: where session workspaces live (created)."""
    from .paths import cache_dir

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
