"""The Train form's pre-flight summary: what the run will evaluate, or why it is refused, before Start.

One core call (:func:`musictag_core.training.preflight.preview`, the check
:func:`~musictag_core.training.start_run` repeats at Start), cached per settings and
dataset file; messages about an uploaded table name the uploaded file, never the
session copy on the server.
"""

from __future__ import annotations

import json
from pathlib import Path

import streamlit as st

from musictag_core.errors import MusictagError
from musictag_core.training import RunConfig

__all__ = ["page_words", "public_message", "render_preflight"]


def public_message(message: str, *, dataset: str | None, upload_name: str | None) -> str:
    """``message`` with an uploaded table's server-side path replaced by the uploaded file's name."""
    if not upload_name or not dataset:
        return message
    from musictag_core.explore.sources import DatasetSource

    message = DatasetSource(kind="table", path=dataset, upload_name=upload_name).public_message(message)
    stem = Path(dataset).stem  # a dataset's name in messages ("table: label(s) ..."): the copy's, maybe "name (2)"
    if stem != Path(upload_name).stem and message.startswith(f"{stem}: "):
        message = f"{upload_name}: " + message[len(stem) + 2:]
    return message


#: The page's Cross-validation choices (K folds; 0 is off, "loo" leave-one-out).
PAGE_FOLDS = (3, 5, 10)


def _page_folds(max_k: int) -> str:
    fit = [k for k in PAGE_FOLDS if k <= max_k]
    if fit:
        return f"choose Cross-validation: {fit[-1]} folds (K is at most {max_k} here)"
    return f"choose Cross-validation: {PAGE_FOLDS[0]} folds (lowered to {max_k}: K is at most {max_k} here)"


def page_words(message: str) -> str:
    """``message`` with the command line's options said as this form's choices.

    ``--cv`` becomes the Cross-validation choice (off, 3, 5 or 10 folds, leave-one-out),
    ``--no-test-split`` turning off "Hold out a test split", and ``group_by_artist`` the "Keep each
    artist's tracks in one fold" choice (auto, on, off), all drawn by ``pages/_ui/evaluation.py``.
    """
    import re

    from musictag_core.training.form import GROUPING_LABEL, TEST_SPLIT_LABEL

    no_test = f'turn off "{TEST_SPLIT_LABEL}"'
    group = f'"{GROUPING_LABEL}"'
    subs = (
        (r"--cv (\d+) \(setting cv: \d+; K is at most (\d+) here\)", lambda m: _page_folds(int(m[2]))),
        (r"--no-test-split \(setting test_split: false\)", no_test),
        (r"--no-test-split", no_test),
        (r"--cv K \(setting cv\)", "choose Cross-validation"),
        (r"\(or use --cv loo on up to (\d+) tracks\)", r"(or choose Cross-validation: leave-one-out, up to \1 tracks)"),
        (r"([Uu])se --cv K \(K up to (\d+)\)", lambda m: ("C" if m[1] == "U" else "c") + f"hoose Cross-validation with at most {m[2]} folds"),
        (r"use --cv K for artist-grouped folds", "choose Cross-validation for artist-grouped folds"),
        (r"([Uu])se --cv K", lambda m: ("C" if m[1] == "U" else "c") + "hoose Cross-validation folds"),
        (r"--set group_by_artist=false", f"set {group} to off"),
        (r"Fold by track instead of by artist \(setting group_by_artist: false\)", f"Set {group} to off (fold by track)"),
        (r"set group_by_artist: true", f"set {group} to on"),
        (r"set group_by_artist to auto or false", f"set {group} to auto or off"),
        (r"group_by_artist=True but", f"{group} is on but"),
        (r"a smaller --cv K", "fewer Cross-validation folds"),
        (r"--cv K", "Cross-validation"),
    )
    for pattern, repl in subs:
        message = re.sub(pattern, repl, message)
    return message


def _stamp(spec: str) -> str:
    try:
        st_ = Path(spec).stat()
    except OSError:
        return ""
    return f"{st_.st_mtime_ns}:{st_.st_size}"


@st.cache_data(max_entries=16, show_spinner="Checking the dataset against the settings…")
def _preview(config_json: str, stamp: str) -> dict:
    """``{"plan": Preflight.to_dict()}`` or ``{"error": message}`` (cached per settings and file stamp)."""
    from musictag_core.training.preflight import preview

    try:
        return {"plan": preview(RunConfig.from_dict(json.loads(config_json))).to_dict()}
    except MusictagError as exc:
        return {"error": str(exc)}


def _summary(plan: dict) -> str:
    counts = plan["counts_in_unit"] or plan["counts"]
    unit = plan["unit"]
    parts = [f"{plan['n_tracks']} tracks", f"{plan['n_labels']} labels ({plan['task']}-label)"
             if plan["task"] in ("single", "multi") else f"{plan['n_labels']} targets (regression)"]
    if counts:
        lab = min(counts, key=counts.get)
        parts.append(f"smallest label: {lab} ({counts[lab]} {unit})")
    if plan["evaluation"] == "kfold":
        k = plan["k"]
        ev = f"{k}-fold cross-validation" + (f" x {plan['repeats']} repeats" if plan["repeats"] > 1 else "")
        if plan["k_requested"] not in (None, k):
            ev += f" (asked {plan['k_requested']})"
    elif plan["evaluation"] == "loo":
        ev = f"leave-one-out ({plan['n_folds']} folds)"
    else:
        ev = "one train/validation/test split"
    if plan["grouped_by"]:
        ev += f", folds grouped by {plan['grouped_by']}"
    parts.append(f"evaluation: {ev}")
    return " · ".join(parts)


def render_preflight(config: RunConfig | None, *, upload_name: str | None = None) -> bool:
    """Show the pre-flight check of ``config`` under the form; return whether Start may run it.

    ``None`` (no dataset chosen yet, or fields still refused): nothing is shown and
    Start stays as the form decides (True). A refusal is shown as an error naming the
    labels and the fix, and returns False.
    """
    if config is None:
        return True
    res = _preview(json.dumps(config.to_dict(), sort_keys=True), _stamp(config.dataset))
    if "error" in res:
        msg = page_words(public_message(res["error"], dataset=config.dataset, upload_name=upload_name))
        st.error(f"Pre-flight check: {msg}", icon=":material/block:")
        return False
    plan = res["plan"]
    st.markdown(f"**Pre-flight check** · {_summary(plan)}")
    for note in plan["notes"]:
        st.caption(page_words(public_message(note, dataset=config.dataset, upload_name=upload_name)))
    return True
