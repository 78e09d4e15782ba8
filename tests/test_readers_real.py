"""The dataset readers on real metadata samples (../shared/data/meta; skipped when absent)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from musictag_core.datasets import detect_format, open_dataset, read_fma, read_jamendo, read_mtt, read_strengths_csv
from musictag_core.datasets.splits import split_groups
from musictag_core.errors import DatasetError, ParameterError

META = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "meta"


def need(*parts: str) -> Path:
    path = META.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real metadata sample {'/'.join(parts)} is absent")
    return path


# --------------------------------------------------------------------------- MTT


def test_mtt_real_sample_joins_paths_and_artists_from_clip_info():
    ann = need("mtt", "tiny_annotations_final.csv")
    index = read_mtt(ann, missing="keep")  # no audio ships with the sample
    assert index.kind == "mtt" and index.task == "multi"
    assert index.labels == ["classical", "strings", "ambient", "new age", "bass", "drums"]
    # '# Bach' and '#\tLVX\tNova' comment lines are dropped, not read as clips
    assert len(index) == 26 and not index.tracks["track_id"].str.startswith("#").any()
    row = index.tracks.set_index("track_id").loc["6535"]
    np.testing.assert_array_equal(index.strengths[index.tracks["track_id"] == "6535"][0], [100, 0, 0, 0, 0, 0])  # '0 '
    assert row["path"].startswith(str(ann.parent.resolve()))
    assert index.tracks.set_index("track_id").loc["2", "path"].endswith(
        "f/american_bach_soloists-j_s__bach_solo_cantatas-01-bwv54__i_aria-30-59.mp3"
    )
    assert index.has_artists and index.tracks["artist"].nunique() == 3
    assert index.meta["clip_info"].endswith("tiny_clip_info_final.csv")
    assert detect_format(ann) == "mtt" and detect_format(ann.parent) == "mtt"
    assert len(open_dataset(ann.parent, missing="keep")) == 26


def test_mtt_real_sample_needs_its_audio_unless_told(tmp_path):
    ann = need("mtt", "tiny_annotations_final.csv")
    with pytest.raises(DatasetError, match="26 of 26 listed audio files do not exist"):
        read_mtt(ann)
    # a copy with two of the clips' mp3 files present
    for name in ("tiny_annotations_final.csv", "tiny_clip_info_final.csv"):
        shutil.copy(ann.parent / name, tmp_path / name)
    probe = read_mtt(tmp_path / "tiny_annotations_final.csv", missing="keep")
    for path in probe.tracks["path"][:2]:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_bytes(b"\0")
    index = read_mtt(tmp_path / "tiny_annotations_final.csv", missing="skip")
    assert list(index.tracks["track_id"]) == ["2", "6"]
    assert any("skipped 24 clips" in n for n in index.meta["notes"])


def test_mtt_comment_rule_keeps_hash_inside_fields(tmp_path):
    (tmp_path / "annotations_final.csv").write_text("clip_id\trock\n# group\n1\t1\n#\tA\tB\n2\t0 \n")
    (tmp_path / "clip_info_final.csv").write_bytes(
        b"clip_id\ttitle\tartist\tmp3_path\r\n1\tSong #1\tBand # 9\ta/1.mp3\r\n2\tx\ty\ta/2.mp3\r\n"
    )
    index = read_mtt(tmp_path / "annotations_final.csv", missing="keep")
    assert list(index.tracks["track_id"]) == ["1", "2"]
    assert list(index.tracks["artist"]) == ["Band # 9", "y"]
    np.testing.assert_array_equal(index.strengths[:, 0], [100, 0])
    (tmp_path / "clip_info_final.csv").write_text("clip_id\tartist\tmp3_path\n1\tz\ta/1.mp3\n")
    with pytest.raises(DatasetError, match=r"1 clips of annotations_final.csv are not listed.*'2'"):
        read_mtt(tmp_path / "annotations_final.csv", missing="keep")
    (tmp_path / "clip_info_final.csv").unlink()
    with pytest.raises(DatasetError, match="mp3_path.*clip_info_final.csv"):
        read_mtt(tmp_path / "annotations_final.csv", missing="keep")
    (tmp_path / "blank.csv").write_text("clip_id\trock\tmp3_path\n# a\n# b\n1\t1\ta.mp3\n\t0\tb.mp3\n")
    with pytest.raises(DatasetError, match=r"blank 'clip_id' on lines 5\b"):  # file lines, comments counted
        read_mtt(tmp_path / "blank.csv", missing="keep")


# --------------------------------------------------------------------------- FMA


def test_fma_real_sample_three_header_rows():
    csv = need("fma", "tracks.csv")
    assert csv.read_text().splitlines()[2].startswith("track_id,")  # the third header row
    index = read_fma(csv, subset=None, missing="keep")
    summary = index.summary()
    assert summary["tracks"] == 187 and index.task == "single"  # 13 of the 200 have no top genre
    assert summary["per_label"]["Rock"] == 102
    assert summary["splits"] == {"train": 182, "validation": 1, "test": 4}
    assert index.has_artists and index.tracks["track_id"].iloc[0] == "2"
    assert index.tracks["path"].iloc[0].endswith("000/000002.mp3")
    every = read_fma(csv, subset=None, level="genres_all", missing="keep")
    assert len(every) == 200 and "Rock" in every.labels  # names from genres.csv beside it
    splits = every.tracks["split"].value_counts().to_dict()
    assert splits == {"train": 194, "test": 5, "validation": 1}
    assert detect_format(csv.parent) == "fma" and detect_format(csv) == "fma"


@pytest.mark.parametrize("cut", ["half", "tail"])
def test_fma_truncated_file_names_the_line(tmp_path, cut):
    text = need("fma", "tracks.csv").read_text()
    short = text[: len(text) // 2] if cut == "half" else text[:-100]
    (tmp_path / "tracks.csv").write_text(short)
    last_line = short.count("\n") + 1  # the line the cut falls on
    with pytest.raises(DatasetError, match=rf"record starting on line {last_line}\b.*looks truncated"):
        read_fma(tmp_path / "tracks.csv", subset=None, missing="keep")


# --------------------------------------------------------------------------- MTG-Jamendo

JAMENDO = ("jamendo", "split-0_autotagging_genre-validation.tsv")


def test_jamendo_real_sample():
    tsv = need(*JAMENDO)
    assert tsv.read_bytes().split(b"\n", 1)[0].endswith(b"\r")  # CRLF, as released
    index = read_jamendo(tsv, missing="keep")
    assert index.kind == "jamendo" and index.task == "multi"
    assert len(index) == 11043 and len(index.labels) == 87
    assert index.summary()["splits"] == {"train": 0, "validation": 11043, "test": 0}  # kept as given
    assert index.summary()["per_label"]["electronic"] == 2921 and "genre---rock" not in index.labels
    row = index.tracks.iloc[2]
    assert row["track_id"] == "track_0000775" and row["artist"] == "artist_000104" and row["duration"] == 198.1
    assert row["path"] == str(tsv.parent.resolve() / "75" / "775.mp3")
    np.testing.assert_array_equal(
        np.asarray(index.labels)[index.y[2] == 1], ["easylistening", "electronic", "lounge"]
    )  # one tag per extra field, up to 7 on one row
    assert index.y.sum(axis=1).max() == 7
    groups, by = split_groups(index)
    assert by == "artist" and len(set(groups)) == 705
    assert detect_format(tsv) == "jamendo" and detect_format(tsv.parent) == "jamendo"
    assert len(open_dataset(tsv.parent, missing="keep")) == 11043
    every = read_jamendo(tsv, category=None, missing="keep")
    assert "genre---rock" in every.labels and len(every.labels) == 87
    with pytest.raises(DatasetError, match="no track has a 'mood/theme' tag.*'genre'"):
        read_jamendo(tsv, category="mood/theme", missing="keep")


def _jamendo_set(tmp_path: Path, prefix: str = "split-0_autotagging_genre") -> dict[str, Path]:
    """Train/validation/test files cut from the real sample's lines (CRLF kept)."""
    lines = need(*JAMENDO).read_bytes().split(b"\r\n")
    header, body = lines[0], [line for line in lines[1:] if line]
    parts = {"train": body[:6], "validation": body[6:9], "test": body[9:12]}
    files = {}
    for split, rows in parts.items():
        files[split] = tmp_path / f"{prefix}-{split}.tsv"
        files[split].write_bytes(b"\r\n".join([header, *rows]) + b"\r\n")
    return files


def test_jamendo_official_split_from_sibling_files_and_audio(tmp_path):
    files = _jamendo_set(tmp_path)
    with pytest.raises(DatasetError, match="12 of 12 listed audio files do not exist"):
        read_jamendo(files["validation"], audio_dir=tmp_path)
    audio = tmp_path / "audio"
    index = read_jamendo(files["validation"], audio_dir=audio.mkdir() or audio, missing="keep")
    assert index.summary()["splits"] == {"train": 6, "validation": 3, "test": 3}
    assert index.has_splits and list(index.tracks["split"][:7]) == ["train"] * 6 + ["validation"]
    for rel in ("73/773.mp3", "74/774.mp3"):  # two dummy audio files
        (audio / rel).parent.mkdir(parents=True, exist_ok=True)
        (audio / rel).write_bytes(b"\0")
    present = read_jamendo(tmp_path, audio_dir=audio, missing="skip")
    assert list(present.tracks["track_id"]) == ["track_0000773", "track_0000774"]
    assert any("skipped 10 tracks" in n for n in present.meta["notes"])
    alone = read_jamendo(files["test"], audio_dir=audio, siblings=False, missing="keep")
    assert alone.summary()["splits"] == {"train": 0, "validation": 0, "test": 3}


def test_jamendo_errors_name_the_line(tmp_path):
    files = _jamendo_set(tmp_path)
    text = files["test"].read_bytes().split(b"\r\n")
    short = text[:2] + [b"track_9\tartist_1\talbum_1\t09/9.mp3\t12.0"] + text[2:]
    files["test"].write_bytes(b"\r\n".join(short))
    with pytest.raises(DatasetError, match=r"-test.tsv: line 3 has 5 tab-separated fields"):
        read_jamendo(files["train"], missing="keep")
    files["test"].write_bytes(b"\r\n".join(text[:2] + [text[1]]))  # the same track twice
    with pytest.raises(DatasetError, match=r"listed twice.*-test.tsv line 2 and .*-test.tsv line 3"):
        read_jamendo(files["train"], missing="keep")
    files["test"].write_bytes(b"TRACK\tPATH\r\n1\ta.mp3\r\n")
    with pytest.raises(DatasetError, match="TRACK_ID ARTIST_ID ALBUM_ID PATH DURATION TAGS"):
        read_jamendo(files["test"], siblings=False, missing="keep")
    _jamendo_set(tmp_path, prefix="split-0_autotagging_instrument")
    files["test"].unlink()
    with pytest.raises(DatasetError, match="several MTG-Jamendo split sets"):
        read_jamendo(tmp_path, category="mood/theme", missing="keep")
    assert len(read_jamendo(tmp_path, missing="keep")) == 9  # category genre picks the genre set


def test_missing_keep_policy_lists_absent_audio(tmp_path):
    (tmp_path / "s.csv").write_text("path,rock\na.wav,100\nb.wav,0\n")
    (tmp_path / "a.wav").write_bytes(b"\0")
    with pytest.raises(DatasetError, match="1 of 2 listed audio files"):
        read_strengths_csv(tmp_path / "s.csv")
    assert len(read_strengths_csv(tmp_path / "s.csv", missing="skip")) == 1
    assert len(read_strengths_csv(tmp_path / "s.csv", missing="keep")) == 2
    with pytest.raises(ParameterError, match="missing must be one of"):
        read_strengths_csv(tmp_path / "s.csv", missing="ignore")
