"""What ``khronos init`` writes: the answers (:class:`InitOptions`) rendered into files.

The files are templates shipped as package data (``templates/``, read with
:mod:`importlib.resources`); ``{{name}}`` marks a value filled in here, and a name the code does
not supply is an error, never a blank.  ``alert-rules.yml`` and the Grafana dashboard are not
templated: they are Khronos' own ``deploy/alert-rules.yml`` and
``deploy/grafana/khronos-dashboard.json`` (the template files are links to them), so the rules
the tests prove and the ones ``init`` writes are the same file.

The substitution is written here rather than with a template engine: a dozen plain values,
no loops or escaping rules beyond YAML quoting (:func:`_quote`), and a missing value must fail
loudly, which ``string.Template`` (``$`` is everywhere in these files) cannot offer.

Before anything is written, the rendered ``khronos.yml`` goes through the real configuration
loader (:func:`check_rendered`) with stand-in values for its variables, so answers that would
make an invalid file (a bad service name, listen address or endpoint) fail with the key and
the fix, and nothing is written.  :func:`write_files` writes each file through a temporary
file and a rename; the caller refuses first when a target exists (``init`` without --force).
"""

from __future__ import annotations

import json
import os
import pwd
import re
import shlex
import shutil
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from urllib.parse import urlsplit

from khronos.config import parse_config
from khronos.state import write_atomic

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

TOKEN_PLACEHOLDER = "__TELEGRAM_BOT_TOKEN__"  # noqa: S105 - a placeholder, not a token
"""What ``alertmanager.yml`` holds instead of the bot token (replaced at deploy time)."""
_PLACEHOLDER = re.compile(r"\{\{([a-z_]+)\}\}")
_S3_LIKE = frozenset({"s3", "b2", "r2"})
_DEFAULT_CHAT = "-1001234567890"


@dataclass(frozen=True, slots=True)
class InitOptions:
    """The answers ``khronos init`` needs; every one has a default (see the CLI's help)."""

    directory: Path
    """Where ``khronos.yml`` and ``deploy/`` go (absolute)."""
    service: str
    dbs: Sequence[str]
    """Database paths as the user gave them (relative ones are relative to ``directory``)."""
    replica: str
    """The replica base URL: each database goes to ``<replica>/<its name>``."""
    endpoint: str | None = None
    region: str | None = None
    telegram: bool = True
    chat_id: str | None = None
    """Alertmanager's chat (a number); Khronos' own alerts read ``${ALERT_CHAT_ID}``."""
    app: str | None = None
    """The app's command line (``node bot.js``), for the systemd unit and ``app:``."""
    app_metrics: str | None = None
    """``host:port`` of the app's own ``/metrics``, for Prometheus."""
    listen: str = "127.0.0.1:9321"
    khronos_bin: str | None = None
    """The ``khronos`` executable for the unit (default: the one running, else PATH)."""
    user: str | None = None
    """The unit's ``User=`` (default: the owner of ``directory``; none when that is root)."""
    extra_paths: Sequence[str] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class ScaffoldFile:
    """One file ``init`` writes: its path relative to the directory, its text, its mode."""

    path: str
    text: str
    mode: int = 0o644


def _template(name: str) -> str:
    return resources.files("khronos.scaffold").joinpath("templates", name).read_text("utf-8")


def _fill(name: str, values: Mapping[str, str]) -> str:
    """Template ``name`` with each ``{{key}}`` replaced; a key not in ``values`` is a bug."""

    def replace(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in values:
            raise KeyError(f"template {name} needs {{{{{key}}}}}")
        return values[key]

    return _PLACEHOLDER.sub(replace, _template(name))


def _quote(value: str) -> str:
    """A YAML scalar for any string: JSON's double-quoted form is valid YAML."""
    return json.dumps(value)


def db_label(path: str) -> str:
    """A database's name in ``khronos.yml`` (its file name without extension)."""
    return Path(path).stem or "db"


def _replica_block(options: InitOptions, db: str) -> str:
    url = f"{options.replica.rstrip('/')}/{db_label(db)}"
    scheme = urlsplit(options.replica).scheme
    if scheme in _S3_LIKE:
        lines = []
        if options.endpoint:
            lines.append(f"        endpoint: {_quote(options.endpoint)}")
            lines.append("        force-path-style: true   # most S3-compatible stores need it")
        else:
            lines.append("        # another S3-compatible store (MinIO, Garage, Wasabi...):")
            lines.append("        # endpoint: https://s3.example.com")
            lines.append("        # force-path-style: true")
        if options.region:
            lines.append(f"        region: {_quote(options.region)}")
        keys = _fill("replica-s3.yml", {"endpoint": "\n".join(lines)})
    elif scheme == "file":
        keys = _template("replica-file.yml")
    else:
        keys = _template("replica-other.yml")
    return _fill(
        "khronos-db.yml",
        {"path": _quote(db), "url": _quote(url), "replica_keys": keys.rstrip("\n")},
    )


def _khronos_yml(options: InitOptions) -> str:
    dbs = "".join(_replica_block(options, db) for db in options.dbs).rstrip("\n")
    alerts = _template("alerts-telegram.yml" if options.telegram else "alerts-none.yml")
    app = _fill("app.yml", {"app_command": _quote(options.app)}) if options.app else ""
    run_tail = f" -- {options.app}" if options.app else ""
    run_tail += "        # backup, metrics, alerts, checks until Ctrl-C"
    return _fill(
        "khronos.yml",
        {
            "service": options.service,
            "listen": options.listen,
            "dbs": dbs,
            "alerts": alerts,
            "app": app.rstrip("\n"),
            "run_tail": run_tail,
        },
    )


def _khronos_bin(options: InitOptions) -> str:
    if options.khronos_bin:
        return options.khronos_bin
    beside = Path(sys.executable).parent / "khronos"
    if beside.is_file():
        return str(beside)
    return shutil.which("khronos") or "/opt/khronos/bin/khronos"


def _unit_user(options: InitOptions) -> str:
    user = options.user
    if user is None:
        try:
            owner = options.directory.stat().st_uid
            user = pwd.getpwuid(owner).pw_name
        except (OSError, KeyError):
            user = None
    if not user or user == "root":
        return "# User=my-bot   # run as the app's own user, not root"
    return f"User={user}"


def _systemd_path(path: str) -> str:
    """A path for ReadWritePaths=: ``-`` (may not exist yet), quoted when it has spaces."""
    return f'"-{path}"' if any(c.isspace() or c == '"' for c in path) else f"-{path}"


def _rw_paths(options: InitOptions) -> str:
    folders = [str(options.directory)]
    folders += [str((options.directory / db).parent) for db in options.dbs]
    split = urlsplit(options.replica)
    if split.scheme == "file":
        folders.append(split.path)
    folders.extend(options.extra_paths)
    unique = list(dict.fromkeys(os.path.normpath(f) for f in folders))
    return " ".join(_systemd_path(f) for f in unique)


def _unit(options: InitOptions) -> str:
    config = options.directory / "khronos.yml"
    argv = [_khronos_bin(options), "--config", str(config), "run"]
    if options.app:
        argv += ["--", *shlex.split(options.app)]
    unit_name = f"khronos-{options.service}"
    return _fill(
        "khronos.service",
        {
            "service": options.service,
            "unit_app_note": f" supervising `{options.app}`" if options.app else "",
            "unit_name": unit_name,
            "user_line": _unit_user(options),
            "workdir": str(options.directory),
            "exec_start": shlex.join(argv),
            "rw_paths": _rw_paths(options),
        },
    )


def _env_example(options: InitOptions) -> str:
    # comments on lines of their own: systemd and docker-compose keep a trailing "# ..." as
    # part of the value
    lines = ["# openssl rand -hex 16", "KHRONOS_HTTP_TOKEN="]
    if urlsplit(options.replica).scheme in _S3_LIKE:
        lines += ["# the replica's keys", "AWS_ACCESS_KEY_ID=", "AWS_SECRET_ACCESS_KEY="]
    lines += ["# from @BotFather (Khronos' alerts, and Alertmanager's)", "TELEGRAM_BOT_TOKEN="]
    if options.telegram:
        lines += [
            "# the chat for Khronos' alerts: a group id is negative, -100...",
            "ALERT_CHAT_ID=",
        ]
    lines += ["# Grafana's admin password (deploy/docker-compose.yml)", "GRAFANA_ADMIN_PASSWORD="]
    return _fill("khronos.env.example", {"variables": "\n".join(lines)})


def _prometheus_yml(options: InitOptions) -> str:
    host, _, port = options.listen.rpartition(":")
    host = "127.0.0.1" if host in {"", "0.0.0.0", "[::]", "::"} else host  # noqa: S104 - a target
    if options.app_metrics:
        app_job = _fill("prometheus-app.yml", {"app_target": options.app_metrics})
    else:
        app_job = _template("prometheus-app-none.yml")
    return _fill(
        "prometheus.yml",
        {
            "service": options.service,
            "metrics_path": "/metrics",
            "khronos_target": f"{host}:{port}",
            "app_job": app_job.rstrip("\n"),
        },
    )


def _alertmanager_yml(options: InitOptions) -> str:
    chat = options.chat_id or _DEFAULT_CHAT
    note = (
        "the chat that receives them (a group id is negative: -100...)"
        if options.chat_id
        else "set your chat id (khronos init --chat-id); a group id is negative: -100..."
    )
    return _fill(
        "alertmanager.yml",
        {
            "service": options.service,
            "token_placeholder": TOKEN_PLACEHOLDER,
            "chat_id": chat,
            "chat_note": note,
        },
    )


def render_files(options: InitOptions) -> list[ScaffoldFile]:
    """Every file ``init`` writes for ``options``, in the order it writes them."""
    common = {"service": options.service, "listen": options.listen}
    return [
        ScaffoldFile("khronos.yml", _khronos_yml(options)),
        ScaffoldFile("deploy/khronos.env.example", _env_example(options)),
        ScaffoldFile("deploy/khronos.service", _unit(options)),
        ScaffoldFile(
            "deploy/docker-compose.yml",
            _fill("docker-compose.yml", {**common, "token_placeholder": TOKEN_PLACEHOLDER}),
        ),
        ScaffoldFile("deploy/prometheus.yml", _prometheus_yml(options)),
        ScaffoldFile("deploy/alert-rules.yml", _template("alert-rules.yml")),
        ScaffoldFile("deploy/alertmanager.yml", _alertmanager_yml(options)),
        ScaffoldFile(
            "deploy/grafana/provisioning/datasources/prometheus.yml",
            _template("grafana-datasource.yml"),
        ),
        ScaffoldFile(
            "deploy/grafana/provisioning/dashboards/khronos.yml",
            _template("grafana-dashboards.yml"),
        ),
        ScaffoldFile(
            "deploy/grafana/dashboards/khronos-dashboard.json",
            _template("khronos-dashboard.json"),
        ),
    ]


_STAND_INS = {
    "KHRONOS_HTTP_TOKEN": "stand-in-http-token",
    "AWS_ACCESS_KEY_ID": "stand-in-key-id",
    "AWS_SECRET_ACCESS_KEY": "stand-in-secret-key",
    "TELEGRAM_BOT_TOKEN": "123456:stand-in-token_abcdefghijklmnopqrstuvw",
    "ALERT_CHAT_ID": "-1001",
}


def check_rendered(directory: Path, files: Sequence[ScaffoldFile]) -> None:
    """Load the rendered ``khronos.yml`` as ``khronos config check`` would, with stand-in
    values for its ``${VARS}``: :class:`~khronos.errors.ConfigError` (exit 2) when invalid."""
    for item in files:
        if item.path == "khronos.yml":
            source = str(directory / item.path)
            parse_config(item.text, source=source, base_dir=directory, environ=_STAND_INS)


def existing_files(directory: Path, files: Sequence[ScaffoldFile]) -> list[Path]:
    """The targets that already exist (or something else is in their way)."""
    return [directory / f.path for f in files if os.path.lexists(directory / f.path)]


def write_files(directory: Path, files: Sequence[ScaffoldFile]) -> list[Path]:
    """Write every file under ``directory`` (folders created); the paths written.

    The caller checks :func:`existing_files` first (``init`` refuses to overwrite without
    ``--force``); each file is written atomically.
    """
    written = []
    for item in files:
        target = directory / item.path
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(target, item.text, mode=item.mode)
        written.append(target)
    return written


_DB_SUFFIXES = (".db", ".sqlite", ".sqlite3")
_NAME_CHARS = re.compile(r"[^A-Za-z0-9_.-]+")


def default_service(directory: Path) -> str:
    """The folder's name, made a valid ``service.name``."""
    name = _NAME_CHARS.sub("-", directory.name).strip("-._")
    return name[:63] or "my-service"


def find_databases(directory: Path) -> list[str]:
    """SQLite files in ``directory`` and its ``data/`` folder (names relative to it)."""
    found = []
    for folder in (directory, directory / "data"):
        if not folder.is_dir():
            continue
        found += [
            str(path.relative_to(directory))
            for path in sorted(folder.iterdir())
            if path.suffix in _DB_SUFFIXES and path.is_file() and _is_sqlite(path)
        ]
    return found


def _is_sqlite(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            return handle.read(16) == b"SQLite format 3\x00"
    except OSError:
        return False
