"""#13 memory creep: the Train page keeps the event log and figures of the run it shows only.

A session that looked at many runs used to keep every run's watcher (all its events) and
plotly figures in its session state. Runs the real page through ``app.py`` with Streamlit's
AppTest (no browser).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from musictag_core.training import RunConfig, create_run

APP = Path(__file__).resolve().parents[1] / "app.py"


def test_switching_runs_drops_the_previous_runs_watcher_and_figures(tmp_path, monkeypatch):
    testing = pytest.importorskip("streamlit.testing.v1")
    monkeypatch.setenv("MUSICTAG_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("MUSICTAG_CACHE", str(tmp_path / "cache"))
    old = create_run(RunConfig(dataset="demo", model="logreg"), runs_dir=tmp_path / "runs").name
    shown = create_run(RunConfig(dataset="demo", model="svc"), runs_dir=tmp_path / "runs").name
    at = testing.AppTest.from_file(str(APP), default_timeout=120)
    at.switch_page("pages/train.py")
    at.session_state[f"train_watch_{old}"] = "the old run's watcher"
    at.session_state[f"train_figs_live_{old}"] = "the old run's figures"
    at.session_state["train_view_run"] = shown
    at.run()
    assert not at.exception
    assert f"train_watch_{old}" not in at.session_state and f"train_figs_live_{old}" not in at.session_state
    assert f"train_watch_{shown}" in at.session_state  # the shown run keeps its own
