"""MagnaTagATune (MTT): ``annotations_final.csv`` plus the ``0/ ... f/`` mp3 tree.

``annotations_final.csv`` is tab-separated (values often quoted): ``clip_id``, then one
0/1 column per tag (188 in the release), then ``mp3_path`` (``f/artist-album-01-title-0-29.mp3``,
relative to the audio folder). Strengths are ``100 * value``. Many clips carry no tag at
all; they are kept (a multi-label model learns "none of these" from them) and counted in
``meta["notes"]``.

Lines that start with ``#`` (``# Bach``, ``#\tLVX\tNova``: group headings) are skipped
in both files; a ``#`` elsewhere is data. Tag values are stripped (``"0 "`` reads as 0).

The annotations name no artist. When a clip-info file (tab-separated, CRLF in the
release, with ``clip_id``, ``artist`` and ``mp3_path`` columns) lies next to the
annotations (``clip_info_final.csv``, or ``<prefix>clip_info_final.csv`` beside
``<prefix>annotations_final.csv``), its artists are joined in, so splits can keep each
artist on one side; annotations without an ``mp3_path`` column take their paths from it.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DatasetError, ParameterError
from .base import (
    DatasetIndex,
    check_ids,
    check_missing_files,
    check_missing_policy,
    find_in_folder,
    list_some,
    require_file,
)

__all__ = ["read_mtt", "find_clip_info", "MTT_ID_COLUMN", "MTT_PATH_COLUMN"]

MTT_ID_COLUMN = "clip_id"
MTT_PATH_COLUMN = "mp3_path"


def _read_tsv(path: Path, *, what: str) -> pd.DataFrame:
    """Read a tab-separated MTT file, dropping comment lines (``#`` at the very start of a line).

    The release separates groups of clips by lines such as ``# Bach`` or ``#\tLVX\tNova``;
    a ``#`` inside a field (a title) is kept, so ``pd.read_csv(comment="#")`` is not used.
    CRLF and LF line endings both work.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{path}: cannot read {what}: it is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    numbered = [(n, line) for n, line in enumerate(text.splitlines(), start=1) if not line.startswith("#")]
    lines = [line for _, line in numbered]
    if not lines:
        raise DatasetError(f"{path}: {what} holds no header line")
    try:
        frame = pd.read_csv(io.StringIO("\n".join(lines) + "\n"), sep="\t", dtype=str, keep_default_na=False)
    except (ValueError, pd.errors.ParserError) as exc:
        raise DatasetError(f"{path}: cannot read {what} as a tab-separated file: {exc}") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    data_lines = [n for n, line in numbered[1:] if line.strip()]  # read_csv skips blank lines
    frame.attrs["lines"] = data_lines if len(data_lines) == len(frame) else None
    return frame


def find_clip_info(annotations_csv: Path) -> Path | None:
    """The clip-info file that goes with ``annotations_csv``, or None.

    Looks beside the annotations for ``<prefix>clip_info_final.csv`` where the annotations
    are ``<prefix>annotations_final.csv`` (``tiny_annotations_final.csv`` →
    ``tiny_clip_info_final.csv``), then ``clip_info_final.csv``, then the only
    ``*clip_info_final.csv`` there.
    """
    name = annotations_csv.name
    names = []
    if name.endswith("annotations_final.csv"):
        names.append(name[: -len("annotations_final.csv")] + "clip_info_final.csv")
    names.append("clip_info_final.csv")
    return find_in_folder(annotations_csv.parent, names=names, pattern="*clip_info_final.csv")


def read_mtt(
    annotations_csv: str | Path,
    *,
    audio_dir: str | Path | None = None,
    clip_info: str | Path | None = None,
    top_n: int | None = None,
    missing: str = "error",
) -> DatasetIndex:
    """Index MagnaTagATune from ``annotations_final.csv`` (and its clip-info file).

    Parameters
    ----------
    annotations_csv : str or Path
        The tab-separated annotations file (``annotations_final.csv`` or a file in its
        form such as ``tiny_annotations_final.csv``); ``#`` comment lines are skipped.
    audio_dir : str or Path or None
        Folder that ``mp3_path`` is relative to; default: the annotations' folder.
    clip_info : str or Path or None
        The tab-separated clip-info file (``clip_id``, ``artist``, ``mp3_path``, ...);
        default: found beside the annotations by :func:`find_clip_info`. It gives the
        artists, and the mp3 paths when the annotations have no ``mp3_path`` column.
    top_n : int or None
        Keep only the ``top_n`` most frequent tags (ties broken by file order), as in
        the usual top-50 benchmark; ``None`` keeps all.
    missing : {"error", "skip", "keep"}
        What to do with clips whose mp3 file is missing (``"keep"`` lists them anyway).

    Returns
    -------
    index : DatasetIndex
        Multi-label index (``kind="mtt"``); track ids are the clip ids; artists from
        the clip-info file when there is one; no predefined split.

    Raises
    ------
    DatasetError
        Missing file, not tab-separated, no ``clip_id`` column, no ``mp3_path`` in the
        annotations nor a clip-info file, tag values other than 0/1 (named by column and
        clip), duplicate clip ids, clips the clip-info file does not list, missing audio.
    """
    if top_n is not None and (isinstance(top_n, bool) or not isinstance(top_n, int) or top_n < 1):
        raise ParameterError(f"top_n must be a positive integer or None, got {top_n!r}")
    check_missing_policy(missing)
    csv_path = require_file(annotations_csv, what="MagnaTagATune annotations")
    frame = _read_tsv(csv_path, what="MagnaTagATune annotations")
    if clip_info is not None:
        info_csv: Path | None = require_file(clip_info, what="MagnaTagATune clip info")
    else:
        info_csv = find_clip_info(csv_path)
    info = None
    if info_csv is not None:
        info = _read_tsv(info_csv, what="MagnaTagATune clip info")
        if MTT_ID_COLUMN not in info.columns:
            raise DatasetError(f"{info_csv}: MagnaTagATune clip info lacks a 'clip_id' column; found {list_some(info.columns)}")
        info = info.assign(**{MTT_ID_COLUMN: info[MTT_ID_COLUMN].str.strip()}).drop_duplicates(MTT_ID_COLUMN)
        info = info.set_index(MTT_ID_COLUMN)

    absent = [MTT_ID_COLUMN] if MTT_ID_COLUMN not in frame.columns else []
    path_from_info = MTT_PATH_COLUMN not in frame.columns
    if path_from_info and (info is None or MTT_PATH_COLUMN not in info.columns):
        absent.append(MTT_PATH_COLUMN)
    if absent:
        hint = " (is it tab-separated?)" if len(frame.columns) < 3 else ""
        where = "" if MTT_ID_COLUMN in absent else " and no clip_info_final.csv with an 'mp3_path' column lies beside it"
        raise DatasetError(
            f"{csv_path}: MagnaTagATune annotations lack columns {absent}{hint}{where}; "
            f"found {list_some(frame.columns)}"
        )
    if frame.empty:
        raise DatasetError(f"{csv_path}: no clips listed")
    tags = [c for c in frame.columns if c not in (MTT_ID_COLUMN, MTT_PATH_COLUMN)]
    if not tags:
        raise DatasetError(f"{csv_path}: no tag columns beside clip_id")

    ids = frame[MTT_ID_COLUMN].str.strip()
    # comment lines shift the row numbers: name the file lines _read_tsv recorded
    check_ids(ids, csv_path=csv_path, column=MTT_ID_COLUMN, what="clip ids", lines=frame.attrs.get("lines"))

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

    if path_from_info:
        assert info is not None and info_csv is not None
        unlisted = [i for i in ids if i not in info.index]
        if unlisted:
            raise DatasetError(
                f"{info_csv}: {len(unlisted)} clips of {csv_path.name} are not listed, so their mp3 path is unknown: "
                f"{list_some(unlisted)}"
            )
        rel = info[MTT_PATH_COLUMN].reindex(ids.to_numpy()).str.strip()
        notes.append(f"mp3 paths joined from {info_csv.name}")
    else:
        rel = frame[MTT_PATH_COLUMN].str.strip()
    blank = [i for i, r in zip(ids, rel) if not r]
    if blank:
        raise DatasetError(f"{csv_path}: clips without an mp3 path: {list_some(blank)}")

    audio_root = csv_path.parent if audio_dir is None else Path(audio_dir).expanduser()
    if not audio_root.is_dir():
        raise DatasetError(f"MagnaTagATune audio folder {str(audio_root)!r} does not exist")
    audio_root = audio_root.resolve()
    paths = [str(audio_root / p) for p in rel]
    keep = check_missing_files(paths, missing=missing, what=f"MagnaTagATune ({csv_path.name})")
    if (~keep).any():
        notes.append(f"skipped {int((~keep).sum())} clips whose mp3 file is missing")
    if not keep.any():
        raise DatasetError(f"MagnaTagATune: none of the {len(paths)} mp3 files exists under {audio_root}")

    artist = pd.Series([pd.NA] * len(frame), dtype=object)
    if info is not None:
        if "artist" in info.columns:
            names = info["artist"].str.strip().to_dict()
            artist = pd.Series([names.get(i) or pd.NA for i in ids], dtype=object)
        else:
            notes.append(f"{info_csv.name} has no artist column; artists not joined")

    tracks = pd.DataFrame({"track_id": ids.to_numpy(dtype=object), "path": paths, "artist": artist.to_numpy()})
    return DatasetIndex(
        name="magnatagatune",
        kind="mtt",
        labels=tags,
        tracks=tracks[keep].reset_index(drop=True),
        strengths=100.0 * y[keep],
        root=str(csv_path),
        meta={
            "audio_dir": str(audio_root),
            "clip_info": None if info_csv is None else str(info_csv),
            "top_n": top_n,
            "notes": notes,
        },
    )
