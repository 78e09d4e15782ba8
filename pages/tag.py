"""Tag page: upload or record audio, see what a model hears.

Inputs (files, microphone, model, overlap) → ``pages._ui.tagging`` (one decode per upload
at the model's rate; cached per file content, model and overlap) → figures from
``musictag_core.viz``. Every card is drawn in two passes: first the scores and taggram of
every track (and the results table), then each card's waveform, mel spectrogram and MFCC,
computed from the same decoded waveform. A file that cannot be decoded, or is over the
upload limit, shows an error naming it; the others carry on. Only the first
``MUSICTAG_MAX_DURATION_S`` seconds of a track are decoded.

Card sections added later (similar tracks, stability, saliency ...) are one call each in
:func:`_card_details` to a ``pages/_ui/<feature>.py`` function taking the card's
:class:`~pages._ui.tagging.TrackAnalysis`.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
import streamlit as st

from musictag_core.fileio import json_default
from musictag_core.predict import segment_seconds
from musictag_core.uploads import check_upload_size
from musictag_core.viz import genre_bar_figure, taggram_figure
from pages._ui.cache import cached_models, file_hash
from pages._ui.errors import app_limits, show_error
from pages._ui.explain import render_explanation
from pages._ui.robustness import render_stability
from pages._ui.session import DEFAULT_MODEL, log, startup
from pages._ui.similar import render_tracks_like_this
from pages._ui.tagging import (
    TrackAnalysis,
    cached_prediction,
    preload_chart_library,
    quiet_progress,
    stamp,
    start_warmup,
    still_note,
    warmup_state,
)
from pages._ui.text_search import render_text_search

UPLOAD_TYPES = ["wav", "mp3", "flac", "ogg"]
OVERLAPS = [0.0, 0.25, 0.5, 0.75]  # fractions of the model's segment length
#: musicnn's sigmoid scores are low: on the ten GTZAN example clips the MSD model's top
#: genre scores 0.21-0.58 (median 0.34), so 0.5 marks almost nothing; 0.25 marks the top
#: genre of most clips and a close second (blues.00000: blues 0.32, country 0.27).
DEFAULT_SCORE_THRESHOLD = 0.25
TABLE_COLUMNS = ["file", "model", "top genre", "score", "summary", "top tags"]

ss = st.session_state
ss.setdefault("tag_overlap", 0.0)
ss.setdefault("tag_threshold", DEFAULT_SCORE_THRESHOLD)
ss.setdefault("tag_top_k", 10)
ss.setdefault("tag_genres_only", True)
RUN_STARTED = time.time()  # this script run's start: the server-side stamps count from it


@dataclass(frozen=True)
class Track:
    name: str
    data: bytes
    mime: str | None


def _signal_tabs(analysis: TrackAnalysis) -> None:
    """Waveform, mel spectrogram and MFCC of the waveform the model tagged, with the model's own mel bands."""
    key = analysis.key
    try:
        with still_note("Drawing the waveform and spectrograms…"):
            figs = analysis.signal_figures()
        stamp("figures", analysis.digest[:12])
    except Exception as exc:  # noqa: BLE001 - the scores above stay
        show_error(exc, context=f"{analysis.name} (waveform and spectrograms)")
        return
    # Only the open tab's chart is sent and drawn (the three figures are computed and cached
    # together): a click on another tab reruns this card's fragment, which draws that one.
    # Three charts drawn per card instead of five: 0.3 CPU s less per card in the browser.
    tabs = st.tabs(
        ["Waveform", f"Mel spectrogram ({figs.n_mels} bands, {figs.sr / 1000:g} kHz)", "MFCC"],
        key=f"tag_tabs_{key}", on_change="rerun",
    )  # fmt: skip
    for tab, fig, name in zip(tabs, (figs.waveform, figs.mel, figs.mfcc), ("wave", "mel", "mfcc")):
        if tab.open is False:
            continue
        with tab:
            st.plotly_chart(fig, key=f"tag_fig_{name}_{key}")


@st.fragment
def _card_details(analysis: TrackAnalysis) -> None:
    """The slower part of a card, drawn after every card's scores; a widget in it reruns only this card."""
    _signal_tabs(analysis)
    # Further card sections: one call each to a pages/_ui/<feature>.py function taking `analysis`.
    a = analysis
    render_tracks_like_this(a.data, digest=a.digest, key=a.key)
    render_stability(a.data, name=a.name, digest=a.digest, model=a.model, key=a.key, max_duration=a.max_duration)
    render_explanation(a.data, name=a.name, digest=a.digest, model=a.model, key=a.key, max_duration=a.max_duration,
                       default_tag=a.prediction.result_row()["top genre"])
    log(f"card done {analysis.key} t={time.time():.3f} run_s={time.time() - RUN_STARTED:.2f}")


def _track_card(
    i: int,
    track: Track,
    *,
    model: str,
    overlap: float,
    segment_s: float | None,
    threshold: float,
    top_k: int,
    genres_only: bool,
    max_duration: float,
):
    """Draw one track's card up to its scores and taggram.

    Returns its row for the results table, its JSON record (None for a bad file), and
    its analysis, the container its remaining sections go into and the placeholder of its
    audio player (None for a bad file).
    """
    digest = file_hash(track.data)
    key = f"{i}_{digest[:12]}"
    card = st.container(border=True, key=f"tag_card_{key}")
    with card:
        st.subheader(track.name, anchor=False)
        try:
            stamp("predict", digest[:12])
            with still_note(f"Tagging {track.name}…"):
                pred = cached_prediction(
                    digest, track.data, _name=track.name, model=model, overlap=overlap, max_duration=max_duration
                )
            stamp("predicted", digest[:12])
        except Exception as exc:  # noqa: BLE001 - a bad file never stops the others
            show_error(exc, context=track.name)
            return {"file": track.name, "model": model, "summary": f"error: {exc}"}, None, None
        if getattr(pred, "truncated", False):
            st.info(
                f"Only the first {pred.duration_s:.0f} s of this track were decoded and tagged "
                "(the app's MUSICTAG_MAX_DURATION_S limit).",
                icon=":material/content_cut:",
            )
        for warning in getattr(pred, "warnings", ()):
            st.warning(f"{track.name}: {warning}.", icon=":material/timer_off:")
        scores, seg_scores, labels = pred.subset(genres_only=genres_only)
        left, right = st.columns([2, 3], gap="medium")
        with left:
            player = st.empty()  # the audio player, filled once the card's figures are sent
            st.markdown(f"**Summary.** {pred.summary()}")
            kind = "Genre" if genres_only else "Tag"
            bar = genre_bar_figure(scores, threshold=threshold, top_k=top_k, title=f"{kind} scores")
            st.plotly_chart(bar, key=f"tag_fig_bar_{key}")
        with right:
            starts = np.asarray(pred.segment_starts_s)
            gram = taggram_figure(
                starts,
                seg_scores,
                labels,
                top_k=top_k,
                segment_duration_s=segment_s or (float(pred.duration_s) if starts.size == 1 else None),
                title=f"Taggram ({pred.duration_s:.1f} s)",
            )
            st.plotly_chart(gram, key=f"tag_fig_taggram_{key}")
        details = st.container()
    log(f"card scores {key} t={time.time():.3f} run_s={time.time() - RUN_STARTED:.2f}")
    analysis = TrackAnalysis(
        name=track.name, data=track.data, mime=track.mime, digest=digest, key=key, model=model,
        overlap=overlap, max_duration=max_duration, prediction=pred,
    )  # fmt: skip
    row = {**pred.result_row(), "file": track.name}
    return row, {**pred.to_dict(), "file": track.name}, (analysis, details, player)


stamp("page")
startup()
lim = app_limits()
quiet_progress()

st.title("Tag", anchor=False)
st.caption(
    "Upload tracks or record a few seconds with the microphone. A pretrained model scores every tag "
    "on short segments (the taggram) and averages them per track. "
    f"Files up to {lim.max_upload_mb:g} MB; the first {lim.max_duration_s:g} s of each track are tagged."
)

# the Train page links here with ?model=<run id> (and leaves the same request in the session)
requested = st.query_params.get("model") or ss.pop("tag_model_request", None)
try:
    models = cached_models()
    if requested and requested not in [m.name for m in models]:
        cached_models.clear()  # a run that finished after the list was cached
        models = cached_models()
except Exception as exc:  # noqa: BLE001
    show_error(exc, context="listing models")
    st.stop()
if not models:
    st.error("No models found: reinstall musictag (the shipped models are missing) or train one on the Train page.")
    st.stop()

names = [m.name for m in models]
sources = {m.name: m.source for m in models}
cards = {m.name: dict(m.card or {}) for m in models}
if requested in names and ss.get("tag_model_requested") != requested:
    ss["tag_model"] = ss["tag_model_requested"] = requested
if ss.get("tag_model") not in names:
    ss["tag_model"] = DEFAULT_MODEL if DEFAULT_MODEL in names else names[0]

c_files, c_mic = st.columns([3, 2], gap="medium")
with c_files:
    uploads = st.file_uploader(
        "Audio files", type=UPLOAD_TYPES, accept_multiple_files=True, key="tag_files",
        help=f"wav, mp3, flac or ogg; several at once; at most {lim.max_upload_mb:g} MB each.",
    )
with c_mic:
    recording = st.audio_input("Or record with the microphone", sample_rate=22050, key="tag_mic")

c_model, c_overlap = st.columns([3, 2], gap="medium")
with c_model:
    model = st.selectbox(
        "Model", names, key="tag_model", format_func=lambda n: f"{n} ({sources[n]})",
        help="Shipped pretrained models and models from your training runs.",
    )
segment_s = segment_seconds(cards[model])
with c_overlap:
    fraction = st.select_slider(
        "Segment overlap",
        OVERLAPS,
        key="tag_overlap",
        format_func=lambda v: f"{v:.0%}" + (f" ({v * segment_s:.2f} s)" if segment_s else ""),
        disabled=segment_s is None,
        help="Overlapping segments give a finer taggram and cost proportionally more time."
        + (f" This model's segments are {segment_s:.2f} s long." if segment_s else ""),
    )
overlap = round(fraction * segment_s, 3) if segment_s else 0.0

tracks, refused = [], []
for f in uploads or []:
    try:
        check_upload_size(int(f.size), limit=lim.max_upload_bytes, name=f.name)
    except Exception as exc:  # noqa: BLE001 - named on the page, the others go on
        refused.append((f.name, exc))
        continue
    tracks.append(Track(f.name, f.getvalue(), f.type))
if recording is not None:
    tracks.append(Track("microphone recording.wav", recording.getvalue(), "audio/wav"))
for name, exc in refused:
    show_error(exc, context=name)

if not tracks:
    if not refused:
        st.info("Upload audio files or record with the microphone to tag them.", icon=":material/upload:")
else:
    st.divider()
    d1, d2, d3 = st.columns([3, 1, 1], gap="medium", vertical_alignment="bottom")
    threshold = d1.slider(
        "Threshold", 0.0, 1.0, step=0.05, key="tag_threshold",
        help="Scores at or above it are drawn as present. musicnn's scores are low (the top genre of a "
        f"clear example typically scores 0.2-0.6), hence the default of {DEFAULT_SCORE_THRESHOLD}.",
    )
    top_k = d2.number_input("Top k", min_value=1, max_value=100, step=1, key="tag_top_k")
    genres_only = d3.toggle("Genres only", key="tag_genres_only", help="Off: show every tag (moods, eras, instruments).")

    results = st.container()
    stamp("cards")
    rows, records, pending = [], [], []
    for i, track in enumerate(tracks):  # first pass: every card's scores
        row, record, rest = _track_card(
            i,
            track,
            model=model,
            overlap=overlap,
            segment_s=segment_s,
            threshold=threshold,
            top_k=int(top_k),
            genres_only=genres_only,
            max_duration=lim.max_duration_s,
        )
        rows.append(row)
        if record is not None:
            records.append(record)
        if rest is not None:
            pending.append(rest)

    with results:
        st.subheader("Results", anchor=False)
        table = pd.DataFrame(rows, columns=TABLE_COLUMNS)
        st.dataframe(
            table,
            hide_index=True,
            key="tag_results_table",
            column_config={"score": st.column_config.NumberColumn(format="%.3f")},
        )
        b1, b2, _ = st.columns([1, 1, 4])
        b1.download_button(
            "Download CSV", table.to_csv(index=False), file_name="musictag-results.csv",
            mime="text/csv", icon=":material/download:", key="tag_dl_csv",
        )
        b2.download_button(
            "Download JSON", json.dumps(records, indent=2, default=json_default),
            file_name="musictag-results.json", mime="application/json", icon=":material/download:", key="tag_dl_json",
        )
        render_text_search(records)

    for analysis, details, player in pending:  # second pass: the figures, card by card
        with details:
            _card_details(analysis)
        # The player last: the browser fetches and probes the whole file for it (0.1 CPU s for a
        # 3-min MP3), which would otherwise compete with drawing the scores and figures.
        player.audio(analysis.data, format=analysis.mime or "audio/wav")

# Warm-up: the selected model is loaded in the background (once per process; app.py starts
# the default model's at the first connection), so the first tag does not wait for it.
start_warmup(model)
state, error = warmup_state(model)
if state == "failed":
    show_error(error, context=f"loading model {model}")
elif state == "warming" and not tracks:
    st.caption(f":material/hourglass_top: Loading {model} in the background; the first tag waits for it.")
if not tracks:
    preload_chart_library()  # the first card's charts then draw as soon as they arrive
