"""Tests for musictag_core.commands.explore: the ``explore`` command's CSV and JSON."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_blobs
from sklearn.decomposition import PCA
from sklearn.metrics import accuracy_score, silhouette_score
from sklearn.model_selection import LeaveOneOut, cross_val_predict
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler


@pytest.fixture(autouse=True)
def _private_cache(private_explore_cache):
    """Every test here gets its own cache folder and projection cache (tests/conftest.py)."""


# --- command line ----------------------------------------------------------------------


def _table_csv(path: Path) -> Path:
    X, y = make_blobs(n_samples=90, n_features=5, centers=3, random_state=1)
    df = pd.DataFrame(X, columns=[f"feat{i}" for i in range(5)])
    df.insert(0, "track_id", [f"t{i:03d}" for i in range(90)])
    df["genre"] = np.array(["jazz", "pop", "rock"], dtype=object)[y]
    df.to_csv(path, index=False)
    return path


def test_cli_explore_writes_coords_and_json(tmp_path, capsys):
    import json

    from musictag_core.cli import main

    csv = _table_csv(tmp_path / "table.csv")
    out = tmp_path / "coords.csv"
    rc = main(["explore", str(csv), "--label-column", "genre", "--method", "pca", "--dims", "3",
               "--out", str(out), "--quiet", "--no-cache", "--json"])
    assert rc == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    res = json.loads(line)
    coords = pd.read_csv(out)
    assert list(coords.columns[-3:]) == ["x", "y", "z"] and len(coords) == 90
    df = pd.read_csv(csv)
    X, lab = df[[f"feat{i}" for i in range(5)]].to_numpy(), df["genre"].to_numpy(dtype=object)
    ref = Pipeline([("s", StandardScaler()), ("p", PCA(n_components=3, random_state=0))]).fit_transform(X)
    np.testing.assert_allclose(coords[["x", "y", "z"]].to_numpy(), ref, atol=1e-8)
    Z = StandardScaler().fit_transform(X)
    assert res["silhouette"]["full"] == pytest.approx(silhouette_score(Z, lab), abs=1e-6)
    assert res["silhouette"]["projection"] == pytest.approx(silhouette_score(ref, lab), abs=1e-6)
    knn = cross_val_predict(KNeighborsClassifier(5), ref, lab, cv=LeaveOneOut())
    assert res["knn_accuracy"]["projection"] == pytest.approx(accuracy_score(lab, knn), abs=1e-6)
    assert set(res["centroid_distances"]) == {"jazz", "pop", "rock"}
    assert len(res["explained_variance_ratio"]) == 3


def test_cli_explore_rejects_unknown_genre(tmp_path, capsys):
    from musictag_core.cli import main

    csv = _table_csv(tmp_path / "table.csv")
    assert main(["explore", str(csv), "--label-column", "genre", "--genres", "jazz,polka", "--quiet"]) == 2
    assert "polka" in capsys.readouterr().err
