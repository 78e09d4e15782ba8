"""Exception hierarchy for musictag.

Every error that musictag raises on purpose derives from :class:`MusictagError`,
so callers (the pages, the command line, notebooks) can catch one class and show
its message, which always says what was wrong and what to do about it.
"""

from __future__ import annotations

__all__ = [
    "DEBUG_ENV",
    "MusictagError",
    "ParameterError",
    "AudioError",
    "DatasetError",
    "ModelError",
    "TrainingError",
]

#: Set (to anything non-empty) by ``musictag --debug``: tracebacks are printed, also by the
#: training worker, which inherits it.
DEBUG_ENV = "MUSICTAG_DEBUG"


class MusictagError(Exception):
    """Root of every error musictag raises on purpose."""


class ParameterError(MusictagError, ValueError):
    """A parameter or configuration value is invalid (the message quotes it)."""


class AudioError(MusictagError):
    """An audio file or buffer cannot be decoded or is unusable.

    Parameters
    ----------
    source : str
        The file name (or ``"<bytes>"``) that failed.
    reason : str
        Why it failed, in words a user can act on.
    """

    def __init__(self, source: str, reason: str) -> None:
        self.source = str(source)
        self.reason = reason
        super().__init__(f"{self.source}: {reason}")


class DatasetError(MusictagError):
    """A dataset (folder, CSV, metadata) is missing, malformed or inconsistent."""


class ModelError(MusictagError):
    """A model cannot be found, built, loaded or applied."""


class TrainingError(MusictagError):
    """A training run cannot be started, continued or evaluated."""
