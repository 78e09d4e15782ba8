"""Browser tests of the Explore page (headless Chromium, Playwright).

A server of its own (``explore_server``) runs with the usual cache folder
(``MUSICTAG_CACHE`` as set, else ``~/.cache/musictag``), like the notebook
tests, so the demo corpus and its features are generated at most once per
machine; runs go to a temporary folder. The page compiles UMAP in a
background thread from its first visit; switching to UMAP waits for it, so
that wait is generous.
"""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pandas as pd
import pytest

from .conftest import serve_app
from .test_app_browser import APP, ERROR_ALERT, EXCEPTION, PLOT, assert_no_exception, wait_idle

pytestmark = [pytest.mark.browser, pytest.mark.slow]

FIRST_VISIT_TIMEOUT_MS = 420_000  # demo corpus generation + feature extraction on a fresh machine
UMAP_TIMEOUT_MS = 240_000  # the first UMAP in a server process compiles numba code
RADIO = '[data-testid="stRadio"]'
UPLOAD_INPUT = '[data-testid="stFileUploaderDropzoneInput"]'


@pytest.fixture(scope="module")
def explore_server(tmp_path_factory, artifacts_dir):
    """``streamlit run app.py`` with the usual cache and temporary runs; yields its URL.

    The demo corpus is made in that cache first (once per machine; CI starts with an
    empty cache), so the page opens on it rather than on its "Generate" prompt.
    """
    from musictag_core.datasets.demo import demo_corpus_dir

    demo_corpus_dir()
    tmp = tmp_path_factory.mktemp("explore-app")
    with serve_app({"MUSICTAG_RUNS": str(tmp / "runs")}, artifacts_dir / "streamlit-explore-server.log") as (url, _):
        yield url


def _expect():
    from playwright.sync_api import expect

    return expect


def _plot_titles(page) -> str:
    plots = page.locator(PLOT)
    return " | ".join(plots.nth(i).inner_text() for i in range(plots.count()))


def _wait_plot_with(page, text: str, timeout_ms: int) -> None:
    page.wait_for_function(
        "(t) => [...document.querySelectorAll('.js-plotly-plot')].some(e => e.textContent.includes(t))",
        arg=text,
        timeout=timeout_ms,
    )


def _open_explore(page, url: str) -> None:
    page.goto(f"{url}/explore")
    page.wait_for_selector(APP, timeout=60_000)
    page.get_by_role("heading", name="Explore", exact=True).first.wait_for(timeout=60_000)
    wait_idle(page)
    page.locator(RADIO, has_text="Dataset").get_by_text("Demo corpus", exact=True).click()  # the easy corpus
    wait_idle(page)
    # the easy corpus's own prompt (by its widget key): the hard corpus's prompt, shown before the
    # radio's rerun, may still be on screen for a moment and vanish under the click
    generate = page.locator(".st-key-explore_demo_button_demo").get_by_role("button", name="Generate the demo corpus")
    if generate.count():  # a fresh machine: the demo corpus is made once, on request
        generate.click()


def _choose(page, group: str, option: str) -> None:
    page.locator(RADIO, has_text=group).get_by_text(option, exact=True).click()


def test_explore_demo_pca_figures_then_umap(explore_server, page, screenshot):
    _open_explore(page, explore_server)
    _wait_plot_with(page, "PCA 2-D of MFCC statistics", FIRST_VISIT_TIMEOUT_MS)
    wait_idle(page, FIRST_VISIT_TIMEOUT_MS)
    assert_no_exception(page)
    main = page.locator('[data-testid="stMain"]').inner_text()
    assert "Silhouette" in main and "5-NN accuracy" in main and "Most confused pair" in main
    assert "138 tracks" in main  # the demo corpus
    titles = _plot_titles(page)
    for title in ("Distance between genre centroids", "Leave-one-out 5-NN confusion", "Separability per genre"):
        assert title in titles, titles
    # the scatter has one trace per genre, hover shows the track id
    n_traces = page.evaluate(
        "() => [...document.querySelectorAll('.js-plotly-plot')]"
        ".find(e => e.textContent.includes('PCA 2-D')).data.length"
    )
    assert n_traces == 6
    _expect()(page.locator('[data-testid="stDownloadButton"]')).to_have_count(3, timeout=30_000)
    screenshot(page, "explore-demo-pca")

    assert "Neighbourhoods in the picture: trustworthiness" in main
    # click one point: it is listed with an audio player, and so are its 5 nearest neighbours in the
    # full feature space and in the projection (#14)
    point = page.locator(f"{PLOT} .scatterlayer path.point").first
    point.click(force=True)
    page.get_by_text("1 selected point(s)").wait_for(timeout=60_000)
    page.get_by_text("In the full feature space").wait_for(timeout=60_000)
    _expect()(page.locator('[data-testid="stAudio"]')).to_have_count(11, timeout=30_000)
    assert "In the projection" in page.locator('[data-testid="stMain"]').inner_text()

    _choose(page, "Projection", "UMAP")
    _wait_plot_with(page, "UMAP 2-D", UMAP_TIMEOUT_MS)
    wait_idle(page, UMAP_TIMEOUT_MS)
    assert_no_exception(page)
    titles = _plot_titles(page)
    assert "UMAP 2-D (n_neighbors=15" in titles and "Distance between genre centroids" in titles
    assert page.locator('[data-testid="stMain"]').inner_text().count("UMAP 2-D") >= 1
    screenshot(page, "explore-demo-umap")


def _blobs_csv() -> bytes:
    from sklearn.datasets import make_blobs

    X, y = make_blobs(n_samples=60, n_features=6, centers=3, random_state=2)
    df = pd.DataFrame(X, columns=[f"mfcc{i}_mean" for i in range(6)])
    df.insert(0, "filename", [f"track{i:02d}.wav" for i in range(60)])
    df.insert(1, "length", 661794)  # file metadata: excluded by the column rule (#13)
    df["title"] = [f"Song number {i}" for i in range(60)]  # text unique per row: excluded
    df["label"] = np.array(["disco", "metal", "reggae"], dtype=object)[y]
    return df.to_csv(index=False).encode()


def test_explore_feature_table_upload(explore_server, page, screenshot, tmp_path):
    table = tmp_path / "features_small.csv"
    table.write_bytes(_blobs_csv())
    _open_explore(page, explore_server)
    wait_idle(page, FIRST_VISIT_TIMEOUT_MS)
    _choose(page, "Dataset", "Upload feature table")
    page.locator(UPLOAD_INPUT).set_input_files(str(table))
    _wait_plot_with(page, "of Feature-table columns", 120_000)
    wait_idle(page)
    assert_no_exception(page)
    main = page.locator('[data-testid="stMain"]').inner_text()
    assert "feature table features_small.csv: 60 tracks, 6 features" in main and "standardised;" in main  # the upload's name (#13)
    assert "Feature table: excluded columns: filename (row ids (id column)); length (identifier or file metadata" in main
    assert "title (non-numeric and unique per row)" in main
    # a widget left out of a run (no dataset yet) still shows the value the page uses
    assert page.get_by_role("checkbox", name="Standardise features").last.is_checked()
    assert page.locator(ERROR_ALERT).count() == 0
    screenshot(page, "explore-feature-table")


def test_explore_zip_with_traversal_member_shows_error(explore_server, page, tmp_path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("blues/a.wav", b"RIFF....WAVE")
        zf.writestr("../escape.wav", b"RIFF....WAVE")
    bad = tmp_path / "sneaky.zip"
    bad.write_bytes(buf.getvalue())
    _open_explore(page, explore_server)
    wait_idle(page, FIRST_VISIT_TIMEOUT_MS)
    _choose(page, "Dataset", "Upload zip")
    page.locator(UPLOAD_INPUT).set_input_files(str(bad))
    alert = page.locator(ERROR_ALERT)
    alert.first.wait_for(timeout=60_000)
    text = alert.first.inner_text()
    assert "sneaky.zip" in text and "'..'" in text, text
    assert page.locator(EXCEPTION).count() == 0
