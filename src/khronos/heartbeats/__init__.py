"""Heartbeats both ways: the app's jobs ping Khronos (in), Khronos pings an outside monitor (out).

>>> from khronos.heartbeats import mask_url
>>> mask_url("https://hc-ping.com/0f1e2d3c-aaaa-bbbb-cccc-000000000000")
'https://hc-ping.com/**********'
"""

from khronos.heartbeats._monitor import (
    HEARTBEAT_KEY_PREFIX,
    HEARTBEATS_PART,
    HeartbeatMonitor,
    PingKind,
)
from khronos.heartbeats._routes import heartbeat_routes
from khronos.heartbeats._sender import HEARTBEAT_OUT_PART, HeartbeatSender, mask_url

__all__ = [
    "HEARTBEATS_PART",
    "HEARTBEAT_KEY_PREFIX",
    "HEARTBEAT_OUT_PART",
    "HeartbeatMonitor",
    "HeartbeatSender",
    "PingKind",
    "heartbeat_routes",
    "mask_url",
]
