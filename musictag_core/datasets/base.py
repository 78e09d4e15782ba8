"""The one index every dataset adapter returns.

A :class:`DatasetIndex` lists tracks (id, path, optional artist and split) and
their label strengths on the 0–100 scale of the multi-label seed system. Binary
targets are the strengths thresholded at ``threshold`` (default 50).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from ..errors import DatasetError

__all__ = ["DatasetIndex", "TaskKind", "DEFAULT_THRESHOLD"]

TaskKind = Literal["single", "multi", "regression"]

#: Strength (0–100) at or above which a tag counts as present.
DEFAULT_THRESHOLD = 50.0


@dataclass
class DatasetIndex:
    """Tracks of a dataset with their label strengths.

    Attributes
    ----------
    name : str
        Human-readable name (for example the folder name).
    kind : str
        Which adapter made it: ``folder``, ``fma``, ``mtt``, ``strengths``,
        ``features`` or ``demo``.
    labels : list of str
        Label names, one per column of ``strengths``.
    tracks : pd.DataFrame
        One row per track with columns ``track_id`` (str, unique), ``path``
        (str, absolute; empty for feature tables), ``artist`` (str or NA) and
        ``split`` (``train``/``validation``/``test`` or NA).
    strengths : np.ndarray [shape=(n_tracks, n_labels)], float32
        Tag strengths in 0–100.
    threshold : float
        Strength at or above which a label is present.
    features : pd.DataFrame or None
        Precomputed numeric features (feature-table datasets only), one row per track.
    root : str
        The folder or file the dataset was read from.
    """

    name: str
    kind: str
    labels: list[str]
    tracks: pd.DataFrame
    strengths: np.ndarray
    threshold: float = DEFAULT_THRESHOLD
    features: pd.DataFrame | None = None
    root: str = ""
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.strengths = np.asarray(self.strengths, dtype=np.float32)
        n = len(self.tracks)
        if self.strengths.shape != (n, len(self.labels)):
            raise DatasetError(
                f"{self.name}: strengths have shape {self.strengths.shape}, expected ({n}, {len(self.labels)})"
            )
        for col in ("track_id", "path", "artist", "split"):
            if col not in self.tracks.columns:
                self.tracks[col] = pd.NA if col in ("artist", "split") else ""
        dup = self.tracks["track_id"][self.tracks["track_id"].duplicated()].unique().tolist()
        if dup:
            raise DatasetError(f"{self.name}: duplicate track ids {dup[:10]}")
        if len(set(self.labels)) != len(self.labels):
            raise DatasetError(f"{self.name}: duplicate label names in {self.labels}")
        if n and (np.nanmin(self.strengths) < 0 or np.nanmax(self.strengths) > 100):
            raise DatasetError(f"{self.name}: strengths must lie in 0-100")

    def __len__(self) -> int:
        return len(self.tracks)

    @property
    def y(self) -> np.ndarray:
        """Binary targets [shape=(n_tracks, n_labels)], int8: strength >= threshold."""
        return (self.strengths >= self.threshold).astype(np.int8)

    @property
    def task(self) -> TaskKind:
        """``single`` when every track has exactly one present label, else ``multi``."""
        counts = self.y.sum(axis=1)
        return "single" if len(counts) and np.all(counts == 1) else "multi"

    @property
    def label_index(self) -> np.ndarray:
        """Index of the strongest label per track [shape=(n_tracks,)] (single-label view)."""
        return np.argmax(self.strengths, axis=1)

    @property
    def genre(self) -> pd.Series:
        """Name of the strongest label per track, aligned with ``tracks``."""
        return pd.Series(np.asarray(self.labels, dtype=object)[self.label_index], index=self.tracks.index)

    def subset(self, mask_or_idx) -> DatasetIndex:
        """Return a new index holding only the selected rows."""
        idx = np.arange(len(self))[mask_or_idx]
        return DatasetIndex(
            name=self.name,
            kind=self.kind,
            labels=list(self.labels),
            tracks=self.tracks.iloc[idx].reset_index(drop=True),
            strengths=self.strengths[idx],
            threshold=self.threshold,
            features=None if self.features is None else self.features.iloc[idx].reset_index(drop=True),
            root=self.root,
            meta=dict(self.meta),
        )

    def summary(self) -> dict:
        """Counts a page or the command line can show."""
        return {
            "name": self.name,
            "kind": self.kind,
            "tracks": len(self),
            "labels": len(self.labels),
            "task": self.task,
            "per_label": dict(zip(self.labels, self.y.sum(axis=0).astype(int).tolist())),
        }
