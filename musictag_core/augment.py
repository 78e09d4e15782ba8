"""Train-time waveform augmentation with audiomentations, reproducible.

Drawing random parameters is separate from applying them:

* :func:`draw_params` draws one JSON-serialisable parameter dict from an
  :class:`AugmentConfig` with a caller-supplied ``np.random.Generator``;
* :func:`apply_augmentation` applies such a dict deterministically (the
  audiomentations transforms get their parameters set and frozen, and the
  noise is generated from a seed stored in the dict);
* :func:`precompute_variants` and :func:`precompute_variants_batch` make ``k``
  augmented variants per clip once (in parallel with joblib; the parameters are
  drawn in the calling process, so the result does not depend on ``n_jobs``),
  so training can sample among cached variants instead of paying ~0.2 s per
  30 s clip for pitch shifting or time stretching every epoch.

Transforms are applied in a fixed order: time stretch, pitch shift, gain, noise.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .config import Config
from .errors import ParameterError

__all__ = [
    "AugmentConfig",
    "draw_params",
    "apply_augmentation",
    "precompute_variants",
    "precompute_variants_batch",
    "IDENTITY",
]

#: Parameters that change nothing.
IDENTITY: dict[str, Any] = {"time_stretch": None, "pitch_shift": None, "gain": None, "noise": None}

_METHODS = ("signalsmith_stretch", "librosa_phase_vocoder")


def _check_range(name: str, value: Any, *, low: float, high: float, positive: bool = False) -> tuple[float, float]:
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise ParameterError(f"{name} must be a (min, max) pair, got {value!r}")
    a, b = (float(v) for v in value)
    if not (math.isfinite(a) and math.isfinite(b)) or a > b or a < low or b > high or (positive and a <= 0):
        raise ParameterError(f"{name} must satisfy {low} <= min <= max <= {high}, got {value!r}")
    return a, b


def _check_p(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
        raise ParameterError(f"{name} must be a probability in [0, 1], got {value!r}")


@dataclass(frozen=True)
class AugmentConfig(Config):
    """Which waveform augmentations to use, with their ranges and probabilities.

    Parameters
    ----------
    pitch_shift : bool
        Enable pitch shifting by a uniform number of semitones in ``semitones``.
    semitones : (float, float)
        Range of the pitch shift, within ±12.
    pitch_p : float
        Probability that a variant is pitch-shifted.
    time_stretch : bool
        Enable time stretching by a uniform rate in ``rate`` (> 1 is faster).
    rate : (float, float)
        Range of the stretch rate, within [0.5, 2].
    time_p : float
        Probability that a variant is stretched.
    keep_length : bool
        Crop or zero-pad a stretched clip back to its original length.
    gain : bool
        Enable a uniform gain in ``gain_db``.
    gain_db : (float, float)
        Range of the gain in dB, within ±24.
    gain_p : float
    noise : bool
        Enable additive Gaussian noise with a uniform amplitude in ``noise_amplitude``.
    noise_amplitude : (float, float)
        Standard deviation of the noise, within [0, 1].
    noise_p : float
    method : {"signalsmith_stretch", "librosa_phase_vocoder"}
        Algorithm audiomentations uses for pitch and time.
    """

    pitch_shift: bool = False
    semitones: tuple[float, float] = (-2.0, 2.0)
    pitch_p: float = 0.5
    time_stretch: bool = False
    rate: tuple[float, float] = (0.9, 1.1)
    time_p: float = 0.5
    keep_length: bool = True
    gain: bool = False
    gain_db: tuple[float, float] = (-6.0, 6.0)
    gain_p: float = 0.5
    noise: bool = False
    noise_amplitude: tuple[float, float] = (0.001, 0.01)
    noise_p: float = 0.5
    method: str = "signalsmith_stretch"

    def __post_init__(self) -> None:
        object.__setattr__(self, "semitones", _check_range("semitones", self.semitones, low=-12, high=12))
        object.__setattr__(self, "rate", _check_range("rate", self.rate, low=0.5, high=2.0, positive=True))
        object.__setattr__(self, "gain_db", _check_range("gain_db", self.gain_db, low=-24, high=24))
        object.__setattr__(
            self, "noise_amplitude", _check_range("noise_amplitude", self.noise_amplitude, low=0, high=1)
        )
        for name in ("pitch_p", "time_p", "gain_p", "noise_p"):
            _check_p(name, getattr(self, name))
        if self.method not in _METHODS:
            raise ParameterError(f"method must be one of {_METHODS}, got {self.method!r}")

    @property
    def enabled(self) -> bool:
        """Whether any augmentation can happen."""
        return (
            (self.pitch_shift and self.pitch_p > 0)
            or (self.time_stretch and self.time_p > 0)
            or (self.gain and self.gain_p > 0)
            or (self.noise and self.noise_p > 0)
        )


def draw_params(config: AugmentConfig, *, rng: np.random.Generator) -> dict[str, Any]:
    """Draw one set of augmentation parameters.

    Parameters
    ----------
    config : AugmentConfig
    rng : np.random.Generator
        The only source of randomness.

    Returns
    -------
    params : dict
        JSON-serialisable: keys ``time_stretch``, ``pitch_shift``, ``gain``,
        ``noise``, each ``None`` (not applied) or a dict of the drawn values.
        The same number of random draws is made whatever is enabled, so
        enabling one transform does not change the others' draws.
    """
    u = rng.random(4)
    vals = rng.random(4)
    noise_seed = int(rng.integers(0, 2**31 - 1))

    def pick(lo_hi: tuple[float, float], v: float) -> float:
        return float(lo_hi[0] + (lo_hi[1] - lo_hi[0]) * v)

    return {
        "time_stretch": {"rate": pick(config.rate, vals[0]), "keep_length": bool(config.keep_length), "method": config.method}
        if config.time_stretch and u[0] < config.time_p
        else None,
        "pitch_shift": {"semitones": pick(config.semitones, vals[1]), "method": config.method}
        if config.pitch_shift and u[1] < config.pitch_p
        else None,
        "gain": {"gain_db": pick(config.gain_db, vals[2])} if config.gain and u[2] < config.gain_p else None,
        "noise": {"amplitude": pick(config.noise_amplitude, vals[3]), "seed": noise_seed}
        if config.noise and u[3] < config.noise_p
        else None,
    }


def _frozen(transform: Any, parameters: dict[str, Any]) -> Any:
    transform.parameters = {"should_apply": True, **parameters}
    transform.freeze_parameters()
    return transform


def apply_augmentation(y: np.ndarray, *, sr: int, params: dict[str, Any]) -> np.ndarray:
    """Apply drawn parameters to a mono waveform (deterministic).

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]
        Mono audio.
    sr : int
        Sample rate.
    params : dict
        From :func:`draw_params`.

    Returns
    -------
    y_aug : np.ndarray [shape=(n',)], float32
        ``n' == n`` unless a time stretch with ``keep_length=False`` was applied
        (then ``n' ≈ n / rate``).
    """
    from audiomentations import Gain, PitchShift, TimeStretch

    y = np.asarray(y, dtype=np.float32)
    if y.ndim != 1:
        raise ParameterError(f"apply_augmentation expects mono audio of shape (n,), got {y.shape}")
    unknown = set(params) - set(IDENTITY)
    if unknown:
        raise ParameterError(f"unknown augmentation parameter group(s) {sorted(unknown)}")
    out = y.copy()
    if len(out) == 0:
        return out
    ts = params.get("time_stretch")
    if ts:
        t = TimeStretch(
            min_rate=ts["rate"], max_rate=ts["rate"], leave_length_unchanged=ts.get("keep_length", True),
            method=ts.get("method", "signalsmith_stretch"), p=1.0,
        )
        out = _frozen(t, {"rate": float(ts["rate"])})(out, sr)
    ps = params.get("pitch_shift")
    if ps:
        t = PitchShift(
            min_semitones=ps["semitones"], max_semitones=ps["semitones"],
            method=ps.get("method", "signalsmith_stretch"), p=1.0,
        )
        out = _frozen(t, {"num_semitones": float(ps["semitones"])})(out, sr)
    g = params.get("gain")
    if g:
        t = Gain(min_gain_db=g["gain_db"], max_gain_db=g["gain_db"], p=1.0)
        out = _frozen(t, {"amplitude_ratio": float(10.0 ** (g["gain_db"] / 20.0))})(out, sr)
    nz = params.get("noise")
    if nz:
        noise = np.random.default_rng(int(nz["seed"])).standard_normal(len(out)).astype(np.float32)
        out = out + np.float32(nz["amplitude"]) * noise
    return np.ascontiguousarray(out, dtype=np.float32)


def precompute_variants(
    y: np.ndarray, *, sr: int, config: AugmentConfig, k: int, rng: np.random.Generator
) -> list[tuple[dict[str, Any], np.ndarray]]:
    """``k`` augmented variants of one clip.

    Returns
    -------
    variants : list of (params, y_aug)
        ``params`` from :func:`draw_params`; ``y_aug`` [shape=(n',)] float32.
    """
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ParameterError(f"k must be a positive int, got {k!r}")
    drawn = [draw_params(config, rng=rng) for _ in range(k)]
    return [(p, apply_augmentation(y, sr=sr, params=p)) for p in drawn]


def _apply_many(y: np.ndarray, sr: int, plist: list[dict[str, Any]]) -> list[np.ndarray]:
    return [apply_augmentation(y, sr=sr, params=p) for p in plist]


def precompute_variants_batch(
    clips: Sequence[np.ndarray],
    *,
    sr: int,
    config: AugmentConfig,
    k: int,
    rng: np.random.Generator,
    n_jobs: int = 1,
) -> list[list[tuple[dict[str, Any], np.ndarray]]]:
    """:func:`precompute_variants` for many clips, applied in parallel.

    All parameters are drawn here first, in clip order, so the output is the
    same for any ``n_jobs``.

    Parameters
    ----------
    clips : sequence of np.ndarray [shape=(n_i,)]
    sr : int
    config : AugmentConfig
    k : int
        Variants per clip.
    rng : np.random.Generator
    n_jobs : int
        joblib worker processes (1: in this process).

    Returns
    -------
    variants : list (per clip) of list of (params, y_aug)
    """
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ParameterError(f"k must be a positive int, got {k!r}")
    drawn = [[draw_params(config, rng=rng) for _ in range(k)] for _ in clips]
    if n_jobs == 1 or len(clips) <= 1:
        applied = [_apply_many(y, sr, p) for y, p in zip(clips, drawn)]
    else:
        from joblib import Parallel, delayed

        applied = Parallel(n_jobs=n_jobs)(delayed(_apply_many)(y, sr, p) for y, p in zip(clips, drawn))
    return [list(zip(p, a)) for p, a in zip(drawn, applied)]
