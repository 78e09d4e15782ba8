"""The embedded demo corpus: a small, deterministic, synthesised music dataset.

The demo corpus is the default dataset of the app, the notebooks and the tests.
It is generated on first use by a small numpy synthesiser (no samples, no
downloads) into the cache folder and reused afterwards.

Styles
------
Six styles, each with its own tempo range, drum pattern, bass line, harmony and
timbre (:data:`DEMO_STYLES`):

============  =======  ===================================================================
style         tempo    structure
============  =======  ===================================================================
electronic    120-130  four-on-the-floor kick, clap on 2 and 4, offbeat open hats, straight
                       16th hats; offbeat or rolling saw bass; minor-key saw pads, stabs or
                       a plucked 16th arpeggio; quantised timing
jazz          110-160  swung ride (ding, ding-a), hi-hat foot on 2 and 4, ghost snares;
                       walking bass (upright pluck) from chord tones with chromatic
                       approaches; ii-V-I progressions of 7th chords comped by a piano on
                       swung offbeats, sometimes a vibraphone line; humanised timing
rock          100-140  backbeat (snare on 2 and 4, kick on 1 and 3, 8th hats, crash every
                       four bars, snare fill); root-note 8th bass; distorted power chords
                       (detuned saws through tanh clipping), palm-muted chugs or sustained
ambient       60-80    no drums; slow detuned-saw pads (maj7/add9/sus2) through a dark
                       low-pass, a sine sub drone, sparse bells, long reverb
hiphop        85-95    boom-bap: syncopated kick, fat snare on 2 and 4, swung 16th hats; sine
                       sub bass following the kick; lo-fi electric-piano minor 7th/9th
                       chords; vinyl crackle
classical     70-110   no drums; arpeggiated bowed strings (16ths, triplets or Alberti
                       figures, with vibrato) over cello half notes; I-IV-V(7)-I style
                       progressions in major or minor; concert-hall reverb
============  =======  ===================================================================

Every clip draws its own key, tempo, duration, progression, instrumentation
variant, brightness, mixing levels, reverb and noise floor from its own
``np.random.Generator``, seeded from ``(seed, style, index)``; there is no global
random state, so the same seed gives byte-identical files. Each style has five
fake "artists" (``<style>_<k>``, clip ``i`` belongs to artist ``i % 5``); an
artist has its own tempo centre, brightness and favourite arrangement, so
artist-grouped splits are measurably harder than random ones, as with real music.

Blends and strengths
--------------------
Single-style clips get strength 100 for their style and 0 for the others.
About 15 % extra *blended* clips mix two styles: the *rhythm* style provides
tempo, drums and bass, the *harmony* style the chords and lead voices (for
example jazz harmony over hip-hop drums, or classical strings over an
electronic beat). Both styles get a strength from the pairs (70, 55), (65, 50),
(60, 40) and (55, 45), in either order; the style with the higher strength has
its layers mixed louder (0.15 dB per strength point). At the default threshold
of 50 a blend thus has one or two present labels; one is always >= 50.

Files
-----
``generate_demo_corpus(out)`` writes::

    out/<style>/<style>.<NNN>.wav          single-style clips, 22050 Hz mono PCM-16
    out/<dominant>/<dominant>+<other>.<NNN>.wav  blends, in the folder of their stronger style
    out/strengths.csv                      track_id,path,artist,<style1>,...  (path relative
                                           to the csv folder, strengths 0-100)
    out/metadata.json                      version, seed, styles, counts, and per clip its
                                           styles, tempo, key, duration and arrangement

Every file is written to a temporary name and moved into place with
:func:`os.replace`; ``metadata.json`` is written last and marks a complete corpus.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import tempfile
import time
import uuid
import zlib
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import signal

from ..errors import DatasetError, ParameterError
from ..fileio import atomic_save
from .base import DEFAULT_STRENGTH_THRESHOLD, DatasetIndex

__all__ = [
    "DEMO_STYLES",
    "DEMO_VERSION",
    "BLEND_PAIRS",
    "BLEND_STRENGTHS",
    "ClipParams",
    "draw_clip_params",
    "render_clip",
    "synthesize_clip",
    "generate_demo_corpus",
    "demo_corpus_dir",
    "load_demo",
]

#: Version of the generator; part of the cache folder name, bump when output changes.
DEMO_VERSION = "demo-v1"

#: The style names, which are also the labels of the corpus.
DEMO_STYLES: tuple[str, ...] = ("electronic", "jazz", "rock", "ambient", "hiphop", "classical")

#: (rhythm style, harmony style) pairs that blended clips are drawn from.
BLEND_PAIRS: tuple[tuple[str, str], ...] = (
    ("hiphop", "jazz"),
    ("electronic", "ambient"),
    ("electronic", "classical"),
    ("rock", "electronic"),
    ("hiphop", "classical"),
    ("jazz", "ambient"),
    ("rock", "classical"),
    ("electronic", "jazz"),
)

#: Strength pairs of blends (higher, lower); the order is drawn per clip.
BLEND_STRENGTHS: tuple[tuple[int, int], ...] = ((70, 55), (65, 50), (60, 40), (55, 45))

_N_ARTISTS = 5
_NOTE_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")

#: Chord qualities as semitones above the chord root.
_CHORDS: dict[str, tuple[int, ...]] = {
    "maj": (0, 4, 7),
    "min": (0, 3, 7),
    "7": (0, 4, 7, 10),
    "maj7": (0, 4, 7, 11),
    "m7": (0, 3, 7, 10),
    "m7b5": (0, 3, 6, 10),
    "m9": (0, 3, 7, 10, 14),
    "sus2": (0, 2, 7),
    "add9": (0, 4, 7, 14),
    "5": (0, 7, 12),
}


@dataclass(frozen=True)
class _Style:
    tempo: tuple[float, float]
    swing: tuple[float, float]  # position of the 2nd 8th (or 16th) in its pair: 0.5 straight
    progressions: tuple[tuple[tuple[int, str], ...], ...]  # (root offset from key, quality)
    bars_per_chord: int
    has_drums: bool
    levels_db: tuple[float, float, float]  # RMS of drums, bass, harmony layers
    reverb_decay: tuple[float, float]
    reverb_wet: tuple[float, float]
    humanize_ms: float
    n_variants: int = 3


_STYLES: dict[str, _Style] = {
    "electronic": _Style(
        tempo=(120, 130),
        swing=(0.5, 0.5),
        progressions=(
            ((0, "min"), (8, "maj"), (3, "maj"), (10, "maj")),
            ((0, "min"), (5, "min"), (8, "maj"), (10, "maj")),
            ((0, "min"), (10, "maj"), (8, "maj"), (10, "maj")),
        ),
        bars_per_chord=1,
        has_drums=True,
        levels_db=(-16, -20, -23),
        reverb_decay=(0.8, 1.5),
        reverb_wet=(0.08, 0.18),
        humanize_ms=0.0,
    ),
    "jazz": _Style(
        tempo=(110, 160),
        swing=(0.62, 0.68),
        progressions=(
            ((2, "m7"), (7, "7"), (0, "maj7"), (9, "7")),
            ((0, "maj7"), (9, "m7"), (2, "m7"), (7, "7")),
            ((2, "m7b5"), (7, "7"), (0, "m7"), (0, "m7")),
            ((4, "m7"), (9, "7"), (2, "m7"), (7, "7")),
        ),
        bars_per_chord=1,
        has_drums=True,
        levels_db=(-27, -20, -19),
        reverb_decay=(0.6, 1.1),
        reverb_wet=(0.12, 0.22),
        humanize_ms=9.0,
    ),
    "rock": _Style(
        tempo=(100, 140),
        swing=(0.5, 0.5),
        progressions=(
            ((0, "5"), (10, "5"), (5, "5"), (0, "5")),
            ((0, "5"), (7, "5"), (9, "5"), (5, "5")),
            ((0, "5"), (5, "5"), (7, "5"), (5, "5")),
            ((9, "5"), (5, "5"), (0, "5"), (7, "5")),
        ),
        bars_per_chord=1,
        has_drums=True,
        levels_db=(-18, -21, -18),
        reverb_decay=(0.5, 1.0),
        reverb_wet=(0.06, 0.14),
        humanize_ms=5.0,
    ),
    "ambient": _Style(
        tempo=(60, 80),
        swing=(0.5, 0.5),
        progressions=(
            ((0, "maj7"), (5, "add9")),
            ((0, "add9"), (9, "m7"), (5, "maj7"), (7, "sus2")),
            ((0, "sus2"), (5, "maj7"), (9, "m7"), (5, "add9")),
        ),
        bars_per_chord=2,
        has_drums=False,
        levels_db=(-30, -27, -17),
        reverb_decay=(3.0, 5.0),
        reverb_wet=(0.4, 0.6),
        humanize_ms=0.0,
    ),
    "hiphop": _Style(
        tempo=(85, 95),
        swing=(0.56, 0.62),
        progressions=(
            ((0, "m7"), (5, "m7")),
            ((0, "m9"), (8, "maj7")),
            ((0, "m7"), (3, "maj7"), (8, "maj7"), (7, "7")),
        ),
        bars_per_chord=1,
        has_drums=True,
        levels_db=(-15, -18, -23),
        reverb_decay=(0.3, 0.6),
        reverb_wet=(0.04, 0.1),
        humanize_ms=7.0,
    ),
    "classical": _Style(
        tempo=(70, 110),
        swing=(0.5, 0.5),
        progressions=(
            ((0, "maj"), (5, "maj"), (7, "7"), (0, "maj")),
            ((0, "maj"), (9, "min"), (5, "maj"), (7, "7")),
            ((0, "min"), (5, "min"), (7, "7"), (0, "min")),
            ((0, "maj"), (7, "maj"), (9, "min"), (4, "min")),
        ),
        bars_per_chord=1,
        has_drums=False,
        levels_db=(-30, -23, -17),
        reverb_decay=(1.8, 2.8),
        reverb_wet=(0.25, 0.4),
        humanize_ms=0.0,
    ),
}


# --------------------------------------------------------------------------- parameters


@dataclass(frozen=True)
class ClipParams:
    """Everything drawn for one clip; rendering adds only noise and micro-timing.

    Attributes
    ----------
    style : str
        Rhythm style: tempo, drums and bass.
    harmony_style : str
        Style of the chords and lead voices (equal to ``style`` except in blends).
    duration : float
        Clip length in seconds.
    tempo : float
        Beats per minute.
    swing : float
        Onset of the second 8th (16th for hip-hop) of each pair, as a fraction of the pair
        (0.5 straight, 0.67 triplet swing).
    key : int
        Pitch class of the tonic, 0 = C.
    progression : tuple of (int, str)
        Chord roots (semitones above the key) and qualities, looped.
    bars_per_chord : int
    variant : int
        Arrangement variant of the style (which instruments and patterns).
    brightness : float
        Multiplies the low-pass cutoffs (timbre).
    levels_db : tuple of float
        RMS level of the drum, bass and harmony layers.
    reverb_decay, reverb_wet : float
        Reverb time (s, to -60 dB) and wet share.
    noise_db : float
        Level of the white noise floor (dBFS).
    artist : str
        Fake artist name.
    """

    style: str
    harmony_style: str
    duration: float
    tempo: float
    swing: float
    key: int
    progression: tuple[tuple[int, str], ...]
    bars_per_chord: int
    variant: int
    brightness: float
    levels_db: tuple[float, float, float]
    reverb_decay: float
    reverb_wet: float
    noise_db: float
    artist: str = ""

    @property
    def key_name(self) -> str:
        """Tonic and mode, for example ``"F# minor"``."""
        minor = _CHORDS[self.progression[0][1]][1] == 3
        return f"{_NOTE_NAMES[self.key]} {'minor' if minor else 'major'}"

    def to_dict(self) -> dict:
        """A JSON-serialisable view (for ``metadata.json`` and logs)."""
        d = asdict(self)
        d["progression"] = [f"{_NOTE_NAMES[(self.key + r) % 12]}{q}" for r, q in self.progression]
        d["key_name"] = self.key_name
        d["levels_db"] = [round(v, 2) for v in self.levels_db]
        for k in ("duration", "tempo", "swing", "brightness", "reverb_decay", "reverb_wet", "noise_db"):
            d[k] = round(float(d[k]), 4)
        return d


def _check_style(style: str) -> _Style:
    try:
        return _STYLES[style]
    except KeyError:
        raise ParameterError(f"unknown demo style {style!r}; choose one of {', '.join(DEMO_STYLES)}") from None


def _artist_traits(seed: int, style: str, k: int) -> dict:
    """Stable traits of fake artist ``k`` of a style."""
    spec = _check_style(style)
    rng = _rng(seed, f"artist:{style}", k)
    return {
        "tempo_centre": float(rng.uniform(*spec.tempo)),
        "brightness": float(rng.uniform(0.75, 1.3)),
        "variant": k % spec.n_variants,
        "progression": int(rng.integers(len(spec.progressions))),
        "reverb_scale": float(rng.uniform(0.85, 1.15)),
    }


def draw_clip_params(
    style: str,
    *,
    rng: np.random.Generator,
    duration: float | None = None,
    duration_range: tuple[float, float] = (10.0, 30.0),
    harmony_style: str | None = None,
    harmony_gain_db: float = 0.0,
    traits: dict | None = None,
    artist: str = "",
) -> ClipParams:
    """Draw the parameters of one clip.

    Parameters
    ----------
    style : str
        One of :data:`DEMO_STYLES`; gives tempo, drums and bass.
    rng : np.random.Generator
    duration : float or None
        Length in seconds; drawn uniformly from ``duration_range`` when None.
    harmony_style : str or None
        Style of chords and lead voices (a blend when it differs from ``style``).
    harmony_gain_db : float
        Level change of the harmony layer relative to its style's default (blends).
    traits : dict or None
        Artist traits (tempo centre, brightness, favourite variant and progression).

    Returns
    -------
    ClipParams
    """
    spec = _check_style(style)
    hstyle = style if harmony_style is None else harmony_style
    hspec = _check_style(hstyle)
    if duration is None:
        lo, hi = duration_range
        duration = float(rng.uniform(lo, hi))
    if not (0.5 <= duration <= 600):
        raise ParameterError(f"duration={duration!r} s is out of range; use 0.5 to 600 s")
    lo, hi = spec.tempo
    if traits:
        tempo = float(np.clip(traits["tempo_centre"] + rng.normal(0, 0.12 * (hi - lo)), lo, hi))
        brightness = float(np.clip(traits["brightness"] * rng.uniform(0.9, 1.1), 0.6, 1.5))
        variant = traits["variant"] if rng.random() < 0.7 else int(rng.integers(hspec.n_variants))
        prog = traits["progression"] if rng.random() < 0.6 else int(rng.integers(len(hspec.progressions)))
        prog = prog % len(hspec.progressions)
        rscale = traits["reverb_scale"]
    else:
        tempo = float(rng.uniform(lo, hi))
        brightness = float(rng.uniform(0.75, 1.3))
        variant = int(rng.integers(hspec.n_variants))
        prog = int(rng.integers(len(hspec.progressions)))
        rscale = 1.0
    swing = float(rng.uniform(*spec.swing))
    key = int(rng.integers(12))
    jitter = rng.normal(0, 1.5, size=3)
    levels = (
        spec.levels_db[0] + jitter[0],
        spec.levels_db[1] + jitter[1],
        hspec.levels_db[2] + jitter[2] + harmony_gain_db,
    )
    decay = rscale * 0.5 * (rng.uniform(*spec.reverb_decay) + rng.uniform(*hspec.reverb_decay))
    wet = 0.5 * (rng.uniform(*spec.reverb_wet) + rng.uniform(*hspec.reverb_wet))
    return ClipParams(
        style=style,
        harmony_style=hstyle,
        duration=float(duration),
        tempo=tempo,
        swing=swing,
        key=key,
        progression=hspec.progressions[prog],
        bars_per_chord=hspec.bars_per_chord,
        variant=int(variant),
        brightness=brightness,
        levels_db=tuple(float(v) for v in levels),
        reverb_decay=float(decay),
        reverb_wet=float(wet),
        noise_db=float(rng.uniform(-66, -52)),
        artist=artist,
    )


# --------------------------------------------------------------------------- DSP helpers


def _midi_hz(m: float) -> float:
    return 440.0 * 2.0 ** ((m - 69.0) / 12.0)


@functools.lru_cache(maxsize=256)
def _sos(kind: str, cutoff: float, sr: int, order: int = 2) -> np.ndarray:
    cutoff = float(np.clip(cutoff, 20.0, 0.45 * sr))
    return signal.butter(order, cutoff, btype=kind, fs=sr, output="sos")


def _lowpass(x: np.ndarray, cutoff: float, sr: int, order: int = 2) -> np.ndarray:
    return signal.sosfilt(_sos("lowpass", round(cutoff), sr, order), x)


def _highpass(x: np.ndarray, cutoff: float, sr: int, order: int = 2) -> np.ndarray:
    return signal.sosfilt(_sos("highpass", round(cutoff), sr, order), x)


def _saw(freq: float | np.ndarray, n: int, sr: int, phase0: float = 0.0) -> np.ndarray:
    """Band-limited (polyBLEP) sawtooth [shape=(n,)]; ``freq`` scalar or per sample."""
    if np.ndim(freq) == 0:
        dt = np.full(n, float(freq) / sr)
        phase = (phase0 + np.arange(n) * (float(freq) / sr)) % 1.0
    else:
        dt = np.asarray(freq, dtype=np.float64) / sr
        phase = (phase0 + np.cumsum(dt)) % 1.0
    y = 2.0 * phase - 1.0
    m = phase < dt
    x = phase[m] / dt[m]
    y[m] -= x + x - x * x - 1.0
    m = phase > 1.0 - dt
    x = (phase[m] - 1.0) / dt[m]
    y[m] -= x * x + x + x + 1.0
    return y


def _env(n: int, sr: int, attack: float, release: float) -> np.ndarray:
    """Linear attack, sustain, linear release envelope [shape=(n,)]."""
    e = np.ones(n)
    a = min(n, max(1, int(attack * sr)))
    r = min(n - a, max(1, int(release * sr)))
    e[:a] = np.linspace(0.0, 1.0, a, endpoint=False)
    if r > 0:
        e[n - r :] *= np.linspace(1.0, 0.0, r)
    return e


def _decay(n: int, sr: int, tau: float) -> np.ndarray:
    return np.exp(-np.arange(n) / (tau * sr))


def _pluck(freq: float, n: int, sr: int, *, decay: float, n_harm: int = 8, bright: float = 0.5,
           inharm: float = 2e-4, tremolo: float = 0.0) -> np.ndarray:
    """Decaying-harmonics plucked/struck tone (piano, upright bass, e-piano, vibes)."""
    t = (np.arange(n) / sr).astype(np.float32)
    k = np.arange(1, n_harm + 1, dtype=np.float64)
    fk = freq * k * np.sqrt(1.0 + inharm * k * k)
    ok = fk < 0.45 * sr
    k, fk = k[ok], fk[ok]
    amp = (bright ** (k - 1) / k).astype(np.float32)
    rate = ((1.0 + 0.7 * (k - 1)) / decay).astype(np.float32)
    w = (2 * np.pi * fk).astype(np.float32)
    y = (amp[:, None] * np.sin(w[:, None] * t) * np.exp(-rate[:, None] * t)).sum(axis=0, dtype=np.float64)
    a = min(n, int(0.004 * sr))
    y[:a] *= np.linspace(0, 1, a, endpoint=False)
    r = min(n, int(0.02 * sr))
    y[n - r :] *= np.linspace(1, 0, r)
    if tremolo:
        y *= 1.0 - tremolo * (0.5 + 0.5 * np.sin(2 * np.pi * 4.5 * t))
    return y


def _bowed(freq: float, n: int, sr: int, *, attack: float = 0.05, release: float = 0.08,
           vib_depth: float = 0.004, vib_rate: float = 5.5) -> np.ndarray:
    """Bowed string: sawtooth with delayed vibrato and soft attack (low-passed by the caller)."""
    t = np.arange(n) / sr
    depth = vib_depth * np.clip(t / 0.25, 0, 1)
    f = freq * (1.0 + depth * np.sin(2 * np.pi * vib_rate * t))
    return _saw(f, n, sr) * _env(n, sr, attack, release)


def _reverb(y: np.ndarray, sr: int, rng: np.random.Generator, *, decay: float, wet: float) -> np.ndarray:
    """Reverb-ish: convolution with exponentially decaying, darkened noise."""
    n_ir = int(min(decay, 3.0) * sr)
    t = np.arange(n_ir) / sr
    ir = rng.standard_normal(n_ir) * np.exp(-6.9 * t / decay)
    ir = _lowpass(ir, 5000.0, sr)
    ir[: int(0.012 * sr)] = 0.0  # pre-delay
    ir /= np.sqrt(np.sum(ir * ir)) + 1e-12
    tail = signal.fftconvolve(y.astype(np.float32), ir.astype(np.float32))[: len(y)].astype(np.float64)
    return (1.0 - wet) * y + wet * tail * (np.std(y) / (np.std(tail) + 1e-12))


def _rms_db(x: np.ndarray) -> float:
    return 20 * np.log10(np.sqrt(np.mean(x * x)) + 1e-12)


# --------------------------------------------------------------------------- drum voices


def _kick(sr: int, rng: np.random.Generator, *, f0: float, f1: float, tau: float, click: float) -> np.ndarray:
    """Pitched sine sweep from ``f0`` down to ``f1`` Hz with an exponential decay and a click."""
    n = int(min(6 * tau, 0.9) * sr)
    t = np.arange(n) / sr
    f = f1 + (f0 - f1) * np.exp(-t / 0.035)
    y = np.sin(2 * np.pi * np.cumsum(f) / sr) * np.exp(-t / tau)
    c = int(0.004 * sr)
    y[:c] += click * _highpass(rng.standard_normal(c), 2000, sr) * np.linspace(1, 0, c)
    return y


def _snare(sr: int, rng: np.random.Generator, *, tone: float, tau_noise: float, tau_tone: float,
           hp: float = 1200.0, noise_mix: float = 0.7) -> np.ndarray:
    """Noise burst (high-passed) plus a decaying tone."""
    n = int(min(6 * max(tau_noise, tau_tone), 0.8) * sr)
    t = np.arange(n) / sr
    noise = _highpass(rng.standard_normal(n), hp, sr) * np.exp(-t / tau_noise)
    body = np.sin(2 * np.pi * tone * t) * np.exp(-t / tau_tone)
    return noise_mix * noise / (np.abs(noise).max() + 1e-9) + (1 - noise_mix) * body


def _clap(sr: int, rng: np.random.Generator) -> np.ndarray:
    """Three quick band-passed noise bursts and a short tail."""
    n = int(0.35 * sr)
    t = np.arange(n) / sr
    env = np.exp(-t / 0.09) * 0.6
    for off in (0.0, 0.011, 0.022):
        env += np.where(t >= off, np.exp(-(t - off) / 0.006), 0.0)
    x = signal.sosfilt(signal.butter(2, (900, 3500), btype="bandpass", fs=sr, output="sos"), rng.standard_normal(n))
    return x * env


def _hat(sr: int, rng: np.random.Generator, *, tau: float, hp: float = 7000.0) -> np.ndarray:
    n = int(min(6 * tau, 1.0) * sr)
    return _highpass(rng.standard_normal(n), hp, sr, 4) * _decay(n, sr, tau)


def _cymbal(sr: int, rng: np.random.Generator, *, tau: float, ping: float) -> np.ndarray:
    """Ride/crash: inharmonic metallic partials plus high-passed noise."""
    n = int(min(4 * tau, 2.5) * sr)
    t = np.arange(n) / sr
    freqs = rng.uniform(2500, 6000, size=6)
    metal = np.sin(2 * np.pi * freqs[:, None] * t + rng.uniform(0, 6.28, (6, 1))).sum(0) / 6
    noise = _lowpass(_highpass(rng.standard_normal(n), 4000, sr, 2), 9000, sr)
    wash = np.exp(-t / tau) * (0.15 + 0.85 * np.exp(-t / 0.08))
    return (ping * metal * np.exp(-t / (0.4 * tau)) + 0.5 * noise * wash) * _env(n, sr, 0.001, 0.05)


# --------------------------------------------------------------------------- rendering context


@dataclass
class _Ctx:
    p: ClipParams
    sr: int
    rng: np.random.Generator
    n: int  # samples rendered (the clip length)
    shared: dict = field(default_factory=dict)
    cache: dict = field(default_factory=dict)

    @property
    def beat_s(self) -> float:
        return 60.0 / self.p.tempo

    @property
    def n_bars(self) -> int:
        return int(np.ceil(self.n / self.sr / (4 * self.beat_s))) + 1

    def chord(self, bar: int) -> tuple[int, tuple[int, ...]]:
        """Root pitch class and intervals of the chord at ``bar``."""
        r, q = self.p.progression[(bar // self.p.bars_per_chord) % len(self.p.progression)]
        return (self.p.key + r) % 12, _CHORDS[q]

    def swing(self, pos: np.ndarray, unit: float) -> np.ndarray:
        """Delay every second ``unit`` (in beats) of each pair to the swing position."""
        pos = np.asarray(pos, dtype=np.float64)
        k = np.floor(pos / unit + 1e-6)
        frac = pos - k * unit
        odd = (k % 2) == 1
        return np.where(odd, (k - 1) * unit + 2 * unit * self.p.swing + frac, pos)

    def samples(self, beats: np.ndarray, humanize_ms: float = 0.0) -> np.ndarray:
        """Sample index of beat positions (absolute beats from the start)."""
        s = np.asarray(beats, dtype=np.float64) * self.beat_s * self.sr
        if humanize_ms:
            s = s + self.rng.normal(0, humanize_ms * 1e-3 * self.sr, size=s.shape)
        return np.maximum(np.round(s), 0).astype(np.int64)

    def pattern(self, positions: Sequence[float], *, bars=None, swing_unit: float | None = None) -> np.ndarray:
        """Absolute beats of an in-bar pattern repeated over ``bars`` (default all bars)."""
        pos = np.asarray(positions, dtype=np.float64)
        if swing_unit:
            pos = self.swing(pos, swing_unit)
        bars = np.arange(self.n_bars) if bars is None else np.asarray(bars)
        return (bars[:, None] * 4.0 + pos[None, :]).ravel()

    def hits(self, sample: np.ndarray, beats: np.ndarray, vel: np.ndarray | float = 1.0,
             humanize_ms: float = 0.0) -> np.ndarray:
        """Place a one-shot at every beat position, scaled by its velocity."""
        idx = self.samples(beats, humanize_ms)
        vel = np.broadcast_to(np.asarray(vel, dtype=np.float64), idx.shape)
        y = np.zeros(self.n)
        for i, v in zip(idx.tolist(), vel.tolist()):
            if i < self.n:
                m = min(len(sample), self.n - i)
                y[i : i + m] += v * sample[:m]
        return y

    def add(self, buf: np.ndarray, start: int, x: np.ndarray) -> None:
        if start >= len(buf):
            return
        m = min(len(x), len(buf) - start)
        buf[start : start + m] += x[:m]

    def note(self, key: tuple, make: Callable[[], np.ndarray]) -> np.ndarray:
        """Memoise identical notes within a clip (same pitch, length and voice)."""
        if key not in self.cache:
            self.cache[key] = make()
        return self.cache[key]

    def voicing(self, bar: int, low: int, *, drop_root: bool = False, extra: Sequence[int] = ()) -> list[int]:
        """MIDI notes of the chord at ``bar`` with the root at or above ``low``."""
        pc, iv = self.chord(bar)
        root = low + (pc - low) % 12
        ivs = [i for i in iv if not (drop_root and i == 0)] + list(extra)
        return sorted({root + i for i in ivs})

    def bass_root(self, bar: int, low: int = 28) -> int:
        pc, _ = self.chord(bar)
        return low + (pc - low) % 12


# --------------------------------------------------------------------------- drums


def _drums_electronic(c: _Ctx) -> np.ndarray:
    sr, rng, v = c.sr, c.rng, c.p.variant
    kick = _kick(sr, rng, f0=rng.uniform(120, 170), f1=rng.uniform(45, 55), tau=rng.uniform(0.18, 0.3), click=0.4)
    clap = _clap(sr, rng)
    hat_c = _hat(sr, rng, tau=0.03)
    hat_o = _hat(sr, rng, tau=rng.uniform(0.12, 0.2))
    c.shared["kick"] = [0, 1, 2, 3]
    y = c.hits(kick, c.pattern([0, 1, 2, 3]))
    y += 0.55 * c.hits(clap, c.pattern([1, 3]))
    y += 0.35 * c.hits(hat_o, c.pattern([0.5, 1.5, 2.5, 3.5]))
    if v != 1:
        pos = np.arange(16) / 4
        vel = np.tile([0.5, 0.25, 0.35, 0.25], 4)
        y += 0.25 * c.hits(hat_c, c.pattern(pos), np.tile(vel, c.n_bars))
    return y


def _drums_rock(c: _Ctx) -> np.ndarray:
    sr, rng, v, h = c.sr, c.rng, c.p.variant, 5.0
    kick = _kick(sr, rng, f0=rng.uniform(150, 200), f1=rng.uniform(55, 70), tau=rng.uniform(0.08, 0.14), click=0.8)
    snare = _snare(sr, rng, tone=rng.uniform(170, 220), tau_noise=0.12, tau_tone=0.06, noise_mix=0.65)
    hat = _hat(sr, rng, tau=rng.uniform(0.04, 0.08), hp=6000)
    crash = _cymbal(sr, rng, tau=1.0, ping=0.3)
    kpos = ([0, 2], [0, 2, 2.5], [0, 1.5, 2])[v % 3]
    c.shared["kick"] = kpos
    bars = np.arange(c.n_bars)
    fill = bars[bars % 4 == 3]
    norm = bars[bars % 4 != 3]
    y = c.hits(kick, c.pattern(kpos), humanize_ms=h)
    y += 0.8 * c.hits(snare, c.pattern([1, 3], bars=norm), humanize_ms=h)
    if len(fill):
        y += 0.8 * c.hits(snare, c.pattern([1, 3, 3.25, 3.5, 3.75], bars=fill),
                          np.tile([1, 0.8, 0.6, 0.7, 0.9], len(fill)), humanize_ms=h)
    y += 0.3 * c.hits(hat, c.pattern(np.arange(8) / 2), np.tile([1.0, 0.6], 4 * c.n_bars), humanize_ms=h)
    y += 0.35 * c.hits(crash, c.pattern([0], bars=bars[bars % 4 == 0]))
    return y


def _drums_jazz(c: _Ctx) -> np.ndarray:
    sr, rng, h = c.sr, c.rng, 9.0
    ride = _cymbal(sr, rng, tau=rng.uniform(0.6, 1.0), ping=0.9)
    foot = _hat(sr, rng, tau=0.025, hp=5000)
    kick = _kick(sr, rng, f0=rng.uniform(90, 120), f1=rng.uniform(50, 60), tau=0.15, click=0.1)
    ghost = _snare(sr, rng, tone=rng.uniform(200, 260), tau_noise=0.06, tau_tone=0.04, hp=2500, noise_mix=0.8)
    c.shared["kick"] = [0, 1, 2, 3]
    y = 0.5 * c.hits(ride, c.pattern([0, 1, 1.5, 2, 3, 3.5], swing_unit=0.5),
                     np.tile([0.7, 1.0, 0.6, 0.7, 1.0, 0.6], c.n_bars), humanize_ms=h)
    y += 0.25 * c.hits(foot, c.pattern([1, 3]), humanize_ms=h)
    if c.p.variant != 2:
        y += 0.15 * c.hits(kick, c.pattern([0, 1, 2, 3]), humanize_ms=h)
    beats = c.pattern(np.arange(8) / 2, swing_unit=0.5)
    sel = c.rng.random(len(beats)) < 0.14
    y += 0.25 * c.hits(ghost, beats[sel], c.rng.uniform(0.3, 1.0, sel.sum()), humanize_ms=h)
    return y


def _drums_hiphop(c: _Ctx) -> np.ndarray:
    sr, rng, v, h = c.sr, c.rng, c.p.variant, 7.0
    kick = _kick(sr, rng, f0=rng.uniform(90, 130), f1=rng.uniform(40, 50), tau=rng.uniform(0.2, 0.3), click=0.5)
    snare = _snare(sr, rng, tone=rng.uniform(160, 200), tau_noise=rng.uniform(0.08, 0.12), tau_tone=0.07,
                   hp=900, noise_mix=0.75)
    hat = _hat(sr, rng, tau=rng.uniform(0.025, 0.045), hp=6500)
    kpos = ([0, 1.75, 2.5], [0, 0.75, 2.25, 2.5], [0, 2, 2.75])[v % 3]
    c.shared["kick"] = kpos
    y = c.hits(kick, c.pattern(kpos, swing_unit=0.25), humanize_ms=h)
    y += 0.9 * c.hits(snare, c.pattern([1, 3]), humanize_ms=h)
    if v == 1:
        pos, vel = np.arange(8) / 2, np.tile([1.0, 0.6], 4)
    else:
        pos, vel = np.arange(16) / 4, np.tile([1.0, 0.35, 0.7, 0.4], 4)
    y += 0.3 * c.hits(hat, c.pattern(pos, swing_unit=0.25), np.tile(vel, c.n_bars), humanize_ms=h)
    return y


# --------------------------------------------------------------------------- bass


def _bass_electronic(c: _Ctx) -> np.ndarray:
    sr, v = c.sr, c.p.variant
    y = np.zeros(c.n)
    step = c.beat_s / 4
    for bar in range(c.n_bars):
        root = c.bass_root(bar, 33)
        if v == 1:
            pos, notes = [b + s for b in range(4) for s in (0.25, 0.5, 0.75)], None
        else:
            pos = [0.5, 1.5, 2.5, 3.5]
            notes = [root, root, root, root + 12] if v == 2 else None
        for i, ps in enumerate(pos):
            m = root if notes is None else notes[i]
            n = int(step * 1.6 * sr)
            x = c.note(("ebass", m, n), lambda m=m, n=n: _saw(_midi_hz(m), n, sr) * _decay(n, sr, 0.12)
                       * _env(n, sr, 0.003, 0.01))
            c.add(y, int((bar * 4 + ps) * c.beat_s * sr), x)
    return _lowpass(y, 500 * c.p.brightness, sr, 2)


def _bass_rock(c: _Ctx) -> np.ndarray:
    sr = c.sr
    y = np.zeros(c.n)
    for bar in range(c.n_bars):
        m = c.bass_root(bar, 28)
        n = int(0.45 * c.beat_s * sr)
        x = c.note(("rbass", m, n), lambda: _saw(_midi_hz(m), n, sr) * _env(n, sr, 0.004, 0.02))
        for i in range(8):
            c.add(y, int((bar * 4 + i / 2) * c.beat_s * sr), x * (1.0 if i % 2 == 0 else 0.8))
    return np.tanh(2.0 * _lowpass(y, 800 * c.p.brightness, sr))


def _bass_walking(c: _Ctx) -> np.ndarray:
    sr, rng = c.sr, c.rng
    y = np.zeros(c.n)
    n = int(0.95 * c.beat_s * sr)
    prev = None
    for bar in range(c.n_bars):
        pc, iv = c.chord(bar)
        root = 31 + (pc - 31) % 12
        if prev is not None and abs(root - prev) > 6:
            root += -12 if root > prev else 12
        tones = [root + i for i in iv if i < 12] + [root + 12]
        nxt = c.bass_root(bar + 1, 31)
        line = [root, int(rng.choice(tones[1:])), int(rng.choice(tones[1:])),
                nxt + int(rng.choice([-1, 1])) if rng.random() < 0.7 else root + 7]
        if line[1] == line[2]:
            line[2] += 2  # a scale step instead of a repeated note
        for i, m in enumerate(line):
            m = int(np.clip(m, 28, 55))
            x = c.note(("upright", m, n), lambda m=m: _pluck(_midi_hz(m), n, sr, decay=0.7, n_harm=6, bright=0.35))
            s = c.samples(np.array([bar * 4 + i]), 6.0)[0]
            c.add(y, int(s), x * (1.0 if i % 2 == 0 else 0.85))
        prev = line[-1]
    return _lowpass(y, 1200 * c.p.brightness, sr)


def _bass_sub(c: _Ctx) -> np.ndarray:
    sr = c.sr
    kpos = np.asarray(c.shared.get("kick", [0, 2]), dtype=np.float64)
    y = np.zeros(c.n)
    starts = c.swing(kpos, 0.25)
    for bar in range(c.n_bars):
        m = c.bass_root(bar, 28)
        for j, st in enumerate(starts):
            end = starts[j + 1] if j + 1 < len(starts) else 4.0
            n = int(min(end - st, 1.5) * c.beat_s * sr)
            def make(m=m, n=n) -> np.ndarray:
                sine = np.sin(2 * np.pi * _midi_hz(m) * np.arange(n) / sr)
                return np.tanh(1.5 * sine) * _env(n, sr, 0.005, 0.05)  # a little 3rd harmonic

            x = c.note(("sub", m, n), make)
            c.add(y, int((bar * 4 + st) * c.beat_s * sr), x)
    return _lowpass(y, 400, sr)


def _bass_drone(c: _Ctx) -> np.ndarray:
    sr = c.sr
    y = np.zeros(c.n)
    bpc = c.p.bars_per_chord
    n = int((4 * bpc + 1.5) * c.beat_s * sr)
    for bar in range(0, c.n_bars, bpc):
        m = c.bass_root(bar, 33)
        x = c.note(("drone", m), lambda m=m: np.sin(2 * np.pi * _midi_hz(m) * np.arange(n) / sr)
                   * _env(n, sr, 1.0, 1.5))
        c.add(y, int(bar * 4 * c.beat_s * sr), x)
    return y


def _bass_cello(c: _Ctx) -> np.ndarray:
    sr = c.sr
    y = np.zeros(c.n)
    n = int(2.1 * c.beat_s * sr)
    for bar in range(c.n_bars):
        root = c.bass_root(bar, 36)
        for half, m in enumerate((root, root + 7 if c.p.variant == 1 else root)):
            x = c.note(("cello", m), lambda m=m: _bowed(_midi_hz(m), n, sr, attack=0.08, release=0.15))
            c.add(y, int((bar * 4 + 2 * half) * c.beat_s * sr), x)
    return _lowpass(y, 1500 * c.p.brightness, sr)


# --------------------------------------------------------------------------- harmony


def _pad(c: _Ctx, *, low: int, detune_cents: float, attack: float, release: float, cutoff: float,
         voices: int = 3, extra_octave: bool = False) -> np.ndarray:
    """Detuned saw pad, one chord per ``bars_per_chord``, through a low-pass."""
    sr, bpc = c.sr, c.p.bars_per_chord
    y = np.zeros(c.n)
    n = int((4 * bpc * c.beat_s + release) * sr)
    det = np.linspace(-1, 1, voices) * detune_cents / 1200
    for bar in range(0, c.n_bars, bpc):
        notes = c.voicing(bar, low)
        if extra_octave:
            notes = notes + [notes[0] + 12, notes[-1] + 12]
        for m in notes:
            def make(m=m) -> np.ndarray:
                f = _midi_hz(m)
                ph = c.rng.uniform(0, 1, voices)
                x = sum(_saw(f * 2**d, n, sr, phase0=p) for d, p in zip(det, ph))
                return x * _env(n, sr, attack, release) / voices
            c.add(y, int(bar * 4 * c.beat_s * sr), c.note(("pad", m, n, low), make))
    return _lowpass(y, cutoff * c.p.brightness, sr, 2)


def _harmony_electronic(c: _Ctx) -> np.ndarray:
    sr, v = c.sr, c.p.variant
    y = _pad(c, low=55, detune_cents=14, attack=0.08, release=0.3, cutoff=2200, voices=3)
    if v == 1:  # offbeat stabs
        y *= 0.5
        n = int(0.22 * c.beat_s * sr)
        stab = np.zeros(c.n)
        for bar in range(c.n_bars):
            x = c.note(("stab", bar % (len(c.p.progression) * c.p.bars_per_chord), n), lambda bar=bar: sum(
                _saw(_midi_hz(m), n, sr) for m in c.voicing(bar, 60)) * _decay(n, sr, 0.08) * _env(n, sr, 0.002, 0.01))
            for ps in (0.5, 1.5, 2.5, 3.5):
                c.add(stab, int((bar * 4 + ps) * c.beat_s * sr), x)
        y += _lowpass(stab, 3000 * c.p.brightness, sr)
    if v in (0, 2):  # plucked 16th arpeggio
        arp = np.zeros(c.n)
        n = int(0.3 * c.beat_s * sr)
        for bar in range(c.n_bars):
            tones = c.voicing(bar, 67) + [c.voicing(bar, 67)[0] + 12]
            seq = tones + tones[-2:0:-1]
            for i in range(16):
                m = seq[i % len(seq)]
                x = c.note(("arp", m, n), lambda m=m: _saw(_midi_hz(m), n, sr) * _decay(n, sr, 0.06))
                c.add(arp, int((bar * 4 + i / 4) * c.beat_s * sr), x * (1.0 if i % 4 == 0 else 0.7))
        y = 0.6 * y + 0.5 * _lowpass(arp, 3500 * c.p.brightness, sr)
    return y


def _harmony_jazz(c: _Ctx) -> np.ndarray:
    sr, rng = c.sr, c.rng
    comps = (((0.0, 1.6),), ((0.0, 0.6), (1.5, 1.2)), ((0.5, 0.8), (2.5, 1.0)), ((1.5, 0.8), (3.0, 0.8)),
             ((0.0, 0.8), (2.5, 1.4)))
    y = np.zeros(c.n)
    for bar in range(c.n_bars):
        notes = c.voicing(bar, 52, drop_root=True, extra=(14,) if rng.random() < 0.5 else ())
        for ps, dur in comps[int(rng.integers(len(comps)))]:
            n = int(dur * c.beat_s * sr)
            start = c.samples(np.array([bar * 4 + c.swing(np.array([ps]), 0.5)[0]]), 9.0)[0]
            vel = rng.uniform(0.6, 1.0)
            for m in notes:
                x = c.note(("piano", m, n),
                           lambda m=m, n=n: _pluck(_midi_hz(m), n, sr, decay=1.4, n_harm=10, bright=0.55))
                c.add(y, int(start), vel * x)
    y = _lowpass(y, 4000 * c.p.brightness, sr)
    if c.p.variant == 1:  # vibraphone line on swung 8ths
        vib = np.zeros(c.n)
        n = int(1.2 * c.beat_s * sr)
        for bar in range(c.n_bars):
            pool = c.voicing(bar, 67, extra=(14,))
            for i in range(8):
                if rng.random() < 0.45:
                    m = int(rng.choice(pool))
                    x = c.note(("vibes", m, n), lambda m=m: _pluck(_midi_hz(m), n, sr, decay=1.2, n_harm=4, bright=0.2,
                                                                    inharm=0.0, tremolo=0.3))
                    s = c.samples(np.array([bar * 4 + c.swing(np.array([i / 2]), 0.5)[0]]), 9.0)[0]
                    c.add(vib, int(s), x)
        y = 0.8 * y + 0.6 * vib
    return y


def _harmony_rock(c: _Ctx) -> np.ndarray:
    sr, v = c.sr, c.p.variant
    raw = np.zeros(c.n)
    for bar in range(c.n_bars):
        pc, _ = c.chord(bar)
        root = 40 + (pc - 40) % 12
        notes = (root, root + 7, root + 12)
        if v == 0:  # palm-muted 8th chugs, open on the one
            hits = [(i / 2, i == 0) for i in range(8)]
        elif v == 1:  # sustained, re-struck on 2-and
            hits = [(0.0, True), (2.5, True)]
        else:  # syncopated
            hits = [(0.0, True), (1.5, True), (3.0, False), (3.5, False)]
        for j, (ps, open_) in enumerate(hits):
            nxt = hits[j + 1][0] if j + 1 < len(hits) else 4.0
            n = int((nxt - ps) * c.beat_s * sr)

            def make(n=n, open_=open_) -> np.ndarray:
                x = sum(_saw(_midi_hz(m) * d, n, sr) for m in notes for d in (0.997, 1.003))
                x = x * (_decay(n, sr, 1.5) if open_ else _decay(n, sr, 0.07))
                x = x * _env(n, sr, 0.003, 0.01)
                return x if open_ else _lowpass(x, 900, sr)
            c.add(raw, int((bar * 4 + ps) * c.beat_s * sr), c.note(("power", root, n, open_), make))
    gain = 8.0 / (np.sqrt(np.mean(raw**2)) + 1e-9)
    y = np.tanh(gain * raw)
    y = _lowpass(y, 3800 * c.p.brightness, sr, 4)
    return _highpass(y, 90, sr)


def _harmony_ambient(c: _Ctx) -> np.ndarray:
    sr, rng = c.sr, c.rng
    y = _pad(c, low=50, detune_cents=10, attack=1.8, release=2.0, cutoff=1100, voices=4, extra_octave=c.p.variant == 2)
    if c.p.variant != 1:  # sparse bells
        bells = np.zeros(c.n)
        n = int(2.5 * sr)
        for bar in range(c.n_bars):
            for beat in range(4):
                if rng.random() < 0.3:
                    m = int(rng.choice(c.voicing(bar, 72)))
                    x = c.note(("bell", m), lambda m=m: _pluck(_midi_hz(m), n, sr, decay=1.5, n_harm=3, bright=0.15,
                                                              inharm=0.3))
                    c.add(bells, int((bar * 4 + beat + rng.uniform(0, 0.5)) * c.beat_s * sr), 0.5 * x)
        y = y + 0.3 * bells
    return y


def _harmony_hiphop(c: _Ctx) -> np.ndarray:
    sr, rng, v = c.sr, c.rng, c.p.variant
    hits = (((0.0, 3.5),), ((0.0, 1.4), (1.5, 2.4)), ((0.0, 2.0), (2.75, 1.2)))[v % 3]
    y = np.zeros(c.n)
    for bar in range(c.n_bars):
        notes = c.voicing(bar, 55)
        for ps, dur in hits:
            n = int(dur * c.beat_s * sr)
            start = int((bar * 4 + ps) * c.beat_s * sr)
            vel = rng.uniform(0.7, 1.0)
            for m in notes:
                x = c.note(("rhodes", m, n), lambda m=m, n=n: _pluck(
                    _midi_hz(m), n, sr, decay=1.4, n_harm=4, bright=0.25, inharm=0.0, tremolo=0.25))
                c.add(y, start, vel * x)
    return _lowpass(y, 2600 * c.p.brightness, sr, 4)


def _harmony_classical(c: _Ctx) -> np.ndarray:
    sr, v = c.sr, c.p.variant
    y = np.zeros(c.n)
    for bar in range(c.n_bars):
        tones = c.voicing(bar, 55) + [c.voicing(bar, 55)[0] + 12]
        if v == 0:  # rising and falling 16ths over two octaves
            up = tones + [t + 12 for t in tones[1:]]
            seq, step = up + up[-2:0:-1], 0.25
        elif v == 1:  # Alberti figure in 8th-note triplets
            lo, mid, hi = tones[0], tones[1], tones[2]
            seq, step = [lo, hi, mid, hi, lo, hi], 1 / 3
        else:  # rising broken chords in triplets
            seq, step = tones + [t + 12 for t in tones[1:-1]], 1 / 3
        n = int(step * 1.5 * c.beat_s * sr)
        for i in range(int(round(4 / step))):
            m = seq[i % len(seq)]
            x = c.note(("violin", m, n), lambda m=m: _bowed(_midi_hz(m), n, sr, attack=0.02, release=0.05))
            c.add(y, int((bar * 4 + i * step) * c.beat_s * sr), x * (1.0 if i % round(1 / step) == 0 else 0.75))
    y = _lowpass(y, 3000 * c.p.brightness, sr, 2)
    sustain = _pad(c, low=60, detune_cents=6, attack=0.4, release=0.5, cutoff=1800, voices=2)
    return y + 0.35 * sustain


_DRUMS: dict[str, Callable[[_Ctx], np.ndarray]] = {
    "electronic": _drums_electronic,
    "jazz": _drums_jazz,
    "rock": _drums_rock,
    "hiphop": _drums_hiphop,
}
_BASS: dict[str, Callable[[_Ctx], np.ndarray]] = {
    "electronic": _bass_electronic,
    "jazz": _bass_walking,
    "rock": _bass_rock,
    "ambient": _bass_drone,
    "hiphop": _bass_sub,
    "classical": _bass_cello,
}
_HARMONY: dict[str, Callable[[_Ctx], np.ndarray]] = {
    "electronic": _harmony_electronic,
    "jazz": _harmony_jazz,
    "rock": _harmony_rock,
    "ambient": _harmony_ambient,
    "hiphop": _harmony_hiphop,
    "classical": _harmony_classical,
}


def render_clip(params: ClipParams, *, rng: np.random.Generator, sr: int = 22050) -> np.ndarray:
    """Render drawn parameters to audio.

    Parameters
    ----------
    params : ClipParams
    rng : np.random.Generator
        Source of noise, micro-timing and comping choices.
    sr : int

    Returns
    -------
    y : np.ndarray [shape=(round(params.duration * sr),)], float32
        Peak-normalised to 0.9.
    """
    if not 8000 <= sr <= 96000:
        raise ParameterError(f"sr={sr!r} is out of range; use 8000 to 96000 Hz")
    n_out = int(round(params.duration * sr))
    c = _Ctx(p=params, sr=sr, rng=rng, n=n_out)
    layers = []
    if params.style in _DRUMS:
        layers.append((_DRUMS[params.style](c), params.levels_db[0]))
    layers.append((_BASS[params.style](c), params.levels_db[1]))
    layers.append((_HARMONY[params.harmony_style](c), params.levels_db[2]))
    y = np.zeros(n_out)
    for x, level in layers:
        y += x * 10 ** ((level - _rms_db(x)) / 20)
    y = _reverb(y, sr, rng, decay=params.reverb_decay, wet=params.reverb_wet)
    if "hiphop" in (params.style, params.harmony_style):  # vinyl crackle
        crackle = np.zeros(n_out)
        k = rng.poisson(15 * params.duration)
        crackle[rng.integers(0, n_out, k)] = rng.uniform(-1, 1, k) ** 3
        y += 10 ** (-26 / 20) * _highpass(crackle, 1500, sr)
    y = y / (np.abs(y).max() + 1e-12)
    y += 10 ** (params.noise_db / 20) * rng.standard_normal(n_out)
    fade = min(n_out // 4, int(0.01 * sr)), min(n_out // 4, int(0.3 * sr))
    y[: fade[0]] *= np.linspace(0, 1, fade[0])
    y[n_out - fade[1] :] *= np.linspace(1, 0, fade[1])
    y *= 0.9 / (np.abs(y).max() + 1e-12)
    return y.astype(np.float32)


def synthesize_clip(
    style: str,
    *,
    rng: np.random.Generator,
    sr: int = 22050,
    duration: float | None = None,
    harmony_style: str | None = None,
) -> np.ndarray:
    """Synthesise one clip of a style (draw its parameters, then render them).

    Parameters
    ----------
    style : str
        One of :data:`DEMO_STYLES`.
    rng : np.random.Generator
    sr : int
    duration : float or None
        Seconds; drawn from 10-30 s when None.
    harmony_style : str or None
        Take the chords and lead voices from another style (a blend).

    Returns
    -------
    y : np.ndarray [shape=(n,)], float32
        Mono audio peak-normalised to 0.9.
    """
    params = draw_clip_params(style, rng=rng, duration=duration, harmony_style=harmony_style)
    return render_clip(params, rng=rng, sr=sr)


# --------------------------------------------------------------------------- corpus


def _rng(seed: int, name: str, index: int) -> np.random.Generator:
    """Independent generator for ``(seed, name, index)``, stable across runs and processes."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), zlib.crc32(name.encode()), int(index)]))


def _plan(*, n_per_style: int, n_blends: int, seed: int) -> list[dict]:
    """One task per clip: names, styles, strengths and the seed stream of its audio."""
    tasks = []
    for style in DEMO_STYLES:
        for i in range(n_per_style):
            k = i % _N_ARTISTS
            tasks.append({
                "track_id": f"{style}.{i:03d}",
                "path": f"{style}/{style}.{i:03d}.wav",
                "style": style,
                "harmony_style": style,
                "strengths": {style: 100},
                "artist": f"{style}_{k}",
                "traits": _artist_traits(seed, style, k),
                "stream": (style, i),
                "harmony_gain_db": 0.0,
            })
    for j in range(n_blends):
        prng = _rng(seed, "blend-plan", j)
        rhythm, harmony = BLEND_PAIRS[j % len(BLEND_PAIRS)]
        hi, lo = BLEND_STRENGTHS[int(prng.integers(len(BLEND_STRENGTHS)))]
        s_r, s_h = (hi, lo) if prng.random() < 0.5 else (lo, hi)
        dominant, other = (rhythm, harmony) if s_r >= s_h else (harmony, rhythm)
        name = f"{dominant}+{other}.{j:03d}"
        tasks.append({
            "track_id": name,
            "path": f"{dominant}/{name}.wav",
            "style": rhythm,
            "harmony_style": harmony,
            "strengths": {rhythm: s_r, harmony: s_h},
            "artist": f"blend_{j % _N_ARTISTS}",
            "traits": None,
            "stream": ("blend", j),
            "harmony_gain_db": 0.15 * (s_h - s_r),
        })
    return tasks


def _render_task(task: dict, out_dir: str, seed: int, sr: int, duration_range: tuple[float, float]) -> dict:
    import soundfile as sf

    rng = _rng(seed, *task["stream"])
    params = draw_clip_params(
        task["style"], rng=rng, duration_range=duration_range, harmony_style=task["harmony_style"],
        harmony_gain_db=task["harmony_gain_db"], traits=task["traits"], artist=task["artist"],
    )
    y = render_clip(params, rng=rng, sr=sr)
    if not np.all(np.isfinite(y)):
        raise DatasetError(f"demo clip {task['track_id']} contains non-finite samples; please report this")
    atomic_save(Path(out_dir) / task["path"], lambda p: sf.write(str(p), y, sr, subtype="PCM_16", format="WAV"))
    return {"track_id": task["track_id"], "path": task["path"], "artist": task["artist"],
            "strengths": task["strengths"], **params.to_dict()}


def generate_demo_corpus(
    out_dir: str | os.PathLike,
    *,
    n_per_style: int = 20,
    n_blends: int | None = None,
    seed: int = 0,
    sr: int = 22050,
    duration_range: tuple[float, float] = (10.0, 30.0),
    n_jobs: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Generate the demo corpus into ``out_dir``.

    Parameters
    ----------
    out_dir : path
        Folder to write (created; existing corpus files are overwritten).
    n_per_style : int
        Single-style clips per style.
    n_blends : int or None
        Blended two-style clips; default ``round(0.15 * n_per_style * len(DEMO_STYLES))``.
    seed : int
        Same seed, same files (byte-identical).
    sr : int
    duration_range : (float, float)
        Clip lengths are drawn uniformly from this range (seconds).
    n_jobs : int
        Worker processes (joblib); 1 renders in this process, -1 uses every core.
    progress : callable or None
        Called as ``progress(done, total)`` after each clip.

    Returns
    -------
    Path
        ``out_dir``, holding ``<style>/*.wav``, ``strengths.csv`` and ``metadata.json``.
    """
    if not isinstance(n_per_style, (int, np.integer)) or n_per_style < 1:
        raise ParameterError(f"n_per_style={n_per_style!r} must be a positive integer")
    if n_blends is None:
        n_blends = int(round(0.15 * n_per_style * len(DEMO_STYLES)))
    if n_blends < 0:
        raise ParameterError(f"n_blends={n_blends!r} must be >= 0")
    lo, hi = (float(v) for v in duration_range)
    if not (0.5 <= lo <= hi <= 600):
        raise ParameterError(f"duration_range={duration_range!r} must satisfy 0.5 <= low <= high <= 600 s")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tasks = _plan(n_per_style=int(n_per_style), n_blends=int(n_blends), seed=int(seed))
    total = len(tasks)
    t0 = time.perf_counter()
    args = (str(out), int(seed), int(sr), (lo, hi))
    rows: list[dict] = []
    if n_jobs == 1:
        for task in tasks:
            rows.append(_render_task(task, *args))
            if progress:
                progress(len(rows), total)
    else:
        from joblib import Parallel, delayed

        par = Parallel(n_jobs=n_jobs, return_as="generator_unordered", batch_size=1)
        for row in par(delayed(_render_task)(task, *args) for task in tasks):
            rows.append(row)
            if progress:
                progress(len(rows), total)
    order = {t["track_id"]: i for i, t in enumerate(tasks)}
    rows.sort(key=lambda r: order[r["track_id"]])

    table = pd.DataFrame({
        "track_id": [r["track_id"] for r in rows],
        "path": [r["path"] for r in rows],
        "artist": [r["artist"] for r in rows],
        **{s: [int(r["strengths"].get(s, 0)) for r in rows] for s in DEMO_STYLES},
    })
    atomic_save(out / "strengths.csv", lambda p: table.to_csv(p, index=False, lineterminator="\n"))
    counts = {s: int(sum(1 for r in rows if r["strengths"] == {s: 100})) for s in DEMO_STYLES}
    meta = {
        "version": DEMO_VERSION,
        "seed": int(seed),
        "sr": int(sr),
        "styles": list(DEMO_STYLES),
        "n_per_style": int(n_per_style),
        "n_blends": int(n_blends),
        "n_clips": total,
        "counts": {**counts, "blends": int(n_blends)},
        "duration_range": [lo, hi],
        "blend_strengths": [list(p) for p in BLEND_STRENGTHS],
        "generation_s": round(time.perf_counter() - t0, 2),
        "clips": [{k: v for k, v in r.items() if k not in ("path",)} for r in rows],
    }
    atomic_save(out / "metadata.json", lambda p: p.write_text(json.dumps(meta, indent=1)))
    return out


def _is_complete(folder: Path, *, seed: int, n_per_style: int) -> bool:
    try:
        meta = json.loads((folder / "metadata.json").read_text())
    except (OSError, ValueError):
        return False
    if meta.get("version") != DEMO_VERSION or meta.get("seed") != seed or meta.get("n_per_style") != n_per_style:
        return False
    if not (folder / "strengths.csv").is_file():
        return False
    return sum(1 for _ in folder.glob("*/*.wav")) == meta.get("n_clips")


def demo_corpus_dir(
    *,
    seed: int = 0,
    n_per_style: int = 20,
    n_jobs: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Folder of the demo corpus in the cache, generated on first use.

    The corpus lives in ``cache_dir()/"demo-v1-seed<seed>"`` (``-n<n_per_style>``
    appended for non-default sizes). It is generated into a private temporary
    folder and renamed into place, so two processes generating at once never see
    a half-written corpus; the loser of the race discards its copy.

    Parameters
    ----------
    seed : int
    n_per_style : int
    n_jobs : int or None
        Worker processes; default: up to 4 cores.
    progress : callable or None
        ``progress(done, total)``, called only when generating.

    Returns
    -------
    Path
    """
    from ..paths import cache_dir

    root = cache_dir()
    name = f"{DEMO_VERSION}-seed{int(seed)}" + ("" if n_per_style == 20 else f"-n{int(n_per_style)}")
    final = root / name
    if _is_complete(final, seed=int(seed), n_per_style=int(n_per_style)):
        return final
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", suffix=".tmp", dir=root))
    try:
        if n_jobs is None:
            n_jobs = max(1, min(4, os.cpu_count() or 1))
        generate_demo_corpus(tmp, n_per_style=n_per_style, seed=seed, n_jobs=n_jobs, progress=progress)
        if final.exists() and not _is_complete(final, seed=int(seed), n_per_style=int(n_per_style)):
            stale = root / f".{name}.stale-{uuid.uuid4().hex[:8]}"
            try:
                os.rename(final, stale)
                shutil.rmtree(stale, ignore_errors=True)
            except OSError:
                pass
        try:
            os.rename(tmp, final)
        except OSError:  # another process finished first
            if not _is_complete(final, seed=int(seed), n_per_style=int(n_per_style)):
                raise DatasetError(
                    f"could not create the demo corpus in {final}; remove that folder and try again"
                ) from None
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return final


def _read_corpus(folder: Path, *, name: str) -> DatasetIndex:
    csv = folder / "strengths.csv"
    try:
        table = pd.read_csv(csv, dtype={"track_id": str, "path": str, "artist": str})
        meta = json.loads((folder / "metadata.json").read_text())
    except (OSError, ValueError) as exc:
        raise DatasetError(
            f"demo corpus in {folder} is unreadable ({exc}); delete the folder to regenerate it"
        ) from exc
    labels = [s for s in meta["styles"] if s in table.columns]
    tracks = pd.DataFrame({
        "track_id": table["track_id"].astype(str),
        "path": [str((folder / p).resolve()) for p in table["path"]],
        "artist": table["artist"].astype(str),
        "split": pd.Series([pd.NA] * len(table), dtype="object"),
    })
    return DatasetIndex(
        name=name,
        kind="demo",
        labels=labels,
        tracks=tracks,
        strengths=table[labels].to_numpy(dtype=np.float32),
        root=str(folder),
        meta={k: meta[k] for k in ("version", "seed", "sr", "n_per_style", "n_blends", "counts")},
    )


def load_demo(
    *,
    seed: int = 0,
    n_per_style: int = 20,
    threshold: float = DEFAULT_STRENGTH_THRESHOLD,
    progress: Callable[[int, int], None] | None = None,
) -> DatasetIndex:
    """The demo corpus as a :class:`DatasetIndex` (generating it on first use).

    Parameters
    ----------
    seed : int
    n_per_style : int
    threshold : float
        Strength at or above which a style counts as present (blends have one or two).
    progress : callable or None
        ``progress(done, total)`` while generating.

    Returns
    -------
    DatasetIndex
        ``kind="demo"``, absolute paths, artists set, labels :data:`DEMO_STYLES`.
    """
    folder = demo_corpus_dir(seed=seed, n_per_style=n_per_style, progress=progress)
    index = _read_corpus(folder, name=f"demo (seed {seed})")
    index.threshold = float(threshold)
    return index
