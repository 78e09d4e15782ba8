"""Stage 4, tag: any model turns audio into a :class:`TrackPrediction`.

One API for every model: the shipped pretrained taggers and finished training
runs (``<runs_dir>/<id>/``). Models are found and opened by
:mod:`musictag_core.models.loading` (:func:`~musictag_core.models.loading.load_tagger`,
:func:`~musictag_core.models.loading.list_models`); this module
turns a tagger's segment scores into a :class:`TrackPrediction`. It imports
``models``; nothing in ``models`` imports it.

>>> pred = tag_file("blues.00000.wav", model="MSD_musicnn")  # doctest: +SKIP
>>> pred.summary()  # doctest: +SKIP
'mostly blues, some country'

With the default ``overlap=0`` the track scores are musicnn's own: the mean of
the sigmoid scores of non-overlapping 3 s patches (a tail shorter than a patch
is dropped; a clip shorter than one patch is repeat-padded). ``overlap`` (in
seconds) gives a finer taggram.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from .audio import AudioSource, load_audio, resample, source_name, valid_audio
from .errors import AudioError, ModelError, ParameterError
from .models.loading import Tagger, load_tagger
from .models.musicnn.tagger import MusicnnTagger

__all__ = [
    "TrackPrediction",
    "tag_file",
    "tag_array",
    "embed_file",
    "embed_array",
    "DEFAULT_MAX_DURATION_S",
    "MIN_DURATION_S",
    "TrackView",
    "analyse_file",
    "DecodedTrack",
    "decode_track",
    "tag_decoded",
    "tag_decoded_with_mel",
    "resolve_tagger",
    "decode_for_model",
    "prepare_waveform",
    "check_max_duration",
    "duration_warnings",
    "track_view",
    "display_params",
    "segment_seconds",
]

#: Seconds of a file that :func:`tag_file` decodes and tags by default; the rest of a
#: longer track is not read (``TrackPrediction.truncated`` says so). The app uses
#: ``MUSICTAG_MAX_DURATION_S`` (see :mod:`musictag_core.uploads`), which defaults to this.
DEFAULT_MAX_DURATION_S = 600.0

#: Seconds below which a clip is refused: too little sound to say anything about.
#: A clip at least this long but shorter than one model segment is tagged with a
#: warning (``TrackPrediction.warnings``), because it is repeat-padded to a segment.
MIN_DURATION_S = 0.5


# ---------------------------------------------------------------- results


@dataclass(frozen=True)
class TrackPrediction:
    """Tag scores of one track, overall and per segment.

    Attributes
    ----------
    path : str
        The file name (or ``"<bytes>"``, ``"<array>"``).
    model : str
    labels : list of str
    genres : list of str
        The labels that are genres (a subset of ``labels``, in label order).
    scores : np.ndarray [shape=(n_labels,)]
        Track scores in 0..1 (mean of the segment scores).
    segment_starts_s : np.ndarray [shape=(n_segments,)]
    segment_scores : np.ndarray [shape=(n_segments, n_labels)]
    duration_s : float
        Seconds that were tagged.
    sr : int
        Sample rate the model saw.
    truncated : bool
        The file is longer than ``duration_s``: only its first ``duration_s``
        seconds were decoded and tagged (``max_duration`` of :func:`tag_file`).
    warnings : tuple of str
        Plain-language caveats about these scores, e.g. a clip shorter than one
        model segment (it was repeat-padded, so the scores are a rough guess).
    """

    path: str
    model: str
    labels: list[str]
    genres: list[str]
    scores: np.ndarray
    segment_starts_s: np.ndarray
    segment_scores: np.ndarray
    duration_s: float
    sr: int
    truncated: bool = False
    warnings: tuple[str, ...] = ()

    def top(self, k: int | None = None, *, genres_only: bool = False) -> list[tuple[str, float]]:
        """Labels and scores, best first.

        Parameters
        ----------
        k : int, optional
            How many (all by default).
        genres_only : bool
            Only the genre labels.
        """
        if k is not None and (isinstance(k, bool) or not isinstance(k, int) or k < 0):
            raise ParameterError(f"k must be a non-negative integer or None, got {k!r}")
        keep = set(self.genres) if genres_only else None
        pairs = [
            (label, float(s))
            for label, s in zip(self.labels, self.scores)
            if keep is None or label in keep
        ]
        pairs.sort(key=lambda p: -p[1])
        return pairs if k is None else pairs[:k]

    def subset(self, *, genres_only: bool = False) -> tuple[dict[str, float], np.ndarray, list[str]]:
        """Track scores, segment scores and labels of every tag, or of the genres only.

        Returns
        -------
        scores : dict
            label -> track score.
        segment_scores : np.ndarray [shape=(n_segments, n_kept)]
        labels : list of str
        """
        keep = set(self.genres) if genres_only else None
        idx = [i for i, label in enumerate(self.labels) if keep is None or label in keep]
        labels = [self.labels[i] for i in idx]
        return (
            {self.labels[i]: float(self.scores[i]) for i in idx},
            np.asarray(self.segment_scores)[:, idx],
            labels,
        )

    def result_row(self, *, n_tags: int = 5) -> dict[str, Any]:
        """One row of a results table: file, model, top genre and its score, summary, top tags."""
        top_genre, top_score = (self.top(1, genres_only=True) or self.top(1))[0]
        return {
            "file": self.path,
            "model": self.model,
            "top genre": top_genre,
            "score": round(float(top_score), 3),
            "summary": self.summary(),
            "top tags": ", ".join(f"{label} ({s:.2f})" for label, s in self.top(n_tags)),
        }

    def genre_scores(self) -> dict[str, float]:
        """Genre label -> track score, best first."""
        return dict(self.top(genres_only=True))

    def summary(self) -> str:
        """A few plain words, e.g. ``"mostly blues, some country"``.

        The best genre is "mostly" it; others scoring at least 40 % of it (and
        0.1) are "some"; two genres within 75 % of each other are "a mix of".
        With no genre above 0.1 it says so and names the closest one.
        """
        ranked = self.top(genres_only=True) or self.top()
        if not ranked:
            return "no tags"
        best, s0 = ranked[0]
        if s0 < 0.1:
            return f"no clear genre (closest: {best}, {s0:.2f})"
        close = [g for g, s in ranked[1:3] if s >= 0.75 * s0 and s >= 0.1]
        some = [g for g, s in ranked[1 + len(close) : 4] if s >= 0.4 * s0 and s >= 0.1]
        head = f"a mix of {', '.join([best, *close[:-1]])} and {close[-1]}" if close else f"mostly {best}"
        return head + (f", some {' and '.join(some[:2])}" if some else "")

    def to_dict(self, *, top_k: int | None = None, decimals: int = 5) -> dict[str, Any]:
        """A JSON-ready dict.

        Keys: ``path``, ``model``, ``duration_s``, ``sr``, ``summary``, ``tags`` (every
        label, or the ``top_k`` best, as ``{"label", "score"}`` sorted by score),
        ``genres`` (likewise), ``labels`` (label order) and ``segments``
        (``{"start_s", "scores"}`` with scores in label order). Every float is rounded to
        ``decimals`` places.
        """
        if not isinstance(decimals, int) or not 0 <= decimals <= 12:
            raise ParameterError(f"decimals must be an integer between 0 and 12, got {decimals!r}")
        r = lambda v: round(float(v), decimals)  # noqa: E731
        return {
            "path": self.path,
            "model": self.model,
            "duration_s": r(self.duration_s),
            "sr": int(self.sr),
            "truncated": bool(self.truncated),
            "summary": self.summary(),
            "tags": [{"label": lab, "score": r(s)} for lab, s in self.top(top_k)],
            "genres": [{"label": lab, "score": r(s)} for lab, s in self.top(top_k, genres_only=True)],
            "warnings": list(self.warnings),
            "labels": list(self.labels),
            "segments": [
                {"start_s": r(t), "scores": [r(v) for v in row]}
                for t, row in zip(self.segment_starts_s, self.segment_scores)
            ],
        }


def resolve_tagger(model: str | os.PathLike | Tagger, runs_dir: str | os.PathLike | None = None) -> Tagger:
    """A loaded tagger: ``model`` itself, or the model of that name or folder (:func:`load_tagger`)."""
    if isinstance(model, (str, os.PathLike)):
        return load_tagger(model, runs_dir=runs_dir)
    if isinstance(model, Tagger):
        return model
    raise ParameterError(f"model must be a name, a folder or a Tagger, got {type(model).__name__}")


# ---------------------------------------------------------------- tagging


def prepare_waveform(y: np.ndarray, *, sr: int, tagger: Tagger, name: str) -> np.ndarray:
    """Check a waveform, mix it to mono float32 and resample it to the tagger's rate: shape (n_samples,)."""
    if isinstance(sr, bool) or not isinstance(sr, (int, np.integer)) or sr <= 0:
        raise ParameterError(f"sr must be a positive integer, got {sr!r}")
    valid_audio(y, name=name)
    if y.ndim == 2:
        y = y.mean(axis=0)
    y = np.asarray(y, dtype=np.float32)
    if sr != tagger.sr:
        y = resample(y, orig_sr=int(sr), target_sr=tagger.sr)
    return y


def tag_array(
    y: np.ndarray,
    *,
    sr: int,
    model: str | os.PathLike | Tagger = "MSD_musicnn",
    overlap: float = 0.0,
    name: str = "<array>",
    runs_dir: str | os.PathLike | None = None,
) -> TrackPrediction:
    """Tag a waveform.

    Parameters
    ----------
    y : np.ndarray [shape=(n,) or (channels, n)]
        Float waveform (channels are averaged).
    sr : int
        Its sample rate (resampled to the model's rate if different).
    model : str, Path or Tagger
    overlap : float
        Seconds shared by consecutive segments, ``0 <= overlap < 3``.
    name : str
        Reported as ``path``.

    Returns
    -------
    TrackPrediction
        With a warning in ``warnings`` when the clip is shorter than one model segment.

    Raises
    ------
    AudioError
        The clip is shorter than :data:`MIN_DURATION_S` (0.5 s), or not audio.
    """
    return _tag_array(y, sr=sr, tagger=resolve_tagger(model, runs_dir), overlap=overlap, name=name)[0]


def _tag_array(
    y: np.ndarray, *, sr: int, tagger: Tagger, overlap: float, name: str, keep_mel: bool = False
) -> tuple[TrackPrediction, np.ndarray | None]:
    """:func:`tag_array`; with ``keep_mel``, also the model's own mel (musicnn taggers), else None."""
    if not isinstance(y, np.ndarray):
        raise AudioError(name, f"audio must be a numpy array, got {type(y).__name__}")
    y = prepare_waveform(y, sr=sr, tagger=tagger, name=name)
    warnings = duration_warnings(len(y) / tagger.sr, tagger=tagger, name=name)
    mel = None
    if keep_mel and isinstance(tagger, MusicnnTagger):
        starts, seg, mel = tagger.predict_with_mel(y, overlap=overlap)
    else:
        starts, seg = tagger.predict(y, overlap=overlap)
    seg = np.asarray(seg, dtype=np.float32)
    if seg.ndim != 2 or seg.shape[1] != len(tagger.labels) or len(starts) != len(seg):
        raise ModelError(
            f"model {tagger.name!r} returned scores of shape {seg.shape} for {len(tagger.labels)} labels"
        )
    pred = TrackPrediction(
        path=name,
        model=tagger.name,
        labels=list(tagger.labels),
        genres=list(tagger.genres),
        scores=seg.mean(axis=0),
        segment_starts_s=np.asarray(starts, dtype=np.float64),
        segment_scores=seg,
        duration_s=len(y) / tagger.sr,
        sr=int(tagger.sr),
        warnings=warnings,
    )
    return pred, mel


def duration_warnings(duration_s: float, *, tagger: Tagger, name: str) -> tuple[str, ...]:
    """Refuse a clip under :data:`MIN_DURATION_S`; warn about one shorter than a model segment."""
    if duration_s < MIN_DURATION_S:
        raise AudioError(
            name,
            f"the clip is only {duration_s:.3f} s long; at least {MIN_DURATION_S:g} s of audio is needed to tag it",
        )
    seg_s = segment_seconds(tagger.card)
    if seg_s is not None and duration_s < seg_s - 1e-6:
        return (
            f"the clip is {duration_s:.2f} s long, shorter than one {seg_s:g} s segment of the model: "
            "it was repeated to fill the segment, so these scores are a rough guess",
        )
    return ()


def tag_file(
    source: AudioSource,
    model: str | os.PathLike | Tagger = "MSD_musicnn",
    *,
    overlap: float = 0.0,
    max_duration: float | None = DEFAULT_MAX_DURATION_S,
    runs_dir: str | os.PathLike | None = None,
) -> TrackPrediction:
    """Decode an audio file (at the model's rate) and tag it.

    Parameters
    ----------
    source : str, path, bytes or binary file-like
    model : str, Path or Tagger
        A model name from :func:`~musictag_core.models.loading.list_models`, a model folder, or a loaded tagger.
    overlap : float
        Seconds shared by consecutive segments (0: musicnn's own track scores).
    max_duration : float or None
        Decode and tag at most this many seconds from the start (default 600, so
        a one-hour file costs what ten minutes cost); ``None`` tags the whole file.
        A longer file gives a prediction with ``truncated=True``.
    runs_dir : str or Path, optional

    Returns
    -------
    TrackPrediction

    Raises
    ------
    AudioError
        The file cannot be decoded.
    ModelError
        The model is unknown or broken.
    """
    check_max_duration(max_duration)
    tagger = resolve_tagger(model, runs_dir)
    y, sr, truncated = decode_for_model(source, tagger=tagger, max_duration=max_duration)
    pred = tag_array(y, sr=sr, model=tagger, overlap=overlap, name=source_name(source))
    return dataclasses.replace(pred, truncated=truncated) if truncated else pred


def check_max_duration(max_duration: float | None) -> None:
    """Refuse a ``max_duration`` that is not a positive number of seconds or None."""
    if max_duration is not None and (
        isinstance(max_duration, bool)
        or not isinstance(max_duration, (int, float))
        or not np.isfinite(max_duration)
        or max_duration <= 0
    ):
        raise ParameterError(f"max_duration must be a positive number of seconds or None, got {max_duration!r}")


def decode_for_model(source: AudioSource, *, tagger: Tagger, max_duration: float | None) -> tuple[np.ndarray, int, bool]:
    """Decode at the model's rate, at most ``max_duration`` s; also say whether the file was longer."""
    # Decode a little past the limit: more samples than the limit means the file is longer.
    duration = None if max_duration is None else float(max_duration) + 0.25
    y, sr = load_audio(source, sr=tagger.sr, duration=duration)
    truncated = False
    if max_duration is not None:
        n_max = int(round(float(max_duration) * sr))
        if len(y) > n_max:
            y, truncated = y[:n_max], True
    return y, sr, truncated


def embed_array(
    y: np.ndarray, *, sr: int, model: str | os.PathLike | Tagger = "MSD_musicnn",
    name: str = "<array>", runs_dir: str | os.PathLike | None = None,
) -> dict[str, np.ndarray]:
    """Track-level embeddings of a waveform (see :meth:`MusicnnTagger.embed`)."""
    tagger = resolve_tagger(model, runs_dir)
    return tagger.embed(prepare_waveform(np.asarray(y), sr=sr, tagger=tagger, name=name))


def embed_file(
    source: AudioSource,
    *,
    model: str | os.PathLike | Tagger = "MSD_musicnn",
    runs_dir: str | os.PathLike | None = None,
) -> dict[str, np.ndarray]:
    """Track-level embeddings of an audio file.

    Returns
    -------
    dict
        For musicnn: ``pooled`` [shape=(1506,)] and ``penultimate`` [shape=(200,)],
        averaged over the track's 3 s patches.
    """
    tagger = resolve_tagger(model, runs_dir)
    y, sr = load_audio(source, sr=tagger.sr)
    return tagger.embed(y)



# ---------------------------------------------------------------- the Tag page's view


@dataclass(frozen=True)
class TrackView:
    """What a person sees beside the scores: the decoded waveform and the model's own input view.

    Attributes
    ----------
    y : np.ndarray [shape=(n,)]
        The waveform the model tagged (at the model's rate).
    sr : int
    S_db : np.ndarray [shape=(n_mels, t)]
        Log-mel spectrogram in dB, with the model's mel bands.
    mfcc : np.ndarray [shape=(n_mfcc, t)]
    hop_length : int
    """

    y: np.ndarray
    sr: int
    S_db: np.ndarray
    mfcc: np.ndarray
    hop_length: int

    @property
    def n_mels(self) -> int:
        """Mel bands of the spectrogram."""
        return int(self.S_db.shape[0])


#: Display frame settings for models whose inputs are not mel frames (waveform, statistics).
_DISPLAY_DEFAULTS = {"n_fft": 2048, "hop_length": 512, "n_mels": 128}


def display_params(tagger: Tagger) -> dict[str, int]:
    """The model's own frame settings (``n_fft``, ``hop_length``, ``n_mels``) for the spectrogram view.

    musicnn taggers use theirs (512, 256, 96 at 16 kHz); a training run uses its
    features' settings (or its musicnn backbone's); other inputs get librosa's defaults.
    """
    if isinstance(tagger, MusicnnTagger):
        return {"n_fft": tagger.n_fft, "hop_length": tagger.hop_length, "n_mels": tagger.n_mels}
    spec = getattr(tagger, "spec", None)
    features = getattr(spec, "features", None)
    if features is not None:
        return {"n_fft": int(features.n_fft), "hop_length": int(features.hop_length), "n_mels": int(features.n_mels)}
    backbone = getattr(tagger, "backbone", None)
    if isinstance(backbone, MusicnnTagger):
        return display_params(backbone)
    return dict(_DISPLAY_DEFAULTS)


def segment_seconds(card: dict) -> float | None:
    """Length of one model input segment in seconds, from a model card (None if unknown)."""
    for key in ("patch_s", "segment_s"):
        value = card.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
            return float(value)
    try:
        return float(card["patch_frames"]) * float(card["hop_length"]) / float(card["sr"])
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return None


def analyse_file(
    source: AudioSource,
    model: str | os.PathLike | Tagger = "MSD_musicnn",
    *,
    overlap: float = 0.0,
    max_duration: float | None = DEFAULT_MAX_DURATION_S,
    n_mfcc: int = 20,
    runs_dir: str | os.PathLike | None = None,
) -> tuple[TrackPrediction, TrackView]:
    """Decode a file once, tag it, and compute the spectrogram view from the same waveform.

    Parameters
    ----------
    source : str, path, bytes or binary file-like
    model : str, Path or Tagger
    overlap : float
        Seconds shared by consecutive segments.
    max_duration : float or None
        As for :func:`tag_file`.
    n_mfcc : int
        MFCCs in the view.
    runs_dir : str or Path, optional

    Returns
    -------
    prediction : TrackPrediction
        Equal to ``tag_file(source, model, overlap=overlap, max_duration=max_duration)``.
    view : TrackView
        The waveform at the model's rate and its log-mel / MFCC with the model's
        mel bands (:func:`display_params`).
    """
    from .inputs import display_features

    check_max_duration(max_duration)
    tagger = resolve_tagger(model, runs_dir)
    y, sr, truncated = decode_for_model(source, tagger=tagger, max_duration=max_duration)
    pred = tag_array(y, sr=sr, model=tagger, overlap=overlap, name=source_name(source))
    if truncated:
        pred = dataclasses.replace(pred, truncated=True)
    params = display_params(tagger)
    S_db, M = display_features(y, sr=sr, n_mfcc=n_mfcc, **params)
    return pred, TrackView(y=y, sr=int(sr), S_db=S_db, mfcc=M, hop_length=params["hop_length"])


# ---------------------------------------------------------------- the same, in steps (the Tag page)


@dataclass(frozen=True)
class DecodedTrack:
    """One upload decoded once at a model's rate: what :func:`tag_decoded` and :func:`track_view` share.

    Attributes
    ----------
    name : str
        The source's name (``path`` of the prediction).
    y : np.ndarray [shape=(n,)]
        Mono float32 waveform at ``sr``.
    sr : int
        The model's rate.
    truncated : bool
        The file is longer than the ``max_duration`` it was decoded with.
    """

    name: str
    y: np.ndarray
    sr: int
    truncated: bool = False


def decode_track(
    source: AudioSource,
    model: str | os.PathLike | Tagger = "MSD_musicnn",
    *,
    max_duration: float | None = DEFAULT_MAX_DURATION_S,
    runs_dir: str | os.PathLike | None = None,
) -> DecodedTrack:
    """Decode a file at the model's rate, at most ``max_duration`` seconds (the first step of :func:`analyse_file`).

    :func:`analyse_file` is ``decode_track`` → :func:`tag_decoded` → :func:`track_view`;
    the steps let a caller show the scores before the spectrogram view is computed.

    Raises
    ------
    AudioError
        The file cannot be decoded.
    """
    check_max_duration(max_duration)
    tagger = resolve_tagger(model, runs_dir)
    y, sr, truncated = decode_for_model(source, tagger=tagger, max_duration=max_duration)
    return DecodedTrack(name=source_name(source), y=y, sr=int(sr), truncated=bool(truncated))


def tag_decoded(
    track: DecodedTrack,
    model: str | os.PathLike | Tagger = "MSD_musicnn",
    *,
    overlap: float = 0.0,
    runs_dir: str | os.PathLike | None = None,
) -> TrackPrediction:
    """Tag a :class:`DecodedTrack`: equal to :func:`tag_file` on the file it was decoded from."""
    return tag_decoded_with_mel(track, model, overlap=overlap, runs_dir=runs_dir)[0]


def tag_decoded_with_mel(
    track: DecodedTrack,
    model: str | os.PathLike | Tagger = "MSD_musicnn",
    *,
    overlap: float = 0.0,
    runs_dir: str | os.PathLike | None = None,
) -> tuple[TrackPrediction, np.ndarray | None]:
    """:func:`tag_decoded`, also returning the spectrogram the model consumed, for :func:`track_view`.

    Returns
    -------
    prediction : TrackPrediction
        Equal to :func:`tag_decoded`'s.
    mel : np.ndarray [shape=(frames, n_mels)] or None
        The musicnn tagger's own log-compressed mel spectrogram (``MusicnnTagger.mel``);
        None for other taggers.
    """
    tagger = resolve_tagger(model, runs_dir)
    pred, mel = _tag_array(track.y, sr=track.sr, tagger=tagger, overlap=overlap, name=track.name, keep_mel=True)
    return (dataclasses.replace(pred, truncated=True) if track.truncated else pred), mel


def track_view(
    track: DecodedTrack,
    model: str | os.PathLike | Tagger = "MSD_musicnn",
    *,
    n_mfcc: int = 20,
    runs_dir: str | os.PathLike | None = None,
    model_mel: np.ndarray | None = None,
) -> TrackView:
    """The spectrogram view of a :class:`DecodedTrack` with the model's own frame settings (see :func:`analyse_file`).

    ``model_mel`` [shape=(frames, n_mels)]: the musicnn tagger's own mel of this track
    (:func:`tag_decoded_with_mel`), shown in dB instead of computing another spectrogram
    (equal to it within 1e-3 dB).
    """
    from .inputs import display_features

    tagger = resolve_tagger(model, runs_dir)
    params = display_params(tagger)
    y = np.asarray(track.y, dtype=np.float32)
    if model_mel is not None and isinstance(tagger, MusicnnTagger):
        from .features import mfcc
        from .models.musicnn.frontend import musicnn_mel_db

        S_db = musicnn_mel_db(model_mel)
        M = mfcc(log_S=S_db, n_mfcc=min(int(n_mfcc), S_db.shape[0]))
    else:
        S_db, M = display_features(y, sr=track.sr, n_mfcc=n_mfcc, **params)
    return TrackView(y=y, sr=int(track.sr), S_db=S_db, mfcc=M, hop_length=params["hop_length"])
