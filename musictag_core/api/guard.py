"""The API's edge, before any route runs: bearer-token auth and the request-body limit.

Both are plain ASGI middleware, so a refused request is answered before its body is
read: an unauthenticated upload or one whose ``Content-Length`` is over the limit is
never received. A body sent without a length (chunked) is counted as it streams and
refused (413) as soon as it passes the limit.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable

from ..uploads.limits import format_mb

__all__ = ["BearerAuth", "BodyLimit"]


async def _send_json(send, status: int, body: dict, headers: list[tuple[bytes, bytes]] | None = None) -> None:  # noqa: ANN001
    data = json.dumps(body).encode()
    await send({
        "type": "http.response.start",
        "status": status,
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode()), *(headers or [])],
    })  # fmt: skip
    await send({"type": "http.response.body", "body": data})


class BearerAuth:
    """Require ``Authorization: Bearer <token>`` on every path except the open ones.

    Parameters
    ----------
    app : ASGI app
    token : str or None
        None: no auth.
    open_paths : tuple of str
        Paths served without a token (``/healthz``).
    """

    def __init__(self, app, *, token: str | None, open_paths: tuple[str, ...] = ("/healthz",)) -> None:  # noqa: ANN001
        self.app = app
        self.token = token.encode() if token else None
        self.open_paths = open_paths

    async def __call__(self, scope, receive, send) -> None:  # noqa: ANN001
        if self.token is None or scope["type"] != "http" or scope["path"] in self.open_paths:
            return await self.app(scope, receive, send)
        given = b""
        for name, value in scope.get("headers", []):
            if name == b"authorization":
                scheme, _, credentials = value.partition(b" ")
                if scheme.lower() == b"bearer":
                    given = credentials.strip()
        if given and hmac.compare_digest(given, self.token):
            return await self.app(scope, receive, send)
        detail = "this API needs a bearer token: send 'Authorization: Bearer <token>' (the server's MUSICTAG_API_TOKEN)"
        if given:
            detail = "the bearer token is wrong; use the server's MUSICTAG_API_TOKEN"
        await _send_json(send, 401, {"error": "unauthorized", "detail": detail}, [(b"www-authenticate", b"Bearer")])


class _TooLarge(Exception):
    pass


class BodyLimit:
    """Refuse request bodies over ``max_bytes()`` with 413, before reading them.

    Parameters
    ----------
    app : ASGI app
    max_bytes : callable () -> int
        The limit, read per request (the app's upload limit can change with the environment).
    """

    def __init__(self, app, *, max_bytes: Callable[[], int]) -> None:  # noqa: ANN001
        self.app = app
        self.max_bytes = max_bytes

    def _refusal(self, limit: int, size: int | None) -> dict:
        got = f"{format_mb(size)} is" if size is not None else "the body is"
        return {
            "error": "request too large",
            "detail": f"{got} over the request limit of {format_mb(limit)}; send fewer or shorter files per request, "
            "or ask whoever runs the server to raise MUSICTAG_MAX_UPLOAD_MB",
        }

    async def __call__(self, scope, receive, send) -> None:  # noqa: ANN001
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = int(self.max_bytes())
        length = None
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    length = int(value)
                except ValueError:
                    await _send_json(send, 400, {"error": "bad request", "detail": f"Content-Length {value.decode(errors='replace')!r} is not a number"})
                    return
        if length is not None and length > limit:
            await _send_json(send, 413, self._refusal(limit, length), [(b"connection", b"close")])
            return
        received = 0
        exceeded = False
        started = False

        async def limited_receive() -> dict:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise _TooLarge
            return message

        async def guarded_send(message: dict) -> None:
            nonlocal started
            if exceeded:
                if message["type"] == "http.response.start" and not started:
                    started = True
                    await _send_json(send, 413, self._refusal(limit, None), [(b"connection", b"close")])
                return  # the app's own answer to the broken body is replaced by the 413
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except _TooLarge:
            if not started:
                await _send_json(send, 413, self._refusal(limit, None), [(b"connection", b"close")])
