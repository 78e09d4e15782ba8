"""The fast tagging path: numpy mel, cached folded weights, lean imports, tag_files (#12)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from musictag_core.batchtag import tag_files
from musictag_core.errors import AudioError, ParameterError
from musictag_core.models.loading import load_tagger
from musictag_core.models.musicnn import MusicnnTagger
from musictag_core.models.musicnn.frontend import mel_filters, musicnn_mel
from musictag_core.predict import tag_file

from .helpers import CLIPS, needs_clips


@pytest.fixture(scope="module")
def msd():
    return load_tagger("MSD_musicnn")


def _wav(path, y, sr=16000):
    import soundfile as sf

    sf.write(path, y, sr, subtype="FLOAT")
    return path


def _librosa_mel(y: np.ndarray) -> np.ndarray:
    import librosa

    S = librosa.feature.melspectrogram(y=y, sr=16000, n_fft=512, hop_length=256, n_mels=96).T
    return np.log10(np.float32(10000.0) * S.astype(np.float32) + np.float32(1.0))


def test_mel_filters_equal_librosa():
    import librosa

    for sr, n_fft, n_mels in ((16000, 512, 96), (22050, 2048, 128)):
        np.testing.assert_allclose(
            mel_filters(sr=sr, n_fft=n_fft, n_mels=n_mels), librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels),
            rtol=1e-5, atol=1e-9,
        )  # fmt: skip


@needs_clips
def test_numpy_mel_equals_librosa_on_real_clips_and_short_inputs():
    from musictag_core.audio import load_audio

    for name in ("blues.00000.wav", "metal.00000.wav", "blues.00099.mp3"):
        y, _ = load_audio(CLIPS / name, sr=16000)
        ours, ref = musicnn_mel(y), _librosa_mel(y)
        assert ours.shape == ref.shape == (1 + len(y) // 256, 96) and ours.dtype == np.float32
        np.testing.assert_allclose(ours, ref, atol=2e-5, rtol=0, err_msg=name)
    rng = np.random.default_rng(0)
    for n in (1, 255, 511, 513, 3000):
        y = rng.standard_normal(n).astype(np.float32)
        np.testing.assert_allclose(musicnn_mel(y), _librosa_mel(y), atol=2e-5, rtol=0, err_msg=str(n))


@pytest.mark.slow
@needs_clips
def test_folded_weights_are_cached_and_the_cached_graph_equals_keras(tmp_path, monkeypatch, msd):
    monkeypatch.setenv("MUSICTAG_CACHE", str(tmp_path))
    first = MusicnnTagger(msd.path, msd.card, warmup=False)
    y = np.concatenate(_clip_waves(3))
    patches, _ = first.patches(y)
    a = first.forward(patches)
    cached = list((tmp_path / "musicnn-folded").glob("*.npz"))
    assert len(cached) == 1 and first._model is not None  # folded from the Keras model once
    second = MusicnnTagger(msd.path, msd.card, warmup=False)
    b = second.forward(patches)
    assert second._model is None  # read from the cache: Keras model never loaded
    ref = msd.model_(patches, training=False)
    for key in ("tags", "pooled", "penultimate"):
        np.testing.assert_array_equal(a[key], b[key])
        r = ref[key].numpy()
        np.testing.assert_allclose(b[key], r, atol=1e-5 * (1 + np.abs(r).max()), rtol=0, err_msg=key)
    cached[0].write_bytes(b"not an npz")  # a broken cache file is folded again and replaced
    third = MusicnnTagger(msd.path, msd.card, warmup=False)
    np.testing.assert_array_equal(third.forward(patches)["tags"], a["tags"])
    assert third._model is not None and cached[0].stat().st_size > 100_000


def _clip_waves(n: int) -> list[np.ndarray]:
    from musictag_core.audio import load_audio

    return [load_audio(p, sr=16000)[0] for p in sorted(CLIPS.glob("*.00000.wav"))[:n]]


@pytest.mark.slow
@needs_clips
def test_default_tagger_track_scores_within_1e3_of_keras_float32_on_every_clip(msd):
    """The default (float32 folded) path against the Keras model itself, on every shared clip."""
    from musictag_core.audio import load_audio

    clips = sorted(p for p in CLIPS.iterdir() if p.suffix in (".wav", ".mp3"))
    assert len(clips) >= 10
    worst = 0.0
    for path in clips:
        y, _ = load_audio(path, sr=16000)
        patches, _ = msd.patches(y)
        ours = msd.forward(patches)["tags"].mean(axis=0)
        ref = msd.model_(patches, training=False)["tags"].numpy().mean(axis=0)
        worst = max(worst, float(np.abs(ours - ref).max()))
    assert worst <= 1e-3


@pytest.mark.slow
@needs_clips
def test_bfloat16_front_end_is_opt_in_and_close(msd):
    low = MusicnnTagger(msd.path, msd.card, precision="bfloat16", warmup=False)
    assert msd.precision == "float32" and low.fast
    clip = CLIPS / "blues.00000.wav"
    a, b = tag_file(clip, msd), tag_file(clip, low)
    diff = float(np.abs(a.scores - b.scores).max())
    assert 0 < diff < 0.02 and b.scores.dtype == np.float32


@needs_clips
def test_tag_files_equals_tag_file_in_order_with_failures(tmp_path, msd):
    rng = np.random.default_rng(5)
    short = _wav(tmp_path / "short.wav", (0.1 * rng.standard_normal(16000 * 2)).astype(np.float32))
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF\x00\x00\x00\x00WAVEfmt garbage")
    tiny = _wav(tmp_path / "tiny.wav", (0.1 * rng.standard_normal(1000)).astype(np.float32))
    files = [CLIPS / "blues.00000.wav", broken, short, CLIPS / "blues.00099.mp3", tiny, CLIPS / "rock.00000.wav"]
    with open(files[3], "rb") as fh:
        as_bytes = fh.read()
    sources = [*files, as_bytes, io.BytesIO(as_bytes)]
    for prefetch in (2, 0):
        got = list(tag_files(sources, msd, max_duration=20.0, prefetch=prefetch))
        assert [s for s, _ in got] == sources
        for source, pred in got:
            if source in (broken, tiny):
                assert isinstance(pred, AudioError)
                continue
            if isinstance(source, io.BytesIO):
                source.seek(0)
            ref = tag_file(source, msd, max_duration=20.0)
            assert (pred.path, pred.truncated, pred.warnings, pred.duration_s) == (
                ref.path, ref.truncated, ref.warnings, ref.duration_s,
            )  # fmt: skip
            np.testing.assert_array_equal(pred.segment_starts_s, ref.segment_starts_s)
            np.testing.assert_allclose(pred.segment_scores, ref.segment_scores, atol=1e-6, rtol=0)
        assert got[0][1].truncated and got[2][1].warnings and not got[5][1].warnings
        sources[-1].seek(0)


def test_tag_files_checks_its_arguments_before_decoding(msd):
    with pytest.raises(ParameterError, match="overlap"):
        next(tag_files(["nope.wav"], msd, overlap=5.0))
    with pytest.raises(ParameterError, match="prefetch"):
        next(tag_files(["nope.wav"], msd, prefetch=-1))
    with pytest.raises(ParameterError, match="max_duration"):
        next(tag_files(["nope.wav"], msd, max_duration=0))


def test_cli_registers_only_the_command_it_runs():
    from musictag_core.cli import build_parser

    sub = next(a for a in build_parser(only="tag")._actions if a.dest == "command")
    assert list(sub.choices) == ["tag"]
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    assert {"tag", "info", "extract", "models"} <= set(sub.choices)


@pytest.mark.slow
@needs_clips
def test_cli_tag_in_a_fresh_process_imports_neither_keras_nor_librosa(tmp_path, msd):
    env = {**os.environ, "MUSICTAG_CACHE": str(tmp_path)}
    code = (
        "import sys; from musictag_core.cli import main; rc = main(sys.argv[1:]); "
        "print(sorted(m for m in ('keras', 'librosa', 'numba', 'sklearn') if m in sys.modules), rc)"
    )
    clip = str(CLIPS / "blues.00000.wav")
    runs = []
    for _ in range(2):
        proc = subprocess.run([sys.executable, "-c", code, "tag", clip, "--json", "--top-k", "1"],
                              capture_output=True, text=True, env=env, timeout=300)  # fmt: skip
        assert proc.returncode == 0, proc.stderr[-2000:]
        runs.append(proc.stdout.strip().splitlines())
    assert "'keras'" in runs[0][-1]  # the empty cache: the first process folded the weights with Keras
    assert runs[1][-1] == "[] 0"
    assert json.loads(runs[0][0]) == json.loads(runs[1][0])
    assert json.loads(runs[1][0])["tags"][0]["label"] == "blues"
