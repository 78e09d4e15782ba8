"""Training runs: settings, data, fitting, the worker, evaluation and comparison.

A run is a folder owned by :class:`musictag_core.runs.Run`; this package fills it.

* :mod:`~musictag_core.training.config`: :class:`RunConfig` and ``--set`` overrides (:func:`parse_set`).
* :mod:`~musictag_core.training.data`: splits and folds, model inputs through the caches.
* :mod:`~musictag_core.training.sampler`: batches of segments or crops (a ``keras.utils.PyDataset``).
* :mod:`~musictag_core.training.fit`: Keras and scikit-learn fitting.
* :mod:`~musictag_core.training.worker`: the worker process (``python -m musictag_core.training.worker RUN_DIR``).
* :mod:`~musictag_core.training.evaluation`: a finished run's full evaluation (:func:`evaluate_run`).
* :mod:`~musictag_core.training.compare`: runs side by side (:func:`runs_table`, :func:`compare_metrics`).
* :mod:`~musictag_core.training.form`: the Train form's numeric fields, their bounds and parsing.
* :mod:`~musictag_core.training.transfer_small`: scikit-learn heads on cached musicnn patch outputs,
  compared on the same track folds (``transfer-compare``, ``bench/bench_transfer_small.py``).

Names resolve on first use, so importing this package imports neither Keras nor scikit-learn.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .config import RunConfig

__all__ = [
    "RunConfig",
    "compare_metrics",
    "compare_runs",
    "create_run",
    "default_run",
    "evaluate_run",
    "execute_run",
    "input_spec",
    "parse_set",
    "runs_table",
    "start_run",
]

_LAZY = {
    "RunConfig": "config",
    "parse_set": "config",
    "input_spec": "data",
    "execute_run": "worker",
    "evaluate_run": "evaluation",
    "runs_table": "compare",
    "default_run": "compare",
    "compare_metrics": "compare",
    "compare_runs": "compare",
}


def create_run(config: RunConfig, *, runs_dir: str | os.PathLike | None = None) -> Path:
    """Create a queued run folder for ``config`` without starting it (:meth:`musictag_core.runs.Run.create`).

    Parameters
    ----------
    config : RunConfig
    runs_dir : path-like, optional
        Default :func:`musictag_core.paths.runs_dir`.

    Returns
    -------
    Path
        The run folder; :func:`execute_run` trains it in this process.

    Raises
    ------
    TrainingError
        The pre-flight check (:func:`~musictag_core.training.preflight.preflight`)
        refuses the dataset for these settings; no folder is created.
    """
    from ..runs import Run
    from .preflight import preflight

    preflight(config)

    return Run.create(config.to_dict(), model=config.model, runs_dir=runs_dir).path


def start_run(
    config: RunConfig,
    *,
    runs_dir: str | os.PathLike | None = None,
    python: str | None = None,
    check: bool = False,
    keep_dataset_file: bool = False,
) -> str:
    """Create a run folder and start its worker process (detached; :func:`musictag_core.runs.launch_run`).

    Parameters
    ----------
    config : RunConfig
    runs_dir : path-like, optional
    python : str, optional
        Interpreter for the worker (default ``sys.executable``).
    check : bool
        First make sure the runs folder is writable and has free space; a failure
        to write the folder then leaves nothing behind.
    keep_dataset_file : bool
        When the dataset is a single file (an uploaded feature table), train on a
        copy kept in the run folder, so the run does not depend on the upload.

    Returns
    -------
    run_id : str
        The folder name; the run is ``runs_dir / run_id``. It starts as
        ``queued`` and becomes ``running`` once no other run trains.

    Raises
    ------
    TrainingError
        The pre-flight check refuses the dataset for these settings; no folder is created.
    """
    from ..runs import launch_run
    from .preflight import preflight

    preflight(config)

    return launch_run(
        config.to_dict(), model=config.model, runs_dir=runs_dir, python=python, check=check,
        keep_dataset_file=keep_dataset_file,
    ).run_id


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
