"""The parts of a demo clip: drum, bass and harmony layers of each style.

A part is a function ``part(c) -> y`` of a :class:`RenderContext` (the clip's drawn
parameters, sample rate, generator and length) that returns one layer
[shape=(c.n,)]; :data:`DRUMS`, :data:`BASS` and :data:`HARMONY` map a style to its
part. The voices themselves come from :mod:`.synth`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from . import synth

__all__ = ["NOTE_NAMES", "CHORDS", "Arrangement", "RenderContext", "DRUMS", "BASS", "HARMONY"]

#: Pitch-class names, 0 = C.
NOTE_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")

#: Chord qualities as semitones above the chord root.
CHORDS: dict[str, tuple[int, ...]] = {
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


class Arrangement(Protocol):
    """The drawn clip parameters the parts read (a :class:`~.styles.ClipParams` provides them)."""

    @property
    def tempo(self) -> float: ...

    @property
    def swing(self) -> float: ...

    @property
    def key(self) -> int: ...

    @property
    def progression(self) -> tuple[tuple[int, str], ...]: ...

    @property
    def bars_per_chord(self) -> int: ...

    @property
    def variant(self) -> int: ...

    @property
    def brightness(self) -> float: ...


# --------------------------------------------------------------------------- rendering context


@dataclass
class RenderContext:
    """One clip being rendered: its parameters, sample rate, generator and length, plus helpers
    that turn beat positions into samples and chords into MIDI notes.

    ``shared`` passes facts between parts (the kick pattern, for the hip-hop sub bass) and
    ``cache`` memoises identical notes (:meth:`note`).
    """

    p: Arrangement
    sr: int
    rng: np.random.Generator
    n: int  # samples rendered (the clip length)
    shared: dict = field(default_factory=dict)
    cache: dict = field(default_factory=dict)

    @property
    def beat_s(self) -> float:
        """Seconds per beat."""
        return 60.0 / self.p.tempo

    @property
    def n_bars(self) -> int:
        """Whole bars in the clip."""
        return int(np.ceil(self.n / self.sr / (4 * self.beat_s))) + 1

    def chord(self, bar: int) -> tuple[int, tuple[int, ...]]:
        """Root pitch class and intervals of the chord at ``bar``."""
        r, q = self.p.progression[(bar // self.p.bars_per_chord) % len(self.p.progression)]
        return (self.p.key + r) % 12, CHORDS[q]

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
        """Mix ``x`` into ``buf`` from sample ``start`` on (cut at the end of ``buf``)."""
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
        """MIDI note of the root of the chord at ``bar``, at or above ``low``."""
        pc, _ = self.chord(bar)
        return low + (pc - low) % 12


# --------------------------------------------------------------------------- drums


def _drums_electronic(c: RenderContext) -> np.ndarray:
    sr, rng, v = c.sr, c.rng, c.p.variant
    kick = synth.kick(sr, rng, f0=rng.uniform(120, 170), f1=rng.uniform(45, 55), tau=rng.uniform(0.18, 0.3), click=0.4)
    clap = synth.clap(sr, rng)
    hat_c = synth.hat(sr, rng, tau=0.03)
    hat_o = synth.hat(sr, rng, tau=rng.uniform(0.12, 0.2))
    c.shared["kick"] = [0, 1, 2, 3]
    y = c.hits(kick, c.pattern([0, 1, 2, 3]))
    y += 0.55 * c.hits(clap, c.pattern([1, 3]))
    y += 0.35 * c.hits(hat_o, c.pattern([0.5, 1.5, 2.5, 3.5]))
    if v != 1:
        pos = np.arange(16) / 4
        vel = np.tile([0.5, 0.25, 0.35, 0.25], 4)
        y += 0.25 * c.hits(hat_c, c.pattern(pos), np.tile(vel, c.n_bars))
    return y


def _drums_rock(c: RenderContext) -> np.ndarray:
    sr, rng, v, h = c.sr, c.rng, c.p.variant, 5.0
    kick = synth.kick(sr, rng, f0=rng.uniform(150, 200), f1=rng.uniform(55, 70), tau=rng.uniform(0.08, 0.14), click=0.8)
    snare = synth.snare(sr, rng, tone=rng.uniform(170, 220), tau_noise=0.12, tau_tone=0.06, noise_mix=0.65)
    hat = synth.hat(sr, rng, tau=rng.uniform(0.04, 0.08), hp=6000)
    crash = synth.cymbal(sr, rng, tau=1.0, ping=0.3)
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


def _drums_jazz(c: RenderContext) -> np.ndarray:
    sr, rng, h = c.sr, c.rng, 9.0
    ride = synth.cymbal(sr, rng, tau=rng.uniform(0.6, 1.0), ping=0.9)
    foot = synth.hat(sr, rng, tau=0.025, hp=5000)
    kick = synth.kick(sr, rng, f0=rng.uniform(90, 120), f1=rng.uniform(50, 60), tau=0.15, click=0.1)
    ghost = synth.snare(sr, rng, tone=rng.uniform(200, 260), tau_noise=0.06, tau_tone=0.04, hp=2500, noise_mix=0.8)
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


def _drums_hiphop(c: RenderContext) -> np.ndarray:
    sr, rng, v, h = c.sr, c.rng, c.p.variant, 7.0
    kick = synth.kick(sr, rng, f0=rng.uniform(90, 130), f1=rng.uniform(40, 50), tau=rng.uniform(0.2, 0.3), click=0.5)
    snare = synth.snare(sr, rng, tone=rng.uniform(160, 200), tau_noise=rng.uniform(0.08, 0.12), tau_tone=0.07,
                        hp=900, noise_mix=0.75)
    hat = synth.hat(sr, rng, tau=rng.uniform(0.025, 0.045), hp=6500)
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


def _bass_electronic(c: RenderContext) -> np.ndarray:
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
            x = c.note(("ebass", m, n), lambda m=m, n=n: synth.saw(synth.midi_hz(m), n, sr) * synth.decay(n, sr, 0.12)
                       * synth.env(n, sr, 0.003, 0.01))
            c.add(y, int((bar * 4 + ps) * c.beat_s * sr), x)
    return synth.lowpass(y, 500 * c.p.brightness, sr, 2)


def _bass_rock(c: RenderContext) -> np.ndarray:
    sr = c.sr
    y = np.zeros(c.n)
    for bar in range(c.n_bars):
        m = c.bass_root(bar, 28)
        n = int(0.45 * c.beat_s * sr)
        x = c.note(("rbass", m, n), lambda: synth.saw(synth.midi_hz(m), n, sr) * synth.env(n, sr, 0.004, 0.02))
        for i in range(8):
            c.add(y, int((bar * 4 + i / 2) * c.beat_s * sr), x * (1.0 if i % 2 == 0 else 0.8))
    return np.tanh(2.0 * synth.lowpass(y, 800 * c.p.brightness, sr))


def _bass_walking(c: RenderContext) -> np.ndarray:
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
            x = c.note(("upright", m, n), lambda m=m: synth.pluck(synth.midi_hz(m), n, sr, decay=0.7, n_harm=6, bright=0.35))
            s = c.samples(np.array([bar * 4 + i]), 6.0)[0]
            c.add(y, int(s), x * (1.0 if i % 2 == 0 else 0.85))
        prev = line[-1]
    return synth.lowpass(y, 1200 * c.p.brightness, sr)


def _bass_sub(c: RenderContext) -> np.ndarray:
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
                sine = np.sin(2 * np.pi * synth.midi_hz(m) * np.arange(n) / sr)
                return np.tanh(1.5 * sine) * synth.env(n, sr, 0.005, 0.05)  # a little 3rd harmonic

            x = c.note(("sub", m, n), make)
            c.add(y, int((bar * 4 + st) * c.beat_s * sr), x)
    return synth.lowpass(y, 400, sr)


def _bass_drone(c: RenderContext) -> np.ndarray:
    sr = c.sr
    y = np.zeros(c.n)
    bpc = c.p.bars_per_chord
    n = int((4 * bpc + 1.5) * c.beat_s * sr)
    for bar in range(0, c.n_bars, bpc):
        m = c.bass_root(bar, 33)
        x = c.note(("drone", m), lambda m=m: np.sin(2 * np.pi * synth.midi_hz(m) * np.arange(n) / sr)
                   * synth.env(n, sr, 1.0, 1.5))
        c.add(y, int(bar * 4 * c.beat_s * sr), x)
    return y


def _bass_cello(c: RenderContext) -> np.ndarray:
    sr = c.sr
    y = np.zeros(c.n)
    n = int(2.1 * c.beat_s * sr)
    for bar in range(c.n_bars):
        root = c.bass_root(bar, 36)
        for half, m in enumerate((root, root + 7 if c.p.variant == 1 else root)):
            x = c.note(("cello", m), lambda m=m: synth.bowed(synth.midi_hz(m), n, sr, attack=0.08, release=0.15))
            c.add(y, int((bar * 4 + 2 * half) * c.beat_s * sr), x)
    return synth.lowpass(y, 1500 * c.p.brightness, sr)


# --------------------------------------------------------------------------- harmony


def _pad(c: RenderContext, *, low: int, detune_cents: float, attack: float, release: float, cutoff: float,
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
                f = synth.midi_hz(m)
                ph = c.rng.uniform(0, 1, voices)
                x = sum(synth.saw(f * 2**d, n, sr, phase0=p) for d, p in zip(det, ph))
                return x * synth.env(n, sr, attack, release) / voices
            c.add(y, int(bar * 4 * c.beat_s * sr), c.note(("pad", m, n, low), make))
    return synth.lowpass(y, cutoff * c.p.brightness, sr, 2)


def _harmony_electronic(c: RenderContext) -> np.ndarray:
    sr, v = c.sr, c.p.variant
    y = _pad(c, low=55, detune_cents=14, attack=0.08, release=0.3, cutoff=2200, voices=3)
    if v == 1:  # offbeat stabs
        y *= 0.5
        n = int(0.22 * c.beat_s * sr)
        stab = np.zeros(c.n)
        for bar in range(c.n_bars):
            x = c.note(("stab", bar % (len(c.p.progression) * c.p.bars_per_chord), n), lambda bar=bar: sum(
                synth.saw(synth.midi_hz(m), n, sr) for m in c.voicing(bar, 60)
            ) * synth.decay(n, sr, 0.08) * synth.env(n, sr, 0.002, 0.01))
            for ps in (0.5, 1.5, 2.5, 3.5):
                c.add(stab, int((bar * 4 + ps) * c.beat_s * sr), x)
        y += synth.lowpass(stab, 3000 * c.p.brightness, sr)
    if v in (0, 2):  # plucked 16th arpeggio
        arp = np.zeros(c.n)
        n = int(0.3 * c.beat_s * sr)
        for bar in range(c.n_bars):
            tones = c.voicing(bar, 67) + [c.voicing(bar, 67)[0] + 12]
            seq = tones + tones[-2:0:-1]
            for i in range(16):
                m = seq[i % len(seq)]
                x = c.note(("arp", m, n), lambda m=m: synth.saw(synth.midi_hz(m), n, sr) * synth.decay(n, sr, 0.06))
                c.add(arp, int((bar * 4 + i / 4) * c.beat_s * sr), x * (1.0 if i % 4 == 0 else 0.7))
        y = 0.6 * y + 0.5 * synth.lowpass(arp, 3500 * c.p.brightness, sr)
    return y


def _harmony_jazz(c: RenderContext) -> np.ndarray:
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
                           lambda m=m, n=n: synth.pluck(synth.midi_hz(m), n, sr, decay=1.4, n_harm=10, bright=0.55))
                c.add(y, int(start), vel * x)
    y = synth.lowpass(y, 4000 * c.p.brightness, sr)
    if c.p.variant == 1:  # vibraphone line on swung 8ths
        vib = np.zeros(c.n)
        n = int(1.2 * c.beat_s * sr)
        for bar in range(c.n_bars):
            pool = c.voicing(bar, 67, extra=(14,))
            for i in range(8):
                if rng.random() < 0.45:
                    m = int(rng.choice(pool))
                    x = c.note(("vibes", m, n), lambda m=m: synth.pluck(
                        synth.midi_hz(m), n, sr, decay=1.2, n_harm=4, bright=0.2, inharm=0.0, tremolo=0.3))
                    s = c.samples(np.array([bar * 4 + c.swing(np.array([i / 2]), 0.5)[0]]), 9.0)[0]
                    c.add(vib, int(s), x)
        y = 0.8 * y + 0.6 * vib
    return y


def _harmony_rock(c: RenderContext) -> np.ndarray:
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
                x = sum(synth.saw(synth.midi_hz(m) * d, n, sr) for m in notes for d in (0.997, 1.003))
                x = x * (synth.decay(n, sr, 1.5) if open_ else synth.decay(n, sr, 0.07))
                x = x * synth.env(n, sr, 0.003, 0.01)
                return x if open_ else synth.lowpass(x, 900, sr)
            c.add(raw, int((bar * 4 + ps) * c.beat_s * sr), c.note(("power", root, n, open_), make))
    gain = 8.0 / (np.sqrt(np.mean(raw**2)) + 1e-9)
    y = np.tanh(gain * raw)
    y = synth.lowpass(y, 3800 * c.p.brightness, sr, 4)
    return synth.highpass(y, 90, sr)


def _harmony_ambient(c: RenderContext) -> np.ndarray:
    sr, rng = c.sr, c.rng
    y = _pad(c, low=50, detune_cents=10, attack=1.8, release=2.0, cutoff=1100, voices=4, extra_octave=c.p.variant == 2)
    if c.p.variant != 1:  # sparse bells
        bells = np.zeros(c.n)
        n = int(2.5 * sr)
        for bar in range(c.n_bars):
            for beat in range(4):
                if rng.random() < 0.3:
                    m = int(rng.choice(c.voicing(bar, 72)))
                    x = c.note(("bell", m), lambda m=m: synth.pluck(
                        synth.midi_hz(m), n, sr, decay=1.5, n_harm=3, bright=0.15, inharm=0.3))
                    c.add(bells, int((bar * 4 + beat + rng.uniform(0, 0.5)) * c.beat_s * sr), 0.5 * x)
        y = y + 0.3 * bells
    return y


def _harmony_hiphop(c: RenderContext) -> np.ndarray:
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
                x = c.note(("rhodes", m, n), lambda m=m, n=n: synth.pluck(
                    synth.midi_hz(m), n, sr, decay=1.4, n_harm=4, bright=0.25, inharm=0.0, tremolo=0.25))
                c.add(y, start, vel * x)
    return synth.lowpass(y, 2600 * c.p.brightness, sr, 4)


def _harmony_classical(c: RenderContext) -> np.ndarray:
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
            x = c.note(("violin", m, n), lambda m=m: synth.bowed(synth.midi_hz(m), n, sr, attack=0.02, release=0.05))
            c.add(y, int((bar * 4 + i * step) * c.beat_s * sr), x * (1.0 if i % round(1 / step) == 0 else 0.75))
    y = synth.lowpass(y, 3000 * c.p.brightness, sr, 2)
    sustain = _pad(c, low=60, detune_cents=6, attack=0.4, release=0.5, cutoff=1800, voices=2)
    return y + 0.35 * sustain


#: The drum part of each style (ambient and classical have none).
DRUMS: dict[str, Callable[[RenderContext], np.ndarray]] = {
    "electronic": _drums_electronic,
    "jazz": _drums_jazz,
    "rock": _drums_rock,
    "hiphop": _drums_hiphop,
}
#: The bass part of each (rhythm) style.
BASS: dict[str, Callable[[RenderContext], np.ndarray]] = {
    "electronic": _bass_electronic,
    "jazz": _bass_walking,
    "rock": _bass_rock,
    "ambient": _bass_drone,
    "hiphop": _bass_sub,
    "classical": _bass_cello,
}
#: The chords and lead voices of each (harmony) style.
HARMONY: dict[str, Callable[[RenderContext], np.ndarray]] = {
    "electronic": _harmony_electronic,
    "jazz": _harmony_jazz,
    "rock": _harmony_rock,
    "ambient": _harmony_ambient,
    "hiphop": _harmony_hiphop,
    "classical": _harmony_classical,
}
