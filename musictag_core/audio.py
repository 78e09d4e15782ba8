"""Stage 1, decode: a path or bytes becomes a mono float32 waveform at a rate.

soundfile (libsndfile: wav, flac, ogg, mp3) is tried first and reads only the
frames that are needed, so a one-hour file costs no more than its first
minutes. audioread is the fallback for anything libsndfile cannot open.
Every failure is an :class:`~musictag_core.errors.AudioError` naming the file
and the reason.
"""

from __future__ import annotations

import io
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Union

import numpy as np

from .config import MAX_SR, MIN_SR, AudioConfig
from .errors import AudioError, ParameterError

__all__ = [
    "AudioInfo",
    "AudioSource",
    "AUDIO_EXTENSIONS",
    "audio_info",
    "load_audio",
    "resample",
    "source_name",
    "valid_audio",
]

#: File extensions treated as audio by the dataset adapters and the pages.
AUDIO_EXTENSIONS = (".wav", ".mp3", ".flac", ".ogg", ".oga", ".aif", ".aiff", ".au", ".m4a")

AudioSource = Union[str, os.PathLike, bytes, bytearray, memoryview, BinaryIO]

#: Below this peak amplitude a waveform counts as silent.
SILENCE_PEAK = 1e-6


@dataclass(frozen=True)
class AudioInfo:
    """What a file holds, read from its header (nothing is decoded).

    Attributes
    ----------
    path : str
    duration_s : float
    sr : int
        Native sample rate in Hz.
    channels : int
    frames : int
    format : str
        Container or codec name as reported by the decoder.
    """

    path: str
    duration_s: float
    sr: int
    channels: int
    frames: int
    format: str

    def to_dict(self) -> dict:
        """A JSON-ready dict of the fields."""
        return dict(self.__dict__)


def source_name(source: AudioSource) -> str:
    """Return a printable name for an audio source (a path or ``"<bytes>"``)."""
    if isinstance(source, (str, os.PathLike)):
        return os.fspath(source)
    name = getattr(source, "name", None)
    return str(name) if isinstance(name, str) else "<bytes>"


def _as_file(source: AudioSource):
    """Return something soundfile can open, after basic checks."""
    name = source_name(source)
    if isinstance(source, (bytes, bytearray, memoryview)):
        if len(source) == 0:
            raise AudioError(name, "the data is empty (0 bytes)")
        return io.BytesIO(bytes(source))
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        try:
            st = path.stat()
        except FileNotFoundError:
            raise AudioError(name, "no such file") from None
        except (OSError, ValueError) as exc:  # name too long, NUL byte, permission, loop
            reason = getattr(exc, "strerror", None) or str(exc)
            raise AudioError(name, f"cannot open the file ({reason.lower()})") from None
        if stat.S_ISDIR(st.st_mode):
            raise AudioError(name, "is a folder, not an audio file")
        if not stat.S_ISREG(st.st_mode):
            # /dev/zero, a FIFO or a socket: reading one would block or never end
            raise AudioError(name, "is not a regular file (a device, pipe or socket), not an audio file")
        if st.st_size == 0:
            raise AudioError(name, "the file is empty (0 bytes)")
        return path
    if hasattr(source, "read"):
        data = source.read()
        if not data:
            raise AudioError(name, "the data is empty (0 bytes)")
        return io.BytesIO(data)
    raise ParameterError(f"cannot read audio from an object of type {type(source).__name__}")


def _check_native(name: str, sr: int, channels: int, max_channels: int) -> None:
    if not MIN_SR <= sr <= MAX_SR:
        raise AudioError(
            name, f"sample rate {sr} Hz is outside the supported {MIN_SR}-{MAX_SR} Hz range"
        )
    if channels < 1:
        raise AudioError(name, "the file reports no audio channels")
    if channels > max_channels:
        raise AudioError(
            name,
            f"has {channels} channels; at most {max_channels} are accepted "
            "(mix it down to stereo or mono first, or raise max_channels)",
        )


def audio_info(source: AudioSource) -> AudioInfo:
    """Read duration, sample rate and channels of a file without decoding it.

    Parameters
    ----------
    source : str, path, bytes or file-like

    Returns
    -------
    AudioInfo

    Raises
    ------
    AudioError
        If the file is missing, empty or not audio.
    """
    import soundfile as sf

    name = source_name(source)
    f = _as_file(source)
    try:
        info = sf.info(f)
        sr, channels, frames, fmt = int(info.samplerate), int(info.channels), int(info.frames), info.format
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
        sr, channels, frames, fmt = _audioread_info(name, f, exc)
    if sr <= 0:
        raise AudioError(name, f"invalid sample rate {sr} in the header")
    return AudioInfo(
        path=name, duration_s=frames / sr, sr=sr, channels=channels, frames=frames, format=str(fmt)
    )


def _audioread_info(name: str, f, first_exc: Exception) -> tuple[int, int, int, str]:
    if not isinstance(f, Path):
        raise AudioError(name, f"not a readable audio stream ({_clean(first_exc)})") from None
    try:
        import audioread

        with audioread.audio_open(str(f)) as af:
            return int(af.samplerate), int(af.channels), int(round(af.duration * af.samplerate)), "audioread"
    except Exception as exc:  # audioread raises many unrelated types
        raise AudioError(
            name, f"not a readable audio file ({_clean(first_exc)}; {_clean(exc)})"
        ) from None


def _clean(exc: Exception) -> str:
    if type(exc).__name__ == "NoBackendError":
        return "no fallback decoder such as ffmpeg is installed"
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    # libsndfile repeats the file name: "Error opening '/x.wav': Format not recognised."
    if text.startswith("Error opening"):
        text = re.sub(r"^Error opening (?:'.*?'|<.*?>): ", "", text)
    return text[:200]


def _read_soundfile(f, name: str, offset: float, duration: float | None, max_channels: int):
    import soundfile as sf

    with sf.SoundFile(f) as snd:
        sr = int(snd.samplerate)
        _check_native(name, sr, int(snd.channels), max_channels)
        start = int(round(offset * sr))
        total = snd.frames if snd.frames >= 0 else None
        if total is not None and start >= total > 0:
            raise AudioError(
                name, f"offset {offset:g} s is past the end of the audio ({total / sr:.2f} s)"
            )
        frames = -1 if duration is None else int(round(duration * sr))
        if start:
            snd.seek(start)
        y = snd.read(frames=frames, dtype="float32", always_2d=True)
        if total:
            expected = total - start if frames < 0 else min(frames, total - start)
            if y.shape[0] < 0.9 * expected - sr * 0.1:
                raise AudioError(
                    name,
                    f"is truncated: its header promises {expected / sr:.2f} s but only "
                    f"{y.shape[0] / sr:.2f} s could be decoded (re-download or re-encode it)",
                )
    fmt = str(getattr(snd, "format", "")).upper()
    if fmt == "WAV":
        _check_wav_length(f, name)
    elif fmt == "OGG":
        _check_ogg_end(f, name)
    return y, sr


def _tail(f, n: int) -> bytes:
    if isinstance(f, Path):
        with open(f, "rb") as fh:
            fh.seek(max(f.stat().st_size - n, 0))
            return fh.read()
    pos = f.tell()
    f.seek(0, io.SEEK_END)
    f.seek(max(f.tell() - n, 0))
    data = f.read()
    f.seek(pos)
    return data


def _check_ogg_end(f, name: str) -> None:
    """Raise if an Ogg stream's last page lacks the end-of-stream flag (a cut-off download)."""
    tail = _tail(f, 65536)
    last = tail.rfind(b"OggS")
    if last >= 0 and last + 5 < len(tail) and not tail[last + 5] & 0x04:
        raise AudioError(name, "is truncated: the Ogg stream ends without its final page (re-download or re-encode it)")


def _check_wav_length(f, name: str) -> None:
    """Raise if a RIFF/WAVE file's data chunk claims more bytes than the file holds.

    libsndfile silently shortens such files, so the truncation is checked here.
    """
    import struct

    if isinstance(f, Path):
        with open(f, "rb") as fh:
            head = fh.read(4096)
        size = f.stat().st_size
    else:
        pos = f.tell()
        f.seek(0)
        head = f.read(4096)
        f.seek(0, io.SEEK_END)
        size = f.tell()
        f.seek(pos)
    if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return
    i = 12
    while i + 8 <= len(head):
        chunk, length = head[i : i + 4], struct.unpack("<I", head[i + 4 : i + 8])[0]
        if chunk == b"data":
            if length != 0xFFFFFFFF and i + 8 + length > size + 1:
                raise AudioError(
                    name,
                    f"is truncated: its header declares {length} bytes of audio but the file ends "
                    f"after {max(size - i - 8, 0)} (re-download or re-encode it)",
                )
            return
        i += 8 + length + (length & 1)


def _read_audioread(path: Path, name: str, offset: float, duration: float | None, max_channels: int):
    import audioread

    chunks = []
    with audioread.audio_open(str(path)) as af:
        sr, channels = int(af.samplerate), int(af.channels)
        _check_native(name, sr, channels, max_channels)
        start = int(round(offset * sr)) * channels
        stop = None if duration is None else start + int(round(duration * sr)) * channels
        seen = 0
        for buf in af:
            block = np.frombuffer(buf, dtype="<i2").astype(np.float32) / 32768.0
            lo, hi = seen, seen + block.size
            seen = hi
            if hi <= start:
                continue
            a = max(start - lo, 0)
            b = block.size if stop is None else min(block.size, stop - lo)
            if b > a:
                chunks.append(block[a:b])
            if stop is not None and seen >= stop:
                break
    y = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
    y = y[: (y.size // channels) * channels].reshape(-1, channels)
    return y, sr


def resample(y: np.ndarray, *, orig_sr: int, target_sr: int) -> np.ndarray:
    """Resample a waveform with soxr (high quality), keeping float32.

    Parameters
    ----------
    y : np.ndarray [shape=(..., n)]
    orig_sr, target_sr : int

    Returns
    -------
    np.ndarray [shape=(..., m)], ``m ≈ n * target_sr / orig_sr``
    """
    if orig_sr == target_sr:
        return y
    import soxr

    if y.ndim == 1:
        return soxr.resample(y, orig_sr, target_sr, quality="HQ").astype(np.float32, copy=False)
    out = soxr.resample(np.ascontiguousarray(y.T), orig_sr, target_sr, quality="HQ").T
    return np.ascontiguousarray(out, dtype=np.float32)


def valid_audio(y: np.ndarray, *, name: str = "<array>", allow_silence: bool = False) -> None:
    """Check that ``y`` is a usable waveform, raising :class:`AudioError` if not.

    Parameters
    ----------
    y : np.ndarray [shape=(n,) or (channels, n)]
    name : str
        Name used in the message.
    allow_silence : bool
        Accept an all-silent waveform.
    """
    if not isinstance(y, np.ndarray):
        raise AudioError(name, f"audio must be a numpy array, got {type(y).__name__}")
    if not np.issubdtype(y.dtype, np.floating):
        raise AudioError(name, f"audio must be floating point, got dtype {y.dtype}")
    if y.ndim not in (1, 2):
        raise AudioError(name, f"audio must have shape (n,) or (channels, n), got {y.shape}")
    if y.shape[-1] == 0:
        raise AudioError(name, "contains no audio samples (zero length)")
    if not np.all(np.isfinite(y)):
        bad = int(np.count_nonzero(~np.isfinite(y)))
        raise AudioError(name, f"contains {bad} NaN or infinite sample value(s)")
    if not allow_silence and float(np.max(np.abs(y))) < SILENCE_PEAK:
        raise AudioError(name, "is silent throughout (every sample is zero)")


def load_audio(
    source: AudioSource,
    *,
    sr: int | None = 22050,
    mono: bool = True,
    offset: float = 0.0,
    duration: float | None = None,
    max_channels: int = 2,
    allow_silence: bool = False,
    config: AudioConfig | None = None,
) -> tuple[np.ndarray, int]:
    """Decode audio to a float32 waveform.

    Parameters
    ----------
    source : str, path, bytes or binary file-like
        The audio file or its bytes (wav, flac, ogg, mp3, ...).
    sr : int or None
        Target sample rate; ``None`` keeps the native rate.
    mono : bool
        Average all channels into one.
    offset : float
        Seconds to skip at the start.
    duration : float or None
        At most this many seconds are decoded (``None``: to the end).
    max_channels : int
        Reject files with more channels than this.
    allow_silence : bool
        Accept audio that is silent throughout.
    config : AudioConfig, optional
        If given, its values replace all the keyword arguments above.

    Returns
    -------
    y : np.ndarray [shape=(n,) if mono else (channels, n)], float32
    sr : int
        The sample rate of ``y``.

    Raises
    ------
    AudioError
        The file is missing, empty, not audio, truncated beyond reading, has too
        many channels, an unsupported rate, NaN/inf samples, no samples, or only
        silence (unless ``allow_silence``).
    """
    if config is not None:
        sr, mono, offset, duration = config.sr, config.mono, config.offset, config.duration
        max_channels, allow_silence = config.max_channels, config.allow_silence
    else:  # validate through the config type, so messages are the same
        AudioConfig(
            sr=sr if sr is not None else 22050,
            mono=mono,
            offset=offset,
            duration=duration,
            max_channels=max_channels,
            allow_silence=allow_silence,
        )
    import soundfile as sf

    name = source_name(source)
    f = _as_file(source)
    try:
        y, native_sr = _read_soundfile(f, name, offset, duration, max_channels)
    except AudioError:
        raise
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError, EOFError, OSError) as exc:
        if not isinstance(f, Path):
            raise AudioError(name, f"not a readable audio stream ({_clean(exc)})") from None
        try:
            y, native_sr = _read_audioread(f, name, offset, duration, max_channels)
        except AudioError:
            raise
        except Exception as exc2:  # audioread backends raise assorted types
            raise AudioError(
                name,
                f"not a readable audio file ({_clean(exc)}; {_clean(exc2)})",
            ) from None
    except MemoryError:
        raise AudioError(name, "too large to decode in memory; set a shorter duration") from None

    y = y.T  # (channels, n)
    if y.shape[-1] == 0:
        raise AudioError(name, "contains no audio samples (zero length, or truncated before the first sample)")
    if mono:
        y = y.mean(axis=0, dtype=np.float32) if y.shape[0] > 1 else y[0]
    valid_audio(y, name=name, allow_silence=allow_silence)
    if sr is not None and sr != native_sr:
        y = resample(y, orig_sr=native_sr, target_sr=sr)
        native_sr = sr
    return np.ascontiguousarray(y, dtype=np.float32), int(native_sr)
