"""A finished run's full evaluation: from its saved test predictions, or on another dataset."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import TrainingError
from ..evaluate import evaluate_predictions
from ..runs import Run

__all__ = ["evaluate_run"]


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
    from ..evaluate import read_predictions

    run = Run(run_dir)
    card = run.read_card()
    if card is None or not run.predictions_path.exists():
        raise TrainingError(f"{run.path}: no card.json / predictions.csv; only finished or stopped runs can be evaluated")
    if dataset is not None:
        return _evaluate_on_dataset(run.path, card, dataset, progress=progress)
    _, y_true, y_score, labels = read_predictions(run.predictions_path)
    task = card["task"]
    return evaluate_predictions(
        y_true, y_score, task=task, labels=labels, thresholds=card.get("thresholds"), threshold=card.get("threshold", 50.0)
    )


def _evaluate_on_dataset(run_dir: Path, card: dict, spec: str, *, progress) -> dict[str, Any]:  # noqa: ANN001
    from ..datasets import open_dataset
    from ..errors import AudioError, DatasetError
    from ..models.loading import load_tagger
    from ..predict import tag_file

    threshold = float(card.get("threshold", 50.0))
    index = open_dataset(spec, threshold=threshold)
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
