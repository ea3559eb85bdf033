"""Outbox rows waiting in memory while the outbox file cannot be written (not thread-safe: the
:class:`~khronos.alerts.Outbox` holds its lock around every call).

Rows are kept per (channel, chat) in the order they were raised.  Their ids are negative
(``-1``, ``-2``, ...: minus the order they were raised in), so they never meet a row id of the
file and the newest row has the smallest id.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from khronos.alerts._model import Level
from khronos.alerts._notifier import OutgoingMessage
from khronos.alerts._outbox_db import OutboxRow, StoredRow

__all__ = ["MemoryQueue", "MemoryRow"]


@dataclass
class MemoryRow:
    """A row waiting in memory, with the attempts made to send it from there."""

    id: int
    alert_id: str
    row: OutboxRow
    created_at: float
    attempts: int = 0
    last_error: str | None = None

    def message(self) -> OutgoingMessage:
        """The row as the worker sends it."""
        r = self.row
        return OutgoingMessage(self.id, self.alert_id, r.chat, r.level, r.html, r.plain)

    def stored(self) -> StoredRow:
        """The row as it is written to the file."""
        return StoredRow(self.alert_id, self.row, self.created_at, self.attempts, self.last_error)


class MemoryQueue:
    """Rows in memory, per (channel, chat), oldest first."""

    def __init__(self) -> None:
        self._chats: dict[tuple[str, str], deque[MemoryRow]] = {}
        self._by_id: dict[int, MemoryRow] = {}
        self._low: OrderedDict[int, MemoryRow] = OrderedDict()  # INFO/WARN, oldest first
        self._high: OrderedDict[int, MemoryRow] = OrderedDict()  # ERROR/CRITICAL, oldest first
        self._last_seq = 0

    def __len__(self) -> int:
        return len(self._by_id)

    def get(self, row_id: int) -> MemoryRow | None:
        """The row with this id, if it is still in memory."""
        return self._by_id.get(row_id)

    def append(self, alert_id: str, row: OutboxRow, created_at: float) -> MemoryRow:
        """Queue a row behind its chat's rows."""
        self._last_seq += 1
        memory = MemoryRow(-self._last_seq, alert_id, row, created_at)
        self._chats.setdefault((row.channel, row.chat), deque()).append(memory)
        self._by_id[memory.id] = memory
        self._by_level(memory)[memory.id] = memory
        return memory

    def _by_level(self, memory: MemoryRow) -> OrderedDict[int, MemoryRow]:
        return self._low if memory.row.level <= Level.WARN else self._high

    def remove(self, row_id: int) -> MemoryRow | None:
        """Take a row out (delivered, dropped or written to the file)."""
        memory = self._by_id.pop(row_id, None)
        if memory is None:
            return None
        del self._by_level(memory)[row_id]
        key = (memory.row.channel, memory.row.chat)
        queue = self._chats[key]
        queue.remove(memory)
        if not queue:
            del self._chats[key]
        return memory

    def victim(self, claimed: Collection[int]) -> MemoryRow | None:
        """The row to drop when full: the oldest INFO/WARN not being sent, else the oldest."""
        for rows in (self._low, self._high):
            for memory in rows.values():  # claimed rows are few: one per chat at most
                if memory.id not in claimed:
                    return memory
        return None

    def movable(self, claimed: Collection[int]) -> list[MemoryRow]:
        """Every row of each chat none of whose rows is being sent, oldest first."""
        rows = [
            memory
            for queue in self._chats.values()
            if not any(m.id in claimed for m in queue)
            for memory in queue
        ]
        return sorted(rows, key=lambda m: -m.id)

    def head(self, channel: str, chat: str | None = None) -> MemoryRow | None:
        """The oldest row of a channel, or of one chat of it."""
        heads = [q[0] for (ch, c), q in self._chats.items() if ch == channel and chat in (None, c)]
        return max(heads, key=lambda m: m.id) if heads else None

    def count(self, channel: str | None = None) -> int:
        """Rows of one channel, or all."""
        if channel is None:
            return len(self._by_id)
        return sum(len(q) for (ch, _), q in self._chats.items() if ch == channel)

    def chats(self, channel: str) -> set[str]:
        """Chats of a channel with rows in memory."""
        return {chat for (ch, chat) in self._chats if ch == channel}

    def channels(self) -> set[str]:
        """Channels with rows in memory."""
        return {ch for (ch, _) in self._chats}

    def of_alert(self, alert_id: str) -> Sequence[MemoryRow]:
        """The rows of one alert."""
        return [m for m in self._by_id.values() if m.alert_id == alert_id]
