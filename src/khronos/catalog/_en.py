"""The English catalog: every message id and its text (the reference every language follows)."""

from __future__ import annotations

__all__ = ["EN"]

EN: dict[str, str] = {
    # ---------------------------------------------------------------- the alert's frame
    "level.INFO": "INFO",
    "level.WARN": "WARN",
    "level.ERROR": "ERROR",
    "level.CRITICAL": "CRITICAL",
    "resolved": "✅ Resolved: {message}",
    "lasted": "lasted {duration}",
    "worst": "worst: {worst}",
    "first_seen": "first seen {age} ago",
    "still_firing": "still firing after {duration}",
    "worse": "worse: was {level}, {note}",
    "closed": "Closed, no longer checked: {message}",
    "closed_note": (
        "open for {duration}; nothing checked it again in the {grace} after Khronos "
        "restarted (was its check removed?), so it is closed without knowing whether the "
        "cause is gone"
    ),
    "silence_ended": "Still firing after the silence ended: {message}",
    "firing_for": "firing for {duration}",
    "suppressed_note": "{count} more like this suppressed in the last {window}",
    "test_note": "test alert",
    "channel_back": (
        "✅ {channel} is reachable again after {duration}; {count} alert(s) were delayed "
        "and are delivered in their original order."
    ),
    "joined": "{first}; {second}",
    # ---------------------------------------------------------------- tests and the demo
    "test.cli": "Test alert from `khronos alert test`",
    "test.api": "Test alert from the Khronos API",
    "demo.started": "Demo started: Khronos is watching demo-bot",
    # ---------------------------------------------------------------- the alert engine's own
    "state_dir.full": "state_dir full: cannot write {path} ({reason})",
    "state_dir.unwritable": "state_dir not writable: cannot write {path} ({reason})",
    "state_dir.hint": (
        "free space (or file descriptors) for Khronos; meanwhile alerts wait in memory (up "
        "to {max_pending}) and are delivered from there, and are written to the outbox when "
        "it is writable again"
    ),
    # ---------------------------------------------------------------- semantic alerts
    "semantic.breaker_opened": "Circuit breaker {breaker} opened",
    "semantic.database_down": "Database {database} is down",
    "semantic.database_down.action": "reconnect or restart the service",
    "semantic.high_error_rate": "High error rate",
    "semantic.high_memory": "High memory usage",
    "semantic.queue_backlog": "Queue backlog",
    "semantic.service_unhealthy": "Service {service} is unhealthy",
    "semantic.backup_lag": "Backup of {database} is lagging",
    "semantic.backup_down": "Backup process (Litestream) is down: changes are not backed up",
    "semantic.drill_failed": "Restore drill of {database} failed",
    # ---------------------------------------------------------------- backup
    "backup.db_down": "Database down: {path} is missing",
    "backup.db_down.hint": "restore it: khronos restore",
    "backup.lag": "Backup of {db} is {lag:.0f}s behind (alert after {limit:g}s){because}",
    "backup.because": ": {error}",
    "backup.not_replicating": ": Litestream is not replicating it",
    "backup.lag.hint": (
        "check the replica's reachability and credentials, and that Litestream runs "
        "(khronos status)"
    ),
    "backup.worst_lag": "lag {lag}",
    "backup.replica_down": (
        "Backup of {db} is down: the replica {replica} has accepted nothing for "
        "{seconds:.0f}s (alert after {limit:g}s){because}"
    ),
    "backup.replica_down.hint": (
        "fix the replica (bucket, credentials, network) or Litestream; nothing is lost "
        "locally, it is uploaded once the replica accepts it"
    ),
    "backup.unresponsive": (
        "Backup replication is down: Litestream (pid {pid}) runs but {problem} (for {seconds:.0f}s)"
    ),
    "backup.unresponsive.hint": (
        "a hung Litestream: check its log lines and the replica; restarting khronos restarts it"
    ),
    "backup.socket_silent": "its control socket {socket} does not answer",
    "backup.idle": "it does not replicate {dbs}",
    "backup.gave_up": (
        "Backup stopped: Litestream crashed {count} times in a row (each run under "
        "{min_uptime:g}s); Khronos gave up restarting it"
    ),
    "backup.gave_up.hint": "check the litestream log lines above, fix, restart khronos",
    "backup.exited": (
        "Backup replication is down: Litestream exited with code {code}; restarting in {delay:g}s"
    ),
    "backup.continuity": (
        "The backup of {db} may be missing changes: {reason}; {problem}. Khronos tries again "
        "in {delay:g}s"
    ),
    "backup.continuity.hint": "see docs/backup.md (the crash window)",
    "backup.no_checkpoint": "the WAL could not be checkpointed (a long read transaction?)",
    "backup.snapshot_failed": "{problem} and a separate snapshot failed ({error})",
    "backup.snapshot_taken": "{problem}; a separate snapshot was taken, which most restores use",
    "backup.ltx_unreadable": "Litestream's newest local LTX file cannot be read",
    "backup.wal_gone": (
        "the WAL is gone (checkpointed and removed while Litestream was not running)"
    ),
    "backup.wal_reset": (
        "the WAL was reset while Litestream was not running (salts {before} -> {after})"
    ),
    "backup.wal_shorter": (
        "the WAL is shorter ({size} bytes) than what Litestream copied ({shipped} bytes)"
    ),
    "litestream.no_backup": "the replica {replica} has no backups yet",
    "litestream.no_bucket": "bucket {bucket} does not exist at {endpoint}",
    "litestream.credentials": "the replica {replica} rejected the credentials ({error})",
    "litestream.unreachable": "cannot reach the replica {replica} ({error})",
    "backup.drill_missing_rows": "the drill found missing rows",
    # ---------------------------------------------------------------- the daemon
    "daemon.part_down": "Khronos stopped running {part}: {reason}",
    "daemon.part_down.action": (
        "restart khronos (e.g. systemctl restart khronos); the log has the cause"
    ),
    "daemon.drill_failed": "Restore drill of {db} failed: the backup may not be restorable",
    "daemon.unknown": "unknown",
    "logs.dir_full": "log dir full: cannot write {path} ({error}){more}",
    "logs.unwritable": "log files not writable: cannot write {path} ({error}){more}",
    "logs.more": " (+ {count} more)",
    "logs.writable": "the log files can be written",
    "logs.action": (
        "free space (or file descriptors) in the log folder; meanwhile each file keeps its "
        "new lines in memory (up to 4 MB) and writes them when it can"
    ),
    # ---------------------------------------------------------------- snapshots
    "snapshot.failed": "Snapshot of {db} to {dest} failed: {error}",
    "snapshot.failed.hint": (
        "{hint}; Khronos retries with backoff and takes one as soon as it works"
    ),
    "snapshot.failed.fix_destination": (
        "fix the destination (bucket, credentials, network, free space)"
    ),
    "snapshot.worst_failures": "{count} failed attempts in a row",
    "snapshot.stale": (
        "Newest snapshot of {db} at {dest} is {age} old (every {interval}, alert after {limit})"
        "{because}"
    ),
    "snapshot.none_yet": (
        "No snapshot of {db} at {dest} has succeeded in {age} (every {interval}, alert after "
        "{limit}){because}"
    ),
    "snapshot.stale.hint": "khronos status shows the last error; khronos snapshot now takes one",
    "snapshot.worst_age": "newest {age} old",
    "snapshot.drill_failed": "Snapshot drill of {db} at {dest} failed: {error}",
    "snapshot.drill_failed.hint": (
        "the second copy may not be restorable: `khronos snapshots list`, then "
        "`khronos restore --from snapshot` to a test path"
    ),
    "snapshot.unknown": "unknown error",
    # ---------------------------------------------------------------- checks
    "check.crashed": "Check {name} crashed: {error}",
    "check.metrics_unreadable": "Cannot read the app's metrics: {reason}",
    "check.memory_unreadable": "Memory check cannot read the process",
    "check.memory_ok": "Memory usage is normal",
    "check.memory_above": "Memory usage above the limit",
    "check.memory_high": "High memory usage",
    "check.worst_rss": "RSS {used:.0f} MB",
    "check.disk_failed": "Disk check failed",
    "check.disk_low": "Low disk space at {path}",
    "check.worst_free": "{free} MB free",
    "check.disk_ok": "Disk space at {path} is fine",
    "check.http_ok": "Service {service} is healthy",
    "check.http_failed": "Service {service} is unhealthy",
    "check.worst_failed": "{count} failed checks in a row",
    "check.no_messages": "No message metrics yet",
    "check.few_messages": "Too few messages to judge the error rate",
    "check.error_rate_high": "High error rate",
    "check.worst_rate": "error rate {rate:.2%}",
    "check.error_rate_ok": "Error rate is normal",
    "check.no_queue": "No queue metric yet",
    "check.queue_high": "Queue backlog is growing",
    "check.worst_queued": "{size} queued",
    "check.queue_ok": "Queue is draining",
    # ---------------------------------------------------------------- heartbeats
    "heartbeat.running": "Job {name} started at {started} and has not finished ({grace} grace)",
    "heartbeat.never": "Job {name} has never pinged (expected every {every}, {grace} grace)",
    "heartbeat.late": (
        "Job {name} is late: no ping since {last} (expected every {every}, {grace} grace)"
    ),
    "heartbeat.expected": "every {every}, grace {grace}",
    "heartbeat.failed": "Job {name} reported a failure",
    # ---------------------------------------------------------------- the app
    "app.exited": "exited with code {code}",
    "app.killed": "was killed by {signal}",
    "app.gave_up": (
        "The app {how} and crashed {count} times in a row (each run under {min_uptime:g}s): "
        "Khronos gave up restarting it"
    ),
    "app.gave_up.hint": "fix it, then send SIGHUP to khronos (or restart khronos)",
    "app.restarting": "The app {how}; restarting in {delay:g}s",
    "app.running_again": "The app is running again (pid {pid})",
    # ---------------------------------------------------------------- the status' reasons
    "status.db_missing": "database {db} is missing ({path})",
    "status.replica_down": "backup of {db} is down: the replica accepts nothing",
    "status.not_replicating": "backup of {db} is not replicating",
    "status.lag": "backup lag {lag} on {db}",
    "status.app_gave_up": "app down: Khronos gave up restarting it{last}",
    "status.app_down": "app down{last}",
    "status.killed": " (killed by {signal})",
    "status.exited": " (exited with code {code})",
    "status.condition": "{message} (for {duration})",
    "status.check_failing": "check {name} failing: {message}",
    "status.heartbeat": "heartbeat {name} is {state}",
    "status.channel_down": (
        "alert channel {name} unreachable (circuit breaker {breaker}): alerts wait in the outbox"
    ),
    # ---------------------------------------------------------------- the Telegram console
    "button.ack": "Ack",
    "button.silence_1h": "Silence 1h",
    "button.silence_24h": "Silence 24h",
    "console.conflict": (
        "Telegram commands are off: {why}. Another program receives this bot's updates; "
        "give Khronos a bot of its own (alerts.telegram.bot_token). Alerts are still sent."
    ),
    "console.webhook_set": "a webhook is set for this bot token",
    "cmd.status": "Overall state, databases, app and checks",
    "cmd.alerts": "The conditions firing now",
    "cmd.ack": "Acknowledge an alert (reply to it, or /ack KEY)",
    "cmd.backup": "Force a sync and report the replica txid",
    "cmd.drill": "Run a restore drill now",
    "cmd.silence": "/silence WHAT DURATION [REASON]",
    "cmd.unsilence": "/unsilence ID",
    "cmd.silences": "The active silences",
    "cmd.help": "What the bot understands",
    "reply.unknown": "Unknown command /{name}. Send /help for the list.",
    "reply.empty": "/{name}: nothing to report.",
    "reply.help_title": "Khronos commands",
    "reply.never": "never",
    "reply.ago": "{duration} ago",
    "reply.at_ago": "{at} ({duration} ago)",
    "reply.unknown_value": "unknown",
    "reply.no_drill": "none yet",
    "reply.drill_ok": "ok {when}",
    "reply.drill_failed": "FAILED {when}",
    "reply.database": "{state} <b>{db}</b>: lag {lag}, last sync {sync}, drill {drill}",
    "reply.snapshot": "{state} snapshot {dest}: {when}",
    "reply.app": "App: {state} (<code>{command}</code>, restarts {restarts})",
    "reply.app_up": "✅ up",
    "reply.app_down": "❌ down",
    "reply.no_status": "Status is not available here.",
    "reply.databases": "Databases",
    "reply.no_database": "No database is backed up.",
    "reply.checks": "Checks",
    "reply.state.OK": "OK",
    "reply.state.WARN": "WARN",
    "reply.state.CRITICAL": "CRITICAL",
    "reply.nothing_firing": "✅ Nothing is firing.",
    "reply.firing": "{count} firing",
    "reply.acked_by": " (acked by {by})",
    "reply.firing_line": "{emoji} <code>{key}</code> for {duration}",
    "reply.no_ack": "Acknowledging is not available here.",
    "reply.ack_usage": (
        "Reply /ack to an alert, or send <code>/ack KEY</code> (the keys: /alerts)."
    ),
    "reply.not_firing": "<code>{key}</code> is not firing (see /alerts).",
    "reply.acked": (
        "👍 <code>{key}</code> acknowledged by {by}: no repeats until it resolves or gets worse."
    ),
    "reply.failed": "❌ {what} failed: {error}",
    "reply.nothing": "{what}: nothing to report",
    "reply.what_backup": "backup",
    "reply.what_drill": "restore drill",
    "reply.no_backup": "No backup: section is configured.",
    "reply.no_silences": "silences are not available in this Khronos",
    "reply.silence_usage": (
        "Usage: <code>/silence WHAT DURATION [REASON]</code> (/silence backup 1h deploy)"
    ),
    "reply.not_duration": "Not a duration: <code>{value}</code> (write 30m, 1h, 2d).",
    "reply.positive": "The duration must be positive (30m, 1h, 2d).",
    "reply.silenced": "🔕 Silenced <code>{what}</code> for {duration} (id <code>{id}</code>).",
    "reply.unsilence_usage": "Usage: <code>/unsilence ID</code> (the ids: /silences)",
    "reply.unsilenced": "🔔 Silence <code>{id}</code> ended.",
    "reply.no_such_silence": "No silence <code>{id}</code> (see /silences).",
    "reply.no_silence": "No silence is active.",
    "reply.silences": "{count} silence(s)",
    "reply.silence_line": "🔕 <code>{id}</code> {match} until {until} {reason}",
    "reply.running": "⏳ /{name} is already running.",
    "reply.started": "⏳ /{name} started…",
    "reply.synced": "✅ {db}: replica at txid {replica} (database {local})",
    "reply.drill_passed": (
        "✅ {db}: restored and checked in {seconds:.1f}s (txid {txid}; {continuity})"
    ),
    "reply.not_compared": "not compared",
    "reply.drill_line_failed": "❌ {db}: {error}",
    "reply.drill_failed_plain": "the drill failed",
    "button.not_allowed": "Not allowed here",
    "button.no_silences": "silences are not available",
    "button.unknown": "Unknown button",
    "button.acked": "Acknowledged",
    "button.acked_note": "👍 Acknowledged by {by} at {at}",
    "button.silenced": "Silenced for {duration}",
    "button.silenced_note": "🔕 Silenced for {duration} by {by} at {at}",
    "button.reason": "from a Telegram button",
    "edit.resolved": "✅ <b>Resolved</b> after {duration}",
}
"""Message id -> English text (``str.format`` placeholders; HTML only where a reply is HTML)."""
