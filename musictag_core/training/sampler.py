"""Batches for training: an epoch of (track, variant, segment or crop) items, built on demand.

:class:`SegmentSampler` draws an epoch from per-track arrays (memory-mapped
:class:`~musictag_core.store.NpyFile` handles, so only one batch is in memory)
and builds batches on demand; :func:`as_pydataset` wraps it in a
``keras.utils.PyDataset``. In evaluation mode it walks every segment of some
tracks in order, and :func:`predict_tracks` averages a model's segment scores
per track. Keras is imported only inside :func:`as_pydataset` and
:func:`predict_tracks`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ..errors import ParameterError

__all__ = ["SegmentSampler", "as_pydataset", "predict_tracks", "segment_loss"]


class SegmentSampler:
    """Batches drawn from per-track (memory-mapped) arrays.

    Training mode (default): every epoch, each track contributes one variant
    (drawn uniformly among its original and augmented arrays) and all of that
    variant's segments, or one random crop when ``crop`` is set; the items are
    shuffled and cut into batches; :meth:`resample` draws the next epoch.
    Evaluation mode: every segment of variant 0 (consecutive crops when
    ``crop`` is set) in track order, the same every time.

    Parameters
    ----------
    tracks : sequence of sequence of np.ndarray or NpyFile
        ``tracks[i][v]``: variant ``v`` of track ``i``, shape ``(n_segments, ...)``
        (for crops: ``(1, t, ...)``). :class:`NpyFile` handles keep only a
        bounded number of files open.
    targets : np.ndarray [shape=(n_tracks, n_labels)]
    batch_size : int
    rng : np.random.Generator or None
        Required in training mode.
    crop : int or None
        Rows per crop.
    weights : np.ndarray [shape=(n_tracks,)] or None
        Per-track sample weights (returned as a third batch element).
    evaluation : bool
        Deterministic evaluation mode.

    Attributes
    ----------
    items : np.ndarray [shape=(n_items, 3)]
        ``(track, variant, segment index or crop start)`` of the current epoch.
    """

    def __init__(
        self,
        tracks: Sequence[Sequence[np.ndarray]],
        targets: np.ndarray,
        *,
        batch_size: int,
        rng: np.random.Generator | None = None,
        crop: int | None = None,
        weights: np.ndarray | None = None,
        evaluation: bool = False,
    ) -> None:
        if len(tracks) != len(targets) or not len(tracks):
            raise ParameterError(f"need one target row per track, got {len(tracks)} tracks and {len(targets)} rows")
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ParameterError(f"batch_size must be a positive int, got {batch_size!r}")
        if rng is None and not evaluation:
            raise ParameterError("a training sampler needs rng=np.random.default_rng(seed)")
        self.tracks = tracks
        self.targets = np.asarray(targets, dtype=np.float32)
        self.batch_size = int(batch_size)
        self.rng = rng
        self.crop = crop
        self.weights = None if weights is None else np.asarray(weights, dtype=np.float32)
        self.evaluation = evaluation
        self.items = self._eval_items() if evaluation else np.zeros((0, 3), dtype=np.int64)
        if not evaluation:
            self.resample()

    def _eval_items(self) -> np.ndarray:
        items = []
        for i, variants in enumerate(self.tracks):
            a = variants[0]
            if self.crop is None:
                items.extend((i, 0, s) for s in range(a.shape[0]))
            else:
                t = a.shape[1]
                starts = range(0, t - self.crop + 1, self.crop) if t >= self.crop else [0]
                items.extend((i, 0, s) for s in starts)
        return np.asarray(items, dtype=np.int64).reshape(-1, 3)

    def resample(self) -> None:
        """Draw the next epoch's items (variant per track, crops, order); no-op in evaluation mode."""
        if self.evaluation:
            return
        items = []
        for i, variants in enumerate(self.tracks):
            v = int(self.rng.integers(len(variants)))
            a = variants[v]
            if self.crop is None:
                items.extend((i, v, s) for s in range(a.shape[0]))
            else:
                t = a.shape[1]
                items.append((i, v, int(self.rng.integers(0, max(1, t - self.crop + 1)))))
        order = self.rng.permutation(len(items))
        self.items = np.asarray(items, dtype=np.int64).reshape(-1, 3)[order]

    def __len__(self) -> int:
        return max(1, math.ceil(len(self.items) / self.batch_size))

    def example(self, i: int, v: int, s: int) -> np.ndarray:
        """One input: segment ``s`` of variant ``v`` of track ``i`` (or the crop starting at row ``s``)."""
        a = self.tracks[i][v]
        if self.crop is None:
            return np.asarray(a[s], dtype=np.float32)
        piece = np.asarray(a[0][s : s + self.crop], dtype=np.float32)
        if piece.shape[0] < self.crop:
            piece = np.pad(piece, [(0, self.crop - piece.shape[0])] + [(0, 0)] * (piece.ndim - 1))
        return piece

    def owners(self, k: int) -> np.ndarray:
        """Track position of every row of batch ``k``."""
        return self.items[k * self.batch_size : (k + 1) * self.batch_size, 0]

    def batch(self, k: int) -> tuple[np.ndarray, ...]:
        """Batch ``k``: ``(x, y)`` or ``(x, y, sample_weight)``."""
        chunk = self.items[k * self.batch_size : (k + 1) * self.batch_size]
        x = np.stack([self.example(i, v, s) for i, v, s in chunk])
        y = self.targets[chunk[:, 0]]
        if self.weights is None:
            return x, y
        return x, y, self.weights[chunk[:, 0]]


def as_pydataset(sampler: SegmentSampler, *, workers: int = 1):  # noqa: ANN201
    """Wrap a :class:`SegmentSampler` in a ``keras.utils.PyDataset`` that resamples each epoch."""
    import keras

    class _Stream(keras.utils.PyDataset):
        def __init__(self) -> None:
            super().__init__(workers=workers, use_multiprocessing=False)
            self.sampler = sampler

        def __len__(self) -> int:
            return len(self.sampler)

        def __getitem__(self, k: int):  # noqa: ANN204
            return self.sampler.batch(k)

        def on_epoch_end(self) -> None:
            self.sampler.resample()

    return _Stream()


def segment_loss(y_true: np.ndarray, y_pred: np.ndarray, *, task: str) -> np.ndarray:
    """Per-row loss as the trainer's Keras loss computes it.

    Categorical cross-entropy (``single``), mean binary cross-entropy over
    labels (``multi``), mean squared error on 0-100 strengths (``regression``).

    Returns
    -------
    np.ndarray [shape=(n,)]
    """
    eps = 1e-7
    y_true = np.asarray(y_true, dtype=np.float64)
    y_pred = np.asarray(y_pred, dtype=np.float64)
    if task == "single":
        p = np.clip(y_pred / np.maximum(y_pred.sum(axis=1, keepdims=True), eps), eps, 1 - eps)
        return -(y_true * np.log(p)).sum(axis=1)
    if task == "multi":
        p = np.clip(y_pred, eps, 1 - eps)
        return -(y_true * np.log(p) + (1 - y_true) * np.log(1 - p)).mean(axis=1)
    if task == "regression":
        return ((y_true - y_pred) ** 2).mean(axis=1)
    raise ParameterError(f"task must be single, multi or regression, got {task!r}")


def predict_tracks(
    model, sampler: SegmentSampler, *, task: str | None = None  # noqa: ANN001
) -> tuple[np.ndarray, float | None]:
    """Track scores (mean of a Keras model's segment scores) over an evaluation sampler.

    Parameters
    ----------
    model : keras.Model
        Single output.
    sampler : SegmentSampler
        In evaluation mode.
    task : str, optional
        When given, also the mean segment-level loss (:func:`segment_loss`).

    Returns
    -------
    scores : np.ndarray [shape=(n_tracks, n_outputs)], float64
    loss : float or None
    """
    if not sampler.evaluation:
        raise ParameterError("predict_tracks needs a sampler in evaluation mode")
    sums: np.ndarray | None = None
    counts = np.zeros(len(sampler.tracks))
    loss_sum, n_rows = 0.0, 0
    for k in range(len(sampler)):
        if not len(sampler.owners(k)):
            break
        x, y = sampler.batch(k)[:2]
        out = np.asarray(model.predict_on_batch(x), dtype=np.float64)
        owner = sampler.owners(k)
        if sums is None:
            sums = np.zeros((len(sampler.tracks), out.shape[1]))
        np.add.at(sums, owner, out)
        np.add.at(counts, owner, 1)
        if task is not None:
            loss_sum += float(segment_loss(y, out, task=task).sum())
            n_rows += len(out)
    if sums is None:
        raise ParameterError("no inputs to predict")
    return sums / np.maximum(counts, 1)[:, None], (loss_sum / n_rows if task is not None and n_rows else None)
