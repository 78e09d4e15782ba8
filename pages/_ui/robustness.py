"""Robustness on the pages: the Tag page's "How stable is this answer?" expander and a run's curve on the Train page.

Both compute on request (a button; a track costs about 11 taggings, a run 11 per
test track) and cache the result: per file content and model on the Tag page,
in the run folder (``robustness.json``, also written by ``musictag robustness --run``)
on the Train page.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from .cache import get_tagger, named_buffer
from .errors import show_error

__all__ = ["cached_robustness", "render_run_robustness", "render_stability"]


@st.cache_data(max_entries=16, show_spinner=False)
def cached_robustness(digest: str, _data: bytes, *, _name: str, model: str, max_duration: float | None):
    """``robustness.robustness_file`` of one upload, keyed by content digest and model (a dict, JSON-ready)."""
    from musictag_core.robustness import robustness_file

    report = robustness_file(named_buffer(_data, _name), get_tagger(model), max_duration=max_duration)
    return {"json": report.to_dict(), "table": report.table(), "seconds": report.seconds, "top": report.top_genre}


def render_stability(data: bytes, *, name: str, digest: str, model: str, key: str, max_duration: float | None) -> None:
    """The "How stable is this answer?" expander of one track card (computed when its button is pressed)."""
    from musictag_core.viz.robustness import stability_figure

    with st.expander("How stable is this answer?", icon=":material/balance:"):
        st.caption(
            "Tags the track again under pitch shifts of ±1 and ±2 semitones, tempo changes of 0.9-1.1x, "
            "±6 dB of gain and noise at 30 dB SNR, and says whether the top genre survives (about 11 taggings)."
        )
        state_key = f"tag_stability_{key}_{model}"
        if not st.session_state.get(state_key) and not st.button("Check stability", key=f"tag_stability_btn_{key}",
                                                                  icon=":material/play_arrow:"):
            return
        st.session_state[state_key] = True
        try:
            with st.spinner("Tagging 11 perturbed versions…"):
                result = cached_robustness(digest, data, _name=name, model=model, max_duration=max_duration)
        except Exception as exc:  # noqa: BLE001 - shown on this card only
            show_error(exc, context=name)
            return
        st.markdown(f"**{result['json']['summary'][:1].upper()}{result['json']['summary'][1:]}.**")
        genres = get_tagger(model).genres
        st.plotly_chart(stability_figure(result["json"], genres=genres), key=f"tag_fig_stability_{key}")
        st.dataframe(pd.DataFrame(result["table"]), hide_index=True, key=f"tag_stability_table_{key}")
        st.caption(f"Computed in {result['seconds']:.1f} s.")


def render_run_robustness(run_id: str) -> None:
    """A finished run's robustness curve: its test metric under each perturbation (stored in the run folder)."""
    import json

    from musictag_core.fileio import read_json_object
    from musictag_core.runs import Run
    from musictag_core.viz.robustness import robustness_curve_figure

    run = Run.open(run_id)
    from musictag_core.robustness import ROBUSTNESS_FILE

    path = run.output_path(ROBUSTNESS_FILE)
    with st.container(key="train_robustness"):
        st.subheader("Robustness", anchor=False)
        result = read_json_object(path)
        if result is None:
            st.caption(
                "How does the test metric hold up under pitch shifts, tempo changes, gain and noise? This tags every "
                "test track 12 times (`musictag robustness --run` does the same from the command line)."
            )
            if not st.button("Compute the robustness curve", key="train_robustness_btn", icon=":material/play_arrow:"):
                return
            from musictag_core.robustness import robustness_run

            bar = st.progress(0.0, text="Tagging the test tracks under each perturbation…")
            try:
                result = robustness_run(run.path, progress=lambda done, total: bar.progress(done / max(total, 1)),
                                        save=True)
            except Exception as exc:  # noqa: BLE001
                show_error(exc, context="robustness")
                return
            finally:
                bar.empty()
        st.plotly_chart(robustness_curve_figure(result), key="train_fig_robustness")
        aug = result.get("augmentation") or {}
        used = [k for k in ("pitch_shift", "time_stretch", "gain", "noise") if isinstance(aug, dict) and aug.get(k)]
        st.caption(
            f"{result.get('metric')} on {result.get('n_tracks')} test tracks; unperturbed {result.get('base'):.3f}. "
            + (f"Trained with augmentation: {', '.join(used)}." if used else "Trained without waveform augmentation.")
            + f" Computed in {result.get('seconds', 0):.0f} s."
        )
        with st.expander("Values (JSON)"):
            st.code(json.dumps(result["curve"], indent=1))
