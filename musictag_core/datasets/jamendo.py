"""MTG-Jamendo autotagging splits: ``split-0/autotagging_genre-train.tsv`` and its siblings.

Each split file is tab-separated with CRLF line endings. The header names six columns,
``TRACK_ID ARTIST_ID ALBUM_ID PATH DURATION TAGS``, but a row carries one field per tag
from the sixth on (``genre---rock<TAB>genre---pop``), so a row has six or more fields.
``PATH`` (``14/214.mp3``) is relative to the audio root; ``DURATION`` is in seconds.

The split is the file name's: ``...-train.tsv``, ``...-validation.tsv``, ``...-test.tsv``
(the official splits, kept as given; a file named otherwise has no split). Reading one
file of a set also reads its siblings with the same prefix (``siblings=True``), so the
official train/validation/test split is there to train on. Artists are the
``ARTIST_ID`` values, so a grouped split keeps each artist on one side.

Tags are ``<category>---<name>`` (categories ``genre``, ``instrument``, ``mood/theme``).
With ``category="genre"`` (the default) only that category's tags are labels, named
without their prefix (``rock``); ``category=None`` keeps every tag under its full name.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DatasetError, ParameterError
from .base import DatasetIndex, check_missing_files, check_missing_policy, list_some, require_exists, require_file

__all__ = ["read_jamendo", "JAMENDO_COLUMNS", "jamendo_split_files", "is_jamendo_split_file"]

#: The header's columns (the last one, ``TAGS``, spreads over every further field).
JAMENDO_COLUMNS = ("TRACK_ID", "ARTIST_ID", "ALBUM_ID", "PATH", "DURATION", "TAGS")
_SPLIT_NAME = re.compile(r"^(?P<prefix>.+)-(?P<split>train|validation|test)\.tsv$")
_TAG_SEPARATOR = "---"


def _set_key(path: Path) -> tuple[str, str | None]:
    """``(prefix, split)`` of a split file name; split None when the name gives none."""
    match = _SPLIT_NAME.match(path.name)
    if match is None:
        return path.stem, None
    return match["prefix"], match["split"]


def is_jamendo_split_file(path: Path) -> bool:
    """Whether ``path`` is a file named like an official split (``...-train/-validation/-test.tsv``)."""
    return _set_key(path)[1] is not None and path.is_file()


def jamendo_split_files(path: str | Path, *, category: str | None = "genre", siblings: bool = True) -> list[Path]:
    """The split files to read for ``path`` (a split file or a folder of them).

    Parameters
    ----------
    path : str or Path
        A ``*.tsv`` split file, or a folder holding ``*autotagging*-{train,validation,test}.tsv``.
    category : str or None
        In a folder holding several sets (``autotagging``, ``autotagging_genre``, ...),
        prefer the set named after the category, then the set of all tags.
    siblings : bool
        For a file: also take the files of the same set (same prefix, other split).

    Returns
    -------
    files : list of Path
        In train, validation, test order.
    """
    p = require_exists(path, what="MTG-Jamendo split")
    if p.is_dir():
        files = sorted(f for f in p.glob("*autotagging*.tsv") if is_jamendo_split_file(f))
        if not files:
            raise DatasetError(f"{p}: no MTG-Jamendo split files (*autotagging*-train/validation/test.tsv) inside")
        sets = sorted({_set_key(f)[0] for f in files})
        if len(sets) > 1:
            preferred = [s for s in sets if category and s.endswith(f"autotagging_{category}")]
            preferred = preferred or [s for s in sets if s.endswith("autotagging")]
            if len(preferred) != 1:
                raise DatasetError(
                    f"{p}: several MTG-Jamendo split sets inside ({list_some(sets)}); give one of their files"
                )
            sets = preferred
        files = [f for f in files if _set_key(f)[0] == sets[0]]
    else:
        p = require_file(p, what="MTG-Jamendo split file")
        prefix, split = _set_key(p)
        files = [p]
        if siblings and split is not None:
            files = [f for s in ("train", "validation", "test") if (f := p.parent / f"{prefix}-{s}.tsv").is_file()]
    order = {"train": 0, "validation": 1, "test": 2, None: 3}
    return sorted(files, key=lambda f: order[_set_key(f)[1]])


def _read_split_file(path: Path, *, split: str | None) -> list[dict]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    lines = text.splitlines()  # CRLF or LF
    if not lines:
        raise DatasetError(f"{path}: the file is empty")
    header = [c.strip() for c in lines[0].split("\t")]
    if tuple(header[:6]) != JAMENDO_COLUMNS:
        raise DatasetError(
            f"{path}: an MTG-Jamendo split file starts with the tab-separated header "
            f"{' '.join(JAMENDO_COLUMNS)}; found {list_some(header)}"
        )
    rows = []
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        fields = [f.strip() for f in line.split("\t")]
        if len(fields) < 6:
            raise DatasetError(
                f"{path}: line {number} has {len(fields)} tab-separated fields; a track needs the five columns "
                "and at least one tag"
            )
        track, artist, album, rel, duration = fields[:5]
        if not track or not rel:
            raise DatasetError(f"{path}: line {number} has a blank TRACK_ID or PATH")
        try:
            seconds = float(duration)
        except ValueError:
            raise DatasetError(f"{path}: line {number}: DURATION {duration!r} is not a number of seconds") from None
        tags = [t for t in fields[5:] if t]
        odd = [t for t in tags if _TAG_SEPARATOR not in t]
        if odd:
            raise DatasetError(f"{path}: line {number}: tags must look like 'genre---rock', found {list_some(odd)}")
        rows.append(
            {
                "track_id": track,
                "artist": artist or pd.NA,
                "album": album or pd.NA,
                "rel": rel,
                "duration": seconds,
                "split": split,
                "tags": tags,
                "where": f"{path.name} line {number}",
            }
        )
    return rows


def read_jamendo(
    path: str | Path,
    *,
    audio_dir: str | Path | None = None,
    category: str | None = "genre",
    siblings: bool = True,
    missing: str = "error",
) -> DatasetIndex:
    """Index MTG-Jamendo from its autotagging split files.

    Parameters
    ----------
    path : str or Path
        A split file (``split-0_autotagging_genre-validation.tsv``,
        ``split-0/autotagging_genre-train.tsv``) or a folder holding a set of them.
    audio_dir : str or Path or None
        The audio root that ``PATH`` is relative to (the folder holding ``00/``, ``01/``,
        ...); default: the split files' folder.
    category : str or None
        Tag category to take as labels (``"genre"``, ``"instrument"``, ``"mood/theme"``),
        named without the ``<category>---`` prefix; ``None`` keeps every tag, full name.
    siblings : bool
        Reading one file also reads the other splits of its set (see the module docstring).
    missing : {"error", "skip", "keep"}
        What to do with tracks whose audio file is missing (``"keep"`` lists them anyway).

    Returns
    -------
    index : DatasetIndex
        ``kind="jamendo"``; track ids are ``TRACK_ID``; artists are ``ARTIST_ID``;
        the split is the file name's; extra columns ``album`` and ``duration`` (seconds).
        Tracks without a tag of ``category`` are left out and counted in ``meta["notes"]``.

    Raises
    ------
    DatasetError
        Missing file, wrong header, a row with fewer than six fields or a bad duration
        (named by file and line), a track listed twice, no track with a tag of the
        category, missing audio.
    """
    if category is not None and (not isinstance(category, str) or not category.strip()):
        raise ParameterError(f"category must be a tag category such as 'genre', or None, got {category!r}")
    if not isinstance(siblings, bool):
        raise ParameterError(f"siblings must be True or False, got {siblings!r}")
    check_missing_policy(missing)
    files = jamendo_split_files(path, category=category, siblings=siblings)
    rows = [row for f in files for row in _read_split_file(f, split=_set_key(f)[1])]
    if not rows:
        raise DatasetError(f"{list_some(f.name for f in files)}: no tracks listed")
    seen: dict[str, str] = {}
    for row in rows:
        if row["track_id"] in seen:
            raise DatasetError(f"MTG-Jamendo: track {row['track_id']} is listed twice ({seen[row['track_id']]} and {row['where']})")
        seen[row["track_id"]] = row["where"]

    notes: list[str] = []
    prefix = f"{category}{_TAG_SEPARATOR}" if category else ""
    for row in rows:
        row["labels"] = [t[len(prefix):] for t in row["tags"] if t.startswith(prefix)] if prefix else row["tags"]
    tagged = [row for row in rows if row["labels"]]
    if len(tagged) < len(rows):
        notes.append(f"left out {len(rows) - len(tagged)} tracks without a {category} tag")
    if not tagged:
        found = sorted({t.split(_TAG_SEPARATOR)[0] for row in rows for t in row["tags"]})
        raise DatasetError(f"MTG-Jamendo: no track has a {category!r} tag; the files hold categories {list_some(found)}")
    labels = sorted({label for row in tagged for label in row["labels"]})
    column = {label: j for j, label in enumerate(labels)}
    strengths = np.zeros((len(tagged), len(labels)), dtype=np.float32)
    for i, row in enumerate(tagged):
        strengths[i, [column[label] for label in row["labels"]]] = 100.0

    audio_root = files[0].parent if audio_dir is None else Path(audio_dir).expanduser()
    if not audio_root.is_dir():
        raise DatasetError(f"MTG-Jamendo audio folder {str(audio_root)!r} does not exist")
    audio_root = audio_root.resolve()
    paths = [str(audio_root / row["rel"]) for row in tagged]
    keep = check_missing_files(paths, missing=missing, what=f"MTG-Jamendo ({files[0].name})")
    if (~keep).any():
        notes.append(f"skipped {int((~keep).sum())} tracks whose audio file is missing")
    if not keep.any():
        raise DatasetError(f"MTG-Jamendo: none of the {len(paths)} audio files exists under {audio_root}")

    tracks = pd.DataFrame(
        {
            "track_id": [row["track_id"] for row in tagged],
            "path": paths,
            "artist": pd.Series([row["artist"] for row in tagged], dtype=object),
            "split": pd.Series([row["split"] if row["split"] else pd.NA for row in tagged], dtype=object),
            "album": pd.Series([row["album"] for row in tagged], dtype=object),
            "duration": [row["duration"] for row in tagged],
        }
    )
    set_name = _set_key(files[0])[0]
    return DatasetIndex(
        name=f"mtg-jamendo_{set_name}",
        kind="jamendo",
        labels=labels,
        tracks=tracks[keep].reset_index(drop=True),
        strengths=strengths[keep],
        root=str(files[0] if len(files) == 1 else files[0].parent),
        meta={
            "audio_dir": str(audio_root),
            "files": [str(f) for f in files],
            "category": category,
            "notes": notes,
        },
    )
