"""Training and zero-shot evaluation of ``tagtext`` (seed 001's method 2; :mod:`musictag_core.models.tagtext`).

:func:`train_tagtext` is the run worker's trainer for ``model="tagtext"``. It

1. holds out a set of tags entirely (``RunConfig.holdout``, default a seeded
   quarter of the labels, at least one): no pair with a held-out tag is ever
   trained on, and a track that carries only held-out tags is not trained on;
2. trains the audio and text towers on (musicnn patch embedding, tag-name
   embedding) pairs with InfoNCE over in-batch negatives, early-stopping on the
   validation loss;
3. evaluates zero-shot retrieval on the held-out tags over the test tracks
   (:func:`zero_shot_report`): mAP (each held-out tag ranks the test tracks) and
   P@k for k = 1 .. number of held-out tags (each test track ranks the held-out
   tags), against a random ranking and against the nearest trained tag (each
   held-out tag replaced by the trained tag whose name is closest in MiniLM
   space, scored by the same model);
4. returns an ordinary tagger over every label (trained and held out), so the
   run is listed, tagged with and evaluated like any other.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from ..errors import TrainingError
from .context import RunContext, StopRequested
from .data import prepare_inputs

__all__ = ["choose_holdout", "zero_shot_scores", "zero_shot_report", "zero_shot_rows", "train_tagtext"]

#: Random rankings averaged for the random baseline's mAP.
N_RANDOM = 200


def choose_holdout(labels: list[str], requested: tuple[str, ...] | list[str], *, seed: int) -> list[str]:
    """The held-out tags: ``requested`` (checked against ``labels``), else a seeded quarter of them (at least 1).

    Raises
    ------
    TrainingError
        If a requested tag is unknown, or no tag would be left to train on.
    """
    if requested:
        unknown = [t for t in requested if t not in labels]
        if unknown:
            raise TrainingError(f"holdout tags {unknown} are not labels of the dataset; its labels are {labels}")
        held = [t for t in labels if t in set(requested)]
    else:
        n = max(1, int(round(0.25 * len(labels))))
        pick = np.random.default_rng([seed, 7]).choice(len(labels), n, replace=False)
        held = [labels[i] for i in sorted(pick)]
    if len(held) >= len(labels) - 1:
        raise TrainingError(
            f"holding out {held} leaves {len(labels) - len(held)} tag(s) to train on; tagtext needs at least 2"
        )
    return held


def _ap(y: np.ndarray, s: np.ndarray) -> float:
    from sklearn.metrics import average_precision_score

    return float(average_precision_score(y, s))


def zero_shot_scores(sim: np.ndarray, Y: np.ndarray) -> dict[str, Any]:
    """mAP and P@k of similarities ``sim`` against presence ``Y``, both ``[shape=(n_tracks, n_tags)]``.

    mAP: mean over tags with at least one positive track of the average
    precision of ranking the tracks by that tag's similarity. P@k: mean over
    tracks with at least one positive tag of the fraction of the ``k`` most
    similar tags that the track carries, for ``k = 1 .. n_tags``.
    """
    Y = np.asarray(Y) > 0
    cols = [j for j in range(Y.shape[1]) if Y[:, j].any()]
    ap = {j: _ap(Y[:, j], sim[:, j]) for j in cols}
    rows = np.flatnonzero(Y.any(axis=1))
    order = np.argsort(-sim[rows], axis=1, kind="stable")
    p_at = {}
    for k in range(1, Y.shape[1] + 1):
        hits = np.take_along_axis(Y[rows], order[:, :k], axis=1).sum(axis=1)
        p_at[str(k)] = float(np.mean(hits / k)) if len(rows) else None
    return {"map": float(np.mean(list(ap.values()))) if ap else None, "ap": ap, "p_at_k": p_at}


def zero_shot_report(sim: np.ndarray, sim_nearest: np.ndarray, Y: np.ndarray, *, tags: list[str], nearest: list[str], seed: int) -> dict[str, Any]:
    """The zero-shot section of a tagtext run's metrics: the model against the random and nearest-trained-tag baselines.

    Parameters
    ----------
    sim : np.ndarray [shape=(n_tracks, n_held)]
        The model's similarity of each test track with each held-out tag.
    sim_nearest : np.ndarray [shape=(n_tracks, n_held)]
        The model's similarity with the trained tag nearest to each held-out tag.
    Y : np.ndarray [shape=(n_tracks, n_held)]
        Presence of the held-out tags.
    tags, nearest : list of str
        The held-out tags and their nearest trained tags.
    seed : int
        Seeds the random rankings.
    """
    model = zero_shot_scores(sim, Y)
    near = zero_shot_scores(sim_nearest, Y)
    rng = np.random.default_rng([seed, 11])
    rand = [zero_shot_scores(rng.random(sim.shape), Y) for _ in range(N_RANDOM)]
    rand_map = [r["map"] for r in rand if r["map"] is not None]
    random = {
        "map": float(np.mean(rand_map)) if rand_map else None,
        "p_at_k": {k: float(np.mean([r["p_at_k"][k] for r in rand])) if model["p_at_k"][k] is not None else None for k in model["p_at_k"]},
        "n_rankings": N_RANDOM,
    }
    Yb = np.asarray(Y) > 0
    return {
        "held_out_tags": list(tags),
        "nearest_trained_tag": dict(zip(tags, nearest)),
        "n_test_tracks": int(len(Yb)),
        "n_positive_tracks": {t: int(Yb[:, j].sum()) for j, t in enumerate(tags)},
        "map": model["map"],
        "ap": {tags[j]: v for j, v in model["ap"].items()},
        "p_at_k": model["p_at_k"],
        "baselines": {
            "random": random,
            "nearest_trained_tag": {"map": near["map"], "ap": {tags[j]: v for j, v in near["ap"].items()}, "p_at_k": near["p_at_k"]},
        },
    }


def zero_shot_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The zero-shot section of a run's metrics as table rows: the model, then each baseline.

    Parameters
    ----------
    report : dict
        :func:`zero_shot_report`'s result (``metrics.json``'s ``zero_shot``).

    Returns
    -------
    list of dict
        ``{"ranking", "mAP", "P@k" for each k}`` for ``tagtext``, ``random`` and
        ``nearest trained tag``; a value is None where it is undefined.
    """
    ks = list(report.get("p_at_k") or {})
    sources = [("tagtext", report), *((name.replace("_", " "), report["baselines"][key])
                                      for key, name in (("random", "random"), ("nearest_trained_tag", "nearest trained tag")))]
    return [{"ranking": name, "mAP": src.get("map"), **{f"P@{k}": (src.get("p_at_k") or {}).get(k) for k in ks}}
            for name, src in sources]


def _track_vectors(tower, arrays: list[np.ndarray]) -> np.ndarray:  # noqa: ANN001
    """Unit audio vector per track: the mean of its patches' vectors, renormalised [shape=(n_tracks, units)]."""
    sizes = [len(a) for a in arrays]
    flat = np.concatenate([np.asarray(a, dtype=np.float32) for a in arrays])
    v = np.concatenate([np.asarray(tower(flat[i : i + 1024], training=False)) for i in range(0, len(flat), 1024)])
    out = np.stack([m.mean(axis=0) for m in np.split(v, np.cumsum(sizes)[:-1])])
    return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)


def train_tagtext(ctx: RunContext, index, split: dict[str, np.ndarray], task: str, rng: np.random.Generator) -> dict[str, Any]:  # noqa: ANN001
    """Fit ``tagtext`` on one split; return the tagger, its val/test scores and the zero-shot report (``"zero_shot"``)."""
    import keras
    import tensorflow as tf

    from ..models.minilm import load_text_encoder
    from ..models.registry import ModelConfig
    from ..models.tagtext import TEMPERATURE, build_tagtext, build_tagtext_tagger, info_nce
    from ..models.textsearch import tag_text
    from .sampler import SegmentSampler, predict_tracks

    cfg = ctx.config
    keras.utils.set_random_seed(cfg.seed)
    labels = list(index.labels)
    present = index.y.astype(bool)  # multi-label presence, whatever the run's task
    held = choose_holdout(labels, cfg.holdout, seed=cfg.seed)
    held_idx = [labels.index(t) for t in held]
    train_idx = [j for j in range(len(labels)) if labels[j] not in set(held)]
    ctx.log("zero-shot split", held_out=held, trained=[labels[j] for j in train_idx])

    # text: MiniLM embeddings of every tag name, once
    enc = load_text_encoder()
    t_emb = enc.embed([tag_text(lab) for lab in labels])  # (n_labels, 384)
    name_sim = t_emb[held_idx] @ t_emb[train_idx].T
    nearest_idx = [train_idx[int(i)] for i in np.argmax(name_sim, axis=1)]

    ctx.log("preparing inputs", tracks=int(sum(len(v) for v in split.values())))
    all_rows = np.concatenate([split["train"], split["validation"], split["test"]])
    data = prepare_inputs(ctx, index, all_rows, augment=False, rng=rng)
    patches = {int(r): np.asarray(data[int(r)].variants[0], dtype=np.float32) for r in all_rows}

    def pairs(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every (patch, trained tag of its track): patch rows, track rows and tag indices."""
        x, owner, tag = [], [], []
        for r in rows:
            tags = [j for j in train_idx if present[r, j]]
            for j in tags:
                p = patches[int(r)]
                x.append(p)
                owner += [int(r)] * len(p)
                tag += [j] * len(p)
        if not x:
            return np.zeros((0, 1), np.float32), np.zeros(0, int), np.zeros(0, int)
        return np.concatenate(x), np.asarray(owner), np.asarray(tag)

    xtr, otr, ttr = pairs(split["train"])
    xva, ova, tva = pairs(split["validation"])
    if len(set(ttr.tolist())) < 2:
        raise TrainingError(f"tagtext needs training tracks for at least 2 trained tags; the training split has {sorted(set(labels[j] for j in ttr))}")
    pre = cfg.preset_obj()
    mcfg = ModelConfig(
        input_shape=(int(xtr.shape[1]),), n_outputs=len(labels), task="multi",
        dropout=cfg.resolved_dropout(), width=pre.width, units=pre.units, name="tagtext",
    )
    keras.utils.set_random_seed(cfg.seed)  # again: loading the text encoder the first time draws from the same generator
    model = build_tagtext(mcfg)
    audio, text = model.get_layer("audio_tower"), model.get_layer("text_tower")
    audio.get_layer("normalize").adapt(xtr[np.random.default_rng(cfg.seed).choice(len(xtr), min(len(xtr), 2048), replace=False)])
    opt = keras.optimizers.Adam(learning_rate=cfg.resolved_learning_rate())
    bs = max(4, cfg.resolved_batch_size())

    def batch_loss(x, own, tag, training: bool):  # noqa: ANN001, ANN202
        pos = present[own][:, tag].astype(np.float32)  # track of pair i carries tag of pair j
        a = audio(x, training=training)
        t = text(t_emb[tag], training=training)
        return info_nce(a, t, pos, temperature=TEMPERATURE)

    def val_loss() -> float:
        if not len(xva):
            return float("nan")
        g = np.random.default_rng([cfg.seed, 3])
        order = g.permutation(len(xva))
        losses = [float(batch_loss(xva[i], ova[i], tva[i], False)) for i in np.array_split(order, max(1, len(order) // bs)) if len(i) > 1]
        return float(np.mean(losses)) if losses else float("nan")

    epochs = cfg.resolved_epochs()
    weights = model.trainable_weights
    best, best_epoch, best_weights, wait, step = np.inf, 0, model.get_weights(), 0, 0
    ctx.log("training", epochs=epochs, pairs=len(xtr), batches_per_epoch=max(1, len(xtr) // bs), input_shape=[int(xtr.shape[1])])
    for epoch in range(epochs):
        t0 = time.perf_counter()
        order = rng.permutation(len(xtr))
        losses = []
        for i in np.array_split(order, max(1, len(order) // bs)):
            if len(i) < 2:
                continue
            with tf.GradientTape() as tape:
                loss = batch_loss(xtr[i], otr[i], ttr[i], True)
            opt.apply_gradients(zip(tape.gradient(loss, weights), weights))
            step += 1
            losses.append(float(loss))
            ctx.events.write("batch", epoch=epoch, step=step, loss=losses[-1])
        vl = val_loss()
        ctx.events.write(
            "epoch", epoch=epoch, step=step, train={"loss": float(np.mean(losses))}, validation={"loss": vl},
            seconds=round(time.perf_counter() - t0, 3), samples_per_s=round(len(xtr) / max(time.perf_counter() - t0, 1e-9), 2),
        )
        ctx.run.update_status(epoch=epoch + 1)
        if not np.isfinite(vl) or vl < best:
            best, best_epoch, best_weights, wait = vl if np.isfinite(vl) else best, epoch, model.get_weights(), 0
        else:
            wait += 1
            if cfg.patience and wait >= cfg.patience:
                break
        if ctx.stop_requested():
            break
    model.set_weights(best_weights)
    if ctx.stop_requested() and step == 0:
        raise StopRequested

    # zero-shot evaluation on the test tracks
    tag_vec = np.asarray(text(t_emb, training=False))  # (n_labels, units), unit vectors
    test = split["test"]
    tv = _track_vectors(audio, [patches[int(r)] for r in test])
    sim = tv @ tag_vec.T  # (n_test, n_labels)
    zero_shot = zero_shot_report(
        sim[:, held_idx], sim[:, nearest_idx], present[test][:, held_idx],
        tags=held, nearest=[labels[j] for j in nearest_idx], seed=cfg.seed,
    )
    seen = zero_shot_scores(sim[:, train_idx], present[test][:, train_idx])
    zero_shot["trained_tags"] = {"tags": [labels[j] for j in train_idx], "map": seen["map"]}
    # the tagger: a sigmoid at the midpoint of positive and negative training-pair cosines
    trv = _track_vectors(audio, [patches[int(r)] for r in split["train"]])
    cos = trv @ tag_vec[train_idx].T
    mask = present[split["train"]][:, train_idx]
    offset = float((cos[mask].mean() + cos[~mask].mean()) / 2) if mask.any() and (~mask).any() else 0.0
    tagger = build_tagtext_tagger(model, tag_vec, offset=offset, task=task, name="tagtext")
    Y = (np.eye(len(labels), dtype=np.float32)[index.label_index] if task == "single" else index.y.astype(np.float32))

    def scores(rows: np.ndarray) -> np.ndarray:
        ev = SegmentSampler([[patches[int(r)]] for r in rows], Y[rows], batch_size=256, evaluation=True)
        return predict_tracks(tagger, ev)[0]

    ctx.log("zero-shot", map=zero_shot["map"], random_map=zero_shot["baselines"]["random"]["map"],
            nearest_map=zero_shot["baselines"]["nearest_trained_tag"]["map"])
    return {
        "model": tagger,
        "model_config": {**mcfg.to_dict(), "temperature": TEMPERATURE, "offset": offset, "held_out": held},
        "val": (split["validation"], scores(split["validation"])),
        "test": (test, scores(test)),
        "best_epoch": best_epoch + 1,
        "input_shape": [int(xtr.shape[1])],
        "zero_shot": zero_shot,
    }
