"""``khronos init``: a commented ``khronos.yml`` and ``deploy/`` (systemd, Prometheus,
Alertmanager, Grafana) from a few answers.

>>> from pathlib import Path
>>> from khronos.scaffold import InitOptions, render_files
>>> files = render_files(InitOptions(Path("/srv/bot"), "bot", ["bot.db"], "file:///backups"))
>>> [f.path for f in files][:3]
['khronos.yml', 'deploy/khronos.env.example', 'deploy/khronos.service']
"""

from khronos.scaffold._render import (
    TOKEN_PLACEHOLDER,
    InitOptions,
    ScaffoldFile,
    check_rendered,
    db_label,
    default_service,
    existing_files,
    find_databases,
    render_files,
    write_files,
)

__all__ = [
    "TOKEN_PLACEHOLDER",
    "InitOptions",
    "ScaffoldFile",
    "check_rendered",
    "db_label",
    "default_service",
    "existing_files",
    "find_databases",
    "render_files",
    "write_files",
]
