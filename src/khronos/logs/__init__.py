"""Structured JSON logs: correlation IDs, rotated files, redaction and uncaught exceptions.

Set it up once, then log with context::

    from khronos import logs

    logs.configure(log_dir="logs", service="my-bot")
    log = logs.get_logger(component="updates")
    with logs.bind_correlation_id():
        log.info("update received", chat_id=42)
"""

from khronos.logs._context import (
    MAX_CORRELATION_ID_LENGTH,
    bind_correlation_id,
    bind_user_id,
    get_correlation_id,
    get_user_id,
    is_valid_correlation_id,
    new_correlation_id,
)
from khronos.logs._files import records_lost
from khronos.logs._helpers import (
    JobRun,
    job,
    log_api_call,
    log_db_query,
    log_job_complete,
    log_job_start,
    log_user_action,
)
from khronos.logs._hooks import (
    asyncio_exception_handler,
    install_asyncio_handler,
    install_exception_hooks,
    uninstall_exception_hooks,
)
from khronos.logs._keys import (
    CORRELATION_ID,
    ENVIRONMENT,
    EXCEPTION,
    LEVEL,
    MESSAGE,
    PID,
    SERVICE,
    SYSTEM_USER,
    TIMESTAMP,
    USER_ID,
    VERSION,
)
from khronos.logs._middleware import CorrelationIdMiddleware
from khronos.logs._reader import LEVEL_ORDER, LogQuery, LogReader
from khronos.logs._setup import (
    ENV_LOG_LEVEL,
    configure,
    configure_from_config,
    failing_files,
    flush,
    get_logger,
    is_configured,
    reset,
    shutdown,
)
from khronos.logs._throttle import LogThrottle
from khronos.logs._watch import LogFilesWatch, describe_failing

__all__ = [
    "CORRELATION_ID",
    "ENVIRONMENT",
    "ENV_LOG_LEVEL",
    "EXCEPTION",
    "LEVEL",
    "LEVEL_ORDER",
    "MAX_CORRELATION_ID_LENGTH",
    "MESSAGE",
    "PID",
    "SERVICE",
    "SYSTEM_USER",
    "TIMESTAMP",
    "USER_ID",
    "VERSION",
    "CorrelationIdMiddleware",
    "JobRun",
    "LogFilesWatch",
    "LogQuery",
    "LogReader",
    "LogThrottle",
    "asyncio_exception_handler",
    "bind_correlation_id",
    "bind_user_id",
    "configure",
    "configure_from_config",
    "describe_failing",
    "failing_files",
    "flush",
    "get_correlation_id",
    "get_logger",
    "get_user_id",
    "install_asyncio_handler",
    "install_exception_hooks",
    "is_configured",
    "is_valid_correlation_id",
    "job",
    "log_api_call",
    "log_db_query",
    "log_job_complete",
    "log_job_start",
    "log_user_action",
    "new_correlation_id",
    "records_lost",
    "reset",
    "shutdown",
    "uninstall_exception_hooks",
]
