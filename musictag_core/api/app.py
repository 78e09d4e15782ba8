"""The FastAPI application: :func:`create_app`.

One process holds one :class:`~musictag_core.api.service.Service`: the worker pool, the jobs
and the loaded models (each loaded once, and the ``warm`` ones run once before the server
answers). Everything else is files (models, runs, datasets), so several processes, on one
machine or several, can serve the same folders read-only.
"""

from __future__ import annotations

import contextlib
import logging

from fastapi import Depends, FastAPI, Request
from fastapi.security import HTTPBearer

from .. import __version__
from ..uploads.limits import limits
from .errors import install_handlers
from .guard import BearerAuth, BodyLimit
from .schemas import Health
from .service import Service
from .settings import ApiSettings, api_settings

__all__ = ["create_app", "request_body_limit"]

log = logging.getLogger("musictag.api")

#: Bytes a request may carry beyond one upload's limit (multipart framing, form fields).
FRAMING_BYTES = 64 * 1024


def request_body_limit() -> int:
    """Largest request body: the app's upload limit (``MUSICTAG_MAX_UPLOAD_MB``) plus 64 KiB of framing."""
    return limits().max_upload_bytes + FRAMING_BYTES


def create_app(settings: ApiSettings | None = None) -> FastAPI:
    """Build the API.

    Parameters
    ----------
    settings : ApiSettings, optional
        Default :func:`~musictag_core.api.settings.api_settings` (the environment).

    Returns
    -------
    FastAPI
        Serve it with uvicorn (``musictag serve``), or test it with ``TestClient(app)``
        inside a ``with`` block (that runs the start-up: models loaded and warmed).
    """
    from . import routes_analysis, routes_data, routes_jobs, routes_runs, routes_tag

    settings = api_settings() if settings is None else settings
    limits()  # a bad MUSICTAG_MAX_* value stops the start, naming the variable
    service = Service(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):  # noqa: ANN202
        service.warm()  # before the first request: the model is loaded once and compiled
        try:
            yield
        finally:
            service.pool.shutdown()

    app = FastAPI(
        title="musictag API",
        version=__version__,
        description="Music genre tagging over HTTP: tag and embed audio, list models, train and follow runs, "
        "describe datasets, similarity indexes and tracks like these, zero-shot text search, robustness reports and "
        "occlusion explanations, and long jobs with progress as Server-Sent Events. Every error is JSON "
        "`{error, detail}`. Routes other than /healthz need `Authorization: Bearer <token>` when the "
        "server sets MUSICTAG_API_TOKEN.",
        lifespan=lifespan,
    )
    app.state.service = service
    install_handlers(app)
    bearer = HTTPBearer(auto_error=False)  # documents the scheme in /docs; BearerAuth enforces it
    for router in (routes_tag.router, routes_runs.router, routes_data.router, routes_jobs.router, routes_analysis.router):
        app.include_router(router, dependencies=[Depends(bearer)])

    @app.get("/healthz", response_model=Health, tags=["health"], summary="Liveness (no token needed)")
    async def healthz(request: Request) -> dict:
        """``ok`` once the models are warm; the queue's load."""
        svc: Service = request.app.state.service
        return {"status": "ok", "version": __version__, "models_loaded": list(svc.loaded), "workers": svc.pool.workers,
                "queued": svc.pool.waiting, "max_queue": svc.pool.max_queue}

    # outermost first: auth refuses before the body limit reads anything
    app.add_middleware(BodyLimit, max_bytes=request_body_limit)
    app.add_middleware(BearerAuth, token=settings.token)
    return app
