"""Tests for musictag_core.uploads: limits, zip extraction, session folders."""

from __future__ import annotations

import io
import os
import stat
import time
import zipfile
from pathlib import Path

import pytest

from musictag_core.errors import DatasetError, MusictagError, ParameterError
from musictag_core.uploads import (
    LIMIT_ENV,
    Limits,
    SessionWorkspace,
    check_upload_size,
    cleanup_stale_sessions,
    limits,
    safe_extract_zip,
    safe_filename,
)

from .helpers import write_tone

MB = 1024 * 1024


def make_zip(entries: dict[str, bytes], *, method=zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buf.getvalue()


@pytest.fixture
def wav_bytes(tmp_path) -> bytes:
    return write_tone(tmp_path / "src.wav", duration=0.2).read_bytes()


# ---------------------------------------------------------------- limits


def test_limits_defaults_and_env_overrides():
    assert limits({}) == Limits()
    lim = limits({"MUSICTAG_MAX_UPLOAD_MB": "5", "MUSICTAG_MAX_DURATION_S": "30", "MUSICTAG_MAX_ZIP_FILES": "10"})
    assert lim.max_upload_mb == 5 and lim.max_upload_bytes == 5 * MB
    assert lim.max_duration_s == 30 and lim.max_zip_files == 10
    assert set(LIMIT_ENV.values()) == set(Limits().to_dict())


@pytest.mark.parametrize(
    "env, match",
    [
        ({"MUSICTAG_MAX_UPLOAD_MB": "lots"}, "MUSICTAG_MAX_UPLOAD_MB='lots' is not a number"),
        ({"MUSICTAG_MAX_DURATION_S": "-1"}, "MUSICTAG_MAX_DURATION_S: max_duration_s must be a positive"),
        ({"MUSICTAG_MAX_ZIP_FILES": "2.5"}, "whole number"),
        ({"MUSICTAG_MAX_ZIP_RATIO": "inf"}, "positive finite"),
    ],
)
def test_limits_bad_env_names_the_variable(env, match):
    with pytest.raises(ParameterError, match=match):
        limits(env)


def test_limits_validate_on_creation():
    with pytest.raises(ParameterError, match="max_zip_files"):
        Limits(max_zip_files=0)
    with pytest.raises(ParameterError, match="max_upload_mb"):
        Limits(max_upload_mb=float("nan"))


def test_check_upload_size():
    check_upload_size(10, limit=10)
    with pytest.raises(ParameterError, match=r"big\.wav: 2\.0 MB is over the upload limit of 1\.0 MB.*MUSICTAG_MAX_UPLOAD_MB"):
        check_upload_size(2 * MB, limit=MB, name="big.wav")
    with pytest.raises(ParameterError):
        check_upload_size(-1, limit=10)


def test_check_upload_size_default_reads_env(monkeypatch):
    monkeypatch.setenv("MUSICTAG_MAX_UPLOAD_MB", "1")
    with pytest.raises(ParameterError, match="limit of 1.0 MB"):
        check_upload_size(MB + 1)


def test_streamlit_config_matches_limit():
    import tomllib

    config = Path(__file__).resolve().parents[1] / ".streamlit" / "config.toml"
    server = tomllib.loads(config.read_text())["server"]
    assert server["maxUploadSize"] >= Limits().max_upload_mb


def test_streamlit_config_turns_the_source_watcher_off():
    """An in-tree .venv must not be walked by Streamlit's watcher (inotify overflow)."""
    import tomllib

    from streamlit import config as st_config

    config = Path(__file__).resolve().parents[1] / ".streamlit" / "config.toml"
    server = tomllib.loads(config.read_text())["server"]
    assert server["fileWatcherType"] == "none"
    # a real Streamlit option, with "none" among its documented values
    option = st_config._config_options_template["server.fileWatcherType"]
    assert '"none"' in option.description


def test_duration_limit_matches_tag_file_default():
    import inspect

    from musictag_core.predict import tag_file

    assert inspect.signature(tag_file).parameters["max_duration"].default == Limits().max_duration_s


# ---------------------------------------------------------------- names and paths


@pytest.mark.parametrize(
    "name, expected",
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\x\\song.mp3", "song.mp3"),
        (".hidden.wav", "hidden.wav"),
        ("", "upload"),
        ("a\x00b\nc.wav", "a_b_c.wav"),
        ("Café — 日本語.flac", "Café — 日本語.flac"),
    ],
)
def test_safe_filename(name, expected):
    assert safe_filename(name) == expected


def test_safe_filename_shortens_long_unicode_names_keeping_the_extension():
    name = "é" * 300 + ".wav"
    out = safe_filename(name)
    assert out.endswith(".wav") and len(out.encode("utf-8")) <= 255
    out.encode("utf-8").decode("utf-8")  # no half characters


# ---------------------------------------------------------------- zip extraction


def test_extract_folder_per_genre(tmp_path, wav_bytes):
    data = make_zip(
        {
            "genres/rock/a.wav": wav_bytes,
            "genres/jazz/Café b.WAV": wav_bytes,
            "genres/labels.csv": b"path,rock\n",
            "genres/readme.txt": b"hi",
            "genres/more.zip": make_zip({"x.wav": wav_bytes}),
            "__MACOSX/genres/._a.wav": b"junk",
            "genres/.DS_Store": b"junk",
        }
    )
    out = safe_extract_zip(data, tmp_path / "x")
    names = sorted(p.relative_to(tmp_path / "x").as_posix() for p in out)
    assert names == ["genres/jazz/Café b.WAV", "genres/labels.csv", "genres/rock/a.wav"]
    assert all(p.is_file() for p in out)
    reasons = dict(out.skipped)
    assert "nested archive" in reasons["genres/more.zip"]
    assert "only audio and CSV" in reasons["genres/readme.txt"]
    assert "hidden" in reasons["genres/.DS_Store"]
    assert any("nested archive" in n for n in out.notes())
    assert not (tmp_path / "x" / "genres" / "more.zip").exists()


def test_extract_from_path_and_file_object(tmp_path, wav_bytes):
    z = tmp_path / "a.zip"
    z.write_bytes(make_zip({"a.wav": wav_bytes}))
    assert [p.name for p in safe_extract_zip(z, tmp_path / "one")] == ["a.wav"]
    with open(z, "rb") as fh:
        assert [p.name for p in safe_extract_zip(fh, tmp_path / "two")] == ["a.wav"]


def _symlink_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        info = zipfile.ZipInfo("rock/link.wav")
        info.create_system = 3
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, "/etc/passwd")
        zf.writestr("rock/ok.wav", b"RIFF")
    return buf.getvalue()


def _zip_info_name(name: str, payload: bytes = b"RIFF....WAVE") -> bytes:
    """A zip whose member name is ``name`` exactly as given (ZipInfo keeps '..' and leading '/')."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("fine.wav", payload)
        info = zipfile.ZipInfo("x")
        info.filename = name  # bypass the sanitising constructor, as a hostile tool would
        info.orig_filename = name
        zf.writestr(info, payload)
    return buf.getvalue()


@pytest.mark.parametrize(
    "archive, match",
    [
        (lambda: _zip_info_name("../evil.wav"), "'\\.\\.' path"),
        (lambda: _zip_info_name("rock/../../evil.wav"), "'\\.\\.' path"),
        (lambda: _zip_info_name("..\\..\\evil.wav"), "'\\.\\.' path"),
        (lambda: _zip_info_name("/tmp/evil.wav"), "absolute path"),
        (lambda: _zip_info_name("C:/evil.wav"), "absolute path"),
        (_symlink_zip, "symbolic link"),
    ],
    ids=["dotdot", "nested-dotdot", "backslash-dotdot", "absolute", "drive", "symlink"],
)
def test_unsafe_members_refuse_the_whole_archive(tmp_path, archive, match):
    dest = tmp_path / "x"
    with pytest.raises(DatasetError, match=f"upload.zip: refused.*{match}"):
        safe_extract_zip(_named(archive(), "upload.zip"), dest)
    assert not any(p.is_file() for p in dest.rglob("*"))
    assert not (tmp_path / "evil.wav").exists()


def _named(data: bytes, name: str) -> io.BytesIO:
    buf = io.BytesIO(data)
    buf.name = name
    return buf


def test_zip_bomb_by_ratio(tmp_path):
    bomb = make_zip({"a.wav": bytes(50 * MB)})  # 50 MB of zeros compress to ~50 kB
    with pytest.raises(DatasetError, match="likely zip bomb"):
        safe_extract_zip(bomb, tmp_path / "x")
    assert not any((tmp_path / "x").rglob("*.wav"))


def test_zip_total_size_and_file_count_limits(tmp_path, wav_bytes):
    data = make_zip({f"{i}.wav": wav_bytes for i in range(5)})
    with pytest.raises(DatasetError, match="holds 5 entries, more than the limit of 4"):
        safe_extract_zip(data, tmp_path / "a", max_files=4)
    with pytest.raises(DatasetError, match="would unpack to .* over the limit"):
        safe_extract_zip(data, tmp_path / "b", max_total_bytes=len(wav_bytes) * 4)
    assert len(safe_extract_zip(data, tmp_path / "c", max_files=5)) == 5


def test_forged_sizes_are_caught_while_streaming(tmp_path):
    """A header that under-declares the size: the streamed bytes are counted, not trusted."""
    payload = os.urandom(300_000)
    data = bytearray(make_zip({"a.wav": payload}, method=zipfile.ZIP_STORED))
    # shrink the declared uncompressed size in the central directory to 1000 bytes
    cd = data.rfind(b"PK\x01\x02")
    data[cd + 24 : cd + 28] = (1000).to_bytes(4, "little")
    lh = data.find(b"PK\x03\x04")
    data[lh + 22 : lh + 26] = (1000).to_bytes(4, "little")
    with pytest.raises(DatasetError):
        safe_extract_zip(bytes(data), tmp_path / "x", max_total_bytes=2000)
    assert not any((tmp_path / "x").rglob("*.wav"))


def test_corrupt_member_is_refused_and_cleaned_up(tmp_path, wav_bytes):
    data = bytearray(make_zip({"a.wav": wav_bytes, "b.wav": os.urandom(5000)}, method=zipfile.ZIP_STORED))
    i = data.find(b"PK\x03\x04", 10)  # second local header
    data[i + 100] ^= 0xFF  # flip a byte of b.wav: CRC mismatch
    with pytest.raises(DatasetError, match="not a readable zip archive.*CRC|Bad CRC"):
        safe_extract_zip(bytes(data), tmp_path / "x")
    assert not any((tmp_path / "x").rglob("*.wav"))


@pytest.mark.parametrize(
    "data, match",
    [(b"", "empty"), (b"not a zip at all" * 10, "not a readable zip"), (b"PK\x03\x04" + bytes(40), "not a readable zip")],
)
def test_not_a_zip(tmp_path, data, match):
    with pytest.raises(DatasetError, match=match):
        safe_extract_zip(data, tmp_path / "x")


def test_encrypted_member_refused(tmp_path):
    data = bytearray(make_zip({"a.wav": b"RIFF" * 10}))
    for sig, off in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        i = data.find(sig)
        data[i + off] |= 0x1
    with pytest.raises(DatasetError, match="encrypted"):
        safe_extract_zip(bytes(data), tmp_path / "x")


def test_duplicate_and_long_names_are_skipped(tmp_path, wav_bytes):
    long = "x" * 300 + ".wav"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("a.wav", wav_bytes)
        with pytest.warns(UserWarning, match="Duplicate name"):
            zf.writestr("a.wav", wav_bytes)
        zf.writestr(long, wav_bytes)
        zf.writestr("日本/歌.wav", wav_bytes)
    out = safe_extract_zip(buf.getvalue(), tmp_path / "x")
    assert sorted(p.name for p in out) == ["a.wav", "歌.wav"]
    reasons = [r for _, r in out.skipped]
    assert any("same name" in r for r in reasons) and any("longer than 255" in r for r in reasons)


def test_errors_are_musictag_errors(tmp_path):
    with pytest.raises(MusictagError):
        safe_extract_zip(tmp_path / "missing.zip", tmp_path / "x")


# ---------------------------------------------------------------- session folders


def test_session_workspace_lifecycle(tmp_path, wav_bytes):
    with SessionWorkspace("abc-1", root=tmp_path) as ws:
        assert ws.path == (tmp_path / "abc-1").resolve() and ws.path.is_dir()
        p = ws.save_upload("../../evil/song.wav", wav_bytes)
        assert p.parent == ws.path / "uploads" and p.name == "song.wav"
        q = ws.save_upload("song.wav", wav_bytes)
        assert q.name == "song (1).wav"
        out = ws.extract_zip(make_zip({"rock/a.wav": wav_bytes}))
        assert out[0].is_relative_to(ws.path / "zips")
        with pytest.raises(ParameterError, match="over the upload limit"):
            ws.save_upload("big.wav", bytes(100), limit=10)
    assert not (tmp_path / "abc-1").exists()


def test_session_workspace_default_root_and_ids(tmp_path, monkeypatch):
    monkeypatch.setenv("MUSICTAG_CACHE", str(tmp_path / "cache"))
    ws = SessionWorkspace()
    path = ws.create()
    assert path.parent == (tmp_path / "cache" / "sessions").resolve() and len(ws.session_id) == 32
    ws.cleanup()
    assert not path.exists()
    for bad in ["../x", "a/b", "", "x" * 65]:
        with pytest.raises(ParameterError, match="session_id"):
            SessionWorkspace(bad, root=tmp_path).create()


def test_cleanup_stale_sessions(tmp_path):
    old = SessionWorkspace("old", root=tmp_path)
    old.create()
    new = SessionWorkspace("new", root=tmp_path)
    new.create()
    stranger = tmp_path / "not-a-session"
    stranger.mkdir()
    past = time.time() - 48 * 3600
    os.utime(old.path / ".musictag-session", (past, past))
    os.utime(stranger, (past, past))
    removed = cleanup_stale_sessions(root=tmp_path, max_age_h=24)
    assert removed == [old.path]
    assert not old.path.exists() and new.path.exists() and stranger.exists()
    assert cleanup_stale_sessions(root=tmp_path / "nowhere") == []


# ---------------------------------------------------------------- model files


@pytest.mark.slow
def test_keras_models_load_in_safe_mode(tmp_path):
    """A .keras file with a Lambda layer (arbitrary code) is refused by the tagger loader."""
    keras = pytest.importorskip("keras")
    from musictag_core.errors import ModelError
    from musictag_core.models.keras_io import load_keras_model

    inputs = keras.Input((4,))
    outputs = keras.layers.Lambda(lambda x: x * 2)(inputs)
    path = tmp_path / "model.keras"
    keras.Model(inputs, outputs).save(path)
    with pytest.raises(ModelError, match="cannot load the Keras model.*(safe_mode|[Ll]ambda)"):
        load_keras_model(path)
    # the same file opens when safe mode is turned off on purpose: the refusal is safe mode's doing
    keras.saving.load_model(path, safe_mode=False, compile=False)
