"""The feature cache: content-addressed per-track arrays, and parallel extraction over a dataset.

:class:`FeatureStore` holds frame features and statistics of a
:class:`~musictag_core.config.PipelineConfig`; :class:`ArrayCache` holds the other
model inputs of an :class:`~musictag_core.inputs.InputSpec` (random-crop clips,
waveform pieces, musicnn embeddings or patches, augmented variants keyed by
:func:`variant_key`). Both key a track by the digest of its bytes.
:class:`NpyFile` reads such an array without holding its file open, through a
bounded pool of memory maps (:class:`MmapPool`).

Frame features and statistics in detail:

Each track's features are one ``.npy`` file under
``<root>/<params>/<hh>/<digest>.npy``, where ``digest`` hashes the file's bytes
and ``params`` hashes the decode, segment and feature settings (plus a format
version). So:

* a second extraction of the same files with the same settings is a lookup;
* renaming or moving a file keeps its cache entry, editing it does not;
* one track is read without loading any other (``mmap_mode`` works too);
* a manifest (``manifest.npy``, the sorted digests as 32-byte strings, about
  3 MB per 100k tracks) is updated once per extraction, so listing or sampling
  a 100k-track store reads one small file instead of walking the tree.

Writes go to a temporary file in the same folder and are renamed into place,
so an interrupted run never leaves a corrupt entry. Extraction runs in worker
processes through joblib (local processes by default, or a Dask cluster), and
a file that fails is recorded with its error and skipped.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Iterable, Sequence
from contextlib import nullcontext as _nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .config import PipelineConfig, default_precision
from .errors import MusictagError, ParameterError
from .fileio import atomic_save_npy, atomic_write_json
from .inputs import InputSpec, compute_inputs
from .lru import BoundedCache

__all__ = [
    "DEFAULT_POOL",
    "FEATURE_FORMAT_VERSION",
    "MANIFEST_NAME",
    "ArrayCache",
    "ExtractionResult",
    "FeatureStore",
    "MmapPool",
    "NpyFile",
    "compute_track_features",
    "extract_paths",
    "file_digest",
    "variant_key",
]

#: Bumped whenever the stored layout or the feature code changes values.
FEATURE_FORMAT_VERSION = 1

#: File in a store's parameter folder listing its digests.
MANIFEST_NAME = "manifest.npy"

ProgressCallback = Callable[[int, int], None]


def file_digest(path: str | os.PathLike, *, chunk_size: int = 1 << 20) -> str:
    """Hash of a file's bytes (BLAKE2b, 128 bits, hex).

    Parameters
    ----------
    path : str or path

    Returns
    -------
    str
        32 hexadecimal characters.
    """
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as f:
        while chunk := f.read(chunk_size):
            h.update(chunk)
    return h.hexdigest()


def _params_key(pipeline: PipelineConfig) -> str:
    blob = json.dumps({"v": FEATURE_FORMAT_VERSION, **pipeline.to_dict()}, sort_keys=True)
    return hashlib.blake2b(blob.encode(), digest_size=8).hexdigest()


class FeatureStore:
    """On-disk cache of per-track features for one pipeline setting.

    Parameters
    ----------
    pipeline : PipelineConfig
        Decode, segment and feature settings; entries are kept apart per setting.
    root : str or path, optional
        Cache folder (default ``<cache_dir>/features``).
    """

    def __init__(self, *, pipeline: PipelineConfig, root: str | os.PathLike | None = None) -> None:
        if pipeline.segments.kind == "random_crop":
            raise ParameterError("random crops are drawn anew each time and cannot be cached; use segments or patches")
        if root is None:
            from .paths import cache_dir

            root = cache_dir() / "features"
        self.pipeline = pipeline
        self.root = Path(root)
        self.folder = self.root / _params_key(pipeline)

    def path_for(self, digest: str) -> Path:
        """Where the entry for a file digest lives."""
        return self.folder / digest[:2] / f"{digest}.npy"

    def load(self, digest: str, *, mmap_mode: str | None = None) -> np.ndarray | None:
        """The cached features for ``digest``, or None when absent or unreadable."""
        path = self.path_for(digest)
        try:
            return np.load(path, mmap_mode=mmap_mode, allow_pickle=False)
        except (OSError, ValueError, EOFError):
            return None

    def save(self, digest: str, features: np.ndarray) -> Path:
        """Store ``features`` for ``digest`` atomically and return its path."""
        path = self.path_for(digest)
        atomic_save_npy(path, np.ascontiguousarray(features, dtype=np.float32))
        meta = self.folder / "pipeline.json"
        if not meta.exists():
            atomic_write_json(meta, self.pipeline.to_dict())
        return path

    def __contains__(self, digest: str) -> bool:
        return self.path_for(digest).exists()

    def digests(self) -> Iterable[str]:
        """Digests of every cached entry (a directory walk; no array is read)."""
        if not self.folder.is_dir():
            return
        for sub in sorted(self.folder.iterdir()):
            if sub.is_dir():
                for f in sorted(sub.glob("*.npy")):
                    if not f.name.startswith("."):  # skip temporary files of unfinished writes
                        yield f.stem

    # -- manifest: listing and sampling without walking the tree -------------
    @property
    def manifest_path(self) -> Path:
        """Where the manifest of this store lives."""
        return self.folder / MANIFEST_NAME

    def manifest(self, *, refresh: bool = False, mmap_mode: str | None = "r") -> np.ndarray:
        """Sorted digests of the store, from the manifest file.

        The manifest is written by :meth:`update_manifest` (which
        :func:`extract_paths` calls once per run). Without one, or with
        ``refresh``, it is rebuilt by a directory walk and written.

        Parameters
        ----------
        refresh : bool
            Rebuild from the tree (after entries were added or removed by hand,
            or two extractions updated the manifest at the same moment).
        mmap_mode : {"r", None}
            ``"r"`` (default) memory-maps the file, so listing costs no heap
            memory and indexing reads only the pages it touches.

        Returns
        -------
        digests : np.ndarray [shape=(n_entries,), dtype='S32']
            ASCII hex digests, sorted and unique; ``.astype(str)`` gives str.
        """
        if not refresh:
            try:
                listed = np.load(self.manifest_path, mmap_mode=mmap_mode, allow_pickle=False)
            except (OSError, ValueError, EOFError):
                listed = None
            if listed is not None and listed.dtype == np.dtype("S32") and listed.ndim == 1:
                return listed
        listed = np.array(sorted(self.digests()), dtype="S32")
        if self.folder.is_dir():
            atomic_save_npy(self.manifest_path, listed, fsync=False)
        return listed

    def update_manifest(self, digests: Iterable[str]) -> np.ndarray:
        """Add ``digests`` to the manifest (a sorted union) and write it atomically.

        Concurrent updates from two processes may drop one side's new digests
        (the last rename wins); the entries stay in the store, and
        ``manifest(refresh=True)`` lists them again.

        Returns
        -------
        digests : np.ndarray [shape=(n_entries,), dtype='S32']
        """
        new = np.array([d for d in digests if d], dtype="S32")
        if not self.manifest_path.exists():
            return self.manifest(refresh=True)  # also lists entries of earlier runs
        merged = np.union1d(self.manifest(mmap_mode=None), new).astype("S32")
        atomic_save_npy(self.manifest_path, merged, fsync=False)
        return merged

    def __len__(self) -> int:
        return int(self.manifest().shape[0])

    def sample(
        self, n: int, *, rng: np.random.Generator, mmap_mode: str | None = "r"
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """Read ``n`` entries drawn at random (without replacement) from the manifest.

        Only the manifest and the drawn entries are read; with ``mmap_mode="r"``
        (the default) each entry is memory-mapped and its pages are read when
        used, so memory does not grow with the size of the store.

        Parameters
        ----------
        n : int
            Entries to draw, ``1 <= n <= len(self)``.
        rng : np.random.Generator
        mmap_mode : {"r", None}
            ``None`` reads each drawn entry into memory.

        Returns
        -------
        digests : np.ndarray [shape=(n_read,), dtype='S32']
            The drawn digests whose entries could be read (an entry removed
            since the manifest was written is left out, so ``n_read <= n``).
        arrays : list of np.ndarray
            Their features, in the same order.
        """
        if not isinstance(rng, np.random.Generator):
            raise ParameterError(f"rng must be a numpy Generator (np.random.default_rng(seed)), got {type(rng).__name__}")
        listed = self.manifest()
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 1 <= n <= len(listed):
            raise ParameterError(f"n must be an int in 1..{len(listed)} (the entries in {self.folder}), got {n!r}")
        drawn = np.asarray(listed[rng.choice(len(listed), size=int(n), replace=False)])
        keep, arrays = [], []
        for j, digest in enumerate(drawn):
            arr = self.load(digest.decode("ascii"), mmap_mode=mmap_mode)
            if arr is not None:
                keep.append(j)
                arrays.append(arr)
        return drawn[keep], arrays

    def segment_starts(self, features: np.ndarray) -> np.ndarray:
        """Start times (s) of the segments of a cached frame-feature array."""
        if self.pipeline.features.kind == "stats":
            return np.zeros(1)
        return np.arange(features.shape[0]) * self.pipeline.segments.hop


def compute_track_features(source, *, pipeline: PipelineConfig) -> np.ndarray:
    """Decode one track and compute its stored features, through :func:`musictag_core.inputs.compute_inputs`.

    Parameters
    ----------
    source : str, path or bytes
    pipeline : PipelineConfig

    Returns
    -------
    np.ndarray
        ``[shape=(n_segments, t, n_features)]`` for ``mfcc``/``logmel``,
        ``[shape=(len(STAT_NAMES),)]`` for ``stats`` (computed over the decoded audio).
    """
    from .audio import load_audio

    if pipeline.features.kind != "stats" and pipeline.segments.kind == "random_crop":
        raise ParameterError(
            "the feature store keeps fixed cuts; random crops are drawn while training: "
            "pick segments of kind segments, patches or windows"
        )
    spec = InputSpec.from_pipeline(pipeline)
    y, _ = load_audio(source, config=pipeline.audio)
    _, x = compute_inputs(y, spec=spec)
    return x[0] if spec.kind == "stats" else x


def _extract_one(i: int, path: str, pipeline_dict: dict, root: str, use_cache: bool) -> tuple[int, str, str]:
    """Worker: returns (i, status, digest-or-error). Status is cached, computed or failed."""
    pipeline = PipelineConfig.from_dict(pipeline_dict)
    store = FeatureStore(pipeline=pipeline, root=root)
    try:
        digest = file_digest(path)
    except OSError as exc:
        return i, "failed", f"{path}: cannot read the file ({exc.strerror or exc})"
    if use_cache and store.load(digest, mmap_mode="r") is not None:  # reads the header only
        return i, "cached", digest
    try:
        features = compute_track_features(path, pipeline=pipeline)
    except MusictagError as exc:
        return i, "failed", str(exc)
    except Exception as exc:  # noqa: BLE001 - one bad file must never abort the batch
        return i, "failed", f"{path}: unexpected {type(exc).__name__}: {exc}"
    store.save(digest, features)
    return i, "computed", digest


@dataclass
class ExtractionResult:
    """Outcome of :func:`extract_paths`.

    Attributes
    ----------
    paths : list of str
        Inputs, in order.
    digests : list of str or None
        Content digest per input (None where it failed).
    failures : dict
        Input path → error message for every file that failed.
    n_cached, n_computed : int
    seconds : float
        Wall time.
    store : FeatureStore
    """

    paths: list[str]
    digests: list[str | None]
    failures: dict[str, str]
    n_cached: int
    n_computed: int
    seconds: float
    store: FeatureStore
    _cache: dict = field(default_factory=dict, repr=False)

    @property
    def ok(self) -> list[int]:
        """Positions of the inputs that have features."""
        return [i for i, d in enumerate(self.digests) if d is not None]

    def features(self, i: int, *, mmap_mode: str | None = None) -> np.ndarray:
        """Features of input ``i`` (read from the store)."""
        digest = self.digests[i]
        if digest is None:
            raise ParameterError(f"{self.paths[i]} failed: {self.failures.get(self.paths[i])}")
        arr = self.store.load(digest, mmap_mode=mmap_mode)
        if arr is None:
            raise ParameterError(f"cache entry for {self.paths[i]} vanished; extract again")
        return arr

    def stacked(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """All successful frame features stacked along segments.

        Returns
        -------
        X : np.ndarray [shape=(n_segments_total, t, n_features)] (or ``(n_ok, n_stats)`` for stats)
        track_pos : np.ndarray [shape=(n_segments_total,)]
            Position of each row's input in ``paths``.
        starts_s : np.ndarray [shape=(n_segments_total,)]
        """
        arrays, pos, starts = [], [], []
        stats = self.store.pipeline.features.kind == "stats"
        for i in self.ok:
            a = self.features(i)
            if stats:
                a = a[None, :]
            arrays.append(a)
            pos.append(np.full(a.shape[0], i, dtype=np.int64))
            starts.append(self.store.segment_starts(a))
        if not arrays:
            raise ParameterError("no file could be extracted; see the failures")
        return np.concatenate(arrays), np.concatenate(pos), np.concatenate(starts)


def extract_paths(
    paths: Sequence[str | os.PathLike],
    *,
    pipeline: PipelineConfig | None = None,
    root: str | os.PathLike | None = None,
    n_jobs: int | None = None,
    progress: ProgressCallback | None = None,
    use_cache: bool = True,
    scheduler: str | None = None,
    scheduler_timeout: float = 30.0,
) -> ExtractionResult:
    """Extract features for many files in parallel, through the cache.

    Parameters
    ----------
    paths : sequence of str or path
    pipeline : PipelineConfig, optional
        Settings (default: 22050 Hz, ``tracks10`` segments, 13 MFCCs).
    root : str or path, optional
        Cache folder (default ``<cache_dir>/features``).
    n_jobs : int, optional
        Worker processes (default: the number of cores; 1 runs in this process).
    progress : callable(done, total), optional
        Called after each file.
    use_cache : bool
        If False, recompute (and overwrite) every entry.
    scheduler : str, optional
        Address of a Dask scheduler (``tcp://host:8786``); runs through joblib's
        dask backend instead of local processes. Its workers must be able to
        import musictag_core and read the paths and the cache folder.
    scheduler_timeout : float
        Seconds to wait for the scheduler before giving up.

    Returns
    -------
    ExtractionResult
    """
    from joblib import Parallel, delayed, parallel_config

    pipeline = pipeline or PipelineConfig()
    store = FeatureStore(pipeline=pipeline, root=root)
    store.folder.mkdir(parents=True, exist_ok=True)
    paths = [os.fspath(p) for p in paths]
    n = len(paths)
    n_jobs = n_jobs or os.cpu_count() or 1
    digests: list[str | None] = [None] * n
    failures: dict[str, str] = {}
    counts = {"cached": 0, "computed": 0}
    t0 = time.perf_counter()
    args = (pipeline.to_dict(), str(store.root), use_cache)
    client = None
    if scheduler is not None:
        try:
            from dask.distributed import Client
        except ImportError:
            raise ParameterError("a Dask scheduler needs the 'distributed' package: pip install distributed") from None
        try:
            client = Client(scheduler, timeout=scheduler_timeout, set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise ParameterError(f"cannot reach the Dask scheduler at {scheduler!r}: {exc}") from None
        backend = {"backend": "dask"}
    else:
        backend = {"backend": "loky"} if n_jobs != 1 and n > 1 else {"backend": "sequential"}
    with (client.as_current() if client is not None else _nullcontext()), parallel_config(**backend):
        results = Parallel(n_jobs=n_jobs, return_as="generator_unordered")(
            delayed(_extract_one)(i, p, *args) for i, p in enumerate(paths)
        )
        for done, (i, status, value) in enumerate(results, start=1):
            if status == "failed":
                failures[paths[i]] = value
            else:
                digests[i] = value
                counts[status] += 1
            if progress is not None:
                progress(done, n)
    if client is not None:
        client.close()
    store.update_manifest(d for d in digests if d is not None)
    return ExtractionResult(
        paths=paths,
        digests=digests,
        failures=failures,
        n_cached=counts["cached"],
        n_computed=counts["computed"],
        seconds=time.perf_counter() - t0,
        store=store,
    )


# ---------------------------------------------------------------- per-track arrays (model inputs)


class ArrayCache:
    """Per-track arrays on disk, keyed by file digest (plus a variant suffix) under a spec's folder.

    Parameters
    ----------
    spec : InputSpec
    root : str or path, optional
        Default ``<cache_dir>/inputs`` (``<cache_dir>/embeddings`` for embeddings).

    Notes
    -----
    Embeddings are kept per musicnn precision
    (:func:`~musictag_core.config.default_precision`): the folder of a precision other than
    float32 ends in ``-mixed`` or ``-bfloat16``.
    """

    def __init__(self, *, spec: InputSpec, root: str | os.PathLike | None = None) -> None:
        if root is None:
            from .paths import cache_dir

            root = cache_dir() / ("embeddings" if spec.kind == "embedding" else "inputs")
        self.spec = spec
        self.root = Path(root)
        # musicnn outputs depend on the forward pass's precision (mixed moves embeddings by up to
        # ~2e-2): arrays made in another precision are kept apart; float32 keeps the plain folder
        suffix = ""
        if spec.kind == "embedding":
            precision = default_precision()
            suffix = "" if precision == "float32" else f"-{precision}"
        self.folder = self.root / (spec.key() + suffix)

    def path_for(self, digest: str, variant: str = "") -> Path:
        """Where the array of a file digest (and variant) lives."""
        name = digest + (f"-{variant}" if variant else "")
        return self.folder / digest[:2] / f"{name}.npy"

    def load(self, digest: str, variant: str = "", *, mmap_mode: str | None = "r") -> np.ndarray | None:
        """The array (memory-mapped by default), or None when missing or unreadable."""
        try:
            return np.load(self.path_for(digest, variant), mmap_mode=mmap_mode, allow_pickle=False)
        except (OSError, ValueError, EOFError):
            return None

    def save(self, digest: str, array: np.ndarray, variant: str = "", *, dtype: Any = np.float32) -> Path:
        """Save an array (as ``dtype``, float32 by default, atomically) and the spec beside it; return its path."""
        path = self.path_for(digest, variant)
        atomic_save_npy(path, np.ascontiguousarray(array, dtype=dtype))
        meta = self.folder / "spec.json"
        if not meta.exists():
            atomic_write_json(meta, self.spec.to_dict())
        return path



def variant_key(params: dict[str, Any]) -> str:
    """Short hash of augmentation parameters (the cache suffix of an augmented variant)."""
    blob = json.dumps(params, sort_keys=True)
    return "aug" + hashlib.blake2b(blob.encode(), digest_size=6).hexdigest()



class MmapPool:
    """At most ``max_open`` read-only memory maps of ``.npy`` files, least recently used closed first.

    Every ``np.load(mmap_mode="r")`` keeps a file descriptor open for as long as the
    map lives. One map per track and variant is 5 000 descriptors for 1 000 tracks
    with 4 augmented variants, over the usual soft limit of 1 024 (``ulimit -n``).
    The pool maps a file when a batch needs it and drops the least recently used
    map beyond ``max_open``; the operating system's page cache keeps the data
    itself, so re-mapping costs only the header read (tens of microseconds).

    Parameters
    ----------
    max_open : int > 0
        Maps kept open at once. Arrays handed out keep their own map alive until
        they are dropped, so a batch in flight is never invalidated.
    """

    def __init__(self, *, max_open: int = 128) -> None:
        if isinstance(max_open, bool) or not isinstance(max_open, int) or max_open < 1:
            raise ParameterError(f"max_open must be a positive int, got {max_open!r}")
        self.max_open = max_open
        self._maps = BoundedCache(max_entries=max_open)

    def get(self, path: str) -> np.ndarray:
        """The memory map of ``path`` (opened now, or reused)."""
        mm = self._maps.get(path)
        if mm is None:
            mm = np.load(path, mmap_mode="r", allow_pickle=False)
            self._maps.put(path, mm)
        return mm

    def __len__(self) -> int:
        return len(self._maps)

    def clear(self) -> None:
        """Drop every map (their descriptors close once no array uses them)."""
        self._maps.clear()



#: The pool shared by the :class:`NpyFile` handles of a process.
DEFAULT_POOL = MmapPool()


class NpyFile:
    """A ``.npy`` file used like a read-only array without holding it open.

    ``shape``, ``dtype`` and ``ndim`` come from the header, read once; indexing
    maps the file through a :class:`MmapPool` and returns the indexed view.
    ``np.asarray(handle)`` reads the whole array.

    Parameters
    ----------
    path : str or path
    pool : MmapPool, optional
        Default :data:`DEFAULT_POOL`.

    Raises
    ------
    OSError, ValueError
        When the file is missing or is not a readable ``.npy`` file.
    """

    def __init__(self, path: str | os.PathLike, *, pool: MmapPool | None = None) -> None:
        self.path = str(path)
        self.pool = DEFAULT_POOL if pool is None else pool
        with open(self.path, "rb") as f:
            version = np.lib.format.read_magic(f)
            if version in ((1, 0), (2, 0)):
                read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
                shape, fortran, dtype = read(f)
            else:  # a newer format version: let numpy parse it
                mm = np.load(self.path, mmap_mode="r", allow_pickle=False)
                shape, fortran, dtype = mm.shape, False, mm.dtype
                del mm
        if fortran:
            raise ValueError(f"{self.path}: Fortran-ordered arrays are not supported here")
        self.shape: tuple[int, ...] = tuple(int(d) for d in shape)
        self.dtype = np.dtype(dtype)

    @property
    def ndim(self) -> int:
        """Number of dimensions (from the header)."""
        return len(self.shape)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key: Any) -> np.ndarray:
        return self.pool.get(self.path)[key]

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        return np.array(self.pool.get(self.path), dtype=dtype)

    def __repr__(self) -> str:
        return f"NpyFile({self.path!r}, shape={self.shape}, dtype={self.dtype})"
