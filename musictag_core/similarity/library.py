"""Named, persistent similarity indexes of a music library: build, update, open, list, delete.

An index is state, not cache: it lives in its own folder under
:func:`musictag_core.paths.indexes_dir` (``$MUSICTAG_INDEXES``, default ``indexes`` beside the
runs folder), one sub-folder per name::

    <indexes>/<name>/index.json        which version is current (written last, atomically)
    <indexes>/<name>/v<N>/meta.json    model, space, tracks (path, content hash, label, ...)
    <indexes>/<name>/v<N>/*.npy        vectors, segment vectors and starts, tag scores
    <indexes>/<name>/v<N>/vectors.faiss  the vector index of the track vectors

An update writes a new version folder, then points ``index.json`` at it and removes the old one,
so a reader sees either the old index or the new one, never half of one. Arrays and the faiss
index are opened by memory-map.

Updates are incremental by content hash: a file whose bytes are already indexed keeps its
vectors (even if it moved), a new or changed file is embedded (through the feature cache), and a
file that is gone is dropped.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import AudioError, DatasetError, MusictagError, ParameterError
from ..fileio import atomic_save_npy, atomic_write_json, read_json_object
from .embed import SHIPPED_TAGGERS, SPACES, ModelSet, file_vectors
from .vectors import SEARCH_KINDS, VectorIndex, normalise

__all__ = [
    "FORMAT_VERSION",
    "NAME_PATTERN",
    "LibraryIndex",
    "UpdateReport",
    "build_index",
    "check_index_name",
    "collect_tracks",
    "delete_index",
    "list_indexes",
    "open_index",
]

#: Bumped when the stored layout changes meaning.
FORMAT_VERSION = 1
#: Index names: letters, digits, ``_`` and ``-``.
NAME_PATTERN = re.compile(r"[A-Za-z0-9_-]+")

ProgressCallback = Callable[[float, str], None]


def check_index_name(name: Any) -> str:
    """Return ``name`` when it is a valid index name (``[A-Za-z0-9_-]+``, at most 64 characters).

    Raises
    ------
    ParameterError
        Naming the bad value and the allowed characters.
    """
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name) or len(name) > 64:
        raise ParameterError(
            f"index name {name!r} is not allowed: use 1 to 64 letters, digits, '_' or '-' (for example 'my_library')"
        )
    return name


def _root(root: str | os.PathLike | None) -> Path:
    from ..paths import indexes_dir

    return Path(root).expanduser().resolve() if root is not None else indexes_dir()


# ---------------------------------------------------------------- reading a library


def _label_of(index, i: int, multi: bool):  # noqa: ANN001, ANN202 - DatasetIndex
    present = [index.labels[j] for j in np.flatnonzero(index.y[i])]
    if not present:
        return None
    return present if multi else present[0]


def collect_tracks(source: str | os.PathLike, *, labels: bool = True) -> tuple[list[tuple[str, Any]], dict[str, Any]]:
    """Audio files of a dataset or a folder tree, with labels where the dataset form has them.

    Parameters
    ----------
    source : str or Path
        ``"demo"``, a dataset path of any form :func:`musictag_core.datasets.open_dataset` reads
        (its labels are kept: a string for single-label data, a list for multi-label data), or
        any folder: every audio file under it, recursively, is taken; files the folder's
        dataset form does not label get the label ``None``.
    labels : bool
        ``False``: ignore the dataset form and index every audio file without labels.

    Returns
    -------
    tracks : list of (str, label)
        Absolute path and label (``None``, a str or a list of str), sorted by path.
    info : dict
        ``source``, ``form`` (the dataset form, or ``"files"``) and ``notes``.

    Raises
    ------
    DatasetError
        The source does not exist, is a feature table (no audio), or holds no audio file.
    """
    from ..audio import AUDIO_EXTENSIONS
    from ..datasets import detect_format, open_dataset

    spec = os.fspath(source)
    found: dict[str, Any] = {}
    form = "files"
    notes: list[str] = []
    is_demo = isinstance(source, str) and spec.strip() == "demo"
    folder = None if is_demo else Path(spec).expanduser().resolve()
    if folder is not None and not folder.exists():
        raise DatasetError(f"{spec!r} does not exist: give a folder of audio files, a dataset path, or 'demo'")
    if labels or is_demo or (folder is not None and folder.is_file()):
        fmt = detect_format(spec) if not is_demo else "demo"
        if fmt == "features":
            raise DatasetError(f"{spec!r} is a feature table: an index needs audio files")
        try:
            ds = open_dataset(spec, format=fmt, missing="skip") if fmt in ("fma", "mtt", "jamendo", "strengths") else open_dataset(spec, format=fmt)
        except DatasetError as exc:
            if folder is None or not folder.is_dir():
                raise
            notes.append(f"not read as a {fmt} dataset ({exc}); indexed without labels")
        else:
            form = ds.kind
            multi = ds.task == "multi"
            for i, p in enumerate(ds.tracks["path"].astype(str)):
                if p and Path(p).is_file():
                    found[str(Path(p).resolve())] = _label_of(ds, i, multi) if labels or is_demo else None
            if is_demo:
                folder = None
    if folder is not None and folder.is_dir():
        exts = tuple(AUDIO_EXTENSIONS)
        extra = 0
        for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for fname in filenames:
                if fname.startswith(".") or not fname.lower().endswith(exts):
                    continue
                p = str((Path(dirpath) / fname).resolve())
                if p not in found:
                    found[p] = None
                    extra += 1
        if extra and form != "files":
            notes.append(f"{extra} audio file(s) outside the {form} dataset were indexed without labels")
    if not found:
        raise DatasetError(f"{spec!r} holds no audio files ({', '.join(AUDIO_EXTENSIONS)})")
    return sorted(found.items()), {"source": spec if is_demo else str(folder or spec), "form": form, "notes": notes}


# ---------------------------------------------------------------- the index object


@dataclass
class UpdateReport:
    """What :func:`build_index` did.

    Attributes
    ----------
    name : str
    added, changed, removed, unchanged : int
        Files new to the index, files whose content changed (re-embedded), files dropped
        because they are gone, files kept as they were (content hash unchanged).
    failed : dict of str to str
        Path -> why it could not be indexed (it is left out).
    n_tracks, n_segments : int
        Size of the index afterwards.
    notes : list of str
    """

    name: str
    added: int = 0
    changed: int = 0
    removed: int = 0
    unchanged: int = 0
    failed: dict[str, str] = field(default_factory=dict)
    n_tracks: int = 0
    n_segments: int = 0
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of every attribute."""
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


class LibraryIndex:
    """An opened index (read-only; arrays memory-mapped). Open with :func:`open_index`.

    Attributes
    ----------
    name, model, space : str
        The index's name, the model whose embeddings and tag scores it holds, and the vector space.
    folder : Path
        The current version's folder.
    meta : dict
        ``meta.json``: ``tracks`` (list of ``{"path", "digest", "label", "duration_s",
        "segment_offset", "n_segments"}``), ``tag_labels``, ``source``, ``created``, ``updated``...
    track_vectors : np.ndarray [shape=(n_tracks, d)], float32
        L2-normalised track vectors (mean of the segment vectors, then normalised).
    segment_vectors : np.ndarray [shape=(n_segments, d)], float32
        L2-normalised segment vectors; track ``i``'s are rows
        ``segment_offset .. segment_offset + n_segments``.
    segment_starts_s : np.ndarray [shape=(n_segments,)], float32
    tag_scores : np.ndarray [shape=(n_tracks, n_tags)], float32
        Per-track tag scores of both shipped taggers (MSD_musicnn's 50 tags, then MTT_musicnn's 50).
    tag_labels : list of dict
        One ``{"label", "model"}`` per column of ``tag_scores``.
    vectors : VectorIndex
        The faiss index of ``track_vectors``.
    """

    def __init__(self, folder: Path, meta: dict[str, Any]) -> None:
        self.folder = folder
        self.meta = meta
        self.name = str(meta["name"])
        self.model = str(meta["model"])
        self.space = str(meta["space"])
        self.track_vectors = np.load(folder / "track_vectors.npy", mmap_mode="r")
        self.segment_vectors = np.load(folder / "segment_vectors.npy", mmap_mode="r")
        self.segment_starts_s = np.load(folder / "segment_starts.npy", mmap_mode="r")
        self.tag_scores = np.load(folder / "tag_scores.npy", mmap_mode="r")
        self.tag_labels = [dict(t) for t in meta["tag_labels"]]
        self.vectors = VectorIndex.load(folder / "vectors.faiss")  # memory-mapped: no copy
        self._by_digest: dict[str, list[int]] | None = None

    def __len__(self) -> int:
        return len(self.meta["tracks"])

    def __repr__(self) -> str:
        return f"LibraryIndex(name={self.name!r}, model={self.model!r}, space={self.space!r}, n_tracks={len(self)})"

    @property
    def tracks(self) -> list[dict[str, Any]]:
        """One dict per track: ``path``, ``digest``, ``label``, ``duration_s``, ``segment_offset``, ``n_segments``."""
        return self.meta["tracks"]

    @property
    def paths(self) -> list[str]:
        """Track paths, in row order."""
        return [t["path"] for t in self.tracks]

    @property
    def labels(self) -> list[Any]:
        """Track labels, in row order (``None``, a str, or a list of str)."""
        return [t["label"] for t in self.tracks]

    def rows_with_digest(self, digest: str) -> list[int]:
        """Rows of tracks whose file content hash is ``digest`` (empty when none)."""
        if self._by_digest is None:
            by: dict[str, list[int]] = {}
            for i, t in enumerate(self.tracks):
                by.setdefault(t["digest"], []).append(i)
            self._by_digest = by
        return list(self._by_digest.get(digest, []))

    def segments_of(self, row: int) -> tuple[np.ndarray, np.ndarray]:
        """Segment vectors [shape=(n_segments, d)] and starts [shape=(n_segments,)] of track ``row``."""
        t = self.tracks[row]
        a, n = int(t["segment_offset"]), int(t["n_segments"])
        return np.asarray(self.segment_vectors[a : a + n]), np.asarray(self.segment_starts_s[a : a + n])

    def check_model(self, model: str) -> None:
        """Refuse a query with another model than the index's (its vectors are not comparable).

        Raises
        ------
        ParameterError
        """
        if model != self.model:
            raise ParameterError(
                f"index {self.name!r} was built with model {self.model!r}; a query with model {model!r} is refused "
                f"(their vectors are not comparable): query with --model {self.model} or build another index with --model {model}"
            )

    def model_scores(self) -> tuple[np.ndarray, list[str]]:
        """The index model's per-track tag scores [shape=(n_tracks, n_labels)] and its labels."""
        cols = [j for j, t in enumerate(self.tag_labels) if t["model"] == self.model]
        return np.asarray(self.tag_scores[:, cols]), [self.tag_labels[j]["label"] for j in cols]

    def summary(self) -> dict[str, Any]:
        """``name``, ``model``, ``space``, ``dim``, ``n_tracks``, ``n_segments``, ``search``, ``source``, ``created``, ``updated``, ``folder``."""
        return {
            "name": self.name, "model": self.model, "space": self.space, "dim": int(self.track_vectors.shape[1]),
            "n_tracks": len(self), "n_segments": int(len(self.segment_starts_s)), "search": self.meta.get("search"),
            "source": self.meta.get("source"), "created": self.meta.get("created"), "updated": self.meta.get("updated"),
            "folder": str(self.folder.parent),
        }


def _current_folder(folder: Path) -> Path | None:
    pointer = read_json_object(folder / "index.json")
    if not pointer or not isinstance(pointer.get("version"), str):
        return None
    version = folder / pointer["version"]
    return version if (version / "meta.json").is_file() else None


def open_index(name: str, *, root: str | os.PathLike | None = None, model: str | None = None) -> LibraryIndex:
    """Open a named index (memory-mapped).

    Parameters
    ----------
    name : str
    root : str or Path, optional
        Folder of indexes (default :func:`musictag_core.paths.indexes_dir`).
    model : str, optional
        The model the caller means to query with; refused unless it is the index's model.

    Raises
    ------
    ParameterError
        Bad name, no such index (the message lists the existing ones), or another model.
    """
    check_index_name(name)
    base = _root(root) / name
    for attempt in range(3):  # an update may replace the version between reading the pointer and opening it
        version = _current_folder(base)
        if version is None:
            have = [s["name"] for s in list_indexes(root=root)]
            raise ParameterError(
                f"no index named {name!r} in {_root(root)}; "
                + (f"existing indexes: {', '.join(have)}" if have else "build one with `musictag index FOLDER --name NAME`")
            )
        meta = read_json_object(version / "meta.json")
        if not meta or meta.get("format_version") != FORMAT_VERSION:
            raise ParameterError(f"index {name!r} was written by another version of musictag; rebuild it (delete it, then index again)")
        try:
            idx = LibraryIndex(version, meta)
            break
        except FileNotFoundError:
            if attempt == 2:
                raise
    if model is not None:
        idx.check_model(model)
    return idx


def list_indexes(*, root: str | os.PathLike | None = None) -> list[dict[str, Any]]:
    """Summaries (:meth:`LibraryIndex.summary`) of every index, by name."""
    base = _root(root)
    out = []
    if not base.is_dir():
        return out
    for folder in sorted(base.iterdir()):
        if folder.is_dir() and NAME_PATTERN.fullmatch(folder.name) and _current_folder(folder) is not None:
            try:
                out.append(open_index(folder.name, root=base).summary())
            except (MusictagError, OSError, ValueError, KeyError):
                continue
    return out


def delete_index(name: str, *, root: str | os.PathLike | None = None) -> Path:
    """Delete a named index; return the folder that was removed.

    Raises
    ------
    ParameterError
        Bad name or no such index.
    """
    check_index_name(name)
    folder = _root(root) / name
    if not folder.is_dir() or _current_folder(folder) is None:
        raise ParameterError(f"no index named {name!r} in {_root(root)} to delete")
    trash = folder.with_name(f".{name}.deleting-{os.getpid()}-{time.time_ns()}")
    os.replace(folder, trash)  # gone from view at once
    shutil.rmtree(trash, ignore_errors=True)
    return folder


# ---------------------------------------------------------------- building and updating


def build_index(
    source: str | os.PathLike,
    *,
    name: str,
    model: str = "MSD_musicnn",
    space: str = "penultimate",
    search: str = "auto",
    labels: bool = True,
    root: str | os.PathLike | None = None,
    runs_dir: str | os.PathLike | None = None,
    cache: bool = True,
    progress: ProgressCallback | None = None,
) -> UpdateReport:
    """Build a named index of a dataset or folder tree, or bring an existing one up to date.

    Parameters
    ----------
    source : str or Path
        ``"demo"``, a dataset path, or any folder (see :func:`collect_tracks`).
    name : str
        ``[A-Za-z0-9_-]+``.
    model : str
        A musicnn model (its embeddings and tag scores); an existing index keeps its model, and
        another one is refused.
    space : {"penultimate", "pooled", "mfcc"}
        The vectors: musicnn's 200-d penultimate layer (default), its 1506-d pooled features, or
        MFCC statistics (26-d) per 3 s segment.
    search : {"auto", "exact", "hnsw"}
        Exact search (default up to 50,000 tracks) or the approximate HNSW graph.
    labels : bool
        Attach the labels of the dataset form (``False``: none).
    root : str or Path, optional
        Folder of indexes (default :func:`musictag_core.paths.indexes_dir`).
    cache : bool
        Read and write the feature cache for embeddings.
    progress : callable, optional
        ``progress(fraction, message)``.

    Returns
    -------
    UpdateReport

    Raises
    ------
    ParameterError
        Bad name, space or search kind; an existing index with another model or space.
    DatasetError
        No audio in the source, or no file could be indexed.
    """
    check_index_name(name)
    if space not in SPACES:
        raise ParameterError(f"space must be one of {SPACES}, got {space!r}")
    if search not in SEARCH_KINDS:
        raise ParameterError(f"search must be one of {SEARCH_KINDS}, got {search!r}")
    from ..store import file_digest

    base = _root(root)
    old: LibraryIndex | None = None
    if _current_folder(base / name) is not None:
        old = open_index(name, root=base)
        if old.model != model or old.space != space:
            raise ParameterError(
                f"index {name!r} exists with model {old.model!r} and space {old.space!r}, not {model!r} / {space!r}: "
                f"delete it first (`musictag index delete {name}`) or choose another name"
            )
    tracks, info = collect_tracks(source, labels=labels)
    report = UpdateReport(name=name, notes=list(info["notes"]))
    models = ModelSet(runs_dir=runs_dir)
    models.card(model)  # unknown or not musicnn: refused before any work
    old_rows: dict[str, int] = {}
    old_paths: dict[str, str] = {}
    if old is not None:
        for i, t in enumerate(old.tracks):
            old_rows.setdefault(t["digest"], i)
            old_paths[t["path"]] = t["digest"]
    tag_models = tuple(SHIPPED_TAGGERS) + (() if model in SHIPPED_TAGGERS else (model,))
    tag_labels = [{"label": lab, "model": m} for m in tag_models for lab in models.labels(m)]
    if old is not None and old.tag_labels != tag_labels:
        old_rows = {}  # tag columns changed: re-read everything (from the cache)
    rows: list[dict[str, Any]] = []
    seg_vecs, seg_starts, track_vecs, scores = [], [], [], []
    offset = 0
    seen_paths = set()
    for n, (path, label) in enumerate(tracks):
        if progress:
            progress(n / max(len(tracks), 1), f"indexing {n + 1}/{len(tracks)}: {Path(path).name}")
        try:
            digest = file_digest(path)
        except OSError as exc:
            report.failed[path] = f"cannot be read ({exc.strerror or exc})"
            continue
        seen_paths.add(path)
        if digest in old_rows:
            i = old_rows[digest]
            sv, st = old.segments_of(i)
            tv = np.asarray(old.track_vectors[i])
            sc = np.asarray(old.tag_scores[i])
            duration = float(old.tracks[i]["duration_s"])
            if old_paths.get(path) == digest:
                report.unchanged += 1
            else:
                report.added += 1 if path not in old_paths else 0
                report.changed += 1 if path in old_paths else 0
        else:
            try:
                fv = file_vectors(path, digest=digest, model=model, space=space, tag_models=tag_models, models=models,
                                  cache=cache)
            except AudioError as exc:
                report.failed[path] = exc.reason
                continue
            if len(fv.segment_vectors) == 0:
                report.failed[path] = "no segment could be cut from it"
                continue
            sv, st = normalise(fv.segment_vectors), fv.segment_starts_s
            tv = normalise(fv.track_vector[None, :])[0]
            sc = _score_row(fv.tag_scores, tag_labels)
            duration = fv.duration_s
            if path in old_paths:
                report.changed += 1
            else:
                report.added += 1
        rows.append({"path": path, "digest": digest, "label": label, "duration_s": round(duration, 3),
                     "segment_offset": offset, "n_segments": int(len(st))})
        offset += len(st)
        seg_vecs.append(np.asarray(sv, np.float32))
        seg_starts.append(np.asarray(st, np.float32))
        track_vecs.append(np.asarray(tv, np.float32))
        scores.append(np.asarray(sc, np.float32))
    if old is not None:
        report.removed = sum(1 for p in old_paths if p not in seen_paths)
    if not rows:
        first = next(iter(report.failed.items()), None)
        raise DatasetError(
            f"no file of {info['source']!r} could be indexed" + (f"; first failure: {first[0]}: {first[1]}" if first else "")
        )
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    dim = int(track_vecs[0].shape[0])
    T = np.stack(track_vecs)
    vectors = VectorIndex.build(T, kind=search)
    meta = {
        "format_version": FORMAT_VERSION, "name": name, "model": model, "space": space, "dim": dim,
        "search": vectors.kind, "search_setting": search, "source": info["source"], "form": info["form"],
        "labels": bool(labels), "created": old.meta.get("created", now) if old is not None else now, "updated": now,
        "tag_labels": tag_labels, "tracks": rows,
    }
    _write_version(base / name, meta=meta, arrays={
        "track_vectors": T, "segment_vectors": np.concatenate(seg_vecs), "segment_starts": np.concatenate(seg_starts),
        "tag_scores": np.stack(scores),
    }, vectors=vectors)
    report.n_tracks, report.n_segments = len(rows), offset
    if progress:
        progress(1.0, f"index {name!r}: {len(rows)} tracks")
    return report


def _score_row(tag_scores: dict[str, np.ndarray], tag_labels: list[dict]) -> np.ndarray:
    """The tag-score row in ``tag_labels`` order (each model's labels are contiguous, in label order)."""
    return np.concatenate([np.asarray(tag_scores[m], np.float32) for m in dict.fromkeys(t["model"] for t in tag_labels)])


def _write_version(folder: Path, *, meta: dict, arrays: dict[str, np.ndarray], vectors: VectorIndex) -> None:
    """Write a new version folder, then point ``index.json`` at it and remove older versions."""
    folder.mkdir(parents=True, exist_ok=True)
    version = f"v{time.time_ns()}"
    tmp = folder / f".{version}.tmp"
    tmp.mkdir()
    try:
        for key, arr in arrays.items():
            atomic_save_npy(tmp / f"{key}.npy", np.ascontiguousarray(arr, np.float32), fsync=False)
        vectors.save(tmp / "vectors.faiss")
        atomic_write_json(tmp / "meta.json", meta)
        os.replace(tmp, folder / version)
        atomic_write_json(folder / "index.json", {"version": version, "format_version": FORMAT_VERSION})
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    stale = time.time() - 3600  # a .tmp folder this recent may be another update still writing
    for old in folder.iterdir():
        if not old.is_dir() or old.name == version:
            continue
        if old.name.startswith("v") or (old.name.endswith(".tmp") and old.stat().st_mtime < stale):
            shutil.rmtree(old, ignore_errors=True)
