"""Quality of "tracks like this" on real music: leave-one-out genre agreement of the nearest neighbours.

Run: ``python bench/bench_similar_quality.py [--sources demo clips FOLDER...] [--spaces penultimate pooled mfcc]``
(a FOLDER is any dataset path with genre labels, for example a private set of real clips).
Writes ``bench/results/similar_quality.json``.

For each source (the demo corpus; the shared real clips in ``../shared/data/clips``) and each
vector space, an index is built in a temporary folder (embeddings come from the feature cache,
``$MUSICTAG_CACHE``), and :func:`musictag_core.similarity.leave_one_out_agreement` scores it:
``top1`` is the fraction of labelled tracks whose nearest other track shares a label, ``top5``
the mean fraction of the five nearest that do, ``chance_top1`` what a random other track gives,
``ceiling_top1`` / ``ceiling_top5`` the best possible (given how many other tracks share each genre).
MFCC statistics are the baseline the musicnn spaces are compared with (``ratios``).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common import CLIPS, write_result  # noqa: E402

SOURCES = {"demo": "demo", "clips": str(CLIPS)}


def main(argv: list[str] | None = None) -> None:
    from musictag_core.similarity import build_index, leave_one_out_agreement, open_index

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sources", nargs="+", default=list(SOURCES), help="demo, clips, or dataset paths")
    ap.add_argument("--spaces", nargs="+", default=["penultimate", "pooled", "mfcc"])
    args = ap.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory(prefix="similar_quality_") as root:
        for source in args.sources:
            if source == "clips" and not CLIPS.is_dir():
                print(f"skipping clips: {CLIPS} is not present", file=sys.stderr)
                continue
            for space in args.spaces:
                name = f"source{len(rows)}_{space}"
                t0 = time.perf_counter()
                rep = build_index(SOURCES.get(source, source), name=name, space=space, root=root)
                build_s = time.perf_counter() - t0
                q = leave_one_out_agreement(open_index(name, root=root), k=5)
                row = {"source": source, "space": space, "n_tracks": rep.n_tracks, "n_scored": q["n_tracks"],
                       "top1": q["top1"], "top5": q["topk"], "chance_top1": q["chance_top1"], "ceiling_top1": q["ceiling_top1"],
                       "ceiling_top5": q["ceiling_topk"],
                       "build_s": round(build_s, 2), "failed": len(rep.failed), "per_label_top1": q["per_label"]}
                print(row, file=sys.stderr)
                rows.append(row)
    ratios = {}
    for source in {r["source"] for r in rows}:
        base = next((r for r in rows if r["source"] == source and r["space"] == "mfcc"), None)
        if base and base["top1"]:
            ratios[source] = {r["space"]: {"top1_over_mfcc": round(r["top1"] / base["top1"], 2),
                                           "top5_over_mfcc": round(r["top5"] / base["top5"], 2) if base["top5"] else None}
                              for r in rows if r["source"] == source and r["space"] != "mfcc"}
    write_result("similar_quality", {"model": "MSD_musicnn", "rows": rows, "ratios": ratios})


if __name__ == "__main__":
    main()
