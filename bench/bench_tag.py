"""Tagging speed: ``tag_file`` against musicnn's own way of running the same model.

Run: ``python bench/bench_tag.py [--repeat N]``. Writes ``bench/results/tag.json``.

Inputs: a 30 s GTZAN clip (``../shared/data/clips/blues.00000.wav``) and a
3-minute MP3 made by concatenating real clips and encoding them with
soundfile's MP3 support into a temporary folder (falls back to noise when the
clips are absent).

Measured, all with the shipped ``MSD_musicnn``:

* ``ours_warm``: ``tag_file`` with the tagger already loaded (decode straight
  at 16 kHz, near-equal batches of patches through the folded musicnn graph of
  ``musictag_core.models.musicnn.fast``, traced once at load);
* ``ours_keras_graph_warm``: the same, but running the Keras model itself
  (``MusicnnTagger(fast=False)``, the previous default), to isolate the folding;
* ``ours_cold``: ``clear_tagger_cache()`` then ``tag_file`` by name, so it
  includes loading the model and tracing (TensorFlow itself already imported);
* ``ours_bfloat16_warm``: the opt-in bfloat16 tagger (Keras graph);
* ``baseline_musicnn_style``: what musicnn does: ``librosa.load(sr=16000)``,
  the mel spectrogram, then ``model.predict`` with batch size 1 per patch;
* ``stages``: decode (``load_audio`` at 16 kHz), mel + patches, model, for the
  fast tagger.

Every timing has wall seconds (min, median) and the process CPU seconds (all
threads). The machine is shared: when other processes keep its 2 cores busy
(see the recorded load averages) wall times stretch by the load while CPU
seconds barely move; ``cpu_s / 2`` is what the wall time approaches on an idle
2-core machine, since TensorFlow keeps both cores busy. ``model_flops`` counts
the multiply-adds of the convolutions and dense layers (x2) per 3 s patch.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CLIPS = ROOT.parent / "shared" / "data" / "clips"
RESULT = ROOT / "bench" / "results" / "tag.json"


def _timeit(fn, *, repeat: int) -> dict:
    walls, cpus = [], []
    for _ in range(repeat):
        c0, t0 = time.process_time(), time.perf_counter()
        fn()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    return {
        "median_s": round(statistics.median(walls), 3),
        "min_s": round(min(walls), 3),
        "cpu_median_s": round(statistics.median(cpus), 3),
        "cpu_min_s": round(min(cpus), 3),
        "runs": repeat,
    }


def _model_flops(model) -> int:
    """Floating-point operations (2 per multiply-add) of one patch through musicnn's convolutions and dense layers."""
    import keras

    flops = 0
    for layer in model.layers:
        if isinstance(layer, (keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Dense)):
            out = layer.output.shape  # (1, t, [f,] c) or (1, units)
            kernel = layer.kernel.shape  # (..., c_in, c_out)
            positions = int(np.prod(out[1:-1])) if len(out) > 2 else 1
            flops += 2 * positions * int(np.prod(kernel))
    return flops


def _make_inputs(folder: Path) -> dict[str, Path]:
    import soundfile as sf

    from musictag_core.audio import load_audio

    clips = sorted(CLIPS.glob("*.00000.wav")) if CLIPS.is_dir() else []
    if clips:
        short = clips[0]
        parts = [load_audio(p, sr=22050)[0] for p in clips[:6]]
    else:
        rng = np.random.default_rng(0)
        parts = [(0.1 * rng.standard_normal(30 * 22050)).astype(np.float32) for _ in range(6)]
        short = folder / "clip30.wav"
        sf.write(short, parts[0], 22050)
    y = np.concatenate(parts)[: 180 * 22050]
    mp3 = folder / "three_minutes.mp3"
    sf.write(mp3, y, 22050, format="MP3")
    return {"clip_30s": Path(short), "mp3_3min": mp3}


def _baseline(path: Path, model) -> np.ndarray:
    """musicnn's extractor loop (float32 mel, as the port; batch size 1 per patch)."""
    import librosa

    y, sr = librosa.load(path, sr=16000)
    mel = librosa.feature.melspectrogram(y=y, sr=sr, hop_length=256, n_fft=512, n_mels=96).T
    mel = np.log10(10000 * mel + 1)
    scores = []
    for start in range(0, mel.shape[0] - 187 + 1, 187):
        out = model.predict(mel[None, start : start + 187], batch_size=1, verbose=0)
        scores.append(out["tags"][0])
    return np.mean(scores, axis=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-bfloat16", action="store_true", help="skip the opt-in bfloat16 tagger")
    args = parser.parse_args()

    import tensorflow as tf  # noqa: F401  (imported up front: not part of any timing)

    from musictag_core.audio import load_audio
    from musictag_core.models.loading import clear_tagger_cache, load_tagger
    from musictag_core.models.musicnn import MusicnnTagger
    from musictag_core.paths import assets_dir
    from musictag_core.predict import tag_file

    result: dict = {
        "machine": {
            "cpu_count": os.cpu_count(),
            "platform": platform.platform(),
            "load_average_at_start": [round(v, 2) for v in os.getloadavg()],
        },
        "model": "MSD_musicnn",
    }
    few = max(1, args.repeat - 2)
    with tempfile.TemporaryDirectory(prefix="bench-tag-") as tmp:
        inputs = _make_inputs(Path(tmp))
        tagger = load_tagger("MSD_musicnn")
        folder = assets_dir() / "models" / "MSD_musicnn"
        keras_graph = MusicnnTagger(folder, tagger.card, fast=False)
        bf16 = None if args.no_bfloat16 else MusicnnTagger(folder, tagger.card, precision="bfloat16")
        flops = _model_flops(tagger.model_)
        result["model_flops_per_patch"] = flops
        for name, path in inputs.items():
            tag_file(path, tagger), tag_file(path, keras_graph)  # warm caches
            warm = _timeit(lambda: tag_file(path, tagger), repeat=args.repeat)
            warm_keras = _timeit(lambda: tag_file(path, keras_graph), repeat=args.repeat)
            y, _ = load_audio(path, sr=tagger.sr)
            p, _ = tagger.patches(y)
            stages = {
                "decode": _timeit(lambda: load_audio(path, sr=tagger.sr), repeat=args.repeat),
                "mel_and_patches": _timeit(lambda: tagger.patches(y), repeat=args.repeat),
                "model": _timeit(lambda: tagger.forward(p), repeat=args.repeat),
            }
            model_cpu = stages["model"]["cpu_min_s"]
            stages["model"]["gflop"] = round(flops * len(p) / 1e9, 1)
            stages["model"]["gflop_per_cpu_s"] = round(flops * len(p) / 1e9 / model_cpu, 1)
            stages["model"]["gflop_per_wall_s"] = round(flops * len(p) / 1e9 / stages["model"]["min_s"], 1)

            def cold():
                clear_tagger_cache()
                tag_file(path, "MSD_musicnn")

            cold_t = _timeit(cold, repeat=few)
            base_scores = _baseline(path, tagger.model_)  # warm-up call
            base = _timeit(lambda: _baseline(path, tagger.model_), repeat=few)
            pred = tag_file(path, tagger)
            pred_keras = tag_file(path, keras_graph)
            row = {
                "duration_s": round(pred.duration_s, 2),
                "patches": int(len(pred.segment_starts_s)),
                "ours_warm": warm,
                "ours_keras_graph_warm": warm_keras,
                "ours_cold": cold_t,
                "baseline_musicnn_style": base,
                "stages": stages,
                "speedup_warm_vs_baseline": round(base["median_s"] / warm["median_s"], 2),
                "speedup_warm_vs_baseline_cpu": round(base["cpu_median_s"] / warm["cpu_median_s"], 2),
                "speedup_folded_vs_keras_graph_cpu": round(warm_keras["cpu_median_s"] / warm["cpu_median_s"], 2),
                "max_abs_score_diff_vs_baseline": float(np.abs(pred.scores - base_scores).max()),
                "max_abs_segment_score_diff_vs_keras_graph": float(
                    np.abs(pred.segment_scores - pred_keras.segment_scores).max()
                ),
            }
            if bf16 is not None:
                tag_file(path, bf16)
                row["ours_bfloat16_warm"] = _timeit(lambda: tag_file(path, bf16), repeat=few)
                row["max_abs_score_diff_bfloat16"] = float(np.abs(pred.scores - tag_file(path, bf16).scores).max())
            result[name] = row
            print(name, json.dumps(row), flush=True)
    result["machine"]["load_average_at_end"] = [round(v, 2) for v in os.getloadavg()]
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {RESULT}")


if __name__ == "__main__":
    main()
