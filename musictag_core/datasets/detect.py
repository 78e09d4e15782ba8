"""Open any supported dataset from one path (or ``"demo"``), detecting its format.

Detection rules (:func:`detect_format`):

* the literal string ``"demo"`` or ``"demo-hard"`` → ``demo`` (the built-in synthetic corpora);
* a folder holding ``tracks.csv`` or ``fma_metadata/tracks.csv`` → ``fma``;
* a folder holding ``annotations_final.csv`` (or one ``*annotations_final.csv``) → ``mtt``;
* a folder holding ``*autotagging*-{train,validation,test}.tsv`` → ``jamendo``;
* any other folder → ``folder`` (one subfolder per genre, or flat GTZAN names);
* a CSV/TSV file, sniffed from its first lines:
  tab-separated starting ``TRACK_ID ARTIST_ID ALBUM_ID PATH DURATION TAGS`` → ``jamendo``;
  tab-separated with ``clip_id`` and ``mp3_path`` (and no ``artist``: that is a clip-info
  file) → ``mtt``, or starting with ``clip_id`` beside a ``*clip_info_final.csv`` → ``mtt``;
  a header (FMA's three rows) with ``track`` over ``genre_top`` → ``fma``;
  a ``label`` column with mostly numeric feature columns (after the column rule) → ``features``;
  a ``path`` column → ``strengths`` (wide or long form).

Anything else raises :class:`~musictag_core.errors.DatasetError` listing the accepted forms.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..errors import DatasetError, ParameterError
from .base import DEFAULT_STRENGTH_THRESHOLD, DatasetIndex, check_threshold, find_in_folder
from .features_table import ID_COLUMN_CANDIDATES, feature_column_rule, read_feature_table
from .fma import read_fma
from .folder import read_folder
from .jamendo import JAMENDO_COLUMNS, is_jamendo_split_file, read_jamendo
from .mtt import MTT_ID_COLUMN, MTT_PATH_COLUMN, find_clip_info, read_mtt
from .strengths import read_strengths_csv

__all__ = ["AUDIO_LISTING_FORMATS", "DATASET_FORMATS", "DatasetFormat", "detect_format", "open_dataset", "DEMO_SPEC", "DEMO_SPECS"]

#: The dataset spec that names the built-in demo corpus.
DEMO_SPEC = "demo"

#: The specs of the built-in corpora: the easy ``demo`` and the harder ``demo-hard``
#: (keys of :data:`musictag_core.datasets.demo.DEMO_VARIANTS`).
DEMO_SPECS = ("demo", "demo-hard")
_SNIFF_ROWS = 50


@dataclass(frozen=True)
class DatasetFormat:
    """One dataset format: how to read it and how to describe it to a user.

    Attributes
    ----------
    name : str
        The format's name (``--format`` value).
    read : callable
        ``read(path, threshold, options) -> DatasetIndex``.
    description : str
        What a dataset of this format looks like, for error messages and help.
    """

    name: str
    read: Callable[[Path, float, dict], DatasetIndex]
    description: str


def _fma_csv(path: Path) -> Path:
    if path.is_dir():
        for candidate in (path / "tracks.csv", path / "fma_metadata" / "tracks.csv"):
            if candidate.is_file():
                return candidate
        raise DatasetError(f"{path}: no tracks.csv or fma_metadata/tracks.csv inside")
    return path


def _mtt_annotations(folder: Path) -> Path | None:
    """``annotations_final.csv`` in ``folder``, else the only ``*annotations_final.csv`` there."""
    return find_in_folder(folder, names=["annotations_final.csv"], pattern="*annotations_final.csv")


def _mtt_csv(path: Path) -> Path:
    if path.is_dir():
        candidate = _mtt_annotations(path)
        if candidate is None:
            raise DatasetError(f"{path}: no annotations_final.csv (or one *annotations_final.csv) inside")
        return candidate
    return path


def _read_demo(path: Path, threshold: float, options: dict) -> DatasetIndex:
    from .demo import load_demo  # lazy: the synthesiser is only needed for the demo corpus

    variant = str(path) if str(path) in DEMO_SPECS else DEMO_SPEC
    return load_demo(variant=variant, **options)


DATASET_FORMATS: dict[str, DatasetFormat] = {
    "folder": DatasetFormat(
        "folder",
        lambda p, t, o: read_folder(p, **o),
        "a folder with one subfolder of audio files per genre (GTZAN layout), "
        "or a flat folder of clips named '<genre>.<number>.<ext>'",
    ),
    "fma": DatasetFormat(
        "fma",
        lambda p, t, o: read_fma(_fma_csv(p), **o),
        "FMA: fma_metadata/tracks.csv (its three header rows) or a folder holding it, with the 000/000002.mp3 audio tree",
    ),
    "mtt": DatasetFormat(
        "mtt",
        lambda p, t, o: read_mtt(_mtt_csv(p), **o),
        "MagnaTagATune: tab-separated annotations_final.csv (clip_id, tag columns, mp3_path; or without mp3_path "
        "beside clip_info_final.csv) or a folder holding it",
    ),
    "jamendo": DatasetFormat(
        "jamendo",
        lambda p, t, o: read_jamendo(p, **o),
        "MTG-Jamendo: an autotagging split file (TRACK_ID, ARTIST_ID, ALBUM_ID, PATH, DURATION, then one tag "
        "per field such as genre---rock; named ...-train/-validation/-test.tsv) or a folder holding a set of them",
    ),
    "strengths": DatasetFormat(
        "strengths",
        lambda p, t, o: read_strengths_csv(p, threshold=t, **o),
        "a CSV with a 'path' column and tag strength columns 0-100 (wide form), or path,tag,strength rows (long form)",
    ),
    "features": DatasetFormat(
        "features",
        lambda p, t, o: read_feature_table(p, **o),
        "a CSV of precomputed features: a 'label' column and numeric feature columns (like GTZAN features_30_sec.csv)",
    ),
    "demo": DatasetFormat(
        "demo", _read_demo,
        "the word 'demo' (a small synthetic corpus made on the fly) or 'demo-hard' (a harder one: closer styles, "
        "varied production)",
    ),
}


#: The forms whose metadata lists audio files: they take ``missing=`` (and all but a
#: strengths CSV, whose paths are relative to the CSV, take ``audio_dir=``).
AUDIO_LISTING_FORMATS = ("fma", "mtt", "jamendo", "strengths")


def _audio_options(format: str, spec, options: dict) -> dict:
    """Keep ``missing``/``audio_dir`` for the forms that list audio files; refuse an audio folder elsewhere.

    ``missing=None`` and ``audio_dir=None`` mean "the reader's default" (the command line passes them always)."""
    options = {k: v for k, v in options.items() if not (k in ("missing", "audio_dir") and v is None)}
    if options.get("audio_dir") is not None and format not in ("fma", "mtt", "jamendo"):
        raise ParameterError(
            f"an audio folder (--audio-dir) applies to FMA, MagnaTagATune and MTG-Jamendo metadata; "
            f"{str(spec)!r} is a {format!r} dataset, whose audio paths it reads itself"
        )
    if format not in AUDIO_LISTING_FORMATS:
        options.pop("missing", None)  # a folder lists the files it holds; a table or the demo has no missing audio
    return options


def _accepted() -> str:
    return "; ".join(f"{f.name}: {f.description}" for f in DATASET_FORMATS.values())


def _sniff_csv(path: Path) -> str | None:
    with open(path, encoding="utf-8", errors="replace", newline="") as handle:
        head = "".join(line for _, line in zip(range(_SNIFF_ROWS + 2), handle))
    lines = head.splitlines()
    if not lines:
        raise DatasetError(f"{path}: the file is empty")
    first = lines[0]
    if "\t" in first:
        header = [c.strip().strip('"') for c in first.split("\t")]
        if tuple(header[: len(JAMENDO_COLUMNS)]) == JAMENDO_COLUMNS:
            return "jamendo"
        if MTT_ID_COLUMN in header and MTT_PATH_COLUMN in header and "artist" not in header:
            return "mtt"
        if header[0] == MTT_ID_COLUMN and "artist" not in header and find_clip_info(path) is not None:
            return "mtt"  # annotations without mp3_path: the paths come from the clip-info file
    try:
        rows = list(csv.reader(io.StringIO(head)))
    except csv.Error:  # stray carriage returns, NUL bytes: not an FMA header
        rows = []
    if len(rows) >= 2 and len(rows[0]) == len(rows[1]):
        pairs = {(a.strip(), b.strip()) for a, b in zip(rows[0], rows[1])}
        if ("track", "genre_top") in pairs:
            return "fma"
    try:
        frame = pd.read_csv(io.StringIO(head), dtype=str, keep_default_na=False)
    except (ValueError, pd.errors.ParserError, pd.errors.EmptyDataError):
        return None
    columns = [str(c).strip() for c in frame.columns]
    frame.columns = columns
    if "label" in columns:
        # the columns the feature-table rule would keep (not ids, file metadata, constants, unique text)
        reserved = {c: "" for c in columns if c in ("label", "artist", "split", *ID_COLUMN_CANDIDATES)}
        others, _ = feature_column_rule(frame.apply(lambda col: col.str.strip()), reserved=reserved)
        numeric = [c for c in others if len(frame) and pd.to_numeric(frame[c], errors="coerce").notna().all()]
        if others and len(numeric) >= 0.8 * len(others):
            return "features"
    if "path" in columns:
        return "strengths"
    return None


def _refuse_special_file(path: Path) -> None:
    """Refuse at once a path that is neither a folder nor a regular file (a FIFO, device or socket).

    Reading one would block (a FIFO with no writer) or never end (``/dev/zero``).

    Raises
    ------
    DatasetError
        Naming the path: "not a regular file".
    """
    if not path.is_dir() and not path.is_file():
        raise DatasetError(
            f"dataset {str(path)!r} is not a regular file (a device, pipe or socket): give a folder or a CSV/TSV file"
        )


def detect_format(path: str | Path) -> str:
    """Name the format of a dataset path (a key of :data:`DATASET_FORMATS`).

    Parameters
    ----------
    path : str or Path
        A folder, a CSV file, or the string ``"demo"``.

    Returns
    -------
    format : str
        One of ``folder``, ``fma``, ``mtt``, ``jamendo``, ``strengths``, ``features``, ``demo``.

    Raises
    ------
    DatasetError
        When the path does not exist or matches no format (the message lists them).
    """
    if isinstance(path, str) and path.strip() in DEMO_SPECS:
        return "demo"
    p = Path(path).expanduser()
    try:
        exists = p.exists()
    except (OSError, ValueError) as exc:  # name too long, NUL byte
        raise DatasetError(f"dataset {str(p)!r} cannot be opened ({getattr(exc, 'strerror', None) or exc})") from None
    if not exists:
        raise DatasetError(f"dataset {str(p)!r} does not exist: give a folder, a CSV file, or 'demo'")
    _refuse_special_file(p)
    if p.is_dir():
        if (p / "tracks.csv").is_file() or (p / "fma_metadata" / "tracks.csv").is_file():
            return "fma"
        if _mtt_annotations(p) is not None:
            return "mtt"
        if any(is_jamendo_split_file(f) for f in p.glob("*autotagging*.tsv")):
            return "jamendo"
        return "folder"
    found = _sniff_csv(p)
    if found is None:
        raise DatasetError(f"{p}: not a dataset musictag recognises. Accepted forms are: {_accepted()}")
    return found


def open_dataset(
    spec: str | Path,
    *,
    format: str | None = None,
    threshold: float = DEFAULT_STRENGTH_THRESHOLD,
    **options,
) -> DatasetIndex:
    """Open a dataset from a path (or ``"demo"``), detecting its format unless given.

    Parameters
    ----------
    spec : str or Path
        Folder, CSV file, or ``"demo"``.
    format : str or None
        A key of :data:`DATASET_FORMATS`; ``None`` detects it with :func:`detect_format`.
    threshold : float
        Strength (0–100) at or above which a tag is present.
    **options
        Passed to the format's reader (for example ``subset=``/``level=`` for FMA,
        ``top_n=`` for MTT, ``missing="skip"``, ``label_column=``/``keep=``/``drop=`` for
        feature tables). Empty ``keep``/``drop`` are ignored for other formats; non-empty
        ones are an error there.

    Returns
    -------
    index : DatasetIndex
    """
    threshold = check_threshold(threshold)
    if format is None:
        format = detect_format(spec)
    if format not in DATASET_FORMATS:
        raise ParameterError(f"unknown dataset format {format!r}; use one of {sorted(DATASET_FORMATS)}")
    column_options = sorted(k for k in ("keep", "drop") if options.get(k))
    if column_options and format != "features":
        raise ParameterError(
            f"{'/'.join(column_options)} columns apply to feature tables only; {str(spec)!r} is a {format!r} dataset"
        )
    if format == "demo":
        path = Path(str(spec).strip() if str(spec).strip() in DEMO_SPECS else DEMO_SPEC)
    else:
        path = Path(spec).expanduser()
        if not path.exists():
            raise DatasetError(f"dataset {str(path)!r} does not exist: give a folder, a CSV file, or 'demo'")
        _refuse_special_file(path)
    if format != "features":
        options = {k: v for k, v in options.items() if k not in ("keep", "drop")}
    options = _audio_options(format, spec, options)
    try:
        index = DATASET_FORMATS[format].read(path, threshold, dict(options))
    except TypeError as exc:
        if "unexpected keyword" in str(exc):
            raise ParameterError(f"option not understood by the {format!r} reader: {exc}") from None
        raise
    if index.threshold != threshold:
        index.threshold = threshold
    return index
