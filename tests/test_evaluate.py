"""Every figure of evaluate_predictions equals scikit-learn's function on the same arrays."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    confusion_matrix,
    f1_score,
    hamming_loss,
    log_loss,
    mean_absolute_error,
    mean_squared_error,
    multilabel_confusion_matrix,
    precision_recall_fscore_support,
    roc_auc_score,
)

from musictag_core.errors import ParameterError
from musictag_core.evaluate import (
    aggregate_segments,
    evaluate_predictions,
    precision_at_k,
    read_predictions,
    tune_thresholds,
    write_predictions,
)


@pytest.fixture
def rng():
    return np.random.default_rng(20240601)


def _softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _p_at_k_loop(Y, S, k):
    """Independent precision@k: plain loops, sorted()."""
    k = min(k, Y.shape[1])
    total = 0.0
    for yt, s in zip(Y, S):
        top = sorted(range(len(s)), key=lambda j: (-s[j], j))[:k]
        total += sum(yt[j] for j in top) / k
    return total / len(Y)


@pytest.mark.parametrize("n_labels", [3, 12])
def test_single_label_matches_sklearn(rng, n_labels):
    n = 80
    y = rng.integers(0, n_labels, n)
    logits = rng.normal(size=(n, n_labels)) + 1.5 * np.eye(n_labels)[y]
    S = _softmax(logits)
    labels = [f"g{i}" for i in range(n_labels)]
    res = evaluate_predictions(y, S, task="single", labels=labels)
    m = res["metrics"]
    pred = S.argmax(1)
    idx = list(range(n_labels))
    Y = np.eye(n_labels)[y]
    assert m["accuracy"] == pytest.approx(accuracy_score(y, pred))
    assert m["hamming_loss"] == pytest.approx(hamming_loss(y, pred))
    assert m["f1_micro"] == pytest.approx(f1_score(y, pred, labels=idx, average="micro", zero_division=0))
    assert m["f1_macro"] == pytest.approx(f1_score(y, pred, labels=idx, average="macro", zero_division=0))
    assert m["log_loss"] == pytest.approx(log_loss(y, S, labels=idx))
    present = Y.sum(0) > 0
    assert m["map_macro"] == pytest.approx(average_precision_score(Y[:, present], S[:, present], average="macro"))
    assert m["roc_auc_macro"] == pytest.approx(roc_auc_score(Y[:, present], S[:, present], average="macro"))
    # precision@k says nothing on single-label data: left out, and the result says why
    assert res["k"] is None and "precision_at_k" not in m
    assert "single-label" in res["skipped_metrics"]["precision_at_k"]
    assert res["confusion"]["matrix"] == confusion_matrix(y, pred, labels=idx).tolist()
    p, r, f, s = precision_recall_fscore_support(y, pred, labels=idx, zero_division=0)
    for j, row in enumerate(res["per_label"]):
        assert (row["precision"], row["recall"], row["f1"], row["support"]) == pytest.approx(
            (p[j], r[j], f[j], s[j])
        )
    # one-hot y_true gives the same result
    assert evaluate_predictions(Y, S, task="single", labels=labels)["metrics"] == m


def test_multi_label_matches_sklearn(rng):
    n, L = 60, 5
    Y = (rng.random((n, L)) < 0.35).astype(int)
    S = np.clip(0.6 * Y + 0.5 * rng.random((n, L)), 0, 1)
    labels = list("abcde")
    thr = np.array([0.3, 0.4, 0.5, 0.6, 0.7])
    res = evaluate_predictions(Y, S, task="multi", labels=labels, thresholds=thr, k=3)
    m = res["metrics"]
    P = (thr <= S).astype(int)
    assert m["hamming_loss"] == pytest.approx(hamming_loss(Y, P))
    assert m["f1_micro"] == pytest.approx(f1_score(Y, P, average="micro", zero_division=0))
    assert m["f1_macro"] == pytest.approx(f1_score(Y, P, average="macro", zero_division=0))
    assert m["map_macro"] == pytest.approx(average_precision_score(Y, S, average="macro"))
    assert m["roc_auc_macro"] == pytest.approx(roc_auc_score(Y, S, average="macro"))
    assert m["log_loss"] == pytest.approx(np.mean([log_loss(Y[:, j], S[:, j], labels=[0, 1]) for j in range(L)]))
    assert m["precision_at_k"] == pytest.approx(_p_at_k_loop(Y, S, 3)) and res["k"] == 3
    assert "accuracy" not in m
    # k not below the number of labels: the same for every model, so not reported
    wide = evaluate_predictions(Y, S, task="multi", labels=labels, k=5)
    assert wide["k"] is None and "precision_at_k" not in wide["metrics"]
    assert "k=5 is not below the 5 labels" in wide["skipped_metrics"]["precision_at_k"]
    with pytest.raises(ParameterError, match="k must be a positive integer, got 0"):
        evaluate_predictions(Y, S, task="multi", labels=labels, k=0)
    mcm = multilabel_confusion_matrix(Y, P)
    for c, row in zip(mcm, res["confusion"]["counts"]):
        assert [row["tn"], row["fp"], row["fn"], row["tp"]] == c.ravel().tolist()
    p, r, f, s = precision_recall_fscore_support(Y, P, zero_division=0)
    for j, row in enumerate(res["per_label"]):
        assert (row["precision"], row["recall"], row["f1"], row["support"]) == pytest.approx((p[j], r[j], f[j], s[j]))
        assert row["average_precision"] == pytest.approx(average_precision_score(Y[:, j], S[:, j]))
        assert row["roc_auc"] == pytest.approx(roc_auc_score(Y[:, j], S[:, j]))
    # default thresholds are 0.5
    res05 = evaluate_predictions(Y, S, task="multi", labels=labels)
    assert res05["thresholds"] == [0.5] * L
    assert res05["metrics"]["f1_micro"] == pytest.approx(f1_score(Y, (S >= 0.5).astype(int), average="micro"))


def test_labels_without_positives_are_skipped_and_named(rng):
    n, L = 40, 4
    Y = (rng.random((n, L)) < 0.4).astype(int)
    Y[:, 1] = 0  # never present
    Y[:, 3] = 1  # always present: AUC undefined, AP defined
    S = rng.random((n, L))
    res = evaluate_predictions(Y, S, task="multi", labels=["a", "b", "c", "d"])
    assert res["skipped"] == {"average_precision": ["b"], "roc_auc": ["b", "d"]}
    m = res["metrics"]
    assert m["map_macro"] == pytest.approx(average_precision_score(Y[:, [0, 2, 3]], S[:, [0, 2, 3]]))
    assert m["roc_auc_macro"] == pytest.approx(roc_auc_score(Y[:, [0, 2]], S[:, [0, 2]]))
    assert res["per_label"][1]["roc_auc"] is None and res["per_label"][1]["average_precision"] is None
    # single-label test split missing one class entirely
    y = rng.integers(0, 2, 30)  # classes 0, 1 only; class 2 absent
    Ss = _softmax(rng.normal(size=(30, 3)))
    res = evaluate_predictions(y, Ss, task="single", labels=["x", "y", "z"])
    assert res["skipped"]["roc_auc"] == ["z"]
    assert res["metrics"]["log_loss"] == pytest.approx(log_loss(y, Ss, labels=[0, 1, 2]))


def test_regression_matches_sklearn(rng):
    n, L = 50, 3
    T = rng.uniform(0, 100, (n, L))
    P = np.clip(T + rng.normal(0, 15, (n, L)), 0, 100)
    res = evaluate_predictions(T, P, task="regression", labels=["a", "b", "c"])
    m = res["metrics"]
    assert m["mae"] == pytest.approx(mean_absolute_error(T, P))
    assert m["mse"] == pytest.approx(mean_squared_error(T, P))
    Y = (T >= 50).astype(int)
    assert m["roc_auc_macro"] == pytest.approx(roc_auc_score(Y, P))
    assert m["map_macro"] == pytest.approx(average_precision_score(Y, P))
    assert m["f1_macro"] == pytest.approx(f1_score(Y, (P >= 50).astype(int), average="macro", zero_division=0))
    for j, row in enumerate(res["per_label"]):
        assert row["mae"] == pytest.approx(mean_absolute_error(T[:, j], P[:, j]))


def test_precision_at_k_hand_example():
    Y = np.array([[1, 0, 1, 0], [0, 0, 0, 1]])
    S = np.array([[0.9, 0.8, 0.7, 0.1], [0.1, 0.2, 0.3, 0.4]])
    assert precision_at_k(Y, S, k=2) == pytest.approx((0.5 + 0.5) / 2)
    assert precision_at_k(Y, S, k=1) == pytest.approx((1 + 1) / 2)
    assert precision_at_k(Y, S, k=99) == pytest.approx((2 / 4 + 1 / 4) / 2)  # capped at n_labels


def test_tune_thresholds_maximises_f1(rng):
    n, L = 50, 4
    Y = (rng.random((n, L)) < 0.3).astype(int)
    Y[:, 3] = 0
    S = np.round(np.clip(0.4 * Y + rng.random((n, L)) * 0.7, 0, 1), 2)  # rounding creates ties
    t = tune_thresholds(Y, S)
    assert t.shape == (L,)
    assert t[3] == 0.5  # no positives: default
    for j in range(3):
        best = max(f1_score(Y[:, j], (S[:, j] >= c).astype(int), zero_division=0) for c in np.unique(S[:, j]))
        got = f1_score(Y[:, j], (S[:, j] >= t[j]).astype(int))
        assert got == pytest.approx(best)
        assert got >= f1_score(Y[:, j], (S[:, j] >= 0.5).astype(int), zero_division=0)


def test_aggregate_segments_mean_in_first_appearance_order():
    ids = ["b", "a", "b", "c", "a", "b"]
    seg = np.array([[1.0, 0], [0, 1], [3, 0], [5, 5], [0, 3], [2, 3]])
    tid, sc = aggregate_segments(ids, seg)
    assert tid.tolist() == ["b", "a", "c"]
    np.testing.assert_allclose(sc, [[2, 1], [0, 2], [5, 5]])


def test_predictions_roundtrip_and_reevaluate(tmp_path, rng):
    n, L = 20, 3
    y = rng.integers(0, L, n)
    S = _softmax(rng.normal(size=(n, L)))
    ids = [f"t{i}" for i in range(n)]
    path = write_predictions(tmp_path / "p.csv", track_ids=ids, y_true=y, y_score=S, labels=["a", "b,c", "d"], task="single")
    rid, Yt, Sr, labels = read_predictions(path)
    assert rid.tolist() == ids and labels == ["a", "b,c", "d"]
    np.testing.assert_array_equal(Sr, S)  # repr round-trips float64 exactly
    assert (
        evaluate_predictions(Yt, Sr, task="single", labels=labels)["metrics"]
        == evaluate_predictions(y, S, task="single", labels=labels)["metrics"]
    )


def test_bad_inputs_raise():
    with pytest.raises(ParameterError, match="task"):
        evaluate_predictions([0], [[1.0]], task="bogus", labels=["a"])
    with pytest.raises(ParameterError, match="label names"):
        evaluate_predictions([0, 1], [[0.5, 0.5], [0.5, 0.5]], task="single", labels=["a"])
    with pytest.raises(ParameterError, match="NaN"):
        evaluate_predictions([[1]], [[np.nan]], task="multi", labels=["a"])
