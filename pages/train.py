"""Train page: set up a run, watch it live, read its evaluation.

Inputs (dataset, model, hyperparameters, augmentation) → ``musictag_core.training``
``RunConfig`` → ``musictag_core.training.start_run`` (a detached worker
process). The page talks to the run only through its files: a fragment that
re-runs every second reads ``events.jsonl`` from a byte offset kept in the
session (``RunWatcher``), so reloads, reruns and closed tabs never touch the
run. The run shown is in the URL (``?run=<id>``), so a reload comes back to it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import streamlit as st

from musictag_core.augment import AugmentConfig, apply_augmentation, draw_params
from musictag_core.errors import MusictagError
from musictag_core.evaluate import HEADLINE_METRICS, headline_metric, metric_label
from musictag_core.models.loading import table_only
from musictag_core.models.registry import CLASSICAL_MODELS, MODEL_CARDS, NEURAL_MODELS
from musictag_core.paths import data_roots, resolve_data_path, runs_dir
from musictag_core.runs import ACTIVE_STATES, Run, RunWatcher, format_duration, run_duration_s
from musictag_core.training import RunConfig, default_run, runs_table, start_run
from musictag_core.training.config import TUNABLE_MODELS
from musictag_core.training.form import form_rules, train_size
from musictag_core.viz.train import (
    curve_metrics,
    curves_figure,
    evaluation_confusion_figure,
    metrics_table,
    per_label_f1_figure,
)
from pages._ui.cache import cached_models
from pages._ui.columns import render_excluded_columns
from pages._ui.errors import app_limits, show_error
from pages._ui.evaluation import cv_caption, render_evaluation_settings, render_zero_shot
from pages._ui.form import number_field, show_form_errors
from pages._ui.preflight import public_message, render_preflight
from pages._ui.robustness import render_run_robustness
from pages._ui.session import session_workspace, startup
from pages._ui.transfer import render_transfer_settings

LIVE_REFRESH_S = 1.5
SOURCES = {
    "demo-hard": "Hard demo corpus", "demo": "Demo corpus", "path": "Folder or CSV path",
    "upload": "Upload a feature table (CSV)",
}  # fmt: skip
DEMO_CAPTIONS = {
    "demo-hard": "The hard demo corpus: 150 synthesised clips in 6 close styles that share instruments and tempi, "
    "with varied EQ, compression and noise and many two-style blends, so models differ. Generated on first use "
    "(about a minute) and cached.",
    "demo": "The easy demo corpus: 138 synthesised clips in 6 distinct styles (some blends of two); almost any "
    "model separates them. Generated on first use (about a minute) and cached.",
}
TASKS = {"auto": "from the dataset", "single": "single-label", "multi": "multi-label", "regression": "strength regression"}
STATE_ICONS = {
    "queued": ":material/schedule:", "running": ":material/sprint:", "finished": ":material/check_circle:",
    "stopped": ":material/stop_circle:", "failed": ":material/error:",
}  # fmt: skip
PREVIEW_STYLE, PREVIEW_SECONDS = "jazz", 6.0

startup()
ss = st.session_state
ss.setdefault("train_source", "demo-hard")
ss.setdefault("train_model", "cnn")
ss.setdefault("train_preset", "fast")
ss.setdefault("train_patience", "5")
ss.setdefault("train_seed", "0")
ss.setdefault("train_threshold", "50")
ss.setdefault("train_aug_variants", "4")
ss.setdefault("train_aug_draw", 0)


# ---------------------------------------------------------------------------
# helpers (no widgets inside cached functions)
# ---------------------------------------------------------------------------


def _save_upload(data: bytes, name: str) -> str:
    """Save an uploaded CSV in this session's workspace once per content (reruns reuse it); return its path."""
    key = "train_upload_" + hashlib.sha256(data).hexdigest()[:16]
    path = ss.get(key)
    if path is None or not Path(path).exists():
        path = str(session_workspace().save_upload(name, data, limit=app_limits().max_upload_bytes))
        ss[key] = path
    return path


@st.cache_data(max_entries=4, show_spinner=False)
def _dataset_format(spec: str) -> str | None:
    from musictag_core.datasets import detect_format

    try:
        return detect_format(spec)
    except MusictagError:
        return None


@st.cache_data(max_entries=8, show_spinner=False)
def _dataset_size(spec: str) -> tuple[int, int | None] | None:
    """Tracks in a dataset and in its own train split (None when it has none), from its metadata; None if unreadable."""
    from musictag_core.training.form import dataset_metadata

    index = dataset_metadata(spec)
    if index is None:
        return None
    return len(index), (len(index.split_indices("train")) if index.has_splits else None)


@st.cache_data(max_entries=1, show_spinner="Synthesising a demo clip…")
def _preview_clip() -> tuple[np.ndarray, int]:
    from musictag_core.datasets.demo import synthesize_clip

    sr = 22050
    return synthesize_clip(PREVIEW_STYLE, rng=np.random.default_rng(7), sr=sr, duration=PREVIEW_SECONDS), sr


@st.cache_data(max_entries=16, show_spinner="Augmenting…")
def _augmented(config_json: str, draw: int) -> tuple[dict, np.ndarray]:
    y, sr = _preview_clip()
    config = AugmentConfig.from_dict(json.loads(config_json))
    params = draw_params(config, rng=np.random.default_rng([7, draw]))
    return params, apply_augmentation(y, sr=sr, params=params)


def _describe_params(params: dict) -> str:
    parts = []
    if params.get("time_stretch"):
        parts.append(f"time stretch ×{params['time_stretch']['rate']:.3f}")
    if params.get("pitch_shift"):
        parts.append(f"pitch shift {params['pitch_shift']['semitones']:+.2f} semitones")
    if params.get("gain"):
        parts.append(f"gain {params['gain']['gain_db']:+.1f} dB")
    if params.get("noise"):
        parts.append(f"noise σ {params['noise']['amplitude']:.4f}")
    return ", ".join(parts) or "no transform drawn this time (each applies with its probability)"


def _watcher(run_id: str) -> RunWatcher:
    key = f"train_watch_{run_id}"
    if key not in ss:
        ss[key] = Run.open(run_id).watch()
    return ss[key]


# ---------------------------------------------------------------------------
# the form
# ---------------------------------------------------------------------------

st.title("Train", anchor=False)
st.caption(
    "Pick a dataset and a model, start a run and watch its curves live. Runs train in their own process, "
    "one at a time (others wait queued); reloading or closing the page does not affect them. "
    "Finished models appear in the Tag page's model list."
)

with st.container(border=True, key="train_form"):
    st.subheader("New run", anchor=False)
    c_data, c_model = st.columns(2, gap="large")
    dataset_spec: str | None = None
    dataset_format: str | None = None
    uploaded = False  # an uploaded table lives in the session workspace: the run keeps a copy
    upload_name: str | None = None  # messages name the uploaded file, not the session copy's path
    with c_data:
        source = st.radio("Dataset", list(SOURCES), format_func=SOURCES.get, key="train_source", horizontal=True)
        if source in DEMO_CAPTIONS:
            dataset_spec, dataset_format = source, "demo"
            st.caption(DEMO_CAPTIONS[source])
        elif source == "path":
            roots = ", ".join(f"`{r}`" for r in data_roots())
            text = st.text_input(
                "Dataset path", key="train_path", placeholder="/data/gtzan/genres_original",
                help="A folder of <genre>/ audio files (GTZAN layout), an FMA or MagnaTagATune folder, "
                f"a strengths CSV or a feature-table CSV. Accepted under: {roots} (MUSICTAG_DATA).",
            )  # fmt: skip
            if text.strip():
                try:
                    dataset_spec = str(resolve_data_path(text))
                except MusictagError as exc:
                    show_error(exc)
                else:
                    dataset_format = _dataset_format(dataset_spec)
                    st.caption(f"`{dataset_spec}` · format: {dataset_format or 'not recognised'}")
        else:
            up = st.file_uploader(
                "Feature table", type=["csv"], key="train_upload",
                help="One row per track: numeric feature columns and a `label` column "
                "(like GTZAN's features_30_sec.csv). Trains the classical models.",
            )  # fmt: skip
            if up is not None:
                try:
                    dataset_spec, dataset_format = _save_upload(up.getvalue(), up.name), "features"
                    uploaded, upload_name = True, up.name
                except MusictagError as exc:
                    show_error(exc, context="Upload")
                except OSError as exc:
                    st.error(f"could not save the upload ({exc.strerror or exc}); check free space in the cache folder")
        task = st.selectbox("Task", list(TASKS), format_func=TASKS.get, key="train_task")
        size = _dataset_size(dataset_spec) if dataset_spec else None
        c1, c2 = st.columns(2)
        # the bounds of the numeric fields follow from the dataset (and below, the model's preset)
        data_rules = form_rules(preset=MODEL_CARDS["logreg"].preset("fast"), n_tracks=size[0] if size else None)
        errors: list[str] = []  # every field's refusal; any one disables Start
        threshold, err = number_field(
            data_rules["threshold"], key="train_threshold", container=c1,
            help="Tag strength (1-100) at or above which a label counts as present.",
        )  # fmt: skip
        errors += [err] if err else []
        max_tracks, err = number_field(
            data_rules["max_tracks"], key="train_max_tracks", container=c2, placeholder="all tracks",
            help="A stratified sample, for quick trials." + (f" The dataset has {size[0]} tracks." if size else ""),
        )  # fmt: skip
        errors += [err] if err else []

    with c_model:
        tables_only = dataset_format == "features"
        models = list(CLASSICAL_MODELS) if tables_only else list(NEURAL_MODELS) + list(CLASSICAL_MODELS)
        if ss.get("train_model") not in models:
            ss["train_model"] = models[0]
        model = st.selectbox(
            "Model", models, key="train_model", format_func=lambda m: f"{m}: {MODEL_CARDS[m].title}",
            help="Feature tables train the classical models only.",
        )  # fmt: skip
        card = MODEL_CARDS[model]
        st.caption(card.seed_system)
        preset_name = st.radio(
            "Preset", ["fast", "full"], key="train_preset", horizontal=True,
            help="fast: small inputs and model for the demo corpus (a minute or two); full: the seed system's settings.",
        )  # fmt: skip
        preset = card.preset(preset_name)
        transfer = render_transfer_settings(model)
        neural = card.family == "keras" and transfer.get("head", "dense") == "dense"
        tunable = model in TUNABLE_MODELS and transfer.get("head") != "dense"

    st.markdown("**Training**" + ("" if neural else f" (the settings below apply to neural models; {model} fits in one go)"))
    c1, c2, c3, c4, c5, c6 = st.columns(6, vertical_alignment="top")
    c1b, c3b, c4b = st.columns([1, 1.3, 3.7], vertical_alignment="top")
    evaluation = render_evaluation_settings(dataset=dataset_spec, n_tracks=size[0] if size else None,
                                            max_tracks=max_tracks, tunable=tunable)
    errors += evaluation.error_list
    n_train = None
    if size:
        n_train = train_size(size[0], cv=evaluation.size_cv, n_train_split=size[1],
                             max_tracks=int(max_tracks) if max_tracks else None)
    rules = form_rules(preset=preset, n_tracks=size[0] if size else None, n_train=n_train)
    optimizer = c1.selectbox("Optimizer", ["adam", "sgd"], key="train_optimizer", disabled=not neural,
                             format_func=lambda o: {"adam": "Adam", "sgd": "SGD"}[o])
    lr, err_lr = number_field(rules["learning_rate"], key="train_lr", container=c2, disabled=not neural,
                              placeholder=f"{preset.learning_rate:.0e}",
                              help=f"Empty: the preset's {preset.learning_rate:.0e}. From 1e-6 to 1.")
    epochs, err_epochs = number_field(rules["epochs"], key="train_epochs", container=c3, disabled=not neural,
                                      help=f"Empty: the preset's {preset.epochs}.")
    batch_size, err_batch = number_field(
        rules["batch_size"], key="train_batch", container=c4, disabled=not neural,
        help=f"Empty: the preset's {preset.batch_size}." + (f" At most the {n_train} training tracks." if n_train else ""),
    )  # fmt: skip
    patience, err_patience = number_field(rules["patience"], key="train_patience", container=c5, disabled=not neural,
                                          help="Early stopping: epochs without a better validation loss (0: off).")
    dropout, err_dropout = number_field(rules["dropout"], key="train_dropout", container=c6, disabled=not neural,
                                        help=f"Empty: the preset's {preset.dropout:g}. At least 0, below 1.")
    errors += [e for e in (err_lr, err_epochs, err_batch, err_patience, err_dropout) if e]
    seed, err = number_field(rules["seed"], key="train_seed", container=c1b)
    errors += [err] if err else []
    c3, c4 = c3b, c4b
    class_weights = c3.toggle("Class weights", key="train_class_weights",
                              help="Weight tracks inversely to their label frequency.")
    name = c4.text_input("Run name (optional)", key="train_name", max_chars=80)

    input_kind = card.input_kind
    segments: dict = {}
    features: dict = {}
    with st.expander("Input features", icon=":material/graphic_eq:"):
        if input_kind in ("logmel", "mfcc", "waveform"):
            seg = preset.segments
            st.caption(
                f"{model} reads **{input_kind}** inputs: `{seg.kind}` of {seg.length_s:g} s. Leave a field empty "
                "to keep the preset's value."
            )
            c1, c2, c3, c4 = st.columns(4)
            length, err1 = number_field(rules["segment_length"], key="train_seg_length", container=c1)
            n_seg, err2 = number_field(rules["n_segments"], key="train_seg_n", container=c2,
                                       placeholder=str(seg.n_segments or "all"), disabled=seg.kind == "random_crop")
            max_dur, err3 = number_field(rules["max_duration"], key="train_seg_max", container=c3,
                                         placeholder=str(seg.max_duration_s or "all"))
            errors += [e for e in (err1, err2, err3) if e]
            if length is not None:
                segments["length_s"] = float(length)
            if n_seg is not None and seg.kind != "random_crop":
                segments["n_segments"] = int(n_seg)
            if max_dur is not None:
                segments["max_duration_s"] = float(max_dur)
            if input_kind in ("logmel", "mfcc") and preset.features is not None:
                field = "n_mels" if input_kind == "logmel" else "n_mfcc"
                band_rule = replace(rules["bands"], label="Mel bands" if field == "n_mels" else "MFCCs")
                bands, err = number_field(band_rule, key=f"train_{field}", container=c4,
                                          placeholder=str(getattr(preset.features, field)))
                errors += [err] if err else []
                if bands is not None:
                    features[field] = int(bands)
        elif input_kind == "embedding":
            st.caption(f"The {model} model reads pretrained musicnn outputs of each 3 s patch (chosen beside the model).")
        else:
            st.caption(f"{model} reads per-track summary statistics (or the feature table's columns).")

    augmentable = neural and input_kind in ("logmel", "mfcc", "waveform")
    aug_error = None
    with st.expander("Augmentation", icon=":material/tune:"):
        if not augmentable:
            st.caption(f"{model} reads {input_kind} inputs, which are not augmented; these settings are ignored.")
        c1, c2, c3, c4 = st.columns(4, gap="medium")
        with c1:
            pitch = st.toggle("Pitch shift", key="train_aug_pitch")
            semitones = st.slider("Semitones", -12.0, 12.0, (-2.0, 2.0), 0.5, key="train_aug_semitones", disabled=not pitch)
            pitch_p = st.slider("Probability", 0.0, 1.0, 0.5, 0.05, key="train_aug_pitch_p", disabled=not pitch)
        with c2:
            stretch = st.toggle("Time stretch", key="train_aug_stretch")
            rate = st.slider("Rate", 0.5, 2.0, (0.9, 1.1), 0.05, key="train_aug_rate", disabled=not stretch)
            time_p = st.slider("Probability", 0.0, 1.0, 0.5, 0.05, key="train_aug_time_p", disabled=not stretch)
        with c3:
            gain = st.toggle("Gain", key="train_aug_gain")
            gain_db = st.slider("Gain (dB)", -24.0, 24.0, (-6.0, 6.0), 1.0, key="train_aug_gain_db", disabled=not gain)
            gain_p = st.slider("Probability", 0.0, 1.0, 0.5, 0.05, key="train_aug_gain_p", disabled=not gain)
        with c4:
            noise = st.toggle("Gaussian noise", key="train_aug_noise")
            amp = st.slider("Amplitude (σ)", 0.0, 0.1, (0.001, 0.01), 0.001, format="%.3f", key="train_aug_amp",
                            disabled=not noise)
            noise_p = st.slider("Probability", 0.0, 1.0, 0.5, 0.05, key="train_aug_noise_p", disabled=not noise)
        n_variants, err = number_field(
            rules["n_variants"], key="train_aug_variants",
            help="Drawn once before training (pitch shift and time stretch are slow); each epoch samples among them. 1 to 16.",
        )  # fmt: skip
        if err and augmentable:
            errors.append(err)
        augment = None
        try:
            augment = AugmentConfig(
                pitch_shift=pitch, semitones=semitones, pitch_p=pitch_p, time_stretch=stretch, rate=rate,
                time_p=time_p, gain=gain, gain_db=gain_db, gain_p=gain_p, noise=noise, noise_amplitude=amp,
                noise_p=noise_p,
            )  # fmt: skip
        except MusictagError as exc:
            aug_error = exc
            show_error(exc, context="augmentation")
        if augment is not None and augment.enabled:
            st.markdown(f"**Preview** on a synthesised {PREVIEW_SECONDS:g} s {PREVIEW_STYLE} clip")
            p1, p2, p3 = st.columns([2, 2, 1], vertical_alignment="bottom")
            try:
                y, sr = _preview_clip()
                draw = int(ss["train_aug_draw"])
                params, y_aug = _augmented(json.dumps(augment.to_dict(), sort_keys=True), draw)
            except Exception as exc:  # noqa: BLE001 - the preview never blocks the form
                show_error(exc, context="augmentation preview")
            else:
                with p1:
                    st.caption("original")
                    st.audio(y, sample_rate=sr)
                with p2:
                    st.caption(f"augmented (draw {draw}): {_describe_params(params)}")
                    st.audio(y_aug, sample_rate=sr)
                with p3:
                    if st.button("New draw", icon=":material/casino:", key="train_aug_redraw"):
                        ss["train_aug_draw"] = draw + 1
                        st.rerun()

    show_form_errors(errors)
    # the settings exactly as the form shows them: an empty field is the preset's value (None), nothing else is
    # substituted; the pre-flight check below judges them before Start, and Start runs this same config
    config = None
    if dataset_spec is not None and not errors and aug_error is None:
        try:
            config = RunConfig(
                dataset=dataset_spec, model=model, preset=preset_name, task=None if task == "auto" else task,
                threshold=float(threshold), epochs=epochs, batch_size=batch_size, optimizer=optimizer,
                learning_rate=None if lr is None else float(lr), patience=5 if patience is None else int(patience),
                dropout=None if dropout is None else float(dropout),
                class_weights=bool(class_weights), augment=augment or AugmentConfig(),
                n_variants=4 if n_variants is None else int(n_variants),
                segments=segments or None, features=features or None, seed=0 if seed is None else int(seed),
                **evaluation.settings, **transfer,
                max_tracks=None if max_tracks is None else int(max_tracks), name=name.strip(),
            )  # fmt: skip
        except MusictagError as exc:
            show_error(exc, context="Settings")
    preflight_ok = render_preflight(config, upload_name=upload_name)
    start = st.button(
        "Start training", type="primary", icon=":material/play_arrow:", key="train_start",
        disabled=dataset_spec is None or aug_error is not None or bool(errors) or config is None or not preflight_ok,
        help="Fix the fields marked in red first." if errors
        else "The pre-flight check refuses these settings: see the fix above." if not preflight_ok
        else None if dataset_spec else "Choose a dataset first.",
    )  # fmt: skip
    if start and config is not None and preflight_ok:
        try:
            run_id = start_run(config, check=True, keep_dataset_file=uploaded)
        except MusictagError as exc:
            show_error(type(exc)(public_message(str(exc), dataset=dataset_spec, upload_name=upload_name)),
                       context="Cannot start the run")
        except OSError as exc:
            st.error(
                f"Cannot start the run: {exc.strerror or exc} ({getattr(exc, 'filename', '') or runs_dir()}). "
                "Check free space and permissions of the runs folder (MUSICTAG_RUNS).",
                icon=":material/error:",
            )
        else:
            ss["train_view_run"] = run_id
            st.toast(f"Started run {run_id}", icon=":material/rocket_launch:")


# ---------------------------------------------------------------------------
# the run: live panel or evaluation
# ---------------------------------------------------------------------------


def _header(run_id: str, status: dict, config: dict) -> None:
    state = status.get("state", "?")
    dur = format_duration(run_duration_s(status))
    st.markdown(
        f"{STATE_ICONS.get(state, '')} **{state}** · model `{config.get('model')}` ({config.get('preset')}) · "
        f"dataset `{config.get('dataset')}`" + (f" · {dur}" if dur else "")
        + (f" · *{config['name']}*" if config.get("name") else "")
    )


def _curves(watcher: RunWatcher, key: str, task: str | None) -> None:
    """Loss and metric curves; figures are rebuilt only when new events arrived (or the metric changed)."""
    ep = watcher.epoch_frame()
    present = curve_metrics(ep) if len(ep) else []
    metrics = [m for m in present if m != "loss"]
    has_loss = watcher.step > 0 or "loss" in present
    c_loss, c_metric = st.columns(2, gap="medium")
    metric = None
    with c_metric:
        if metrics:
            preferred = HEADLINE_METRICS.get(task or "", "")
            default = metrics.index(preferred) if preferred in metrics else 0
            metric = st.selectbox("Curve metric", metrics, index=default, format_func=metric_label,
                                  key=f"train_curve_metric_{key}")
    cache_key = f"train_figs_{key}_{watcher.run_dir.name}"
    stamp = (watcher.offset, metric)
    if ss.get(cache_key, (None,))[0] != stamp:
        loss_fig = curves_figure(ep, metric="loss", batches=watcher.batch_frame(),
                                 batches_per_epoch=watcher.batches_per_epoch, title="Loss") if has_loss else None
        metric_fig = curves_figure(ep, metric=metric, title=metric_label(metric)) if metric else None
        ss[cache_key] = (stamp, loss_fig, metric_fig)
    _, loss_fig, metric_fig = ss[cache_key]
    with c_loss:
        if loss_fig is not None:
            st.plotly_chart(loss_fig, key=f"train_fig_loss_{key}")
        elif watcher.phase != "done":
            st.caption("Loss curves appear with the first training batch.")
        else:
            st.caption("This model is fitted in one go: no loss curve, only the validation metrics.")
    with c_metric:
        if metric_fig is not None:
            st.plotly_chart(metric_fig, key=f"train_fig_metric_{key}")
        else:
            st.caption("Metric curves appear after the first epoch.")


@st.fragment(run_every=LIVE_REFRESH_S)
def live_panel(run_id: str, task: str | None, shown_state: str) -> None:
    """Progress and curves of a queued or running run, re-read from its files every LIVE_REFRESH_S.

    A change of state (queued -> running, or the end) reruns the whole page, so the
    header and the evaluation follow."""
    watcher = _watcher(run_id)
    try:
        watcher.poll()
        status = Run.open(run_id).status()
    except (MusictagError, OSError) as exc:
        show_error(exc, context=f"reading run {run_id}")
        return
    state = status.get("state")
    if state != shown_state:
        if state not in ACTIVE_STATES:
            cached_models.clear()  # a finished model appears on the Tag page at once
        st.rerun()
    if state == "queued":
        st.info(
            "**queued**: another run is training; this one starts when it ends (one run trains at a time).",
            icon=":material/schedule:",
        )
        return
    fraction = watcher.fraction()
    with st.container(key="train_live"):
        st.progress(fraction if fraction is not None else 0.0, text=watcher.describe())
        _curves(watcher, "live", task)


def final_panel(run_id: str, status: dict, config: dict) -> None:
    """Evaluation of a finished or stopped run; the reason of a failed one."""
    run = Run.open(run_id)
    state = status.get("state")
    if state == "failed":
        st.error(f"Run failed: {status.get('error') or 'no reason recorded'}", icon=":material/error:")
        log = run.log_tail(max_lines=40)
        if log:
            with st.expander("Worker log (last lines)"):
                st.code("\n".join(log))
    elif state == "stopped":
        st.warning("Stopped on request: evaluated with the best weights so far.", icon=":material/stop_circle:")
    watcher = _watcher(run_id)
    watcher.poll()
    evaluation = run.read_metrics()
    task = (evaluation or {}).get("task") or config.get("task")
    if len(watcher.epoch_frame()):
        _curves(watcher, "final", task)
    if not evaluation:
        if state != "failed":
            st.caption("No evaluation was saved.")
        return
    with st.container(key="train_evaluation"):
        st.subheader("Evaluation on the test split", anchor=False)
        cv = evaluation.get("cv") or {}
        if cv.get("k"):
            st.caption(cv_caption(cv))
        name, value = headline_metric(evaluation.get("metrics") or {}, task)
        number = st.column_config.NumberColumn(format="%.4f")
        table = metrics_table(evaluation).drop(columns="key")
        if cv.get("k"):  # value, cv mean and cv std side by side need the width: table above, figures below
            c_head, c_table = st.columns([1, 3], gap="medium")
            if name:
                mean = ((cv.get("mean") or {}).get(name), (cv.get("std") or {}).get(name))
                c_head.metric(
                    metric_label(name), f"{value:.3f}", help=f"pooled out-of-fold predictions of {evaluation.get('n_tracks')} tracks",
                    delta=None if mean[0] is None else f"cv {mean[0]:.3f} ± {mean[1] or 0:.3f}", delta_color="off",
                    delta_arrow="off",
                )
            c_table.dataframe(table, hide_index=True, key="train_metrics_table",
                              column_config={c: number for c in ("value", "cv mean", "cv std")})
            c_conf, c_f1 = st.columns([1.3, 1.2], gap="medium")
        else:
            c_table, c_conf, c_f1 = st.columns([1, 1.3, 1.2], gap="medium")
            with c_table:
                if name:
                    st.metric(metric_label(name), f"{value:.3f}", help=f"{evaluation.get('n_tracks')} test tracks")
                st.dataframe(table, hide_index=True, key="train_metrics_table", column_config={"value": number})
        with c_conf:
            if evaluation.get("confusion"):
                st.plotly_chart(evaluation_confusion_figure(evaluation["confusion"]), key="train_fig_confusion")
        with c_f1:
            if evaluation.get("per_label"):
                st.plotly_chart(per_label_f1_figure(evaluation["per_label"]), key="train_fig_f1")
        render_zero_shot(evaluation)
    render_excluded_columns((run.read_card() or {}).get("excluded_columns"),
                            override="Keep or drop columns with the `keep_columns`/`drop_columns` run settings.")
    if state == "finished" and table_only(run.read_card() or {}):
        st.caption(
            ":material/table_chart: This model reads the feature table's own columns, so it scores feature tables, "
            "not audio files: it is not offered on the Tag page. Train on an audio dataset to tag songs."
        )
    elif state == "finished":
        # in-app navigation does not always hand the query string to the next page,
        # so the Tag page also reads this one-shot request from the session
        ss["tag_model_request"] = run_id
        st.page_link(
            "pages/tag.py", label=f"Tag songs with this model ({run_id})", icon=":material/label:",
            query_params={"model": run_id},
            help="Opens the Tag page; the model is listed in its Model picker under this run's name.",
        )  # fmt: skip
        render_run_robustness(run_id)


st.divider()
c_title, c_link = st.columns([4, 1], vertical_alignment="bottom")
c_title.subheader("Run", anchor=False)
c_link.page_link("pages/runs.py", label="All runs", icon=":material/table_chart:")
try:
    runs = runs_table()
except (MusictagError, OSError) as exc:
    show_error(exc, context="listing runs")
    st.stop()
ids = runs["run_id"].tolist()
if ss.get("train_view_run") not in ids:
    ss["train_view_run"] = default_run(runs, st.query_params.get("run"))
labels = {r.run_id: f"{r.run_id}" + (f" · {r.name}" if r.name else "") for r in runs.itertuples()}
run_id = st.selectbox(
    "Show run", ids, key="train_view_run", format_func=labels.get, placeholder="no run selected",
    help="Runs keep going when you leave or reload the page; the one shown is kept in the address (?run=...).",
)  # fmt: skip
if run_id is None:
    st.query_params.pop("run", None)
    st.info("No run selected: start one above, or pick one in the list.", icon=":material/info:")
    st.stop()
st.query_params["run"] = run_id
# a session keeps the event log and figures of the run it shows only: switching through many runs
# used to keep every run's watcher (all its events) and plotly figures in the session (#13, memory creep)
for _k in [k for k in ss.keys() if isinstance(k, str) and k.startswith(("train_watch_", "train_figs_"))]:
    if not _k.endswith(f"_{run_id}"):
        del ss[_k]
run = Run.open(run_id)
try:
    status = run.status()
except (MusictagError, OSError) as exc:
    show_error(exc, context=f"reading run {run_id}")
    st.stop()
config = run.read_config()
_header(run_id, status, config)
if status.get("state") in ACTIVE_STATES:
    if run.stop_requested():
        st.caption("Stop requested: the run ends after the current batch and evaluates its best weights.")
    elif st.button("Stop", icon=":material/stop:", key="train_stop"):
        try:
            run.request_stop()
        except (MusictagError, OSError) as exc:
            show_error(exc, context="Stop")
        else:
            st.toast(f"Stop requested for {run_id}", icon=":material/stop_circle:")
            st.rerun()
    live_panel(run_id, config.get("task"), status.get("state"))
else:
    final_panel(run_id, status, config)

with st.expander("Log", icon=":material/article:"):
    st.code("\n".join(_watcher(run_id).messages[-60:]) or "(no messages yet)")
