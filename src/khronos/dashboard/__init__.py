"""The live dashboard: ``/api/status``, the chart history and the page the daemon serves at ``/``.

- :class:`StatusBuilder` (``_status``): everything the page shows, as one JSON document with an
  overall state (OK / WARN / CRITICAL) and its reasons; ``/ready``'s backup and app reasons;
- :class:`HistorySampler` and :class:`History` (``_history``): a point every 10 s, the last hour
  at that step and the last day at one a minute, kept in ``state_dir/history.json``;
- :func:`dashboard_routes` (``_routes``): the routes, their auth and security headers; the page
  itself is ``static/`` (HTML, CSS, a script that draws its own SVG charts).
"""

from khronos.dashboard._history import (
    AppCounters,
    History,
    HistorySampler,
    MetricsProbe,
    histogram_p95,
)
from khronos.dashboard._routes import DASHBOARD_PATHS, SECURITY_HEADERS, dashboard_routes
from khronos.dashboard._status import OVERALL_STATES, StatusBuilder, StatusSources, overall

__all__ = [
    "DASHBOARD_PATHS",
    "OVERALL_STATES",
    "SECURITY_HEADERS",
    "AppCounters",
    "History",
    "HistorySampler",
    "MetricsProbe",
    "StatusBuilder",
    "StatusSources",
    "dashboard_routes",
    "histogram_p95",
    "overall",
]
