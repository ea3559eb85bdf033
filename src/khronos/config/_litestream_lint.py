"""Lint a raw Litestream config for 0.5, and migrate it to a khronos.yml (``khronos config check``
on a ``litestream.yml``, ``khronos config migrate``).

Litestream 0.5 ignores unknown keys without a word, and rejects a few 0.3-era settings only when
it starts.  :func:`lint_litestream` reports every key 0.5 ignores or rejects, with its line and
column and the 0.5 replacement; :func:`migrate_litestream` writes the equivalent ``khronos.yml``
(``${VAR}`` references kept, dropped settings noted as comments).
"""

from __future__ import annotations

import difflib
import re
from typing import Any
from urllib.parse import urlsplit

import yaml

from khronos.config._backup import (
    LEGACY_DB_KEYS,
    LEGACY_REPLICA_KEYS,
    LITESTREAM_TYPE_KEYS,
    DatabaseConfig,
    ReplicaConfig,
)
from khronos.config._model import KhronosConfig
from khronos.config._yaml import KeyPath, Positions, format_path, parse_yaml
from khronos.errors import ConfigProblem

__all__ = ["is_raw_litestream", "lint_litestream", "migrate_litestream"]

KHRONOS_SECTIONS = frozenset(
    field.alias or name for name, field in KhronosConfig.model_fields.items()
)
"""The top-level keys of khronos.yml, from its model."""
# Replica settings (Litestream's inline ReplicaSettings: also valid at the top level).
_REPLICA_SETTINGS = (frozenset().union(*LITESTREAM_TYPE_KEYS.values()) - {"path"}) | {
    "sync-interval",
    "max-sync-ltx-files",
    "auto-recover",
}
TOP_KEYS = (
    frozenset(
        [
            "addr",
            "socket",
            "levels",
            "snapshot",
            "validation",
            "l0-retention",
            "l0-retention-check-interval",
            "verify-compaction",
            "retention",
            "heartbeat-url",
            "heartbeat-interval",
            "dbs",
            "exec",
            "logging",
            "mcp-addr",
            "shutdown-sync-timeout",
            "shutdown-sync-interval",
        ]
    )
    | _REPLICA_SETTINGS
)
DB_KEYS = frozenset(
    [
        "path",
        "dir",
        "pattern",
        "recursive",
        "watch",
        "snapshot",
        "meta-path",
        "meta-dir",
        "monitor-interval",
        "checkpoint-interval",
        "busy-timeout",
        "min-checkpoint-page-count",
        "truncate-page-n",
        "max-sync-wal-bytes",
        "restore-if-db-not-exists",
        "replica",
        "replicas",
    ]
)
REPLICA_KEYS = _REPLICA_SETTINGS | {"type", "path", "url"}
REPLICA_TYPES = frozenset(LITESTREAM_TYPE_KEYS)
_URL_SCHEMES = REPLICA_TYPES | {"webdavs"}
_B2_FIX = (
    "0.5: type: s3 with bucket, path, endpoint: https://s3.REGION.backblazeb2.com, "
    "force-path-style: true, sign-payload: true; in khronos.yml b2:// and type: b2 do it for you"
)
_R2_FIX = (
    "0.5: s3://bucket/path with endpoint: https://ACCOUNT_ID.r2.cloudflarestorage.com and "
    "region: auto; in khronos.yml r2:// with account-id does it for you"
)
_TYPE_FIXES = {"b2": _B2_FIX, "r2": _R2_FIX, "gcs": "use gs: gs://bucket/path or type: gs"}
# Where the 0.3-era replica keys went in 0.5 itself, and in khronos.yml.
_LEGACY_HINTS = {
    "validation-interval": "0.5: top-level validation: {interval: 24h}; khronos.yml: "
    "backup.verify.interval (Khronos' restore drill)",
    "retention": "0.5: top-level snapshot: {retention: 168h}; khronos.yml: "
    "backup.snapshot.retention",
    "snapshot-interval": "0.5: top-level snapshot: {interval: 24h}; khronos.yml: "
    "backup.snapshot.interval",
}
_URL_PARTS = {
    "path": frozenset(REPLICA_TYPES - {"nats"}),
    "bucket": frozenset({"s3", "gs", "abs", "oss"}),
    "host": frozenset({"sftp"}),
    "webdav-url": frozenset({"webdav"}),
}
_ZERO_DURATION = re.compile(r"\s*(-.*|[0.]+([a-zµ]+)?)\s*")
_SECTION_KEYS = {
    "logging": frozenset({"level", "type", "stderr", "source"}),
    "snapshot": frozenset({"interval", "retention"}),
    "validation": frozenset({"interval"}),
    "socket": frozenset({"enabled", "path", "permissions"}),
    "retention": frozenset({"enabled"}),
}
_TOP_LEGACY = {
    "monitoring": (
        "silently ignored: no metrics listener is started",
        "0.5: top-level addr: 127.0.0.1:9090; Khronos runs the listener itself",
    ),
    "validation-interval": ("silently ignored", _LEGACY_HINTS["validation-interval"]),
    "snapshot-interval": ("silently ignored", _LEGACY_HINTS["snapshot-interval"]),
}


def is_raw_litestream(text: str, *, source: str | None = None) -> bool:
    """Whether ``text`` is a Litestream config: a mapping with a top-level ``dbs:`` and no
    Khronos section (``logging:`` is in both)."""
    document = parse_yaml(text, source=source)
    if document is None:
        return False
    data = document.data
    return (
        isinstance(data, dict)
        and "dbs" in data
        and not (KHRONOS_SECTIONS - {"logging"}) & set(data)
    )


class _Linter:
    def __init__(self, positions: Positions) -> None:
        self.positions = positions
        self.problems: list[ConfigProblem] = []

    def add(self, path: KeyPath, problem: str, hint: str | None) -> None:
        line, col = self.positions.find(path, key=True) or (None, None)
        self.problems.append(ConfigProblem(format_path(path), problem, hint, line, col))

    def unknown(self, path: KeyPath, valid: frozenset[str]) -> None:
        close = difflib.get_close_matches(str(path[-1]), sorted(valid), n=1, cutoff=0.7)
        hint = f"did you mean {close[0]!r}?" if close else "remove it"
        self.add(path, f"unknown key {path[-1]!r}: Litestream 0.5 ignores it silently", hint)

    def top(self, data: dict[str, Any]) -> None:
        for key, value in data.items():
            path: KeyPath = (key,)
            if key in _TOP_LEGACY:
                problem, hint = _TOP_LEGACY[key]
                self.add(path, f"{key!r} is a Litestream 0.3 setting, {problem}", hint)
            elif key == "retention" and not isinstance(value, dict):
                self.add(
                    path,
                    "top-level 'retention: <duration>' is fatal in 0.5 (retention is a struct)",
                    "0.5: snapshot.retention; khronos.yml: backup.snapshot.retention",
                )
            elif key not in TOP_KEYS:
                self.unknown(path, TOP_KEYS)
            elif key in _SECTION_KEYS and isinstance(value, dict):
                self.section(key, value)
        for index, db in enumerate(data.get("dbs") or []):
            if isinstance(db, dict):
                self.db(("dbs", index), db)

    def section(self, name: str, value: dict[str, Any]) -> None:
        for key in value:
            if name == "logging" and key == "format":
                self.add(
                    (name, key),
                    "'logging.format' is silently ignored by 0.5 (the key is 'type')",
                    "0.5: logging.type: json; Khronos sets Litestream's logging itself",
                )
            elif key not in _SECTION_KEYS[name]:
                self.unknown((name, key), _SECTION_KEYS[name])

    def db(self, path: KeyPath, db: dict[str, Any]) -> None:
        both = "replica" in db and "replicas" in db
        if both:
            self.add(
                (*path, "replicas"),
                "'replica' and 'replicas' on one database: fatal in 0.5 (\"cannot specify "
                "'replica' and 'replicas'\")",
                "keep one replica: mapping and delete replicas:",
            )
        for key, value in db.items():
            if key == "replicas" and isinstance(value, list):
                if len(value) > 1:
                    self.add(
                        (*path, key),
                        f"{len(value)} replicas: fatal in 0.5 (one replica per database)",
                        "keep one as replica: (a mapping); " + LEGACY_DB_KEYS["replicas"],
                    )
                elif not both:
                    self.add(
                        (*path, key),
                        "'replicas:' is deprecated in 0.5",
                        "use " + LEGACY_DB_KEYS["replicas"],
                    )
                for i, replica in enumerate(value):
                    if isinstance(replica, dict):
                        self.replica((*path, key, i), replica)
            elif key == "replica" and isinstance(value, dict):
                self.replica((*path, key), value)
            elif key not in DB_KEYS:
                self.unknown((*path, key), DB_KEYS)

    def replica(self, path: KeyPath, replica: dict[str, Any]) -> None:
        kind = self.replica_kind(path, replica)
        for key in replica:
            where = (*path, key)
            if key == "age":
                self.add(
                    where,
                    "'age' encryption is fatal in 0.5 (not supported)",
                    "use " + LEGACY_REPLICA_KEYS["age"],
                )
            elif key in LEGACY_REPLICA_KEYS:
                self.add(
                    where,
                    f"{key!r} is a Litestream 0.3 setting that 0.5 ignores silently",
                    _LEGACY_HINTS.get(key, "use " + LEGACY_REPLICA_KEYS[key]),
                )
            elif key not in REPLICA_KEYS:
                self.unknown(where, REPLICA_KEYS)
            elif kind is not None:
                self.replica_key(where, kind, replica)

    def replica_kind(self, path: KeyPath, replica: dict[str, Any]) -> str | None:
        """The replica's type as 0.5 derives it (url scheme, else type, else file); None if bad."""
        url = replica.get("url")
        if isinstance(url, str) and "://" in url:
            kind = urlsplit(url).scheme.lower()
            kind = "webdav" if kind == "webdavs" else kind
            if kind not in _URL_SCHEMES:
                fix = _TYPE_FIXES.get(kind, f"valid schemes: {', '.join(sorted(_URL_SCHEMES))}")
                self.add((*path, "url"), f"{kind}:// replica URL is fatal in 0.5", fix)
                return None
            return kind
        kind = str(replica.get("type") or "file")
        if kind not in REPLICA_TYPES:
            hint = _TYPE_FIXES.get(kind, f"valid types: {', '.join(sorted(REPLICA_TYPES))}")
            self.add((*path, "type"), f"replica type {kind!r} is fatal in 0.5 (unknown type)", hint)
            return None
        return kind

    def replica_key(self, where: KeyPath, kind: str, replica: dict[str, Any]) -> None:
        """A known key on a replica of a valid type: read by that type, and not fatal."""
        key = str(where[-1])
        if key in {"type", "url", "sync-interval", "max-sync-ltx-files", "auto-recover"}:
            if key == "sync-interval" and _ZERO_DURATION.fullmatch(str(replica[key])):
                self.add(
                    where,
                    "sync-interval must be greater than 0: fatal in 0.5",
                    "e.g. sync-interval: 1s",
                )
        elif key not in LITESTREAM_TYPE_KEYS[kind]:
            self.add(
                where,
                f"{key!r} is not read by {kind} replicas: 0.5 ignores it silently",
                f"remove it; {kind} replicas take: {', '.join(sorted(LITESTREAM_TYPE_KEYS[kind]))}",
            )
        elif "url" in replica and kind in _URL_PARTS.get(key, ()):
            self.add(
                where,
                f'url and {key} on one {kind} replica: fatal in 0.5 ("cannot specify url & {key}")',
                f"put the {key} in the url, or use type: {kind} with {key} and no url",
            )


def lint_litestream(text: str, *, source: str | None = None) -> list[ConfigProblem]:
    """Every key of a raw Litestream config that 0.5 ignores or rejects."""
    document = parse_yaml(text, source=source)
    if document is None or not isinstance(document.data, dict):
        return [ConfigProblem("", "not a Litestream config (no top-level dbs:)", None)]
    linter = _Linter(document.positions)
    linter.top(document.data)
    return sorted(linter.problems, key=lambda p: (p.line or 0, p.column or 0))


# ------------------------------------------------------------------------------------ migrate

_DB_KEEP = tuple(
    f.replace("_", "-") for f in DatabaseConfig.model_fields if f not in {"path", "name", "replica"}
)
_REPLICA_KEEP = frozenset(f.replace("_", "-") for f in ReplicaConfig.model_fields) - {"account-id"}
_RENAMED = {"key-id": "access-key-id", "application-key": "secret-access-key"}
_KIND_ALIASES = {"b2": "s3", "gcs": "gs", "webdavs": "webdav"}
_MOVED = {
    "retention": ("snapshot", "retention"),
    "snapshot-interval": ("snapshot", "interval"),
    "validation-interval": ("verify", "interval"),
}


def migrate_litestream(text: str, *, source: str | None = None) -> str:
    """The khronos.yml equivalent of a raw Litestream config, with comments on what was dropped."""
    document = parse_yaml(text, source=source)
    data: dict[str, Any] = document.data if document and isinstance(document.data, dict) else {}
    notes: list[str] = []
    snapshot: dict[str, Any] = {}
    verify: dict[str, Any] = {}
    top_snapshot = data.get("snapshot")
    if isinstance(top_snapshot, dict):
        snapshot.update({k: v for k, v in top_snapshot.items() if k in {"interval", "retention"}})
    if isinstance(data.get("retention"), str):
        snapshot.setdefault("retention", data["retention"])
    validation = data.get("validation")
    if isinstance(validation, dict) and "interval" in validation:
        verify["interval"] = validation["interval"]
    if "validation-interval" in data:
        verify.setdefault("interval", data["validation-interval"])
    notes.extend(_top_notes(data))
    defaults = {k: v for k, v in data.items() if k in {"access-key-id", "secret-access-key"}}
    dbs = []
    for index, db in enumerate(data.get("dbs") or []):
        if not isinstance(db, dict):
            continue
        entry: dict[str, Any] = {"path": db.get("path")}
        entry.update({k: db[k] for k in _DB_KEEP if k in db})
        notes.extend(
            f"dbs[{index}].{key}: dropped; Khronos has no equivalent"
            for key in db
            if key not in {"path", "replica", "replicas", *_DB_KEEP}
        )
        replicas: list[Any] = db["replicas"] if isinstance(db.get("replicas"), list) else []
        if isinstance(db.get("replica"), dict):
            if replicas:
                notes.append(f"dbs[{index}].replicas: dropped; 0.5 refuses replica and replicas")
            replicas = [db["replica"]]
        elif len(replicas) > 1:
            notes.append(f"dbs[{index}]: replicas after the first dropped (0.5 allows one)")
        if replicas and isinstance(replicas[0], dict):
            entry["replica"] = _migrate_replica(
                replicas[0],
                f"dbs[{index}].replica",
                defaults=defaults,
                snapshot=snapshot,
                verify=verify,
                notes=notes,
            )
        dbs.append(entry)
    backup: dict[str, Any] = {"dbs": dbs}
    if snapshot:
        backup["snapshot"] = snapshot
    if verify:
        backup["verify"] = verify
    head = (
        f"# khronos.yml migrated from {source or 'a Litestream config'} by khronos config migrate\n"
    )
    head += "".join(f"# {note}\n" for note in notes)
    return head + yaml.safe_dump({"backup": backup}, sort_keys=False, allow_unicode=True)


def _replica_kind(replica: dict[str, Any]) -> str:
    """The replica's type as 0.5 derives it, with the sugar Khronos accepts (b2) kept."""
    url = replica.get("url")
    if isinstance(url, str) and "://" in url:
        return urlsplit(url).scheme.lower()
    return str(replica.get("type") or "file")


def _migrate_replica(
    replica: dict[str, Any],
    where: str,
    *,
    defaults: dict[str, Any],
    snapshot: dict[str, Any],
    verify: dict[str, Any],
    notes: list[str],
) -> dict[str, Any]:
    kind = _replica_kind(replica)
    reads = LITESTREAM_TYPE_KEYS.get(_KIND_ALIASES.get(kind, kind), _REPLICA_KEEP)
    out: dict[str, Any] = {}
    for key, value in replica.items():
        key = _RENAMED.get(key, key)  # noqa: PLW2901 - the 0.3 name becomes the 0.5 one
        if kind == "gcs" and key in {"type", "url"}:
            out[key] = "gs" if key == "type" else "gs" + str(value)[3:]
        elif key in _REPLICA_KEEP and (key in reads or key in {"url", "type", "sync-interval"}):
            out[key] = value
        elif key in _REPLICA_KEEP:
            notes.append(f"{where}.{key}: dropped; a {kind} replica does not read it")
        elif key in _MOVED:
            section, name = _MOVED[key]
            (snapshot if section == "snapshot" else verify).setdefault(name, value)
        elif key == "retention-check-interval":
            notes.append(f"{where}.{key}: dropped; 0.5 enforces retention by itself")
        else:
            notes.append(f"{where}.{key}: dropped; not supported by Litestream 0.5 / Khronos")
    if _KIND_ALIASES.get(kind, kind) == "s3":
        for key, value in defaults.items():
            out.setdefault(key, value)
    if kind == "b2" and not (out.get("region") or out.get("endpoint")):
        out["region"] = "CHANGE-ME"
        notes.append(f"{where}.region: set it to your B2 bucket's region, e.g. us-west-004")
    return out


def _top_notes(data: dict[str, Any]) -> list[str]:
    notes = []
    for key in data:
        if key in {"addr", "monitoring"}:
            notes.append(f"{key}: dropped; Khronos serves /metrics itself (http.listen)")
        elif key == "logging":
            notes.append("logging: dropped; Khronos sets Litestream's logging (see logging:)")
        elif key == "validation-interval":
            notes.append(f"{key}: moved to backup.verify.interval (Khronos' restore drill)")
        elif key not in {"dbs", "snapshot", "retention", "validation"} | _REPLICA_SETTINGS:
            notes.append(f"{key}: dropped; Khronos has no equivalent")
    return notes
