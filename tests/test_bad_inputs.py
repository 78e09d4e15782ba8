"""The bad-input matrix: every entry point gets a clear message naming the file, never a crash.

Entry points: decoding a path (``load_audio``, ``audio_info``), an upload (bytes with a
name, as the Tag page passes them), ``tag_file``, the command line (``info``, ``tag``,
``extract`` on a folder), a zip of a folder per genre, and the strengths CSV. In a batch
the good files still go through. Zip refusals (``..``, absolute paths, symlinks, bombs)
are in ``test_uploads.py``; CSV errors already covered there are in ``test_datasets.py``.
"""

from __future__ import annotations

import io
import json
import os
import time
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from musictag_core.audio import audio_info, load_audio
from musictag_core.cli import main
from musictag_core.datasets import read_strengths_csv
from musictag_core.errors import AudioError, DatasetError, MusictagError
from musictag_core.uploads import safe_extract_zip

from .helpers import tone

SR = 22050


def _wav(y: np.ndarray, sr: int = SR, subtype: str | None = None, fmt: str = "WAV") -> bytes:
    buf = io.BytesIO()
    sf.write(buf, y, sr, format=fmt, subtype=subtype)
    return buf.getvalue()


def _noise(seconds: float, sr: int = SR) -> np.ndarray:
    return (0.1 * np.random.default_rng(0).standard_normal(int(sr * seconds))).astype(np.float32)


def _with(value: float) -> bytes:
    y = tone(duration=0.5)
    y[100] = value
    return _wav(y, subtype="FLOAT")


def _half(data: bytes) -> bytes:
    return data[: len(data) // 2]


#: Names the file systems under test accept: unicode, and exactly 255 bytes.
UNICODE_NAME = "Ça — 日本語 🎵 song.wav"
LONG_NAME = ("é" * 125) + "x.wav"  # 250 + 5 = 255 bytes in UTF-8
assert len(LONG_NAME.encode("utf-8")) == 255

#: (id, file name, bytes, None when it must decode, else a regex for the reason)
CASES = [
    ("zero-bytes", "empty.wav", lambda: b"", "empty"),
    ("text-as-mp3", "notes.mp3", lambda: b"just some text, not audio\n" * 20, "not a readable audio"),
    ("text-as-wav", "notes.wav", lambda: b"just some text, not audio\n" * 20, "not a readable audio"),
    ("png-as-wav", "picture.wav", lambda: b"\x89PNG\r\n\x1a\n" + bytes(500), "not a readable audio"),
    ("jpeg-as-mp3", "picture.mp3", lambda: b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(500), "not a readable audio"),
    ("truncated-wav", "cut.wav", lambda: _half(_wav(_noise(2.0))), "truncated"),
    ("header-only-wav", "header.wav", lambda: _wav(_noise(1.0))[:44], "truncated|no audio samples|not a readable"),
    ("truncated-mp3", "cut.mp3", lambda: _half(_wav(_noise(2.0), fmt="MP3")), "truncated|not a readable|no audio samples"),
    ("nan-samples", "nan.wav", lambda: _with(np.nan), "NaN or infinite"),
    ("inf-samples", "inf.wav", lambda: _with(np.inf), "NaN or infinite"),
    ("silence", "silent.wav", lambda: _wav(np.zeros(SR, np.float32)), "silent"),
    ("8-channels", "surround.wav", lambda: _wav(tone(duration=0.5, channels=8)), "8 channels"),
    ("1-ms", "blip.wav", lambda: _wav(tone(duration=0.001)), None),
    ("8-kHz", "phone.wav", lambda: _wav(tone(sr=8000, duration=0.5), sr=8000), None),
    ("192-kHz", "hires.wav", lambda: _wav(tone(sr=192000, duration=0.5), sr=192000), None),
    ("unicode-name", UNICODE_NAME, lambda: _wav(tone(duration=0.5)), None),
    ("255-byte-name", LONG_NAME, lambda: _wav(tone(duration=0.5)), None),
]
#: Files that decode but are refused for tagging: too short to judge (``predict.MIN_DURATION_S``).
TAG_REASONS = {"1-ms": r"at least 0\.5 s of audio is needed"}


def tag_reason(case_id: str, reason: str | None) -> str | None:
    """The reason tagging refuses a case (None: it is tagged)."""
    return TAG_REASONS.get(case_id, reason)


IDS = [c[0] for c in CASES]
BAD = [c for c in CASES if c[3] is not None]
GOOD = [c for c in CASES if c[3] is None]


def _write(folder: Path, name: str, make) -> Path:
    path = folder / name
    path.write_bytes(make())
    return path


def _upload(name: str, data: bytes) -> io.BytesIO:
    buf = io.BytesIO(data)
    buf.name = name
    return buf


# ---------------------------------------------------------------- decoding: path and upload


@pytest.mark.parametrize("case_id, name, make, reason", CASES, ids=IDS)
@pytest.mark.parametrize("entry", ["path", "upload"])
def test_load_audio(tmp_path, entry, case_id, name, make, reason):
    source = _write(tmp_path, name, make) if entry == "path" else _upload(name, make())
    if reason is None:
        y, sr = load_audio(source)
        assert sr == SR and y.dtype == np.float32 and y.size > 0 and np.isfinite(y).all()
        return
    with pytest.raises(AudioError, match=reason) as info:
        load_audio(source)
    assert name in str(info.value)
    assert "Traceback" not in str(info.value) and " at 0x" not in str(info.value)


@pytest.mark.parametrize("case_id, name, make, reason", CASES, ids=IDS)
def test_audio_info_never_crashes(tmp_path, case_id, name, make, reason):
    path = _write(tmp_path, name, make)
    try:
        info = audio_info(path)
    except AudioError as exc:
        assert reason is not None and name in str(exc)
    else:
        assert info.sr > 0 and info.channels >= 1


def test_name_longer_than_the_file_system_allows():
    name = "x" * 300 + ".wav"
    for fn in (load_audio, audio_info):
        with pytest.raises(AudioError, match="name too long|no such file") as info:
            fn(name)
        assert name in str(info.value)
    # as an upload the name is only a label: decoding goes on
    y, _ = load_audio(_upload(name, _wav(tone(duration=0.2))))
    assert y.size > 0


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
def test_device_and_fifo_are_refused_at_once_as_not_regular_files(tmp_path):
    fifo = tmp_path / "song.wav"
    os.mkfifo(fifo)  # nobody writes to it: opening it for reading would block forever
    sources = [str(fifo)] + (["/dev/zero"] if Path("/dev/zero").exists() else [])
    for source in sources:
        for fn in (load_audio, audio_info):
            started = time.perf_counter()
            with pytest.raises(AudioError, match="not a regular file") as info:
                fn(source)
            assert time.perf_counter() - started < 1.0
            assert "empty" not in str(info.value) and source in str(info.value)


def test_cli_info_names_a_fifo_as_not_a_regular_file(tmp_path, capsys):
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs on this platform")
    fifo = tmp_path / "pipe.mp3"
    os.mkfifo(fifo)
    good = tmp_path / "good.wav"
    sf.write(good, tone(duration=0.5), 22050)
    assert main(["info", "--json", str(fifo), str(good)]) == 1
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]
    by_path = {Path(r["path"]).name: r for r in lines}
    assert "not a regular file" in by_path["pipe.mp3"]["error"]
    assert "error" not in by_path["good.wav"]


# ---------------------------------------------------------------- tagging (model)


@pytest.fixture(scope="module")
def msd():
    from musictag_core.models.loading import load_tagger

    return load_tagger("MSD_musicnn")


@pytest.mark.slow
@pytest.mark.parametrize("case_id, name, make, reason", CASES, ids=IDS)
def test_tag_file_upload(msd, case_id, name, make, reason):
    from musictag_core.predict import tag_file

    reason = tag_reason(case_id, reason)
    if reason is None:
        pred = tag_file(_upload(name, make()), msd)
        assert pred.path == name and np.isfinite(pred.scores).all() and not pred.truncated
        return
    with pytest.raises(AudioError, match=reason) as info:
        tag_file(_upload(name, make()), msd)
    assert name in str(info.value)


# ---------------------------------------------------------------- command line batches


@pytest.fixture
def bad_folder(tmp_path) -> Path:
    folder = tmp_path / "batch"
    folder.mkdir()
    for _, name, make, _ in CASES:
        _write(folder, name, make)
    return folder


def test_cli_info_batch(bad_folder, capsys):
    files = sorted(str(p) for p in bad_folder.iterdir())
    assert main(["info", "--json", *files]) == 1
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert len(lines) == len(files)
    by_name = {Path(x["path"]).name: x for x in lines}
    for _, name, _, _ in GOOD:
        assert "error" not in by_name[name], by_name[name]
    for case_id, name in [("zero-bytes", "empty.wav"), ("text-as-mp3", "notes.mp3"), ("png-as-wav", "picture.wav")]:
        assert name in by_name[name]["error"]


@pytest.mark.slow
def test_cli_tag_batch(bad_folder, capsys, msd):
    files = [str(bad_folder / name) for _, name, _, _ in CASES]
    assert main(["tag", "--top-k", "3", *files]) == 1
    out = capsys.readouterr().out.splitlines()
    lines = [json.loads(x) for x in out]
    assert [Path(x["path"]).name for x in lines] == [name for _, name, _, _ in CASES]
    for (case_id, name, _, reason), line in zip(CASES, lines):
        reason = tag_reason(case_id, reason)
        if reason is None:
            assert "error" not in line and len(line["tags"]) == 3, case_id
        else:
            import re

            assert re.search(reason, line["error"]), (case_id, line["error"])


def test_cli_extract_folder_with_bad_files(tmp_path, capsys):
    root = tmp_path / "genres"
    (root / "rock").mkdir(parents=True)
    (root / "jazz").mkdir()
    for genre, f in (("rock", 220.0), ("jazz", 660.0)):
        (root / genre / f"{genre}.good.wav").write_bytes(_wav(tone(freq=f, duration=3.0)))
    bad_names = []
    for i, (case_id, name, make, reason) in enumerate(BAD):
        folder = root / ("rock" if i % 2 else "jazz")
        _write(folder, f"{case_id}-{name}", make)
        bad_names.append(f"{case_id}-{name}")
    out = tmp_path / "stats.csv"
    code = main(["extract", str(root), "--features", "stats", "--out", str(out), "--jobs", "1",
                 "--cache-dir", str(tmp_path / "cache")])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 1
    assert f"{len(bad_names)} file(s) failed" in err
    for name in bad_names:
        assert name in err, name
    assert "Traceback" not in err
    import pandas as pd

    table = pd.read_csv(out)
    assert sorted(Path(p).name for p in table["path"]) == ["jazz.good.wav", "rock.good.wav"]


# ---------------------------------------------------------------- zip of a folder per genre


def test_zip_of_bad_files_extracts_and_each_fails_alone(tmp_path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for case_id, name, make, _ in CASES:
            zf.writestr(f"genres/{case_id}/{name}", make())
    out = safe_extract_zip(buf.getvalue(), tmp_path / "x")
    assert len(out) == len(CASES)
    reasons = {case_id: reason for case_id, _, _, reason in CASES}
    for path in out:
        reason = reasons[path.parent.name]
        if reason is None:
            load_audio(path)
        else:
            with pytest.raises(AudioError, match=reason):
                load_audio(path)


# ---------------------------------------------------------------- strengths CSV (cases not in test_datasets.py)


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"path,rock\na.wav,nan\n", "out of range|not numbers|not strengths"),
        (b"path,rock\na.wav,inf\n", "out of range"),
        (b"path,rock\na.wav,1e3\n", "out of range"),
        (b"path,rock\na.wav,100.0001\n", "out of range"),
        (b"path;rock\na.wav;10\n", r"lacks columns \['path'\]"),
        (b"\x89PNG\r\n\x1a\n" + bytes(100), "cannot read it as CSV|lacks columns|header but no rows|not a"),
        ("path,rock\na.wav,10\n".encode("utf-16"), "cannot read it as CSV|lacks columns|header but no rows|not a"),
        (b"\n\n\n", "empty"),
        (b"path,track_id,rock\na.wav,t1,10\nb.wav,t1,20\n", "duplicate track ids"),
        (b"path,tag,strength\na.wav,rock,ten\n", "not numbers"),
        (b"path,rock,\xff\xfe\n", "cannot read it as CSV|no rows|not"),
    ],
    ids=["nan", "inf", "1e3", "just-over-100", "semicolons", "png", "utf16", "blank-lines", "dup-ids", "long-form-text", "bad-utf8"],
)
def test_strengths_csv_bad_content(tmp_path, content, match):
    for name in ("a.wav", "b.wav"):
        (tmp_path / name).write_bytes(_wav(tone(duration=0.1)))
    path = tmp_path / "labels.csv"
    path.write_bytes(content)
    with pytest.raises(DatasetError, match=match) as info:
        read_strengths_csv(path)
    assert "labels.csv" in str(info.value)


def test_strengths_csv_accepts_bom_and_unicode_paths(tmp_path):
    (tmp_path / UNICODE_NAME).write_bytes(_wav(tone(duration=0.1)))
    path = tmp_path / "labels.csv"
    path.write_bytes(("\ufeffpath,rock\n" + f"{UNICODE_NAME},80\n").encode("utf-8"))
    index = read_strengths_csv(path)
    assert index.labels == ["rock"] and Path(index.tracks["path"][0]).name == UNICODE_NAME


# ---------------------------------------------------------------- a one-hour track


@pytest.fixture(scope="module")
def hour_wav(tmp_path_factory) -> Path:
    """One hour of 8 kHz 16-bit mono noise (58 MB), written in one-minute chunks."""
    path = tmp_path_factory.mktemp("long") / "one hour.wav"
    sr = 8000
    rng = np.random.default_rng(1)
    with sf.SoundFile(path, "w", samplerate=sr, channels=1, subtype="PCM_16") as f:
        for _ in range(60):
            f.write((0.1 * rng.standard_normal(60 * sr)).astype(np.float32))
    return path


def _peak_mb(fn):
    tracemalloc.start()
    try:
        result = fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result, peak / 2**20


def test_one_hour_file_header_and_bounded_decode(hour_wav):
    info = audio_info(hour_wav)
    assert info.duration_s == pytest.approx(3600.0)
    (y, sr), peak = _peak_mb(lambda: load_audio(hour_wav, duration=30.0))
    assert len(y) == 30 * SR
    # 30 s at 22050 Hz float32 is 2.6 MB; the whole hour would be 317 MB
    assert peak < 32, f"decoding 30 s of a one-hour file peaked at {peak:.0f} MB"


@pytest.mark.slow
def test_one_hour_file_is_tagged_up_to_max_duration(hour_wav, msd):
    from musictag_core.predict import tag_file

    pred, peak = _peak_mb(lambda: tag_file(hour_wav, msd, max_duration=60.0))
    assert pred.truncated and pred.duration_s == pytest.approx(60.0)
    assert pred.to_dict()["truncated"] is True
    assert len(pred.segment_starts_s) == 20  # 60 s / 3 s patches
    # the hour at 16 kHz would be 230 MB of float32 before any feature is computed
    assert peak < 96, f"tagging 60 s of a one-hour file peaked at {peak:.0f} MB of Python/numpy memory"


@pytest.mark.slow
def test_short_file_is_not_marked_truncated(msd):
    from musictag_core.predict import tag_file

    pred = tag_file(_upload("short.wav", _wav(tone(duration=4.0))), msd, max_duration=4.0)
    assert not pred.truncated
    with pytest.raises(MusictagError, match="max_duration"):
        tag_file(_upload("short.wav", _wav(tone(duration=4.0))), msd, max_duration=0)


# ---------------------------------------------------------------- dataset paths too long for the file system


@pytest.mark.parametrize("reader", ["read_strengths_csv", "read_feature_table", "read_mtt", "read_fma", "read_folder", "open_dataset"])
def test_dataset_readers_name_a_path_too_long(reader):
    import musictag_core.datasets as datasets

    name = "x" * 300 + ".csv"
    with pytest.raises(DatasetError, match="cannot be opened|does not exist") as info:
        getattr(datasets, reader)(name)
    assert name in str(info.value)


def test_csv_listing_a_path_too_long_reports_it_missing(tmp_path):
    (tmp_path / "a.wav").write_bytes(_wav(tone(duration=0.1)))
    long = "y" * 300 + ".wav"
    path = tmp_path / "labels.csv"
    path.write_text(f"path,rock\na.wav,80\n{long},20\n")
    with pytest.raises(DatasetError, match="1 of 2 listed audio files do not exist") as info:
        read_strengths_csv(path)
    assert long[:50] in str(info.value)
    assert len(read_strengths_csv(path, missing="skip")) == 1
