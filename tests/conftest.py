"""Shared fixtures: real music clips, a running app server, a headless browser.

Browser tests use Playwright with the system Chromium (``/usr/bin/chromium``,
Debian package ``chromium``); they skip when Playwright or Chromium is missing.
Screenshots go to ``$MUSICTAG_ARTIFACTS`` (default ``test-artifacts/``).

The suite runs musicnn in float32 (``$MUSICTAG_PRECISION``, unless already set): its
equality tests compare against float32 references (the golden fixtures, the Keras model)
to 1e-6; ``tests/test_precision.py`` checks the mixed-precision default against float32.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
os.environ.setdefault("MUSICTAG_PRECISION", "float32")
CLIPS = REPO.parent / "shared" / "data" / "clips"
CHROMIUM = os.environ.get("MUSICTAG_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SERVER_START_TIMEOUT_S = 90


@pytest.fixture(scope="session")
def clips_dir() -> Path:
    """Folder of real music clips (``../shared/data/clips``); skips when absent."""
    if not CLIPS.is_dir() or not any(CLIPS.glob("*.wav")):
        pytest.skip(f"music clips not found at {CLIPS}")
    return CLIPS


@pytest.fixture
def rng() -> np.random.Generator:
    """A seeded random generator."""
    return np.random.default_rng(20240601)


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """Where tests write screenshots and logs (``$MUSICTAG_ARTIFACTS`` or ``test-artifacts/``)."""
    path = Path(os.environ.get("MUSICTAG_ARTIFACTS") or REPO / "test-artifacts").resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as resp:
            return resp.status == 200
    except (urllib.error.URLError, OSError):
        return False


@contextlib.contextmanager
def serve_app(env_updates: dict[str, str], log_path: Path, *, timeout_s: float = SERVER_START_TIMEOUT_S):
    """Run ``streamlit run app.py`` headless on a free port until the block ends.

    Yields ``(url, proc)`` once ``/_stcore/health`` answers. The server's output
    goes to ``log_path``; its whole process group is terminated at the end.
    """
    pytest.importorskip("streamlit")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = dict(os.environ, PYTHONUNBUFFERED="1", TF_CPP_MIN_LOG_LEVEL="2")
    env.update(env_updates)
    cmd = [
        sys.executable, "-m", "streamlit", "run", "app.py",
        "--server.headless", "true",
        "--server.port", str(port),
        "--server.address", "127.0.0.1",
        "--server.fileWatcherType", "none",
        "--browser.gatherUsageStats", "false",
    ]  # fmt: skip
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline = time.monotonic() + timeout_s
            while not _healthy(url):
                if proc.poll() is not None:
                    pytest.fail(f"streamlit exited with {proc.returncode}; see {log_path}:\n{log_path.read_text()[-3000:]}")
                if time.monotonic() > deadline:
                    pytest.fail(f"streamlit did not answer /_stcore/health within {timeout_s} s; see {log_path}")
                time.sleep(0.5)
            print(f"\nstreamlit server at {url} (log: {log_path})")
            yield url, proc
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=15)


@pytest.fixture(scope="session")
def app_server(tmp_path_factory, artifacts_dir):
    """Start the app headless on a free port; yield its base URL.

    MUSICTAG_CACHE and MUSICTAG_RUNS point to temporary folders. The server's
    output is written to ``<artifacts>/streamlit-server.log``.
    """
    tmp = tmp_path_factory.mktemp("app")
    env = {"MUSICTAG_CACHE": str(tmp / "cache"), "MUSICTAG_RUNS": str(tmp / "runs")}
    with serve_app(env, artifacts_dir / "streamlit-server.log") as (url, _proc):
        yield url


@pytest.fixture(scope="session")
def browser():
    """Headless Chromium driven by Playwright (system Chromium, no download needed)."""
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium not found at {CHROMIUM} (apt-get install chromium, or set MUSICTAG_CHROMIUM)")
    pw = sync_api.sync_playwright().start()
    try:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
    except Exception:
        pw.stop()
        raise
    yield b
    b.close()
    pw.stop()


@pytest.fixture
def page(browser):
    """A fresh browser page (own context) with a desktop-sized viewport."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(30_000)
    pg = context.new_page()
    yield pg
    context.close()


@pytest.fixture
def screenshot(artifacts_dir):
    """``screenshot(page, name)`` saves a full-page PNG under the artifacts folder and prints its path."""

    def take(pg, name: str) -> Path:
        path = artifacts_dir / f"{name}.png"
        # Streamlit scrolls inside its main container, so grow the viewport to fit it.
        height = pg.evaluate(
            "() => { const m = document.querySelector('[data-testid=\"stMain\"]');"
            " return m ? m.scrollHeight : document.body.scrollHeight; }"
        )
        size = pg.viewport_size or {"width": 1400, "height": 1000}
        pg.set_viewport_size({"width": size["width"], "height": max(size["height"], min(int(height), 8000))})
        pg.wait_for_timeout(750)
        pg.screenshot(path=str(path), full_page=True)
        pg.set_viewport_size(size)
        print(f"screenshot: {path}")
        return path

    return take


@pytest.fixture
def private_explore_cache(tmp_path, monkeypatch):
    """A test's own MUSICTAG_CACHE and a fresh process-wide projection cache (Explore tests)."""
    monkeypatch.setenv("MUSICTAG_CACHE", str(tmp_path / "cache"))
    import musictag_core.explore.projection as mp

    monkeypatch.setattr(mp, "_DEFAULT_CACHE", None)
