"""Where an Explore dataset comes from: the demo corpus, a typed path, an uploaded zip or feature table.

:class:`DatasetSource` names a source and :func:`open_source` opens it as a
:class:`~musictag_core.datasets.base.DatasetIndex`. :func:`path_source` decides
what a typed path is (a dataset of any detected form, or a feature-table CSV
with its labels in a named column) with :func:`musictag_core.datasets.detect_format`.
Uploads are written with :func:`save_zip_upload` (validated by
:func:`~musictag_core.uploads.safe_extract_zip`) and :func:`save_table_upload`
into a per-session :class:`~musictag_core.uploads.SessionWorkspace`.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import DatasetError, MusictagError, ParameterError

if TYPE_CHECKING:  # pragma: no cover
    from ..datasets.base import DatasetIndex
    from ..uploads import SessionWorkspace

__all__ = [
    "SOURCE_KINDS",
    "DatasetSource",
    "dataset_root",
    "demo_ready",
    "open_source",
    "path_kind",
    "path_source",
    "save_table_upload",
    "save_zip_upload",
]

#: Where a dataset can come from.
SOURCE_KINDS = ("demo", "path", "zip", "table")


@dataclass(frozen=True)
class DatasetSource:
    """Where an Explore dataset comes from.

    Parameters
    ----------
    kind : {"demo", "path", "zip", "table"}
        ``demo``: a generated demo corpus (``path`` names it: ``"demo"``, the
        default, or ``"demo-hard"``); ``path``: any dataset form the
        core reads (:func:`~musictag_core.datasets.open_dataset`) at ``path``;
        ``zip``: an extracted folder-per-genre tree at ``path``; ``table``: a
        feature-table CSV at ``path`` with labels in ``label_column``.
    path : str
        The folder or file (empty for ``demo``). Resolve user-typed paths with
        :func:`~musictag_core.paths.resolve_data_path` first.
    label_column : str
        ``table`` only: the column holding each row's genre.
    digest : str
        Content hash of an upload (part of :meth:`key`, so a new upload under
        the same name is not mistaken for the old one).
    upload_name : str
        The uploaded file's own name: messages name it instead of the copy's
        server-side path (:func:`open_source`).
    """

    kind: str = "demo"
    path: str = ""
    label_column: str = "label"
    digest: str = ""
    upload_name: str = ""

    def __post_init__(self) -> None:
        if self.kind not in SOURCE_KINDS:
            raise ParameterError(f"source kind must be one of {SOURCE_KINDS}, got {self.kind!r}")
        if self.kind == "demo":
            from ..datasets.detect import DEMO_SPECS

            if self.path not in ("", *DEMO_SPECS):
                raise ParameterError(f"a demo source names one of {DEMO_SPECS}, got {self.path!r}")
        if self.kind != "demo" and not str(self.path).strip():
            raise ParameterError(f"a {self.kind!r} source needs a path")
        if self.kind == "table" and not str(self.label_column).strip():
            raise ParameterError("a feature table needs the name of its label column")

    def key(self) -> str:
        """A string that changes whenever the data may have changed (kind, path, file times, digest)."""
        if self.kind == "demo":
            return self.path or "demo"
        p = Path(self.path)
        try:
            stamp = f"{p.stat().st_mtime_ns}:{p.stat().st_size}"
        except OSError:
            stamp = "missing"
        extra = self.label_column if self.kind in ("table", "path") else ""
        return f"{self.kind}:{p}:{stamp}:{self.digest}:{extra}"

    def describe(self) -> str:
        """One line for captions."""
        if self.kind == "demo":
            return "the hard demo corpus" if self.path == "demo-hard" else "the demo corpus"
        what = {"path": "dataset", "zip": "uploaded zip", "table": "feature table"}[self.kind]
        return f"{what} {self.upload_name or Path(self.path).name}"

    def public_message(self, message: str) -> str:
        """``message`` with this upload's server-side paths replaced by the uploaded file's name."""
        if not self.upload_name or not self.path:
            return message
        p = Path(self.path)
        for text in sorted({str(p), str(p.resolve()), str(p.parent), str(p.parent.resolve())}, key=len, reverse=True):
            message = message.replace(text + "/", f"{self.upload_name}: ").replace(text, self.upload_name)
        return message


def open_source(
    source: DatasetSource,
    *,
    label_column: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> DatasetIndex:
    """Open a :class:`DatasetSource` as a dataset index.

    Parameters
    ----------
    source : DatasetSource
    label_column : str or None
        For a ``path`` source that is a feature-table CSV whose labels are not
        in a ``label`` column.
    progress : callable or None
        ``progress(done, total)`` while the demo corpus is generated (first use only).

    Returns
    -------
    DatasetIndex

    Raises
    ------
    DatasetError
        The data cannot be read (the message names the file and the reason).
    """
    from ..datasets.demo import load_demo

    if source.kind == "demo":
        return load_demo(progress=progress, variant=source.path or "demo")
    if source.upload_name:
        try:
            return _open_path_source(source, label_column=label_column)
        except MusictagError as exc:  # name the upload, never the session folder it was copied to
            kind = type(exc) if type(exc) in (DatasetError, ParameterError) else DatasetError
            raise kind(source.public_message(str(exc))) from None
    return _open_path_source(source, label_column=label_column)


def _open_path_source(source: DatasetSource, *, label_column: str | None) -> DatasetIndex:
    from ..datasets import open_dataset

    if source.kind == "table":
        return open_dataset(source.path, format="features", label_column=source.label_column)
    if source.kind == "zip":
        return open_dataset(source.path, format="folder")
    if label_column:
        return open_dataset(source.path, format="features", label_column=label_column)
    return open_dataset(source.path)


def demo_ready(*, seed: int = 0, n_per_style: int = 20, variant: str = "demo") -> bool:
    """Whether the demo corpus is already generated in the cache (opening it is then instant).

    Generating it takes a minute or two on a small machine; its ``metadata.json``
    is written last and marks a complete corpus.
    """
    from ..datasets.demo import demo_folder_name
    from ..paths import cache_dir

    name = demo_folder_name(seed=seed, n_per_style=n_per_style, variant=variant)
    return (cache_dir() / name / "metadata.json").is_file()


def dataset_root(folder: str | Path) -> Path:
    """The folder-per-genre root inside an extracted archive.

    Zips made by compressing a folder hold one wrapper folder
    (``mydata/blues/a.wav``); descend through single folders that hold no
    files until the genre folders appear.
    """
    root = Path(folder)
    for _ in range(8):
        entries = [p for p in root.iterdir() if not p.name.startswith(".")]
        dirs = [p for p in entries if p.is_dir()]
        if len(dirs) == 1 and len(entries) == 1:
            root = dirs[0]
        else:
            break
    return root


def _digest(data: bytes) -> str:
    return hashlib.sha256(bytes(data)).hexdigest()


def save_zip_upload(
    data: bytes, *, name: str, workspace: SessionWorkspace, limit: int | None = None
) -> tuple[DatasetSource, list[str]]:
    """Extract an uploaded zip of a folder-per-genre tree into a session workspace.

    The archive is checked with :func:`~musictag_core.uploads.check_upload_size`
    and extracted with :func:`~musictag_core.uploads.safe_extract_zip` (path
    traversal, links and zip bombs refuse the whole archive). The same content
    uploaded again is not extracted again.

    Parameters
    ----------
    data : bytes
        The zip file.
    name : str
        Its name (quoted in errors).
    workspace : SessionWorkspace
        The session's folder; the tree goes to ``explore/<digest>/``.
    limit : int or None
        Upload limit in bytes (default :func:`~musictag_core.uploads.limits`).

    Returns
    -------
    source : DatasetSource
        ``kind="zip"`` pointing at the genre folders.
    notes : list of str
        What was skipped (non-audio files, nested archives).

    Raises
    ------
    ParameterError
        The file is over the upload limit.
    DatasetError
        A hostile or broken archive, or one without audio files.
    """
    from ..uploads import check_upload_size, safe_extract_zip

    check_upload_size(len(data), limit=limit, name=name)
    digest = _digest(data)
    base = workspace.create() / "explore" / digest[:24]
    dest = base / "tree"
    done = base / ".complete"
    notes: list[str] = []
    if not done.exists():
        import shutil

        shutil.rmtree(base, ignore_errors=True)
        base.mkdir(parents=True)
        buf = io.BytesIO(bytes(data))
        buf.name = name  # error messages name the upload
        try:
            extracted = safe_extract_zip(buf, dest)
        except DatasetError:
            shutil.rmtree(base, ignore_errors=True)
            raise
        notes = extracted.notes()
        audio = [p for p in extracted if p.suffix.lower() != ".csv"]
        if not audio:
            shutil.rmtree(base, ignore_errors=True)
            raise DatasetError(
                f"{name}: no audio files inside; zip a folder that holds one folder per genre "
                "(blues/a.wav, jazz/b.mp3, ...)"
            )
        done.write_text(json.dumps({"name": name, "notes": notes}))
    else:
        notes = json.loads(done.read_text()).get("notes", [])
    workspace.touch()
    return DatasetSource(kind="zip", path=str(dataset_root(dest)), digest=digest, upload_name=name), notes


def save_table_upload(
    data: bytes, *, name: str, workspace: SessionWorkspace, label_column: str = "label", limit: int | None = None
) -> DatasetSource:
    """Save an uploaded feature-table CSV into a session workspace.

    Returns
    -------
    DatasetSource
        ``kind="table"``; open it with :func:`open_source`.

    Raises
    ------
    ParameterError
        Over the upload limit, or no label column named.
    """
    digest = _digest(data)
    folder = workspace.create() / "explore" / digest[:24]
    target = folder / "table.csv"
    if not target.exists():
        from ..uploads import check_upload_size

        check_upload_size(len(data), limit=limit, name=name)
        folder.mkdir(parents=True, exist_ok=True)
        target.write_bytes(bytes(data))
    workspace.touch()
    return DatasetSource(kind="table", path=str(target), label_column=label_column, digest=digest, upload_name=name)


#: Detected formats read by their own readers even when a label column is named.
_OWN_READERS = ("fma", "mtt", "jamendo", "folder", "demo")


def path_kind(path: str | os.PathLike, *, label_column: str = "label") -> str:
    """What a typed path is: ``"path"`` (a dataset :func:`~musictag_core.datasets.open_dataset` detects) or ``"table"``.

    A feature table whose labels sit in the ``label`` column is detected like
    any dataset; one with its labels in another column cannot be sniffed, so a
    file named with such a ``label_column`` is a ``table`` unless
    :func:`~musictag_core.datasets.detect_format` recognises it as FMA, MTG-Jamendo or
    MagnaTagATune metadata (read by their own readers).

    Parameters
    ----------
    path : str or path-like
        A resolved path (:func:`~musictag_core.paths.resolve_data_path`).
    label_column : str
        The label column typed with it (``""`` or ``"label"``: the default).

    Returns
    -------
    {"path", "table"}
    """
    from ..datasets import detect_format

    label = str(label_column).strip()
    p = Path(path)
    if label in ("", "label") or not p.is_file():
        return "path"
    try:
        found = detect_format(p)
    except DatasetError:  # no known form: read it as the feature table the label column names
        return "table"
    return "path" if found in _OWN_READERS else "table"


def path_source(path: str | os.PathLike, *, label_column: str = "label") -> DatasetSource:
    """The :class:`DatasetSource` of a typed (already resolved) path; its kind from :func:`path_kind`."""
    label = str(label_column).strip() or "label"
    return DatasetSource(kind=path_kind(path, label_column=label), path=str(path), label_column=label)
