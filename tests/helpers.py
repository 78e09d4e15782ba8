"""Shared test helpers: where the real clips are, and generated audio."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

#: ../shared/data/clips beside the checkout (absent on users' machines).
CLIPS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "clips"

needs_clips = pytest.mark.skipif(not CLIPS.is_dir(), reason="../shared/data/clips is not present")


def tone(*, freq: float = 440.0, sr: int = 22050, duration: float = 1.0, channels: int = 1, amp: float = 0.5) -> np.ndarray:
    """A sine tone [shape=(n,) or (n, channels)], float32, as soundfile writes it."""
    t = np.arange(int(round(sr * duration))) / sr
    y = (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    if channels > 1:
        y = np.stack([y * (0.5 + 0.5 * c / channels) for c in range(channels)], axis=1)
    return y


def write_tone(path: Path, **kwargs) -> Path:
    """Write :func:`tone` to ``path`` (format from the extension) and return the path."""
    import soundfile as sf

    sr = kwargs.get("sr", 22050)
    subtype = kwargs.pop("subtype", None)
    sf.write(path, tone(**kwargs), sr, subtype=subtype)
    return Path(path)


def write_tone_dataset(root: Path, *, n_per_genre: int = 8, seconds: float = 2.0, sr: int = 22050, seed: int = 0) -> Path:
    """A tiny folder dataset: ``low/`` (220 Hz) and ``high/`` (1760 Hz) noisy tones, slightly detuned per clip."""
    import soundfile as sf

    rng = np.random.default_rng(seed)
    for genre, f0 in (("low", 220.0), ("high", 1760.0)):
        (root / genre).mkdir(parents=True, exist_ok=True)
        for i in range(n_per_genre):
            t = np.arange(int(seconds * sr)) / sr
            f = f0 * (1 + 0.03 * rng.standard_normal())
            y = 0.3 * np.sin(2 * np.pi * f * t) + 0.02 * rng.standard_normal(len(t))
            sf.write(root / genre / f"{genre}.{i:05d}.wav", y.astype(np.float32), sr)
    return root


def toy_index(strengths, labels, splits=None, paths=None, features=None):
    """A small DatasetIndex: tracks t0, t1, ... with these strengths (0-100), optional splits, paths, feature table."""
    import pandas as pd

    from musictag_core.datasets.base import DatasetIndex

    n = len(strengths)
    tracks = pd.DataFrame({"track_id": [f"t{i}" for i in range(n)], "path": paths or [""] * n})
    if splits is not None:
        tracks["split"] = splits
    return DatasetIndex(name="toy", kind="test", labels=labels, tracks=tracks, strengths=np.asarray(strengths, float),
                        features=features)
