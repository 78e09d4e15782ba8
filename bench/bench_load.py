"""Load benchmark: 8 browser sessions tag the same 30 s clip at once.

Runs ``tests/test_load_browser.py::test_concurrent_sessions_tag_the_same_clip`` (a dedicated
Streamlit server, headless Chromium through Playwright) with ``MUSICTAG_WRITE_BENCH=1``, so the
figures land in ``bench/results/load.json``: per-session latency from upload to genre chart,
total wall time, model loads and tag computations counted from the server log, and the peak
RSS of the server process tree read from /proc (VmRSS sampled every 0.2 s, and VmHWM).

Usage: ``python bench/bench_load.py`` from the project folder (needs /usr/bin/chromium and
../shared/data/clips).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    env = dict(os.environ, MUSICTAG_WRITE_BENCH="1")
    cmd = [sys.executable, "-m", "pytest", "-q", "-s", "tests/test_load_browser.py::test_concurrent_sessions_tag_the_same_clip"]
    code = subprocess.call(cmd, cwd=ROOT, env=env)
    out = ROOT / "bench" / "results" / "load.json"
    if out.is_file():
        print(out.read_text())
    return code


if __name__ == "__main__":
    sys.exit(main())
