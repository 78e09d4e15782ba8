"""Training figures on real evaluation outputs and real run events."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from musictag_core.errors import ParameterError
from musictag_core.evaluate import evaluate_predictions
from musictag_core.runs import batch_table, epoch_table
from musictag_core.viz.train import (
    compare_metrics_figure,
    confusion_figure,
    curve_metrics,
    curves_figure,
    evaluation_confusion_figure,
    label_confusion_figure,
    metric_label,
    metrics_table,
    overlay_curves_figure,
    per_label_f1_figure,
)

LABELS = ["blues", "jazz", "rock"]


@pytest.fixture
def single_eval(rng):
    """evaluate_predictions on 30 noisy single-label predictions (3 classes)."""
    y = np.repeat(np.arange(3), 10)
    scores = np.eye(3)[y] * 2 + rng.normal(0, 0.8, (30, 3))
    proba = np.exp(scores) / np.exp(scores).sum(1, keepdims=True)
    return evaluate_predictions(y, proba, task="single", labels=LABELS)


@pytest.fixture
def multi_eval(rng):
    Y = (rng.random((40, 3)) < 0.4).astype(int)
    Y[0] = 1
    Y[1] = 0
    S = np.clip(Y * 0.6 + rng.random((40, 3)) * 0.5, 0, 1)
    return evaluate_predictions(Y, S, task="multi", labels=LABELS)


def _events(n_epochs=4, bpe=3, metric="accuracy"):
    """Events as the worker writes them (see musictag_core.training.fit.train_keras)."""
    ev = [{"type": "log", "message": "training", "epochs": n_epochs, "batches_per_epoch": bpe, "time": 0.0}]
    step = 0
    for e in range(n_epochs):
        for _ in range(bpe):
            step += 1
            ev.append({"type": "batch", "epoch": e, "step": step, "loss": 1.0 / step, "time": float(step)})
        ev.append({
            "type": "epoch", "epoch": e, "step": step, "time": float(step),
            "train": {"loss": 1.0 / (e + 1), metric: 0.5 + e / 10},
            "validation": {"loss": 1.2 / (e + 1), metric: 0.4 + e / 10, "roc_auc_macro": None},
        })  # fmt: skip
    return ev


def test_curves_figure_draws_train_validation_and_batches():
    ev = _events()
    fig = curves_figure(epoch_table(ev), metric="loss", batches=batch_table(ev))
    names = [t.name for t in fig.data]
    assert names == ["batch loss", "train", "validation"]
    train = fig.data[1]
    assert list(train.x) == [1, 2, 3, 4]
    np.testing.assert_allclose(train.y, [1, 1 / 2, 1 / 3, 1 / 4])
    # 3 batches per epoch taken from the epoch table: batch 6 ends epoch 2
    assert fig.data[0].x[5] == pytest.approx(2.0)
    assert fig.layout.yaxis.title.text == "Loss"
    # events work as well as the table, and metric curves have no batch trace
    fig = curves_figure(ev, metric="accuracy", batches=batch_table(ev))
    assert [t.name for t in fig.data] == ["train", "validation"]
    np.testing.assert_allclose(fig.data[1].y, [0.4, 0.5, 0.6, 0.7])


def test_curves_figure_before_the_first_epoch_and_for_classical_runs():
    fig = curves_figure([], metric="loss")
    assert len(fig.data) == 0  # an empty (still valid) figure while preparing
    ev = [{"type": "epoch", "epoch": 0, "step": 1, "train": {}, "validation": {"map_macro": 0.8}}]
    fig = curves_figure(ev, metric="map_macro")
    assert [t.name for t in fig.data] == ["validation"] and list(fig.data[0].y) == [0.8]


def test_curves_downsample_many_batches():
    ev = _events(n_epochs=2, bpe=5000)
    fig = curves_figure(ev, metric="loss", batches=batch_table(ev), max_batch_points=500)
    assert len(fig.data[0].x) <= 501
    assert fig.data[0].x[-1] == pytest.approx(2.0, abs=0.01)


def test_curve_metrics_lists_present_metrics_loss_first():
    assert curve_metrics(_events()) == ["loss", "accuracy"]  # roc_auc is None everywhere: left out


def test_cross_validation_curves_show_the_newest_fold():
    ev = []
    for k in range(2):
        ev.append({"type": "log", "message": f"fold {k + 1}/2", "fold": k})
        ev += [e for e in _events(n_epochs=2 + k) if e["type"] == "epoch"]
    fig = curves_figure(ev, metric="loss")
    assert list(fig.data[0].x) == [1, 2, 3]


def test_overlay_curves_one_colour_per_run():
    a, b = _events(3), _events(5)
    fig = overlay_curves_figure({"run-a": a, "run-b": epoch_table(b)}, metric="accuracy")
    assert [t.name for t in fig.data] == ["run-a · validation", "run-a · train", "run-b · validation", "run-b · train"]
    assert fig.data[0].line.color == fig.data[1].line.color != fig.data[2].line.color
    assert fig.data[0].line.dash == "solid" and fig.data[1].line.dash == "dot"
    assert len(fig.data[2].x) == 5
    with pytest.raises(ParameterError):
        overlay_curves_figure({}, metric="loss")
    with pytest.raises(ParameterError):
        overlay_curves_figure({"a": a}, splits=("test",))


def test_confusion_figure_from_a_real_evaluation(single_eval):
    conf = single_eval["confusion"]
    fig = evaluation_confusion_figure(conf)
    (hm,) = fig.data
    assert isinstance(hm, go.Heatmap)
    M = np.asarray(conf["matrix"])
    np.testing.assert_array_equal(np.asarray(hm.text), M)
    np.testing.assert_allclose(np.asarray(hm.z).sum(axis=1), 1.0)  # row shares
    assert list(hm.x) == LABELS and list(hm.y) == LABELS
    assert fig.layout.yaxis.autorange == "reversed"
    raw = confusion_figure(M, LABELS, normalize=False)
    np.testing.assert_array_equal(np.asarray(raw.data[0].z), M)


@pytest.mark.parametrize("matrix, labels", [
    ([[1, 2]], ["a"]),
    ([[1, 0], [0, 1]], ["a"]),
    ([[1, -1], [0, 1]], ["a", "b"]),
    ([[1, np.nan], [0, 1]], ["a", "b"]),
])
def test_confusion_figure_rejects_bad_input(matrix, labels):
    with pytest.raises(ParameterError):
        confusion_figure(matrix, labels)


def test_label_confusion_for_multi_label(multi_eval):
    conf = multi_eval["confusion"]
    assert conf["kind"] == "per_label"
    fig = evaluation_confusion_figure(conf)
    (hm,) = fig.data
    assert list(hm.x) == ["TP", "FN", "FP", "TN"] and list(hm.y) == LABELS
    text = np.asarray(hm.text)
    for row, c in zip(text, conf["counts"]):
        assert list(row) == [c["tp"], c["fn"], c["fp"], c["tn"]]
        assert row.sum() == multi_eval["n_tracks"]
    z = np.asarray(hm.z)
    np.testing.assert_allclose(z[:, 0] + z[:, 1], 1.0)
    with pytest.raises(ParameterError):
        label_confusion_figure([{"label": "x", "tp": 1}])
    with pytest.raises(ParameterError):
        evaluation_confusion_figure({"kind": "other"})


@pytest.mark.parametrize("which", ["single_eval", "multi_eval"])
def test_per_label_f1_bars(which, request):
    ev = request.getfixturevalue(which)
    fig = per_label_f1_figure(ev["per_label"])
    (bar,) = fig.data
    f1 = {r["label"]: r["f1"] for r in ev["per_label"]}
    assert dict(zip(bar.y, bar.x)) == pytest.approx(f1)
    assert list(bar.x) == sorted(bar.x)  # best on top (plotly draws the first bar at the bottom)
    (line,) = fig.layout.shapes
    assert line.x0 == pytest.approx(np.mean(list(f1.values())))
    if which == "single_eval":
        assert line.x0 == pytest.approx(ev["metrics"]["f1_macro"])


def test_per_label_f1_rejects_bad_rows():
    with pytest.raises(ParameterError):
        per_label_f1_figure([])
    with pytest.raises(ParameterError):
        per_label_f1_figure([{"label": "a", "f1": 1.5}])


def test_metrics_table_orders_headline_metrics_first(single_eval, multi_eval):
    df = metrics_table(single_eval)
    assert list(df.columns) == ["metric", "key", "value"]
    assert df["key"].iloc[0] == "accuracy" and df["metric"].iloc[0] == "Accuracy"
    assert dict(zip(df["key"], df["value"])) == pytest.approx(single_eval["metrics"])
    df = metrics_table(multi_eval)
    assert df["key"].iloc[0] == "map_macro" and "accuracy" not in set(df["key"])
    # flat mapping with an undefined value
    df = metrics_table({"roc_auc_macro": None, "f1_macro": 0.5})
    assert math.isnan(df.set_index("key").loc["roc_auc_macro", "value"])


def test_metrics_table_with_cross_validation(single_eval):
    m = dict(single_eval)
    m["cv"] = {"k": 3, "mean": {"accuracy": 0.7}, "std": {"accuracy": 0.05}}
    df = metrics_table(m).set_index("key")
    assert df.loc["accuracy", "cv mean"] == 0.7 and df.loc["accuracy", "cv std"] == 0.05
    assert math.isnan(df.loc["f1_macro", "cv mean"])


def test_compare_metrics_figure_groups_runs(single_eval, rng):
    other = evaluate_predictions(np.repeat(np.arange(3), 5), rng.dirichlet(np.ones(3), 15), task="single", labels=LABELS)
    table = pd.DataFrame({"a": single_eval["metrics"], "b": other["metrics"]})
    fig = compare_metrics_figure(table)
    assert [t.name for t in fig.data] == ["a", "b"]
    assert fig.data[0].x[0] == metric_label("accuracy")
    assert "Log loss" not in fig.data[0].x  # losses are not on a 0-1 "higher is better" scale
    assert fig.data[1].y[0] == pytest.approx(other["metrics"]["accuracy"])
    with pytest.raises(ParameterError):
        compare_metrics_figure(table, metrics=["nope"])
