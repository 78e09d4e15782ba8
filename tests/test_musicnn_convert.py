"""The musicnn port: front end, Keras architectures, checkpoint conversion, shipped weights."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from musictag_core.errors import ModelError, ParameterError
from musictag_core.models.musicnn.build import (
    CHECKPOINT_LAYER_NAMES,
    MusicnnConfig,
    VGGConfig,
    build_musicnn,
    build_vgg,
)
from musictag_core.models.musicnn.convert import (
    MSD_GENRES,
    MTT_GENRES,
    PRETRAINED,
    convert_checkpoint,
    convert_wheel,
    reference_outputs,
)
from musictag_core.models.musicnn.frontend import musicnn_mel, musicnn_patches, patch_hop_frames
from musictag_core.paths import assets_dir

GOLDEN = Path(__file__).with_name("fixtures") / "musicnn_golden.npz"
SHIPPED = ("MSD_musicnn", "MTT_musicnn")


@pytest.fixture(scope="module")
def golden():
    with np.load(GOLDEN) as data:
        return dict(data)


@pytest.fixture(scope="module")
def shipped_models():
    import keras

    return {
        name: keras.saving.load_model(assets_dir() / "models" / name / "model.keras", safe_mode=True, compile=False)
        for name in SHIPPED
    }


def _checkpoint_weights(model, architecture: str) -> dict[str, np.ndarray]:
    """The inverse of the conversion: Keras layers back to TF1 variable names."""
    out = {}
    for layer_name, scope in CHECKPOINT_LAYER_NAMES[architecture].items():
        layer = model.get_layer(layer_name)
        keys = (
            ["gamma", "beta", "moving_mean", "moving_variance"]
            if type(layer).__name__ == "BatchNormalization"
            else ["kernel", "bias"]
        )
        for key, w in zip(keys, layer.get_weights()):
            if key == "kernel" and w.ndim == 3:  # Conv1D kernel (7, c_in, c_out) <- Conv2D (7, c_in, 1, c_out)
                w = w[:, :, None, :]
            out[f"{scope}/{key}"] = w
    return out


# ------------------------------------------------------------------ front end


def test_mel_shape_dtype_and_no_float16_overflow():
    sr = 16000
    t = np.arange(sr * 2) / sr
    y = np.sin(2 * np.pi * 1000 * t).astype(np.float32)  # full-scale tone
    mel = musicnn_mel(y)
    assert mel.shape == (1 + len(y) // 256, 96)
    assert mel.dtype == np.float32
    assert np.all(np.isfinite(mel))
    # musicnn's own float16 cast before the log overflows on this input; ours does not.
    import librosa

    S = librosa.feature.melspectrogram(y=y, sr=sr, n_fft=512, hop_length=256, n_mels=96).T
    with np.errstate(over="ignore"):
        assert np.isinf(np.log10(10000 * S.astype(np.float16) + 1)).any()
    np.testing.assert_allclose(mel, np.log10(10000 * S + 1), rtol=1e-5, atol=1e-5)


def test_patches_non_overlapping_drop_tail():
    mel = np.arange(500 * 96, dtype=np.float32).reshape(500, 96)
    p = musicnn_patches(mel)
    assert p.shape == (2, 187, 96)
    np.testing.assert_array_equal(p[1], mel[187:374])


def test_patches_with_hop():
    mel = np.random.default_rng(0).random((400, 96), dtype=np.float32)
    p = musicnn_patches(mel, hop_frames=50)
    assert p.shape == (1 + (400 - 187) // 50, 187, 96)
    np.testing.assert_array_equal(p[3], mel[150:337])


def test_short_mel_is_repeat_padded():
    mel = np.random.default_rng(1).random((50, 96), dtype=np.float32)
    p = musicnn_patches(mel)
    assert p.shape == (1, 187, 96)
    np.testing.assert_array_equal(p[0, :50], mel)
    np.testing.assert_array_equal(p[0, 50:100], mel)
    np.testing.assert_array_equal(p[0, 150:187], mel[:37])


@pytest.mark.parametrize("overlap, hop", [(0.0, 187), (1.5, 93), (2.9, 6)])
def test_patch_hop_frames(overlap, hop):
    assert patch_hop_frames(overlap) == hop


@pytest.mark.parametrize("overlap", [-0.1, 3.0, 5, float("nan"), "1"])
def test_patch_hop_frames_rejects(overlap):
    with pytest.raises(ParameterError, match="overlap"):
        patch_hop_frames(overlap)


# --------------------------------------------------------------- architectures


def test_build_musicnn_shapes_and_params():
    model = build_musicnn()
    assert model.count_params() == 792_079  # checkpoint's 792,081 values minus Adam's two beta powers
    out = model(np.zeros((2, 187, 96), np.float32), training=False)
    assert {k: tuple(v.shape) for k, v in out.items()} == {
        "tags": (2, 50), "pooled": (2, 1506), "penultimate": (2, 200)
    }


def test_build_musicnn_any_length():
    model = build_musicnn(MusicnnConfig(patch_frames=None, n_labels=7))
    out = model(np.zeros((1, 300, 96), np.float32), training=False)
    assert tuple(out["tags"].shape) == (1, 7)


def test_build_vgg_shapes():
    model = build_vgg(VGGConfig())
    assert model.count_params() == 607_030
    assert tuple(model.output["pooled"].shape) == (None, 256)


@pytest.mark.parametrize(
    "cls, kwargs",
    [(MusicnnConfig, {"n_labels": 0}), (MusicnnConfig, {"n_mels": 40}), (MusicnnConfig, {"dropout": 1.0}),
     (VGGConfig, {"pools": ((2, 2, 2, 2),)}), (VGGConfig, {"filters": -1})],
)  # fmt: skip
def test_configs_validate(cls, kwargs):
    with pytest.raises(ParameterError):
        cls(**kwargs)


# ---------------------------------------------------------------- conversion


def test_convert_checkpoint_round_trip(shipped_models):
    model = shipped_models["MSD_musicnn"]
    weights = _checkpoint_weights(model, "musicnn")
    assert len(weights) == 64  # 66 checkpoint variables minus beta1/beta2 powers
    again = convert_checkpoint(weights, architecture="musicnn")
    x = np.random.default_rng(2).random((2, 187, 96), dtype=np.float32) * 3
    a, b = model(x, training=False), again(x, training=False)
    np.testing.assert_array_equal(np.asarray(a["tags"]), np.asarray(b["tags"]))


def test_convert_checkpoint_missing_and_unused(shipped_models):
    weights = _checkpoint_weights(shipped_models["MSD_musicnn"], "musicnn")
    missing = {k: v for k, v in weights.items() if k != "conv2d_3/bias"}
    with pytest.raises(ModelError, match="conv2d_3/bias"):
        convert_checkpoint(missing, architecture="musicnn")
    with pytest.raises(ModelError, match="not mapped"):
        convert_checkpoint({**weights, "extra/kernel": np.zeros(3)}, architecture="musicnn")
    bad = {**weights, "dense/kernel": np.zeros((10, 10), np.float32)}
    with pytest.raises(ModelError, match="does not fit"):
        convert_checkpoint(bad, architecture="musicnn")


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_port_matches_original_graph(golden, shipped_models, name):
    """Keras outputs equal the original TF1 graph's (stored) on the same float32 patches."""
    model = shipped_models[name]
    clips = [k.split("/", 1)[1] for k in golden if k.startswith("inputs/")]
    assert clips
    for clip in clips:
        x = golden[f"inputs/{clip}"].astype(np.float32)
        out = model(x, training=False)
        np.testing.assert_allclose(np.asarray(out["tags"]), golden[f"ref/{name}/{clip}/tags"], atol=1e-4)
        np.testing.assert_allclose(
            np.asarray(out["penultimate"]), golden[f"ref/{name}/{clip}/penultimate"], atol=1e-4
        )


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_card(name):
    folder = assets_dir() / "models" / name
    card = json.loads((folder / "card.json").read_text())
    assert card["name"] == name and card["format"] == "musicnn-keras"
    assert (card["sr"], card["n_fft"], card["hop_length"], card["n_mels"], card["patch_frames"]) == (
        16000, 512, 256, 96, 187
    )
    assert len(card["labels"]) == 50 and len(set(card["labels"])) == 50
    assert set(card["genres"]) <= set(card["labels"])
    assert card["genres"] == (MSD_GENRES if name.startswith("MSD") else MTT_GENRES)
    assert ("classical" in card["genres"]) == name.startswith("MTT")
    assert card["licence"] == "ISC"
    assert card["published"]["roc_auc"] == PRETRAINED[name].roc_auc
    licence = (folder / card["licence_file"]).read_text()
    assert "Permission to use, copy, modify" in licence and "Pons" in licence


# ------------------------------------------------------- against the real wheel


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The musicnn==0.1.0 wheel, downloaded once with pip (cached under MUSICTAG_CACHE if set)."""
    cache = os.environ.get("MUSICTAG_CACHE")
    folder = Path(cache) / "wheels" if cache else tmp_path_factory.mktemp("wheels")
    folder.mkdir(parents=True, exist_ok=True)
    found = sorted(folder.glob("musicnn-0.1.0-*.whl"))
    if not found:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "musicnn==0.1.0", "-d", str(folder)]
        try:
            subprocess.run(cmd, check=True, capture_output=True, timeout=300)
        except (subprocess.SubprocessError, OSError) as exc:
            pytest.skip(f"cannot download musicnn==0.1.0 with pip: {exc}")
        found = sorted(folder.glob("musicnn-0.1.0-*.whl"))
    if not found:
        pytest.skip("pip download gave no musicnn wheel")
    return found[0]


@pytest.mark.slow
def test_reconvert_from_wheel_is_identical(wheel, tmp_path, shipped_models):
    from musictag_core.cli import main

    assert main(["pretrained", "convert", "--wheel", str(wheel), "--out", str(tmp_path)]) == 0
    import keras

    for name in SHIPPED:
        fresh = keras.saving.load_model(tmp_path / name / "model.keras", safe_mode=True, compile=False)
        old = shipped_models[name]
        assert [w.path for w in fresh.weights] == [w.path for w in old.weights]
        for a, b in zip(fresh.get_weights(), old.get_weights()):
            np.testing.assert_array_equal(a, b)
        new_card = json.loads((tmp_path / name / "card.json").read_text())
        old_card = json.loads((assets_dir() / "models" / name / "card.json").read_text())
        for key in ("labels", "genres", "architecture_config", "sr", "patch_frames", "licence", "published"):
            assert new_card[key] == old_card[key]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["MSD_musicnn", "MTT_musicnn", "MSD_vgg", "MTT_vgg"])
def test_wheel_conversion_matches_original_graph(wheel, golden, name):
    """Every checkpoint, including both VGGs, against its own TF1 graph from the .meta file."""
    from musictag_core.models.musicnn.convert import read_checkpoint

    spec = PRETRAINED[name]
    model = convert_checkpoint(read_checkpoint(wheel, name), architecture=spec.architecture, config=spec.config)
    x = np.concatenate([golden[k] for k in golden if k.startswith("inputs/")]).astype(np.float32)
    ref = reference_outputs(wheel, name, x)
    out = model(x, training=False)
    for key in ref:
        np.testing.assert_allclose(np.asarray(out[key]), ref[key], atol=1e-4, rtol=1e-5)


def test_convert_wheel_rejects_bad_source(tmp_path):
    with pytest.raises(ModelError, match="no such wheel"):
        convert_wheel(tmp_path / "missing.whl", out_dir=tmp_path)
    bad = tmp_path / "bad.whl"
    bad.write_bytes(b"not a zip")
    with pytest.raises(ModelError, match="not a wheel"):
        convert_wheel(bad, out_dir=tmp_path)
    with pytest.raises(ParameterError, match="unknown pretrained model"):
        convert_wheel(bad, out_dir=tmp_path, models=["MSD_big"])
