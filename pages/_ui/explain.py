"""The Tag page's explanation: occlusion saliency of a chosen tag over the model's mel input (on request)."""

from __future__ import annotations

import streamlit as st

from .cache import get_tagger, named_buffer
from .errors import show_error

__all__ = ["cached_explanation", "render_explanation"]


@st.cache_data(max_entries=16, show_spinner=False)
def cached_explanation(digest: str, _data: bytes, *, _name: str, model: str, tag: str, max_duration: float | None):
    """``explain.explain_file`` of one upload and tag, keyed by content digest, model and tag."""
    from musictag_core.explain import explain_file

    return explain_file(named_buffer(_data, _name), tag=tag, model=get_tagger(model), max_duration=max_duration)


def render_explanation(
    data: bytes, *, name: str, digest: str, model: str, key: str, max_duration: float | None, default_tag: str | None = None
) -> None:
    """"What did the model listen to?": pick a tag, press Explain, see the saliency over the mel spectrogram."""
    from musictag_core.viz.robustness import saliency_figure

    with st.expander("What did the model listen to?", icon=":material/hearing:"):
        tagger = get_tagger(model)
        labels = list(tagger.labels)
        tags = list(tagger.genres) + [t for t in labels if t not in set(tagger.genres)]
        index = tags.index(default_tag) if default_tag in tags else 0
        c_tag, c_btn = st.columns([3, 1], vertical_alignment="bottom")
        tag = c_tag.selectbox("Tag to explain", tags, index=index, key=f"tag_explain_tag_{key}")
        state_key = f"tag_explain_{key}_{model}_{tag}"
        pressed = c_btn.button("Explain", key=f"tag_explain_btn_{key}", icon=":material/play_arrow:")
        if not (pressed or st.session_state.get(state_key)):
            st.caption(
                "Masks 0.5 s x 8-band cells of the model's own mel input, one at a time, and shows how much the "
                "tag's track score drops (red: the model listened there). A 30 s clip takes a few seconds."
            )
            return
        st.session_state[state_key] = True
        try:
            with st.spinner(f"Occluding the mel spectrogram for '{tag}'…"):
                ex = cached_explanation(digest, data, _name=name, model=model, tag=tag, max_duration=max_duration)
        except Exception as exc:  # noqa: BLE001 - shown on this card only
            show_error(exc, context=name)
            return
        fig = saliency_figure(
            ex.mel, mel_times_s=ex.mel_times_s, saliency=ex.saliency, times_s=ex.times_s, cell_s=ex.cell_s,
            band_bins=ex.band_bins, bands_hz=ex.bands_hz, title=f"'{tag}' (track score {ex.score:.3f})",
        )
        st.plotly_chart(fig, key=f"tag_fig_explain_{key}")
        d = ex.deletion
        st.caption(
            f"Deleting the most salient 10% of the area lowers the score by {d['salient_drop']:+.3f}; a random 10% by "
            f"{d['random_drop']:+.3f} (mean of {d['seeds']} seeds). {ex.n_masked} masked copies in {ex.seconds:.1f} s"
            + (" (per-segment occlusion of the waveform: this model does not read a mel spectrogram)." if ex.method == "segments" else ".")
        )
