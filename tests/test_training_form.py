"""The Train form's field rules: parsing, bounds from the model and the data (#13)."""

from __future__ import annotations

import pytest

from musictag_core.models.registry import MODEL_CARDS
from musictag_core.training import RunConfig
from musictag_core.training.form import form_rules, parse_field, train_size

PRESET = MODEL_CARDS["cnn"].preset("fast")


@pytest.mark.parametrize(
    ("field", "text", "reason"),
    [
        ("epochs", "0", "Epochs: 0 is out of range; enter a whole number from 1 to 10000"),
        ("learning_rate", "1e9", "Learning rate: 1e9 is out of range; enter a number from 1e-06 to 1"),
        ("batch_size", "0", "Batch size: 0 is out of range; enter a whole number from 1 to 96"),
        ("batch_size", "97", "(the training set has 96 tracks)"),
        ("dropout", "5", "Dropout: 5 is out of range; enter a number from 0 up to (not including) 1"),
        ("dropout", "1", "out of range"),
        ("epochs", "ten", "'ten' is not a number"),
        ("epochs", "2.5", "2.5 is not a whole number"),
        ("learning_rate", "nan", "not a finite number"),
        ("patience", "", "Patience: enter a whole number from 0 to 10000"),
        ("max_tracks", "1", "from 2 to 138"),
    ],
)
def test_refused_values_say_why(field, text, reason):
    rules = form_rules(preset=PRESET, n_tracks=138, n_train=96)
    value, error = parse_field(text, rules[field])
    assert value is None and reason in error


@pytest.mark.parametrize(
    ("field", "text", "value"),
    [("epochs", " 7 ", 7), ("learning_rate", "3e-4", 3e-4), ("batch_size", "96", 96), ("dropout", "0", 0.0),
     ("dropout", "0.95", 0.95), ("epochs", "", None), ("max_tracks", "138", 138), ("epochs", "1_000", 1000)],
)
def test_accepted_values_parse_to_what_runs(field, text, value):
    rules = form_rules(preset=PRESET, n_tracks=138, n_train=96)
    got, error = parse_field(text, rules[field])
    assert error is None and got == value and type(got) is type(value)


def test_every_accepted_value_makes_a_valid_run_config():
    rules = form_rules(preset=PRESET, n_tracks=138, n_train=96)
    edges = {name: (rules[name].minimum, rules[name].maximum) for name in ("learning_rate", "epochs", "batch_size")}
    for i in (0, 1):
        cfg = RunConfig(dataset="demo", model="cnn", preset="fast", learning_rate=float(edges["learning_rate"][i]),
                        epochs=int(edges["epochs"][i]), batch_size=int(edges["batch_size"][i]), dropout=[0.0, 0.999][i])
        assert cfg.resolved_epochs() == edges["epochs"][i]


def test_training_set_size_follows_the_split_and_cv():
    assert train_size(138) == 96  # 70 % of the tracks train
    assert train_size(138, max_tracks=36) == 25
    assert train_size(138, cv=3) == 78  # 2/3 of the tracks, less the validation 15 %
    assert train_size(200, n_train_split=182) == 182  # the dataset's own split
    assert train_size(200, n_train_split=182, cv=5) == 136
    assert train_size(2) == 1
    assert form_rules(preset=PRESET)["batch_size"].maximum == 4096  # data unknown: a loose bound only
