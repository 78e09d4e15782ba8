"""Browser tests: the Streamlit app in headless Chromium (Playwright).

They start ``streamlit run app.py`` once per session (``app_server`` fixture)
and take screenshots into the artifacts folder (``$MUSICTAG_ARTIFACTS`` or
``test-artifacts/``). The first tag loads TensorFlow and the model, so waits
are generous.
"""

from __future__ import annotations

import importlib
import re

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PAGES = [("", "Tag"), ("explore", "Explore"), ("train", "Train")]
APP = '[data-testid="stApp"]'
EXCEPTION = '[data-testid="stException"]'
UPLOAD_INPUT = '[data-testid="stFileUploaderDropzoneInput"]'
ERROR_ALERT = '[data-testid="stAlertContentError"]'
PLOT = ".js-plotly-plot"
FIRST_TAG_TIMEOUT_MS = 180_000  # TensorFlow import + model load + first prediction on 2 CPU cores
IDLE_TIMEOUT_MS = 120_000


def _predict_available() -> str | None:
    """None when musictag_core.predict imports, else the reason it does not."""
    try:
        importlib.import_module("musictag_core.predict")
    except ImportError as exc:
        return f"musictag_core.predict is not importable yet ({exc}); the Tag page cannot tag"
    return None


def _expect():
    from playwright.sync_api import expect

    return expect


def wait_idle(page, timeout_ms: int = IDLE_TIMEOUT_MS) -> None:
    """Wait until the Streamlit script run has finished."""
    page.wait_for_function(
        "() => document.querySelector('[data-testid=\"stApp\"]')"
        "?.getAttribute('data-test-script-state') === 'notRunning'",
        timeout=timeout_ms,
    )


def open_page(page, base_url: str, path: str, title: str) -> None:
    page.goto(f"{base_url}/{path}")
    page.wait_for_selector(APP, timeout=60_000)
    page.get_by_role("heading", name=title, exact=True).first.wait_for(timeout=60_000)
    wait_idle(page)


def assert_no_exception(page) -> None:
    boxes = page.locator(EXCEPTION)
    assert boxes.count() == 0, f"exception box shown: {boxes.first.inner_text()[:2000]}"


@pytest.mark.parametrize("path, title", PAGES, ids=[t for _, t in PAGES])
def test_page_loads_without_exception(app_server, page, screenshot, path, title):
    open_page(page, app_server, path, title)
    assert_no_exception(page)
    # Shared sidebar: name and version, and navigation to every page.
    sidebar = page.locator('[data-testid="stSidebar"]')
    assert "musictag" in sidebar.inner_text()
    for _, name in PAGES:
        _expect()(page.locator('[data-testid="stSidebarNavLink"]', has_text=name)).to_have_count(1)
    screenshot(page, f"page-{title.lower()}")


@pytest.mark.parametrize("path, title", [("train", "Train"), ("explore", "Explore")])
def test_first_request_to_a_sub_page_goes_through_the_router(tmp_path, browser, path, title):
    """A fresh server opened on /train or /explore (a bookmark after a restart) shows the routed app.

    Streamlit would otherwise run ``pages/<page>.py`` alone as a legacy ``pages/`` app, without
    app.py's sidebar and with every file of ``pages/`` (``common`` too) in the navigation.
    """
    from tests.conftest import serve_app

    env = {"MUSICTAG_CACHE": str(tmp_path / "cache"), "MUSICTAG_RUNS": str(tmp_path / "runs")}
    with serve_app(env, tmp_path / "server.log") as (url, _proc):
        ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
        try:
            pg = ctx.new_page()
            open_page(pg, url, path, title)
            assert_no_exception(pg)
            assert pg.url.rstrip("/").endswith(f"/{path}")
            sidebar = pg.locator('[data-testid="stSidebar"]')
            assert "musictag" in sidebar.inner_text()  # app.py's sidebar ran
            links = pg.locator('[data-testid="stSidebarNavLink"]')
            _expect()(links).to_have_count(4)
            assert [t.split()[-1] for t in links.all_inner_texts()] == ["Tag", "Explore", "Train", "Runs"]
        finally:
            ctx.close()


def test_tag_page_shows_inputs(app_server, page):
    open_page(page, app_server, "", "Tag")
    reason = _predict_available()
    if reason:
        pytest.skip(reason)
    expect = _expect()
    expect(page.locator(UPLOAD_INPUT)).to_have_count(1, timeout=60_000)
    expect(page.locator('[data-testid="stAudioInput"]')).to_have_count(1)
    expect(page.get_by_role("combobox", name="Model")).to_have_value(re.compile(r"^MSD_musicnn"))
    assert_no_exception(page)


def _upload_and_wait(page, files, *, n_plots: int) -> None:
    page.locator(UPLOAD_INPUT).set_input_files([str(f) for f in files])
    page.wait_for_function(
        f"() => document.querySelectorAll('{PLOT}').length >= {n_plots}", timeout=FIRST_TAG_TIMEOUT_MS
    )
    wait_idle(page, FIRST_TAG_TIMEOUT_MS)


def test_tag_real_clip_shows_genre_chart_taggram_and_summary(app_server, page, screenshot, clips_dir):
    reason = _predict_available()
    if reason:
        pytest.skip(reason)
    open_page(page, app_server, "", "Tag")
    clip = clips_dir / "blues.00000.wav"
    _expect()(page.locator(UPLOAD_INPUT)).to_have_count(1, timeout=60_000)
    _upload_and_wait(page, [clip], n_plots=3)  # genre bars, taggram, waveform
    assert_no_exception(page)
    # One card (a container keyed tag_card_<i>_<hash>) for the one file.
    assert page.locator('[class*="st-key-tag_card_"]').count() == 1
    text = page.locator('[data-testid="stMain"]').inner_text()
    assert "blues.00000.wav" in text
    assert "Summary." in text
    plots = page.locator(PLOT)
    titles = " | ".join(plots.nth(i).inner_text() for i in range(plots.count()))
    assert "Genre scores" in titles and "threshold 0.25" in titles  # the page's default (musicnn scores are low)
    assert "Taggram" in titles
    # The audio player comes after the figures; only the open signal tab's chart is drawn, the
    # others when their tab is clicked (a rerun of the card's fragment).
    _expect()(page.locator('[data-testid="stAudio"]')).to_have_count(1, timeout=30_000)
    assert page.locator('[class*="st-key-tag_fig_wave_"] .js-plotly-plot').count() == 1
    for tab, chart in (("Mel spectrogram", "mel"), ("MFCC", "mfcc"), ("Waveform", "wave")):
        page.get_by_role("tab", name=re.compile(f"^{tab}")).click()
        _expect()(page.locator(f'[class*="st-key-tag_fig_{chart}_"] .js-plotly-plot')).to_have_count(1, timeout=30_000)
        wait_idle(page)
    assert page.locator('[class*="st-key-tag_fig_mel_"]').count() == 0  # the closed tabs' charts are not kept
    assert_no_exception(page)
    # One results row and both downloads.
    # (the data grid's script loads lazily, so wait for it rather than count at once)
    _expect()(page.locator('[data-testid="stDataFrame"]')).to_have_count(1, timeout=30_000)
    _expect()(page.locator('[data-testid="stDownloadButton"]')).to_have_count(2, timeout=30_000)
    screenshot(page, "tag-blues")


def test_tag_bad_file_shows_error_and_page_keeps_working(app_server, page, screenshot, clips_dir, tmp_path):
    reason = _predict_available()
    if reason:
        pytest.skip(reason)
    bad = tmp_path / "not-audio.wav"
    bad.write_text("this is a text file, not audio\n" * 20)
    open_page(page, app_server, "", "Tag")
    _expect()(page.locator(UPLOAD_INPUT)).to_have_count(1, timeout=60_000)
    _upload_and_wait(page, [bad, clips_dir / "blues.00000.wav"], n_plots=3)
    assert_no_exception(page)
    errors = page.locator(ERROR_ALERT)
    assert errors.count() == 1
    assert "not-audio.wav" in errors.first.inner_text()
    text = page.locator('[data-testid="stMain"]').inner_text()
    assert "Summary." in text  # the good file was still tagged
    # The page still reacts: switch to all tags and the charts are redrawn.
    page.get_by_text("Genres only", exact=True).click()
    page.wait_for_function(
        "() => [...document.querySelectorAll('.js-plotly-plot')].some(e => e.textContent.includes('Tag scores'))",
        timeout=60_000,
    )
    wait_idle(page)
    assert_no_exception(page)
    assert page.locator(ERROR_ALERT).count() == 1
    screenshot(page, "tag-bad-file")


def test_tag_batch_of_bad_files_each_named_good_ones_tagged(app_server, page, screenshot, clips_dir, tmp_path):
    """The bad-input matrix through the browser: one error per bad file, naming it; the rest tagged."""
    from .test_bad_inputs import CASES, tag_reason

    reason = _predict_available()
    if reason:
        pytest.skip(reason)
    files = []
    for case_id, name, make, _ in CASES:
        path = tmp_path / case_id / name  # one folder each: the browser uploads the base name
        path.parent.mkdir()
        path.write_bytes(make())
        files.append(path)
    files.append(clips_dir / "blues.00000.wav")
    bad = [name for case_id, name, _, reason in CASES if tag_reason(case_id, reason) is not None]
    good = [name for case_id, name, _, reason in CASES if tag_reason(case_id, reason) is None] + ["blues.00000.wav"]
    open_page(page, app_server, "", "Tag")
    _expect()(page.locator(UPLOAD_INPUT)).to_have_count(1, timeout=60_000)
    _upload_and_wait(page, files, n_plots=3 * len(good))  # genre bars, taggram, waveform per good file
    assert_no_exception(page)
    errors = [page.locator(ERROR_ALERT).nth(i).inner_text() for i in range(page.locator(ERROR_ALERT).count())]
    assert len(errors) == len(bad), errors
    for name in bad:
        assert sum(name in e for e in errors) == 1, (name, errors)
    cards = page.locator('[class*="st-key-tag_card_"]')
    assert cards.count() == len(files)
    text = page.locator('[data-testid="stMain"]').inner_text()
    assert text.count("Summary.") == len(good)
    # every good file but the 30 s clip lasts 0.5 s: shorter than one segment, so each card warns
    warnings = page.locator('[data-testid="stAlertContentWarning"]')
    assert warnings.count() == len(good) - 1
    assert all("shorter than one" in warnings.nth(i).inner_text() for i in range(warnings.count()))
    blues = page.locator('[class*="st-key-tag_card_"]', has_text="blues.00000.wav")
    assert "blues" in blues.locator(PLOT).first.inner_text()
    screenshot(page, "tag-bad-batch")
