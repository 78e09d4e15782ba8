"""Zero-shot text search and ``tagtext``: text-encoder speed and zero-shot retrieval on the demo corpus.

Run: ``python bench/bench_text.py [--section embed|zero_shot|all] [--seeds 0,1,2]`` from the
project folder. Writes ``bench/results/text.json``.

* ``embed``: the all-MiniLM-L6-v2 Keras port in this process. ``load_s``: building the
  encoder and reading its float16 weights (TensorFlow already imported). ``tags_cold_s``:
  embedding the 100 tag names the first time (then cached). ``query_s``: one
  ``search_text`` call (query embedding + ranking, tags cached), min/median of 20.
  ``sentences_per_s``: 256 sentences of 3-12 words in batches of 64. Baseline in the same
  run: tagging one 30 s real clip with MSD_musicnn (``tag_file``); ``query_vs_tag_ratio``
  is the query time over the tagging time.
* ``zero_shot``: ``tagtext`` fast preset on the demo corpus (138 clips: 120 single-style,
  18 two-style blends; 6 styles), one run per seed. Each run holds out a seeded quarter of
  the styles (2 of 6) and reports, over its test tracks, zero-shot mAP and P@1 on them
  against a random ranking (mean of 200) and the nearest trained tag. Seconds are the
  whole run (the musicnn embeddings are cached after the first).

The machine is shared (2 cores, other jobs running); its load average is recorded.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import CLIPS, timeit, write_result  # noqa: E402


def bench_embed() -> dict:
    import numpy as np
    import tensorflow  # noqa: F401  (imported before timing the load)

    from musictag_core.models.minilm import load_text_encoder
    from musictag_core.models.textsearch import embed_tags, search_text, tag_vocabulary
    from musictag_core.predict import tag_file

    t0 = time.perf_counter()
    enc = load_text_encoder()
    load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    embed_tags([d["label"] for d in tag_vocabulary()], encoder=enc)
    tags_cold_s = time.perf_counter() - t0
    query = timeit(lambda: search_text("dark slow guitar music"), repeat=20)
    rng = np.random.default_rng(0)
    words = ["dark", "slow", "fast", "loud", "quiet", "guitar", "piano", "drums", "voice", "female", "male", "jazz", "rock", "classical", "electronic", "music", "song", "sad", "happy"]
    sentences = [" ".join(rng.choice(words, int(rng.integers(3, 13)))) for _ in range(256)]
    enc.embed(sentences[:64])  # warm the batch shapes
    t0 = time.perf_counter()
    enc.embed(sentences, batch_size=64)
    sent_s = time.perf_counter() - t0
    clip = CLIPS / "blues.00000.wav"
    baseline = None
    if clip.exists():
        tag_file(clip, "MSD_musicnn")
        baseline = timeit(lambda: tag_file(clip, "MSD_musicnn"), repeat=3)
    return {
        "load_s": round(load_s, 3),
        "tags_cold_s": round(tags_cold_s, 3),
        "query": query,
        "sentences_per_s": round(len(sentences) / sent_s, 1),
        "baseline_tag_30s_clip": baseline,
        "query_vs_tag_ratio": round(query["median_s"] / baseline["median_s"], 4) if baseline else None,
    }


def bench_zero_shot(seeds: list[int]) -> dict:
    import json

    from musictag_core.runs import Run
    from musictag_core.training import RunConfig, create_run, execute_run

    runs = []
    with tempfile.TemporaryDirectory(prefix="bench-tagtext-") as tmp:
        for seed in seeds:
            cfg = RunConfig(dataset="demo", model="tagtext", preset="fast", seed=seed)
            t0 = time.perf_counter()
            run_dir = create_run(cfg, runs_dir=tmp)
            state = execute_run(run_dir)
            seconds = time.perf_counter() - t0
            if state != "finished":
                raise SystemExit(f"seed {seed}: {state}: {Run(run_dir).status().get('error')}")
            zs = json.loads((run_dir / "metrics.json").read_text())["zero_shot"]
            b = zs["baselines"]
            runs.append({
                "seed": seed,
                "held_out": zs["held_out_tags"],
                "nearest_trained_tag": zs["nearest_trained_tag"],
                "n_test_tracks": zs["n_test_tracks"],
                "map": zs["map"],
                "map_random": b["random"]["map"],
                "map_nearest_trained_tag": b["nearest_trained_tag"]["map"],
                "p_at_1": zs["p_at_k"]["1"],
                "p_at_1_random": b["random"]["p_at_k"]["1"],
                "p_at_1_nearest_trained_tag": b["nearest_trained_tag"]["p_at_k"]["1"],
                "trained_tags_map": zs["trained_tags"]["map"],
                "seconds": round(seconds, 1),
            })
    mean = {k: round(statistics.mean(r[k] for r in runs), 4) for k in (
        "map", "map_random", "map_nearest_trained_tag", "p_at_1", "p_at_1_random", "p_at_1_nearest_trained_tag", "trained_tags_map"
    )}
    return {"runs": runs, "mean": mean, "map_ratio_vs_random": round(mean["map"] / mean["map_random"], 3),
            "map_ratio_vs_nearest": round(mean["map"] / mean["map_nearest_trained_tag"], 3)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--section", choices=["embed", "zero_shot", "all"], default="all")
    ap.add_argument("--seeds", default="0,1,2")
    args = ap.parse_args()
    out = {"loadavg": os.getloadavg()}
    if args.section in ("embed", "all"):
        out["embed"] = bench_embed()
    if args.section in ("zero_shot", "all"):
        out["zero_shot"] = bench_zero_shot([int(s) for s in args.seeds.split(",")])
    write_result("text", out)


if __name__ == "__main__":
    main()
