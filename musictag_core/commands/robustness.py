"""``robustness FILE...`` / ``robustness --run RUN_ID``: how a tagging holds up under small perturbations."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ..errors import AudioError, ParameterError
from . import add_output_options

__all__ = ["file_report", "register", "run"]


def register(sub: argparse._SubParsersAction) -> None:
    """Add the subcommand's parser to ``sub``."""
    p = sub.add_parser(
        "robustness",
        help="tag a file under pitch, tempo, gain and noise perturbations (or a run's test split with --run)",
        description="Tag each FILE unperturbed and under pitch shifts of -2, -1, +1, +2 semitones, tempo changes of "
        "0.9x, 0.95x, 1.05x, 1.1x, gain of -6 and +6 dB and noise at 30 dB SNR (seeded), and say whether the top "
        "genre survives. With --run RUN_ID: the run's test-split accuracy (or mAP) under each perturbation, also saved in the run folder "
        "as robustness.json (the Train page shows it).",
    )
    p.add_argument("files", nargs="*", metavar="FILE")
    p.add_argument("--run", default=None, metavar="RUN_ID", help="a finished training run: its test-split metric per perturbation")
    p.add_argument("--model", default="MSD_musicnn", help="model name or folder (see `models`)")
    p.add_argument("--seed", type=int, default=0, help="seed of the noise (default 0)")
    p.add_argument("--max-duration", type=float, default=None, metavar="S",
                   help="seconds decoded per file (default: $MUSICTAG_MAX_DURATION_S or 600)")
    add_output_options(p)
    p.add_argument("--runs-dir", default=None, help="folder of training runs (default: $MUSICTAG_RUNS or ./runs)")
    p.set_defaults(func=run)


def _print_report(report) -> None:  # noqa: ANN001
    base = report.base
    top = report.top_genre
    print(f"{report.path}  ({report.model}, {base.duration_s:.1f} s, {report.seconds:.1f} s to compute)")
    print(f"  unperturbed: {', '.join(f'{g} {s:.3f}' for g, s in base.top(3, genres_only=True) or base.top(3))}")
    for row in report.table():
        mark = "CHANGED" if row["changed"] else "same"
        print(f"  {row['perturbation']:<20} top {row['top genre']:<14} {mark:<8} {top} {row[f'score of {top}']:.3f}   "
              f"largest changes: {row['largest changes']}")
    print(f"  summary: {report.summary}")


def _print_curve(result: dict) -> None:
    from ..robustness import describe_perturbation

    base = result["base"]
    print(f"run {result['run']} ({result['model']}, {result['task']}): {result['metric']} on {result['n_tracks']} test tracks "
          f"({result['seconds']:.1f} s)")
    print(f"  {'unperturbed':<20} {base:.3f}" if base is not None else "  unperturbed: n/a")
    for row in result["curve"]:
        v = row["metric"]
        change = f"  ({v - base:+.3f})" if v is not None and base is not None else ""
        print(f"  {describe_perturbation(row['kind'], row['value']):<20} {'n/a' if v is None else f'{v:.3f}'}{change}")
    for path, reason in result["failures"].items():
        print(f"  skipped {path}: {reason}")


def run(args: argparse.Namespace) -> int:
    """Run the subcommand; return its exit code."""
    if args.run is not None:
        if args.files:
            raise ParameterError("give either FILE... or --run RUN_ID, not both")
        from ..robustness import robustness_run

        result = robustness_run(args.run, runs_dir=args.runs_dir, seed=args.seed, save=True)
        if args.json:
            print(json.dumps(result))
        else:
            _print_curve(result)
        return 1 if result["failures"] else 0
    if not args.files:
        raise ParameterError("give an audio FILE (or --run RUN_ID for a finished training run)")
    from ..models.loading import load_tagger
    from ..uploads import limits

    max_duration = args.max_duration if args.max_duration is not None else limits().max_duration_s
    tagger = load_tagger(args.model, runs_dir=args.runs_dir)  # a bad model fails everything: exit 2
    failed = 0
    for path in args.files:
        obj, report = file_report(path, tagger, seed=args.seed, max_duration=max_duration)
        if report is None:
            failed += 1
            if args.json:
                print(json.dumps(obj))
            else:
                print(f"error: {path}: {obj['error']}", file=sys.stderr)
            continue
        if args.json:
            print(json.dumps(obj))
        else:
            _print_report(report)
        sys.stdout.flush()
    return 1 if failed else 0


def file_report(source, tagger, *, seed: int = 0, max_duration: float | None = None) -> tuple[dict, Any]:  # noqa: ANN001
    """One file's robustness report and its JSON object: the line of ``robustness --json`` and of ``POST /v1/robustness``.

    Parameters
    ----------
    source : str, path, bytes or binary file-like (with a ``name``)
    tagger : Tagger
        A loaded model.
    seed : int
        Seed of the noise.
    max_duration : float or None
        Seconds decoded from the start.

    Returns
    -------
    obj : dict
        :meth:`RobustnessReport.to_dict`, or ``{"path", "model", "error"}`` when the file cannot be
        decoded (an :class:`AudioError`; any other error is raised).
    report : RobustnessReport or None
        None when the file failed.
    """
    from ..audio import source_name
    from ..robustness import robustness_file

    try:
        report = robustness_file(source, tagger, seed=seed, max_duration=max_duration)
    except AudioError as exc:
        return {"path": source_name(source), "model": tagger.name, "error": exc.reason}, None
    return report.to_dict(), report
