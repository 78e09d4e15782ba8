"""Tag page speed in a real browser, each figure beside its baselines measured in the same run.

Run: ``python bench/bench_tag_page.py`` from the project folder (needs /usr/bin/chromium and
the shared clips). Writes ``bench/results/tag_page.json``. Takes 3-8 minutes.

Inputs: seventeen distinct 3-minute MP3 "songs", each six real 30 s clips in a different order,
encoded with soundfile's MP3 support into a temporary folder.

Measured, in this order:

* ``naive_cold_cli``: a fresh Python process that imports TensorFlow, loads the model,
  decodes with ``librosa.load(sr=16000)``, computes the mel spectrogram and predicts one
  patch at a time (musicnn's own pipeline), on song 0; whole-process wall and CPU seconds.
  ``ours_cold_cli`` is ``python -m musictag_core tag`` on the same song, for reference.
* ``cold_page``: a fresh ``streamlit run app.py`` on 127.0.0.1; a browser opens the page as
  soon as the server answers its health check and drops song 0 as soon as the uploader is
  there. Times to the genre scores and to the complete card (scores, taggram, waveform,
  mel, MFCC), from the drop, against ``naive_cold_cli``.
* ``in_process``: a separate warm process (model loaded, one track tagged) that times
  ``tag_file`` on request, right before and right after each page measurement (the mean of
  the two is the baseline, so both see the same machine load). It also builds the page's
  figures for song 0 and records the plotly JSON bytes of each.
* ``warm_page``: two fresh sessions on the warm server, each dropping a song the server
  has not seen. Times to scores and to the complete card (genre bars, taggram and the open
  signal tab's waveform drawn; the mel spectrogram and MFCC are drawn when their tab is
  opened, and ``mel_tab_s`` times that click), in the browser and from the server log's
  stamps (``[musictag] card scores|done <key> t=<epoch>``), against ``tag_file`` on the same
  file; the bytes the browser received over the WebSocket. ``server_steps_s`` breaks the
  card down with the finer stamps the server writes under ``MUSICTAG_PAGE_STAMPS=1``
  (script run start, page work done, gate slot, decoded, tagged, scores, figures, done),
  ``upload_finished_s`` is when the browser's upload request ended, ``browser_cpu_s`` the
  CPU seconds of the Chromium processes for the card, ``server_cpu_s`` the server's.
* ``concurrent``: six sessions drop six other songs at the same moment. Latencies from
  the browsers and from the server's per-card stamps, against tagging the six one after
  another in the warm process (before and after); errors shown; the server's RSS before,
  at the peak, and after (once the sequential baseline after it has run, 10-30 s); CPU
  seconds of the server and of the browsers.
* ``niced_browsers``: ``warm_page`` and ``concurrent`` again, on other songs, with every
  Chromium process at the lowest priority (``SCHED_IDLE`` through ``chrt -i 0``; Chromium
  resets a plain ``nice 19`` on its own processes): the CPU a dedicated server would have,
  since six real users have six machines. Reported beside the headline figures, never
  instead of them.

``--gate-only`` measures the gate alone and adds ``gate`` to the JSON: in a warm process
without a browser, six threads run the page's two steps on the six concurrent songs with
``MUSICTAG_TAG_WORKERS`` = 1, 2 and 6, against ``tag_file`` on the six one after another in
the same process.

Server CPU seconds (user + system of the server process tree) are recorded for every
phase: the machine is shared, and they say what the work cost whatever the load.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import free_port, streamlit_healthy

ROOT = Path(__file__).resolve().parents[1]
CLIPS = ROOT.parent / "shared" / "data" / "clips"
RESULT = ROOT / "bench" / "results" / "tag_page.json"
CHROMIUM = os.environ.get("MUSICTAG_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
UPLOAD_INPUT = '[data-testid="stFileUploaderDropzoneInput"]'
IDLE_JS = "() => document.querySelector('[data-testid=\"stApp\"]')?.getAttribute('data-test-script-state') === 'notRunning'"
#: The genre bars of the card are drawn.
SCORES_JS = (
    "() => [...document.querySelectorAll('[class*=\"st-key-tag_card_\"] .js-plotly-plot')]"
    ".some(e => e.textContent.includes('Genre scores'))"
)
#: The card is complete: genre bars, taggram and the signal tabs with the open tab's chart (the
#: waveform) drawn. The mel spectrogram and MFCC are computed with the waveform (one cached step)
#: and drawn when their tab is opened (``mel_tab_s`` times that click).
CARD_JS = (
    "() => document.querySelectorAll('[class*=\"st-key-tag_card_\"] .js-plotly-plot').length >= 3"
    " && !!document.querySelector('[class*=\"st-key-tag_card_\"] [class*=\"st-key-tag_fig_wave_\"] .js-plotly-plot')"
)
MEL_JS = "() => !!document.querySelector('[class*=\"st-key-tag_fig_mel_\"] .js-plotly-plot')"
ERROR_JS = "() => document.querySelectorAll('[data-testid=\"stException\"], [data-testid=\"stAlertContentError\"]').length"
N_CONCURRENT = 6
#: song 0 cold; 1-2 warm; 3-8 concurrent; 9-10 warm and 11-16 concurrent with niced browsers.
N_SONGS = 3 + N_CONCURRENT + 2 + N_CONCURRENT
TARGETS = {"warm_card": 1.5, "warm_scores": 1.1, "cold_scores": 1.5, "concurrent": 1.2, "rss_return": 0.10}


# ---------------------------------------------------------------- helpers run in child processes


def _naive_cold(path: str) -> None:
    """musicnn's pipeline in this fresh process: import, load, librosa decode + mel, predict per patch."""
    import librosa
    import numpy as np

    from musictag_core.models.keras_io import load_keras_model
    from musictag_core.paths import assets_dir

    model = load_keras_model(assets_dir() / "models" / "MSD_musicnn" / "model.keras")
    y, sr = librosa.load(path, sr=16000)
    mel = librosa.feature.melspectrogram(y=y, sr=sr, hop_length=256, n_fft=512, n_mels=96).T
    mel = np.log10(10000 * mel + 1)
    scores = [
        model.predict(mel[None, s : s + 187], batch_size=1, verbose=0)["tags"][0]
        for s in range(0, mel.shape[0] - 187 + 1, 187)
    ]
    print(json.dumps({"top": float(np.max(np.mean(scores, axis=0)))}))


def _in_process_worker() -> None:
    """A warm process answering requests on stdin, so each baseline is measured next to its page figure.

    ``tag PATH`` times ``tag_file`` on one song (wall and CPU), ``seq PATH...`` tags the songs one
    after another, ``sizes PATH`` builds the page's figures and reports their plotly JSON bytes.
    """
    from musictag_core.models.loading import load_tagger
    from musictag_core.predict import tag_file
    from musictag_core.viz import genre_bar_figure, taggram_figure
    from pages._ui.tagging import compute_prediction, compute_signal_figures

    tagger = load_tagger("MSD_musicnn")
    print("READY", flush=True)
    for line in sys.stdin:
        cmd, *paths = line.split()
        if cmd == "tag" or cmd == "seq":
            c0, t0 = time.process_time(), time.perf_counter()
            for p in paths:
                tag_file(p, tagger)
            out = {"wall_s": round(time.perf_counter() - t0, 3), "cpu_s": round(time.process_time() - c0, 3)}
        elif cmd == "sizes":
            data = Path(paths[0]).read_bytes()
            kw = dict(name="song", digest="bench", model="MSD_musicnn", max_duration=600.0)
            pred = compute_prediction(data, overlap=0.0, **kw)
            figs = compute_signal_figures(data, **kw)
            scores, seg, labels = pred.subset(genres_only=True)
            out = figs.payload_bytes()
            out["genre_bars"] = len(genre_bar_figure(scores, threshold=0.25, top_k=10).to_json())
            out["taggram"] = len(taggram_figure(pred.segment_starts_s, seg, labels, top_k=10).to_json())
            out["card_total"] = sum(out.values())
        else:
            return
        print("RESULT " + json.dumps(out), flush=True)


def _gate_worker(paths: list[str]) -> None:
    """Six threads run the page's two steps on six songs at once, through the gate (``MUSICTAG_TAG_WORKERS``)."""
    from musictag_core.models.loading import load_tagger
    from musictag_core.predict import tag_file
    from pages._ui.tagging import compute_prediction, compute_signal_figures

    tag_file(paths[0], load_tagger("MSD_musicnn"))  # warm
    done: list[float] = []
    lock = threading.Lock()

    def card(i: int, p: str) -> None:
        data = Path(p).read_bytes()
        kw = dict(name=Path(p).name, digest=f"gate-{i}", model="MSD_musicnn", max_duration=600.0)
        compute_prediction(data, overlap=0.0, **kw)
        compute_signal_figures(data, **kw)
        with lock:
            done.append(time.perf_counter() - t0)

    c0, t0 = time.process_time(), time.perf_counter()
    threads = [threading.Thread(target=card, args=(i, p)) for i, p in enumerate(paths)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    cpu = time.process_time() - c0
    c1, t1 = time.process_time(), time.perf_counter()
    for p in paths:
        tag_file(p, load_tagger("MSD_musicnn"))
    seq = {"wall_s": round(time.perf_counter() - t1, 2), "cpu_s": round(time.process_time() - c1, 2)}
    print("RESULT " + json.dumps({"cards_done_s": sorted(round(v, 2) for v in done), "cpu_s": round(cpu, 2),
                                  "tag_file_one_after_another": seq}))  # fmt: skip


def _gate_phase(songs: list[Path]) -> dict:
    """The page's steps for six songs at once, in-process (no browser), with 1, 2 and 6 slots."""
    out = {"load_average_at_start": [round(v, 2) for v in os.getloadavg()]}
    for workers in (1, 2, 6):
        env = dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="2", MUSICTAG_TAG_WORKERS=str(workers))
        proc = subprocess.run([sys.executable, __file__, "--gate-worker", *map(str, songs)], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=400)  # fmt: skip
        if proc.returncode != 0:
            raise RuntimeError(f"gate worker failed:\n{proc.stderr[-3000:]}")
        r = json.loads(proc.stdout.split("RESULT ", 1)[1])
        r["ratio_last_vs_one_after_another"] = _ratio(r["cards_done_s"][-1], r["tag_file_one_after_another"]["wall_s"])
        out[f"workers_{workers}"] = r
        print("gate", workers, r, flush=True)
    out["load_average_at_end"] = [round(v, 2) for v in os.getloadavg()]
    return out


class _Baseline:
    """The in-process worker (:func:`_in_process_worker`) in its own warm process."""

    def __init__(self) -> None:
        env = dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="2")
        self.proc = subprocess.Popen([sys.executable, __file__, "--in-process-worker"], cwd=ROOT, env=env, text=True,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)  # fmt: skip
        while self.proc.stdout.readline().strip() != "READY":
            if self.proc.poll() is not None:
                raise RuntimeError("the in-process baseline worker failed to start")

    def ask(self, cmd: str, *paths: Path) -> dict:
        self.proc.stdin.write(" ".join([cmd, *map(str, paths)]) + "\n")
        self.proc.stdin.flush()
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError("the in-process baseline worker died")
            if line.startswith("RESULT "):
                return json.loads(line[7:])

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            self.proc.wait(30)


# ---------------------------------------------------------------- process bookkeeping


def _tree(pid: int) -> list[int]:
    todo, seen = [pid], []
    while todo:
        p = todo.pop()
        seen.append(p)
        for task in Path(f"/proc/{p}/task").glob("*/children"):
            try:
                todo += [int(c) for c in task.read_text().split()]
            except OSError:
                pass
    return seen


def _rss_mib(pid: int) -> float:
    total = 0
    for p in _tree(pid):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return round(total / 1024, 1)


def _cpu_s(pid: int) -> float:
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for p in _tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return round(total / tick, 2)


def _chromium_cpu_s() -> float:
    """CPU seconds of every Chromium process this bench started (browser, renderers, GPU and utility processes)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for p in _tree(os.getpid()):
        try:
            if "chrom" not in Path(f"/proc/{p}/comm").read_text():
                continue
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return round(total / tick, 2)


def _niced_chromium(folder: Path) -> tuple[str, str]:
    """A launcher that runs Chromium at the lowest CPU priority, and how (``"SCHED_IDLE"`` or ``"nice 19"``).

    Chromium resets the nice value of its own processes (measured: -8, 0 and 5 under a
    ``nice -n 19`` launcher), so nice alone does not hold; the ``SCHED_IDLE`` policy
    (``chrt -i 0``) is inherited by every process it forks and kept: they run only when the
    server leaves a core free.
    """
    path = folder / "chromium-idle"
    if shutil.which("chrt"):
        how, prefix = "SCHED_IDLE", "chrt -i 0"
    else:
        how, prefix = "nice 19", "nice -n 19"
    path.write_text(f'#!/bin/sh\nexec {prefix} "{CHROMIUM}" "$@"\n')
    path.chmod(0o755)
    return str(path), how


class _Peak(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak, self._stop_event = pid, 0.0, threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            self.peak = max(self.peak, _rss_mib(self.pid))
            self._stop_event.wait(0.2)

    def stop(self) -> float:
        self._stop_event.set()
        self.join(5)
        return self.peak


def _child(args: list[str], *, timeout: float = 300) -> tuple[float, float, str]:
    """Run this script with ``args`` in a fresh process; return (wall s, CPU s of the child, stdout)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="2")
    before = os.times()
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, __file__, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    wall = time.perf_counter() - t0
    after = os.times()
    if proc.returncode != 0:
        raise RuntimeError(f"{args[0]} failed:\n{proc.stderr[-3000:]}")
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    return round(wall, 2), round(cpu, 2), proc.stdout


def _make_songs(folder: Path) -> list[Path]:
    import numpy as np
    import soundfile as sf

    from musictag_core.audio import load_audio

    clips = sorted(CLIPS.glob("*.wav"))
    if len(clips) < 6:
        raise SystemExit(f"needs the shared clips in {CLIPS}")
    parts = [load_audio(p, sr=22050, duration=30.0)[0] for p in clips]
    songs = []
    for i in range(N_SONGS):
        step = 7 + 2 * (i // len(parts))  # every song a different order of clips, also past 12 songs
        order = [(i * 5 + step * j) % len(parts) for j in range(6)]
        y = np.concatenate([parts[k] for k in order])[: 180 * 22050]
        path = folder / f"song{i}.mp3"
        sf.write(path, y, 22050, format="MP3")
        songs.append(path)
    return songs


def _stamps(log: Path, kind: str) -> list[tuple[str, float]]:
    pat = re.compile(rf"\[musictag\] card {kind} (\S+) t=([0-9.]+)")
    return [(m.group(1), float(m.group(2))) for m in pat.finditer(log.read_text(errors="replace"))]


def _median(values) -> float:
    return round(statistics.median(values), 3)


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 2) if a is not None and b else None


# ---------------------------------------------------------------- browser phases


def _session(browser, url: str, *, count_ws: bool = False):
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = ctx.new_page()
    page.set_default_timeout(300_000)
    received = [0]
    if count_ws:

        def on_ws(ws):
            ws.on("framereceived", lambda payload: received.__setitem__(0, received[0] + len(payload)))

        page.on("websocket", on_ws)
    page.goto(url, wait_until="commit")
    return ctx, page, received


def _drop_and_time(page, song: Path, *, timeout_s: float = 300) -> dict:
    uploaded: list[float] = []

    def on_request(request) -> None:
        if "upload_file" in request.url and not uploaded:
            uploaded.append(time.time())

    page.on("requestfinished", on_request)
    t0 = time.time()
    page.locator(UPLOAD_INPUT).set_input_files(str(song))
    page.wait_for_function(SCORES_JS, polling=50, timeout=timeout_s * 1000)
    t_scores = time.time()
    page.wait_for_function(CARD_JS, polling=50, timeout=timeout_s * 1000)
    t_card = time.time()
    page.wait_for_function(IDLE_JS, timeout=timeout_s * 1000)
    page.remove_listener("requestfinished", on_request)
    return {"dropped_at": t0, "scores_s": round(t_scores - t0, 2), "card_s": round(t_card - t0, 2),
            "upload_s": round(uploaded[0] - t0, 2) if uploaded else None,
            "errors": page.evaluate(ERROR_JS)}  # fmt: skip


def _steps(log: Path, since: float, digest12: str) -> dict[str, float]:
    """The server's time stamps of one card (``MUSICTAG_PAGE_STAMPS``), in seconds after ``since`` (the drop).

    ``run``: the script run the upload started; ``cards``: the page's widgets and lists done, the
    first card begins; ``slot``: the gate let it in; ``decoded``; ``tagged``; ``scores``: the
    scores and taggram sent; ``figures``: the signal figures computed; ``done``: the card sent.
    """
    out: dict[str, float] = {}
    pat = re.compile(r"\[musictag\] (?:step|card) (\S+) (\S+) t=([0-9.]+)")
    for m in pat.finditer(log.read_text(errors="replace")):
        step, key, t = m.group(1), m.group(2), float(m.group(3))
        if t < since or step in out or (key != "-" and not key.endswith(digest12)):
            continue
        out[step] = round(t - since, 3)
    return out


def _warm_phase(browser, url: str, log: Path, server_pid: int, baseline, songs: list[Path]) -> list[dict]:
    """Fresh sessions on the warm server, one song each, beside ``tag_file`` on the same song before and after."""
    warm = []
    for song in songs:
        ctx, page, received = _session(browser, url, count_ws=True)
        page.wait_for_selector(UPLOAD_INPUT, state="attached")
        page.wait_for_function(IDLE_JS)
        received[0] = 0
        before = baseline.ask("tag", song)
        c0, b0 = _cpu_s(server_pid), _chromium_cpu_s()
        r = _drop_and_time(page, song)
        cpu_card = round(_cpu_s(server_pid) - c0, 2)
        time.sleep(0.5)  # the last chart's drawing, after the page says it is idle
        browser_cpu = round(_chromium_cpu_s() - b0, 2)
        t_mel = time.time()
        page.get_by_role("tab", name=re.compile("^Mel spectrogram")).click()
        page.wait_for_function(MEL_JS, polling=50, timeout=60_000)
        mel_tab_s = round(time.time() - t_mel, 2)
        page.wait_for_function(IDLE_JS)
        after = baseline.ask("tag", song)
        base = round((before["wall_s"] + after["wall_s"]) / 2, 3)
        base_cpu = round((before["cpu_s"] + after["cpu_s"]) / 2, 3)
        digest = hashlib.sha256(song.read_bytes()).hexdigest()[:12]
        steps = _steps(log, r["dropped_at"], digest)
        warm.append({
            "song": song.name, "key": "0_" + digest,
            "scores_s": r["scores_s"], "card_s": r["card_s"], "tag_file_s": base,
            "server_scores_s": round(steps["scores"], 2) if "scores" in steps else None,
            "server_card_s": round(steps["done"], 2) if "done" in steps else None,
            "ratio_scores": _ratio(r["scores_s"], base), "ratio_card": _ratio(r["card_s"], base),
            "ratio_server_scores": _ratio(steps.get("scores"), base), "ratio_server_card": _ratio(steps.get("done"), base),
            "upload_finished_s": r["upload_s"], "server_steps_s": steps, "mel_tab_s": mel_tab_s,
            "tag_file_before_after_s": [before["wall_s"], after["wall_s"]], "tag_file_cpu_s": base_cpu,
            "websocket_bytes_received": received[0], "server_cpu_s": cpu_card, "browser_cpu_s": browser_cpu,
            "ratio_server_cpu_vs_tag_file_cpu": _ratio(cpu_card, base_cpu),
            "errors": r["errors"], "load_average_1min": round(os.getloadavg()[0], 2),
        })  # fmt: skip
        print("warm", warm[-1], flush=True)
        ctx.close()
    return warm


def _concurrent_phase(browser, url: str, log: Path, server_pid: int, baseline, songs: list[Path]) -> dict:
    """Sessions drop ``songs`` at the same moment; against tagging them one after another in-process."""
    sessions = [_session(browser, url) for _ in songs]
    try:
        for _, page, _ in sessions:
            page.wait_for_selector(UPLOAD_INPUT, state="attached")
            page.wait_for_function(IDLE_JS)
        seq_before = baseline.ask("seq", *songs)
        time.sleep(2)
        rss_before = _rss_mib(server_pid)
        peak = _Peak(server_pid)
        peak.start()
        c0, b0 = _cpu_s(server_pid), _chromium_cpu_s()
        n_done_before = len(_stamps(log, "done"))
        t0 = time.time()
        for (_, page, _), song in zip(sessions, songs):
            page.locator(UPLOAD_INPUT).set_input_files(str(song))
        pending = set(range(len(songs)))
        browser_s: list[float | None] = [None] * len(songs)
        deadline = time.time() + 400
        while pending and time.time() < deadline:
            for i in list(pending):
                if sessions[i][1].evaluate(CARD_JS):
                    browser_s[i] = round(time.time() - t0, 2)
                    pending.discard(i)
            time.sleep(0.1)
        for _, page, _ in sessions:
            page.wait_for_function(IDLE_JS)
        errors = sum(page.evaluate(ERROR_JS) for _, page, _ in sessions)
        cpu_conc = round(_cpu_s(server_pid) - c0, 2)
        browser_cpu = round(_chromium_cpu_s() - b0, 2)
        done = _stamps(log, "done")[n_done_before:]
        scored = _stamps(log, "scores")
        server_s = sorted(round(t - t0, 2) for _, t in done)
        peak_mib = peak.stop()
    finally:
        for ctx, _, _ in sessions:
            ctx.close()
    seq_after = baseline.ask("seq", *songs)  # also gives the server 10+ s to settle
    rss_after = _rss_mib(server_pid)
    seq = round((seq_before["wall_s"] + seq_after["wall_s"]) / 2, 2)
    seq_cpu = round((seq_before["cpu_s"] + seq_after["cpu_s"]) / 2, 2)
    last_server = max(server_s) if server_s else None
    last_browser = max(v for v in browser_s if v is not None) if any(v is not None for v in browser_s) else None
    out = {
        "sessions": len(songs),
        "completed_in_browser": sum(v is not None for v in browser_s),
        "browser_s": browser_s,
        "server_card_done_s": server_s,
        "server_scores_s": sorted(round(t - t0, 2) for _, t in scored if t >= t0),
        "sequential_in_process_s": seq,
        "sequential_in_process_before_after_s": [seq_before["wall_s"], seq_after["wall_s"]],
        "ratio_last_server_vs_sequential": _ratio(last_server, seq),
        "ratio_last_browser_vs_sequential": _ratio(last_browser, seq),
        "errors_shown": errors,
        "server_cpu_s": cpu_conc,
        "browser_cpu_s": browser_cpu,
        "sequential_in_process_cpu_s": seq_cpu,
        "server_rss_before_mib": rss_before,
        "server_rss_peak_mib": peak_mib,
        "server_rss_after_mib": rss_after,
        "rss_after_vs_before": round(rss_after / rss_before - 1, 3),
        "ratio_server_cpu_vs_sequential_cpu": _ratio(cpu_conc, seq_cpu),
        "load_average_1min": round(os.getloadavg()[0], 2),
    }
    print("concurrent", out, flush=True)
    return out


def main() -> None:  # noqa: PLR0915 - one linear script
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--naive-cold", help=argparse.SUPPRESS)
    ap.add_argument("--in-process-worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--gate-worker", nargs="+", help=argparse.SUPPRESS)
    ap.add_argument("--gate-only", action="store_true",
                    help="only measure the gate in-process (1, 2 and 6 slots) and add it to the existing JSON")
    ap.add_argument("--out", type=Path, default=RESULT)
    ap.add_argument("--server-log", type=Path, help="also copy the server's log (with its per-step stamps) here")
    args = ap.parse_args()
    if args.naive_cold:
        return _naive_cold(args.naive_cold)
    if args.in_process_worker:
        return _in_process_worker()
    if args.gate_worker:
        return _gate_worker(args.gate_worker)
    if args.gate_only:
        with tempfile.TemporaryDirectory(prefix="bench-tag-gate-") as tmp:
            songs = _make_songs(Path(tmp))[3 : 3 + N_CONCURRENT]
            gate = _gate_phase(songs)
        result = json.loads(args.out.read_text()) if args.out.exists() else {"benchmark": "tag_page"}
        result["gate"] = {"when": time.strftime("%Y-%m-%dT%H:%M:%S"), **gate}
        args.out.write_text(json.dumps(result, indent=2) + "\n")
        return None

    from playwright.sync_api import sync_playwright

    result: dict = {
        "benchmark": "tag_page",
        "machine": {"cpus": os.cpu_count(), "load_average_at_start": [round(v, 2) for v in os.getloadavg()]},
        "when": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "targets": TARGETS,
    }
    t_bench = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-tag-page-") as tmp:
        tmp = Path(tmp)
        songs = _make_songs(tmp)
        print("songs ready", flush=True)

        wall, cpu, _ = _child(["--naive-cold", str(songs[0])])
        result["naive_cold_cli"] = {"wall_s": wall, "cpu_s": cpu}
        env = dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="2", MUSICTAG_CACHE=str(tmp / "cli-cache"))
        before, t0 = os.times(), time.perf_counter()
        subprocess.run([sys.executable, "-m", "musictag_core", "tag", str(songs[0]), "--json"], cwd=ROOT, env=env,
                       capture_output=True, check=True, timeout=300)  # fmt: skip
        after = os.times()
        result["ours_cold_cli"] = {
            "wall_s": round(time.perf_counter() - t0, 2),
            "cpu_s": round(after.children_user - before.children_user + after.children_system - before.children_system, 2),
        }
        print("cold CLIs", result["naive_cold_cli"], result["ours_cold_cli"], flush=True)

        port = free_port()
        url = f"http://127.0.0.1:{port}"
        log = tmp / "server.log"
        env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1", TF_CPP_MIN_LOG_LEVEL="2",
                   MUSICTAG_CACHE=str(tmp / "cache"), MUSICTAG_RUNS=str(tmp / "runs"), MUSICTAG_PAGE_STAMPS="1")  # fmt: skip
        cmd = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true", "--server.port", str(port),
               "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"]  # fmt: skip
        with open(log, "w") as fh, sync_playwright() as pw:
            t_start = time.time()
            server = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            contexts, baseline = [], None
            try:
                while not streamlit_healthy(url):
                    if server.poll() is not None or time.time() - t_start > 120:
                        raise RuntimeError(f"server did not start:\n{log.read_text()[-3000:]}")
                    time.sleep(0.1)
                t_health = time.time()
                # ---- cold: open the page at once, drop the song as soon as the uploader is there
                ctx, page, _ = _session(browser, url)
                contexts.append(ctx)
                page.wait_for_selector(UPLOAD_INPUT, state="attached", timeout=120_000)
                t_open = time.time()
                cold = _drop_and_time(page, songs[0])
                cpu_cold = _cpu_s(server.pid)
                text = log.read_text(errors="replace")
                m = re.search(r"warm-up of \S+ done in ([0-9.]+) s", text)
                result["cold_page"] = {
                    "server_health_s": round(t_health - t_start, 2),
                    "page_open_s": round(t_open - t_health, 2),
                    "scores_after_drop_s": cold["scores_s"],
                    "card_after_drop_s": cold["card_s"],
                    "scores_after_server_start_s": round(cold["dropped_at"] + cold["scores_s"] - t_start, 2),
                    "warmup_s": float(m.group(1)) if m else None,
                    "errors": cold["errors"],
                    "server_cpu_s_since_start": cpu_cold,
                    "load_average_1min": round(os.getloadavg()[0], 2),
                    "ratio_scores_vs_naive_cold_cli": _ratio(cold["scores_s"], result["naive_cold_cli"]["wall_s"]),
                }
                print("cold page", result["cold_page"], flush=True)
                ctx.close()
                contexts.remove(ctx)
                # wait for the warm-up to finish before the warm measurements
                deadline = time.time() + 180
                while "warm-up of MSD_musicnn done" not in log.read_text(errors="replace") and time.time() < deadline:
                    time.sleep(0.5)

                # ---- the in-process baseline: a warm process of its own, asked right beside each page figure
                conc = songs[3 : 3 + N_CONCURRENT]
                baseline = _Baseline()
                baseline.ask("tag", songs[0])  # its first full-size track: warm
                inproc = {"plotly_json_bytes": baseline.ask("sizes", songs[0])}
                result["in_process"] = inproc
                print("in-process", inproc, flush=True)

                # ---- warm: fresh sessions, songs the server has not seen
                result["warm_page"] = _warm_phase(browser, url, log, server.pid, baseline, songs[1:3])
                # ---- six sessions at once
                result["concurrent"] = _concurrent_phase(browser, url, log, server.pid, baseline, conc)

                # ---- the same with the browsers at nice 19: six users have six machines, a dedicated
                # server gets its CPU to itself. Labelled apart; the figures above stay the headline.
                launcher, how = _niced_chromium(tmp)
                niced = pw.chromium.launch(executable_path=launcher, args=CHROMIUM_ARGS, headless=True)
                try:
                    result["niced_browsers"] = {
                        "priority": how,
                        "note": f"same phases with every Chromium process at the lowest priority ({how}; the server "
                        "at nice 0), as if each user's browser ran on its own machine; the figures above are the headline",
                        "warm_page": _warm_phase(niced, url, log, server.pid, baseline, songs[3 + N_CONCURRENT : 5 + N_CONCURRENT]),
                        "concurrent": _concurrent_phase(niced, url, log, server.pid, baseline, songs[5 + N_CONCURRENT :]),
                    }
                finally:
                    niced.close()
                baseline.close()
            finally:
                if baseline is not None and baseline.proc.poll() is None:
                    baseline.proc.kill()
                for ctx in contexts:
                    ctx.close()
                browser.close()
                if server.poll() is None:
                    os.killpg(server.pid, signal.SIGTERM)
                    try:
                        server.wait(15)
                    except subprocess.TimeoutExpired:
                        os.killpg(server.pid, signal.SIGKILL)
        if args.server_log:
            shutil.copyfile(log, args.server_log)
        result["server_log_warmup_lines"] = [ln for ln in log.read_text(errors="replace").splitlines() if "warm-up" in ln]

    w = result["warm_page"]
    c = result["concurrent"]
    nw, nc = result["niced_browsers"]["warm_page"], result["niced_browsers"]["concurrent"]
    result["summary"] = {
        "warm_card_ratio_median": _median(x["ratio_card"] for x in w),
        "warm_scores_ratio_median": _median(x["ratio_scores"] for x in w),
        "cold_scores_ratio": result["cold_page"]["ratio_scores_vs_naive_cold_cli"],
        "concurrent_ratio_server": c["ratio_last_server_vs_sequential"],
        "concurrent_ratio_browser": c["ratio_last_browser_vs_sequential"],
        "concurrent_ratio_server_cpu": c["ratio_server_cpu_vs_sequential_cpu"],
        "warm_card_ratio_server_median": _median(x["ratio_server_card"] for x in w),
        "warm_scores_ratio_server_median": _median(x["ratio_server_scores"] for x in w),
        "rss_after_vs_before": c["rss_after_vs_before"],
        "plotly_json_bytes_per_card": result["in_process"]["plotly_json_bytes"]["card_total"],
        "warm_card_ratio_server_cpu_median": _median(x["ratio_server_cpu_vs_tag_file_cpu"] for x in w),
        "warm_browser_cpu_s_per_card_median": _median(x["browser_cpu_s"] for x in w),
        "warm_mel_tab_s_median": _median(x["mel_tab_s"] for x in w),
        "concurrent_browser_cpu_s": c["browser_cpu_s"],
        "concurrent_server_cpu_s": c["server_cpu_s"],
        "niced_browsers": {
            "warm_scores_ratio_median": _median(x["ratio_scores"] for x in nw),
            "warm_card_ratio_median": _median(x["ratio_card"] for x in nw),
            "warm_scores_ratio_server_median": _median(x["ratio_server_scores"] for x in nw),
            "warm_card_ratio_server_median": _median(x["ratio_server_card"] for x in nw),
            "concurrent_ratio_server": nc["ratio_last_server_vs_sequential"],
            "concurrent_ratio_browser": nc["ratio_last_browser_vs_sequential"],
            "concurrent_browser_cpu_s": nc["browser_cpu_s"],
            "concurrent_server_cpu_s": nc["server_cpu_s"],
        },
    }
    result["machine"]["load_average_at_end"] = [round(v, 2) for v in os.getloadavg()]
    result["bench_wall_s"] = round(time.perf_counter() - t_bench, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if args.out.exists():  # keep the last --gate-only measurement (it has its own "when")
        previous = json.loads(args.out.read_text())
        if "gate" in previous:
            result["gate"] = previous["gate"]
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result["summary"], indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
