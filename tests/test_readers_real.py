"""The dataset readers on real metadata samples (../shared/data/meta; skipped when absent)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from musictag_core.datasets import detect_format, open_dataset, read_fma, read_mtt
from musictag_core.errors import DatasetError

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
