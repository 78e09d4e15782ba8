"""Transfer on small data: which head on musicnn outputs wins, by pooled out-of-fold accuracy / macro-F1 on the same folds.

``python bench/bench_transfer_small.py [--clips /work/shared/data/clips] [--quick]`` compares the
choices of :mod:`musictag_core.training.transfer_small` (segment- vs track-level training,
pooled / penultimate / both embeddings / taggram, logistic regression vs RBF SVM, fixed vs
tuned C) on

(a) the single-style tracks of the ``demo-hard`` corpus: stratified 5-fold by track;
(b) the shared real clips (genre = the file name's first word). With 11 genres and only
    blues holding 2 clips, no track-level fold can test a genre it has not trained on, so
    (b) is a *within-clip* test: every clip's first half of patches trains, its second half
    is scored (the mean over its patches). It measures how well each head separates these
    recordings' genres from a few patches, not generalisation to new recordings, and is
    said so in the JSON.

Writes ``bench/results/transfer_small.json``. musicnn outputs are cached per file (feature
store), so a second run takes seconds.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve()
sys.path.insert(0, str(HERE.parents[1]))
RESULT = HERE.parent / "results" / "transfer_small.json"


def choices(quick: bool, wide_logreg_tune: bool):  # noqa: ANN201
    """Every level x features x head untuned; tuned SVMs (segment level); tuned logistic regression on
    the narrow inputs (penultimate 200-d, taggram 50-d) -- on 1506-d and wider inputs its grid takes
    about 160 s per choice on a shared 2-core machine (``--wide-logreg-tune`` adds them)."""
    from musictag_core.training.transfer_small import TransferChoice

    out = []
    for level in ("segment", "track"):
        for feats in ("pooled", "penultimate", "both", "taggram", "both+taggram"):
            if quick and feats in ("pooled", "both+taggram"):
                continue
            for head in ("logreg", "svm"):
                out.append(TransferChoice(level=level, features=feats, head=head))
                narrow = feats in ("penultimate", "taggram")
                if level == "segment" and (head == "svm" or narrow or wide_logreg_tune):
                    out.append(TransferChoice(level=level, features=feats, head=head, tune=True))
    return out


def run_demo(quick: bool, wide: bool) -> dict:
    from musictag_core.datasets.demo.corpus import load_demo
    from musictag_core.training.transfer_small import evaluate_transfer_choice, patch_outputs, track_folds

    ix = load_demo(variant="demo-hard")
    present = ix.strengths >= ix.threshold
    single = np.flatnonzero(present.sum(axis=1) == 1)
    y = np.argmax(present[single], axis=1)
    t0 = time.perf_counter()
    outs = patch_outputs(list(ix.tracks["path"].iloc[single]))
    embed_s = time.perf_counter() - t0
    folds = track_folds(y, k=5, seed=0)
    rows = []
    for c in choices(quick, wide):
        t = time.perf_counter()
        r = evaluate_transfer_choice(outs, y, choice=c, folds=folds, seed=0)
        rows.append({"choice": r["choice"], "accuracy": round(r["accuracy"], 4), "macro_f1": round(r["macro_f1"], 4),
                     "seconds": round(time.perf_counter() - t, 2), "best_params": r["best_params"]})
        print("demo-hard", rows[-1], flush=True)
    return {"dataset": "demo-hard (seed 0), single-style tracks", "n_tracks": len(y), "labels": list(ix.labels),
            "patches_per_track": float(np.mean([len(o["tags"]) for o in outs])),
            "folds": "stratified 5-fold by track (seed 0), pooled out-of-fold", "embed_seconds": round(embed_s, 1),
            "results": rows}


def run_clips(folder: Path, quick: bool, wide: bool) -> dict:
    from musictag_core.training.transfer_small import evaluate_transfer_choice, patch_outputs

    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".wav", ".mp3", ".flac", ".ogg"))
    genres = [p.name.split(".")[0].split("-")[0] for p in files]
    labels = sorted(set(genres))
    t0 = time.perf_counter()
    outs = patch_outputs(files)
    embed_s = time.perf_counter() - t0
    # within-clip halves: each clip's first half of patches is a training "track", its second half a test "track"
    halves, y = [], []
    for o, g in zip(outs, genres):
        n = len(o["tags"])
        cut = max(1, n // 2)
        halves.append({k: v[:cut] for k, v in o.items()})
        halves.append({k: v[cut:] if n > 1 else v for k, v in o.items()})
        y += [labels.index(g)] * 2
    y = np.asarray(y)
    folds = [(np.arange(0, len(y), 2), np.arange(1, len(y), 2))]
    rows = []
    for c in choices(quick, wide):
        t = time.perf_counter()
        r = evaluate_transfer_choice(halves, y, choice=c, folds=folds, n_classes=len(labels), seed=0)
        rows.append({"choice": r["choice"], "accuracy": round(r["accuracy"], 4), "macro_f1": round(r["macro_f1"], 4),
                     "seconds": round(time.perf_counter() - t, 2), "best_params": r["best_params"]})
        print("clips", rows[-1], flush=True)
    return {"dataset": f"shared real clips ({len(files)} files, {len(labels)} genres)", "n_tracks": len(files),
            "labels": labels, "patches_per_track": float(np.mean([len(o["tags"]) for o in outs])),
            "folds": "within-clip: first half of each clip's patches trains, second half is tested (one fold); "
                     "10 of 11 genres have a single clip, so no fold by track can test them",
            "embed_seconds": round(embed_s, 1), "results": rows}


def best(block: dict) -> dict:
    return max(block["results"], key=lambda r: (r["accuracy"], r["macro_f1"]))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", default="/work/shared/data/clips", help="folder of real clips named <genre>.<id>.<ext>")
    ap.add_argument("--quick", action="store_true", help="fewer choices (no pooled-only, no both+taggram)")
    ap.add_argument("--wide-logreg-tune", action="store_true", help="also tune logistic regression on 1506-d+ inputs (slow)")
    args = ap.parse_args()
    t0 = time.perf_counter()
    doc = {"benchmark": "transfer heads on musicnn outputs, pooled out-of-fold, same folds per dataset",
           "demo": run_demo(args.quick, args.wide_logreg_tune)}
    clips = Path(args.clips)
    doc["clips"] = run_clips(clips, args.quick, args.wide_logreg_tune) if clips.is_dir() else None
    doc["winners"] = {k: best(doc[k]) for k in ("demo", "clips") if doc[k]}
    doc["choices_left_out"] = None if args.wide_logreg_tune else (
        "tuned logistic regression on pooled / both / both+taggram (about 160 s each; --wide-logreg-tune)")
    doc["total_seconds"] = round(time.perf_counter() - t0, 1)
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(doc, indent=2) + "\n")
    print(json.dumps(doc["winners"], indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
