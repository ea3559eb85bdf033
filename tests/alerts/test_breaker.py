"""The public circuit breaker: opening, the half-open probe, listeners, sync and async use."""

from __future__ import annotations

import pytest

from khronos.alerts import BreakerEvent, CircuitBreaker, CircuitOpenError, breaker_metrics_listener
from khronos.clock import ManualClock


class FakeMetrics:
    """Records what breaker_metrics_listener reports."""

    def __init__(self) -> None:
        self.changes: list[tuple[str, str]] = []

    def record_circuit_breaker_state_change(self, breaker: str, state: str) -> None:
        self.changes.append((breaker, state))


def boom() -> None:
    raise ConnectionError("down")


def make(clock: ManualClock) -> CircuitBreaker:
    return CircuitBreaker("api", failure_threshold=3, reset_timeout=30, clock=clock)


def test_consecutive_failures_open_it() -> None:
    """Three failures in a row open the breaker; then calls fail fast."""
    breaker = make(ManualClock())
    for _ in range(3):
        with pytest.raises(ConnectionError):
            breaker.call(boom)
    with pytest.raises(CircuitOpenError, match="'api' is open"):
        breaker.call(lambda: 1)


def test_a_success_resets_the_count() -> None:
    """Failures must be consecutive."""
    breaker = make(ManualClock())
    breaker.record_failure()
    breaker.record_failure()
    breaker.record_success()
    breaker.record_failure()
    assert breaker.state == "closed"


def test_half_open_admits_exactly_one_probe() -> None:
    """After the timeout one caller probes; others still fail fast."""
    clock = ManualClock()
    breaker = make(clock)
    for _ in range(3):
        breaker.record_failure()
    clock.advance(30)
    assert breaker.allow()
    assert breaker.state == "half_open"
    assert not breaker.allow()


def test_probe_success_closes_and_failure_reopens() -> None:
    """The probe decides: success closes, failure opens for another timeout."""
    clock = ManualClock()
    breaker = make(clock)
    for _ in range(3):
        breaker.record_failure()
    clock.advance(30)
    assert breaker.allow()
    breaker.record_failure()
    assert breaker.state == "open"
    clock.advance(30)
    assert breaker.call(lambda: 42) == 42
    assert breaker.state == "closed"


def test_listeners_see_every_transition_with_the_outage_length() -> None:
    """Listeners get open, half_open, closed; closing reports the whole outage."""
    clock = ManualClock()
    breaker = make(clock)
    events: list[BreakerEvent] = []
    metrics = FakeMetrics()
    breaker.add_listener(events.append)
    breaker.add_listener(breaker_metrics_listener(metrics))
    for _ in range(3):
        breaker.record_failure()
    clock.advance(45)
    breaker.call(lambda: None)
    assert [e.new for e in events] == ["open", "half_open", "closed"]
    assert events[-1].outage == 45
    assert metrics.changes == [("api", "open"), ("api", "half_open"), ("api", "closed")]


def test_a_failing_listener_does_not_break_the_call() -> None:
    """Exceptions in listeners are logged, not raised."""
    breaker = CircuitBreaker("api", failure_threshold=1, clock=ManualClock())
    breaker.add_listener(lambda _event: 1 / 0)  # type: ignore[func-returns-value]
    breaker.record_failure()
    assert breaker.state == "open"


@pytest.mark.asyncio
async def test_async_calls_go_through_the_same_breaker() -> None:
    """call_async and `async with` count toward the same state as sync calls."""
    breaker = make(ManualClock())

    async def fail() -> None:
        raise TimeoutError

    breaker.record_failure()
    with pytest.raises(TimeoutError):
        await breaker.call_async(fail)
    with pytest.raises(TimeoutError):
        async with breaker:
            raise TimeoutError
    assert breaker.state == "open"


def test_excluded_errors_do_not_count() -> None:
    """Errors listed in exclude (e.g. a 4xx) pass through without opening the breaker."""
    breaker = CircuitBreaker("api", failure_threshold=1, clock=ManualClock(), exclude=(KeyError,))
    with pytest.raises(KeyError):
        breaker.call(lambda: {}["x"])
    assert breaker.state == "closed"


@pytest.mark.asyncio
async def test_alert_listener_raises_breaker_opened_alert(make_engine) -> None:  # type: ignore[no-untyped-def]
    """breaker_alert_listener queues the "circuit breaker opened" alert."""
    from khronos.alerts import breaker_alert_listener

    engine = make_engine()
    breaker = CircuitBreaker("openai", failure_threshold=1, clock=ManualClock())
    breaker.add_listener(breaker_alert_listener(engine))
    breaker.record_failure("TimeoutError")
    assert engine.outbox.count() == 1
    assert "Circuit breaker openai opened" in (engine.outbox.head("telegram").plain)  # type: ignore[union-attr]
