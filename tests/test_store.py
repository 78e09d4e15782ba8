from __future__ import annotations

import numpy as np
import pytest

from musictag_core.audio import load_audio
from musictag_core.config import AudioConfig, FeatureConfig, PipelineConfig, segment_preset
from musictag_core.errors import ParameterError
from musictag_core.features import STAT_NAMES, extract_frames
from musictag_core.segments import cut_segments
from musictag_core.store import FeatureStore, extract_paths, file_digest

from .helpers import write_tone


@pytest.fixture
def files(tmp_path):
    paths = [write_tone(tmp_path / f"t{i}.wav", freq=220.0 * (i + 1), duration=3.0 + i) for i in range(3)]
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF....WAVEnot really")
    return paths, bad


PIPE = PipelineConfig(
    audio=AudioConfig(duration=30.0),
    segments=segment_preset("patches3"),
    features=FeatureConfig(kind="mfcc"),
)


def test_extraction_values_cache_and_failures(tmp_path, files):
    paths, bad = files
    calls = []
    result = extract_paths([*paths, bad], pipeline=PIPE, root=tmp_path / "cache", n_jobs=1,
                           progress=lambda d, n: calls.append((d, n)))
    assert result.n_computed == 3 and result.n_cached == 0
    assert list(result.failures) == [str(bad)] and "bad.wav" in result.failures[str(bad)]
    assert calls[-1] == (4, 4)
    # values equal the stages run by hand
    y, sr = load_audio(paths[1])
    expected = extract_frames(cut_segments(y, sr=sr, config=PIPE.segments).data)
    np.testing.assert_array_equal(result.features(1), expected)
    assert result.features(1).shape == (1, 130, 13)
    X, pos, starts = result.stacked()
    assert X.shape[0] == 1 + 1 + 1 and list(pos) == [0, 1, 2]
    # second run: everything from the cache
    again = extract_paths([*paths, bad], pipeline=PIPE, root=tmp_path / "cache", n_jobs=1)
    assert again.n_cached == 3 and again.n_computed == 0
    np.testing.assert_array_equal(again.features(2), result.features(2))
    with pytest.raises(ParameterError, match="failed"):
        result.features(3)


def test_parallel_equals_sequential(tmp_path, files):
    paths, _ = files
    seq = extract_paths(paths, pipeline=PIPE, root=tmp_path / "a", n_jobs=1)
    par = extract_paths(paths, pipeline=PIPE, root=tmp_path / "b", n_jobs=2)
    for i in range(3):
        np.testing.assert_array_equal(seq.features(i), par.features(i))


def test_cache_is_content_addressed_and_keyed_by_parameters(tmp_path, files):
    paths, _ = files
    moved = tmp_path / "renamed.wav"
    moved.write_bytes(paths[0].read_bytes())
    a = extract_paths([paths[0]], pipeline=PIPE, root=tmp_path / "c", n_jobs=1)
    b = extract_paths([moved], pipeline=PIPE, root=tmp_path / "c", n_jobs=1)
    assert b.n_cached == 1 and a.digests == b.digests == [file_digest(moved)]
    other = PIPE.replace(features=FeatureConfig(kind="logmel"))
    c = extract_paths([moved], pipeline=other, root=tmp_path / "c", n_jobs=1)
    assert c.n_computed == 1 and c.features(0).shape[-1] == 128


def test_writes_are_atomic_and_entries_readable_alone(tmp_path, files):
    paths, _ = files
    r = extract_paths(paths, pipeline=PIPE, root=tmp_path / "c", n_jobs=1)
    store = r.store
    assert not list(store.folder.rglob(".tmp-*"))
    assert sorted(store.digests()) == sorted(r.digests)
    one = store.load(r.digests[0], mmap_mode="r")
    assert isinstance(one, np.memmap)
    # a half-written entry (as a crash would leave without the rename) is ignored, not trusted
    store.path_for(r.digests[0]).write_bytes(b"\x93NUMPY garbage")
    assert store.load(r.digests[0]) is None
    again = extract_paths(paths, pipeline=PIPE, root=tmp_path / "c", n_jobs=1)
    assert (again.n_cached, again.n_computed) == (2, 1)
    np.testing.assert_array_equal(again.features(0), store.load(r.digests[0]))


def test_stats_kind(tmp_path, files):
    paths, _ = files
    pipe = PipelineConfig(features=FeatureConfig(kind="stats"))
    r = extract_paths(paths, pipeline=pipe, root=tmp_path / "s", n_jobs=1)
    X, pos, _ = r.stacked()
    assert X.shape == (3, len(STAT_NAMES))


def test_random_crops_are_not_cacheable(tmp_path):
    with pytest.raises(ParameterError, match="random crops"):
        FeatureStore(pipeline=PIPE.replace(segments=segment_preset("crop30")), root=tmp_path)


@pytest.mark.slow
def test_dask_cluster_matches_local_bit_for_bit(tmp_path, files):
    distributed = pytest.importorskip("dask.distributed")
    paths, bad = files
    local = extract_paths([*paths, bad], pipeline=PIPE, root=tmp_path / "local", n_jobs=1)
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        remote = extract_paths(
            [*paths, bad], pipeline=PIPE, root=tmp_path / "dask", scheduler=cluster.scheduler_address
        )
    assert remote.n_computed == 3 and list(remote.failures) == [str(bad)]
    assert remote.digests == local.digests
    for i in range(3):
        np.testing.assert_array_equal(remote.features(i), local.features(i))


def test_unreachable_scheduler_is_a_clear_error(tmp_path, files):
    paths, _ = files
    with pytest.raises(ParameterError, match="cannot reach the Dask scheduler"):
        extract_paths(paths, pipeline=PIPE, root=tmp_path, scheduler="tcp://127.0.0.1:9", scheduler_timeout=2)
