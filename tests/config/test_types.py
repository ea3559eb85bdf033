"""Durations, sizes and listen addresses parse strictly and print back exactly."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from khronos.config import format_duration, format_size, parse_duration, parse_size
from khronos.config._types import ConfigValueError, parse_listen


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("5s", 5),
        ("1m30s", 90),
        ("168h", 168 * 3600),
        ("7d", 7 * 86400),
        ("1w", 7 * 86400),
        ("250ms", 0.25),
        ("1.5h", 5400),
        ("1d2h3m4s5ms", 93784.005),
    ],
)
def test_parse_duration_accepts_units(text: str, seconds: float) -> None:
    """Each unit and combinations from largest to smallest parse to the right length."""
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize(
    "value", ["30", 30, 1.5, "", "5", "5x", "s", "1s1m", "1m1m", "-5s", "5 s", "1e3s", True, None]
)
def test_parse_duration_rejects_ambiguous_or_malformed(value: object) -> None:
    """Bare numbers, unknown units, out-of-order units and non-strings are refused with a hint."""
    with pytest.raises(ConfigValueError) as info:
        parse_duration(value)
    assert info.value.hint


@given(st.integers(min_value=0, max_value=10**12))
def test_format_duration_round_trips(millis: int) -> None:
    """Whatever is formatted parses back to the same duration."""
    value = timedelta(milliseconds=millis)
    assert parse_duration(format_duration(value)) == value


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("20MB", 20_000_000),
        ("10MiB", 10 * 1024**2),
        ("1GB", 10**9),
        ("1gib", 1024**3),
        ("512KiB", 512 * 1024),
        ("100", 100),
        (4096, 4096),
        ("1.5KiB", 1536),
        ("0B", 0),
    ],
)
def test_parse_size_decimal_and_binary_units(text: object, size: int) -> None:
    """MB is 1000², MiB is 1024², a plain number is bytes."""
    assert parse_size(text) == size


@pytest.mark.parametrize("value", ["20M", "20 furlongs", "-1MB", -5, "1.5", "0.3B", "", 1.5, None])
def test_parse_size_rejects_unknown_units(value: object) -> None:
    """Unknown units, fractions of bytes and negatives are refused with a hint."""
    with pytest.raises(ConfigValueError) as info:
        parse_size(value)
    assert info.value.hint


@given(st.integers(min_value=0, max_value=2**50))
def test_format_size_round_trips(size: int) -> None:
    """Whatever is formatted parses back to the same size."""
    assert parse_size(format_size(size)) == size


@pytest.mark.parametrize(
    ("text", "host", "port", "loopback"),
    [
        ("127.0.0.1:9321", "127.0.0.1", 9321, True),
        ("[::1]:0", "::1", 0, True),
        ("localhost:80", "localhost", 80, True),
        ("0.0.0.0:9321", "0.0.0.0", 9321, False),
        ("example.org:443", "example.org", 443, False),
    ],
)
def test_parse_listen(text: str, host: str, port: int, loopback: bool) -> None:
    """host:port and [ipv6]:port parse; loopback is recognised."""
    address = parse_listen(text)
    assert (address.host, address.port, address.is_loopback) == (host, port, loopback)
    assert str(address) == text


@pytest.mark.parametrize(
    "text", ["9321", ":9321", "[::1]", "host:99999", "[nope]:1", "a b:1", 9321]
)
def test_parse_listen_rejects_malformed(text: object) -> None:
    """Missing host or port, bad IPv6 and out-of-range ports are refused."""
    with pytest.raises(ConfigValueError):
        parse_listen(text)
