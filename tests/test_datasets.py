"""Tests of the dataset adapters, format detection and the DatasetIndex."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from musictag_core.datasets import (
    DATASET_FORMATS,
    DatasetIndex,
    detect_format,
    open_dataset,
    read_feature_table,
    read_fma,
    read_folder,
    read_mtt,
    read_strengths_csv,
)
from musictag_core.datasets.features_table import excluded_columns_text
from musictag_core.errors import DatasetError, MusictagError, ParameterError

SR = 8000
CLIPS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "clips"


def write_tone(path: Path, *, freq: float = 440.0, seconds: float = 0.2) -> Path:
    """Write a short sine (wav, or real mp3 for a .mp3 name)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(SR * seconds)) / SR
    y = (0.2 * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    fmt = "MP3" if path.suffix == ".mp3" else "WAV"
    sf.write(path, y, SR, format=fmt)
    return path


# --------------------------------------------------------------------------- folder


def make_genre_folders(root: Path, genres=("rock", "jazz", "blues"), per_genre: int = 2) -> Path:
    for g, genre in enumerate(genres):
        for i in range(per_genre):
            write_tone(root / genre / f"{genre}.{i:05d}.wav", freq=200 + 100 * g + 10 * i)
    return root


def test_read_folder_genre_folders(tmp_path):
    root = make_genre_folders(tmp_path / "gtzan")
    (root / "rock" / "notes.txt").write_text("not audio")
    (root / "rock" / ".hidden.wav").write_bytes(b"junk")
    (root / ".cache").mkdir()
    write_tone(root / ".cache" / "x.wav")
    index = read_folder(root)
    assert index.kind == "folder"
    assert index.labels == ["blues", "jazz", "rock"]
    assert len(index) == 6
    assert index.task == "single"
    assert "rock/rock.00001" in set(index.tracks["track_id"])
    assert all(Path(p).is_file() and Path(p).is_absolute() for p in index.tracks["path"])
    assert index.strengths.dtype == np.float32
    np.testing.assert_array_equal(index.strengths.sum(axis=1), 100.0)
    assert list(index.genre[index.tracks["track_id"] == "jazz/jazz.00000"]) == ["jazz"]
    assert index.tracks["artist"].isna().all() and index.tracks["split"].isna().all()


def test_read_folder_nested_files_keep_subpath(tmp_path):
    root = make_genre_folders(tmp_path / "d", genres=("pop",), per_genre=1)
    write_tone(root / "pop" / "live" / "pop.00000.wav")
    index = read_folder(root)
    assert sorted(index.tracks["track_id"]) == ["pop/live/pop.00000", "pop/pop.00000"]


def test_read_folder_flat_gtzan_names(tmp_path):
    write_tone(tmp_path / "blues.00000.wav")
    write_tone(tmp_path / "blues.00001.mp3")
    write_tone(tmp_path / "hiphop.00007.wav")
    write_tone(tmp_path / "odd-name.wav")
    (tmp_path / "SHA256SUMS").write_text("x")
    index = read_folder(tmp_path)
    assert index.labels == ["blues", "hiphop"]
    assert sorted(index.tracks["track_id"]) == ["blues/blues.00000", "blues/blues.00001", "hiphop/hiphop.00007"]
    assert index.meta["layout"] == "flat GTZAN names"
    assert "odd-name.wav" in index.meta["notes"][0]


@pytest.mark.skipif(not CLIPS.is_dir(), reason="shared clips folder absent")
def test_read_folder_on_shared_clips():
    index = open_dataset(CLIPS)
    assert index.kind == "folder"
    assert len(index.labels) == 10
    assert set(index.labels) >= {"blues", "classical", "metal", "reggae"}
    assert index.summary()["per_label"]["blues"] >= 1


def test_read_folder_errors(tmp_path):
    with pytest.raises(DatasetError, match="does not exist"):
        read_folder(tmp_path / "nope")
    file = write_tone(tmp_path / "a.wav")
    with pytest.raises(DatasetError, match="not a folder"):
        read_folder(file)

    loose = make_genre_folders(tmp_path / "loose", genres=("rock",), per_genre=1)
    write_tone(loose / "stray.wav")
    with pytest.raises(DatasetError, match="stray.wav"):
        read_folder(loose)

    empty = make_genre_folders(tmp_path / "empty", genres=("rock",), per_genre=1)
    (empty / "jazz").mkdir()
    (empty / "jazz" / "readme.txt").write_text("x")
    with pytest.raises(DatasetError, match="without audio files.*'jazz'"):
        read_folder(empty)

    flat = tmp_path / "flat"
    write_tone(flat / "song.wav")
    with pytest.raises(DatasetError, match="no clips found.*song.wav"):
        read_folder(flat)

    nothing = tmp_path / "nothing"
    nothing.mkdir()
    with pytest.raises(DatasetError, match="no clips found"):
        read_folder(nothing)

    high = tmp_path / "Data"
    make_genre_folders(high / "genres_original", per_genre=1)
    (high / "images_original").mkdir()
    with pytest.raises(DatasetError, match=r"'genres_original' holds genre-like folders.*open .*genres_original"):
        read_folder(high)

    dup = make_genre_folders(tmp_path / "dup", genres=("rock",), per_genre=1)
    write_tone(dup / "rock" / "rock.00000.mp3")
    with pytest.raises(DatasetError, match="same track id"):
        read_folder(dup)


# --------------------------------------------------------------------------- FMA

FMA_ROWS = [
    # track_id, subset, split, genre_top, genres, genres_all, artist id, artist name
    (2, "small", "training", "Hip-Hop", "[21]", "[21]", 1, "AWOL"),
    (3, "small", "training", "Hip-Hop", "[21]", "[21]", 1, "AWOL"),
    (5, "small", "validation", "Rock", "[12, 25]", "[12, 25]", 2, "Kurt"),
    (10, "small", "test", "Rock", "[12]", "[12]", 3, "Kurt"),
    (20, "medium", "training", "Folk", "[17]", "[17]", 4, "Nicky"),
    (26, "small", "training", "", "[]", "[]", 5, "Nobody"),
    (1234, "large", "test", "Rock", "[12]", "[12]", 6, ""),
]


def make_fma(tmp_path: Path, rows=FMA_ROWS, *, genres_csv: bool = True, audio: bool = True) -> Path:
    meta = tmp_path / "fma_metadata"
    meta.mkdir(parents=True)
    columns = pd.MultiIndex.from_tuples(
        [
            ("set", "subset"),
            ("set", "split"),
            ("track", "genre_top"),
            ("track", "genres"),
            ("track", "genres_all"),
            ("artist", "id"),
            ("artist", "name"),
            ("track", "title"),
        ]
    )
    data = [[s, sp, gt or None, g, ga, aid, an or None, f"title {tid}"] for tid, s, sp, gt, g, ga, aid, an in rows]
    frame = pd.DataFrame(data, columns=columns, index=pd.Index([r[0] for r in rows], name="track_id"))
    frame.to_csv(meta / "tracks.csv")
    if genres_csv:
        pd.DataFrame(
            {"genre_id": [12, 17, 21, 25], "#tracks": [1, 1, 1, 1], "parent": [0, 0, 0, 12],
             "title": ["Rock", "Folk", "Hip-Hop", "Punk"], "top_level": [12, 17, 21, 12]}
        ).to_csv(meta / "genres.csv", index=False)
    if audio:
        for tid, *_ in rows:
            tag = f"{tid:06d}"
            write_tone(tmp_path / "fma_large" / tag[:3] / f"{tag}.mp3", seconds=0.1)
    return meta / "tracks.csv"


def test_fma_csv_has_real_two_row_header(tmp_path):
    lines = make_fma(tmp_path, audio=False).read_text().splitlines()
    assert lines[0].startswith(",set,set,track")
    assert lines[1].startswith(",subset,split,genre_top")
    assert lines[2].startswith("track_id,")


def test_read_fma_genre_top(tmp_path):
    csv = make_fma(tmp_path)
    index = read_fma(csv, audio_dir=tmp_path / "fma_large", subset="small")
    assert index.kind == "fma" and index.task == "single"
    assert list(index.tracks["track_id"]) == ["2", "3", "5", "10"]
    assert index.labels == ["Hip-Hop", "Rock"]
    assert list(index.tracks["split"]) == ["train", "train", "validation", "test"]
    assert list(index.tracks["artist"]) == ["AWOL", "AWOL", "Kurt", "Kurt"]
    assert index.tracks["path"][0].endswith("fma_large/000/000002.mp3")
    assert any("without a top genre" in note for note in index.meta["notes"])


def test_read_fma_subsets_nest_and_audio_dir_is_found(tmp_path):
    csv = make_fma(tmp_path)
    medium = read_fma(csv, subset="medium")  # audio folder found one level up
    assert "20" in set(medium.tracks["track_id"]) and "1234" not in set(medium.tracks["track_id"])
    everything = read_fma(csv, subset=None)
    assert len(everything) == 6
    assert everything.tracks.loc[everything.tracks["track_id"] == "1234", "artist"].item() == "artist-6"
    assert everything.tracks["path"].iloc[-1].endswith("001/001234.mp3")


def test_read_fma_multilabel_names_from_genres_csv(tmp_path):
    csv = make_fma(tmp_path)
    index = read_fma(csv, audio_dir=tmp_path / "fma_large", level="genres_all")
    assert index.task == "multi"
    assert set(index.labels) == {"Hip-Hop", "Rock", "Punk"}
    row = index.tracks.index[index.tracks["track_id"] == "5"][0]
    assert {index.labels[j] for j in np.flatnonzero(index.y[row])} == {"Rock", "Punk"}
    assert any("empty genre list" in note for note in index.meta["notes"])


def test_read_fma_multilabel_without_genres_csv_uses_ids(tmp_path):
    csv = make_fma(tmp_path, genres_csv=False)
    index = read_fma(csv, audio_dir=tmp_path / "fma_large", level="genres")
    assert index.labels == ["12", "21", "25"]


def test_read_fma_missing_audio(tmp_path):
    csv = make_fma(tmp_path)
    (tmp_path / "fma_large" / "000" / "000005.mp3").unlink()
    (tmp_path / "fma_large" / "000" / "000010.mp3").unlink()
    with pytest.raises(DatasetError, match=r"2 of 4 listed audio files do not exist.*000005\.mp3"):
        read_fma(csv, audio_dir=tmp_path / "fma_large")
    index = read_fma(csv, audio_dir=tmp_path / "fma_large", missing="skip")
    assert list(index.tracks["track_id"]) == ["2", "3"]
    assert any("skipped 2" in note for note in index.meta["notes"])


def test_read_fma_errors(tmp_path):
    with pytest.raises(DatasetError, match="does not exist"):
        read_fma(tmp_path / "tracks.csv")
    csv = make_fma(tmp_path / "a", audio=False)
    with pytest.raises(DatasetError, match="no FMA audio folder found"):
        read_fma(csv)
    with pytest.raises(ParameterError, match="subset"):
        read_fma(csv, subset="tiny")
    with pytest.raises(ParameterError, match="level"):
        read_fma(csv, level="mood")

    flat = tmp_path / "flat.csv"
    flat.write_text("track_id,genre_top\n2,Rock\n")
    with pytest.raises(DatasetError, match="lacks columns"):
        read_fma(flat, audio_dir=tmp_path)

    dup_rows = FMA_ROWS[:2] + [FMA_ROWS[0]]
    dup = make_fma(tmp_path / "dup", rows=dup_rows, audio=False)
    with pytest.raises(DatasetError, match="duplicate track ids 2"):
        read_fma(dup, audio_dir=tmp_path)

    no_split = tmp_path / "ns" / "tracks.csv"
    no_split.parent.mkdir()
    frame = pd.read_csv(csv, header=[0, 1], index_col=0).drop(columns=[("set", "split")])
    frame.to_csv(no_split)
    with pytest.raises(DatasetError, match=r"set\.split"):
        read_fma(no_split, audio_dir=tmp_path)


# --------------------------------------------------------------------------- MTT

MTT_TAGS = ["guitar", "classical", "slow", "techno", "no voice"]


def make_mtt(tmp_path: Path, *, rows=None, info: bool = False) -> Path:
    rows = rows or [
        ("2", [1, 1, 0, 0, 0], "f/artist_a-album-01-song-0-29.mp3"),
        ("6", [1, 0, 1, 0, 1], "f/artist_a-album-01-song-30-59.mp3"),
        ("10", [0, 0, 0, 1, 0], "0/artist_b-album-02-tune-0-29.mp3"),
        ("11", [0, 0, 0, 0, 0], "0/artist_c-album-03-x-0-29.mp3"),
        ("12", [1, 0, 0, 1, 1], "c/artist_c-album-03-x-30-59.mp3"),
    ]
    lines = ["\t".join(f'"{c}"' for c in ["clip_id", *MTT_TAGS, "mp3_path"])]
    for clip, values, mp3 in rows:
        lines.append("\t".join(f'"{v}"' for v in [clip, *values, mp3]))
        write_tone(tmp_path / mp3, seconds=0.1)
    csv = tmp_path / "annotations_final.csv"
    csv.write_text("\n".join(lines) + "\n")
    if info:
        info_lines = ["clip_id\ttrack_number\ttitle\tartist\tmp3_path"]
        info_lines += [f"{clip}\t1\tt\t{mp3.split('/')[1].split('-')[0]}\t{mp3}" for clip, _, mp3 in rows]
        (tmp_path / "clip_info_final.csv").write_text("\n".join(info_lines) + "\n")
    return csv


def test_read_mtt(tmp_path):
    index = read_mtt(make_mtt(tmp_path))
    assert index.kind == "mtt" and index.task == "multi"
    assert index.labels == MTT_TAGS
    assert list(index.tracks["track_id"]) == ["2", "6", "10", "11", "12"]
    np.testing.assert_array_equal(index.strengths[0], [100, 100, 0, 0, 0])
    assert index.tracks["path"][2].endswith("0/artist_b-album-02-tune-0-29.mp3")
    assert not index.has_artists
    assert any("carry none" in note for note in index.meta["notes"])


def test_read_mtt_top_n_and_artists(tmp_path):
    index = read_mtt(make_mtt(tmp_path, info=True), top_n=2)
    assert index.labels == ["guitar", "techno"]  # counts 3, 1, 1, 2, 2: stable order breaks the tie
    assert list(index.tracks["artist"]) == ["artist_a", "artist_a", "artist_b", "artist_c", "artist_c"]


def test_read_mtt_errors(tmp_path):
    with pytest.raises(DatasetError, match="does not exist"):
        read_mtt(tmp_path / "annotations_final.csv")
    comma = tmp_path / "comma.csv"
    comma.write_text("clip_id,guitar,mp3_path\n1,0,a.mp3\n")
    with pytest.raises(DatasetError, match="tab-separated"):
        read_mtt(comma)

    bad = make_mtt(tmp_path / "bad", rows=[("1", [0, 2, 0, 0, 0], "a/x.mp3"), ("2", [0, 0, 0, 0, "yes"], "a/y.mp3")])
    with pytest.raises(DatasetError, match=r"0 or 1.*clip 1 tag 'classical' = '2'.*clip 2 tag 'no voice' = 'yes'"):
        read_mtt(bad)

    dup = make_mtt(tmp_path / "dup", rows=[("1", [0] * 5, "a/x.mp3"), ("1", [1] * 5, "a/y.mp3")])
    with pytest.raises(DatasetError, match="duplicate clip ids.*'1'"):
        read_mtt(dup)

    gone = make_mtt(tmp_path / "gone")
    (tmp_path / "gone" / "f" / "artist_a-album-01-song-0-29.mp3").unlink()
    with pytest.raises(DatasetError, match="1 of 5 listed audio files.*song-0-29.mp3"):
        read_mtt(gone)
    assert len(read_mtt(gone, missing="skip")) == 4
    with pytest.raises(ParameterError, match="top_n"):
        read_mtt(gone, top_n=0)


# --------------------------------------------------------------------------- strengths CSV


def make_audio(tmp_path: Path, names) -> None:
    for name in names:
        write_tone(tmp_path / name, seconds=0.1)


def test_read_strengths_wide(tmp_path):
    make_audio(tmp_path, ["audio/a.wav", "audio/b.wav", "audio/c.wav"])
    csv = tmp_path / "tags.csv"
    csv.write_text(
        "path,track_id,artist,split,rock,jazz,ambient\n"
        "audio/a.wav,a,Ann,training,80,0,35\n"
        "audio/b.wav,b,Bob,,0,100,\n"
        f"{tmp_path / 'audio/c.wav'},c,,test,50,49.5,60\n"
    )
    index = read_strengths_csv(csv)
    assert index.kind == "strengths" and index.meta["form"] == "wide"
    assert index.labels == ["rock", "jazz", "ambient"]
    assert list(index.tracks["track_id"]) == ["a", "b", "c"]
    np.testing.assert_array_equal(index.y, [[1, 0, 0], [0, 1, 0], [1, 0, 1]])
    assert index.task == "multi"
    assert index.tracks["path"][0] == str((tmp_path / "audio/a.wav").resolve())
    assert list(index.tracks["split"].fillna("-")) == ["train", "-", "test"]
    assert list(index.tracks["artist"].fillna("-")) == ["Ann", "Bob", "-"]
    assert index.strengths[1, 2] == 0.0  # blank means 0
    lower = read_strengths_csv(csv, threshold=30)
    assert lower.y[0].tolist() == [1, 0, 1]


def test_read_strengths_wide_ids_default_to_paths(tmp_path):
    make_audio(tmp_path, ["a.wav", "b.wav"])
    csv = tmp_path / "t.csv"
    csv.write_text("path,rock\na.wav,100\nb.wav,0\n")
    index = read_strengths_csv(csv)
    assert list(index.tracks["track_id"]) == ["a.wav", "b.wav"]


def test_read_strengths_long(tmp_path):
    make_audio(tmp_path, ["a.wav", "b.wav"])
    csv = tmp_path / "long.csv"
    csv.write_text(
        "path,tag,strength,artist\n"
        "a.wav,rock,80,Ann\n"
        "a.wav,ambient,35,Ann\n"
        "b.wav,jazz,100,Bob\n"
    )
    index = read_strengths_csv(csv)
    assert index.meta["form"] == "long"
    assert index.labels == ["ambient", "jazz", "rock"]
    np.testing.assert_array_equal(index.strengths, [[35, 0, 80], [0, 100, 0]])
    assert list(index.tracks["artist"]) == ["Ann", "Bob"]
    assert index.task == "single"  # at threshold 50 each track has one tag


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("", "empty"),
        ("path,rock\n", "header but no rows"),
        ("file,rock\na.wav,1\n", r"lacks columns \['path'\]"),
        ("path,rock,jazz\na.wav,10,x\nb.wav,lots,0\n", r"not numbers: line 2 .*'jazz' = 'x'.*line 3 .*'rock' = 'lots'"),
        ("path,rock\na.wav,101\nb.wav,-1\n", r"out of range: line 2 .*'rock' = 101.*line 3"),
        ("path,rock,comment\na.wav,10,nice\nb.wav,0,\n", r"unknown columns holding text.*'comment'"),
        ("path,track_id,rock\na.wav,x,1\nb.wav,x,2\n", r"duplicate track ids.*'x'"),
        ("path,rock\na.wav,1\n./a.wav,2\n", r"listed twice.*lines 2 and 3"),
        ("path,rock\na.wav,1\nmissing.wav,2\n", r"1 of 2 listed audio files do not exist.*missing.wav"),
        ("path,split,rock\na.wav,holdout,1\n", r"unknown split names.*'holdout'"),
        ("path,rock\n,1\n", "blank 'path' on lines 2"),
        ("path,tag,strength\na.wav,rock,80\na.wav,rock,70\n", r"same \(path, tag\) pair.*line 3"),
        ("path,tag,strength,mood\na.wav,rock,80,sad\n", r"unknown columns in a long-form.*'mood'"),
        ("path,tag,strength\na.wav,rock,\n", "blank strengths: line 2"),
        ("path,tag,strength\na.wav,rock,150\n", "out of range"),
        ("path,tag,strength,artist\na.wav,rock,80,A\na.wav,jazz,10,B\n", "several artist values"),
    ],
)
def test_read_strengths_errors(tmp_path, text, match):
    make_audio(tmp_path, ["a.wav", "b.wav"])
    csv = tmp_path / "bad.csv"
    csv.write_text(text)
    with pytest.raises(DatasetError, match=match):
        read_strengths_csv(csv)


def test_read_strengths_options(tmp_path):
    make_audio(tmp_path, ["a.wav"])
    csv = tmp_path / "t.csv"
    csv.write_text("file,key,rock\na.wav,k1,70\nmissing.wav,k2,0\n")
    index = read_strengths_csv(csv, path_column="file", id_column="key", missing="skip")
    assert list(index.tracks["track_id"]) == ["k1"]
    with pytest.raises(ParameterError, match="threshold"):
        read_strengths_csv(csv, threshold=0)
    with pytest.raises(ParameterError, match="form"):
        read_strengths_csv(csv, form="tall")
    with pytest.raises(ParameterError, match="missing"):
        read_strengths_csv(csv, path_column="file", missing="ignore")
    with pytest.raises(DatasetError, match=r"lacks columns \['path', 'tag', 'strength'\]"):
        read_strengths_csv(csv, form="long")


# --------------------------------------------------------------------------- feature table


def make_features(tmp_path: Path, *, ids=None, extra: dict | None = None, n: int = 6) -> Path:
    rng = np.random.default_rng(0)
    genres = ["blues", "rock", "jazz"]
    frame = pd.DataFrame(
        {
            "filename": ids or [f"{genres[i % 3]}.{i:05d}.wav" for i in range(n)],
            "length": 661794,
            "chroma_stft_mean": rng.random(n),
            "rms_var": rng.random(n),
            "mfcc1_mean": rng.normal(size=n),
            "label": [genres[i % 3] for i in range(n)],
        }
    )
    for name, values in (extra or {}).items():
        frame[name] = values
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "features_30_sec.csv"
    frame.to_csv(path, index=False)
    return path


def test_read_feature_table(tmp_path):
    index = read_feature_table(make_features(tmp_path))
    assert index.kind == "features" and index.task == "single"
    assert index.labels == ["blues", "jazz", "rock"]
    # #13: GTZAN's `length` is file metadata, no longer a feature (it was kept before on purpose)
    assert list(index.features.columns) == ["chroma_stft_mean", "rms_var", "mfcc1_mean"]
    assert index.features.shape == (6, 3)
    assert index.meta["feature_columns"] == ["chroma_stft_mean", "rms_var", "mfcc1_mean"]
    assert index.meta["excluded_columns"] == [
        {"column": "filename", "reason": "row ids (id column)"},
        {"column": "length", "reason": "identifier or file metadata (by name)"},
    ]
    assert index.tracks["track_id"][0] == "blues.00000.wav"
    assert (index.tracks["path"] == "").all()
    assert "source" not in index.tracks.columns
    sub = index.subset([0, 2])
    assert sub.features.shape == (2, 3)


def test_feature_table_column_rule(tmp_path):
    """A GTZAN-like table with metadata, a constant and a unique text column keeps only real features."""
    n = 6
    extra = {
        "Duration": np.linspace(29.9, 30.0, n),  # by name, case-insensitive
        "START": 0.0,
        "Unnamed: 0": np.arange(n),
        "version": 3,  # constant numeric
        "source_url": [f"http://example.org/{i}" for i in range(n)],  # text, unique per row
        "zcr_mean": np.linspace(0.1, 0.2, n),
    }
    path = make_features(tmp_path, extra=extra)
    index = read_feature_table(path)
    assert list(index.features.columns) == ["chroma_stft_mean", "rms_var", "mfcc1_mean", "zcr_mean"]
    reasons = {e["column"]: e["reason"] for e in index.meta["excluded_columns"]}
    assert reasons == {
        "filename": "row ids (id column)",
        "length": "identifier or file metadata (by name)",
        "Duration": "identifier or file metadata (by name)",
        "START": "identifier or file metadata (by name)",
        "Unnamed: 0": "identifier or file metadata (by name)",
        "version": "constant (every row is '3')",
        "source_url": "non-numeric and unique per row",
    }
    assert excluded_columns_text(index.meta["excluded_columns"]).startswith(
        "excluded columns: filename (row ids (id column)); length (identifier"
    )
    # explicit overrides: keep brings a column back, drop takes one out, in file order
    kept = read_feature_table(path, keep=["length", "Duration"], drop=["zcr_mean"])
    assert list(kept.features.columns) == ["length", "chroma_stft_mean", "rms_var", "mfcc1_mean", "Duration"]
    assert kept.features["length"].eq(661794).all()
    assert {"column": "zcr_mean", "reason": "dropped on request (drop=)"} in kept.meta["excluded_columns"]
    with pytest.raises(DatasetError, match=r"lacks columns \['tempo'\]"):
        read_feature_table(path, keep=["tempo"])
    with pytest.raises(DatasetError, match=r"both kept and dropped"):
        read_feature_table(path, keep=["length"], drop=["length"])
    with pytest.raises(DatasetError, match=r"cannot keep \['label'\].*label column"):
        read_feature_table(path, keep=["label"])
    with pytest.raises(DatasetError, match=r"non-numeric columns 'source_url'"):
        read_feature_table(path, keep=["source_url"])
    # the same rule through open_dataset, as Train and Explore read tables
    assert open_dataset(path).meta["excluded_columns"] == index.meta["excluded_columns"]


def test_read_feature_table_segments_share_a_source(tmp_path):
    ids = [f"blues.0000{t}.{s}.wav" for t in range(2) for s in range(3)]
    index = read_feature_table(make_features(tmp_path, ids=ids))
    assert list(index.tracks["source"]) == ["blues.00000"] * 3 + ["blues.00001"] * 3


def test_read_feature_table_errors(tmp_path):
    with pytest.raises(DatasetError, match=r"lacks columns \['genre'\]"):
        read_feature_table(make_features(tmp_path / "a"), label_column="genre")
    notes = ["x", "y"] * 3  # text, neither constant nor unique per row: a likely mistake
    with pytest.raises(DatasetError, match=r"non-numeric columns 'notes'"):
        read_feature_table(make_features(tmp_path / "b", extra={"notes": notes}))
    ok = read_feature_table(make_features(tmp_path / "c", extra={"notes": notes}), drop=["notes", "rms_var"])
    assert list(ok.features.columns) == ["chroma_stft_mean", "mfcc1_mean"]
    with pytest.raises(DatasetError, match=r"finite numbers: line 3 column 'tempo' = 'oops'"):
        read_feature_table(make_features(tmp_path / "d", extra={"tempo": ["1", "oops", "2", "3", "4", "5"]}))
    with pytest.raises(DatasetError, match=r"finite numbers: line 2 column 'tempo' = ''"):
        read_feature_table(make_features(tmp_path / "e", extra={"tempo": [None, 1, 2, 3, 4, 5]}))
    with pytest.raises(DatasetError, match="duplicate ids.*'x.wav'"):
        read_feature_table(make_features(tmp_path / "f", ids=["x.wav"] * 6))
    header_only = tmp_path / "h.csv"
    header_only.write_text("label,a\n")
    with pytest.raises(DatasetError, match="no rows"):
        read_feature_table(header_only)


def test_read_feature_table_without_id_column(tmp_path):
    csv = tmp_path / "f.csv"
    csv.write_text("a,b,label\n1,2,x\n3,4,y\n")
    index = read_feature_table(csv)
    assert list(index.tracks["track_id"]) == ["row00001", "row00002"]


# --------------------------------------------------------------------------- detection


def test_detect_format(tmp_path):
    assert detect_format("demo") == "demo"
    make_genre_folders(tmp_path / "folder", per_genre=1)
    assert detect_format(tmp_path / "folder") == "folder"
    fma_csv = make_fma(tmp_path / "fma", audio=False)
    assert detect_format(tmp_path / "fma") == "fma"
    assert detect_format(tmp_path / "fma" / "fma_metadata") == "fma"
    assert detect_format(fma_csv) == "fma"
    mtt_csv = make_mtt(tmp_path / "mtt")
    assert detect_format(tmp_path / "mtt") == "mtt"
    assert detect_format(mtt_csv) == "mtt"
    assert detect_format(make_features(tmp_path / "feat")) == "features"
    wide = tmp_path / "wide.csv"
    wide.write_text("path,rock\na.wav,1\n")
    assert detect_format(wide) == "strengths"
    long = tmp_path / "long.csv"
    long.write_text("path,tag,strength\na.wav,rock,1\n")
    assert detect_format(long) == "strengths"
    assert set(DATASET_FORMATS) == {"folder", "fma", "mtt", "jamendo", "strengths", "features", "demo"}


def test_detect_format_errors(tmp_path):
    with pytest.raises(DatasetError, match="does not exist"):
        detect_format(tmp_path / "nothing.csv")
    other = tmp_path / "other.csv"
    other.write_text("name,size\nx,1\n")
    with pytest.raises(DatasetError, match="Accepted forms are: folder: .*fma: .*mtt: .*strengths: .*features: "):
        detect_format(other)


def test_open_dataset(tmp_path):
    make_genre_folders(tmp_path / "folder", per_genre=1)
    assert open_dataset(tmp_path / "folder").kind == "folder"
    make_fma(tmp_path / "fma")
    index = open_dataset(str(tmp_path / "fma"), level="genres_all")
    assert index.kind == "fma" and index.task == "multi"
    mtt = open_dataset(make_mtt(tmp_path / "mtt"), top_n=3, threshold=75)
    assert len(mtt.labels) == 3 and mtt.threshold == 75
    with pytest.raises(ParameterError, match="unknown dataset format 'gtzan'"):
        open_dataset(tmp_path / "folder", format="gtzan")
    with pytest.raises(ParameterError, match="option not understood by the 'folder' reader"):
        open_dataset(tmp_path / "folder", top_n=3)
    with pytest.raises(DatasetError, match="does not exist"):
        open_dataset(tmp_path / "nothing", format="folder")
    with pytest.raises(MusictagError):
        open_dataset(tmp_path / "folder", format="strengths")


def test_open_dataset_demo():
    pytest.importorskip("musictag_core.datasets.demo")
    index = open_dataset("demo")
    assert index.kind == "demo" and len(index) > 0


# --------------------------------------------------------------------------- DatasetIndex


def tiny_index(**overrides) -> DatasetIndex:
    args = dict(
        name="t",
        kind="strengths",
        labels=["a", "b"],
        tracks=pd.DataFrame({"track_id": ["1", "2"], "path": ["/x/1.wav", "/x/2.wav"]}),
        strengths=np.array([[100, 0], [20, 60]]),
    )
    args.update(overrides)
    return DatasetIndex(**args)


def test_dataset_index_basics():
    tracks = pd.DataFrame({"track_id": [1, 2], "path": ["/x/1.wav", "/x/2.wav"]})
    index = tiny_index(tracks=tracks)
    assert "artist" not in tracks.columns  # the caller's frame is not changed
    assert list(index.tracks["track_id"]) == ["1", "2"]
    assert index.task == "single" and index.label_index.tolist() == [0, 1]
    assert not index.has_artists and not index.has_splits
    summary = index.summary()
    assert summary["per_label"] == {"a": 1, "b": 1} and summary["splits"]["train"] == 0
    assert len(index.subset(np.array([False, True]))) == 1


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"strengths": np.array([[100, 0]])}, "expected"),
        ({"strengths": np.array([[101, 0], [0, 0]])}, "0-100"),
        ({"strengths": np.array([[np.nan, 0], [0, 0]])}, "NaN"),
        ({"labels": ["a", "a"]}, "duplicate label"),
        ({"tracks": pd.DataFrame({"track_id": ["1", "1"], "path": ["a", "b"]})}, "duplicate track ids"),
        ({"tracks": pd.DataFrame({"track_id": ["1", "2"], "split": ["train", "dev"]})}, "unknown split"),
    ],
)
def test_dataset_index_errors(overrides, match):
    with pytest.raises(DatasetError, match=match):
        tiny_index(**overrides)
