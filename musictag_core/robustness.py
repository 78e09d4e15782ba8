"""How fragile is a tagging? Tag a track (or a run's test split) under small, seeded perturbations.

The perturbations (:data:`PERTURBATIONS`) are pitch shifts of -2, -1, +1 and +2
semitones, tempo changes of 0.9x, 0.95x, 1.05x and 1.1x (the stretched length is
kept), a gain of -6 and +6 dB, and added Gaussian noise at 30 dB SNR, all applied
with audiomentations through :func:`musictag_core.augment.apply_augmentation`.
As in :mod:`~musictag_core.augment`, drawing is separate from applying:
:func:`draw_perturbations` turns a seeded ``np.random.Generator`` into a list of
JSON-serialisable parameter dicts (only the noise needs randomness), and
:func:`robustness_array` applies them.

* :func:`robustness_file` / :func:`robustness_array`: one track; the unperturbed
  row is plain tagging (:func:`musictag_core.predict.tag_array` on the waveform
  :func:`~musictag_core.predict.tag_file` decodes), and a musicnn tagger scores
  every variant's patches in one batched forward pass.
* :func:`robustness_run`: a finished training run's test-split headline metric
  (accuracy for single-label runs, mAP for multi-label runs) under each
  perturbation, as a curve.

>>> report = robustness_file("blues.00000.wav")  # doctest: +SKIP
>>> report.summary  # doctest: +SKIP
'blues stays first under every pitch shift; country overtakes it at 1.1x tempo; ...'
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .audio import AudioSource, load_audio, source_name
from .augment import apply_augmentation
from .errors import ParameterError, TrainingError
from .models.loading import Tagger, load_tagger
from .predict import DEFAULT_MAX_DURATION_S, TrackPrediction, check_max_duration, decode_for_model, resolve_tagger, tag_array

__all__ = [
    "KINDS",
    "ROBUSTNESS_FILE",
    "PERTURBATIONS",
    "PerturbationResult",
    "RobustnessReport",
    "describe_perturbation",
    "draw_perturbations",
    "robustness_array",
    "robustness_file",
    "robustness_run",
    "stability_summary",
]

#: Perturbation kinds and the unit of their value.
KINDS: dict[str, str] = {"pitch_shift": "semitones", "time_stretch": "stretch rate", "gain": "dB", "noise": "dB SNR"}

#: ``(kind, value)`` of every perturbation, in report order.
PERTURBATIONS: tuple[tuple[str, float], ...] = (
    ("pitch_shift", -2.0), ("pitch_shift", -1.0), ("pitch_shift", 1.0), ("pitch_shift", 2.0),
    ("time_stretch", 0.9), ("time_stretch", 0.95), ("time_stretch", 1.05), ("time_stretch", 1.1),
    ("gain", -6.0), ("gain", 6.0),
    ("noise", 30.0),
)  # fmt: skip

#: File name of a run's saved robustness curve (:func:`robustness_run` with ``save=True``).
ROBUSTNESS_FILE = "robustness.json"

#: audiomentations' algorithm for pitch and tempo (the one training augmentation uses by default).
METHOD = "signalsmith_stretch"


def _check_perturbations(perturbations: Any) -> tuple[tuple[str, float], ...]:
    out = []
    for item in perturbations:
        if not isinstance(item, (tuple, list)) or len(item) != 2 or item[0] not in KINDS:
            raise ParameterError(f"a perturbation must be (kind, value) with kind in {sorted(KINDS)}, got {item!r}")
        kind, value = item[0], item[1]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ParameterError(f"the value of perturbation {kind!r} must be a finite number, got {value!r}")
        if kind == "time_stretch" and not 0.5 <= value <= 2.0:
            raise ParameterError(f"a time stretch rate must be within [0.5, 2], got {value!r}")
        if kind == "pitch_shift" and abs(value) > 12:
            raise ParameterError(f"a pitch shift must be within ±12 semitones, got {value!r}")
        out.append((str(kind), float(value)))
    if not out:
        raise ParameterError("at least one perturbation is needed")
    return tuple(out)


def draw_perturbations(
    y: np.ndarray,
    *,
    rng: np.random.Generator,
    perturbations: tuple[tuple[str, float], ...] = PERTURBATIONS,
) -> list[dict[str, Any]]:
    """Parameters of every perturbation of ``y``, ready for :func:`~musictag_core.augment.apply_augmentation`.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]
        The mono waveform (its RMS sets the noise amplitude).
    rng : np.random.Generator
        The only source of randomness (the noise seed).
    perturbations : sequence of (kind, value)
        Default :data:`PERTURBATIONS`.

    Returns
    -------
    list of dict
        JSON-serialisable, one per perturbation: ``kind``, ``value`` and ``params``
        (an :func:`~musictag_core.augment.draw_params`-style dict). Noise at ``S`` dB SNR
        has amplitude ``rms(y) / 10 ** (S / 20)``; a time stretch keeps the stretched length.
    """
    if not isinstance(rng, np.random.Generator):
        raise ParameterError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    perturbations = _check_perturbations(perturbations)
    y = np.asarray(y, dtype=np.float32)
    rms = float(np.sqrt(np.mean(np.square(y, dtype=np.float64)))) if y.size else 0.0
    drawn = []
    for kind, value in perturbations:
        params: dict[str, Any] = {"time_stretch": None, "pitch_shift": None, "gain": None, "noise": None}
        if kind == "time_stretch":
            params["time_stretch"] = {"rate": value, "keep_length": False, "method": METHOD}
        elif kind == "pitch_shift":
            params["pitch_shift"] = {"semitones": value, "method": METHOD}
        elif kind == "gain":
            params["gain"] = {"gain_db": value}
        else:
            params["noise"] = {"amplitude": rms / 10.0 ** (value / 20.0), "seed": int(rng.integers(0, 2**31 - 1))}
        drawn.append({"kind": kind, "value": value, "params": params})
    return drawn


def describe_perturbation(kind: str, value: float) -> str:
    """Plain words for a perturbation: ``"+2 semitones"``, ``"1.1x tempo"``, ``"+6 dB gain"``, ``"noise at 30 dB SNR"``."""
    if kind == "pitch_shift":
        return f"{value:+g} semitone{'s' if abs(value) != 1 else ''}"
    if kind == "time_stretch":
        return f"{value:g}x tempo"
    if kind == "gain":
        return f"{value:+g} dB gain"
    if kind == "noise":
        return f"noise at {value:g} dB SNR"
    raise ParameterError(f"unknown perturbation kind {kind!r}; known kinds: {sorted(KINDS)}")


_GROUP_WORDS = {"pitch_shift": "pitch shift", "time_stretch": "tempo change", "gain": "gain change", "noise": "added noise"}


@dataclass(frozen=True)
class PerturbationResult:
    """One perturbed tagging.

    Attributes
    ----------
    kind : str
        ``pitch_shift``, ``time_stretch``, ``gain`` or ``noise``.
    value : float
        Semitones, stretch rate, dB of gain, or dB SNR.
    scores : np.ndarray [shape=(n_labels,)]
        Track scores, in the model's label order.
    top_genre : str
        The best-scoring genre tag.
    top_changed : bool
        Whether it differs from the unperturbed top genre.
    params : dict
        What was applied (:func:`draw_perturbations`).
    """

    kind: str
    value: float
    scores: np.ndarray
    top_genre: str
    top_changed: bool
    params: dict = field(repr=False, default_factory=dict)


@dataclass(frozen=True)
class RobustnessReport:
    """A track's tags under every perturbation.

    Attributes
    ----------
    path, model : str
    base : TrackPrediction
        Plain tagging (the unperturbed row).
    rows : list of PerturbationResult
    summary : str
        One sentence per perturbation kind (:func:`stability_summary`).
    seconds : float
        Time taken, decoding excluded.
    """

    path: str
    model: str
    base: TrackPrediction
    rows: list[PerturbationResult]
    summary: str
    seconds: float = 0.0

    @property
    def labels(self) -> list[str]:
        """The model's labels (score order of every row)."""
        return list(self.base.labels)

    @property
    def top_genre(self) -> str:
        """The unperturbed top genre."""
        return _top_genre(self.base.scores, self.base.labels, self.base.genres)

    def deltas(self) -> np.ndarray:
        """Score changes [shape=(n_perturbations, n_labels)]: perturbed minus unperturbed."""
        return np.stack([r.scores for r in self.rows]) - np.asarray(self.base.scores)[None, :]

    def to_dict(self, *, decimals: int = 5) -> dict[str, Any]:
        """The JSON of ``musictag robustness --json``.

        Keys ``path``, ``model``, ``base`` (``[{label, score}]`` best first),
        ``perturbations`` (``[{kind, value, scores, top_genre, top_changed}]``) and
        ``summary``. Scores are rounded to ``decimals`` places.
        """
        if isinstance(decimals, bool) or not isinstance(decimals, int) or not 0 <= decimals <= 12:
            raise ParameterError(f"decimals must be an integer between 0 and 12, got {decimals!r}")
        return {
            "path": self.path,
            "model": self.model,
            "base": _ranked(self.base.scores, self.labels, decimals),
            "perturbations": [
                {
                    "kind": r.kind,
                    "value": r.value,
                    "scores": _ranked(r.scores, self.labels, decimals),
                    "top_genre": r.top_genre,
                    "top_changed": bool(r.top_changed),
                }
                for r in self.rows
            ],
            "summary": self.summary,
        }

    def table(self, *, top_k: int = 3) -> list[dict[str, Any]]:
        """Rows for a table: perturbation, top genre, whether it changed, and the largest score changes."""
        genres = list(self.base.genres) or self.labels
        gi = [self.labels.index(g) for g in genres]
        rows = []
        for r, d in zip(self.rows, self.deltas()):
            order = sorted(gi, key=lambda j: -abs(d[j]))[:top_k]
            rows.append({
                "perturbation": describe_perturbation(r.kind, r.value),
                "top genre": r.top_genre,
                "changed": bool(r.top_changed),
                f"score of {self.top_genre}": round(float(r.scores[self.labels.index(self.top_genre)]), 3),
                "largest changes": ", ".join(f"{self.labels[j]} {d[j]:+.3f}" for j in order),
            })
        return rows


def _ranked(scores: np.ndarray, labels: list[str], decimals: int) -> list[dict[str, Any]]:
    pairs = sorted(zip(labels, np.asarray(scores, dtype=np.float64)), key=lambda p: -p[1])
    return [{"label": lab, "score": round(float(s), decimals)} for lab, s in pairs]


def _top_genre(scores: np.ndarray, labels: list[str], genres: list[str]) -> str:
    candidates = list(genres) or list(labels)
    idx = [labels.index(g) for g in candidates]
    s = np.asarray(scores)
    return candidates[int(np.argmax(s[idx]))]


def stability_summary(top: str, rows: list[PerturbationResult]) -> str:
    """Plain words on whether the top genre survives each kind of perturbation.

    e.g. ``"blues stays first under every pitch shift; rock overtakes it at 1.1x tempo"``.
    """
    stable, parts = [], []
    for kind in KINDS:
        group = [r for r in rows if r.kind == kind]
        if not group:
            continue
        changed = [r for r in group if r.top_changed]
        words = _GROUP_WORDS[kind]
        if not changed:
            stable.append(f"with {describe_perturbation(kind, group[0].value)}" if len(group) == 1 else f"under every {words}")
            continue
        by_winner: dict[str, list[PerturbationResult]] = {}
        for r in changed:
            by_winner.setdefault(r.top_genre, []).append(r)
        clauses = [
            f"{winner} overtakes it at {_join([describe_perturbation(kind, r.value) for r in rs])}"
            for winner, rs in by_winner.items()
        ]
        prefix = f"{top} loses first place under every {words}: " if len(changed) == len(group) else ""
        parts.append(prefix + ", ".join(clauses))
    head = [f"{top} stays first {_join(stable)}"] if stable else [f"{top} is first unperturbed"]
    return "; ".join(head + parts)


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _batched_track_scores(tagger: Tagger, variants: list[np.ndarray]) -> list[np.ndarray] | None:
    """Track scores of several waveforms through one forward pass (musicnn taggers), else None."""
    patches = getattr(tagger, "patches", None)
    forward = getattr(tagger, "forward", None)
    if not (callable(patches) and callable(forward)):
        return None
    cut = [patches(v)[0] for v in variants]
    counts = [len(p) for p in cut]
    tags = np.asarray(forward(np.concatenate(cut, axis=0))["tags"], dtype=np.float32)
    bounds = np.cumsum([0, *counts])
    return [tags[a:b].mean(axis=0) for a, b in zip(bounds[:-1], bounds[1:])]


def robustness_array(
    y: np.ndarray,
    *,
    sr: int,
    model: str | os.PathLike | Tagger = "MSD_musicnn",
    name: str = "<array>",
    seed: int = 0,
    perturbations: tuple[tuple[str, float], ...] = PERTURBATIONS,
    runs_dir: str | os.PathLike | None = None,
) -> RobustnessReport:
    """Tag a waveform unperturbed and under every perturbation.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]
        Mono waveform at ``sr``; at the model's rate, the unperturbed row is
        exactly ``tag_array(y, sr=sr, model=model)``.
    sr : int
    model : str, Path or Tagger
    name : str
        Reported as ``path``.
    seed : int
        Seeds the ``np.random.Generator`` of :func:`draw_perturbations` (the noise).
    perturbations : sequence of (kind, value)
    runs_dir : str or Path, optional

    Returns
    -------
    RobustnessReport
    """
    import time

    t0 = time.perf_counter()
    tagger = resolve_tagger(model, runs_dir)
    base = tag_array(y, sr=sr, model=tagger, name=name)
    # perturb the waveform the model tagged (at its rate, mono)
    y_model = np.asarray(y, dtype=np.float32)
    if y_model.ndim == 2:
        y_model = y_model.mean(axis=0)
    if sr != tagger.sr:
        from .audio import resample

        y_model = resample(y_model, orig_sr=int(sr), target_sr=tagger.sr)
    drawn = draw_perturbations(y_model, rng=np.random.default_rng(seed), perturbations=perturbations)
    variants = [apply_augmentation(y_model, sr=tagger.sr, params=d["params"]) for d in drawn]
    scores = _batched_track_scores(tagger, variants)
    if scores is None:
        scores = [tag_array(v, sr=tagger.sr, model=tagger, name=name).scores for v in variants]
    top = _top_genre(base.scores, base.labels, base.genres)
    rows = []
    for d, s in zip(drawn, scores):
        g = _top_genre(s, base.labels, base.genres)
        rows.append(PerturbationResult(d["kind"], d["value"], np.asarray(s, np.float32), g, g != top, d["params"]))
    return RobustnessReport(
        path=name, model=tagger.name, base=base, rows=rows, summary=stability_summary(top, rows),
        seconds=time.perf_counter() - t0,
    )


def robustness_file(
    source: AudioSource,
    model: str | os.PathLike | Tagger = "MSD_musicnn",
    *,
    seed: int = 0,
    max_duration: float | None = DEFAULT_MAX_DURATION_S,
    perturbations: tuple[tuple[str, float], ...] = PERTURBATIONS,
    runs_dir: str | os.PathLike | None = None,
) -> RobustnessReport:
    """Decode a file once at the model's rate (as :func:`~musictag_core.predict.tag_file` does) and report its robustness.

    Parameters
    ----------
    source : str, path, bytes or binary file-like
    model : str, Path or Tagger
    seed : int
    max_duration : float or None
        Seconds decoded from the start (as for ``tag_file``).
    perturbations : sequence of (kind, value)
    runs_dir : str or Path, optional

    Returns
    -------
    RobustnessReport
        ``base`` equals ``tag_file(source, model, max_duration=max_duration)``.
    """
    tagger = resolve_tagger(model, runs_dir)
    y, sr = decode_like_tagging(source, tagger=tagger, max_duration=max_duration)
    return robustness_array(y, sr=sr, model=tagger, name=source_name(source), seed=seed, perturbations=perturbations)


def decode_like_tagging(source: AudioSource, *, tagger: Tagger, max_duration: float | None) -> tuple[np.ndarray, int]:
    """Decode as :func:`~musictag_core.predict.tag_file` does: at the model's rate, at most ``max_duration`` s."""
    check_max_duration(max_duration)
    y, sr, _ = decode_for_model(source, tagger=tagger, max_duration=max_duration)
    return y, sr


# ---------------------------------------------------------------- a run's test split


def robustness_run(
    run: str | os.PathLike,
    *,
    runs_dir: str | os.PathLike | None = None,
    seed: int = 0,
    perturbations: tuple[tuple[str, float], ...] = PERTURBATIONS,
    progress: Callable[[int, int], None] | None = None,
    save: bool = False,
) -> dict[str, Any]:
    """A finished run's test-split metric under each perturbation (the robustness curve).

    Every test track is decoded at the run's rate, tagged unperturbed and under
    each perturbation, and scored with the run's own metric settings
    (:func:`~musictag_core.evaluate.evaluate_predictions`, the run's thresholds).

    Parameters
    ----------
    run : str or Path
        A run id (under ``runs_dir``) or a run folder.
    runs_dir : str or Path, optional
    seed : int
        Seeds the noise.
    perturbations : sequence of (kind, value)
    progress : callable(done, total), optional
        Called after each test track.
    save : bool
        Also write the result to the run folder as ``robustness.json`` (the Train page shows it).

    Returns
    -------
    dict
        ``run``, ``model`` (the run's model family), ``task``, ``metric`` (``accuracy``,
        ``map_macro`` or ``mae``), ``base`` (the unperturbed value), ``n_tracks``,
        ``augmentation`` (the run's augmentation settings, or None),
        ``curve``: ``[{"kind", "value", "metric"}]`` in perturbation order, ``failures``
        (path -> reason) and ``seconds``.

    Raises
    ------
    TrainingError
        The run is not finished, or its test tracks cannot be found.
    """
    import time

    from .datasets import open_dataset
    from .errors import AudioError
    from .evaluate import HEADLINE_METRICS, evaluate_predictions, read_predictions
    from .runs import Run

    t0 = time.perf_counter()
    perturbations = _check_perturbations(perturbations)
    folder = Path(run).expanduser()
    if not (folder.is_dir() and (folder / "card.json").is_file()):
        from .paths import runs_dir as default_runs_dir

        folder = (Path(runs_dir) if runs_dir is not None else default_runs_dir()) / str(run)
    r = Run(folder)
    card = r.read_card()
    if card is None or not r.is_finished() or not r.predictions_path.exists():
        raise TrainingError(
            f"run {folder.name!r} is not a finished run (no card.json or predictions.csv); "
            "list the finished runs with `musictag runs`"
        )
    config = r.read_config() or {}
    dataset = config.get("dataset")
    ids, y_true, _, labels = read_predictions(r.predictions_path)
    index = open_dataset(str(dataset), threshold=float(card.get("threshold", 50.0))) if dataset else None
    if index is None or not len(index) or (index.tracks["path"] == "").all():
        raise TrainingError(f"run {folder.name!r}: its test tracks are not audio files that can be re-tagged")
    path_of = dict(zip(index.tracks["track_id"].astype(str), index.tracks["path"]))
    missing = [str(i) for i in ids if str(i) not in path_of]
    if missing:
        raise TrainingError(f"run {folder.name!r}: test tracks {missing[:3]} are no longer in dataset {dataset!r}")
    task = card["task"]
    tagger = load_tagger(folder)
    rng = np.random.default_rng(seed)
    keep, base_rows, pert_rows, failures = [], [], [], {}
    for i, tid in enumerate(ids):
        path = path_of[str(tid)]
        try:
            y, sr = load_audio(path, sr=tagger.sr)
            base_rows.append(tag_array(y, sr=sr, model=tagger, name=path).scores)
            drawn = draw_perturbations(y, rng=rng, perturbations=perturbations)
            variants = [apply_augmentation(y, sr=sr, params=d["params"]) for d in drawn]
            scores = _batched_track_scores(tagger, variants) or [
                tag_array(v, sr=sr, model=tagger, name=path).scores for v in variants
            ]
            pert_rows.append(np.stack(scores))
            keep.append(i)
        except AudioError as exc:
            failures[path] = exc.reason
        if progress is not None:
            progress(i + 1, len(ids))
    if not keep:
        raise TrainingError(f"run {folder.name!r}: no test track could be tagged; first error: {next(iter(failures.values()), '?')}")
    keep = np.asarray(keep)
    truth = y_true[keep]
    if task == "single":
        truth = np.argmax(truth, axis=1) if truth.ndim == 2 else truth.astype(int)
    metric = HEADLINE_METRICS.get(task, "accuracy")

    def score(S: np.ndarray) -> float | None:
        S = np.asarray(S, dtype=np.float64)
        if task == "regression":
            S = S * 100.0
        m = evaluate_predictions(
            truth, S, task=task, labels=labels, thresholds=card.get("thresholds"), threshold=float(card.get("threshold", 50.0))
        )
        v = m["metrics"].get(metric)
        return None if v is None else float(v)

    P = np.stack(pert_rows)  # (tracks, perturbations, labels)
    curve = [
        {"kind": kind, "value": value, "metric": score(P[:, j, :])}
        for j, (kind, value) in enumerate(perturbations)
    ]
    result = {
        "run": folder.name,
        "model": card.get("model"),
        "task": task,
        "metric": metric,
        "base": score(np.stack(base_rows)),
        "n_tracks": int(len(keep)),
        "augmentation": config.get("augment"),
        "curve": curve,
        "failures": failures,
        "seconds": round(time.perf_counter() - t0, 3),
    }
    if save:
        from .fileio import atomic_write_json

        atomic_write_json(r.output_path(ROBUSTNESS_FILE), result)
    return result
