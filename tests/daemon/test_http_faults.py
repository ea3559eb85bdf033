"""`khronos run`'s HTTP server under attack and under faults, as a real process.

Malformed requests from raw sockets, hundreds of half-open connections under a low descriptor
limit (``prlimit --nofile=256``), the alert API on a full ``state_dir`` (a 1 MB tmpfs), a
CRITICAL condition: the daemon answers 4xx or 503 with a reason, never a 5xx for a client's
fault, never floods its log, and comes back by itself.
"""

from __future__ import annotations

import contextlib
import random
import socket
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psutil
import pytest

from tests.alerts.fake_telegram import FakeTelegram
from tests.daemon.harness import (
    HTTP_TOKEN,
    Running,
    log_records,
    metric,
    poll,
    start,
    stop,
    write_config,
)
from tests.smallfs import small_filesystem
from tests.support import fault_repeat, require_binary

pytestmark = pytest.mark.integration

NO_CHECKS = "{memory: null, disk: null}"
FAST = ", request_timeout: 2s, idle_timeout: 1s"
ACCEPT_ERROR = "socket.accept() out of system resource"


def host_port(url: str) -> tuple[str, int]:
    """("127.0.0.1", port) of the daemon's URL."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    return host, int(port)


def exchange(address: tuple[str, int], raw: bytes, *, half_close: bool) -> bytes:
    """Send ``raw`` on a new connection and read until the server closes it."""
    with socket.create_connection(address, timeout=30) as sock:
        with contextlib.suppress(OSError):
            sock.sendall(raw)
            if half_close:
                sock.shutdown(socket.SHUT_WR)
        received = b""
        with contextlib.suppress(OSError):
            while chunk := sock.recv(65536):
                received += chunk
        return received


def statuses(answer: bytes) -> list[int]:
    """Every HTTP status code in what a connection received (pipelined answers too)."""
    return [
        int(line.split()[1])
        for line in answer.split(b"\r\n")
        if line.startswith(b"HTTP/1.") and len(line.split()) > 1 and line.split()[1].isdigit()
    ]


def fuzz_corpus(seed: int, mutations: int) -> list[tuple[bytes, bool]]:
    """Malformed requests to every endpoint (and mutations of good ones), with whether to
    half-close after sending."""
    auth = f"Authorization: Bearer {HTTP_TOKEN}\r\n".encode()
    api = b"POST /api/alerts/test HTTP/1.1\r\nHost: x\r\n" + auth
    json_type = b"Content-Type: application/json\r\n"
    good = [
        b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /ready HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: application/openmetrics-text\r\n\r\n",
        api + json_type + b'Content-Length: 17\r\n\r\n{"message": "hi"}',
        api + json_type + b'Transfer-Encoding: chunked\r\n\r\n5\r\n{"me"\r\n0\r\n\r\n',
    ]
    bad = [
        api + json_type + b"Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
        api + json_type + b"Transfer-Encoding: chunked\r\n\r\n-1\r\n{}\r\n0\r\n\r\n",
        api + json_type + b"Transfer-Encoding: chunked\r\n\r\nffffffffffffffffffff\r\n{}",
        api + json_type + b"Transfer-Encoding: chunked\r\n\r\n2\r\n{}XX0\r\n\r\n",
        b"POST /nope HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n\r\n",
        b"POST /metrics HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1;\x00\r\n",
        api + json_type + b'Content-Length: 100\r\n\r\n{"message"',
        api + json_type + b"Content-Length: 10\r\nContent-Length: 20\r\n\r\n{}",
        api + json_type + b"Content-Length: -5\r\n\r\n{}",
        api + json_type + b"Content-Length: abc\r\n\r\n{}",
        api + json_type + b"Content-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n{}",
        api + json_type + b"Content-Length: 20000\r\n\r\n" + b"[" * 20000,
        api + json_type + b"Content-Length: 4000\r\n\r\n" + b"[" * 4000,
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 100_000 + b"\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"X-H: v\r\n" * 5000 + b"\r\n",
        b"GET /" + b"a" * 100_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /%zz%ff%00 HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n",
        b"GET /healthz\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(range(256)),
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
        b"G\xffT / HTTP/1.1\r\nHost: x\r\n\r\n",
        b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com\r\n\r\n",
        b"GET http://other/healthz HTTP/1.1\r\nHost: x\r\n\r\n",
        (
            b"GET /healthz HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ),
        b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGARBAGE GARBAGE\r\n\r\n",
        api + json_type + b"Expect: 100-continue\r\nContent-Length: 50\r\n\r\n",
        b"GET /healthz HTTP/1.0\r\n\r\n",
        b"\r\n\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nHost: x\r\n\tfolded: yes\r\n\r\n",
    ]
    rng = random.Random(seed)  # noqa: S311 - reproducible fuzzing, not cryptography
    cases = [(raw, half) for raw in good + bad for half in (True, False)]
    for _ in range(mutations):
        raw = bytearray(rng.choice(good + bad)[:4096])
        for _ in range(rng.randint(1, 8)):
            at = rng.randrange(len(raw) + 1)
            op = rng.randrange(3)
            if op == 0 and at < len(raw):
                raw[at] = rng.randrange(256)
            elif op == 1:
                raw[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
            elif at < len(raw):
                del raw[at : at + rng.randint(1, 16)]
        cases.append((bytes(raw), rng.random() < 0.7))
    return cases


def errors_in_log(tmp_path: Path) -> list[dict[str, object]]:
    """ERROR and CRITICAL records, except the log channel's copies of alerts."""
    return [
        r
        for r in log_records(tmp_path)
        if r["level"] in ("error", "critical") and r["message"] != "alert"
    ]


def test_fuzzed_requests_never_get_a_5xx_nor_an_error_line(
    tmp_path: Path, env: dict[str, str], telegram: FakeTelegram
) -> None:
    """Bad chunked encoding, truncated bodies, huge headers, garbage and random mutations of
    good requests: every answer is below 500, the metrics count no 5xx, nothing is logged at
    ERROR, and the daemon still answers."""
    write_config(tmp_path, telegram, backup=False, http_extra=FAST, checks=NO_CHECKS)
    daemon = start(tmp_path, env)
    address = host_port(daemon.url)
    cases = fuzz_corpus(seed=9, mutations=200 * fault_repeat())
    try:
        with ThreadPoolExecutor(max_workers=16) as pool:
            answers = list(pool.map(lambda c: exchange(address, c[0], half_close=c[1]), cases))
        seen = [code for answer in answers for code in statuses(answer)]
        assert seen  # most cases were answered
        assert [c for c in seen if c >= 500] == []
        text = httpx.get(f"{daemon.url}/metrics", timeout=10).text
        assert httpx.get(f"{daemon.url}/healthz", timeout=10).status_code == 200
    finally:
        assert stop(daemon.proc) == 0, daemon.err.read_text()[-2000:]
    recorded = [line for line in text.splitlines() if "request_duration_seconds_count" in line]
    assert recorded
    assert [line for line in recorded if 'status="5' in line] == []
    assert errors_in_log(tmp_path) == []


@contextlib.contextmanager
def half_open(address: tuple[str, int], count: int) -> Iterator[list[socket.socket]]:
    """``count`` connections that each sent half a request's headers and wait."""
    held: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.create_connection(address, timeout=30)
            with contextlib.suppress(OSError):
                sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            held.append(sock)
        yield held
    finally:
        for sock in held:
            sock.close()


def closed_by_peer(sock: socket.socket) -> bool:
    """Whether the server has closed this connection (without blocking)."""
    sock.setblocking(False)
    try:
        return sock.recv(1) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


def healthz_ok(url: str) -> bool:
    """/healthz answers 200 on a new connection."""
    try:
        return httpx.get(f"{url}/healthz", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


def test_half_open_connections_under_256_descriptors_are_timed_out(
    tmp_path: Path, env: dict[str, str], telegram: FakeTelegram
) -> None:
    """300 half-sent requests to a daemon limited to 256 descriptors: it closes them after
    the request timeout, answers /healthz again, and logs no flood of errors."""
    prlimit = require_binary("prlimit")
    write_config(tmp_path, telegram, backup=False, http_extra=FAST, checks=NO_CHECKS)
    daemon = start(tmp_path, env, prefix=[prlimit, "--nofile=256"])
    try:
        with half_open(host_port(daemon.url), 300) as held:
            poll(lambda: all(closed_by_peer(s) for s in held), what="the server to close them")
            poll(lambda: healthz_ok(daemon.url), what="/healthz answering 200")
        assert metric(daemon.url, 'khronos_http_connections_closed_total{reason="request_timeout"')
    finally:
        assert stop(daemon.proc) == 0, daemon.err.read_text()[-2000:]
    errors = errors_in_log(tmp_path)
    assert len(errors) <= 1, errors[:3]  # at most one (throttled) accept error
    assert all(ACCEPT_ERROR in str(r["message"]) for r in errors)


def test_accept_errors_are_logged_once_a_minute(
    tmp_path: Path, env: dict[str, str], telegram: FakeTelegram
) -> None:
    """A connection bound set above the descriptor limit lets accept() fail with EMFILE,
    over and over: the log gets one line for it, and /healthz comes back after the timeout."""
    prlimit = require_binary("prlimit")
    extra = FAST + ", max_connections: 5000"
    write_config(tmp_path, telegram, backup=False, http_extra=extra, checks=NO_CHECKS)
    daemon = start(tmp_path, env, prefix=[prlimit, "--nofile=256"])
    try:
        with half_open(host_port(daemon.url), 400):
            poll(
                lambda: any(ACCEPT_ERROR in r["message"] for r in log_records(tmp_path)),
                what="accept() to fail",
            )
        poll(lambda: healthz_ok(daemon.url), what="/healthz answering 200")
    finally:
        assert stop(daemon.proc) == 0, daemon.err.read_text()[-2000:]
    accept_errors = [r for r in log_records(tmp_path) if ACCEPT_ERROR in r["message"]]
    assert len(accept_errors) == 1


def test_the_open_files_limit_is_raised_to_the_hard_limit(
    tmp_path: Path, env: dict[str, str], telegram: FakeTelegram
) -> None:
    """Started with a soft limit of 256 and a hard one of 4096, the daemon runs at 4096 and
    bounds its HTTP connections at half of it."""
    prlimit = require_binary("prlimit")
    write_config(tmp_path, telegram, backup=False, checks=NO_CHECKS)
    daemon = start(tmp_path, env, prefix=[prlimit, "--nofile=256:4096"])
    try:
        assert psutil.Process(daemon.proc.pid).rlimit(psutil.RLIMIT_NOFILE) == (4096, 4096)
        assert metric(daemon.url, "khronos_http_connections_max") == 2048
    finally:
        assert stop(daemon.proc) == 0, daemon.err.read_text()[-2000:]


def post_alert(daemon: Running, message: str) -> httpx.Response:
    """POST /api/alerts/test with the daemon's token."""
    return httpx.post(
        f"{daemon.url}/api/alerts/test",
        json={"message": message, "level": "INFO"},
        headers={"Authorization": f"Bearer {HTTP_TOKEN}"},
        timeout=10,
    )


def test_a_full_state_dir_gets_503_from_the_alert_api_and_the_checks_keep_running(
    tmp_path: Path, env: dict[str, str], telegram: FakeTelegram
) -> None:
    """state_dir on a full filesystem: POST /api/alerts/test answers 503 saying why (or 202),
    never 500; the disk check that fires meanwhile keeps running, and when space is back it
    passes again and the API queues again."""
    with small_filesystem(tmp_path / "state", "1m") as small:
        checks = f"{{memory: null, disk: {{path: {small.root}, min_free: 300kb, every: 1s}}}}"
        write_config(tmp_path, telegram, backup=False, checks=checks)
        daemon = start(tmp_path, env)
        disk_up = 'khronos_check_up{check="disk"}'
        try:
            poll(lambda: metric(daemon.url, disk_up) == 1.0, what="the disk check to pass")
            small.fill()
            poll(lambda: metric(daemon.url, disk_up) == 0.0, what="the disk check to fail")
            answer = post_alert(daemon, "while full")
            assert answer.status_code in (202, 503), answer.text
            if answer.status_code == 503:
                assert "could not be queued" in answer.json()["error"]
            small.free()
            poll(lambda: metric(daemon.url, disk_up) == 1.0, what="the disk check to pass again")
            assert metric(daemon.url, 'khronos_part_up{part="check.disk"}') == 1.0
            assert post_alert(daemon, "space is back").status_code == 202
        finally:
            assert stop(daemon.proc) == 0, daemon.err.read_text()[-2000:]


def test_ready_fails_while_a_critical_condition_fires(
    tmp_path: Path, env: dict[str, str], telegram: FakeTelegram
) -> None:
    """The database deleted under the daemon: the CRITICAL "database down" condition makes
    /ready 503 with the reason, while /healthz (the process is fine) stays 200."""
    write_config(tmp_path, telegram, checks=NO_CHECKS)
    daemon = start(tmp_path, env)
    try:
        poll(lambda: httpx.get(f"{daemon.url}/ready", timeout=10).status_code == 200, what="ready")
        for suffix in ("", "-wal", "-shm"):
            (tmp_path / f"app.db{suffix}").unlink(missing_ok=True)
        poll(
            lambda: httpx.get(f"{daemon.url}/ready", timeout=10).status_code == 503,
            what="/ready 503",
        )
        problems = httpx.get(f"{daemon.url}/ready", timeout=10).json()["problems"]
        assert any("Database down" in p for p in problems), problems
        assert httpx.get(f"{daemon.url}/healthz", timeout=10).status_code == 200
    finally:
        stop(daemon.proc)


def test_the_daemon_exports_and_checks_only_what_has_a_source(
    tmp_path: Path, env: dict[str, str], telegram: FakeTelegram
) -> None:
    """khronos run has no app recording messages or a queue: no zero app metrics, no preset
    in-progress series, and error_rate / queue_backlog are off - said in the log when asked."""
    checks = "{memory: null, disk: null, error_rate: {threshold: 0.1}}"
    write_config(tmp_path, telegram, backup=False, checks=checks)
    daemon = start(tmp_path, env)
    try:
        text = httpx.get(f"{daemon.url}/metrics", timeout=10).text
    finally:
        assert stop(daemon.proc) == 0, daemon.err.read_text()[-2000:]
    samples = [line for line in text.splitlines() if not line.startswith("#")]
    for name in ("active_users", "queue_size", "messages_processed", "messages_failed"):
        assert not [s for s in samples if s.startswith(f"khronos_{name}")], name
    assert not [s for s in samples if s.startswith("khronos_http_requests_in_progress")]
    assert not [s for s in samples if 'check="error_rate"' in s or 'check="queue_backlog"' in s]
    warnings = [r for r in log_records(tmp_path) if "checks.error_rate is off" in r["message"]]
    assert len(warnings) == 1


def test_the_systemd_unit_raises_the_descriptor_limit() -> None:
    """deploy/khronos.service sets LimitNOFILE=65536 (systemd's default soft limit is 1024)."""
    unit = (Path(__file__).parents[2] / "deploy" / "khronos.service").read_text()
    assert "LimitNOFILE=65536" in unit.splitlines()
