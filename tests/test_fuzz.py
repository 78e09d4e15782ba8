"""Fuzzing the readers of untrusted files with hypothesis: only MusictagError may escape.

Random bytes and mutated valid files go into the audio decoders (bytes and paths),
the CSV readers (strengths, feature table, MagnaTagATune) and the zip extractor.
Examples are derandomised so CI is reproducible; each test runs in a few seconds.
"""

from __future__ import annotations

import io
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, example, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from musictag_core.audio import audio_info, load_audio  # noqa: E402
from musictag_core.datasets import (  # noqa: E402
    open_dataset,
    read_feature_table,
    read_fma,
    read_jamendo,
    read_mtt,
    read_strengths_csv,
)
from musictag_core.errors import MusictagError  # noqa: E402
from musictag_core.uploads import safe_extract_zip  # noqa: E402

FUZZ = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _valid(fmt: str, subtype: str | None = None) -> bytes:
    sr = 8000
    y = (0.3 * np.sin(2 * np.pi * 440 * np.arange(sr // 2) / sr)).astype(np.float32)
    buf = io.BytesIO()
    sf.write(buf, y, sr, format=fmt, subtype=subtype)
    return buf.getvalue()


SEEDS = {
    "wav": _valid("WAV"),
    "wav-float": _valid("WAV", "FLOAT"),
    "flac": _valid("FLAC"),
    "ogg": _valid("OGG"),
    "mp3": _valid("MP3"),
}


@st.composite
def mutated(draw, seeds: dict[str, bytes]):
    """A valid file with a few bytes overwritten (mostly in the header), cut, or extended."""
    data = bytearray(seeds[draw(st.sampled_from(sorted(seeds)))])
    for _ in range(draw(st.integers(1, 8))):
        # the header (first 64 bytes) is where parsers trust numbers
        limit = draw(st.sampled_from([64, len(data)]))
        pos = draw(st.integers(0, min(limit, len(data)) - 1))
        data[pos] = draw(st.integers(0, 255))
    action = draw(st.sampled_from(["none", "cut", "extend", "splice"]))
    if action == "cut":
        data = data[: draw(st.integers(0, len(data)))]
    elif action == "extend":
        data += draw(st.binary(max_size=256))
    elif action == "splice":
        a = draw(st.integers(0, len(data)))
        data = data[:a] + draw(st.binary(max_size=64)) + data[a:]
    return bytes(data)


def _only_musictag_errors(fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except MusictagError:
        pass


audio_bytes = st.one_of(st.binary(min_size=0, max_size=2048), mutated(SEEDS))


@FUZZ
@given(data=audio_bytes)
def test_fuzz_load_audio_bytes(data):
    _only_musictag_errors(load_audio, data, sr=None)
    _only_musictag_errors(audio_info, data)


@settings(FUZZ, max_examples=60)
@given(data=audio_bytes, ext=st.sampled_from([".wav", ".mp3", ".flac", ".ogg"]))
def test_fuzz_load_audio_path(data, ext):
    """Paths also go through the audioread fallback when libsndfile fails."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"fuzz{ext}"
        path.write_bytes(data)
        _only_musictag_errors(load_audio, path, sr=None)
        _only_musictag_errors(audio_info, path)


# ---------------------------------------------------------------- CSV readers

_CELLS = st.one_of(
    st.sampled_from(["", "a.wav", "b.wav", "rock", "jazz", "80", "-1", "1e400", "nan", "inf", "0x10", "50.5", '"', "train", "x,y"]),
    st.text(max_size=12),
)
_HEADERS = st.sampled_from(
    [
        "path,rock,jazz",
        "path,tag,strength",
        "path,track_id,artist,split,rock",
        "path,tag,strength,split",
        "filename,length,f1,label",
        "track_id,f1,f2,label",
        "clip_id\tguitar\tpiano\tmp3_path",
        "",
    ]
)


@st.composite
def csv_text(draw) -> bytes:
    """Either random bytes or a plausible CSV whose cells are hostile."""
    if draw(st.booleans()):
        return draw(st.binary(max_size=512))
    header = draw(_HEADERS)
    sep = "\t" if "\t" in header else draw(st.sampled_from([",", ",", ";"]))
    n_cols = max(1, header.count(sep) + 1) if header else draw(st.integers(1, 4))
    lines = [header]
    for _ in range(draw(st.integers(0, 5))):
        width = draw(st.sampled_from([n_cols, n_cols, max(n_cols - 1, 1), n_cols + 1]))
        lines.append(sep.join(draw(_CELLS) for _ in range(width)))
    text = "\n".join(lines)
    return text.encode(draw(st.sampled_from(["utf-8", "utf-8", "utf-16", "latin-1"])), errors="replace")


@pytest.fixture(scope="module")
def csv_dir():
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for name in ("a.wav", "b.wav"):
            (root / name).write_bytes(SEEDS["wav"])
        yield root


@FUZZ
@given(data=csv_text())
@example(data=b"\r\x00")  # found by this test: csv.Error escaped from open_dataset's format sniffing
def test_fuzz_csv_readers(csv_dir, data):
    path = csv_dir / "fuzz.csv"
    path.write_bytes(data)
    _only_musictag_errors(read_strengths_csv, path)
    _only_musictag_errors(read_feature_table, path)
    _only_musictag_errors(read_mtt, path)
    _only_musictag_errors(read_jamendo, path)
    _only_musictag_errors(read_fma, path)
    _only_musictag_errors(open_dataset, path)


# ---------------------------------------------------------------- zip extraction


def _zip_seed() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("rock/a.wav", SEEDS["wav"][:600])
        zf.writestr("jazz/b.flac", SEEDS["flac"][:300])
        zf.writestr("labels.csv", "path,rock\nrock/a.wav,80\n")
    stored = io.BytesIO()
    with zipfile.ZipFile(stored, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("x/y.wav", b"RIFF" + bytes(100))
    return buf.getvalue(), stored.getvalue()


ZIP_SEEDS = dict(zip(("deflated", "stored"), _zip_seed()))


@FUZZ
@given(data=st.one_of(st.binary(max_size=1024), mutated(ZIP_SEEDS)))
def test_fuzz_safe_extract_zip(data):
    with tempfile.TemporaryDirectory() as tmp:
        dest = Path(tmp) / "out"
        try:
            out = safe_extract_zip(data, dest, max_total_bytes=1 << 20)
        except MusictagError:
            assert not any(p.is_file() for p in dest.rglob("*")), "a refused archive left files behind"
        else:
            for p in out:
                assert p.resolve().is_relative_to(dest.resolve())
