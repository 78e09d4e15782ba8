"""Screen-sized signal figures: spectrograms as PNG images, bounded envelopes and columns."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest

from musictag_core.errors import ParameterError
from musictag_core.viz import mel_figure, mfcc_figure, waveform_figure
from musictag_core.viz.audio import spectrogram_png

SR, HOP = 16000, 256


def _png(fig):
    from PIL import Image

    (image,) = fig.layout.images
    head, data = image.source.split(",", 1)
    assert head == "data:image/png;base64"
    return Image.open(io.BytesIO(base64.b64decode(data)))


@pytest.fixture(scope="module")
def three_minutes_db():
    """A 96-band log-mel of 3 minutes at 16 kHz (11,250 frames): band 0 loud, the rest quiet, with noise."""
    rng = np.random.default_rng(0)
    S = -60.0 + 5.0 * rng.standard_normal((96, 11250))
    S[0] = 0.0
    return S.astype(np.float32)


def test_mel_image_is_tens_of_kb_with_1000_columns_and_band_0_at_the_bottom(three_minutes_db):
    heat = mel_figure(three_minutes_db, sr=SR, hop_length=HOP)
    fig = mel_figure(three_minutes_db, sr=SR, hop_length=HOP, image=True)
    size, heat_size = len(fig.to_json()), len(heat.to_json())
    assert size < 150_000 < 1_000_000 < heat_size  # noisy input: the worst case for PNG
    img = _png(fig)
    assert img.size == (1000, 96) or (img.size[1] == 96 and img.size[0] <= 1000)
    rgb = np.asarray(img.convert("RGB"), dtype=int)
    # band 0 (0 dB, the top of the colour scale) is the image's last row: Magma's light end
    assert rgb[-1].mean() > rgb[:-1].mean() + 100
    (image,) = fig.layout.images
    duration = 11250 * HOP / SR
    assert image.x == 0 and image.sizex == pytest.approx(duration)
    assert image.y == pytest.approx(95.5) and image.sizey == 96 and image.yanchor == "top"
    assert tuple(fig.layout.xaxis.range) == pytest.approx((0.0, duration))
    # the invisible trace carries the colour bar over the data's range and a time read-out
    (trace,) = fig.data
    assert trace.marker.showscale and trace.marker.cmax == pytest.approx(0.0, abs=1e-3)
    assert -90.0 < trace.marker.cmin < -60.0  # the quietest pooled column, not a fixed floor
    assert "s" in trace.hovertemplate


def test_mfcc_image_and_waveform_envelope_are_small(three_minutes_db):
    rng = np.random.default_rng(1)
    fig = mfcc_figure(three_minutes_db[:20], sr=SR, hop_length=HOP, image=True)
    assert _png(fig).size[1] == 20 and len(fig.to_json()) < 60_000
    y = (0.3 * rng.standard_normal(180 * SR)).astype(np.float32)
    wave = waveform_figure(y, sr=SR)
    assert sum(len(t.x) for t in wave.data) == 2000  # 1,000 bins: a max and a min each
    assert len(wave.to_json()) < 40_000
    assert np.max(wave.data[0].y) == pytest.approx(float(y.max()), rel=1e-6)


def test_spectrogram_png_levels_and_bad_input():
    Z = np.linspace(0, 1, 50)[None, :].repeat(4, axis=0)
    from PIL import Image

    img = Image.open(io.BytesIO(spectrogram_png(Z, zmin=0.0, zmax=1.0, levels=8)))
    assert img.mode == "P" and len(set(np.asarray(img).ravel())) == 8
    with pytest.raises(ParameterError, match="zmin < zmax"):
        spectrogram_png(Z, zmin=1.0, zmax=1.0)
    with pytest.raises(ParameterError, match="levels"):
        spectrogram_png(Z, zmin=0.0, zmax=1.0, levels=1)
    with pytest.raises(ParameterError, match="NaN"):
        spectrogram_png(np.full((2, 2), np.nan), zmin=0.0, zmax=1.0)
