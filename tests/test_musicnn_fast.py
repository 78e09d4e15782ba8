"""The folded musicnn graph equals the Keras model it is built from."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from musictag_core.errors import ModelError
from musictag_core.models.loading import load_tagger
from musictag_core.models.musicnn import MusicnnTagger
from musictag_core.predict import tag_array

CLIPS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "clips"
needs_clips = pytest.mark.skipif(not CLIPS.is_dir(), reason="../shared/data/clips is not present")


def _real_patches(tagger, n: int) -> np.ndarray:
    from musictag_core.audio import load_audio

    parts = [load_audio(p, sr=tagger.sr)[0] for p in sorted(CLIPS.glob("*.00000.wav"))[:3]]
    patches, _ = tagger.patches(np.concatenate(parts))
    return patches[np.linspace(0, len(patches) - 1, n).astype(int)]


@pytest.mark.slow
@needs_clips
@pytest.mark.parametrize("name", ["MSD_musicnn", "MTT_musicnn"])
def test_fast_graph_equals_keras_on_real_patches(name):
    from musictag_core.models.musicnn.fast import musicnn_forward

    tagger = load_tagger(name)
    x = _real_patches(tagger, 12)
    ref = tagger.model_(x, training=False)
    out = musicnn_forward(tagger.model_)(x)
    assert set(out) == set(ref)
    np.testing.assert_allclose(out["tags"].numpy(), ref["tags"].numpy(), atol=1e-5, rtol=0)
    for key in ("pooled", "penultimate"):
        r = ref[key].numpy()
        np.testing.assert_allclose(out[key].numpy(), r, atol=1e-5 * (1 + np.abs(r).max()), rtol=0, err_msg=key)


@pytest.mark.slow
def test_fast_graph_any_length_and_negative_bn_scales():
    """A random musicnn with many negative BatchNorm scales, on a shorter input."""
    import keras

    from musictag_core.models.musicnn.build import MusicnnConfig, build_musicnn
    from musictag_core.models.musicnn.fast import fold_musicnn, musicnn_forward

    model = build_musicnn(MusicnnConfig(n_labels=5, patch_frames=None, filters_frontend=0.25,
                                        filters_midend=8, units_backend=16))  # fmt: skip
    rng = np.random.default_rng(3)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            gamma, beta, mean, var = layer.get_weights()
            layer.set_weights([
                rng.normal(0, 1, gamma.shape).astype(np.float32), rng.normal(0, 0.5, beta.shape).astype(np.float32),
                rng.normal(0, 0.5, mean.shape).astype(np.float32), rng.uniform(0.5, 2, var.shape).astype(np.float32),
            ])  # fmt: skip
    folded = fold_musicnn(model)
    assert any((b["sign"] < 0).any() for b in folded["timbral"] + folded["temporal"])
    x = rng.uniform(0, 3, (3, 80, 96)).astype(np.float32)
    ref = model(x, training=False)
    out = musicnn_forward(model)(x)
    for key in ("tags", "pooled", "penultimate"):
        r = ref[key].numpy()
        np.testing.assert_allclose(out[key].numpy(), r, atol=1e-5 * (1 + np.abs(r).max()), rtol=0, err_msg=key)


@pytest.mark.slow
def test_fold_rejects_other_models():
    from musictag_core.models.musicnn.build import VGGConfig, build_vgg
    from musictag_core.models.musicnn.fast import fold_musicnn

    with pytest.raises(ModelError, match="not a musicnn"):
        fold_musicnn(build_vgg(VGGConfig(n_labels=3, filters=4)))


@pytest.mark.slow
def test_tagger_fast_and_keras_paths_agree():
    msd = load_tagger("MSD_musicnn")
    assert msd.fast
    keras_path = MusicnnTagger(msd.path, msd.card, fast=False, warmup=False, batch_size=4)
    assert not keras_path.fast
    rng = np.random.default_rng(1)
    y = (0.1 * rng.standard_normal(16000 * 20)).astype(np.float32)
    a = tag_array(y, sr=16000, model=msd)
    b = tag_array(y, sr=16000, model=keras_path)
    assert a.segment_scores.shape == b.segment_scores.shape == (6, 50)
    np.testing.assert_allclose(a.segment_scores, b.segment_scores, atol=1e-5)


def test_settle_runs_full_batches_and_leaves_the_scores_alone():
    from musictag_core.errors import ParameterError

    tagger = load_tagger("MSD_musicnn")
    y = np.random.default_rng(3).standard_normal(16000 * 7).astype(np.float32) * 0.1
    before = tag_array(y, sr=16000, model=tagger).scores
    tagger.settle(rounds=1)
    after = tag_array(y, sr=16000, model=tagger).scores
    np.testing.assert_array_equal(np.asarray(before), np.asarray(after))
    with pytest.raises(ParameterError, match="rounds"):
        tagger.settle(rounds=-1)
