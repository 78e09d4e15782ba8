"""``musictag dataset describe`` and :func:`musictag_core.datasets.describe.describe_dataset` (#13).

The real metadata samples in ../shared/data/meta come without audio: the description must
still count tracks, labels, splits and artists, and say how many audio files are missing.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from musictag_core.cli import main
from musictag_core.datasets import open_dataset
from musictag_core.datasets.describe import describe_dataset, describe_index, describe_text
from musictag_core.errors import DatasetError, ParameterError

META = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "meta"
KEYS = ["form", "n_tracks", "labels", "labels_per_track", "splits", "n_artists", "audio", "warnings"]


def need(*parts: str) -> Path:
    path = META.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real metadata sample {'/'.join(parts)} is absent")
    return path


def cli_json(capsys, *argv: str) -> tuple[int, dict | None, str]:
    code = main(["dataset", "describe", *argv, "--json"])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out.strip() else None), err


def test_mtt_sample_from_metadata_alone(capsys):
    folder = need("mtt")
    code, d, err = cli_json(capsys, str(folder))
    assert code == 0, err
    assert list(d) == KEYS
    assert d["form"] == "mtt" and d["n_tracks"] == 26
    assert d["labels"] == {"classical": 12, "strings": 10, "ambient": 3, "new age": 2, "bass": 3, "drums": 4}
    assert d["labels_per_track"] == {"mean": round(34 / 26, 4), "max": 2}
    assert d["splits"] == {} and d["n_artists"] == 3
    assert d["audio"] == {"present": 0, "missing": 26}
    assert any("26 of 26 audio files are missing" in w and "--audio-dir" in w for w in d["warnings"])
    assert any("new age (2)" in w for w in d["warnings"])  # too few for a split


def test_mtt_threshold_and_text_output(capsys):
    folder = need("mtt")
    d = describe_dataset(folder, threshold=100)
    assert d["labels"]["classical"] == 12  # 0/1 annotations are 0/100 strengths
    assert main(["dataset", "describe", str(folder)]) == 0
    text = capsys.readouterr().out
    assert "mtt dataset, 26 tracks, 6 labels" in text and "audio: 0 present, 26 missing" in text
    assert "artists: 3" in text and "splits: none" in text


def test_fma_sample_splits_artists_and_missing_audio(capsys):
    folder = need("fma")
    code, d, _ = cli_json(capsys, str(folder / "tracks.csv"))
    assert code == 0 and d["form"] == "fma"
    assert d["n_tracks"] == sum(d["labels"].values())  # single-label
    assert d["labels_per_track"]["max"] == 1
    assert set(d["splits"]) <= {"train", "validation", "test"} and sum(d["splits"].values()) == d["n_tracks"]
    assert d["n_artists"] >= 1 and d["audio"] == {"present": 0, "missing": d["n_tracks"]}
    # asking for the audio to be there is an error that names the option to use
    code = main(["dataset", "describe", str(folder), "--missing", "error"])
    assert code == 2 and "--audio-dir" in capsys.readouterr().err


def test_jamendo_sample_keeps_its_official_split(capsys):
    tsv = need("jamendo", "split-0_autotagging_genre-validation.tsv")
    code, d, _ = cli_json(capsys, str(tsv))
    assert code == 0
    assert d["form"] == "jamendo" and d["n_tracks"] == 11043 and len(d["labels"]) == 87
    assert d["labels"]["electronic"] == 2921
    assert d["splits"] == {"validation": 11043} and d["n_artists"] == 705
    assert d["labels_per_track"]["max"] == 7 and 1 < d["labels_per_track"]["mean"] < 7
    assert d["audio"] == {"present": 0, "missing": 11043}


def test_mtt_audio_dir_finds_present_files(tmp_path, capsys):
    folder = need("mtt")
    probe = open_dataset(folder, missing="keep")
    audio = tmp_path / "audio"
    rel = Path(probe.tracks["path"].iloc[0]).relative_to(folder.resolve())
    (audio / rel).parent.mkdir(parents=True)
    (audio / rel).write_bytes(b"\0")
    code, d, _ = cli_json(capsys, str(folder), "--audio-dir", str(audio))
    assert code == 0 and d["audio"] == {"present": 1, "missing": 25}
    code, d, _ = cli_json(capsys, str(folder), "--audio-dir", str(audio), "--missing", "skip")
    assert code == 0 and d["n_tracks"] == 1 and d["audio"] == {"present": 1, "missing": 0}


def _wav(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, np.zeros(800, dtype=np.float32), 8000)


def test_folder_and_feature_table(tmp_path, capsys):
    for genre, n in (("blues", 3), ("jazz", 2)):
        for i in range(n):
            _wav(tmp_path / "songs" / genre / f"{genre}.{i:05d}.wav")
    d = describe_dataset(tmp_path / "songs")
    assert d == {
        "form": "folder", "n_tracks": 5, "labels": {"blues": 3, "jazz": 2},
        "labels_per_track": {"mean": 1.0, "max": 1}, "splits": {}, "n_artists": None,
        "audio": {"present": 5, "missing": 0},
        "warnings": [d["warnings"][0]],
    }
    assert "jazz (2)" in d["warnings"][0]
    table = tmp_path / "features.csv"
    table.write_text("filename,f1,f2,label,split\n" + "".join(
        f"t{i}.wav,{i},{i * i % 7},{'rock' if i % 2 else 'pop'},{'test' if i == 0 else 'train'}\n" for i in range(8)))
    code, d, _ = cli_json(capsys, str(table))
    assert code == 0
    assert d["form"] == "features" and d["audio"] is None and d["n_artists"] is None
    assert d["labels"] == {"pop": 4, "rock": 4} and d["splits"] == {"train": 7, "test": 1}


def test_demo_corpora_are_described_without_generating_them(tmp_path, monkeypatch):
    monkeypatch.setenv("MUSICTAG_CACHE", str(tmp_path / "cache"))
    easy = describe_dataset("demo")
    hard = describe_dataset("demo-hard")
    assert easy["form"] == hard["form"] == "demo"
    assert easy["n_tracks"] == 138 and hard["n_tracks"] == 150  # 15 % and 25 % blends over 120 clips
    assert set(hard["labels"]) == {"electronic", "jazz", "rock", "ambient", "hiphop", "classical"}
    assert hard["labels_per_track"]["max"] == 2 and hard["n_artists"] > 6
    assert hard["audio"] == {"present": 0, "missing": 150}
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").rglob("*.wav"))


def test_describe_index_refuses_unknown_form_and_audio_dir_where_meaningless(tmp_path):
    _wav(tmp_path / "songs" / "a" / "a.0.wav")
    index = open_dataset(tmp_path / "songs", missing="skip")  # accepted and ignored by a folder
    with pytest.raises(ParameterError, match="form must be one of"):
        describe_index(index, form="gtzan")
    with pytest.raises(ParameterError, match="--audio-dir"):
        describe_dataset(tmp_path / "songs", audio_dir=tmp_path)
    with pytest.raises(DatasetError, match="does not exist"):
        describe_dataset(tmp_path / "nothing")
    assert "folder dataset, 1 tracks" in describe_text(describe_index(index))


def test_cli_audio_options_replace_the_library_only_missing_option(tmp_path, capsys):
    """The readers' messages name --audio-dir / --missing, and extract, explore and train take them."""
    folder = need("mtt")
    out = str(tmp_path / "stats.csv")
    code = main(["extract", str(folder), "--features", "stats", "--out", out])
    err = capsys.readouterr().err
    assert code == 2 and "26 of 26 listed audio files do not exist" in err
    assert "--audio-dir" in err and "--missing skip" in err and "pass missing=" not in err
    code = main(["extract", str(folder), "--features", "stats", "--out", out, "--missing", "skip"])
    assert code == 2 and "none of the 26 mp3 files exists" in capsys.readouterr().err  # skipped, then nothing left
    code = main(["explore", str(folder), "--missing", "skip", "--audio-dir", str(tmp_path), "--quiet"])
    assert code == 2 and str(tmp_path) in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["extract", str(folder), "--features", "stats", "--out", out, "--missing", "keep"])  # not for extraction


def test_run_config_carries_the_audio_options():
    from musictag_core.training import RunConfig

    cfg = RunConfig.from_dict({"dataset": "x", "model": "logreg", "audio_dir": "/data/mtt/mp3", "missing": "skip"})
    assert RunConfig.from_dict(cfg.to_dict()) == cfg and cfg.missing == "skip"
    assert RunConfig(dataset="x", model="logreg").missing is None  # the reader's default: an error naming the files
    with pytest.raises(ParameterError, match="missing must be"):
        RunConfig(dataset="x", model="logreg", missing="keep")


def test_train_takes_the_audio_options_into_its_run(tmp_path, capsys):
    folder = need("mtt")
    code = main(["train", "--dataset", str(folder), "--model", "logreg", "--missing", "skip",
                 "--run-dir", str(tmp_path)])
    captured = capsys.readouterr()
    assert code == 2 and "none of the 26 mp3 files exists" in captured.out + captured.err
    (config,) = tmp_path.glob("*/config.json")
    assert json.loads(config.read_text())["missing"] == "skip"
