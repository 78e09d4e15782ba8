"""The Free Music Archive (FMA) dataset: ``fma_metadata/tracks.csv`` plus the audio tree.

``tracks.csv`` has three header rows: the column group (``set``, ``track``, ``artist``...),
the column name, then a row holding only ``track_id`` (the index name), as
``pd.read_csv(..., header=[0, 1], index_col=0)`` reads them. A file cut short (its last
record missing fields) is refused naming the file line where that record starts.
The columns used here are ``('set', 'subset')`` (``small``/``medium``/``large``: the
smallest subset holding the track), ``('set', 'split')`` (``training``/``validation``/
``test``), ``('track', 'genre_top')``, ``('track', 'genres')`` and
``('track', 'genres_all')`` (lists of genre ids written as text, e.g. ``"[21, 811]"``),
and ``('artist', 'name')`` / ``('artist', 'id')``. The audio of track 2 lies at
``<audio_dir>/000/000002.mp3``.

Two label levels:

* ``level="genre_top"``: single-label, the track's top-level genre (tracks without one
  are left out and counted in ``meta["notes"]``).
* ``level="genres"`` or ``"genres_all"``: multi-label over genre ids, named from
  ``genres.csv`` (``genre_id``, ``title``) when that file lies next to ``tracks.csv``,
  else the ids themselves (``"21"``). Tracks with an empty list are left out.

The artist of a track is its artist name (or the artist id when the name is blank):
grouping by name can only merge artists, never separate one, so a grouped split stays
leak-free. FMA's own split is kept in ``tracks["split"]``.
"""

from __future__ import annotations

import ast
import csv
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DatasetError, ParameterError
from .base import DatasetIndex, check_missing_files, check_missing_policy, list_some, normalise_splits, require_file

__all__ = ["read_fma", "fma_audio_path", "FMA_SUBSETS", "FMA_LEVELS"]

#: Subsets in nesting order: ``small`` is part of ``medium``, which is part of ``large``.
FMA_SUBSETS = ("small", "medium", "large")
#: Label levels :func:`read_fma` accepts.
FMA_LEVELS = ("genre_top", "genres", "genres_all")


def fma_audio_path(audio_dir: str | Path, track_id: int) -> Path:
    """Where FMA stores track ``track_id``: ``audio_dir/000/000002.mp3`` for id 2."""
    tid = f"{int(track_id):06d}"
    return Path(audio_dir) / tid[:3] / f"{tid}.mp3"


def _find_broken_record(path: Path) -> str | None:
    """Scan ``path`` with the csv module; describe a record that is cut short, or None.

    Records may span several file lines (quoted newlines in free-text fields), so the
    file line where the bad record starts is tracked with ``reader.line_num``.
    """
    with open(path, encoding="utf-8", errors="replace", newline="") as handle:
        reader = csv.reader(handle, strict=True)
        width = None
        start = 1
        try:
            for row in reader:
                if width is None:
                    width = len(row)
                elif row and len(row) != width:
                    return f"the record starting on line {start} has {len(row)} of the {width} fields"
                start = reader.line_num + 1
        except csv.Error as exc:
            return f"the record starting on line {start} cannot be read ({exc})"
    return None


def _refuse_truncated(path: Path) -> None:
    """Raise :class:`DatasetError` naming the broken record if ``path`` is cut short."""
    broken = _find_broken_record(path)
    if broken:
        raise DatasetError(f"{path}: {broken}: the file looks truncated (was the download or copy cut short?)")


def _read_tracks(path: Path) -> pd.DataFrame:
    """Read ``tracks.csv``: three header rows (column group, column name, then ``track_id``)."""
    try:
        frame = pd.read_csv(path, header=[0, 1], index_col=0, low_memory=False)
    except (ValueError, pd.errors.ParserError, IndexError) as exc:
        _refuse_truncated(path)
        raise DatasetError(
            f"{path}: cannot read it as FMA tracks.csv (a CSV whose header rows are 'set,track,...' over "
            f"'split,genre_top,...' over 'track_id'): {exc}"
        ) from None
    if not isinstance(frame.columns, pd.MultiIndex) or frame.columns.nlevels != 2:
        raise DatasetError(f"{path}: FMA tracks.csv needs its header rows (column group over column name)")
    with open(path, "rb") as handle:  # a file cut between two quotes parses, with a short last record
        handle.seek(max(0, path.stat().st_size - 1))
        ends_cleanly = handle.read(1) in (b"\n", b"\r")
    if not ends_cleanly:
        _refuse_truncated(path)
    return frame


def _guess_audio_dir(csv_path: Path, subset: str) -> Path:
    names = [f"fma_{subset}", "fma_full", "fma_large", "audio"] if subset else ["fma_full", "fma_large", "audio"]
    candidates = [folder / name for folder in (csv_path.parent, csv_path.parent.parent) for name in names]
    for candidate in candidates:
        if candidate.is_dir():
            return candidate.resolve()
    raise DatasetError(
        f"{csv_path}: no FMA audio folder found (looked for {list_some(str(c) for c in candidates)}); "
        "give the folder holding 000/, 001/, ... with --audio-dir (in Python: audio_dir=)"
    )


def _parse_id_list(text, *, row: int) -> list[int]:
    if pd.isna(text) or str(text).strip() == "":
        return []
    try:
        value = ast.literal_eval(str(text))
        return [int(v) for v in value]
    except (ValueError, SyntaxError, TypeError):
        raise DatasetError(f"tracks.csv: track {row} has an unreadable genre list {text!r}") from None


def _genre_names(csv_path: Path) -> dict[int, str]:
    genres_csv = csv_path.parent / "genres.csv"
    if not genres_csv.is_file():
        return {}
    genres = pd.read_csv(genres_csv)
    if not {"genre_id", "title"} <= set(genres.columns):
        raise DatasetError(f"{genres_csv}: expected columns 'genre_id' and 'title', found {list(genres.columns)}")
    return {int(g): str(t) for g, t in zip(genres["genre_id"], genres["title"])}


def read_fma(
    tracks_csv: str | Path,
    *,
    audio_dir: str | Path | None = None,
    subset: str | None = "small",
    level: str = "genre_top",
    missing: str = "error",
) -> DatasetIndex:
    """Index the FMA dataset from its ``tracks.csv`` and audio folder.

    Parameters
    ----------
    tracks_csv : str or Path
        ``fma_metadata/tracks.csv`` (three header rows).
    audio_dir : str or Path or None
        Folder holding ``000/000002.mp3`` etc. ``None`` looks for ``fma_<subset>``,
        ``fma_full``, ``fma_large`` or ``audio`` beside ``tracks.csv`` or one level up.
    subset : {"small", "medium", "large"} or None
        Which subset to take (subsets nest: ``"medium"`` includes ``"small"``);
        ``None`` takes every track.
    level : {"genre_top", "genres", "genres_all"}
        Single-label top genres, or multi-label genre lists (see the module docstring).
    missing : {"error", "skip", "keep"}
        What to do with tracks whose audio file is missing (``"keep"`` lists them anyway,
        and needs no audio folder).

    Returns
    -------
    index : DatasetIndex
        ``kind="fma"``; track ids are FMA track ids as text; FMA's split is kept.

    Raises
    ------
    DatasetError
        Missing files or columns, duplicate track ids, unreadable genre lists, missing
        audio (with ``missing="error"``), or an empty selection.
    """
    if subset is not None and subset not in FMA_SUBSETS:
        raise ParameterError(f"subset must be one of {FMA_SUBSETS} or None, got {subset!r}")
    if level not in FMA_LEVELS:
        raise ParameterError(f"level must be one of {FMA_LEVELS}, got {level!r}")
    check_missing_policy(missing)
    csv_path = require_file(tracks_csv, what="FMA tracks.csv")
    frame = _read_tracks(csv_path)

    needed = [("set", "split"), ("track", level)]
    if subset is not None:
        needed.append(("set", "subset"))
    absent = [f"{a}.{b}" for a, b in needed if (a, b) not in frame.columns]
    if absent:
        present = list_some(f"{a}.{b}" for a, b in frame.columns)
        raise DatasetError(f"{csv_path}: FMA tracks.csv lacks columns {absent}; it has {present}")

    try:
        ids = pd.to_numeric(pd.Series(frame.index), errors="raise").astype(np.int64)
    except (ValueError, TypeError):
        raise DatasetError(f"{csv_path}: the first column must hold numeric FMA track ids") from None
    dup = ids[ids.duplicated()].unique().tolist()
    if dup:
        raise DatasetError(f"{csv_path}: duplicate track ids {list_some(dup)}")
    frame = frame.set_axis(ids.to_numpy(), axis=0)

    notes: list[str] = []
    if subset is not None:
        allowed = FMA_SUBSETS[: FMA_SUBSETS.index(subset) + 1]
        frame = frame[frame[("set", "subset")].astype("string").isin(allowed).fillna(False).to_numpy(dtype=bool)]
        if frame.empty:
            raise DatasetError(f"{csv_path}: no track belongs to subset {subset!r}")

    if level == "genre_top":
        top = frame[("track", "genre_top")].astype("string").str.strip()
        has = (top.notna() & (top != "")).to_numpy(dtype=bool)
        if (~has).any():
            notes.append(f"left out {int((~has).sum())} tracks without a top genre")
        frame = frame[has]
        per_track = [[g] for g in top[has].tolist()]
        labels = sorted({g[0] for g in per_track})
    else:
        names = _genre_names(csv_path)
        id_lists = [_parse_id_list(v, row=r) for r, v in zip(frame.index, frame[("track", level)])]
        has = np.array([bool(v) for v in id_lists], dtype=bool)
        if (~has).any():
            notes.append(f"left out {int((~has).sum())} tracks with an empty genre list")
        frame = frame[has]
        unknown = sorted({g for v in id_lists for g in v if names and g not in names})
        if unknown:
            raise DatasetError(f"{csv_path.parent / 'genres.csv'}: genre ids {list_some(unknown)} are not listed")
        per_track = [[names.get(g, str(g)) for g in v] for v, h in zip(id_lists, has) if h]
        labels = sorted(
            {g for v in per_track for g in v}, key=lambda s: (not s.isdigit(), int(s) if s.isdigit() else 0, s)
        )
    if frame.empty:
        raise DatasetError(f"{csv_path}: no track with a {level} label")

    if audio_dir is not None:
        audio_root = Path(audio_dir).expanduser()
    elif missing == "keep":  # describing the metadata: the audio folder may not be there at all
        try:
            audio_root = _guess_audio_dir(csv_path, subset or "")
        except DatasetError:
            audio_root = csv_path.parent
            notes.append(f"no FMA audio folder found; audio paths are taken relative to {csv_path.parent.name}/")
    else:
        audio_root = _guess_audio_dir(csv_path, subset or "")
    if not audio_root.is_dir():
        raise DatasetError(f"FMA audio folder {str(audio_root)!r} does not exist")
    audio_root = audio_root.resolve()
    paths = [str(fma_audio_path(audio_root, tid)) for tid in frame.index]
    keep = check_missing_files(paths, missing=missing, what=f"FMA ({csv_path.name})")
    if (~keep).any():
        notes.append(f"skipped {int((~keep).sum())} tracks whose audio file is missing")
    if not keep.any():
        raise DatasetError(f"FMA: none of the {len(paths)} audio files exists under {audio_root}")

    column = {label: j for j, label in enumerate(labels)}
    strengths = np.zeros((len(frame), len(labels)), dtype=np.float32)
    for i, genres in enumerate(per_track):
        strengths[i, [column[g] for g in genres]] = 100.0

    artist = pd.Series([pd.NA] * len(frame), dtype=object, index=frame.index)
    if ("artist", "id") in frame.columns:
        ids_text = frame[("artist", "id")].astype("string")
        artist = artist.where(ids_text.isna(), "artist-" + ids_text)
    if ("artist", "name") in frame.columns:
        name = frame[("artist", "name")].astype("string").str.strip()
        name = name.mask(name == "")
        artist = name.astype(object).where(name.notna(), artist)
    tracks = pd.DataFrame(
        {
            "track_id": [str(t) for t in frame.index],
            "path": paths,
            "artist": artist.where(artist.notna(), pd.NA).to_numpy(dtype=object),
            "split": normalise_splits(frame[("set", "split")], what=str(csv_path)).to_numpy(dtype=object),
        }
    )
    return DatasetIndex(
        name=f"fma_{subset or 'all'}",
        kind="fma",
        labels=labels,
        tracks=tracks[keep].reset_index(drop=True),
        strengths=strengths[keep],
        root=str(csv_path),
        meta={"level": level, "subset": subset, "audio_dir": str(audio_root), "notes": notes},
    )
