"""What a dataset holds, from its metadata alone: ``musictag dataset describe`` and Explore's Dataset tab.

:func:`describe_dataset` detects a dataset's form and reads it with missing audio kept
(``missing="keep"``), so no audio file is needed; :func:`describe_index` summarises an
index already open. Both return the same dict (the ``--json`` output)::

    {"form", "n_tracks", "labels": {label: count}, "labels_per_track": {"mean", "max"},
     "splits": {name: count}, "n_artists", "audio": {"present", "missing"}, "warnings": [...]}

* label counts are tracks whose strength reaches the dataset's threshold (default 50);
* ``splits`` is ``{}`` when the data defines none; ``n_artists`` is None when unknown;
* ``audio`` is None for a feature table (it has no audio files).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import ParameterError
from .base import DEFAULT_STRENGTH_THRESHOLD, SPLITS, DatasetIndex, check_missing_policy, is_file, list_some

__all__ = ["DESCRIBE_FORMS", "describe_dataset", "describe_index", "describe_text", "MIN_TRACKS_PER_LABEL"]

#: The values of ``form``.
DESCRIBE_FORMS = ("folder", "fma", "mtt", "jamendo", "strengths", "features", "demo")

#: Fewer tracks than this for a label is worth a warning: a train/validation/test split
#: (or 3-fold CV) needs at least one track of it in each part.
MIN_TRACKS_PER_LABEL = 3

def _fma_subset_warning(subset: str, *, chosen: bool) -> str:
    from .fma import FMA_SUBSETS

    nested = FMA_SUBSETS[: FMA_SUBSETS.index(subset) + 1] if subset in FMA_SUBSETS else (subset,)
    if chosen:
        nest = "" if len(nested) == 1 else ": the tracks of " + " + ".join(nested) + " (the subsets nest)"
        return f"only FMA's {subset!r} subset is counted{nest}"
    return (f"only FMA's {subset!r} subset is counted (the reader's default); describe the subset you downloaded with "
            "--subset small|medium|large")


def describe_index(index: DatasetIndex, *, form: str | None = None) -> dict:
    """Summarise an open dataset (see the module docstring for the fields).

    Parameters
    ----------
    index : DatasetIndex
    form : str or None
        The detected form; default ``index.kind``.

    Returns
    -------
    dict
        ``form``, ``n_tracks``, ``labels``, ``labels_per_track``, ``splits``,
        ``n_artists``, ``audio`` and ``warnings``, in that order.
    """
    form = form or index.kind
    if form not in DESCRIBE_FORMS:
        raise ParameterError(f"form must be one of {DESCRIBE_FORMS}, got {form!r}")
    y = index.y
    n = len(index)
    counts = y.sum(axis=0).astype(int) if n else np.zeros(len(index.labels), dtype=int)
    per_track = y.sum(axis=1) if n else np.zeros(0)
    split_counts = index.tracks["split"].value_counts(dropna=True)
    splits = {s: int(split_counts[s]) for s in SPLITS if s in split_counts.index}
    n_artists = int(index.tracks["artist"].nunique(dropna=True)) if index.has_artists else None
    audio = None
    if form != "features":
        paths = index.tracks["path"].astype(str).tolist()
        present = sum(1 for p in paths if p and is_file(p))
        audio = {"present": int(present), "missing": int(n - present)}

    warnings: list[str] = [str(note) for note in (index.meta.get("notes") or [])]
    if audio and audio["missing"]:
        if form == "demo":
            hint = "the corpus is generated on first use (musictag demo-data, or opening it in the app)"
        elif form in ("fma", "mtt", "jamendo"):
            hint = "training needs them: give the audio folder with --audio-dir, or leave them out with --missing skip"
        else:
            hint = "training needs them: check the paths, or leave them out with --missing skip"
        folder = index.meta.get("audio_dir") or index.root
        where = f" under {Path(folder).name or folder}/" if folder and form != "demo" else ""
        warnings.append(f"{audio['missing']} of {n} audio files are missing{where}; {hint}")
    if form == "features" and index.meta.get("excluded_columns"):
        from .features_table import excluded_columns_text

        n_features = len(index.meta.get("feature_columns") or [])
        warnings.append(f"{excluded_columns_text(index.meta['excluded_columns'])}; {n_features} feature columns are used, as "
                        "in training and Explore; override with --keep-columns / --drop-columns (settings keep_columns / "
                        "drop_columns)")
    if form == "fma" and index.meta.get("subset"):
        warnings.append(_fma_subset_warning(index.meta["subset"], chosen=bool(index.meta.get("subset_chosen"))))
    rare = [f"{label} ({c})" for label, c in zip(index.labels, counts.tolist()) if c < MIN_TRACKS_PER_LABEL]
    if rare:
        warnings.append(
            f"labels with fewer than {MIN_TRACKS_PER_LABEL} tracks at threshold {index.threshold:g}: "
            f"{list_some(rare, quote=False)}; a train/validation/test split or 3-fold CV needs at least "
            f"{MIN_TRACKS_PER_LABEL} of each"
        )
    unlabelled = int((per_track == 0).sum())
    if unlabelled:
        warnings.append(f"{unlabelled} tracks have no label at threshold {index.threshold:g}")
    if splits and sum(splits.values()) < n:
        warnings.append(f"{n - sum(splits.values())} tracks have no split")
    return {
        "form": form,
        "n_tracks": int(n),
        "labels": {label: int(c) for label, c in zip(index.labels, counts.tolist())},
        "labels_per_track": {
            "mean": round(float(per_track.mean()), 4) if n else 0.0,
            "max": int(per_track.max()) if n else 0,
        },
        "splits": splits,
        "n_artists": n_artists,
        "audio": audio,
        "warnings": warnings,
    }


def describe_dataset(
    spec: str | os.PathLike,
    *,
    threshold: float = DEFAULT_STRENGTH_THRESHOLD,
    audio_dir: str | os.PathLike | None = None,
    missing: str = "keep",
    format: str | None = None,
    subset: str | None = None,
) -> dict:
    """Describe a dataset from its metadata alone (no audio needed).

    Parameters
    ----------
    spec : str or path-like
        A folder, a CSV/TSV file, ``"demo"`` or ``"demo-hard"``.
    threshold : float
        Strength (0–100) at or above which a label counts, in (0, 100].
    audio_dir : path-like or None
        The audio root, for FMA, MagnaTagATune and MTG-Jamendo metadata whose audio
        lies elsewhere.
    missing : {"keep", "skip", "error"}
        Tracks whose audio file is missing: counted (``keep``, the default), left
        out, or an error.
    format : str or None
        Force a form instead of detecting it.
    subset : {"small", "medium", "large"} or None
        FMA only: describe this subset (they nest: ``"medium"`` holds ``"small"``'s tracks
        too, ``"large"`` every track); None: the reader's default (``"small"``).

    Returns
    -------
    dict
        See :func:`describe_index`. A demo corpus not generated yet is described from
        its plan (every audio file then counts as missing).

    Raises
    ------
    DatasetError, ParameterError
        The dataset cannot be read (the message names the file and the reason).
    """
    from .detect import DEMO_SPECS, detect_format, open_dataset

    check_missing_policy(missing)
    form = format or detect_format(spec)
    options: dict = {}
    if subset is not None:
        from .fma import FMA_SUBSETS

        if subset not in FMA_SUBSETS:
            raise ParameterError(f"subset must be one of {', '.join(FMA_SUBSETS)}, got {subset!r}")
        if form != "fma":
            raise ParameterError(
                f"subset (small, medium, large) applies to FMA metadata only; {str(spec)!r} is a {form!r} dataset"
            )
        options["subset"] = subset
    if form == "demo":
        from .demo import demo_plan_index

        variant = str(spec).strip()
        index = demo_plan_index(variant=variant if variant in DEMO_SPECS else "demo", threshold=threshold)
    else:
        index = open_dataset(spec, format=form, threshold=threshold, missing=missing, audio_dir=audio_dir, **options)
        if subset is not None:
            index.meta["subset_chosen"] = True
    return describe_index(index, form=form)


def describe_text(description: dict, *, name: str = "") -> str:
    """The readable form of :func:`describe_dataset`'s result (several lines)."""
    d = description
    lines = [f"{name + ': ' if name else ''}{d['form']} dataset, {d['n_tracks']} tracks, {len(d['labels'])} labels"]
    lpt = d["labels_per_track"]
    lines.append(f"labels per track: mean {lpt['mean']:g}, max {lpt['max']}")
    width = max((len(label) for label in d["labels"]), default=0)
    lines.append("tracks per label:")
    lines += [f"  {label:<{width}}  {count}" for label, count in sorted(d["labels"].items(), key=lambda kv: (-kv[1], kv[0]))]
    splits = d["splits"]
    lines.append("splits: " + (", ".join(f"{k} {v}" for k, v in splits.items()) if splits else "none (made at training time)"))
    lines.append("artists: " + ("unknown" if d["n_artists"] is None else str(d["n_artists"])))
    audio = d["audio"]
    lines.append("audio: " + ("none (a feature table)" if audio is None else f"{audio['present']} present, {audio['missing']} missing"))
    lines += [f"warning: {w}" for w in d["warnings"]]
    return "\n".join(lines)
