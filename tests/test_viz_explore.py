"""Tests for musictag_core.viz.explore: the figures carry the data they are given."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest
from sklearn.datasets import make_blobs

from musictag_core.errors import ParameterError
from musictag_core.explore import ProjectionConfig, cooccurrence, labels_per_track, pairwise_view, project, separability
from musictag_core.viz.explore import (
    centroid_distance_figure,
    class_balance_figure,
    color_map,
    confusion_figure,
    cooccurrence_figure,
    duration_figure,
    explained_variance_figure,
    feature_violin_figure,
    labels_per_track_figure,
    loadings_figure,
    pairwise_figure,
    per_label_figure,
    scatter_figure,
)


@pytest.fixture(scope="module")
def data():
    X, y = make_blobs(n_samples=60, n_features=6, centers=3, random_state=0)
    genres = np.array(["jazz", "pop", "rock"], dtype=object)[y]
    meta = pd.DataFrame(
        {
            "track_id": [f"t{i:02d}" for i in range(60)],
            "genre": genres,
            "split": np.where(np.arange(60) % 4 == 0, "test", "train"),
            "tempo": np.linspace(60, 180, 60),
        }
    )
    return X, meta


def _points(fig: go.Figure) -> dict[str, tuple]:
    out = {}
    for tr in fig.data:
        for i, cd in enumerate(tr.customdata):
            xyz = (tr.x[i], tr.y[i]) + ((tr.z[i],) if getattr(tr, "z", None) is not None else ())
            out[cd[0]] = (tr.name, xyz, tr.marker.symbol)
    return out


@pytest.mark.parametrize("dims", [2, 3])
def test_scatter_figure_every_point_once_with_track_ids(data, dims):
    X, meta = data
    coords = np.random.default_rng(0).normal(size=(60, dims))
    fig = scatter_figure(coords, meta, dims=dims)
    kind = go.Scatter3d if dims == 3 else go.Scatter
    assert all(isinstance(t, kind) for t in fig.data)
    pts = _points(fig)
    assert set(pts) == set(meta["track_id"])
    for i, tid in enumerate(meta["track_id"]):
        name, xyz, _ = pts[tid]
        assert name.startswith(meta["genre"][i])
        np.testing.assert_allclose(xyz, coords[i])
    # row numbers travel in customdata[:, 1]
    rows = np.concatenate([np.asarray(t.customdata[:, 1], dtype=int) for t in fig.data])
    assert sorted(rows) == list(range(60))
    # one colour per genre, shared by its split traces
    cmap = color_map(meta["genre"])
    for t in fig.data:
        assert t.marker.color == cmap[t.legendgroup]


def test_scatter_figure_symbols_per_split_and_genre_filter(data):
    X, meta = data
    fig = scatter_figure(X[:, :2], meta, genres=["jazz", "rock"])
    names = {t.name for t in fig.data}
    assert names == {"jazz · train", "jazz · test", "rock · train", "rock · test"}
    symbols = {t.name.split(" · ")[1]: t.marker.symbol for t in fig.data}
    assert symbols["train"] != symbols["test"]
    n = sum(len(t.x) for t in fig.data)
    assert n == int(meta["genre"].isin(["jazz", "rock"]).sum())
    assert "tempo" not in fig.data[0].hovertemplate
    fig2 = scatter_figure(X[:, :2], meta, symbol=None, hover=["track_id", "genre", "tempo"])
    assert {t.name for t in fig2.data} == {"jazz", "pop", "rock"}
    assert "tempo" in fig2.data[0].hovertemplate


def test_scatter_figure_numeric_colour_and_errors(data):
    X, meta = data
    fig = scatter_figure(X[:, :2], meta, color="tempo")
    assert len(fig.data) == 1
    np.testing.assert_allclose(fig.data[0].marker.color, meta["tempo"])
    with pytest.raises(ParameterError, match="rows"):
        scatter_figure(X[:10, :2], meta)
    with pytest.raises(ParameterError, match="colour column"):
        scatter_figure(X[:, :2], meta, color="mood")
    with pytest.raises(ParameterError, match="dims"):
        scatter_figure(X[:, :2], meta, dims=3)


def test_scatter_uses_webgl_for_many_points():
    n = 4000
    meta = pd.DataFrame({"track_id": [str(i) for i in range(n)], "genre": ["a", "b"] * (n // 2)})
    fig = scatter_figure(np.zeros((n, 2)), meta)
    assert all(isinstance(t, go.Scattergl) for t in fig.data)


def test_pca_figures(data):
    X, meta = data
    proj = project(X, config=ProjectionConfig(), feature_names=[f"f{i}" for i in range(6)], cache=False)
    ev = explained_variance_figure(proj.explained_variance_ratio_)
    np.testing.assert_allclose(ev.data[0].y, proj.explained_variance_ratio_)
    np.testing.assert_allclose(ev.data[1].y, np.cumsum(proj.explained_variance_ratio_))
    lf = loadings_figure(proj.loadings, top=3)
    assert len(lf.data) == 2
    top = proj.top_features(0, n=3)
    assert list(lf.data[0].y)[::-1] == list(top.index)
    np.testing.assert_allclose(list(lf.data[0].x)[::-1], top.to_numpy())
    with pytest.raises(ParameterError):
        loadings_figure(None)


def test_separability_figures(data):
    X, meta = data
    sep = separability(X, meta["genre"])
    cd = centroid_distance_figure(sep["centroid_distances"])
    np.testing.assert_allclose(np.asarray(cd.data[0].z), sep["centroid_distances"].to_numpy())
    assert list(cd.data[0].x) == sep["labels"]
    cf = confusion_figure(sep["confusion"])
    counts = sep["confusion"].to_numpy()
    np.testing.assert_allclose(np.asarray(cf.data[0].z), counts / counts.sum(axis=1, keepdims=True))
    assert cf.data[0].text[0][0] == str(counts[0, 0])
    raw = confusion_figure(sep["confusion"], normalize=False)
    np.testing.assert_allclose(np.asarray(raw.data[0].z), counts)
    pl = per_label_figure(sep["per_label"])
    np.testing.assert_allclose(pl.data[0].y, sep["per_label"]["silhouette"])
    for fig in (cd, cf, pl):
        assert fig.to_json()  # serialisable, as streamlit and notebooks need


def test_insight_figures(data):
    _, meta = data
    bal = meta["genre"].value_counts().sort_index()
    f = class_balance_figure(bal)
    assert list(f.data[0].x) == list(bal.index) and list(f.data[0].y) == bal.tolist()
    by = pd.crosstab(meta["genre"], meta["split"])
    fs = class_balance_figure(by)
    assert {t.name for t in fs.data} == {"test", "train"} and fs.layout.barmode == "stack"
    y = np.array([[1, 0, 1], [1, 1, 0], [0, 0, 0], [1, 1, 1]])
    co = cooccurrence_figure(cooccurrence(y, list("abc")))
    np.testing.assert_array_equal(np.asarray(co.data[0].z), y.T @ y)
    lp = labels_per_track_figure(labels_per_track(y))
    assert list(lp.data[0].y) == [1, 0, 2, 1]


def test_duration_and_violin_figures(data):
    _, meta = data
    d = pd.Series(np.r_[np.full(59, 30.0), np.nan])
    f = duration_figure(d)
    assert len(f.data[0].x) == 59
    g = duration_figure(d, by=meta["genre"])
    assert {t.name for t in g.data} == {"jazz", "pop", "rock"}
    assert sum(len(t.x) for t in g.data) == 59
    v = feature_violin_figure(meta, "tempo", by="genre")
    assert {t.name for t in v.data} == {"jazz", "pop", "rock"} and isinstance(v.data[0], go.Violin)
    for t in v.data:
        np.testing.assert_allclose(sorted(t.y), sorted(meta.loc[meta["genre"] == t.name, "tempo"]))
    b = feature_violin_figure(meta, "tempo", kind="box")
    assert isinstance(b.data[0], go.Box)
    with pytest.raises(ParameterError, match="column"):
        feature_violin_figure(meta, "loudness")


def test_pairwise_figure(data):
    X, meta = data
    view = pairwise_view(X, meta["genre"], "jazz", "pop")
    fig = pairwise_figure(view, meta=meta)
    assert "jazz vs pop" in fig.layout.title.text
    assert f"{view['accuracy_mean']:.1%}" in fig.layout.title.text
    pts = _points(fig)
    assert set(pts) == set(meta["track_id"][view["rows"]])
    fig2 = pairwise_figure(view)
    assert sum(len(t.x) for t in fig2.data) == len(view["rows"])
