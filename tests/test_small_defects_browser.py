"""Browser tests of #13's smaller defects: refused uploads, upload errors, the demo prompt, the Dataset tab.

One server with a 1 MB upload limit (``MUSICTAG_MAX_UPLOAD_MB`` and Streamlit's
``server.maxUploadSize``), its own empty cache and runs folder. The demo corpus and the
feature cache are linked from the developer's cache when the tests need them.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile as sf

from .conftest import serve_app
from .test_app_browser import APP, ERROR_ALERT, PLOT, assert_no_exception, wait_idle

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REFUSED = '[data-testid="musictagRefusedUploads"]'
UPLOAD_INPUT = '[data-testid="stFileUploaderDropzoneInput"]'
RADIO = '[data-testid="stRadio"]'


def _expect():
    from playwright.sync_api import expect

    return expect


@pytest.fixture(scope="module")
def small_limit_app(tmp_path_factory, artifacts_dir):
    """A server whose upload limit is 1 MB; yields ``(url, cache)``."""
    tmp = tmp_path_factory.mktemp("small-limit-app")
    cache = tmp / "cache"
    cache.mkdir()
    env = {
        "MUSICTAG_CACHE": str(cache), "MUSICTAG_RUNS": str(tmp / "runs"), "MUSICTAG_MAX_UPLOAD_MB": "1",
        "STREAMLIT_SERVER_MAX_UPLOAD_SIZE": "1",
    }  # fmt: skip
    with serve_app(env, artifacts_dir / "streamlit-small-limit-server.log") as (url, _):
        yield url, cache


def _open(page, url: str, path: str, title: str) -> None:
    page.goto(f"{url}/{path}")
    page.wait_for_selector(APP, timeout=60_000)
    page.get_by_role("heading", name=title, exact=True).first.wait_for(timeout=60_000)
    page.wait_for_timeout(500)
    wait_idle(page)


def _wav_bytes(seconds: float, sr: int = 22050) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, 0.1 * np.sin(np.arange(int(seconds * sr)) / 10), sr, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def test_a_refused_upload_is_named_on_the_page_with_the_limit(small_limit_app, page, screenshot):
    url, _ = small_limit_app
    _open(page, url, "tag", "Tag")
    big = _wav_bytes(30.0)  # 1.3 MB, over the 1 MB limit
    assert len(big) > 1024 * 1024
    page.locator(UPLOAD_INPUT).first.set_input_files(
        [{"name": "too-big.wav", "mimeType": "audio/wav", "buffer": big},
         {"name": "fine.wav", "mimeType": "audio/wav", "buffer": _wav_bytes(1.0)}]
    )
    notice = page.locator(REFUSED)
    _expect()(notice).to_be_visible(timeout=30_000)  # visible without hovering anything
    text = notice.inner_text()
    assert "too-big.wav was not uploaded" in text and "over the 1 MB upload limit" in text
    assert "fine.wav" not in text
    screenshot(page, "refused-upload")
    # removing the refused file removes its line
    page.locator('[data-testid="stFileChip"][aria-invalid="true"] [data-testid="stFileChipDeleteBtn"] button').click()
    _expect()(notice).to_have_count(0, timeout=10_000)


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("my-table.csv", "filename,a,b,a,label\nx1,1,2,3,rock\nx2,2,3,1,jazz\n", "names a column more than once: 'a'"),
        ("no-labels.csv", "filename,a,b\nx1,1,2\n", "lacks columns ['label']"),
    ],
)
def test_table_upload_errors_name_the_uploaded_file_never_the_session_path(small_limit_app, page, name, text, expected):
    url, cache = small_limit_app
    _open(page, url, "explore", "Explore")
    page.locator(RADIO, has_text="Dataset").get_by_text("Upload feature table", exact=True).click()
    wait_idle(page)
    page.locator(UPLOAD_INPUT).first.set_input_files({"name": name, "mimeType": "text/csv", "buffer": text.encode()})
    alert = page.locator(ERROR_ALERT)
    _expect()(alert.first).to_be_visible(timeout=30_000)
    message = alert.first.inner_text()
    assert name in message and expected in message
    assert "sessions" not in message and str(cache) not in message and "/table.csv" not in message and "/tmp" not in message
    if "more than once" in expected:
        assert "drop=" not in message and "id_column=" not in message  # worded for the page
    assert_no_exception(page)


def test_demo_prompt_goes_once_answered_and_the_dataset_tab_describes_the_corpus(small_limit_app, page, screenshot):
    from musictag_core.datasets.demo import demo_corpus_dir

    url, cache = small_limit_app
    developer = demo_corpus_dir()  # generated once per machine
    _open(page, url, "explore", "Explore")
    page.locator(RADIO, has_text="Dataset").get_by_text("Demo corpus", exact=True).click()
    wait_idle(page)
    # the easy corpus's prompt, by its widget key (the hard corpus's prompt comes first, before the radio's rerun)
    button = page.locator(".st-key-explore_demo_button_demo").get_by_role("button", name="Generate the demo corpus")
    _expect()(button).to_be_visible()
    prompt = page.get_by_text("is generated once, into the cache folder")
    _expect()(prompt).to_be_visible()
    # the corpus (and its features) appear in the cache, as if generated: the click then opens it at once
    (cache / developer.name).symlink_to(developer, target_is_directory=True)
    if (developer.parent / "features").is_dir() and not (cache / "features").exists():
        (cache / "features").symlink_to(developer.parent / "features", target_is_directory=True)
    button.click()
    page.locator(PLOT).first.wait_for(timeout=300_000)
    wait_idle(page, 300_000)
    _expect()(page.get_by_role("button", name="Generate the demo corpus")).to_have_count(0)
    _expect()(page.get_by_text("is generated once, into the cache folder")).to_have_count(0)
    page.get_by_role("tab", name="Dataset").click()
    description = page.locator(".st-key-explore_description")
    _expect()(description).to_be_visible(timeout=60_000)
    text = description.inner_text()
    assert "demo" in text and "138" in text and "Artists" in text and "138 present, 0 missing" in text
    assert_no_exception(page)
    screenshot(page, "explore-dataset-description")
