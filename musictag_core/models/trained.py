"""Taggers for finished training runs (card formats ``musictag-keras`` and ``musictag-sklearn``).

:mod:`musictag_core.models.loading` opens such folders with :func:`open_run_tagger`
(passing the musicnn backbone when the run's inputs need one). Neither Keras nor
scikit-learn is imported before a run is opened.

A run tagger applies exactly the preprocessing the run was trained with: the
card's ``inputs`` (:class:`~musictag_core.inputs.InputSpec`) goes through
:func:`~musictag_core.inputs.compute_inputs`, the function training used to
fill its caches. Scores are the model's outputs: softmax probabilities
(single-label), sigmoid probabilities (multi-label), or predicted strengths / 100
(regression), so every score lies in 0..1.

Safety: Keras files load with ``safe_mode=True``. A ``model.joblib`` (pickle)
is loaded only from a run folder under the runs directory
(:func:`musictag_core.paths.runs_dir`) or a folder the trainer has used as a
runs directory (it holds ``.train.lock``), only when the run finished, and only
under the fixed name ``model.joblib``; never from an uploaded file.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ModelError
from ..inputs import Backbone, InputSpec, compute_inputs
from ..runs import Run, is_runs_folder
from .keras_io import load_keras_model

__all__ = ["FORMATS", "RunTagger", "load_keras_run", "load_sklearn_run", "open_run_tagger", "run_input_spec"]

FORMATS = ("musictag-keras", "musictag-sklearn")


def run_input_spec(card: dict) -> InputSpec:
    """The :class:`~musictag_core.inputs.InputSpec` a run card describes.

    Cards written before ``inputs`` existed are read from ``sr``, ``segments``,
    ``features`` and ``input_kind``.
    """
    if card.get("inputs"):
        return InputSpec.from_dict(card["inputs"])
    from ..config import AudioConfig, FeatureConfig, SegmentConfig

    seg = SegmentConfig.from_dict(card["segments"])
    feat = None if card.get("features") is None else FeatureConfig.from_dict(card["features"])
    kind = card["input_kind"]
    sr = 16000 if kind == "embedding" else int(card["sr"])
    return InputSpec(
        kind=kind, audio=AudioConfig(sr=sr, duration=seg.max_duration_s, allow_silence=True),
        segments=seg, features=feat, embedding=card.get("embedding") or "both",
    )


class RunTagger:
    """A trained run as a :class:`~musictag_core.models.loading.Tagger`.

    Parameters
    ----------
    path : Path
        The run folder.
    card : dict
        Its ``card.json``.
    model : keras.Model or scikit-learn estimator
    family : {"keras", "sklearn"}
    batch_size : int
        Segments per forward pass.
    backbone : Backbone, optional
        The loaded musicnn model, for runs whose inputs are musicnn embeddings or patches.
    """

    def __init__(
        self, path: Path, card: dict, model: Any, *, family: str, batch_size: int = 32, backbone: Backbone | None = None
    ) -> None:
        self.path = Path(path)
        self.card = card
        self.model_ = model
        self.family = family
        self.batch_size = batch_size
        self.name = str(card.get("name") or self.path.name)
        self.labels = [str(x) for x in card["labels"]]
        self.genres = [g for g in self.labels if g in set(card.get("genres") or self.labels)]
        self.task = card["task"]
        self.spec = run_input_spec(card)
        self.sr = self.spec.sr
        self.backbone = backbone
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"RunTagger(name={self.name!r}, model={self.card.get('model')!r}, path={str(self.path)!r})"

    def inputs(self, y: np.ndarray, *, overlap: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        """Segment start times and model inputs of ``y`` (the training-time preprocessing)."""
        return compute_inputs(y, spec=self.spec, overlap=overlap, backbone=self.backbone)

    def _scores(self, x: np.ndarray) -> np.ndarray:
        if self.family == "sklearn":
            from .classical import predict_scores

            s = predict_scores(self.model_, np.asarray(x, dtype=np.float64), task=self.task)
        else:
            with self._lock:
                outs = [
                    np.asarray(self.model_.predict_on_batch(x[i : i + self.batch_size]), dtype=np.float64)
                    for i in range(0, len(x), self.batch_size)
                ]
            s = np.concatenate(outs, axis=0)
        if self.task == "regression":
            s = np.clip(s / 100.0, 0.0, 1.0)
        return s.astype(np.float32)

    def score_inputs(self, x: np.ndarray) -> np.ndarray:
        """Scores in 0..1 [shape=(n, n_labels)] of model inputs ``x`` from :meth:`inputs` (e.g. occluded copies)."""
        return self._scores(np.asarray(x))

    def predict(self, y: np.ndarray, *, overlap: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        """Segment start times [shape=(n,)] and scores in 0..1 [shape=(n, n_labels)].

        Statistics models give one segment (the whole track, start 0).
        """
        if self.spec.kind == "stats":
            overlap = 0.0  # one vector per track: nothing overlaps
        starts, x = self.inputs(y, overlap=overlap)
        return np.asarray(starts, dtype=np.float64), self._scores(x)

    def embed(self, y: np.ndarray) -> dict[str, np.ndarray]:
        """Track-level inputs the model reads, averaged over segments (``inputs``).

        For a statistics model: the statistics vector; for the transfer head:
        the mean musicnn embedding; for frame models: the mean frame features.
        """
        _, x = self.inputs(y)
        x = np.asarray(x, dtype=np.float32)
        return {"inputs": x.reshape(len(x), -1).mean(axis=0) if x.ndim > 2 else x.mean(axis=0)}


def _check_run_folder(path: Path, card: dict, expected: str) -> Path:
    model_file = card.get("model_file")
    if model_file != expected:
        raise ModelError(f"{path}: card.json names model file {model_file!r}; a run saves {expected!r}")
    file = path / expected
    if not file.is_file():
        raise ModelError(f"{file}: the run's model file is missing; train the run again")
    for key in ("labels", "task"):
        if key not in card:
            raise ModelError(f"{path}/card.json has no {key!r}; is this a finished run folder?")
    return file


def _trusted_run_folder(path: Path) -> bool:
    """Whether ``path`` is a finished run under a runs directory (where pickles may be loaded)."""
    run = Run(path.resolve())
    return run.is_finished() and is_runs_folder(run.path.parent)


def load_keras_run(path: Path, card: dict, *, backbone: Backbone | None = None) -> RunTagger:
    """Loader of ``musictag-keras`` run folders (``model.keras``, ``safe_mode=True``)."""
    file = _check_run_folder(Path(path), card, "model.keras")
    return RunTagger(Path(path), card, load_keras_model(file), family="keras", backbone=backbone)


def load_sklearn_run(path: Path, card: dict, *, backbone: Backbone | None = None) -> RunTagger:
    """Loader of ``musictag-sklearn`` run folders (``model.joblib``, finished runs under a runs folder only)."""
    import joblib

    path = Path(path)
    file = _check_run_folder(path, card, "model.joblib")
    if not _trusted_run_folder(path):
        raise ModelError(
            f"{path}: refusing to load model.joblib from outside the runs folder; scikit-learn models "
            "are pickles and are loaded only from finished runs the trainer wrote (see MUSICTAG_RUNS)"
        )
    try:
        model = joblib.load(file)
    except Exception as exc:  # noqa: BLE001
        raise ModelError(f"{file}: cannot load the scikit-learn model ({type(exc).__name__}: {exc})") from None
    return RunTagger(path, card, model, family="sklearn", backbone=backbone)


def open_run_tagger(path: Path, card: dict, *, backbone: Backbone | None = None) -> RunTagger:
    """Open a finished run folder by its card's ``format`` (one of :data:`FORMATS`).

    Parameters
    ----------
    path : Path
        The run folder.
    card : dict
        Its ``card.json``.
    backbone : Backbone, optional
        The loaded musicnn model, when :func:`run_input_spec` says the inputs need one.

    Returns
    -------
    RunTagger
    """
    fmt = card.get("format")
    if fmt == "musictag-keras":
        return load_keras_run(path, card, backbone=backbone)
    if fmt == "musictag-sklearn":
        return load_sklearn_run(path, card, backbone=backbone)
    raise ModelError(f"{Path(path).name}: card format {fmt!r} is not a training run's; run formats are {list(FORMATS)}")
