"""Building a setup for the doctor: a database, khronos.yml, the environment."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

from tests.alerts.fake_telegram import TOKEN
from tests.backup.conftest import REGION, S3_KEY, S3_SECRET

HTTP_TOKEN = "doctor-http-token-0123456789"
SECRETS = (TOKEN, S3_SECRET, HTTP_TOKEN)


def make_db(path: Path, *, wal: bool = True) -> Path:
    """A SQLite database with one table, in WAL mode or the default rollback journal."""
    with closing(sqlite3.connect(path)) as conn, conn:
        if wal:
            conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE IF NOT EXISTS rows (id INTEGER PRIMARY KEY)")
    return path


def s3_replica(endpoint: str, bucket: str, name: str) -> str:
    """A replica: mapping on the moto server, the keys from the environment."""
    return (
        f"{{url: 's3://{bucket}/{name}', endpoint: '{endpoint}', region: {REGION}, "
        "force-path-style: true, access-key-id: '${AWS_ACCESS_KEY_ID}', "
        "secret-access-key: '${AWS_SECRET_ACCESS_KEY}'}"
    )


def write_setup(
    folder: Path, *, dbs: dict[str, str], telegram_url: str, chat: str = "-1001"
) -> Path:
    """khronos.yml in ``folder`` for ``dbs`` (path -> replica mapping) and the fake Bot API."""
    entries = "".join(
        f"    - path: {path}\n      replica: {replica}\n" for path, replica in dbs.items()
    )
    text = (
        "service: doctor-test\n"
        "state_dir: state\n"
        "http: {listen: '127.0.0.1:0', token: '${KHRONOS_HTTP_TOKEN}'}\n"
        "backup:\n"
        "  dbs:\n"
        f"{entries}"
        "alerts:\n"
        "  telegram:\n"
        "    bot_token: ${TELEGRAM_BOT_TOKEN}\n"
        f"    chat_id: '{chat}'\n"
        f"    api_url: {telegram_url}\n"
    )
    path = folder / "khronos.yml"
    path.write_text(text, encoding="utf-8")
    return path


def environment(*, bot_token: str = TOKEN) -> dict[str, str]:
    """The secrets, as variables."""
    return {
        "KHRONOS_HTTP_TOKEN": HTTP_TOKEN,
        "TELEGRAM_BOT_TOKEN": bot_token,
        "AWS_ACCESS_KEY_ID": S3_KEY,
        "AWS_SECRET_ACCESS_KEY": S3_SECRET,
    }
