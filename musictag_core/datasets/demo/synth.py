"""DSP primitives of the demo synthesiser: oscillators, envelopes, filters, voices, reverb.

Every function is pure given its arguments (noise comes from the ``rng`` passed in) and
knows nothing of styles or clips; :mod:`.parts` arranges these sounds into drum, bass
and harmony layers.
"""

from __future__ import annotations

import functools

import numpy as np
from scipy import signal

__all__ = [
    "midi_hz",
    "lowpass",
    "highpass",
    "saw",
    "env",
    "decay",
    "pluck",
    "bowed",
    "reverb",
    "rms_db",
    "kick",
    "snare",
    "clap",
    "hat",
    "cymbal",
]

# --------------------------------------------------------------------------- oscillators, envelopes, filters


def midi_hz(m: float) -> float:
    """Frequency in Hz of MIDI note ``m`` (A4 = 69 = 440 Hz)."""
    return 440.0 * 2.0 ** ((m - 69.0) / 12.0)


@functools.lru_cache(maxsize=256)
def _sos(kind: str, cutoff: float, sr: int, order: int = 2) -> np.ndarray:
    cutoff = float(np.clip(cutoff, 20.0, 0.45 * sr))
    return signal.butter(order, cutoff, btype=kind, fs=sr, output="sos")


def lowpass(x: np.ndarray, cutoff: float, sr: int, order: int = 2) -> np.ndarray:
    """Butterworth low-pass of ``x`` [shape=(n,)] at ``cutoff`` Hz (rounded, clipped to 20 Hz..0.45 sr)."""
    return signal.sosfilt(_sos("lowpass", round(cutoff), sr, order), x)


def highpass(x: np.ndarray, cutoff: float, sr: int, order: int = 2) -> np.ndarray:
    """Butterworth high-pass of ``x`` [shape=(n,)] at ``cutoff`` Hz (rounded, clipped to 20 Hz..0.45 sr)."""
    return signal.sosfilt(_sos("highpass", round(cutoff), sr, order), x)


def saw(freq: float | np.ndarray, n: int, sr: int, phase0: float = 0.0) -> np.ndarray:
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


def env(n: int, sr: int, attack: float, release: float) -> np.ndarray:
    """Linear attack, sustain, linear release envelope [shape=(n,)]."""
    e = np.ones(n)
    a = min(n, max(1, int(attack * sr)))
    r = min(n - a, max(1, int(release * sr)))
    e[:a] = np.linspace(0.0, 1.0, a, endpoint=False)
    if r > 0:
        e[n - r :] *= np.linspace(1.0, 0.0, r)
    return e


def decay(n: int, sr: int, tau: float) -> np.ndarray:
    """Exponential decay envelope with time constant ``tau`` seconds [shape=(n,)]."""
    return np.exp(-np.arange(n) / (tau * sr))


def pluck(freq: float, n: int, sr: int, *, decay: float, n_harm: int = 8, bright: float = 0.5,
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


def bowed(freq: float, n: int, sr: int, *, attack: float = 0.05, release: float = 0.08,
          vib_depth: float = 0.004, vib_rate: float = 5.5) -> np.ndarray:
    """Bowed string: sawtooth with delayed vibrato and soft attack (low-passed by the caller)."""
    t = np.arange(n) / sr
    depth = vib_depth * np.clip(t / 0.25, 0, 1)
    f = freq * (1.0 + depth * np.sin(2 * np.pi * vib_rate * t))
    return saw(f, n, sr) * env(n, sr, attack, release)


def reverb(y: np.ndarray, sr: int, rng: np.random.Generator, *, decay: float, wet: float) -> np.ndarray:
    """Reverb-ish: convolution with exponentially decaying, darkened noise."""
    n_ir = int(min(decay, 3.0) * sr)
    t = np.arange(n_ir) / sr
    ir = rng.standard_normal(n_ir) * np.exp(-6.9 * t / decay)
    ir = lowpass(ir, 5000.0, sr)
    ir[: int(0.012 * sr)] = 0.0  # pre-delay
    ir /= np.sqrt(np.sum(ir * ir)) + 1e-12
    tail = signal.fftconvolve(y.astype(np.float32), ir.astype(np.float32))[: len(y)].astype(np.float64)
    return (1.0 - wet) * y + wet * tail * (np.std(y) / (np.std(tail) + 1e-12))


def rms_db(x: np.ndarray) -> float:
    """RMS level of ``x`` in dB (relative to full scale 1.0)."""
    return 20 * np.log10(np.sqrt(np.mean(x * x)) + 1e-12)


# --------------------------------------------------------------------------- drum voices


def kick(sr: int, rng: np.random.Generator, *, f0: float, f1: float, tau: float, click: float) -> np.ndarray:
    """Pitched sine sweep from ``f0`` down to ``f1`` Hz with an exponential decay and a click."""
    n = int(min(6 * tau, 0.9) * sr)
    t = np.arange(n) / sr
    f = f1 + (f0 - f1) * np.exp(-t / 0.035)
    y = np.sin(2 * np.pi * np.cumsum(f) / sr) * np.exp(-t / tau)
    c = int(0.004 * sr)
    y[:c] += click * highpass(rng.standard_normal(c), 2000, sr) * np.linspace(1, 0, c)
    return y


def snare(sr: int, rng: np.random.Generator, *, tone: float, tau_noise: float, tau_tone: float,
          hp: float = 1200.0, noise_mix: float = 0.7) -> np.ndarray:
    """Noise burst (high-passed) plus a decaying tone."""
    n = int(min(6 * max(tau_noise, tau_tone), 0.8) * sr)
    t = np.arange(n) / sr
    noise = highpass(rng.standard_normal(n), hp, sr) * np.exp(-t / tau_noise)
    body = np.sin(2 * np.pi * tone * t) * np.exp(-t / tau_tone)
    return noise_mix * noise / (np.abs(noise).max() + 1e-9) + (1 - noise_mix) * body


def clap(sr: int, rng: np.random.Generator) -> np.ndarray:
    """Three quick band-passed noise bursts and a short tail."""
    n = int(0.35 * sr)
    t = np.arange(n) / sr
    amp = np.exp(-t / 0.09) * 0.6
    for off in (0.0, 0.011, 0.022):
        amp += np.where(t >= off, np.exp(-(t - off) / 0.006), 0.0)
    x = signal.sosfilt(signal.butter(2, (900, 3500), btype="bandpass", fs=sr, output="sos"), rng.standard_normal(n))
    return x * amp


def hat(sr: int, rng: np.random.Generator, *, tau: float, hp: float = 7000.0) -> np.ndarray:
    """Hi-hat: steep high-passed noise with an exponential decay."""
    n = int(min(6 * tau, 1.0) * sr)
    return highpass(rng.standard_normal(n), hp, sr, 4) * decay(n, sr, tau)


def cymbal(sr: int, rng: np.random.Generator, *, tau: float, ping: float) -> np.ndarray:
    """Ride/crash: inharmonic metallic partials plus high-passed noise."""
    n = int(min(4 * tau, 2.5) * sr)
    t = np.arange(n) / sr
    freqs = rng.uniform(2500, 6000, size=6)
    metal = np.sin(2 * np.pi * freqs[:, None] * t + rng.uniform(0, 6.28, (6, 1))).sum(0) / 6
    noise = lowpass(highpass(rng.standard_normal(n), 4000, sr, 2), 9000, sr)
    wash = np.exp(-t / tau) * (0.15 + 0.85 * np.exp(-t / 0.08))
    return (ping * metal * np.exp(-t / (0.4 * tau)) + 0.5 * noise * wash) * env(n, sr, 0.001, 0.05)
