"""Stage 3, describe: segments become MFCC, log-mel or summary statistics.

Values equal librosa's (``librosa.feature.melspectrogram``,
``librosa.power_to_db`` and ``librosa.feature.mfcc``) for the same parameters,
but the work is shared and batched:

* the STFT is computed once, for a whole batch of segments, and shared between
  log-mel and MFCC (:func:`extract_frames` with ``kinds=("logmel", "mfcc")``);
* the mel filterbank is built once per parameter set;
* the dB range (``top_db``) is applied per segment, as librosa does for one
  segment at a time.

Frame features are returned time-major: a 12 s segment at 22050 Hz with
``hop_length=512`` gives 517 frames, so MFCC is ``(517, 13)`` and log-mel
``(517, 128)`` per segment.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

import numpy as np

from .config import FeatureConfig
from .errors import ParameterError

__all__ = [
    "STAT_NAMES",
    "stat_names",
    "extract_frames",
    "log_mel",
    "mel_filterbank",
    "mel_power",
    "mfcc",
    "n_frames",
    "power_spectrogram",
    "track_statistics",
    "statistics_vector",
]


def n_frames(n_samples: int, *, hop_length: int) -> int:
    """Frames librosa's centred STFT gives for ``n_samples``: ``1 + n_samples // hop_length``."""
    return 1 + int(n_samples) // int(hop_length)


def _check_y(y: np.ndarray) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim < 1 or y.shape[-1] == 0:
        raise ParameterError(f"audio must have at least one sample, got shape {y.shape}")
    if not np.issubdtype(y.dtype, np.floating):
        raise ParameterError(f"audio must be floating point, got dtype {y.dtype}")
    return y.astype(np.float32, copy=False)


def power_spectrogram(y: np.ndarray, *, n_fft: int = 2048, hop_length: int = 512) -> np.ndarray:
    """Power spectrogram ``|STFT|**2`` (Hann window, centred, zero-padded), as librosa computes it.

    Parameters
    ----------
    y : np.ndarray [shape=(..., n)]
        One waveform or a batch of equal-length waveforms.
    n_fft, hop_length : int

    Returns
    -------
    np.ndarray [shape=(..., 1 + n_fft // 2, 1 + n // hop_length)], float32
    """
    import librosa

    y = _check_y(y)
    D = librosa.stft(y, n_fft=n_fft, hop_length=hop_length, center=True, pad_mode="constant")
    return (D.real**2 + D.imag**2).astype(np.float32, copy=False)


@lru_cache(maxsize=16)
def mel_filterbank(*, sr: int, n_fft: int, n_mels: int, fmin: float = 0.0, fmax: float | None = None) -> np.ndarray:
    """librosa's Slaney mel filterbank, cached per parameter set.

    Returns
    -------
    np.ndarray [shape=(n_mels, 1 + n_fft // 2)], float32 (read-only)
    """
    import librosa

    basis = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax).astype(np.float32)
    basis.flags.writeable = False
    return basis


def mel_power(
    *,
    y: np.ndarray | None = None,
    S: np.ndarray | None = None,
    sr: int = 22050,
    n_fft: int = 2048,
    hop_length: int = 512,
    n_mels: int = 128,
    fmin: float = 0.0,
    fmax: float | None = None,
) -> np.ndarray:
    """Mel power spectrogram, equal to ``librosa.feature.melspectrogram``.

    Parameters
    ----------
    y : np.ndarray [shape=(..., n)], optional
        Waveform(s). Give either ``y`` or ``S``.
    S : np.ndarray [shape=(..., 1 + n_fft // 2, t)], optional
        A precomputed power spectrogram (from :func:`power_spectrogram`), reused as is.
    sr, n_fft, hop_length, n_mels, fmin, fmax
        librosa's parameters.

    Returns
    -------
    np.ndarray [shape=(..., n_mels, t)], float32
    """
    if S is None:
        if y is None:
            raise ParameterError("give either y (a waveform) or S (a power spectrogram)")
        S = power_spectrogram(y, n_fft=n_fft, hop_length=hop_length)
    if S.shape[-2] != 1 + n_fft // 2:
        raise ParameterError(
            f"S has {S.shape[-2]} frequency bins but n_fft={n_fft} needs {1 + n_fft // 2}"
        )
    basis = mel_filterbank(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax)
    # One BLAS thread: multi-threaded GEMM sums in an order that depends on the
    # thread count, and features must be identical whichever worker computed them.
    with _single_thread_blas():
        return np.matmul(basis, S)


@lru_cache(maxsize=1)
def _blas_controller():
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def _single_thread_blas():
    return _blas_controller().limit(limits=1, user_api="blas")


def _power_to_db(M: np.ndarray, *, top_db: float | None, amin: float = 1e-10) -> np.ndarray:
    """``librosa.power_to_db(M, ref=1.0)`` with ``top_db`` applied per (n_mels, t) item."""
    log = 10.0 * np.log10(np.maximum(amin, M))
    if top_db is not None:
        peak = log.max(axis=(-2, -1), keepdims=True)
        log = np.maximum(log, peak - top_db)
    return log.astype(np.float32, copy=False)


def log_mel(
    *,
    y: np.ndarray | None = None,
    S: np.ndarray | None = None,
    sr: int = 22050,
    n_fft: int = 2048,
    hop_length: int = 512,
    n_mels: int = 128,
    fmin: float = 0.0,
    fmax: float | None = None,
    top_db: float | None = 80.0,
) -> np.ndarray:
    """Log-mel spectrogram in dB: ``librosa.power_to_db(melspectrogram(...), top_db=top_db)``.

    Parameters
    ----------
    y : np.ndarray [shape=(..., n)], optional
    S : np.ndarray [shape=(..., 1 + n_fft // 2, t)], optional
        Precomputed power spectrogram.
    top_db : float or None
        Dynamic range kept below each item's peak.

    Returns
    -------
    np.ndarray [shape=(..., n_mels, t)], float32
    """
    M = mel_power(y=y, S=S, sr=sr, n_fft=n_fft, hop_length=hop_length, n_mels=n_mels, fmin=fmin, fmax=fmax)
    return _power_to_db(M, top_db=top_db)


def mfcc(
    *,
    y: np.ndarray | None = None,
    S: np.ndarray | None = None,
    log_S: np.ndarray | None = None,
    sr: int = 22050,
    n_mfcc: int = 13,
    n_fft: int = 2048,
    hop_length: int = 512,
    n_mels: int = 128,
    fmin: float = 0.0,
    fmax: float | None = None,
    top_db: float | None = 80.0,
) -> np.ndarray:
    """MFCCs equal to ``librosa.feature.mfcc`` (DCT-II, orthonormal, no liftering).

    Parameters
    ----------
    y : np.ndarray [shape=(..., n)], optional
    S : np.ndarray [shape=(..., 1 + n_fft // 2, t)], optional
        Precomputed power spectrogram.
    log_S : np.ndarray [shape=(..., n_mels, t)], optional
        Precomputed log-mel spectrogram (from :func:`log_mel`), reused as is.

    Returns
    -------
    np.ndarray [shape=(..., n_mfcc, t)], float32
    """
    import scipy.fft

    if log_S is None:
        log_S = log_mel(
            y=y, S=S, sr=sr, n_fft=n_fft, hop_length=hop_length, n_mels=n_mels, fmin=fmin, fmax=fmax, top_db=top_db
        )
    if n_mfcc > log_S.shape[-2]:
        raise ParameterError(f"n_mfcc ({n_mfcc}) cannot exceed the number of mel bands ({log_S.shape[-2]})")
    return scipy.fft.dct(log_S, axis=-2, type=2, norm="ortho")[..., :n_mfcc, :].astype(np.float32, copy=False)


def extract_frames(
    segments: np.ndarray,
    *,
    config: FeatureConfig | None = None,
    kinds: Iterable[str] | None = None,
    batch_size: int = 16,
) -> np.ndarray | dict[str, np.ndarray]:
    """Frame features of a batch of equal-length segments, time-major.

    Parameters
    ----------
    segments : np.ndarray [shape=(n_segments, n_samples)] or [shape=(n_samples,)]
    config : FeatureConfig
        ``kind`` (``mfcc`` or ``logmel``) and the spectral parameters.
    kinds : iterable of str, optional
        Several of ``("mfcc", "logmel")`` at once, from one shared STFT; a dict is returned.
    batch_size : int
        Segments transformed together (bounds peak memory).

    Returns
    -------
    np.ndarray [shape=(n_segments, t, n_features)], float32
        ``t = 1 + n_samples // hop_length``; ``n_features`` is ``n_mfcc`` or ``n_mels``.
        With ``kinds``: a dict from kind to such an array.
    """
    config = config or FeatureConfig()
    wanted = tuple(kinds) if kinds is not None else (config.kind,)
    for kind in wanted:
        if kind not in ("mfcc", "logmel"):
            raise ParameterError(f"frame features are 'mfcc' or 'logmel', got {kind!r}")
    single = np.asarray(segments).ndim == 1
    X = _check_y(np.atleast_2d(segments))
    if X.ndim != 2:
        raise ParameterError(f"segments must have shape (n_segments, n_samples), got {X.shape}")
    t = n_frames(X.shape[1], hop_length=config.hop_length)
    out = {
        kind: np.empty((X.shape[0], t, config.n_mfcc if kind == "mfcc" else config.n_mels), np.float32)
        for kind in wanted
    }
    spectral = dict(sr=config.sr, n_fft=config.n_fft, hop_length=config.hop_length, n_mels=config.n_mels,
                    fmin=config.fmin, fmax=config.fmax)
    for lo in range(0, X.shape[0], max(1, batch_size)):
        chunk = X[lo : lo + batch_size]
        S = power_spectrogram(chunk, n_fft=config.n_fft, hop_length=config.hop_length)
        L = log_mel(S=S, top_db=config.top_db, **spectral)
        if "logmel" in out:
            out["logmel"][lo : lo + len(chunk)] = np.swapaxes(L, -1, -2)
        if "mfcc" in out:
            M = mfcc(log_S=L, n_mfcc=config.n_mfcc)
            out["mfcc"][lo : lo + len(chunk)] = np.swapaxes(M, -1, -2)
    if single:
        out = {k: v[0] for k, v in out.items()}
    return out if kinds is not None else out[config.kind]


# --- per-track summary statistics -------------------------------------------------

_PITCH_CLASSES = ("C", "Cs", "D", "Ds", "E", "F", "Fs", "G", "Gs", "A", "As", "B")
_SPECTRAL = ("chroma_stft", "rms", "spectral_centroid", "spectral_bandwidth", "rolloff", "zero_crossing_rate")


def stat_names(n_mfcc: int = 13) -> list[str]:
    """Names of :func:`track_statistics` for ``n_mfcc`` MFCCs, in its order."""
    names: list[str] = []
    for base in _SPECTRAL:
        names += [f"{base}_mean", f"{base}_var"]
    names.append("tempo")
    for i in range(1, n_mfcc + 1):
        names += [f"mfcc{i}_mean", f"mfcc{i}_var"]
    for i in range(1, n_mfcc + 1):
        names += [f"delta_mfcc{i}_mean", f"delta_mfcc{i}_var"]
    names += [f"chroma_{pc}_mean" for pc in _PITCH_CLASSES]
    return names


#: Names of :func:`track_statistics`, in order, for the default 13 MFCCs.
#: They follow GTZAN's ``features_30_sec.csv`` where the two overlap.
STAT_NAMES: tuple[str, ...] = tuple(stat_names())


def track_statistics(
    y: np.ndarray,
    *,
    sr: int = 22050,
    n_fft: int = 2048,
    hop_length: int = 512,
    n_mels: int = 128,
    n_mfcc: int = 13,
) -> dict[str, float]:
    """Per-track summary statistics, the classical-ML input.

    Mean and variance of MFCCs and their deltas, chroma, spectral centroid,
    bandwidth, roll-off, zero-crossing rate and RMS, plus the tempo and the mean
    of each chroma pitch class. One STFT is shared by all of them.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]
        Mono waveform (at least one STFT frame long).
    sr, n_fft, hop_length, n_mels, n_mfcc
        librosa's parameters.

    Returns
    -------
    dict from :data:`STAT_NAMES` (for ``n_mfcc=13``) to float
    """
    import librosa

    y = _check_y(y)
    if y.ndim != 1:
        raise ParameterError(f"track_statistics expects a mono waveform of shape (n,), got {y.shape}")
    P = power_spectrogram(y, n_fft=n_fft, hop_length=hop_length)
    mag = np.sqrt(P)
    L = log_mel(S=P, sr=sr, n_fft=n_fft, hop_length=hop_length, n_mels=n_mels)
    M = mfcc(log_S=L, n_mfcc=n_mfcc)
    width = min(9, M.shape[-1] if M.shape[-1] % 2 else M.shape[-1] - 1)
    dM = librosa.feature.delta(M, width=width) if width >= 3 else np.zeros_like(M)
    chroma = librosa.feature.chroma_stft(S=P, sr=sr, n_fft=n_fft, hop_length=hop_length, tuning=0.0)
    frames = {
        "chroma_stft": chroma,
        "rms": librosa.feature.rms(S=mag, frame_length=n_fft, hop_length=hop_length),
        "spectral_centroid": librosa.feature.spectral_centroid(S=mag, sr=sr, n_fft=n_fft, hop_length=hop_length),
        "spectral_bandwidth": librosa.feature.spectral_bandwidth(S=mag, sr=sr, n_fft=n_fft, hop_length=hop_length),
        "rolloff": librosa.feature.spectral_rolloff(S=mag, sr=sr, n_fft=n_fft, hop_length=hop_length),
        "zero_crossing_rate": librosa.feature.zero_crossing_rate(y, frame_length=n_fft, hop_length=hop_length),
    }
    stats: dict[str, float] = {}
    for base in _SPECTRAL:
        stats[f"{base}_mean"] = float(np.mean(frames[base]))
        stats[f"{base}_var"] = float(np.var(frames[base]))
    onset = librosa.onset.onset_strength(S=L, sr=sr, hop_length=hop_length)
    tempo = librosa.feature.tempo(onset_envelope=onset, sr=sr, hop_length=hop_length)
    stats["tempo"] = float(np.atleast_1d(tempo)[0])
    for i in range(n_mfcc):
        stats[f"mfcc{i + 1}_mean"] = float(M[i].mean())
        stats[f"mfcc{i + 1}_var"] = float(M[i].var())
    for i in range(n_mfcc):
        stats[f"delta_mfcc{i + 1}_mean"] = float(dM[i].mean())
        stats[f"delta_mfcc{i + 1}_var"] = float(dM[i].var())
    for j, pc in enumerate(_PITCH_CLASSES):
        stats[f"chroma_{pc}_mean"] = float(chroma[j].mean())
    return stats


def statistics_vector(y: np.ndarray, *, sr: int = 22050, **kwargs) -> np.ndarray:
    """:func:`track_statistics` as a vector ordered like :data:`STAT_NAMES`.

    Returns
    -------
    np.ndarray [shape=(len(STAT_NAMES),)], float32
    """
    stats = track_statistics(y, sr=sr, **kwargs)
    return np.array(list(stats.values()), dtype=np.float32)
