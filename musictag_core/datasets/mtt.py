"""MagnaTagATune (MTT): ``annotations_final.csv`` plus the ``0/ ... f/`` mp3 tree.

``annotations_final.csv`` is tab-separated (values often quoted): ``clip_id``, then one
0/1 column per tag (188 in the release), then ``mp3_path`` (``f/artist-album-01-title-0-29.mp3``,
relative to the audio folder). Strengths are ``100 * value``. Many clips carry no tag at
all; they are kept (a multi-label model learns "none of these" from them) and counted in
``meta["notes"]``.

The annotations name no artist. When ``clip_info_final.csv`` (tab-separated, with
``clip_id`` and ``artist`` columns) lies next to the annotations, its artists are joined
in, so splits can keep each artist on one side.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DatasetError, ParameterError
from .base import DatasetIndex, check_ids, check_missing_files, check_missing_policy, list_some, require_file

__all__ = ["read_mtt", "MTT_ID_COLUMN", "MTT_PATH_COLUMN"]

MTT_ID_COLUMN = "clip_id"
MTT_PATH_COLUMN = "mp3_path"


def _read_tsv(path: Path, *, what: str) -> pd.DataFrame:
    try:
        frame = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    except (ValueError, pd.errors.ParserError) as exc:
        raise DatasetError(f"{path}: cannot read {what} as a tab-separated file: {exc}") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


def read_mtt(
    annotations_csv: str | Path,
    *,
    audio_dir: str | Path | None = None,
    top_n: int | None = None,
    missing: str = "error",
) -> DatasetIndex:
    """Index MagnaTagATune from ``annotations_final.csv``.

    Parameters
    ----------
    annotations_csv : str or Path
        The tab-separated annotations file.
    audio_dir : str or Path or None
        Folder that ``mp3_path`` is relative to; default: the annotations' folder.
    top_n : int or None
        Keep only the ``top_n`` most frequent tags (ties broken by file order), as in
        the usual top-50 benchmark; ``None`` keeps all.
    missing : {"error", "skip"}
        What to do with clips whose mp3 file is missing.

    Returns
    -------
    index : DatasetIndex
        Multi-label index (``kind="mtt"``); track ids are the clip ids; artists from
        ``clip_info_final.csv`` when present; no predefined split.

    Raises
    ------
    DatasetError
        Missing file, not tab-separated, missing ``clip_id``/``mp3_path`` columns, tag
        values other than 0/1 (named by column and clip), duplicate clip ids, missing audio.
    """
    if top_n is not None and (isinstance(top_n, bool) or not isinstance(top_n, int) or top_n < 1):
        raise ParameterError(f"top_n must be a positive integer or None, got {top_n!r}")
    check_missing_policy(missing)
    csv_path = require_file(annotations_csv, what="MagnaTagATune annotations")
    frame = _read_tsv(csv_path, what="MagnaTagATune annotations")
    absent = [c for c in (MTT_ID_COLUMN, MTT_PATH_COLUMN) if c not in frame.columns]
    if absent:
        hint = " (is it tab-separated?)" if len(frame.columns) < 3 else ""
        raise DatasetError(
            f"{csv_path}: MagnaTagATune annotations lack columns {absent}{hint}; "
            f"found {list_some(frame.columns)}"
        )
    if frame.empty:
        raise DatasetError(f"{csv_path}: no clips listed")
    tags = [c for c in frame.columns if c not in (MTT_ID_COLUMN, MTT_PATH_COLUMN)]
    if not tags:
        raise DatasetError(f"{csv_path}: no tag columns between clip_id and mp3_path")

    ids = frame[MTT_ID_COLUMN].str.strip()
    check_ids(ids, csv_path=csv_path, column=MTT_ID_COLUMN, what="clip ids")

    raw = frame[tags].apply(lambda col: col.str.strip())
    values = raw.apply(pd.to_numeric, errors="coerce")
    bad = ~values.isin([0, 1]).to_numpy()
    if bad.any():
        rows, cols = np.nonzero(bad)
        cells = [f"clip {ids.iloc[r]} tag {tags[c]!r} = {raw.iat[r, c]!r}" for r, c in zip(rows, cols)]
        raise DatasetError(f"{csv_path}: tag values must be 0 or 1: {list_some(cells, quote=False)}")
    y = values.to_numpy(dtype=np.float32)

    notes: list[str] = []
    if top_n is not None and top_n < len(tags):
        counts = y.sum(axis=0)
        order = np.argsort(-counts, kind="stable")[:top_n]
        keep_cols = np.sort(order)
        notes.append(f"kept the {top_n} most frequent of {len(tags)} tags")
        tags = [tags[j] for j in keep_cols]
        y = y[:, keep_cols]
    untagged = int((y.sum(axis=1) == 0).sum())
    if untagged:
        notes.append(f"{untagged} clips carry none of the {len(tags)} tags")

    audio_root = csv_path.parent if audio_dir is None else Path(audio_dir).expanduser()
    if not audio_root.is_dir():
        raise DatasetError(f"MagnaTagATune audio folder {str(audio_root)!r} does not exist")
    audio_root = audio_root.resolve()
    rel = frame[MTT_PATH_COLUMN].str.strip()
    paths = [str(audio_root / p) for p in rel]
    keep = check_missing_files(paths, missing=missing, what=f"MagnaTagATune ({csv_path.name})")
    if (~keep).any():
        notes.append(f"skipped {int((~keep).sum())} clips whose mp3 file is missing")
    if not keep.any():
        raise DatasetError(f"MagnaTagATune: none of the {len(paths)} mp3 files exists under {audio_root}")

    artist = pd.Series([pd.NA] * len(frame), dtype=object)
    info_csv = csv_path.parent / "clip_info_final.csv"
    if info_csv.is_file():
        info = _read_tsv(info_csv, what="clip_info_final.csv")
        if {"clip_id", "artist"} <= set(info.columns):
            names = dict(zip(info["clip_id"].str.strip(), info["artist"].str.strip()))
            artist = pd.Series([names.get(i) or pd.NA for i in ids], dtype=object)
        else:
            notes.append(f"{info_csv.name} has no clip_id/artist columns; artists not joined")

    tracks = pd.DataFrame({"track_id": ids.to_numpy(dtype=object), "path": paths, "artist": artist.to_numpy()})
    return DatasetIndex(
        name="magnatagatune",
        kind="mtt",
        labels=tags,
        tracks=tracks[keep].reset_index(drop=True),
        strengths=100.0 * y[keep],
        root=str(csv_path),
        meta={"audio_dir": str(audio_root), "top_n": top_n, "notes": notes},
    )
