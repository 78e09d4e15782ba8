"""Safe zip extraction: only audio and CSV members, no traversal, links, encryption or bombs."""

from __future__ import annotations

import io
import lzma
import os
import re
import stat
import struct
import zipfile
import zlib
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Union

from ..audio import AUDIO_EXTENSIONS
from ..errors import DatasetError, ParameterError
from .limits import ARCHIVE_EXTENSIONS, MAX_NAME_BYTES, MB, format_mb, limits

__all__ = ["ExtractedFiles", "ZipSource", "safe_extract_zip"]


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
            f"{name}: would unpack to {format_mb(declared)}, over the limit of {format_mb(max_total)} (MUSICTAG_MAX_ZIP_MB)"
        )
    if declared > MB and declared / max(archive_size, 1) > max_ratio:
        raise DatasetError(
            f"{name}: refused as a likely zip bomb: {format_mb(archive_size)} would unpack to {format_mb(declared)} "
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
                        f"{name}: unpacks to more than the limit of {format_mb(max_total)} (MUSICTAG_MAX_ZIP_MB)"
                    )
                fh.write(chunk)
        out.append(target)
    return out


