"""Stage 2, cut: a waveform becomes segments, patches, windows or random crops.

Every cut is described by a :class:`~musictag_core.config.SegmentConfig`
(see :data:`~musictag_core.config.SEGMENT_PRESETS`):

* ``segments``: the first ``max_duration_s`` seconds in consecutive pieces of
  ``length_s`` (the multi-label seed system: 10 segments of 12 s from 120 s).
* ``patches`` / ``windows``: pieces of ``length_s`` every ``hop_s`` seconds.
* ``random_crop``: one piece of ``length_s`` at a random start per draw.

Audio shorter than one piece is zero-padded to one piece (``pad_short``).
The same framing is available on spectrogram frames through :func:`frame_patches`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import SegmentConfig, segment_preset
from .errors import ParameterError

__all__ = [
    "Segments",
    "cut_segments",
    "frame_patches",
    "frame_starts",
    "random_crop",
]


@dataclass(frozen=True)
class Segments:
    """Pieces cut from one waveform.

    Attributes
    ----------
    data : np.ndarray [shape=(n_segments, length)], float32
        The pieces, each ``length`` samples long (zero-padded where short).
    starts_s : np.ndarray [shape=(n_segments,)]
        Start time of each piece in seconds.
    sr : int
        Sample rate of ``data``.
    """

    data: np.ndarray
    starts_s: np.ndarray
    sr: int

    def __len__(self) -> int:
        return int(self.data.shape[0])

    @property
    def length_s(self) -> float:
        """Length of one piece in seconds."""
        return self.data.shape[1] / self.sr


def frame_starts(
    n: int, *, length: int, hop: int, max_count: int | None = None, pad_short: bool = True, min_tail: float = 1.0
) -> np.ndarray:
    """Start indices of pieces of ``length`` every ``hop`` over ``n`` items.

    Parameters
    ----------
    n : int
        Number of samples (or frames) available.
    length, hop : int
        Piece length and hop, in the same unit as ``n``.
    max_count : int or None
        Keep at most this many pieces.
    pad_short : bool
        If ``n < length``, return one piece starting at 0 (to be zero-padded).
    min_tail : float
        Keep a trailing partial piece covering at least this fraction of ``length``.

    Returns
    -------
    np.ndarray [shape=(n_pieces,)], int64
    """
    if length < 1 or hop < 1:
        raise ParameterError(f"piece length and hop must be >= 1, got length={length}, hop={hop}")
    if n < length:
        starts = np.zeros(1 if (pad_short and n > 0) else 0, dtype=np.int64)
    else:
        starts = np.arange(0, n - length + 1, hop, dtype=np.int64)
        if min_tail < 1.0:
            nxt = starts[-1] + hop
            if nxt < n and (n - nxt) >= min_tail * length:
                starts = np.append(starts, nxt)
    if max_count is not None:
        starts = starts[:max_count]
    return starts


def _gather(y: np.ndarray, starts: np.ndarray, length: int) -> np.ndarray:
    """Copy ``y[s:s+length]`` for each start into an array, zero-padding past the end."""
    out = np.zeros((len(starts), length) + y.shape[1:], dtype=np.float32)
    for i, s in enumerate(starts):
        piece = y[s : s + length]
        out[i, : piece.shape[0]] = piece
    return out


def random_crop(y: np.ndarray, *, sr: int, length_s: float, rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """Draw one random crop of ``length_s`` seconds.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]
    sr : int
    length_s : float
    rng : np.random.Generator
        Source of randomness (no global state is used).

    Returns
    -------
    crop : np.ndarray [shape=(round(length_s * sr),)], float32
        Zero-padded at the end when ``y`` is shorter.
    start_s : float
    """
    if not isinstance(rng, np.random.Generator):
        raise ParameterError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    length = int(round(length_s * sr))
    if length < 1:
        raise ParameterError(f"crop length must be at least one sample, got length_s={length_s!r}")
    if y.shape[0] <= length:
        start = 0
    else:
        start = int(rng.integers(0, y.shape[0] - length + 1))
    return _gather(y, np.array([start]), length)[0], start / sr


def cut_segments(
    y: np.ndarray,
    *,
    sr: int,
    config: SegmentConfig | str = "tracks10",
    rng: np.random.Generator | None = None,
) -> Segments:
    """Cut a waveform into model inputs as ``config`` says.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]
        Mono waveform.
    sr : int
        Sample rate of ``y``.
    config : SegmentConfig or str
        The cut, or the name of a preset (``tracks10``, ``patches3``, ``windows1``, ``crop30``).
    rng : np.random.Generator, optional
        Required for ``random_crop``.

    Returns
    -------
    Segments
        ``data`` has shape ``(n_segments, round(length_s * sr))``.

    Examples
    --------
    A 30 s clip at 22050 Hz gives two full 12 s segments with the ``tracks10`` preset;
    a 130 s track gives 10.
    """
    if isinstance(config, str):
        config = segment_preset(config)
    y = np.asarray(y)
    if y.ndim != 1:
        raise ParameterError(f"cut_segments expects a mono waveform of shape (n,), got {y.shape}")
    if config.kind == "random_crop":
        if rng is None:
            raise ParameterError("random_crop segmentation needs rng=np.random.default_rng(seed)")
        crop, start = random_crop(y, sr=sr, length_s=config.length_s, rng=rng)
        return Segments(data=crop[None, :], starts_s=np.array([start]), sr=sr)
    if config.max_duration_s is not None:
        y = y[: int(round(config.max_duration_s * sr))]
    length = int(round(config.length_s * sr))
    hop = int(round(config.hop * sr))
    starts = frame_starts(
        y.shape[0],
        length=length,
        hop=hop,
        max_count=config.n_segments,
        pad_short=config.pad_short,
        min_tail=config.min_tail,
    )
    return Segments(data=_gather(y, starts, length), starts_s=starts / sr, sr=sr)


def frame_patches(
    S: np.ndarray, *, patch_frames: int, hop_frames: int | None = None, pad_short: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Cut a (frames, features) spectrogram into patches along time.

    Parameters
    ----------
    S : np.ndarray [shape=(n_frames, n_features)]
    patch_frames : int
        Frames per patch.
    hop_frames : int or None
        Hop between patch starts (``None``: non-overlapping).
    pad_short : bool
        Zero-pad a spectrogram shorter than one patch to one patch.

    Returns
    -------
    patches : np.ndarray [shape=(n_patches, patch_frames, n_features)]
        The tail shorter than a patch is dropped.
    starts : np.ndarray [shape=(n_patches,)]
        Start frame of each patch.
    """
    if S.ndim != 2:
        raise ParameterError(f"frame_patches expects (frames, features), got shape {S.shape}")
    hop = patch_frames if hop_frames is None else hop_frames
    starts = frame_starts(S.shape[0], length=patch_frames, hop=hop, pad_short=pad_short)
    if S.shape[0] >= patch_frames:
        # a strided view, copied once: faster than a Python loop for long tracks
        view = np.lib.stride_tricks.sliding_window_view(S, patch_frames, axis=0)[starts]
        return np.ascontiguousarray(np.moveaxis(view, -1, 1), dtype=S.dtype), starts
    return _gather(S, starts, patch_frames).astype(S.dtype, copy=False), starts
