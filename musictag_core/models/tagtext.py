"""``tagtext``: seed 001's method 2, a two-tower audio/tag-text model trained with a contrastive loss.

* Audio tower: the musicnn embedding of a 3 s patch (pooled and/or penultimate,
  computed once and cached, as for ``transfer``), normalised, a dense ReLU layer
  of ``2 * units``, dropout, a dense projection to ``units`` dimensions, L2
  normalisation.
* Text tower: the all-MiniLM-L6-v2 sentence embedding of a tag's name (384-d,
  :mod:`musictag_core.models.minilm`), then two dense layers: dense ``2 * units``
  with BatchNorm, ReLU and dropout, then the dense projection to ``units``, L2
  normalisation.
* Loss: InfoNCE over in-batch negatives (:func:`info_nce`): a batch holds pairs
  (patch, one of its track's tags); every other pair's tag is a negative unless
  the patch's track carries it too (multi-label: those count as positives).

Because the text tower reads a tag's *name*, the trained model scores tags it
never saw in training (zero-shot). :func:`build_tagtext_tagger` freezes the text
tower's output for a list of tags into a plain dense layer, so a finished run is
an ordinary ``musictag-keras`` tagger (input ``embedding``, output ``tags``).

This module imports Keras at the top; the registry imports it only when a model is built.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers

from .registry import ModelConfig

__all__ = ["TEMPERATURE", "TEXT_DIM", "build_tagtext", "build_tagtext_tagger", "info_nce", "audio_tower", "text_tower"]

#: Softmax temperature of the contrastive loss (cosine similarities are divided by it).
TEMPERATURE = 0.1

#: Width of the MiniLM sentence embedding the text tower reads.
TEXT_DIM = 384


def audio_tower(config: ModelConfig) -> keras.Model:
    """Patch embedding ``(dim,)`` -> unit vector ``(units,)``."""
    inp = keras.Input(shape=config.input_shape, name="embedding")
    x = layers.Normalization(axis=-1, name="normalize")(inp)
    x = layers.Dense(config.scaled(2 * config.units), activation="relu", name="audio_dense")(x)
    x = layers.Dropout(config.dropout, name="audio_dropout")(x)
    x = layers.Dense(config.scaled(config.units), name="audio_projection")(x)
    x = layers.UnitNormalization(name="audio_unit")(x)
    return keras.Model(inp, x, name="audio_tower")


def text_tower(config: ModelConfig) -> keras.Model:
    """Tag-name embedding ``(384,)`` -> unit vector ``(units,)``: two dense layers with BatchNorm, ReLU, dropout."""
    inp = keras.Input(shape=(TEXT_DIM,), name="tag_text")
    x = layers.Dense(config.scaled(2 * config.units), use_bias=False, name="text_dense")(inp)
    x = layers.BatchNormalization(name="text_bn")(x)
    x = layers.ReLU(name="text_relu")(x)
    x = layers.Dropout(config.dropout, name="text_dropout")(x)
    x = layers.Dense(config.scaled(config.units), name="text_projection")(x)
    x = layers.UnitNormalization(name="text_unit")(x)
    return keras.Model(inp, x, name="text_tower")


def build_tagtext(config: ModelConfig) -> keras.Model:
    """The two towers side by side.

    Parameters
    ----------
    config : ModelConfig
        ``input_shape=(embedding_dim,)``; ``units`` sets the joint space (before ``width``).

    Returns
    -------
    keras.Model
        Inputs ``embedding`` ``(dim,)`` and ``tag_text`` ``(384,)``; outputs
        ``{"audio": (units,), "text": (units,)}``, unit vectors.
    """
    from ..errors import ModelError

    if len(config.input_shape) != 1:
        raise ModelError(f"tagtext expects (embedding_dim,) input, got input_shape {config.input_shape}")
    a, t = audio_tower(config), text_tower(config)
    emb = keras.Input(shape=config.input_shape, name="embedding")
    txt = keras.Input(shape=(TEXT_DIM,), name="tag_text")
    return keras.Model({"embedding": emb, "tag_text": txt}, {"audio": a(emb), "text": t(txt)}, name=config.name or "tagtext")


def info_nce(audio, text, positives, *, temperature: float = TEMPERATURE):  # noqa: ANN001, ANN201
    """Symmetric InfoNCE over in-batch negatives with several positives per row.

    Parameters
    ----------
    audio, text : tensor [shape=(batch, units)]
        Unit vectors of pair ``i``'s patch and tag.
    positives : tensor [shape=(batch, batch)]
        1 where patch ``i``'s track carries pair ``j``'s tag (the diagonal is 1).
    temperature : float

    Returns
    -------
    tensor
        Scalar: mean of the audio->text and text->audio cross-entropies against
        the positives, spread evenly.
    """
    from keras import ops

    logits = ops.matmul(audio, ops.transpose(text)) / temperature
    pos = ops.cast(positives, logits.dtype)
    a2t = -ops.sum(pos / ops.sum(pos, axis=1, keepdims=True) * ops.log_softmax(logits, axis=1), axis=1)
    t2a = -ops.sum(pos / ops.sum(pos, axis=0, keepdims=True) * ops.log_softmax(logits, axis=0), axis=0)
    return (ops.mean(a2t) + ops.mean(t2a)) / 2.0


def build_tagtext_tagger(model: keras.Model, tag_vectors: np.ndarray, *, offset: float, task: str,
                         temperature: float = TEMPERATURE, name: str = "tagtext") -> keras.Model:
    """A plain tagger from a trained :func:`build_tagtext` model and the text tower's vectors of some tags.

    Score of tag ``j`` for a patch: ``sigmoid((cos(audio, tag_j) - offset) / temperature)``
    (``task="multi"``/``"regression"``), or the softmax of ``cos / temperature``
    over the tags (``"single"``).

    Parameters
    ----------
    model : keras.Model
    tag_vectors : np.ndarray [shape=(n_tags, units)]
        Text-tower outputs of the tags, unit vectors.
    offset : float
        Cosine at which a multi-label score is 0.5.
    task : {"single", "multi", "regression"}

    Returns
    -------
    keras.Model
        Input ``embedding``, output ``tags`` ``(n_tags,)``; standard layers only.
    """
    from .neural import OUTPUT_NAME

    tower = model.get_layer("audio_tower")
    inp = keras.Input(shape=tower.input.shape[1:], name="embedding")
    x = tower(inp)
    vec = np.asarray(tag_vectors, dtype=np.float32)
    if task == "single":
        dense = layers.Dense(len(vec), activation="softmax", name=OUTPUT_NAME)
        out = dense(x)
        dense.set_weights([vec.T / temperature, np.zeros(len(vec), np.float32)])
    else:
        dense = layers.Dense(len(vec), activation="sigmoid", name="tag_similarity" if task == "regression" else OUTPUT_NAME)
        out = dense(x)
        dense.set_weights([vec.T / temperature, np.full(len(vec), -offset / temperature, np.float32)])
        if task == "regression":
            out = layers.Rescaling(100.0, name=OUTPUT_NAME)(out)
    return keras.Model(inp, out, name=name)
