"""Occlusion saliency: time to explain a 30 s clip, against naive occlusion, and the deletion curve on real clips.

Run: ``python bench/bench_explain.py [--repeat N] [--curve-s S]``. Writes ``bench/results/explain.json``.

Measured with the shipped ``MSD_musicnn`` on ``../shared/data/clips/blues.00000.wav`` (30 s), tag ``blues``:

* ``explain_30s``: :func:`musictag_core.explain.explain_array` (12 band groups x 60 half-second cells: 720 masked
  copies of one 3 s patch each, batched, recomputing only the part of musicnn a cell changes, plus the deletion
  test), the waveform already decoded;
* ``explain_30s_full_forward``: the same with ``incremental=False`` (every masked patch through the whole network);
* ``tag_30s``: plain tagging of the same waveform (10 patches), the unit of cost;
* ``naive_per_cell``: what occlusion costs without the locality and batching: mask one cell of the whole track's
  input and tag all 10 patches again, one cell per forward call; timed on ``--naive-cells`` cells and scaled to 720
  (``naive_30s_estimated``). ``speedup`` is its ratio to ``explain_30s`` (wall and CPU).

Then the faithfulness check on every shared GTZAN clip (first ``--curve-s`` seconds): the deletion curve (the tag's
track-score drop after deleting the most salient 5/10/20/30 % of the cells vs a random same-size set, mean of 5 seeds)
for the clip's own genre when the model has that tag, else its top genre.

Every timing has wall seconds and process CPU seconds (all threads). The machine is shared: when other processes
keep its 2 cores busy (see the load averages) wall times stretch while CPU seconds barely move; ``cpu_s / 2`` is what
the wall time approaches on an idle 2-core machine.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.common import CLIPS, timeit_cpu, write_result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--naive-cells", type=int, default=12)
    ap.add_argument("--curve-s", type=float, default=6.0)
    args = ap.parse_args()

    from musictag_core.audio import load_audio
    from musictag_core.explain import explain_array
    from musictag_core.models.loading import load_tagger
    from musictag_core.predict import tag_array

    tagger = load_tagger("MSD_musicnn")
    clip = CLIPS / "blues.00000.wav"
    y, sr = load_audio(clip, sr=tagger.sr)
    load_before = os.getloadavg()
    explain_t, ex = timeit_cpu(lambda: explain_array(y, sr=sr, tag="blues", model=tagger), repeat=args.repeat)
    full_t, full = timeit_cpu(lambda: explain_array(y, sr=sr, tag="blues", model=tagger, incremental=False), repeat=1)
    tag_t, _ = timeit_cpu(lambda: tag_array(y, sr=sr, model=tagger), repeat=args.repeat)

    patches, _ = tagger.patches(y)
    j = tagger.labels.index("blues")
    cells = [(s, t, b) for s in range(len(patches)) for t in range(6) for b in range(12)]
    pick = np.random.default_rng(0).choice(len(cells), size=args.naive_cells, replace=False)

    def naive():
        for k in pick:
            s, t, b = cells[k]
            x = patches.copy()
            t0, t1 = t * 31, (t + 1) * 31 if t < 5 else 187
            x[s, t0:t1, b * 8 : b * 8 + 8] = patches[s, t0:t1, b * 8 : b * 8 + 8].mean()
            tagger.forward(x)["tags"][:, j].mean()

    naive_t, _ = timeit_cpu(naive, repeat=1)
    scale = len(cells) / args.naive_cells
    naive_est = {"median_s": round(naive_t["median_s"] * scale, 1), "cpu_s": round(naive_t["cpu_s"] * scale, 1),
                 "cells_timed": args.naive_cells, "cells": len(cells)}

    curves = {}
    for path in sorted(CLIPS.glob("*.00000.wav")):
        genre = path.name.split(".")[0]
        yy, _ = load_audio(path, sr=tagger.sr, duration=args.curve_s)
        tag = genre if genre in tagger.labels else tag_array(yy, sr=tagger.sr, model=tagger).top(1, genres_only=True)[0][0]
        e = explain_array(yy, sr=tagger.sr, tag=tag, model=tagger, deletion_fractions=(0.05, 0.1, 0.2, 0.3))
        curves[path.name] = {"tag": tag, "score": round(e.score, 4), "curve": [
            {k: round(v, 4) for k, v in row.items()} for row in e.deletion["curve"]]}
        print(path.name, tag, curves[path.name]["curve"][1], flush=True)
    fr = [row["fraction"] for row in next(iter(curves.values()))["curve"]]
    mean_curve = [
        {"fraction": f,
         "salient_drop": round(float(np.mean([c["curve"][i]["salient_drop"] for c in curves.values()])), 4),
         "random_drop": round(float(np.mean([c["curve"][i]["random_drop"] for c in curves.values()])), 4)}
        for i, f in enumerate(fr)
    ]
    passed = sum(c["curve"][1]["salient_drop"] > c["curve"][1]["random_drop"] for c in curves.values())
    write_result("explain", {
        "clip": clip.name, "tag": "blues", "model": "MSD_musicnn", "duration_s": round(len(y) / sr, 2),
        "saliency_shape": list(ex.saliency.shape), "masked_copies": ex.n_masked,
        "deletion_30s": {k: ex.deletion[k] for k in ("salient_drop", "random_drop", "fraction", "seeds")},
        "explain_30s": explain_t, "explain_30s_full_forward": full_t, "tag_30s": tag_t, "naive_30s_estimated": naive_est,
        "max_saliency_difference_incremental_vs_full": float(np.abs(ex.saliency - full.saliency).max()),
        "speedup_incremental_vs_full_forward": {"wall": round(full_t["median_s"] / explain_t["median_s"], 2),
                                                "cpu": round(full_t["cpu_s"] / explain_t["cpu_s"], 2)},
        "speedup_vs_naive": {"wall": round(naive_est["median_s"] / explain_t["median_s"], 1),
                             "cpu": round(naive_est["cpu_s"] / explain_t["cpu_s"], 1)},
        "explain_over_tag_cpu": round(explain_t["cpu_s"] / tag_t["cpu_s"], 1),
        "deletion_curves": {"clip_seconds": args.curve_s, "mean": mean_curve, "salient_beats_random_at_10pct": f"{passed}/{len(curves)}",
                            "per_clip": curves},
        "load_average_before": [round(v, 2) for v in load_before], "load_average_after": [round(v, 2) for v in os.getloadavg()],
    })


if __name__ == "__main__":
    main()
