"""The app's server process (no browser): the warm-up starts with the server (#12)."""

from __future__ import annotations

import time

import pytest

from .conftest import serve_app


@pytest.mark.slow
def test_warm_up_starts_with_the_server_before_any_browser_connects(tmp_path, artifacts_dir):
    # `streamlit run app.py` serves app.py's `app` (an st.App): its lifespan starts the warm-up.
    # Only /_stcore/health is asked here, which runs no script: no session ever starts.
    log = artifacts_dir / "streamlit-warmup-server.log"
    env = {"MUSICTAG_CACHE": str(tmp_path / "cache"), "MUSICTAG_RUNS": str(tmp_path / "runs")}
    with serve_app(env, log):
        deadline = time.monotonic() + 180
        while "warm-up of MSD_musicnn done" not in log.read_text():
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.5)
    text = log.read_text()
    assert "warm-up of MSD_musicnn started" in text and "loaded model MSD_musicnn" in text
    assert "card scores" not in text and "Traceback" not in text
