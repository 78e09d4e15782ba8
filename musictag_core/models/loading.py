"""Finding and opening models: the :class:`Tagger` protocol, the loader registry, one bounded cache.

Every model folder holds a ``card.json`` whose ``"format"`` names its loader:
``musicnn-keras`` (the shipped musicnn ports, :class:`~musictag_core.models.musicnn.tagger.MusicnnTagger`)
and ``musictag-keras`` / ``musictag-sklearn`` (finished training runs,
:mod:`musictag_core.models.trained`). :func:`register_loader` adds a format.
Loaders are plain imports: nothing here imports Keras or scikit-learn until a
model is opened. :mod:`musictag_core.predict` builds on this module; nothing in
``models/`` imports ``predict``.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from ..errors import ModelError, ParameterError
from ..fileio import read_json_object
from ..lru import BoundedCache
from ..runs import Run
from . import trained
from .keras_io import load_keras_model
from .musicnn.tagger import MusicnnTagger

__all__ = [
    "LOADERS",
    "ModelEntry",
    "model_folder",
    "Tagger",
    "clear_tagger_cache",
    "list_models",
    "load_keras_network",
    "load_tagger",
    "register_loader",
    "shipped_models_dir",
    "table_only",
]


@dataclass(frozen=True)
class ModelEntry:
    """A model that :func:`load_tagger` can open.

    Attributes
    ----------
    name : str
        Folder name (a shipped model's name or a run id).
    source : str
        ``"shipped"`` or ``"run"``.
    path : str
        The model folder.
    card : dict
        Its ``card.json``.
    """

    name: str
    source: str
    path: str
    card: dict = field(repr=False)




@runtime_checkable
class Tagger(Protocol):
    """What every loader returns.

    ``predict(y, *, overlap=0.0)`` takes a mono float32 waveform at ``sr`` and
    returns ``(segment_starts_s [shape=(n,)], segment_scores [shape=(n, n_labels)])``;
    ``embed(y)`` returns named track-level embeddings (1-D arrays).
    """

    name: str
    card: dict
    labels: list[str]
    genres: list[str]
    sr: int

    def predict(self, y: np.ndarray, *, overlap: float = 0.0) -> tuple[np.ndarray, np.ndarray]: ...

    def embed(self, y: np.ndarray) -> dict[str, np.ndarray]: ...


def shipped_models_dir() -> Path:
    """Folder of the shipped models (inside the installed package)."""
    from ..paths import assets_dir

    return assets_dir() / "models"


def _open_run(folder: Path, card: dict) -> Tagger:
    """Loader of training-run folders: the run's model, with its musicnn backbone when its inputs need one."""
    spec = trained.run_input_spec(card)
    backbone = load_tagger(spec.backbone) if spec.needs_backbone else None
    return trained.open_run_tagger(folder, card, backbone=backbone)


#: Card ``format`` -> loader ``(model_dir: Path, card: dict) -> Tagger``.
LOADERS: dict[str, Callable[[Path, dict], Tagger]] = {
    "musicnn-keras": lambda path, card: MusicnnTagger(path, card),
    **{fmt: _open_run for fmt in trained.FORMATS},
}


def register_loader(format: str, loader: Callable[[Path, dict], Tagger]) -> None:
    """Register the loader of model folders whose card says ``"format": format``.

    Parameters
    ----------
    format : str
    loader : callable
        ``loader(model_dir, card) -> Tagger``.
    """
    if not isinstance(format, str) or not format:
        raise ParameterError(f"format must be a non-empty string, got {format!r}")
    if not callable(loader):
        raise ParameterError(f"loader for {format!r} must be callable, got {type(loader).__name__}")
    LOADERS[format] = loader
    clear_tagger_cache()


# ---------------------------------------------------------------- finding models


def _run_finished(folder: Path) -> bool:
    return (Run(folder).stored_status() or {}).get("state") == "finished"


def list_models(*, runs_dir: str | os.PathLike | None = None) -> list[ModelEntry]:
    """Every model :func:`load_tagger` can open: shipped ones, then finished runs.

    Runs fitted on a feature table's own columns (:func:`table_only`) are left
    out: they score tables, not audio (``musictag runs`` lists them).

    Parameters
    ----------
    runs_dir : str or Path, optional
        Folder of training runs; defaults to :func:`musictag_core.paths.runs_dir`.
        A run counts when ``<id>/card.json`` exists and ``<id>/status.json`` says
        ``{"state": "finished"}``.

    Returns
    -------
    list of ModelEntry
    """
    from ..paths import runs_dir as default_runs_dir

    entries = []
    shipped = shipped_models_dir()
    if shipped.is_dir():
        for folder in sorted(p for p in shipped.iterdir() if p.is_dir() and not p.name.startswith(".")):
            card = read_json_object(folder / "card.json")
            if card is not None:
                entries.append(ModelEntry(folder.name, "shipped", str(folder), card))
    runs = Path(runs_dir) if runs_dir is not None else default_runs_dir()
    if runs.is_dir():
        for folder in sorted(p for p in runs.iterdir() if p.is_dir()):
            card = read_json_object(folder / "card.json")
            if card is not None and _run_finished(folder) and not table_only(card):
                entries.append(ModelEntry(folder.name, "run", str(folder), card))
    return entries


#: The one tagger cache: the last few taggers opened, keyed by folder and card time stamp.
_CACHE = BoundedCache(max_entries=4)
_CACHE_LOCK = threading.RLock()  # re-entrant: a run loader opens its backbone through load_tagger


def clear_tagger_cache() -> None:
    """Forget every tagger loaded by :func:`load_tagger`."""
    _CACHE.clear()


def table_only(card: dict) -> bool:
    """Whether a run's model reads a feature table's columns (so it cannot tag audio files).

    Runs record ``feature_columns``; older cards are recognised by a statistics
    input whose width is not the 77 statistics computed from audio.
    """
    if card.get("feature_columns"):
        return True
    if card.get("kind") == "run" and card.get("input_kind") == "stats":
        from ..features import STAT_NAMES

        shape = card.get("input_shape") or []
        return bool(shape) and int(shape[-1]) != len(STAT_NAMES)
    return False


def model_folder(name_or_path: str | os.PathLike, *, runs_dir: str | os.PathLike | None) -> Path:
    """The folder of a model name (see :func:`list_models`) or a folder path holding ``card.json``."""
    text = os.fspath(name_or_path)
    folder = Path(text).expanduser()
    if not (folder.is_dir() and (folder / "card.json").is_file()):
        entries = list_models(runs_dir=runs_dir)
        match = [e for e in entries if e.name == text]
        if not match:
            names = ", ".join(e.name for e in entries) or "none (no shipped models found)"
            raise ModelError(f"unknown model {text!r}; available models: {names}")
        folder = Path(match[0].path)
    return folder


def load_keras_network(name_or_path: str | os.PathLike, *, runs_dir: str | os.PathLike | None = None):  # noqa: ANN201
    """A fresh float32 copy of a model's Keras network, to build on (fine-tuning).

    The tagger :func:`load_tagger` caches (and may run in bfloat16) is left alone.

    Parameters
    ----------
    name_or_path : str or Path
        A model name (see :func:`list_models`) or folder whose card names a ``.keras`` file.
    runs_dir : str or Path, optional

    Returns
    -------
    keras.Model

    Raises
    ------
    ModelError
        If there is no such model or it has no Keras network.
    """
    folder = model_folder(name_or_path, runs_dir=runs_dir)
    card = read_json_object(folder / "card.json") or {}
    name = str(card.get("weights") or card.get("model_file") or "model.keras")
    if not name.endswith(".keras") or "/" in name:
        raise ModelError(f"{folder.name}: its model file {name!r} is not a Keras network")
    return load_keras_model(folder / name)


def load_tagger(
    name_or_path: str | os.PathLike,
    *,
    runs_dir: str | os.PathLike | None = None,
    on_load: Callable[[str, float], None] | None = None,
) -> Tagger:
    """Open a model by name (see :func:`list_models`) or by folder path.

    The last few taggers are kept in one bounded cache (keyed by folder and
    card time stamp), so the app, the command line and training share them.

    Parameters
    ----------
    name_or_path : str or Path
        A name from :func:`list_models` or a model folder holding ``card.json``.
    runs_dir : str or Path, optional
        Folder of training runs (default :func:`musictag_core.paths.runs_dir`).
    on_load : callable(name, seconds), optional
        Called after a real load (not on a cache hit), e.g. to log it.

    Returns
    -------
    Tagger

    Raises
    ------
    ModelError
        If no such model exists (the message lists the available ones), its
        card names an unknown format, or its weights cannot be loaded.
    """
    folder = model_folder(name_or_path, runs_dir=runs_dir)
    card_path = folder / "card.json"
    key = (str(folder.resolve()), card_path.stat().st_mtime)
    # One lock around look-up and load: two threads asking for the same model load it once.
    with _CACHE_LOCK:
        cached = _CACHE.get(key)
        if cached is not None:
            return cached
        card = read_json_object(card_path)
        if card is None:
            raise ModelError(f"{folder.name}/card.json: not a readable JSON object")
        if table_only(card):
            cols = card.get("feature_columns") or []
            what = f"the {len(cols)} columns of a feature table ({', '.join(cols[:4])}{', …' if len(cols) > 4 else ''})" if cols else "a feature table's columns"
            raise ModelError(
                f"{folder.name} was trained on {what}, not on features computed from audio, so it cannot tag audio "
                "files; its test-set evaluation is in the run folder (musictag evaluate RUN). "
                "Train on an audio dataset to get a model that tags songs"
            )
        fmt = card.get("format")
        loader = LOADERS.get(fmt)
        if loader is None:
            raise ModelError(f"{folder.name}: card format {fmt!r} has no loader; known formats: {sorted(LOADERS)}")
        t0 = time.perf_counter()
        tagger = loader(folder, card)
        _CACHE.put(key, tagger)
    if on_load is not None:
        on_load(folder.name, time.perf_counter() - t0)
    return tagger
