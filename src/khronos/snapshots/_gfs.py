"""Grandfather-father-son retention: which snapshots to keep.

Each snapshot falls into one hour, one day and one ISO week (UTC).  Of the ``hourly`` most
recent hours that hold a snapshot, the newest snapshot of each is kept; likewise for days and
ISO weeks.  The periods are counted among those that hold a snapshot (restic's ``--keep-hourly``
rule), not back from ``now``: after a month without snapshots (the machine was off, the
destination unreachable) the first new snapshot does not make every older one "too old" — the
old ones stay until newer periods replace them.  Snapshots after ``now`` (a clock that was ahead)
are always kept: nothing is deleted on a time this machine does not understand.  The newest
snapshot is always kept (it is the newest of its hour, day and week, and retention keeps at least
one period).

Written by hand (twenty lines) rather than taken from a library: the rule is the contract of the
pruning step and is tested by properties (``tests/snapshots/test_gfs.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from khronos.config import SnapshotRetention

__all__ = ["gfs_keep"]

_Period = Callable[[datetime], tuple[int, ...]]


def _hour(moment: datetime) -> tuple[int, ...]:
    return (moment.year, moment.month, moment.day, moment.hour)


def _day(moment: datetime) -> tuple[int, ...]:
    return (moment.year, moment.month, moment.day)


def _week(moment: datetime) -> tuple[int, ...]:
    iso = moment.isocalendar()
    return (iso.year, iso.week)


def gfs_keep(
    times: Iterable[datetime], retention: SnapshotRetention, *, now: datetime
) -> set[datetime]:
    """The snapshot times to keep (a subset of ``times``; aware datetimes, compared in UTC)."""
    moments = {t.astimezone(UTC) for t in times}
    limit = now.astimezone(UTC)
    keep = {t for t in moments if t > limit}
    past = sorted((t for t in moments if t <= limit), reverse=True)
    rules: list[tuple[int, _Period]] = [
        (retention.hourly, _hour),
        (retention.daily, _day),
        (retention.weekly, _week),
    ]
    for count, period in rules:
        seen: set[tuple[int, ...]] = set()
        for moment in past:  # newest first: the first of each period is its newest
            if len(seen) >= count:
                break
            key = period(moment)
            if key not in seen:
                seen.add(key)
                keep.add(moment)
    return keep
