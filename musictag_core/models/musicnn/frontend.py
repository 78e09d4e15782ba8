"""musicnn's front end: log-mel spectrogram and 3 s patches, in numpy.

:func:`musicnn_mel` and :func:`musicnn_patches` reproduce
``musicnn.extractor.batch_data`` of the ``musicnn==0.1.0`` wheel with two bugs
fixed: the mel spectrogram stays float32 before the log (musicnn casts it to
float16, so loud audio overflows to ``inf``), and clips shorter than one patch
are repeat-padded (the training setting ``"pad_short": "repeat-pad"``) instead
of crashing.

librosa is imported when a spectrogram is computed, not when this module is.
"""

from __future__ import annotations

import math

import numpy as np

from ...errors import AudioError, ParameterError

__all__ = [
    "MUSICNN_SR",
    "MUSICNN_N_FFT",
    "MUSICNN_HOP_LENGTH",
    "MUSICNN_N_MELS",
    "MUSICNN_PATCH_FRAMES",
    "musicnn_mel",
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


def musicnn_mel(
    y: np.ndarray,
    *,
    sr: int = MUSICNN_SR,
    n_fft: int = MUSICNN_N_FFT,
    hop_length: int = MUSICNN_HOP_LENGTH,
    n_mels: int = MUSICNN_N_MELS,
) -> np.ndarray:
    """Log-compressed mel spectrogram as musicnn computes it, in float32.

    ``log10(10000 * S + 1)`` of librosa's power mel spectrogram (its defaults
    otherwise: centred frames, Hann window, Slaney mel filters).

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
    import librosa

    y = np.asarray(y)
    if y.ndim != 1 or y.size == 0:
        raise AudioError("<array>", f"expected a non-empty mono waveform, got shape {y.shape}")
    S = librosa.feature.melspectrogram(
        y=y.astype(np.float32, copy=False), sr=sr, n_fft=n_fft, hop_length=hop_length, n_mels=n_mels
    )
    S = S.T.astype(np.float32, copy=False)
    return np.log10(np.float32(10000.0) * S + np.float32(1.0)).astype(np.float32, copy=False)


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
