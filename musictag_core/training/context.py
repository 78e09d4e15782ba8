"""What the worker's stages share: the run, its config, its events and stop checks."""

from __future__ import annotations

from typing import Any

from ..runs import Run
from .config import RunConfig

__all__ = ["RunContext", "StopRequested"]


class StopRequested(Exception):
    """Raised inside the worker when a stop was requested before training began."""


class RunContext:
    """The run, its config and its event stream, shared by the worker stages.

    Parameters
    ----------
    run : Run
    config : RunConfig
    """

    def __init__(self, run: Run, config: RunConfig) -> None:
        self.run = run
        self.config = config
        self.events = run.open_events()
        self.stopped = False

    def stop_requested(self) -> bool:
        """Whether a stop was requested (logged once, then remembered)."""
        if not self.stopped and self.run.stop_requested():
            self.stopped = True
            self.events.write("log", message="stop requested")
        return self.stopped

    def log(self, message: str, **data: Any) -> None:
        """Append a ``log`` event."""
        self.events.write("log", message=message, **data)
