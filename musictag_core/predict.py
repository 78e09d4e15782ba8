"""Stage 4, tag: any model turns audio into a :class:`TrackPrediction`.

One API for every model: the shipped pretrained taggers (``assets/models/*``)
and finished training runs (``<runs_dir>/<id>/``). A model folder holds a
``card.json`` whose ``"format"`` names the loader that opens it
(:func:`register_loader`); every loader returns a :class:`Tagger`.

>>> pred = tag_file("blues.00000.wav", model="MSD_musicnn")  # doctest: +SKIP
>>> pred.summary()  # doctest: +SKIP
'mostly blues, some country'

With the default ``overlap=0`` the track scores are musicnn's own: the mean of
the sigmoid scores of non-overlapping 3 s patches (a tail shorter than a patch
is dropped; a clip shorter than one patch is repeat-padded). ``overlap`` (in
seconds) gives a finer taggram.
"""

from __future__ import annotations

import dataclasses
import json
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol, runtime_checkable

import numpy as np

from .audio import AudioSource, load_audio, resample, source_name, valid_audio
from .errors import AudioError, ModelError, ParameterError

__all__ = [
    "TrackPrediction",
    "ModelEntry",
    "Tagger",
    "MusicnnTagger",
    "LOADERS",
    "register_loader",
    "list_models",
    "table_only",
    "load_tagger",
    "clear_tagger_cache",
    "tag_file",
    "tag_array",
    "embed_file",
    "embed_array",
    "DEFAULT_MAX_DURATION_S",
]

#: Seconds of a file that :func:`tag_file` decodes and tags by default; the rest of a
#: longer track is not read (``TrackPrediction.truncated`` says so). The app uses
#: ``MUSICTAG_MAX_DURATION_S`` (see :mod:`musictag_core.uploads`), which defaults to this.
DEFAULT_MAX_DURATION_S = 600.0


# ---------------------------------------------------------------- results


@dataclass(frozen=True)
class TrackPrediction:
    """Tag scores of one track, overall and per segment.

    Attributes
    ----------
    path : str
        The file name (or ``"<bytes>"``, ``"<array>"``).
    model : str
    labels : list of str
    genres : list of str
        The labels that are genres (a subset of ``labels``, in label order).
    scores : np.ndarray [shape=(n_labels,)]
        Track scores in 0..1 (mean of the segment scores).
    segment_starts_s : np.ndarray [shape=(n_segments,)]
    segment_scores : np.ndarray [shape=(n_segments, n_labels)]
    duration_s : float
        Seconds that were tagged.
    sr : int
        Sample rate the model saw.
    truncated : bool
        The file is longer than ``duration_s``: only its first ``duration_s``
        seconds were decoded and tagged (``max_duration`` of :func:`tag_file`).
    """

    path: str
    model: str
    labels: list[str]
    genres: list[str]
    scores: np.ndarray
    segment_starts_s: np.ndarray
    segment_scores: np.ndarray
    duration_s: float
    sr: int
    truncated: bool = False

    def top(self, k: int | None = None, *, genres_only: bool = False) -> list[tuple[str, float]]:
        """Labels and scores, best first.

        Parameters
        ----------
        k : int, optional
            How many (all by default).
        genres_only : bool
            Only the genre labels.
        """
        if k is not None and (isinstance(k, bool) or not isinstance(k, int) or k < 0):
            raise ParameterError(f"k must be a non-negative integer or None, got {k!r}")
        keep = set(self.genres) if genres_only else None
        pairs = [
            (label, float(s))
            for label, s in zip(self.labels, self.scores)
            if keep is None or label in keep
        ]
        pairs.sort(key=lambda p: -p[1])
        return pairs if k is None else pairs[:k]

    def genre_scores(self) -> dict[str, float]:
        """Genre label -> track score, best first."""
        return dict(self.top(genres_only=True))

    def summary(self) -> str:
        """A few plain words, e.g. ``"mostly blues, some country"``.

        The best genre is "mostly" it; others scoring at least 40 % of it (and
        0.1) are "some"; two genres within 75 % of each other are "a mix of".
        With no genre above 0.1 it says so and names the closest one.
        """
        ranked = self.top(genres_only=True) or self.top()
        if not ranked:
            return "no tags"
        best, s0 = ranked[0]
        if s0 < 0.1:
            return f"no clear genre (closest: {best}, {s0:.2f})"
        close = [g for g, s in ranked[1:3] if s >= 0.75 * s0 and s >= 0.1]
        some = [g for g, s in ranked[1 + len(close) : 4] if s >= 0.4 * s0 and s >= 0.1]
        head = f"a mix of {', '.join([best, *close[:-1]])} and {close[-1]}" if close else f"mostly {best}"
        return head + (f", some {' and '.join(some[:2])}" if some else "")

    def to_dict(self, *, top_k: int | None = None) -> dict[str, Any]:
        """A JSON-ready dict.

        Keys: ``path``, ``model``, ``duration_s``, ``sr``, ``summary``, ``tags`` (every
        label, or the ``top_k`` best, as ``{"label", "score"}`` sorted by score),
        ``genres`` (likewise), ``labels`` (label order) and ``segments``
        (``{"start_s", "scores"}`` with scores in label order).
        """
        r = lambda v: round(float(v), 5)  # noqa: E731
        return {
            "path": self.path,
            "model": self.model,
            "duration_s": r(self.duration_s),
            "sr": int(self.sr),
            "truncated": bool(self.truncated),
            "summary": self.summary(),
            "tags": [{"label": lab, "score": r(s)} for lab, s in self.top(top_k)],
            "genres": [{"label": lab, "score": r(s)} for lab, s in self.top(top_k, genres_only=True)],
            "labels": list(self.labels),
            "segments": [
                {"start_s": r(t), "scores": [r(v) for v in row]}
                for t, row in zip(self.segment_starts_s, self.segment_scores)
            ],
        }


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


# ---------------------------------------------------------------- taggers


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


class MusicnnTagger:
    """Tagger for converted musicnn / VGG models (card format ``"musicnn-keras"``).

    Patches are run in batches of at most ``batch_size`` through one traced
    ``tf.function`` with a fixed patch shape, so calls never retrace. For musicnn
    models in float32 that function is the folded graph of
    :func:`musictag_core.models.musicnn_fast.musicnn_forward` (the same scores as
    the Keras model to float32 rounding, about 15 % less CPU time); the Keras
    model stays in ``model_``. The function is traced and run once on a silent
    patch when the tagger is created, so the first real call is not slow.

    Parameters
    ----------
    path : str or Path
        Model folder with ``card.json`` and ``model.keras``.
    card : dict
    batch_size : int
        Patches per forward pass (bounds memory for long files).
    precision : {"float32", "bfloat16"}
        ``"float32"`` (default) reproduces musicnn. ``"bfloat16"`` computes every
        layer but the BatchNorms in bfloat16: about 2-6x faster on CPUs with
        AMX / AVX512-BF16, slower elsewhere; track scores move by up to about 0.01.
    fast : bool
        Use the folded musicnn graph (float32 musicnn models only; others always
        run the Keras model). ``False`` runs the Keras model itself.
    warmup : bool
        Trace the inference function and run it once on a silent patch now.
    """

    def __init__(
        self, path: str | Path, card: dict, *, batch_size: int = 32, precision: str = "float32",
        fast: bool = True, warmup: bool = True,
    ) -> None:
        if precision not in ("float32", "bfloat16"):
            raise ParameterError(f"precision must be 'float32' or 'bfloat16', got {precision!r}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ParameterError(f"batch_size must be a positive integer, got {batch_size!r}")
        self.path = Path(path)
        self.card = card
        self.batch_size = batch_size
        self.precision = precision
        self.name = str(card.get("name") or self.path.name)
        self.labels = list(card["labels"])
        self.genres = [g for g in self.labels if g in set(card.get("genres") or self.labels)]
        self.sr = int(card["sr"])
        self.n_fft = int(card["n_fft"])
        self.hop_length = int(card["hop_length"])
        self.n_mels = int(card["n_mels"])
        self.patch_frames = int(card["patch_frames"])
        self.model_ = _load_keras(self.path / card.get("weights", "model.keras"))
        if precision == "bfloat16":
            self.model_ = _to_bfloat16(self.model_)
        self.fast = bool(fast) and precision == "float32" and card.get("architecture", "musicnn") == "musicnn"
        self._fn = None
        self._lock = threading.Lock()
        if warmup:
            self._forward(np.zeros((1, self.patch_frames, self.n_mels), dtype=np.float32))

    def __repr__(self) -> str:
        return f"MusicnnTagger(name={self.name!r}, path={str(self.path)!r})"

    def _forward(self, patches: np.ndarray) -> dict[str, np.ndarray]:
        import tensorflow as tf

        with self._lock:
            if self._fn is None:
                self._fn = self._make_fn()
            outs: dict[str, list[np.ndarray]] = {}
            # near-equal batches of at most batch_size (60 patches: 2 x 30, not 32 + 28)
            n_batches = max(1, -(-len(patches) // self.batch_size))
            for chunk in np.array_split(patches, n_batches):
                res = self._fn(tf.constant(chunk))
                for k, v in res.items():
                    outs.setdefault(k, []).append(np.asarray(v.numpy(), dtype=np.float32))
        return {k: np.concatenate(v, axis=0) for k, v in outs.items()}

    def _make_fn(self):
        import tensorflow as tf

        if self.fast:
            from .models.musicnn_fast import musicnn_forward

            try:
                return musicnn_forward(self.model_)
            except ModelError:  # not a standard musicnn graph: run the Keras model
                self.fast = False
        model = self.model_
        spec = tf.TensorSpec([None, self.patch_frames, self.n_mels], tf.float32)
        return tf.function(lambda x: model(x, training=False), input_signature=[spec])

    def patches(self, y: np.ndarray, *, overlap: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        """Mel patches of ``y`` and their start times.

        Returns
        -------
        patches : np.ndarray [shape=(n, patch_frames, n_mels)]
        starts_s : np.ndarray [shape=(n,)]
        """
        from .models.musicnn import musicnn_mel, musicnn_patches, patch_hop_frames

        hop = patch_hop_frames(
            overlap, patch_frames=self.patch_frames, sr=self.sr, hop_length=self.hop_length
        )
        mel = musicnn_mel(y, sr=self.sr, n_fft=self.n_fft, hop_length=self.hop_length, n_mels=self.n_mels)
        p = musicnn_patches(mel, patch_frames=self.patch_frames, hop_frames=hop)
        starts = np.arange(len(p)) * (hop * self.hop_length / self.sr)
        return p, starts

    def predict(self, y: np.ndarray, *, overlap: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        """Segment start times [shape=(n,)] and sigmoid scores [shape=(n, n_labels)] of ``y``."""
        p, starts = self.patches(y, overlap=overlap)
        return starts, self._forward(p)["tags"]

    def embed(self, y: np.ndarray) -> dict[str, np.ndarray]:
        """Track-averaged embeddings: ``pooled`` (1506-d for musicnn) and ``penultimate`` (200-d)."""
        p, _ = self.patches(y)
        out = self._forward(p)
        return {k: v.mean(axis=0) for k, v in out.items() if k != "tags"}


def _load_keras(path: Path):
    import keras

    if not path.is_file():
        raise ModelError(f"{path}: model weights are missing; re-create them (see card.json 'source')")
    try:
        return keras.saving.load_model(path, safe_mode=True, compile=False)
    except Exception as exc:  # keras raises many types for bad files
        raise ModelError(f"{path}: cannot load the Keras model ({str(exc).splitlines()[0][:200]})") from None


def _to_bfloat16(model):
    """A copy of ``model`` whose layers (BatchNorm excepted) compute in bfloat16."""
    import keras

    def clone(layer):
        config = layer.get_config()
        if not isinstance(layer, (keras.layers.InputLayer, keras.layers.BatchNormalization)):
            config["dtype"] = "mixed_bfloat16"
        return layer.__class__.from_config(config)

    fast = keras.models.clone_model(model, clone_function=clone)
    fast.set_weights(model.get_weights())
    return fast


#: Card ``format`` -> loader ``(model_dir: Path, card: dict) -> Tagger``.
LOADERS: dict[str, Callable[[Path, dict], Tagger]] = {
    "musicnn-keras": lambda path, card: MusicnnTagger(path, card),
}


#: Card ``format`` -> module that registers its loader when imported (kept lazy: it imports Keras).
_LAZY_LOADERS: dict[str, str] = {
    "musictag-keras": ".models.trained",
    "musictag-sklearn": ".models.trained",
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


def _read_card(folder: Path) -> dict | None:
    try:
        card = json.loads((folder / "card.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return card if isinstance(card, dict) else None


def _run_finished(folder: Path) -> bool:
    try:
        status = json.loads((folder / "status.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(status, dict) and status.get("state") == "finished"


def list_models(*, runs_dir: str | os.PathLike | None = None) -> list[ModelEntry]:
    """Every model :func:`load_tagger` can open: shipped ones, then finished runs.

    Runs fitted on a feature table's own columns (:func:`table_only`) are left
    out: they score tables, not audio (``python -m musictag_core runs`` lists them).

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
    from .paths import assets_dir
    from .paths import runs_dir as default_runs_dir

    entries = []
    shipped = assets_dir() / "models"
    if shipped.is_dir():
        for folder in sorted(p for p in shipped.iterdir() if p.is_dir() and not p.name.startswith(".")):
            card = _read_card(folder)
            if card is not None:
                entries.append(ModelEntry(folder.name, "shipped", str(folder), card))
    runs = Path(runs_dir) if runs_dir is not None else default_runs_dir()
    if runs.is_dir():
        for folder in sorted(p for p in runs.iterdir() if p.is_dir()):
            card = _read_card(folder)
            if card is not None and _run_finished(folder) and not table_only(card):
                entries.append(ModelEntry(folder.name, "run", str(folder), card))
    return entries


_CACHE: OrderedDict[tuple[str, float], Tagger] = OrderedDict()
_CACHE_SIZE = 4
_CACHE_LOCK = threading.Lock()


def clear_tagger_cache() -> None:
    """Forget every tagger loaded by :func:`load_tagger`."""
    with _CACHE_LOCK:
        _CACHE.clear()


def table_only(card: dict) -> bool:
    """Whether a run's model reads a feature table's columns (so it cannot tag audio files).

    Runs record ``feature_columns``; older cards are recognised by a statistics
    input whose width is not the 77 statistics computed from audio.
    """
    if card.get("feature_columns"):
        return True
    if card.get("kind") == "run" and card.get("input_kind") == "stats":
        from .features import STAT_NAMES

        shape = card.get("input_shape") or []
        return bool(shape) and int(shape[-1]) != len(STAT_NAMES)
    return False


def load_tagger(name_or_path: str | os.PathLike, *, runs_dir: str | os.PathLike | None = None) -> Tagger:
    """Open a model by name (see :func:`list_models`) or by folder path.

    The last few taggers are cached (keyed by folder and card time stamp).

    Raises
    ------
    ModelError
        If no such model exists (the message lists the available ones), its
        card names an unknown format, or its weights cannot be loaded.
    """
    text = os.fspath(name_or_path)
    folder = Path(text).expanduser()
    if not (folder.is_dir() and (folder / "card.json").is_file()):
        entries = list_models(runs_dir=runs_dir)
        match = [e for e in entries if e.name == text]
        if not match:
            names = ", ".join(e.name for e in entries) or "none (assets/models is empty)"
            raise ModelError(f"unknown model {text!r}; available models: {names}")
        folder = Path(match[0].path)
    card_path = folder / "card.json"
    key = (str(folder.resolve()), card_path.stat().st_mtime)
    with _CACHE_LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
    card = _read_card(folder)
    if card is None:
        raise ModelError(f"{card_path}: not a readable JSON object")
    if table_only(card):
        cols = card.get("feature_columns") or []
        what = f"the {len(cols)} columns of a feature table ({', '.join(cols[:4])}{', …' if len(cols) > 4 else ''})" if cols else "a feature table's columns"
        raise ModelError(
            f"{folder.name} was trained on {what}, not on features computed from audio, so it cannot tag audio "
            "files; its test-set evaluation is in the run folder (python -m musictag_core evaluate RUN). "
            "Train on an audio dataset to get a model that tags songs"
        )
    fmt = card.get("format")
    loader = LOADERS.get(fmt)
    if loader is None and fmt in _LAZY_LOADERS:  # training-run formats: import their module on first use
        import importlib

        importlib.import_module(_LAZY_LOADERS[fmt], __package__)
        loader = LOADERS.get(fmt)
    if loader is None:
        raise ModelError(
            f"{folder}: card format {fmt!r} has no loader; known formats: {sorted(LOADERS)}"
        )
    tagger = loader(folder, card)
    with _CACHE_LOCK:
        _CACHE[key] = tagger
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return tagger


def _resolve(model: str | os.PathLike | Tagger, runs_dir) -> Tagger:
    if isinstance(model, (str, os.PathLike)):
        return load_tagger(model, runs_dir=runs_dir)
    if isinstance(model, Tagger):
        return model
    raise ParameterError(f"model must be a name, a folder or a Tagger, got {type(model).__name__}")


# ---------------------------------------------------------------- tagging


def _prepare(y: np.ndarray, *, sr: int, tagger: Tagger, name: str) -> np.ndarray:
    if isinstance(sr, bool) or not isinstance(sr, (int, np.integer)) or sr <= 0:
        raise ParameterError(f"sr must be a positive integer, got {sr!r}")
    valid_audio(y, name=name)
    if y.ndim == 2:
        y = y.mean(axis=0)
    y = np.asarray(y, dtype=np.float32)
    if sr != tagger.sr:
        y = resample(y, orig_sr=int(sr), target_sr=tagger.sr)
    return y


def tag_array(
    y: np.ndarray,
    *,
    sr: int,
    model: str | os.PathLike | Tagger = "MSD_musicnn",
    overlap: float = 0.0,
    name: str = "<array>",
    runs_dir: str | os.PathLike | None = None,
) -> TrackPrediction:
    """Tag a waveform.

    Parameters
    ----------
    y : np.ndarray [shape=(n,) or (channels, n)]
        Float waveform (channels are averaged).
    sr : int
        Its sample rate (resampled to the model's rate if different).
    model : str, Path or Tagger
    overlap : float
        Seconds shared by consecutive segments, ``0 <= overlap < 3``.
    name : str
        Reported as ``path``.

    Returns
    -------
    TrackPrediction
    """
    tagger = _resolve(model, runs_dir)
    if not isinstance(y, np.ndarray):
        raise AudioError(name, f"audio must be a numpy array, got {type(y).__name__}")
    y = _prepare(y, sr=sr, tagger=tagger, name=name)
    starts, seg = tagger.predict(y, overlap=overlap)
    seg = np.asarray(seg, dtype=np.float32)
    if seg.ndim != 2 or seg.shape[1] != len(tagger.labels) or len(starts) != len(seg):
        raise ModelError(
            f"model {tagger.name!r} returned scores of shape {seg.shape} for {len(tagger.labels)} labels"
        )
    return TrackPrediction(
        path=name,
        model=tagger.name,
        labels=list(tagger.labels),
        genres=list(tagger.genres),
        scores=seg.mean(axis=0),
        segment_starts_s=np.asarray(starts, dtype=np.float64),
        segment_scores=seg,
        duration_s=len(y) / tagger.sr,
        sr=int(tagger.sr),
    )


def tag_file(
    source: AudioSource,
    model: str | os.PathLike | Tagger = "MSD_musicnn",
    *,
    overlap: float = 0.0,
    max_duration: float | None = DEFAULT_MAX_DURATION_S,
    runs_dir: str | os.PathLike | None = None,
) -> TrackPrediction:
    """Decode an audio file (at the model's rate) and tag it.

    Parameters
    ----------
    source : str, path, bytes or binary file-like
    model : str, Path or Tagger
        A model name from :func:`list_models`, a model folder, or a loaded tagger.
    overlap : float
        Seconds shared by consecutive segments (0: musicnn's own track scores).
    max_duration : float or None
        Decode and tag at most this many seconds from the start (default 600, so
        a one-hour file costs what ten minutes cost); ``None`` tags the whole file.
        A longer file gives a prediction with ``truncated=True``.
    runs_dir : str or Path, optional

    Returns
    -------
    TrackPrediction

    Raises
    ------
    AudioError
        The file cannot be decoded.
    ModelError
        The model is unknown or broken.
    """
    if max_duration is not None and (
        isinstance(max_duration, bool)
        or not isinstance(max_duration, (int, float))
        or not np.isfinite(max_duration)
        or max_duration <= 0
    ):
        raise ParameterError(f"max_duration must be a positive number of seconds or None, got {max_duration!r}")
    tagger = _resolve(model, runs_dir)
    # Decode a little past the limit: more samples than the limit means the file is longer.
    duration = None if max_duration is None else float(max_duration) + 0.25
    y, sr = load_audio(source, sr=tagger.sr, duration=duration)
    truncated = False
    if max_duration is not None:
        n_max = int(round(float(max_duration) * sr))
        if len(y) > n_max:
            y, truncated = y[:n_max], True
    pred = tag_array(y, sr=sr, model=tagger, overlap=overlap, name=source_name(source))
    return dataclasses.replace(pred, truncated=truncated) if truncated else pred


def embed_array(
    y: np.ndarray, *, sr: int, model: str | os.PathLike | Tagger = "MSD_musicnn",
    name: str = "<array>", runs_dir: str | os.PathLike | None = None,
) -> dict[str, np.ndarray]:
    """Track-level embeddings of a waveform (see :meth:`MusicnnTagger.embed`)."""
    tagger = _resolve(model, runs_dir)
    return tagger.embed(_prepare(np.asarray(y), sr=sr, tagger=tagger, name=name))


def embed_file(
    source: AudioSource,
    *,
    model: str | os.PathLike | Tagger = "MSD_musicnn",
    runs_dir: str | os.PathLike | None = None,
) -> dict[str, np.ndarray]:
    """Track-level embeddings of an audio file.

    Returns
    -------
    dict
        For musicnn: ``pooled`` [shape=(1506,)] and ``penultimate`` [shape=(200,)],
        averaged over the track's 3 s patches.
    """
    tagger = _resolve(model, runs_dir)
    y, sr = load_audio(source, sr=tagger.sr)
    return tagger.embed(y)

