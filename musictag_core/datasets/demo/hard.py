"""The hard demo corpus (``demo-hard``): closer styles, production varied within each style.

The easy corpus (``demo``) is separable by almost any model. ``demo-hard`` uses the same
six styles and synthesiser, and makes them harder to tell apart the way real
collections are:

* **shared instruments**: a single-style clip takes its chords and lead voices from a
  *neighbouring* style with probability :data:`SHARE_HARMONY` (its label does not change),
  and a style without drums borrows a neighbour's kit, played softly, with probability
  :data:`SHARE_DRUMS`;
* **overlapping tempi**: each clip's tempo is pulled 30 % of the way towards a common 80–140 BPM draw;
* **per-clip production** (:func:`draw_production`, :func:`apply_production`): a spectral
  tilt and a peaking EQ band, an RMS compressor, and a coloured noise floor at 18–38 dB SNR;
* **more blends**: 25 % extra two-style clips instead of 15 %;
* **more artists**: ten per style instead of five, so a held-out artist is a fair test.

Neighbours (:data:`NEIGHBOURS`) give the confusion matrix its structure: electronic sits
beside hip-hop, rock and ambient; jazz beside hip-hop and classical; classical beside ambient.
Everything is drawn from generators seeded from ``(seed, name, index)``, so the corpus is
deterministic like the easy one.
"""

from __future__ import annotations

import numpy as np

from .styles import stream_rng

__all__ = ["NEIGHBOURS", "SHARE_HARMONY", "SHARE_DRUMS", "draw_production", "apply_production"]

#: Styles that share instruments and production habits (symmetric).
NEIGHBOURS: dict[str, tuple[str, ...]] = {
    "electronic": ("hiphop", "rock", "ambient"),
    "hiphop": ("electronic", "jazz"),
    "jazz": ("hiphop", "classical"),
    "classical": ("jazz", "ambient"),
    "ambient": ("classical", "electronic"),
    "rock": ("electronic",),
}

#: Probability that a single-style clip takes its harmony layer from a neighbour.
SHARE_HARMONY = 0.25

#: Probability that a style without drums borrows a neighbour's drums (played softly).
SHARE_DRUMS = 0.3

#: Styles whose parts include a drum kit.
_DRUM_STYLES = ("electronic", "jazz", "rock", "hiphop")


def draw_production(seed: int, style: str, index: int, *, single: bool) -> dict:
    """Draw the production of one clip of the hard corpus.

    Parameters
    ----------
    seed : int
        Corpus seed.
    style : str
        The clip's rhythm style.
    index : int
        The clip's number in its stream (single-style clips per style, blends in one stream).
    single : bool
        A single-style clip (it may borrow a neighbour's harmony); blends keep theirs.

    Returns
    -------
    dict
        ``harmony_from`` and ``drums_from`` (a style or None), ``tempo`` (the common draw, BPM),
        ``tilt_db_per_octave``, ``peak_hz``, ``peak_db``, ``peak_octaves``, ``comp_threshold_db``,
        ``comp_ratio``, ``snr_db`` and ``noise_colour`` (0 white, 1 pink, 2 brown). JSON-serialisable.
    """
    rng = stream_rng(seed, f"production:{style}:{'single' if single else 'blend'}", index)
    near = NEIGHBOURS[style]
    harmony_from = str(near[int(rng.integers(len(near)))]) if single and rng.random() < SHARE_HARMONY else None
    drummers = [s for s in near if s in _DRUM_STYLES]
    drums_from = None
    if style not in _DRUM_STYLES and drummers and rng.random() < SHARE_DRUMS:
        drums_from = str(drummers[int(rng.integers(len(drummers)))])
    return {
        "harmony_from": harmony_from,
        "drums_from": drums_from,
        "tempo": round(float(rng.uniform(80, 140)), 3),
        "tilt_db_per_octave": round(float(rng.uniform(-2.0, 1.5)), 3),
        "peak_hz": round(float(np.exp(rng.uniform(np.log(150), np.log(6000)))), 1),
        "peak_db": round(float(rng.uniform(-6, 6)), 3),
        "peak_octaves": round(float(rng.uniform(0.5, 2.0)), 3),
        "comp_threshold_db": round(float(rng.uniform(-30, -10)), 3),
        "comp_ratio": round(float(rng.uniform(1.0, 4.0)), 3),
        "snr_db": round(float(rng.uniform(18, 38)), 3),
        "noise_colour": int(rng.integers(3)),
    }


def _equalise(y: np.ndarray, sr: int, prod: dict) -> np.ndarray:
    spec = np.fft.rfft(y)
    f = np.maximum(np.fft.rfftfreq(len(y), 1.0 / sr), 20.0)
    octaves = np.log2(f / 1000.0)
    gain_db = prod["tilt_db_per_octave"] * octaves
    gain_db += prod["peak_db"] * np.exp(-0.5 * (np.log2(f / prod["peak_hz"]) / (0.5 * prod["peak_octaves"])) ** 2)
    return np.fft.irfft(spec * 10 ** (gain_db / 20), n=len(y))


def _compress(y: np.ndarray, sr: int, prod: dict) -> np.ndarray:
    from scipy import signal

    y = y / (np.abs(y).max() + 1e-12)
    a = np.exp(-1.0 / (0.02 * sr))  # 20 ms RMS detector
    power = signal.lfilter([1 - a], [1, -a], y * y)
    level_db = 10 * np.log10(np.maximum(power, 1e-12))
    over = np.maximum(level_db - prod["comp_threshold_db"], 0.0)
    gain_db = -over * (1.0 - 1.0 / prod["comp_ratio"])
    return y * 10 ** (gain_db / 20)


def _noise(n: int, sr: int, rng: np.random.Generator, colour: int) -> np.ndarray:
    white = rng.standard_normal(n)
    if colour == 0:
        return white
    spec = np.fft.rfft(white)
    f = np.maximum(np.fft.rfftfreq(n, 1.0 / sr), 20.0)
    return np.fft.irfft(spec * f ** (-0.5 * colour), n=n)


def apply_production(y: np.ndarray, *, sr: int, production: dict, rng: np.random.Generator) -> np.ndarray:
    """EQ, compress and add a coloured noise floor to a rendered mix.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]
        The mix (any level).
    sr : int
    production : dict
        From :func:`draw_production`.
    rng : np.random.Generator
        Source of the noise.

    Returns
    -------
    np.ndarray [shape=(n,)], float64
        Not normalised (the caller peak-normalises).
    """
    y = _compress(_equalise(np.asarray(y, dtype=np.float64), sr, production), sr, production)
    noise = _noise(len(y), sr, rng, int(production["noise_colour"]))
    rms = np.sqrt(np.mean(y * y)) + 1e-12
    noise *= rms * 10 ** (-production["snr_db"] / 20) / (np.sqrt(np.mean(noise * noise)) + 1e-12)
    return y + noise
