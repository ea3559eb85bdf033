"""Semantic helpers from the original design: user actions, API calls, DB queries, jobs."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import structlog

from khronos.logs._context import bind_correlation_id, new_correlation_id
from khronos.logs._keys import USER_ID

__all__ = [
    "QUERY_MAX_CHARS",
    "JobRun",
    "job",
    "log_api_call",
    "log_db_query",
    "log_job_complete",
    "log_job_start",
    "log_user_action",
]

QUERY_MAX_CHARS = 100
_log = structlog.get_logger("khronos")


def log_user_action(user_id: str | int, action: str, **details: Any) -> None:
    """``user action`` (info) with ``userId``, ``action`` and any details."""
    _log.info("user action", action=action, **{USER_ID: str(user_id)}, **details)


def log_api_call(method: str, url: str, status: int, duration_ms: float, **details: Any) -> None:
    """``api call`` at info (status < 400), warning (4xx) or error (5xx); the URL is redacted."""
    level = logging.INFO if status < 400 else logging.WARNING if status < 500 else logging.ERROR
    _log.log(
        level,
        "api call",
        method=method.upper(),
        url=url,
        status=status,
        duration_ms=round(duration_ms, 3),
        **details,
    )


def log_db_query(query: str, duration_ms: float, rows: int | None = None, **details: Any) -> None:
    """``db query`` at debug, the query cut to 100 characters."""
    _log.debug(
        "db query",
        query=query[:QUERY_MAX_CHARS],
        duration_ms=round(duration_ms, 3),
        rows=rows,
        **details,
    )


def log_job_start(job_id: str, job_type: str, **details: Any) -> None:
    """``job started`` (info)."""
    _log.info("job started", job_id=job_id, job_type=job_type, **details)


def log_job_complete(job_id: str, duration_ms: float, success: bool = True, **details: Any) -> None:
    """``job completed`` (info) or ``job failed`` (error) with its duration."""
    fields = {"job_id": job_id, "duration_ms": round(duration_ms, 3), "success": success}
    if success:
        _log.info("job completed", **fields, **details)
    else:
        _log.error("job failed", **fields, **details)


@dataclass
class JobRun:
    """What :func:`job` yields: the job's ID (also its correlation ID) and extra fields."""

    job_id: str
    job_type: str
    details: dict[str, Any]


@contextmanager
def job(job_type: str, job_id: str | None = None, **details: Any) -> Iterator[JobRun]:
    """Log a job's start and end with its duration; the job ID is the block's correlation ID.

    An exception marks the job failed (logged with its stack) and propagates.
    Fields added to ``run.details`` inside the block go on the completion record.
    """
    run = JobRun(job_id or new_correlation_id(), job_type, dict(details))
    with bind_correlation_id(run.job_id):
        log_job_start(run.job_id, job_type, **details)
        started = time.perf_counter()
        try:
            yield run
        except BaseException as exc:
            elapsed = (time.perf_counter() - started) * 1000
            log_job_complete(
                run.job_id, elapsed, success=False, job_type=job_type, exc_info=exc, **run.details
            )
            raise
        elapsed = (time.perf_counter() - started) * 1000
        log_job_complete(run.job_id, elapsed, job_type=job_type, **run.details)
