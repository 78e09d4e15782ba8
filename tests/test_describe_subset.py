"""``dataset describe --subset small|medium|large`` on FMA metadata (#13), its refusals, and the Explore
Dataset tab's subset choice; a dataset path that is not a regular file (a FIFO) refused at once.

On the real FMA metadata sample (the first 200 tracks of ``tracks.csv``; ../shared/data/meta), which
holds tracks of all three subsets; skipped when the sample is absent.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from pathlib import Path

import pytest

from musictag_core.cli import main
from musictag_core.datasets.describe import describe_dataset
from musictag_core.errors import DatasetError, ParameterError

META = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "meta"


@pytest.fixture(scope="module")
def fma_tracks() -> Path:
    path = META / "fma" / "tracks.csv"
    if not path.is_file():
        pytest.skip("the real FMA metadata sample is absent")
    return path.resolve()


def _subset_counts(path: Path) -> dict[str, int]:
    """Tracks with a top genre per ``set.subset``, read independently of the reader (pandas, 3 header rows)."""
    import pandas as pd

    frame = pd.read_csv(path, header=[0, 1], index_col=0, low_memory=False)
    has_top = frame[("track", "genre_top")].notna()
    return frame.loc[has_top, ("set", "subset")].value_counts().to_dict()


def _cli(capsys, *argv: str) -> tuple[int, dict | None, str]:
    code = main(["dataset", "describe", *argv])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out.strip().startswith("{") else None), err


def test_subset_counts_the_nested_fma_subsets_of_the_real_sample(fma_tracks, capsys):
    per = _subset_counts(fma_tracks)
    want = {"small": per["small"], "medium": per["small"] + per["medium"],
            "large": per["small"] + per["medium"] + per["large"]}
    for subset, n in want.items():
        code, d, _ = _cli(capsys, str(fma_tracks), "--subset", subset, "--json")
        assert code == 0 and d["form"] == "fma" and d["n_tracks"] == n, subset
        assert sum(d["labels"].values()) == n and sum(d["splits"].values()) == n
        assert d["audio"] == {"present": 0, "missing": n}
        assert any(f"only FMA's {subset!r} subset is counted" in w for w in d["warnings"])
        assert d == describe_dataset(fma_tracks, subset=subset)  # the CLI prints the core's object
    # the folder holding tracks.csv is the same dataset; the default is the reader's ('small'), and says how to choose
    code, d, _ = _cli(capsys, str(fma_tracks.parent), "--json")
    assert code == 0 and d["n_tracks"] == want["small"]
    assert any("(the reader's default)" in w and "--subset small|medium|large" in w for w in d["warnings"])
    assert main(["dataset", "describe", str(fma_tracks), "--subset", "medium"]) == 0
    text = capsys.readouterr().out
    assert f"fma dataset, {want['medium']} tracks" in text and "only FMA's 'medium' subset is counted" in text


def test_subset_finds_the_audio_folder_of_the_subset_downloaded(fma_tracks, tmp_path, capsys):
    # the layout of an fma_medium.zip download beside fma_metadata/: the medium subset's audio is there
    meta = tmp_path / "fma_metadata"
    meta.mkdir()
    shutil.copy(fma_tracks, meta / "tracks.csv")
    import pandas as pd

    frame = pd.read_csv(fma_tracks, header=[0, 1], index_col=0, low_memory=False)
    medium = frame[frame[("set", "subset")].isin(["small", "medium"]) & frame[("track", "genre_top")].notna()]
    present = [int(t) for t in medium.index[:5]]
    for tid in present:
        mp3 = tmp_path / "fma_medium" / f"{tid:06d}"[:3] / f"{tid:06d}.mp3"
        mp3.parent.mkdir(parents=True, exist_ok=True)
        mp3.write_bytes(b"ID3")
    code, d, _ = _cli(capsys, str(tmp_path / "fma_metadata"), "--subset", "medium", "--json")
    assert code == 0 and d["audio"] == {"present": 5, "missing": len(medium) - 5}
    assert not any("no FMA audio folder" in w for w in d["warnings"])


def test_subset_is_refused_outside_fma_with_exit_2(fma_tracks, tmp_path, capsys):
    table = tmp_path / "features.csv"
    table.write_text("f1,f2,label\n" + "".join(f"{i},{i % 3},{'a' if i % 2 else 'b'}\n" for i in range(8)))
    code, d, err = _cli(capsys, str(table), "--subset", "small")
    assert code == 2 and d is None
    assert "subset (small, medium, large) applies to FMA metadata only" in err and "'features' dataset" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    code, _, err = _cli(capsys, "demo", "--subset", "large")
    assert code == 2 and "FMA metadata only" in err
    with pytest.raises(SystemExit):  # argparse: a subset FMA does not have
        main(["dataset", "describe", str(fma_tracks), "--subset", "tiny"])
    assert "invalid choice: 'tiny'" in capsys.readouterr().err
    with pytest.raises(ParameterError, match="subset must be one of small, medium, large"):
        describe_dataset(fma_tracks, subset="full")


def test_a_fifo_is_refused_at_once_as_not_a_regular_file(tmp_path, capsys):
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    t0 = time.monotonic()
    outcome: list = []

    def sniff() -> None:  # used to block for good, opening the FIFO to sniff its header
        try:
            describe_dataset(fifo)
        except DatasetError as exc:
            outcome.append(str(exc))

    worker = threading.Thread(target=sniff, daemon=True)
    worker.start()
    worker.join(10)
    assert not worker.is_alive(), "describe blocked on the FIFO"
    assert outcome and "not a regular file (a device, pipe or socket)" in outcome[0]
    with pytest.raises(DatasetError, match="not a regular file"):
        describe_dataset(fifo, format="features")
    code, _, err = _cli(capsys, str(fifo))
    assert code == 2 and "not a regular file" in err
    assert main(["train", "--dataset", str(fifo), "--model", "logreg"]) == 2
    assert "not a regular file" in capsys.readouterr().err
    assert time.monotonic() - t0 < 10


def test_explore_dataset_tab_describes_the_chosen_fma_subset(fma_tracks, monkeypatch):
    testing = pytest.importorskip("streamlit.testing.v1")
    monkeypatch.setenv("MUSICTAG_TEST_FMA_TRACKS", str(fma_tracks))

    def page() -> None:
        import os

        from musictag_core.datasets import open_dataset
        from pages._ui.describe import render_description

        index = open_dataset(os.environ["MUSICTAG_TEST_FMA_TRACKS"], missing="keep")
        render_description(index)

    at = testing.AppTest.from_function(page, default_timeout=60)
    at.run()
    assert not at.exception

    def tracks() -> int:
        return int(next(m for m in at.metric if m.label == "Tracks").value)

    control = at.segmented_control(key="explore_fma_subset")
    assert control.value == "small" and list(control.options) == ["small", "medium", "large"]
    assert tracks() == describe_dataset(fma_tracks)["n_tracks"]
    control.set_value("medium").run()
    assert not at.exception
    assert tracks() == describe_dataset(fma_tracks, subset="medium")["n_tracks"]
    captions = " ".join(c.value for c in at.caption)
    assert "Described: FMA's 'medium' subset" in captions and "only FMA's 'medium' subset is counted" in captions
