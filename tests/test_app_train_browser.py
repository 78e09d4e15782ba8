"""Browser tests of the Train page and the Runs view (headless Chromium, Playwright).

A module-scoped Streamlit server gets its own runs folder and a cache folder in
which the demo corpus is linked from the developer's cache (generated there once,
about a minute, then reused), so no test waits for the corpus. A second server
whose runs folder cannot be created checks the error at Start.

Runs are tiny: a CNN on 36 demo clips (1 s segments, 32 mel bands; about 0.5 s
per epoch) that is stopped, and logistic regression on an uploaded feature table.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import time
from pathlib import Path

import numpy as np
import pytest

from .conftest import serve_app
from .test_app_browser import APP, ERROR_ALERT, _expect, assert_no_exception
from .test_app_browser import wait_idle as _wait_idle

pytestmark = [pytest.mark.browser, pytest.mark.slow]

LIVE = ".st-key-train_live"
EVALUATION = ".st-key-train_evaluation"
IDLE_TIMEOUT_MS = 60_000
RUN_TIMEOUT_MS = 120_000  # worker start (TensorFlow import) + input preparation on 2 cores

#: Form values of the tiny live CNN run (label -> value).
TINY_CNN = {
    "Use at most N tracks": "36",
    "Learning rate": "1e-3",
    "Epochs": "400",
    "Patience": "0",
    "Segment length (s)": "1",
    "Segments per track": "4",
    "Use the first … s": "8",
    "Mel bands": "32",
}


# ---------------------------------------------------------------------------
# servers and helpers
# ---------------------------------------------------------------------------


@contextlib.contextmanager
def _serve(env_updates: dict[str, str], log_path: Path, browser):
    """Start a server and open its root page once (a warm-up: the first run imports the app's modules).

    A fresh server opened directly on a sub-page is covered by
    ``test_app_browser.test_first_request_to_a_sub_page_goes_through_the_router``."""
    with serve_app(env_updates, log_path) as (url, _proc):
        ctx = browser.new_context()
        try:
            warm = ctx.new_page()
            warm.goto(url)
            warm.get_by_role("heading", name="Tag", exact=True).first.wait_for(timeout=60_000)
        finally:
            ctx.close()
        yield url


@pytest.fixture(scope="module")
def demo_dir() -> Path:
    """The demo corpus in the developer's cache (generated on first use, then reused)."""
    from musictag_core.datasets.demo import demo_corpus_dir

    return demo_corpus_dir()


@pytest.fixture(scope="module")
def train_app(tmp_path_factory, artifacts_dir, demo_dir, browser):
    """A server with its own runs folder; yields ``(url, runs_dir)``."""
    tmp = tmp_path_factory.mktemp("train-app")
    cache = tmp / "cache"
    cache.mkdir()
    (cache / demo_dir.name).symlink_to(demo_dir, target_is_directory=True)
    runs = tmp / "runs"
    env = {"MUSICTAG_CACHE": str(cache), "MUSICTAG_RUNS": str(runs), "MUSICTAG_DATA": str(tmp)}
    with _serve(env, artifacts_dir / "streamlit-train-server.log", browser) as url:
        yield url, runs
    # never leave a worker behind
    for status in runs.glob("*/status.json"):
        pid = json.loads(status.read_text()).get("pid")
        if pid and json.loads(status.read_text()).get("state") in ("queued", "running"):
            with contextlib.suppress(OSError):
                os.killpg(pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def feature_table(tmp_path_factory) -> Path:
    """A feature-table CSV: 3 genres x 20 rows of 6 separable numeric features."""
    import pandas as pd

    rng = np.random.default_rng(3)
    rows = []
    for k, genre in enumerate(["blues", "jazz", "rock"]):
        X = rng.normal(0, 1, (20, 6)) + 3 * np.eye(6)[k] + 3 * np.eye(6)[k + 3]
        for i, x in enumerate(X):
            rows.append(
                {"filename": f"{genre}.{i:05d}.wav", "length": 661794, **{f"f{j}": v for j, v in enumerate(x)}, "label": genre}
            )
    path = tmp_path_factory.mktemp("table") / "features.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def wait_idle(page, timeout_ms: int = IDLE_TIMEOUT_MS) -> None:
    """Wait until no full script run is going on (fragment reruns do not count)."""
    _wait_idle(page, timeout_ms)


def open_page(page, url: str, title: str) -> None:
    page.goto(url, wait_until="domcontentloaded", timeout=60_000)
    page.wait_for_selector(APP, timeout=60_000)
    page.get_by_role("heading", name=title, exact=True).first.wait_for(timeout=60_000)
    page.wait_for_timeout(500)  # the script-state attribute can read notRunning before the first run starts
    wait_idle(page)


def fill(page, label: str, value: str) -> None:
    box = page.get_by_label(label, exact=True)
    box.fill(value)
    box.press("Enter")
    wait_idle(page)


def open_expander(page, title: str) -> None:
    page.locator('[data-testid="stExpander"] summary', has_text=title).click()


def fill_tiny_cnn(page) -> None:
    page.get_by_text("Demo corpus", exact=True).click()  # the easy corpus, linked into the server's cache
    wait_idle(page)
    open_expander(page, "Input features")
    for label, value in TINY_CNN.items():
        fill(page, label, value)


def upload_feature_table(page, table: Path) -> None:
    """Choose "Upload a feature table (CSV)" on the Train page and upload ``table``."""
    page.get_by_text("Upload a feature table (CSV)").click()
    wait_idle(page)
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(table))
    wait_idle(page)


def start(page) -> str:
    """Press Start; return the run id the page then shows (from the URL)."""
    before = page.url
    page.get_by_role("button", name="Start training").click()
    page.wait_for_function(
        "(before) => location.search.includes('run=') && location.href !== before", arg=before, timeout=30_000
    )
    wait_idle(page)
    return page.url.split("run=")[1].split("&")[0]


#: JS: epochs drawn in the live loss figure's train curve (0 before the first epoch). Plotly keeps
#: typed arrays of the spec as ``{bdata, _inputArray}`` in ``.data``; ``_fullData`` has plain arrays.
_EPOCHS_JS = f"""() => {{
    const plot = document.querySelector('{LIVE} .js-plotly-plot');
    const traces = plot && (plot._fullData || plot.data);
    const tr = traces && traces.find(t => t.name === 'train');
    if (!tr || !tr.x) return 0;
    return tr.x.length ?? (tr.x._inputArray ? tr.x._inputArray.length : 0);
}}"""


#: JS: the titles of the plotly figures under a selector.
_TITLES_JS = """(sel) => Array.from(document.querySelectorAll(sel + ' .js-plotly-plot'))
    .map(p => (p.layout && p.layout.title && (p.layout.title.text ?? p.layout.title)) || '')"""


def curve_epochs(page) -> int:
    return page.evaluate(_EPOCHS_JS)


def wait_epochs_above(page, n: int, timeout_ms: int = RUN_TIMEOUT_MS) -> int:
    """Wait until the live curve shows more than ``n`` epochs; return how many."""
    page.wait_for_function(f"(n) => ({_EPOCHS_JS})() > n", arg=n, timeout=timeout_ms)
    return curve_epochs(page)


def stop_active_runs(runs: Path, timeout_s: float = 90) -> None:
    """Stop whatever a previous (failed) test left running, so the next run is not queued behind it."""
    from musictag_core.runs import ACTIVE_STATES, Run

    active = [d for d in runs.glob("*/status.json") if Run(d.parent).status()["state"] in ACTIVE_STATES]
    for status in active:
        Run(status.parent).request_stop()
    wait_for(lambda: all(Run(s.parent).status()["state"] not in ACTIVE_STATES for s in active), timeout_s, "runs to stop")


_PROGRESS_EPOCH_JS = f"""() => {{
    const bar = document.querySelector('{LIVE} [data-testid="stProgress"]');
    const m = bar && bar.innerText.match(/epoch (\\d+)\\//);
    return m ? parseInt(m[1]) : 0;
}}"""


def wait_progress_epoch_above(page, n: int, timeout_ms: int = 90_000) -> int:
    """Wait until the live progress line says ``epoch k/...`` with ``k > n``; return k."""
    page.wait_for_function(f"(n) => ({_PROGRESS_EPOCH_JS})() > n", arg=n, timeout=timeout_ms)
    return page.evaluate(_PROGRESS_EPOCH_JS)


def run_state(runs: Path, run_id: str) -> str:
    from musictag_core.runs import Run

    return Run(runs / run_id).status()["state"]


def wait_for(cond, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


# ---------------------------------------------------------------------------
# tests
# ---------------------------------------------------------------------------


def test_feature_table_run_finishes_with_a_complete_evaluation(train_app, page, screenshot, feature_table):
    url, runs = train_app
    open_page(page, f"{url}/train", "Train")
    assert_no_exception(page)
    upload_feature_table(page, feature_table)
    # only classical models take a feature table
    _expect()(page.get_by_role("combobox", name="Model")).to_have_value(re.compile(r"^logreg"))
    run_id = start(page)
    page.locator(EVALUATION).wait_for(timeout=RUN_TIMEOUT_MS)
    wait_idle(page)
    assert_no_exception(page)
    assert run_state(runs, run_id) == "finished"
    screenshot(page, "train-finished-feature-table")
    evaluation = page.locator(EVALUATION)
    text = evaluation.inner_text()
    assert "Evaluation on the test split" in text and "Accuracy" in text
    evaluation.locator('[data-testid="stDataFrame"]').wait_for(timeout=10_000)  # metrics table
    assert evaluation.locator('[data-testid="stDataFrame"]').count() == 1
    evaluation.locator(".js-plotly-plot").nth(1).wait_for(timeout=10_000)
    titles = [re.sub("<[^>]+>", "", t) for t in page.evaluate(_TITLES_JS, EVALUATION)]
    assert titles == ["Confusion matrix (test split)", "F1 per label (test split)"]
    heat = page.evaluate(f"() => document.querySelector('{EVALUATION} .js-plotly-plot').data[0]")
    assert heat["type"] == "heatmap" and heat["x"] == ["blues", "jazz", "rock"]
    metrics = json.loads((runs / run_id / "metrics.json").read_text())
    counts = heat["text"]["_inputArray"] if isinstance(heat["text"], dict) else heat["text"]  # typed array in the page
    assert np.sum(counts) == metrics["n_tracks"] == 9
    # a model of a feature table's columns scores tables, not audio: no link to the Tag page, and it says so
    assert page.get_by_role("link", name=re.compile("Tag songs with this model")).count() == 0
    main = page.locator('[data-testid="stMain"]').inner_text()
    assert "not offered on the Tag page" in main
    # the column rule's exclusions, as the run card records them (#13)
    assert "Feature table: excluded columns: filename (row ids (id column)); length (identifier or file metadata" in main
    card = json.loads((runs / run_id / "card.json").read_text())
    assert card["feature_columns"] == [f"f{j}" for j in range(6)]
    from musictag_core.models.loading import list_models

    models = list_models(runs_dir=runs)
    assert run_id not in [m.name for m in models]


def test_live_run_reload_two_viewers_queue_and_stop(train_app, browser, page, screenshot):
    url, runs = train_app
    stop_active_runs(runs)
    open_page(page, f"{url}/train", "Train")
    fill_tiny_cnn(page)
    run_a = start(page)
    page.locator(LIVE).wait_for(timeout=30_000)
    # the curve moves: epochs are added while we watch
    n = wait_epochs_above(page, 0)
    progress = page.locator(f'{LIVE} [data-testid="stProgress"]')
    assert "epoch" in progress.inner_text() and "ETA" in progress.inner_text()
    n = wait_epochs_above(page, n, 30_000)
    screenshot(page, "train-live")
    # reload: the page comes back to the same run (?run=) and the live curve continues
    page.reload()
    page.locator(LIVE).wait_for(timeout=30_000)
    assert run_a in page.url
    after = wait_epochs_above(page, n, 30_000)
    assert after > n
    # a second browser context watches the same run (the newest active run by default)
    other_ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        other = other_ctx.new_page()
        other.bring_to_front()  # headless Chromium throttles pages in the background: plotly would not draw
        open_page(other, f"{url}/train", "Train")
        other.locator(LIVE).wait_for(timeout=30_000)
        assert run_a in other.url
        # its progress line moves on (the plot of a second page can lag on 2 busy cores)
        m = wait_progress_epoch_above(other, 0)
        wait_progress_epoch_above(other, m)
        # a second Start while A trains is queued
        page.bring_to_front()
        page.get_by_text("Demo corpus", exact=True).click()  # the reload reset the form to the default corpus
        wait_idle(page)
        open_expander(page, "Input features")
        run_b = start(page)
        assert run_b != run_a
        _expect()(page.get_by_text("queued", exact=False).first).to_be_visible(timeout=30_000)
        assert page.locator('[data-testid="stAlertContentInfo"]', has_text="queued").count() == 1
        assert run_state(runs, run_b) == "queued" and run_state(runs, run_a) == "running"
        screenshot(page, "train-queued")
        # stop the queued run: it ends without training
        page.locator(".st-key-train_stop button").click()
        page.get_by_text("Stopped on request").wait_for(timeout=30_000)
        assert run_state(runs, run_b) == "stopped"
        # the other viewer stops A: it evaluates its best weights and shows the evaluation
        other.bring_to_front()
        other.locator(".st-key-train_stop button").click()
        other.locator(EVALUATION).wait_for(timeout=60_000)
        wait_idle(other)
        assert_no_exception(other)
        assert run_state(runs, run_a) == "stopped"
        other.locator(f'{EVALUATION} [data-testid="stMetric"]').wait_for(timeout=10_000)
        assert "mAP (macro)" in other.locator(f'{EVALUATION} [data-testid="stMetric"]').inner_text()  # multi-label
        other.locator(f"{EVALUATION} .js-plotly-plot").nth(1).wait_for(timeout=10_000)
        titles = [re.sub("<[^>]+>", "", t) for t in other.evaluate(_TITLES_JS, EVALUATION)]
        assert titles == ["Per-label confusion (test split)", "F1 per label (test split)"]
        screenshot(other, "train-stopped-evaluation")
    finally:
        other_ctx.close()


def test_killed_worker_shows_failed_with_reason(train_app, page, screenshot):
    from musictag_core.training import RunConfig, start_run

    url, runs = train_app
    stop_active_runs(runs)
    cfg = RunConfig(dataset="demo", model="cnn", preset="fast", epochs=400, max_tracks=36)
    run_id = start_run(cfg, runs_dir=runs)
    open_page(page, f"{url}/train?run={run_id}", "Train")
    wait_for(lambda: run_state(runs, run_id) == "running", 60, "the worker to run")
    page.locator(LIVE).wait_for(timeout=30_000)
    pid = json.loads((runs / run_id / "status.json").read_text())["pid"]
    os.kill(pid, signal.SIGKILL)
    alert = page.locator(ERROR_ALERT, has_text="Run failed")
    alert.wait_for(timeout=30_000)
    assert "killed or crashed" in alert.inner_text() and str(pid) in alert.inner_text()
    assert run_state(runs, run_id) == "failed"
    assert_no_exception(page)
    screenshot(page, "train-killed")


def test_path_outside_the_data_roots_is_refused(train_app, page):
    url, _ = train_app
    open_page(page, f"{url}/train", "Train")
    page.get_by_text("Folder or CSV path").click()
    wait_idle(page)
    fill(page, "Dataset path", "/etc")
    alert = page.locator(ERROR_ALERT, has_text="outside the allowed data folders")
    alert.wait_for(timeout=10_000)
    assert "MUSICTAG_DATA" in alert.inner_text()
    _expect()(page.get_by_role("button", name="Start training")).to_be_disabled()


def test_unwritable_runs_folder_gives_a_clear_error_at_start(tmp_path, artifacts_dir, demo_dir, browser, page, screenshot):
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / demo_dir.name).symlink_to(demo_dir, target_is_directory=True)
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the runs folder should be\n")
    env = {"MUSICTAG_CACHE": str(cache), "MUSICTAG_RUNS": str(blocker / "runs")}
    with _serve(env, artifacts_dir / "streamlit-unwritable-server.log", browser) as url:
        open_page(page, f"{url}/train", "Train")
        assert_no_exception(page)
        page.get_by_text("Demo corpus", exact=True).click()  # the corpus linked into this cache
        wait_idle(page)
        page.get_by_role("button", name="Start training").click()
        alert = page.locator(ERROR_ALERT, has_text="Cannot start the run")
        alert.wait_for(timeout=30_000)
        text = alert.inner_text()
        assert "runs folder" in text and "cannot be created" in text and "MUSICTAG_RUNS" in text
        assert_no_exception(page)
        screenshot(page, "train-unwritable-runs")
    assert blocker.read_text() == "a file where the runs folder should be\n"


def test_runs_view_lists_compares_and_deletes(train_app, page, screenshot, feature_table):
    from musictag_core.training import RunConfig, create_run, execute_run

    url, runs = train_app
    made = []
    for model in ("logreg", "svc"):
        d = create_run(RunConfig(dataset=str(feature_table), model=model, name=f"table {model}"), runs_dir=runs)
        assert execute_run(d) == "finished"
        made.append(d.name)
    open_page(page, f"{url}/runs", "Runs")
    assert_no_exception(page)
    # the table (a canvas grid: its cells are not in the DOM)
    page.locator('[data-testid="stDataFrame"]').first.wait_for(timeout=30_000)
    # the two newest runs with metrics are compared by default: curves and metric bars
    chosen = page.locator(".st-key-runs_compare")
    _expect()(chosen).to_contain_text(made[1], timeout=30_000)
    _expect()(chosen).to_contain_text(made[0])
    page.locator(".st-key-runs_fig_metrics .js-plotly-plot").wait_for(timeout=10_000)
    bars = page.evaluate("() => document.querySelector('.st-key-runs_fig_metrics .js-plotly-plot').data.map(t => t.name)")
    assert sorted(bars) == sorted(made)
    page.locator(".st-key-runs_fig_curves .js-plotly-plot").wait_for(timeout=10_000)
    screenshot(page, "runs-view")
    # delete one (with confirmation); it disappears from the table and from disk
    pick = page.get_by_role("combobox", name="Run to delete")
    pick.click()
    page.keyboard.type(made[0])  # filters the list
    page.get_by_role("option", name=made[0]).click()
    wait_idle(page)
    page.get_by_role("button", name="Delete…").click()
    dialog = page.get_by_role("dialog")
    _expect()(dialog).to_contain_text(made[0])
    dialog.get_by_role("button", name="Delete", exact=True).click()
    page.get_by_text(f"Deleted run {made[0]}").wait_for(timeout=10_000)
    assert not (runs / made[0]).exists() and (runs / made[1]).exists()
    wait_idle(page)
    _expect()(page.locator(".st-key-runs_compare")).not_to_contain_text(made[0])
    page.get_by_role("combobox", name="Run to delete").click()
    page.keyboard.type(made[0][:-2])
    _expect()(page.get_by_role("option", name=made[0])).to_have_count(0)
    assert_no_exception(page)


def _toggle(page, label: str) -> None:
    page.locator('[data-testid="stCheckbox"]', has_text=label).first.locator("label").click()
    wait_idle(page)


#: JS: SHA-1-free fingerprint of an audio element's media (its byte length and a rolling sum).
_AUDIO_BYTES_JS = """async (el) => {
    const buf = new Uint8Array(await (await fetch(el.src)).arrayBuffer());
    let h = 0;
    for (let i = 0; i < buf.length; i += 7) h = (h * 31 + buf[i]) >>> 0;
    return [buf.length, h];
}"""


def test_augmentation_preview_plays_original_and_augmented_and_redraws(train_app, page, screenshot):
    url, _ = train_app
    open_page(page, f"{url}/train", "Train")
    open_expander(page, "Augmentation")
    expander = page.locator('[data-testid="stExpander"]', has_text="Augmented variants per training track")
    assert expander.get_by_text("Preview on a synthesised").count() == 0  # nothing enabled, no preview
    _toggle(page, "Pitch shift")
    expander.get_by_text("Preview on a synthesised").wait_for(timeout=IDLE_TIMEOUT_MS)
    players = expander.locator("audio")
    _expect()(players).to_have_count(2, timeout=30_000)
    caption = expander.get_by_text(re.compile(r"augmented \(draw 0\)"))
    caption.wait_for(timeout=10_000)
    first_caption = caption.inner_text()
    assert "pitch shift" in first_caption or "no transform drawn" in first_caption
    original = players.nth(0).evaluate(_AUDIO_BYTES_JS)
    augmented = players.nth(1).evaluate(_AUDIO_BYTES_JS)
    assert original[0] > 10_000 and augmented[0] > 10_000  # real WAV media behind both players
    # a new draw: the parameters (and, when a shift was drawn, the audio) change
    for draw in (1, 2, 3):
        expander.get_by_role("button", name="New draw").click()
        wait_idle(page)
        expander.get_by_text(re.compile(rf"augmented \(draw {draw}\)")).wait_for(timeout=IDLE_TIMEOUT_MS)
    shifted = [
        expander.locator("audio").nth(1).evaluate(_AUDIO_BYTES_JS) != original,
        "pitch shift" in expander.get_by_text(re.compile(r"augmented \(draw 3\)")).inner_text(),
    ]
    assert shifted[0] == shifted[1]  # the audio differs from the original exactly when a shift was drawn
    assert_no_exception(page)
    screenshot(page, "train-augmentation-preview")


def _choose(page, label: str, option: str) -> None:
    """Pick ``option`` in the select box ``label``.

    A rerun that lands right after the box opens (the page re-checks the dataset after an
    upload) closes its list again: then the box is opened once more.
    """
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for attempt in range(3):
        wait_idle(page)
        page.get_by_role("combobox", name=label).click()
        try:
            page.get_by_role("option", name=option, exact=True).click(timeout=5_000 if attempt < 2 else 30_000)
            break
        except PlaywrightTimeout:
            if attempt == 2:
                raise
            page.keyboard.press("Escape")
    wait_idle(page)


def test_cross_validated_run_from_the_page_reports_every_fold(train_app, page, screenshot, feature_table):
    url, runs = train_app
    stop_active_runs(runs)
    open_page(page, f"{url}/train", "Train")
    upload_feature_table(page, feature_table)
    _choose(page, "Cross-validation", "3 folds")
    run_id = start(page)
    page.locator(EVALUATION).wait_for(timeout=RUN_TIMEOUT_MS)
    wait_idle(page)
    assert_no_exception(page)
    assert run_state(runs, run_id) == "finished"
    metrics = json.loads((runs / run_id / "metrics.json").read_text())
    cv = metrics["cv"]
    assert cv["k"] == 3 and cv["completed"] == 3 and len(cv["folds"]) == 3
    accs = [f["accuracy"] for f in cv["folds"]]
    assert cv["mean"]["accuracy"] == pytest.approx(np.mean(accs))
    assert cv["std"]["accuracy"] == pytest.approx(np.std(accs, ddof=1))
    assert json.loads((runs / run_id / "config.json").read_text())["cv"] == 3
    text = page.locator(EVALUATION).inner_text()
    assert "3-fold cross-validation (3 of 3 folds completed)" in text
    assert "pooled out-of-fold predictions" in text  # the headline is the pooled out-of-fold predictions (#13)
    screenshot(page, "train-cv-evaluation")


def test_finished_audio_run_tags_on_the_tag_page_from_the_link(train_app, page, screenshot, demo_dir):
    """Train page -> "Tag songs with this model" -> the Tag page has the run selected and tags audio with it."""
    from musictag_core.training import RunConfig, start_run

    url, runs = train_app
    stop_active_runs(runs)
    cfg = RunConfig(dataset="demo", model="logreg", preset="fast", max_tracks=36, name="link test")
    run_id = start_run(cfg, runs_dir=runs)
    wait_for(lambda: run_state(runs, run_id) not in ("queued", "running"), RUN_TIMEOUT_MS / 1000, "the run to end")
    assert run_state(runs, run_id) == "finished"
    open_page(page, f"{url}/train?run={run_id}", "Train")
    page.locator(EVALUATION).wait_for(timeout=30_000)
    page.get_by_role("link", name=re.compile("Tag songs with this model")).click()
    page.get_by_role("heading", name="Tag", exact=True).first.wait_for(timeout=60_000)
    wait_idle(page)
    _expect()(page.get_by_role("combobox", name="Model")).to_have_value(re.compile(rf"^{re.escape(run_id)}"))
    clip = sorted(demo_dir.rglob("*.wav"))[0]
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(clip))
    page.wait_for_function("() => document.querySelectorAll('.js-plotly-plot').length >= 2", timeout=RUN_TIMEOUT_MS)
    wait_idle(page)
    assert_no_exception(page)
    assert page.locator(ERROR_ALERT).count() == 0
    text = page.locator('[data-testid="stMain"]').inner_text()
    assert clip.name in text and "Summary." in text
    screenshot(page, "tag-with-trained-run")


# ---------------------------------------------------------------------------
# the form runs what it shows (#13)
# ---------------------------------------------------------------------------

_FIELD_ERROR = ".st-key-train_{key}_error"


def test_out_of_range_values_block_start_with_the_reasons_next_to_the_fields(train_app, page, screenshot):
    url, runs = train_app
    open_page(page, f"{url}/train", "Train")
    page.get_by_text("Demo corpus", exact=True).click()
    wait_idle(page)
    before = set(p.name for p in runs.iterdir()) if runs.exists() else set()
    start_button = page.get_by_role("button", name="Start training")
    _expect()(start_button).to_be_enabled()
    typed = {"Epochs": ("0", "epochs"), "Learning rate": ("1e9", "lr"), "Batch size": ("0", "batch"), "Dropout": ("5", "dropout")}
    for label, (value, _) in typed.items():
        fill(page, label, value)
    # every value stays as typed, and each field says why it is refused, in words, under itself
    for label, (value, key) in typed.items():
        _expect()(page.get_by_label(label, exact=True)).to_have_value(value)
        reason = page.locator(_FIELD_ERROR.format(key=key))
        _expect()(reason).to_be_visible()
        assert "out of range" in reason.inner_text() and value in reason.inner_text()
    assert "from 1 to" in page.locator(_FIELD_ERROR.format(key="epochs")).inner_text()
    assert "1e-06 to 1" in page.locator(_FIELD_ERROR.format(key="lr")).inner_text()
    assert "up to (not including) 1" in page.locator(_FIELD_ERROR.format(key="dropout")).inner_text()
    # the batch size is bounded by the training set (138 demo clips, 70 % of them train)
    assert "from 1 to 96" in page.locator(_FIELD_ERROR.format(key="batch")).inner_text()
    _expect()(start_button).to_be_disabled()
    summary = page.locator(".st-key-train_form_errors").inner_text()
    assert all(label in summary for label in typed)
    screenshot(page, "train-form-refused")
    # text that is no number, and a batch larger than the training set
    fill(page, "Epochs", "ten")
    _expect()(page.locator(_FIELD_ERROR.format(key="epochs"))).to_contain_text("'ten' is not a number")
    fill(page, "Batch size", "97")
    _expect()(page.locator(_FIELD_ERROR.format(key="batch"))).to_contain_text("the training set has 96 tracks")
    # fixing every field enables Start again
    for label, value in (("Epochs", "3"), ("Learning rate", "0.01"), ("Batch size", "96"), ("Dropout", "0.5")):
        fill(page, label, value)
    _expect()(start_button).to_be_enabled()
    _expect()(page.locator(".st-key-train_form_errors")).to_have_count(0)
    assert set(p.name for p in runs.iterdir()) - before == set() if runs.exists() else True  # nothing started
    assert_no_exception(page)


def test_a_run_started_from_the_page_has_the_settings_the_form_shows(train_app, page):
    url, runs = train_app
    stop_active_runs(runs)
    open_page(page, f"{url}/train", "Train")
    page.get_by_text("Demo corpus", exact=True).click()
    wait_idle(page)
    # 48 tracks: 36 leave 'rock' and 'classical' 2 artists each, which the pre-flight check refuses for a split
    form = {"Use at most N tracks": "48", "Learning rate": "0.003", "Epochs": "7", "Batch size": "5",
            "Patience": "2", "Dropout": "0.25", "Seed": "11", "Strength threshold": "60"}
    for label, value in form.items():
        fill(page, label, value)
    open_expander(page, "Input features")
    for label, value in {"Segment length (s)": "1", "Segments per track": "2", "Use the first … s": "4", "Mel bands": "24"}.items():
        fill(page, label, value)
    _expect()(page.get_by_text("Pre-flight check", exact=False).first).to_be_visible()
    run_id = start(page)
    config = json.loads((runs / run_id / "config.json").read_text())
    Run = __import__("musictag_core.runs", fromlist=["Run"]).Run
    Run(runs / run_id).request_stop()  # the settings are what this test is about, not the training
    assert config["dataset"] == "demo" and config["model"] == "cnn" and config["preset"] == "fast"
    assert config["max_tracks"] == 48 and config["learning_rate"] == 0.003 and config["epochs"] == 7
    assert config["batch_size"] == 5 and config["patience"] == 2 and config["dropout"] == 0.25
    assert config["seed"] == 11 and config["threshold"] == 60.0
    assert config["segments"] == {"length_s": 1.0, "n_segments": 2, "max_duration_s": 4.0}
    assert config["features"] == {"n_mels": 24}
    # the page shows the same values after the run started (nothing fell back to an earlier value)
    for label, value in form.items():
        _expect()(page.get_by_label(label, exact=True)).to_have_value(value)
    wait_for(lambda: run_state(runs, run_id) not in ("queued", "running"), 120, "the run to stop")


def _checked(page, label: str) -> bool:
    """Whether a checkbox or toggle is on (a toggle's input has the role ``switch``)."""
    return page.locator('[data-testid="stCheckbox"]', has_text=label).first.locator("input").is_checked()


def test_evaluation_settings_from_the_page_reach_the_run(train_app, page, screenshot, feature_table):
    """#13: cv 3 folds, 2 repeats, Tune on, no test split, chosen in the browser, are the run's config.json
    (logistic regression on the 60-row feature table: 6 folds, each with an inner-CV search)."""
    url, runs = train_app
    stop_active_runs(runs)
    open_page(page, f"{url}/train", "Train")
    upload_feature_table(page, feature_table)
    settings = page.locator(".st-key-train_evaluation_settings")
    repeats = page.get_by_label("Repeats", exact=True)
    _expect()(repeats).to_be_disabled()  # one split: nothing to repeat
    _choose(page, "Cross-validation", "3 folds")
    _expect()(repeats).to_be_enabled()
    fill(page, "Repeats", "2")
    _toggle(page, "Hold out a test split")
    _toggle(page, "Tune hyperparameters")
    _expect()(settings).to_contain_text("this dataset names no artists")  # the table has no artist column
    _expect()(page.get_by_text("3-fold cross-validation x 2 repeats", exact=False).first).to_be_visible()
    # the form as shown, read back from the page
    shown = {
        "cv": page.get_by_role("combobox", name="Cross-validation").input_value(),
        "cv_repeats": repeats.input_value(),
        "test_split": _checked(page, "Hold out a test split"),
        "tune": _checked(page, "Tune hyperparameters (inner cross-validation)"),
        "model": page.get_by_role("combobox", name="Model").input_value(),
    }
    assert shown == {"cv": "3 folds", "cv_repeats": "2", "test_split": False, "tune": True,
                     "model": "logreg: " + shown["model"].split(": ", 1)[1]}
    run_id = start(page)
    config = json.loads((runs / run_id / "config.json").read_text())
    assert {k: config[k] for k in ("cv", "cv_repeats", "test_split", "tune", "group_by_artist", "model")} == {
        "cv": 3, "cv_repeats": int(shown["cv_repeats"]), "test_split": shown["test_split"], "tune": shown["tune"],
        "group_by_artist": "auto", "model": "logreg",
    }
    page.locator(EVALUATION).wait_for(timeout=RUN_TIMEOUT_MS)
    wait_idle(page)
    assert_no_exception(page)
    assert run_state(runs, run_id) == "finished"
    cv = json.loads((runs / run_id / "metrics.json").read_text())["cv"]
    assert cv["k"] == 3 and cv["repeats"] == 2 and cv["completed"] == 6
    tuning = json.loads((runs / run_id / "card.json").read_text())["tuning"]
    assert len(tuning["per_fold"]) == 6  # a search in every outer fold
    assert "3-fold cross-validation x 2 repeats (6 of 6 folds completed)" in page.locator(EVALUATION).inner_text()
    # the form still shows what ran
    _expect()(repeats).to_have_value("2")
    screenshot(page, "train-evaluation-settings")
