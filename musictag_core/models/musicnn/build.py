"""musicnn and its VGG baseline, ported to Keras 3.

The architectures follow ``musicnn/models.py`` of the ``musicnn==0.1.0`` wheel
(Pons & Serra, ISC licence) layer by layer, so the wheel's TF1 checkpoints load
into them (see :mod:`musictag_core.models.musicnn.convert`):

* **musicnn**: input BatchNorm; timbral convolutions 7×38 and 7×67 (204 filters,
  time padded by 3 then "valid") and temporal convolutions 128×1, 64×1, 32×1
  (51 filters, "same"), each followed by ReLU, BatchNorm and a max over
  frequency, concatenated to 561 channels per frame; a mid-end of three 7-frame
  convolutions over the full width (64 filters, ReLU, BatchNorm, residual on the
  second and third), densely concatenated to 753 channels per frame; a back-end
  of max and mean over time (interleaved per channel as ``[max_0, mean_0,
  max_1, ...]``, as the original flattens them: the ``pooled`` 1506-d
  embedding), BatchNorm, dropout, dense 200 ReLU, BatchNorm (the
  ``penultimate`` 200-d embedding), dropout, dense sigmoid (``tags``).
* **vgg**: input BatchNorm, five blocks of 3×3 convolution (128 filters, ReLU),
  BatchNorm and max pooling (4×1/2, 2×2/2, 2×2/2, 2×2/2, 4×4/4), flatten
  (``pooled``, 256-d for 187-frame patches), dropout, dense sigmoid.

The full-width mid-end convolutions of the original (Conv2D with a kernel as wide
as its input, followed by a transpose) are written here as ``Conv1D`` over
channels, which computes the same thing with a reshaped kernel.

Only standard Keras layers are used, so saved models load with
``keras.saving.load_model(path, safe_mode=True)``.

Their input is the front end of :mod:`musictag_core.models.musicnn.frontend`.
Keras is imported when a model is built, not when this module is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ...errors import ParameterError
from .frontend import MUSICNN_N_MELS, MUSICNN_PATCH_FRAMES

__all__ = [
    "MusicnnConfig",
    "VGGConfig",
    "VGG_POOLS_MTT",
    "VGG_POOLS_MSD",
    "ARCHITECTURES",
    "CHECKPOINT_LAYER_NAMES",
    "build_musicnn",
    "build_vgg",
]

_BN_EPS = 1e-3


@dataclass(frozen=True)
class MusicnnConfig:
    """Shape of a musicnn model.

    Attributes
    ----------
    n_labels : int
        Number of sigmoid outputs (50 for the pretrained models).
    patch_frames : int or None
        Frames per input patch; ``None`` accepts any length (musicnn is fully
        convolutional up to the temporal pooling).
    n_mels : int
        Mel bands of the input (96).
    filters_frontend : float
        Front-end width multiplier (1.6 gives 204 timbral and 51 temporal filters).
    filters_midend : int
        Mid-end filters (64; 512 for ``MSD_musicnn_big``).
    units_backend : int
        Units of the penultimate dense layer (200; 500 for ``MSD_musicnn_big``).
    dropout : float
        Dropout rate of the back-end (training only).
    """

    n_labels: int = 50
    patch_frames: int | None = MUSICNN_PATCH_FRAMES
    n_mels: int = MUSICNN_N_MELS
    filters_frontend: float = 1.6
    filters_midend: int = 64
    units_backend: int = 200
    dropout: float = 0.5

    def __post_init__(self) -> None:
        _check_common(self.n_labels, self.patch_frames, self.n_mels, self.dropout)
        if self.n_mels < 67:
            raise ParameterError(
                f"n_mels must be >= 67 for the 7x67 timbral filters of musicnn, got {self.n_mels}"
            )
        for name in ("filters_midend", "units_backend"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ParameterError(f"{name} must be a positive integer, got {value!r}")
        if not (isinstance(self.filters_frontend, (int, float)) and self.filters_frontend > 0):
            raise ParameterError(f"filters_frontend must be positive, got {self.filters_frontend!r}")


#: VGG max-pool sizes and strides ``(pool_t, pool_f, stride_t, stride_f)`` as in the wheel's
#: ``models.py`` (and the ``MTT_vgg`` graph).
VGG_POOLS_MTT = ((4, 1, 2, 2), (2, 2, 2, 2), (2, 2, 2, 2), (2, 2, 2, 2), (4, 4, 4, 4))
#: The ``MSD_vgg`` checkpoint was trained with different first two pools than the wheel's
#: ``models.py`` says (read from its stored graph): 4×1/4×1 then 1×4/1×4.
VGG_POOLS_MSD = ((4, 1, 4, 1), (1, 4, 1, 4), (2, 2, 2, 2), (2, 2, 2, 2), (4, 4, 4, 4))


@dataclass(frozen=True)
class VGGConfig:
    """Shape of the VGG-like baseline of musicnn.

    Attributes
    ----------
    n_labels : int
    patch_frames : int
        Frames per patch (fixed: the flattened last pooling depends on it).
    n_mels : int
    filters : int
        Filters of every 3×3 convolution (128 for the pretrained models).
    pools : tuple of 5 tuples ``(pool_t, pool_f, stride_t, stride_f)``
        Max pooling after each block ("valid" padding).
    dropout : float
        Dropout after the first four pools is ``dropout / 2``; before the output ``dropout``.
    """

    n_labels: int = 50
    patch_frames: int = MUSICNN_PATCH_FRAMES
    n_mels: int = MUSICNN_N_MELS
    filters: int = 128
    pools: tuple = VGG_POOLS_MTT
    dropout: float = 0.5

    def __post_init__(self) -> None:
        _check_common(self.n_labels, self.patch_frames, self.n_mels, self.dropout)
        if self.patch_frames is None or self.patch_frames < 64 or self.n_mels < 64:
            raise ParameterError(
                f"vgg needs patch_frames >= 64 and n_mels >= 64, got {self.patch_frames} and {self.n_mels}"
            )
        if isinstance(self.filters, bool) or not isinstance(self.filters, int) or self.filters < 1:
            raise ParameterError(f"filters must be a positive integer, got {self.filters!r}")
        pools = tuple(tuple(int(v) for v in p) for p in self.pools)
        if len(pools) != 5 or any(len(p) != 4 or min(p) < 1 for p in pools):
            raise ParameterError(
                f"pools must be 5 tuples of 4 positive integers (pool_t, pool_f, stride_t, stride_f), got {self.pools!r}"
            )
        object.__setattr__(self, "pools", pools)


def _check_common(n_labels, patch_frames, n_mels, dropout) -> None:
    if isinstance(n_labels, bool) or not isinstance(n_labels, int) or n_labels < 1:
        raise ParameterError(f"n_labels must be a positive integer, got {n_labels!r}")
    if patch_frames is not None and (
        isinstance(patch_frames, bool) or not isinstance(patch_frames, int) or patch_frames < 1
    ):
        raise ParameterError(f"patch_frames must be a positive integer or None, got {patch_frames!r}")
    if isinstance(n_mels, bool) or not isinstance(n_mels, int) or n_mels < 1:
        raise ParameterError(f"n_mels must be a positive integer, got {n_mels!r}")
    if not (isinstance(dropout, (int, float)) and 0 <= dropout < 1):
        raise ParameterError(f"dropout must be in [0, 1), got {dropout!r}")


# ---------------------------------------------------------------- Keras models


def _freq_max(x, *, name: str):
    """Max over the frequency axis: (b, t, f, c) -> (b, t, c)."""
    from keras import layers

    width = x.shape[2]
    x = layers.MaxPooling2D(pool_size=(1, width), strides=(1, width), name=f"{name}_pool")(x)
    return layers.Reshape((-1, x.shape[-1]), name=f"{name}_squeeze")(x)


def build_musicnn(config: MusicnnConfig | None = None):
    """Build musicnn as a Keras functional model.

    Parameters
    ----------
    config : MusicnnConfig, optional
        Defaults to the pretrained models' shape.

    Returns
    -------
    keras.Model
        Input ``mel`` [shape=(batch, patch_frames, n_mels)], log-compressed mel
        patches (:func:`~musictag_core.models.musicnn.frontend.musicnn_patches`). Outputs, a dict:
        ``tags`` [shape=(batch, n_labels)] sigmoid scores,
        ``pooled`` [shape=(batch, 2 * 753)] max and mean over time, interleaved,
        ``penultimate`` [shape=(batch, units_backend)].
    """
    import keras
    from keras import layers

    c = config or MusicnnConfig()
    n_timbral = int(c.filters_frontend * 128)
    n_temporal = int(c.filters_frontend * 32)
    mel = keras.Input((c.patch_frames, c.n_mels), name="mel")
    x = layers.Reshape((-1, c.n_mels, 1), name="mel_expand")(mel)
    x = layers.BatchNormalization(epsilon=_BN_EPS, name="input_bn")(x)

    front = []
    padded = layers.ZeroPadding2D(((3, 3), (0, 0)), name="timbral_pad")(x)
    for width in (int(0.4 * c.n_mels), int(0.7 * c.n_mels)):
        name = f"timbral_7x{width}"
        h = layers.Conv2D(n_timbral, (7, width), padding="valid", activation="relu", name=name)(padded)
        h = layers.BatchNormalization(epsilon=_BN_EPS, name=f"{name}_bn")(h)
        front.append(_freq_max(h, name=name))
    for length in (128, 64, 32):
        name = f"temporal_{length}x1"
        h = layers.Conv2D(n_temporal, (length, 1), padding="same", activation="relu", name=name)(x)
        h = layers.BatchNormalization(epsilon=_BN_EPS, name=f"{name}_bn")(h)
        front.append(_freq_max(h, name=name))
    frontend = layers.Concatenate(axis=-1, name="frontend")(front)

    mids = [frontend]
    h = frontend
    for i in (1, 2, 3):
        name = f"midend_conv{i}"
        z = layers.ZeroPadding1D(3, name=f"{name}_pad")(h)
        z = layers.Conv1D(c.filters_midend, 7, padding="valid", activation="relu", name=name)(z)
        z = layers.BatchNormalization(epsilon=_BN_EPS, name=f"{name}_bn")(z)
        h = z if i == 1 else layers.Add(name=f"midend_res{i}")([z, h])
        mids.append(h)
    midend = layers.Concatenate(axis=-1, name="midend")(mids)

    n_feat = midend.shape[-1]
    max_pool = layers.GlobalMaxPooling1D(name="max_pool")(midend)
    mean_pool = layers.GlobalAveragePooling1D(name="mean_pool")(midend)
    max_pool = layers.Reshape((n_feat, 1), name="max_pool_expand")(max_pool)
    mean_pool = layers.Reshape((n_feat, 1), name="mean_pool_expand")(mean_pool)
    pooled = layers.Concatenate(axis=-1, name="pool_stack")([max_pool, mean_pool])
    pooled = layers.Flatten(name="pooled")(pooled)

    h = layers.BatchNormalization(epsilon=_BN_EPS, name="pooled_bn")(pooled)
    h = layers.Dropout(c.dropout, name="pooled_dropout")(h)
    h = layers.Dense(c.units_backend, activation="relu", name="dense")(h)
    penultimate = layers.BatchNormalization(epsilon=_BN_EPS, name="penultimate")(h)
    h = layers.Dropout(c.dropout, name="penultimate_dropout")(penultimate)
    logits = layers.Dense(c.n_labels, name="logits")(h)
    tags = layers.Activation("sigmoid", name="tags")(logits)
    return keras.Model(
        mel, {"tags": tags, "pooled": pooled, "penultimate": penultimate}, name="musicnn"
    )


def build_vgg(config: VGGConfig | None = None):
    """Build musicnn's VGG-like baseline as a Keras functional model.

    Parameters
    ----------
    config : VGGConfig, optional

    Returns
    -------
    keras.Model
        Input ``mel`` [shape=(batch, patch_frames, n_mels)]. Outputs, a dict:
        ``tags`` [shape=(batch, n_labels)] and ``pooled`` (the flattened last pool).
    """
    import keras
    from keras import layers

    c = config or VGGConfig()
    mel = keras.Input((c.patch_frames, c.n_mels), name="mel")
    x = layers.Reshape((c.patch_frames, c.n_mels, 1), name="mel_expand")(mel)
    x = layers.BatchNormalization(epsilon=_BN_EPS, name="input_bn")(x)
    for i, (pt, pf, st, sf) in enumerate(c.pools, start=1):
        if i > 1:
            x = layers.Dropout(c.dropout / 2, name=f"pool{i - 1}_dropout")(x)
        x = layers.Conv2D(c.filters, (3, 3), padding="same", activation="relu", name=f"conv{i}")(x)
        x = layers.BatchNormalization(epsilon=_BN_EPS, name=f"conv{i}_bn")(x)
        x = layers.MaxPooling2D((pt, pf), strides=(st, sf), padding="valid", name=f"pool{i}")(x)
    pooled = layers.Flatten(name="pooled")(x)
    h = layers.Dropout(c.dropout, name="pooled_dropout")(pooled)
    logits = layers.Dense(c.n_labels, name="logits")(h)
    tags = layers.Activation("sigmoid", name="tags")(logits)
    return keras.Model(mel, {"tags": tags, "pooled": pooled}, name="vgg")


#: Architecture name -> (config class, builder). Used by cards (``"architecture"``).
ARCHITECTURES: dict[str, tuple[type, Callable]] = {
    "musicnn": (MusicnnConfig, build_musicnn),
    "vgg": (VGGConfig, build_vgg),
}

#: Architecture -> {Keras layer name: TF1 checkpoint variable scope} of the musicnn wheel.
CHECKPOINT_LAYER_NAMES: dict[str, dict[str, str]] = {
    "musicnn": {
        "input_bn": "batch_normalization",
        "timbral_7x38": "conv2d",
        "timbral_7x38_bn": "batch_normalization_1",
        "timbral_7x67": "conv2d_1",
        "timbral_7x67_bn": "batch_normalization_2",
        "temporal_128x1": "conv2d_2",
        "temporal_128x1_bn": "batch_normalization_3",
        "temporal_64x1": "conv2d_3",
        "temporal_64x1_bn": "batch_normalization_4",
        "temporal_32x1": "conv2d_4",
        "temporal_32x1_bn": "batch_normalization_5",
        "midend_conv1": "conv2d_5",
        "midend_conv1_bn": "batch_normalization_6",
        "midend_conv2": "conv2d_6",
        "midend_conv2_bn": "batch_normalization_7",
        "midend_conv3": "conv2d_7",
        "midend_conv3_bn": "batch_normalization_8",
        "pooled_bn": "batch_normalization_9",
        "dense": "dense",
        "penultimate": "batch_normalization_10",
        "logits": "dense_1",
    },
    "vgg": {
        "input_bn": "batch_normalization",
        **{f"conv{i}": f"{i}CNN" for i in range(1, 6)},
        **{f"conv{i}_bn": f"batch_normalization_{i}" for i in range(1, 6)},
        "logits": "dense",
    },
}
