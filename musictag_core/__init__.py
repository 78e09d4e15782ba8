"""musictag_core: the library behind musictag (decode, segment, describe, tag, train, explore).

Stages live in modules named after them, in data-flow order:
``audio`` (decode) → ``segments`` (cut) → ``features`` (describe) → ``models`` →
``predict`` (tag) → ``viz`` (figures). This package never imports streamlit, and
heavy dependencies (TensorFlow, UMAP) are imported lazily inside the functions
that need them.
"""

from __future__ import annotations

from .errors import AudioError, DatasetError, ModelError, MusictagError, ParameterError, TrainingError

__version__ = "0.1.0"

__all__ = [
    "AudioError",
    "DatasetError",
    "ModelError",
    "MusictagError",
    "ParameterError",
    "TrainingError",
    "__version__",
]
