"""The hard demo corpus ``demo-hard`` (#13): deterministic, its own cache folder, production varied per clip.

How hard it is (single-style silhouette on MFCC statistics, the spread of fast-preset
accuracies) is measured by ``bench/bench_train.py --only demo_hard``, not here.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from musictag_core.datasets import detect_format, open_dataset
from musictag_core.datasets.demo import DEMO_VARIANTS, demo_folder_name, demo_plan_index, generate_demo_corpus
from musictag_core.datasets.demo.hard import NEIGHBOURS, apply_production, draw_production
from musictag_core.errors import ParameterError


def _digests(folder) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*.wav"))}


@pytest.mark.slow
def test_hard_corpus_is_deterministic_and_differs_from_the_easy_one(tmp_path):
    kw = {"n_per_style": 2, "n_blends": 4, "seed": 3, "duration_range": (1.0, 1.5), "sr": 16000}
    a = generate_demo_corpus(tmp_path / "a", variant="demo-hard", **kw)
    b = generate_demo_corpus(tmp_path / "b", variant="demo-hard", **kw)
    easy = generate_demo_corpus(tmp_path / "easy", **kw)
    assert _digests(a) == _digests(b) and len(_digests(a)) == 16
    assert _digests(a) != _digests(easy)  # same names, other audio
    assert set(_digests(a)) == set(_digests(easy))
    meta = json.loads((a / "metadata.json").read_text())
    assert meta["version"] == "demo-hard-v1" and meta["variant"] == "demo-hard"
    productions = [c["production"] for c in meta["clips"]]
    assert len({p["snr_db"] for p in productions}) == 16  # every clip has its own production
    for clip in meta["clips"]:  # a borrowed harmony comes from a neighbouring style; the label stays the rhythm's
        if clip["production"]["harmony_from"]:
            assert clip["harmony_style"] in NEIGHBOURS[clip["style"]] and clip["strengths"] == {clip["style"]: 100}
    assert "production" not in json.loads((easy / "metadata.json").read_text())["clips"][0]


def test_production_draws_are_stable_and_shared_instruments_follow_the_neighbours():
    draws = [draw_production(0, style, i, single=True) for style in NEIGHBOURS for i in range(40)]
    assert draws[:3] == [draw_production(0, "electronic", i, single=True) for i in range(3)]
    shared = [d for d in draws if d["harmony_from"]]
    assert 0.1 < len(shared) / len(draws) < 0.45
    drums = [d["drums_from"] for d in draws if d["drums_from"]]
    assert drums and set(drums) <= {"electronic", "jazz", "hiphop", "rock"}
    assert all(draw_production(0, "rock", i, single=False)["harmony_from"] is None for i in range(20))  # blends keep theirs
    for style, near in NEIGHBOURS.items():  # neighbours are symmetric: the confusions they cause are too
        assert all(style in NEIGHBOURS[n] for n in near)


def test_apply_production_keeps_length_and_adds_the_drawn_noise_floor():
    rng = np.random.default_rng(0)
    t = np.arange(16000) / 16000
    y = np.sin(2 * np.pi * 440 * t)
    prod = {**draw_production(1, "jazz", 0, single=True), "snr_db": 20.0, "noise_colour": 0, "comp_ratio": 1.0,
            "peak_db": 0.0, "tilt_db_per_octave": 0.0}
    out = apply_production(y, sr=16000, production=prod, rng=rng)
    assert out.shape == y.shape and np.all(np.isfinite(out))
    clean = apply_production(y, sr=16000, production={**prod, "snr_db": 200.0}, rng=np.random.default_rng(0))
    noise = out - clean
    snr = 10 * np.log10(np.mean(clean**2) / np.mean(noise**2))
    assert snr == pytest.approx(20.0, abs=0.5)


@pytest.mark.slow
def test_demo_hard_is_a_dataset_spec_with_its_own_cache_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("MUSICTAG_CACHE", str(tmp_path))
    assert detect_format("demo-hard") == "demo"
    assert demo_folder_name(variant="demo-hard") == "demo-hard-v1-seed0" and demo_folder_name() == "demo-v1-seed0"
    assert DEMO_VARIANTS["demo"].version == "demo-v1"  # the easy corpus keeps its name: old runs stay reproducible
    plan = demo_plan_index(variant="demo-hard")
    assert len(plan) == 150 and plan.kind == "demo"
    assert plan.tracks["path"].iloc[0].startswith(str(tmp_path / "demo-hard-v1-seed0"))
    with pytest.raises(ParameterError, match="unknown demo corpus"):
        demo_plan_index(variant="demo-medium")
    # a small hard corpus in the cache opens through open_dataset like the easy one
    from musictag_core.datasets.demo import demo_corpus_dir

    folder = demo_corpus_dir(variant="demo-hard", n_per_style=1, n_jobs=1)
    assert folder.name == "demo-hard-v1-seed0-n1"
    index = open_dataset("demo-hard", n_per_style=1)
    assert index.kind == "demo" and len(index) == 8 and index.root == str(folder)
