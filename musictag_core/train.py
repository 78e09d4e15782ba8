"""Training runs: a folder per run, a worker process, events, stop, status.

A run is a folder under the runs directory (:func:`musictag_core.paths.runs_dir`)::

    runs/<run_id>/
        config.json        the RunConfig
        status.json        {"state": queued|running|finished|failed|stopped, "pid", "error", ...}
        events.jsonl       one JSON object per line: batch (step, loss), epoch (metrics), log
        worker.log         stdout/stderr of the worker process
        stop               present when a stop was requested
        model.keras        or model.joblib (scikit-learn)
        card.json          labels, audio/feature parameters, metrics, split, code version
        metrics.json       evaluate_predictions() on the test split (+ cv folds)
        predictions.csv    track-level test predictions (see musictag_core.evaluate)

Every file except ``events.jsonl`` (append-only, flushed per line) is written
atomically (temporary file + ``os.replace``).

:func:`start_run` writes the folder and starts ``python -m musictag_core train
--run RUN_DIR`` as a detached process, so page reloads never touch it. The
worker (:func:`execute_run`) waits for the runs directory's lock file, so at
most one run trains at a time and the others stay ``queued`` (oldest first).
:func:`run_status` reports a run whose worker died (killed, crashed) as
``failed`` with the last error it logged.

Inputs
------
A run's :class:`~musictag_core.streaming.InputSpec` (``card["inputs"]``) says
how a track becomes model inputs; training and the tagger
(:mod:`musictag_core.models.trained`) both call
:func:`~musictag_core.streaming.compute_inputs` with it. Inputs are computed
once, in parallel worker processes, and cached per file digest: frame features
and statistics in the feature store (:func:`musictag_core.store.extract_paths`),
the rest (random-crop clips, waveform pieces, musicnn embeddings under
``<cache>/embeddings``, augmented variants keyed by digest + augmentation
parameters) in an :class:`~musictag_core.streaming.ArrayCache`. Batches are
built from memory-mapped per-track arrays by a
:class:`~musictag_core.streaming.SegmentSampler` (a ``keras.utils.PyDataset``),
which draws one variant per track (and a random crop for ``cnn7``) each epoch.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import os
import signal
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__
from .augment import AugmentConfig, draw_params
from .config import AudioConfig, FeatureConfig, SegmentConfig, reject_unknown_keys
from .errors import MusictagError, ParameterError, TrainingError
from .evaluate import evaluate_predictions, tune_thresholds, write_predictions
from .fileio import atomic_save, atomic_write_json, atomic_write_text, json_default
from .models.registry import MODEL_CARDS, ModelConfig, model_card
from .streaming import InputSpec, variant_key

__all__ = [
    "RunConfig",
    "RUN_STATES",
    "create_run",
    "start_run",
    "execute_run",
    "run_worker_main",
    "evaluate_run",
    "request_stop",
    "run_status",
    "list_runs",
    "read_events",
    "parse_set",
    "atomic_write_json",
    "atomic_write_text",
]

RUN_STATES = ("queued", "running", "finished", "failed", "stopped")
LOCK_NAME = ".train.lock"


# ---------------------------------------------------------------------------
# configuration
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines a training run (validated on creation).

    Parameters
    ----------
    dataset : str
        Dataset spec: a folder of ``<label>/<audio files>`` (or any spec the
        dataset adapters accept once merged).
    model : str
        A name from :data:`~musictag_core.models.registry.MODEL_CARDS`.
    preset : {"fast", "full"}
        Input preparation and model size from the model card.
    task : {"single", "multi", "regression"} or None
        ``None``: from the dataset (single when every track has one label).
    threshold : float
        Strength (0–100) at or above which a label is present.
    epochs, batch_size : int or None
        ``None``: the preset's.
    optimizer : {"adam", "sgd"}
    learning_rate : float or None
        ``None``: the preset's.
    momentum : float
        SGD only.
    patience : int
        Early-stopping patience in epochs on validation loss (0: off); the best
        weights are restored either way.
    dropout : float or None
        ``None``: the preset's.
    class_weights : bool
        Weight examples inversely to their label frequency.
    augment : AugmentConfig
        Waveform augmentation (off by default).
    n_variants : int
        Augmented variants precomputed per training track (with augmentation on).
    segments, features : dict or None
        Overrides of the preset's SegmentConfig / FeatureConfig fields.
    embedding : {"pooled", "penultimate", "both"}
        Transfer model input.
    fine_tune : bool
        Transfer only: train musicnn and the head end to end on mel patches
        (instead of a head on cached embeddings).
    n_jobs : int or None
        Worker processes for feature extraction and augmentation (None: every core).
    sr : int
        Sample rate audio is decoded at.
    seed : int
        Seeds splitting, sampling, augmentation and weight initialisation.
    cv : int
        ``>= 2``: stratified k-fold cross-validation; 0: one train/val/test split.
    val_fraction, test_fraction : float
        Used when the dataset has no split column.
    max_tracks : int or None
        Use at most this many tracks (stratified sample), for quick trials.
    name : str
        Free label shown in listings.
    """

    dataset: str
    model: str
    preset: str = "full"
    task: str | None = None
    threshold: float = 50.0
    epochs: int | None = None
    batch_size: int | None = None
    optimizer: str = "adam"
    learning_rate: float | None = None
    momentum: float = 0.9
    patience: int = 5
    dropout: float | None = None
    class_weights: bool = False
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    n_variants: int = 4
    segments: dict | None = None
    features: dict | None = None
    embedding: str = "both"
    fine_tune: bool = False
    n_jobs: int | None = None
    sr: int = 22050
    seed: int = 0
    cv: int = 0
    val_fraction: float = 0.15
    test_fraction: float = 0.15
    max_tracks: int | None = None
    name: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.dataset, str) or not self.dataset:
            raise ParameterError(f"dataset must be a non-empty spec string, got {self.dataset!r}")
        model_card(self.model)  # raises ModelError naming the models
        card = MODEL_CARDS[self.model]
        card.preset(self.preset)
        if self.task is not None and self.task not in ("single", "multi", "regression"):
            raise ParameterError(f"task must be single, multi, regression or None, got {self.task!r}")
        if not 0 <= float(self.threshold) <= 100:
            raise ParameterError(f"threshold must be in 0-100, got {self.threshold!r}")
        if not isinstance(self.fine_tune, bool):
            raise ParameterError(f"fine_tune must be true or false, got {self.fine_tune!r}")
        if self.fine_tune and self.card.input_kind != "embedding":
            raise ParameterError(f"fine_tune applies to the transfer model only, not {self.model!r}")
        for name in ("epochs", "batch_size", "max_tracks", "n_jobs"):
            v = getattr(self, name)
            if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
                raise ParameterError(f"{name} must be a positive int or None, got {v!r}")
        if self.optimizer not in ("adam", "sgd"):
            raise ParameterError(f"optimizer must be 'adam' or 'sgd', got {self.optimizer!r}")
        if self.learning_rate is not None and (
            isinstance(self.learning_rate, bool) or not isinstance(self.learning_rate, (int, float))
            or not 0 < self.learning_rate < 10
        ):
            raise ParameterError(f"learning_rate must be in (0, 10), got {self.learning_rate!r}")
        if isinstance(self.patience, bool) or not isinstance(self.patience, int) or self.patience < 0:
            raise ParameterError(f"patience must be an int >= 0, got {self.patience!r}")
        if self.dropout is not None and not 0 <= self.dropout < 1:
            raise ParameterError(f"dropout must be in [0, 1), got {self.dropout!r}")
        if isinstance(self.augment, dict):
            object.__setattr__(self, "augment", AugmentConfig.from_dict(self.augment))
        if not isinstance(self.augment, AugmentConfig):
            raise ParameterError(f"augment must be an AugmentConfig or dict, got {self.augment!r}")
        if isinstance(self.n_variants, bool) or not isinstance(self.n_variants, int) or self.n_variants < 1:
            raise ParameterError(f"n_variants must be a positive int, got {self.n_variants!r}")
        if self.embedding not in ("pooled", "penultimate", "both"):
            raise ParameterError(f"embedding must be pooled, penultimate or both, got {self.embedding!r}")
        if isinstance(self.cv, bool) or not isinstance(self.cv, int) or self.cv < 0 or self.cv == 1:
            raise ParameterError(f"cv must be 0 (off) or an int >= 2, got {self.cv!r}")
        for name in ("val_fraction", "test_fraction"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or not 0 < v < 0.5:
                raise ParameterError(f"{name} must be in (0, 0.5), got {v!r}")
        # the overrides must make valid configs
        self.segment_config()
        self.feature_config()

    # -- derived settings ---------------------------------------------------
    @property
    def card(self):  # noqa: ANN201
        return MODEL_CARDS[self.model]

    @property
    def family(self) -> str:
        return self.card.family

    def preset_obj(self):  # noqa: ANN201
        return self.card.preset(self.preset)

    def segment_config(self) -> SegmentConfig:
        base = self.preset_obj().segments
        return SegmentConfig.from_dict({**base.to_dict(), **(self.segments or {})})

    def feature_config(self) -> FeatureConfig | None:
        base = self.preset_obj().features
        if base is None:
            if self.features:
                raise ParameterError(f"model {self.model!r} reads {self.card.input_kind}; it takes no feature settings")
            return None
        return FeatureConfig.from_dict({**base.to_dict(), "sr": self.sr, **(self.features or {})})

    def resolved_epochs(self) -> int:
        return self.epochs or self.preset_obj().epochs

    def resolved_batch_size(self) -> int:
        return self.batch_size or self.preset_obj().batch_size

    def resolved_learning_rate(self) -> float:
        return float(self.learning_rate or self.preset_obj().learning_rate)

    def resolved_dropout(self) -> float:
        return self.preset_obj().dropout if self.dropout is None else float(self.dropout)

    # -- (de)serialisation --------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        d["augment"] = self.augment.to_dict()
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunConfig:
        reject_unknown_keys(cls, data, owner="run", noun="setting")
        return cls(**data)


def parse_set(items: list[str] | None, base: dict[str, Any] | None = None) -> dict[str, Any]:
    """Apply ``key=value`` overrides (YAML values, dotted keys for nesting) to a dict.

    >>> parse_set(["epochs=3", "augment.pitch_shift=true"], {"model": "cnn"})
    {'model': 'cnn', 'epochs': 3, 'augment': {'pitch_shift': True}}
    """
    import yaml

    out = json.loads(json.dumps(base or {}))
    for item in items or []:
        if "=" not in item:
            raise ParameterError(f"--set expects key=value, got {item!r}")
        key, raw = item.split("=", 1)
        value = yaml.safe_load(raw) if raw.strip() else None
        if isinstance(value, str):  # YAML 1.1 reads "1e-3" as a string
            try:
                value = float(value) if any(c in value for c in ".eE") else value
            except ValueError:
                pass
        node = out
        parts = key.strip().split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise ParameterError(f"--set {item!r}: {p!r} is not a group of settings")
        node[parts[-1]] = value
    return out


# ---------------------------------------------------------------------------
# files
# ---------------------------------------------------------------------------


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _write_status(run_dir: Path, **changes: Any) -> dict[str, Any]:
    status = _read_json(run_dir / "status.json") or {}
    status.update(changes)
    status["updated"] = _now()
    atomic_write_json(run_dir / "status.json", status)
    return status


class _Events:
    """Append-only JSON-lines writer, flushed after every line."""

    def __init__(self, path: Path) -> None:
        self.fh = open(path, "a", encoding="utf-8")  # noqa: SIM115

    def write(self, kind: str, **data: Any) -> None:
        self.fh.write(json.dumps({"type": kind, "time": round(time.time(), 3), **data}, default=json_default) + "\n")
        self.fh.flush()

    def close(self) -> None:
        self.fh.close()


def read_events(run_dir: str | os.PathLike, since: int = 0) -> tuple[list[dict[str, Any]], int]:
    """Events appended to ``events.jsonl`` after byte offset ``since``.

    Only complete lines are returned, so a line being written is picked up by
    the next call.

    Returns
    -------
    events : list of dict
    offset : int
        Pass it as ``since`` next time.
    """
    path = Path(run_dir) / "events.jsonl"
    if not path.exists():
        return [], since
    with open(path, "rb") as fh:
        fh.seek(since)
        chunk = fh.read()
    end = chunk.rfind(b"\n") + 1
    events = []
    for line in chunk[:end].splitlines():
        if line.strip():
            try:
                events.append(json.loads(line))
            except ValueError:
                continue
    return events, since + end


# ---------------------------------------------------------------------------
# processes: start, queue, stop, status
# ---------------------------------------------------------------------------


def _proc_start_time(pid: int) -> str | None:
    """Start time of process ``pid`` (field 22 of /proc/PID/stat), or None."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def _pid_alive(pid: int | None, start_time: str | None = None) -> bool:
    """Whether ``pid`` runs (not a zombie, and the same process when ``start_time`` is known)."""
    if not pid:
        return False
    stat_path = Path(f"/proc/{pid}/stat")
    if stat_path.parent.exists() or Path("/proc/self/stat").exists():
        try:
            stat = stat_path.read_text()
        except OSError:
            return False
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] in ("Z", "X"):
            return False
        return start_time is None or fields[19] == start_time
    try:  # no /proc (macOS)
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _new_run_id(config: RunConfig) -> str:
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return f"{stamp}-{config.model}-{os.urandom(3).hex()}"


def create_run(config: RunConfig, *, runs_dir: str | os.PathLike | None = None) -> Path:
    """Create a queued run folder (config.json, status.json, empty events.jsonl) without starting it.

    Returns
    -------
    run_dir : Path
    """
    from .paths import runs_dir as default_runs_dir

    root = Path(runs_dir) if runs_dir is not None else default_runs_dir()
    root.mkdir(parents=True, exist_ok=True)
    run_id = _new_run_id(config)
    run_dir = root / run_id
    run_dir.mkdir()
    atomic_write_json(run_dir / "config.json", config.to_dict())
    # microseconds: runs created within the same second must still queue in creation order
    created = _dt.datetime.now(_dt.UTC).isoformat(timespec="microseconds")
    _write_status(run_dir, state="queued", created=created, run_id=run_id, model=config.model, pid=None)
    (run_dir / "events.jsonl").touch()
    return run_dir


def start_run(
    config: RunConfig, *, runs_dir: str | os.PathLike | None = None, python: str | None = None
) -> str:
    """Create a run folder and start its worker process (detached).

    Parameters
    ----------
    config : RunConfig
    runs_dir : path-like or None
        Parent folder (default :func:`musictag_core.paths.runs_dir`).
    python : str or None
        Interpreter for the worker (default ``sys.executable``).

    Returns
    -------
    run_id : str
        The folder name; the run is ``runs_dir / run_id``. It starts as
        ``queued`` and becomes ``running`` once no other run trains.
    """
    from .paths import repo_root

    run_dir = create_run(config, runs_dir=runs_dir)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(repo_root()), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    with open(run_dir / "worker.log", "ab") as log:
        proc = subprocess.Popen(  # noqa: S603
            [python or sys.executable, "-m", "musictag_core", "train", "--run", str(run_dir)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=str(repo_root()),
            env=env,
            start_new_session=True,
        )
    # status.json belongs to the worker (it records its own pid); the launcher writes
    # worker.pid so a worker that dies before writing anything is still detected
    atomic_write_json(run_dir / "worker.pid", {"pid": proc.pid, "pid_start": _proc_start_time(proc.pid)})
    return run_dir.name


def request_stop(run_dir: str | os.PathLike) -> None:
    """Ask a run to stop: it stops after the current batch, keeps its best weights and evaluates them.

    A queued run is marked ``stopped`` without training.
    """
    run_dir = Path(run_dir)
    if not (run_dir / "status.json").exists():
        raise TrainingError(f"{run_dir} is not a run folder (no status.json)")
    atomic_write_text(run_dir / "stop", _now() + "\n")


def _last_error(run_dir: Path) -> str:
    events, _ = read_events(run_dir)
    for ev in reversed(events):
        if ev.get("type") in ("error", "log"):
            return str(ev.get("message", ""))
    try:
        lines = (run_dir / "worker.log").read_text(errors="replace").strip().splitlines()
        return lines[-1] if lines else ""
    except OSError:
        return ""


def run_status(run_dir: str | os.PathLike) -> dict[str, Any]:
    """The run's status, with dead workers detected.

    A run whose status says ``queued`` or ``running`` but whose worker process
    no longer exists is rewritten as ``failed`` with a reason and the last
    message it logged.

    Returns
    -------
    status : dict
        ``state``, ``run_id``, ``model``, ``pid``, ``error`` (failed runs),
        ``created``/``started``/``ended`` timestamps, ``epoch``.
    """
    run_dir = Path(run_dir)
    status = _read_json(run_dir / "status.json")
    if status is None:
        raise TrainingError(f"{run_dir} is not a run folder (no readable status.json)")
    if status.get("state") in ("queued", "running"):
        pid, pid_start = status.get("pid"), status.get("pid_start")
        if not pid:
            launched = _read_json(run_dir / "worker.pid") or {}
            pid, pid_start = launched.get("pid"), launched.get("pid_start")
        if pid and not _pid_alive(pid, pid_start):
            # re-read: the worker may have finished between the two reads
            again = _read_json(run_dir / "status.json") or status
            if again.get("state") in ("queued", "running"):
                last = _last_error(run_dir)
                reason = f"worker process {pid} exited without finishing (killed or crashed)"
                status = _write_status(
                    run_dir, state="failed", error=f"{reason}; last message: {last}" if last else reason, ended=_now()
                )
            else:
                status = again
    return status


def list_runs(runs_dir: str | os.PathLike | None = None) -> list[dict[str, Any]]:
    """Every run under ``runs_dir`` (newest first) with status, model, metrics summary and model file."""
    from .paths import runs_dir as default_runs_dir

    root = Path(runs_dir) if runs_dir is not None else default_runs_dir()
    if not root.is_dir():
        return []
    out = []
    for d in sorted(root.iterdir(), reverse=True):
        if not (d / "status.json").exists():
            continue
        try:
            st = run_status(d)
        except MusictagError:
            continue
        metrics = (_read_json(d / "metrics.json") or {}).get("metrics", {})
        model_file = next((str(d / f) for f in ("model.keras", "model.joblib") if (d / f).exists()), None)
        cfg = _read_json(d / "config.json") or {}
        out.append(
            {
                "run_id": d.name,
                "path": str(d),
                "state": st.get("state"),
                "model": cfg.get("model"),
                "dataset": cfg.get("dataset"),
                "created": st.get("created"),
                "metrics": metrics,
                "model_file": model_file,
                "error": st.get("error"),
            }
        )
    return out


class _RunLock:
    """Exclusive lock on ``runs_dir/.train.lock``; released by the OS if the worker dies."""

    def __init__(self, runs_dir: Path) -> None:
        self.path = runs_dir / LOCK_NAME
        self.fh = None

    def try_acquire(self) -> bool:
        import fcntl

        fh = open(self.path, "a+")  # noqa: SIM115
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.close()
            return False
        self.fh = fh
        return True

    def release(self) -> None:
        if self.fh is not None:
            self.fh.close()
            self.fh = None


def _older_queued_alive(run_dir: Path) -> bool:
    """Whether another run in the same folder is queued, alive and was created before this one."""
    mine = (_read_json(run_dir / "status.json") or {}).get("created", "")
    for d in run_dir.parent.iterdir():
        if d == run_dir or not (d / "status.json").exists():
            continue
        st = _read_json(d / "status.json") or {}
        if st.get("state") != "queued" or (st.get("created", ""), d.name) >= (mine, run_dir.name):
            continue
        pid, pid_start = st.get("pid"), st.get("pid_start")
        if not pid:  # its worker has not written its status yet: ask the launcher's record
            launched = _read_json(d / "worker.pid") or {}
            pid, pid_start = launched.get("pid"), launched.get("pid_start")
        if _pid_alive(pid, pid_start):
            return True
    return False


class _StopRequested(Exception):
    pass


# ---------------------------------------------------------------------------
# datasets and splits
# ---------------------------------------------------------------------------


def _open_dataset(spec: str, *, threshold: float):  # noqa: ANN202
    """Dataset spec -> DatasetIndex (:func:`musictag_core.datasets.open_dataset`)."""
    from .datasets import open_dataset

    return open_dataset(spec, threshold=threshold)


def _stratify_key(index, task: str) -> np.ndarray:  # noqa: ANN001
    if task == "single":
        return index.label_index
    # multi / regression: the most frequent present label keeps folds roughly balanced
    return np.argmax(index.y * (1 + index.y.sum(axis=0))[None, :], axis=1)


def _split_tracks(index, task: str, *, seed: int, val_fraction: float, test_fraction: float) -> dict[str, np.ndarray]:  # noqa: ANN001
    """Train/validation/test row indices (the dataset's own split when it has one)."""
    from .datasets import split_dataset

    split = split_dataset(index, seed=seed, val_size=val_fraction, test_size=test_fraction)
    col = split.tracks["split"]
    return {s: np.flatnonzero((col == s).to_numpy()) for s in ("train", "validation", "test")}


# ---------------------------------------------------------------------------
# the worker
# ---------------------------------------------------------------------------


@dataclass
class _TrackData:
    """Inputs of one track: one array per variant (variant 0 is the original audio)."""

    variants: list  # np.ndarray or streaming.NpyFile (read on demand)
    aug_params: list[dict | None]


class _Context:
    """Run folder, events and stop checks shared by the worker stages."""

    def __init__(self, run_dir: Path, config: RunConfig) -> None:
        self.run_dir = run_dir
        self.config = config
        self.events = _Events(run_dir / "events.jsonl")
        self.stop_path = run_dir / "stop"
        self.stopped = False

    def stop_requested(self) -> bool:
        if not self.stopped and self.stop_path.exists():
            self.stopped = True
            self.events.write("log", message="stop requested")
        return self.stopped

    def log(self, message: str, **data: Any) -> None:
        self.events.write("log", message=message, **data)


def _input_spec(cfg: RunConfig) -> InputSpec:
    """How this run turns a track into model inputs (saved as ``card["inputs"]``)."""
    kind = cfg.card.input_kind
    seg = cfg.segment_config()
    if kind == "embedding":
        # musicnn runs at 16 kHz on 3 s patches; fine-tuning reads its mel patches
        return InputSpec(
            kind="musicnn_patches" if cfg.fine_tune else "embedding",
            audio=AudioConfig(sr=16000, duration=seg.max_duration_s, allow_silence=True),
            segments=seg, features=None, embedding=cfg.embedding,
        )
    return InputSpec(
        kind=kind,
        audio=AudioConfig(sr=cfg.sr, duration=seg.max_duration_s, allow_silence=True),
        segments=seg,
        features=cfg.feature_config(),
    )


def _variant_params(cfg: RunConfig, digest: str, k: int) -> dict[str, Any]:
    """Augmentation parameters of variant ``k`` of a file: drawn from (seed, file digest, k).

    So a second run with the same seed and augmentation settings asks for the
    same variants and finds them cached, whatever the split or track order.
    """
    rng = np.random.default_rng([cfg.seed, int(digest[:12], 16), k])
    return draw_params(cfg.augment, rng=rng)


def _inputs_job(path: str, digest: str, spec_dict: dict, root: str, todo: list[tuple[str, dict | None]]) -> str | None:
    """Worker: decode ``path`` once, then compute and cache each (variant key, augmentation params).

    Returns None, or an error message.
    """
    from .audio import load_audio
    from .augment import apply_augmentation
    from .streaming import ArrayCache, InputSpec, compute_inputs

    spec = InputSpec.from_dict(spec_dict)
    cache = ArrayCache(spec=spec, root=root)
    try:
        backbone = None
        if spec.needs_backbone:
            from .models.loading import load_tagger

            backbone = load_tagger(spec.backbone)
        y, sr = load_audio(path, config=spec.audio)
        for key, params in todo:
            w = y if params is None else apply_augmentation(y, sr=sr, params=params)
            _, x = compute_inputs(w, spec=spec, for_training=True, backbone=backbone)
            cache.save(digest, x, key)
    except MusictagError as exc:
        return str(exc)
    except Exception as exc:  # noqa: BLE001 - reported per file
        return f"{path}: {type(exc).__name__}: {exc}"
    return None


def _run_jobs(ctx: _Context, jobs: list[tuple], *, what: str) -> dict[str, str]:
    """Run :func:`_inputs_job` calls in parallel (embeddings: in this process); path -> error."""
    from joblib import Parallel, delayed

    if not jobs:
        return {}
    cfg = ctx.config
    in_process = jobs[0][2]["kind"] in ("embedding", "musicnn_patches")
    n_jobs = 1 if in_process else (cfg.n_jobs or os.cpu_count() or 1)
    failures: dict[str, str] = {}
    t0 = time.perf_counter()
    results = Parallel(n_jobs=n_jobs, backend="sequential" if n_jobs == 1 else "loky", return_as="generator")(
        delayed(_inputs_job)(*job) for job in jobs
    )
    for done, (job, err) in enumerate(zip(jobs, results), start=1):
        if err is not None:
            failures[job[0]] = err
        if done % 25 == 0 or done == len(jobs):
            ctx.log(f"{what}: {done}/{len(jobs)} files", done=done, total=len(jobs))
        if ctx.stop_requested():
            raise _StopRequested
    ctx.log(f"{what}: done", files=len(jobs), seconds=round(time.perf_counter() - t0, 2), failed=len(failures))
    return failures


def _prepare_inputs(ctx: _Context, index, rows: np.ndarray, *, augment: bool, rng: np.random.Generator) -> dict[int, _TrackData]:  # noqa: ANN001
    """Model inputs of the tracks in ``rows``, through the caches (memory-mapped arrays).

    Variant 0 is the original audio; with augmentation on (``augment=True``,
    waveform / frame-feature models) ``n_variants`` augmented variants follow.
    Frame features and statistics of the original audio go through
    :func:`musictag_core.store.extract_paths` (shared with ``extract``);
    everything else (random-crop clips, waveform pieces, musicnn embeddings or
    patches, augmented variants) through a :class:`~musictag_core.streaming.ArrayCache`.
    Files are decoded and described in parallel worker processes, once.
    """
    from .store import extract_paths, file_digest
    from .streaming import ArrayCache

    cfg = ctx.config
    spec = _input_spec(cfg)
    rows = np.asarray(rows)
    if spec.kind == "stats" and index.features is not None:
        table = index.features.to_numpy(np.float64)
        return {int(r): _TrackData([table[r][None, :]], [None]) for r in rows}
    paths = [str(index.tracks["path"].iloc[r]) for r in rows]
    digests = []
    for p in paths:
        try:
            digests.append(file_digest(p))
        except OSError as exc:
            raise TrainingError(f"{p}: cannot read the audio file ({exc.strerror or exc}); fix or remove it") from None
    use_aug = augment and cfg.augment.enabled and spec.kind in ("logmel", "mfcc", "waveform", "musicnn_patches")
    variant_keys = [[] for _ in rows]  # augmented variant keys per row
    params_of: list[list[dict]] = [[] for _ in rows]
    if use_aug:
        for j, d in enumerate(digests):
            for k in range(cfg.n_variants):
                p = _variant_params(cfg, d, k)
                params_of[j].append(p)
                variant_keys[j].append(variant_key(p))
    cache = ArrayCache(spec=spec)
    pipeline = spec.pipeline()
    failures: dict[str, str] = {}
    base: list = [None] * len(rows)
    if pipeline is not None:
        def progress(done: int, total: int) -> None:
            if done % 25 == 0 or done == total:
                ctx.log(f"features: {done}/{total} files", done=done, total=total)

        res = extract_paths(paths, pipeline=pipeline, n_jobs=cfg.n_jobs, progress=progress)
        ctx.log("features: done", cached=res.n_cached, computed=res.n_computed, seconds=round(res.seconds, 2))
        failures.update(res.failures)
        for j in res.ok:
            a = _open_npy(res.store.path_for(res.digests[j]))
            if a is None:
                raise TrainingError(f"{paths[j]}: cache entry vanished while training; run again")
            base[j] = np.asarray(a)[None, :] if a.ndim == 1 else a  # statistics are stored as (n_stats,)
    jobs = []
    for j, (p, d) in enumerate(zip(paths, digests)):
        if p in failures:
            continue
        todo = [] if pipeline is not None or cache.path_for(d).exists() else [("", None)]
        todo += [(key, prm) for key, prm in zip(variant_keys[j], params_of[j]) if not cache.path_for(d, key).exists()]
        if todo:
            jobs.append((p, d, spec.to_dict(), str(cache.root), todo))
    what = {"embedding": "musicnn embeddings", "musicnn_patches": "musicnn patches"}.get(spec.kind, "inputs")
    if use_aug:
        ctx.log(f"augmentation: {cfg.n_variants} variants per training track", tracks=len(rows), jobs=len(jobs))
    failures.update(_run_jobs(ctx, jobs, what=what + (" and augmented variants" if use_aug else "")))
    if failures:
        shown = "; ".join(f"{k}: {v}" for k, v in list(failures.items())[:5])
        raise TrainingError(f"{len(failures)} file(s) could not be read or described: {shown}; fix or remove them")
    out: dict[int, _TrackData] = {}
    for j, (r, d) in enumerate(zip(rows, digests)):
        first = base[j] if base[j] is not None else _open_npy(cache.path_for(d))
        arrays = [first] + [_open_npy(cache.path_for(d, key)) for key in variant_keys[j]]
        if any(a is None for a in arrays):
            raise TrainingError(f"{paths[j]}: cache entry vanished while training; run again")
        out[int(r)] = _TrackData(arrays, [None, *params_of[j]])
    return out


def _open_npy(path: Path):  # noqa: ANN202
    """A :class:`~musictag_core.streaming.NpyFile` handle (no descriptor held), or None when unreadable."""
    from .streaming import NpyFile

    try:
        return NpyFile(path)
    except (OSError, ValueError, EOFError):
        return None


def _targets(index, task: str) -> np.ndarray:  # noqa: ANN001
    if task == "single":
        return np.eye(len(index.labels), dtype=np.float32)[index.label_index]
    if task == "multi":
        return index.y.astype(np.float32)
    return index.strengths.astype(np.float32)


def _sample_weights(Y: np.ndarray, task: str) -> np.ndarray:
    """Balanced class weights turned into per-example weights."""
    if task == "regression":
        Y = (Y >= 50).astype(np.float32)
    counts = Y.sum(axis=0)
    w = np.where(counts > 0, Y.shape[0] / (Y.shape[1] * np.maximum(counts, 1)), 0.0)
    present = Y.sum(axis=1)
    return np.where(present > 0, (Y * w).sum(axis=1) / np.maximum(present, 1), 1.0).astype(np.float32)


def _track_metrics(y_rows: np.ndarray, scores: np.ndarray, Yfull: np.ndarray, task: str, labels, threshold, thresholds=None) -> dict:  # noqa: ANN001
    y_true = Yfull[y_rows]
    if task == "single":
        y_true = np.argmax(y_true, axis=1)
    return evaluate_predictions(y_true, scores, task=task, labels=labels, thresholds=thresholds, threshold=threshold)


def _build_keras_model(cfg: RunConfig, mcfg: ModelConfig):  # noqa: ANN202
    from .models.registry import build_model

    if cfg.card.input_kind == "embedding" and cfg.fine_tune:
        from .models.neural import build_musicnn_finetune
        from .predict import load_tagger

        backbone = load_tagger(_input_spec(cfg).backbone).model_
        return build_musicnn_finetune(mcfg, backbone=backbone, embedding=cfg.embedding)
    return build_model(cfg.model, mcfg)


def _train_keras(ctx: _Context, index, split: dict[str, np.ndarray], task: str, rng: np.random.Generator) -> dict[str, Any]:  # noqa: ANN001
    import keras

    from .models.neural import NORMALIZE_NAME, loss_for_task
    from .streaming import SegmentSampler, as_pydataset, predict_tracks

    cfg = ctx.config
    keras.utils.set_random_seed(cfg.seed)
    Y = _targets(index, task)
    spec = _input_spec(cfg)
    ctx.log("preparing inputs", tracks=int(sum(len(v) for v in split.values())))
    data = _prepare_inputs(ctx, index, split["train"], augment=True, rng=rng)
    data.update(_prepare_inputs(ctx, index, np.concatenate([split["validation"], split["test"]]), augment=False, rng=rng))
    crop = spec.crop
    first = data[int(split["train"][0])].variants[0]
    input_shape = (crop, *first.shape[2:]) if crop is not None else tuple(first.shape[1:])
    pre = cfg.preset_obj()
    mcfg = ModelConfig(
        input_shape=tuple(int(d) for d in input_shape), n_outputs=len(index.labels), task=task,
        dropout=cfg.resolved_dropout(), width=pre.width, units=pre.units, name=cfg.model,
    )
    model = _build_keras_model(cfg, mcfg)
    bs = cfg.resolved_batch_size()

    def evaluation(rows: np.ndarray) -> SegmentSampler:
        return SegmentSampler([data[int(r)].variants for r in rows], Y[rows], batch_size=max(bs, 32), crop=crop, evaluation=True)

    ev_val, ev_test = evaluation(split["validation"]), evaluation(split["test"])
    # train metrics each epoch on a fixed random sample of training tracks (cheap, unbiased by label order)
    tr_rows = np.sort(np.random.default_rng(cfg.seed).choice(split["train"], min(48, len(split["train"])), replace=False))
    ev_train = evaluation(tr_rows)
    try:
        norm = model.get_layer(NORMALIZE_NAME)
    except ValueError:
        norm = None
    if norm is not None:  # per-band statistics of up to 512 training inputs
        xs, n = [], 0
        for k in range(len(ev_train)):
            xs.append(ev_train.batch(k)[0])
            n += len(xs[-1])
            if n >= 512:
                break
        norm.adapt(np.concatenate(xs)[:512])
    opt = (
        keras.optimizers.Adam(learning_rate=cfg.resolved_learning_rate())
        if cfg.optimizer == "adam"
        else keras.optimizers.SGD(learning_rate=cfg.resolved_learning_rate(), momentum=cfg.momentum)
    )
    kmetrics = {"single": ["accuracy"], "multi": [keras.metrics.BinaryAccuracy(name="binary_accuracy")], "regression": ["mae"]}[task]
    model.compile(optimizer=opt, loss=loss_for_task(task), metrics=kmetrics)
    weights = _sample_weights(Y[split["train"]], task) if cfg.class_weights else None
    sampler = SegmentSampler(
        [data[int(r)].variants for r in split["train"]], Y[split["train"]], batch_size=bs, rng=rng, crop=crop, weights=weights
    )
    labels = list(index.labels)

    class EventsCallback(keras.callbacks.Callback):
        """Batch and epoch events; validation loss and track metrics (keras's ``val_loss``)."""

        def __init__(self) -> None:
            super().__init__()
            self.step = 0
            self.epoch = 0
            self.t0 = time.perf_counter()
            self.samples = 0

        def on_epoch_begin(self, epoch, logs=None):  # noqa: ANN001
            self.epoch = epoch
            self.t0 = time.perf_counter()
            self.samples = 0

        def on_train_batch_end(self, batch, logs=None):  # noqa: ANN001
            self.step += 1
            self.samples += len(sampler.owners(batch))
            loss = float((logs or {}).get("loss", float("nan")))
            ctx.events.write("batch", epoch=self.epoch, step=self.step, loss=loss)
            if ctx.stop_requested():
                self.model.stop_training = True

        def on_epoch_end(self, epoch, logs=None):  # noqa: ANN001
            seconds = time.perf_counter() - self.t0
            sc, val_loss = predict_tracks(self.model, ev_val, task=task)
            val = _track_metrics(split["validation"], sc, Y, task, labels, cfg.threshold)["metrics"]
            sc, _ = predict_tracks(self.model, ev_train)
            tr = _track_metrics(tr_rows, sc, Y, task, labels, cfg.threshold)["metrics"]
            if logs is not None:
                logs["val_loss"] = val_loss  # read by EarlyStopping (called after this callback)
            logs = dict(logs or {})
            train = {"loss": logs.get("loss"), **{k: v for k, v in logs.items() if not k.startswith("val_") and k != "loss"}, **tr}
            ctx.events.write(
                "epoch", epoch=epoch, step=self.step, train=train, validation={"loss": val_loss, **val},
                seconds=round(seconds, 3), samples_per_s=round(self.samples / max(seconds, 1e-9), 2),
            )
            _write_status(ctx.run_dir, epoch=epoch + 1)

    es = keras.callbacks.EarlyStopping(
        monitor="val_loss", patience=cfg.patience if cfg.patience > 0 else 10**9, restore_best_weights=True
    )
    ctx.log("training", epochs=cfg.resolved_epochs(), batches_per_epoch=len(sampler), input_shape=list(input_shape))
    model.fit(as_pydataset(sampler), epochs=cfg.resolved_epochs(), callbacks=[EventsCallback(), es], verbose=0)
    # evaluation with the restored best weights
    sc_v, _ = predict_tracks(model, ev_val)
    sc_t, _ = predict_tracks(model, ev_test)
    return {
        "model": model,
        "model_config": mcfg.to_dict(),
        "val": (split["validation"], sc_v),
        "test": (split["test"], sc_t),
        "best_epoch": int(getattr(es, "best_epoch", 0)) + 1,
        "input_shape": list(input_shape),
    }


def _train_sklearn(ctx: _Context, index, split: dict[str, np.ndarray], task: str, rng: np.random.Generator) -> dict[str, Any]:  # noqa: ANN001
    from .models.classical import build_classical, fit_classical, predict_scores

    cfg = ctx.config
    Y = _targets(index, task)
    all_rows = np.concatenate([split["train"], split["validation"], split["test"]])
    ctx.log("preparing inputs", tracks=len(all_rows))
    data = _prepare_inputs(ctx, index, all_rows, augment=False, rng=rng)
    X = {k: np.vstack([np.asarray(data[int(r)].variants[0], dtype=np.float64) for r in v]) for k, v in split.items()}
    model = build_classical(
        cfg.model, task=task, random_state=cfg.seed, class_weight="balanced" if cfg.class_weights else None
    )
    ytr = Y[split["train"]]
    if task == "single":
        ytr = np.argmax(ytr, axis=1)
        missing = sorted(set(range(len(index.labels))) - set(ytr.tolist()))
        if missing:
            raise TrainingError(
                f"labels {[index.labels[i] for i in missing]} have no training track; add tracks or drop the labels"
            )
    elif task == "multi":
        ytr = ytr.astype(int)
    ctx.log("training", rows=len(ytr), features=int(X["train"].shape[1]))
    if ctx.stop_requested():
        raise _StopRequested
    t0 = time.perf_counter()
    fit_classical(model, X["train"], ytr, labels=list(index.labels))
    fit_s = time.perf_counter() - t0
    sc_v = predict_scores(model, X["validation"], task=task)
    ctx.events.write("epoch", epoch=0, step=1, train={}, seconds=round(fit_s, 3), validation=_track_metrics(
        split["validation"], sc_v, Y, task, list(index.labels), cfg.threshold
    )["metrics"])
    return {
        "model": model,
        "model_config": {"name": cfg.model, "n_features": int(X["train"].shape[1])},
        "val": (split["validation"], sc_v),
        "test": (split["test"], predict_scores(model, X["test"], task=task)),
        "best_epoch": 1,
        "input_shape": [int(X["train"].shape[1])],
        "fit_seconds": fit_s,
    }


def _evaluate_split(result: dict, index, task: str, threshold: float) -> tuple[dict, np.ndarray | None]:  # noqa: ANN001
    Y = _targets(index, task)
    labels = list(index.labels)
    rows_v, sc_v = result["val"]
    thresholds = None
    if task == "multi" and len(rows_v):
        thresholds = tune_thresholds(Y[rows_v], sc_v)
    rows_t, sc_t = result["test"]
    return _track_metrics(rows_t, sc_t, Y, task, labels, threshold, thresholds), thresholds


def _code_version() -> dict[str, Any]:
    from .paths import repo_root

    commit = None
    try:
        commit = subprocess.run(  # noqa: S603
            ["git", "rev-parse", "HEAD"], cwd=repo_root(), capture_output=True, text=True, timeout=5, check=False  # noqa: S607
        ).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        pass
    return {"musictag": __version__, "git_commit": commit}


def _fold_splits(index, task: str, cfg: RunConfig) -> list[dict[str, np.ndarray]]:  # noqa: ANN001
    """Stratified k folds: each fold is the test split once; validation comes from the rest."""
    from sklearn.model_selection import KFold, StratifiedKFold, train_test_split

    idx = np.arange(len(index))
    if task == "multi":
        from iterstrat.ml_stratifiers import MultilabelStratifiedKFold

        folds = MultilabelStratifiedKFold(n_splits=cfg.cv, shuffle=True, random_state=cfg.seed).split(idx, index.y)
    elif task == "single":
        folds = StratifiedKFold(n_splits=cfg.cv, shuffle=True, random_state=cfg.seed).split(idx, index.label_index)
    else:
        folds = KFold(n_splits=cfg.cv, shuffle=True, random_state=cfg.seed).split(idx)
    out = []
    key = _stratify_key(index, task)
    for k, (rest, test) in enumerate(folds):
        _, counts = np.unique(key[rest], return_counts=True)
        train, val = train_test_split(
            rest, test_size=cfg.val_fraction, random_state=cfg.seed + k,
            stratify=key[rest] if counts.min() >= 2 else None,
        )
        out.append({"train": np.sort(train), "validation": np.sort(val), "test": np.sort(test)})
    return out


def _summarise_folds(fold_metrics: list[dict[str, Any]]) -> dict[str, dict[str, float | None]]:
    keys = sorted({k for m in fold_metrics for k in m})
    mean, std = {}, {}
    for k in keys:
        vals = [m.get(k) for m in fold_metrics if m.get(k) is not None]
        mean[k] = float(np.mean(vals)) if vals else None
        std[k] = float(np.std(vals, ddof=1)) if len(vals) > 1 else None
    return {"mean": mean, "std": std}


def execute_run(run_dir: str | os.PathLike) -> str:
    """The worker: wait for the lock, train, evaluate, save; returns the final state.

    Never raises for training problems: they end as ``failed`` with the error in
    ``status.json`` and ``events.jsonl``.
    """
    run_dir = Path(run_dir).resolve()
    config_data = _read_json(run_dir / "config.json")
    if config_data is None:
        raise TrainingError(f"{run_dir}: no readable config.json; is this a run folder?")
    _write_status(run_dir, pid=os.getpid(), pid_start=_proc_start_time(os.getpid()))
    lock = _RunLock(run_dir.parent)
    try:
        # queue: wait for the lock, oldest queued run first; a stop while queued ends here
        while True:
            if (run_dir / "stop").exists():
                _write_status(run_dir, state="stopped", ended=_now(), error=None)
                return "stopped"
            if not _older_queued_alive(run_dir) and lock.try_acquire():
                break
            time.sleep(0.25)
        _write_status(run_dir, state="running", started=_now())
        return _execute_locked(run_dir, config_data)
    finally:
        lock.release()


def _execute_locked(run_dir: Path, config_data: dict[str, Any]) -> str:
    ctx: _Context | None = None
    try:
        cfg = RunConfig.from_dict(config_data)
        ctx = _Context(run_dir, cfg)
        ctx.log("started", pid=os.getpid())
        index = _open_dataset(cfg.dataset, threshold=cfg.threshold)
        task = cfg.task or index.task
        if cfg.max_tracks is not None and cfg.max_tracks < len(index):
            from sklearn.model_selection import train_test_split

            keep, _ = train_test_split(
                np.arange(len(index)), train_size=cfg.max_tracks, random_state=cfg.seed,
                stratify=_stratify_key(index, task) if task == "single" else None,
            )
            index = index.subset(np.sort(keep))
        trainer = _train_sklearn if cfg.family == "sklearn" else _train_keras
        splits = _fold_splits(index, task, cfg) if cfg.cv else [
            _split_tracks(index, task, seed=cfg.seed, val_fraction=cfg.val_fraction, test_fraction=cfg.test_fraction)
        ]
        fold_results = []
        for k, split in enumerate(splits):
            if cfg.cv:
                ctx.log(f"fold {k + 1}/{cfg.cv}", fold=k)
            result = trainer(ctx, index, split, task, np.random.default_rng([cfg.seed, k]))
            metrics, thresholds = _evaluate_split(result, index, task, cfg.threshold)
            fold_results.append((split, result, metrics, thresholds))
            if cfg.cv:
                ctx.events.write("fold", fold=k, metrics=metrics["metrics"])
            if ctx.stopped:
                break
        split, result, metrics, thresholds = fold_results[0]
        out_metrics = dict(metrics)
        if cfg.cv:
            out_metrics["cv"] = {
                "k": cfg.cv,
                "completed": len(fold_results),
                "folds": [m["metrics"] for _, _, m, _ in fold_results],
                **_summarise_folds([m["metrics"] for _, _, m, _ in fold_results]),
            }
        _save_outputs(ctx, index, task, split, result, out_metrics, thresholds)
        state = "stopped" if ctx.stopped else "finished"
        ctx.log(state)
        _write_status(run_dir, state=state, ended=_now(), error=None)
        return state
    except _StopRequested:
        if ctx is not None:
            ctx.log("stopped before training")
        _write_status(run_dir, state="stopped", ended=_now(), error="stopped before training finished")
        return "stopped"
    except Exception as exc:  # noqa: BLE001 - the worker reports every failure in its status
        msg = f"{type(exc).__name__}: {exc}"
        if ctx is not None:
            ctx.events.write("error", message=msg, traceback=traceback.format_exc())
        print(traceback.format_exc(), file=sys.stderr, flush=True)
        _write_status(run_dir, state="failed", ended=_now(), error=msg)
        return "failed"
    finally:
        if ctx is not None:
            ctx.events.close()


def _save_outputs(ctx: _Context, index, task: str, split, result, metrics, thresholds) -> None:  # noqa: ANN001
    cfg = ctx.config
    run_dir = ctx.run_dir
    Y = _targets(index, task)
    rows_t, sc_t = result["test"]
    ids = index.tracks["track_id"].to_numpy()
    y_true = np.argmax(Y[rows_t], axis=1) if task == "single" else Y[rows_t]
    write_predictions(
        run_dir / "predictions.csv", track_ids=ids[rows_t], y_true=y_true, y_score=sc_t, labels=index.labels, task=task
    )
    rows_v, sc_v = result["val"]
    write_predictions(
        run_dir / "predictions_validation.csv", track_ids=ids[rows_v],
        y_true=np.argmax(Y[rows_v], axis=1) if task == "single" else Y[rows_v], y_score=sc_v,
        labels=index.labels, task=task,
    )
    model = result["model"]
    if cfg.family == "keras":
        model_file = "model.keras"
        atomic_save(run_dir / model_file, lambda p: model.save(p))
    else:
        import joblib

        model_file = "model.joblib"
        atomic_save(run_dir / model_file, lambda p: joblib.dump(model, p))
    atomic_write_json(run_dir / "metrics.json", metrics)
    spec = _input_spec(cfg)
    card = {
        "name": run_dir.name,
        "format": f"musictag-{cfg.family}",
        "kind": "run",
        "model_file": model_file,
        "model": cfg.model,
        "architecture": cfg.model + (" (fine-tuned musicnn)" if cfg.fine_tune else ""),
        "title": cfg.card.title,
        "seed_system": cfg.card.seed_system,
        "input_kind": spec.kind,
        "input_shape": result["input_shape"],
        "model_config": result["model_config"],
        "task": task,
        "labels": list(index.labels),
        "genres": list(index.labels),
        "threshold": cfg.threshold,
        "thresholds": None if thresholds is None else [float(t) for t in thresholds],
        "sr": spec.sr,
        "inputs": spec.to_dict(),
        "segments": spec.segments.to_dict(),
        "features": None if spec.features is None else spec.features.to_dict(),
        "embedding": spec.embedding if spec.kind == "embedding" else None,
        "aggregate": "mean",
        "metrics": metrics["metrics"],
        "cv": metrics.get("cv"),
        "best_epoch": result["best_epoch"],
        "stopped_early_by_request": ctx.stopped,
        "dataset": {"spec": cfg.dataset, "name": index.name, "n_tracks": len(index)},
        # a model fitted on a feature table's own columns scores tables, not audio files
        "feature_columns": (
            [str(c) for c in index.features.columns] if spec.kind == "stats" and index.features is not None else None
        ),
        "split": {k: ids[v].tolist() for k, v in split.items()},
        "config": cfg.to_dict(),
        "code_version": _code_version(),
        "created": _now(),
    }
    atomic_write_json(run_dir / "card.json", card)


def evaluate_run(
    run_dir: str | os.PathLike,
    *,
    dataset: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """A finished run's metrics: recomputed from its saved test predictions, or on another dataset.

    Parameters
    ----------
    run_dir : path-like
    dataset : str, optional
        A dataset spec. When given, the run's model tags every track of it
        (through :func:`musictag_core.predict.tag_file`, so with the run's own
        preprocessing) and is scored against the dataset's labels. Every label
        of the dataset must be one of the run's labels; scores of the run's
        other labels are dropped (single-label: the remaining probabilities are
        renormalised). Tracks that cannot be decoded are skipped and listed.
    progress : callable(done, total), optional

    Returns
    -------
    dict
        :func:`~musictag_core.evaluate.evaluate_predictions`'s result. Without
        ``dataset`` it equals the run's ``metrics.json`` (less ``cv``), since
        the same thresholds (tuned on validation) and settings are used. With
        ``dataset``, also ``dataset`` (spec, name, n_tracks), ``labels_used``
        and ``failures`` (path -> error).

    Raises
    ------
    TrainingError
        The run has no model / predictions (not finished).
    DatasetError
        The dataset has labels the run does not know (the message lists them).
    """
    from .evaluate import read_predictions

    run_dir = Path(run_dir)
    card = _read_json(run_dir / "card.json")
    if card is None or not (run_dir / "predictions.csv").exists():
        raise TrainingError(f"{run_dir}: no card.json / predictions.csv; only finished or stopped runs can be evaluated")
    if dataset is not None:
        return _evaluate_on_dataset(run_dir, card, dataset, progress=progress)
    _, y_true, y_score, labels = read_predictions(run_dir / "predictions.csv")
    task = card["task"]
    return evaluate_predictions(
        y_true, y_score, task=task, labels=labels, thresholds=card.get("thresholds"), threshold=card.get("threshold", 50.0)
    )


def _evaluate_on_dataset(run_dir: Path, card: dict, spec: str, *, progress) -> dict[str, Any]:  # noqa: ANN001
    from .errors import AudioError, DatasetError
    from .predict import load_tagger, tag_file

    threshold = float(card.get("threshold", 50.0))
    index = _open_dataset(spec, threshold=threshold)
    run_labels = [str(x) for x in card["labels"]]
    unmatched = [lab for lab in index.labels if lab not in run_labels]
    if unmatched:
        raise DatasetError(
            f"dataset {spec!r} has label(s) {unmatched} that run {run_dir.name} was not trained on; "
            f"its labels are {run_labels}. Evaluate on a dataset whose labels are among them "
            "(or rename the folders / columns to match)"
        )
    if not len(index) or (index.tracks["path"] == "").all():
        raise DatasetError(f"dataset {spec!r} has no audio files to tag (feature tables cannot be re-tagged)")
    cols = [run_labels.index(lab) for lab in index.labels]
    task = card["task"]
    tagger = load_tagger(run_dir)
    rows, scores, failures = [], [], {}
    paths = index.tracks["path"].tolist()
    for i, path in enumerate(paths):
        try:
            pred = tag_file(path, tagger)
        except AudioError as exc:
            failures[path] = exc.reason
        else:
            rows.append(i)
            scores.append(np.asarray(pred.scores, dtype=np.float64)[cols])
        if progress is not None:
            progress(i + 1, len(paths))
    if not rows:
        raise DatasetError(f"no track of {spec!r} could be tagged; first error: {next(iter(failures.values()), '?')}")
    rows = np.asarray(rows)
    S = np.vstack(scores)
    thresholds = None
    if task == "single":
        S = S / np.maximum(S.sum(axis=1, keepdims=True), 1e-12)
        y_true = index.label_index[rows]
    elif task == "multi":
        y_true = index.y[rows]
        if card.get("thresholds"):
            thresholds = [float(card["thresholds"][c]) for c in cols]
    else:
        y_true = index.strengths[rows]
        S = S * 100.0  # the tagger gives strengths / 100
    result = evaluate_predictions(
        y_true, S, task=task, labels=list(index.labels), thresholds=thresholds, threshold=threshold
    )
    result["dataset"] = {"spec": spec, "name": index.name, "n_tracks": len(index), "n_tagged": int(len(rows))}
    result["labels_used"] = list(index.labels)
    result["failures"] = failures
    return result


def run_worker_main(run_dir: str) -> int:
    """Entry for ``python -m musictag_core train --run RUN_DIR``; exit 0 unless the run failed."""
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        state = execute_run(run_dir)
    except KeyboardInterrupt:
        _write_status(Path(run_dir), state="failed", error="worker terminated (SIGTERM)", ended=_now())
        return 1
    return 0 if state in ("finished", "stopped") else 1
