"""The REST API: ``musictag serve`` (FastAPI on uvicorn), versioned routes under ``/v1``.

Modules:

* :mod:`.settings`: :class:`ApiSettings`, read from the environment (token, worker pool, queue, job retention);
* :mod:`.pool`: the bounded worker pool every inference and job runs in (503 + ``Retry-After`` when full);
* :mod:`.jobs`: long jobs (``202`` + a job id, status, result, progress as Server-Sent Events);
* :mod:`.errors`: every error is JSON ``{"error", "detail"}``; :mod:`.guard`: body limits and bearer auth;
* :mod:`.routes_tag`, :mod:`.routes_runs`, :mod:`.routes_data`, :mod:`.routes_jobs`: the routes;
* :mod:`.routes_analysis`: the one place where each analysis route (robustness, explain, indexes,
  similar, search-text) is a few lines calling a core function;
* :mod:`.app`: :func:`create_app`; :mod:`.command`: the ``serve`` subcommand.

This package sits between ``cli`` and ``commands`` in the import layers. Importing it
imports neither FastAPI nor TensorFlow: :func:`create_app` resolves on first use.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ApiSettings", "create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from .app import create_app

        return create_app
    if name == "ApiSettings":
        from .settings import ApiSettings

        return ApiSettings
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
