"""The API's settings: one frozen, validated dataclass, read from the environment.

The upload size and decoded duration are not repeated here: they are the app's own
limits (:func:`musictag_core.uploads.limits`, ``MUSICTAG_MAX_UPLOAD_MB`` and
``MUSICTAG_MAX_DURATION_S``), read on every request.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, fields, replace

from ..errors import ParameterError

__all__ = ["API_ENV", "ApiSettings", "api_settings"]

#: Environment variable -> :class:`ApiSettings` field.
API_ENV = {
    "MUSICTAG_API_TOKEN": "token",
    "MUSICTAG_API_WORKERS": "workers",
    "MUSICTAG_API_QUEUE": "max_queue",
    "MUSICTAG_API_MAX_FILES": "max_files",
    "MUSICTAG_API_JOB_TTL_S": "job_ttl_s",
    "MUSICTAG_API_MAX_JOBS": "max_jobs",
    "MUSICTAG_API_WARM": "warm",
}


@dataclass(frozen=True)
class ApiSettings:
    """How one API process serves.

    Parameters
    ----------
    token : str or None
        Bearer token every route but ``/healthz`` requires (``MUSICTAG_API_TOKEN``); None: no auth.
    workers : int
        Threads of the worker pool that runs inference and jobs (``MUSICTAG_API_WORKERS``, default 2).
    max_queue : int
        Requests that may wait for a worker; one more is answered 503 with ``Retry-After``
        (``MUSICTAG_API_QUEUE``, default 64).
    max_files : int
        Files per ``/v1/tag`` or ``/v1/embed`` request (``MUSICTAG_API_MAX_FILES``, default 16).
    job_ttl_s : float
        Seconds a finished job's result is kept (``MUSICTAG_API_JOB_TTL_S``, default 3600).
    max_jobs : int
        Jobs kept at most, finished ones dropped oldest first (``MUSICTAG_API_MAX_JOBS``, default 256).
    warm : tuple of str
        Models loaded and run once at start (``MUSICTAG_API_WARM``, comma-separated; default
        ``MSD_musicnn``; empty: none).
    runs_dir : str or None
        Folder of training runs (default :func:`musictag_core.paths.runs_dir`).
    """

    token: str | None = None
    workers: int = 2
    max_queue: int = 64
    max_files: int = 16
    job_ttl_s: float = 3600.0
    max_jobs: int = 256
    warm: tuple[str, ...] = ("MSD_musicnn",)
    runs_dir: str | None = None

    def __post_init__(self) -> None:
        if self.token is not None and (not isinstance(self.token, str) or not self.token.strip()):
            raise ParameterError("token must be a non-empty string or None")
        for name in ("workers", "max_queue", "max_files", "max_jobs"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ParameterError(f"{name} must be a positive integer, got {v!r}")
        v = self.job_ttl_s
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
            raise ParameterError(f"job_ttl_s must be a positive number of seconds, got {v!r}")
        if isinstance(self.warm, str) or not all(isinstance(m, str) and m for m in self.warm):
            raise ParameterError(f"warm must be a tuple of model names, got {self.warm!r}")
        object.__setattr__(self, "warm", tuple(self.warm))

    def replace(self, **changes) -> ApiSettings:  # noqa: ANN003
        """A copy with ``changes`` (validated again)."""
        return replace(self, **changes)


def api_settings(environ: dict | None = None, **overrides) -> ApiSettings:  # noqa: ANN003
    """:class:`ApiSettings` defaults, overridden by the environment, then by ``overrides``.

    Raises
    ------
    ParameterError
        A variable holds a bad value (the message names the variable).
    """
    env = os.environ if environ is None else environ
    types = {f.name: f.type for f in fields(ApiSettings)}
    values: dict = {}
    for var, name in API_ENV.items():
        text = env.get(var)
        if text is None:
            continue
        text = str(text).strip()
        if name == "token":
            if text:
                values[name] = text
            continue
        if name == "warm":
            values[name] = tuple(m.strip() for m in text.split(",") if m.strip())
            continue
        try:
            number = float(text)
            if "int" in str(types[name]):
                if not number.is_integer():
                    raise ValueError
                number = int(number)
        except ValueError:
            raise ParameterError(f"{var}={text!r} is not a valid number; unset it or give a positive number") from None
        values[name] = number
    try:
        settings = ApiSettings(**values)
    except ParameterError as exc:
        var = next((v for v, n in API_ENV.items() if str(exc).startswith(n)), None)
        raise ParameterError(f"{var}: {exc}" if var else str(exc)) from None
    return settings.replace(**overrides) if overrides else settings
