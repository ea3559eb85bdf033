"""A TCP proxy on loopback that a test can cut and restore, to simulate a network outage.

Moto keeps its data in memory, so an S3 outage is simulated by cutting this proxy in front of it
(closing every connection and refusing new ones), not by killing the server.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading

__all__ = ["TcpProxy"]


class TcpProxy:
    """Forwards 127.0.0.1:<port> to a target; ``cut()`` drops everything, ``restore()`` resumes."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.port: int = self._listener.getsockname()[1]
        self._up = threading.Event()
        self._up.set()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._conns: set[socket.socket] = set()
        self._thread = threading.Thread(target=self._accept_loop, name="tcp-proxy", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self.port}"

    def cut(self) -> None:
        """Close every open connection and refuse (reset) new ones until restore()."""
        self._up.clear()
        with self._lock:
            for conn in list(self._conns):
                _close(conn)
            self._conns.clear()

    def restore(self) -> None:
        """Accept and forward connections again."""
        self._up.set()

    def close(self) -> None:
        """Stop the proxy and its threads."""
        self._stop.set()
        self.cut()
        self._thread.join(timeout=5)
        _close(self._listener)

    def __enter__(self) -> TcpProxy:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if not self._up.is_set():
                client.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
                )
                _close(client)
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                _close(client)
                continue
            with self._lock:
                self._conns.update((client, upstream))
            threading.Thread(
                target=self._pipe, args=(client, upstream), name="tcp-proxy-pipe", daemon=True
            ).start()

    def _pipe(self, a: socket.socket, b: socket.socket) -> None:
        selector = selectors.DefaultSelector()
        try:
            a.setblocking(False)
            b.setblocking(False)
            selector.register(a, selectors.EVENT_READ, b)
            selector.register(b, selectors.EVENT_READ, a)
            while not self._stop.is_set() and self._up.is_set():
                for key, _ in selector.select(timeout=0.2):
                    src: socket.socket = key.fileobj  # type: ignore[assignment]
                    dst: socket.socket = key.data
                    data = src.recv(65536)
                    if not data:
                        return
                    dst.setblocking(True)
                    dst.sendall(data)
                    dst.setblocking(False)
        except OSError:
            return
        finally:
            selector.close()
            with self._lock:
                self._conns.discard(a)
                self._conns.discard(b)
            _close(a)
            _close(b)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()
