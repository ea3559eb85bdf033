"""Grandfather-father-son retention: properties of ``gfs_keep``, and a simulated month of
snapshots (injected clock) whose kept set is exactly the GFS set."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from khronos.config import SnapshotRetention
from khronos.snapshots import gfs_keep, list_snapshots, take_snapshot
from tests.snapshots.helpers import AgeKey, file_dest, first, snap_config

_START = datetime(2026, 1, 1, tzinfo=UTC)
_NOW = datetime(2026, 3, 1, tzinfo=UTC)
_times = st.lists(
    st.datetimes(
        min_value=datetime(2026, 1, 1),  # noqa: DTZ001 - hypothesis wants naive bounds
        max_value=datetime(2026, 3, 1),  # noqa: DTZ001
        timezones=st.just(UTC),
    ),
    max_size=80,
    unique=True,
)
_retention = st.builds(
    SnapshotRetention,
    hourly=st.integers(0, 30),
    daily=st.integers(0, 10),
    weekly=st.integers(1, 6),
)


def _reference(times: list[datetime], retention: SnapshotRetention) -> set[datetime]:
    """GFS spelled the long way: group by period, take the newest of the N newest groups."""
    keep: set[datetime] = set()
    periods = [
        (retention.hourly, lambda t: t.replace(minute=0, second=0, microsecond=0)),
        (retention.daily, lambda t: t.date()),
        (retention.weekly, lambda t: tuple(t.isocalendar())[:2]),
    ]
    for count, period in periods:
        groups: dict[object, list[datetime]] = {}
        for moment in times:
            groups.setdefault(period(moment), []).append(moment)
        newest_groups = sorted(groups.values(), key=max, reverse=True)[:count]
        keep.update(max(group) for group in newest_groups)
    return keep


@settings(max_examples=300, deadline=None)
@given(_times, _retention)
def test_keeps_exactly_the_newest_of_each_period(
    times: list[datetime], retention: SnapshotRetention
) -> None:
    """The kept set is the newest snapshot of each of the N newest hours, days and ISO weeks."""
    assert gfs_keep(times, retention, now=_NOW) == _reference(times, retention)


@settings(max_examples=300, deadline=None)
@given(_times, _retention)
def test_keeps_the_newest_and_a_bounded_subset(
    times: list[datetime], retention: SnapshotRetention
) -> None:
    """A subset of the input, never more than hourly+daily+weekly, always the newest."""
    kept = gfs_keep(times, retention, now=_NOW)
    assert kept <= set(times)
    assert len(kept) <= retention.hourly + retention.daily + retention.weekly
    if times:
        assert max(times) in kept


@settings(max_examples=300, deadline=None)
@given(_times, _retention)
def test_pruning_twice_deletes_nothing_more(
    times: list[datetime], retention: SnapshotRetention
) -> None:
    """Applying retention to what it kept keeps all of it (a second prune is a no-op)."""
    kept = gfs_keep(times, retention, now=_NOW)
    assert gfs_keep(kept, retention, now=_NOW) == kept


@settings(max_examples=100, deadline=None)
@given(_times, st.integers(1, 48))
def test_snapshots_after_now_are_kept(times: list[datetime], hours: int) -> None:
    """A snapshot stamped after ``now`` (a clock that was ahead) is never pruned."""
    ahead = _NOW + timedelta(hours=hours)
    kept = gfs_keep([*times, ahead], SnapshotRetention(hourly=1, daily=0, weekly=1), now=_NOW)
    assert ahead in kept


def test_a_long_gap_does_not_prune_the_old_snapshots() -> None:
    """After a month without snapshots, the first new one leaves the old periods' snapshots."""
    old = [_START + timedelta(hours=h) for h in range(48)]
    new = _START + timedelta(days=40)
    kept = gfs_keep([*old, new], SnapshotRetention(hourly=3, daily=3, weekly=2), now=new)
    assert kept == {new, old[-1], old[-2], old[23]}  # 2 old hours, 2 old days (1 shared)


@pytest.mark.slow
def test_a_simulated_month_keeps_exactly_the_gfs_set(tmp_path: Path, age_key: AgeKey) -> None:
    """Hourly snapshots over 31 days (injected clock): the destination holds the GFS set."""
    config = snap_config(tmp_path, [file_dest(tmp_path / "dest", age_key)])
    db, (dest,) = first(config)
    taken = [_START + timedelta(hours=h, minutes=7) for h in range(31 * 24)]
    for moment in taken:
        report = take_snapshot(db, dest, tmp_dir=tmp_path, now=moment)
        assert report.prune_error is None
    stored = {info.taken_at for info in list_snapshots(db, dest)}
    assert stored == _reference(taken, dest.retention)
    # 24 hours of Jan 31; Jan 25-30; the ISO weeks ending Jan 11 and 18 (Jan 25 and 31, the
    # other two weeks' newest, are kept already)
    assert len(stored) == 24 + 6 + 2
