"""Browser test of the Tag card's "Tracks like this" section (headless Chromium, Playwright).

A server of its own runs with a temporary cache and an index folder holding one small index
of 7 s cuts of shared clips; uploading one of those cuts lists it as its own first neighbour.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import serve_app
from .test_app_browser import APP, FIRST_TAG_TIMEOUT_MS, PLOT, UPLOAD_INPUT, assert_no_exception, wait_idle

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_tag_card_lists_tracks_like_this_with_players(tmp_path, browser, clips_dir, artifacts_dir, monkeypatch):
    import soundfile as sf

    from musictag_core.audio import load_audio
    from musictag_core.similarity import build_index

    lib = tmp_path / "lib"
    lib.mkdir()
    for name in ("blues.00000.wav", "classical.00000.wav", "metal.00000.wav"):
        y, sr = load_audio(clips_dir / name, sr=16000, offset=5.0, duration=7.0)
        sf.write(lib / name, y, sr)
    env = {"MUSICTAG_CACHE": str(tmp_path / "cache"), "MUSICTAG_RUNS": str(tmp_path / "runs"),
           "MUSICTAG_INDEXES": str(tmp_path / "indexes")}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    build_index(lib, name="cuts")
    with serve_app(env, artifacts_dir / "streamlit-similar.log") as (url, _proc):
        ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
        try:
            page = ctx.new_page()
            page.goto(url + "/", wait_until="domcontentloaded")
            page.locator(APP).wait_for(timeout=60_000)
            page.locator(UPLOAD_INPUT).wait_for(state="attached", timeout=60_000)
            page.locator(UPLOAD_INPUT).set_input_files([str(lib / "metal.00000.wav")])
            page.wait_for_function(f"() => document.querySelectorAll('{PLOT}').length >= 3", timeout=FIRST_TAG_TIMEOUT_MS)
            wait_idle(page, FIRST_TAG_TIMEOUT_MS)
            page.get_by_text("Tracks like this").first.click()
            box = page.locator('[class*="st-key-tag_similar_"]').first
            box.get_by_text("metal.00000.wav · metal · distance 0.000").wait_for(timeout=120_000)
            wait_idle(page, 60_000)
            text = box.inner_text()
            assert "distance 0.000" in text and "this track" in text and "classical.00000.wav" in text
            assert box.locator("audio").count() == 3  # one player per neighbour
            assert_no_exception(page)
            page.screenshot(path=str(Path(artifacts_dir) / "tag-tracks-like-this.png"), full_page=True)
        finally:
            ctx.close()
