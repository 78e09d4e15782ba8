"""Model inputs shared by training and tagging, the per-track cache, and batch sampling."""

from __future__ import annotations

import numpy as np
import pytest

from musictag_core.config import AudioConfig, FeatureConfig, PipelineConfig, SegmentConfig
from musictag_core.errors import ParameterError
from musictag_core.inputs import InputSpec, compute_inputs, crop_pieces
from musictag_core.store import ArrayCache, MmapPool, NpyFile, variant_key
from musictag_core.training.sampler import SegmentSampler, segment_loss

SR = 22050


def _tone(seconds: float, f0: float = 440.0) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    rng = np.random.default_rng(1)
    return (0.3 * np.sin(2 * np.pi * f0 * t) + 0.01 * rng.standard_normal(len(t))).astype(np.float32)


def _spec(kind: str = "logmel", seg: SegmentConfig | None = None, **feat) -> InputSpec:
    seg = seg or SegmentConfig(kind="segments", length_s=1.0, n_segments=3, max_duration_s=30.0)
    features = None if kind == "waveform" else FeatureConfig(kind=kind, n_mels=32, **feat)
    return InputSpec(kind=kind, audio=AudioConfig(sr=SR, duration=seg.max_duration_s), segments=seg, features=features)


def test_compute_inputs_equals_the_feature_store(tmp_path):
    """Training fills its cache with store.compute_track_features; the tagger calls compute_inputs."""
    import soundfile as sf

    from musictag_core.audio import load_audio
    from musictag_core.store import compute_track_features

    y = _tone(3.4)
    path = tmp_path / "t.wav"
    sf.write(path, y, SR)
    for kind in ("logmel", "mfcc", "stats"):
        spec = _spec(kind)
        stored = compute_track_features(str(path), pipeline=spec.pipeline())
        decoded, _ = load_audio(path, sr=SR)
        starts, ours = compute_inputs(decoded, spec=spec)
        np.testing.assert_array_equal(ours.reshape(stored.shape), stored)
        if kind != "stats":
            assert ours.shape == (3, 44, 32 if kind == "logmel" else 13)
            np.testing.assert_allclose(starts, [0.0, 1.0, 2.0])


def test_overlap_gives_more_segments_over_the_same_span():
    spec = _spec("logmel")
    s0, x0 = compute_inputs(_tone(3.0), spec=spec)
    s1, x1 = compute_inputs(_tone(3.0), spec=spec, overlap=0.5)
    assert len(x0) == 3 and len(x1) == 5
    np.testing.assert_allclose(s1, [0.0, 0.5, 1.0, 1.5, 2.0])
    np.testing.assert_array_equal(x1[0], x0[0])  # the first segment does not move
    with pytest.raises(ParameterError, match="overlap"):
        compute_inputs(_tone(3.0), spec=spec, overlap=1.0)


def test_random_crop_inputs_whole_clip_for_training_and_crops_for_tagging():
    seg = SegmentConfig(kind="random_crop", length_s=1.0, n_segments=None, max_duration_s=None)
    spec = _spec("logmel", seg=seg)
    assert spec.crop == 44 and spec.pipeline() is None
    _, whole = compute_inputs(_tone(2.5), spec=spec, for_training=True)
    assert whole.shape == (1, 1 + int(2.5 * SR) // 512, 32)
    starts, crops = compute_inputs(_tone(2.5), spec=spec)
    assert crops.shape == (2, 44, 32)
    np.testing.assert_array_equal(crops[1], whole[0, 44:88])
    np.testing.assert_allclose(starts, [0.0, 44 * 512 / SR])
    wspec = _spec("waveform", seg=seg)
    _, w = compute_inputs(_tone(0.5), spec=wspec, for_training=True)
    assert w.shape == (1, SR)  # padded to one crop


def test_crop_pieces_pads_short_and_drops_tails():
    a = np.arange(10.0)
    p, s = crop_pieces(a, crop=4)
    assert p.tolist() == [[0, 1, 2, 3], [4, 5, 6, 7]] and s.tolist() == [0, 4]
    p, _ = crop_pieces(a[:2], crop=4)
    assert p.tolist() == [[0, 1, 0, 0]]


def test_input_spec_round_trip_and_validation():
    spec = _spec("mfcc")
    assert InputSpec.from_dict(spec.to_dict()) == spec
    assert spec.key() == InputSpec.from_dict(spec.to_dict()).key() != _spec("logmel").key()
    with pytest.raises(ParameterError, match="FeatureConfig"):
        InputSpec(kind="mfcc", audio=AudioConfig(), segments=SegmentConfig(), features=None)
    with pytest.raises(ParameterError, match="input kind"):
        InputSpec(kind="cqt", audio=AudioConfig(), segments=SegmentConfig())


def test_array_cache_round_trip_memory_mapped(tmp_path):
    cache = ArrayCache(spec=_spec("logmel"), root=tmp_path)
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    key = variant_key({"pitch_shift": {"semitones": 1.0}})
    assert cache.load("ab" * 16) is None
    cache.save("ab" * 16, x)
    cache.save("ab" * 16, x + 1, key)
    got = cache.load("ab" * 16)
    assert isinstance(got, np.memmap)
    np.testing.assert_array_equal(got, x)
    np.testing.assert_array_equal(cache.load("ab" * 16, key), x + 1)
    assert variant_key({"a": 1}) != variant_key({"a": 2})


def _tracks(rng):
    # track i has variants of i+1 segments each; the value encodes (track, variant, segment)
    return [
        [np.array([[100 * i + 10 * v + s] * 2 for s in range(i + 1)], dtype=np.float32) for v in range(3)]
        for i in range(4)
    ]


def test_sampler_epoch_draws_one_variant_per_track_and_every_segment(rng):
    tracks = _tracks(rng)
    Y = np.eye(4, dtype=np.float32)
    s = SegmentSampler(tracks, Y, batch_size=3, rng=rng, weights=np.arange(4.0))
    variants_seen = set()
    for _ in range(6):
        xs, ys, ws = zip(*(s.batch(k) for k in range(len(s))))
        x = np.concatenate(xs)[:, 0].astype(int)
        y = np.concatenate(ys)
        track, variant, seg = x // 100, (x // 10) % 10, x % 10
        assert sorted(track.tolist()) == [0, 1, 1, 2, 2, 2, 3, 3, 3, 3]
        for i in range(4):
            assert len(set(variant[track == i])) == 1  # one variant per track per epoch
            assert sorted(seg[track == i]) == list(range(i + 1))
            variants_seen.add((i, int(variant[track == i][0])))
        np.testing.assert_array_equal(y.argmax(axis=1), track)
        np.testing.assert_array_equal(np.concatenate(ws), track.astype(float))
        s.resample()
    assert len(variants_seen) > 6  # variants change between epochs


def test_sampler_crops_and_evaluation_mode(rng):
    tracks = [[np.arange(20, dtype=np.float32)[None, :, None] + 100 * i] for i in range(3)]
    Y = np.eye(3, dtype=np.float32)
    s = SegmentSampler(tracks, Y, batch_size=8, rng=rng, crop=6)
    x, y = s.batch(0)
    assert x.shape == (3, 6, 1)
    assert np.all(np.diff(x[:, :, 0], axis=1) == 1) and np.all(x[:, 0, 0] % 100 <= 14)
    ev = SegmentSampler(tracks, Y, batch_size=4, crop=6, evaluation=True)
    assert ev.items[:, 2].tolist() == [0, 6, 12] * 3 and len(ev) == 3
    x0 = np.concatenate([ev.batch(k)[0] for k in range(len(ev))])
    ev.resample()
    x1 = np.concatenate([ev.batch(k)[0] for k in range(len(ev))])
    np.testing.assert_array_equal(x0, x1)
    with pytest.raises(ParameterError, match="rng"):
        SegmentSampler(tracks, Y, batch_size=4)
    with pytest.raises(ParameterError, match="target"):
        SegmentSampler(tracks, Y[:2], batch_size=4, rng=rng)


@pytest.mark.parametrize("task", ["single", "multi", "regression"])
def test_segment_loss_matches_keras(task, rng):
    import keras

    from musictag_core.models.neural import loss_for_task

    if task == "single":
        p = rng.dirichlet(np.ones(4), size=5)
        y = np.eye(4)[rng.integers(0, 4, 5)]
    elif task == "multi":
        p = rng.uniform(0.01, 0.99, (5, 4))
        y = (rng.random((5, 4)) > 0.5).astype(float)
    else:
        p = rng.uniform(0, 100, (5, 4))
        y = rng.uniform(0, 100, (5, 4))
    ours = segment_loss(y, p, task=task)
    ref = keras.losses.get(loss_for_task(task))(y.astype("float32"), p.astype("float32"))
    np.testing.assert_allclose(ours, np.asarray(ref), rtol=1e-4)


def test_pipeline_only_for_store_cacheable_specs():
    assert isinstance(_spec("logmel").pipeline(), PipelineConfig)
    assert _spec("waveform").pipeline() is None


@pytest.mark.parametrize("version", [(1, 0), (2, 0), (3, 0)])
def test_npy_file_reads_like_np_load(tmp_path, rng, version):
    a = rng.standard_normal((4, 6, 3)).astype(np.float32)
    path = tmp_path / "a.npy"
    with open(path, "wb") as f:
        np.lib.format.write_array(f, a, version=version)
    h = NpyFile(path, pool=MmapPool(max_open=2))
    assert h.shape == (4, 6, 3) and h.ndim == 3 and len(h) == 4 and h.dtype == np.float32
    np.testing.assert_array_equal(h[2], a[2])
    np.testing.assert_array_equal(h[1:3, ::2], a[1:3, ::2])
    np.testing.assert_array_equal(np.asarray(h), a)
    assert np.asarray(h, dtype=np.float64).dtype == np.float64
    with pytest.raises(OSError):
        NpyFile(tmp_path / "missing.npy")
    (tmp_path / "bad.npy").write_bytes(b"not an npy file")
    with pytest.raises(ValueError):
        NpyFile(tmp_path / "bad.npy")


def test_mmap_pool_keeps_at_most_max_open_maps(tmp_path):
    pool = MmapPool(max_open=3)
    handles = []
    for i in range(10):
        np.save(tmp_path / f"{i}.npy", np.full((2, 2), i, dtype=np.float32))
        handles.append(NpyFile(tmp_path / f"{i}.npy", pool=pool))
    for i, h in enumerate(handles):
        assert float(h[0, 0]) == i
        assert len(pool) <= 3
    assert float(handles[0][1, 1]) == 0.0  # evicted earlier, mapped again
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ParameterError, match="max_open"):
            MmapPool(max_open=bad)


def test_sampler_over_npy_files_stays_under_the_open_file_limit(tmp_path):
    """2 000 per-track arrays under a 256-descriptor limit: memory maps of all fail, NpyFile handles work."""
    import subprocess
    import sys
    import textwrap

    code = textwrap.dedent(
        f"""
        import os, resource, numpy as np
        from musictag_core.store import MmapPool, NpyFile
        from musictag_core.training.sampler import SegmentSampler
        root = {str(tmp_path)!r}
        paths = []
        for i in range(2000):
            p = os.path.join(root, f"{{i}}.npy")
            np.save(p, np.full((3, 5, 2), i, dtype=np.float32))
            paths.append(p)
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
        try:
            maps = [np.load(p, mmap_mode="r") for p in paths]
            print("mmaps ok")
        except OSError as exc:
            print("mmaps failed:", exc.errno)
        maps = None
        pool = MmapPool(max_open=64)
        tracks = [[NpyFile(p, pool=pool)] for p in paths]
        targets = np.eye(4, dtype=np.float32)[np.arange(2000) % 4]
        s = SegmentSampler(tracks, targets, batch_size=50, rng=np.random.default_rng(0))
        seen = 0
        for k in range(len(s)):
            x, y = s.batch(k)
            owners = s.owners(k)
            assert np.all(x[:, 0, 0] == owners), "wrong rows"
            seen += len(x)
        fds = len(os.listdir("/proc/self/fd"))
        print("batches ok", seen, fds, len(pool))
        """
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    lines = res.stdout.strip().splitlines()
    assert lines[0].startswith("mmaps failed")  # the limit is real: one descriptor per map
    _, _, seen, fds, open_maps = lines[1].split()
    assert int(seen) == 2000 * 3
    assert int(open_maps) <= 64 and int(fds) < 256
