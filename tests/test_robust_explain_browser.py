"""Browser test of #14 on the Tag page: the stability expander and the explanation overlay, on request."""

from __future__ import annotations

import pytest

from .test_app_browser import UPLOAD_INPUT, _expect, _upload_and_wait, assert_no_exception, open_page, wait_idle

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_tag_card_explains_and_checks_stability_on_request(app_server, page, screenshot, clips_dir, tmp_path):
    import soundfile as sf

    from musictag_core.audio import load_audio

    y, sr = load_audio(clips_dir / "blues.00000.wav", sr=16000, duration=6.0)
    clip = tmp_path / "blues-6s.wav"
    sf.write(clip, y, sr)
    open_page(page, app_server, "", "Tag")
    _expect()(page.locator(UPLOAD_INPUT)).to_have_count(1, timeout=60_000)
    _upload_and_wait(page, [clip], n_plots=3)
    assert_no_exception(page)
    main = page.locator('[data-testid="stMain"]')
    assert "stays first" not in main.inner_text()  # nothing is computed before the button is pressed

    page.get_by_text("How stable is this answer?").click()
    page.get_by_role("button", name="Check stability").click()
    page.wait_for_function(
        "() => /stays first|overtakes it/.test(document.querySelector('[data-testid=\"stMain\"]').innerText)",
        timeout=180_000,
    )
    wait_idle(page, 180_000)
    assert_no_exception(page)
    text = main.inner_text()
    assert "Blues stays first" in text or "overtakes it" in text
    assert "Computed in" in text

    page.get_by_text("What did the model listen to?").click()
    page.get_by_role("button", name="Explain").click()
    try:
        page.wait_for_function(
            "() => document.querySelector('[data-testid=\"stMain\"]').textContent.includes('most salient 10%')",
            timeout=180_000,
        )
    finally:
        screenshot(page, "tag-explanation")
    wait_idle(page, 180_000)
    assert_no_exception(page)
    assert "masked copies" in main.inner_text()
    screenshot(page, "tag-stability-and-explanation")
