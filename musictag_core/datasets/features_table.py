"""Precomputed feature tables: a CSV with a label column and numeric feature columns.

The model is GTZAN's ``features_30_sec.csv`` (``filename, length, chroma_stft_mean, ...,
mfcc20_var, label``). Columns are read as follows:

* the label column (``label``) gives a single-label target;
* an id column (``id_column``, else the first of ``track_id``, ``filename``, ``file``,
  ``id``, ``path`` present) gives track ids; without one, ids are ``row00001``, ...;
* optional ``artist`` and ``split`` columns are used as in the other adapters;
* every other column is a feature unless the column rule (:func:`feature_column_rule`)
  excludes it, and a feature must be numeric in every row.

**Column rule** (the same for Train and Explore, since both read tables here). Excluded are:

* identifier and file-metadata columns by name, case-insensitive (:data:`NON_FEATURE_NAMES`:
  ``filename``, ``path``, ``track_id``, ``length``, ``duration``, ``start``, ``end``, ...,
  and pandas' ``Unnamed: 0`` index columns), besides the id, ``artist`` and ``split`` columns;
* constant columns (one value in every row; only checked with two rows or more);
* non-numeric columns (no cell a number) whose value is unique per row (names, paths, ids).

``keep=[...]`` keeps named columns as features whatever the rule says; ``drop=[...]`` leaves
named columns out. Both are checked against the header (unknown names are an error naming
them). ``index.meta["excluded_columns"]`` lists ``{"column", "reason"}`` for every column
left out, and ``index.meta["feature_columns"]`` the features used.

**Decision:** any other non-numeric column is an error naming it (not silently dropped), since
a stray text column usually means a wrong separator or a mislabelled column. GTZAN's
``length`` (the clip's sample count) is file metadata, so it is excluded by name since #13;
``keep=["length"]`` brings it back.

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

__all__ = [
    "read_feature_table",
    "feature_column_rule",
    "excluded_columns_text",
    "ID_COLUMN_CANDIDATES",
    "NON_FEATURE_NAMES",
    "SEGMENT_ID",
]

#: Columns tried, in order, as the id column when none is given.
ID_COLUMN_CANDIDATES = ("track_id", "filename", "file", "id", "path")
#: Id of a row cut from a longer recording: ``<recording>.<segment>.<ext>``, the recording
#: itself ending in a number (``blues.00000.3.wav``).
SEGMENT_ID = re.compile(r"^(?P<source>.+\.\d+)\.(?P<segment>\d+)\.[A-Za-z0-9]+$")
#: Column names (lower case) that identify a row or describe its file: never features.
NON_FEATURE_NAMES = frozenset(
    {
        "filename", "file_name", "file", "filepath", "file_path", "path", "relpath", "audio_path", "mp3_path",
        "track_id", "trackid", "track", "clip_id", "song_id", "id", "uid", "index",
        "length", "duration", "duration_s", "duration_sec", "seconds", "n_samples", "samples", "num_samples",
        "start", "end", "start_s", "end_s", "start_time", "end_time", "offset", "segment",
        "sr", "sample_rate", "samplerate", "channels", "n_channels", "bitrate", "artist", "split",
    }
)  # fmt: skip
_UNNAMED = re.compile(r"^unnamed: ?\d+$", re.IGNORECASE)


def feature_column_rule(
    frame: pd.DataFrame,
    *,
    reserved: dict[str, str],
    keep: Sequence[str] = (),
    drop: Sequence[str] = (),
) -> tuple[list[str], list[dict[str, str]]]:
    """Split a table's columns into features and excluded columns (the column rule).

    Parameters
    ----------
    frame : pandas.DataFrame
        The table as stripped strings [shape=(n_rows, n_columns)].
    reserved : dict
        Columns with a role (label, ids, artist, split) mapped to the reason they are not features.
    keep : sequence of str
        Columns kept as features whatever the rule says.
    drop : sequence of str
        Columns left out.

    Returns
    -------
    features : list of str
        Feature columns, in file order.
    excluded : list of dict
        ``{"column", "reason"}`` per excluded column, in file order.
    """
    keep_set, drop_set = set(keep), set(drop)
    n = len(frame)
    features: list[str] = []
    excluded: list[dict[str, str]] = []
    for c in frame.columns:
        if c in reserved:
            reason = reserved[c]
        elif c in drop_set:
            reason = "dropped on request (drop=)"
        elif c in keep_set:
            reason = None
        elif c.lower() in NON_FEATURE_NAMES or _UNNAMED.match(c):
            reason = "identifier or file metadata (by name)"
        else:
            col = frame[c]
            n_unique = col.nunique()
            if n > 1 and n_unique == 1:
                value = col.iat[0]
                reason = f"constant (every row is {value[:40]!r})"
            elif n > 1 and n_unique == n and pd.to_numeric(col, errors="coerce").isna().all():
                # no cell is a number (a column with a few bad cells stays, to be reported)
                reason = "non-numeric and unique per row"
            else:
                reason = None
        if reason is None:
            features.append(c)
        else:
            excluded.append({"column": c, "reason": reason})
    return features, excluded


def excluded_columns_text(excluded: Sequence[dict[str, str]]) -> str:
    """One line naming the excluded columns and their reasons (for CLI output and pages)."""
    if not excluded:
        return "no columns excluded"
    return "excluded columns: " + "; ".join(f"{e['column']} ({e['reason']})" for e in excluded)


def _refuse_duplicate_columns(csv_path: Path) -> None:
    """Refuse a header that names a column twice (pandas would silently rename the second ``a.1``)."""
    import csv

    with open(csv_path, encoding="utf-8", errors="replace", newline="") as handle:
        try:
            header = next(csv.reader(handle), [])
        except csv.Error:
            return  # pandas reports what is wrong with the file
    names = [str(c).strip() for c in header]
    seen: dict[str, list[int]] = {}
    for i, name in enumerate(names, start=1):
        seen.setdefault(name, []).append(i)
    twice = {name: where for name, where in seen.items() if len(where) > 1}
    if twice:
        listed = "; ".join(
            f"{name!r} (columns {', '.join(map(str, where))})" if name else f"an empty name (columns {', '.join(map(str, where))})"
            for name, where in twice.items()
        )
        raise DatasetError(
            f"{csv_path}: the header names a column more than once: {listed}. Every column needs its own name: "
            "rename or remove the repeated columns in the file, then load it again"
        )


def read_feature_table(
    path: str | Path,
    *,
    label_column: str = "label",
    id_column: str | None = None,
    keep: Sequence[str] = (),
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
    keep : sequence of str
        Columns to keep as features even where the column rule would exclude them.
    drop : sequence of str
        Columns to leave out.

    Returns
    -------
    index : DatasetIndex
        Single-label index with ``features`` [shape=(n_rows, n_features)] (float64
        columns named as in the file) and empty paths; ``meta["feature_columns"]`` and
        ``meta["excluded_columns"]`` (``{"column", "reason"}`` each) record the column rule.

    Raises
    ------
    DatasetError
        Missing or empty file, missing label/id/kept/dropped columns, a column both kept and
        dropped or kept while it is the label/id column, blank labels,
        non-numeric or non-finite feature cells (named), duplicate ids, no feature column.
    """
    csv_path = require_file(path, what="feature table")
    try:
        frame = pd.read_csv(csv_path, dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise DatasetError(f"{csv_path}: the file is empty") from None
    except (ValueError, pd.errors.ParserError) as exc:
        raise DatasetError(f"{csv_path}: cannot read it as CSV: {exc}") from None
    _refuse_duplicate_columns(csv_path)
    frame.columns = [str(c).strip() for c in frame.columns]
    if frame.empty:
        raise DatasetError(f"{csv_path}: the file has a header but no rows")
    frame = frame.apply(lambda col: col.str.strip())

    if id_column is None:
        id_column = next((c for c in ID_COLUMN_CANDIDATES if c in frame.columns and c != label_column), None)
    keep, drop = [str(c).strip() for c in keep], [str(c).strip() for c in drop]
    asked = [label_column] + ([id_column] if id_column else []) + drop + keep
    absent = list(dict.fromkeys(c for c in asked if c not in frame.columns))
    if absent:
        raise DatasetError(f"{csv_path}: feature table lacks columns {absent}; found {list_some(frame.columns)}")
    both = sorted(set(keep) & set(drop))
    if both:
        raise DatasetError(f"{csv_path}: columns {both} are both kept and dropped; name each in one of keep/drop")
    roles = {label_column: "label column", **({id_column: "id column"} if id_column else {})}
    clash = [c for c in keep if c in roles]
    if clash:
        raise DatasetError(f"{csv_path}: cannot keep {clash} as features: it is the {roles[clash[0]]}")

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

    reserved = {label_column: "label column"}
    if id_column:
        reserved[id_column] = "row ids (id column)"
    for c in ("artist", "split"):
        if c in frame.columns and c not in reserved and c not in keep:
            reserved[c] = f"{c} of each track"
    feature_cols, excluded = feature_column_rule(frame, reserved=reserved, keep=keep, drop=drop)
    excluded = [e for e in excluded if e["column"] != label_column]  # the label is the target, not "excluded"
    raw = frame[feature_cols]
    values = raw.apply(pd.to_numeric, errors="coerce")
    not_number = values.isna().to_numpy() & (raw != "").to_numpy()
    text_cols = [c for c, bad in zip(feature_cols, not_number.all(axis=0)) if bad]
    if text_cols:
        raise DatasetError(
            f"{csv_path}: non-numeric columns {list_some(text_cols)} are not features; "
            "remove them from the table, or leave them out (--drop-columns on the command line, the drop_columns "
            "run setting; drop=[...] in Python); if one holds the labels, name it as the label column"
        )
    bad = values.isna().to_numpy() | ~np.isfinite(values.to_numpy(dtype=np.float64, na_value=np.nan))
    if bad.any():
        rows, cols = np.nonzero(bad)
        cells = [f"line {r + 2} column {feature_cols[c]!r} = {raw.iat[r, c]!r}" for r, c in zip(rows, cols)]
        raise DatasetError(f"{csv_path}: feature values must be finite numbers: {list_some(cells, quote=False)}")
    if not feature_cols:
        raise DatasetError(
            f"{csv_path}: no feature columns left ({excluded_columns_text(excluded)}); keep some with --keep-columns "
            "on the command line (the keep_columns run setting; keep=[...] in Python)"
        )

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
        meta={
            "label_column": label_column,
            "id_column": id_column,
            "feature_columns": list(feature_cols),
            "excluded_columns": excluded,
            "notes": notes,
        },
    )
