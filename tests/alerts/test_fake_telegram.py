"""The fake Bot API itself: a client that gives up leaves no traceback behind."""

from __future__ import annotations

import json
import socket
import struct
import time

import pytest

from tests.alerts.fake_telegram import TOKEN, FakeTelegram


def test_a_client_that_gave_up_leaves_no_traceback(
    telegram: FakeTelegram, capfd: pytest.CaptureFixture[str]
) -> None:
    """A "hang" answered after the client reset the connection: no BrokenPipeError printed."""
    telegram.script("hang")
    body = json.dumps({"chat_id": "111", "text": "x"}).encode()
    host, port = telegram.url.removeprefix("http://").split(":")
    head = (
        f"POST /bot{TOKEN}/sendMessage HTTP/1.1\r\nHost: {host}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    with socket.create_connection((host, int(port)), timeout=5) as conn:
        conn.sendall(head + body)
        deadline = time.monotonic() + 10
        while not telegram.attempts("111"):  # the server has read the request and now hangs
            assert time.monotonic() < deadline, "the fake never received the request"
            time.sleep(0.01)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # RST
    telegram.release.set()
    deadline = time.monotonic() + 10
    while telegram.answered < 1:
        assert time.monotonic() < deadline, "the fake never finished the request"
        time.sleep(0.01)
    err = capfd.readouterr().err
    assert "Traceback" not in err
    assert "BrokenPipeError" not in err
    assert "ConnectionResetError" not in err
