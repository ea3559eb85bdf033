"""The app's environment: Khronos' own, without Khronos' secrets, plus ``app.env``.

The same mechanism as Litestream's child environment (:func:`khronos.backup.litestream_env`:
built from ``os.environ`` by a rule, never passed whole), with the opposite default: Litestream
gets only what it reads, the app gets everything *except* what is Khronos' own secret:

- every variable whose value is one of the configuration's secrets (the Telegram bot token,
  ``http.token``, the replica's keys, a password inside a URL), whatever its name;
- with a ``backup:`` section, the credential variables Litestream reads when the config gives
  no keys (``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``,
  ``LITESTREAM_*`` ...): they are the backup's keys.

``AWS_CA_BUNDLE`` and the rest of the environment are the user's and pass.  ``app.env`` is added
last, so a user who wants the app to have one of those lists it there explicitly.  Values of
``app.env`` under a secret-looking name (``*_TOKEN``, ``*_PASSWORD``...) and passwords inside
URLs are registered with the redactor.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from khronos.config import KhronosConfig
from khronos.redact import collect_secrets, get_redactor, is_secret_key, url_secrets

__all__ = ["BACKUP_CREDENTIALS", "app_env"]

BACKUP_CREDENTIALS = frozenset(
    {
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "LITESTREAM_ACCESS_KEY_ID",
        "LITESTREAM_SECRET_ACCESS_KEY",
        "LITESTREAM_AZURE_ACCOUNT_KEY",
        "LITESTREAM_AZURE_SAS_TOKEN",
        "AZURE_STORAGE_KEY",
        "GOOGLE_APPLICATION_CREDENTIALS",
    }
)
"""Credential variables Litestream reads when ``backup:`` gives no keys: the backup's own."""


def app_env(
    config: KhronosConfig, base: Mapping[str, str] | None = None
) -> tuple[dict[str, str], list[str]]:
    """The app's environment and the names of the variables kept from it (sorted)."""
    source = os.environ if base is None else base
    own = set(collect_secrets(config.model_copy(update={"app": None})))
    drop = BACKUP_CREDENTIALS if config.backup is not None else frozenset()
    env: dict[str, str] = {}
    dropped: list[str] = []
    for name, value in source.items():
        if name in drop or (value and value in own):
            dropped.append(name)
        else:
            env[name] = value
    extra = config.app.env if config.app is not None else {}
    redactor = get_redactor()
    for name, value in extra.items():
        if is_secret_key(name):
            redactor.add_secret(value)
        for secret in url_secrets(value):
            redactor.add_secret(secret)
    env.update(extra)
    return env, sorted(name for name in dropped if name not in extra)
