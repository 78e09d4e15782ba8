"""Precomputed feature tables: a CSV with a label column and numeric feature columns.

The model is GTZAN's ``features_30_sec.csv`` (``filename, length, chroma_stft_mean, ...,
mfcc20_var, label``). Columns are read as follows:

* the label column (``label``) gives a single-label target;
* an id column (``id_column``, else the first of ``track_id``, ``filename``, ``file``,
  ``id``, ``path`` present) gives track ids; without one, ids are ``row00001``, ...;
* optional ``artist`` and ``split`` columns are used as in the other adapters;
* every other column is a feature and must be numeric in every row.

**Decision:** a non-numeric column that is none of the above is an error naming it (not
silently dropped), since a stray text column usually means a wrong separator or a
mislabelled column; pass ``drop=[...]`` to leave columns out on purpose. Numeric metadata
such as GTZAN's ``length`` stays a feature unless dropped.

When ids look like GTZAN's 3-second table (``blues.00000.3.wav``: several rows cut from
one recording), ``tracks["source"]`` holds the recording (``blues.00000``) so that
:func:`~musictag_core.datasets.splits.split_dataset` keeps a recording's rows on one side.

The index has ``kind="features"``, empty paths, and the features in ``index.features``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DatasetError
from .base import DatasetIndex, check_ids, list_some, normalise_splits, require_file

__all__ = ["read_feature_table", "ID_COLUMN_CANDIDATES", "SEGMENT_ID"]

#: Columns tried, in order, as the id column when none is given.
ID_COLUMN_CANDIDATES = ("track_id", "filename", "file", "id", "path")
#: Id of a row cut from a longer recording: ``<recording>.<segment>.<ext>``, the recording
#: itself ending in a number (``blues.00000.3.wav``).
SEGMENT_ID = re.compile(r"^(?P<source>.+\.\d+)\.(?P<segment>\d+)\.[A-Za-z0-9]+$")


def read_feature_table(
    path: str | Path,
    *,
    label_column: str = "label",
    id_column: str | None = None,
    drop: Sequence[str] = (),
) -> DatasetIndex:
    """Index a CSV of precomputed features with a label column.

    Parameters
    ----------
    path : str or Path
        The CSV file.
    label_column : str
        Column holding each row's label (genre).
    id_column : str or None
        Column holding row ids (see the module docstring for the default).
    drop : sequence of str
        Columns to leave out.

    Returns
    -------
    index : DatasetIndex
        Single-label index with ``features`` [shape=(n_rows, n_features)] (float64
        columns named as in the file) and empty paths.

    Raises
    ------
    DatasetError
        Missing or empty file, missing label/id/dropped columns, blank labels,
        non-numeric or non-finite feature cells (named), duplicate ids, no feature column.
    """
    csv_path = require_file(path, what="feature table")
    try:
        frame = pd.read_csv(csv_path, dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise DatasetError(f"{csv_path}: the file is empty") from None
    except (ValueError, pd.errors.ParserError) as exc:
        raise DatasetError(f"{csv_path}: cannot read it as CSV: {exc}") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    if frame.empty:
        raise DatasetError(f"{csv_path}: the file has a header but no rows")
    frame = frame.apply(lambda col: col.str.strip())

    if id_column is None:
        id_column = next((c for c in ID_COLUMN_CANDIDATES if c in frame.columns and c != label_column), None)
    asked = [label_column] + ([id_column] if id_column else []) + list(drop)
    absent = [c for c in asked if c not in frame.columns]
    if absent:
        raise DatasetError(f"{csv_path}: feature table lacks columns {absent}; found {list_some(frame.columns)}")

    labels_col = frame[label_column]
    blank = (labels_col == "").to_numpy()
    if blank.any():
        lines = (np.flatnonzero(blank) + 2).tolist()
        raise DatasetError(f"{csv_path}: blank {label_column!r} on lines {list_some(lines)}")
    if id_column:
        ids = frame[id_column]
        check_ids(ids, csv_path=csv_path, column=id_column, what="ids")
    else:
        ids = pd.Series([f"row{i + 1:05d}" for i in range(len(frame))], dtype=object)

    reserved = {label_column, id_column, "artist", "split", *drop}
    feature_cols = [c for c in frame.columns if c not in reserved]
    raw = frame[feature_cols]
    values = raw.apply(pd.to_numeric, errors="coerce")
    not_number = values.isna().to_numpy() & (raw != "").to_numpy()
    text_cols = [c for c, bad in zip(feature_cols, not_number.all(axis=0)) if bad]
    if text_cols:
        raise DatasetError(
            f"{csv_path}: non-numeric columns {list_some(text_cols)} are not features; "
            f"pass drop=[...] to leave them out, id_column= if one holds ids, or label_column= if one is the label"
        )
    bad = values.isna().to_numpy() | ~np.isfinite(values.to_numpy(dtype=np.float64, na_value=np.nan))
    if bad.any():
        rows, cols = np.nonzero(bad)
        cells = [f"line {r + 2} column {feature_cols[c]!r} = {raw.iat[r, c]!r}" for r, c in zip(rows, cols)]
        raise DatasetError(f"{csv_path}: feature values must be finite numbers: {list_some(cells, quote=False)}")
    if not feature_cols:
        raise DatasetError(f"{csv_path}: no numeric feature columns besides {sorted(c for c in reserved if c)}")

    labels = sorted(labels_col.unique().tolist())
    column = {label: j for j, label in enumerate(labels)}
    strengths = np.zeros((len(frame), len(labels)), dtype=np.float32)
    strengths[np.arange(len(frame)), [column[v] for v in labels_col]] = 100.0

    tracks = pd.DataFrame({"track_id": ids.to_numpy(dtype=object), "path": [""] * len(frame)})
    if "artist" in frame.columns:
        artist = frame["artist"].mask(frame["artist"] == "")
        tracks["artist"] = artist.astype(object).where(artist.notna(), pd.NA).to_numpy()
    if "split" in frame.columns:
        tracks["split"] = normalise_splits(frame["split"], what=str(csv_path)).to_numpy(dtype=object)
    notes: list[str] = []
    matches = [SEGMENT_ID.match(str(i)) for i in tracks["track_id"]]
    if all(matches):
        sources = [m["source"] for m in matches]
        if len(set(sources)) < len(sources):
            tracks["source"] = sources
            notes.append(f"{len(sources)} rows come from {len(set(sources))} recordings (column 'source')")

    return DatasetIndex(
        name=csv_path.stem,
        kind="features",
        labels=labels,
        tracks=tracks,
        strengths=strengths,
        features=values.astype(np.float64).reset_index(drop=True),
        root=str(csv_path),
        meta={"label_column": label_column, "id_column": id_column, "notes": notes},
    )
