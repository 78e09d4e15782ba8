"""musictag_core: the library behind musictag (decode, segment, describe, tag, train, explore).

Stages live in modules named after them, in data-flow order:
``audio`` (decode) → ``segments`` (cut) → ``features`` (describe) →
``inputs`` (the one audio → model-input path) → ``models`` → ``predict`` (tag) →
``training`` / ``explore`` → ``viz`` (figures). This package never imports
streamlit, and heavy dependencies (TensorFlow, UMAP) are imported lazily inside
the functions that need them.

The public API below is lazy too: ``import musictag_core`` imports only the
exceptions, and each function's module is imported on first use.

>>> import musictag_core as mt
>>> y, sr = mt.load_audio("blues.00000.wav", sr=16000)  # doctest: +SKIP
>>> mt.tag_file("blues.00000.wav").summary()  # doctest: +SKIP
'mostly blues, some country'
>>> [m.name for m in mt.list_models()]  # doctest: +SKIP
['MSD_musicnn', 'MTT_musicnn']
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .errors import AudioError, DatasetError, ModelError, MusictagError, ParameterError, TrainingError

__version__ = "0.1.0"

#: Public name -> "module" or "module:attribute" that defines it (imported on first attribute access).
_LAZY = {
    "load_audio": "musictag_core.audio",
    "tag_file": "musictag_core.predict",
    "tag_array": "musictag_core.predict",
    "embed_file": "musictag_core.predict",
    "TrackPrediction": "musictag_core.predict",
    "list_models": "musictag_core.models.loading",
    "load_tagger": "musictag_core.models.loading",
    "open_dataset": "musictag_core.datasets",
    "explore_dataset": "musictag_core.explore:explore",
    "start_run": "musictag_core.training",
    "RunConfig": "musictag_core.training",
    "Run": "musictag_core.runs",
}

__all__ = [
    "AudioError",
    "DatasetError",
    "ModelError",
    "MusictagError",
    "ParameterError",
    "TrainingError",
    "__version__",
    *sorted(_LAZY),
]

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from .audio import load_audio  # noqa: F401
    from .datasets import open_dataset  # noqa: F401
    from .explore import explore as explore_dataset  # noqa: F401
    from .models.loading import list_models, load_tagger  # noqa: F401
    from .predict import TrackPrediction, embed_file, tag_array, tag_file  # noqa: F401
    from .runs import Run  # noqa: F401
    from .training import RunConfig, start_run  # noqa: F401


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'musictag_core' has no attribute {name!r}")
    module, _, attr = module.partition(":")
    value = getattr(importlib.import_module(module), attr or name)
    globals()[name] = value  # later look-ups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
