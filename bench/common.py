"""Helpers shared by the benchmark scripts: timing and JSON output."""

from __future__ import annotations

import json
import os
import platform
import socket
import statistics
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
CLIPS = Path(__file__).resolve().parents[2] / "shared" / "data" / "clips"


def timeit(fn: Callable[[], object], *, repeat: int = 3) -> dict:
    """Run ``fn`` ``repeat`` times; return min/median wall seconds."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return {"min_s": round(min(times), 4), "median_s": round(statistics.median(times), 4), "repeat": repeat}


def timeit_cpu(fn: Callable[[], object], *, repeat: int) -> tuple[dict, object]:
    """Run ``fn`` ``repeat`` times; return min/median wall and median process CPU seconds, and its last result."""
    walls, cpus, out = [], [], None
    for _ in range(repeat):
        c0, t0 = time.process_time(), time.perf_counter()
        out = fn()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    return {"median_s": round(statistics.median(walls), 3), "min_s": round(min(walls), 3),
            "cpu_s": round(statistics.median(cpus), 3), "repeat": repeat}, out


def free_port() -> int:
    """A free TCP port on 127.0.0.1, for a server a bench starts."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def streamlit_healthy(url: str) -> bool:
    """Whether the Streamlit server at ``url`` answers its health check."""
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


def machine() -> dict:
    return {"python": platform.python_version(), "cpus": os.cpu_count(), "machine": platform.machine()}


def write_result(name: str, data: dict) -> Path:
    """Write ``data`` (plus machine info) to ``bench/results/<name>.json``."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    payload = {"benchmark": name, "machine": machine(), "when": time.strftime("%Y-%m-%dT%H:%M:%S"), **data}
    path.write_text(json.dumps(payload, indent=2))
    print(json.dumps(payload, indent=2))
    return path
