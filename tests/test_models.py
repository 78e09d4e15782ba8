"""Model registry: builders build with tiny shapes; classical pipelines fit, clone and predict."""

from __future__ import annotations

import numpy as np
import pytest

from musictag_core.errors import ModelError, ParameterError
from musictag_core.models.registry import (
    CLASSICAL_MODELS,
    EMBEDDING_DIMS,
    MODEL_BUILDERS,
    MODEL_CARDS,
    NEURAL_MODELS,
    ModelConfig,
    build_model,
    model_card,
)

TINY_SHAPES = {
    "cnn": (24, 16),
    "lstm": (20, 13),
    "cnn7": (32, 16),
    "crnn": (24, 16),
    "rawcnn": (4000,),
    "transfer": (EMBEDDING_DIMS["pooled"] + EMBEDDING_DIMS["penultimate"],),
}


@pytest.fixture
def rng():
    return np.random.default_rng(7)


def test_cards_cover_every_model_and_builders_match():
    assert set(NEURAL_MODELS) == set(MODEL_BUILDERS)
    assert set(CLASSICAL_MODELS) == {"logreg", "gboost", "svc", "voting", "stacked"}
    for name, card in MODEL_CARDS.items():
        assert card.seed_system and card.title
        assert card.input_kind in ("logmel", "mfcc", "waveform", "embedding", "stats")
        assert {"fast", "full"} <= set(card.presets)
        assert card.to_dict()["name"] == name
    assert MODEL_CARDS["cnn7"].presets["full"].segments.kind == "random_crop"
    assert MODEL_CARDS["rawcnn"].presets["full"].segments.hop == 0.25
    with pytest.raises(ModelError, match="unknown model"):
        model_card("nope")


def test_model_config_validates():
    with pytest.raises(ParameterError, match="input_shape"):
        ModelConfig(input_shape=(0, 3), n_outputs=2)
    with pytest.raises(ParameterError, match="task"):
        ModelConfig(input_shape=(3,), n_outputs=2, task="ranking")
    with pytest.raises(ParameterError, match="dropout"):
        ModelConfig(input_shape=(3,), n_outputs=2, dropout=1.0)
    with pytest.raises(ParameterError, match="at least 2"):
        ModelConfig(input_shape=(3,), n_outputs=1, task="single")
    cfg = ModelConfig(input_shape=[5, 4], n_outputs=3, task="multi")
    assert cfg.input_shape == (5, 4)
    assert ModelConfig.from_dict(cfg.to_dict()) == cfg


@pytest.mark.parametrize("name", sorted(TINY_SHAPES))
@pytest.mark.parametrize("task", ["single", "multi", "regression"])
def test_neural_builders_output_shape_and_activation(name, task, rng):
    n_out = 3
    cfg = ModelConfig(input_shape=TINY_SHAPES[name], n_outputs=n_out, task=task, width=0.1, units=8)
    model = build_model(name, cfg)
    assert model.output_names == ["tags"] or model.layers[-1].name == "tags"
    assert model.inputs[0].name in ("features", "waveform", "embedding")
    x = rng.normal(size=(2, *cfg.input_shape)).astype("float32")
    y = np.asarray(model(x, training=False))
    assert y.shape == (2, n_out)
    if task == "single":
        np.testing.assert_allclose(y.sum(axis=1), 1.0, rtol=1e-5)
    elif task == "multi":
        assert np.all((y > 0) & (y < 1))
    else:
        assert np.all((y >= 0) & (y <= 100))
        assert model.layers[-1].name == "tags"


def test_full_size_parameter_counts_are_sane():
    # full presets at the seed systems' input sizes
    counts = {}
    for name, shape in [("cnn", (517, 128)), ("lstm", (517, 13)), ("cnn7", (1292, 128)), ("rawcnn", (22050,))]:
        counts[name] = MODEL_BUILDERS[name](ModelConfig(input_shape=shape, n_outputs=10)).count_params()
    # cnn7: the 3x3 convs alone hold 9 * (1*128 + 128*256 + 256*256*2 + 256*512 + 512*512 + 512*256)
    conv7 = 9 * (128 + 128 * 256 + 2 * 256 * 256 + 256 * 512 + 512 * 512 + 512 * 256)
    assert conv7 < counts["cnn7"] < conv7 * 1.02
    # rawcnn: the k100 conv dominates: 100 * 64 * 128
    assert 100 * 64 * 128 < counts["rawcnn"] < 1_000_000
    assert 50_000 < counts["cnn"] < 2_000_000
    assert 50_000 < counts["lstm"] < 500_000
    # the fast preset is much smaller
    fast = MODEL_CARDS["cnn7"].presets["fast"]
    small = MODEL_BUILDERS["cnn7"](ModelConfig(input_shape=(259, 64), n_outputs=10, width=fast.width)).count_params()
    assert small < counts["cnn7"] / 50


def test_rawcnn_full_layer_lengths():
    model = MODEL_BUILDERS["rawcnn"](ModelConfig(input_shape=(22050,), n_outputs=10))
    assert model.get_layer("pool3").output.shape[1] == 1  # 64 steps -> avgpool 40 stride 30 -> 1
    assert model.get_layer("dense70").units == 70 and model.get_layer("dense30").units == 30
    with pytest.raises(ModelError, match="at least"):
        MODEL_BUILDERS["rawcnn"](ModelConfig(input_shape=(500,), n_outputs=2))


def test_wrong_rank_is_a_model_error():
    with pytest.raises(ModelError, match="expects"):
        build_model("cnn", ModelConfig(input_shape=(100,), n_outputs=2))
    with pytest.raises(ModelError, match="unknown neural model"):
        build_model("logreg", ModelConfig(input_shape=(100,), n_outputs=2))


# ---------------------------------------------------------------------------
# classical
# ---------------------------------------------------------------------------


def _table(rng, n=90, d=6, n_classes=3):
    y = rng.integers(0, n_classes, n)
    X = rng.normal(size=(n, d)) + 1.5 * np.eye(n_classes, d)[y] * 2
    return X, y


# stacked fits six Keras MLPs (5 out-of-fold + 1): slow; test_train covers it in a run
@pytest.mark.parametrize("name", ["logreg", "gboost", "svc", "voting", pytest.param("stacked", marks=pytest.mark.slow)])
def test_classical_single_label_fits_and_clones(name, rng):
    from sklearn.base import clone
    from sklearn.utils.validation import check_is_fitted

    from musictag_core.models.classical import build_classical, fit_classical, predict_scores

    X, y = _table(rng)
    model = build_classical(name, task="single", random_state=0)
    twin = clone(model)
    assert twin.get_params().keys() == model.get_params().keys()
    assert fit_classical(model, X, y) is model
    check_is_fitted(model)
    p = predict_scores(model, X, task="single")
    assert p.shape == (len(X), 3)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-6)
    assert np.mean(p.argmax(1) == y) > 0.8  # separable table
    # clone of a fitted model is unfitted
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        check_is_fitted(clone(model))


@pytest.mark.parametrize("name", ["logreg", "voting", pytest.param("stacked", marks=pytest.mark.slow)])
def test_classical_multi_label(name, rng):
    from musictag_core.models.classical import build_classical, fit_classical, predict_scores

    n, L = 80, 3
    Y = (rng.random((n, L)) < 0.4).astype(int)
    Y[Y.sum(1) == 0, 0] = 1
    X = np.hstack([Y * 2.0 + rng.normal(0, 0.5, (n, L)), rng.normal(size=(n, 2))])
    model = fit_classical(build_classical(name, task="multi"), X, Y)
    p = predict_scores(model, X, task="multi")
    assert p.shape == (n, L)
    assert np.all((p >= 0) & (p <= 1))
    assert np.mean((p >= 0.5) == Y) > 0.8


@pytest.mark.parametrize("name", ["logreg", "gboost", "voting"])
def test_classical_regression(name, rng):
    from musictag_core.models.classical import build_classical, fit_classical, predict_scores

    X = rng.normal(size=(60, 4))
    T = np.clip(50 + 20 * X[:, :2], 0, 100)
    model = fit_classical(build_classical(name, task="regression"), X, T)
    p = predict_scores(model, X, task="regression")
    assert p.shape == (60, 2) and p.min() >= 0 and p.max() <= 100
    assert np.mean(np.abs(p - T)) < 10
    with pytest.raises(ModelError, match="regression"):
        build_classical("stacked", task="regression")


def test_oof_stacking_follows_sklearn_rules(rng):
    from sklearn.base import clone
    from sklearn.linear_model import LogisticRegression
    from sklearn.utils.validation import check_is_fitted

    from musictag_core.models.classical import OOFStackingClassifier

    est = OOFStackingClassifier(estimator=LogisticRegression(), proba_estimator=LogisticRegression(C=0.1), cv=3)
    # __init__ stores params untouched
    assert est.get_params()["cv"] == 3 and est.get_params()["estimator"].__class__ is LogisticRegression
    assert not any(k.endswith("_") for k in vars(est))
    X, y = _table(rng, n=60, d=4)
    ret = est.fit(X, y)
    assert ret is est
    check_is_fitted(est)
    assert est.n_features_in_ == 4
    # final model saw 4 features + 3 out-of-fold probability columns
    assert est.estimator_.n_features_in_ == 7
    assert est.predict(X).shape == (60,)
    c = clone(est)
    assert c.get_params()["cv"] == 3 and not hasattr(c, "estimator_")
    with pytest.raises(ValueError):
        est.predict(X[:, :3])  # wrong width
    with pytest.raises(ModelError, match="cv"):
        OOFStackingClassifier(cv=1).fit(X, y)


def test_keras_mlp_classifier_is_an_sklearn_estimator_and_pickles_as_weights(rng):
    import pickle

    from sklearn.base import clone
    from sklearn.utils.validation import check_is_fitted

    from musictag_core.models.classical import KerasMLPClassifier

    X, y = _table(rng, n=90, d=6)
    est = KerasMLPClassifier(hidden_units=16, epochs=30, random_state=0)
    assert not any(k.endswith("_") for k in vars(est))
    assert est.fit(X, y) is est
    check_is_fitted(est, "weights_")
    p = est.predict_proba(X)
    assert p.shape == (90, 3) and np.allclose(p.sum(1), 1, atol=1e-5)
    assert np.mean(est.predict(X) == y) > 0.8
    blob = pickle.dumps(est)
    assert b"keras" not in blob.split(b"musictag_core")[0]  # no Keras object inside the pickle
    again = pickle.loads(blob)
    np.testing.assert_allclose(again.predict_proba(X), p, atol=1e-6)
    assert clone(est).get_params() == est.get_params() and not hasattr(clone(est), "weights_")
    # multi-label: one sigmoid per label
    Y = np.stack([y == 0, y == 1, y == 2], 1).astype(int)
    m = KerasMLPClassifier(hidden_units=16, epochs=30).fit(X, Y)
    assert m.multilabel_ and m.predict_proba(X).shape == (90, 3) and m.predict(X).shape == (90, 3)


@pytest.mark.parametrize("name", ["svc", "voting", "stacked"])
def test_internal_folds_follow_the_smallest_class(name):
    """svc/voting/stacked cross-validate internally (5 folds); 3 tracks per class still fit; with 1 the SVC falls back."""
    from musictag_core.models.classical import build_classical, fit_classical, predict_scores

    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2], 3)
    X = rng.standard_normal((9, 4)) + 3 * np.eye(4)[y]
    model = fit_classical(build_classical(name, task="single"), X, y)
    folds = {k: v for k, v in model.get_params(deep=True).items() if k == "cv" or k.endswith("__cv")}
    assert folds and set(folds.values()) == {3}
    scores = predict_scores(model, X, task="single")
    assert scores.shape == (9, 3) and np.allclose(scores.sum(axis=1), 1)
    # a label with a single training track: the SVC's scores become a softmax of its decisions, said in the notes
    y1 = np.array([0, 0, 0, 0, 1, 1, 1, 1, 2])
    notes: list[str] = []
    model = fit_classical(build_classical(name, task="single"), X, y1, labels=["blues", "rock", "jazz"], notes=notes)
    assert len(notes) == 1 and "['jazz'] have a single training track" in notes[0] and "softmax" in notes[0]
    kinds = {type(v).__name__ for v in model.get_params(deep=True).values()}
    assert "SoftmaxSVC" in kinds and "CalibratedClassifierCV" not in kinds
    scores = predict_scores(model, X, task="single")
    assert scores.shape == (9, 3) and np.allclose(scores.sum(axis=1), 1)


def test_model_card_rejects_an_unknown_input_kind():
    from musictag_core.models.registry import ModelCard

    with pytest.raises(ParameterError, match="input kind must be one of"):
        ModelCard(name="x", title="x", seed_system="x", family="keras", input_kind="spectro")
