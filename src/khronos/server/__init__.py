"""Khronos' own HTTP server: ``/metrics``, ``/healthz``, ``/ready`` and the routes others add.

:func:`create_app` builds the Starlette app from the configuration; :func:`serve` runs it with
uvicorn on ``http.listen`` - with request and idle timeouts and a bound on connections
(:class:`ConnectionLimits`) - and hands back a :class:`HttpServer` that knows its real port
(``http.listen`` may say port 0) and shuts down gracefully.
"""

from khronos.server._app import (
    HEALTH_PATH,
    HTTP_PART,
    READY_PATH,
    Readiness,
    create_app,
    metrics_token_required,
)
from khronos.server._protocol import (
    CLIENT_FAULT,
    MAX_AUTO_CONNECTIONS,
    NOFILE_CAP,
    ConnectionCollector,
    ConnectionLimits,
    ConnectionStats,
    auto_max_connections,
    raise_open_files_limit,
)
from khronos.server._serve import HttpServer, serve

__all__ = [
    "CLIENT_FAULT",
    "HEALTH_PATH",
    "HTTP_PART",
    "MAX_AUTO_CONNECTIONS",
    "NOFILE_CAP",
    "READY_PATH",
    "ConnectionCollector",
    "ConnectionLimits",
    "ConnectionStats",
    "HttpServer",
    "Readiness",
    "auto_max_connections",
    "create_app",
    "metrics_token_required",
    "raise_open_files_limit",
    "serve",
]
