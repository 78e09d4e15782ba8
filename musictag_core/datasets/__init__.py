"""Dataset adapters: each reads one dataset layout into a :class:`DatasetIndex`.

* :func:`read_folder`: a folder per genre (GTZAN layout) or flat GTZAN-named clips;
* :func:`read_fma`: FMA ``tracks.csv`` plus its ``000/000002.mp3`` tree;
* :func:`read_mtt`: MagnaTagATune ``annotations_final.csv`` (and ``clip_info_final.csv``);
* :func:`read_jamendo`: MTG-Jamendo autotagging split files (``autotagging_genre-train.tsv``...);
* :func:`read_strengths_csv`: a CSV of paths and 0–100 tag strengths (wide or long form);
* :func:`read_feature_table`: a CSV of precomputed features with a label column;
* :func:`open_dataset` / :func:`detect_format`: any of the above from one path, or ``"demo"`` / ``"demo-hard"``;
* :func:`~musictag_core.datasets.describe.describe_dataset`: what a dataset holds, from its metadata alone.

:func:`split_dataset` and :func:`kfold_indices` make seeded, stratified, artist-grouped splits
(imported on first use: scikit-learn takes most of a second to import).
"""

from __future__ import annotations

from .base import DEFAULT_STRENGTH_THRESHOLD, SPLITS, DatasetIndex, TaskKind
from .detect import DATASET_FORMATS, DatasetFormat, detect_format, open_dataset
from .features_table import read_feature_table
from .fma import read_fma
from .folder import read_folder
from .jamendo import read_jamendo
from .mtt import read_mtt
from .strengths import read_strengths_csv

__all__ = [
    "DATASET_FORMATS",
    "DEFAULT_STRENGTH_THRESHOLD",
    "SPLITS",
    "DatasetFormat",
    "DatasetIndex",
    "TaskKind",
    "detect_format",
    "kfold_indices",
    "open_dataset",
    "read_feature_table",
    "read_fma",
    "read_folder",
    "read_jamendo",
    "read_mtt",
    "read_strengths_csv",
    "split_dataset",
]


def __getattr__(name: str):
    # Split helpers pull in scikit-learn and iterstrat; import them only when asked for.
    if name in ("split_dataset", "kfold_indices"):
        from . import splits

        return getattr(splits, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
