from __future__ import annotations

import json
import subprocess
import sys

import librosa
import numpy as np
import pandas as pd
import pytest

from musictag_core.cli import main
from musictag_core.features import STAT_NAMES

from .helpers import CLIPS, needs_clips, write_tone


def run_cli(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "musictag_core", *args], capture_output=True, text=True, cwd=cwd)


def test_help_lists_subcommands():
    proc = run_cli("--help")
    assert proc.returncode == 0
    for name in ("info", "extract"):
        assert name in proc.stdout


def test_bad_arguments_exit_2(tmp_path):
    proc = run_cli("extract", str(tmp_path))  # --features and --out missing
    assert proc.returncode == 2 and "usage" in proc.stderr
    proc = run_cli("extract", str(tmp_path / "nope"), "--features", "mfcc", "--out", str(tmp_path / "x.npz"))
    assert proc.returncode == 2 and "error:" in proc.stderr


def test_wrong_output_suffix(tmp_path, capsys):
    assert main(["extract", str(tmp_path), "--features", "stats", "--out", str(tmp_path / "x.npz")]) == 2
    assert ".csv" in capsys.readouterr().err


def test_info(tmp_path, capsys):
    good = write_tone(tmp_path / "a.wav", sr=16000, duration=2.0)
    bad = tmp_path / "b.wav"
    bad.write_text("not audio")
    assert main(["info", "--json", str(good), str(bad)]) == 1
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert lines[0]["sr"] == 16000 and lines[0]["duration_s"] == pytest.approx(2.0)
    assert "b.wav" in lines[1]["error"]


@pytest.fixture
def genre_tree(tmp_path):
    root = tmp_path / "genres"
    for g, f in (("low", 110.0), ("high", 1760.0)):
        (root / g).mkdir(parents=True)
        for i in range(2):
            write_tone(root / g / f"{g}.{i:05d}.wav", freq=f * (1 + 0.1 * i), duration=13.0)
    (root / "low" / "broken.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEfmt garbage")
    return root


def test_extract_batch_with_a_corrupt_file(genre_tree, tmp_path, capsys):
    out = tmp_path / "mfcc.npz"
    code = main(["extract", str(genre_tree), "--features", "mfcc", "--out", str(out), "--jobs", "1",
                 "--cache-dir", str(tmp_path / "cache")])
    err = capsys.readouterr().err
    assert code == 1 and "broken.wav" in err and "1 file(s) failed" in err
    data = np.load(out)
    assert data["X"].shape == (4, 517, 13)  # 4 good tracks x 1 segment of 12 s
    assert list(data["labels"]) == ["high", "low"]
    assert len(data["track_ids"]) == 4 and list(data["failed"]) == [str(genre_tree / "low" / "broken.wav")]
    assert data["strengths"].shape == (4, 2)


def test_extract_stats_csv_reads_back_as_feature_table(genre_tree, tmp_path):
    (genre_tree / "low" / "broken.wav").unlink()
    out = tmp_path / "stats.csv"
    assert main(["extract", str(genre_tree), "--features", "stats", "--out", str(out), "--jobs", "1",
                 "--cache-dir", str(tmp_path / "cache")]) == 0
    table = pd.read_csv(out)
    assert list(table.columns) == ["track_id", "path", "label", *STAT_NAMES]
    from musictag_core.datasets import open_dataset

    index = open_dataset(str(out), drop=("path",), id_column="track_id")
    assert index.kind == "features" and sorted(index.labels) == ["high", "low"]
    assert index.features.shape == (4, len(STAT_NAMES))


@needs_clips
def test_extract_real_clips_equal_librosa(tmp_path):
    out = tmp_path / "clips.npz"
    code = main(["extract", str(CLIPS), "--features", "mfcc", "--out", str(out), "--cache-dir", str(tmp_path / "c")])
    assert code == 0
    data = np.load(out)
    assert data["X"].shape[1:] == (517, 13)
    assert len(data["labels"]) == 10  # one per GTZAN genre in the file names
    i = int(np.flatnonzero(np.char.endswith(data["paths"], "rock.00000.wav"))[0])
    rows = np.flatnonzero(data["track_index"] == i)
    assert len(rows) == 2 and list(data["segment_starts_s"][rows]) == [0.0, 12.0]
    y, sr = librosa.load(CLIPS / "rock.00000.wav", sr=22050)
    ref = librosa.feature.mfcc(y=y[12 * sr : 24 * sr], sr=sr, n_mfcc=13).T
    np.testing.assert_allclose(data["X"][rows[1]], ref, atol=1e-4, rtol=1e-5)


def test_tag_max_duration_cuts_and_marks_truncated(tmp_path, capsys, monkeypatch):
    path = write_tone(tmp_path / "long.wav", sr=16000, duration=8.0)
    assert main(["tag", str(path), "--max-duration", "3.5", "--top-k", "3"]) == 0
    out = json.loads(capsys.readouterr().out.splitlines()[0])
    assert out["truncated"] is True and out["duration_s"] <= 3.6
    monkeypatch.setenv("MUSICTAG_MAX_DURATION_S", "20")
    assert main(["tag", str(path), "--top-k", "3"]) == 0
    out = json.loads(capsys.readouterr().out.splitlines()[0])
    assert out["truncated"] is False and out["duration_s"] == pytest.approx(8.0, abs=0.01)


def test_tag_warns_about_a_clip_shorter_than_a_segment_and_refuses_a_tiny_one(tmp_path, capsys):
    """1 s: tagged, with a warning in the JSON and on stderr; 20 samples (1 ms): refused, exit 1."""
    short = write_tone(tmp_path / "short.wav", sr=16000, duration=1.0)
    tiny = write_tone(tmp_path / "tiny.wav", sr=16000, duration=20 / 16000)
    good = write_tone(tmp_path / "good.wav", sr=16000, duration=4.0)
    assert main(["tag", str(short), str(tiny), str(good), "--top-k", "2"]) == 1
    captured = capsys.readouterr()
    first, second, third = (json.loads(line) for line in captured.out.splitlines())
    assert len(first["warnings"]) == 1 and "shorter than one" in first["warnings"][0] and first["tags"]
    assert "tags" not in second and "0.001 s long; at least 0.5 s" in second["error"]
    assert third["warnings"] == []
    assert captured.err.count("warning: ") == 1 and "short.wav" in captured.err


def test_tag_decimals_sets_the_precision_and_is_validated(tmp_path, capsys):
    """--decimals rounds every score (JSON and CSV); the default is 5 places; out of range exits 2."""
    path = write_tone(tmp_path / "tone.wav", sr=16000, duration=4.0)
    assert main(["tag", str(path), "--top-k", "3"]) == 0
    default = json.loads(capsys.readouterr().out.splitlines()[0])
    assert main(["tag", str(path), "--top-k", "3", "--decimals", "9"]) == 0
    fine = json.loads(capsys.readouterr().out.splitlines()[0])
    for a, b in zip(default["tags"], fine["tags"]):
        assert a["label"] == b["label"] and a["score"] == round(b["score"], 5)
    assert any(len(repr(t["score"]).split(".")[1]) > 5 for t in fine["tags"])
    assert main(["tag", str(path), "--top-k", "2", "--csv", "--decimals", "2"]) == 0
    rows = capsys.readouterr().out.splitlines()[1:]
    assert all(len(r.split(",")[4].split(".")[1]) == 2 for r in rows)
    assert main(["tag", str(path), "--decimals", "13"]) == 2
    assert "--decimals must be between 0 and 12, got 13" in capsys.readouterr().err


def _train_logreg(data, runs, *extra):
    return ["train", "--dataset", str(data), "--model", "logreg", "--run-dir", str(runs), *extra]


def test_failing_train_is_one_line_without_traceback(tmp_path, capsys):
    from .helpers import write_tone_dataset

    empty = tmp_path / "empty"
    empty.mkdir()
    tiny = write_tone_dataset(tmp_path / "tiny", n_per_genre=1, seconds=0.6)
    for data in (empty, tiny):
        code = main(_train_logreg(data, tmp_path / "runs"))
        err = capsys.readouterr().err
        assert code == 2, (data, err)  # bad data or settings, as the README says
        assert "Traceback" not in err, err
    # --debug (anywhere on the command line) brings the traceback back
    main([*_train_logreg(tiny, tmp_path / "runs"), "--debug"])
    assert "Traceback" in capsys.readouterr().err


def test_debug_is_accepted_after_the_subcommand(tmp_path, capsys):
    assert main(["info", "--debug", "--json", str(tmp_path / "nothing.wav")]) == 1
    assert "no such file" in capsys.readouterr().out
