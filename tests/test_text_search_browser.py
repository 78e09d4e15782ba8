"""Browser test: the Tag page's text search ranks the uploaded tracks (zero-shot, through the tags)."""

from __future__ import annotations

import pytest

from tests.test_app_browser import FIRST_TAG_TIMEOUT_MS, UPLOAD_INPUT, _expect, _upload_and_wait, assert_no_exception, open_page, wait_idle

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_tag_page_text_search_ranks_uploaded_tracks(app_server, page, screenshot, clips_dir):
    """Two real clips; the query 'heavy metal with distorted guitars' ranks the metal clip first and says what it is."""
    open_page(page, app_server, "", "Tag")
    _expect()(page.locator(UPLOAD_INPUT)).to_have_count(1, timeout=60_000)
    _upload_and_wait(page, [clips_dir / "classical.00000.wav", clips_dir / "metal.00000.wav"], n_plots=6)
    box = page.locator('[class*="st-key-tag_text_search"]')
    _expect()(box).to_have_count(1, timeout=30_000)
    assert "not a joint audio-text model" in box.inner_text()
    box.get_by_label("Query", exact=True).fill("heavy metal with distorted guitars")
    box.get_by_label("Query", exact=True).press("Enter")
    results = page.locator('[class*="st-key-tag_text_results"]')
    _expect()(results).to_have_count(1, timeout=FIRST_TAG_TIMEOUT_MS)
    wait_idle(page, FIRST_TAG_TIMEOUT_MS)
    assert_no_exception(page)
    items = results.locator("li").all_inner_texts()
    assert len(items) == 2 and items[0].startswith("metal.00000.wav"), items
    assert "heavy metal (MSD_musicnn)" in box.inner_text()  # the matched tags are named
    screenshot(page, "tag-text-search")
