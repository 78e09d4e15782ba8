"""Extraction throughput by backend: 1, 2 and 4 local workers, a Dask LocalCluster, a naive loop.

Run: ``python bench/bench_extract.py [--demo 60] [--repeat 3]``. Writes ``bench/results/extract.json``.

The files are the shared real clips (``../shared/data/clips``, when present)
plus ``--demo`` clips of the demo corpus (spread over its styles), with the
default pipeline (22050 Hz, up to ten 12 s segments of up to 120 s, 13 MFCCs).
Every configuration extracts the same files into a fresh cache folder, so each
one computes everything:

* ``naive_loop``: ``librosa.load`` + ``librosa.feature.mfcc`` per segment in a
  plain loop (one process; the same segments, cut with ``cut_segments``);
* ``local_1``, ``local_2``, ``local_4``: ``extract_paths(n_jobs=1|2|4)`` (joblib, loky processes);
* ``dask_local_cluster_2``: ``extract_paths(scheduler=...)`` against a
  ``dask.distributed.LocalCluster`` of 2 single-threaded worker processes.

Worker start-up is measured apart (``startup_s``: a warm-up extraction of a few
files into another folder, plus starting the cluster) and is not in
``seconds``. Each configuration runs ``--repeat`` times (a fresh cache folder
each time; the naive loop once) and reports the fastest and the median;
throughput is audio minutes per wall-clock second of the fastest. Every
configuration's features are checked equal, bit for bit, to ``local_1``'s.
The load average at the start and end is recorded: on a shared machine other
processes take cores, so compare configurations of one run only.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import CLIPS, write_result  # noqa: E402


def pick_files(n_demo: int) -> list[Path]:
    """The real clips plus ``n_demo`` demo-corpus clips taken evenly across the corpus."""
    files = sorted(p for p in CLIPS.glob("*") if p.suffix in (".wav", ".mp3")) if CLIPS.is_dir() else []
    if n_demo:
        from musictag_core.datasets.demo import load_demo

        paths = load_demo().tracks["path"].tolist()
        step = max(1, len(paths) // n_demo)
        files += [Path(p) for p in paths[::step][:n_demo]]
    return files


def naive_loop(files: list[Path], pipeline) -> list[np.ndarray]:  # noqa: ANN001
    import librosa

    from musictag_core.segments import cut_segments

    fc = pipeline.features
    out = []
    for f in files:
        y, sr = librosa.load(f, sr=pipeline.audio.sr, mono=True, duration=pipeline.audio.duration)
        segments = cut_segments(y, sr=sr, config=pipeline.segments).data
        out.append(np.stack([
            librosa.feature.mfcc(y=s, sr=sr, n_mfcc=fc.n_mfcc, n_fft=fc.n_fft, hop_length=fc.hop_length, n_mels=fc.n_mels).T
            for s in segments
        ]))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demo", type=int, default=60, help="demo-corpus clips added to the real clips")
    parser.add_argument("--repeat", type=int, default=3, help="timed extractions per configuration")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    args = parser.parse_args()
    logging.getLogger("distributed").setLevel(logging.ERROR)

    import librosa
    from dask.distributed import LocalCluster

    from musictag_core.config import PipelineConfig
    from musictag_core.store import extract_paths

    pipeline = PipelineConfig()
    files = pick_files(args.demo)
    if not files:
        raise SystemExit("no files: the shared clips are absent and --demo is 0")
    audio_s = sum(min(librosa.get_duration(path=f), pipeline.audio.duration) for f in files)
    audio_min = audio_s / 60
    warm_files = files[-4:]
    configs: dict[str, dict] = {}
    reference = None

    def record(name: str, extract, startup_s: float) -> None:  # noqa: ANN001
        nonlocal reference
        results = [extract(k) for k in range(args.repeat)]
        seconds = [r.seconds for r in results]
        assert not any(r.failures for r in results), results[0].failures
        assert all(r.n_computed == len(files) for r in results)
        arrays = [results[0].features(i) for i in range(len(files))]
        if reference is None:
            reference = arrays
        configs[name] = {
            "seconds": round(min(seconds), 2),
            "median_s": round(statistics.median(seconds), 2),
            "startup_s": round(startup_s, 2),
            "audio_minutes_per_s": round(audio_min / min(seconds), 3),
            "identical_to_local_1": all(np.array_equal(a, b) for a, b in zip(arrays, reference)),
        }
        print(name, configs[name], flush=True)

    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        t0 = time.perf_counter()
        naive = naive_loop(files, pipeline)
        naive_s = time.perf_counter() - t0
        for n in args.workers:
            t0 = time.perf_counter()
            extract_paths(warm_files, pipeline=pipeline, root=tmp / f"warm{n}", n_jobs=n)
            startup = time.perf_counter() - t0
            record(
                f"local_{n}",
                lambda k, n=n: extract_paths(files, pipeline=pipeline, root=tmp / f"local{n}-{k}", n_jobs=n),
                startup,
            )
        t0 = time.perf_counter()
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
            extract_paths(warm_files, pipeline=pipeline, root=tmp / "warm-dask", scheduler=cluster.scheduler_address)
            startup = time.perf_counter() - t0
            address = cluster.scheduler_address
            record(
                "dask_local_cluster_2",
                lambda k: extract_paths(files, pipeline=pipeline, root=tmp / f"dask-{k}", scheduler=address),
                startup,
            )
        entry_bytes = [p.stat().st_size for p in (tmp / "local1-0").glob("*/*/*.npy")]  # <root>/<params>/<hh>/
    configs = {
        "naive_loop": {
            "seconds": round(naive_s, 2),
            "audio_minutes_per_s": round(audio_min / naive_s, 3),
            "max_abs_diff_to_ours": float(max(np.abs(a - b).max() for a, b in zip(naive, reference))),
        },
        **configs,
    }
    write_result(
        "extract",
        {
            "what": "feature extraction (decode, 10 x 12 s segments, 13 MFCCs) of the same files into a fresh "
            "cache per configuration; start-up of workers excluded from seconds, given as startup_s",
            "files": len(files),
            "real_clips": sum(1 for f in files if f.parent == CLIPS),
            "demo_clips": sum(1 for f in files if f.parent != CLIPS),
            "audio_minutes": round(audio_min, 2),
            "repeat": args.repeat,
            "load_average_1min": {"start": round(load_before[0], 2), "end": round(os.getloadavg()[0], 2)},
            "store_bytes_per_track": int(np.mean(entry_bytes)) if entry_bytes else None,
            "configs": configs,
        },
    )


if __name__ == "__main__":
    main()
