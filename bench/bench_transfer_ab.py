"""The transfer head's fit, A/B: an old checkout against this one, alternating fresh processes.

``python bench/bench_transfer_ab.py --before /path/to/old/checkout [--rounds 3]`` runs the
same fit (the ``transfer`` model's fast preset, 30 epochs on 10 000 synthetic 1706-d rows)
in a fresh process per run, alternating the old checkout and this one (each first on
``PYTHONPATH``), and writes ``bench/results/restructure/transfer_ab.json`` with both lists
and the ratio of the medians. Alternating fresh processes cancels the drift of a shared
machine and the state earlier work leaves in one process. ``--one`` runs a single fit
and prints its JSON line (what each process does).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve()
RESULT = HERE.parent / "results" / "restructure" / "transfer_ab.json"


def one() -> dict:
    import keras
    import numpy as np

    import musictag_core
    from musictag_core.models.neural import loss_for_task
    from musictag_core.models.registry import MODEL_CARDS, ModelConfig, build_model

    rng = np.random.default_rng(0)
    X = rng.normal(size=(10000, 1706)).astype(np.float32)
    Y = np.eye(10, dtype=np.float32)[np.repeat(rng.integers(0, 10, 1000), 10)]
    pre = MODEL_CARDS["transfer"].preset("fast")
    model = build_model("transfer", ModelConfig(input_shape=(1706,), n_outputs=10, width=pre.width, units=pre.units,
                                                dropout=pre.dropout))
    t0, c0 = time.perf_counter(), time.process_time()
    model.get_layer("normalize").adapt(X[:512])
    model.compile(optimizer=keras.optimizers.Adam(1e-4), loss=loss_for_task("single"))
    model.fit(X, Y, epochs=pre.epochs, batch_size=pre.batch_size, verbose=0)
    return {"code": str(Path(musictag_core.__file__).parents[1]), "params": int(model.count_params()),
            "fit_s": round(time.perf_counter() - t0, 2), "cpu_s": round(time.process_time() - c0, 2)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before", help="the old checkout (its folder holds musictag_core/)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(one()))
        return 0
    if not args.before:
        ap.error("--before is required")
    after = HERE.parents[1]
    runs = {"before": [], "after": []}
    for _ in range(args.rounds):
        for name, root in (("before", Path(args.before).resolve()), ("after", after)):
            env = {**os.environ, "PYTHONPATH": str(root)}
            out = subprocess.run([sys.executable, str(HERE), "--one"], env=env, cwd="/", capture_output=True,
                                 text=True, check=True).stdout.strip().splitlines()[-1]
            runs[name].append(json.loads(out))
            print(name, runs[name][-1], flush=True)
    b = [r["fit_s"] for r in runs["before"]]
    a = [r["fit_s"] for r in runs["after"]]
    doc = {"benchmark": "transfer head fit, A/B in alternating fresh processes", "runs": runs,
           "median_before_s": statistics.median(b), "median_after_s": statistics.median(a),
           "ratio_after_over_before": round(statistics.median(a) / statistics.median(b), 3)}
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(doc, indent=2) + "\n")
    print(json.dumps({k: doc[k] for k in ("median_before_s", "median_after_s", "ratio_after_over_before")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
