"""Stage 5, show: pure plotly figure builders (data in, ``go.Figure`` out).

Nothing here imports streamlit, so the same figures serve the app, the
notebooks and saved reports. Every builder validates its input and raises
:class:`~musictag_core.errors.ParameterError` naming the bad value.

* :mod:`.audio`: waveform envelope, log-mel spectrogram, MFCC.
* :mod:`.tags`: per-tag score bars with a threshold, segment × tag taggram.
* :mod:`.explore`: projection scatters and separability / dataset-insight figures.
* :mod:`.train`: training curves, run overlays, confusion matrices, per-label F1, metric tables.
"""

from __future__ import annotations

from .audio import mel_figure, mfcc_figure, waveform_figure
from .tags import genre_bar_figure, taggram_figure

__all__ = [
    "genre_bar_figure",
    "mel_figure",
    "mfcc_figure",
    "taggram_figure",
    "waveform_figure",
]
