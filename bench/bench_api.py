"""Load test of the REST API (``musictag serve``) against sequential in-process tagging, in the same run.

Run: ``python bench/bench_api.py [--clients 20] [--duration 60] [--baseline-duration 30]``.
Writes ``bench/results/api.json``.

A bounded asyncio client (httpx), loopback only, count- and time-limited:

1. ``musictag serve`` starts on a free 127.0.0.1 port (the shipped ``MSD_musicnn`` loaded and warmed);
   its RSS is read (``rss_mb.before``).
2. **sequential in-process vs concurrency 1, interleaved**: this process tags the real 30 s clips
   one after another with the same function the server calls (``commands.tag.file_result`` on the
   file's bytes), then one client posts the same clips one request at a time, in alternating blocks
   of ``--block`` files for ``--c1-duration`` seconds in all. Interleaving cancels the drift of a
   shared machine's load; CPU seconds per file (this process; the server plus the client) are
   recorded too, since they barely depend on the load.
3. **concurrency N** (20): N clients, each posting clips for ``--duration`` seconds (at most
   ``--max-requests`` in all): throughput, p50/p95/p99 latency, errors (must be 0); the server's
   RSS is sampled every 0.1 s (``rss_mb.peak``), then read again after the load (``rss_mb.after``).
   It is compared with sequential passes of ``--baseline-duration`` s right before and right after
   it (their mean); the load averages are recorded with each phase.

Targets (issue #15): overhead at concurrency 1 <= 10 % (``overhead_c1 = seq / c1 - 1``), and the
throughput at concurrency N no worse than sequential (``ratio_cN = cN / seq >= 1``).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from common import CLIPS, write_result  # noqa: E402


def _clips() -> list[tuple[str, bytes]]:
    paths = sorted(p for p in CLIPS.glob("*.wav") if p.stat().st_size > 1_000_000)  # the 30 s GTZAN clips
    if not paths:
        raise SystemExit(f"no real clips in {CLIPS}")
    return [(p.name, p.read_bytes()) for p in paths]


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def start_server(env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    cmd = [sys.executable, "-m", "musictag_core", "serve", "--port", "0", "--json", "--log-level", "warning"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            start_new_session=True)
    line = proc.stdout.readline().strip()
    if not line:
        raise SystemExit(f"musictag serve did not start (exit {proc.poll()})")
    return proc, json.loads(line)["url"]


def sequential(clips, seconds: float, max_files: int) -> dict:
    """Tag clips one after another in this process, as the server does for each file."""
    from musictag_core.commands.tag import file_result
    from musictag_core.models.loading import load_tagger
    from musictag_core.uploads.limits import limits

    tagger = load_tagger("MSD_musicnn")
    max_duration = limits().max_duration_s
    buf = io.BytesIO(clips[0][1])
    buf.name = clips[0][0]
    file_result(buf, tagger, max_duration=max_duration)  # warm, as the server is
    load0, c0, t0 = _load(), time.process_time(), time.perf_counter()
    n, lat = 0, []
    while time.perf_counter() - t0 < seconds and n < max_files:
        name, data = clips[n % len(clips)]
        buf = io.BytesIO(data)
        buf.name = name
        s = time.perf_counter()
        obj, pred = file_result(buf, tagger, max_duration=max_duration)
        json.dumps(obj)
        lat.append(time.perf_counter() - s)
        assert pred is not None, obj
        n += 1
    wall = time.perf_counter() - t0
    return {"files": n, "wall_s": round(wall, 2), "files_per_s": round(n / wall, 4),
            "latency_s": _percentiles(lat), "cpu_s": round(time.process_time() - c0, 2), "loadavg_before": load0,
            "loadavg_after": _load()}


def _percentiles(lat: list[float]) -> dict:
    if not lat:
        return {}
    a = np.asarray(lat)
    return {"p50": round(float(np.percentile(a, 50)), 4), "p95": round(float(np.percentile(a, 95)), 4),
            "p99": round(float(np.percentile(a, 99)), 4), "mean": round(float(a.mean()), 4), "max": round(float(a.max()), 4)}


def interleaved(url: str, clips, *, seconds: float, block: int) -> dict:
    """Alternate blocks of in-process sequential tagging and concurrency-1 requests (same clips)."""
    import httpx
    import psutil

    from musictag_core.commands.tag import file_result
    from musictag_core.models.loading import load_tagger
    from musictag_core.uploads.limits import limits

    tagger = load_tagger("MSD_musicnn")
    max_duration = limits().max_duration_s
    me = psutil.Process()
    cpu = lambda p: sum(p.cpu_times()[:2])  # noqa: E731
    wall = {"seq": 0.0, "api": 0.0}
    cpu_s = {"seq": 0.0, "api_server": 0.0, "api_client": 0.0}
    lat: dict[str, list[float]] = {"seq": [], "api": []}
    errors: list[str] = []
    k = 0
    load0 = _load()
    with httpx.Client(base_url=url, timeout=600) as http:
        server = psutil.Process(_server_pid(url))
        t_end = time.perf_counter() + seconds
        while time.perf_counter() < t_end:
            items = [clips[(k + i) % len(clips)] for i in range(block)]
            k += block
            c0, t0 = cpu(me), time.perf_counter()
            for name, data in items:
                buf = io.BytesIO(data)
                buf.name = name
                s = time.perf_counter()
                obj, pred = file_result(buf, tagger, max_duration=max_duration)
                json.dumps(obj)
                lat["seq"].append(time.perf_counter() - s)
            wall["seq"] += time.perf_counter() - t0
            cpu_s["seq"] += cpu(me) - c0
            c0, s0, t0 = cpu(me), cpu(server), time.perf_counter()
            for name, data in items:
                s = time.perf_counter()
                r = http.post("/v1/tag", files=[("files", (name, data, "audio/wav"))])
                if r.status_code != 200 or "error" in r.json()["results"][0]:
                    errors.append(f"{r.status_code}: {r.text[:200]}")
                lat["api"].append(time.perf_counter() - s)
            wall["api"] += time.perf_counter() - t0
            cpu_s["api_client"] += cpu(me) - c0
            cpu_s["api_server"] += cpu(server) - s0
    n = len(lat["seq"])
    return {
        "block": block, "files_each": n, "errors": len(errors), "error_samples": errors[:5],
        "sequential": {"wall_s": round(wall["seq"], 2), "files_per_s": round(n / wall["seq"], 4),
                       "cpu_s_per_file": round(cpu_s["seq"] / n, 4), "latency_s": _percentiles(lat["seq"])},
        "concurrency_1": {"wall_s": round(wall["api"], 2), "files_per_s": round(n / wall["api"], 4),
                          "cpu_s_per_file": round((cpu_s["api_server"] + cpu_s["api_client"]) / n, 4),
                          "server_cpu_s_per_file": round(cpu_s["api_server"] / n, 4),
                          "client_cpu_s_per_file": round(cpu_s["api_client"] / n, 4), "latency_s": _percentiles(lat["api"])},
        "loadavg_before": load0, "loadavg_after": _load(),
    }


_SERVER_PIDS: dict[str, int] = {}


def _server_pid(url: str) -> int:
    return _SERVER_PIDS[url]


async def load_phase(url: str, clips, *, clients: int, seconds: float, max_requests: int) -> dict:
    """``clients`` concurrent clients posting one clip per request until the time or count runs out."""
    import httpx

    latencies: list[float] = []
    errors: list[str] = []
    sent = 0
    deadline = time.perf_counter() + seconds

    async def client(i: int, http: httpx.AsyncClient) -> None:
        nonlocal sent
        k = i
        while time.perf_counter() < deadline and sent < max_requests:
            sent += 1
            name, data = clips[k % len(clips)]
            k += clients
            s = time.perf_counter()
            try:
                r = await http.post("/v1/tag", files=[("files", (name, data, "audio/wav"))])
                ok = r.status_code == 200 and "error" not in r.json()["results"][0]
                if not ok:
                    errors.append(f"{r.status_code}: {r.text[:200]}")
            except httpx.HTTPError as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
                ok = False
            if ok:
                latencies.append(time.perf_counter() - s)

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    load0 = _load()
    t0 = time.perf_counter()
    async with httpx.AsyncClient(base_url=url, timeout=600, limits=limits) as http:
        await asyncio.gather(*(client(i, http) for i in range(clients)))
    wall = time.perf_counter() - t0
    return {"clients": clients, "requests": sent, "ok": len(latencies), "errors": len(errors), "error_samples": errors[:5],
            "wall_s": round(wall, 2), "files_per_s": round(len(latencies) / wall, 4), "latency_s": _percentiles(latencies),
            "loadavg_before": load0, "loadavg_after": _load()}


class RssSampler:
    """Sample a process's RSS every ``interval_s`` in a thread; ``peak_mb`` is the largest seen."""

    def __init__(self, pid: int, interval_s: float = 0.1) -> None:
        import psutil

        self.proc = psutil.Process(pid)
        self.interval_s = interval_s
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def rss_mb(self) -> float:
        return round(self.proc.memory_info().rss / 2**20, 1)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.proc.memory_info().rss)
            self._stop.wait(self.interval_s)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def peak_mb(self) -> float:
        return round(self.peak / 2**20, 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--duration", type=float, default=60.0, help="seconds of the concurrent phase")
    ap.add_argument("--c1-duration", type=float, default=90.0, help="seconds of the interleaved sequential / concurrency-1 phase")
    ap.add_argument("--block", type=int, default=3, help="files per block of the interleaved phase")
    ap.add_argument("--baseline-duration", type=float, default=30.0, help="seconds of each sequential pass")
    ap.add_argument("--max-requests", type=int, default=5000, help="requests per phase at most")
    ap.add_argument("--workers", type=int, default=None, help="MUSICTAG_API_WORKERS of the server (default: its own)")
    ap.add_argument("--out", default="api", help="result name under bench/results/")
    args = ap.parse_args()

    clips = _clips()
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=str(ROOT))
    if args.workers:
        env["MUSICTAG_API_WORKERS"] = str(args.workers)
    t_start = time.perf_counter()
    proc, url = start_server(env)
    _SERVER_PIDS[url] = proc.pid
    startup_s = time.perf_counter() - t_start
    try:
        import psutil

        server = psutil.Process(proc.pid)
        rss_before = round(server.memory_info().rss / 2**20, 1)
        health = json.loads(__import__("urllib.request").request.urlopen(f"{url}/healthz", timeout=10).read())

        c1 = interleaved(url, clips, seconds=args.c1_duration, block=args.block)
        print("sequential", c1["sequential"]["files_per_s"], "concurrency 1", c1["concurrency_1"]["files_per_s"], "files/s",
              file=sys.stderr)
        seq1 = sequential(clips, args.baseline_duration, args.max_requests)
        print("sequential", seq1["files_per_s"], "files/s", file=sys.stderr)
        cpu0 = server.cpu_times()
        with RssSampler(proc.pid) as sampler:
            cn = asyncio.run(load_phase(url, clips, clients=args.clients, seconds=args.duration, max_requests=args.max_requests))
        cpu1 = server.cpu_times()
        cn["server_cpu_s"] = round((cpu1.user + cpu1.system) - (cpu0.user + cpu0.system), 2)
        print(f"concurrency {args.clients}", cn["files_per_s"], "files/s", file=sys.stderr)
        time.sleep(2.0)
        rss_after = round(server.memory_info().rss / 2**20, 1)
        seq2 = sequential(clips, args.baseline_duration, args.max_requests)
        print("sequential again", seq2["files_per_s"], "files/s", file=sys.stderr)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)

    seq = statistics.mean([seq1["files_per_s"], seq2["files_per_s"]])
    overhead_c1 = c1["sequential"]["files_per_s"] / c1["concurrency_1"]["files_per_s"] - 1
    cpu_overhead_c1 = c1["concurrency_1"]["cpu_s_per_file"] / c1["sequential"]["cpu_s_per_file"] - 1
    ratio_cn = cn["files_per_s"] / seq if seq else None
    write_result(args.out, {
        "setup": {"clips": [n for n, _ in clips], "clip_s": 30, "clients": args.clients, "duration_s": args.duration,
                  "server_workers": health["workers"], "server_max_queue": health["max_queue"], "startup_s": round(startup_s, 1),
                  "loopback_only": True, "model": "MSD_musicnn"},
        "sequential_vs_concurrency_1_interleaved": c1,
        "sequential_in_process": {"before_cN": seq1, "after_cN": seq2, "files_per_s": round(seq, 4)},
        f"concurrency_{args.clients}": cn,
        "rss_mb": {"before": rss_before, "peak": round(sampler.peak / 2**20, 1), "after": rss_after},
        "summary": {
            "c1_interleaved_sequential_files_per_s": c1["sequential"]["files_per_s"],
            "c1_files_per_s": c1["concurrency_1"]["files_per_s"],
            "overhead_c1": round(overhead_c1, 4),
            "overhead_c1_ok": overhead_c1 <= 0.10,
            "cpu_overhead_c1": round(cpu_overhead_c1, 4),
            "sequential_files_per_s": round(seq, 4),
            f"c{args.clients}_files_per_s": cn["files_per_s"],
            f"ratio_c{args.clients}_vs_sequential": None if ratio_cn is None else round(ratio_cn, 4),
            f"c{args.clients}_not_worse_than_sequential": ratio_cn is not None and ratio_cn >= 1.0,
            "errors": c1["errors"] + cn["errors"],
            "loadavg_1min_during": [c1["loadavg_before"][0], cn["loadavg_before"][0], cn["loadavg_after"][0]],
            f"p50_p95_p99_c{args.clients}_s": [cn["latency_s"].get(k) for k in ("p50", "p95", "p99")],
        },
    })


if __name__ == "__main__":
    main()
