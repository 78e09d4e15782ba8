"""#13: the Train page shows the pre-flight check before Start, blocks Start on a refusal, and names uploads.

Streamlit's AppTest (no browser): the real page through ``app.py``, and the
``pages/_ui/preflight.py`` helper on its own for an uploaded table.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from musictag_core.training import RunConfig

APP = Path(__file__).resolve().parents[1] / "app.py"


def _table(path: Path, counts: dict[str, int]) -> Path:
    rng = np.random.default_rng(0)
    labels = [lab for lab, n in counts.items() for _ in range(n)]
    df = pd.DataFrame(rng.normal(size=(len(labels), 4)), columns=[f"f{i}" for i in range(4)])
    df["label"] = labels
    df.to_csv(path, index=False)
    return path


def _start(at):  # noqa: ANN001, ANN202
    return next(b for b in at.button if b.key == "train_start")


def test_the_page_shows_the_plan_and_blocks_start_when_the_check_refuses(tmp_path, monkeypatch):
    testing = pytest.importorskip("streamlit.testing.v1")
    monkeypatch.setenv("MUSICTAG_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("MUSICTAG_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("MUSICTAG_DATA", str(tmp_path))
    at = testing.AppTest.from_file(str(APP), default_timeout=120)
    at.switch_page("pages/train.py")
    at.session_state["train_source"] = "demo-hard"
    at.session_state["train_model"] = "logreg"
    at.session_state["train_cv"] = 10
    at.run()
    assert not at.exception
    text = " ".join(m.value for m in at.markdown)
    assert "Pre-flight check" in text and "150 tracks" in text and "6 labels" in text
    assert "smallest label" in text and "10-fold cross-validation, folds grouped by artist" in text
    assert not _start(at).disabled
    # K lowered to what the data allows, said before Start
    at.session_state["train_source"] = "path"
    at.session_state["train_path"] = str(_table(tmp_path / "two.csv", {"rock": 4, "jazz": 4, "polka": 2}))
    at.session_state["train_cv"] = 5
    at.run()
    assert not at.exception
    text = " ".join(m.value for m in at.markdown)
    assert "10 tracks" in text and "smallest label: polka (2 tracks)" in text and "2-fold cross-validation (asked 5)" in text
    assert any("uses 2 folds, not 5" in c.value for c in at.caption)
    assert not _start(at).disabled
    # a feature table with a label of one row: 3-fold CV is refused before Start, with the fix
    table = _table(tmp_path / "small.csv", {"rock": 4, "jazz": 4, "polka": 1})
    at.session_state["train_path"] = str(table)
    at.session_state["train_cv"] = 3
    at.run()
    assert not at.exception
    refusals = [e.value for e in at.error if "Pre-flight check" in e.value]
    assert refusals and "polka" in refusals[0] and "single track" in refusals[0]
    assert _start(at).disabled
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def _panel(dataset: str, upload_name: str) -> None:
    from musictag_core.training import RunConfig
    from pages._ui.preflight import render_preflight

    ok = render_preflight(RunConfig(dataset=dataset, model="logreg", cv=3), upload_name=upload_name)
    import streamlit as st

    st.write(f"start allowed: {ok}")


def test_an_uploaded_tables_refusal_names_the_upload_not_the_server_copy(tmp_path):
    testing = pytest.importorskip("streamlit.testing.v1")
    copy = tmp_path / "cache" / "sessions" / "abc123" / "uploads" / "table.csv"
    copy.parent.mkdir(parents=True)
    _table(copy, {"rock": 4, "jazz": 4, "polka": 1})
    at = testing.AppTest.from_function(_panel, args=(str(copy), "my_features.csv"), default_timeout=60)
    at.run()
    assert not at.exception
    msg = " ".join(e.value for e in at.error)
    assert "my_features.csv" in msg and "polka" in msg
    assert str(tmp_path) not in msg and "sessions" not in msg
    assert "start allowed: False" in " ".join(m.value for m in at.markdown)
    # a table the readers do not recognise: the reader's message names the path it was given
    bad = copy.with_name("bad.csv")
    bad.write_text("a,b,label\n1,2\n3,x,y,z\n")
    at = testing.AppTest.from_function(_panel, args=(str(bad), "my_features.csv"), default_timeout=60)
    at.run()
    msg = " ".join(e.value for e in at.error)
    assert msg.startswith("Pre-flight check: my_features.csv: not a dataset") and str(tmp_path) not in msg


def test_public_message_replaces_the_session_path():
    from pages._ui.preflight import public_message

    copy = "/srv/cache/sessions/s1/uploads/table.csv"
    msg = f"{copy}: column 'x' is not numeric"
    assert public_message(msg, dataset=copy, upload_name="gtzan.csv").startswith("gtzan.csv")
    assert public_message(msg, dataset=copy, upload_name=None) == msg
    assert RunConfig(dataset=copy, model="logreg").dataset == copy  # the run itself still reads the copy
