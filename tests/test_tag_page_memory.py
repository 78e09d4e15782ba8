"""The Tag page's code path holds no growing memory: 50 distinct uploads through the page's own functions.

``cached_prediction`` and ``cached_signal_figures`` (``pages/_ui/tagging.py``) are what the
page calls for every card; here they run without a browser (Streamlit's caches work in
bare mode). Each upload is a different 3 s excerpt of a real clip, so nothing is a cache
hit. The caches are bounded, the decoded waveforms are handed over and dropped, and
freed memory is given back, so RSS after 50 uploads is within 200 MB of RSS after 10.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

pytestmark = [pytest.mark.slow]

N_WARM, N_TOTAL = 10, 50
MAX_GROWTH_MIB = 200


def _rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    pytest.skip("no /proc/self/status on this system")


def _excerpts(clips_dir: Path, n: int) -> list[tuple[str, bytes]]:
    import soundfile as sf

    from musictag_core.audio import load_audio

    clips = sorted(clips_dir.glob("*.wav"))
    out = []
    for i in range(n):
        clip = clips[i % len(clips)]
        offset = 3.0 * (i // len(clips)) + 0.1 * i
        y, sr = load_audio(clip, sr=22050, offset=offset, duration=3.0)
        buf = io.BytesIO()
        sf.write(buf, y, sr, format="WAV", subtype="PCM_16")
        out.append((f"{clip.stem}-{i}.wav", buf.getvalue()))
    return out


def test_fifty_uploads_through_the_page_path_do_not_grow_memory(clips_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("MUSICTAG_CACHE", str(tmp_path / "cache"))
    from pages._ui.cache import file_hash
    from pages._ui.tagging import cached_prediction, cached_signal_figures

    uploads = _excerpts(clips_dir, N_TOTAL)
    assert len({file_hash(data) for _, data in uploads}) == N_TOTAL  # all distinct: no cache hits
    rss = {}
    tops = []
    for i, (name, data) in enumerate(uploads, start=1):
        digest = file_hash(data)
        pred = cached_prediction(digest, data, _name=name, model="MSD_musicnn", overlap=0.0, max_duration=600.0)
        figs = cached_signal_figures(digest, data, _name=name, model="MSD_musicnn", max_duration=600.0)
        assert pred.duration_s == pytest.approx(3.0, abs=0.01)
        assert figs.n_mels == 96 and figs.sr == 16000
        tops.append(pred.top(1)[0][1])
        if i in (N_WARM, N_TOTAL):
            rss[i] = _rss_mib()
    growth = rss[N_TOTAL] - rss[N_WARM]
    print(f"RSS after {N_WARM}: {rss[N_WARM]:.0f} MiB, after {N_TOTAL}: {rss[N_TOTAL]:.0f} MiB (+{growth:.0f})")
    assert np.all(np.isfinite(tops))
    assert growth < MAX_GROWTH_MIB, f"RSS grew by {growth:.0f} MiB between upload {N_WARM} and {N_TOTAL}"


def test_the_page_steps_equal_tag_file_and_analyse_file(clips_dir):
    """decode_track → tag_decoded → track_view gives tag_file's scores and analyse_file's view."""
    from musictag_core.models.loading import load_tagger
    from musictag_core.predict import (
        analyse_file,
        decode_track,
        tag_decoded,
        tag_decoded_with_mel,
        tag_file,
        track_view,
    )

    msd = load_tagger("MSD_musicnn")
    clip = clips_dir / "blues.00000.wav"
    track = decode_track(clip, msd, max_duration=10.0)
    assert track.truncated and track.sr == 16000 and len(track.y) == 160000
    pred = tag_decoded(track, msd, overlap=1.5)
    ref = tag_file(clip, msd, overlap=1.5, max_duration=10.0)
    np.testing.assert_allclose(pred.segment_scores, ref.segment_scores, atol=1e-6)
    assert pred.truncated and pred.path == ref.path
    view = track_view(track, msd)
    _, ref_view = analyse_file(clip, msd, overlap=1.5, max_duration=10.0)
    np.testing.assert_allclose(view.S_db, ref_view.S_db, atol=1e-4)
    assert view.n_mels == 96 and view.hop_length == ref_view.hop_length
    # The page's path: the scores, and the mel the model consumed, shown instead of a second spectrogram.
    pred2, mel = tag_decoded_with_mel(track, msd, overlap=1.5)
    np.testing.assert_array_equal(pred2.segment_scores, pred.segment_scores)
    np.testing.assert_array_equal(mel, msd.mel(track.y))
    shown = track_view(track, msd, model_mel=mel)
    assert shown.S_db.shape == view.S_db.shape and shown.mfcc.shape == view.mfcc.shape
    np.testing.assert_allclose(shown.S_db, view.S_db, atol=2e-3)
    np.testing.assert_allclose(shown.mfcc, view.mfcc, atol=2e-2)
