"""The Tag page's work: one decode per upload, scores first, screen-sized figures, a bounded gate, warm-up.

A card is computed in two cached steps so its scores appear before its figures:

1. :func:`cached_prediction` decodes the upload once at the model's rate and tags it
   (``predict.decode_track`` → ``predict.tag_decoded_with_mel``: the same scores as
   ``tag_file``). The decoded waveform and the mel spectrogram the model consumed are handed
   to step 2 through a small bounded buffer.
2. :func:`cached_signal_figures` shows that same waveform and mel (``predict.track_view``
   with ``model_mel``: the model's own rate and mel bands, no second spectrogram) and builds figures sized
   for a screen: a ~2,000-point waveform envelope and the mel spectrogram and MFCC as
   PNG images of at most 1,000 time columns (tens of kB instead of megabytes of JSON).

Decoding and tagging run inside :func:`tag_slot`, a process-wide gate of
``MUSICTAG_TAG_WORKERS`` slots (default 2, one per core): concurrent sessions queue there
instead of oversubscribing the CPU, and one session's decode overlaps another's inference
(the tagger serialises its own forward passes). Step 2 (a few tenths of a second of
numpy) is not gated, so each card's figures follow its scores at once. Results are cached by content digest, model and settings;
only compact results (scores, small figures) are kept, never waveforms.

:func:`start_warmup` loads a model in a background thread and runs the whole card
path once on a synthetic clip (TensorFlow, the first full-size forward pass, librosa's
kernels, MP3 decoding, plotly and PNG encoding), so the first real upload does not pay
for them. ``app.py`` starts it for the default model as the server starts (its ``st.App`` lifespan).

Every finished step writes one line to the server log (``[musictag] card scores ...``,
``[musictag] card done ...``) with a wall-clock time stamp: the page benchmark times
concurrent sessions from them. :func:`stamp` adds finer steps under ``MUSICTAG_PAGE_STAMPS=1``.

The browser draws on the same cores as the server, so the page asks little of it:
:func:`still_note` instead of animated spinners, :func:`quiet_progress` (no animated running
icon), and :func:`preload_chart_library` (plotly and the data grid loaded before the first card).
"""

from __future__ import annotations

import contextlib
import ctypes
import io
import os
import threading
import time
from dataclasses import dataclass, field

import numpy as np
import streamlit as st

from musictag_core.errors import ParameterError
from musictag_core.lru import BoundedCache

from .cache import get_tagger, named_buffer
from .session import DEFAULT_MODEL, log

__all__ = [
    "SignalFigures",
    "TrackAnalysis",
    "cached_prediction",
    "cached_signal_figures",
    "compute_prediction",
    "compute_signal_figures",
    "preload_chart_library",
    "quiet_progress",
    "still_note",
    "stamp",
    "start_warmup",
    "tag_slot",
    "trim_memory",
    "warmup_state",
]

#: Slots of the gate around decoding, tagging and figure building (``MUSICTAG_TAG_WORKERS``).
DEFAULT_WORKERS = 2
#: Waveforms waiting between the two steps of a card (11.5 MB for 3 min at 16 kHz). Enough
#: for six sessions whose scores all finish before the first figures are built.
_HANDOFF_ENTRIES = 8


def _workers() -> int:
    raw = os.environ.get("MUSICTAG_TAG_WORKERS", "").strip()
    if not raw:
        return DEFAULT_WORKERS
    try:
        n = int(raw)
    except ValueError:
        n = 0
    if n < 1:
        raise ParameterError(f"MUSICTAG_TAG_WORKERS must be a positive integer, got {raw!r}")
    return n


_GATE = threading.BoundedSemaphore(_workers())
_HANDOFF = BoundedCache(max_entries=_HANDOFF_ENTRIES)
_HANDOFF_LOCK = threading.Lock()
_USER_WORK = threading.Event()  # a real upload has been tagged: the warm-up need not run its own clip


@contextlib.contextmanager
def tag_slot():
    """Hold one of the process-wide slots for decoding, tagging or figure building.

    Sessions beyond the number of slots wait here (in arrival order, roughly) rather than
    all computing at once on two cores.
    """
    _GATE.acquire()
    try:
        yield
    finally:
        _GATE.release()


_STAMPS = os.environ.get("MUSICTAG_PAGE_STAMPS", "").strip() not in ("", "0")


def stamp(step: str, key: str = "-") -> None:
    """Log ``[musictag] step <step> <key> t=<epoch>`` when ``MUSICTAG_PAGE_STAMPS=1`` (the page benchmark sets it).

    Finer than the ``card scores`` / ``card done`` lines, which are always written: where a
    card's time goes between the upload and its scores (script run start, the page's work
    before tagging, the gate, decoding, tagging).
    """
    if _STAMPS:
        log(f"step {step} {key} t={time.time():.3f}")


def trim_memory() -> None:
    """Give freed heap memory back to the operating system (glibc ``malloc_trim``; no-op elsewhere).

    Decoding and tagging a long track allocates tens of MB in short-lived blocks from
    per-thread arenas; without this the server's RSS stays at its peak after a burst
    of uploads.
    """
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


# ---------------------------------------------------------------- the two steps


def _handoff_key(digest: str, model: str, max_duration: float | None) -> tuple:
    return (digest, model, max_duration)


def compute_prediction(data: bytes, *, name: str, digest: str, model: str, overlap: float, max_duration: float | None):
    """Decode ``data`` once at the model's rate and tag it (uncached; the page calls :func:`cached_prediction`).

    The decoded track is kept briefly for :func:`compute_signal_figures`.

    Returns
    -------
    TrackPrediction
    """
    from musictag_core.predict import decode_track, tag_decoded_with_mel

    if digest != _WARMUP_DIGEST:
        _USER_WORK.set()
    key = digest[:12]
    with tag_slot():
        stamp("slot", key)
        tagger = get_tagger(model)
        track = decode_track(named_buffer(data, name), tagger, max_duration=max_duration)
        stamp("decoded", key)
        pred, mel = tag_decoded_with_mel(track, tagger, overlap=overlap)
        stamp("tagged", key)
    with _HANDOFF_LOCK:
        _HANDOFF.put(_handoff_key(digest, model, max_duration), (track, mel))
    return pred


@dataclass(frozen=True)
class SignalFigures:
    """The waveform, mel spectrogram and MFCC figures of one track, sized for a screen.

    Attributes
    ----------
    sr : int
        Rate of the waveform the model tagged.
    n_mels : int
        Mel bands of the spectrogram (the model's own).
    waveform, mel, mfcc : go.Figure
    """

    sr: int
    n_mels: int
    waveform: object = field(repr=False)
    mel: object = field(repr=False)
    mfcc: object = field(repr=False)

    def payload_bytes(self) -> dict[str, int]:
        """Bytes of plotly JSON each figure sends to the browser."""
        return {k: len(getattr(self, k).to_json()) for k in ("waveform", "mel", "mfcc")}


def compute_signal_figures(data: bytes, *, name: str, digest: str, model: str, max_duration: float | None) -> SignalFigures:
    """The signal figures of an upload, from the waveform its scores were computed on (uncached).

    Uses the decoded track left by :func:`compute_prediction` (decoding again only if it
    was evicted, e.g. after a server restart with the scores still cached).
    """
    from musictag_core.predict import decode_track, track_view
    from musictag_core.viz import mel_figure, mfcc_figure, waveform_figure

    with _HANDOFF_LOCK:
        key = _handoff_key(digest, model, max_duration)
        track, mel = _HANDOFF.get(key) or (None, None)
        if track is not None:
            _HANDOFF.put(key, None)  # taken: drop the reference so the waveform can be freed
    try:
        tagger = get_tagger(model)
        if track is None:
            with tag_slot():
                track = decode_track(named_buffer(data, name), tagger, max_duration=max_duration)
        # Not gated: a few hundredths of a second of numpy (the model's own mel is shown, not
        # computed again), and a card waiting here for a slot behind other sessions' tagging
        # would hold its waveform and finish last.
        view = track_view(track, tagger, model_mel=mel)
        sr, hop = view.sr, view.hop_length
        figs = SignalFigures(
            sr=sr,
            n_mels=view.n_mels,
            waveform=waveform_figure(view.y, sr=sr, max_points=2000, title=None),
            mel=mel_figure(view.S_db, sr=sr, hop_length=hop, max_frames=1000, title=None, image=True),
            mfcc=mfcc_figure(view.mfcc, sr=sr, hop_length=hop, max_frames=1000, title=None, image=True),
        )
    finally:
        del track, mel
        trim_memory()
    return figs


@st.cache_data(max_entries=64, show_spinner=False)
def cached_prediction(
    digest: str, _data: bytes, *, _name: str, model: str, overlap: float, max_duration: float | None
):
    """:func:`compute_prediction`, cached by content ``digest``, model, overlap and ``max_duration``.

    ``_data`` and ``_name`` are not part of the key: the same content under another
    name is not tagged again.
    """
    t0 = time.perf_counter()
    pred = compute_prediction(_data, name=_name, digest=digest, model=model, overlap=overlap, max_duration=max_duration)
    log(f"tagged {digest[:12]} with {model} in {time.perf_counter() - t0:.2f} s")
    return pred


@st.cache_data(max_entries=64, show_spinner=False)
def cached_signal_figures(digest: str, _data: bytes, *, _name: str, model: str, max_duration: float | None):
    """:func:`compute_signal_figures`, cached by content ``digest``, model and ``max_duration``."""
    return compute_signal_figures(_data, name=_name, digest=digest, model=model, max_duration=max_duration)


@dataclass(frozen=True)
class TrackAnalysis:
    """One track's card, as the page's card sections receive it.

    Attributes
    ----------
    name : str
        The upload's name.
    data : bytes
        The uploaded file.
    mime : str or None
    digest : str
        SHA-256 of ``data`` (the cache key).
    key : str
        Unique per card on the page: use it in widget and element keys (``f"mine_{a.key}"``).
    model : str
    overlap : float
        Seconds shared by consecutive segments.
    max_duration : float or None
        Seconds of the file that were decoded.
    prediction : TrackPrediction
        Track scores, taggram, labels (``musictag_core.predict``).
    """

    name: str
    data: bytes = field(repr=False)
    mime: str | None
    digest: str
    key: str
    model: str
    overlap: float
    max_duration: float | None
    prediction: object = field(repr=False)

    def decoded(self):
        """The waveform the model tagged (``predict.DecodedTrack``: ``y``, ``sr``), decoded again if needed."""
        from musictag_core.predict import decode_track

        with _HANDOFF_LOCK:
            track, _ = _HANDOFF.get(_handoff_key(self.digest, self.model, self.max_duration)) or (None, None)
        if track is not None:
            return track
        return decode_track(named_buffer(self.data, self.name), get_tagger(self.model), max_duration=self.max_duration)

    def signal_figures(self) -> SignalFigures:
        """The cached waveform / mel / MFCC figures (computed on first use)."""
        return cached_signal_figures(
            self.digest, self.data, _name=self.name, model=self.model, max_duration=self.max_duration
        )


# ---------------------------------------------------------------- warm-up


@dataclass
class _Warmup:
    started: float
    thread: threading.Thread | None = None
    seconds: float | None = None
    error: BaseException | None = None


_WARMUPS: dict[str, _Warmup] = {}
_WARMUP_LOCK = threading.Lock()


def _synthetic_clip(sr: int = 22050, seconds: float = 100.0) -> bytes:
    """A WAV of tones and noise (no file on disk), long enough for a full-size batch of patches."""
    import soundfile as sf

    rng = np.random.default_rng(0)
    t = np.arange(int(sr * seconds)) / sr
    y = 0.2 * np.sin(2 * np.pi * 220.0 * t) + 0.05 * rng.standard_normal(t.size)
    buf = io.BytesIO()
    sf.write(buf, y.astype(np.float32), sr, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def _short_mp3() -> bytes | None:
    import soundfile as sf

    try:
        buf = io.BytesIO()
        y = 0.1 * np.sin(2 * np.pi * 440.0 * np.arange(22050) / 22050)
        sf.write(buf, y.astype(np.float32), 22050, format="MP3")
        return buf.getvalue()
    except Exception:  # noqa: BLE001 - a libsndfile without MP3 writing: skip that part
        return None


_WARMUP_DIGEST = "warm-up"


def _warm(model: str, state: _Warmup) -> None:
    from musictag_core.audio import load_audio

    try:
        log(f"warm-up of {model} started (pid {os.getpid()})")
        tagger = get_tagger(model)
        settle = getattr(tagger, "settle", None)  # musicnn taggers: memory reaches its plateau now, not in a burst
        if settle is not None and not _USER_WORK.is_set():
            with tag_slot():
                settle()
        if _USER_WORK.is_set():  # a user's upload is already being tagged: it warms the rest itself
            log(f"warm-up of {model}: a user's track is being tagged, synthetic card skipped")
        else:
            mp3 = _short_mp3()
            if mp3 is not None:
                load_audio(io.BytesIO(mp3), sr=16000)
            data = _synthetic_clip()
            name = "<warm-up>"
            compute_prediction(data, name=name, digest=_WARMUP_DIGEST, model=model, overlap=0.0, max_duration=None)
            figs = compute_signal_figures(data, name=name, digest=_WARMUP_DIGEST, model=model, max_duration=None)
            figs.payload_bytes()  # plotly's JSON encoder
        from musictag_core.viz import genre_bar_figure, taggram_figure  # noqa: F401 (imports plotly's validators)

        state.seconds = time.perf_counter() - state.started
        log(f"warm-up of {model} done in {state.seconds:.1f} s")
    except BaseException as exc:  # noqa: BLE001 - reported on the page (warmup_state), never raised in a thread
        state.error = exc
        log(f"warm-up of {model} failed: {type(exc).__name__}: {exc}")
    finally:
        trim_memory()


def start_warmup(model: str = DEFAULT_MODEL) -> None:
    """Load ``model`` and run one synthetic card through it, in a background thread, once per process.

    Returns at once. The thread never calls Streamlit; a failure is kept for
    :func:`warmup_state` (and logged).
    """
    with _WARMUP_LOCK:
        if model in _WARMUPS:
            return
        state = _Warmup(started=time.perf_counter())
        state.thread = threading.Thread(target=_warm, args=(model, state), name=f"musictag-warmup-{model}", daemon=True)
        _WARMUPS[model] = state
        state.thread.start()


def warmup_state(model: str) -> tuple[str, BaseException | None]:
    """``("ready" | "warming" | "failed" | "cold", error)`` of ``model``'s warm-up."""
    with _WARMUP_LOCK:
        state = _WARMUPS.get(model)
    if state is None:
        return "cold", None
    if state.error is not None:
        return "failed", state.error
    return ("warming" if state.thread is not None and state.thread.is_alive() else "ready"), None


# ---------------------------------------------------------------- the browser side


def preload_chart_library() -> None:
    """Draw an empty, invisible 10-pixel plotly chart and a hidden one-cell table, so the browser loads their code now.

    Streamlit fetches and compiles its plotly chart code (several MB of JavaScript) the first
    time a page shows a plotly chart. Without this, the first card's scores wait for it
    after they arrive: 3 s of a 10 s card on a busy 2-core machine. The same holds, smaller,
    for the data grid of the results table: 0.35 CPU s of the browser's when the first card's
    table appears, 0.05 s once it is loaded (measured in headless Chromium). Call it on a page
    with no chart yet (the Tag page before an upload).
    """
    import pandas as pd
    import plotly.graph_objects as go

    st.html("<style>.st-key-tag_table_preload{display:none !important}</style>")
    with st.container(key="tag_table_preload", border=False):
        st.dataframe(pd.DataFrame({"file": [""]}), hide_index=True, key="tag_table_preload_df")

    fig = go.Figure(layout=dict(
        height=10, margin=dict(l=0, r=0, t=0, b=0), paper_bgcolor="rgba(0,0,0,0)", plot_bgcolor="rgba(0,0,0,0)",
        xaxis=dict(visible=False), yaxis=dict(visible=False),
    ))  # fmt: skip
    st.plotly_chart(fig, key="tag_plotly_preload", config={"staticPlot": True, "displayModeBar": False})


#: The Tag page's CSS: no animated "running man" in the status widget (its "Stop" button stays).
#: The icon changes every 200 ms for as long as a script runs; with six sessions waiting for
#: their turn at the gate, six renderers repaint it the whole time, beside the server's work.
_QUIET_CSS = "<style>[data-testid='stStatusWidgetRunningIcon']{display:none !important}</style>"


def quiet_progress() -> None:
    """Hide the status widget's animated icon on this page (call once per run, before the cards)."""
    st.html(_QUIET_CSS)


@contextlib.contextmanager
def still_note(text: str):
    """A static ``:material/hourglass_top: text`` line while the block runs, removed afterwards.

    Used instead of ``st.spinner``, whose animation keeps the browser repainting while a card
    waits for the gate or for the model (0.05 CPU s per second per browser, measured).
    """
    slot = st.empty()
    slot.caption(f":material/hourglass_top: {text}")
    try:
        yield
    finally:
        slot.empty()
