"""The app `khronos run` supervises (``app:``, ``khronos run -- CMD``): its process, its logs,
its metrics, its alerts, and the scrape of its own ``/metrics``.

>>> from khronos.app import APP_ALERT
>>> APP_ALERT
'app.down'
"""

from khronos.app._env import BACKUP_CREDENTIALS, app_env
from khronos.app._lines import MAX_LINE, forward_line, level_of, pump
from khronos.app._metrics import AppCollector
from khronos.app._scrape import AppScraper, parse_totals
from khronos.app._supervisor import APP_ALERT, AppSupervisor

__all__ = [
    "APP_ALERT",
    "BACKUP_CREDENTIALS",
    "MAX_LINE",
    "AppCollector",
    "AppScraper",
    "AppSupervisor",
    "app_env",
    "forward_line",
    "level_of",
    "parse_totals",
    "pump",
]
