"""Helpers of the metrics and deploy tests: a free port, the metric names a PromQL uses."""

from __future__ import annotations

import re
import socket

__all__ = ["PROVIDED_BY_OTHER_COMPONENTS", "free_port", "metric_names"]

PROVIDED_BY_OTHER_COMPONENTS = {
    "khronos_backup_lag_seconds",
    "khronos_backup_last_sync_timestamp_seconds",
    "khronos_backup_up",
    "khronos_alerts_sent_total",
}

_PROMQL_WORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "offset", "bool", "and",
    "or", "unless", "le", "inf", "nan",
}  # fmt: skip


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def metric_names(expr: str) -> set[str]:
    """Identifiers in a PromQL expression that are metric names (not functions, labels...)."""
    expr = re.sub(r"\{[^}]*\}", "", expr)  # label matchers
    expr = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", "", expr)  # grouping labels
    expr = re.sub(r"\[[^\]]*\]", "", expr)  # range selectors, $__rate_interval
    expr = re.sub(r'"[^"]*"', "", expr)
    names = set()
    for match in re.finditer(r"[a-zA-Z_:][a-zA-Z0-9_:]*", expr):
        following = expr[match.end() :].lstrip()[:1]
        if following != "(" and match.group().lower() not in _PROMQL_WORDS:
            names.add(match.group())
    return names
