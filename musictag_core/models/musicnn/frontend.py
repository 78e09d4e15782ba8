"""musicnn's front end: log-mel spectrogram and 3 s patches, in numpy.

:func:`musicnn_mel` and :func:`musicnn_patches` reproduce
``musicnn.extractor.batch_data`` of the ``musicnn==0.1.0`` wheel with two bugs
fixed: the mel spectrogram stays float32 before the log (musicnn casts it to
float16, so loud audio overflows to ``inf``), and clips shorter than one patch
are repeat-padded (the training setting ``"pad_short": "repeat-pad"``) instead
of crashing.

The spectrogram is computed with numpy and scipy.fft (equal to librosa's to float32
rounding), so the tagging path imports neither librosa nor numba.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from ...errors import AudioError, ParameterError

__all__ = [
    "MUSICNN_SR",
    "MUSICNN_N_FFT",
    "MUSICNN_HOP_LENGTH",
    "MUSICNN_N_MELS",
    "MUSICNN_PATCH_FRAMES",
    "mel_filters",
    "musicnn_mel",
    "musicnn_mel_db",
    "musicnn_patches",
    "patch_hop_frames",
]

MUSICNN_SR = 16000
MUSICNN_N_FFT = 512
MUSICNN_HOP_LENGTH = 256
MUSICNN_N_MELS = 96
#: 3 s at 16 kHz with hop 256: ``librosa.time_to_frames(3, sr=16000, n_fft=512, hop_length=256) + 1``.
MUSICNN_PATCH_FRAMES = 187

#: TF1 layers' BatchNorm epsilon (Keras 3 uses the same default; stated for clarity).


@functools.lru_cache(maxsize=8)
def mel_filters(*, sr: int, n_fft: int, n_mels: int) -> np.ndarray:
    """librosa's default mel filter bank (Slaney scale and area norm, 0 Hz to ``sr / 2``), in numpy.

    Equal to ``librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels)`` (computed
    the same way in float64, then rounded to float32), without importing librosa.

    Returns
    -------
    np.ndarray [shape=(n_mels, 1 + n_fft // 2)], float32, read-only
    """
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, np.log(6.4) / 27.0

    def hz_to_mel(f: float) -> float:
        return f / f_sp if f < min_log_hz else min_log_mel + float(np.log(f / min_log_hz)) / logstep

    mels = np.linspace(hz_to_mel(0.0), hz_to_mel(sr / 2.0), n_mels + 2)
    mel_f = f_sp * mels
    log_t = mels >= min_log_mel
    mel_f[log_t] = min_log_hz * np.exp(logstep * (mels[log_t] - min_log_mel))
    fftfreqs = np.fft.rfftfreq(n=n_fft, d=1.0 / sr)
    fdiff = np.diff(mel_f)
    ramps = np.subtract.outer(mel_f, fftfreqs)
    weights = np.zeros((n_mels, 1 + n_fft // 2), dtype=np.float32)
    for i in range(n_mels):
        lower = -ramps[i] / fdiff[i]
        upper = ramps[i + 2] / fdiff[i + 1]
        weights[i] = np.maximum(0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_f[2 : n_mels + 2] - mel_f[:n_mels]))[:, None]
    weights.setflags(write=False)
    return weights


@functools.lru_cache(maxsize=8)
def _mel_filters_t(*, sr: int, n_fft: int, n_mels: int):  # noqa: ANN202
    """:func:`mel_filters` transposed [shape=(1 + n_fft // 2, n_mels)], as a sparse CSR matrix.

    The bank is 98 % zeros (502 of 24,672 weights for musicnn): the sparse product
    costs 25x less CPU than a dense BLAS one, whose threads spin on a busy machine.
    """
    import scipy.sparse

    return scipy.sparse.csr_matrix(mel_filters(sr=sr, n_fft=n_fft, n_mels=n_mels).T)


@functools.lru_cache(maxsize=8)
def _hann(n_fft: int) -> np.ndarray:
    """Periodic Hann window (``scipy.signal.get_window("hann", n_fft)``), float32."""
    w = (0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n_fft) / n_fft)).astype(np.float32)
    w.setflags(write=False)
    return w


#: Frames per FFT block in :func:`musicnn_mel` (keeps the working set in cache).
_MEL_BLOCK_FRAMES = 1024


def musicnn_mel(
    y: np.ndarray,
    *,
    sr: int = MUSICNN_SR,
    n_fft: int = MUSICNN_N_FFT,
    hop_length: int = MUSICNN_HOP_LENGTH,
    n_mels: int = MUSICNN_N_MELS,
) -> np.ndarray:
    """Log-compressed mel spectrogram as musicnn computes it, in float32.

    ``log10(10000 * S + 1)`` of librosa's power mel spectrogram with its defaults
    (centred frames padded with zeros, periodic Hann window, Slaney mel filters),
    computed with scipy's FFT in float32 so that tagging imports neither librosa
    nor numba. Equal to the librosa computation to float32 rounding (tested).

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]
        Mono waveform at ``sr`` (16000 Hz for the pretrained models).
    sr, n_fft, hop_length, n_mels : int

    Returns
    -------
    np.ndarray [shape=(frames, n_mels)], float32
        ``frames = 1 + n // hop_length``.
    """
    import scipy.fft  # 3x faster than numpy's FFT in float32; ~0.1 s to import, librosa + numba ~1.5 s

    y = np.asarray(y)
    if y.ndim != 1 or y.size == 0:
        raise AudioError("<array>", f"expected a non-empty mono waveform, got shape {y.shape}")
    pad = n_fft // 2
    yp = np.zeros(y.size + 2 * pad, dtype=np.float32)
    yp[pad : pad + y.size] = y
    frames = np.lib.stride_tricks.sliding_window_view(yp, n_fft)[::hop_length]
    window, basis_t = _hann(n_fft), _mel_filters_t(sr=sr, n_fft=n_fft, n_mels=n_mels)
    out = np.empty((len(frames), n_mels), dtype=np.float32)
    for a in range(0, len(frames), _MEL_BLOCK_FRAMES):
        spec = scipy.fft.rfft(frames[a : a + _MEL_BLOCK_FRAMES] * window, axis=-1)
        power = np.square(spec.real) + np.square(spec.imag)
        out[a : a + _MEL_BLOCK_FRAMES] = power @ basis_t  # sparse: no BLAS threads
    out *= np.float32(10000.0)
    out += np.float32(1.0)
    return np.log10(out, out=out)


def musicnn_mel_db(mel: np.ndarray, *, top_db: float | None = 80.0) -> np.ndarray:
    """The mel spectrogram in dB from :func:`musicnn_mel`'s output, for display.

    Undoes musicnn's ``log10(10000 * S + 1)`` and returns ``librosa.power_to_db(S, ref=1.0,
    top_db=top_db)`` (the same as :func:`musictag_core.features.log_mel` on the waveform,
    within 1e-3 dB above the ``top_db`` floor), so a page can draw what the model consumed
    without computing another spectrogram.

    Parameters
    ----------
    mel : np.ndarray [shape=(frames, n_mels)]
    top_db : float or None
        Dynamic range kept below the peak.

    Returns
    -------
    np.ndarray [shape=(n_mels, frames)], float32
    """
    mel = np.asarray(mel, dtype=np.float32)
    if mel.ndim != 2:
        raise ParameterError(f"mel must have shape (frames, n_mels), got {mel.shape}")
    S = np.expm1(mel.T * np.float32(np.log(10.0))) / np.float32(10000.0)
    db = np.float32(10.0) * np.log10(np.maximum(S, np.float32(1e-10)))
    if top_db is not None and db.size:
        db = np.maximum(db, db.max() - np.float32(top_db))
    return db.astype(np.float32, copy=False)


def patch_hop_frames(
    overlap: float, *, patch_frames: int = MUSICNN_PATCH_FRAMES, sr: int = MUSICNN_SR,
    hop_length: int = MUSICNN_HOP_LENGTH,
) -> int:
    """Frames between patch starts for ``overlap`` seconds of overlap.

    Parameters
    ----------
    overlap : float
        Seconds shared by consecutive patches, ``0 <= overlap < patch length``.

    Returns
    -------
    int
        ``patch_frames - round(overlap * sr / hop_length)``, at least 1.
    """
    patch_s = patch_frames * hop_length / sr
    if isinstance(overlap, bool) or not isinstance(overlap, (int, float)) or not math.isfinite(overlap):
        raise ParameterError(f"overlap must be a number of seconds, got {overlap!r}")
    if not 0 <= overlap < patch_s:
        raise ParameterError(
            f"overlap must be in [0, {patch_s:.3f}) seconds (the patch length), got {overlap!r}"
        )
    return max(1, patch_frames - int(round(overlap * sr / hop_length)))


def musicnn_patches(
    mel: np.ndarray, *, patch_frames: int = MUSICNN_PATCH_FRAMES, hop_frames: int | None = None
) -> np.ndarray:
    """Cut a mel spectrogram into patches, as musicnn does.

    Patches start every ``hop_frames`` frames; a tail shorter than a patch is
    dropped. A spectrogram shorter than one patch is repeat-padded (tiled) to
    one full patch, the padding musicnn was trained with.

    Parameters
    ----------
    mel : np.ndarray [shape=(frames, n_mels)]
    patch_frames : int
        Frames per patch (187 = 3 s).
    hop_frames : int, optional
        Frames between patch starts; defaults to ``patch_frames`` (no overlap).

    Returns
    -------
    np.ndarray [shape=(n_patches, patch_frames, n_mels)], float32
        ``n_patches = 1 + (frames - patch_frames) // hop_frames`` (1 when padded).
        A strided view of ``mel`` when no padding was needed.
    """
    mel = np.asarray(mel, dtype=np.float32)
    if mel.ndim != 2 or mel.shape[0] == 0:
        raise ParameterError(f"mel must have shape (frames, n_mels) with frames > 0, got {mel.shape}")
    hop = patch_frames if hop_frames is None else hop_frames
    if isinstance(hop, bool) or not isinstance(hop, (int, np.integer)) or hop < 1:
        raise ParameterError(f"hop_frames must be a positive integer, got {hop_frames!r}")
    if mel.shape[0] < patch_frames:
        reps = -(-patch_frames // mel.shape[0])
        mel = np.tile(mel, (reps, 1))[:patch_frames]
    windows = np.lib.stride_tricks.sliding_window_view(mel, patch_frames, axis=0)[::hop]
    return np.ascontiguousarray(windows.transpose(0, 2, 1))
