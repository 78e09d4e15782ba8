"""``serve``: run the REST API (FastAPI on uvicorn) until interrupted.

Registered by :mod:`musictag_core.cli`; importing this module imports neither FastAPI nor TensorFlow.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import sys

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> None:
    """Add the subcommand's parser to ``sub``."""
    p = sub.add_parser(
        "serve",
        help="serve the REST API (tag, embed, models, runs, datasets, jobs) over HTTP",
        description="Serve the REST API on HOST:PORT (default 127.0.0.1:8000); docs at /docs. "
        "Settings from the environment: MUSICTAG_API_TOKEN (bearer auth), MUSICTAG_API_WORKERS, "
        "MUSICTAG_API_QUEUE, MUSICTAG_API_MAX_FILES, MUSICTAG_API_JOB_TTL_S, MUSICTAG_API_WARM, and the "
        "app's upload limits (MUSICTAG_MAX_UPLOAD_MB, MUSICTAG_MAX_DURATION_S).",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 picks a free one)")
    p.add_argument("--workers", type=int, default=None, metavar="N", help="inference threads (default $MUSICTAG_API_WORKERS or 2)")
    p.add_argument("--queue", type=int, default=None, metavar="N", help="requests that may wait (default $MUSICTAG_API_QUEUE or 64)")
    p.add_argument("--no-warm", action="store_true", help="do not load and warm MSD_musicnn at start")
    p.add_argument("--runs-dir", default=None, help="folder of training runs (default: $MUSICTAG_RUNS or ./runs)")
    p.add_argument("--log-level", default="info", choices=("critical", "error", "warning", "info", "debug"))
    p.add_argument("--json", action="store_true", help="print one JSON line {url, docs} once the server listens")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the subcommand; return its exit code."""
    from ..errors import ParameterError
    from .settings import api_settings

    if not 0 <= args.port <= 65535:
        raise ParameterError(f"--port must be between 0 and 65535, got {args.port}")
    overrides = {k: v for k, v in (("workers", args.workers), ("max_queue", args.queue), ("runs_dir", args.runs_dir)) if v is not None}
    if args.no_warm:
        overrides["warm"] = ()
    settings = api_settings(**overrides)
    try:
        loopback = ipaddress.ip_address(args.host).is_loopback
    except ValueError:
        loopback = args.host == "localhost"
    if not loopback and settings.token is None:
        print(f"warning: serving on {args.host} without MUSICTAG_API_TOKEN: anyone who reaches it can use it", file=sys.stderr)

    import logging

    import uvicorn

    from .app import create_app

    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = create_app(settings)
    config = uvicorn.Config(app, host=args.host, port=args.port, log_level=args.log_level, timeout_graceful_shutdown=5,
                            access_log=args.log_level == "debug")
    server = uvicorn.Server(config)

    if args.json:
        original = server.startup

        async def startup(sockets=None):  # noqa: ANN001, ANN202
            await original(sockets=sockets)
            port = next((s.getsockname()[1] for srv in server.servers for s in srv.sockets), args.port)
            url = f"http://{args.host}:{port}"
            print(json.dumps({"url": url, "docs": f"{url}/docs"}), flush=True)

        server.startup = startup
    server.run()
    return 0
