"""Tagging speed: ``tag_file`` against musicnn's own way of running the same model.

Run: ``python bench/bench_tag.py [--repeat N]``. Writes ``bench/results/tag.json``.

Inputs: a 30 s GTZAN clip (``../shared/data/clips/blues.00000.wav``) and a
3-minute MP3 made by concatenating real clips and encoding them with
soundfile's MP3 support into a temporary folder (falls back to noise when the
clips are absent).

Measured, all with the shipped ``MSD_musicnn``:

* ``ours_warm``: ``tag_file`` with the tagger already loaded and traced
  (decode straight at 16 kHz, batched patches through one ``tf.function``);
* ``ours_cold``: ``clear_tagger_cache()`` then ``tag_file`` by name, so it
  includes loading the model and tracing (TensorFlow itself already imported);
* ``ours_bfloat16_warm``: the opt-in bfloat16 tagger;
* ``baseline``: what musicnn does: ``librosa.load(sr=16000)``, the mel
  spectrogram, then ``model.predict`` with batch size 1 per patch.

The figures depend on the machine and its load: the load average is recorded.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CLIPS = ROOT.parent / "shared" / "data" / "clips"
RESULT = ROOT / "bench" / "results" / "tag.json"


def _timeit(fn, *, repeat: int) -> dict:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return {"median_s": round(statistics.median(times), 3), "min_s": round(min(times), 3), "runs": repeat}


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
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    import tensorflow as tf  # noqa: F401  (imported up front: not part of any timing)

    from musictag_core.paths import assets_dir
    from musictag_core.predict import MusicnnTagger, clear_tagger_cache, load_tagger, tag_file

    result: dict = {
        "machine": {
            "cpu_count": os.cpu_count(),
            "platform": platform.platform(),
            "load_average_at_start": [round(v, 2) for v in os.getloadavg()],
        },
        "model": "MSD_musicnn",
    }
    with tempfile.TemporaryDirectory(prefix="bench-tag-") as tmp:
        inputs = _make_inputs(Path(tmp))
        tagger = load_tagger("MSD_musicnn")
        folder = assets_dir() / "models" / "MSD_musicnn"
        fast = MusicnnTagger(folder, tagger.card, precision="bfloat16")
        for name, path in inputs.items():
            tag_file(path, tagger), tag_file(path, fast)  # trace once
            warm = _timeit(lambda: tag_file(path, tagger), repeat=args.repeat)
            warm_bf16 = _timeit(lambda: tag_file(path, fast), repeat=args.repeat)

            def cold():
                clear_tagger_cache()
                tag_file(path, "MSD_musicnn")

            cold_t = _timeit(cold, repeat=max(1, args.repeat - 1))
            base_scores = _baseline(path, tagger.model_)  # warm-up call
            base = _timeit(lambda: _baseline(path, tagger.model_), repeat=max(1, args.repeat - 1))
            pred = tag_file(path, tagger)
            pred_bf16 = tag_file(path, fast)
            result[name] = {
                "duration_s": round(pred.duration_s, 2),
                "patches": int(len(pred.segment_starts_s)),
                "ours_warm": warm,
                "ours_cold": cold_t,
                "ours_bfloat16_warm": warm_bf16,
                "baseline_musicnn_style": base,
                "speedup_warm_vs_baseline": round(base["median_s"] / warm["median_s"], 2),
                "speedup_bfloat16_vs_baseline": round(base["median_s"] / warm_bf16["median_s"], 2),
                "max_abs_score_diff_vs_baseline": float(np.abs(pred.scores - base_scores).max()),
                "max_abs_score_diff_bfloat16": float(np.abs(pred.scores - pred_bf16.scores).max()),
            }
            print(name, json.dumps(result[name]), flush=True)
    result["machine"]["load_average_at_end"] = [round(v, 2) for v in os.getloadavg()]
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {RESULT}")


if __name__ == "__main__":
    main()
