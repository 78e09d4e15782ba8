"""A faster, numerically equivalent inference graph for a loaded musicnn Keras model.

The Keras model (:func:`musictag_core.models.musicnn.build.build_musicnn`) stays the
source of truth: :func:`fold_musicnn` reads its weights and
:func:`musicnn_forward` builds a plain TensorFlow function of them that returns
the same ``tags``, ``pooled`` and ``penultimate`` (equal to float32 rounding,
about 1e-6; tested against the Keras model on real patches).

What makes it faster (about 15 % less CPU time on the pretrained models; the two
timbral convolutions, ~80 % of the 2.8 GFLOP per 3 s patch, are unchanged and
run at near the CPU's peak through oneDNN):

* **Max over frequency first.** Each front-end branch is
  ``max_f BN(ReLU(conv + bias))``. BatchNorm at inference is ``s * h + t`` per
  channel and ReLU is monotone, so the max over frequency can be taken on the
  raw convolution: for a channel with ``s >= 0`` it is ``s * ReLU(max_f conv +
  bias) + t``, and for ``s < 0`` the max becomes a min. The kernel of each
  negative-scale channel is negated once, so a single ``reduce_max`` serves both
  (``min_f conv = -max_f (-conv)`` exactly). Bias, ReLU and BatchNorm then run
  on ``(batch, time, channels)`` instead of ``(batch, time, frequency,
  channels)``: 59 and 30 times less elementwise work and memory traffic for the
  timbral branches, 96 times for the temporal ones.
* **BatchNorms folded** into one multiply-add (the input BatchNorm, which has a
  single channel, into two scalars).
* **No Keras layer dispatch**: one traced graph of raw TensorFlow ops.

Precision (:func:`folded_forward`'s ``front_dtype``): float32 is the equivalent graph above;
``"mixed"`` (the default of taggers on CPUs with AMX) runs the timbral
convolutions in split bfloat16 on AMX (input centred per frame, kernel split into
``hi + lo``) and the 128-tap temporal one in bfloat16, for about 35 % less CPU time and track
scores within 5e-4 of float32 on the shared clips; ``"bfloat16"`` rounds every front-end
convolution (1.6x less CPU time, scores off by up to 5e-3).

Tried and not kept (measured CPU time for 60 patches, see ``bench/``): the
timbral convolutions as im2col + one GEMM (2x slower than oneDNN's direct
convolution), with the frequency window or the time taps unfolded into input
channels (10-20 % slower), the temporal convolutions as blocked Toeplitz GEMMs
(50 % slower), and XLA ``jit_compile`` (slower).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np

from ...errors import ModelError

__all__ = ["FOLDED_VERSION", "PRECISIONS", "fold_musicnn", "folded_forward", "load_folded", "musicnn_forward", "save_folded", "tail_ops"]

#: Layout version of :func:`save_folded` files (part of the cache key).
FOLDED_VERSION = 1


def _bn(layer) -> tuple[np.ndarray, np.ndarray]:
    """Inference BatchNorm as ``(scale, shift)``, computed in float64."""
    gamma, beta, mean, var = (np.asarray(w, dtype=np.float64) for w in layer.get_weights())
    scale = gamma / np.sqrt(var + float(layer.epsilon))
    return scale.astype(np.float32), (beta - mean * scale).astype(np.float32)


def _branch(model, name: str) -> dict[str, np.ndarray]:
    """Conv kernel with negative-scale channels negated, plus bias, sign, BN scale, shift."""
    kernel, bias = (np.asarray(w, dtype=np.float32) for w in model.get_layer(name).get_weights())
    scale, shift = _bn(model.get_layer(f"{name}_bn"))
    sign = np.where(scale < 0, np.float32(-1.0), np.float32(1.0)).astype(np.float32)
    return {"kernel": kernel * sign, "bias": bias, "sign": sign, "scale": scale, "shift": shift}


def fold_musicnn(model) -> dict[str, Any]:
    """Read and fold the inference weights of a musicnn Keras model.

    Parameters
    ----------
    model : keras.Model
        Built by :func:`~musictag_core.models.musicnn.build.build_musicnn` (layer names
        ``input_bn``, ``timbral_7x<w>``, ``temporal_<l>x1``, ``midend_conv<i>``,
        ``pooled_bn``, ``dense``, ``penultimate``, ``logits``).

    Returns
    -------
    dict
        ``n_mels`` (int), ``input`` (scale, shift scalars), ``timbral`` and ``temporal`` (lists of
        branch dicts in the front end's concatenation order), ``midend`` (list of
        ``(kernel, bias, bn_scale, bn_shift)``), ``pooled_bn``, ``dense``,
        ``penultimate``, ``logits``; every array float32.

    Raises
    ------
    ModelError
        If a layer of musicnn is missing or has unexpected weights.
    """
    try:
        names = [layer.name for layer in model.layers]
        timbral = sorted(
            (n for n in names if re.fullmatch(r"timbral_7x\d+", n)), key=lambda n: int(n.split("x")[-1])
        )
        temporal = sorted(
            (n for n in names if re.fullmatch(r"temporal_\d+x1", n)),
            key=lambda n: -int(n.split("_")[1].split("x")[0]),
        )
        midend = sorted(n for n in names if re.fullmatch(r"midend_conv\d", n))
        if not timbral or not temporal or not midend:
            raise ValueError(f"front-end or mid-end layers not found among {names[:8]}...")
        s0, t0 = _bn(model.get_layer("input_bn"))
        if s0.shape != (1,):
            raise ValueError(f"input_bn has {s0.shape} channels, expected 1")
        folded = {
            "n_mels": int(model.inputs[0].shape[-1]),
            "input": (s0[0], t0[0]),
            "timbral": [_branch(model, n) for n in timbral],
            "temporal": [_branch(model, n) for n in temporal],
            "midend": [
                (*(np.asarray(w, dtype=np.float32) for w in model.get_layer(n).get_weights()),
                 *_bn(model.get_layer(f"{n}_bn")))
                for n in midend
            ],  # fmt: skip
            "pooled_bn": _bn(model.get_layer("pooled_bn")),
            "dense": tuple(np.asarray(w, dtype=np.float32) for w in model.get_layer("dense").get_weights()),
            "penultimate": _bn(model.get_layer("penultimate")),
            "logits": tuple(np.asarray(w, dtype=np.float32) for w in model.get_layer("logits").get_weights()),
        }
    except (ValueError, KeyError, TypeError) as exc:
        raise ModelError(f"model {getattr(model, 'name', '?')!r} is not a musicnn Keras model ({exc})") from None
    for b in folded["timbral"]:
        if b["kernel"].ndim != 4 or b["kernel"].shape[2] != 1 or b["kernel"].shape[0] % 2 != 1:
            raise ModelError(f"unexpected timbral kernel shape {b['kernel'].shape}")
    return folded


def musicnn_forward(model) -> Callable:
    """A traced TensorFlow function computing ``model`` on mel patches, faster.

    Parameters
    ----------
    model : keras.Model
        A musicnn model (see :func:`fold_musicnn`). Its weights are copied:
        later changes to the model are not seen.

    Returns
    -------
    callable
        ``fn(mel)`` with ``mel`` a float32 tensor [shape=(batch, frames, n_mels)]
        (any batch and frame count, traced once), returning a dict of tensors
        ``tags`` [shape=(batch, n_labels)], ``pooled`` [shape=(batch, 2 * channels)]
        and ``penultimate`` [shape=(batch, units)], equal to
        ``model(mel, training=False)`` up to float32 rounding.
    """
    return folded_forward(fold_musicnn(model))


def save_folded(folded: dict[str, Any], path) -> None:
    """Write :func:`fold_musicnn`'s weights to an ``.npz`` file (atomically: a temporary file, then a rename).

    Parameters
    ----------
    folded : dict
    path : str or Path
    """
    import os
    import tempfile
    from pathlib import Path

    arrays: dict[str, np.ndarray] = {
        "version": np.asarray(FOLDED_VERSION), "n_mels": np.asarray(folded["n_mels"]),
        "input": np.asarray(folded["input"], dtype=np.float32),
    }  # fmt: skip
    for group in ("timbral", "temporal"):
        for i, b in enumerate(folded[group]):
            for k, v in b.items():
                arrays[f"{group}/{i}/{k}"] = v
    for group in ("midend",):
        for i, layer in enumerate(folded[group]):
            for j, v in enumerate(layer):
                arrays[f"{group}/{i}/{j}"] = v
    for group in ("pooled_bn", "dense", "penultimate", "logits"):
        for j, v in enumerate(folded[group]):
            arrays[f"{group}/{j}"] = v
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, **arrays)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_folded(path) -> dict[str, Any]:
    """Read a file written by :func:`save_folded` (the dict :func:`fold_musicnn` returns).

    Raises
    ------
    ModelError
        The file is unreadable or of another layout version.
    """
    try:
        with np.load(path) as z:
            a = {k: z[k] for k in z.files}
    except (OSError, ValueError, EOFError) as exc:
        raise ModelError(f"{getattr(path, 'name', path)}: cannot read folded musicnn weights ({exc})") from None
    if int(a.get("version", -1)) != FOLDED_VERSION:
        raise ModelError(f"{getattr(path, 'name', path)}: folded weights of another layout version")

    def seq(prefix: str) -> list[str]:
        keys = [k for k in a if k.startswith(prefix + "/")]
        return sorted({k.split("/")[1] for k in keys}, key=int)

    try:
        return {
            "n_mels": int(a["n_mels"]),
            "input": tuple(np.float32(v) for v in a["input"]),
            **{
                g: [{k.split("/")[2]: a[k] for k in a if k.startswith(f"{g}/{i}/")} for i in seq(g)]
                for g in ("timbral", "temporal")
            },
            "midend": [tuple(a[f"midend/{i}/{j}"] for j in range(4)) for i in seq("midend")],
            **{g: tuple(a[f"{g}/{j}"] for j in seq(g)) for g in ("pooled_bn", "dense", "penultimate", "logits")},
        }
    except KeyError as exc:
        raise ModelError(f"{getattr(path, 'name', path)}: folded weights lack {exc}") from None


#: Values of ``front_dtype`` / a tagger's ``precision``.
PRECISIONS = ("float32", "mixed", "bfloat16")

#: How ``"mixed"`` runs each front-end branch (in :func:`fold_musicnn`'s order): the timbral
#: convolutions in split bfloat16, the longest temporal one (128 taps average the rounding away:
#: it moves track scores by about 7e-5 on the shared clips) in plain bfloat16, the others in float32.
MIXED = {"timbral": ("split", "split"), "temporal": ("bfloat16", "float32", "float32")}


def _split_bf16(a):  # noqa: ANN001, ANN202
    """``a`` (float32 tensor) as ``hi + lo``, both bfloat16: ``hi`` is ``a`` rounded, ``lo`` the rounded rest."""
    import tensorflow as tf

    hi = tf.cast(a, tf.bfloat16)
    return hi, tf.cast(a - tf.cast(hi, tf.float32), tf.bfloat16)


def folded_forward(w: dict[str, Any], *, front_dtype: str = "float32") -> Callable:
    """The traced inference function of folded musicnn weights (see :func:`musicnn_forward`).

    Parameters
    ----------
    w : dict
        From :func:`fold_musicnn` or :func:`load_folded`.
    front_dtype : {"float32", "mixed", "bfloat16"}
        Precision of the front-end convolutions (about 95 % of the work); everything after the
        front end stays float32.

        * ``"float32"``: musicnn's numbers (equal to the Keras model to float32 rounding).
        * ``"mixed"``: the two timbral convolutions (80 % of the work) in *split* bfloat16 on
          AMX: each frame is centred on its mean over frequency (added back exactly, in float32,
          through the kernel's sum), and the kernel is split into ``hi + lo`` bfloat16 halves, so
          the convolution runs on two input channels ``[x, x]`` against ``[k_hi, k_lo]`` and only
          the (centred) input and the output are rounded to bfloat16; the longest temporal
          convolution (128 taps) in plain bfloat16, the other two in float32. About 30 % less
          CPU time than float32 for the network here; track scores move by at most 5e-4 on the
          shared clips and songs made of them (segment scores by up to about 4e-3).
        * ``"bfloat16"``: every front-end convolution in plain bfloat16: about 1.6x less CPU
          time, but track scores move by up to about 0.005, beyond the 1e-3 of the issue.

        The bfloat16 modes are fast only on CPUs with AMX / AVX512-BF16 (slower elsewhere).

    Returns
    -------
    callable
        As :func:`musicnn_forward`. Importing TensorFlow is the only heavy step:
        Keras is not needed.
    """
    import tensorflow as tf

    if front_dtype not in PRECISIONS:
        raise ModelError(f"front_dtype must be one of {', '.join(PRECISIONS)}, got {front_dtype!r}")
    n_mels = int(w["n_mels"])
    s0, t0 = (tf.constant(v) for v in w["input"])
    const = lambda a: tf.constant(a)  # noqa: E731
    bf16 = lambda a: tf.cast(tf.constant(a), tf.bfloat16)  # noqa: E731

    def post(mx, b):
        # (batch, time, channels): undo the kernel sign, then bias, ReLU, BatchNorm
        return tf.nn.relu(mx * const(b["sign"]) + const(b["bias"])) * const(b["scale"]) + const(b["shift"])

    def branch_mode(group: str, i: int) -> str:
        if front_dtype != "mixed":
            return front_dtype
        modes = MIXED[group]
        return modes[i] if i < len(modes) else "float32"

    branches = []  # (group, folded branch, mode, constants)
    for group in ("timbral", "temporal"):
        for i, b in enumerate(w[group]):
            mode = branch_mode(group, i)
            k = np.asarray(b["kernel"], dtype=np.float32)
            if mode == "split":
                k_hi = k.astype(tf.bfloat16.as_numpy_dtype)
                k_lo = (k - k_hi.astype(np.float32)).astype(tf.bfloat16.as_numpy_dtype)
                consts = {
                    "kernel": tf.constant(np.concatenate([k_hi, k_lo], axis=2)),  # (kt, kf, 2, c)
                    "ksum": const(k.sum(axis=1, keepdims=True, dtype=np.float64).astype(np.float32)),  # (kt, 1, 1, c)
                }  # fmt: skip
            elif mode == "bfloat16":
                consts = {"kernel": bf16(k)}
            else:
                consts = {"kernel": const(k)}
            branches.append((group, b, mode, consts))

    @tf.function(input_signature=[tf.TensorSpec([None, None, n_mels], tf.float32)], autograph=False)
    def forward(mel):
        x = (mel * s0 + t0)[..., None]  # (b, t, f, 1)
        cache: dict = {}

        def inputs(pad: int, mode: str):
            # the (padded) input of a branch in its precision, shared by branches of equal padding
            if (pad, mode) not in cache:
                xp = tf.pad(x, [[0, 0], [pad, pad], [0, 0], [0, 0]]) if pad else x
                if mode == "split":
                    c = tf.reduce_mean(xp, axis=2, keepdims=True)  # (b, t, 1, 1), zero on the padding
                    hi = tf.cast(xp - c, tf.bfloat16)
                    cache[pad, mode] = (tf.concat([hi, hi], axis=-1), c)
                elif mode == "bfloat16":
                    cache[pad, mode] = (tf.cast(xp, tf.bfloat16), None)
                else:
                    cache[pad, mode] = (xp, None)
            return cache[pad, mode]

        front = []
        for group, b, mode, consts in branches:
            # the timbral branches pad time by hand (VALID), the temporal ones use SAME
            pad = (b["kernel"].shape[0] - 1) // 2 if group == "timbral" else 0
            padding = "VALID" if group == "timbral" else "SAME"
            xin, c = inputs(pad, mode)
            # conv, then the max over frequency (exact in bfloat16: rounding is monotone)
            h = tf.reduce_max(tf.nn.conv2d(xin, consts["kernel"], strides=1, padding=padding), axis=2)
            if mode != "float32":
                h = tf.cast(h, tf.float32)
            if mode == "split":
                # conv(x, k) = conv(x - c, k) + conv(c, sum_f k): c is constant over frequency
                h = h + tf.nn.conv2d(c, consts["ksum"], strides=1, padding=padding)[:, :, 0, :]
            front.append(post(h, b))
        return tail(tf.concat(front, axis=-1))

    tail = tail_ops(w)
    return forward


def tail_ops(w: dict[str, Any]) -> Callable:
    """musicnn's mid-end and back end over front-end features, as TensorFlow ops.

    Parameters
    ----------
    w : dict
        Folded weights (:func:`fold_musicnn`).

    Returns
    -------
    callable
        ``tail(h)``: front-end features [shape=(batch, frames, channels)] -> ``{"tags"
        [shape=(batch, n_labels)], "pooled", "penultimate"}``; shared by the folded forward pass
        and the incremental occlusion of :mod:`musictag_core.explain`.
    """
    import tensorflow as tf

    const = tf.constant
    midend = [tuple(const(a) for a in layer) for layer in w["midend"]]
    pooled_bn = tuple(const(a) for a in w["pooled_bn"])
    dense = tuple(const(a) for a in w["dense"])
    penult = tuple(const(a) for a in w["penultimate"])
    logits = tuple(const(a) for a in w["logits"])

    def tail(h):
        mids = [h]
        for i, (kernel, bias, scale, shift) in enumerate(midend):
            pad = (kernel.shape[0] - 1) // 2
            z = tf.nn.conv1d(tf.pad(h, [[0, 0], [pad, pad], [0, 0]]), kernel, stride=1, padding="VALID")
            z = tf.nn.relu(z + bias) * scale + shift
            h = z if i == 0 else z + h
            mids.append(h)
        mid = tf.concat(mids, axis=-1)
        pooled = tf.reshape(
            tf.stack([tf.reduce_max(mid, axis=1), tf.reduce_mean(mid, axis=1)], axis=-1),
            [-1, 2 * mid.shape[-1]],
        )
        h = pooled * pooled_bn[0] + pooled_bn[1]
        h = tf.nn.relu(tf.matmul(h, dense[0]) + dense[1])
        pen = h * penult[0] + penult[1]
        tags = tf.sigmoid(tf.matmul(pen, logits[0]) + logits[1])
        return {"tags": tags, "pooled": pooled, "penultimate": pen}

    return tail
