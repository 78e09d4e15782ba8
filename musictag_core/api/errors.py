"""Every error the API answers is JSON ``{"error", "detail"}`` with a 4xx status.

* a file that cannot be decoded: 422, and ``detail`` names the file;
* an unknown model, run, job or route: 404;
* over an upload limit (body size, file size, files per request): 413;
* a bad parameter or request: 422; missing or wrong bearer token: 401;
* a full queue: 503 with ``Retry-After``.

A 5xx means a real fault (a bug): its body is ``{"error": "internal error", "detail": ...}``
with no traceback and no server path; the traceback goes to the server log only.
"""

from __future__ import annotations

import logging
from typing import Any

from ..errors import AudioError, DatasetError, ModelError, MusictagError, ParameterError, TrainingError

__all__ = ["ApiError", "error_body", "error_for_exception", "install_handlers"]

log = logging.getLogger("musictag.api")


class ApiError(Exception):
    """An error answered as JSON ``{"error", "detail"}`` with ``status``.

    Parameters
    ----------
    status : int
    error : str
        A short, stable kind (``"bad audio file"``, ``"unknown model"``, ...).
    detail : str
        What was wrong, naming the file or value, and what to do.
    headers : dict, optional
    extra : dict, optional
        More keys for the body (``results`` when every file of a request failed).
    """

    def __init__(self, status: int, error: str, detail: str, *, headers: dict | None = None, extra: dict | None = None) -> None:
        self.status = int(status)
        self.error = error
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra or {}
        super().__init__(f"{status} {error}: {detail}")


def error_body(error: str, detail: str, **extra: Any) -> dict[str, Any]:
    """The JSON body of every error."""
    return {"error": error, "detail": detail, **extra}


def error_for_exception(exc: BaseException) -> ApiError:
    """The :class:`ApiError` an exception is answered with (unexpected ones: 500 without details)."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, AudioError):
        return ApiError(422, "bad audio file", str(exc))
    if isinstance(exc, ModelError):
        text = str(exc)
        return ApiError(404 if text.startswith("unknown model") else 422, "unknown model" if text.startswith("unknown model") else "model error", text)
    if isinstance(exc, DatasetError):
        return ApiError(422, "bad dataset", str(exc))
    if isinstance(exc, TrainingError):
        return ApiError(409, "training error", str(exc))
    if isinstance(exc, ParameterError):
        return ApiError(422, "invalid parameter", str(exc))
    if isinstance(exc, MusictagError):
        return ApiError(422, "invalid request", str(exc))
    log.error("unexpected error while answering a request", exc_info=exc)
    return ApiError(500, "internal error", "unexpected error (a bug in musictag, not in your request); the server log has the details")


def install_handlers(app) -> None:  # noqa: ANN001 - a FastAPI app
    """Answer every exception, validation error and HTTP error as ``{"error", "detail"}``."""
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse
    from starlette.exceptions import HTTPException as StarletteHTTPException

    from .pool import QueueFull

    def respond(err: ApiError) -> JSONResponse:
        return JSONResponse(error_body(err.error, err.detail, **err.extra), status_code=err.status, headers=err.headers)

    async def on_api_error(request, exc: ApiError):  # noqa: ANN001, ANN202
        return respond(exc)

    async def on_musictag_error(request, exc: MusictagError):  # noqa: ANN001, ANN202
        return respond(error_for_exception(exc))

    async def on_queue_full(request, exc: QueueFull):  # noqa: ANN001, ANN202
        return respond(ApiError(503, "busy", str(exc), headers={"Retry-After": str(exc.retry_after_s)}))

    async def on_validation(request, exc: RequestValidationError):  # noqa: ANN001, ANN202
        parts = []
        for e in exc.errors():
            loc = ".".join(str(x) for x in e.get("loc", ()) if x not in ("body", "query", "path", "form"))
            parts.append(f"{loc or 'request'}: {e.get('msg', 'invalid')}")
        return respond(ApiError(422, "invalid request", "; ".join(parts) or "the request is not valid"))

    async def on_http(request, exc: StarletteHTTPException):  # noqa: ANN001, ANN202
        kinds = {404: "not found", 405: "method not allowed", 400: "bad request", 413: "too large"}
        error = kinds.get(exc.status_code, "error" if exc.status_code < 500 else "internal error")
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"no route {request.method} {request.url.path}; the routes are listed at /docs"
        return respond(ApiError(exc.status_code, error, detail, headers=dict(exc.headers or {})))

    async def on_any(request, exc: Exception):  # noqa: ANN001, ANN202
        return respond(error_for_exception(exc))

    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(MusictagError, on_musictag_error)
    app.add_exception_handler(QueueFull, on_queue_full)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_any)
