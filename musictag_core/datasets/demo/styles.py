"""The styles of the demo corpus and the drawing of a clip's parameters.

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

Drawing (:func:`draw_clip_params`, here) is separate from rendering
(:func:`~.corpus.render_clip`): a :class:`ClipParams` holds every musical choice of a clip.
"""

from __future__ import annotations

import zlib
from dataclasses import asdict, dataclass

import numpy as np

from ...errors import ParameterError
from .parts import CHORDS, NOTE_NAMES

__all__ = [
    "DEMO_STYLES",
    "BLEND_PAIRS",
    "BLEND_STRENGTHS",
    "N_ARTISTS",
    "ClipParams",
    "stream_rng",
    "artist_traits",
    "draw_clip_params",
]

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

#: Fake artists per style; clip ``i`` belongs to artist ``i % N_ARTISTS``.
N_ARTISTS = 5


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
        minor = CHORDS[self.progression[0][1]][1] == 3
        return f"{NOTE_NAMES[self.key]} {'minor' if minor else 'major'}"

    def to_dict(self) -> dict:
        """A JSON-serialisable view (for ``metadata.json`` and logs)."""
        d = asdict(self)
        d["progression"] = [f"{NOTE_NAMES[(self.key + r) % 12]}{q}" for r, q in self.progression]
        d["key_name"] = self.key_name
        d["levels_db"] = [round(v, 2) for v in self.levels_db]
        for k in ("duration", "tempo", "swing", "brightness", "reverb_decay", "reverb_wet", "noise_db"):
            d[k] = round(float(d[k]), 4)
        return d


def stream_rng(seed: int, name: str, index: int) -> np.random.Generator:
    """Independent generator for ``(seed, name, index)``, stable across runs and processes.

    Parameters
    ----------
    seed : int
        Corpus seed.
    name : str
        Name of the stream (a style, ``"blend"``, ``"artist:<style>"``, ...), hashed with CRC-32.
    index : int
        Clip or artist number within the stream.

    Returns
    -------
    np.random.Generator
    """
    return np.random.default_rng(np.random.SeedSequence([int(seed), zlib.crc32(name.encode()), int(index)]))


def _check_style(style: str) -> _Style:
    try:
        return _STYLES[style]
    except KeyError:
        raise ParameterError(f"unknown demo style {style!r}; choose one of {', '.join(DEMO_STYLES)}") from None


def artist_traits(seed: int, style: str, k: int) -> dict:
    """Stable traits of fake artist ``k`` of a style.

    Parameters
    ----------
    seed : int
        Corpus seed.
    style : str
        One of :data:`DEMO_STYLES`.
    k : int
        Artist number, ``0 <= k < N_ARTISTS``.

    Returns
    -------
    dict
        ``tempo_centre``, ``brightness``, ``variant``, ``progression`` (index) and
        ``reverb_scale``, as taken by :func:`draw_clip_params` (``traits=``).
    """
    spec = _check_style(style)
    rng = stream_rng(seed, f"artist:{style}", k)
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
