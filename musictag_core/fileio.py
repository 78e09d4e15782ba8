"""Atomic file writes: every file musictag writes appears whole or not at all.

Each writer fills a temporary file in the destination folder (named
``.tmp-<name>-XXXX<suffix>``, so readers and listings can ignore it) and renames
it over the destination with :func:`os.replace`, which is atomic on POSIX and
Windows. An interrupted write leaves the old file, or none, never half a file.
"""

from __future__ import annotations

import json
import os
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import numpy as np

__all__ = [
    "atomic_save",
    "atomic_save_npy",
    "atomic_write_json",
    "atomic_write_text",
    "json_default",
    "read_json_object",
]


def _atomic(path: str | os.PathLike, write: Callable[[IO], None], *, mode: str, fsync: bool = True, **open_kw) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".tmp-{path.stem}-", suffix=path.suffix)
    try:
        os.fchmod(fd, 0o644)
        with os.fdopen(fd, mode, **open_kw) as fh:
            write(fh)
            fh.flush()
            if fsync:
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str, *, fsync: bool = True, newline: str | None = None) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; return the path."""
    return _atomic(path, lambda fh: fh.write(text), mode="w", fsync=fsync, encoding="utf-8", newline=newline)


def json_default(o: Any) -> Any:
    """``json.dumps`` fallback for numpy scalars and arrays and paths."""
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def read_json_object(path: str | os.PathLike) -> dict[str, Any] | None:
    """The JSON object in ``path``, or None when the file is missing, unreadable or not an object.

    Readers of files that :func:`atomic_write_json` writes use this: a missing or
    half-written-by-hand file reads as "not there" rather than raising.
    """
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def atomic_write_json(path: str | os.PathLike, data: Any, *, fsync: bool = True) -> Path:
    """Write ``data`` as indented JSON to ``path`` atomically; return the path."""
    return atomic_write_text(path, json.dumps(data, indent=2, default=json_default) + "\n", fsync=fsync)


def atomic_save_npy(path: str | os.PathLike, array: np.ndarray, *, fsync: bool = True) -> Path:
    """Write ``array`` as ``.npy`` to ``path`` atomically; return the path.

    ``fsync=False`` skips flushing to the disk (for files that can be rebuilt,
    such as a manifest); the rename still keeps readers from a partial file.
    """
    return _atomic(path, lambda fh: np.save(fh, array, allow_pickle=False), mode="wb", fsync=fsync)


def atomic_save(path: str | os.PathLike, save: Callable[[Path], None]) -> Path:
    """Run ``save(tmp_path)`` for a library that writes by file name, then rename onto ``path``.

    The temporary path keeps ``path``'s suffix (Keras insists on ``.keras``) and
    is unique per call (process id and a random token), so threads or processes
    writing the same file never share one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".tmp-{path.stem}-{os.getpid()}-{uuid.uuid4().hex[:8]}{path.suffix}")
    try:
        save(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
