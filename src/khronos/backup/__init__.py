"""Backup: continuous SQLite replication on Litestream 0.5, safe restore, restore drills."""

from khronos.backup._litestream import (
    LitestreamNotFoundError,
    RenderedConfig,
    find_litestream,
    litestream_env,
    render_config,
)

__all__ = [
    "LitestreamNotFoundError",
    "RenderedConfig",
    "find_litestream",
    "litestream_env",
    "render_config",
]
