"""Training data (the folds are planned by :mod:`~musictag_core.training.preflight`): each track's model inputs through the caches, targets and weights.

A run's :class:`~musictag_core.inputs.InputSpec` (:func:`input_spec`, saved as
``card["inputs"]``) says how a track becomes model inputs; training and the
tagger (:mod:`musictag_core.models.trained`) both call
:func:`~musictag_core.inputs.compute_inputs` with it. Inputs are computed once,
in parallel worker processes, and cached per file digest: frame features and
statistics in the feature store (:func:`musictag_core.store.extract_paths`),
the rest (random-crop clips, waveform pieces, musicnn embeddings, augmented
variants keyed by digest + augmentation parameters) in an
:class:`~musictag_core.store.ArrayCache`.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..augment import draw_params
from ..config import AudioConfig
from ..errors import MusictagError, TrainingError
from ..inputs import InputSpec
from ..store import variant_key
from .config import RunConfig
from .context import RunContext, StopRequested

__all__ = [
    "TrackData",
    "input_spec",
    "inputs_job",
    "open_npy",
    "prepare_inputs",
    "run_jobs",
    "sample_weights",
    "stratify_key",
    "targets",
    "variant_params",
]


def stratify_key(index, task: str) -> np.ndarray:  # noqa: ANN001
    """Per-track class used to stratify splits: the label (single), else the present label weighted by frequency."""
    if task == "single":
        return index.label_index
    # multi / regression: the most frequent present label keeps folds roughly balanced
    return np.argmax(index.y * (1 + index.y.sum(axis=0))[None, :], axis=1)


@dataclass
class TrackData:
    """Inputs of one track: one array per variant (variant 0 is the original audio)."""

    variants: list  # np.ndarray or store.NpyFile (read on demand)
    aug_params: list[dict | None]


def input_spec(cfg: RunConfig) -> InputSpec:
    """How this run turns a track into model inputs (saved as ``card["inputs"]``)."""
    kind = cfg.card.input_kind
    seg = cfg.segment_config()
    if kind == "embedding":
        # musicnn runs at 16 kHz on 3 s patches; fine-tuning reads its mel patches
        return InputSpec(
            kind="musicnn_patches" if cfg.fine_tune else "embedding",
            audio=AudioConfig(sr=16000, duration=seg.max_duration_s, allow_silence=True),
            segments=seg, features=None, embedding=cfg.embedding,
        )
    return InputSpec(
        kind=kind,
        audio=AudioConfig(sr=cfg.sr, duration=seg.max_duration_s, allow_silence=True),
        segments=seg,
        features=cfg.feature_config(),
    )


def variant_params(cfg: RunConfig, digest: str, k: int) -> dict[str, Any]:
    """Augmentation parameters of variant ``k`` of a file: drawn from (seed, file digest, k).

    So a second run with the same seed and augmentation settings asks for the
    same variants and finds them cached, whatever the split or track order.
    """
    rng = np.random.default_rng([cfg.seed, int(digest[:12], 16), k])
    return draw_params(cfg.augment, rng=rng)


def inputs_job(path: str, digest: str, spec_dict: dict, root: str, todo: list[tuple[str, dict | None]]) -> str | None:
    """Worker: decode ``path`` once, then compute and cache each (variant key, augmentation params).

    Returns None, or an error message.
    """
    from ..audio import load_audio
    from ..augment import apply_augmentation
    from ..inputs import compute_inputs
    from ..store import ArrayCache

    spec = InputSpec.from_dict(spec_dict)
    cache = ArrayCache(spec=spec, root=root)
    try:
        backbone = None
        if spec.needs_backbone:
            from ..models.loading import load_tagger

            backbone = load_tagger(spec.backbone)
        y, sr = load_audio(path, config=spec.audio)
        for key, params in todo:
            w = y if params is None else apply_augmentation(y, sr=sr, params=params)
            _, x = compute_inputs(w, spec=spec, for_training=True, backbone=backbone)
            cache.save(digest, x, key)
    except MusictagError as exc:
        return str(exc)
    except Exception as exc:  # noqa: BLE001 - reported per file
        return f"{path}: {type(exc).__name__}: {exc}"
    return None


def run_jobs(ctx: RunContext, jobs: list[tuple], *, what: str) -> dict[str, str]:
    """Run :func:`inputs_job` calls in parallel (embeddings: in this process); path -> error."""
    from joblib import Parallel, delayed

    if not jobs:
        return {}
    cfg = ctx.config
    in_process = jobs[0][2]["kind"] in ("embedding", "musicnn_patches")
    n_jobs = 1 if in_process else (cfg.n_jobs or os.cpu_count() or 1)
    failures: dict[str, str] = {}
    t0 = time.perf_counter()
    results = Parallel(n_jobs=n_jobs, backend="sequential" if n_jobs == 1 else "loky", return_as="generator")(
        delayed(inputs_job)(*job) for job in jobs
    )
    for done, (job, err) in enumerate(zip(jobs, results), start=1):
        if err is not None:
            failures[job[0]] = err
        if done % 25 == 0 or done == len(jobs):
            ctx.log(f"{what}: {done}/{len(jobs)} files", done=done, total=len(jobs))
        if ctx.stop_requested():
            raise StopRequested
    ctx.log(f"{what}: done", files=len(jobs), seconds=round(time.perf_counter() - t0, 2), failed=len(failures))
    return failures


def prepare_inputs(ctx: RunContext, index, rows: np.ndarray, *, augment: bool, rng: np.random.Generator) -> dict[int, TrackData]:  # noqa: ANN001
    """Model inputs of the tracks in ``rows``, through the caches (memory-mapped arrays).

    Variant 0 is the original audio; with augmentation on (``augment=True``,
    waveform / frame-feature models) ``n_variants`` augmented variants follow.
    Frame features and statistics of the original audio go through
    :func:`musictag_core.store.extract_paths` (shared with ``extract``);
    everything else (random-crop clips, waveform pieces, musicnn embeddings or
    patches, augmented variants) through a :class:`~musictag_core.store.ArrayCache`.
    Files are decoded and described in parallel worker processes, once.
    """
    from ..store import ArrayCache, extract_paths, file_digest

    cfg = ctx.config
    spec = input_spec(cfg)
    rows = np.asarray(rows)
    if spec.kind == "stats" and index.features is not None:
        table = index.features.to_numpy(np.float64)
        return {int(r): TrackData([table[r][None, :]], [None]) for r in rows}
    paths = [str(index.tracks["path"].iloc[r]) for r in rows]
    digests = []
    for p in paths:
        try:
            digests.append(file_digest(p))
        except OSError as exc:
            raise TrainingError(f"{p}: cannot read the audio file ({exc.strerror or exc}); fix or remove it") from None
    use_aug = augment and cfg.augment.enabled and spec.kind in ("logmel", "mfcc", "waveform", "musicnn_patches")
    variant_keys = [[] for _ in rows]  # augmented variant keys per row
    params_of: list[list[dict]] = [[] for _ in rows]
    if use_aug:
        for j, d in enumerate(digests):
            for k in range(cfg.n_variants):
                p = variant_params(cfg, d, k)
                params_of[j].append(p)
                variant_keys[j].append(variant_key(p))
    cache = ArrayCache(spec=spec)
    pipeline = spec.pipeline()
    failures: dict[str, str] = {}
    base: list = [None] * len(rows)
    if pipeline is not None:
        def progress(done: int, total: int) -> None:
            if done % 25 == 0 or done == total:
                ctx.log(f"features: {done}/{total} files", done=done, total=total)

        res = extract_paths(paths, pipeline=pipeline, n_jobs=cfg.n_jobs, progress=progress)
        ctx.log("features: done", cached=res.n_cached, computed=res.n_computed, seconds=round(res.seconds, 2))
        failures.update(res.failures)
        for j in res.ok:
            a = open_npy(res.store.path_for(res.digests[j]))
            if a is None:
                raise TrainingError(f"{paths[j]}: cache entry vanished while training; run again")
            base[j] = np.asarray(a)[None, :] if a.ndim == 1 else a  # statistics are stored as (n_stats,)
    jobs = []
    for j, (p, d) in enumerate(zip(paths, digests)):
        if p in failures:
            continue
        todo = [] if pipeline is not None or cache.path_for(d).exists() else [("", None)]
        todo += [(key, prm) for key, prm in zip(variant_keys[j], params_of[j]) if not cache.path_for(d, key).exists()]
        if todo:
            jobs.append((p, d, spec.to_dict(), str(cache.root), todo))
    what = {"embedding": "musicnn embeddings", "musicnn_patches": "musicnn patches"}.get(spec.kind, "inputs")
    if use_aug:
        ctx.log(f"augmentation: {cfg.n_variants} variants per training track", tracks=len(rows), jobs=len(jobs))
    failures.update(run_jobs(ctx, jobs, what=what + (" and augmented variants" if use_aug else "")))
    if failures:
        shown = "; ".join(f"{k}: {v}" for k, v in list(failures.items())[:5])
        raise TrainingError(f"{len(failures)} file(s) could not be read or described: {shown}; fix or remove them")
    out: dict[int, TrackData] = {}
    for j, (r, d) in enumerate(zip(rows, digests)):
        first = base[j] if base[j] is not None else open_npy(cache.path_for(d))
        arrays = [first] + [open_npy(cache.path_for(d, key)) for key in variant_keys[j]]
        if any(a is None for a in arrays):
            raise TrainingError(f"{paths[j]}: cache entry vanished while training; run again")
        out[int(r)] = TrackData(arrays, [None, *params_of[j]])
    return out


def open_npy(path: Path):  # noqa: ANN202
    """A :class:`~musictag_core.store.NpyFile` handle (no descriptor held), or None when unreadable."""
    from ..store import NpyFile

    try:
        return NpyFile(path)
    except (OSError, ValueError, EOFError):
        return None


def targets(index, task: str) -> np.ndarray:  # noqa: ANN001
    """Training targets per track: one-hot (single), 0/1 (multi) or strengths 0–100 (regression); ``[shape=(n_tracks, n_labels)]``."""
    if task == "single":
        return np.eye(len(index.labels), dtype=np.float32)[index.label_index]
    if task == "multi":
        return index.y.astype(np.float32)
    return index.strengths.astype(np.float32)


def sample_weights(Y: np.ndarray, task: str) -> np.ndarray:
    """Balanced class weights turned into per-example weights."""
    if task == "regression":
        Y = (Y >= 50).astype(np.float32)
    counts = Y.sum(axis=0)
    w = np.where(counts > 0, Y.shape[0] / (Y.shape[1] * np.maximum(counts, 1)), 0.0)
    present = Y.sum(axis=1)
    return np.where(present > 0, (Y * w).sum(axis=1) / np.maximum(present, 1), 1.0).astype(np.float32)
