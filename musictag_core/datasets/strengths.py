"""Generic CSV of audio paths and tag strengths (0–100), in wide or long form.

**Wide form**: one row per track::

    path,track_id,artist,split,rock,jazz,ambient
    audio/a.wav,a,Ann,train,80,0,35
    audio/b.wav,b,Bob,,0,100,

Required: the path column (``path`` unless told otherwise). Optional: an id column
(``track_id`` when present, else the path as written is the id), ``artist`` and
``split`` (``train``/``validation``/``test``, blank = unassigned; ``training``, ``val``,
``valid``, ``dev`` and ``testing`` are accepted spellings). Every other column is a tag
and must hold numbers in 0–100; a blank cell means strength 0.

**Long form**: one row per (track, tag)::

    path,tag,strength
    audio/a.wav,rock,80
    audio/a.wav,ambient,35

with the same optional ``track_id``, ``artist`` and ``split`` columns (which must agree
across a track's rows). Absent (track, tag) pairs have strength 0.

Relative paths are taken relative to the CSV's folder. Tags are present when their
strength is at or above ``threshold`` (default 50, as in the multi-label seed system).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DatasetError, ParameterError
from .base import (
    DEFAULT_STRENGTH_THRESHOLD,
    DatasetIndex,
    check_ids,
    check_missing_files,
    check_missing_policy,
    check_threshold,
    list_some,
    normalise_splits,
    require_file,
)

__all__ = ["read_strengths_csv", "STRENGTH_FORMS", "LONG_COLUMNS", "OPTIONAL_COLUMNS"]

#: Values of the ``form`` argument.
STRENGTH_FORMS = ("auto", "wide", "long")
#: Columns that make a CSV long-form (besides the path column).
LONG_COLUMNS = ("tag", "strength")
#: Per-track columns that are not tags.
OPTIONAL_COLUMNS = ("track_id", "artist", "split")


def _read_text_csv(path: Path) -> pd.DataFrame:
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except pd.errors.EmptyDataError:
        raise DatasetError(f"{path}: the file is empty; expected a header row and one row per track") from None
    except (ValueError, pd.errors.ParserError) as exc:
        raise DatasetError(f"{path}: cannot read it as CSV: {exc}") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    dup = sorted({c for c in frame.columns if list(frame.columns).count(c) > 1})
    if dup:
        raise DatasetError(f"{path}: repeated column names {dup}")
    if frame.empty:
        raise DatasetError(f"{path}: the file has a header but no rows")
    return frame.apply(lambda col: col.str.strip())


def _numbers(raw: pd.DataFrame, *, path: Path, blank_is_zero: bool, id_of_row) -> np.ndarray:
    """Parse strength cells, naming non-numeric and out-of-range cells in the errors."""
    values = raw.apply(pd.to_numeric, errors="coerce")
    blank = (raw == "").to_numpy()
    bad = values.isna().to_numpy() & ~blank
    if bad.any():
        rows, cols = np.nonzero(bad)
        cells = [
            f"line {r + 2} ({id_of_row(r)}) column {raw.columns[c]!r} = {raw.iat[r, c]!r}" for r, c in zip(rows, cols)
        ]
        raise DatasetError(f"{path}: strengths must be numbers in 0-100; not numbers: {list_some(cells, quote=False)}")
    if blank.any() and not blank_is_zero:
        rows, cols = np.nonzero(blank)
        cells = [f"line {r + 2} column {raw.columns[c]!r}" for r, c in zip(rows, cols)]
        raise DatasetError(f"{path}: blank strengths: {list_some(cells, quote=False)}")
    out = values.fillna(0.0).to_numpy(dtype=np.float64)
    outside = ~np.isfinite(out) | (out < 0) | (out > 100)
    if outside.any():
        rows, cols = np.nonzero(outside)
        cells = [
            f"line {r + 2} ({id_of_row(r)}) column {raw.columns[c]!r} = {raw.iat[r, c]}" for r, c in zip(rows, cols)
        ]
        raise DatasetError(f"{path}: strengths must lie in 0-100; out of range: {list_some(cells, quote=False)}")
    return out.astype(np.float32)


def _resolve_paths(written: pd.Series, base: Path, *, csv_path: Path) -> list[str]:
    blank = (written == "").to_numpy()
    if blank.any():
        raise DatasetError(f"{csv_path}: blank paths on lines {list_some((np.flatnonzero(blank) + 2).tolist())}")
    resolved = [str((base / p).expanduser().resolve()) for p in written]
    seen: dict[str, int] = {}
    dups = []
    for line, p in enumerate(resolved, start=2):
        if p in seen:
            dups.append(f"{written.iloc[line - 2]!r} (lines {seen[p]} and {line})")
        else:
            seen[p] = line
    if dups:
        raise DatasetError(f"{csv_path}: the same audio file is listed twice: {list_some(dups, quote=False)}")
    return resolved


def _per_track(frame: pd.DataFrame, *, path_column: str, columns: list[str], csv_path: Path) -> pd.DataFrame:
    """One row per path of the long form, checking that per-track columns agree."""
    grouped = frame.groupby(path_column, sort=False)
    conflicts = []
    for col in columns:
        counts = grouped[col].nunique(dropna=False)
        conflicts += [f"{p!r} has several {col} values" for p in counts.index[counts > 1]]
    if conflicts:
        listed = list_some(conflicts, quote=False)
        raise DatasetError(f"{csv_path}: per-track columns disagree between a track's rows: {listed}")
    if not columns:
        return pd.DataFrame(index=pd.Index(frame[path_column].unique(), name=path_column))
    return grouped[columns].first()


def read_strengths_csv(
    path: str | Path,
    *,
    threshold: float = DEFAULT_STRENGTH_THRESHOLD,
    form: str = "auto",
    path_column: str = "path",
    id_column: str | None = None,
    missing: str = "error",
) -> DatasetIndex:
    """Index a CSV of audio paths and tag strengths (0–100).

    Parameters
    ----------
    path : str or Path
        The CSV file (comma-separated, header row).
    threshold : float
        Strength at or above which a tag is present, in (0, 100].
    form : {"auto", "wide", "long"}
        ``auto`` picks ``long`` when the CSV has ``tag`` and ``strength`` columns.
    path_column : str
        Column holding the audio paths (relative to the CSV's folder, or absolute).
    id_column : str or None
        Column holding track ids; ``None`` uses ``track_id`` when present, else the path
        as written.
    missing : {"error", "skip", "keep"}
        What to do with rows whose audio file does not exist.

    Returns
    -------
    index : DatasetIndex
        ``kind="strengths"``, with artists and splits when the CSV has those columns.

    Raises
    ------
    DatasetError
        Empty file or no rows; missing required columns; non-numeric or out-of-range
        strengths (named by line and column); unknown non-numeric columns; duplicate ids
        or paths; missing audio files (with ``missing="error"``).
    """
    threshold = check_threshold(threshold)
    check_missing_policy(missing)
    if form not in STRENGTH_FORMS:
        raise ParameterError(f"form must be one of {STRENGTH_FORMS}, got {form!r}")
    csv_path = require_file(path, what="strengths CSV")
    frame = _read_text_csv(csv_path)
    if form == "auto":
        form = "long" if set(LONG_COLUMNS) <= set(frame.columns) else "wide"
    id_col = id_column if id_column is not None else ("track_id" if "track_id" in frame.columns else None)
    required = [path_column] + (list(LONG_COLUMNS) if form == "long" else []) + ([id_col] if id_column else [])
    absent = [c for c in required if c not in frame.columns]
    if absent:
        raise DatasetError(
            f"{csv_path}: {form}-form strengths CSV lacks columns {absent}; found {list_some(frame.columns)}. "
            "Pass path_column=/id_column= if your columns have other names."
        )
    per_track_cols = [c for c in (id_col, "artist", "split") if c and c in frame.columns]
    notes: list[str] = []

    if form == "wide":
        tag_cols = [c for c in frame.columns if c not in (path_column, *per_track_cols)]
        numeric_any = frame[tag_cols].apply(lambda col: pd.to_numeric(col, errors="coerce").notna().any())
        filled_any = frame[tag_cols].apply(lambda col: (col != "").any())
        text_cols = [c for c in tag_cols if filled_any[c] and not numeric_any[c]]
        if text_cols:
            raise DatasetError(
                f"{csv_path}: unknown columns holding text, not strengths: {list_some(text_cols)}. "
                f"Tag columns must be numbers in 0-100; the only other columns allowed are "
                f"{[path_column, *OPTIONAL_COLUMNS]} (or pass id_column=)."
            )
        if not tag_cols:
            raise DatasetError(f"{csv_path}: no tag columns besides {[path_column, *per_track_cols]}")
        track_frame = frame
        ids = frame[id_col] if id_col else frame[path_column]

        def id_of_row(r: int) -> str:
            return f"track {ids.iloc[r]!r}"

        strengths = _numbers(frame[tag_cols], path=csv_path, blank_is_zero=True, id_of_row=id_of_row)
        labels = tag_cols
    else:
        extra = [c for c in frame.columns if c not in (path_column, *LONG_COLUMNS, *per_track_cols)]
        if extra:
            raise DatasetError(
                f"{csv_path}: unknown columns in a long-form strengths CSV: {list_some(extra)}. "
                f"Allowed: {[path_column, *LONG_COLUMNS, *OPTIONAL_COLUMNS]}."
            )
        blank_tag = (frame["tag"] == "").to_numpy()
        if blank_tag.any():
            raise DatasetError(f"{csv_path}: blank tag on lines {list_some((np.flatnonzero(blank_tag) + 2).tolist())}")
        pair = frame[[path_column, "tag"]]
        dup = pair[pair.duplicated()]
        if len(dup):
            listed = [f"{p!r}/{t!r} (line {i + 2})" for i, p, t in zip(dup.index, dup[path_column], dup["tag"])]
            raise DatasetError(f"{csv_path}: the same (path, tag) pair appears twice: {list_some(listed, quote=False)}")

        def id_of_row(r: int) -> str:
            return f"{frame[path_column].iloc[r]!r}"

        values = _numbers(frame[["strength"]], path=csv_path, blank_is_zero=False, id_of_row=id_of_row)[:, 0]
        labels = sorted(frame["tag"].unique().tolist())
        track_frame = _per_track(frame, path_column=path_column, columns=per_track_cols, csv_path=csv_path)
        track_frame = track_frame.reset_index()
        row_of = {p: i for i, p in enumerate(track_frame[path_column])}
        col_of = {t: j for j, t in enumerate(labels)}
        strengths = np.zeros((len(track_frame), len(labels)), dtype=np.float32)
        strengths[[row_of[p] for p in frame[path_column]], [col_of[t] for t in frame["tag"]]] = values
        ids = track_frame[id_col] if id_col else track_frame[path_column]

    check_ids(ids, csv_path=csv_path, column=id_col or path_column)
    paths = _resolve_paths(track_frame[path_column], csv_path.parent, csv_path=csv_path)
    keep = check_missing_files(paths, missing=missing, what=f"strengths CSV {csv_path.name}")
    if (~keep).any():
        notes.append(f"skipped {int((~keep).sum())} tracks whose audio file is missing")
    if not keep.any():
        raise DatasetError(f"{csv_path}: none of the {len(paths)} listed audio files exists")

    artist = (
        track_frame["artist"].mask(track_frame["artist"] == "").astype(object)
        if "artist" in track_frame.columns
        else pd.Series([pd.NA] * len(track_frame), dtype=object)
    )
    split = (
        normalise_splits(track_frame["split"], what=str(csv_path))
        if "split" in track_frame.columns
        else pd.Series([pd.NA] * len(track_frame), dtype=object)
    )
    tracks = pd.DataFrame(
        {
            "track_id": ids.to_numpy(dtype=object),
            "path": paths,
            "artist": artist.where(artist.notna(), pd.NA).to_numpy(dtype=object),
            "split": split.to_numpy(dtype=object),
        }
    )
    return DatasetIndex(
        name=csv_path.stem,
        kind="strengths",
        labels=[str(label) for label in labels],
        tracks=tracks[keep].reset_index(drop=True),
        strengths=strengths[keep],
        threshold=threshold,
        root=str(csv_path),
        meta={"form": form, "notes": notes},
    )
