"""Occlusion of musicnn patches that recomputes only what a masked time-frequency cell changes.

Used by :mod:`musictag_core.explain`; equal to a full forward pass of the masked patches to
float32 rounding (``tests/test_explain.py``).
"""

from __future__ import annotations

import threading
import weakref
from typing import TYPE_CHECKING, Any

import numpy as np

from ...errors import ModelError
from .fast import fold_musicnn, tail_ops

if TYPE_CHECKING:
    from ..loading import Tagger

__all__ = ["OCCLUDER_BATCH", "MusicnnOcclusion", "occluder"]

#: Masked copies :class:`MusicnnOcclusion` scores per call: the same peak memory as the tagger's
#: own forward pass of 32 patches (~300 MB).
OCCLUDER_BATCH = 32


class MusicnnOcclusion:
    """Scores of musicnn patches with one time-frequency cell masked, recomputing only what the cell changes.

    musicnn's front end is ``max_f post(conv)`` per frame for every branch. The timbral
    convolutions (81 % of the 2.8 GFLOP of a patch) are 7 frames long, so a cell of
    frames ``[t0, t1)`` changes their output only in frames ``[t0 - 3, t1 + 3)``: that
    window is recomputed and spliced into the unmasked front end. The temporal
    convolutions are one band wide, so only the cell's bands are convolved again and
    their max is combined with the unmasked max over the other bands. The mid-end and
    back-end (4 % of the FLOPs) then run on the whole patch. The scores equal a full
    forward pass of the masked patches to float32 rounding (tested).
    """

    def __init__(self, model) -> None:  # noqa: ANN001 - keras.Model
        import tensorflow as tf


        w = fold_musicnn(model)  # ModelError when not a standard musicnn graph
        self.s0, self.t0 = (float(v) for v in w["input"])
        const = tf.constant
        timbral = [(const(b["kernel"]), b) for b in w["timbral"]]
        temporal = [(const(b["kernel"]), b) for b in w["temporal"]]
        self.pads = [(b["kernel"].shape[0] - 1) // 2 for b in w["timbral"]]
        if len(set(self.pads)) != 1:
            raise ModelError(f"timbral kernels of different lengths {sorted(self.pads)}: no incremental occlusion")
        tail_fn = tail_ops(w)

        def post(mx, b):
            return tf.nn.relu(mx * const(b["sign"]) + const(b["bias"])) * const(b["scale"]) + const(b["shift"])

        spec4 = tf.TensorSpec([None, None, None, 1], tf.float32)
        spec3 = tf.TensorSpec([None, None, None], tf.float32)

        @tf.function(input_signature=[spec4], autograph=False)
        def timbral_max(xp):  # time-padded input (b, t + 2 pad, f, 1) -> per branch (b, t, c) after post
            return [post(tf.reduce_max(tf.nn.conv2d(xp, k, strides=1, padding="VALID"), axis=2), b) for k, b in timbral]

        @tf.function(input_signature=[spec4], autograph=False)
        def temporal_raw(x):  # (b, t, f', 1) -> per branch (b, t, f', c) raw convolutions (before the max and post)
            return [tf.nn.conv2d(x, k, strides=1, padding="SAME") for k, _ in temporal]

        @tf.function(input_signature=[spec3] * len(temporal), autograph=False)
        def temporal_post(*maxes):
            return [post(m, b) for m, (_, b) in zip(maxes, temporal)]

        c_front = sum(int(b["kernel"].shape[3]) for b in [*w["timbral"], *w["temporal"]])

        @tf.function(input_signature=[tf.TensorSpec([None, None, c_front], tf.float32)], autograph=False)
        def tail(h):  # front end (b, t, c) -> tags (b, n_labels)
            return tail_fn(h)["tags"]

        self._timbral, self._temporal_raw, self._temporal_post, self._tail = timbral_max, temporal_raw, temporal_post, tail

    def _norm(self, x: np.ndarray) -> np.ndarray:
        return (x * np.float32(self.s0) + np.float32(self.t0)).astype(np.float32)[..., None]

    def prepare(self, x: np.ndarray, band_cells: list[tuple[int, int]]) -> dict[str, Any]:
        """Unmasked front-end pieces of the patches ``x`` [shape=(n, t, f)]."""
        xn = self._norm(x)
        p = max(self.pads)
        timbral = [np.asarray(v) for v in self._timbral(np.pad(xn, [(0, 0), (p, p), (0, 0), (0, 0)]))]
        excl = []  # per temporal branch: max over the bands outside each band group (n, groups, t, c)
        for raw in self._temporal_raw(xn):
            raw = np.asarray(raw)
            lo = np.maximum.accumulate(raw, axis=2)
            hi = np.maximum.accumulate(raw[:, :, ::-1], axis=2)[:, :, ::-1]
            groups = []
            for b0, b1 in band_cells:
                parts = ([lo[:, :, b0 - 1]] if b0 > 0 else []) + ([hi[:, :, b1]] if b1 < raw.shape[2] else [])
                groups.append(np.maximum(*parts) if len(parts) == 2 else parts[0] if parts else np.full_like(lo[:, :, 0], -np.inf))
            excl.append(np.stack(groups, axis=1))
        return {"xn": xn, "timbral": timbral, "excl": excl}

    def score(self, base: dict[str, Any], cells: list[tuple[int, int, int, int, int, int]], j: int) -> np.ndarray:
        """Score ``j`` of each patch with one cell ``(seg, t0, t1, group, b0, b1)`` set to its mean."""
        xn, n_t = base["xn"], base["xn"].shape[1]
        widths = {b1 - b0 for *_, b0, b1 in cells}
        width_t = max(t1 - t0 for _, t0, t1, *_ in cells)
        p = max(self.pads)
        win = min(n_t, width_t + 2 * p)  # output frames recomputed per copy
        out = np.empty(len(cells))
        for bw in sorted(widths):
            idx = [i for i, c in enumerate(cells) if c[5] - c[4] == bw]
            for k in range(0, len(idx), OCCLUDER_BATCH):
                chunk = [cells[i] for i in idx[k : k + OCCLUDER_BATCH]]
                m = len(chunk)
                o0 = np.array([min(max(t0 - p, 0), n_t - win) for _, t0, *_ in chunk])
                xp_win = np.empty((m, win + 2 * p, xn.shape[2], 1), np.float32)
                bands = np.empty((m, n_t, bw, 1), np.float32)
                for i, (s, t0, t1, _, b0, b1) in enumerate(chunk):
                    patch = xn[s].copy()
                    patch[t0:t1, b0:b1] = patch[t0:t1, b0:b1].mean()
                    padded = np.pad(patch, [(p, p), (0, 0), (0, 0)])
                    xp_win[i] = padded[o0[i] : o0[i] + win + 2 * p]
                    bands[i] = patch[:, b0:b1]
                fronts = []
                for t_full, t_win in zip(base["timbral"], self._timbral(xp_win)):
                    full = t_full[[c[0] for c in chunk]].copy()
                    t_win = np.asarray(t_win)
                    for i in range(m):
                        full[i, o0[i] : o0[i] + win] = t_win[i]
                    fronts.append(full)
                maxes = []
                for ex, raw in zip(base["excl"], self._temporal_raw(bands)):
                    other = ex[[c[0] for c in chunk], [c[3] for c in chunk]]
                    maxes.append(np.maximum(other, np.asarray(raw).max(axis=2)))
                fronts += [np.asarray(v) for v in self._temporal_post(*maxes)]
                tags = np.asarray(self._tail(np.concatenate(fronts, axis=-1)))
                for i, ci in enumerate(idx[k : k + OCCLUDER_BATCH]):
                    out[ci] = tags[i, j]
        return out


_OCCLUDERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_OCCLUDERS_LOCK = threading.Lock()


def occluder(tagger: Tagger) -> MusicnnOcclusion | None:
    """The incremental occlusion of a float32 or mixed-precision musicnn tagger (built once per tagger), or None.

    The occlusion itself runs in float32 (from the Keras model's weights).
    """
    model = getattr(tagger, "model_", None)
    precision = getattr(tagger, "precision", "float32")
    if model is None or precision not in ("float32", "mixed") or not getattr(tagger, "fast", False):
        return None
    with _OCCLUDERS_LOCK:
        if tagger not in _OCCLUDERS:
            try:
                _OCCLUDERS[tagger] = MusicnnOcclusion(model)
            except ModelError:
                _OCCLUDERS[tagger] = None
        return _OCCLUDERS[tagger]
