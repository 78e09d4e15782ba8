"""Robustness report: time for a 30 s clip, batched against one tagging per variant, and a tiny run's curve.

Run: ``python bench/bench_robustness.py [--repeat N]``. Writes ``bench/results/robustness.json``.

* ``report_30s``: :func:`musictag_core.robustness.robustness_array` on ``blues.00000.wav`` (30 s, decoded): plain
  tagging plus 11 perturbed variants whose patches go through ``MSD_musicnn`` in one batched forward call;
* ``baseline_sequential``: the same 11 variants tagged one by one with ``tag_array`` (the obvious loop);
* ``stages``: applying the 11 perturbations (audiomentations) vs the model (mel + forward) of the batched report;
* ``run_curve``: ``robustness_run`` of a logistic-regression run on a tiny tones dataset (12 tracks, 1.5 s each).

Wall and process CPU seconds; on this shared 2-core machine ``cpu_s / 2`` approximates an idle machine's wall time.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.common import CLIPS, timeit_cpu, write_result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()

    from musictag_core.audio import load_audio
    from musictag_core.augment import apply_augmentation
    from musictag_core.models.loading import load_tagger
    from musictag_core.predict import tag_array
    from musictag_core.robustness import draw_perturbations, robustness_array

    tagger = load_tagger("MSD_musicnn")
    y, sr = load_audio(CLIPS / "blues.00000.wav", sr=tagger.sr)
    load_before = os.getloadavg()
    report_t, report = timeit_cpu(lambda: robustness_array(y, sr=sr, model=tagger, seed=0), repeat=args.repeat)
    drawn = draw_perturbations(y, rng=np.random.default_rng(0))
    apply_t, variants = timeit_cpu(lambda: [apply_augmentation(y, sr=sr, params=d["params"]) for d in drawn], repeat=args.repeat)

    def batched_model():
        cut = [tagger.patches(v)[0] for v in variants]
        tagger.forward(np.concatenate(cut))

    model_t, _ = timeit_cpu(batched_model, repeat=args.repeat)

    def sequential():
        tag_array(y, sr=sr, model=tagger)
        return [tag_array(apply_augmentation(y, sr=sr, params=d["params"]), sr=sr, model=tagger).scores for d in drawn]

    seq_t, seq_scores = timeit_cpu(sequential, repeat=args.repeat)
    same = float(np.max(np.abs(np.stack(seq_scores) - np.stack([r.scores for r in report.rows]))))

    # a tiny finished run's curve
    from musictag_core.robustness import robustness_run
    from musictag_core.training import RunConfig, create_run, execute_run

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["MUSICTAG_CACHE"] = str(Path(tmp) / "cache")
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
        from tests.helpers import write_tone_dataset

        data = write_tone_dataset(Path(tmp) / "tones", n_per_genre=6, seconds=1.5)
        run_dir = create_run(RunConfig(dataset=str(data), model="logreg", seed=0), runs_dir=Path(tmp) / "runs")
        assert execute_run(run_dir) == "finished"
        run_t, curve = timeit_cpu(lambda: robustness_run(run_dir), repeat=1)
    write_result("robustness", {
        "clip": "blues.00000.wav", "model": "MSD_musicnn", "duration_s": round(len(y) / sr, 2),
        "report_30s": report_t, "baseline_sequential": seq_t,
        "speedup_vs_sequential": {"wall": round(seq_t["median_s"] / report_t["median_s"], 2),
                                  "cpu": round(seq_t["cpu_s"] / report_t["cpu_s"], 2)},
        "max_score_difference_batched_vs_sequential": same,
        "stages": {"perturb_11": apply_t, "model_11_batched": model_t},
        "summary": report.summary,
        "run_curve": {"timing": run_t, "metric": curve["metric"], "base": curve["base"], "n_tracks": curve["n_tracks"],
                      "curve": curve["curve"]},
        "load_average_before": [round(v, 2) for v in load_before], "load_average_after": [round(v, 2) for v in os.getloadavg()],
    })


if __name__ == "__main__":
    main()
