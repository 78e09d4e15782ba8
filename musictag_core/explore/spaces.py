"""Feature spaces: one feature vector per track (or per 12 s segment) of a dataset.

:func:`feature_matrix` turns a :class:`~musictag_core.datasets.base.DatasetIndex`
into a matrix: MFCC statistics (optionally with deltas), log-mel band
statistics, the summary statistics vector, pretrained musicnn embeddings, or
the numeric columns of a feature table. Everything computed from audio goes through
:func:`musictag_core.inputs.compute_inputs` and is cached once, in the feature
cache (:mod:`musictag_core.store`): frame features and track statistics in its
:class:`~musictag_core.store.FeatureStore`, per-segment statistics (float64) and
embeddings per track in an :class:`~musictag_core.store.ArrayCache`, keyed by the
file's content and the :class:`~musictag_core.inputs.InputSpec`. :func:`load_matrix`
remembers matrices in a bounded in-memory cache; :func:`spaces_for` and
:func:`levels_for` say which spaces and levels exist for a dataset.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..config import SEGMENT_PRESETS, AudioConfig, PipelineConfig
from ..errors import AudioError, DatasetError, MusictagError, ParameterError
from .checks import ProgressCallback

if TYPE_CHECKING:  # pragma: no cover
    from ..datasets.base import DatasetIndex
    from ..inputs import InputSpec
    from ..lru import BoundedCache

__all__ = [
    "AUDIO_SPACES",
    "SPACES",
    "SPACE_LABELS",
    "feature_matrix",
    "levels_for",
    "load_matrix",
    "spaces_for",
]

#: Feature spaces :func:`feature_matrix` knows.
SPACES = ("mfcc_stats", "stats", "logmel_stats", "embedding_penultimate", "embedding_pooled", "table")

#: Feature spaces of datasets with audio (everything but ``table``).
AUDIO_SPACES = ("mfcc_stats", "stats", "logmel_stats", "embedding_penultimate", "embedding_pooled")

#: Human-readable names of the feature spaces.
SPACE_LABELS = {
    "mfcc_stats": "MFCC statistics (mean, std of 13 MFCCs)",
    "stats": "Summary statistics (spectral, rhythm, MFCC)",
    "logmel_stats": "Log-mel band statistics (128 bands)",
    "embedding_penultimate": "musicnn embedding (penultimate, 200-d)",
    "embedding_pooled": "musicnn embedding (pooled, 1506-d)",
    "table": "Feature-table columns",
}



#: Spaces with one vector per track (no segment level).
_TRACK_ONLY = ("table", "embedding_penultimate", "embedding_pooled")


def spaces_for(index: DatasetIndex) -> list[str]:
    """Feature spaces that exist for a dataset: ``table`` for feature tables, the audio spaces otherwise."""
    if index.features is not None:
        return ["table"]
    return list(AUDIO_SPACES)


def levels_for(space: str) -> list[str]:
    """``["track", "segment"]``, or ``["track"]`` for spaces with one vector per track."""
    if space in _TRACK_ONLY:
        return ["track"]
    return ["track", "segment"]


def feature_matrix(
    index: DatasetIndex,
    *,
    space: str = "mfcc_stats",
    level: str = "track",
    deltas: bool = False,
    pipeline: PipelineConfig | None = None,
    model: str = "MSD_musicnn",
    columns: Sequence[str] | None = None,
    cache: bool = True,
    n_jobs: int | None = None,
    progress: ProgressCallback | None = None,
) -> tuple[np.ndarray, list[str], pd.DataFrame]:
    """One feature vector per track (or per segment) of a dataset.

    MFCC and log-mel frames and the per-track statistics come from the feature
    store (:func:`musictag_core.store.extract_paths`), so a second call on the
    same files is a cache lookup; only the cheap mean/std over frames is
    recomputed.

    Parameters
    ----------
    index : DatasetIndex
    space : str
        One of :data:`SPACES`:
        ``mfcc_stats`` (mean and std over frames of each MFCC, plus the same
        for their deltas when ``deltas``); ``logmel_stats`` (mean and std of
        each log-mel band); ``stats`` (the summary statistics of
        :func:`musictag_core.features.track_statistics`);
        ``embedding_penultimate`` / ``embedding_pooled`` (the pretrained
        tagger's 200-d / pooled embedding, track level only); ``table`` (the
        numeric columns of a feature-table dataset).
    level : {"track", "segment"}
        One row per track (statistics over all its segments' frames) or one
        per segment (``pipeline.segments``: 12 s by default).
    deltas : bool
        Add delta-MFCC statistics (``mfcc_stats`` only).
    pipeline : PipelineConfig or None
        Decode / segment / frame settings (default: 22050 Hz, first 120 s,
        12 s segments, n_fft 2048, hop 512, 13 MFCCs, 128 mel bands); its
        ``features.kind`` is set from ``space``.
    model : str
        Pretrained model name for the embedding spaces.
    columns : sequence of str or None
        ``table`` only: which numeric columns (default all).
    cache : bool
        Read and write the feature store (False: recompute everything).
    n_jobs : int or None
        Extraction processes (default: one per core; 1 runs in this process).
    progress : callable or None
        ``progress(fraction, message)``.

    Returns
    -------
    X : np.ndarray [shape=(n_rows, n_features)], float64
    feature_names : list of str [shape=(n_features,)]
    row_meta : pd.DataFrame [shape=(n_rows, ...)]
        ``row`` (position in ``index``), ``track_id``, ``genre`` (strongest
        label), ``labels`` (present labels joined by ``|``), ``split``,
        ``artist``, ``path``, and with ``level="segment"`` also ``segment``
        and ``start_s``. ``row_meta.attrs["skipped"]`` maps unreadable track
        ids to the reason.

    Raises
    ------
    ParameterError
        Unknown space or level, or a combination that does not exist.
    DatasetError
        No track could be read, or a feature table has no usable columns.
    """
    if space not in SPACES:
        raise ParameterError(f"feature space must be one of {SPACES}, got {space!r}")
    if level not in ("track", "segment"):
        raise ParameterError(f"level must be 'track' or 'segment', got {level!r}")
    if deltas and space != "mfcc_stats":
        raise ParameterError(f"deltas only apply to space 'mfcc_stats', not {space!r}")
    if level == "segment" and space in _TRACK_ONLY:
        raise ParameterError(f"space {space!r} has one vector per track; use level='track'")
    base = _base_meta(index)
    if space == "table":
        return _table_matrix(index, base, columns)
    if columns is not None:
        raise ParameterError("columns only apply to space 'table'")
    pipeline = PipelineConfig() if pipeline is None else pipeline
    if space in ("mfcc_stats", "logmel_stats") or (space == "stats" and level == "track"):
        per_track, names, skipped = _rows_from_store(
            index, space=space, level=level, deltas=deltas, pipeline=pipeline, cache=cache, n_jobs=n_jobs,
            progress=progress,
        )
    else:
        per_track, names, skipped = _rows_computed_here(
            index, space=space, pipeline=pipeline, model=model, cache=cache, progress=progress
        )
    if not per_track:
        raise DatasetError(
            f"{index.name}: no track could be read for space {space!r}"
            + (f"; first error: {next(iter(skipped.values()))}" if skipped else "")
        )
    metas = []
    for i, (vals, starts) in per_track.items():
        m = base.iloc[np.full(len(vals), i)].reset_index(drop=True)
        if level == "segment":
            m["segment"] = np.arange(len(vals))
            m["start_s"] = np.asarray(starts, dtype=np.float64)
        metas.append(m)
    X = np.concatenate([v for v, _ in per_track.values()]).astype(np.float64)
    meta = pd.concat(metas, ignore_index=True)
    meta.attrs["skipped"] = skipped
    return X, names, meta


def _rows_from_store(index, *, space, level, deltas, pipeline, cache, n_jobs, progress):
    """Per-track rows from the feature store: {position: (rows, starts)}, names, skipped."""
    from ..store import extract_paths

    kind = {"mfcc_stats": "mfcc", "logmel_stats": "logmel", "stats": "stats"}[space]
    pl = dataclasses.replace(pipeline, features=dataclasses.replace(pipeline.features, kind=kind))
    paths = index.tracks["path"].astype(str).tolist()
    ids = index.tracks["track_id"].astype(str).tolist()
    report = None
    if progress:
        def report(done: int, total: int) -> None:
            progress(done / max(total, 1), f"features: {done}/{total} tracks")

    res = extract_paths(paths, pipeline=pl, n_jobs=n_jobs, use_cache=cache, progress=report)
    skipped = {ids[i]: res.failures.get(paths[i], "no features") for i in range(len(paths)) if res.digests[i] is None}
    per_track: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for i in res.ok:
        arr = np.asarray(res.features(i), dtype=np.float64)
        if kind == "stats":
            per_track[i] = (arr[None, :], np.zeros(1))
        else:
            per_track[i] = (_frame_stats(arr, level=level, deltas=deltas), res.store.segment_starts(arr))
    if kind == "stats":
        from ..features import STAT_NAMES

        d = next(iter(per_track.values()))[0].shape[1] if per_track else len(STAT_NAMES)
        names = list(STAT_NAMES) if d == len(STAT_NAMES) else [f"stat{j:03d}" for j in range(d)]
    else:
        names = _space_names(space, deltas=deltas, pipeline=pipeline)
    if progress:
        progress(1.0, "features ready")
    return per_track, names, skipped


def _frame_stats(frames: np.ndarray, *, level: str, deltas: bool) -> np.ndarray:
    """Mean and std over time of frame features [shape=(n_seg, t, F)] -> rows [shape=(1 or n_seg, 2F or 4F)]."""
    if deltas:
        import librosa

        T = frames.shape[1]
        width = min(9, T if T % 2 else T - 1)
        d = librosa.feature.delta(frames, width=width, axis=1) if width >= 3 else np.zeros_like(frames)
        parts = [frames, d]
    else:
        parts = [frames]
    out = []
    for f in parts:  # order: mfcc mean, mfcc std, then dmfcc mean, dmfcc std
        if level == "track":
            flat = f.reshape(-1, f.shape[2])
            out.append(np.concatenate([flat.mean(axis=0), flat.std(axis=0)])[None, :])
        else:
            out.append(np.concatenate([f.mean(axis=1), f.std(axis=1)], axis=1))
    return np.concatenate(out, axis=1)


def _rows_computed_here(index, *, space, pipeline, model, cache, progress):
    """Segment-level statistics and embeddings (the FeatureStore holds neither), cached per track in an ArrayCache."""
    spec = _track_spec(space, pipeline=pipeline, model=model)
    per_track: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    skipped: dict[str, str] = {}
    names: list[str] = []
    paths = index.tracks["path"].astype(str).tolist()
    ids = index.tracks["track_id"].astype(str).tolist()
    for i, (tid, path) in enumerate(zip(ids, paths)):
        if progress:
            progress(i / max(len(paths), 1), f"features: {tid}")
        try:
            vals, starts, found = _cached_track_rows(
                path, spec=spec, cache=cache, compute=lambda p=path: _track_rows(p, spec=spec, model=model),
            )
        except MusictagError as exc:
            skipped[tid] = str(exc)
            continue
        names = names or found
        per_track[i] = (vals, starts)
    if progress:
        progress(1.0, "features ready")
    return per_track, names, skipped


def _base_meta(index: DatasetIndex) -> pd.DataFrame:
    t = index.tracks
    y = index.y
    labels = np.asarray(index.labels, dtype=object)
    present = ["|".join(labels[np.flatnonzero(r)].tolist()) for r in y]
    return pd.DataFrame(
        {
            "row": np.arange(len(index)),
            "track_id": t["track_id"].astype(str).to_numpy(),
            "genre": index.genre.to_numpy() if len(index) else np.array([], dtype=object),
            "labels": present,
            "split": t["split"].to_numpy(),
            "artist": t["artist"].to_numpy(),
            "path": t["path"].astype(str).to_numpy(),
        }
    )


def _table_matrix(index: DatasetIndex, base: pd.DataFrame, columns: Sequence[str] | None):
    df = index.features
    if df is None:
        raise DatasetError(f"{index.name}: space 'table' needs a feature-table dataset (it has no feature columns)")
    if columns is not None:
        missing = [c for c in columns if c not in df.columns]
        if missing:
            raise ParameterError(f"column(s) {missing} not in the feature table; it has {list(df.columns)[:20]}")
        df = df[list(columns)]
    num = df.select_dtypes(include="number")
    if num.shape[1] == 0:
        raise DatasetError(f"{index.name}: the feature table has no numeric columns")
    bad = num.columns[num.isna().any()].tolist()
    if bad:
        raise DatasetError(
            f"{index.name}: feature column(s) {bad[:10]} have missing values; fill them or pick other columns"
        )
    meta = base.copy()
    meta.attrs["skipped"] = {}
    return num.to_numpy(dtype=np.float64), [str(c) for c in num.columns], meta


def _space_names(space: str, *, deltas: bool, pipeline: PipelineConfig) -> list[str] | None:
    fc = pipeline.features
    if space == "mfcc_stats":
        names = [f"mfcc{i + 1:02d}_{s}" for s in ("mean", "std") for i in range(fc.n_mfcc)]
        if deltas:
            names += [f"dmfcc{i + 1:02d}_{s}" for s in ("mean", "std") for i in range(fc.n_mfcc)]
        return names
    if space == "logmel_stats":
        return [f"mel{i + 1:03d}_{s}" for s in ("mean", "std") for i in range(fc.n_mels)]
    return None  # stats / embeddings: names come from the extractor


def _row_names(spec: InputSpec, n_columns: int) -> list[str]:
    """Column names of the rows :func:`_track_rows` computes for ``spec``."""
    if spec.kind == "embedding":
        return [f"{spec.embedding}_{i:04d}" for i in range(n_columns)]
    from ..features import stat_names

    return stat_names(spec.features.n_mfcc)


def _cached_track_rows(path: str, *, spec: InputSpec, cache: bool, compute: Callable):
    """A track's rows through the feature cache: ``(values, segment starts, names)``, computed once per content."""
    if not path or not Path(path).is_file():
        raise AudioError(path or "<no path>", "file not found")
    if not cache:
        return compute()
    from ..store import ArrayCache, file_digest

    store = ArrayCache(spec=spec)
    digest = file_digest(path)
    rows, starts = store.load(digest, mmap_mode=None), store.load(digest, "starts", mmap_mode=None)
    if rows is not None and starts is not None and rows.ndim == 2 and len(starts) == len(rows):
        return rows.astype(np.float64), starts.astype(np.float64), _row_names(spec, rows.shape[1])
    rows, starts, names = compute()
    # float64 as computed (segment statistics are float64; embeddings float32 values, stored exactly)
    store.save(digest, rows, dtype=np.float64)
    store.save(digest, starts, "starts", dtype=np.float64)
    return rows, starts, names


def _track_spec(space: str, *, pipeline: PipelineConfig, model: str) -> InputSpec:
    """The :class:`~musictag_core.inputs.InputSpec` of a space computed here (not held by the store).

    Embeddings: the musicnn ``model`` on the whole file at the model's rate
    (the rate is read when the model is loaded, see :func:`_track_rows`);
    segment statistics: ``pipeline``'s decode, cut and frame settings.
    """
    from ..inputs import InputSpec

    if space.startswith("embedding"):
        key = "penultimate" if space == "embedding_penultimate" else "pooled"
        return InputSpec(
            kind="embedding", audio=AudioConfig(duration=None), segments=SEGMENT_PRESETS["patches3"], embedding=key,
            backbone=model,
        )
    features = dataclasses.replace(pipeline.features, kind="stats")
    return InputSpec(kind="segment_stats", audio=pipeline.audio, segments=pipeline.segments, features=features)


def _track_rows(path: str, *, spec: InputSpec, model: str):
    """Rows of one track: (values [shape=(n_rows, d)], segment starts [shape=(n_rows,)], names)."""
    from ..audio import load_audio
    from ..inputs import Backbone, compute_inputs

    if spec.kind == "embedding":
        from ..models.loading import load_tagger

        tagger = load_tagger(model)
        if not isinstance(tagger, Backbone):
            raise ParameterError(f"space 'embedding_{spec.embedding}' needs a musicnn model, {model!r} is not one")
        audio = dataclasses.replace(spec.audio, sr=int(tagger.sr))
        y, _ = load_audio(path, config=audio)
        _, per_patch = compute_inputs(y, spec=dataclasses.replace(spec, audio=audio), backbone=tagger)
        vec = np.asarray(per_patch.mean(axis=0), dtype=np.float64).ravel()
        return vec[None, :], np.zeros(1), [f"{spec.embedding}_{i:04d}" for i in range(len(vec))]
    from ..features import stat_names

    y, _ = load_audio(path, config=spec.audio)
    starts, rows = compute_inputs(y, spec=spec)
    return rows, starts, stat_names(spec.features.n_mfcc)


def _copy_matrix(value: tuple[np.ndarray, list[str], pd.DataFrame]) -> tuple[np.ndarray, list[str], pd.DataFrame]:
    X, names, meta = value
    out = meta.copy()
    out.attrs = dict(meta.attrs)
    return X, list(names), out


def load_matrix(
    index: DatasetIndex,
    *,
    source_key: str,
    space: str = "mfcc_stats",
    level: str = "track",
    deltas: bool = False,
    cache: BoundedCache | None = None,
    n_jobs: int | None = None,
    progress: ProgressCallback | None = None,
) -> tuple[np.ndarray, list[str], pd.DataFrame]:
    """:func:`feature_matrix`, remembered in ``cache`` under (source, space, level, deltas).

    Parameters
    ----------
    index : DatasetIndex
    source_key : str
        :meth:`~musictag_core.explore.sources.DatasetSource.key` of the source ``index`` came from.
    space, level, deltas, n_jobs, progress
        As in :func:`feature_matrix` (``deltas`` is
        ignored outside ``mfcc_stats``).
    cache : BoundedCache or None
        Remembers matrices in memory (a hit returns a read-only ``X``).

    Returns
    -------
    X : np.ndarray [shape=(n_rows, n_features)] (read-only when cached)
    feature_names : list of str
    row_meta : pd.DataFrame
    """
    deltas = bool(deltas) and space == "mfcc_stats"
    key = (source_key, space, level, deltas)
    if cache is not None:
        hit = cache.get(key)
        if hit is not None:
            if progress:
                progress(1.0, "features from memory")
            return _copy_matrix(hit)
    X, names, meta = feature_matrix(index, space=space, level=level, deltas=deltas, n_jobs=n_jobs, progress=progress)
    if cache is not None:
        X = np.asarray(X)
        X.setflags(write=False)  # shared between callers
        cache.put(key, _copy_matrix((X, names, meta)))
    return X, list(names), meta

