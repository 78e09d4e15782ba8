"""Tests of the synthesised demo corpus (musictag_core.datasets.demo)."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from musictag_core.cli import main
from musictag_core.datasets.base import DatasetIndex
from musictag_core.datasets.demo import (
    BLEND_PAIRS,
    DEMO_STYLES,
    demo_corpus_dir,
    draw_clip_params,
    generate_demo_corpus,
    load_demo,
    render_clip,
    synthesize_clip,
)
from musictag_core.errors import ParameterError

SR = 22050


def _hashes(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*.wav"))
    }


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("demo") / "corpus"
    return generate_demo_corpus(out, n_per_style=2, n_blends=4, seed=7, duration_range=(2.0, 3.0))


# --------------------------------------------------------------------------- single clips


@pytest.mark.parametrize("style", DEMO_STYLES)
def test_synthesize_clip_is_sane_audio(style):
    y = synthesize_clip(style, rng=np.random.default_rng(0), sr=SR, duration=3.0)
    assert y.dtype == np.float32
    assert y.shape == (3 * SR,)
    assert np.all(np.isfinite(y))
    peak = np.abs(y).max()
    assert 0.85 <= peak <= 0.9 + 1e-6  # peak-normalised, never clipping
    assert np.sqrt(np.mean(y**2)) > 0.02  # not silent
    # not silent anywhere in the middle either (every half second has signal)
    frames = y[: (len(y) // (SR // 2)) * (SR // 2)].reshape(-1, SR // 2)
    assert np.all(np.sqrt(np.mean(frames[1:-1] ** 2, axis=1)) > 1e-3)


def test_synthesize_clip_is_deterministic_per_generator():
    a = synthesize_clip("jazz", rng=np.random.default_rng(3), duration=2.0)
    b = synthesize_clip("jazz", rng=np.random.default_rng(3), duration=2.0)
    c = synthesize_clip("jazz", rng=np.random.default_rng(4), duration=2.0)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a[: len(c)], c[: len(a)])


def test_blend_uses_both_styles():
    rng = np.random.default_rng(1)
    p = draw_clip_params("hiphop", rng=rng, duration=2.0, harmony_style="jazz")
    assert (p.style, p.harmony_style) == ("hiphop", "jazz")
    assert 85 <= p.tempo <= 95  # tempo from the rhythm style
    assert p.progression[0][1] in ("m7", "maj7", "m7b5")  # jazz harmony
    y = render_clip(p, rng=rng)
    assert y.shape == (2 * SR,) and np.all(np.isfinite(y))


@pytest.mark.parametrize(
    ("style", "tempo"),
    [("electronic", (120, 130)), ("jazz", (110, 160)), ("rock", (100, 140)), ("ambient", (60, 80)),
     ("hiphop", (85, 95)), ("classical", (70, 110))],
)
def test_drawn_parameters_respect_style_ranges(style, tempo):
    rng = np.random.default_rng(11)
    draws = [draw_clip_params(style, rng=rng) for _ in range(30)]
    assert all(tempo[0] <= d.tempo <= tempo[1] for d in draws)
    assert all(10.0 <= d.duration <= 30.0 for d in draws)
    assert len({d.key for d in draws}) > 4  # keys vary per clip
    assert len({d.variant for d in draws}) > 1  # so does the arrangement
    swung = [d.swing for d in draws]
    if style in ("jazz", "hiphop"):
        assert min(swung) > 0.55
    else:
        assert max(swung) == 0.5
    json.dumps(draws[0].to_dict())  # serialisable for metadata.json


def test_bad_arguments_raise_parameter_errors(tmp_path):
    with pytest.raises(ParameterError, match="polka"):
        synthesize_clip("polka", rng=np.random.default_rng(0), duration=1.0)
    with pytest.raises(ParameterError, match="duration"):
        synthesize_clip("rock", rng=np.random.default_rng(0), duration=0.0)
    with pytest.raises(ParameterError, match="n_per_style"):
        generate_demo_corpus(tmp_path, n_per_style=0)
    with pytest.raises(ParameterError, match="duration_range"):
        generate_demo_corpus(tmp_path, n_per_style=1, duration_range=(5.0, 2.0))


# --------------------------------------------------------------------------- the corpus on disk


def test_corpus_files_and_csv(corpus):
    table = pd.read_csv(corpus / "strengths.csv")
    assert list(table.columns) == ["track_id", "path", "artist", *DEMO_STYLES]
    assert len(table) == 2 * len(DEMO_STYLES) + 4
    assert table["track_id"].is_unique
    for rel in table["path"]:
        assert not Path(rel).is_absolute()
        path = corpus / rel
        assert path.is_file()
        info = sf.info(str(path))
        assert (info.samplerate, info.channels, info.subtype, info.format) == (SR, 1, "PCM_16", "WAV")
        assert 2.0 - 1e-3 <= info.duration <= 3.0 + 1e-3
    assert not list(corpus.rglob("*.tmp*"))  # atomic writes leave no temporaries
    singles = table[~table["track_id"].str.contains("+", regex=False)]
    for style in DEMO_STYLES:
        assert (singles["path"].str.startswith(f"{style}/{style}.")).sum() == 2


def test_strengths_single_and_blends(corpus):
    table = pd.read_csv(corpus / "strengths.csv")
    s = table[list(DEMO_STYLES)].to_numpy()
    assert s.min() >= 0 and s.max() <= 100
    blend = table["track_id"].str.contains("+", regex=False).to_numpy()
    assert blend.sum() == 4
    single = s[~blend]
    assert np.all((single == 100).sum(axis=1) == 1) and np.all((single == 0).sum(axis=1) == len(DEMO_STYLES) - 1)
    for row, rec in zip(s[blend], table[blend].itertuples()):
        nz = np.flatnonzero(row)
        assert len(nz) == 2
        assert row.max() >= 50 and row.max() < 100
        # the file sits in the folder of its stronger style
        assert rec.path.split("/")[0] == DEMO_STYLES[int(np.argmax(row))]
        pair = {DEMO_STYLES[i] for i in nz}
        assert any(pair == set(p) for p in BLEND_PAIRS)


def test_generic_readers_agree_with_the_demo_index(corpus):
    from musictag_core.datasets import read_folder, read_strengths_csv
    from musictag_core.datasets.demo import read_corpus

    ours = read_corpus(corpus, name="demo")
    generic = read_strengths_csv(corpus / "strengths.csv")
    assert generic.labels == ours.labels
    np.testing.assert_array_equal(generic.strengths, ours.strengths)
    assert list(generic.tracks["track_id"]) == list(ours.tracks["track_id"])
    assert list(generic.tracks["artist"]) == list(ours.tracks["artist"])
    assert [Path(p).resolve() for p in generic.tracks["path"]] == [Path(p) for p in ours.tracks["path"]]
    # the GTZAN-style folder view files every clip (blends too) under its strongest style
    folder = read_folder(corpus)
    by_id = dict(zip(ours.tracks["path"], ours.genre))
    assert {Path(p).resolve(): g for p, g in zip(folder.tracks["path"], folder.genre)} == {
        Path(p): g for p, g in by_id.items()
    }


def test_artists_and_metadata(corpus):
    table = pd.read_csv(corpus / "strengths.csv")
    assert table["artist"].notna().all()
    assert table.loc[0, "artist"] == "electronic_0" and table.loc[1, "artist"] == "electronic_1"
    meta = json.loads((corpus / "metadata.json").read_text())
    assert meta["version"] == "demo-v1" and meta["seed"] == 7
    assert meta["styles"] == list(DEMO_STYLES)
    assert meta["n_clips"] == len(table)
    assert meta["counts"] == {**{s: 2 for s in DEMO_STYLES}, "blends": 4}
    clips = {c["track_id"]: c for c in meta["clips"]}
    assert set(clips) == set(table["track_id"])
    for c in clips.values():
        assert {"tempo", "key", "key_name", "duration", "progression", "style", "harmony_style"} <= set(c)
        wav = sf.info(str(corpus / table.set_index("track_id").loc[c["track_id"], "path"]))
        assert abs(wav.duration - c["duration"]) < 1e-3


def test_same_seed_gives_identical_files_and_other_seed_differs(corpus, tmp_path):
    again = generate_demo_corpus(tmp_path / "again", n_per_style=2, n_blends=4, seed=7,
                                 duration_range=(2.0, 3.0), n_jobs=2)
    assert _hashes(again) == _hashes(corpus)
    assert (again / "strengths.csv").read_bytes() == (corpus / "strengths.csv").read_bytes()
    other = generate_demo_corpus(tmp_path / "other", n_per_style=1, n_blends=0, seed=8, duration_range=(2.0, 3.0))
    h_other = _hashes(other)
    h_corpus = _hashes(corpus)
    assert h_other["jazz/jazz.000.wav"] != h_corpus["jazz/jazz.000.wav"]


def test_progress_is_reported(tmp_path):
    calls = []
    generate_demo_corpus(tmp_path, n_per_style=1, n_blends=1, duration_range=(1.0, 1.0),
                         progress=lambda done, total: calls.append((done, total)))
    assert calls == [(i, 7) for i in range(1, 8)]


# --------------------------------------------------------------------------- cache and index


def test_demo_corpus_dir_generates_once_and_load_demo(tmp_path, monkeypatch):
    monkeypatch.setenv("MUSICTAG_CACHE", str(tmp_path))
    calls = []
    folder = demo_corpus_dir(seed=3, n_per_style=1, progress=lambda d, t: calls.append(d))
    assert folder == tmp_path / "demo-v1-seed3-n1"
    assert len(calls) == 7  # 6 singles + 1 blend
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # temporary folder renamed away
    again = demo_corpus_dir(seed=3, n_per_style=1, progress=lambda d, t: calls.append(d))
    assert again == folder and len(calls) == 7  # reused, not regenerated

    index = load_demo(seed=3, n_per_style=1)
    assert isinstance(index, DatasetIndex)
    assert index.kind == "demo" and index.labels == list(DEMO_STYLES)
    assert len(index) == 7 and index.task == "multi"
    assert all(Path(p).is_absolute() and Path(p).is_file() for p in index.tracks["path"])
    assert index.tracks["artist"].notna().all()
    assert index.strengths.shape == (7, len(DEMO_STYLES))
    assert index.genre.iloc[0] == "electronic"
    assert load_demo(seed=3, n_per_style=1, threshold=40).threshold == 40

    from musictag_core.datasets import open_dataset

    opened = open_dataset("demo", seed=3, n_per_style=1)
    assert opened.kind == "demo" and len(opened) == 7


def test_incomplete_cache_folder_is_regenerated(tmp_path, monkeypatch):
    monkeypatch.setenv("MUSICTAG_CACHE", str(tmp_path))
    broken = tmp_path / "demo-v1-seed5-n1"
    (broken / "jazz").mkdir(parents=True)
    (broken / "jazz" / "jazz.000.wav").write_bytes(b"not audio")
    folder = demo_corpus_dir(seed=5, n_per_style=1)
    assert folder == broken
    assert json.loads((folder / "metadata.json").read_text())["n_clips"] == 7
    assert sf.info(str(folder / "jazz" / "jazz.000.wav")).samplerate == SR


def _corpus_dir_in_child(seed: int) -> str:
    return str(demo_corpus_dir(seed=seed, n_per_style=1, n_jobs=1))


def test_two_processes_generating_at_once_agree(tmp_path, monkeypatch):
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    monkeypatch.setenv("MUSICTAG_CACHE", str(tmp_path))
    with ProcessPoolExecutor(2, mp_context=mp.get_context("fork")) as pool:
        folders = list(pool.map(_corpus_dir_in_child, [9, 9]))
    assert folders[0] == folders[1] == str(tmp_path / "demo-v1-seed9-n1")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo-v1-seed9-n1"]  # loser's copy removed
    assert len(load_demo(seed=9, n_per_style=1)) == 7


# --------------------------------------------------------------------------- command line


def test_cli_demo_data_writes_the_tree(tmp_path, capsys):
    out = tmp_path / "cli"
    code = main(["demo-data", "--out", str(out), "--per-style", "1", "--blends", "1", "--seed", "2"])
    assert code == 0
    assert "wrote 7 clips" in capsys.readouterr().out
    assert (out / "strengths.csv").is_file() and (out / "metadata.json").is_file()
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == sorted(DEMO_STYLES)
    assert len(list(out.glob("*/*.wav"))) == 7


def test_cli_rejects_bad_size(tmp_path, capsys):
    assert main(["demo-data", "--out", str(tmp_path), "--per-style", "0"]) == 2
    assert "n_per_style" in capsys.readouterr().err


# --------------------------------------------------------------------------- musically meaningful


@pytest.fixture(scope="module")
def small_set():
    clips = []
    for s_i, style in enumerate(DEMO_STYLES):
        for i in range(4):
            rng = np.random.default_rng([100, s_i, i])
            p = draw_clip_params(style, rng=rng, duration=10.0)
            clips.append((style, p, render_clip(p, rng=rng)))
    return clips


def test_styles_separate_with_mfcc_statistics(small_set):
    librosa = pytest.importorskip("librosa")
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, labels = [], []
    for style, _, y in small_set:
        m = librosa.feature.mfcc(y=y, sr=SR, n_mfcc=20)
        X.append(np.concatenate([m.mean(axis=1), m.std(axis=1)]))
        labels.append(style)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    cv = StratifiedKFold(n_splits=4, shuffle=True, random_state=0)
    acc = cross_val_score(model, np.array(X), np.array(labels), cv=cv).mean()
    assert acc > 0.8, f"cross-validated accuracy {acc:.2f}"


def test_tempo_and_percussiveness_follow_the_style(small_set):
    librosa = pytest.importorskip("librosa")

    def onset_env(y):
        return librosa.onset.onset_strength(y=y, sr=SR)

    electronic = [(p, y) for s, p, y in small_set if s == "electronic"]
    ambient = [y for s, _, y in small_set if s == "ambient"]
    hits = 0
    for p, y in electronic:
        est = float(np.atleast_1d(librosa.feature.tempo(onset_envelope=onset_env(y), sr=SR))[0])
        ratio = est / p.tempo
        hits += any(abs(ratio - r) < 0.04 * r for r in (0.5, 1.0, 2.0))
    assert hits >= 3  # the four-on-the-floor tempo is recoverable

    # onsets: a beat-driven style pulses far more strongly than slow pads
    def pulse(y):
        env = onset_env(y)
        return float(env.std() / (env.mean() + 1e-9))

    assert np.median([pulse(y) for _, y in electronic]) > 1.5 * np.median([pulse(y) for y in ambient])

    # harmonic/percussive balance: drums-free styles are mostly harmonic
    def perc_share(y):
        h, p = librosa.effects.hpss(y[: 4 * SR])
        return float(np.sum(p**2) / (np.sum(h**2) + np.sum(p**2)))

    share = {s: np.median([perc_share(y) for st, _, y in small_set if st == s]) for s in ("rock", "hiphop",
                                                                                           "ambient", "classical")}
    assert min(share["rock"], share["hiphop"]) > max(share["ambient"], share["classical"])


def test_spectral_centroid_orders_bright_and_dark_styles(small_set):
    librosa = pytest.importorskip("librosa")
    cent = {
        s: np.median([float(librosa.feature.spectral_centroid(y=y, sr=SR).mean()) for st, _, y in small_set if st == s])
        for s in DEMO_STYLES
    }
    assert cent["rock"] > cent["ambient"]  # distorted guitars are brighter than low-passed pads
    assert cent["electronic"] > cent["ambient"]


# --------------------------------------------------------------------------- full size


@pytest.mark.slow
def test_full_default_corpus(tmp_path, record_property):
    t0 = time.perf_counter()
    out = generate_demo_corpus(tmp_path / "full", n_jobs=2)
    elapsed = time.perf_counter() - t0
    record_property("generation_s", round(elapsed, 1))
    print(f"full demo corpus: {elapsed:.1f} s")
    table = pd.read_csv(out / "strengths.csv")
    assert len(table) == 20 * len(DEMO_STYLES) + 18
    durations = [sf.info(str(out / p)).duration for p in table["path"]]
    assert min(durations) >= 10.0 - 1e-3 and max(durations) <= 30.0 + 1e-3
    assert table.groupby(table["artist"].str.split("_").str[0]).artist.nunique().min() == 5
