"""Pure Keras 3 builders, one per neural model.

Each ``build_<name>(config) -> keras.Model`` takes a
:class:`~musictag_core.models.registry.ModelConfig` and returns a fresh,
uncompiled functional model with one named input and one output named
``"tags"``:

* input ``"features"`` ``(frames, n_features)`` for log-mel / MFCC models,
  ``"waveform"`` ``(samples,)`` for ``rawcnn``, ``"embedding"`` ``(dim,)`` for
  the transfer head;
* a ``keras.layers.Normalization`` layer named ``"normalize"`` right after
  the input (per feature band; not for ``rawcnn``): it is the identity until
  the trainer calls ``model.get_layer("normalize").adapt(train_sample)``, and it
  is saved inside the ``.keras`` file, so prediction cannot diverge;
* output activation by task: softmax (``single``), sigmoid (``multi``), sigmoid
  rescaled to 0–100 (``regression``, so predictions are strengths directly).

This module imports Keras at the top; it is only imported when a model is built
(see :data:`musictag_core.models.registry.MODEL_BUILDERS`).
"""

from __future__ import annotations

import keras
from keras import layers

from .registry import ModelConfig

__all__ = [
    "OUTPUT_NAME",
    "build_cnn",
    "build_lstm",
    "build_cnn7",
    "build_crnn",
    "build_rawcnn",
    "build_transfer_head",
    "build_musicnn_finetune",
    "output_layer",
    "loss_for_task",
    "NORMALIZE_NAME",
]

NORMALIZE_NAME = "normalize"

OUTPUT_NAME = "tags"

#: Momentum of the moving BatchNorm statistics. Keras's 0.99 needs ~500 steps before the
#: statistics used at prediction forget their (0, 1) start; a fast preset trains ~150 steps
#: and then predicts garbage (measured: cnn fast on the demo corpus, 29 % test accuracy with 0.99).
BN_MOMENTUM = 0.9

#: Filters of the seven blocks of :func:`build_cnn7` (before ``width``).
CNN7_FILTERS = (128, 256, 256, 256, 512, 512, 256)


def output_layer(x, config: ModelConfig):  # noqa: ANN001, ANN201
    """Dense output with the activation of ``config.task``, named ``"tags"``."""
    if config.task == "single":
        return layers.Dense(config.n_outputs, activation="softmax", name=OUTPUT_NAME)(x)
    if config.task == "multi":
        return layers.Dense(config.n_outputs, activation="sigmoid", name=OUTPUT_NAME)(x)
    x = layers.Dense(config.n_outputs, activation="sigmoid", name="strength_unit")(x)
    return layers.Rescaling(100.0, name=OUTPUT_NAME)(x)


def loss_for_task(task: str) -> str:
    """Keras loss name: categorical CE, binary CE, or MSE on 0–100 strengths."""
    return {"single": "categorical_crossentropy", "multi": "binary_crossentropy", "regression": "mse"}[task]


def _check_rank(config: ModelConfig, rank: int, what: str) -> None:
    from ..errors import ModelError

    if len(config.input_shape) != rank:
        raise ModelError(f"{config.name or 'model'} expects {what} input, got input_shape {config.input_shape}")


def _normalized_input(config: ModelConfig, name: str):  # noqa: ANN202
    inp = keras.Input(shape=config.input_shape, name=name)
    return inp, layers.Normalization(axis=-1, name=NORMALIZE_NAME)(inp)


def _conv_block(x, filters: int, *, pool=(2, 2), dropout: float = 0.0, pool_first: bool = False, name: str):  # noqa: ANN001, ANN202
    """3x3 conv, BatchNorm, ReLU, max-pool (then dropout).

    ``pool_first=True`` pools right after the convolution (conv, max-pool,
    BatchNorm, ReLU): ReLU commutes with max-pooling, and BatchNorm then
    normalises the pooled maps, so the elementwise layers touch a quarter of the
    values. On 517 x 128 inputs that halves the CPU cost of a training step.
    """
    x = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv")(x)
    if pool_first:
        x = layers.MaxPooling2D(pool, padding="same", name=f"{name}_pool")(x)
    x = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_bn")(x)
    x = layers.ReLU(name=f"{name}_relu")(x)
    if not pool_first:
        x = layers.MaxPooling2D(pool, padding="same", name=f"{name}_pool")(x)
    if dropout:
        x = layers.Dropout(dropout, name=f"{name}_drop")(x)
    return x


def build_cnn(config: ModelConfig) -> keras.Model:
    """Vanilla CNN on log-mel segments.

    4 blocks (3x3 conv with 32, 64, 128, 128 filters x ``width``, 2x2 max-pool,
    BatchNorm, ReLU, dropout), global average pool, dense ``4 * units``,
    dropout, output. Pooling comes before BatchNorm and ReLU (see
    ``_conv_block``), which makes a training step about twice as fast on CPU.

    Parameters
    ----------
    config : ModelConfig
        ``input_shape=(frames, n_mels)``, e.g. ``(517, 128)``.
    """
    _check_rank(config, 2, "(frames, n_mels)")
    inp, x = _normalized_input(config, "features")
    x = layers.Reshape((*config.input_shape, 1), name="add_channel")(x)
    for i, f in enumerate((32, 64, 128, 128)):
        x = _conv_block(x, config.scaled(f), dropout=config.dropout / 2, pool_first=True, name=f"block{i + 1}")
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    x = layers.Dense(config.scaled(4 * config.units), activation="relu", name="dense")(x)
    x = layers.Dropout(config.dropout, name="dropout")(x)
    return keras.Model(inp, output_layer(x, config), name=config.name or "cnn")


def build_lstm(config: ModelConfig) -> keras.Model:
    """LSTM on MFCC segments: LSTM(2 * units) -> LSTM(units) -> dense(units) -> output.

    Parameters
    ----------
    config : ModelConfig
        ``input_shape=(frames, n_mfcc)``, e.g. ``(517, 13)``.
    """
    _check_rank(config, 2, "(frames, n_mfcc)")
    inp, x = _normalized_input(config, "features")
    x = layers.LSTM(config.scaled(2 * config.units), return_sequences=True, name="lstm1")(x)
    x = layers.LSTM(config.scaled(config.units), name="lstm2")(x)
    x = layers.Dense(config.scaled(config.units), activation="relu", name="dense")(x)
    x = layers.Dropout(config.dropout, name="dropout")(x)
    return keras.Model(inp, output_layer(x, config), name=config.name or "lstm")


def build_cnn7(config: ModelConfig) -> keras.Model:
    """7 blocks of 3x3 conv, BatchNorm, ReLU, 2x2 max-pool (128, 256, 256, 256, 512, 512, 256 filters).

    Then global max-pool over what is left, dropout and the dense output (the
    mAP / P@10 tagging system, trained on random 30 s crops). Pools use
    ``padding="same"`` so short inputs never shrink to zero.

    Parameters
    ----------
    config : ModelConfig
        ``input_shape=(frames, n_mels)``, e.g. ``(1292, 128)`` for 30 s.
    """
    _check_rank(config, 2, "(frames, n_mels)")
    inp, x = _normalized_input(config, "features")
    x = layers.Reshape((*config.input_shape, 1), name="add_channel")(x)
    x = layers.BatchNormalization(momentum=BN_MOMENTUM, name="input_bn")(x)
    for i, f in enumerate(CNN7_FILTERS):
        x = _conv_block(x, config.scaled(f), name=f"block{i + 1}")
    x = layers.GlobalMaxPooling2D(name="gmp")(x)
    x = layers.Dropout(config.dropout, name="dropout")(x)
    return keras.Model(inp, output_layer(x, config), name=config.name or "cnn7")


def build_crnn(config: ModelConfig) -> keras.Model:
    """Parallel CRNN: a 5-block CNN and a bidirectional GRU read the same spectrogram.

    CNN branch: 5 blocks (3x3 conv 16, 32, 64, 64, 64 filters x ``width``,
    BatchNorm, ReLU, 2x2 max-pool), global average pool. Recurrent branch:
    1x2 max-pool along time, bidirectional GRU(``units``). The two vectors are
    concatenated, then dropout and the output.

    Parameters
    ----------
    config : ModelConfig
        ``input_shape=(frames, n_mels)``.
    """
    _check_rank(config, 2, "(frames, n_mels)")
    inp, norm = _normalized_input(config, "features")
    x = layers.Reshape((*config.input_shape, 1), name="add_channel")(norm)
    for i, f in enumerate((16, 32, 64, 64, 64)):
        x = _conv_block(x, config.scaled(f), name=f"cnn_block{i + 1}")
    x = layers.GlobalAveragePooling2D(name="cnn_gap")(x)
    r = layers.MaxPooling1D(2, padding="same", name="rnn_pool")(norm)
    r = layers.Bidirectional(layers.GRU(config.scaled(config.units)), name="rnn_bigru")(r)
    z = layers.Concatenate(name="concat")([x, r])
    z = layers.Dropout(config.dropout, name="dropout")(z)
    return keras.Model(inp, output_layer(z, config), name=config.name or "crnn")


def build_rawcnn(config: ModelConfig) -> keras.Model:
    """Raw-waveform 1-D CNN on 1 s windows.

    conv-32 k5, avgpool 4, conv-64 k5, avgpool 4, conv-128 k100 stride 20,
    avgpool 40 stride 30 (pool shrunk to what is left for short windows),
    flatten, dense 70, dense 30, output. Filter and unit counts scale with
    ``width``.

    Parameters
    ----------
    config : ModelConfig
        ``input_shape=(samples,)``, e.g. ``(22050,)``; at least 2,000 samples.
    """
    from ..errors import ModelError

    _check_rank(config, 1, "(samples,)")
    (n,) = config.input_shape
    n3 = ((((n - 4) // 4) - 4) // 4 - 100) // 20 + 1  # length after the third conv
    if n3 < 1:
        raise ModelError(f"rawcnn needs windows of at least ~2000 samples, got {n}")
    inp = keras.Input(shape=config.input_shape, name="waveform")
    x = layers.Reshape((n, 1), name="add_channel")(inp)
    x = layers.Conv1D(config.scaled(32), 5, activation="relu", name="conv1")(x)
    x = layers.AveragePooling1D(4, name="pool1")(x)
    x = layers.Conv1D(config.scaled(64), 5, activation="relu", name="conv2")(x)
    x = layers.AveragePooling1D(4, name="pool2")(x)
    x = layers.Conv1D(config.scaled(128), 100, strides=20, activation="relu", name="conv3")(x)
    x = layers.AveragePooling1D(min(40, n3), strides=30, name="pool3")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(config.scaled(70), activation="relu", name="dense70")(x)
    x = layers.Dropout(config.dropout, name="dropout")(x)
    x = layers.Dense(config.scaled(30), activation="relu", name="dense30")(x)
    return keras.Model(inp, output_layer(x, config), name=config.name or "rawcnn")


def build_transfer_head(config: ModelConfig) -> keras.Model:
    """Small dense head on pretrained musicnn embeddings.

    Normalization, dense ``units`` x ``width`` (ReLU), dropout, output. The input is
    the pooled (1506-d), penultimate (200-d) or both concatenated (1706-d,
    pooled first) embedding vector.

    Parameters
    ----------
    config : ModelConfig
        ``input_shape=(dim,)``.
    """
    _check_rank(config, 1, "(embedding_dim,)")
    inp, x = _normalized_input(config, "embedding")
    x = layers.Dense(config.scaled(config.units), activation="relu", name="dense")(x)
    x = layers.Dropout(config.dropout, name="dropout")(x)
    return keras.Model(inp, output_layer(x, config), name=config.name or "transfer")


def build_musicnn_finetune(config: ModelConfig, *, backbone: keras.Model, embedding: str = "both") -> keras.Model:
    """The transfer head on top of a trainable musicnn, for end-to-end fine-tuning.

    ``backbone`` (a loaded musicnn, see :func:`musictag_core.models.musicnn.build.build_musicnn`)
    maps mel patches to its ``pooled`` and ``penultimate`` outputs; the head is
    the one of :func:`build_transfer_head` (without its Normalization layer:
    musicnn batch-normalises its input). All weights train.

    Parameters
    ----------
    config : ModelConfig
        ``input_shape=(patch_frames, n_mels)``, e.g. ``(187, 96)``.
    backbone : keras.Model
        Its weights are copied into a fresh clone, so the shipped model is left untouched.
    embedding : {"pooled", "penultimate", "both"}
    """
    _check_rank(config, 2, "(patch_frames, n_mels)")
    clone = keras.models.clone_model(backbone)
    clone.set_weights(backbone.get_weights())
    # only the embedding outputs: the backbone's own tag layer gets no gradient and is dropped
    base = keras.Model(
        clone.inputs, {k: clone.get_layer(k).output for k in ("pooled", "penultimate")}, name="musicnn_backbone"
    )
    base.trainable = True
    inp = keras.Input(shape=config.input_shape, name="mel")
    outs = base(inp)
    parts = []
    if embedding in ("pooled", "both"):
        parts.append(outs["pooled"])
    if embedding in ("penultimate", "both"):
        parts.append(outs["penultimate"])
    x = parts[0] if len(parts) == 1 else layers.Concatenate(name="embedding")(parts)
    x = layers.Dense(config.scaled(config.units), activation="relu", name="dense")(x)
    x = layers.Dropout(config.dropout, name="dropout")(x)
    return keras.Model(inp, output_layer(x, config), name=config.name or "transfer_finetune")
