from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile as sf

from musictag_core.audio import audio_info, load_audio, valid_audio
from musictag_core.errors import AudioError, MusictagError

from .helpers import CLIPS, needs_clips, tone, write_tone


@pytest.mark.parametrize("ext", ["wav", "flac", "ogg", "mp3"])
def test_formats_decode_to_mono_float32(tmp_path, ext):
    path = write_tone(tmp_path / f"a.{ext}", sr=22050, duration=1.0, channels=2)
    y, sr = load_audio(path, sr=22050)
    assert sr == 22050 and y.dtype == np.float32 and y.ndim == 1
    assert abs(len(y) - 22050) < 2500  # lossy codecs add a little padding
    # the dominant frequency survives every codec
    spec = np.abs(np.fft.rfft(y[:16384]))
    assert abs(np.argmax(spec) * 22050 / 16384 - 440) < 5


def test_resampling_and_native_rate(tmp_path):
    path = write_tone(tmp_path / "a.wav", sr=44100, duration=2.0)
    y, sr = load_audio(path, sr=22050)
    assert sr == 22050 and len(y) == 44100
    y2, sr2 = load_audio(path, sr=None)
    assert sr2 == 44100 and len(y2) == 88200


def test_stereo_kept_when_not_mono(tmp_path):
    path = write_tone(tmp_path / "a.wav", channels=2)
    y, _ = load_audio(path, mono=False)
    assert y.shape == (2, 22050)


def test_offset_and_duration_read_only_what_is_needed(tmp_path):
    sr = 8000
    ramp = np.linspace(-0.9, 0.9, sr * 10, dtype=np.float32)
    sf.write(tmp_path / "r.wav", ramp, sr, subtype="FLOAT")
    y, _ = load_audio(tmp_path / "r.wav", sr=None, offset=2.0, duration=3.0)
    np.testing.assert_array_equal(y, ramp[2 * sr : 5 * sr])
    with pytest.raises(AudioError, match="past the end"):
        load_audio(tmp_path / "r.wav", sr=None, offset=20.0)


def test_bytes_and_file_objects(tmp_path):
    path = write_tone(tmp_path / "a.flac")
    data = path.read_bytes()
    y1, _ = load_audio(path)
    y2, _ = load_audio(data)
    y3, _ = load_audio(io.BytesIO(data))
    np.testing.assert_array_equal(y1, y2)
    np.testing.assert_array_equal(y1, y3)


def _write(name, data):
    def make(tmp_path):
        path = tmp_path / name
        path.write_bytes(data)
        return path

    return make


def _truncated_wav(tmp_path):
    path = write_tone(tmp_path / "t.wav", duration=1.0)
    data = path.read_bytes()
    (tmp_path / "t.wav").write_bytes(data[:30])  # cut inside the header
    return tmp_path / "t.wav"


@pytest.mark.parametrize(
    "make, reason",
    [
        (_write("e.wav", b""), "empty"),
        (_write("t.mp3", b"hello, not audio"), "not a readable audio"),
        (_write("i.wav", b"\x89PNG\r\n\x1a\n" + bytes(200)), "not a readable audio"),
        (_truncated_wav, "not a readable audio|no audio samples"),
        (lambda p: write_tone(p / "s.wav", amp=0.0), "silent"),
        (lambda p: write_tone(p / "c.wav", channels=8), "8 channels"),
        (lambda p: p / "missing.wav", "no such file"),
        (lambda p: p, "folder"),
    ],
)
def test_bad_inputs_name_file_and_reason(tmp_path, make, reason):
    path = make(tmp_path)
    with pytest.raises(AudioError, match=reason) as info:
        load_audio(path)
    assert str(path) in str(info.value)
    assert isinstance(info.value, MusictagError)


@pytest.mark.parametrize("fmt", ["WAV", "FLAC", "MP3", "OGG"])
def test_truncated_body(tmp_path, fmt):
    buf = io.BytesIO()
    y = np.random.default_rng(0).uniform(-0.5, 0.5, 22050 * 2).astype(np.float32)
    sf.write(buf, y, 22050, format=fmt)
    data = buf.getvalue()
    path = tmp_path / f"half.{fmt.lower()}"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(AudioError, match="truncated|not a readable|no audio samples") as info:
        load_audio(path)
    assert path.name in str(info.value)
    with pytest.raises(AudioError):
        load_audio(data[: len(data) // 2])


def test_nan_and_inf_samples(tmp_path):
    y = tone(duration=0.5)
    y[100] = np.nan
    y[200] = np.inf
    sf.write(tmp_path / "n.wav", y, 22050, subtype="FLOAT")
    with pytest.raises(AudioError, match="2 NaN or infinite"):
        load_audio(tmp_path / "n.wav")


def test_silence_allowed_on_request(tmp_path):
    path = write_tone(tmp_path / "s.wav", amp=0.0)
    y, _ = load_audio(path, allow_silence=True)
    assert np.all(y == 0)


def test_absurd_sample_rate(tmp_path):
    sf.write(tmp_path / "low.wav", tone(sr=500, duration=1.0), 500)
    with pytest.raises(AudioError, match="500 Hz"):
        load_audio(tmp_path / "low.wav")


@pytest.mark.parametrize("sr", [8000, 192000])
def test_unusual_but_valid_rates_are_resampled(tmp_path, sr):
    path = write_tone(tmp_path / "r.wav", sr=sr, duration=0.5)
    y, out_sr = load_audio(path, sr=22050)
    assert out_sr == 22050 and abs(len(y) - 11025) <= 1


def test_one_millisecond(tmp_path):
    path = write_tone(tmp_path / "ms.wav", duration=0.001)
    y, _ = load_audio(path)
    assert 20 <= len(y) <= 24


def test_empty_bytes():
    with pytest.raises(AudioError, match="empty"):
        load_audio(b"")


def test_valid_audio_checks():
    with pytest.raises(AudioError, match="floating point"):
        valid_audio(np.zeros(10, dtype=np.int16))
    with pytest.raises(AudioError, match="zero length"):
        valid_audio(np.zeros(0, dtype=np.float32))
    valid_audio(np.zeros(10, dtype=np.float32), allow_silence=True)


def test_info_reads_header(tmp_path):
    path = write_tone(tmp_path / "a.wav", sr=16000, duration=2.0, channels=2)
    info = audio_info(path)
    assert (info.sr, info.channels, info.frames) == (16000, 2, 32000)
    assert info.duration_s == pytest.approx(2.0)
    with pytest.raises(AudioError):
        audio_info(tmp_path / "nope.wav")


@needs_clips
@pytest.mark.parametrize("name", ["blues.00000.wav", "blues.00099.mp3", "ballroom-waltz.Media-105901.wav"])
def test_real_clips(name):
    y, sr = load_audio(CLIPS / name, sr=22050)
    assert sr == 22050
    assert 29.5 < len(y) / sr < 32.5
    assert 0.01 < np.abs(y).max() <= 1.0
