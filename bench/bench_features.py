"""Feature extraction speed: batched shared-STFT extraction against a naive librosa loop.

Run: ``python bench/bench_features.py``. Writes ``bench/results/features.json``.

* ``frames``: MFCC + log-mel for 10 segments of 12 s (one 120 s track), ours
  (one STFT per batch, shared by both) against calling ``librosa.feature.mfcc``
  and ``librosa.feature.melspectrogram`` per segment.
* ``store``: extraction of the shared real clips through the cache, cold
  (computed, 2 workers) and warm (every entry cached).
"""

from __future__ import annotations

import tempfile

import numpy as np
from common import CLIPS, timeit, write_result  # noqa: E402


def main() -> None:
    import librosa

    from musictag_core.config import PipelineConfig
    from musictag_core.features import extract_frames
    from musictag_core.store import extract_paths

    rng = np.random.default_rng(0)
    segments = (0.1 * rng.standard_normal((10, 12 * 22050))).astype(np.float32)

    def ours():
        extract_frames(segments, kinds=("mfcc", "logmel"))

    def naive():
        for y in segments:
            librosa.feature.mfcc(y=y, sr=22050, n_mfcc=13)
            librosa.power_to_db(librosa.feature.melspectrogram(y=y, sr=22050), top_db=80.0)

    ours(), naive()  # warm up imports and caches
    t_ours, t_naive = timeit(ours, repeat=5), timeit(naive, repeat=5)
    result = {
        "frames": {
            "what": "MFCC(13) + log-mel(128) of 10 x 12 s segments at 22050 Hz",
            "ours": t_ours,
            "naive_librosa_loop": t_naive,
            "speedup": round(t_naive["median_s"] / t_ours["median_s"], 2),
        }
    }
    clips = sorted(CLIPS.glob("*.wav")) if CLIPS.is_dir() else []
    if clips:
        with tempfile.TemporaryDirectory() as root:
            cold = extract_paths(clips, pipeline=PipelineConfig(), root=root, n_jobs=2)
            warm = extract_paths(clips, pipeline=PipelineConfig(), root=root, n_jobs=2)
        audio_s = sum(librosa.get_duration(path=p) for p in clips)
        result["store"] = {
            "files": len(clips),
            "audio_seconds": round(audio_s, 1),
            "cold_s": round(cold.seconds, 3),
            "warm_s": round(warm.seconds, 3),
            "cold_audio_minutes_per_s": round(audio_s / 60 / cold.seconds, 2),
            "note": "cold includes starting 2 worker processes",
        }
    write_result("features", result)


if __name__ == "__main__":
    main()
