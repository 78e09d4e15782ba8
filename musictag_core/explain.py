"""What the model listened to: occlusion saliency of one tag, on the model's own input.

For a model whose input is a spectrogram (the shipped musicnn / VGG taggers, and
training runs on log-mel frames or musicnn patches), :func:`explain_array` masks
time-frequency cells of the model's own input, by default 0.5 s x 8 mel bands,
setting each cell to its mean, and records how much the tag's **track score**
(the mean of the segment scores, as in plain tagging) drops. A masked cell
changes only its own segment, so each segment is occluded on its own and only
the segments the track score reads are occluded; all masked copies go through
the model in large batches. For musicnn taggers only the part of the network a
cell changes is recomputed (:class:`~musictag_core.models.musicnn.occlusion.MusicnnOcclusion`: about 2.8x less CPU, the
same scores to float32 rounding). The result is a heatmap (band groups x time cells)
aligned with the mel spectrogram the model saw.

Models reading raw audio, statistics, MFCCs or musicnn embeddings get
per-segment occlusion of the waveform instead: each ``time_s`` window of the
audio is replaced by its mean and the track is tagged again (one band group).

Faithfulness: :func:`deletion_test` deletes (masks) the most salient fraction of
the cells at once and compares the score drop with deleting a random fraction
of the same size, averaged over seeds; :func:`deletion_curve` does so at
several fractions.

>>> ex = explain_file("blues.00000.wav", tag="blues")  # doctest: +SKIP
>>> ex.saliency.shape  # doctest: +SKIP
(12, 60)
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .audio import AudioSource, source_name
from .errors import ParameterError
from .models.loading import Tagger
from .models.musicnn.occlusion import occluder
from .predict import DEFAULT_MAX_DURATION_S, display_params, resolve_tagger
from .robustness import decode_like_tagging

__all__ = [
    "Explanation",
    "deletion_curve",
    "deletion_test",
    "explain_array",
    "explain_file",
    "render_png",
]

#: Seconds of one occluded time cell and mel bands of one band group (the issue's 0.5 s x 8 bands).
DEFAULT_TIME_S = 0.5
DEFAULT_BANDS = 8
#: Fraction of the time-frequency area that :func:`deletion_test` deletes, and its seeds.
DELETION_FRACTION = 0.1
DELETION_SEEDS = 5
#: Masked copies per forward call (bounds memory: a musicnn patch is 72 kB).
BATCH = 512
#: Patches whose unmasked front end the musicnn occluder
#: (:class:`~musictag_core.models.musicnn.occlusion.MusicnnOcclusion`) holds at once.
OCCLUDER_SEGMENTS = 2


@dataclass(frozen=True)
class _Grid:
    """A model's spectrogram input and how to score it."""

    x: np.ndarray  # (n_seg, frames, bands)
    starts_s: np.ndarray  # (n_seg,)
    frame_s: float
    band_hz: np.ndarray  # (bands + 1,) lower edge of every band, then the top
    score: Callable[[np.ndarray], np.ndarray]  # (m, frames, bands) -> (m, n_labels)
    occluder: Any = None  # MusicnnOcclusion for musicnn taggers: one-cell masks without a full forward pass


@dataclass(frozen=True)
class Explanation:
    """Occlusion saliency of one tag on one track.

    Attributes
    ----------
    path, model, tag : str
    score : float
        The tag's track score (mean of the segment scores).
    saliency : np.ndarray [shape=(n_groups, n_cells)]
        Drop of the track score when a cell is masked (band groups low to high,
        time cells in time order). Negative values: masking raised the score.
    bands_hz : np.ndarray [shape=(n_groups + 1,)]
        Edges of the band groups in Hz.
    times_s : np.ndarray [shape=(n_cells,)]
        Start of every time cell.
    cell_s : float
        Seconds of a time cell (the last cell of a segment may be a frame longer).
    method : str
        ``"spectrogram"`` (cells of the model's mel input) or ``"segments"``
        (waveform windows, one band group).
    deletion : dict
        ``salient_drop`` and ``random_drop`` (see :func:`deletion_test`), ``fraction``,
        ``seeds``; ``curve`` when :func:`explain_array` was asked for one.
    mel : np.ndarray [shape=(n_mels, n_frames)]
        What to draw under the heatmap: the model's own input (spectrogram models)
        or the track's log-mel in dB with the model's display settings.
    mel_times_s : np.ndarray [shape=(n_frames,)]
    band_bins : np.ndarray [shape=(n_groups + 1,)]
        Edges of the band groups in rows of ``mel``.
    seconds : float
        Time taken by the occlusion and the deletion test (decoding excluded).
    n_masked : int
        Masked copies scored.
    """

    path: str
    model: str
    tag: str
    score: float
    saliency: np.ndarray
    bands_hz: np.ndarray
    times_s: np.ndarray
    cell_s: float
    method: str
    deletion: dict[str, Any]
    mel: np.ndarray = field(repr=False)
    mel_times_s: np.ndarray = field(repr=False)
    band_bins: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0, dtype=int))
    seconds: float = 0.0
    n_masked: int = 0

    def to_dict(self, *, decimals: int = 6) -> dict[str, Any]:
        """The JSON of ``musictag explain --json``: ``path``, ``model``, ``tag``, ``score``,
        ``saliency`` (band groups x time cells), ``bands_hz``, ``times_s`` and ``deletion``
        (``salient_drop``, ``random_drop``)."""
        if isinstance(decimals, bool) or not isinstance(decimals, int) or not 0 <= decimals <= 12:
            raise ParameterError(f"decimals must be an integer between 0 and 12, got {decimals!r}")
        r = lambda v: round(float(v), decimals)  # noqa: E731
        return {
            "path": self.path,
            "model": self.model,
            "tag": self.tag,
            "score": r(self.score),
            "saliency": [[r(v) for v in row] for row in self.saliency],
            "bands_hz": [round(float(v), 1) for v in self.bands_hz],
            "times_s": [round(float(v), 4) for v in self.times_s],
            "deletion": {"salient_drop": r(self.deletion["salient_drop"]), "random_drop": r(self.deletion["random_drop"])},
        }

    def top_regions(self, k: int = 3) -> list[dict[str, float]]:
        """The ``k`` most salient cells: ``start_s``, ``end_s``, ``low_hz``, ``high_hz``, ``drop``."""
        flat = np.argsort(-self.saliency, axis=None)[:k]
        out = []
        for f in flat:
            g, c = np.unravel_index(f, self.saliency.shape)
            out.append({
                "start_s": float(self.times_s[c]), "end_s": float(self.times_s[c] + self.cell_s),
                "low_hz": float(self.bands_hz[g]), "high_hz": float(self.bands_hz[g + 1]),
                "drop": float(self.saliency[g, c]),
            })
        return out


# ---------------------------------------------------------------- the model's input as a grid


def _mel_edges(*, n_mels: int, sr: int, fmin: float = 0.0, fmax: float | None = None) -> np.ndarray:
    """Band edges in Hz of librosa's mel filters: lower edge of each filter's peak region, then fmax."""
    import librosa

    fmax = sr / 2.0 if fmax is None else float(fmax)
    pts = librosa.mel_frequencies(n_mels + 2, fmin=fmin, fmax=fmax)
    # filter k peaks at pts[k + 1]; its share of the axis is between the midpoints around the peak
    centres = pts[1:-1]
    mids = (centres[:-1] + centres[1:]) / 2.0
    return np.concatenate([[fmin], mids, [fmax]])


def _spectrogram_grid(tagger: Tagger, y: np.ndarray) -> _Grid | None:
    """The tagger's own spectrogram input of ``y``, or None when its input is not a mel spectrogram."""
    spec = getattr(tagger, "spec", None)
    if spec is None:
        patches, forward = getattr(tagger, "patches", None), getattr(tagger, "forward", None)
        if not (callable(patches) and callable(forward) and hasattr(tagger, "n_mels")):
            return None
        x, starts = patches(y)
        return _Grid(
            x=np.asarray(x, np.float32), starts_s=np.asarray(starts, np.float64),
            frame_s=tagger.hop_length / tagger.sr, band_hz=_mel_edges(n_mels=tagger.n_mels, sr=tagger.sr),
            score=lambda batch: forward(batch)["tags"], occluder=occluder(tagger),
        )
    score_inputs = getattr(tagger, "score_inputs", None)
    if not callable(score_inputs):
        return None
    if spec.kind == "logmel":
        fc = spec.features
        starts, x = tagger.inputs(y)
        return _Grid(
            x=np.asarray(x, np.float32), starts_s=np.asarray(starts, np.float64), frame_s=fc.hop_length / fc.sr,
            band_hz=_mel_edges(n_mels=fc.n_mels, sr=fc.sr, fmin=fc.fmin, fmax=fc.fmax), score=score_inputs,
        )
    backbone = getattr(tagger, "backbone", None)
    if spec.kind == "musicnn_patches" and backbone is not None:
        starts, x = tagger.inputs(y)
        return _Grid(
            x=np.asarray(x, np.float32), starts_s=np.asarray(starts, np.float64),
            frame_s=backbone.hop_length / backbone.sr, band_hz=_mel_edges(n_mels=backbone.n_mels, sr=backbone.sr),
            score=score_inputs,
        )
    return None


def _bounds(n: int, step: int) -> list[tuple[int, int]]:
    """``[0, n)`` in pieces of ``step``; a remainder under half a step joins the last piece."""
    step = max(1, min(int(step), n))
    edges = list(range(0, n, step))
    if len(edges) > 1 and n - edges[-1] < step / 2:
        edges.pop()
    edges.append(n)
    return list(zip(edges[:-1], edges[1:]))


def _score_batches(score: Callable[[np.ndarray], np.ndarray], x: np.ndarray, j: int) -> np.ndarray:
    out = [np.asarray(score(x[i : i + BATCH]), dtype=np.float64)[:, j] for i in range(0, len(x), BATCH)]
    return np.concatenate(out) if out else np.zeros(0)


def _mask(x: np.ndarray, cells: Sequence[tuple[int, int, int, int, int]]) -> np.ndarray:
    """Copy of the segments ``x`` with each ``(seg, t0, t1, b0, b1)`` cell set to its mean."""
    out = x.copy()
    for s, t0, t1, b0, b1 in cells:
        out[s, t0:t1, b0:b1] = x[s, t0:t1, b0:b1].mean()
    return out


# ---------------------------------------------------------------- occlusion


def _check(name: str, value: Any, *, integer: bool = False) -> None:
    ok = not isinstance(value, bool) and isinstance(value, (int,) if integer else (int, float)) and math.isfinite(value) and value > 0
    if not ok:
        raise ParameterError(f"{name} must be a positive {'integer' if integer else 'number'}, got {value!r}")


def _tag_index(tagger: Tagger, tag: str) -> int:
    labels = list(tagger.labels)
    if tag not in labels:
        raise ParameterError(f"unknown tag {tag!r} for model {tagger.name}; its tags are: {', '.join(labels)}")
    return labels.index(tag)


def explain_array(
    y: np.ndarray,
    *,
    sr: int,
    tag: str,
    model: str | os.PathLike | Tagger = "MSD_musicnn",
    name: str = "<array>",
    time_s: float = DEFAULT_TIME_S,
    bands: int = DEFAULT_BANDS,
    deletion_fractions: Sequence[float] = (),
    seeds: int = DELETION_SEEDS,
    incremental: bool = True,
    runs_dir: str | os.PathLike | None = None,
) -> Explanation:
    """Occlusion saliency of ``tag`` on a waveform.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]
        Mono waveform at ``sr`` (resampled to the model's rate if different).
    sr : int
    tag : str
        One of the model's labels.
    model : str, Path or Tagger
    name : str
        Reported as ``path``.
    time_s : float
        Seconds per occluded time cell (default 0.5).
    bands : int
        Mel bands per band group (default 8).
    deletion_fractions : sequence of float
        Also compute the deletion curve at these fractions (``deletion["curve"]``).
    seeds : int
        Random deletions averaged per fraction (default 5).
    incremental : bool
        For musicnn taggers, recompute only the part of the network a masked cell
        changes (the same scores to float32 rounding, about 3x less work); ``False``
        runs every masked patch through the whole network (the reference).
    runs_dir : str or Path, optional

    Returns
    -------
    Explanation

    Raises
    ------
    ParameterError
        ``tag`` is not one of the model's labels (the message lists them).
    """
    from .audio import resample, valid_audio
    from .inputs import display_features

    _check("time_s", time_s)
    _check("bands", bands, integer=True)
    _check("seeds", seeds, integer=True)
    tagger = resolve_tagger(model, runs_dir)
    j = _tag_index(tagger, tag)
    valid_audio(np.asarray(y), name=name)
    y = np.asarray(y, dtype=np.float32)
    if y.ndim == 2:
        y = y.mean(axis=0)
    if sr != tagger.sr:
        y = resample(y, orig_sr=int(sr), target_sr=tagger.sr)
    t0 = time.perf_counter()
    grid = _spectrogram_grid(tagger, y)
    if grid is not None and not incremental:
        grid = dataclasses.replace(grid, occluder=None)
    if grid is not None:
        ex = _explain_grid(grid, j=j, time_s=float(time_s), bands=int(bands), fractions=deletion_fractions, seeds=int(seeds))
    else:
        params = display_params(tagger)
        S_db, _ = display_features(y, sr=tagger.sr, **params)
        ex = _explain_waveform(tagger, y, j=j, time_s=float(time_s), fractions=deletion_fractions, seeds=int(seeds))
        ex["mel"] = S_db
        ex["mel_times_s"] = np.arange(S_db.shape[1]) * params["hop_length"] / tagger.sr
        ex["band_bins"] = np.array([0, S_db.shape[0]])
    return Explanation(path=name, model=tagger.name, tag=tag, seconds=time.perf_counter() - t0, **ex)


def _explain_grid(grid: _Grid, *, j: int, time_s: float, bands: int, fractions, seeds: int) -> dict[str, Any]:
    x = grid.x
    n_seg, n_frames, n_bands = x.shape
    t_cells = _bounds(n_frames, int(round(time_s / grid.frame_s)))
    b_cells = _bounds(n_bands, bands)
    base = _score_batches(grid.score, x, j)  # (n_seg,)
    # every masked copy: one segment with one cell at its mean
    cells = [(s, t0, t1, b0, b1) for s in range(n_seg) for (t0, t1) in t_cells for (b0, b1) in b_cells]
    n_t, n_b = len(t_cells), len(b_cells)
    scores = np.empty(len(cells))
    if grid.occluder is not None:
        per_seg = n_t * n_b
        for s0 in range(0, n_seg, OCCLUDER_SEGMENTS):  # a few patches at a time bounds the front-end copies
            s1 = min(n_seg, s0 + OCCLUDER_SEGMENTS)
            parts = grid.occluder.prepare(x[s0:s1], b_cells)
            sub = [(s - s0, t0, t1, k % n_b, b0, b1) for k, (s, t0, t1, b0, b1) in
                   enumerate(cells[s0 * per_seg : s1 * per_seg], start=s0 * per_seg)]
            scores[s0 * per_seg : s1 * per_seg] = grid.occluder.score(parts, sub, j)
    else:
        for i in range(0, len(cells), BATCH):  # fill and score in slices, so memory stays bounded
            chunk = cells[i : i + BATCH]
            masked = x[[c[0] for c in chunk]]  # fancy indexing copies
            for k, (s, t0, t1, b0, b1) in enumerate(chunk):
                masked[k, t0:t1, b0:b1] = x[s, t0:t1, b0:b1].mean()
            scores[i : i + BATCH] = _score_batches(grid.score, masked, j)
    drop = (np.repeat(base, n_t * n_b) - scores) / n_seg  # loss of the track score
    sal = drop.reshape(n_seg, n_t, n_b).transpose(2, 0, 1).reshape(n_b, n_seg * n_t)
    times = (grid.starts_s[:, None] + np.array([t0 for t0, _ in t_cells])[None, :] * grid.frame_s).ravel()
    order = np.argsort(times, kind="stable")
    # saliency index (band group, segment * n_t + time cell) -> cell, before sorting by time
    cell_of = {(bi, s * n_t + ti): cells[(s * n_t + ti) * n_b + bi] for s in range(n_seg) for ti in range(n_t) for bi in range(n_b)}

    def track_score(deleted: list[tuple[int, int]]) -> float:
        xm = _mask(x, [cell_of[c] for c in deleted])
        return float(_score_batches(grid.score, xm, j).mean())

    deletion = _deletion(sal, track_score, base=float(base.mean()), fractions=fractions, seeds=seeds)
    band_edges = np.array([grid.band_hz[b0] for b0, _ in b_cells] + [grid.band_hz[n_bands]])
    mel = x.reshape(n_seg * n_frames, n_bands).T
    mel_times = (grid.starts_s[:, None] + np.arange(n_frames)[None, :] * grid.frame_s).ravel()
    return {
        "score": float(base.mean()), "saliency": sal[:, order], "bands_hz": band_edges, "times_s": times[order],
        "cell_s": float(t_cells[0][1] - t_cells[0][0]) * grid.frame_s, "method": "spectrogram", "deletion": deletion,
        "mel": mel, "mel_times_s": mel_times, "n_masked": len(cells),
        "band_bins": np.array([b0 for b0, _ in b_cells] + [n_bands]),
    }


def _explain_waveform(tagger: Tagger, y: np.ndarray, *, j: int, time_s: float, fractions, seeds: int) -> dict[str, Any]:
    """Per-segment occlusion of the waveform (models whose input is not a mel spectrogram)."""

    def track_score(yy: np.ndarray) -> float:
        _, seg = tagger.predict(yy)
        return float(np.asarray(seg, dtype=np.float64)[:, j].mean())

    n = len(y)
    cells = _bounds(n, int(round(time_s * tagger.sr)))
    base = track_score(y)

    def masked(windows: list[tuple[int, int]]) -> np.ndarray:
        out = y.copy()
        for a, b in windows:
            out[a:b] = y[a:b].mean()
        return out

    sal = np.array([[base - track_score(masked([c])) for c in cells]])
    deletion = _deletion(sal, lambda deleted: track_score(masked([cells[c] for _, c in deleted])), base=base,
                         fractions=fractions, seeds=seeds)
    return {
        "score": base, "saliency": sal, "bands_hz": np.array([0.0, tagger.sr / 2.0]),
        "times_s": np.array([a / tagger.sr for a, _ in cells]), "cell_s": (cells[0][1] - cells[0][0]) / tagger.sr,
        "method": "segments", "deletion": deletion, "n_masked": len(cells),
    }


# ---------------------------------------------------------------- faithfulness


def _deletion(sal: np.ndarray, track_score: Callable[[list[tuple[int, int]]], float], *, base: float,
              fractions: Sequence[float], seeds: int) -> dict[str, Any]:
    out = deletion_test(sal, track_score, base=base, fraction=DELETION_FRACTION, seeds=seeds)
    if fractions:
        out["curve"] = deletion_curve(sal, track_score, base=base, fractions=fractions, seeds=seeds)
    return out


def deletion_test(
    saliency: np.ndarray,
    track_score: Callable[[list[tuple[int, int]]], float],
    *,
    base: float,
    fraction: float = DELETION_FRACTION,
    seeds: int = DELETION_SEEDS,
) -> dict[str, Any]:
    """Score drop after deleting the most salient ``fraction`` of the cells, and a random ``fraction``.

    Parameters
    ----------
    saliency : np.ndarray [shape=(n_groups, n_cells)]
    track_score : callable(list of (group, cell)) -> float
        The track score with those cells deleted (masked to their means).
    base : float
        The undeleted track score.
    fraction : float
        Share of the cells deleted (at least one cell).
    seeds : int
        Random deletions averaged (seeds ``0 .. seeds-1``).

    Returns
    -------
    dict
        ``salient_drop``, ``random_drop`` (mean over seeds), ``random_drops`` (each seed),
        ``fraction``, ``n_cells`` (deleted), ``seeds``.
    """
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0 < fraction <= 1:
        raise ParameterError(f"fraction must be in (0, 1], got {fraction!r}")
    shape = saliency.shape
    total = int(np.prod(shape))
    k = max(1, int(round(fraction * total)))
    flat = np.argsort(-saliency, axis=None, kind="stable")[:k]
    salient = [tuple(int(v) for v in np.unravel_index(f, shape)) for f in flat]
    drops = []
    for seed in range(int(seeds)):
        pick = np.random.default_rng(seed).choice(total, size=k, replace=False)
        drops.append(base - track_score([tuple(int(v) for v in np.unravel_index(f, shape)) for f in pick]))
    return {
        "salient_drop": base - track_score(salient),
        "random_drop": float(np.mean(drops)),
        "random_drops": [float(d) for d in drops],
        "fraction": float(fraction),
        "n_cells": k,
        "seeds": int(seeds),
    }


def deletion_curve(
    saliency: np.ndarray,
    track_score: Callable[[list[tuple[int, int]]], float],
    *,
    base: float,
    fractions: Sequence[float] = (0.05, 0.1, 0.2, 0.3, 0.5),
    seeds: int = DELETION_SEEDS,
) -> list[dict[str, float]]:
    """:func:`deletion_test` at several fractions: ``[{"fraction", "salient_drop", "random_drop"}]``."""
    rows = []
    for f in fractions:
        d = deletion_test(saliency, track_score, base=base, fraction=f, seeds=seeds)
        rows.append({"fraction": float(f), "salient_drop": float(d["salient_drop"]), "random_drop": float(d["random_drop"])})
    return rows


# ---------------------------------------------------------------- files and pictures


def explain_file(
    source: AudioSource,
    *,
    tag: str,
    model: str | os.PathLike | Tagger = "MSD_musicnn",
    max_duration: float | None = DEFAULT_MAX_DURATION_S,
    time_s: float = DEFAULT_TIME_S,
    bands: int = DEFAULT_BANDS,
    deletion_fractions: Sequence[float] = (),
    seeds: int = DELETION_SEEDS,
    runs_dir: str | os.PathLike | None = None,
) -> Explanation:
    """Decode a file as :func:`~musictag_core.predict.tag_file` does and explain ``tag`` (:func:`explain_array`)."""
    tagger = resolve_tagger(model, runs_dir)
    _tag_index(tagger, tag)  # refuse an unknown tag before decoding
    y, sr = decode_like_tagging(source, tagger=tagger, max_duration=max_duration)
    return explain_array(
        y, sr=sr, tag=tag, model=tagger, name=source_name(source), time_s=time_s, bands=bands,
        deletion_fractions=deletion_fractions, seeds=seeds,
    )


def _normalise(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    lo, hi = np.nanpercentile(a, 1), np.nanpercentile(a, 99.5)
    return np.clip((a - lo) / (hi - lo if hi > lo else 1.0), 0.0, 1.0)


def render_png(explanation: Explanation, path: str | os.PathLike, *, width: int = 1200, height: int = 420) -> None:
    """Draw the mel spectrogram (grey) with the saliency (red, positive drops only) on top, as a PNG (Pillow).

    Parameters
    ----------
    explanation : Explanation
    path : str or Path
        The PNG to write (written atomically).
    width, height : int
        Pixels of the picture area (a title line and a time axis are added).
    """
    from PIL import Image, ImageDraw

    from .fileio import atomic_save

    _check("width", width, integer=True)
    _check("height", height, integer=True)
    ex = explanation
    mel = _normalise(ex.mel)[::-1]  # low bands at the bottom
    grey = (mel * 255).astype(np.uint8)
    base = Image.fromarray(grey, mode="L").resize((width, height), Image.Resampling.BILINEAR).convert("RGB")
    # saliency on the same time axis: every mel frame gets the value of the cell it lies in
    t_end = float(ex.mel_times_s[-1]) if len(ex.mel_times_s) else 1.0
    col = np.clip(np.searchsorted(ex.times_s, ex.mel_times_s, side="right") - 1, 0, len(ex.times_s) - 1)
    inside = ex.mel_times_s < ex.times_s[col] + ex.cell_s + 1e-9
    sal = np.where(inside[None, :], ex.saliency[:, col], 0.0)
    peak = float(sal.max()) if sal.size and sal.max() > 0 else 1.0
    heat = np.clip(sal / peak, 0, 1)
    # band groups to mel rows
    n_rows = mel.shape[0]
    edges = ex.band_bins if len(ex.band_bins) == heat.shape[0] + 1 else np.linspace(0, n_rows, heat.shape[0] + 1).round().astype(int)
    rows = np.zeros((n_rows, heat.shape[1]))
    for g in range(heat.shape[0]):
        rows[edges[g] : edges[g + 1]] = heat[g]
    alpha = Image.fromarray((rows[::-1] * 200).astype(np.uint8), mode="L").resize((width, height), Image.Resampling.NEAREST)
    red = Image.new("RGB", (width, height), (230, 30, 30))
    picture = Image.composite(red, base, alpha)
    top, bottom = 24, 22
    canvas = Image.new("RGB", (width, height + top + bottom), "white")
    canvas.paste(picture, (0, top))
    draw = ImageDraw.Draw(canvas)
    title = (f"{os.path.basename(ex.path)} - {ex.model}: '{ex.tag}' (track score {ex.score:.3f}); red = score lost "
             f"when masked ({ex.method}, peak {peak:.4f})")
    draw.text((6, 5), title, fill="black")
    for s in range(0, int(t_end) + 1, max(1, int(t_end // 10) or 1)):
        x = int(s / max(t_end, 1e-9) * (width - 1))
        draw.line([(x, top + height), (x, top + height + 4)], fill="black")
        draw.text((min(x + 2, width - 30), top + height + 6), f"{s} s", fill="black")
    atomic_save(path, lambda p: canvas.save(p, format="PNG"))
