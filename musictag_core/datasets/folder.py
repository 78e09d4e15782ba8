"""Folder datasets: one subfolder per genre (GTZAN layout), or flat GTZAN-named clips.

Two layouts are accepted:

* **Genre folders** (``genres_original/blues/blues.00000.wav``): every non-hidden
  subfolder of ``root`` is a genre and holds that genre's audio files (nested
  folders inside a genre are searched too). Track ids are ``"<genre>/<path
  inside the genre folder, without extension>"``, e.g. ``"blues/blues.00000"``.
  Audio files lying directly in ``root`` next to genre folders are an error (they
  have no genre); a genre folder without audio is an error too.
* **Flat GTZAN naming** (``clips/blues.00000.wav``): when ``root`` has no
  subfolders, each audio file named ``<genre>.<digits>.<ext>`` is a clip of
  ``<genre>``; track ids are ``"<genre>/<stem>"``. Audio files not following that
  pattern are skipped and listed in ``index.meta["notes"]``.

Hidden files and folders (starting with ``.``) and files without an audio
extension are ignored in both layouts.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ..audio import AUDIO_EXTENSIONS
from ..errors import DatasetError
from .base import DatasetIndex, list_some, require_exists

__all__ = ["read_folder", "GTZAN_NAME"]

#: Stem of a flat GTZAN-named clip: ``<genre>.<digits>`` (for example ``blues.00042``).
GTZAN_NAME = re.compile(r"^(?P<genre>[^.\s][^.]*)\.(?P<number>\d+)$")


def _visible(path: Path, root: Path) -> bool:
    return not any(part.startswith(".") for part in path.relative_to(root).parts)


def _audio_files(folder: Path, extensions: tuple[str, ...], *, recursive: bool) -> list[Path]:
    pattern = folder.rglob("*") if recursive else folder.iterdir()
    return sorted(
        p for p in pattern if p.is_file() and p.suffix.lower() in extensions and _visible(p, folder)
    )


def _one_hot(genres: list[str], labels: list[str]) -> np.ndarray:
    strengths = np.zeros((len(genres), len(labels)), dtype=np.float32)
    column = {label: j for j, label in enumerate(labels)}
    strengths[np.arange(len(genres)), [column[g] for g in genres]] = 100.0
    return strengths


def _check_unique(ids: list[str], files: list[Path], root: Path) -> None:
    seen: dict[str, Path] = {}
    clashes = []
    for track_id, file in zip(ids, files):
        if track_id in seen:
            clashes.append(f"{seen[track_id].relative_to(root)} / {file.relative_to(root)}")
        seen[track_id] = file
    if clashes:
        raise DatasetError(
            f"{root}: files that differ only by extension give the same track id: {list_some(clashes, quote=False)}. "
            "Keep one file per clip."
        )


def _check_not_one_level_up(root: Path, subfolders: list[Path], exts: tuple[str, ...]) -> None:
    """Catch a dataset opened one level too high (``Data/`` instead of ``Data/genres_original/``)."""
    for folder in subfolders:
        if _audio_files(folder, exts, recursive=False):
            continue
        inner = sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
        with_audio = [name for name in inner if _audio_files(folder / name, exts, recursive=False)]
        if len(with_audio) > 1:
            raise DatasetError(
                f"{root}: {folder.name!r} holds genre-like folders ({list_some(with_audio, limit=5)}) rather than "
                f"audio files; open {str(folder)!r} instead"
            )


def read_folder(root: str | Path, *, extensions: Sequence[str] = AUDIO_EXTENSIONS) -> DatasetIndex:
    """Index a folder of audio clips, one subfolder per genre (or flat GTZAN names).

    Parameters
    ----------
    root : str or Path
        The dataset folder (see the module docstring for the two layouts).
    extensions : sequence of str
        Audio file extensions to take (lower case, with the dot).

    Returns
    -------
    index : DatasetIndex
        Single-label index (``kind="folder"``): labels are the genres in sorted
        order, strengths are 100 for a clip's genre and 0 elsewhere; no artists
        and no predefined split.

    Raises
    ------
    DatasetError
        When ``root`` is missing or not a folder, audio files sit beside genre
        folders, a genre folder holds no audio, no clip is found, or two files
        give the same track id.
    """
    root_path = require_exists(root, what="dataset folder")
    if not root_path.is_dir():
        raise DatasetError(f"{str(root_path)!r} is not a folder; a folder dataset needs one subfolder per genre")
    root_path = root_path.resolve()
    exts = tuple(e.lower() if e.startswith(".") else f".{e.lower()}" for e in extensions)
    subfolders = sorted(p for p in root_path.iterdir() if p.is_dir() and not p.name.startswith("."))
    loose = _audio_files(root_path, exts, recursive=False)
    notes: list[str] = []

    if subfolders:
        if loose:
            raise DatasetError(
                f"{root_path}: audio files lie directly in the dataset folder next to genre folders "
                f"{list_some(p.name for p in subfolders)}: {list_some(p.name for p in loose)}. "
                "Move each file into its genre's folder."
            )
        _check_not_one_level_up(root_path, subfolders, exts)
        genres: list[str] = []
        files: list[Path] = []
        ids: list[str] = []
        empty = []
        for folder in subfolders:
            found = _audio_files(folder, exts, recursive=True)
            if not found:
                empty.append(folder.name)
            for file in found:
                genres.append(folder.name)
                files.append(file)
                ids.append(f"{folder.name}/{file.relative_to(folder).with_suffix('').as_posix()}")
        if empty:
            raise DatasetError(
                f"{root_path}: genre folders without audio files ({', '.join(exts)}): {list_some(empty)}. "
                "Add clips, remove the folders, or rename them to start with '.' to hide them."
            )
        layout = "genre folders"
    else:
        genres, files, ids, skipped = [], [], [], []
        for file in loose:
            match = GTZAN_NAME.match(file.stem)
            if match is None:
                skipped.append(file.name)
                continue
            genres.append(match["genre"])
            files.append(file)
            ids.append(f"{match['genre']}/{file.stem}")
        if not files:
            found = f"; found only {list_some(skipped)}" if skipped else ""
            raise DatasetError(
                f"{root_path}: no clips found. A folder dataset needs one subfolder per genre, or audio files "
                f"named '<genre>.<number>.<ext>' (like 'blues.00000.wav'){found}"
            )
        if skipped:
            notes.append(f"skipped {len(skipped)} audio files not named '<genre>.<number>.<ext>': {list_some(skipped)}")
        layout = "flat GTZAN names"

    _check_unique(ids, files, root_path)
    labels = sorted(set(genres))
    tracks = pd.DataFrame({"track_id": ids, "path": [str(f) for f in files]})
    return DatasetIndex(
        name=root_path.name,
        kind="folder",
        labels=labels,
        tracks=tracks,
        strengths=_one_hot(genres, labels),
        root=str(root_path),
        meta={"layout": layout, "notes": notes},
    )
