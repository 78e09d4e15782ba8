"""The feature-table column rule end to end: Train's run card and the CLI (explore, train) (#13)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from musictag_core.cli import main
from musictag_core.training import RunConfig, create_run, execute_run


def gtzan_like(path: Path, n: int = 24) -> Path:
    """A small features_30_sec.csv look-alike: metadata, a constant and a unique text column, two real features."""
    rng = np.random.default_rng(1)
    genres = ["blues", "rock"]
    y = np.arange(n) % 2
    pd.DataFrame(
        {
            "filename": [f"{genres[k]}.{i:05d}.wav" for i, k in enumerate(y)],
            "length": 661794,
            "tempo": rng.normal(120, 5, n) + 20 * y,
            "rms_mean": rng.normal(0, 1, n),
            "codec": "wav",
            "source_url": [f"http://example.org/track/{i}" for i in range(n)],
            "label": [genres[k] for k in y],
        }
    ).to_csv(path, index=False)
    return path


EXCLUDED = [
    {"column": "filename", "reason": "row ids (id column)"},
    {"column": "length", "reason": "identifier or file metadata (by name)"},
    {"column": "codec", "reason": "constant (every row is 'wav')"},
    {"column": "source_url", "reason": "non-numeric and unique per row"},
]


@pytest.fixture
def runs(tmp_path, monkeypatch):
    monkeypatch.setenv("MUSICTAG_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("MUSICTAG_RUNS", str(tmp_path / "runs"))
    return tmp_path / "runs"


def test_run_card_records_feature_columns_and_exclusions(tmp_path, runs):
    table = gtzan_like(tmp_path / "features_30_sec.csv")
    run_dir = create_run(RunConfig(dataset=str(table), model="logreg", seed=0), runs_dir=runs)
    assert execute_run(run_dir) == "finished"
    card = json.loads((run_dir / "card.json").read_text())
    assert card["feature_columns"] == ["tempo", "rms_mean"]
    assert card["excluded_columns"] == EXCLUDED
    # keep_columns brings `length` back, drop_columns takes `rms_mean` out; both saved in the config
    run_dir = create_run(
        RunConfig(dataset=str(table), model="logreg", keep_columns=["length"], drop_columns=("rms_mean",)), runs_dir=runs
    )
    assert execute_run(run_dir) == "finished"
    card = json.loads((run_dir / "card.json").read_text())
    assert card["feature_columns"] == ["length", "tempo"]
    assert {"column": "rms_mean", "reason": "dropped on request (drop=)"} in card["excluded_columns"]
    assert card["config"]["keep_columns"] == ["length"] and card["config"]["drop_columns"] == ["rms_mean"]


def test_run_config_validates_column_lists():
    with pytest.raises(Exception, match="keep_columns must be a list of column names"):
        RunConfig(dataset="demo", model="logreg", keep_columns="length")
    with pytest.raises(Exception, match="drop_columns must be a list of column names"):
        RunConfig(dataset="demo", model="logreg", drop_columns=["", "x"])


def test_cli_explore_and_train_report_the_same_exclusion(tmp_path, runs, capsys):
    table = gtzan_like(tmp_path / "t.csv")
    assert main(["explore", str(table), "--json", "--quiet", "--no-cache"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["n_features"] == 2 and out["feature_columns"] == ["tempo", "rms_mean"]
    assert out["excluded_columns"] == EXCLUDED
    assert main(["explore", str(table), "--quiet", "--no-cache", "--keep-columns", "length"]) == 0
    text = capsys.readouterr().out
    assert "3 table features" in text
    assert "excluded columns: filename (row ids (id column)); codec (constant" in text
    assert main(["train", "--dataset", str(table), "--model", "logreg", "--drop-columns", "rms_mean"]) == 0
    text = capsys.readouterr().out
    assert "excluded columns: filename (row ids (id column)); length (identifier or file metadata (by name)); " in text
    assert "rms_mean (dropped on request (drop=))" in text
    # unknown names are refused by name (exit 2), as are column options on a dataset that is not a table
    assert main(["explore", str(table), "--quiet", "--keep-columns", "nope"]) == 2
    assert "lacks columns ['nope']" in capsys.readouterr().err
    assert main(["explore", "demo", "--quiet", "--drop-columns", "x"]) == 2
    assert "apply to feature tables only" in capsys.readouterr().err
